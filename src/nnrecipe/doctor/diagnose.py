"""Bias or variance: where the error comes from, against a baseline, and what the recipe does next."""

import math
import numbers
import warnings
from dataclasses import dataclass, field

from .._checks import shown
from ..data.split import Z95
from ..errors import DropoutWarning, NNRecipeError, expect
from ..training.history import History

DEFAULT_TOLERANCE = 0.02      # two percentage points: a gap this small is not worth a knob
SLACK = 1e-9                  # rounding: 0.14 − 0.12 = 0.020000000000000018 is a gap of exactly 0.02

BIAS_STEPS = ("bigger network: more hidden units or layers",
              "train longer",
              "a better optimizer (Adam) or a tuned learning rate",
              "another architecture")
VARIANCE_STEPS = ("more data",
                  "regularization: L2 (λ on a log grid), then dropout",
                  "data augmentation",
                  "another architecture")

DONE = "none: the error is within tolerance of the baseline; evaluate the test set once"

CASES = {(False, False): "good fit", (True, False): "high bias",
         (False, True): "high variance", (True, True): "high bias and high variance"}


def _high(gap, tolerance):
    """A gap is high when it exceeds the tolerance by more than rounding (SLACK)."""
    return gap > tolerance + SLACK


@dataclass(frozen=True)
class Diagnosis:
    """avoidable_bias = train − baseline; variance = dev − train; `case` names which exceed the
    tolerance (a gap equal to it, up to rounding, is not high); `next_steps` is the recipe's
    ordered list (bias first, then variance). units: None for error rates, else the name of the
    error measured in the target's units ("RMSE")."""
    train_error: float
    dev_error: float
    baseline_error: float
    tolerance: float
    avoidable_bias: float
    variance: float
    case: str
    next_steps: tuple = field(default=())
    epoch: int | None = None
    units: str | None = None

    @property
    def high_bias(self):
        return _high(self.avoidable_bias, self.tolerance)

    @property
    def high_variance(self):
        return _high(self.variance, self.tolerance)

    def __str__(self):
        steps, f = "; ".join(self.next_steps), self.show
        return (f"{self.case}: train {f(self.train_error)}, dev {f(self.dev_error)}, baseline "
                f"{f(self.baseline_error)} → avoidable bias {f(self.avoidable_bias, True)}, variance "
                f"{f(self.variance, True)} (tolerance {f(self.tolerance)}). Next: {steps}")

    def show(self, value, signed=False):
        """A figure of this diagnosis in words: a percentage for rates, 4 significant digits and the
        units' name otherwise (RMSE 54.12)."""
        return show_error(value, self.units, signed)

    def to_dict(self):
        return {k: getattr(self, k) for k in ("train_error", "dev_error", "baseline_error", "tolerance",
                                              "avoidable_bias", "variance", "case", "epoch", "units")} | {
            "next_steps": list(self.next_steps)}


def show_error(value, units=None, signed=False, digits=2):
    """An error in words: '5.66%' for a rate (units None; `digits` decimals), 'RMSE 54.12' (4
    significant digits) in the target's units."""
    sign = "+" if signed else ""
    return f"{value:{sign}.{digits}%}" if units is None else f"{units} {value:{sign}.4g}"


def _real(value, name, expected, ok):
    good = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and ok(value)
    expect(good, name, expected, shown(value))
    return float(value)


def check_levels(baseline_error, tolerance, units=None):
    """(baseline_error, tolerance) as floats, checked before any work (numpy scalars too). For rates
    (units None) each in [0, 1), tolerance None is DEFAULT_TOLERANCE; in the target's units each a
    finite number ≥ 0, and the tolerance must be given (the recipe derives one from the target)."""
    if units is None:
        tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
        return tuple(_real(v, name, "in [0, 1)", lambda x: 0 <= x < 1)
                     for v, name in ((baseline_error, "baseline_error"), (tolerance, "tolerance")))
    expect(tolerance is not None, "tolerance", f"a number ≥ 0 in the target's units ({units})", "None")
    return tuple(_real(v, name, f"a finite number ≥ 0 in the target's units ({units})", lambda x: x >= 0)
                 for v, name in ((baseline_error, "baseline_error"), (tolerance, "tolerance")))


def _rate(value, name, units=None):
    if units is None:
        return _real(value, name, "an error rate in [0, 1]", lambda x: 0 <= x <= 1)
    return _real(value, name, f"a finite error ≥ 0 ({units})", lambda x: x >= 0)


def diagnose(train_error, dev_error=None, baseline_error=0.0, tolerance=None, units=None):
    """Diagnose from error rates, or from a History (its epoch of lowest dev error).

    train_error, dev_error : rates in [0, 1]; or pass a History as train_error and omit dev_error.
    baseline_error : the best error reachable (human-level, Bayes estimate) in [0, 1).
    tolerance : a gap is high when it exceeds this (default 0.02, two points); a gap equal to it is
        not high, up to rounding (1e-9), so that 0.14 − 0.12 and 0.12 − 0.10 are both exactly 0.02.
        The dev set's 95% interval (`split.sizes.dev_interval`) is a principled choice.
    units : None for error rates; for a regression, the name of the error ("RMSE"): the errors, the
        baseline and the tolerance (then required) are numbers ≥ 0 in the target's units.

    From a History, the train error is History.train_error, measured over the batches as trained.
    With dropout on (history.dropout) that overstates the network's training error, which can turn
    "high variance" into "high bias": a DropoutWarning says so. Pass the errors of the network as
    evaluated instead: diagnose(net.error(X_train, y_train), net.error(X_dev, y_dev)).
    """
    epoch = None
    if isinstance(train_error, History):
        hist = train_error
        if dev_error is not None:
            raise NNRecipeError("dev_error must be omitted when a History is given; it holds the dev errors")
        if not hist.dev_error:
            raise NNRecipeError("the History must hold dev errors: fit with dev=(X_dev, y_dev)")
        epoch = min(range(len(hist.dev_error)), key=hist.dev_error.__getitem__)
        if getattr(hist, "dropout", False):
            warnings.warn("diagnose(history): the History's train_error was measured with dropout on, over "
                          "the batches as trained, so it overstates the network's training error and the "
                          "bias; pass the errors instead: diagnose(net.error(X_train, y_train), "
                          "net.error(X_dev, y_dev))", DropoutWarning, stacklevel=2)
        train_error, dev_error = hist.train_error[epoch], hist.dev_error[epoch]
    if dev_error is None:
        raise NNRecipeError("dev_error must be given: an error rate in [0, 1]")
    train_error, dev_error = _rate(train_error, "train_error", units), _rate(dev_error, "dev_error", units)
    baseline_error, tolerance = check_levels(baseline_error, tolerance, units)
    bias, variance = train_error - baseline_error, dev_error - train_error
    high = (_high(bias, tolerance), _high(variance, tolerance))
    bias_steps = (BIAS_STEPS[:-1] if high[1] else BIAS_STEPS) if high[0] else ()   # "another architecture" once
    steps = bias_steps + (VARIANCE_STEPS if high[1] else ())
    steps = steps or (DONE,)
    return Diagnosis(train_error, dev_error, baseline_error, tolerance, bias, variance,
                     CASES[high], steps, epoch, units)


def error_interval(errors, n):
    """The 95% Wilson score interval (low, high) of an error rate measured as `errors` wrong out of n
    examples. Unlike the normal interval p ± 1.96·√(p(1−p)/n) it keeps its width at 0 or n errors:
    0 wrong out of 60 gives [0, 6.0%], not ± 0."""
    ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (errors, n))
    expect(ok and 0 <= errors <= n and n > 0, "errors and n", "integers with 0 ≤ errors ≤ n and n > 0",
           f"{errors!r} and {n!r}")
    p, z2 = errors / n, Z95 * Z95
    centre, half = p + z2 / (2 * n), Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - half) / (1 + z2 / n)), min(1.0, (centre + half) / (1 + z2 / n))


def describe_error(errors, n):
    """An error rate with its 95% Wilson interval: '0.00% (95% CI 0.00–6.02%, n = 60)'."""
    low, high = error_interval(errors, n)
    return f"{errors / n:.2%} (95% CI {100 * low:.2f}–{high:.2%}, n = {n})"


def describe_test(test):
    """A run record's test result in words: '7.00% (95% CI 4.22–11.41%, n = 200)' for a classifier,
    'RMSE 54.1 (95% CI 47.9–60.3, n = 89)' for a regression (its bootstrap interval); the balanced
    error after it when the run decided on it."""
    if "rmse" in test:
        return f"RMSE {test['rmse']:.4g} (95% CI {test['low']:.4g}–{test['high']:.4g}, n = {test['n']})"
    said = describe_error(test["errors"], test["n"])
    b = test.get("balanced") if test.get("metric") == "balanced" else None
    return said if b is None else f"{said}; balanced error {b['error']:.2%} (95% CI {100 * b['low']:.2f}–{b['high']:.2%})"
