"""`nnrecipe split`, `nnrecipe check-match`, and `train` on the bundled toy datasets."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from nnrecipe.cli import main
from nnrecipe.data.io import write_data


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def test_split_parquet_writes_three_sets_and_training_statistics(tmp_path, table, capsys):
    X, y = table
    write_data(tmp_path / "d.parquet", X, y, ["a", "b", "c"], "label")
    out = tmp_path / "sets"
    assert main(["split", str(tmp_path / "d.parquet"), "--target", "label", "--out", str(out), "--quiet"]) == 0
    assert "train 240 · dev 80 · test 80" in capsys.readouterr().out
    parts = {name: pq.read_table(out / f"{name}.parquet") for name in ("train", "dev", "test")}
    assert sum(p.num_rows for p in parts.values()) == 400
    stats = json.loads((out / "stats.json").read_text())
    train = np.column_stack([parts["train"][c].to_numpy() for c in ("a", "b", "c")])
    np.testing.assert_allclose(stats["mean"], train.mean(0), atol=1e-12)
    np.testing.assert_allclose(stats["var"], train.var(0), atol=1e-12)


def test_split_csv_is_converted_then_split(tmp_path, table, capsys):
    X, y = table
    write_data(tmp_path / "d.csv", X, y, ["a", "b", "c"], "label")
    out = tmp_path / "sets"
    args = ["split", str(tmp_path / "d.csv"), "--target", "label", "--out", str(out), "--ratios", "0.5,0.25,0.25"]
    assert main([*args, "--quiet"]) == 0
    assert pq.read_table(out / "dev.parquet").num_rows == 100
    assert main([*args, "--quiet"]) == 2                      # out exists: refused
    assert "out" in capsys.readouterr().err


def test_split_bad_ratios_leave_nothing(tmp_path, table, capsys):
    X, y = table
    write_data(tmp_path / "d.parquet", X, y, ["a", "b", "c"], "label")
    out = tmp_path / "sets"
    assert main(["split", str(tmp_path / "d.parquet"), "--target", "label", "--out", str(out),
                 "--ratios", "0.5,0.2,0.2", "--quiet"]) == 2
    assert "ratios must be shares summing to 1" in capsys.readouterr().err
    assert not out.exists()


def test_check_match_same_and_different(tmp_path, table, capsys):
    X, y = table
    write_data(tmp_path / "a.csv", X[:200], y[:200], ["a", "b", "c"], "label")
    write_data(tmp_path / "b.csv", X[200:], y[200:], ["a", "b", "c"], "label")
    shifted = X[200:] + [0, 0, 1.0]
    write_data(tmp_path / "c.csv", shifted, y[200:], ["a", "b", "c"], "label")
    assert main(["check-match", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--target", "label"]) == 0
    assert "same" in capsys.readouterr().out
    assert main(["check-match", str(tmp_path / "a.csv"), str(tmp_path / "c.csv"), "--target", "label"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("different") or "different: 'c'" in out


@pytest.mark.parametrize("name", ["circles", "moons", "spirals"])
def test_train_on_bundled_toy_data_splits_and_locks_test(name, capsys):
    assert main(["train", name, "--epochs", "300", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "stays locked" in out and "dev error" in out


def test_split_records_the_users_file_as_source(tmp_path, table, monkeypatch):
    X, y = table
    write_data(tmp_path / "d.csv", X, y, ["a", "b", "c"], "label")
    monkeypatch.chdir(tmp_path)
    assert main(["split", "d.csv", "--target", "label", "--out", "sets", "--quiet"]) == 0
    assert json.loads((tmp_path / "sets" / "stats.json").read_text())["source"] == str((tmp_path / "d.csv").resolve())


@pytest.fixture
def counts(tmp_path):
    """A CSV whose label is a whole number in 0..29, and its path."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    write_data(tmp_path / "k.csv", X, np.arange(300) % 30, ["a", "b"], "label")
    return tmp_path / "k.csv"


@pytest.mark.parametrize("task, kind", [("auto", "regression"), ("classify", "30-class classification"),
                                        ("regress", "regression")])
def test_train_task(counts, capsys, task, kind):
    """auto: 30 whole numbers of 10 rows each are a score to regress (the recipe's rule, data/task.py)."""
    assert main(["train", str(counts), "--target", "label", "--task", task, "--epochs", "2", "--quiet"]) == 0
    assert kind in capsys.readouterr().out


def test_split_task_regress_does_not_stratify(counts, tmp_path, capsys):
    args = ["split", str(counts), "--target", "label", "--quiet", "--out"]
    assert main([*args, str(tmp_path / "s1"), "--task", "classify"]) == 0
    assert "stratified split" in capsys.readouterr().out
    assert main([*args, str(tmp_path / "s0")]) == 0                 # auto: 30 values of 10 rows, a score
    assert "random split" in capsys.readouterr().out
    assert main([*args, str(tmp_path / "s2"), "--task", "regress"]) == 0
    assert "random split" in capsys.readouterr().out
    assert json.loads((tmp_path / "s2" / "stats.json").read_text())["classes"] is None


@pytest.mark.parametrize("command, message", [
    (["check-match", "{f}", "{f}"], "must hold whole-number class labels for task='classify' (CLI --task classify)"),
    (["run", "{f}", "--out", "{out}"], "y must be class labels (a fractional value means a regression: pass "
                                       "task='regress'); got 0.5 at row 0"),
])
def test_check_match_and_run_pass_task_to_the_reader(tmp_path, table, capsys, command, message):
    X, _ = table
    write_data(tmp_path / "f.csv", X, np.arange(400) % 2 + 0.5, ["a", "b", "c"], "label")     # 0.5, 1.5
    args = [a.format(f=tmp_path / "f.csv", out=tmp_path / "r") for a in command]
    assert main([*args, "--target", "label", "--task", "classify"]) == 2
    assert message in capsys.readouterr().err


def test_run_regresses_whole_numbers_when_asked(counts, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", str(counts), "--target", "label", "--task", "regress", "--out", str(out), "--quiet",
                 "--budget", "100"]) == 0
    text = capsys.readouterr().out
    assert "task: regression, as asked (--task regress)" in text and "test error RMSE" in text
    assert json.loads((out / "run.json").read_text())["data"]["kind"] == "regression"


def test_run_without_target_on_a_table_is_refused(counts, tmp_path, capsys):
    assert main(["run", str(counts), "--out", str(tmp_path / "r")]) == 2
    assert "--target must name the column to predict in" in capsys.readouterr().err


def test_split_of_data_with_its_own_test_set_says_what_it_leaves_out(tmp_path, capsys):
    assert main(["split", "football", "--out", str(tmp_path / "sets"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "its own test set (200 rows), which split leaves out: it splits the other 211 rows" in captured.err
    assert "train 127 · dev 42 · test 42" in captured.out
