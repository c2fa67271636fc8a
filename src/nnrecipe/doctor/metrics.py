"""Test-set metrics with their uncertainty, and the duplicate-row check, as JSON-able dicts for run.json.

- `confusion`: the confusion matrix of a classifier and each class's error rate with its 95% Wilson
  interval, so that a class the model fails (the rare class of an imbalanced table) is visible
  behind a good overall error.
- `regression_errors`, `rmse`: RMSE, MAE and R² in the target's units, the RMSE with a 95%
  percentile-bootstrap interval.
- `duplicate_rows`: held-out rows that repeat a training row, told apart into copied records (a leak)
  and the repeats chance alone gives on a table with few distinct rows (not one).

Every function checks its input and raises NNRecipeError naming the argument. scikit-learn's metrics
are imported when first used, so importing this module (and nnrecipe) does not load scikit-learn.
"""

import math

import numpy as np
from scipy.stats import binom

from .._checks import as_class_indices, as_rng, as_rows, as_vector, plain, positive, shown
from ..data.normalize import distinct_rows, rows_in
from ..data.split import Z95
from ..errors import NNRecipeError, expect
from .diagnose import error_interval

N_BOOT = 2000                 # bootstrap resamples: the 2.5% and 97.5% quantiles settle to ~1% of the RMSE
BOOT_CELLS = 1 << 22          # at most this many resampled rows held at once (32 MiB of indices)
CHANCE_LEVEL = 0.99           # duplicate check: a count above the binomial 99% quantile is not chance


# ---- input checks ----------------------------------------------------------------------------
def _pair(y_true, y_pred):
    y_true, y_pred = as_vector(y_true, "y_true"), as_vector(y_pred, "y_pred")
    expect(len(y_true) == len(y_pred), "y_true and y_pred", "the same length",
           f"{len(y_true)} and {len(y_pred)} rows")
    return y_true, y_pred


def _label(value):
    """A label as JSON can hold it: a number, string or bool as itself (numpy scalars unwrapped), else str."""
    value = plain(value)
    return value if isinstance(value, (bool, int, float, str)) else str(value)


# ---- classification --------------------------------------------------------------------------
def confusion(y_true, y_pred, labels):
    """The confusion matrix and each class's error rate with its 95% Wilson interval.

    y_true, y_pred : (n,) class indices 0..k-1 (true and predicted); labels : the k original labels,
    labels[i] the name of class i.

    Returns a JSON-able dict:
      "labels"   : the k labels (numbers, strings or bools; anything else as str);
      "matrix"   : k × k counts, M[i][j] = rows of true class i predicted as class j
                   (scikit-learn's confusion_matrix with labels=range(k)), so Σ_j M[i][j] = n_i;
      "per_class": one {"label", "n", "errors", "error", "low", "high"} per class: n = n_i rows of the
                   class, errors = n_i − M[i][i], error = errors / n_i, [low, high] its 95% Wilson
                   interval (error, low and high are None for a class with no rows);
      "n", "errors", "error": the overall count, errors n − Σ_i M[i][i] and error rate;
      "balanced_error": the mean of the per-class error rates over the classes present.
    """
    try:
        k = len(labels)
    except TypeError:
        raise NNRecipeError(f"labels must be a sequence of the k class labels; got {shown(labels)}") from None
    expect(not isinstance(labels, (str, bytes)) and np.ndim(np.asarray(labels, dtype=object)) == 1 and k > 0,
           "labels", "a non-empty sequence of the k class labels", shown(labels))
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = as_class_indices(y_true, "y_true", k), as_class_indices(y_pred, "y_pred", k)
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    per_class = []
    for i in range(k):
        n_i = int(matrix[i].sum())
        errors = n_i - int(matrix[i, i])
        low, high = error_interval(errors, n_i) if n_i else (None, None)
        per_class.append({"label": _label(labels[i]), "n": n_i, "errors": errors,
                          "error": errors / n_i if n_i else None, "low": low, "high": high})
    n, errors = len(y_true), len(y_true) - int(np.trace(matrix))
    rates = [c["error"] for c in per_class if c["n"]]
    return {"labels": [_label(v) for v in labels], "matrix": matrix.tolist(), "per_class": per_class,
            "n": n, "errors": errors, "error": errors / n, "balanced_error": float(np.mean(rates))}


def worse_classes(conf):
    """Indices of the classes whose error is far above the overall error, from a `confusion` dict: the
    class's 95% Wilson interval lies wholly above the overall error rate (low > overall: not noise) and
    its error is at least twice the overall error (a material gap). With balanced classes and a
    uniform error none is; the rare class of an imbalanced table that the model gives up on is."""
    per_class = conf["per_class"]
    overall = conf.get("error")
    if overall is None:
        n = sum(c["n"] for c in per_class)
        overall = sum(c["errors"] for c in per_class) / n if n else None
    if overall is None:
        return []
    return [i for i, c in enumerate(per_class)
            if c.get("low") is not None and c["low"] > overall and c["error"] >= 2 * overall]


# ---- regression ------------------------------------------------------------------------------
def rmse(y_true, y_pred):
    """Root mean squared error √((1/n)·Σ(y_true − y_pred)²), in the target's units; y_true, y_pred (n,)."""
    from sklearn.metrics import mean_squared_error

    y_true, y_pred = _pair(y_true, y_pred)
    return float(math.sqrt(mean_squared_error(y_true, y_pred)))


def balanced_error(y_true, y_pred):
    """The balanced error and its 95% interval, for imbalanced classes.

    y_true, y_pred : (n,) class indices of the same rows.

    BE = (1/K)·Σ_c e_c/n_c over the K classes present in y_true (e_c of the n_c rows of class c wrong),
    1 − scikit-learn's balanced accuracy. Interval: BE ± 1.96·√((1/K²)·Σ_c p̃_c(1 − p̃_c)/(n_c + 4)) with
    p̃_c = (e_c + 2)/(n_c + 4) (the plus-four rate, so a class without errors keeps a width), clipped to
    [0, 1]. Returns {"error", "low", "high", "per_class"} (per_class: each class's error rate).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = as_class_indices(y_true, "y_true"), as_class_indices(y_pred, "y_pred")
    classes, codes, counts = np.unique(y_true, return_inverse=True, return_counts=True)
    wrong = np.bincount(codes, weights=(y_true != y_pred), minlength=len(classes))
    rates = wrong / counts
    tilde = (wrong + 2) / (counts + 4)
    half = Z95 * math.sqrt(np.sum(tilde * (1 - tilde) / (counts + 4))) / len(classes)
    error = float(rates.mean())
    return {"error": error, "low": max(0.0, error - half), "high": min(1.0, error + half),
            "per_class": {int(c): float(r) for c, r in zip(classes, rates)}}


def regression_errors(y_true, y_pred, seed=0, n_boot=N_BOOT):
    """RMSE, MAE and R² of predictions, the RMSE with its 95% percentile-bootstrap interval.

    y_true, y_pred : (n,) targets and predictions, n ≥ 2, finite.
    seed : the bootstrap's stream (an int ≥ 0, a SeedSequence or a numpy Generator); the same seed and
        rows give the same interval.
    n_boot : resamples (default 2000).

    RMSE = √((1/n)·Σ eᵢ²) and MAE = (1/n)·Σ|eᵢ| with eᵢ = y_trueᵢ − y_predᵢ, in the target's units;
    R² = 1 − Σeᵢ² / Σ(y_trueᵢ − ȳ)² (None when y_true is constant: it is undefined). The interval:
    n_boot times, draw n rows with replacement, take the RMSE of the drawn rows; [low, high] are the
    2.5% and 97.5% quantiles of those RMSEs. It narrows as 1/√n.

    Returns {"rmse", "mae", "r2", "low", "high", "n", "n_boot", "method": "bootstrap"}.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true, y_pred = _pair(y_true, y_pred)
    expect(len(y_true) >= 2, "y_true", "at least 2 rows (an interval needs a spread)", f"{len(y_true)} row")
    positive(n_boot, "n_boot", integer=True)
    rng = as_rng(seed)
    t, p = y_true.astype(np.float64), y_pred.astype(np.float64)
    squared = (t - p) ** 2
    n = len(squared)
    boot = np.empty(int(n_boot))
    step = max(1, BOOT_CELLS // n)
    for start in range(0, int(n_boot), step):
        rows = rng.integers(0, n, size=(min(step, int(n_boot) - start), n))
        boot[start:start + len(rows)] = np.sqrt(squared[rows].mean(axis=1))
    low, high = np.percentile(boot, [2.5, 97.5])
    constant = bool(np.all(t == t[0]))
    return {"rmse": float(math.sqrt(mean_squared_error(t, p))), "mae": float(mean_absolute_error(t, p)),
            "r2": None if constant else float(r2_score(t, p)), "low": float(low), "high": float(high),
            "n": n, "n_boot": int(n_boot), "method": "bootstrap"}


# ---- duplicates ------------------------------------------------------------------------------
def duplicate_rows(train, other, name="dev"):
    """Rows of `other` that equal a training row, against how many repeats chance alone would give.

    train : (n_train, d) and other : (m, d) rows as the model sees them (numbers, finite; images are
    flattened); name : what `other` is, for the message ("dev", "test").

    Whether a repeat is a leak depends on the table. A table of three categorical columns has a few
    dozen possible rows, so nearly every new row repeats a training row by chance; in a table with a
    continuous column, an exact repeat comes from a copied record. Two kinds of training rows, two
    estimates, each from the training rows alone:

    - Rows that only copying repeats. A column is near-unique when more than half of the training rows
      hold a value no other training row holds (a measurement, an amount: by Good–Turing, a fresh row's
      value there is more likely new than seen). A distinct training row is singular when its values
      in the near-unique columns, taken together, occur in no other distinct training row. A fresh row
      equals a singular row only if its near-unique values repeat, together, those of a training row;
      the share g of distinct training rows whose near-unique values are shared with another distinct
      row is the Good–Turing estimate of that chance (for floating-point measurements g = 0: any repeat
      is a copy; for ages in whole days, collisions give g > 0). Distinct rows, so records copied
      before the split do not raise g.
    - The other rows. The leave-one-out share q of training rows that equal another training row
      (singular rows left out): how often a training row repeats one of the other n_train − 1. This is
      1 − N₁/n_train with N₁ the rows seen once, the Good–Turing estimate of the probability that a
      fresh row takes a value already seen. Chance alone gives about q·m repeats among m rows.

    Each count is compared with the 99% quantile of Binomial(m, p⁺), p⁺ the rate's upper 95% bound
    p + 1.96·√(p(1−p)/N) (N: the training rows for q, the distinct rows for g). The repeats are chance
    when neither count exceeds its bound; otherwise they are a leak.

    Returns {"found": rows of other equal to a training row, "copies": those that equal a singular row,
    "expected": q·m, "upper": the bound on found − copies, "copies_upper": the bound on copies, "share":
    q, "distinct_train": distinct training rows, "n_train", "n": m, "chance", "message": one sentence
    for the decision trail}.
    """
    train, other = as_rows(train, "train"), as_rows(other, "other")
    expect(other.shape[1] == train.shape[1], "other", f"rows of {train.shape[1]} columns like train",
           f"{other.shape[1]} columns")
    found_mask = rows_in(other, train)
    found = int(np.count_nonzero(found_mask))
    group, counts = distinct_rows(train)
    n_train, m, k = len(train), len(other), len(counts)
    first = np.empty(k, dtype=np.intp)
    first[group[::-1]] = np.arange(n_train)[::-1]                   # one training row per distinct row
    singular, g = _singular(train, train[first]) if found or (counts > 1).any() else (np.zeros(k, bool), 0.0)
    share = float(counts[(counts > 1) & ~singular].sum()) / n_train
    copies = int(np.count_nonzero(rows_in(other[found_mask], train[first[singular]]))) if found else 0
    expected = share * m
    upper, copies_upper = _chance_bound(share, n_train, m), _chance_bound(g, k, m)
    chance = copies <= copies_upper and found - copies <= upper
    if found == 0:
        message = f"no {name} row repeats a training row"
    elif chance:
        why = (f"when the {n_train} training rows hold only {k} distinct rows" if k <= n_train / 2 else
               f"on this table, where {share:.0%} of the training rows repeat another")
        message = (f"{found} of {m} {name} rows repeat a training row, as expected {why} (chance alone gives about "
                   f"{expected:.0f}): not a leak")
    else:
        said = (f"; {copies} of them repeat a record that only copying repeats, where chance gives at most "
                f"{copies_upper}" if copies > copies_upper and share > 0 else "")   # said when q·m hides them
        message = (f"{found} of {m} {name} rows duplicate training rows (chance alone gives about {expected:.1f}, "
                   f"at most {upper}{said}): {name} errors are optimistic; deduplicate the data")
    return {"found": found, "copies": copies, "expected": expected, "upper": upper, "copies_upper": copies_upper,
            "share": share, "distinct_train": k, "n_train": n_train, "n": m, "chance": chance, "message": message}


def _chance_bound(rate, n, m):
    """The 99% quantile of Binomial(m, p⁺), p⁺ = rate + 1.96·√(rate(1−rate)/n) (≤ 1): the most repeats
    among m rows that chance gives, allowing for the noise of the rate estimated on n rows. 0 at rate 0."""
    bound = min(1.0, rate + Z95 * math.sqrt(rate * (1 - rate) / n))
    return int(binom.ppf(CHANCE_LEVEL, m, bound)) if bound > 0 else 0


def _singular(train, distinct):
    """(singular, g) over the K distinct training rows. The near-unique columns are those in which more
    than half of the training rows hold a value no other training row holds. singular (K,) bool: the
    row's values in those columns, taken together, occur in no other distinct row; g: the share of
    distinct rows that are not singular (0.0, and no row singular, when no column is near-unique)."""
    ordered = np.sort(train, axis=0)
    step = np.diff(ordered, axis=0) != 0
    edge = np.ones((1, train.shape[1]), dtype=bool)
    alone = np.vstack([edge, step]) & np.vstack([step, edge])      # differs from both sorted neighbours
    near_unique = np.flatnonzero(alone.sum(axis=0) > len(train) / 2)
    if near_unique.size == 0:
        return np.zeros(len(distinct), dtype=bool), 0.0
    if near_unique.size == train.shape[1]:             # every column: distinct rows are distinct there
        return np.ones(len(distinct), dtype=bool), 0.0
    group, counts = distinct_rows(distinct[:, near_unique])
    singular = counts[group] == 1
    return singular, 1.0 - float(singular.mean())


__all__ = ["confusion", "duplicate_rows", "regression_errors", "rmse", "worse_classes"]
