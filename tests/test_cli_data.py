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
