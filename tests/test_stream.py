"""split_file: exact stratified counts, a partition of the rows, seeded, training statistics,
key mode, missing values, bad inputs, atomic output and bounded memory."""

import itertools
import json
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.preprocessing import StandardScaler

from nnrecipe.data.split import allocate, split_sizes
from nnrecipe.data.stream import split_file
from nnrecipe.errors import NNRecipeError

SETS = ("train", "dev", "test")
FEATURES = ["x_f32", "x_f64", "x_int"]


def make_table(n, seed=0, classes=(0, 1, 2), weights=(0.6, 0.3, 0.1), first_id=0):
    """n rows: a unique `id`, three numeric features (one far from 0, for cancellation) and `y`."""
    rng = np.random.default_rng(seed)
    return pa.table({
        "id": np.arange(first_id, first_id + n, dtype=np.int64),
        "x_f32": rng.standard_normal(n).astype(np.float32),
        "x_f64": 1e4 + rng.standard_normal(n) * 3,
        "x_int": rng.integers(-5, 50, n),
        "y": np.asarray(classes)[rng.choice(len(classes), n, p=weights)],
    })


def write(path, table, row_group_size=100):
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def read(out):
    return {s: pq.read_table(out / f"{s}.parquet") for s in SETS}


def leftovers(tmp_path):
    """Everything in tmp_path but the input files: output or temporary directories."""
    return sorted(p.name for p in tmp_path.iterdir() if p.suffix not in (".parquet", ".txt"))


@pytest.fixture
def data(tmp_path):
    return write(tmp_path / "data.parquet", make_table(1000))


@pytest.mark.parametrize("ratios", ["auto", (0.8, 0.1, 0.1), (700, 200, 100)])
def test_stratified_counts_are_the_allocation(tmp_path, data, ratios):
    res = split_file(data, tmp_path / "out", "y", ratios=ratios, seed=1, batch_rows=64)
    y = pq.read_table(data)["y"].to_numpy()
    classes, class_counts = np.unique(y, return_counts=True)
    want = allocate(class_counts, split_sizes(len(y), ratios).counts, one_each=True)
    sets = read(tmp_path / "out")
    for k, s in enumerate(SETS):
        got = np.array([np.count_nonzero(sets[s]["y"].to_numpy() == c) for c in classes])
        np.testing.assert_array_equal(got, want[:, k])
        assert res.class_counts[s] == dict(zip(classes.tolist(), want[:, k].tolist()))
        assert res.n[s] == len(sets[s]) == want[:, k].sum()
    # each class's share of each set is its overall share within one example
    ideal = class_counts[:, None] * want.sum(0)[None, :] / len(y)
    assert np.abs(want - ideal).max() <= 1
    assert res.mode == "stratified" and res.classes == [0, 1, 2]
    stats = json.loads(res.paths["stats"].read_text())
    assert stats["n"] == res.n and stats["classes"] == [0, 1, 2]
    assert stats["class_counts"]["dev"] == want[:, 1].tolist() and stats["reason"] == res.reason


def test_sets_partition_the_rows_and_keep_schema_and_order(tmp_path, data):
    split_file(data, tmp_path / "out", "y", ratios=(0.6, 0.2, 0.2), batch_rows=37)
    sets = read(tmp_path / "out")
    ids = np.concatenate([t["id"].to_numpy() for t in sets.values()])
    np.testing.assert_array_equal(np.sort(ids), np.arange(1000))          # every row exactly once
    schema = pq.read_schema(data)
    for t in sets.values():
        assert t.schema.equals(schema, check_metadata=False)
        assert np.all(np.diff(t["id"].to_numpy()) > 0)                     # input order kept
    merged = pa.concat_tables(sets.values()).sort_by("id")
    assert merged.equals(pq.read_table(data))                              # rows unchanged


def test_deterministic_per_seed(tmp_path, data):
    def dev_ids(seed, name):
        split_file(data, tmp_path / name, "y", ratios=(0.8, 0.1, 0.1), seed=seed, batch_rows=64)
        return read(tmp_path / name)["dev"]["id"].to_numpy()

    a, b, c = dev_ids(3, "a"), dev_ids(3, "b"), dev_ids(4, "c")
    np.testing.assert_array_equal(a, b)
    assert len(a) == len(c) and not np.array_equal(a, c)
    d = split_file(data, tmp_path / "d", "y", ratios=(0.8, 0.1, 0.1), seed=np.random.SeedSequence(3),
                   batch_rows=64)
    np.testing.assert_array_equal(read(d.out)["dev"]["id"].to_numpy(), a)


def test_statistics_match_standard_scaler_on_train(tmp_path, data):
    res = split_file(data, tmp_path / "out", "y", features=FEATURES, batch_rows=50)
    train = read(tmp_path / "out")["train"]
    X = np.column_stack([train[c].to_numpy().astype(np.float64) for c in FEATURES])
    sk = StandardScaler().fit(X)
    stats = json.loads(res.paths["stats"].read_text())
    assert stats["features"] == FEATURES and stats["seed"] == 0 and stats["source"].endswith("data.parquet")
    np.testing.assert_allclose(stats["mean"], sk.mean_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stats["var"], sk.var_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.standardizer.transform(X).mean(0), 0, atol=1e-6)
    assert res.standardizer.n_samples_seen_ == res.n["train"]


def test_default_features_are_all_other_columns(tmp_path, data):
    res = split_file(data, tmp_path / "out", "y")
    assert json.loads(res.paths["stats"].read_text())["features"] == ["id", *FEATURES]


def test_key_mode_is_stable_when_rows_are_appended(tmp_path):
    small = write(tmp_path / "small.parquet", make_table(3000))
    big = write(tmp_path / "big.parquet", pa.concat_tables([make_table(3000), make_table(2000, seed=9,
                                                                                          first_id=3000)]))
    a = split_file(small, tmp_path / "a", "y", key="id", ratios=(0.8, 0.1, 0.1), salt="s", batch_rows=128)
    b = split_file(big, tmp_path / "b", "y", key="id", ratios=(0.8, 0.1, 0.1), salt="s", batch_rows=500)
    sets_a, sets_b = read(a.out), read(b.out)
    for s in SETS:
        ids_a, ids_b = sets_a[s]["id"].to_numpy(), sets_b[s]["id"].to_numpy()
        np.testing.assert_array_equal(ids_b[ids_b < 3000], ids_a)            # old rows keep their set
    assert a.mode == "key" and "approximate" in a.reason
    assert 0.07 < a.n["dev"] / 3000 < 0.13 and sum(a.n.values()) == 3000
    assert json.loads(a.paths["stats"].read_text())["features"] == FEATURES   # the key is no feature
    other = split_file(small, tmp_path / "c", "y", key="id", ratios=(0.8, 0.1, 0.1), salt="t")
    assert not np.array_equal(read(other.out)["dev"]["id"].to_numpy(), sets_a["dev"]["id"].to_numpy())


def test_key_mode_auto_shares_from_the_row_count(tmp_path, data):
    res = split_file(data, tmp_path / "out", "y", key="id")
    assert res.reason.startswith("auto: n = 1,000") and sum(res.n.values()) == 1000


def test_drop_nan(tmp_path):
    t = make_table(500)
    x = t["x_f32"].to_numpy().copy()
    x[[3, 77]] = np.nan
    x[200] = np.inf
    y = pa.array([None if i in (10, 400) else v for i, v in enumerate(t["y"].to_pylist())], pa.int64())
    xi = pa.array([None if i == 250 else v for i, v in enumerate(t["x_int"].to_pylist())], pa.int64())
    t = t.set_column(1, "x_f32", pa.array(x)).set_column(3, "x_int", xi).set_column(4, "y", y)
    path = write(tmp_path / "nan.parquet", t)
    res = split_file(path, tmp_path / "out", "y", ratios=(0.8, 0.1, 0.1), drop_nan=True, batch_rows=64)
    dropped = {3, 77, 200, 10, 400, 250}
    ids = np.sort(np.concatenate([s["id"].to_numpy() for s in read(res.out).values()]))
    np.testing.assert_array_equal(ids, sorted(set(range(500)) - dropped))
    assert sum(res.n.values()) == 494 and np.isfinite(res.standardizer.mean_).all()
    # without drop_nan: an error naming the column, and nothing on disk
    for column, table in (("y", t), ("x_f32", t.set_column(4, "y", make_table(500)["y"]))):
        bad = write(tmp_path / f"bad_{column}.parquet", table)
        with pytest.raises(NNRecipeError, match=f"'{column}'.*drop_nan"):
            split_file(bad, tmp_path / f"out_{column}", "y")
    assert leftovers(tmp_path) == ["out"]


def test_string_dictionary_labels_random_and_continuous(tmp_path):
    t = make_table(600, classes=("cat", "ant", "bee"))
    t = t.set_column(4, "y", t["y"].combine_chunks().dictionary_encode())
    path = write(tmp_path / "s.parquet", t)
    res = split_file(path, tmp_path / "s", "y", ratios=(0.8, 0.1, 0.1))
    assert res.classes == ["ant", "bee", "cat"] and res.mode == "stratified"
    rnd = split_file(path, tmp_path / "r", "y", ratios=(0.8, 0.1, 0.1), stratify=False)
    assert rnd.mode == "random" and rnd.n == {"train": 480, "dev": 60, "test": 60}
    assert sum(rnd.class_counts["dev"].values()) == 60
    cont = write(tmp_path / "c.parquet", t.set_column(4, "y", pa.array(np.linspace(0, 1, 600))))
    res = split_file(cont, tmp_path / "c", "y", ratios=(0.8, 0.1, 0.1))
    assert res.mode == "random" and res.classes is None and "continuous" in res.reason


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_whole_numbers_follow_read_datas_rule(tmp_path, dtype):
    """data/task.py's rule, on the whole file: 60 whole numbers of 10 rows each are a score (random split,
    as `read_data` and the recipe call it), 30 of 20 rows each are classes (stratified)."""
    score = make_table(600).set_column(4, "y", pa.array(np.repeat(np.arange(60), 10).astype(dtype)))
    res = split_file(write(tmp_path / "s.parquet", score), tmp_path / "s", "y", ratios=(0.8, 0.1, 0.1))
    assert res.mode == "random" and res.classes is None and "continuous" in res.reason
    classes = make_table(600).set_column(4, "y", pa.array(np.repeat(np.arange(30), 20).astype(dtype)))
    res = split_file(write(tmp_path / "c.parquet", classes), tmp_path / "c", "y", ratios=(0.8, 0.1, 0.1))
    assert res.mode == "stratified" and len(res.classes) == 30
    assert all(v == 16 for v in res.class_counts["train"].values())


def test_task_overrides_the_guess_and_source_is_recorded(tmp_path, data):
    reg = split_file(data, tmp_path / "r", "y", ratios=(0.8, 0.1, 0.1), task="regress", source="my.csv")
    assert reg.mode == "random" and reg.classes is None and reg.class_counts["dev"] == {}
    assert json.loads(reg.paths["stats"].read_text())["source"] == "my.csv"
    halves = make_table(600).set_column(4, "y", pa.array(np.repeat(np.arange(60) + 0.5, 10)))
    path = write(tmp_path / "h.parquet", halves)                       # 60 non-integral values: continuous
    assert split_file(path, tmp_path / "a", "y", ratios=(0.8, 0.1, 0.1)).mode == "random"
    res = split_file(path, tmp_path / "c", "y", ratios=(0.8, 0.1, 0.1), task="classify")
    assert res.mode == "stratified" and len(res.classes) == 60 and res.classes[0] == 0.5
    assert all(v == 8 for v in res.class_counts["train"].values())     # 10 rows per class: 8 / 1 / 1
    with pytest.raises(NNRecipeError, match="task must be one of 'auto', 'classify', 'regress'; got 'guess'"):
        split_file(data, tmp_path / "x", "y", task="guess")


def test_progress_overwrite_and_row_groups(tmp_path, data):
    calls = []
    res = split_file(data, tmp_path / "out", "y", ratios=(0.8, 0.1, 0.1), batch_rows=64,
                     progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (2000, 2000) and all(a[0] < b[0] for a, b in itertools.pairwise(calls))
    assert pq.ParquetFile(res.paths["dev"]).metadata.num_row_groups <= 2      # small sets buffered
    (tmp_path / "empty").mkdir()
    split_file(data, tmp_path / "empty", "y")                                  # an empty out is fine
    with pytest.raises(NNRecipeError, match="out must be .*overwrite=True"):
        split_file(data, tmp_path / "out", "y", seed=5)
    new = split_file(data, tmp_path / "out", "y", ratios=(0.5, 0.25, 0.25), overwrite=True)
    assert new.n["dev"] == 250 and read(new.out)["dev"].num_rows == 250
    assert leftovers(tmp_path) == ["empty", "out"]


def _bad_inputs(tmp_path, data):
    text = tmp_path / "notes.txt"
    text.write_text("not parquet")
    rare = make_table(300)
    rare = write(tmp_path / "rare.parquet", rare.set_column(4, "y", pa.array([2, 2] + [0, 1] * 149)))
    words = write(tmp_path / "words.parquet", make_table(50).append_column("w", pa.array(["a"] * 50)))
    nan = make_table(100)
    nan = write(tmp_path / "nan.parquet", nan.set_column(2, "x_f64", pa.array([np.nan] + [1.0] * 99)))
    return [
        ("path", (tmp_path / "missing.parquet", "y"), {}),
        ("Parquet", (text, "y"), {}),
        ("target.*id, x_f32", (data, "label"), {}),
        ("ratios", (data, "y"), {"ratios": (0.5, 0.2, 0.2)}),
        ("dev set would be empty", (data, "y"), {"ratios": (1.0, 0.0, 0.0)}),
        ("ratios must be three positive", (data, "y"), {"ratios": (1.0, 0.0, 0.0), "key": "id"}),
        ("test set would be empty", (data, "y"), {"ratios": (0.9, 0.0999, 0.0001), "key": "id"}),
        ("class 2 has", (rare, "y"), {}),
        ("'x_f64'.*drop_nan", (nan, "y"), {}),
        ("feature column 'w'", (words, "y"), {}),
        ("key", (data, "y"), {"key": "nope"}),
        ("batch_rows", (data, "y"), {"batch_rows": 0}),
    ]


def test_bad_inputs_raise_and_leave_nothing(tmp_path, data):
    for match, args, kwargs in _bad_inputs(tmp_path, data):
        with pytest.raises(NNRecipeError, match=match):
            split_file(args[0], tmp_path / "out", args[1], **kwargs)
        assert leftovers(tmp_path) == [], match


@pytest.mark.parametrize("where", ["writer", "progress"])
def test_failure_mid_write_leaves_nothing(tmp_path, data, monkeypatch, where):
    calls = {"n": 0}

    def fail(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    if where == "writer":
        original = pq.ParquetWriter.write_table
        monkeypatch.setattr(pq.ParquetWriter, "write_table", fail)
        progress = None
    else:
        original, progress = (lambda *a: None), fail
    with pytest.raises(RuntimeError, match="disk full"):
        split_file(data, tmp_path / "out", "y", batch_rows=64, progress=progress)
    assert leftovers(tmp_path) == []


def test_memory_does_not_grow_with_rows(tmp_path):
    """Peak Python-tracked allocations (NumPy included) for a 10× larger file stay about the same."""
    def peak(n):
        path = write(tmp_path / f"m{n}.parquet", make_table(n, weights=(0.5, 0.3, 0.2)),
                     row_group_size=2048)
        tracemalloc.start()
        split_file(path, tmp_path / f"out{n}", "y", ratios=(0.98, 0.01, 0.01), batch_rows=2048)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(20_000), peak(200_000)
    assert large < 2.5 * small, (small, large)



def test_sequential_sampling_is_uniform():
    """Batch by batch, every row of a class has the same chance of each set: its quota over its
    count (the marginals of a uniformly random stratified split), wherever it sits in the file."""
    from nnrecipe.data.stream import _Quotas

    labels = np.array([0, 1, 0] * 20)                                   # 40 rows of class 0, 20 of 1
    quotas = allocate([40, 20], (30, 15, 15))
    batches = [pa.record_batch({"y": labels[i:i + 14]}) for i in range(0, 60, 14)]
    reps = 1500
    freq = np.zeros((60, 3))
    for seed in range(reps):
        plan = _Quotas(quotas, "y", [0, 1], seed)
        codes = np.concatenate([plan.assign(b) for b in batches])
        freq[np.arange(60), codes] += 1
        plan.check_done()
    expected = (quotas / quotas.sum(1, keepdims=True))[labels]          # (60, 3)
    sd = np.sqrt(expected * (1 - expected) / reps)
    assert np.abs(freq / reps - expected).max() < 5 * sd.max()


def test_a_class_of_three_gets_one_row_in_each_set(tmp_path):
    table = make_table(100, classes=(0, 1), weights=(1.0, 0.0))
    y = np.zeros(100, np.int64)
    y[[5, 50, 95]] = 1
    path = write(tmp_path / "rare.parquet", table.set_column(4, "y", pa.array(y)))
    split_file(path, tmp_path / "out", "y", ratios=(0.6, 0.2, 0.2))
    assert [int((read(tmp_path / "out")[s]["y"].to_numpy() == 1).sum()) for s in SETS] == [1, 1, 1]
