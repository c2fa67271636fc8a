"""Test-set metrics (nnrecipe.doctor.metrics): hand-worked values, scikit-learn and SciPy as oracles,
seeded bootstrap intervals, the duplicate-row check against chance, and bad input."""

import json
import math

import numpy as np
import pytest
from scipy.stats import bootstrap
from sklearn.metrics import confusion_matrix, mean_absolute_error, mean_squared_error, r2_score

from nnrecipe.data import normalize
from nnrecipe.data.normalize import distinct_rows
from nnrecipe.doctor.metrics import confusion, duplicate_rows, regression_errors, rmse, worse_classes
from nnrecipe.errors import NNRecipeError


# ---- confusion ---------------------------------------------------------------------------------
def test_confusion_hand_worked():
    c = confusion([0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 1, 0], ["cat", "dog", "emu"])
    assert c["labels"] == ["cat", "dog", "emu"]
    assert c["matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]          # rows: true class, columns: predicted
    cat, dog, emu = c["per_class"]
    assert (cat["label"], cat["n"], cat["errors"]) == ("cat", 3, 1) and cat["error"] == pytest.approx(1 / 3)
    assert (cat["low"], cat["high"]) == pytest.approx((0.0615, 0.7923), abs=1e-4)   # Wilson, 1 of 3
    assert (dog["n"], dog["errors"], dog["error"], dog["low"]) == (2, 0, 0.0, 0.0)
    assert dog["high"] == pytest.approx(0.6576, abs=1e-4)                          # Wilson, 0 of 2
    assert (emu["n"], emu["errors"], emu["error"], emu["high"]) == (1, 1, 1.0, 1.0)
    assert (c["n"], c["errors"], c["error"]) == (6, 2, pytest.approx(1 / 3))
    assert c["balanced_error"] == pytest.approx((1 / 3 + 0 + 1) / 3)
    json.dumps(c)                                                    # goes into run.json as it is


def test_confusion_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    c = confusion(y_true, y_pred, list("abcde"))
    expected = confusion_matrix(y_true, y_pred, labels=range(5))
    assert c["matrix"] == expected.tolist()
    assert [p["n"] for p in c["per_class"]] == expected.sum(axis=1).tolist()
    assert [p["errors"] for p in c["per_class"]] == (expected.sum(axis=1) - np.diag(expected)).tolist()
    assert c["error"] == pytest.approx(np.mean(y_true != y_pred))


def test_confusion_labels_become_json_values_and_an_absent_class_has_no_rate():
    c = confusion(np.array([0.0, 1.0, 1.0]), np.array([[0], [1], [0]]), np.array([10, 20, 30]))
    assert c["labels"] == [10, 20, 30] and all(type(v) is int for v in c["labels"])
    assert c["per_class"][2] == {"label": 30, "n": 0, "errors": 0, "error": None, "low": None, "high": None}
    assert c["balanced_error"] == pytest.approx(0.25)                # over the two classes present
    assert confusion([True, False], [True, True], np.array(["no", "yes"]))["labels"] == ["no", "yes"]
    json.dumps(c)


def test_worse_classes_flags_the_class_the_model_gives_up_on():
    # 980 rows of class 0 nearly all right, 20 rows of the rare class 1 mostly wrong: 1.6% overall
    y_true = np.r_[np.zeros(980, int), np.ones(20, int)]
    y_pred = y_true.copy()
    y_pred[:4] = 1
    y_pred[980:992] = 0
    c = confusion(y_true, y_pred, ["common", "rare"])
    assert c["error"] == pytest.approx(0.016) and c["per_class"][1]["error"] == pytest.approx(0.6)
    assert worse_classes(c) == [1]
    # balanced classes with uniform errors: no class stands out
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 2000)
    wrong = rng.random(2000) < 0.1
    assert worse_classes(confusion(y, np.where(wrong, (y + 1) % 4, y), list("abcd"))) == []
    # 1 error in a class of 3 rows, 10% overall: over three times the rate, but within the noise of 3 rows
    small = confusion([0] * 97 + [1] * 3, [1] * 9 + [0] * 88 + [1, 1, 0], ["a", "b"])
    assert small["error"] == pytest.approx(0.1) and small["per_class"][1]["low"] < 0.1
    assert worse_classes(small) == []


@pytest.mark.parametrize("args, named", [
    (([0, 1, 3], [0, 1, 1], ["a", "b", "c"]), "y_true must be class indices 0..2"),
    (([0, 1, 2], [0, -1, 1], ["a", "b", "c"]), "y_pred must be class indices 0..2"),
    (([0, 1, 2], [0, 1.5, 1], ["a", "b", "c"]), "y_pred must be class indices"),
    (([0, 1, 2], [0, 1], ["a", "b", "c"]), "y_true and y_pred must be the same length; got 3 and 2"),
    (([[0, 1], [1, 0]], [0, 1], ["a", "b"]), "y_true must be 1-D"),
    (([], [], ["a"]), "y_true must be non-empty"),
    ((["a", "b"], [0, 1], ["a", "b"]), "y_true must be numeric"),
    (([0, 1], [0, 1], []), "labels must be a non-empty sequence"),
    (([0, 1], [0, 1], "ab"), "labels must be a non-empty sequence"),
    (([0, 1], [0, 1], 2), "labels must be a sequence"),
])
def test_confusion_bad_input(args, named):
    with pytest.raises(NNRecipeError, match=named):
        confusion(*args)


# ---- regression ----------------------------------------------------------------------------------
def test_regression_hand_worked():
    r = regression_errors([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 8.0])
    # residuals 0, 0, 0, −4: MSE 16/4, MAE 4/4; R² = 1 − 16 / Σ(y − 2.5)² = 1 − 16/5
    assert (r["rmse"], r["mae"], r["r2"]) == (2.0, 1.0, pytest.approx(-2.2))
    assert (r["n"], r["n_boot"], r["method"]) == (4, 2000, "bootstrap")
    assert 0.0 <= r["low"] <= r["rmse"] <= r["high"] <= 4.0         # a resample holds 0 to 4 of the big residual
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    # every residual of size 2: every resample has RMSE 2, the interval is a point
    same = regression_errors(np.arange(10.0), np.arange(10.0) + np.tile([2.0, -2.0], 5))
    assert same["rmse"] == same["low"] == same["high"] == pytest.approx(2.0)
    json.dumps(r)


def test_regression_agrees_with_sklearn():
    rng = np.random.default_rng(3)
    y = rng.normal(50, 10, 300)
    p = y + rng.normal(0, 4, 300)
    r = regression_errors(y, p.astype(np.float32), seed=1)
    p64 = p.astype(np.float32).astype(np.float64)
    assert r["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, p64)))
    assert r["mae"] == pytest.approx(mean_absolute_error(y, p64))
    assert r["r2"] == pytest.approx(r2_score(y, p64))
    assert rmse(y, p64) == pytest.approx(r["rmse"])


def test_bootstrap_interval_agrees_with_scipy():
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=400), rng.normal(size=400)
    r = regression_errors(y, p, seed=0)
    ref = bootstrap(((y - p) ** 2,), lambda s, axis=-1: np.sqrt(np.mean(s, axis=axis)), method="percentile",
                    n_resamples=20000, random_state=np.random.default_rng(0)).confidence_interval
    assert r["low"] == pytest.approx(ref.low, rel=0.02) and r["high"] == pytest.approx(ref.high, rel=0.02)


def test_bootstrap_interval_contains_the_rmse_narrows_with_n_and_is_seeded():
    rng = np.random.default_rng(5)
    widths = {}
    for n in (50, 5000):
        y, p = rng.normal(size=n), rng.normal(size=n)
        r = regression_errors(y, p, seed=7)
        assert r["low"] < r["rmse"] < r["high"]
        widths[n] = r["high"] - r["low"]
        assert regression_errors(y, p, seed=7) == r                                # same seed, same interval
        assert regression_errors(y, p, seed=8)["low"] != r["low"]
        assert regression_errors(y, p, seed=np.random.default_rng(7)) == r        # a Generator: the same stream
    assert 5 < widths[50] / widths[5000] < 20                                      # about √100 = 10


def test_regression_constant_target_has_no_r2():
    r = regression_errors([3.0, 3.0, 3.0], [2.0, 3.0, 4.0])
    assert r["r2"] is None and r["rmse"] == pytest.approx(math.sqrt(2 / 3))
    json.dumps(r)


@pytest.mark.parametrize("kwargs, named", [
    ({"y_true": [1.0], "y_pred": [1.0]}, "y_true must be at least 2 rows"),
    ({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0, 3.0]}, "y_true and y_pred must be the same length"),
    ({"y_true": [1.0, np.nan], "y_pred": [1.0, 2.0]}, "y_true must be finite; got nan at row 1"),
    ({"y_true": [1.0, 2.0], "y_pred": [1.0, np.inf]}, "y_pred must be finite"),
    ({"y_true": np.ones((3, 2)), "y_pred": np.ones(3)}, "y_true must be 1-D"),
    ({"y_true": [1.0, 2.0], "y_pred": ["a", "b"]}, "y_pred must be numeric"),
    ({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0], "n_boot": 0}, "n_boot must be > 0"),
    ({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0], "n_boot": 2.5}, "n_boot must be an integer"),
    ({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0], "seed": -1}, "seed must be an int ≥ 0"),
])
def test_regression_bad_input(kwargs, named):
    with pytest.raises(NNRecipeError, match=named):
        regression_errors(**kwargs)


def test_rmse_bad_input():
    with pytest.raises(NNRecipeError, match="y_true and y_pred must be the same length; got 2 and 1"):
        rmse([1.0, 2.0], [1.0])


# ---- distinct rows -------------------------------------------------------------------------------
def test_distinct_rows_known_values():
    group, counts = distinct_rows(np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [-0.0, 1.0], [0.0, 1.0]]))
    assert len(counts) == 3 and sorted(counts.tolist()) == [1, 2, 2]
    assert group[0] == group[2] and group[3] == group[4] and len({group[0], group[1], group[3]}) == 3
    assert counts[group].tolist() == [2, 1, 2, 2, 2]
    assert [len(a) for a in distinct_rows(np.zeros((0, 3)))] == [0, 0]


def test_distinct_rows_agrees_with_numpy_unique():
    rng = np.random.default_rng(6)
    X = rng.integers(0, 3, size=(400, 3)).astype(float) / 2
    group, counts = distinct_rows(X)
    _, ref_group, ref_counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    assert len(counts) == len(ref_counts)
    assert np.array_equal(counts[group], ref_counts[ref_group.ravel()])


def test_distinct_rows_survive_a_hash_collision(monkeypatch):
    monkeypatch.setattr(normalize, "_row_hash", lambda A: np.zeros(len(A), dtype=np.uint64))
    group, counts = distinct_rows(np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]]))
    assert counts[group].tolist() == [2, 1, 2] and len(counts) == 2


# ---- duplicates against chance -------------------------------------------------------------------
def _titanic_like(n, rng):
    """Three categorical columns (class 1–3, sex, age group of 4): 24 possible rows."""
    return rng.integers(0, [3, 2, 4], size=(n, 3)).astype(float)


def test_a_table_of_24_distinct_rows_repeats_by_chance():
    rng = np.random.default_rng(0)
    train, dev = _titanic_like(1300, rng), _titanic_like(400, rng)
    d = duplicate_rows(train, dev)
    assert (d["found"], d["distinct_train"], d["share"], d["chance"]) == (400, 24, 1.0, True)
    assert d["expected"] == pytest.approx(400)
    assert d["message"] == ("400 of 400 dev rows repeat a training row, as expected when the 1300 training rows "
                            "hold only 24 distinct rows (chance alone gives about 400): not a leak")
    assert "deduplicate" not in d["message"]
    json.dumps(d)


def test_continuous_rows_copied_into_dev_are_a_leak():
    rng = np.random.default_rng(1)
    train, dev = rng.normal(size=(1000, 4)), rng.normal(size=(200, 4))
    clean = duplicate_rows(train, dev)
    assert (clean["found"], clean["expected"], clean["upper"], clean["chance"]) == (0, 0.0, 0, True)
    assert clean["message"] == "no dev row repeats a training row"
    dev[[3, 50, 80, 120, 199]] = train[[10, 11, 12, 500, 999]]
    d = duplicate_rows(train, dev, name="test")
    assert (d["found"], d["share"], d["distinct_train"], d["chance"]) == (5, 0.0, 1000, False)
    assert d["message"].startswith("5 of 200 test rows duplicate training rows (chance alone gives about 0.0")
    assert d["message"].endswith("test errors are optimistic; deduplicate the data")


def _passengers(n, rng, days=False):
    """class (3), sex (2) and age (years, or whole days), missing in 40% of rows and imputed with a median."""
    age = rng.normal(30, 12, n)
    X = np.column_stack([rng.integers(0, 3, n), rng.integers(0, 2, n), (age * 365).round() if days else age])
    X[rng.random(n) < 0.4, 2] = 10000.0 if days else 28.0
    return X


def test_a_mixed_table_repeats_its_imputed_rows_by_chance_and_its_copies_are_a_leak():
    """Rows with an imputed age are one of six (class, sex, median) rows: about 40% of new rows repeat
    one by chance. A row with a measured age repeats only when copied."""
    rng = np.random.default_rng(2)
    train, dev = _passengers(2000, rng), _passengers(300, rng)
    d = duplicate_rows(train, dev)
    assert d["share"] == pytest.approx(0.4, abs=0.04) and d["expected"] == pytest.approx(120, abs=12)
    assert d["chance"] and d["copies"] == 0 and d["found"] == pytest.approx(120, abs=30)
    assert d["message"].endswith(f"as expected on this table, where {d['share']:.0%} of the training rows repeat "
                                 f"another (chance alone gives about {d['expected']:.0f}): not a leak")
    measured = np.flatnonzero(train[:, 2] != 28.0)
    dev[np.flatnonzero(dev[:, 2] != 28.0)[:10]] = train[measured[:10]]
    leak = duplicate_rows(train, dev)
    assert (leak["found"], leak["copies"], leak["chance"]) == (d["found"] + 10, 10, False)
    assert leak["copies_upper"] < 10 and (f"; 10 of them repeat a record that only copying repeats, where chance "
                                          f"gives at most {leak['copies_upper']}): dev errors are optimistic; "
                                          "deduplicate the data") in leak["message"]


def test_ages_in_whole_days_repeat_by_chance_too():
    """Ages rounded to days collide now and then: a few rows with a measured age equal a training row
    by chance, which the bound on copies allows for."""
    rng = np.random.default_rng(2)
    train, dev = _passengers(2000, rng, days=True), _passengers(300, rng, days=True)
    d = duplicate_rows(train, dev)
    assert 0 < d["copies"] <= d["copies_upper"] and d["chance"]


def test_records_copied_before_the_split_are_copies_in_train_too():
    """30 of 300 continuous records copied, then split: pairs that both land in train do not make
    repeats look like chance."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[200:230] = X[:30]
    rows = rng.permutation(300)
    train, dev = X[rows[:180]], X[rows[180:]]
    assert len(distinct_rows(train)[1]) < 180                        # some pairs sit wholly in train
    d = duplicate_rows(train, dev)
    assert d["found"] > 0 and d["copies"] == d["found"] and not d["chance"]
    assert (d["share"], d["expected"], d["upper"]) == (0.0, 0.0, 0)
    assert "duplicate training rows (chance alone gives about 0.0, at most 0): dev errors" in d["message"]
    assert d["copies_upper"] == 0


@pytest.mark.parametrize("train, other", [
    (np.tile(np.random.default_rng(3).normal(size=(20, 2)), (9, 1)), np.random.default_rng(3).normal(size=(20, 2))),
    (np.arange(180.0)[:, None] % 5, np.arange(60.0)[:, None] % 5),                  # one column of 5 values
])
def test_few_distinct_rows_of_any_values_repeat_by_chance(train, other):
    d = duplicate_rows(train, other)
    assert d["found"] == len(other) and d["chance"] and d["copies"] == 0 and d["share"] == 1.0


@pytest.mark.parametrize("K, n_train, m, a", [(2000, 500, 200, 1.1), (300, 500, 200, 1.0), (100, 60, 20, 0.8)])
def test_chance_repeats_rarely_raise_the_alarm(K, n_train, m, a):
    """Rows drawn independently from a Zipf-like distribution over K rows: the share estimate is about
    the true chance of a repeat, and the check calls a leak on at most 2% of 200 draws."""
    p = 1 / np.arange(1, K + 1) ** a
    p /= p.sum()
    true = float(np.sum(p * (1 - (1 - p) ** n_train)))        # P(a fresh row equals one of n_train)
    alarms, shares = 0, []
    for seed in range(200):
        v = np.random.default_rng(seed).choice(K, size=n_train + m, p=p)
        X = np.column_stack([v // 37, v % 37]).astype(float)
        d = duplicate_rows(X[:n_train], X[n_train:])
        alarms += not d["chance"]
        shares.append(d["share"])
    assert alarms <= 4
    assert np.mean(shares) == pytest.approx(true, abs=0.02)


@pytest.mark.parametrize("train, other, named", [
    (np.ones((5, 2)), np.ones((3, 3)), "other must be rows of 2 columns like train; got 3 columns"),
    (np.array([[1.0, np.nan]]), np.ones((3, 2)), "train must be finite"),
    (np.ones((5, 2)), np.zeros((0, 2)), "other must be non-empty"),
    (np.ones(5), np.ones((3, 2)), "train must be 2-D"),
])
def test_duplicate_rows_bad_input(train, other, named):
    with pytest.raises(NNRecipeError, match=named):
        duplicate_rows(train, other)
