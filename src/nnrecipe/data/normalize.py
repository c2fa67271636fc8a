"""Input normalization with training statistics only."""

import numpy as np

from .._checks import as_matrix
from ..errors import NNRecipeError


class Standardizer:
    """x ← (x − μ) / σ with μ and σ² from the data given to fit (the training set).

    A feature with σ = 0 is only centred (its scale is taken as 1). Attributes after fit:
    mean_ (n_features,), var_ (n_features,), scale_ (n_features,), n_samples_seen_.
    """

    def fit(self, X):
        X = as_matrix(X, "X")
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self.var_ = X.var(axis=0, dtype=np.float64)
        self.n_samples_seen_ = len(X)
        self._set_scale()
        return self

    def _set_scale(self):
        scale = np.sqrt(self.var_)
        self.scale_ = np.where(scale > 0, scale, 1.0)

    def _require_fitted(self, X):
        if not hasattr(self, "mean_"):
            raise NNRecipeError("the Standardizer is not fitted: call fit(X_train) first")
        X = as_matrix(X, "X")
        if X.shape[1] != self.mean_.size:
            raise NNRecipeError(f"X must have {self.mean_.size} columns (as in fit); got {X.shape[1]}")
        return X

    def transform(self, X):
        """(X − μ)/σ as a new array; X is never modified."""
        X = self._require_fitted(X)
        return ((X - self.mean_) / self.scale_).astype(X.dtype if X.dtype.kind == "f" else np.float64)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        X = self._require_fitted(X)
        return X * self.scale_ + self.mean_

    def state(self):
        """Arrays that rebuild this standardizer (saved in model files)."""
        return {"mean": self.mean_, "var": self.var_, "n_samples_seen": np.array(self.n_samples_seen_)}

    @classmethod
    def from_state(cls, state, n_features):
        try:
            mean, var = np.asarray(state["mean"], np.float64), np.asarray(state["var"], np.float64)
            n_seen = int(state["n_samples_seen"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NNRecipeError(f"normalizer statistics are malformed ({exc})") from None
        if mean.shape != (n_features,) or var.shape != (n_features,) or not (np.isfinite(mean).all()
                                                                            and np.isfinite(var).all()
                                                                            and (var >= 0).all()):
            raise NNRecipeError(f"normalizer statistics must be finite arrays of shape ({n_features},) "
                                f"with var ≥ 0; got shapes {mean.shape} and {var.shape}")
        self = cls()
        self.mean_, self.var_, self.n_samples_seen_ = mean, var, n_seen
        self._set_scale()
        return self


NORMALIZERS = {"Standardizer": Standardizer}
