"""scikit-learn estimators over the nnrecipe engine (see `nnrecipe.adapters.sklearn`)."""

from .adapters.sklearn import NNClassifier, NNRegressor

__all__ = ["NNClassifier", "NNRegressor"]
