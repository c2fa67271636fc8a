"""What the recipe predicts: classes or a number. `read_target` checks y (and a given test set's y),
decides the task by data/task.py's rule, says why in one sentence, and encodes the labels as indices or
the values as floats."""

from dataclasses import dataclass

import numpy as np

from .._checks import plain
from ..data.task import TASKS, decide_task, numbers
from ..errors import NNRecipeError, expect

MAX_TARGET = 1e30                      # a regression target's largest magnitude: its square stays a float32
UNITS = "RMSE"                        # the error a regression is diagnosed on, in the target's units


@dataclass(frozen=True)
class Target:
    """task : "classification" or "regression"; reason : why, in words; y, y_test : class indices
    (int64) or values (float64); classes : the labels of the indices (None for a regression); units :
    None (error rates) or "RMSE"; n_out, output : the network's last layer."""
    task: str
    reason: str
    y: np.ndarray
    y_test: np.ndarray | None
    classes: np.ndarray | None

    @property
    def regression(self):
        return self.task == "regression"

    @property
    def units(self):
        return UNITS if self.regression else None

    @property
    def n_out(self):
        return 1 if self.regression or len(self.classes) <= 2 else len(self.classes)

    @property
    def output(self):
        return "linear" if self.regression else "sigmoid" if self.n_out == 1 else "softmax"


def _as_1d(y, n, name, rows_of):
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise NNRecipeError(f"{name} must be array-like of labels or values; got {type(y).__name__} ({exc})") from None
    expect(y.ndim == 1 and len(y) == n, name, f"of shape ({n},), one value per row of {rows_of}", f"shape {y.shape}")
    expect(y.dtype.kind in "biufUSO", name, "class labels or numbers", f"dtype {y.dtype}")
    return y


def _values(y, name):
    values = numbers(y)
    if values is None:
        bad = next((i for i, v in enumerate(y) if not isinstance(plain(v), (int, float)) or isinstance(v, bool)), 0)
        raise NNRecipeError(f"{name} must be numbers for a regression; got {plain(y[bad])!r} at row {bad}")
    bad = np.flatnonzero(~(np.abs(values) <= MAX_TARGET))
    if bad.size:
        raise NNRecipeError(f"{name} must be finite numbers within ±{MAX_TARGET:.0e} for a regression (the network "
                            f"trains in float32); got {plain(values[bad[0]])} at row {bad[0]}")
    return values


def read_target(y, n, test_y=None, n_test=0, task="auto", classes=None):
    """A Target from y (n,) and a given test set's y (n_test,) or None.

    classes : the labels when y already holds indices into them (as the command line gives).
    """
    expect(isinstance(task, str) and task in TASKS, "task", "'auto', 'classify' or 'regress'", repr(task))
    y = _as_1d(y, n, "y", "X")
    test_y = None if test_y is None else _as_1d(test_y, n_test, "y_test", "X_test")
    named = classes is not None and task == "auto"          # the data names its classes: nothing to decide
    regression, reason = decide_task(numbers(y), n, "classify" if named else task)
    if named:
        reason = f"task: classification: the data names its {len(classes)} classes"
    if regression:
        return Target("regression", reason, _values(y, "y"), None if test_y is None else _values(test_y, "y_test"),
                      None)
    codes, labels = _classes(y, test_y, classes)
    present = np.unique(codes[:n])
    if len(present) < 2:
        raise NNRecipeError(f"y must hold at least 2 classes to train a classifier; got 1 class "
                            f"({plain(labels[present[0]])!r})")
    return Target("classification", reason, codes[:n], None if test_y is None else codes[n:], labels)


def _classes(y, test_y, classes):
    """(codes of y and test_y concatenated, the labels): np.unique's, or `classes` when y holds indices."""
    parts = [y] if test_y is None else [y, test_y]
    for part, name in zip(parts, ("y", "y_test")):
        if part.dtype.kind == "f":
            missing = np.flatnonzero(~np.isfinite(part))
            if missing.size:
                raise NNRecipeError(f"{name} must be class labels; got {plain(part[missing[0]])} at row "
                                    f"{missing[0]} (a missing target)")
            bad = np.flatnonzero(part != np.round(part))
            if bad.size:
                raise NNRecipeError(f"{name} must be class labels (a fractional value means a regression: pass "
                                    f"task='regress'); got {plain(part[bad[0]])} at row {bad[0]}")
    try:
        labels = np.concatenate(parts)
        if classes is None:
            return np.unique(labels, return_inverse=True)[::-1]
    except TypeError:                               # mixed kinds: numbers and strings, None, …
        kinds = sorted({type(plain(v)).__name__ for p in parts for v in p})
        raise NNRecipeError("y must hold labels of one sortable kind (all numbers or all strings); got "
                            + ", ".join(kinds)) from None
    k = len(classes)
    ok = labels.dtype.kind in "biuf" and labels.min() >= 0 and labels.max() < k
    expect(ok, "y", f"indices 0…{k - 1} into classes (given with {k} labels)",
           f"values from {plain(labels.min())} to {plain(labels.max())}" if labels.dtype.kind in "biuf"
           else f"dtype {labels.dtype}")
    return labels.astype(np.int64), np.asarray(classes)
