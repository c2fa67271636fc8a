"""Reading data files into a `Table` (X, y, features, classes, test), and writing them back.

Formats, chosen by suffix: .csv, .parquet/.pq (pyarrow), .npz (NumPy, no pickles), .mat
(MATLAB, scipy) and a folder of images with one subfolder per class (Pillow). pyarrow, scipy
and Pillow are imported only when a file of theirs is read or written.
"""

import codecs
import contextlib
import numbers
import os
import re
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._checks import as_path, shown, writable_path
from ..engine.serialize import atomic_write, read_npz, regular_file
from ..errors import NNRecipeError, expect
from .normalize import MAX_MAGNITUDE
from .task import TASKS, decide_task

FORMATS = "a .csv, .parquet, .pq, .npz or .mat file, or a folder of images with one subfolder per class"
WRITABLE = (".csv", ".parquet", ".pq", ".npz", ".mat")
NAN_HINT = "pass drop_nan=True (CLI --drop-nan) to drop such rows"


class Table(NamedTuple):
    """A dataset, unpacked as `X, y, features, classes, test = table` or read by attribute.

    X: (n, d) features; images are (n, H, W) grayscale or (n, H, W, 3) colour, uint8.
    y: (n,) int64 class indices, or float64 targets for regression.
    features: the name of each column of X.reshape(n, -1).
    classes: the original label of each class index, or None for regression.
    test: (X_test, y_test) when the data comes with its own test set, else None.
    """
    X: np.ndarray
    y: np.ndarray
    features: list
    classes: list | None
    test: tuple | None = None


def read_data(path, target=None, *, categorical=None, drop_nan=False, image_size=None, task="auto"):
    """Read a data file, an image folder or a table in memory (a pandas DataFrame, a pyarrow Table, a
    dict of columns) into a `Table` of numbers (test is None). To keep the original columns for a
    model, give the table itself to `nr.Recipe().fit(table, target)`.

    target: the label column (.csv/.parquet, required) or array (.npz/.mat, default "y");
        None for an image folder, whose subfolder names are the classes.
    task: what the target is. "auto" (the recipe's rule, data/task.py): text labels, booleans and
        whole numbers (0, 1, 7, 2.0, ...) are classes, unless there are more than 20 distinct whole
        numbers with fewer than 20 rows each on average (a score such as 25 to 346: a regression
        target); numbers with a fraction, and 2-D targets, are regression targets. "classify":
        classes (an error for numbers with a fraction). "regress": a numeric regression target (an
        error for text labels).
    categorical: None (text feature columns are an error) or "onehot" (each text column becomes
        one float 0/1 column per category, named "column=category", categories sorted).
    drop_nan: drop the rows with a NaN, infinite or empty feature or target instead of raising.
    image_size: (H, W) to resize every image to; None requires all images to share one size.
    """
    return _read(path, target, categorical, drop_nan, image_size, task, target_arg="target")


def read_table(path, target=None, *, categorical=None, drop_nan=False, image_size=None, task="auto"):
    """The command line's reader: (X, y, features, classes) of `read_data`, with messages that
    name the command's arguments (DATA, --target)."""
    if not Path(path).exists():
        raise NNRecipeError(f"DATA must be a bundled dataset name or an existing file or image folder; "
                            f"got {str(path)!r}")
    return _read(path, target, categorical, drop_nan, image_size, task, target_arg="--target")[:4]


def _read(path, target, categorical, drop_nan, image_size, task, target_arg):
    expect(categorical is None or (isinstance(categorical, str) and categorical == "onehot"), "categorical",
           "None or 'onehot'", repr(categorical))
    expect(isinstance(task, str) and task in TASKS, "task", "'auto', 'classify' or 'regress'", shown(task))
    expect(isinstance(drop_nan, bool | np.bool_), "drop_nan", "True or False", repr(drop_nan))
    if not isinstance(path, (str, os.PathLike)):          # a table in memory: a DataFrame, pyarrow, a dict
        from .tables import as_arrow
        expect(isinstance(target, str), target_arg, "the name of the table's label column", repr(target))
        return _from_arrow(as_arrow(path, "path"), target, categorical, drop_nan, task, target_arg, "the table",
                           csv=False)
    path = Path(path)
    if not path.exists():
        raise NNRecipeError(f"path must be an existing file or image folder; got {str(path)!r}")
    if path.is_dir():
        expect(target is None, target_arg, "None for an image folder (its subfolders are the classes)",
               repr(target))
        expect(task != "regress", "task", "'auto' or 'classify' for an image folder (its subfolders are the "
               "classes)", repr(task))
        return _read_images(path, _image_size(image_size))
    expect(image_size is None, "image_size", "None for a file (it resizes the images of a folder)",
           repr(image_size))
    regular_file(path)
    expect(target is None or isinstance(target, str), target_arg, "a column or array name", repr(target))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        if target is None:
            raise NNRecipeError(f"{target_arg} must name the label column of a CSV or Parquet file; got None")
        arrow = _arrow_csv(path) if suffix == ".csv" else _arrow_parquet(path)
        return _from_arrow(arrow, target, categorical, drop_nan, task, target_arg, path.name, csv=suffix == ".csv")
    if suffix in (".npz", ".mat"):
        X, y = (_arrays_npz if suffix == ".npz" else _arrays_mat)(path, target or "y", target_arg)
        return _from_arrays(X, y, target or "y", drop_nan, task, path.name)
    raise NNRecipeError(f"path must be {FORMATS}; got {suffix or 'no suffix'} ({path.name})")


# ---------------------------------------------------------------- targets and missing values

def _encode_target(values, name, task):
    """Targets as numbers: (y, classes).

    Classes (see read_data's `task`): y holds int64 class indices and `classes` the original label
    of each index (sorted). A regression target: float64 y (n,) or (n, k), classes None.
    """
    values = np.asarray(values)
    try:
        numeric = values.astype(np.float64)
    except (TypeError, ValueError):
        numeric = None
    if numeric is None:                                          # text labels
        expect(task != "regress", f"target {name!r}", "numeric for task='regress' (CLI --task regress)",
               f"text such as {str(values.flat[0])!r}")
        classes, y = np.unique(values.astype(str), return_inverse=True)
        return y.astype(np.int64), classes.tolist()
    if not np.isfinite(numeric).all():
        raise NNRecipeError(f"target {name!r} must be finite; got {numeric[~np.isfinite(numeric)][0]}")
    fractional = numeric != np.round(numeric)
    if task == "regress" or (task == "auto" and (numeric.ndim == 2 or decide_task(numeric, len(numeric), task)[0])):
        return numeric, None
    expect(numeric.ndim == 1, f"target {name!r}", "1-D (one label per row) for task='classify'",
           f"shape {numeric.shape}")
    if fractional.any():
        r = int(np.argmax(fractional))
        raise NNRecipeError(f"target {name!r} must hold whole-number class labels for task='classify' (CLI --task "
                            f"classify); got {numeric[r]} at row {r}; a regression target needs task='regress'")
    classes, y = np.unique(numeric, return_inverse=True)
    return y.astype(np.int64), [int(c) for c in classes]


NA_TEXT = frozenset({"", "NA", "NaN", "nan", "null"})


def missing_values(values):
    """(n,) bool: rows whose target is missing (None, NaN or infinite, or NA-like text)."""
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        return bad.any(axis=1) if bad.ndim == 2 else bad
    if values.dtype.kind in "OUS":
        return np.array([v is None or (isinstance(v, float) and not np.isfinite(v)) or
                         (isinstance(v, str) and v.strip() in NA_TEXT) for v in values], bool)
    return np.zeros(len(values), bool)


def _complete_rows(bad, names, y, target, drop_nan, where, row, value):
    """The rows to keep, (n,) bool. bad: (n, c) True where feature `names[c]` is missing; row(r)
    and value(r, c) describe a row and a bad value in messages. Without drop_nan a missing value is
    an error naming its column and row."""
    bad_y = missing_values(y)
    if drop_nan:
        keep = ~(bad.any(axis=1) | bad_y)
        if not keep.any():
            raise NNRecipeError(f"path must hold at least one complete row; every one of the {len(keep)} rows "
                                f"of {where} has a missing value")
        return keep
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise NNRecipeError(f"feature column {names[c]!r} must be finite and not empty; got {value(r, c)} "
                            f"at {row(r)}; {NAN_HINT}")
    if bad_y.any():
        r = int(np.argmax(bad_y))
        raise NNRecipeError(f"target {target!r} must not be missing; got {shown(y[r])} at {row(r)}; {NAN_HINT}")
    return np.ones(len(y), bool)


def _index_names(prefix, shape):
    """Names of the columns of X.reshape(n, -1) for per-sample shape `shape`: x0, x1, ... for one
    axis, prefix + "r_c..." for several."""
    if len(shape) == 1:
        return [f"{prefix}{i}" for i in range(shape[0])]
    return [prefix + "_".join(map(str, index)) for index in np.ndindex(*shape)]


# ---------------------------------------------------------------- CSV and Parquet (pyarrow)

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def check_target(names, target, target_arg, where):
    """NNRecipeError unless `target` is one of the column `names` of the table `where`; the message names
    the argument that gave it (`target_arg`: "target", "--target")."""
    if target not in names:
        raise NNRecipeError(f"{target_arg} must name a column of {where}; got {target!r} "
                            f"(columns: {', '.join(names)})")


def read_arrow(path, name="path"):
    """A .csv, .parquet or .pq file as a pyarrow Table with its columns as written (no target, no
    encoding): the raw rows that `TablePreprocessor` and `nnrecipe predict` read. CSV goes through
    the reader `read_data` uses (types inferred; empty cells and NA-like text are missing; the
    delimiter detected). A header that names a column twice, a number beyond ±1e150 (check_range), a
    missing or unreadable file raise NNRecipeError naming `name`."""
    path = as_path(path, name)
    suffix = path.suffix.lower()
    expect(suffix in TABLE_SUFFIXES, name, "a .csv, .parquet or .pq file", repr(path.name))
    expect(path.exists(), name, "an existing file", repr(str(path)))
    regular_file(path, name)
    table = _arrow_csv(path) if suffix == ".csv" else _arrow_parquet(path)
    unique_columns(table.column_names, path.name)
    check_range(table, path.name, csv=suffix == ".csv")
    return table


def check_range(table, where, csv=False):
    """NNRecipeError naming the first floating-point column of a pyarrow table, and its row, that holds
    a finite number beyond ±MAX_MAGNITUDE (1e150): standardizing it would overflow (its square is
    inf), so it is refused where it is read, in the user's own words, rather than as an inf later.
    Integers and decimals never reach that size; missing values and ±inf (read as missing) pass."""
    import pyarrow as pa
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_floating(column.type):
            values_in_range(column.to_numpy(zero_copy_only=False), f"column {name!r} of {where}",
                            lambda r: f"row {r} (line {r + 2})" if csv else f"row {r}")


def values_in_range(values, what, at):
    """NNRecipeError '`what` must hold numbers within ±1e150; got v at `at(r)`' for the first finite
    value of the float array `values` beyond MAX_MAGNITUDE."""
    if float(np.finfo(values.dtype).max) <= MAX_MAGNITUDE:    # float32, float16: nothing finite is that large
        return
    with np.errstate(invalid="ignore"):
        big = (np.abs(values) > MAX_MAGNITUDE) & np.isfinite(values)
    if big.any():
        r = int(np.argmax(big.reshape(len(values), -1).any(axis=1)))
        value = np.asarray(values[r]).flat[int(np.argmax(big[r]))]
        raise NNRecipeError(f"{what} must hold numbers within ±{MAX_MAGNITUDE:g} (larger ones overflow when "
                            f"standardized; rescale the column, e.g. take a logarithm); got {value:g} at {at(r)}")


def unique_columns(names, where):
    """NNRecipeError naming the first column name that occurs twice in `names` (of `where`)."""
    seen = set()
    twice = next((n for n in names if n in seen or seen.add(n)), None)
    expect(twice is None, f"the column names of {where}", "unique", f"{twice!r} more than once")


SNIFF_BYTES = 64 << 10          # the start of a CSV file looked at for its kind, delimiter and decimal mark
MAX_HEADER_BYTES = 64 << 20     # a header line longer than this is refused
DELIMITERS = (",", ";", "\t", "|")
MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
         (b"GIF89a", "a GIF image"), (b"\x1f\x8b", "a gzip stream (decompress it first)"),
         *((b"BZh%d1AY&SY" % k, "a bzip2 stream (decompress it first)") for k in range(1, 10)),
         (b"\xfd7zXZ\x00", "an xz stream (decompress it first)"),
         (b"(\xb5/\xfd", "a zstd stream (decompress it first)"),
         (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook? save it as CSV)"), (b"PK\x05\x06", "a zip archive"),
         (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"%PDF-", "a PDF document"),
         (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document (an Excel .xls workbook? save it as CSV)"),
         (b"\x93NUMPY", "a NumPy .npy array"), (b"MATLAB 5.0 MAT-file", "a MATLAB .mat file (name it .mat)"),
         (b"\x89HDF\r\n", "an HDF5 file"), (b"SQLite format 3\x00", "an SQLite database"),
         (b"\x7fELF", "a program (ELF executable)"), (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"),
         (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"))
CONTROL = bytes([*range(1, 9), *range(14, 27), *range(28, 32)])      # never in text (tab, line ends, ESC allowed)
_QUOTED = re.compile(r'"[^"]*"')


def _csv_head(path):
    """(head bytes, header line): the first SNIFF_BYTES of a CSV file, extended to the end of its
    first line; a line end added when that is the whole file and it has none (its last line is whole). NNRecipeError when the file is empty, looks like something else (a PNG, a gzip
    stream, a workbook: its magic number), holds binary data or is not UTF-8 text."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        while b"\n" not in head and len(head) < MAX_HEADER_BYTES:
            more = f.read(len(head))
            if not more:
                break
            head += more
        whole = not f.read(1)
    expect(head.strip() or not whole, "path", "a CSV file with a header row", f"{path.name}, which is empty")
    kind = _looks_like(head)
    expect(kind is None, "path", "a CSV text file", f"{path.name}, which looks like {kind}")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError as exc:
        raise NNRecipeError(f"path must be a CSV file in UTF-8; {path.name} holds the byte 0x{head[exc.start]:02x} at "
                            f"offset {exc.start}, which is not UTF-8 (Latin-1 or Windows-1252 text? save it as "
                            f"UTF-8)") from None
    end = head.find(b"\n")
    if end < 0 and not whole:
        raise NNRecipeError(f"path must be a CSV file whose header line is at most {MAX_HEADER_BYTES:,} bytes; "
                            f"{path.name} has no line end in its first {len(head):,} bytes")
    header = head[:len(head) if end < 0 else end]
    return (head + b"\n" if whole and not head.endswith((b"\n", b"\r")) else head), header


def _looks_like(head):
    """What the first bytes of a file are when they are not text (a PNG, a gzip stream, a workbook,
    binary data), by their magic number, NUL or control bytes; None for what may be text."""
    kind = next((what for magic, what in MAGIC if head.startswith(magic)), None)
    if kind is None and b"\x00" in head:
        kind = "a Parquet file (name it .parquet)" if head.startswith(b"PAR1") else "binary data (it holds NUL bytes)"
    if kind is None and sum(head.count(bytes([c])) for c in CONTROL) > 8:
        kind = "binary data (it holds control bytes)"
    return kind


def _sniff(head):
    """(delimiter, decimal point) of a CSV file from its first lines (quoted text ignored): the
    delimiter among , ; tab | that every complete line holds equally often (the header most often,
    on a tie the earlier one); a comma when none does. With another delimiter than the comma, a
    decimal comma (1,5) when the numbers show commas between digits and no decimal point."""
    lines = head.decode("utf-8", "replace").splitlines()
    cut = len(lines) > 1 and not head.endswith((b"\n", b"\r"))       # the head's last line may be a part line
    lines = [_QUOTED.sub("", line) for line in (lines[:-1] if cut else lines)[:20] if line.strip()]
    counts = {d: [line.count(d) for line in lines] for d in DELIMITERS}
    steady = [d for d in DELIMITERS if counts[d] and counts[d][0] > 0 and len(set(counts[d])) == 1]
    ranked = steady or [d for d in DELIMITERS if counts[d] and counts[d][0] > 0]
    delimiter = max(ranked, key=lambda d: counts[d][0], default=",")
    body = "\n".join(lines[1:])
    comma = delimiter != "," and re.search(r"\d,\d", body) and not re.search(r"\d\.\d", body)
    return delimiter, "," if comma else "."


@contextlib.contextmanager
def _unraisable_caught(caught):
    """Collect, instead of printing, the exceptions pyarrow cannot raise from its callbacks (it prints
    'Exception ignored in ...' with the row's raw bytes when a bad row is not UTF-8)."""
    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: caught.append(unraisable.exc_value)
    try:
        yield
    finally:
        sys.unraisablehook = hook


def _arrow_csv(path):
    """A CSV file as a pyarrow Table. The first bytes are looked at first (_csv_head): a file that is
    not UTF-8 text is refused by what it looks like; the delimiter (, ; tab |) and a decimal comma
    are detected (_sniff), and the reader's block is made to hold the whole header line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    head, header = _csv_head(path)
    delimiter, decimal = _sniff(head)
    block = min(max(1 << 20, 4 * len(header)), (1 << 31) - 1)
    ragged, caught = [], []

    def on_invalid_row(row):
        ragged.append(row)
        return "error"

    def read(threads):
        with _unraisable_caught(caught):
            return pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=threads, block_size=block),
                                  parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                                                   invalid_row_handler=on_invalid_row),
                                  convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                       decimal_point=decimal))
    try:
        return read(True)
    except (pa.ArrowException, OSError) as exc:
        if ragged and ragged[0].number is None:  # only a single-threaded read knows the line number
            ragged.clear()
            try:
                read(False)
            except (pa.ArrowException, OSError):
                pass
        if ragged:
            bad = ragged[0]
            raise NNRecipeError(f"{path.name}: every row must have {bad.expected_columns} fields; line "
                                f"{bad.number} does not (it has {bad.actual_columns})") from None
        if any(isinstance(e, UnicodeDecodeError) for e in caught):
            raise NNRecipeError(f"path must be a CSV file in UTF-8; {path.name} has a row that is not UTF-8 "
                                f"text (save it as UTF-8)") from None
        raise NNRecipeError(f"path must be a CSV file with a header row; {path.name} could not be read "
                            f"({_brief(exc)})") from None


def _brief(exc, limit=300):
    """An exception's message for ours: printable characters only, cut short (pyarrow quotes raw rows)."""
    text = "".join(c if c.isprintable() else "?" for c in str(exc))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _arrow_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise NNRecipeError(f"path must be a Parquet file; {path.name} could not be read ({exc})") from None


def _is_number_type(t):
    import pyarrow as pa
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t) or pa.types.is_null(t))


def _not_bytes(column, name, where):
    """NNRecipeError for a column of raw bytes: what pyarrow makes of CSV cells that are not UTF-8."""
    import pyarrow as pa
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        raise NNRecipeError(f"column {name!r} of {where} must hold numbers or UTF-8 text; got bytes that are not "
                            f"UTF-8 (save the file as UTF-8)")


def _as_text(column, name):
    import pyarrow as pa
    try:
        return column.cast(pa.string())
    except (pa.ArrowException, NotImplementedError):
        raise NNRecipeError(f"column {name!r} must hold numbers or text; got {column.type}") from None


def _from_arrow(table, target, categorical, drop_nan, task, target_arg, where, csv):
    """Table from a pyarrow table: float64 X (n, d) in column order, the target column excluded."""
    import pyarrow as pa
    import pyarrow.compute as pc
    names = table.column_names
    check_target(names, target, target_arg, where)
    unique_columns(names, where)
    expect(table.num_rows > 0, "path", "a table with at least one data row", f"none in {where}")
    expect(len(names) > 1, "path", f"a table with a feature column besides {target!r}", f"only that one in {where}")

    def row(r):
        return f"row {r} (line {r + 2} of {where})" if csv else f"row {r} of {where}"

    # First pass: numbers as float64 (NaN where empty), text columns kept for encoding after rows drop.
    columns, bad = {}, []
    features = [n for n in names if n != target]
    for name in features:
        column = table.column(name)
        _not_bytes(column, name, where)
        if _is_number_type(column.type):
            values = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            values_in_range(values, f"feature column {name!r}", row)
            columns[name], missing = values, ~np.isfinite(values)
        elif categorical == "onehot":
            columns[name] = _as_text(column, name)
            missing = columns[name].is_null().to_numpy(zero_copy_only=False)
        else:
            example = next(iter(column.drop_null().to_pylist()), None)
            raise NNRecipeError(f"feature column {name!r} must be numeric; got {column.type} values such as "
                                f"{example!r}; pass categorical='onehot' (CLI --onehot) to "
                                f"one-hot encode it")
        bad.append(missing)
    y_column = table.column(target)
    _not_bytes(y_column, target, where)
    if _is_number_type(y_column.type):
        y = y_column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        values_in_range(y, f"target {target!r}", row)
    else:
        y = _as_text(y_column, target).to_numpy(zero_copy_only=False)

    def value(r, c):
        values = columns[features[c]]
        return values[r] if isinstance(values, np.ndarray) else "an empty cell"
    keep = _complete_rows(np.column_stack(bad), features, y, target, drop_nan, where, row, value)
    keep_arrow = pa.array(keep)

    blocks, out_names = [], []
    for name in features:
        values = columns[name]
        if isinstance(values, np.ndarray):
            blocks.append(values[keep][:, None])
            out_names.append(name)
            continue
        # One-hot: column j of the block is 1 exactly where the row's category is categories[j].
        text = values.filter(keep_arrow)
        categories = sorted(pc.unique(text).drop_null().to_pylist())
        index = pc.index_in(text, value_set=pa.array(categories, pa.string())).to_numpy(zero_copy_only=False)
        blocks.append((index[:, None] == np.arange(len(categories))).astype(np.float64))
        out_names += [f"{name}={c}" for c in categories]
    y, classes = _encode_target(y[keep], target, task)
    return Table(np.hstack(blocks), y, out_names, classes)


# ---------------------------------------------------------------- NumPy .npz and MATLAB .mat

def _arrays_npz(path, target, target_arg):
    """(X, target array) of an .npz archive, read by serialize.read_npz: every .npy header's claims are
    checked against the member's real size before anything is allocated, and nothing is unpickled."""
    with open(path, "rb") as f:
        single = f.read(6) == b"\x93NUMPY"
    if single:
        raise NNRecipeError(f"path must be an .npz archive of named arrays; {path.name} holds a single array")
    where = f"path must be a NumPy .npz archive read without pickle; {path.name} could not be read"
    arrays, names = read_npz(path, "path", where, only={"X", target})
    _need_keys(names, target, target_arg, path.name)
    return arrays["X"], arrays[target]


def _arrays_mat(path, target, target_arg):
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError
    try:
        data = loadmat(path)
    except (MatReadError, OSError, ValueError, TypeError, IndexError, NotImplementedError) as exc:
        raise NNRecipeError(f"path must be a MATLAB .mat file (v4 to v7.2); {path.name} could not be read "
                            f"({exc})") from None
    _need_keys([k for k in data if not k.startswith("__")], target, target_arg, path.name)
    return data["X"], data[target]


def _need_keys(keys, target, target_arg, where):
    if "X" not in keys or target not in keys:
        raise NNRecipeError(f"{where} must hold arrays 'X' and {target!r} ({target_arg}); "
                            f"got {', '.join(keys) or 'none'}")


def _from_arrays(X, y, target, drop_nan, task, where):
    """Table from the arrays of an .npz or .mat file. X keeps its dtype; a column y (n, 1) is raveled."""
    expect(X.ndim >= 2, f"X in {where}", "at least 2-D (n_samples, n_features)", f"shape {X.shape}")
    expect(X.dtype.kind in "biuf", f"X in {where}", "numeric", f"dtype {X.dtype}")
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()
    expect(y.ndim in (1, 2), f"{target} in {where}", "1-D (n_samples,) or 2-D (n_samples, n_outputs)",
           f"shape {y.shape}")
    expect(len(y) == len(X), f"X and {target} in {where}", "the same length", f"{len(X)} and {len(y)} rows")
    expect(len(X) > 0, "path", "data with at least one row", f"none in {where}")
    features = _index_names("x", X.shape[1:])
    flat = X.reshape(len(X), -1)
    if X.dtype.kind == "f":
        values_in_range(flat, f"X in {where}", lambda r: f"row {r}")
    if y.dtype.kind == "f":
        values_in_range(y, f"{target} in {where}", lambda r: f"row {r}")
    bad = ~np.isfinite(flat) if X.dtype.kind == "f" else np.zeros(flat.shape, bool)
    keep = _complete_rows(bad, features, y, target, drop_nan, where, lambda r: f"row {r} of {where}",
                          lambda r, c: flat[r, c])
    if not keep.all():
        X, y = X[keep], y[keep]
    y, classes = _encode_target(y, target, task)
    return Table(X, y, features, classes)


# ---------------------------------------------------------------- image folders (Pillow)

def _image_size(size):
    if size is None:
        return None
    ok = (isinstance(size, tuple | list) and len(size) == 2
          and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size))
    expect(ok, "image_size", "None or (height, width), two integers > 0", repr(size))
    return int(size[0]), int(size[1])


def _read_images(folder, size):
    """Table of a folder with one subfolder of images per class: X (N, H, W) uint8 when every image
    is grayscale, else (N, H, W, 3) RGB; classes are the sorted subfolder names. Hidden files
    (.DS_Store) are skipped; so are files whose extension is not one Pillow opens (readme.txt),
    with one warning."""
    from PIL import Image
    readable = {ext for ext, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    class_dirs = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
                        key=lambda d: d.name)
    if not class_dirs:
        raise NNRecipeError(f"path must be an image folder with one subfolder per class; {folder.name} "
                            f"has no subfolders")
    images, labels, first, skipped = [], [], None, []
    for k, class_dir in enumerate(class_dirs):
        files = sorted((f for f in class_dir.iterdir() if f.is_file() and not f.name.startswith(".")),
                       key=lambda f: f.name)
        skipped += [f"{class_dir.name}/{f.name}" for f in files if f.suffix.lower() not in readable]
        files = [f for f in files if f.suffix.lower() in readable]
        if not files:
            raise NNRecipeError(f"every class folder of {folder.name} must hold images; "
                                f"{class_dir.name!r} holds none")
        for file in files:
            image = _load_image(file, size, f"{class_dir.name}/{file.name}")
            if first is None:
                first = (f"{class_dir.name}/{file.name}", image.shape[:2])
            elif image.shape[:2] != first[1]:
                raise NNRecipeError(
                    f"every image of {folder.name} must have the same size (height, width) unless image_size "
                    f"is given; {class_dir.name}/{file.name} is {image.shape[:2]}, {first[0]} is {first[1]}")
            images.append(image)
            labels.append(k)
    if skipped:
        shown_files = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        warnings.warn(f"skipped {len(skipped)} file(s) of {folder.name} that are not images (by their extension): "
                      f"{shown_files}", UserWarning, stacklevel=4)
    if any(image.ndim == 3 for image in images):  # some colour: grey levels become equal R, G, B
        images = [np.repeat(im[:, :, None], 3, axis=2) if im.ndim == 2 else im for im in images]
    X = np.stack(images)
    return Table(X, np.array(labels, np.int64), _index_names("pixel_", X.shape[1:]),
                 [d.name for d in class_dirs])


def _load_image(file, size, name):
    """(H, W) uint8 for a grayscale image, (H, W, 3) for any other; resized to size=(H, W) if given."""
    from PIL import Image, ImageMode
    try:
        with Image.open(file) as image:
            image.load()
            grey = ImageMode.getmode(image.mode).basemode == "L"
            image = image.convert("L" if grey else "RGB")
            if size is not None:
                image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, KeyError, Image.DecompressionBombError) as exc:
        raise NNRecipeError(f"every file of an image folder must be an image Pillow can read; {name} is "
                            f"not ({exc})") from None


# ---------------------------------------------------------------- writing

def write_data(path, X, y, features=None, target="y"):
    """Write X (n, d) and y (n,) to a .csv, .parquet/.pq, .npz or .mat file, atomically.

    .csv/.parquet: one column per feature (named by `features`, default x0, x1, ...), then the
    target column. .npz/.mat: arrays "X" (any shape (n, ...)) and `target`; features not stored.
    The data goes to a temporary file in the same folder that replaces `path` only once complete,
    so a failed write leaves neither a partial file nor a damaged old one.
    """
    path = as_path(path)
    suffix = path.suffix.lower()
    expect(suffix in WRITABLE, "path", "a .csv, .parquet, .pq, .npz or .mat file", repr(path.name))
    writable_path(path)
    expect(isinstance(target, str) and target != "" and target != "X", "target",
           "a name other than 'X'", repr(target))
    X, y = np.asarray(X), np.asarray(y)
    expect(X.ndim >= 2, "X", "an array of shape (n_samples, n_features)", f"shape {X.shape}")
    expect(X.dtype.kind in "biuf", "X", "numeric", f"dtype {X.dtype}")
    expect(y.ndim == 1 and len(y) == len(X), "y", f"1-D with one value per row of X ({len(X)})",
           f"shape {y.shape}")
    expect(y.dtype.kind in ("biufU" if suffix != ".mat" else "biuf"), "y",
           "numbers or strings" if suffix != ".mat" else "numbers for a .mat file", f"dtype {y.dtype}")
    if suffix in (".csv", ".parquet", ".pq"):
        expect(X.ndim == 2, "X", "2-D (n_samples, n_features) for a table", f"shape {X.shape}")
        features = _index_names("x", X.shape[1:]) if features is None else [str(f) for f in features]
        expect(len(features) == X.shape[1], "features", f"{X.shape[1]} names, one per column of X",
               f"{len(features)}")
        expect(len(set(features + [target])) == len(features) + 1, "features and target", "distinct names",
               f"{features} and {target!r}")
    if suffix == ".mat":
        expect(target.isidentifier() and not target.startswith("_"), "target",
               "a MATLAB variable name (letters, digits, _; not starting with _)", repr(target))
    writer = {".csv": _write_csv, ".parquet": _write_parquet, ".pq": _write_parquet,
              ".npz": _write_npz, ".mat": _write_mat}[suffix]
    atomic_write(path, lambda f: writer(f, X, y, features, target))


def _arrow_table(X, y, features, target):
    import pyarrow as pa
    return pa.table({**{name: X[:, j] for j, name in enumerate(features)}, target: y})


def _write_csv(f, X, y, features, target):
    import pyarrow.csv as pacsv
    pacsv.write_csv(_arrow_table(X, y, features, target), f)


def _write_parquet(f, X, y, features, target):
    import pyarrow.parquet as pq
    pq.write_table(_arrow_table(X, y, features, target), f)


def _write_npz(f, X, y, features, target):
    np.savez(f, X=X, **{target: y})


def _write_mat(f, X, y, features, target):
    from scipy.io import savemat
    savemat(f, {"X": X, target: y})
