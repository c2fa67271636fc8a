"""nr.diagnose: the notes' four cases, the baseline, the values, the recipe's order, a History's
best epoch, the tolerance, and every bad input."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.doctor.diagnose import (
    BIAS_STEPS,
    DEFAULT_TOLERANCE,
    DONE,
    VARIANCE_STEPS,
    DropoutWarning,
    describe_error,
    diagnose,
    error_interval,
)


def history(train, dev=None):
    h = nr.History()
    for i, t in enumerate(train):
        h.append({"cost": 1.0, "train_error": t} | ({} if dev is None else {"dev_error": dev[i]}))
    return h


# ---- the notes' four cases (baseline 0) ---------------------------------------------------------
@pytest.mark.parametrize("train, dev, case, steps", [
    (0.01, 0.015, "good fit", (DONE,)),
    (0.15, 0.16, "high bias", BIAS_STEPS),
    (0.01, 0.15, "high variance", VARIANCE_STEPS),
    (0.15, 0.30, "high bias and high variance", BIAS_STEPS[:-1] + VARIANCE_STEPS),   # architecture once, last
])
def test_the_four_cases_of_the_notes(train, dev, case, steps):
    d = diagnose(train, dev, baseline_error=0.0)
    assert d.case == case and d.next_steps == steps
    assert d.avoidable_bias == pytest.approx(train) and d.variance == pytest.approx(dev - train)
    assert (d.high_bias, d.high_variance) == ("bias" in case, "variance" in case)
    assert d.baseline_error == 0.0 and d.tolerance == DEFAULT_TOLERANCE == 0.02 and d.epoch is None


def test_baseline_matters():
    # 15% / 16% is high bias against a perfect baseline, but not against a 14% one (human level)
    assert diagnose(0.15, 0.16).case == "high bias"
    d = diagnose(0.15, 0.16, baseline_error=0.14)
    assert d.case == "good fit" and d.next_steps == (DONE,)
    assert d.avoidable_bias == pytest.approx(0.01) and d.variance == pytest.approx(0.01)
    d = diagnose(0.15, 0.30, baseline_error=0.14)          # the bias is gone, the variance stays
    assert d.case == "high variance" and d.next_steps == VARIANCE_STEPS


def test_values_are_the_exact_differences():
    d = diagnose(0.08, 0.10, baseline_error=0.075)
    assert d.avoidable_bias == 0.08 - 0.075 and d.variance == 0.10 - 0.08
    assert (d.train_error, d.dev_error) == (0.08, 0.10)
    d = diagnose(0.02, 0.05, baseline_error=0.04)          # better than the baseline on train
    assert d.avoidable_bias == pytest.approx(-0.02) and d.case == "high variance"


def test_bias_steps_come_before_variance_steps():
    steps = diagnose(0.2, 0.4).next_steps
    assert steps[:len(BIAS_STEPS) - 1] == BIAS_STEPS[:-1] and steps[len(BIAS_STEPS) - 1:] == VARIANCE_STEPS
    assert steps[0].startswith("bigger network") and steps[len(BIAS_STEPS) - 1] == "more data"


def test_next_steps_name_each_step_once():
    steps = diagnose(0.15, 0.30).next_steps
    assert len(steps) == len(set(steps))


# ---- tolerance ----------------------------------------------------------------------------------
def test_tolerance_decides_what_counts_as_high():
    assert diagnose(0.01, 0.015).case == "good fit"
    assert diagnose(0.01, 0.015, baseline_error=0.01, tolerance=0.001).case == "high variance"
    assert diagnose(0.15, 0.30, tolerance=0.2).case == "good fit"
    assert diagnose(0.01, 0.02, tolerance=0).case == "high bias and high variance"


def test_a_gap_equal_to_the_tolerance_is_not_high():
    d = diagnose(0.5, 0.75, baseline_error=0.25, tolerance=0.25)     # exact binary fractions
    assert d.avoidable_bias == d.variance == d.tolerance == 0.25 and d.case == "good fit"


@pytest.mark.parametrize("train, dev, baseline", [
    (0.12, 0.14, 0.10),          # variance 0.020000000000000018, bias 0.019999999999999990
    (0.07, 0.07, 0.05),          # bias 0.020000000000000004
])
def test_a_gap_of_two_points_is_not_high_whatever_the_rounding(train, dev, baseline):
    d = diagnose(train, dev, baseline_error=baseline)
    assert d.case == "good fit" and not d.high_bias and not d.high_variance


def test_a_gap_just_above_the_tolerance_is_high():
    d = diagnose(0.12, 0.1401, baseline_error=0.10)
    assert d.case == "high variance" and d.high_variance and not d.high_bias


# ---- from a History -----------------------------------------------------------------------------
def test_from_a_history_uses_the_epoch_of_lowest_dev_error():
    h = history(train=[0.30, 0.20, 0.10, 0.05, 0.01], dev=[0.35, 0.25, 0.12, 0.12, 0.20])
    d = diagnose(h)
    assert d.epoch == 2 and (d.train_error, d.dev_error) == (0.10, 0.12)     # the first of two ties
    assert d.case == "high bias" and d.avoidable_bias == pytest.approx(0.10)
    d = diagnose(h, baseline_error=0.09)
    assert d.epoch == 2 and d.case == "good fit"
    assert diagnose(h, tolerance=0.01).case == "high bias and high variance"


def test_a_history_trained_with_dropout_warns_that_its_train_error_is_not_the_networks():
    t = nr.load_dataset("moons")
    X, y = (t.X - t.X.mean(0)) / t.X.std(0), t.y
    h = nr.fit(nr.mlp([2, 8, 1], keep_prob=0.5, seed=0), X[:300], y[:300], dev=(X[300:], y[300:]), epochs=2,
               verbose=0)
    with pytest.warns(DropoutWarning, match=r"dropout on.*net\.error\(X_train, y_train\)"):
        diagnose(h)
    plain = history(train=[0.2], dev=[0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diagnose(plain)                                    # no dropout: no warning
    plain.dropout = True
    with pytest.warns(DropoutWarning):
        diagnose(plain)


def test_from_the_history_of_a_real_fit():
    t = nr.load_dataset("moons")
    X, y = (t.X - t.X.mean(0)) / t.X.std(0), t.y
    net = nr.mlp([2, 8, 1], seed=0)
    h = nr.fit(net, X[:300], y[:300], dev=(X[300:], y[300:]), epochs=5, lr=0.01, verbose=0)
    d = diagnose(h)
    best = int(np.argmin(h.dev_error))
    assert d.epoch == best and d.train_error == h.train_error[best] and d.dev_error == h.dev_error[best]


# ---- the result ---------------------------------------------------------------------------------
def test_diagnosis_is_frozen_printable_and_json():
    d = diagnose(0.15, 0.30, baseline_error=0.05)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.case = "good fit"
    assert str(d).startswith("high bias and high variance: train 15.00%, dev 30.00%, baseline 5.00%")
    assert "avoidable bias +10.00%, variance +15.00%" in str(d)
    out = json.loads(json.dumps(d.to_dict()))
    assert out["case"] == d.case and out["next_steps"] == list(d.next_steps) and out["epoch"] is None


def test_numpy_scalars_are_rates():
    d = diagnose(np.float64(0.01), np.float32(0.15), baseline_error=np.float64(0.0))
    assert d.case == "high variance"


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"baseline_error": 1.0}, "baseline_error must be in [0, 1); got 1.0"),
    ({"baseline_error": -0.01}, "baseline_error must be in [0, 1); got -0.01"),
    ({"baseline_error": True}, "baseline_error must be in [0, 1); got True"),
    ({"baseline_error": "0.1"}, "baseline_error must be in [0, 1); got '0.1'"),
    ({"baseline_error": float("nan")}, "baseline_error must be in [0, 1); got nan"),
    ({"train_error": 1.5}, "train_error must be an error rate in [0, 1]; got 1.5"),
    ({"train_error": -0.1}, "train_error must be an error rate in [0, 1]; got -0.1"),
    ({"train_error": True}, "train_error must be an error rate in [0, 1]; got True"),
    ({"train_error": "0.1"}, "train_error must be an error rate in [0, 1]; got '0.1'"),
    ({"dev_error": 2}, "dev_error must be an error rate in [0, 1]; got 2"),
    ({"dev_error": False}, "dev_error must be an error rate in [0, 1]; got False"),
    ({"dev_error": float("nan")}, "dev_error must be an error rate in [0, 1]; got nan"),
    ({"dev_error": None}, "dev_error must be given"),
    ({"tolerance": -0.01}, "tolerance must be in [0, 1); got -0.01"),
    ({"tolerance": 1}, "tolerance must be in [0, 1); got 1"),
    ({"tolerance": True}, "tolerance must be in [0, 1); got True"),
])
def test_bad_rates(kwargs, message):
    args = {"train_error": 0.1, "dev_error": 0.2} | kwargs
    with pytest.raises(nr.NNRecipeError) as err:
        diagnose(**args)
    assert message in str(err.value)


def test_a_history_without_dev_errors():
    with pytest.raises(nr.NNRecipeError, match=r"the History must hold dev errors: fit with dev=\(X_dev, y_dev\)"):
        diagnose(history(train=[0.2, 0.1]))


def test_dev_error_given_with_a_history():
    with pytest.raises(nr.NNRecipeError, match="dev_error must be omitted when a History is given"):
        diagnose(history(train=[0.2], dev=[0.3]), dev_error=0.3)


def test_a_diagnosis_is_not_a_history():
    with pytest.raises(nr.NNRecipeError):
        diagnose(diagnose(0.1, 0.2))


@pytest.mark.parametrize("errors, n, low, high", [
    (0, 60, 0.0, 0.0601719),          # no error seen: still an interval, not ± 0
    (13, 200, 0.0383764, 0.1080191),
    (1, 7, 0.0256796, 0.5131278),
    (60, 60, 0.9398281, 1.0),
])
def test_error_interval_is_wilsons(errors, n, low, high):      # scipy: binomtest(…).proportion_ci("wilson")
    assert error_interval(errors, n) == pytest.approx((low, high), abs=1e-7)


def test_describe_error():
    assert describe_error(0, 60) == "0.00% (95% CI 0.00–6.02%, n = 60)"


@pytest.mark.parametrize("errors, n", [(-1, 10), (11, 10), (0, 0), (0.5, 10), (True, 10)])
def test_error_interval_refuses_bad_counts(errors, n):
    with pytest.raises(nr.NNRecipeError, match="errors and n must be integers with 0 ≤ errors ≤ n and n > 0"):
        error_interval(errors, n)


@pytest.mark.parametrize("train, dev, case", [
    (50.0, 51.0, "good fit"), (60.0, 61.0, "high bias"), (50.0, 60.0, "high variance"),
    (60.0, 70.0, "high bias and high variance"),
])
def test_the_four_cases_on_rmse_in_the_targets_units(train, dev, case):
    d = diagnose(train, dev, baseline_error=49.0, tolerance=2.5, units="RMSE")
    assert d.case == case and d.units == "RMSE"
    assert (d.avoidable_bias, d.variance) == (train - 49.0, dev - train)
    assert f"train RMSE {train:.4g}" in str(d) and "%" not in str(d).split("Next")[0]
    assert d.to_dict()["units"] == "RMSE"


def test_rmse_levels_are_checked():
    message = r"tolerance must be a number ≥ 0 in the target's units \(RMSE\); got None"
    with pytest.raises(nr.NNRecipeError, match=message):
        diagnose(50.0, 51.0, 0.0, None, units="RMSE")
    with pytest.raises(nr.NNRecipeError, match="train_error must be a finite error ≥ 0 \\(RMSE\\); got -1"):
        diagnose(-1.0, 51.0, 0.0, 1.0, units="RMSE")
    assert diagnose(150.0, 151.0, 100.0, 3.0, units="RMSE").case == "high bias"   # errors above 1 are fine
