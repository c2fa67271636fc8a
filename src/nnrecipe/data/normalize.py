"""Input normalization with training statistics only."""

import warnings

import numpy as np

from .._checks import as_rows
from ..errors import LeakageWarning, NNRecipeError

MAX_MAGNITUDE = 1e150   # larger finite inputs are refused: their squares (variances, distances) overflow float64


def within_range(X, name="X"):
    """X (n, d), a finite float matrix, unchanged; NNRecipeError naming the first value beyond
    ±MAX_MAGNITUDE: the mean, variance and distances of such values overflow to inf, and training on
    them ends in NaN. Two reductions over X, no temporary of its size."""
    if X.size == 0:
        return X
    big = np.maximum(X.max(axis=0), -X.min(axis=0)) > MAX_MAGNITUDE
    if big.any():
        j = int(np.argmax(big))
        r = int(np.argmax(np.abs(X[:, j]) > MAX_MAGNITUDE))
        raise NNRecipeError(f"{name} must hold numbers within ±{MAX_MAGNITUDE:g} (larger ones overflow when "
                            f"standardized; rescale them, e.g. take a logarithm); got {X[r, j]:g} at row {r}, "
                            f"column {j}")
    return X


def _rows(X):
    """as_rows(X) checked for size (within_range); the overflow of as_rows' quick finiteness sum on
    huge values is expected, and not worth a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return within_range(as_rows(X, "X"))


def merge_moments(a, b):
    """Chan, Golub & LeVeque's merge of two (count, mean, sum of squared deviations M2) summaries:
    M2 = M2_a + M2_b + δ²·n_a·n_b/n, mean = mean_a + δ·n_b/n, δ = mean_b − mean_a; exact, and stable
    chunk by chunk. Returns (n, mean, M2)."""
    (n_a, mean_a, m2_a), (n_b, mean_b, m2_b) = a, b
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta ** 2 * (n_a * n_b / n)


class Standardizer:
    """x ← (x − μ) / σ with μ and σ² from the data given to fit (the training set).

    X is (n_samples, n_features); images (n, H, W[, C]) are taken as rows of H·W·C features.
    A feature with σ = 0 is only centred (its scale is taken as 1). Attributes after fit:
    mean_ (n_features,), var_ (n_features,), scale_ (n_features,), n_samples_seen_, and
    leakage_ (dict set name → rows of the fitted data found in that held-out set).
    """

    def fit(self, X, held_out=None):
        """μ and σ² of X (n_samples, n_features). held_out: the dev/test sets (a Split, Subsets,
        arrays or a list of them); rows of X found there are reported as leakage."""
        for name in ("mean_", "var_", "n_samples_seen_", "leakage_"):
            self.__dict__.pop(name, None)
        return self._update(X, held_out, stacklevel=4)

    def partial_fit(self, X, held_out=None):
        """Update μ and σ² with one more chunk of rows (for data that does not fit in memory)."""
        return self._update(X, held_out, stacklevel=4)

    def _update(self, X, held_out, stacklevel):
        X = _rows(X)
        n_b = len(X)
        mean_b = X.mean(axis=0, dtype=np.float64)
        m2_b = np.square(X - mean_b, dtype=np.float64).sum(axis=0)
        if not hasattr(self, "mean_"):
            self.mean_, self.var_, self.n_samples_seen_, self.leakage_ = mean_b, m2_b / n_b, n_b, {}
        else:
            if X.shape[1] != self.mean_.size:
                raise NNRecipeError(f"X must have {self.mean_.size} columns (as in earlier chunks); got {X.shape[1]}")
            n_a = self.n_samples_seen_
            n, self.mean_, m2 = merge_moments((n_a, self.mean_, self.var_ * n_a), (n_b, mean_b, m2_b))
            self.var_, self.n_samples_seen_ = m2 / n, n
        self._set_scale()
        if held_out is not None:
            self._report_leakage(X, held_out, stacklevel)
        return self

    def _report_leakage(self, X, held_out, stacklevel):
        for name, rows in _held_out_sets(held_out):
            found = int(np.count_nonzero(rows_in(X, rows)))
            if found:
                self.leakage_[name] = self.leakage_.get(name, 0) + found
        if self.leakage_:
            where = ", ".join(f"{k} rows in {name}" for name, k in self.leakage_.items())
            warnings.warn(f"Standardizer was fitted on rows that sit in held-out sets ({where}): their "
                          "statistics leak into training and make dev/test errors optimistic. Fit on the "
                          "training rows only (split.train.X).", LeakageWarning, stacklevel=stacklevel)

    def _set_scale(self):
        # A constant column's computed σ² is round-off, of order (n·ε·μ)² at most: count it as 0.
        constant = self.var_ <= (self.n_samples_seen_ * np.finfo(np.float64).eps * self.mean_) ** 2
        scale = np.where(constant, 0.0, np.sqrt(self.var_))
        self.scale_ = np.where(scale > 0, scale, 1.0)

    def _require_fitted(self, X):
        if not hasattr(self, "mean_"):
            raise NNRecipeError("the Standardizer is not fitted: call fit(X_train) first")
        X = _rows(X)
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
        self.mean_, self.var_, self.n_samples_seen_, self.leakage_ = mean, var, n_seen, {}
        self._set_scale()
        return self


def _held_out_sets(held_out):
    """(name, rows) pairs from a Split, Subsets, arrays or a list of them (locked sets included:
    comparing rows is not evaluating on them)."""
    if hasattr(held_out, "dev") and hasattr(held_out, "test"):
        held_out = [held_out.dev, held_out.test]
    if not isinstance(held_out, (list, tuple)):
        held_out = [held_out]
    for i, item in enumerate(held_out):
        if hasattr(item, "peek"):                # a locked test set hands its rows over unopened
            yield item.name, item.peek()[0]
        else:
            yield f"held_out[{i}]", as_rows(item, f"held_out[{i}]")


def _row_hash(X):
    """One 64-bit hash per row of a float64 matrix: Σ_j bits(x_j)·c_j mod 2⁶⁴ with odd constants c_j."""
    bits = np.ascontiguousarray(X, dtype=np.float64).reshape(len(X), -1) + 0.0      # −0.0 → 0.0
    mult = np.random.default_rng(0x5EED).integers(1, 2 ** 63, size=bits.shape[1], dtype=np.uint64) | np.uint64(1)
    with np.errstate(over="ignore"):
        return (bits.view(np.uint64) * mult).sum(axis=1, dtype=np.uint64)


def rows_in(X, rows):
    """Boolean (len(X),): which rows of X also occur, exactly, among `rows`."""
    X, rows = np.asarray(X), np.asarray(rows)
    if rows.size == 0 or X.size == 0:
        return np.zeros(len(X), dtype=bool)
    if X.reshape(len(X), -1).shape[1] != rows.reshape(len(rows), -1).shape[1]:
        raise NNRecipeError(f"held-out rows must have {X.shape[1]} columns like X; got shape {rows.shape}")
    hx, hr = _row_hash(X), _row_hash(rows)
    candidate = np.isin(hx, hr)
    if candidate.any():               # confirm hash hits exactly: against the first row of that hash, then the rest
        at = np.flatnonzero(candidate)
        X_c = np.asarray(X[at], np.float64).reshape(len(at), -1)
        R = np.asarray(rows, np.float64).reshape(len(rows), -1)
        order = np.argsort(hr, kind="stable")
        lo = np.searchsorted(hr[order], hx[at], "left")
        hi = np.searchsorted(hr[order], hx[at], "right")
        exact = (X_c == R[order[lo]]).all(axis=1)
        for i in np.flatnonzero(~exact & (hi - lo > 1)):         # rows that share a hash (rare): each of them
            exact[i] = any(np.array_equal(X_c[i], R[j]) for j in order[lo[i] + 1:hi[i]])
        candidate[at] = exact
    return candidate


def distinct_rows(X):
    """The distinct rows of X (n, d), exactly (−0.0 counts as 0.0): (group, counts) where group (n,)
    numbers each row's value 0..K−1 and counts (K,) says how many rows hold each value, so
    counts[group] is each row's multiplicity and K = len(counts) the number of distinct rows.

    Rows are grouped by their 64-bit hash (one sort of n numbers); the group is then confirmed bit for
    bit, and should two different rows ever share a hash, X is grouped exactly by its bytes instead."""
    X = np.asarray(X)
    if len(X) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    bits = (np.ascontiguousarray(X, dtype=np.float64).reshape(len(X), -1) + 0.0).view(np.uint64)
    _, first, group, counts = np.unique(_row_hash(X), return_index=True, return_inverse=True, return_counts=True)
    shared = np.flatnonzero(counts[group] > 1)
    if not (bits[shared] == bits[first[group[shared]]]).all():         # a hash collision
        rows = np.ascontiguousarray(bits).view(np.dtype((np.void, bits.shape[1] * 8))).ravel()
        _, group, counts = np.unique(rows, return_inverse=True, return_counts=True)
    return group.ravel(), counts


NORMALIZERS = {"Standardizer": Standardizer}
