"""Raw tables in: a preprocessor fitted on the training rows only, and kept in the model file.

`TablePreprocessor` turns a table with mixed columns (numbers with gaps, text, booleans, dates,
identifiers, ...) into a float64 matrix (n_samples, n_out) for the network, as scikit-learn's
`ColumnTransformer(SimpleImputer, OneHotEncoder)` would, and says what it did with every column.
Scaling is not its job: the Standardizer scales its output afterwards.

The rules, each decided on the training rows only:

- empty: a column whose every training value is missing (null, NaN or ±inf) is dropped.
- constant: one distinct value in the training rows, missing counted as a value, is dropped
  (a column with one value and some gaps is kept: its gaps may carry signal).
- numeric (integers, floats, and text whose every value parses as a number): missing values are
  filled with the training median (scikit-learn's SimpleImputer), plus a 0/1 "<col> missing"
  column when some training value was missing; no indicator otherwise (a gap met only at
  prediction time is filled all the same).
- boolean: one 0/1 column, treated as a number: a gap is filled with the training median (the
  majority value; 0.5 on an exact tie) plus the "<col> missing" indicator, as for numbers.
- identifier: a text column, or an integer column that looks like a key, with a distinct value in
  at least `id_share` of its non-missing training rows, is dropped. An integer column looks like a
  key when its name holds the word id, uuid, guid, key, idx or index (PassengerId, customer_id,
  ID) or when its values are consecutive (a row number: at least 10 distinct values, max − min + 1
  of them). Floats, booleans and dates are never identifiers.
- categorical (text, pandas/pyarrow categories): one-hot over the training vocabulary
  (OneHotEncoder's min_frequency and max_categories pick it). A level seen fewer than
  `min_level_count` times (default 5) is rare; rare levels, and levels never seen in training,
  share one "<col>=other" column. That column exists only when the training rows had rare levels;
  otherwise a new level gets all zeros in the column's block, as OneHotEncoder's
  handle_unknown="infrequent_if_exist" does. At most `max_levels` columns per text column,
  "other" included (the least frequent levels go to "other"). Missing is a level of its own,
  "<col> missing", when the training rows had gaps (a gap met only at prediction time counts as
  an unseen level). Free text is dropped: a text column whose kept levels cover less than half of
  its non-missing training rows (most rows would land in "other").
- datetime (pyarrow timestamp and date columns, and text whose every value is an ISO date/time):
  numeric parts "<col> year", "<col> month", "<col> weekday" (Monday 0) and "<col> days" (days
  elapsed since the training minimum), each kept when it varies in the training rows; gaps are
  handled as for numbers (median per part, one indicator). Time zones are read as UTC.
- unsupported: lists, structs, binary and other types are dropped with the reason.

Columns are matched by name at transform time, in any order; a missing needed column is an error
naming every missing one; extra columns are ignored (listed in `ignored_`). The state kept in
model files is JSON and float64 arrays (`to_state` / `from_state`), never pickled objects.
"""

import itertools
import numbers
import os
import re

import numpy as np

from .._checks import plain
from ..errors import NNRecipeError, expect
from .io import check_range, read_arrow, unique_columns, values_in_range

KINDS = ("numeric", "boolean", "categorical", "datetime", "identifier", "constant", "empty", "unsupported")
USED_KINDS = ("numeric", "boolean", "categorical", "datetime")
PARTS = ("year", "month", "weekday", "days")
MIN_LEVEL_COUNT = 5        # default min_level_count: a level needs 5 training rows for a column of its own
FREE_TEXT_COVER = 0.5      # kept levels must cover this share of a text column's rows, else it is free text
ID_WORDS = frozenset({"id", "uuid", "guid", "key", "idx", "index"})
MIN_RUN = 10               # consecutive integers make a row number from this many distinct values on
US_PER_DAY = 86_400_000_000
STATE_FORMAT, STATE_VERSION = "nnrecipe-table", 1


def as_arrow(data, name="X"):
    """A table as a pyarrow Table with unique column names.

    data: a pyarrow Table or RecordBatch, a pandas DataFrame (converted with
    pyarrow.Table.from_pandas; pandas itself is never imported here), an object with
    `__arrow_c_stream__` (polars, DuckDB), a dict of columns (name -> list or 1-D array of equal
    lengths), or a path to a .csv, .parquet or .pq file (read as `read_data` reads it). Anything
    else, a header that names a column twice and a number beyond ±1e150 (io.check_range) raise
    NNRecipeError naming `name`.
    """
    import pyarrow as pa
    if isinstance(data, (str, os.PathLike)):
        return read_arrow(data, name)
    try:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            table = data
        elif _is_pandas(data):
            unique_columns([str(c) for c in data.columns], name)
            table = pa.Table.from_pandas(data, preserve_index=False)
        elif isinstance(data, dict):
            bad = next((k for k in data if not isinstance(k, str)), None)
            expect(bad is None, f"the column names of {name}", "strings", repr(bad))
            table = pa.table({k: v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(_as_list(v, k))
                              for k, v in data.items()})
        elif hasattr(data, "__arrow_c_stream__"):
            table = pa.table(data)
        else:
            raise NNRecipeError(f"{name} must be a pyarrow Table, a pandas DataFrame, a dict of columns or a "
                                f".csv/.parquet path; got {type(data).__name__}")
    except (pa.ArrowException, TypeError, ValueError) as exc:
        if isinstance(exc, NNRecipeError):
            raise
        raise NNRecipeError(f"{name} must be a table pyarrow can read (columns of equal length, one type "
                            f"each); got {type(data).__name__} ({exc})") from None
    unique_columns(table.column_names, name)
    check_range(table, name)
    return table


def _is_pandas(data):
    kind = type(data)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] == "pandas"


def _as_list(values, column):
    """A dict entry as something pa.array reads: a 1-D array or a list, not a scalar or a table."""
    if isinstance(values, np.ndarray):
        expect(values.ndim == 1, f"column {column!r}", "1-D (one value per row)", f"shape {values.shape}")
        return values
    expect(isinstance(values, (list, tuple, range)), f"column {column!r}", "a list or a 1-D array of values",
           type(values).__name__)
    return list(values)


class TablePreprocessor:
    """Impute, encode and drop the columns of a raw table, with what the training rows teach only.

    Parameters (settings only; nothing is learned before fit)
    ----------
    max_levels : int ≥ 2. At most this many one-hot columns per text column, "other" included.
    min_level_count : int ≥ 1 or None (5). A level seen fewer times in training goes to "other".
    id_share : float in (0, 1]. A text (or key-like integer) column with a distinct value in at
        least this share of its non-missing training rows is an identifier, and dropped.

    The rules are in this module's docstring. Attributes after fit:
    columns_ : the input columns the preprocessor needs, in table order.
    feature_names_out_ : the n_out names of the output columns ("age", "age missing",
        "island=Dream", "island=other", "date year", ...).
    decisions_ : one dict per input column: column, kind (numeric, boolean, categorical, datetime,
        identifier, constant, empty or unsupported), action (used, imputed, encoded, expanded or
        dropped), reason (words), outputs (names), rows, missing, distinct, and per kind fill
        (the medians), levels, rare (levels grouped into other) or origin (the first date).
    n_rows_ : how many training rows it was fitted on.
    ignored_ : after transform, the columns of those rows that the fitted table did not have.
    """

    def __init__(self, max_levels=30, min_level_count=None, id_share=0.95):
        self.max_levels = max_levels
        self.min_level_count = min_level_count
        self.id_share = id_share

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, table, rows=None):
        """Learn from `table` (anything as_arrow accepts): from the rows `rows` only when given (an
        index array, or a boolean mask of the table's rows). Returns self."""
        from sklearn.impute import SimpleImputer
        min_count = self._check_settings()
        table = as_arrow(table, "table")
        expect(table.num_columns > 0, "table", "a table with at least one column", "none")
        if rows is not None:
            table = table.take(_row_index(rows, table.num_rows))
        n = table.num_rows
        expect(n > 0, "table", "at least one training row", "none")
        studied = [_study(table.column(name), name, n, self.id_share, min_count, self.max_levels)
                   for name in table.column_names]
        numbers = np.hstack([np.empty((n, 0))] + [m for _, _, m in studied if m is not None])
        medians = SimpleImputer(strategy="median").fit(numbers).statistics_ if numbers.shape[1] else np.empty(0)
        specs, fills, decisions, k = [], [], [], 0
        for spec, decision, matrix in studied:
            width = 0 if matrix is None else matrix.shape[1]
            fill = np.asarray(medians[k:k + width], np.float64)
            k += width
            decision["outputs"] = [] if spec is None else _outputs(spec)
            if spec is not None:
                specs.append(spec)
                fills.append(fill)
                if width:
                    decision["fill"] = fill.tolist()
            decision["reason"] = _reason(spec, decision, min_count)
            decisions.append(decision)
        if not specs:
            why = "; ".join(f"{d['column']!r} ({d['kind']}: {d['reason']})" for d in decisions)
            raise NNRecipeError(f"table must have at least one usable column; every column was dropped: {why}")
        self._set_fitted(specs, fills, list(table.column_names), decisions, n)
        return self

    def _check_settings(self):
        """Validate the settings; returns the effective min_level_count."""
        def count(value, low):
            return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
        expect(count(self.max_levels, 2), "max_levels", "an integer ≥ 2", repr(plain(self.max_levels)))
        expect(self.min_level_count is None or count(self.min_level_count, 1), "min_level_count",
               "None or an integer ≥ 1", repr(plain(self.min_level_count)))
        share = self.id_share
        expect(isinstance(share, numbers.Real) and not isinstance(share, bool) and 0 < share <= 1, "id_share",
               "a number in (0, 1]", repr(plain(share)))
        return int(self.min_level_count or MIN_LEVEL_COUNT)

    def _set_fitted(self, specs, fills, seen, decisions, n_rows):
        self._specs, self._fills, self._seen = specs, fills, seen
        self.decisions_, self.n_rows_ = decisions, n_rows
        self.columns_ = [s["name"] for s in specs]
        self.feature_names_out_ = [name for s in specs for name in _outputs(s)]
        self.ignored_ = []

    def fit_transform(self, table, rows=None):
        """fit(table, rows), then transform the whole table (all its rows)."""
        return self.fit(table, rows).transform(table)

    # ---- transforming ---------------------------------------------------------------------
    def transform(self, table):
        """float64 (n_samples, n_out) for the rows of `table` (anything as_arrow accepts), columns
        matched by name in any order. A 2-D numeric array is read as `columns_` in that order, only
        when every needed column is numeric or boolean (a number cannot stand for a level or a
        date). Missing needed columns raise NNRecipeError naming them all; extra ones are ignored
        and listed in `ignored_`."""
        if not hasattr(self, "_specs"):
            raise NNRecipeError("the TablePreprocessor is not fitted: call fit(table) first")
        table = self._as_table(table)
        present = set(table.column_names)
        missing = [c for c in self.columns_ if c not in present]
        if missing:
            raise NNRecipeError(f"rows must have every column the model was trained on; missing "
                                f"{', '.join(map(repr, missing))}")
        seen = set(self._seen)
        self.ignored_ = [c for c in table.column_names if c not in seen]
        out = np.empty((table.num_rows, len(self.feature_names_out_)), np.float64)
        j = 0
        for spec, fill in zip(self._specs, self._fills):
            block = _encode(spec, fill, table.column(spec["name"]))
            out[:, j:j + block.shape[1]] = block
            j += block.shape[1]
        return out

    def _as_table(self, data):
        if not isinstance(data, np.ndarray):
            return as_arrow(data, "rows")
        numeric = all(s["kind"] in ("numeric", "boolean") for s in self._specs)
        if not (numeric and data.ndim == 2 and data.dtype.kind in "biuf" and data.shape[1] == len(self.columns_)):
            raise NNRecipeError(f"rows must be named columns (a pandas DataFrame, a dict of columns, a pyarrow "
                                f"Table or a .csv/.parquet path) with the columns {self.columns_}; got an array "
                                f"of shape {data.shape}" + ("" if numeric else " (numbers cannot stand for the "
                                                            "text and date columns)"))
        return as_arrow({name: data[:, j] for j, name in enumerate(self.columns_)}, "rows")

    # ---- model files ----------------------------------------------------------------------
    def to_state(self):
        """(meta, arrays): a JSON-able dict and {name: float64 array} that rebuild this fitted
        preprocessor exactly (`from_state`). Nothing is pickled."""
        if not hasattr(self, "_specs"):
            raise NNRecipeError("the TablePreprocessor is not fitted: call fit(table) first")
        meta = {"format": STATE_FORMAT, "version": STATE_VERSION,
                "settings": {"max_levels": int(self.max_levels), "id_share": float(self.id_share),
                             "min_level_count": None if self.min_level_count is None else int(self.min_level_count)},
                "seen": list(self._seen), "n_rows": int(self.n_rows_), "columns": [dict(s) for s in self._specs],
                "decisions": self.decisions_}
        return meta, {"fill": np.concatenate([np.empty(0), *self._fills])}

    @classmethod
    def from_state(cls, meta, arrays):
        """The preprocessor that `to_state` described; NNRecipeError for anything malformed."""
        try:
            return cls._from_state(meta, arrays)
        except NNRecipeError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise NNRecipeError(f"the preprocessor state is malformed ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_state(cls, meta, arrays):
        def check(condition, what):
            if not condition:
                raise NNRecipeError(f"the preprocessor state is malformed ({what})")
        check(isinstance(meta, dict) and meta.get("format") == STATE_FORMAT and meta.get("version") == STATE_VERSION,
              f"format {STATE_FORMAT!r} version {STATE_VERSION} expected")
        settings = meta["settings"]
        check(isinstance(settings, dict), "settings is not an object")
        self = cls(**{k: settings[k] for k in ("max_levels", "min_level_count", "id_share")})
        self._check_settings()
        seen, specs, decisions, n_rows = meta["seen"], meta["columns"], meta["decisions"], meta["n_rows"]
        check(isinstance(seen, list) and all(isinstance(c, str) for c in seen) and len(set(seen)) == len(seen),
              "seen must be distinct column names")
        check(isinstance(n_rows, int) and not isinstance(n_rows, bool) and n_rows > 0, "n_rows")
        check(isinstance(decisions, list) and all(isinstance(d, dict) for d in decisions), "decisions")
        check(isinstance(specs, list) and specs and all(isinstance(s, dict) for s in specs), "columns")
        names = [s.get("name") for s in specs]
        check(len(set(names)) == len(names) and all(name in seen for name in names), "columns must be seen, once")
        widths = [_check_spec(s, check) for s in specs]
        fill = arrays.get("fill") if isinstance(arrays, dict) else None
        check(isinstance(fill, np.ndarray) and fill.dtype == np.float64 and fill.shape == (sum(widths),)
              and np.isfinite(fill).all(), f"fill must be {sum(widths)} finite float64 values")
        cuts = np.cumsum([0, *widths])
        self._set_fitted([dict(s) for s in specs], [fill[a:b].copy() for a, b in itertools.pairwise(cuts)],
                         list(seen), decisions, n_rows)
        return self

    def __repr__(self):
        fitted = f", {len(self.columns_)} columns -> {len(self.feature_names_out_)}" if hasattr(self, "_specs") else ""
        return (f"TablePreprocessor(max_levels={self.max_levels}, min_level_count={self.min_level_count}, "
                f"id_share={self.id_share}{fitted})")


def _check_spec(spec, check):
    """Validate one column's spec read from a file; returns how many fill values it owns."""
    kind = spec.get("kind")
    check(isinstance(spec.get("name"), str) and kind in USED_KINDS, f"column kind {kind!r}")
    flag_keys = ("indicator",) if kind != "categorical" else ("other", "missing")
    check(all(isinstance(spec.get(k), bool) for k in flag_keys), f"{kind} flags")
    if kind == "categorical":
        levels = spec.get("levels")
        check(isinstance(levels, list) and all(isinstance(v, str) for v in levels)
              and len(set(levels)) == len(levels), "levels must be distinct strings")
        check(levels or spec["other"] or spec["missing"], "a categorical column needs an output")
        return 0
    if kind == "datetime":
        parts, origin = spec.get("parts"), spec.get("origin")
        check(isinstance(parts, list) and all(p in PARTS for p in parts) and len(set(parts)) == len(parts)
              and (parts or spec["indicator"]), "datetime parts")
        check(isinstance(origin, int) and not isinstance(origin, bool), "datetime origin")
        return len(parts)
    return 1


def _row_index(rows, n):
    """rows (indices or a boolean mask of n rows) as int64 indices in [0, n)."""
    r = np.asarray(rows)
    if r.dtype == bool:
        expect(r.shape == (n,), "rows", f"a boolean mask of the table's {n} rows, or row indices",
               f"shape {r.shape}")
        return np.flatnonzero(r)
    expect(r.ndim == 1 and (r.dtype.kind in "iu" or r.size == 0), "rows", "a 1-D array of row indices",
           f"{r.dtype} shape {r.shape}")
    r = r.astype(np.int64)
    if r.size and (r.min() < 0 or r.max() >= n):
        raise NNRecipeError(f"rows must be indices in [0, {n}); got {r.min()} to {r.max()}")
    return r


# ---------------------------------------------------------------- reading a column as numbers, dates, text

def _decoded(column):
    """A column with dictionary (categorical) encoding undone."""
    import pyarrow as pa
    t = column.type
    return column.cast(t.value_type) if pa.types.is_dictionary(t) else column


def _is_text(t):
    import pyarrow as pa
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _bad_value(column, convert):
    """(row, value) of the first non-missing value of column that convert(scalar) refuses."""
    import pyarrow as pa
    for r, value in enumerate(column.to_pylist()):
        if value is not None:
            try:
                convert(pa.scalar(value, column.type))
            except (pa.ArrowException, ValueError, TypeError):
                return r, value
    return None, None


def _numbers(column, name, boolean=False):
    """float64 (n,): the values of a numeric, boolean or numeric-text column; NaN where missing
    (null, NaN, ±inf). Text "true"/"false" is read too when `boolean`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    column = _decoded(column)
    t = column.type
    if _is_text(t):
        trimmed = pc.utf8_trim_whitespace(column)
        try:
            column = trimmed.cast(pa.float64())
        except (pa.ArrowException, NotImplementedError):
            try:
                if not boolean:
                    raise pa.ArrowInvalid("not a number")
                column = trimmed.cast(pa.bool_())
            except (pa.ArrowException, NotImplementedError):
                r, value = _bad_value(trimmed, lambda s: s.cast(pa.bool_() if boolean else pa.float64()))
                raise NNRecipeError(f"column {name!r} must hold {'true/false' if boolean else 'numbers'}, as in "
                                    f"the training rows; got {value!r} at row {r}") from None
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
              or pa.types.is_decimal(t) or pa.types.is_null(t)):
        raise NNRecipeError(f"column {name!r} must hold {'true/false' if boolean else 'numbers'}, as in the "
                            f"training rows; got {t}")
    values = np.array(column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), np.float64)
    values[~np.isfinite(values)] = np.nan
    values_in_range(values, f"column {name!r}", lambda r: f"row {r}")        # numbers written as text, too
    return values


def _micros(column, name):
    """(int64 microseconds since 1970-01-01 UTC, bool missing) of a date, timestamp or ISO-text column."""
    import pyarrow as pa
    import pyarrow.compute as pc
    column = _decoded(column)
    t = column.type
    target = pa.timestamp("us", t.tz) if pa.types.is_timestamp(t) else pa.timestamp("us")
    if _is_text(t):
        column = pc.utf8_trim_whitespace(column)
    elif not (pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_null(t)):
        raise NNRecipeError(f"column {name!r} must hold dates, as in the training rows; got {t}")
    try:
        column = column.cast(target)
    except (pa.ArrowException, NotImplementedError):
        r, value = _bad_value(column, lambda s: s.cast(target))
        raise NNRecipeError(f"column {name!r} must hold dates (ISO 8601, such as 2024-03-31), as in the training "
                            f"rows; got {value!r} at row {r}") from None
    missing = np.asarray(column.is_null().to_numpy(zero_copy_only=False), bool)
    us = np.asarray(column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    return us, missing


def _text(column, name):
    """A column as a pyarrow string array (numbers and booleans as their text)."""
    import pyarrow as pa
    try:
        return _decoded(column).cast(pa.string()).combine_chunks()
    except (pa.ArrowException, NotImplementedError):
        raise NNRecipeError(f"column {name!r} must hold text, as in the training rows; got {column.type}") from None


def _parts(us, missing, parts, origin):
    """float64 (n, len(parts)) of the date parts of microseconds `us`; NaN where missing."""
    days = np.floor_divide(us, US_PER_DAY)
    out = np.empty((len(us), len(parts)), np.float64)
    for j, part in enumerate(parts):
        if part == "year":
            out[:, j] = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        elif part == "month":
            out[:, j] = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
        elif part == "weekday":
            out[:, j] = (days + 3) % 7                       # 1970-01-01 was a Thursday (Monday = 0)
        else:
            out[:, j] = (us - origin) / US_PER_DAY
    out[missing] = np.nan
    return out


# ---------------------------------------------------------------- what a column is (fit)

def _study(column, name, n, id_share, min_count, max_levels):
    """(spec or None, decision, float64 matrix to impute or None) for one training column."""
    import pyarrow as pa
    decision = {"column": name, "rows": n}
    t = column.type
    if pa.types.is_null(t):
        return None, {**decision, "kind": "empty", "action": "dropped", "missing": n, "distinct": 0}, None
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        kind = "boolean" if pa.types.is_boolean(t) else "numeric"
        return _study_numbers(_numbers(column, name), name, kind, pa.types.is_integer(t), decision, id_share)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return _study_dates(*_micros(column, name), name, decision)
    if _is_text(t):                     # numbers or ISO dates written as text are numbers or dates
        trimmed = _parses(column, pa.float64())
        if trimmed is not None:
            values = _numbers(trimmed, name)
            present = values[~np.isnan(values)]
            whole = bool((present == np.round(present)).all())
            return _study_numbers(values, name, "numeric", whole, decision, id_share)
        if _parses(column, pa.timestamp("us")) is not None:
            return _study_dates(*_micros(column, name), name, decision)
    if not (_is_text(t) or pa.types.is_dictionary(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)):
        return None, {**decision, "kind": "unsupported", "action": "dropped", "type": str(t)}, None
    try:
        text = _text(column, name)
    except NNRecipeError:
        return None, {**decision, "kind": "unsupported", "action": "dropped", "type": str(t)}, None
    return _study_levels(text, name, decision, id_share, min_count, max_levels)


def _parses(column, target):
    """The text column with whitespace trimmed when every value casts to `target`, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc
    trimmed = pc.utf8_trim_whitespace(column)
    try:
        trimmed.cast(target)
    except (pa.ArrowException, NotImplementedError):
        return None
    return trimmed


def _missing_and_constant(decision, n_missing, n_distinct):
    """The decision for an empty or constant column, or None when the column can carry signal."""
    decision.update(missing=int(n_missing), distinct=int(n_distinct))
    if n_distinct == 0:
        return {**decision, "kind": "empty", "action": "dropped"}
    if n_distinct + (n_missing > 0) == 1:
        return {**decision, "kind": "constant", "action": "dropped"}
    return None


def _study_numbers(values, name, kind, integer, decision, id_share):
    missing = np.isnan(values)
    distinct = np.unique(values[~missing])
    dropped = _missing_and_constant(decision, missing.sum(), distinct.size)
    if dropped is not None:
        if dropped["kind"] == "constant":
            dropped["value"] = _number(distinct[0])
        return None, dropped, None
    n_present = len(values) - int(missing.sum())
    if kind == "numeric" and integer and distinct.size >= id_share * n_present:
        run = distinct.size >= MIN_RUN and distinct[-1] - distinct[0] == distinct.size - 1
        if _id_name(name) or run:
            decision["why"] = "its name says so" if _id_name(name) else "consecutive integers (a row number)"
            return None, {**decision, "kind": "identifier", "action": "dropped"}, None
    spec = {"name": name, "kind": kind, "indicator": bool(missing.any())}
    return spec, {**decision, "kind": kind, "action": "imputed" if missing.any() else "used"}, values[:, None]


def _study_dates(us, missing, name, decision):
    distinct = np.unique(us[~missing])
    dropped = _missing_and_constant(decision, missing.sum(), distinct.size)
    if dropped is not None:
        if dropped["kind"] == "constant":
            dropped["value"] = _when(int(distinct[0]))
        return None, dropped, None
    origin = int(distinct[0])
    every = _parts(us, missing, PARTS, origin)[~missing]
    parts = [p for j, p in enumerate(PARTS) if np.unique(every[:, j]).size > 1]
    spec = {"name": name, "kind": "datetime", "parts": parts, "origin": origin, "indicator": bool(missing.any())}
    decision.update(kind="datetime", action="expanded", origin=_when(origin))
    return spec, decision, _parts(us, missing, parts, origin)


def _study_levels(text, name, decision, id_share, min_count, max_levels):
    from sklearn.preprocessing import OneHotEncoder
    present = text.drop_null().to_numpy(zero_copy_only=False).astype(object)
    n_missing = len(text) - len(present)
    levels, counts = np.unique(present, return_counts=True)
    dropped = _missing_and_constant(decision, n_missing, levels.size)
    if dropped is not None:
        if dropped["kind"] == "constant":
            dropped["value"] = str(levels[0])
        return None, dropped, None
    if levels.size >= id_share * len(present):
        return None, {**decision, "kind": "identifier", "action": "dropped"}, None
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=min_count, max_categories=max_levels)
    encoder.fit(present[:, None])
    rare = encoder.infrequent_categories_[0]
    rare = set() if rare is None else set(rare.tolist())
    kept = [str(v) for v in encoder.categories_[0] if v not in rare]
    covered = int(counts[np.isin(levels, kept)].sum())
    decision.update(kind="categorical", levels=kept, rare=len(rare), covered=covered)
    if covered < FREE_TEXT_COVER * len(present):
        return None, {**decision, "action": "dropped"}, None
    spec = {"name": name, "kind": "categorical", "levels": kept, "other": bool(rare), "missing": n_missing > 0}
    return spec, {**decision, "action": "encoded"}, None


def _when(us):
    """A time in microseconds since 1970 as ISO text: the date alone at midnight."""
    return str(np.datetime64(us // US_PER_DAY, "D") if us % US_PER_DAY == 0 else np.datetime64(us, "us"))


def _id_name(name):
    """Whether a column's name holds a word for a key: PassengerId, customer_id, ID, row_index, ..."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return any(w.lower() in ID_WORDS for w in words)


def _number(value):
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def _outputs(spec):
    name = spec["name"]
    indicator = [f"{name} missing"] if spec.get("indicator") or spec.get("missing") else []
    if spec["kind"] == "categorical":
        return [f"{name}={v}" for v in spec["levels"]] + ([f"{name}=other"] if spec["other"] else []) + indicator
    if spec["kind"] == "datetime":
        return [f"{name} {p}" for p in spec["parts"]] + indicator
    return [name] + indicator


def _share(k, n):
    return f"{k} of {n} ({k / n:.0%})"


def _reason(spec, d, min_count):
    """The decision's reason, in words."""
    kind, n = d["kind"], d["rows"]
    if kind == "empty":
        return f"every one of the {n} training values is missing"
    if kind == "constant":
        return f"one value ({d['value']!r}) in every training row: no signal"
    if kind == "unsupported":
        return f"values of type {d['type']} are neither numbers, text, booleans nor dates"
    if kind == "identifier":
        how = f"; {d['why']}" if "why" in d else ""
        return (f"a distinct value in {_share(d['distinct'], n - d['missing'])} non-missing training rows{how}: "
                f"an identifier, which carries no signal that generalizes to new rows")
    gaps = ""
    if d["missing"]:
        gaps = f"; {_share(d['missing'], n)} training values missing"
    if kind == "categorical":
        if spec is None:
            return (f"text with {d['distinct']} distinct values, whose {len(d['levels'])} level(s) seen at least "
                    f"{min_count} times cover only {_share(d['covered'], n - d['missing'])} non-missing rows (less "
                    f"than {FREE_TEXT_COVER:.0%}): free text, or levels too rare to encode")
        other = (f", {d['rare']} rare level(s) (seen < {min_count} times or beyond the first {len(d['levels'])}) "
                 f"and unseen ones → '{spec['name']}=other'" if spec["other"] else
                 ", unseen levels → no column (all zeros)")
        missing = f"; missing is its own level '{spec['name']} missing'" if spec["missing"] else ""
        return f"{d['distinct']} levels one-hot encoded: {len(spec['levels'])} kept{other}{gaps}{missing}"
    fill = (f": filled with the training median{'s' if len(d.get('fill', [])) != 1 else ''} "
            f"{', '.join(f'{v:g}' for v in d.get('fill', []))} plus a 0/1 '{spec['name']} missing' column"
            if d["missing"] else "")
    if kind == "datetime":
        parts = ", ".join(spec["parts"]) or "no part (one date)"
        return (f"dates as numbers: {parts} (weekday: Monday 0; days since {d['origin']}, the first training "
                f"date){gaps}{fill}")
    what = "true/false as 1/0" if kind == "boolean" else "numbers"
    return f"{what}{gaps}{fill}" if d["missing"] else f"{what}, no missing value in the training rows"


# ---------------------------------------------------------------- encoding (transform)

def _encode(spec, fill, column):
    """float64 (n, width) block of one column, as fitted."""
    name, kind = spec["name"], spec["kind"]
    if kind == "categorical":
        return _one_hot(spec, _text(column, name))
    if kind == "datetime":
        us, missing = _micros(column, name)
        values = _parts(us, missing, spec["parts"], spec["origin"])
    else:
        values = _numbers(column, name, boolean=kind == "boolean")[:, None]
        missing = np.isnan(values[:, 0])
    block = np.empty((len(values), values.shape[1] + spec["indicator"]), np.float64)
    block[:, :values.shape[1]] = np.where(np.isnan(values), fill, values)
    if spec["indicator"]:
        block[:, -1] = missing
    return block


def _one_hot(spec, text):
    import pyarrow as pa
    import pyarrow.compute as pc
    levels = spec["levels"]
    width = len(levels) + spec["other"] + spec["missing"]
    index = pc.index_in(text, value_set=pa.array(levels, pa.string())).fill_null(-1)
    index = np.asarray(index.to_numpy(zero_copy_only=False), np.int64)
    missing = np.asarray(text.is_null().to_numpy(zero_copy_only=False), bool)
    if spec["missing"]:
        index[missing] = width - 1
    if spec["other"]:
        index[index < 0] = len(levels)
    block = np.zeros((len(index), width), np.float64)
    known = index >= 0
    block[np.flatnonzero(known), index[known]] = 1.0
    return block
