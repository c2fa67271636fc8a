"""`nnrecipe run` and `nnrecipe runs`: the main job from the command line."""

import json

import numpy as np
import pytest

from nnrecipe.cli import main
from nnrecipe.data.io import write_data


def test_run_football_writes_the_record_the_model_and_the_report(tmp_path, capsys):
    out = tmp_path / "fb"
    assert main(["run", "football", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    assert record["test"]["n"] == 200 and round((1 - record["test"]["error"]) * 200) >= 186     # ≥ 93%
    assert f"test error {record['test']['error']:.2%}" in text
    html = (out / "report.html").read_text()
    assert all(f'id="{s}"' in html for s in ("summary", "cost", "errors", "bias-variance", "decisions", "test"))
    assert (out / "model.npz").exists() and (out / "figures" / "boundary.png").exists()

    assert main(["run", "football", "--out", str(out), "--quiet"]) == 2                 # holds a run
    assert "--resume" in capsys.readouterr().err
    assert main(["run", "football", "--out", str(out), "--quiet", "--resume"]) == 0
    assert json.loads((out / "run.json").read_text())["test"]["error"] == record["test"]["error"]

    assert main(["runs", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "start" in listing and "l2" in listing
    assert main(["runs", str(tmp_path)]) == 0 and "football" in capsys.readouterr().out


def test_run_digits_reaches_97_percent(tmp_path, capsys):
    assert main(["run", "digits", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    record = json.loads((tmp_path / "d" / "run.json").read_text())
    assert 1 - record["test"]["error"] >= 0.97 and record["data"]["images"]


def test_run_refuses_data_too_small_to_split(tmp_path, capsys):
    rng = np.random.default_rng(0)
    write_data(tmp_path / "tiny.csv", rng.normal(size=(20, 2)), np.arange(20) % 2, ["a", "b"], "label")
    assert main(["run", str(tmp_path / "tiny.csv"), "--target", "label", "--out", str(tmp_path / "r")]) == 2
    assert "at least 50 rows" in capsys.readouterr().err


def test_run_rejects_a_bad_baseline(capsys):
    assert main(["run", "football", "--baseline-error", "1.5", "--quiet"]) == 2
    assert "baseline_error must be in [0, 1)" in capsys.readouterr().err


def test_runs_on_a_folder_without_runs(tmp_path, capsys):
    assert main(["runs", str(tmp_path)]) == 2
    assert "holds no run.json" in capsys.readouterr().err


def test_demo_vanishing_prints_its_table_and_writes_its_figure(tmp_path, capsys):
    assert main(["demo", "vanishing", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1.5·I, linear" in out and "He, ReLU" in out and (tmp_path / "vanishing.png").exists()


def test_run_logs_to_mlflow_when_asked(tmp_path, capsys, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    assert main(["run", "circles", "--out", str(tmp_path / "c"), "--quiet", "--mlflow", uri]) == 0
    assert "logged to MLflow" in capsys.readouterr().out
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "nnrecipe"]
    assert client.search_runs([experiment.experiment_id])


def test_run_on_a_folder_of_images_and_a_csv_with_text_labels(tmp_path):
    from PIL import Image

    import nnrecipe as nr
    d = nr.load_dataset("digits", images=True)
    keep = np.flatnonzero(d.y < 2)[:120]
    for i in keep:
        folder = tmp_path / "imgs" / ("zero" if d.y[i] == 0 else "one")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((d.X[i] * 16).clip(0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    assert main(["run", str(tmp_path / "imgs"), "--out", str(tmp_path / "r1"), "--quiet", "--budget", "600"]) == 0
    record = json.loads((tmp_path / "r1" / "run.json").read_text())
    assert record["data"]["images"] and record["data"]["classes"] == ["one", "zero"]
    assert record["test"]["error"] <= 0.1

    t = nr.load_dataset("moons", n=200)
    write_data(tmp_path / "m.csv", t.X, np.array(["a", "b"])[t.y], ["u", "v"], "kind")
    assert main(["run", str(tmp_path / "m.csv"), "--target", "kind", "--out", str(tmp_path / "r2"), "--quiet",
                 "--budget", "600"]) == 0
    assert json.loads((tmp_path / "r2" / "run.json").read_text())["data"]["classes"] == ["a", "b"]
