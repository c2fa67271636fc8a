"""Adapters from nnrecipe to other libraries: scikit-learn estimators (`sklearn.py`)."""
