"""Paired comparisons (nnrecipe.doctor.compare): McNemar's exact test against a binomial tail computed by
hand with math.comb, its interval against a hand-solved Clopper–Pearson bound, the paired bootstrap's
interval and seed, the keep-or-reject rule, bad input, and properties (swapping a and b mirrors)."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnrecipe.doctor.compare import (
    Comparison,
    compare_classifiers,
    compare_regressors,
    mcnemar_p,
)
from nnrecipe.errors import NNRecipeError

prop = settings(max_examples=60, deadline=None, derandomize=True)


# ---- oracles: no SciPy, no statsmodels ---------------------------------------------------------
def tail(k, m):
    """P(X ≤ k) for X ~ Binomial(m, 1/2), exactly as a fraction of 2^m."""
    return sum(math.comb(m, i) for i in range(k + 1)) / 2 ** m


def mcnemar_oracle(a_only, b_only):
    m = a_only + b_only
    return 1.0 if m == 0 else min(1.0, 2 * tail(min(a_only, b_only), m))


def binom_upper_tail(k, m, p):
    """P(X ≥ k) for X ~ Binomial(m, p)."""
    return sum(math.comb(m, i) * p ** i * (1 - p) ** (m - i) for i in range(k, m + 1))


def clopper_pearson_low(k, m, alpha=0.05):
    """The π with P(X ≥ k | π) = alpha/2, by bisection (P(X ≥ k | π) grows with π); 0 when k = 0."""
    if k == 0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if binom_upper_tail(k, m, mid) < alpha / 2 else (lo, mid)
    return lo


def rows(a_only, b_only, both_right=0, both_wrong=0):
    """(y, pred_a, pred_b) of two classes with the given counts of each kind of row."""
    y = np.zeros(a_only + b_only + both_right + both_wrong, dtype=int)
    a = np.r_[np.ones(a_only), np.zeros(b_only), np.zeros(both_right), np.ones(both_wrong)].astype(int)
    b = np.r_[np.zeros(a_only), np.ones(b_only), np.zeros(both_right), np.ones(both_wrong)].astype(int)
    return y, a, b


# ---- McNemar, hand-worked ---------------------------------------------------------------------
def test_five_to_nothing_is_p_one_sixteenth():
    c = compare_classifiers(*rows(5, 0, both_right=20))
    assert c.p_value == pytest.approx(0.0625)                 # 2 · (1/2)^5
    assert (c.n, c.a_only, c.b_only, c.errors_a, c.errors_b) == (25, 5, 0, 5, 0)
    assert c.difference == pytest.approx(-5 / 25)
    assert c.better is None                                   # 0.0625 > 0.05: not significant
    assert c.test == "mcnemar-exact" and c.alpha == 0.05
    # π = b_only/m = 0 of 5: Clopper–Pearson [0, 1 − 0.025^(1/5)], mapped by (m/n)(2π − 1)
    assert c.low == pytest.approx(-0.2) and c.high == pytest.approx(0.2 * (1 - 2 * 0.025 ** (1 / 5)))
    assert c.high > 0                                          # holds 0: agrees with p > 0.05
    assert compare_classifiers(*rows(5, 0, both_right=20), alpha=0.1).better == "b"   # but at 10% it is


def test_one_to_ten():
    c = compare_classifiers(*rows(1, 10, both_right=50, both_wrong=4))
    assert c.p_value == pytest.approx(24 / 2048)             # 2 · (C(11,0) + C(11,1)) / 2^11
    assert c.better == "a"
    assert (c.errors_a, c.errors_b, c.error_a, c.error_b) == (5, 14, 5 / 65, 14 / 65)
    assert c.difference == pytest.approx(9 / 65) and c.difference == pytest.approx(c.error_b - c.error_a)
    assert 0 < c.low < c.difference < c.high


def test_no_discordant_row_is_p_one_and_a_zero_interval():
    c = compare_classifiers(*rows(0, 0, both_right=30, both_wrong=3))
    assert (c.p_value, c.difference, c.low, c.high, c.better) == (1.0, 0.0, 0.0, 0.0, None)


@pytest.mark.parametrize("a_only, b_only", [(0, 5), (1, 10), (3, 3), (7, 2), (0, 1), (12, 30), (40, 41)])
def test_p_value_is_the_binomial_tail_by_hand(a_only, b_only):
    assert mcnemar_p(a_only, b_only) == pytest.approx(mcnemar_oracle(a_only, b_only), rel=1e-9)
    c = compare_classifiers(*rows(a_only, b_only, both_right=10))
    assert c.p_value == pytest.approx(mcnemar_oracle(a_only, b_only), rel=1e-9)


@pytest.mark.parametrize("a_only, b_only", [(2, 9), (10, 1), (4, 4), (0, 6), (25, 11)])
def test_interval_is_clopper_pearson_on_the_discordant_rows(a_only, b_only):
    n, m = a_only + b_only + 40, a_only + b_only
    c = compare_classifiers(*rows(a_only, b_only, both_right=40))
    low_pi = clopper_pearson_low(b_only, m)
    high_pi = 1 - clopper_pearson_low(a_only, m)              # the upper bound of π, by symmetry
    assert c.low == pytest.approx(m / n * (2 * low_pi - 1), abs=1e-7)
    assert c.high == pytest.approx(m / n * (2 * high_pi - 1), abs=1e-7)
    assert c.low <= c.difference <= c.high


def test_one_row_difference_is_never_significant():
    for n_rest in (0, 10, 100, 10_000):
        for a_only, b_only in ((1, 0), (0, 1)):
            c = compare_classifiers(*rows(a_only, b_only, both_right=n_rest, both_wrong=n_rest // 10))
            assert c.p_value == 1.0 and c.better is None and c.low < 0 < c.high


def test_a_large_difference_is_significant():
    y, a, b = rows(30, 2, both_right=150, both_wrong=18)
    c = compare_classifiers(y, a, b)
    assert c.better == "b" and c.p_value < 1e-6 and c.high < 0


def test_multiclass_labels_and_shapes():
    y = np.array([0, 1, 2, 3, 2, 1])
    a = np.array([0, 1, 2, 0, 0, 1.0])                        # whole-number floats are class indices
    b = np.array([[0], [2], [2], [3], [2], [1]])              # (n, 1) columns too
    c = compare_classifiers(y, a, b)
    assert (c.errors_a, c.errors_b, c.a_only, c.b_only) == (2, 1, 2, 1)


# ---- the paired bootstrap ---------------------------------------------------------------------
def noisy(n, seed, sd_a=0.5, sd_b=0.0):
    """y ~ N(0, 1) around a truth of 0; a predicts 0 plus N(0, sd_a²) noise, b plus N(0, sd_b²):
    RMSE_a → √(1 + sd_a²), RMSE_b → √(1 + sd_b²) as n grows."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return y, rng.normal(0, sd_a, n) if sd_a else np.zeros(n), rng.normal(0, sd_b, n) if sd_b else np.zeros(n)


def test_bootstrap_interval_contains_the_true_difference():
    truth = 1 - math.sqrt(1.25)
    c = compare_regressors(*noisy(4000, 0), seed=0)
    assert c.low < truth < c.high and c.high < 0 and c.better == "b"
    assert c.test == "paired-bootstrap" and c.n_boot == 2000 and c.errors_a is None
    assert c.difference == pytest.approx(c.error_b - c.error_a)
    assert c.error_a == pytest.approx(math.sqrt(np.mean((noisy(4000, 0)[0] - noisy(4000, 0)[1]) ** 2)))
    assert c.p_value < 0.05


def test_bootstrap_coverage():
    """Over 60 independent tables the 95% interval holds the true difference nearly always."""
    truth = math.sqrt(1 + 0.3 ** 2) - math.sqrt(1 + 0.6 ** 2)
    hits = sum(c.low <= truth <= c.high for c in
               (compare_regressors(*noisy(300, s, sd_a=0.6, sd_b=0.3), seed=s, n_boot=500) for s in range(60)))
    assert hits >= 52                                         # 95% of 60 is 57; binomial slack


def test_bootstrap_is_seeded():
    data = noisy(300, 1, sd_a=0.3, sd_b=0.25)
    c1, c2 = compare_regressors(*data, seed=7), compare_regressors(*data, seed=7)
    assert c1 == c2
    c3 = compare_regressors(*data, seed=8)
    assert (c3.low, c3.high) != (c1.low, c1.high)
    assert compare_regressors(*data, seed=np.random.default_rng(7)) == c1   # a Generator is used as is


def test_bootstrap_same_predictions_tie():
    y, a, _ = noisy(100, 2)
    c = compare_regressors(y, a, a.copy())
    assert (c.difference, c.low, c.high, c.p_value, c.better, c.a_only, c.b_only) == (0, 0, 0, 1, None, 0, 0)


def test_bootstrap_small_difference_is_a_tie_and_p_matches_interval():
    c = compare_regressors(*noisy(200, 3, sd_a=0.3, sd_b=0.29), seed=0)
    assert c.better is None and c.low < 0 < c.high and c.p_value > 0.05


def test_bootstrap_counts_rows_each_is_further_off():
    c = compare_regressors([0.0, 0, 0, 0], [1.0, 1, 0, 2], [0.0, 2, 0, 1], n_boot=50)
    assert (c.a_only, c.b_only) == (2, 1)


# ---- records -------------------------------------------------------------------------------------
def test_to_dict_is_json_and_frozen():
    c = compare_classifiers(*rows(4, 1, both_right=10))
    d = c.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) >= {"n", "errors_a", "errors_b", "a_only", "b_only", "p_value", "difference", "low", "high",
                      "better", "alpha", "test"}
    assert Comparison(**d) == c
    with pytest.raises(AttributeError):
        c.better = "b"
    r = compare_regressors(*noisy(50, 0), n_boot=100).to_dict()
    assert json.loads(json.dumps(r)) == r


# ---- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, named", [
    (([0, 1, 1], [0, 1], [0, 1, 0]), {}, "y and pred_a"),
    (([0, 1, 1], [0, 1, 1], [0, 1]), {}, "y and pred_b"),
    (([0, 1, 1], [0, 0.5, 1], [0, 1, 0]), {}, "pred_a must be class indices"),
    (([0, 1, 1], [0, 1, 1], [0, -1, 0]), {}, "pred_b must be class indices"),
    (([0, np.nan, 1], [0, 1, 1], [0, 1, 0]), {}, "y must be finite"),
    ((["a", "b"], [0, 1], [0, 1]), {}, "y must be numeric"),
    (([[0, 1], [1, 0]], [0, 1], [0, 1]), {}, "y must be 1-D"),
    (([], [], []), {}, "y must be non-empty"),
    (([0, 1], [0, 1], [0, 1]), {"alpha": 0}, "alpha must be"),
    (([0, 1], [0, 1], [0, 1]), {"alpha": True}, "alpha must be"),
])
def test_bad_classifier_input(args, kwargs, named):
    with pytest.raises(NNRecipeError, match=named):
        compare_classifiers(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, named", [
    (([0.1, 1, 2], [0, 1], [0, 1, 2]), {}, "y and pred_a"),
    (([0.1, 1, 2], [0, 1, 2], [0, np.inf, 2]), {}, "pred_b must be finite"),
    (([0.1, 1, 2], [0, np.nan, 2], [0, 1, 2]), {}, "pred_a must be finite"),
    (([1.0], [1.0], [1.0]), {}, "y must be at least 2 rows"),
    (([0.1, 1, 2], [0, 1, 2], [0, 1, 2]), {"n_boot": 0}, "n_boot"),
    (([0.1, 1, 2], [0, 1, 2], [0, 1, 2]), {"n_boot": 10.5}, "n_boot"),
    (([0.1, 1, 2], [0, 1, 2], [0, 1, 2]), {"alpha": 1.5}, "alpha must be"),
    (([0.1, 1, 2], [0, 1, 2], [0, 1, 2]), {"seed": -1}, "seed"),
])
def test_bad_regressor_input(args, kwargs, named):
    with pytest.raises(NNRecipeError, match=named):
        compare_regressors(*args, **kwargs)


# ---- properties --------------------------------------------------------------------------------
labels = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=120)


@prop
@given(labels)
def test_swapping_classifiers_mirrors(triples):
    y, a, b = (np.array(v) for v in zip(*triples))
    ab, ba = compare_classifiers(y, a, b), compare_classifiers(y, b, a)
    assert (ba.a_only, ba.b_only, ba.errors_a, ba.errors_b) == (ab.b_only, ab.a_only, ab.errors_b, ab.errors_a)
    assert ba.p_value == pytest.approx(ab.p_value) and ba.difference == -ab.difference
    assert (ba.low, ba.high) == pytest.approx((-ab.high, -ab.low), abs=1e-9)
    assert ba.better == {"a": "b", "b": "a", None: None}[ab.better]


@prop
@given(labels)
def test_classifier_p_interval_and_verdict_agree(triples):
    y, a, b = (np.array(v) for v in zip(*triples))
    c = compare_classifiers(y, a, b)
    assert c.p_value == pytest.approx(mcnemar_oracle(c.a_only, c.b_only), rel=1e-9)
    assert c.low <= c.difference <= c.high
    assert (c.better is not None) == (c.low > 0 or c.high < 0)     # the interval leaves out 0 iff p < alpha
    assert c.better != "b" or c.errors_b < c.errors_a


@prop
@given(st.integers(2, 80), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_swapping_regressors_mirrors(n, seed, sd_a, sd_b):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    a, b = y + rng.normal(0, sd_a, n), y + rng.normal(0, sd_b, n)
    ab, ba = compare_regressors(y, a, b, seed=seed, n_boot=200), compare_regressors(y, b, a, seed=seed, n_boot=200)
    assert (ba.a_only, ba.b_only, ba.error_a, ba.error_b) == (ab.b_only, ab.a_only, ab.error_b, ab.error_a)
    assert ba.difference == -ab.difference and ba.p_value == ab.p_value
    assert (ba.low, ba.high) == pytest.approx((-ab.high, -ab.low), abs=1e-12)
    assert ba.better == {"a": "b", "b": "a", None: None}[ab.better]
    assert 0 <= ab.p_value <= 1
