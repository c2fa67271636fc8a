"""The balanced error for imbalanced classes: the metric (oracle: scikit-learn), its paired comparison,
the balanced baseline (a known balanced Bayes error), the logit adjustment and the recipe's choice."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import balanced_accuracy_score

import nnrecipe as nr
from nnrecipe.doctor.baseline import estimate_baseline
from nnrecipe.doctor.compare import compare_balanced
from nnrecipe.doctor.metrics import balanced_error
from nnrecipe.recipe.trainers import _prior_shift


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=60))
def test_balanced_error_is_one_minus_sklearns_balanced_accuracy(pairs):
    y, p = (np.array(v) for v in zip(*pairs))
    found = balanced_error(y, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # sklearn warns when p holds a class y lacks
        expected = 1 - balanced_accuracy_score(y, p)
    assert found["error"] == pytest.approx(expected)
    assert 0 <= found["low"] <= found["error"] <= found["high"] <= 1


def test_balanced_error_by_hand():
    y = np.array([0] * 8 + [1] * 2)
    p = np.array([0] * 8 + [0, 1])             # class 0 all right, class 1 half wrong
    found = balanced_error(y, p)
    assert found["error"] == pytest.approx(0.25) and found["per_class"] == {0: 0.0, 1: 0.5}
    t0, t1 = 2 / 12, 3 / 6                      # plus-four rates of class 0 (0 of 8) and 1 (1 of 2)
    half = 1.959964 * math.sqrt(t0 * (1 - t0) / 12 + t1 * (1 - t1) / 6) / 2
    assert found["high"] == pytest.approx(0.25 + half, rel=1e-5)


def test_compare_balanced_sees_the_rare_class():
    # 190 common rows, 10 rare; the incumbent misses 6 rare rows, the candidate 1 rare and 4 common rows:
    # more wrong rows, yet a far lower balanced error
    y = np.array([0] * 190 + [1] * 10)
    a = y.copy()
    a[190:196] = 0
    b = y.copy()
    b[190] = 0
    b[:4] = 1
    c = compare_balanced(y, a, b, seed=0)
    assert c.errors_a == 6 and c.errors_b == 5
    assert c.error_a == pytest.approx(0.3) and c.error_b == pytest.approx((4 / 190 + 0.1) / 2)
    assert c.better == "b" and c.high < 0 and c.test == "stratified-bootstrap"
    mirror = compare_balanced(y, b, a, seed=0)
    assert mirror.difference == pytest.approx(-c.difference) and mirror.better == "a"
    same = compare_balanced(y, a, a, seed=0)
    assert same.better is None and same.p_value == 1 and same.low == same.high == 0
    assert "balanced error" in c.describe()


@pytest.mark.parametrize("args, match", [
    ((np.array([0, 1]), np.array([0]), np.array([0, 1])), "y and pred_a must be the same length"),
    ((np.array([0]), np.array([0]), np.array([0])), "y must be at least 2 rows"),
    ((np.array([0, 1.5]), np.array([0, 1]), np.array([0, 1])), "y must be"),
])
def test_compare_balanced_bad_input(args, match):
    with pytest.raises(nr.NNRecipeError, match=match):
        compare_balanced(*args)


def test_the_balanced_baseline_contains_a_known_balanced_bayes_error():
    # two 1-D Gaussians 2.5 apart, prior 10%: the balanced-error rule is the midpoint, BE* = Φ(−1.25)
    rng = np.random.default_rng(0)
    n = 4000
    y = (rng.random(n) < 0.1).astype(int)
    X = (rng.normal(size=n) + 2.5 * y)[:, None]
    b = estimate_baseline(X[:3000], y[:3000], X[3000:], y[3000:], "classification", seed=0, balanced=True)
    truth = norm.cdf(-1.25)
    assert b.low <= truth <= b.high, (b.low, truth, b.high)
    assert b.details["metric"] == "balanced" and "balanced" in b.note
    plain = estimate_baseline(X[:3000], y[:3000], X[3000:], y[3000:], "classification", seed=0)
    assert plain.estimate < b.estimate          # the plain Bayes error favours the common class


def test_a_balanced_baseline_of_a_regression_is_refused():
    X = np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(nr.NNRecipeError, match="balanced must be False for a regression"):
        estimate_baseline(X, X[:, 0], X, X[:, 0], "regression", balanced=True)


def test_the_logit_adjustment_is_minus_log_prior():
    y = np.array([0] * 90 + [1] * 10)
    assert _prior_shift(y, 1) == pytest.approx(math.log(9))            # −log(π₁/π₀)
    assert np.allclose(_prior_shift(np.array([0, 0, 1, 2]), 3), -np.log([0.5, 0.25, 0.25]))


def _imbalanced(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.06).astype(int)
    return rng.normal(size=(n, 3)) + 1.5 * y[:, None], y


def test_a_rare_class_makes_the_recipe_decide_on_the_balanced_error():
    X, y = _imbalanced()
    r = nr.Recipe(verbose=0, seed=0, budget=400).fit(X, y)
    assert r.metric_ == "balanced"
    line = next(d for d in r.decisions_ if d.startswith("decisions on the balanced error"))
    assert "the rarest class 1 is" in line and "(< 10%, and under half of the 50.0% a class would have" in line
    assert all(e.plain_errors is not None for e in r.experiments_)
    test = r.record_["test"]
    assert test["metric"] == "balanced" and "balanced error" in r.decisions_[-1]
    plain = nr.Recipe(verbose=0, seed=0, budget=400, metric="error").fit(X, y)
    assert plain.metric_ == "error" and plain.record_["test"]["metric"] == "error"
    assert all(e.plain_errors is None for e in plain.experiments_)
    # the balanced run trades plain errors for the rare class's: its balanced test error is lower
    assert test["balanced"]["error"] < plain.record_["test"]["balanced"]["error"]


def test_metric_balanced_is_a_users_choice_on_balanced_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] > 0).astype(int)
    r = nr.Recipe(verbose=0, budget=150, metric="balanced").fit(X, y)
    assert r.metric_ == "balanced" and any("metric='balanced' given" in d for d in r.decisions_)


@pytest.mark.parametrize("metric", ["accuracy", "", None, 1])
def test_an_unknown_metric_raises(metric):
    X, y = _imbalanced(200)
    with pytest.raises(nr.NNRecipeError, match="metric must be 'auto' or 'error' or 'balanced'"):
        nr.Recipe(verbose=0, metric=metric).fit(X, y)


def test_a_balanced_metric_for_a_regression_raises():
    X = np.random.default_rng(0).normal(size=(200, 2))
    with pytest.raises(nr.NNRecipeError, match="metric must be \"auto\" for a regression"):
        nr.Recipe(verbose=0, metric="balanced").fit(X, X[:, 0] * 1.5)


def test_many_balanced_classes_are_not_imbalanced():
    # ten classes of about 10% each: the rarest is under 10%, but not under half its even share
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 600)
    X = rng.normal(size=(600, 3)) + y[:, None] * 0.5
    r = nr.Recipe(verbose=0, budget=60, cv=0).fit(X, y)
    assert r.metric_ == "error" and not any(d.startswith("decisions on the balanced") for d in r.decisions_)
