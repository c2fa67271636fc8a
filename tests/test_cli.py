"""The command line, run as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.cli import main


def run_cli(*args):
    """`python -m nnrecipe ARGS`, as a user without the console script on PATH runs it."""
    return subprocess.run([sys.executable, "-m", "nnrecipe", *map(str, args)], capture_output=True, check=False,
                          text=True, timeout=120)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"nnrecipe {nr.__version__}"


def test_train_football_and_load_the_model(tmp_path):
    out = tmp_path / "model.npz"
    result = run_cli("train", "football", "--hidden", "20,3", "--l2", "0.7", "--keep-prob", "0.86",
                     "--epochs", "300", "--lr", "0.01", "--optimizer", "adam", "--out", out)
    assert result.returncode == 0, result.stderr
    # as `run` does: train and dev from the course's 211 training rows; its 200 test rows stay locked
    from nnrecipe.data.split import split_dev
    from nnrecipe.datasets import football
    X, y, Xt, yt = football()
    s = split_dev(X, y, (Xt, yt), seed=0)
    assert f"{len(s.train)} train / {len(s.dev)} dev examples" in result.stdout and len(s.train) + len(s.dev) == 211
    assert "the test set (200) stays locked" in result.stdout and "test error" not in result.stdout
    net = nr.load(out)
    assert net.l2 == 0.7 and [type(layer).__name__ for layer in net.layers] == [
        "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    wrong = round(net.error(s.dev.X, s.dev.y) * len(s.dev))
    assert f"dev error {wrong / len(s.dev):.2%} ({wrong}/{len(s.dev)})" in result.stdout
    assert net.normalizer is not None and (net.predict(Xt) == yt).mean() > 0.85


def test_train_csv_multiclass(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    labels = np.array(["cat", "dog", "eel"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    path = tmp_path / "animals.csv"
    path.write_text("a,kind,b\n" + "\n".join(f"{a},{k},{b}" for (a, b), k in zip(X, labels)))
    assert main(["train", str(path), "--target", "kind", "--epochs", "200", "--quiet",
                 "--out", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "90 train / 30 dev" in out and "test set (30) stays locked" in out and "3-class classification" in out
    net = nr.load(tmp_path / "m.npz")                 # the file knows the labels and the columns
    assert net.features == ["a", "b"] and net.classes.tolist() == ["cat", "dog", "eel"]
    assert set(net.predict(X)) <= {"cat", "dog", "eel"} and np.mean(net.predict(X) == labels) > 0.8


def test_train_npz_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    np.savez(tmp_path / "r.npz", X=X, y=X @ [1.0, -2.0, 0.5] + 0.1)
    assert main(["train", str(tmp_path / "r.npz"), "--epochs", "300", "--hidden", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "regression" in out and "train RMSE" in out and "dev RMSE" in out


@pytest.mark.parametrize("content, args, message", [
    ("a,b,label\n1,x,0\n2,y,1\n", ["--target", "label"], "feature column 'b' must be numeric"),
    ("a,label\n1,0\n2,1\n", ["--target", "nope"], "--target must name a column"),
    ("a,label\n1,0\n2\n", ["--target", "label"], "every row must have 2 fields; line 3"),
    ("a,label\n1,0\n2,1\n", [], "--target must name the label column"),
])
def test_bad_csv(tmp_path, capsys, content, args, message):
    path = tmp_path / "d.csv"
    path.write_text(content)
    assert main(["train", str(path), *args, "--quiet"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "run"])
def test_unknown_dataset_lists_the_known_ones(command, capsys):
    assert main([command, "nosuchdata"]) == 2
    assert ("DATA must be a bundled dataset (football, circles, moons, spirals, digits) or an existing file; "
            "got 'nosuchdata'") in capsys.readouterr().err


def test_bad_flag_values(capsys):
    with pytest.raises(SystemExit):
        main(["train", "football", "--hidden", "20,x"])
    assert "comma-separated integers" in capsys.readouterr().err
    assert main(["train", "football", "--keep-prob", "1.5", "--quiet"]) == 2
    assert "keep_prob must be in (0, 1]" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["train", "football", "--seed", "-1"], "argument --seed: must be an integer ≥ 0; got -1"),
    (["demo", "init", "--seed", "-1"], "argument --seed: must be an integer ≥ 0; got -1"),
    (["check-match", "a.csv", "b.csv", "--seed", "-1"], "argument --seed: must be an integer ≥ 0; got -1"),
    (["train", "football", "--epochs", "-5"], "argument --epochs: must be an integer ≥ 1; got -5"),
    (["train", "football", "--batch-size", "0"], "argument --batch-size: must be an integer ≥ 1; got 0"),
    (["train", "football", "--lr", "-0.1"], "argument --lr: must be a number > 0; got -0.1"),
    (["gradcheck", "m.npz", "football", "--examples", "0"], "argument --examples: must be an integer ≥ 1"),
])
def test_bad_numbers_are_usage_errors_before_any_work(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    assert info.value.code == 2 and message in captured.err and captured.out == ""     # no network summary


@pytest.mark.parametrize("out, message", [
    ("nodir/m.npz", "--out must be a file in an existing folder; got "),
    (".", "--out must be a file, not a folder; got "),
])
def test_train_checks_out_before_training(tmp_path, monkeypatch, capsys, out, message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "football", "--epochs", "5", "--out", out]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == "" and list(tmp_path.iterdir()) == []


def test_gradcheck_command(tmp_path):
    out = tmp_path / "m.npz"
    assert run_cli("train", "football", "--epochs", "20", "--keep-prob", "0.9", "--out", out).returncode == 0
    result = run_cli("gradcheck", out, "football", "--dropout", "frozen", "--examples", "32")
    assert result.returncode == 0, result.stderr
    assert "→ ok" in result.stdout and "W1" in result.stdout and "b3" in result.stdout
    fast = run_cli("gradcheck", out, "football", "--mode", "fast")
    assert fast.returncode == 0 and "fast" in fast.stdout
    bad = run_cli("gradcheck", tmp_path / "missing.npz", "football")
    assert bad.returncode == 2 and "existing file" in bad.stderr
