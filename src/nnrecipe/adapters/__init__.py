"""Adapters from nnrecipe to other libraries: scikit-learn estimators, PyTorch tools and training, MLflow."""
