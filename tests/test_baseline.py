"""doctor.baseline.estimate_baseline: the estimated irreducible error on synthetic tables whose Bayes
error (or noise level) is known, the Cover–Hart bounds by hand, the reference learner's upper bound, a
subsampled run on a million rows, reproducibility and bad input.

Coverage over more seeds and sizes: `python benchmarks/baseline.py` (its figures are in
doctor/baseline.py's text). The tests use seeds 0–2.
"""

import dataclasses
import json
import math
import time

import numpy as np
import pytest
from scipy.stats import norm

from nnrecipe.doctor.baseline import (
    Baseline,
    choose_k,
    cover_hart_bounds,
    estimate_baseline,
    relevant_columns,
    subsample,
)
from nnrecipe.errors import NNRecipeError

SEEDS = (0, 1, 2)


# ---- synthetic tables with a known irreducible error -----------------------------------------
def two_gaussians(n, d, delta, rng):
    """Equal priors, N(±Δ/2·e₁, I) in d dimensions: the Bayes rule is the sign of x₁, R* = Φ(−Δ/2)."""
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, d))
    X[:, 0] += np.where(y == 1, delta / 2, -delta / 2)
    return X, y


def noisy_labels(n, eta, rng):
    """A separable table (class 1 where x₁ + x₂²/2 > 1/2, d = 2) with each label flipped with probability
    η: p(y ≠ clean | x) = η everywhere, so R* = η (η < 1/2)."""
    X = rng.standard_normal((n, 2))
    clean = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.5).astype(np.int64)
    return X, np.where(rng.random(n) < eta, 1 - clean, clean)


MEANS3 = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]])


def three_classes(n, rng):
    """Equal priors, N(μ_c, I) in 2-D with the three means MEANS3."""
    y = rng.integers(0, 3, n)
    return rng.standard_normal((n, 2)) + MEANS3[y], y


@pytest.fixture(scope="module")
def three_class_bayes_error():
    """R* = E[1 − max_c p(c | x)] by Monte Carlo with the true densities: with equal priors and unit
    covariance p(c | x) ∝ exp(−‖x − μ_c‖²/2). 400 000 draws: Monte Carlo SE ≈ 0.0007."""
    X, _ = three_classes(400_000, np.random.default_rng(12345))
    logp = -0.5 * ((X[:, None, :] - MEANS3[None]) ** 2).sum(axis=2)
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return float(np.mean(1.0 - p.max(axis=1)))


def smooth_regression(n, sigma, rng):
    """y = sin(x₁) + x₂²/4 + 0.3·x₃ + N(0, σ²), x ~ N(0, I₃): the irreducible RMSE is σ."""
    X = rng.standard_normal((n, 3))
    return X, np.sin(X[:, 0]) + 0.25 * X[:, 1] ** 2 + 0.3 * X[:, 2] + sigma * rng.standard_normal(n)


def table(make, n_train, n_dev, seed, *args):
    rng = np.random.default_rng([seed, 2024])
    X, y = make(n_train, *args, rng)
    Xd, yd = make(n_dev, *args, rng)
    return X, y, Xd, yd


def check(b, truth):
    """The interval holds the truth; the estimate sits in it; the pieces are consistent."""
    assert isinstance(b, Baseline)
    assert b.low <= b.estimate <= b.high
    assert b.low <= truth <= b.high, f"{truth} outside [{b.low}, {b.high}]: {b.note}"
    d = b.details
    nn, ref = d["knn"]["estimate"], d["reference"]
    ref_value = ref["dev_error"] if d["task"] == "classification" else ref["dev_rmse"]
    assert b.estimate == pytest.approx(min(nn, ref_value))                    # the smaller one wins
    assert d["winner"] == ("knn" if nn <= ref_value else "reference")
    json.dumps(b.to_dict())
    assert b.note.startswith("baseline (estimated): ")


# ---- known Bayes errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_two_gaussians_in_two_dimensions(seed):
    truth = norm.cdf(-1.0)                                                    # Δ = 2: R* = Φ(−1) = 15.87%
    b = estimate_baseline(*table(two_gaussians, 2000, 1000, seed, 2, 2.0), "classification", seed=seed)
    check(b, truth)
    assert abs(b.estimate - truth) < 0.03
    d = b.details
    assert d["k"] == choose_k(2000) == 45 and d["n_classes"] == 2 and not b.subsampled
    lower, upper = d["cover_hart"]["lower"], d["cover_hart"]["upper"]
    assert lower <= d["knn"]["estimate"] <= upper                            # clipped into the bounds
    assert lower <= truth <= upper                                            # and they hold here
    assert f"(k = {d['k']}" in b.note and "Cover–Hart" in b.note and "HistGradientBoosting" in b.note


@pytest.mark.parametrize("seed", SEEDS)
def test_two_gaussians_in_ten_dimensions_the_neighbours_measure_the_column_that_matters(seed):
    # Nine irrelevant columns smooth the k-NN posteriors on all ten: that plug-in runs ~7 points high.
    # The reference relies on column 0 alone (permutation importance), and on it the estimate is right.
    truth = norm.cdf(-1.0)
    b = estimate_baseline(*table(two_gaussians, 2000, 1000, seed, 10, 2.0), "classification", seed=seed)
    check(b, truth)
    d = b.details
    assert d["candidates"]["all"]["plug_in"] > truth + 0.03
    assert d["relevance"]["columns"] == [0] and d["knn"]["columns"] == [0] and d["candidates"]["relevant"] is not None
    importance = d["relevance"]["importance"]
    assert len(importance) == 10 and max(importance[1:]) < 0.05 * importance[0]
    assert abs(b.estimate - truth) < 0.03
    assert d["knn"]["estimate"] == d["candidates"]["relevant"]["estimate"] < d["candidates"]["all"]["estimate"]
    assert "on the 1 of 10 columns HistGradientBoosting relies on" in b.note


@pytest.mark.parametrize("seed", SEEDS)
def test_noisy_labels_with_irrelevant_columns(seed):
    # the noisy-label table with four irrelevant columns: on all six every neighbour estimate runs high
    # (the Cover–Hart lower bound included); on the two relevant ones the interval holds η again.
    def make(n, eta, rng):
        X, y = noisy_labels(n, eta, rng)
        return np.hstack([X, rng.standard_normal((n, 4))]), y
    b = estimate_baseline(*table(make, 3000, 1000, seed, 0.1), "classification", seed=seed)
    check(b, 0.1)
    assert b.details["relevance"]["columns"] == [0, 1]
    assert b.details["candidates"]["all"]["cover_hart"]["lower_low"] > 0.1


@pytest.mark.parametrize("seed", SEEDS)
def test_noisy_labels_on_a_separable_table(seed):
    b = estimate_baseline(*table(noisy_labels, 3000, 1000, seed, 0.1), "classification", seed=seed)
    check(b, 0.1)
    assert abs(b.estimate - 0.1) < 0.05


@pytest.mark.parametrize("seed", SEEDS)
def test_three_classes(seed, three_class_bayes_error):
    truth = three_class_bayes_error                                           # ≈ 25.8%
    assert 0.24 < truth < 0.28
    b = estimate_baseline(*table(three_classes, 2000, 1000, seed), "classification", seed=seed)
    check(b, truth)
    assert b.details["n_classes"] == 3 and abs(b.estimate - truth) < 0.04
    lower, upper = b.details["cover_hart"]["lower"], b.details["cover_hart"]["upper"]
    assert lower <= truth <= upper


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_with_known_noise(seed):
    sigma = 0.5
    b = estimate_baseline(*table(smooth_regression, 2000, 1000, seed, sigma), "regression", seed=seed)
    check(b, sigma)
    d = b.details
    assert d["units"] == "RMSE" and d["neighbours"] == 10
    assert abs(b.estimate - sigma) < 0.05
    # the Gamma test removes most of the 1-NN estimate's upward bias (f changes between neighbours)
    assert d["one_nn_estimate"] > d["knn"]["estimate"]
    assert d["gamma"][0] == pytest.approx(d["one_nn_estimate"] ** 2)
    assert all(a < b for a, b in zip(d["delta"], d["delta"][1:]))            # farther neighbours
    assert "RMSE" in b.note and "Gamma test" in b.note


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_with_irrelevant_columns(seed):
    # Friedman's first function: five of ten columns carry y. On all ten the Gamma test reads σ high
    # (neighbours are far apart in ten dimensions); on the five the reference relies on it holds σ.
    def friedman1(n, sigma, rng):
        X = rng.uniform(0, 1, size=(n, 10))
        f = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
        return X, f + sigma * rng.standard_normal(n)
    b = estimate_baseline(*table(friedman1, 2000, 1000, seed, 1.0), "regression", seed=seed)
    check(b, 1.0)
    d = b.details
    assert d["relevance"]["columns"] == [0, 1, 2, 3, 4] and d["knn"]["columns"] == [0, 1, 2, 3, 4]
    assert d["candidates"]["all"]["estimate"] > 1.2 and abs(b.estimate - 1.0) < 0.15
    assert "on the 5 of 10 columns HistGradientBoosting relies on" in b.note


def test_relevant_columns_by_permutation_importance():
    from sklearn.ensemble import HistGradientBoostingRegressor, HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 4))
    y = 3 * X[:, 2] + X[:, 0] + 0.1 * rng.standard_normal(600)
    model = HistGradientBoostingRegressor(random_state=0).fit(X[:400], y[:400])
    stream = np.random.SeedSequence(1)
    columns, importance = relevant_columns(model, X[400:], y[400:], stream)
    assert columns.tolist() == [0, 2] and importance.shape == (4,) and np.argmax(importance) == 2
    again = relevant_columns(model, X[400:], y[400:], np.random.SeedSequence(1))
    assert np.array_equal(again[1], importance)                                # seeded
    # too few dev rows, or one column: all columns, no importances
    assert relevant_columns(model, X[400:410], y[400:410], stream)[1] is None
    one = HistGradientBoostingRegressor(random_state=0).fit(X[:400, :1], y[:400])
    assert relevant_columns(one, X[400:, :1], y[400:], stream)[0].tolist() == [0]
    wide = np.hstack([X] * 9)                                                   # 36 columns: skipped, too costly
    many = HistGradientBoostingRegressor(random_state=0, max_iter=5).fit(wide[:400], y[:400])
    columns, importance = relevant_columns(many, wide[400:], y[400:], stream)
    assert columns.tolist() == list(range(36)) and importance is None
    # dev rows of a class the model never saw are left out, not an error
    clf = HistGradientBoostingClassifier(random_state=0).fit(X[:400], (X[:400, 1] > 0).astype(int))
    yd = np.where(X[400:, 1] > 0, 1, 0)
    yd[:5] = 7
    assert relevant_columns(clf, X[400:], yd, stream)[0].tolist() == [1]


def test_regression_one_nn_estimate_by_hand():
    # 40 rows in pairs 1 apart, pairs 10 apart: each row's nearest neighbour is its partner, so the
    # 1-NN estimate is (1/2n)·Σ (y_i − y_partner)²; partners differ by 0.2 in y: γ(1) = 0.02.
    x = np.repeat(np.arange(20) * 10.0, 2) + np.tile([0.0, 1.0], 20)
    y = np.repeat(np.arange(20) % 3, 2) + np.tile([0.0, 0.2], 20)
    b = estimate_baseline(x[:, None], y, x[:, None], y, "regression")
    assert b.details["gamma"][0] == pytest.approx(0.02)
    assert b.details["one_nn_estimate"] == pytest.approx(math.sqrt(0.02))
    assert b.details["knn"]["variance"] <= 0.02 + 1e-12                      # the Gamma test never exceeds γ(1)


# ---- Cover–Hart by hand ---------------------------------------------------------------------------
def test_cover_hart_bounds_by_hand():
    # two classes: R₁ = 0.18 = 2·R*(1 − R*) at R* = 0.1, so the bounds are (0.1, 0.18)
    assert cover_hart_bounds(0.18, 2) == pytest.approx((0.1, 0.18))
    # three classes: R₁ = 1/2 gives (2/3)·(1 − √(1 − (3/2)·(1/2))) = 1/3
    assert cover_hart_bounds(0.5, 3) == pytest.approx((1 / 3, 0.5))
    assert cover_hart_bounds(0.0, 2) == (0.0, 0.0)
    assert cover_hart_bounds(0.7, 2) == (0.5, 0.7)                          # worse than guessing: (K−1)/K
    with pytest.raises(NNRecipeError, match="n_classes"):
        cover_hart_bounds(0.1, 1)
    with pytest.raises(NNRecipeError, match="one_nn_error"):
        cover_hart_bounds(1.5, 2)


def pairs(labels):
    """40 rows on a line in 20 pairs (partners 1 apart, pairs ≥ 9 apart, no ties): each row's nearest
    neighbour is its partner. labels: the 40 classes, partners adjacent."""
    x = np.repeat(np.arange(20) * 10.0 + 0.01 * np.arange(20) ** 2, 2) + np.tile([0.0, 1.0], 20)
    return x[:, None], np.asarray(labels)


def test_one_nn_error_and_bounds_on_a_tiny_table_by_hand():
    # pairs 0–4 hold one row of each class, pairs 5–19 two rows of one class (alternating by pair):
    # the 10 rows of the mixed pairs miss, R₁ = 10/40 = 0.25; bounds ((1 − √0.5)/2, 0.25).
    labels = [0, 1] * 5 + [j % 2 for j in range(5, 20) for _ in range(2)]
    X, y = pairs(labels)
    b = estimate_baseline(X, y, X, y, "classification")
    d = b.details
    assert d["one_nn_error"] == 0.25
    assert d["cover_hart"]["lower"] == pytest.approx((1 - math.sqrt(0.5)) / 2)
    assert d["cover_hart"]["upper"] == 0.25
    plug, knn = d["knn"]["plug_in"], d["knn"]["estimate"]
    assert knn == min(max(plug, d["cover_hart"]["lower"]), 0.25)
    assert d["knn"]["clipped"] == ("upper" if plug > 0.25 else "lower" if plug < knn else None)


def test_a_knn_estimate_above_the_one_nn_error_is_clipped_and_said():
    # partners share a class and the classes alternate by pair: R₁ = 0, so R* ∈ [0, 0]; the k-NN shares
    # see both classes (plug-in ≈ 50%) and are lowered to 0.
    X, y = pairs([j % 2 for j in range(20) for _ in range(2)])
    b = estimate_baseline(X, y, X, y, "classification")
    d = b.details
    assert d["one_nn_error"] == 0.0 and d["cover_hart"] == pytest.approx({"lower": 0, "upper": 0, "lower_low": 0})
    assert d["knn"]["plug_in"] > 0.3 and d["knn"]["clipped"] == "upper" and d["knn"]["estimate"] == 0.0
    assert b.estimate == 0.0 and b.low == 0.0 and d["winner"] == "knn"
    assert "lowered from" in b.note and "upper of its Cover–Hart bounds" in b.note


def test_exact_copies_are_neighbours_and_a_row_is_never_its_own():
    # every row twice: a row's nearest other row is its copy (distance 0, tied with itself). Half the
    # copies disagree on the class: R₁ = 1/2 exactly. In a regression, copies 0.2 apart: γ(1) = 0.02
    # and all neighbour distances of the first neighbour are 0.
    x = np.repeat(np.arange(20) * 10.0 + 0.01 * np.arange(20) ** 2, 2)[:, None]
    y = np.r_[[0, 1] * 10, [0, 0, 1, 1] * 5]
    b = estimate_baseline(x, y, x, y, "classification")
    assert b.details["one_nn_error"] == 0.5
    r = estimate_baseline(x, np.repeat(np.arange(20) % 3, 2) + np.tile([0.0, 0.2], 20), x, y, "regression")
    assert r.details["gamma"][0] == pytest.approx(0.02) and r.details["delta"][0] == 0.0


# ---- scale ----------------------------------------------------------------------------------------
def test_a_million_rows_are_subsampled_in_seconds():
    # Measured once on 2 busy cores: 3.7 s (classification) and 2.8 s (regression) for 1 000 000 × 20.
    rng = np.random.default_rng(7)
    n, d = 1_000_000, 20
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] + rng.standard_normal(n, dtype=np.float32) > 0).astype(np.int64)
    Xd = X[:50_000] + rng.standard_normal((50_000, d), dtype=np.float32)       # any dev rows will do
    yd = y[:50_000]
    start = time.perf_counter()
    b = estimate_baseline(X, y, Xd, yd, "classification", seed=3)
    seconds = time.perf_counter() - start
    assert seconds < 10, f"{seconds:.1f} s"
    assert b.subsampled and b.details["n_train"] == 10_000 and b.details["n_train_given"] == n
    assert b.details["n_dev"] == 10_000 and b.details["n_dev_given"] == 50_000
    assert "seeded subsample of 10,000 of 1,000,000 training rows and 10,000 of 50,000 dev rows" in b.note


def test_subsample_is_stratified_and_keeps_a_rare_class():
    y = np.r_[np.zeros(997, np.int64), np.ones(3, np.int64)]
    rows = subsample(1000, 100, np.random.default_rng(0), y)
    # shares 99.7 and 0.3 rows: 100 and 0 by largest remainders, then the rare class gets its 2
    assert len(rows) == 102 and np.sum(y[rows] == 1) == 2 and len(np.unique(rows)) == len(rows)
    assert subsample(100, 100, np.random.default_rng(0)) is None
    plain = subsample(1000, 100, np.random.default_rng(0))
    assert len(plain) == 100 and np.all(np.diff(plain) > 0)
    X = np.random.default_rng(1).standard_normal((1000, 2))
    b = estimate_baseline(X, y, X[:50], y[:50], "classification", max_rows=100)
    assert b.subsampled and b.details["n_train"] == 102


def test_k_rule():
    assert [choose_k(n) for n in (30, 100, 2000, 2500, 20_000)] == [5, 10, 45, 50, 50]


# ---- reproducibility, the record ------------------------------------------------------------------
def test_same_seed_same_baseline_and_a_json_record():
    data = table(two_gaussians, 500, 300, 0, 2, 2.0)
    a = estimate_baseline(*data, "classification", seed=5)
    b = estimate_baseline(*data, "classification", seed=5)
    c = estimate_baseline(*data, "classification", seed=np.random.SeedSequence(5))
    assert a == b
    assert a.to_dict() | {"details": {}} == c.to_dict() | {"details": {}}
    assert {**a.details, "seed": None} == {**c.details, "seed": None}
    rec = json.loads(json.dumps(a.to_dict()))
    assert set(rec) == {"estimate", "low", "high", "method", "details", "note", "subsampled"}
    assert rec["details"]["seed"] == 5 and rec["details"]["max_rows"] == 10_000
    assert str(a) == a.note
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.estimate = 0.0
    other = estimate_baseline(*data, "classification", seed=6)
    assert other.details["knn"]["se"] != a.details["knn"]["se"]               # the redraws follow the seed


# ---- bad input ------------------------------------------------------------------------------------
GOOD = table(two_gaussians, 60, 20, 0, 2, 2.0)


@pytest.mark.parametrize("change, match", [
    ({"task": "clustering"}, "task must be one of 'classification', 'regression'; got 'clustering'"),
    ({"X_train": GOOD[0][:29], "y_train": GOOD[1][:29]}, "X_train must be at least 30 rows .*; got 29 rows"),
    ({"y_train": GOOD[1][:-1]}, "y_train and X_train must be the same length; got 59 and 60 rows"),
    ({"y_dev": GOOD[3][:5]}, "y_dev and X_dev must be the same length; got 5 and 20 rows"),
    ({"X_dev": GOOD[2][:, :1]}, "X_dev must be 2 columns, as X_train has; got 1"),
    ({"y_train": np.r_[np.zeros(59, int), 1]}, "y_train must be at least 2 rows of every class .*; got 1 row of class 1"),
    ({"y_train": np.zeros(60, int)}, "y_train must be at least 2 classes .*; got only class 0"),
    ({"y_train": np.r_[GOOD[1][:-1], 2], "n_classes": 2}, r"y_train must be class indices 0\.\.1; got 2 at row 59"),
    ({"y_train": np.r_[GOOD[1][:-1], 0.5]}, "y_train must be class indices 0, 1, …; got 0.5 at row 59"),
    ({"y_train": np.r_[GOOD[1][:-1], -1]}, "y_train must be class indices 0, 1, …; got -1 at row 59"),
    ({"X_train": np.r_[GOOD[0][:-1], [[np.nan, 0]]]}, "X_train must be finite"),
    ({"y_train": np.r_[GOOD[1][:-1], np.inf]}, "y_train must be finite; got inf at row 59"),
    ({"X_train": GOOD[0][:, 0]}, "X_train must be 2-D"),
    ({"max_rows": 10}, "max_rows must be an integer ≥ 30; got 10"),
    ({"seed": -1}, "seed must be an int ≥ 0 or a numpy SeedSequence; got -1"),
    ({"seed": None}, "seed must be an int ≥ 0 or a numpy SeedSequence; got None"),
    ({"n_classes": 1}, "n_classes must be an integer ≥ 2; got 1"),
    ({"task": "regression", "n_classes": 2}, "n_classes must be None for a regression; got 2"),
])
def test_bad_input_names_the_argument(change, match):
    args = {"X_train": GOOD[0], "y_train": GOOD[1], "X_dev": GOOD[2], "y_dev": GOOD[3], "task": "classification"}
    args.update(change)
    with pytest.raises(NNRecipeError, match=match):
        estimate_baseline(**args)
