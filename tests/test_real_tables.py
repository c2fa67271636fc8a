"""Real tables in, predictions out (issue 12): `nnrecipe run` with no data flags on mixed CSV files and on
scikit-learn's tables written as CSV; a penguins model predicting raw rows in any column order."""

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from _report_page import Page

import nnrecipe as nr
from nnrecipe.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
PENGUINS = FIXTURES / "penguins.csv"     # palmerpenguins (Horst, Hill, Gorman; CC0): 344 rows, gaps, text


def _mixed(path, n=240, seed=0):
    """A CSV holding every column kind: numbers with gaps, text with a gap, booleans, a date, an
    identifier, a constant, an all-missing column; the label depends on age, colour and membership."""
    import datetime as dt
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n).round(1)
    age[rng.random(n) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue"], n, p=[.4, .35, .25]).astype(object)
    color[rng.random(n) < 0.05] = None
    member = rng.random(n) < 0.5
    day = [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, n)]
    logit = (np.nan_to_num(age, nan=40) - 40) / 5 + 2.5 * (color == "red") - 2 * member
    label = np.where(logit + rng.logistic(size=n) * 0.3 > 0, "yes", "no")
    pacsv.write_csv(pa.table({"id": [f"u{i:05d}" for i in range(n)], "age": age, "color": list(color),
                              "member": member, "day": day, "const": ["k"] * n,
                              "empty": pa.nulls(n, pa.float64()), "label": label}), path)
    return path


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    data, out = _mixed(folder / "mixed.csv"), folder / "run"
    assert main(["run", str(data), "--target", "label", "--out", str(out), "--quiet", "--budget", "1200"]) == 0
    return json.loads((out / "run.json").read_text()), out, data


def test_every_column_kind_is_treated_and_said(mixed_run):
    record, out, _ = mixed_run
    trail = record["decisions"]
    assert trail[0] == "task: classification: the target holds labels that are not numbers"
    assert "columns used as they are: member" in trail
    said = {line.split("'")[1]: line for line in trail if line.startswith("column '")}
    assert said["id"].startswith("column 'id' (identifier): dropped, a distinct value in ")
    assert said["age"].startswith("column 'age' (numeric): imputed, ") and "'age missing'" in said["age"]
    assert said["color"].startswith("column 'color' (categorical): encoded, ")
    assert said["day"].startswith("column 'day' (datetime): expanded, ")
    assert said["const"].startswith("column 'const' (constant): dropped, ")
    assert said["empty"].startswith("column 'empty' (empty): dropped, ")
    columns = {c["column"]: c for c in record["data"]["columns"]}
    assert {c: columns[c]["action"] for c in columns} == {"id": "dropped", "age": "imputed", "color": "encoded",
                                                           "member": "used", "day": "expanded",
                                                           "const": "dropped", "empty": "dropped"}
    assert record["data"]["features"][:2] == ["age", "age missing"] and record["data"]["rows_dropped"] == {}
    assert record["test"]["error"] < 0.3 and record["test"]["confusion"]["labels"] == ["no", "yes"]


def test_the_reports_data_section_shows_each_column(mixed_run):
    record, out, _ = mixed_run
    page = Page.read(out / "report.html")
    text = " ".join(" ".join(row) for row in page.rows("data"))
    for column in ("id", "age", "color", "member", "day", "const", "empty"):
        assert column in text
    assert "identifier" in text and "dropped" in text and "imputed" in text


def test_the_model_predicts_raw_rows_in_any_order(mixed_run, tmp_path):
    record, out, data = mixed_run
    table = pacsv.read_csv(data)
    shuffled = table.select(list(reversed(table.column_names)))         # the label column too: ignored
    net = nr.load(out / "model.npz")
    np.testing.assert_array_equal(net.predict(shuffled), net.predict(table))
    assert set(net.predict(table)) <= {"no", "yes"}


def test_rows_with_a_missing_target_are_dropped_and_counted(tmp_path):
    data = _mixed(tmp_path / "m.csv")
    table = pacsv.read_csv(data)
    labels = table.column("label").to_pylist()
    labels[3] = labels[10] = None
    table = table.set_column(table.column_names.index("label"), "label", pa.array(labels, pa.string()))
    r = nr.Recipe(verbose=0, budget=50).fit(table, "label")
    assert r.record_["data"]["rows_dropped"] == {"missing target": 2} and len(r.split_.train) + len(r.split_.dev) \
        + len(r.split_.test) == 238
    assert "rows dropped: 2 (missing target)" in r.decisions_


@pytest.mark.parametrize("change, message", [
    (lambda t: t.set_column(t.column_names.index("label"), "label", pa.nulls(t.num_rows, pa.string())),
     "the target 'label' must hold values; got only missing values"),
    (lambda t: t.select(["id", "const", "empty", "label"]),
     "every column was dropped: 'id' \\(identifier: .*'const' \\(constant: .*'empty' \\(empty: "),
])
def test_bad_tables_are_named(tmp_path, change, message):
    table = change(pacsv.read_csv(_mixed(tmp_path / "m.csv")))
    with pytest.raises(nr.NNRecipeError, match=message):
        nr.Recipe(verbose=0, budget=50).fit(table, "label")


def test_a_header_naming_a_column_twice_is_refused(tmp_path, capsys):
    path = tmp_path / "twice.csv"
    rows = [["a", "b", "a", "label"]] + [[i, i % 3, i % 5, i % 2] for i in range(60)]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    assert main(["run", str(path), "--target", "label", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "'a' more than once" in capsys.readouterr().err


def test_a_text_target_cannot_be_regressed(tmp_path, capsys):
    data = _mixed(tmp_path / "m.csv")
    assert main(["run", str(data), "--target", "label", "--task", "regress", "--out", str(tmp_path / "r")]) == 2
    first = pacsv.read_csv(data).column("label")[0].as_py()
    assert f"y must be numbers for a regression; got {first!r} at row 0" in capsys.readouterr().err


# ---- penguins: text columns and gaps, predicted on raw rows --------------------------------------------
@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    out = tmp_path_factory.mktemp("penguins") / "run"
    assert main(["run", str(PENGUINS), "--target", "species", "--out", str(out), "--quiet", "--budget", "1500"]) == 0
    return out


def test_penguins_run_without_flags(penguins):
    record = json.loads((penguins / "run.json").read_text())
    assert record["data"]["kind"] == "multiclass" and record["data"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    columns = {c["column"]: c["action"] for c in record["data"]["columns"]}
    assert columns["island"] == "encoded" and columns["sex"] == "encoded" and columns["bill_length_mm"] == "imputed"
    assert record["test"]["error"] <= 0.05                     # penguins' species are nearly separable


def test_the_old_flags_still_work_as_overrides(tmp_path, capsys):
    """--drop-nan drops penguins' 11 incomplete rows instead of imputing them, and says how many; --onehot is
    what a raw table gets anyway."""
    out = tmp_path / "run"
    assert main(["run", str(PENGUINS), "--target", "species", "--out", str(out), "--quiet", "--budget", "300",
                 "--drop-nan", "--onehot"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert "rows dropped: 11 (missing feature (--drop-nan))" in record["decisions"]
    assert sum(record["split"][part] for part in ("train", "dev", "test")) == 344 - 11
    columns = {c["column"]: c["action"] for c in record["data"]["columns"]}
    assert columns["island"] == "encoded" and columns["bill_length_mm"] != "imputed"


def test_penguins_model_predicts_shuffled_raw_rows_with_an_unseen_island(penguins, tmp_path, capsys):
    table = pacsv.read_csv(PENGUINS)
    islands = table.column("island").to_pylist()
    islands[0] = "Atlantis"                                     # never seen in training
    table = table.set_column(table.column_names.index("island"), "island", pa.array(islands))
    shuffled = table.select(["year", "sex", "body_mass_g", "island", "bill_depth_mm", "species",
                             "flipper_length_mm", "bill_length_mm"])
    pacsv.write_csv(shuffled, tmp_path / "new.csv")
    net = nr.load(penguins / "model.npz")
    labels = net.predict(shuffled)
    np.testing.assert_array_equal(labels, net.predict(table))       # the column order does not matter
    assert main(["predict", str(penguins / "model.npz"), str(tmp_path / "new.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 0
    written = pacsv.read_csv(tmp_path / "p.csv")
    assert written.column("prediction").to_pylist() == labels.tolist()
    assert [c for c in written.column_names if c.startswith("p(")] == ["p(Adelie)", "p(Chinstrap)", "p(Gentoo)"]
    # the run's own predictions on the same rows: the library with the same seed and budget gives them
    r = nr.Recipe(verbose=0, budget=1500).fit(PENGUINS, "species")
    np.testing.assert_array_equal(r.predict(shuffled), labels)


# ---- scikit-learn's tables, written as CSV ------------------------------------------------------------
@pytest.mark.parametrize("name, kind", [("breast_cancer", "binary"), ("wine", "multiclass"),
                                        ("iris", "multiclass"), ("diabetes", "regression")])
def test_sklearn_tables_as_csv_run_without_flags(name, kind, tmp_path):
    import sklearn.datasets as ds
    loader = getattr(ds, f"load_{name}")
    bunch = loader(scaled=False) if name == "diabetes" else loader()
    columns = {str(f): bunch.data[:, j] for j, f in enumerate(bunch.feature_names)}
    target = bunch.target if name == "diabetes" else np.asarray(bunch.target_names)[bunch.target]
    pacsv.write_csv(pa.table(columns | {"target": target}), tmp_path / f"{name}.csv")
    out = tmp_path / "run"
    budget = [] if kind == "regression" else ["--budget", "1200"]       # diabetes: the whole recipe (~1 s)
    assert main(["run", str(tmp_path / f"{name}.csv"), "--target", "target", "--out", str(out), "--quiet",
                 *budget]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["data"]["kind"] == kind
    if kind == "regression":
        assert "whole numbers with" in record["data"]["task_reason"] and record["test"]["rmse"] < 70
    else:
        assert record["test"]["error"] < 0.15


def test_diabetes_as_a_dataframe_runs_without_flags():
    """The issue's own call: load_diabetes(as_frame=True, scaled=False), the frame given to nr.Recipe as is
    (sex is 1/2, progression 214 distinct whole numbers): a regression, decided and said, same as its CSV."""
    pytest.importorskip("pandas")
    from sklearn.datasets import load_diabetes
    frame = load_diabetes(as_frame=True, scaled=False).frame
    r = nr.Recipe(verbose=0, budget=600).fit(frame, "target")
    assert r.record_["data"]["kind"] == "regression" and "whole numbers with" in r.record_["data"]["task_reason"]
    assert r.record_["test"]["rmse"] < 70 and len(r.predict(frame.drop(columns="target"))) == len(frame)


def test_digits_as_csv_runs_without_flags(tmp_path):
    from sklearn.datasets import load_digits
    d = load_digits()
    pacsv.write_csv(pa.table({f"px{j}": d.data[:, j] for j in range(64)} | {"digit": d.target}),
                    tmp_path / "digits.csv")
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "digits.csv"), "--target", "digit", "--out", str(out), "--quiet",
                 "--budget", "120"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["data"]["kind"] == "multiclass" and record["test"]["error"] < 0.1
    dropped = [c["column"] for c in record["data"]["columns"] if c["action"] == "dropped"]
    assert "px0" in dropped                                     # always 0 in digits: constant
