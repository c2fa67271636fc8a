"""What the recipe is given: numeric arrays (rows or images) or a raw table (a pandas DataFrame, a
pyarrow Table, a dict of columns, a .csv/.parquet path) whose target is an array or one of its columns.

`read_inputs` checks everything before any work and decides the task (recipe/target.py). A raw table
keeps its columns as they are: `Inputs.split` cuts train/dev/test on row indices first, fits the
TablePreprocessor (data/tables.py) on the training rows only, and only then builds the numeric split.
Rows whose target is missing are dropped and counted.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from .._checks import as_rows, plain
from ..data.io import missing_values
from ..data.split import Split, split, split_dev
from ..data.tables import TablePreprocessor, as_arrow
from ..errors import NNRecipeError, expect
from .target import read_target

MIN_ROWS = 50                          # 60/20/20 leaves ≥ 10 rows in dev and test for the match check


def _features(X, name):
    """X as an array of rows (n, d) or images (n, H, W[, C]), numeric and finite; errors name `name`
    and the user's own row and column."""
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as exc:              # ragged lists and the like
        raise NNRecipeError(f"{name} must be array-like of numbers; got {type(X).__name__} ({exc})") from None
    as_rows(X, name)                                    # the checks (images flattened to rows)
    return X


def is_table(X):
    """True for what the recipe reads as a raw table rather than as an array of numbers."""
    if isinstance(X, (str, os.PathLike, dict)):
        return True
    kind = type(X).__module__.split(".")[0]
    return kind in ("pandas", "pyarrow", "polars") or hasattr(X, "__arrow_c_stream__")


@dataclass
class Inputs:
    """X (n, d) numbers or images, or None for a raw `table` (a pyarrow Table without the target);
    target : the Target (task, encoded y, classes); test : (X_test or a table, encoded y_test) or None;
    dropped : rows dropped, by reason."""
    X: np.ndarray | None
    target: object
    test: tuple | None = None
    table: object = None
    dropped: dict = field(default_factory=dict)
    preprocessor: TablePreprocessor | None = None

    @property
    def n(self):
        return len(self.target.y)

    def split(self, seed):
        """The Split: train/dev/test (locked). A raw table is split on row indices, the preprocessor fitted
        on the training rows, then every row transformed (X and test then hold the numbers)."""
        y, test = self.target.y, self.test
        if self.table is None:
            return split_dev(self.X, y, test, seed=seed) if test is not None else split(self.X, y, seed=seed)
        index = np.arange(self.n)[:, None]
        if test is None:
            rows = split(index, y, seed=seed)
        else:
            rows = split_dev(index, y, (self.n + np.arange(len(test[1]))[:, None], test[1]), seed=seed)
        self.preprocessor = TablePreprocessor().fit(self.table, rows=rows.train.index)
        self.X = X = self.preprocessor.transform(self.table)
        y_all = y if test is None else np.concatenate([y, test[1]])
        if test is not None:
            self.test = (self.preprocessor.transform(test[0]), test[1])
            X = np.vstack([X, self.test[0]])
        assignment = np.full(len(X), 2, dtype=np.int8)
        assignment[rows.train.index], assignment[rows.dev.index] = 0, 1
        return Split(X, y_all, assignment, rows.sizes, rows.stratified)


def _target_column(table, y, name):
    """(table without the target, the target's values): y names a column of the table, or is an array."""
    if isinstance(y, str):
        expect(y in table.column_names, "y", f"a column of {name} ({', '.join(map(repr, table.column_names[:12]))}"
               + (", ..." if table.num_columns > 12 else "") + ")", repr(y))
        values = table.column(y).to_numpy(zero_copy_only=False)
        return table.drop_columns([y]), values
    values = np.asarray(y)
    expect(values.ndim == 1 and len(values) == table.num_rows, "y",
           f"a column name of {name} or {table.num_rows} values, one per row", f"shape {values.shape}")
    return table, values


def _clean(values):
    """Target values with their missing ones left out, as numbers when they all are, as text when they
    all are (a NumPy str array), else as they are."""
    if values.dtype.kind == "O" and all(isinstance(plain(v), (int, float)) and not isinstance(v, bool)
                                        for v in values):
        return values.astype(np.float64)
    if values.dtype.kind == "O" and all(isinstance(v, str) for v in values):
        return values.astype(str)
    return values


def _read_table(X, y, name):
    table = as_arrow(X, name)
    table, values = _target_column(table, y, name)
    gone = missing_values(values)
    if gone.all():
        raise NNRecipeError(f"the target {y if isinstance(y, str) else 'y'!r} must hold values; got only missing "
                            f"values ({len(values)} rows)")
    if gone.any():
        table, values = table.filter(~gone), values[~gone]
    return table, _clean(values), int(gone.sum())


def read_inputs(X, y, test=None, classes=None, task="auto", drop_missing=False):
    """Inputs from arrays or a raw table, checked before any work.

    X : (n, d) or images, or a raw table; y : (n,) labels or values, or the name of X's target column;
    test : (X_test, y_test) of the same kinds, or None; classes : labels when y holds indices into them;
    drop_missing : a raw table's rows with any missing feature are dropped and counted (CLI --drop-nan).
    """
    if is_table(X):
        table, values, gone = _read_table(X, y, "X")
        dropped = {"missing target": gone} if gone else {}
        if drop_missing:
            complete = np.ones(table.num_rows, dtype=bool)
            for column in table.columns:
                complete &= ~np.asarray(column.is_null(nan_is_null=True).to_numpy(zero_copy_only=False))
            if (~complete).any():
                dropped["missing feature (--drop-nan)"] = int((~complete).sum())
                table, values = table.filter(complete), values[complete]
        test_table = test_values = None
        if test is not None:
            expect(isinstance(test, (tuple, list)) and len(test) == 2, "test", "a pair (X_test, y_test)",
                   type(test).__name__)
            test_table, test_values, _ = _read_table(test[0], test[1], "X_test")
        _enough(table.num_rows)
        target = read_target(values, table.num_rows, test_values, 0 if test_table is None else test_table.num_rows,
                             task, classes)
        return Inputs(None, target, None if test is None else (test_table, target.y_test), table, dropped)
    X = _features(X, "X")
    _enough(len(X))
    Xt = None
    if test is not None:
        expect(isinstance(test, (tuple, list)) and len(test) == 2, "test", "a pair (X_test, y_test)",
               type(test).__name__)
        Xt = _features(test[0], "X_test")
        expect(Xt.shape[1:] == X.shape[1:], "X_test", f"rows of shape {X.shape[1:]} like X", f"shape {Xt.shape}")
    target = read_target(y, len(X), None if test is None else test[1], 0 if Xt is None else len(Xt), task, classes)
    return Inputs(X, target, None if test is None else (Xt, target.y_test))


def _enough(n):
    if n < MIN_ROWS:
        raise NNRecipeError(f"the data must have at least {MIN_ROWS} rows to split into train, dev and test "
                            f"and compare dev with test; got {n}")
