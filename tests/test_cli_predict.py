"""Raw rows in, predictions out: a model file with its table preprocessor predicts named columns in any
order (library and `nnrecipe predict`), old model files still load and predict, and bad files and
rows are refused with the package's error."""

import datetime
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import nnrecipe as nr
from nnrecipe.cli import main
from nnrecipe.data.tables import TablePreprocessor
from nnrecipe.engine import serialize

FIXTURES = Path(__file__).parent / "fixtures"
SPECIES = np.array(["Adelie", "Chinstrap", "Gentoo"])


def penguins(n=90, seed=0):
    """A small mixed table (numbers with gaps, text, booleans, a date, an id, a constant) and its labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    bill = 38 + 6 * y + rng.normal(size=n)
    island = np.array(["Torgersen", "Dream", "Biscoe"])[np.where(rng.random(n) < 0.8, y, rng.integers(0, 3, n))]
    days = rng.integers(0, 400, n)
    table = {
        "sample_id": [f"P{i:03d}" for i in range(n)],
        "bill": [None if rng.random() < 0.1 else float(b) for b in bill],
        "island": [None if rng.random() < 0.05 else str(s) for s in island],
        "male": [bool(v) for v in rng.random(n) < 0.5],
        "seen": pa.array([datetime.date(2021, 1, 1) + datetime.timedelta(days=int(d)) for d in days], pa.date32()),
        "study": ["PAL0708"] * n,
    }
    return table, y


def shuffled(table, order=None):
    names = order or list(reversed(list(table)))
    return {name: table[name] for name in names}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(path, the network without its preprocessor, the preprocessor, table, y): trained by hand."""
    table, y = penguins()
    train = np.arange(60)
    pre = TablePreprocessor().fit(table, rows=train)
    X = pre.transform(table)
    net = nr.mlp([X.shape[1], 8, 3], output="softmax", seed=1)
    net.normalizer = nr.Standardizer().fit(X[train])
    nr.fit(net, X[train], y[train], epochs=60, lr=0.05, verbose=0)
    net.classes = SPECIES.copy()
    net.features = list(pre.feature_names_out_)
    plain = net
    path = tmp_path_factory.mktemp("model") / "model.npz"
    net.preprocessor = pre
    net.save(path)
    net.preprocessor = None
    return path, plain, pre, table, y


def test_the_model_file_predicts_raw_rows_in_any_order(model):
    path, plain, pre, table, y = model
    X = pre.transform(table)
    back = nr.load(path)
    assert back.preprocessor.feature_names_out_ == pre.feature_names_out_
    rows = shuffled(table)
    np.testing.assert_array_equal(back.predict(rows), plain.predict(X))
    np.testing.assert_array_equal(back.predict_proba(rows), plain.predict_proba(X))
    assert back.error(rows, y) == plain.error(X, y)
    assert (back.predict(rows) == SPECIES[y]).mean() > 0.8
    labels, proba = back.predict_with_proba(pa.table(rows))
    np.testing.assert_array_equal(labels, plain.predict(X))
    np.testing.assert_array_equal(proba, plain.predict_proba(X))


def test_an_unseen_level_and_extra_columns(model):
    path, plain, pre, table, y = model
    back = nr.load(path)
    rows = {k: list(v[:5]) if not isinstance(v, pa.Array) else v[:5] for k, v in table.items()}
    rows["island"][2] = "Atlantis"
    rows["species"] = list(SPECIES[y[:5]])
    np.testing.assert_array_equal(back.predict(rows), plain.predict(pre.transform(rows)))
    assert back.preprocessor.ignored_ == ["species"]


def test_numeric_arrays_need_named_columns_here(model):
    path = model[0]
    back = nr.load(path)
    with pytest.raises(nr.NNRecipeError, match="rows must be named columns .*text and date columns"):
        back.predict(np.zeros((3, len(back.preprocessor.columns_))))


def test_missing_columns_are_named(model):
    back = nr.load(model[0])
    table = dict(model[3])
    del table["bill"], table["seen"]
    with pytest.raises(nr.NNRecipeError, match="missing 'bill', 'seen'"):
        back.predict(table)


def test_fit_takes_raw_rows_once_the_preprocessor_is_attached():
    table, y = penguins(40, seed=3)
    pre = TablePreprocessor().fit(table)
    X = pre.transform(table)
    a = nr.mlp([X.shape[1], 4, 3], output="softmax", seed=2)
    b = nr.mlp([X.shape[1], 4, 3], output="softmax", seed=2)
    b.preprocessor = pre
    nr.fit(a, X, y, epochs=5, verbose=0)
    nr.fit(b, shuffled(table), y, epochs=5, verbose=0)
    np.testing.assert_array_equal(a.theta, b.theta)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _write_csv(path, table):
    pacsv.write_csv(pa.table(table), path)
    return path


def test_the_command_writes_labels_and_probabilities(model, tmp_path, capsys):
    path, plain, pre, table, y = model
    rows = shuffled(table, ["male", "island", "study", "seen", "sample_id", "bill"])
    rows["species"] = list(SPECIES[y])
    new = _write_csv(tmp_path / "new.csv", rows)
    out = tmp_path / "predictions.csv"
    code, printed, err = _run(capsys, "predict", path, new, "--out", out, "--id", "sample_id")
    assert code == 0, err
    assert printed.strip() == (f"predicted 90 row(s) of new.csv → {out}; ignored 1 column(s) the model does not "
                               f"use: 'species'")
    written = pacsv.read_csv(out)
    assert written.column_names == ["sample_id", "prediction", "p(Adelie)", "p(Chinstrap)", "p(Gentoo)"]
    assert written.column("sample_id").to_pylist() == table["sample_id"]
    from_file = nr.load(path).preprocessor.transform(new)            # the CSV as the command reads it
    assert written.column("prediction").to_pylist() == plain.predict(from_file).tolist()
    proba = np.column_stack([written.column(f"p({s})").to_numpy() for s in SPECIES])
    np.testing.assert_allclose(proba, plain.predict_proba(from_file), rtol=1e-6)
    np.testing.assert_array_equal(plain.predict(from_file), plain.predict(pre.transform(table)))

    code, printed, err = _run(capsys, "predict", path, new, "--out", out)
    assert code == 0 and "ignored 2 column(s)" not in printed
    assert pacsv.read_csv(out).column("row").to_pylist() == list(range(90))


def test_the_command_refuses_bad_input(model, tmp_path, capsys):
    path, _, _, table, _ = model
    out = tmp_path / "p.csv"
    rows = dict(table)
    del rows["island"]
    new = _write_csv(tmp_path / "new.csv", rows)
    cases = [
        ((path, new, "--out", out), "missing 'island'"),
        ((path, tmp_path / "none.csv", "--out", out), "NEW must be an existing file"),
        ((path, _write_csv(tmp_path / "ok.csv", table), "--out", out, "--id", "nope"),
         "--id must name a column of ok.csv; got 'nope'"),
        ((tmp_path / "ok.csv", tmp_path / "ok.csv", "--out", out), "is not a readable nnrecipe file"),
        ((path, tmp_path / "ok.csv", "--out", tmp_path / "no" / "p.csv"), "--out must be a file in an existing folder"),
    ]
    (tmp_path / "bad.csv").write_text("a,b,a\n1,2,3\n")
    cases.append(((path, tmp_path / "bad.csv", "--out", out), "column names of bad.csv must be unique; got 'a'"))
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    cases.append(((path, tmp_path / "ragged.csv", "--out", out), "line 3"))
    for argv, message in cases:
        code, _, err = _run(capsys, "predict", *argv)
        assert code == 2 and message in err, (argv, err)
    assert not out.exists()


def test_regression_models_write_values(tmp_path, capsys):
    table, y = penguins(50, seed=4)
    pre = TablePreprocessor().fit(table)
    X = pre.transform(table)
    net = nr.mlp([X.shape[1], 4, 1], output="linear", seed=0)
    nr.fit(net, X, y * 1.5, epochs=5, verbose=0)
    net.preprocessor = pre
    net.save(tmp_path / "m.npz")
    new = _write_csv(tmp_path / "new.csv", table)
    assert _run(capsys, "predict", tmp_path / "m.npz", new, "--out", tmp_path / "p.csv")[0] == 0
    written = pacsv.read_csv(tmp_path / "p.csv")
    assert written.column_names == ["row", "prediction"]
    np.testing.assert_allclose(written.column("prediction").to_numpy(), net.predict(new), rtol=1e-6)


# ---------------------------------------------------------------- model files

def test_files_written_before_preprocessors_still_load_and_predict(tmp_path, capsys):
    """model_v1.npz was written by the code of the commit before this change (a softmax [3, 5, 3]
    network with a Standardizer, classes low/mid/high and features a, b, c); model_v1_expected.npz
    holds six rows and what that code predicted for them."""
    expected = np.load(FIXTURES / "model_v1_expected.npz", allow_pickle=False)
    net = nr.load(FIXTURES / "model_v1.npz")
    assert net.preprocessor is None and net.features == ["a", "b", "c"]
    np.testing.assert_array_equal(net.predict_proba(expected["X"]), expected["proba"])
    np.testing.assert_array_equal(net.predict(expected["X"]), expected["labels"])
    new = _write_csv(tmp_path / "new.csv", {"c": expected["X"][:, 2], "extra": [1] * 6, "a": expected["X"][:, 0],
                                            "b": expected["X"][:, 1]})
    code, printed, err = _run(capsys, "predict", FIXTURES / "model_v1.npz", new, "--out", tmp_path / "p.csv")
    assert code == 0, err
    assert "ignored 1 column(s) the model does not use: 'extra'" in printed
    written = pacsv.read_csv(tmp_path / "p.csv")
    assert written.column("prediction").to_pylist() == expected["labels"].tolist()
    del_b = _write_csv(tmp_path / "nob.csv", {"a": [1.0], "c": [2.0]})
    assert "missing 'b'" in _run(capsys, "predict", FIXTURES / "model_v1.npz", del_b, "--out", tmp_path / "q.csv")[2]


def test_saved_files_keep_the_preprocessor_as_json_and_arrays(model):
    path = model[0]
    arrays, meta = serialize.read_archive(path)
    assert meta["version"] == 2 and meta["preprocessor"]["type"] == "TablePreprocessor"
    assert meta["preprocessor"]["state"]["columns"][0]["name"] == "bill"
    assert {k for k in arrays if k.startswith("preprocessor.")} == {"preprocessor.fill"}
    assert all(a.dtype != object for a in arrays.values())
    assert serialize.read_archive(FIXTURES / "model_v1.npz")[1]["version"] == 1


@pytest.mark.parametrize("edit, message", [
    (lambda m, a: m["preprocessor"].update(type="os.system"), "preprocessor type must be one of TablePreprocessor"),
    (lambda m, a: m.update(preprocessor="TablePreprocessor"), "preprocessor type must be one of"),
    (lambda m, a: m["preprocessor"].update(state=None), "preprocessor state is malformed"),
    (lambda m, a: m["preprocessor"]["state"]["columns"][1].update(levels=7), "preprocessor state is malformed"),
    (lambda m, a: a.pop("preprocessor.fill"), "preprocessor state is malformed"),
    (lambda m, a: a.update({"preprocessor.fill": np.array([np.inf, 1.0, 2.0, 3.0, 4.0])}),
     "preprocessor state is malformed"),
    (lambda m, a: m["preprocessor"]["state"]["columns"].pop(1), "one column per network input"),
    (lambda m, a: m.update(version=3), "version 1 or 2"),
])
def test_tampered_preprocessors_raise(model, tmp_path, edit, message):
    arrays, meta = serialize.read_archive(model[0])
    edit(meta, arrays)
    serialize.write_archive(tmp_path / "bad.npz", arrays, json.loads(json.dumps(meta)))
    with pytest.raises(nr.NNRecipeError, match=message):
        nr.load(tmp_path / "bad.npz")


def test_save_refuses_a_preprocessor_that_does_not_fit(model, tmp_path):
    plain = model[1]
    narrow = TablePreprocessor().fit({"x": [1.0, 2.0, 3.0]})
    plain.preprocessor = narrow
    try:
        with pytest.raises(nr.NNRecipeError, match="preprocessor must be one output column per network input"):
            plain.save(tmp_path / "m.npz")
        plain.preprocessor = nr.Standardizer()
        with pytest.raises(nr.NNRecipeError, match="preprocessor must be a fitted TablePreprocessor"):
            plain.save(tmp_path / "m.npz")
    finally:
        plain.preprocessor = None
    assert not (tmp_path / "m.npz").exists()
