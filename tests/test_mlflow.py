"""nnrecipe.adapters.mlflow.log_run: a finished run logged to a file-based MLflow store, read back."""

import builtins
import json
import math
import os
import re
import socket
from types import SimpleNamespace

import pytest

import nnrecipe as nr
from nnrecipe.adapters.mlflow import MISSING, check, log_run
from nnrecipe.recipe import Recipe
from nnrecipe.errors import NNRecipeError
from nnrecipe.report import write_report


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    mlflow = pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    tmp = tmp_path_factory.mktemp("mlflow")
    moons = nr.load_dataset("moons", n=200)
    out = tmp / "run"
    # a budget of more than one experiment, decided on dev (one training each)
    r = Recipe(out=out, verbose=0, budget=1200, cv=0).fit(moons.X, moons.y, name="moons", features=moons.features,
                                                     classes=moons.classes)
    write_report(out, r.record_, net=r.best_, X=r.split_.train.X, y=r.split_.train.y)
    uri = f"file:{tmp / 'mlruns'}"
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")     # MLflow ≥ 3.x refuses file stores without it
        batch = MlflowClient.log_batch
        mp.setattr(MlflowClient, "log_batch", lambda self, run_id, **kw: calls.append(kw) or batch(self, run_id, **kw))
        mp.setattr(MlflowClient, "log_metric", lambda *a, **kw: pytest.fail("one HTTP call per value"))
        before = mlflow.get_tracking_uri()
        run_id = log_run(out, r.record_, uri)
        assert mlflow.get_tracking_uri() == before and mlflow.active_run() is None    # global state untouched
        client = MlflowClient(tracking_uri=uri)
        parent = client.get_run(run_id)
        children = client.search_runs([parent.info.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
        histories = {c.info.run_name: {k: client.get_metric_history(c.info.run_id, k)
                                       for k in ("cost", "penalty", "train_error", "dev_cost", "dev_error")}
                     for c in children}
        artifacts = {a.path for a in client.list_artifacts(run_id)}
        figures = {a.path for a in client.list_artifacts(run_id, "figures")}
        child_artifacts = {c.info.run_name: {a.path for a in client.list_artifacts(c.info.run_id, "model")}
                           for c in children}
    return SimpleNamespace(record=r.record_, parent=parent, children=children, histories=histories,
                           artifacts=artifacts, figures=figures, child_artifacts=child_artifacts, calls=calls)


def test_parent_run_holds_the_record(logged):
    record, parent = logged.record, logged.parent
    final = next(e for e in record["experiments"] if e["id"] == record["final"]["experiment"])
    p, m, t = parent.data.params, parent.data.metrics, parent.data.tags
    assert parent.info.run_name == f"moons {record['created']}"
    assert parent.info.status == "FINISHED"
    assert p["data.name"] == "moons" and p["data.n"] == "200"
    assert [p[f"split.{k}"] for k in ("train", "dev", "test")] == [str(record["split"][k]) for k in
                                                                    ("train", "dev", "test")]
    assert float(p["baseline_error"]) == record["baseline_error"] and p["seed"] == "0"
    assert p["hidden"] == ",".join(map(str, final["config"]["hidden"]))
    assert float(p["l2"]) == final["config"]["l2"] and float(p["lr"]) == final["config"]["lr"]
    assert p["optimizer"] == "adam" and int(p["epochs"]) == final["config"]["epochs"]
    assert p["batch_size"] == str(final["config"]["batch_size"])     # (None, full batch, would be skipped)
    assert m["test_error"] == record["test"]["error"]
    assert m["test_low"] == pytest.approx(record["test"]["low"]) and m["test_high"] == pytest.approx(record["test"]["high"])
    assert m["dev_error"] == pytest.approx(final["dev_error"]) and m["train_error"] == pytest.approx(final["train_error"])
    assert m["variance"] == pytest.approx(record["final"]["diagnosis"]["variance"])
    assert m["spent_epochs"] == record["spent_epochs"]
    assert t["nnrecipe.case"] == record["final"]["diagnosis"]["case"]
    assert t["nnrecipe.match"] == record["match"]["verdict"]
    assert t["nnrecipe.version"] == nr.__version__


def test_one_child_per_experiment_with_its_history(logged):
    record, children = logged.record, logged.children
    assert len(record["experiments"]) >= 2
    assert sorted(c.info.run_name for c in children) == [f"exp{e['id']:02d}" for e in record["experiments"]]
    for e in record["experiments"]:
        name = f"exp{e['id']:02d}"
        child = next(c for c in children if c.info.run_name == name)
        assert child.data.tags["nnrecipe.knob"] == e["knob"] and child.data.tags["nnrecipe.why"] == e["why"]
        assert float(child.data.params["l2"]) == e["config"]["l2"]
        for key, history in logged.histories[name].items():
            assert len(history) == e["epochs"] == len(e["history"][key])
            steps = sorted(history, key=lambda metric: metric.step)
            assert [metric.step for metric in steps] == list(range(e["epochs"]))
            assert [metric.value for metric in steps] == pytest.approx(e["history"][key], nan_ok=True)
        assert logged.child_artifacts[name] == {f"model/{e['model'].split('/')[-1]}"}
    # a few log_batch calls, ≤ 1000 values each: one for the parent, ⌈5·epochs/1000⌉ per child
    assert len(logged.calls) == 1 + sum(math.ceil(5 * e["epochs"] / 1000) for e in record["experiments"])
    assert max(len(kw.get("metrics", ())) for kw in logged.calls) <= 1000


def test_artifacts_hold_the_run_folder(logged):
    assert {"report.html", "run.json", "model.npz", "figures"} <= logged.artifacts
    assert logged.figures and all(f.startswith("figures/") and f.endswith(".png") for f in logged.figures)


def test_missing_mlflow_says_how_to_install(monkeypatch, tmp_path):
    real = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(NNRecipeError) as info:
        log_run(tmp_path, {"experiments": []}, f"file:{tmp_path / 'mlruns'}")
    assert str(info.value) == MISSING == "--mlflow needs the mlflow extra: pip install 'nnrecipe[mlflow]'"
    with pytest.raises(NNRecipeError, match=re.escape(MISSING)):
        check(f"file:{tmp_path / 'mlruns'}")


def test_refusing_store_becomes_an_nnrecipe_error(tmp_path):
    pytest.importorskip("mlflow")
    record = {"data": {"name": "tiny"}, "split": {}, "experiments": [{"id": 1, "config": {}, "train_error": 0.1,
                                                                       "dev_error": 0.2, "epochs": 0}]}
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps(record))
    with pytest.raises(NNRecipeError, match="MLflow at"):
        log_run(tmp_path / "run", None, "nosuchscheme://nowhere")


def test_check_opens_the_store_before_a_run(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    uri = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(NNRecipeError, match=f"MLflow at {re.escape(repr(uri))} cannot take the run: .*"
                                            "MLFLOW_ALLOW_FILE_STORE=true"):
        check(uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    check(uri)                                                          # the store is created: no error
    assert (tmp_path / "mlruns").is_dir()
    with pytest.raises(NNRecipeError, match="MLflow at 'nosuchscheme://nowhere' cannot take the run"):
        check("nosuchscheme://nowhere")


def test_check_asks_an_unreachable_server_once(monkeypatch):
    pytest.importorskip("mlflow")
    with socket.socket() as s:                                          # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    sent = []
    from mlflow.utils import rest_utils
    real = rest_utils.http_request
    monkeypatch.setattr(rest_utils, "http_request", lambda *a, **kw: sent.append(
        rest_utils.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get()) or real(*a, **kw))
    with pytest.raises(NNRecipeError, match=f"MLflow at 'http://127.0.0.1:{port}' cannot take the run"):
        check(f"http://127.0.0.1:{port}")
    assert sent == [0] and "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ     # no retries; env restored
