"""`nnrecipe run` and `nnrecipe runs`: the main job from the command line."""

import json
import warnings

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
    assert f"test error {record['test']['error']:.2%} (95% CI " in text
    # against the estimated baseline (football's label noise) the run no longer ends at "high bias"
    assert record["baseline"]["method"] != "given" and record["final"]["diagnosis"]["case"] != "high bias"
    headline = next(line for line in text.splitlines() if " epochs over " in line)
    assert headline.startswith(record["final"]["diagnosis"]["case"]) and "high bias" not in headline
    refit, n_exp = record["final"]["refit"]["epochs"], len(record["experiments"])     # 3 folds, then the refit
    assert headline.endswith(f"{record['spent_epochs'] - refit} epochs over {n_exp} experiments and {refit} to "
                             "refit the choice on train+dev")
    html = (out / "report.html").read_text()
    assert all(f'id="{s}"' in html for s in ("summary", "cost", "errors", "bias-variance", "decisions", "test"))
    assert (out / "model.npz").exists() and (out / "figures" / "boundary.png").exists()

    assert main(["run", "football", "--out", str(out), "--quiet"]) == 2                 # holds a run
    assert "--resume" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # a finished run: its recorded result, the test set stays shut
        assert main(["run", "football", "--out", str(out), "--quiet", "--resume"]) == 0
    assert "not opened again" in capsys.readouterr().out
    again = json.loads((out / "run.json").read_text())
    assert again["test"] == record["test"] and again["spent_epochs"] == record["spent_epochs"]

    assert main(["runs", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "start" in listing and "l2" in listing
    assert main(["runs", str(tmp_path)]) == 0 and "football" in capsys.readouterr().out


def test_the_same_command_twice_makes_two_numbered_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["run", "football", "--quiet", "--budget", "600"]) == 0     # the README's command, twice
    assert (tmp_path / "runs" / "football" / "run.json").exists()
    assert (tmp_path / "runs" / "football-2" / "run.json").exists()
    assert "football-2" in capsys.readouterr().out
    assert main(["run", "football", "--quiet", "--budget", "600", "--resume"]) == 0      # the newest one
    assert "runs/football-2" in capsys.readouterr().out.replace("\\", "/")
    assert not (tmp_path / "runs" / "football-3").exists()


def test_run_digits_reaches_97_percent(tmp_path, capsys):
    assert main(["run", "digits", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    record = json.loads((tmp_path / "d" / "run.json").read_text())
    assert 1 - record["test"]["error"] >= 0.97 and record["data"]["images"]
    # its dev error sits inside the estimated Bayes error's interval: the headline and the record say so
    assert record["final_note"].startswith("no avoidable error left that the data can show: dev ")
    assert "high variance (within the estimated irreducible error)" in capsys.readouterr().out


def test_run_refuses_data_too_small_to_split(tmp_path, capsys):
    rng = np.random.default_rng(0)
    write_data(tmp_path / "tiny.csv", rng.normal(size=(20, 2)), np.arange(20) % 2, ["a", "b"], "label")
    assert main(["run", str(tmp_path / "tiny.csv"), "--target", "label", "--out", str(tmp_path / "r")]) == 2
    assert "at least 50 rows" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, message", [
    ("--baseline-error", "1.5", "--baseline-error must be in [0, 1); got 1.5"),
    ("--tolerance", "-1", "--tolerance must be in [0, 1); got -1.0"),
    ("--cv", "1", '--cv must be "auto", 0 (decide on dev) or a number of folds ≥ 2; got 1')])
def test_run_names_the_flag_of_a_bad_option(capsys, tmp_path, flag, value, message):
    assert main(["run", "football", flag, value, "--quiet", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and not (tmp_path / "r" / "models").exists()         # before any training


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


def fake_run(folder, name="football"):
    """A run folder whose run.json holds what `runs` shows (no training needed)."""
    cases = ["high variance", "high bias and high variance", "high bias"]
    experiments = [{"id": i + 1, "knob": "start" if i == 0 else "l2", "why": f"variance 8.2% > 2.0%: L2 λ = {l2:g}",
                    "config": {"hidden": [16, 8], "l2": l2, "keep_prob": 1.0}, "epochs": 600,
                    "train_error": 0.0127 * (i + 1), "dev_error": dev, "diagnosis": {"case": cases[i]}}
                   for i, (l2, dev) in enumerate([(0.0, 0.0943396), (0.3, 0.1132075), (1.0, 0.0566037)])]
    record = {"data": {"name": name}, "created": "2026-01-02T03:04:05+00:00", "baseline_error": 0.0,
              "experiments": experiments, "final": {"experiment": 3}, "spent_epochs": 1800,
              "test": {"error": 0.07, "n": 200, "errors": 14, "opened_at": "2026-01-02T03:04:05+00:00",
                       "openings": [{"at": "2026-01-02T03:04:05+00:00"}]}}
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(record))


def test_runs_at_80_columns_keeps_every_number_whole(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    fake_run(tmp_path / "fb")
    assert main(["runs", str(tmp_path / "fb")]) == 0
    out = capsys.readouterr().out
    table = out.splitlines()[1:6]                         # header, rule, the rows of the first two experiments
    assert max(map(len, table)) <= 80 and "…" not in out
    assert all(text in out for text in ("9.43%", "11.32%", "5.66%", "1.27%", "3.81%", "16,8", "start", "600"))
    assert "  2  variance 8.2% > 2.0%: L2 λ = 0.3" in out            # why: one line per experiment, below
    assert "test error 7.00% (95% CI 4.22–11.41%, n = 200) (opened once, 2026-01-02T03:04:05+00:00)" in out
    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and all(text in out for text in ("football", "2026-01-02 03:04", "1800", "5.66%", "7.00%"))


@pytest.mark.parametrize("damage, why", [("{bad", "JSONDecodeError"), ('{"x": 1}', "no field 'experiments'"),
                                         ('{"experiments": 3, "data": {"name": "n"}}', "TypeError")])
def test_runs_lists_the_good_runs_and_marks_a_damaged_one(tmp_path, capsys, damage, why):
    fake_run(tmp_path / "a")
    fake_run(tmp_path / "b")
    (tmp_path / "b" / "run.json").write_text(damage)
    assert main(["runs", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "football" in captured.out and "unreadable run.json" in captured.out
    assert f"{tmp_path / 'b' / 'run.json'} is not a readable run record ({why}" in captured.err
    assert main(["runs", str(tmp_path / "b")]) == 2
    assert f"nnrecipe: error: {tmp_path / 'b' / 'run.json'} is not a readable run record" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["run", "circles"], ["demo", "init"]])
def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, command):
    (tmp_path / "num.csv").write_text("a\n1\n")
    for out, given in (("num.csv", "a file"), ("num.csv/sub", f"inside the file {str(tmp_path / 'num.csv')!r}")):
        assert main([*command, "--out", str(tmp_path / out)]) == 2
        captured = capsys.readouterr()
        assert f"--out must be a folder (new or existing); got {str(tmp_path / out)!r}, {given}" in captured.err
        assert captured.out == ""


def test_mlflow_store_is_checked_before_the_run(tmp_path, capsys, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)       # MLflow ≥ 3.x then refuses file stores
    out = tmp_path / "c"
    assert main(["run", "circles", "--out", str(out), "--quiet", "--mlflow", f"file:{tmp_path / 'mlruns'}"]) == 2
    assert "MLFLOW_ALLOW_FILE_STORE" in capsys.readouterr().err and not out.exists()
