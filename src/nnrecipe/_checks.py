"""Validation of user input: every failure is an NNRecipeError naming the argument."""

import numbers
import os
from pathlib import Path

import numpy as np

from .errors import NNRecipeError, expect


def as_matrix(X, name="X", dtype=None):
    """X as a finite, non-empty 2-D float array of shape (n_samples, n_features). Never a view
    the caller could see us write to: callers only read it."""
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise NNRecipeError(f"{name} must be array-like of numbers; got {type(X).__name__} ({exc})") from None
    expect(arr.ndim == 2, name, "2-D of shape (n_samples, n_features)", f"{arr.ndim}-D shape {arr.shape}")
    expect(arr.shape[0] > 0, name, "non-empty", f"shape {arr.shape}")
    expect(arr.dtype.kind in "biuf", name, "numeric", f"dtype {arr.dtype}")
    arr = arr.astype(dtype or arr.dtype, copy=False) if arr.dtype.kind == "f" else arr.astype(dtype or np.float64)
    # A finite sum proves every entry finite without an n-sized temporary; else look closer.
    with np.errstate(over="ignore", invalid="ignore"):     # a huge finite sum is only a cue to look closer
        total = np.add.reduce(arr, axis=None)
    if not np.isfinite(total) and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NNRecipeError(f"{name} must be finite; got {arr[tuple(bad)]} at row {bad[0]}, column {bad[1]}")
    return arr


def as_rows(X, name="X"):
    """as_matrix, with images (n, H, W[, C]) flattened to rows (n, H·W·C) first."""
    arr = np.asarray(X) if not isinstance(X, np.ndarray) else X
    return as_matrix(arr.reshape(len(arr), -1) if arr.ndim > 2 else X, name)


def as_targets(y, n, name="y"):
    """y as a finite 1-D (or 2-D for several outputs) array with n rows."""
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise NNRecipeError(f"{name} must be array-like of numbers; got {type(y).__name__} ({exc})") from None
    expect(arr.ndim in (1, 2), name, "1-D (n_samples,) or 2-D (n_samples, n_outputs)", f"shape {arr.shape}")
    expect(arr.shape[0] == n, f"{name} and X", "the same length", f"{arr.shape[0]} and {n} rows")
    expect(arr.dtype.kind in "biuf", name, "numeric", f"dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise NNRecipeError(f"{name} must be finite; got {arr[~np.isfinite(arr)][0]} in {name}")
    return arr


def plain(value):
    """A numpy scalar as the Python value it holds (3, not np.int64(3)); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def shown(value):
    """repr(value) for messages, a numpy scalar as the Python value it holds (nan, not np.float64(nan))."""
    return repr(plain(value))


def positive(value, name, integer=False, allow_zero=False):
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    kind = "an integer" if integer else "a number"
    expect(ok_type, name, kind + (" ≥ 0" if allow_zero else " > 0"), shown(value))
    expect(np.isfinite(value) and (value >= 0 if allow_zero else value > 0), name,
           ">= 0" if allow_zero else "> 0", shown(value))
    return value


def probability(value, name):
    """A keep probability in (0, 1]."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < value <= 1
    if not ok:
        raise NNRecipeError(f"{name} must be in (0, 1]; got {shown(value)}")
    return float(value)


def one_of(value, name, choices):
    expect(value in choices, name, "one of " + ", ".join(map(repr, choices)), shown(value))
    return value


def resolve_dtype(dtype):
    try:
        dt = np.dtype(dtype) if dtype is not None else None      # NumPy reads None as float64
    except (TypeError, ValueError):
        dt = None
    # `is None` first: np.dtype("float64") == None is True, so `None in (...)` would pass
    if dt is None or dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise NNRecipeError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    return dt


def check_seed(seed, name="seed", expected="an int ≥ 0, a numpy SeedSequence or None"):
    """seed, validated for np.random.SeedSequence: None (fresh entropy), an int ≥ 0 (as a Python int)
    or a SeedSequence."""
    ok = seed is None or isinstance(seed, np.random.SeedSequence) or (
        isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0)
    expect(ok, name, expected, shown(seed))
    return int(seed) if isinstance(seed, numbers.Integral) else seed


def as_rng(seed, name="seed"):
    """A numpy Generator from an int ≥ 0, a SeedSequence, a Generator (used as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    seed = check_seed(seed, name, "an int ≥ 0, a numpy SeedSequence or Generator, or None")
    return np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))


def as_path(path, name="path"):
    """path (a str or os.PathLike, not empty) as a Path."""
    ok = isinstance(path, (str, os.PathLike)) and str(path) != ""
    expect(ok, name, "a file path (a str or pathlib.Path)", shown(path))
    return Path(path)


def writable_path(path, name="path"):
    """path as a Path to a file that can be created or replaced: in an existing folder, not a folder.
    Checked before any work, so a bad path fails fast rather than after training."""
    path = as_path(path, name)
    expect(not path.is_dir(), name, "a file, not a folder", repr(str(path)))
    expect(path.parent.is_dir(), name, "a file in an existing folder", repr(str(path)))
    return path


def writable_folder(path, name="out"):
    """path as a Path to a folder, new or existing (not a file, nor inside one), checked before any work."""
    path = as_path(path, name)
    existing = next(q for q in (path, *path.parents) if q.exists())        # "." or "/" at the latest
    expect(existing.is_dir(), name, "a folder (new or existing)", repr(str(path))
           + (", a file" if existing == path else f", inside the file {str(existing)!r}"))
    return path


def as_vector(y, name):
    """y as a 1-D numeric array: (n,) or (n, 1) squeezed, non-empty, finite; errors name `name` and the
    row of the first bad value."""
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise NNRecipeError(f"{name} must be array-like of numbers; got {type(y).__name__} ({exc})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    expect(arr.ndim == 1, name, "1-D of shape (n_samples,)", f"shape {arr.shape}")
    expect(arr.size > 0, name, "non-empty", "0 rows")
    expect(arr.dtype.kind in "biuf", name, "numeric", f"dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        at = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise NNRecipeError(f"{name} must be finite; got {shown(arr[at])} at row {at}")
    return arr


def as_class_indices(y, name, k=None):
    """y (a 1-D numeric array, see as_vector) as int64 class indices 0..k−1, or any whole number ≥ 0 when
    k is None; whole-number floats and booleans are accepted."""
    which = "0, 1, …" if k is None else f"0..{k - 1}"
    if y.dtype.kind == "f":
        whole = y == np.round(y)
        if not whole.all():
            at = int(np.flatnonzero(~whole)[0])
            raise NNRecipeError(f"{name} must be class indices {which}; got {shown(y[at])} at row {at}")
    y = y.astype(np.int64)
    bad = (y < 0) if k is None else (y < 0) | (y >= k)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise NNRecipeError(f"{name} must be class indices {which}; got {y[at]} at row {at}")
    return y
