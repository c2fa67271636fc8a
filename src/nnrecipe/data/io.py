"""Reading data files into (X, y) arrays."""

import csv
from pathlib import Path

import numpy as np

from ..errors import NNRecipeError


def _encode_target(values, name):
    """Targets as numbers: class indices for labels, floats for a regression target.

    Non-numeric labels, or integers with at most 20 distinct values, are classes; the
    returned `classes` lists the original label of each index (None for regression).
    """
    try:
        numeric = np.asarray(values, dtype=np.float64)
    except ValueError:
        numeric = None
    if numeric is not None and not np.isfinite(numeric).all():
        raise NNRecipeError(f"target column {name!r} must be finite; got {numeric[~np.isfinite(numeric)][0]}")
    if numeric is None or (np.all(numeric == np.round(numeric)) and len(np.unique(numeric)) <= 20):
        classes, y = np.unique(np.asarray(values) if numeric is None else numeric, return_inverse=True)
        return y.astype(np.int64), classes.tolist()
    return numeric, None


def read_csv(path, target):
    """(X, y, feature_names, classes) from a CSV file with a header row and a target column."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise NNRecipeError(f"{path} must have a header row and at least one data row; got {len(rows)} rows")
    header, body = rows[0], rows[1:]
    if target not in header:
        raise NNRecipeError(f"--target must name a column of {path}; got {target!r} (columns: {', '.join(header)})")
    if any(len(r) != len(header) for r in body):
        bad = next(i for i, r in enumerate(body, 2) if len(r) != len(header))
        raise NNRecipeError(f"{path}: every row must have {len(header)} fields; line {bad} does not")
    t = header.index(target)
    features = [h for i, h in enumerate(header) if i != t]
    columns = list(zip(*body))
    X = np.empty((len(body), len(features)))
    for j, i in enumerate(i for i in range(len(header)) if i != t):
        try:
            X[:, j] = np.asarray(columns[i], dtype=np.float64)
        except ValueError:
            raise NNRecipeError(f"feature column {header[i]!r} must be numeric; got values such as "
                                f"{next(v for v in columns[i] if not _is_number(v))!r}") from None
    y, classes = _encode_target(columns[t], target)
    return X, y, features, classes


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_npz(path, target="y"):
    """(X, y, feature_names, classes) from an .npz file with arrays X and `target`."""
    with np.load(path, allow_pickle=False) as archive:
        if "X" not in archive.files or target not in archive.files:
            raise NNRecipeError(f"{path} must hold arrays 'X' and {target!r}; got {', '.join(archive.files)}")
        X, y = archive["X"], archive[target]
    y, classes = _encode_target(y.ravel() if y.ndim == 2 and 1 in y.shape else y, target)
    return X, y, [f"x{i}" for i in range(X.shape[1] if X.ndim == 2 else 0)], classes


def read_table(path, target):
    path = Path(path)
    if not path.exists():
        raise NNRecipeError(f"DATA must be a bundled dataset name or an existing file; got {str(path)!r}")
    readers = {".csv": read_csv, ".npz": read_npz}
    if path.suffix.lower() not in readers:
        raise NNRecipeError(f"DATA must be a .csv or .npz file; got {path.suffix or 'no extension'}")
    if path.suffix.lower() == ".csv" and target is None:
        raise NNRecipeError("--target must name the label column of a CSV file")
    return readers[path.suffix.lower()](path, target or "y")
