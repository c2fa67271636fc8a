"""The command line, run as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "nnrecipe.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"nnrecipe {nr.__version__}"


def test_train_football_and_load_the_model(tmp_path):
    out = tmp_path / "model.npz"
    result = run_cli("train", "football", "--hidden", "20,3", "--l2", "0.7", "--keep-prob", "0.86",
                     "--epochs", "300", "--lr", "0.01", "--optimizer", "adam", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "211 train / 200 test" in result.stdout and "train" in result.stdout and "test" in result.stdout
    net = nr.load(out)
    assert net.l2 == 0.7 and [type(layer).__name__ for layer in net.layers] == [
        "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    from nnrecipe.datasets import football
    _X, _y, Xt, yt = football()
    assert net.normalizer is not None and (net.predict(Xt) == yt).mean() > 0.85
    wrong = int(round(net.error(Xt, yt) * 200))
    assert f"test error {wrong / 200:.2%} ({wrong}/200)" in result.stdout


def test_train_csv_multiclass(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    labels = np.array(["cat", "dog", "eel"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    path = tmp_path / "animals.csv"
    path.write_text("a,kind,b\n" + "\n".join(f"{a},{k},{b}" for (a, b), k in zip(X, labels)))
    assert main(["train", str(path), "--target", "kind", "--epochs", "200", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "90 train / 30 dev" in out and "test set (30) stays locked" in out and "3-class classification" in out


def test_train_npz_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    np.savez(tmp_path / "r.npz", X=X, y=X @ [1.0, -2.0, 0.5] + 0.1)
    assert main(["train", str(tmp_path / "r.npz"), "--epochs", "300", "--hidden", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "regression" in out and "mean squared error" in out


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
