"""run.json files of version 1 (written before the recipe's records moved to nr.Experiment) still open:
listed, rendered, read back as Experiments, and resumed without training or opening the test set."""

import json
import shutil
from pathlib import Path

import pytest

import nnrecipe as nr
from nnrecipe.cli import main
from nnrecipe.recipe import trainers
from nnrecipe.report import write_report

FIXTURE = Path(__file__).parent / "fixtures" / "run_v1"      # nnrecipe 0.1.0 before this change, football


@pytest.fixture
def v1(tmp_path):
    out = tmp_path / "football"
    shutil.copytree(FIXTURE, out)
    return out


def test_the_fixture_is_a_version_1_record(v1):
    record = json.loads((v1 / "run.json").read_text())
    assert record.get("version") == 1 and "dev_cost" not in record["experiments"][0]


def test_version_1_rows_read_back_as_experiments(v1):
    record = json.loads((v1 / "run.json").read_text())
    for row in record["experiments"]:
        e = nr.Experiment.from_dict(row)
        assert (e.id, e.knob, e.dev_error, e.train_error) == (row["id"], row["knob"], row["dev_error"],
                                                            row["train_error"])
        assert e.dev_cost == row["history"]["dev_cost"][-1] and e.config.hidden == tuple(row["config"]["hidden"])
        assert e.diagnosis.case == row["diagnosis"]["case"]


def test_runs_lists_and_the_report_renders_a_version_1_run(v1, capsys):
    assert main(["runs", str(v1)]) == 0
    assert "start" in capsys.readouterr().out
    page = write_report(v1, json.loads((v1 / "run.json").read_text())).read_text()
    assert "not run: this part of the record could not be read" not in page


def test_resume_of_a_version_1_run_trains_nothing_and_keeps_its_test_result(v1, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a recorded experiment was trained again")

    monkeypatch.setattr(trainers, "fit", no_training)
    before = json.loads((v1 / "run.json").read_text())
    t = nr.load_dataset("football")
    r = nr.Recipe(out=v1, resume=True, verbose=0, budget=before["budget"]).fit(t.X, t.y, test=t.test,
                                                                             name="football", classes=t.classes)
    after = json.loads((v1 / "run.json").read_text())
    assert after["version"] == 3 and after["test"] == before["test"] and r.split_.test_openings == []
    assert [e["dev_error"] for e in after["experiments"]] == [e["dev_error"] for e in before["experiments"]]
    assert after["final"]["experiment"] == before["final"]["experiment"]
