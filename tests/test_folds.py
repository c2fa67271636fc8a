"""Cross-validation for small data (recipe/folds.py) and its place in the recipe: folds, the fold ensemble,
the combined result, the refit, resume from fold models, and bad input."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnrecipe as nr
from nnrecipe.doctor.diagnose import error_interval
from nnrecipe.recipe import Result
from nnrecipe.recipe.experiment import Config
from nnrecipe.recipe.executors import Shared, train
from nnrecipe.recipe.folds import FoldModels, combine, dev_half_width, make_folds, subsample
from nnrecipe.recipe.trainers import TrainData


# ---- the folds -------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(st.integers(2, 4), st.lists(st.integers(5, 30), min_size=2, max_size=4), st.integers(0, 10))
def test_folds_partition_the_rows_and_keep_each_class_share(k, counts, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    folds, used, note = make_folds(y, k, seed, regression=False)
    assert used == k and note is None and len(folds) == k
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(len(y)))       # disjoint, all rows
    for val in folds:                                                               # stratified: ±1 row
        for c, n_c in enumerate(counts):
            assert abs(np.sum(y[val] == c) - n_c / k) < 1
    again, _, _ = make_folds(y, k, seed, regression=False)
    assert all(np.array_equal(a, b) for a, b in zip(folds, again))                 # seeded


def test_a_class_with_fewer_rows_than_folds_gives_fewer_folds_and_says_so():
    y = np.array([0] * 20 + [1] * 3)
    folds, k, note = make_folds(y, 5, 0, regression=False)
    assert k == 3 and len(folds) == 3
    assert note == "5-fold cross-validation needs 5 rows of every class; the rarest has 3: 3 folds"
    assert all(np.sum(y[val] == 1) == 1 for val in folds)


def test_a_class_of_one_row_cannot_be_cross_validated():
    with pytest.raises(nr.NNRecipeError, match="y must be at least 2 rows of every class"):
        make_folds(np.array([0] * 10 + [1]), 5, 0, regression=False)


def test_regression_folds_are_stratified_on_target_quantiles():
    y = np.arange(100.0)
    folds, k, _ = make_folds(y, 5, 0, regression=True)
    assert k == 5
    for val in folds:              # every fold gets low, middle and high targets
        assert y[val].min() < 20 and y[val].max() >= 80


def test_dev_half_width_known_values():
    low, high = error_interval(10, 100)
    assert dev_half_width(100, 0.1, regression=False) == pytest.approx((high - low) / 2)
    assert dev_half_width(50, 2.0, regression=True) == pytest.approx(1.959964 * 2 / 10, rel=1e-6)


# ---- the fold ensemble and the combined result ----------------------------------------------
class _Loss:
    classifier = True


class Fixed:
    """A model with fixed class probabilities for every row."""
    loss = _Loss()

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, X):
        return np.tile(self.proba, (len(X), 1))

    def predict(self, X):
        return np.full(len(X), int(np.argmax(self.proba)))


def test_the_fold_ensemble_averages_probabilities_not_votes():
    # two models vote class 0 (weakly), one votes class 1 (strongly): the mean probability picks 1
    models = [Fixed([0.55, 0.45]), Fixed([0.55, 0.45]), Fixed([0.05, 0.95])]
    assert FoldModels(models, np.zeros(3)).predict(np.zeros((4, 2))).tolist() == [1, 1, 1, 1]


class Values:
    def __init__(self, v):
        self.v = v

    def predict(self, X):
        return np.full(len(X), self.v)


def test_the_fold_ensemble_of_regressors_averages_values():
    assert FoldModels([Values(1.0), Values(4.0)], np.zeros(2)).predict(np.zeros((3, 1))).tolist() == [2.5] * 3


class Echo:
    """A scripted trainer: its model predicts 0 for the rows of the first fold's dev set, else the truth;
    one fold stops early (a plateau)."""
    regresses = True

    def __init__(self):
        self.calls = []

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        self.calls.append((len(data.y), len(data.y_dev), warm))
        n = epochs - (len(self.calls) == 2)                    # the second fold stops one epoch early
        truth = {tuple(r): t for r, t in zip(np.asarray(data.X_dev), data.y_dev)}
        first = len(self.calls) == 1

        class Model:
            def predict(self, X):
                return np.array([0 if first else truth.get(tuple(r), 0) for r in np.asarray(X)])

        history = {"cost": [1.0 + i for i in range(n)], "penalty": [0.0] * n, "train_error": [0.1] * n,
                   "dev_cost": [float(len(self.calls))] * n, "dev_error": [0.2] * n}
        return Result(Model(), history, n, 0.1 * len(self.calls), 0.2, float(len(self.calls)))


def test_cross_validate_combines_the_folds():
    X = np.arange(40.0).reshape(20, 2)
    y = np.array([0, 1] * 10)
    folds, k, _ = make_folds(y, 4, 0, regression=False)
    like = TrainData(X[:1], y[:1], X[:1], y[:1], None, 1)
    t = Echo()
    shared, cfg = Shared(like, (X, y), tuple(folds)), Config(hidden=(4,), epochs=3, batch_size=None)
    r = combine([train(t, cfg, shared, i, 3, 0) for i in range(len(folds))], folds, X, y, regression=False)
    assert [c[:2] for c in t.calls] == [(15, 5)] * 4                       # each fold: the rest trains
    assert isinstance(r.model, FoldModels) and len(r.model.models) == 4
    wrong_first = np.sum(y[folds[0]] != 0)                                 # fold 1's model predicts 0
    assert r.dev_error == pytest.approx(wrong_first / 20)                 # out-of-fold, over all rows
    assert r.epochs == 3 and r.spent == 3 + 2 + 3 + 3
    assert r.train_error == pytest.approx(np.mean([0.1, 0.2, 0.3, 0.4]))
    assert r.dev_cost == pytest.approx(2.5)
    assert r.history["cost"] == pytest.approx([1.0, 2.0, (3 + 2 + 3 + 3) / 4])   # fold 2 padded with its last
    assert r.stop_reason is None                                           # not every fold stopped


def test_subsample_keeps_the_same_rows_for_the_same_seed():
    d = TrainData(np.arange(20.0).reshape(10, 2), np.arange(10), np.zeros((2, 2)), np.zeros(2), None, 1)
    a, b = subsample(d, 0.5, 3), subsample(d, 0.5, 3)
    assert len(a.y) == 5 and np.array_equal(a.y, b.y) and a.X_dev is d.X_dev
    assert subsample(d, 1.0, 3) is d


# ---- in the recipe: real training, small ------------------------------------------------------
def _table(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def test_a_small_dev_set_switches_to_cross_validation_and_refits(tmp_path):
    X, y = _table()
    r = nr.Recipe(verbose=0, budget=1500, seed=0, out=tmp_path / "run").fit(X, y)
    cv = r.record_["cv"]
    assert cv["folds"] == 3 and cv["rows"] == len(r.split_.train) + len(r.split_.dev)
    line = next(d for d in r.decisions_ if "cross-validation over train+dev" in d)
    assert "wider than the tolerance of 2.0%" in line
    assert all(e.folds == 3 and e.spent >= e.epochs for e in r.experiments_)
    refit = r.record_["final"]["refit"]
    assert refit["rows"] == cv["rows"] and r.best_ is not r.best_experiment_.net
    assert r.record_["spent_epochs"] == sum(e.spent for e in r.experiments_) + refit["epochs"]
    for i in range(1, 4):
        assert (tmp_path / "run" / "models" / f"exp01-fold{i}.npz").exists()
    assert nr.load(tmp_path / "run" / "model.npz").predict(X[:5]).shape == (5,)
    # --resume reads the fold models back (out-of-fold predictions again) and trains nothing
    again = nr.Recipe(verbose=0, budget=1500, seed=0, out=tmp_path / "run", resume=True).fit(X, y)
    assert [e.to_dict()["dev_error"] for e in again.experiments_] == [e.to_dict()["dev_error"] for e in r.experiments_]
    cv_line = next(i for i, d in enumerate(r.decisions_) if "cross-validation over train+dev" in d)
    assert again.decisions_[cv_line].startswith("as the run being resumed decided: every decision uses 3-fold")
    assert again.decisions_[:cv_line] + again.decisions_[cv_line + 1:-2] == r.decisions_[:cv_line] + r.decisions_[
        cv_line + 1:-2]
    assert again.decisions_[-2] == (f"refit of experiment {r.best_experiment_.id}'s configuration on all "
                                    f"{cv['rows']} rows of train+dev: read back from the finished run")
    assert "not opened again" in again.decisions_[-1]
    assert np.array_equal(again.predict(X), r.predict(X))
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["test"]["openings"] == r.record_["test"]["openings"]        # the test set not opened again


def test_cv_zero_decides_on_dev_and_a_large_dev_set_needs_no_folds():
    X, y = _table()
    r = nr.Recipe(verbose=0, budget=300, cv=0).fit(X, y)
    assert r.record_["cv"] is None and all(e.folds == 0 for e in r.experiments_)
    assert not any("cross-validation" in d or d.startswith("decisions on dev") for d in r.decisions_)
    X, y = _table(3000)
    r = nr.Recipe(verbose=0, budget=120, baseline_error=0.0).fit(X, y)
    assert r.record_["cv"] is None
    assert any(d.startswith("decisions on dev: dev's 95% interval at the baseline of 0.0% is ± ") for d in r.decisions_)


@pytest.mark.parametrize("cv", [1, -1, 2.5, "yes", True, None])
def test_bad_cv_raises(cv):
    X, y = _table()
    with pytest.raises(nr.NNRecipeError, match=r"cv must be \"auto\", 0 \(decide on dev\) or a number of folds ≥ 2"):
        nr.Recipe(verbose=0, cv=cv).fit(X, y)


def test_a_rare_class_gives_fewer_folds_in_the_trail():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    y = np.zeros(120, dtype=int)
    y[:4] = 1                                   # 4 rows of class 1: 2–3 of them in train+dev
    X[:4] += 3
    r = nr.Recipe(verbose=0, budget=200, cv=5, baseline_error=0.0).fit(X, y)
    k = r.record_["cv"]["folds"]
    assert k < 5
    assert f"5-fold cross-validation needs 5 rows of every class; the rarest has {k}: {k} folds" in r.decisions_
    assert math.isfinite(r.test_error_)
