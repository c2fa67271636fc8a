"""Out-of-core train/dev/test split of a Parquet file, in memory that does not grow with the rows.

Two streaming passes. Pass 1 counts the rows of each class (reading the target column only,
unless rows with missing values are to be dropped). Sizes come from `split_sizes` and per-class
quotas from `allocate`, as for an in-memory split. Pass 2 assigns the rows of every record batch
to the sets by sequential sampling without replacement, appends them to train/dev/test Parquet
files and fits the training statistics on the way. With `key=`, a hash of a key column decides
instead, in one pass: sizes are then approximate, but a row keeps its set when rows are appended.
"""

import contextlib
import json
import numbers
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import NNRecipeError, expect
from .normalize import Standardizer, merge_moments
from .split import SETS, allocate, auto_share, split_by_key, split_sizes
from .task import TASKS, decide_task

BATCH_ROWS = 1 << 18              # rows per record batch read (row groups written: about twice that)
READ_BUFFER = 1 << 20             # bytes buffered per column while reading
# Of the outputs. "none" writes fastest (benchmarks/split.py --sweep); on compressible data lz4 or
# snappy give files about 40% smaller for about twice the encoding time, zstd smaller still but slower.
COMPRESSION = "none"
MAX_COUNTED = 100_000             # a numeric target with more distinct values is continuous (bounded memory)


@dataclass(frozen=True)
class FileSplit:
    """What `split_file` wrote.

    paths : "train", "dev", "test" and "stats" → Path of that file in `out`.
    n : set name → rows. class_counts : set name → {class: rows} ({} for a continuous target).
    classes : sorted class labels, or None for a continuous target. reason : why these sizes.
    mode : "stratified", "random" (one pseudo-class) or "key" (hash of a key column).
    standardizer : a Standardizer holding the training mean and var of the features.
    """
    out: Path
    paths: dict
    n: dict
    class_counts: dict
    classes: list | None
    reason: str
    mode: str
    standardizer: Standardizer


def split_file(path, out, target, *, ratios="auto", stratify=True, key=None, salt="", seed=0, drop_nan=False,
               features=None, batch_rows=BATCH_ROWS, overwrite=False, progress=None, task="auto", source=None):
    """Split the Parquet file `path` into out/train.parquet, dev.parquet, test.parquet + stats.json.

    Every row lands in exactly one set; the files keep the input's schema and row order. Memory
    holds a few record batches and O(n_classes) counters, however many rows there are. The output
    appears at once: it is written into a temporary directory beside `out`, then renamed; after an
    error nothing is left. Returns a FileSplit.

    target : the label column: strings, booleans or numbers; numbers are continuous (not
        stratified) by `read_data`'s rule (data/task.py: a fraction, or more than 20 distinct whole
        numbers with under 20 rows each on average) or beyond MAX_COUNTED distinct values.
    task : "auto" (as above), "classify" (every distinct value is a class, floats too) or
        "regress" (the target is continuous: not stratified).
    ratios : "auto", three shares or three counts, as in `split_sizes`.
    stratify : give every class the same share of each set (within one example of the exact
        proportion); the split is uniformly random among all splits with those counts.
    key, salt : assign rows by a hash of column `key` (`split_by_key`) instead: one pass, set sizes
        only approximately `ratios` ("auto": from the file's row count), stable when rows are
        appended; `stratify` and `seed` play no part.
    seed : int or SeedSequence; the split is a function of the file, seed and batch_rows.
    drop_nan : drop rows with a null, NaN or ±inf in a feature or the target; when False such a
        value is an error.
    features : the numeric feature columns (default: every column but the target and the key).
    overwrite : replace `out` when it is a non-empty directory.
    progress : None or callable(rows_done, rows_total), called after every batch of every pass.
    source : what stats.json records as the source (default: `path`, resolved), e.g. the file
        a temporary Parquet copy was made from.

    stats.json: features, their training mean and var (float64), n and class counts per set,
    classes, reason, mode, seed and source file.
    """
    for name, value in (("stratify", stratify), ("drop_nan", drop_nan)):
        expect(isinstance(value, bool), name, "True or False", repr(value))
    expect(isinstance(batch_rows, numbers.Integral) and not isinstance(batch_rows, bool) and batch_rows > 0,
           "batch_rows", "a positive integer", repr(batch_rows))
    expect(progress is None or callable(progress), "progress", "None or a callable(rows_done, rows_total)",
           repr(progress))
    expect(isinstance(seed, (numbers.Integral, np.random.SeedSequence)) and not isinstance(seed, bool), "seed",
           "an int or a SeedSequence", repr(seed))
    expect(task in TASKS, "task", "one of " + ", ".join(map(repr, TASKS)), repr(task))
    out = _check_out(out, overwrite)
    pf, features = _open(path, target, key, features)
    with pf:
        read = {"batch_size": int(batch_rows), "use_threads": True}
        tick = _Progress(progress, pf.metadata.num_rows * (1 if key is not None else 2))
        checked = [*features, target]                  # the columns in which a missing value matters
        if key is None:
            plan, reason, mode = _plan_quotas(pf, target, checked, ratios, stratify, seed, drop_nan, read, tick,
                                              task)
        else:
            plan, reason, mode = _plan_hash(key, ratios, salt, pf.metadata.num_rows)
        tmp = _new_dir(out, "tmp")
        try:
            n, class_counts, classes, standardizer = _pass2(pf, tmp, target, features, checked, plan, drop_nan,
                                                            read, tick, task)
            stats = {"source": str(source or Path(path).resolve()), "target": target, "features": features,
                     "mean": standardizer.mean_.tolist(), "var": standardizer.var_.tolist(), "n": n,
                     "classes": classes, "class_counts": {s: list(c.values()) for s, c in class_counts.items()},
                     "reason": reason, "mode": mode, "seed": seed if isinstance(seed, numbers.Integral) else repr(seed)}
            (tmp / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False), encoding="utf-8")
            _publish(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    paths = {name: out / f"{name}.parquet" for name in SETS} | {"stats": out / "stats.json"}
    return FileSplit(out, paths, n, class_counts, classes, reason, mode, standardizer)


# ---- inputs and output directory --------------------------------------------------------------
def _open(path, target, key, features):
    """(ParquetFile, feature names) after checking the file and its columns."""
    shown = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(path)
    expect(isinstance(path, (str, os.PathLike)) and Path(path).is_file(), "path", "an existing Parquet file", shown)
    try:
        # pre_buffer (arrow's default) would read ahead and keep the whole file in memory; a
        # buffered stream holds READ_BUFFER bytes per column instead of whole column chunks.
        pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)
    except (pa.ArrowException, OSError) as exc:
        raise NNRecipeError(f"path must be a Parquet file; got {shown} ({exc})") from None
    schema = pf.schema_arrow
    columns = ", ".join(schema.names)
    expect(isinstance(target, str) and target in schema.names, "target", f"a column of the file ({columns})",
           repr(target))
    if key is not None:
        expect(isinstance(key, str) and key in schema.names and key != target, "key",
               f"a column of the file other than the target ({columns})", repr(key))
    if features is None:
        features = [c for c in schema.names if c not in (target, key)]
    expect(not isinstance(features, str) and all(c in schema.names and c not in (target, key) for c in features)
           and len(features) > 0, "features", f"a non-empty list of columns other than the target and key "
           f"({columns})", repr(features))
    for c in features:
        t = schema.field(c).type
        expect(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t), f"feature column {c!r}",
               "numeric (integer, float or boolean)", str(t))
    return pf, list(features)


def _check_out(out, overwrite):
    expect(isinstance(out, (str, os.PathLike)), "out", "a directory path", repr(out))
    expect(isinstance(overwrite, bool), "overwrite", "True or False", repr(overwrite))
    out = Path(out).absolute()
    expect(out.parent.is_dir(), "out", "a path in an existing directory", repr(str(out)))
    if out.exists():
        expect(out.is_dir(), "out", "a directory (or a path that does not exist)", f"the file {str(out)!r}")
        expect(overwrite or not any(out.iterdir()), "out", "a new or empty directory (or pass overwrite=True)",
               f"{str(out)!r}, which is not empty")
    return out


def _new_dir(out, kind):
    """A new hidden directory beside `out` (same file system, so renames are atomic), with the
    usual permissions (tempfile.mkdtemp's are owner-only)."""
    while True:
        path = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.{kind}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _publish(tmp, out):
    """Rename the finished temporary directory to `out`; an old, non-empty `out` is moved aside and
    deleted once the new one is in place."""
    if out.exists() and any(out.iterdir()):
        old = _new_dir(out, "old")
        os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)          # onto a missing or empty directory: atomic on POSIX


def _usable(batch, columns, drop_nan, first_row):
    """Boolean mask (rows,) of the rows without null, NaN or ±inf in `columns`, or None when all
    rows are. Without drop_nan a missing value raises, naming the column and the row."""
    keep = None
    for name in columns:
        col = batch.column(name)
        if pa.types.is_floating(col.type):
            values = col.to_numpy(zero_copy_only=False)                # nulls read as NaN
            with np.errstate(over="ignore"):
                if np.isfinite(values.sum()):                          # a finite sum: all finite
                    continue
            bad = ~np.isfinite(values)
        elif col.null_count:
            bad = col.is_null().to_numpy(zero_copy_only=False)
        else:
            continue
        if not bad.any():                                              # the sum overflowed
            continue
        if not drop_nan:
            i = int(np.argmax(bad))
            raise NNRecipeError(f"column {name!r} must hold no null, NaN or ±inf (or pass drop_nan=True to drop "
                                f"such rows); got {col[i]} in row {first_row + i}")
        keep = ~bad if keep is None else keep & ~bad
    return keep


class _ClassCounter:
    """Rows per label value, O(n_classes) memory. With task "auto" a numeric target is continuous once it
    shows a fractional value or more than MAX_COUNTED distinct values, and, at the end (`decide`), by the
    rule of data/task.py on its distinct values and rows; "regress" is continuous from the start,
    "classify" never."""

    def __init__(self, numeric, continuous):
        self.numeric, self.continuous, self.counts, self.n = numeric, continuous, {}, 0

    @classmethod
    def of(cls, dtype, task):
        """A counter for a target column of arrow type `dtype` under `task`."""
        return cls(task == "auto" and (pa.types.is_floating(dtype) or pa.types.is_integer(dtype)), task == "regress")

    def add(self, column):
        self.n += len(column)
        if self.continuous or not len(column):
            return
        vc = pc.value_counts(column)
        values = vc.field("values").to_pylist()
        for value, k in zip(values, vc.field("counts").to_pylist()):
            self.counts[value] = self.counts.get(value, 0) + k
        if self.numeric and (len(self.counts) > MAX_COUNTED or any(v is not None and v != int(v) for v in values)):
            self.continuous, self.counts = True, {}           # this batch's values: the earlier ones were whole

    def decide(self):
        """The rule of data/task.py on what was counted: continuous, or not (classes())."""
        if self.numeric and not self.continuous and self.counts:
            values = np.array([v for v in self.counts if v is not None], dtype=np.float64)
            if decide_task(values, self.n, "auto")[0]:
                self.continuous, self.counts = True, {}
        return self

    def classes(self):
        return None if self.continuous else sorted(self.counts)

    @classmethod
    def merged(cls, counters):
        """One counter of the rows of all `counters` (the sets of one file), to decide on the whole file."""
        whole = cls(counters[0].numeric, any(c.continuous for c in counters))
        whole.n = sum(c.n for c in counters)
        for c in counters:
            for value, k in c.counts.items():
                whole.counts[value] = whole.counts.get(value, 0) + k
        return whole


class _Progress:
    def __init__(self, callback, total):
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, rows):
        self.done += rows
        if self.callback is not None:
            self.callback(self.done, self.total)


# ---- who goes where ---------------------------------------------------------------------------
def _plan_quotas(pf, target, checked, ratios, stratify, seed, drop_nan, read, tick, task):
    """Pass 1: count the rows per class, then size the sets. Returns (_Quotas, reason, mode)."""
    counter = _ClassCounter.of(pf.schema_arrow.field(target).type, task)
    columns, first_row = (checked if drop_nan else [target]), 0
    for batch in pf.iter_batches(columns=columns, **read):
        keep = _usable(batch, columns, drop_nan, first_row)
        counter.add(batch.column(target) if keep is None else batch.column(target).filter(keep))
        first_row += len(batch)
        tick(len(batch))
    expect(counter.n >= len(SETS), "path", f"a file with at least {len(SETS)} usable rows", str(counter.n))
    sizes = split_sizes(counter.n, ratios)
    classes = counter.decide().classes()
    if not stratify or classes is None:
        why = "; not stratified" + (" (continuous target)" if stratify else "")
        return _Quotas(allocate([counter.n], sizes.counts), None, None, seed), sizes.reason + why, "random"
    class_counts = np.array([counter.counts[c] for c in classes], dtype=np.int64)
    if class_counts.min() < len(SETS):
        raise NNRecipeError(f"target: every class needs at least {len(SETS)} rows (one per set) to stratify; "
                            f"class {classes[int(class_counts.argmin())]!r} has {class_counts.min()}. Merge rare "
                            "classes or pass stratify=False")
    return _Quotas(allocate(class_counts, sizes.counts, one_each=True), target, classes, seed), sizes.reason, "stratified"


def _plan_hash(key, ratios, salt, n_rows):
    """(_Hashed, reason, "key"): sets from a hash of the key column; "auto" shares from the row
    count in the file's metadata."""
    if isinstance(ratios, str) and ratios == "auto":
        share, reason = auto_share(n_rows)
        ratios = (1 - 2 * share, share, share)
    else:
        reason = "explicit ratios"
    split_by_key(np.zeros(0, np.int64), ratios, salt)              # checks ratios and salt
    expect(min(ratios) > 0, "ratios", "three positive shares (each set needs rows)", repr(tuple(ratios)))
    reason += (f"; rows assigned by a hash of {key!r}, so set sizes are approximate but every row keeps "
               "its set when rows are appended")
    return _Hashed(key, ratios, salt), reason, "key"


class _Quotas:
    """Exact stratified sampling, batch by batch. `left` (n_classes, 3): rows each class still owes
    each set; it starts at the allocation and ends at zero."""

    def __init__(self, quotas, target, classes, seed):
        self.left, self.target = quotas.copy(), target
        self.value_set = None if classes is None else pa.array(classes)
        self.rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence)
                                         else np.random.SeedSequence(seed))

    def assign(self, batch):
        """Set codes (rows,) int8 for the batch's rows: 0 train, 1 dev, 2 test."""
        codes = np.zeros(len(batch), dtype=np.int8)
        if self.value_set is None:
            by_class, per_class = np.arange(len(batch)), np.array([len(batch)])
        else:
            labels = pc.index_in(batch.column(self.target), value_set=self.value_set)
            if labels.null_count:
                raise NNRecipeError("path changed while it was being split: a label unseen in the first pass")
            labels = labels.to_numpy().astype(np.min_scalar_type(len(self.left)))   # small ints: radix sort
            by_class = np.argsort(labels, kind="stable")                    # row numbers, class by class
            per_class = np.bincount(labels, minlength=len(self.left))
        if (per_class > self.left.sum(1)).any():
            raise NNRecipeError("path changed while it was being split: more rows than in the first pass")
        ends = np.cumsum(per_class)
        for c in np.flatnonzero(per_class):
            # The codes of a class's rows, in file order, are a uniformly random arrangement of its
            # quota (a multiset of train/dev/test codes). Among its next k rows, how many carry each
            # code is then multivariate hypergeometric(left, k), and given those numbers their
            # arrangement is uniform again. Batch by batch this is sampling without replacement:
            # exact, and the sets end with exactly the allocated counts.
            _, dev, test = draw = self.rng.multivariate_hypergeometric(self.left[c], per_class[c])
            self.left[c] -= draw
            rows = by_class[ends[c] - per_class[c]:ends[c]]
            # A uniformly random ordered sample of dev + test of these rows: the first go to dev,
            # the others to test, the rest stay in train (code 0).
            picked = rows[self.rng.choice(len(rows), dev + test, replace=False)]
            codes[picked[:dev]], codes[picked[dev:]] = 1, 2
        return codes

    def check_done(self):
        if self.left.any():
            raise NNRecipeError("path changed while it was being split: fewer rows than in the first pass")


class _Hashed:
    """Set codes from a hash of the key column: each row's set depends on its key and the salt only."""

    def __init__(self, key, ratios, salt):
        self.key, self.ratios, self.salt = key, ratios, salt

    def assign(self, batch):
        col = batch.column(self.key)
        if col.null_count:
            raise NNRecipeError(f"key column {self.key!r} must hold no nulls; got {col.null_count} in a batch")
        return split_by_key(col.to_numpy(zero_copy_only=False), self.ratios, self.salt)

    def check_done(self):
        pass


# ---- pass 2 -----------------------------------------------------------------------------------
class _Moments:
    """Count, mean (n_features,) and sum of squared deviations M2 (n_features,) of the rows seen,
    in float64, batch by batch."""

    def __init__(self, n_features):
        self.n, self.mean, self.m2 = 0, np.zeros(n_features), np.zeros(n_features)

    def add(self, columns):
        """One batch of rows, given as its feature columns (arrow arrays of equal length m)."""
        m = len(columns[0])
        if m == 0:
            return
        mean_b, m2_b = np.empty(len(columns)), np.empty(len(columns))
        for j, col in enumerate(columns):
            # Two passes over the column in float64: its mean, then Σ (x − mean)² as a dot product,
            # free of the cancellation in Σx² − m·mean².
            d = col.to_numpy(zero_copy_only=False).astype(np.float64)
            mean_b[j] = d.sum() / m
            d -= mean_b[j]
            m2_b[j] = d @ d
        self.n, self.mean, self.m2 = merge_moments((self.n, self.mean, self.m2), (m, mean_b, m2_b))

    def standardizer(self):
        return Standardizer.from_state({"mean": self.mean, "var": self.m2 / max(self.n, 1),
                                        "n_samples_seen": self.n}, len(self.mean))


class _SetWriter:
    """One output file. Parts are buffered until a row group of `rows` rows is full, so that the
    small sets (dev, test) do not end up in thousands of tiny row groups."""

    def __init__(self, path, schema, rows):
        # Dictionary encoding pays for labels, ids and categories, not for float features: on those
        # it only costs time (and space) before it falls back to plain encoding.
        dictionary = [f.name for f in schema if not pa.types.is_floating(f.type)]
        self.writer = pq.ParquetWriter(path, schema, compression=COMPRESSION, use_dictionary=dictionary)
        self.rows, self.parts, self.buffered, self.n = rows, [], 0, 0

    def write(self, part):
        self.parts.append(part)
        self.buffered += len(part)
        self.n += len(part)
        if self.buffered >= self.rows:
            self.flush()

    def flush(self):
        if self.buffered:
            self.writer.write_table(pa.Table.from_batches(self.parts), row_group_size=self.buffered)
        self.parts, self.buffered = [], 0

    def close(self):
        self.flush()
        self.writer.close()

    def abort(self):
        """Close the file without writing what is buffered (it is about to be deleted)."""
        with contextlib.suppress(pa.ArrowException, OSError):
            self.writer.close()


def _pass2(pf, tmp, target, features, checked, plan, drop_nan, read, tick, task):
    """Stream the file into tmp/{train,dev,test}.parquet. Returns (set → rows, set → {class: rows},
    sorted classes or None, the Standardizer of the training rows); an empty set is an error."""
    schema = pf.schema_arrow
    writers = [_SetWriter(tmp / f"{name}.parquet", schema, read["batch_size"]) for name in SETS]
    counters = [_ClassCounter.of(schema.field(target).type, task) for _ in SETS]
    moments = _Moments(len(features))

    def write(parts):
        for writer, part in zip(writers, parts):
            writer.write(part)

    try:
        # Arrow releases the GIL: a second thread encodes and writes a batch while this one fits
        # the statistics and counts, then reads and assigns the next. One batch in flight at most.
        with ThreadPoolExecutor(max_workers=1) as pool:
            first_row, pending = 0, None
            for batch in pf.iter_batches(**read):
                rows, keep = len(batch), _usable(batch, checked, drop_nan, first_row)
                first_row += rows
                if keep is not None:
                    batch = batch.filter(keep)
                codes = plan.assign(batch)
                parts = [batch.filter(codes == k) for k in range(len(SETS))]     # arrow copies, in C
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, parts)
                moments.add([parts[0].column(c) for c in features])
                for part, counter in zip(parts, counters):
                    counter.add(part.column(target))
                tick(rows)
            if pending is not None:
                pending.result()
        plan.check_done()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.close()
    n = {name: w.n for name, w in zip(SETS, writers)}
    for name, k in n.items():
        if k == 0:
            raise NNRecipeError(f"ratios: the {name} set would be empty ({n}); give it a larger share")
    classes = _ClassCounter.merged(counters).decide().classes()
    class_counts = {name: {} if classes is None else {c: counter.counts.get(c, 0) for c in classes}
                    for name, counter in zip(SETS, counters)}
    return n, class_counts, classes, moments.standardizer()
