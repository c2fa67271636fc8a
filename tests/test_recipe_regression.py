"""Regression end to end: the task decided and said, RMSE diagnosed in the target's units, the target
standardized for training and folded back into the network, the test RMSE with a bootstrap interval."""

import json

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.data.task import MAX_CLASSES
from nnrecipe.recipe.target import read_target
from nnrecipe.recipe.trainers import _fold


@pytest.mark.parametrize("y, task, words", [
    (np.linspace(0, 10, 100), "regression", "fractional values (0.101"),
    (np.arange(100) * 3 + 25, "regression", "whole numbers with 100 distinct values in 100 rows"),
    (np.arange(100) % 3, "classification", "3 distinct whole numbers; --task regress overrides"),
    (np.arange(100) % 3 + 0.0, "classification", "3 distinct whole numbers"),
    (np.where(np.arange(100) % 2, "yes", "no"), "classification", "labels that are not numbers"),
    (np.arange(1000) % (MAX_CLASSES + 5), "classification", "25 distinct whole numbers"),   # 40 rows a class
])
def test_the_task_is_decided_from_the_target_and_said(y, task, words):
    t = read_target(y, len(y))
    assert t.task == task and words in t.reason
    if task == "regression":
        assert t.y.dtype == np.float64 and t.classes is None and (t.n_out, t.output, t.units) == (1, "linear", "RMSE")
    else:
        assert t.y.dtype.kind == "i" and t.units is None


def test_task_overrides():
    y = np.arange(100) % 3
    assert read_target(y, 100, task="regress").regression
    assert "as asked" in read_target(y, 100, task="regress").reason
    assert not read_target(np.arange(100.0), 100, task="classify").regression


def test_folding_the_target_scale_into_the_output_is_exact():
    net = nr.mlp([3, 8, 1], output="linear", seed=0, dtype="float64")
    X = np.random.default_rng(0).normal(size=(20, 3))
    before = net.predict(X).copy()
    _fold(net, 7.5, -3.0)
    np.testing.assert_allclose(net.predict(X), 7.5 * before - 3.0, rtol=1e-12)
    _fold(net, 1 / 7.5, 3.0 / 7.5)
    np.testing.assert_allclose(net.predict(X), before, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = 1000 + 300 * X[:, 0] - 200 * np.sin(2 * X[:, 1]) + rng.normal(scale=50, size=400)   # noise σ 50
    out = tmp_path_factory.mktemp("reg")
    r = nr.Recipe(verbose=0, out=out, budget=3000).fit(X, y, features=["a", "b", "c"])
    return r, X, y, out


def test_a_regression_run_is_recorded_in_the_targets_units(run):
    r, X, y, out = run
    record = json.loads((out / "run.json").read_text())
    assert record["data"]["kind"] == "regression" and record["units"] == "RMSE" and record["data"]["classes"] is None
    assert r.decisions_[0] == record["data"]["task_reason"] and "fractional values" in r.decisions_[0]
    assert record["tolerance"] == pytest.approx(0.02 * np.std(r.split_.train.y))      # the default, in y's units
    test = record["test"]
    assert test["method"] == "bootstrap" and test["low"] < test["rmse"] < test["high"] and test["error"] == test["rmse"]
    assert len(test["actual"]) == len(test["predicted"]) == test["n"] == len(r.split_.test)
    truth = np.asarray(test["actual"])
    assert test["rmse"] == pytest.approx(np.sqrt(np.mean((np.asarray(test["predicted"]) - truth) ** 2)))
    assert 40 < test["rmse"] < 150                                   # the noise is 50; the target's sd ~ 350
    assert "RMSE" in r.decisions_[-1] and "95% CI" in r.decisions_[-1]


def test_every_error_is_an_rmse_and_the_history_agrees(run):
    r, X, y, _ = run
    for e in r.experiments_:
        assert e.diagnosis.units == "RMSE"
        assert e.diagnosis.avoidable_bias == pytest.approx(e.train_error - r.baseline_error_)
        assert e.history["dev_error"][-1] == pytest.approx(e.dev_error, rel=1e-4)     # RMSE per epoch, y's units
    best = r.best_experiment_
    dev = r.split_.dev
    assert best.dev_error == pytest.approx(np.sqrt(np.mean((best.net.predict(dev.X).reshape(-1) - dev.y) ** 2)),
                                           rel=1e-5)
    assert r.record_["final"]["refit"]["rows"] == len(r.split_.train) + len(dev)      # r.predict: the refit's


def test_the_saved_model_predicts_in_the_targets_units(run):
    r, X, y, out = run
    net = nr.load(out / "model.npz")
    np.testing.assert_allclose(net.predict(X).reshape(-1), r.predict(X), rtol=1e-6)
    assert abs(np.mean(r.predict(X)) - np.mean(y)) < 50


def test_a_torch_trainer_refuses_a_regression_before_any_work():
    nt = pytest.importorskip("nnrecipe.torch")
    X = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.raises(nr.NNRecipeError, match="trainer must be able to fit a regression .* classifies only"):
        nr.Recipe(trainer=nt.TorchTrainer(nt.mlp_factory(2, 1)), verbose=0).fit(X, X[:, 0] * 1.5)


def test_classes_the_data_names_are_not_a_request():
    """Labels given as indices into named classes (the bundled datasets, the CLI's readers) are classes because
    the data says so, not "as asked": the user asked nothing."""
    t = read_target(np.arange(60) % 3, 60, classes=["a", "b", "c"])
    assert not t.regression and t.reason == "task: classification: the data names its 3 classes"
    asked = read_target(np.arange(60) % 3, 60, classes=["a", "b", "c"], task="classify")
    assert asked.reason == "task: classification, as asked (--task classify)"
