"""The automatic recipe: one knob at a time, dev decides, the test set opened once, a resumable record."""

import json

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.recipe import MIN_ROWS, Recipe, trainers
from nnrecipe.recipe.knobs import L2Grid


@pytest.fixture(scope="module")
def football_run(tmp_path_factory):
    t = nr.load_dataset("football")
    out = tmp_path_factory.mktemp("run") / "football"
    return Recipe(out=out, verbose=0).fit(t.X, t.y, test=t.test, name="football", classes=t.classes), out


def test_football_reaches_the_courses_regularized_accuracy(football_run):
    r, _ = football_run
    assert round((1 - r.test_error_) * 200) >= 186     # ≥ 93%; the course: L2 93.0%, dropout 95%
    assert len(r.split_.test_openings) == 1 and r.split_.test_openings[0][1].startswith("final evaluation")


def test_every_experiment_turns_one_knob_and_dev_decides(football_run):
    r, _ = football_run
    first, *rest = r.experiments_
    assert first.knob == "start" and all(e.knob != "start" for e in rest)
    chosen = r.record_["final"]["experiment"]
    best = min(r.experiments_, key=lambda e: e.dev_error)
    assert r.experiments_[chosen - 1].dev_error == best.dev_error and r.best_experiment_.id == chosen
    # the L2 sweep ran on a log grid, each λ a separate experiment that differs from its parent in λ only
    sweep = [e for e in r.experiments_ if e.knob == "l2"]
    assert [e.config.l2 for e in sweep] == list(L2Grid().grid)
    assert len({e.config.key() for e in sweep}) == len(sweep)
    assert len({json.dumps({k: v for k, v in e.to_dict()["config"].items() if k != "l2"}) for e in sweep}) == 1
    assert r.record_["lambda_sweep"] and r.record_["decisions"][-1].startswith("chose experiment")


def test_the_record_is_on_disk_with_every_model(football_run):
    r, out = football_run
    record = json.loads((out / "run.json").read_text())
    assert record["format"] == "nnrecipe-run" and len(record["experiments"]) == len(r.experiments_)
    assert record["cv"]["folds"] == 3                # 53 dev rows cannot resolve 2 points: cross-validated
    stem = lambda e: e["model"].rsplit(".", 1)[0]
    assert all((out / f"{stem(e)}-fold{i}.npz").exists() for e in record["experiments"] for i in range(1, 4))
    net = nr.load(out / "model.npz")
    t = nr.load_dataset("football")
    assert net.error(*t.test) == pytest.approx(r.test_error_)       # the normalizer travels with the model
    assert record["test"]["n"] == 200 and record["spent_epochs"] == (sum(e["spent"] for e in record["experiments"])
                                                                      + record["final"]["refit"]["epochs"])
    test = record["test"]            # the 95% Wilson interval around the error, from the count of errors
    assert test["method"] == "wilson" and test["errors"] == round(test["error"] * 200)
    assert test["low"] < test["error"] < test["high"]
    assert test["interval"] == pytest.approx((test["high"] - test["low"]) / 2)


def test_resume_reuses_recorded_experiments_without_training(football_run, monkeypatch):
    r, out = football_run

    def no_training(*args, **kwargs):
        raise AssertionError("a resumed experiment was trained again")

    monkeypatch.setattr(trainers, "fit", no_training)
    t = nr.load_dataset("football")
    recorded = json.loads((out / "run.json").read_text())["test"]
    again = Recipe(out=out, resume=True, verbose=0).fit(t.X, t.y, test=t.test, name="football", classes=t.classes)
    assert again.test_error_ == r.test_error_
    assert [e.dev_error for e in again.experiments_] == [e.dev_error for e in r.experiments_]
    # a finished run with the same choice: the recorded test result, the test set not opened again
    assert again.split_.test_openings == [] and not again.record_["warnings"]
    assert json.loads((out / "run.json").read_text())["test"] == recorded
    assert "not opened again" in again.decisions_[-1]


def test_resume_that_chooses_otherwise_opens_the_test_set_again_and_says_so(tmp_path, monkeypatch):
    t = nr.load_dataset("football")
    first = Recipe(out=tmp_path, verbose=0, budget=600).fit(t.X, t.y, test=t.test, classes=t.classes)
    opened = first.record_["test"]["openings"][0]
    with pytest.warns(nr.TestSetWarning, match="opened 2 times"):       # no budget: more experiments
        again = Recipe(out=tmp_path, resume=True, verbose=0).fit(t.X, t.y, test=t.test,
                                                                 classes=t.classes)
    assert again.best_experiment_.config != first.best_experiment_.config
    test = json.loads((tmp_path / "run.json").read_text())["test"]
    assert len(test["openings"]) == 2 and test["openings"][0] == opened and test["opened_at"] == opened["at"]
    assert "test set opened 2 times" in again.decisions_[-2] and again.record_["warnings"]


def test_an_existing_run_is_refused_unless_resume_or_force(football_run):
    _, out = football_run
    t = nr.load_dataset("football")
    with pytest.raises(nr.NNRecipeError, match="holds another run .* --resume .* --force"):
        Recipe(out=out, verbose=0).fit(t.X, t.y, test=t.test)


def test_force_starts_over(tmp_path):
    t = nr.load_dataset("moons", n=200)
    Recipe(out=tmp_path, verbose=0, budget=700).fit(t.X, t.y)
    (tmp_path / "models" / "stale.npz").write_bytes(b"x")
    r = Recipe(out=tmp_path, force=True, verbose=0, budget=700).fit(t.X, t.y)
    refit = (r.record_["final"].get("refit") or {}).get("epochs", 0)       # a cross-validated run's, on top
    assert not (tmp_path / "models" / "stale.npz").exists() and r.record_["spent_epochs"] - refit <= 700


def test_budget_is_respected_and_said(tmp_path):
    t = nr.load_dataset("moons", n=300, noise=0.35)
    r = Recipe(verbose=0, budget=1300).fit(t.X, t.y)
    assert r.record_["spent_epochs"] <= 1300
    assert any(d.startswith("skipped") and "budget of 1300" in d for d in r.decisions_)
    # every knob left was skipped for want of epochs: the stop line says the budget, not "no knob is left"
    [stop] = [d for d in r.decisions_ if d.startswith("stop:")]
    assert "the budget of 1300 epochs is spent" in stop and "knob of the recipe is left" not in stop


def test_images_get_the_augmentation_knob_when_variance_stays_high():
    t = nr.load_dataset("digits", images=True)
    keep = np.random.default_rng(0).permutation(len(t.X))[:400]          # small: variance stays high
    r = Recipe(verbose=0, tolerance=0.005).fit(t.X[keep], t.y[keep], classes=t.classes)
    assert "augment" in [e.knob for e in r.experiments_]
    cv = r.record_["cv"]                  # cross-validated: a fold trains on all train+dev but its own rows
    assert r.record_["learning_curve"]["sizes"][-1] == (cv["rows"] - cv["rows"] // cv["folds"] if cv
                                                         else len(r.split_.train))


TWO = np.arange(60) % 2
VALUES = np.linspace(0, 1, 60)


@pytest.mark.parametrize("kwargs, X, y, message", [
    ({"baseline_error": 1.0}, np.zeros((60, 2)), TWO, r"baseline_error must be in \[0, 1\)"),
    ({"baseline_error": -0.1}, np.zeros((60, 2)), TWO, r"baseline_error must be in \[0, 1\)"),
    ({"baseline_error": -1.0}, np.zeros((60, 2)), VALUES, r"baseline_error must be a finite number ≥ 0 in the "
                                                           r"target's units \(RMSE\)"),
    ({"tolerance": float("nan")}, np.zeros((60, 2)), VALUES, "tolerance must be a finite number ≥ 0"),
    ({"budget": 0}, np.zeros((60, 2)), TWO, "budget must be"),
    ({}, np.zeros((MIN_ROWS - 1, 2)), np.zeros(MIN_ROWS - 1, int), f"at least {MIN_ROWS} rows"),
    ({}, np.zeros((60, 2)), np.zeros(60, int), r"at least 2 classes to train a classifier; got 1 class \(0\)"),
    ({"task": "classify"}, np.zeros((60, 2)), VALUES, "y must be class labels .* task='regress'.* got 0.0169"),
    ({"task": "regress"}, np.zeros((60, 2)), np.where(TWO, "a", "b"), "y must be numbers for a regression; "
                                                                      "got 'b' at row 0"),
    ({"task": "regress"}, np.zeros((60, 2)), np.r_[VALUES[:59], np.nan], "finite numbers .* got nan at row 59"),
    ({"task": "sideways"}, np.zeros((60, 2)), TWO, "task must be 'auto', 'classify' or 'regress'"),
    ({}, np.zeros((60, 2)), np.zeros(59, int), r"shape \(60,\)"),
])
def test_bad_input(kwargs, X, y, message):
    with pytest.raises(nr.NNRecipeError, match=message):
        Recipe(verbose=0, **kwargs).fit(X, y)
