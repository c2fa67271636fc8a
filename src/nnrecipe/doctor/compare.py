"""Paired comparison of two models on the same rows: is the candidate better than the incumbent beyond
the noise of those rows?

Convention: `a` is the incumbent (the model kept so far), `b` the candidate. Both predict the same n
rows, so the comparison is paired: the rows both get right (or both get wrong) say nothing about which
model is better, and only the rows on which they differ carry evidence.

Classifiers — McNemar's exact test (`compare_classifiers`)
    Let a_only be the rows that a gets wrong and b right, b_only the rows b gets wrong and a right, and
    m = a_only + b_only the discordant rows. If the two models had the same error rate, each discordant
    row would be equally likely to fall either way: b_only ~ Binomial(m, 1/2). The two-sided exact
    p-value is

        p = min(1, 2·Σ_{i ≤ min(a_only, b_only)} C(m, i) / 2^m)     (p = 1 when m = 0),

    scipy.stats.binomtest(b_only, m, 0.5). The difference of error rates is

        difference = error_b − error_a = (b_only − a_only) / n = (m/n)·(2π̂ − 1),   π̂ = b_only / m,

    and its (1 − alpha) interval comes from the discordant counts: π's Clopper–Pearson interval
    [π_L, π_U] (the exact interval that inverts the same binomial test) mapped through
    (m/n)·(2π − 1), conditional on m as the test is. So the interval leaves out 0 exactly when
    p < alpha: the figure shown and the decision never disagree. With no discordant row the two
    models make the same mistakes on these rows and the interval is [0, 0].

Regressors — paired bootstrap (`compare_regressors`)
    difference = RMSE_b − RMSE_a, RMSE = √((1/n)·Σ (yᵢ − ŷᵢ)²). n_boot times, draw n row indices with
    replacement — the same rows for both models, so the resample keeps their pairing — and take
    d* = RMSE_b* − RMSE_a* on the drawn rows. [low, high] are the alpha/2 and 1 − alpha/2 quantiles
    of d* (percentile interval). b is better when the whole interval is below 0, a when it is above.
    The p-value is the bootstrap's two-sided tail: twice the share of resamples on the other side of 0
    from the observed difference (d* ≥ 0 when the difference is negative, d* ≤ 0 when positive, ties
    counted as the other side), capped at 1; its resolution is 1/n_boot. a_only and b_only count the
    rows where that model's absolute error is the larger (ties in neither).

`better` is "a", "b" or None (no significant difference at alpha). The recipe's keep-or-reject rule
built on it lives in the policy (recipe/loop.py, Recipe._verdict).

Bad input (lengths, non-class values, NaN, alpha outside (0, 1)) raises NNRecipeError naming the
argument.
"""

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from .._checks import as_class_indices, as_rng, as_vector, positive, shown
from ..errors import expect

BOOT_CELLS = 1 << 22          # at most this many resampled row indices held at once (32 MiB)
SIDES = ("a", "b")


@dataclass(frozen=True)
class Comparison:
    """The paired comparison of an incumbent `a` and a candidate `b` on the same n rows.

    n : rows compared.
    errors_a, errors_b : rows each model gets wrong (classifiers); None for regressors.
    a_only, b_only : rows only a gets wrong (b right), only b gets wrong (a right); for regressors the
        rows where a's (b's) absolute error is the larger.
    p_value : two-sided p-value of "no difference" (McNemar exact, or the paired bootstrap's tail).
    difference : error_b − error_a (error rates, or RMSEs in the target's units): negative when the
        candidate is better.
    low, high : the (1 − alpha) interval of the difference (95% at the default alpha).
    better : "a", "b", or None when the difference is within the noise at alpha.
    alpha : the significance level.
    test : "mcnemar-exact" or "paired-bootstrap".
    error_a, error_b : each model's error rate, or RMSE.
    n_boot : bootstrap resamples (regressors); None for classifiers.
    """
    n: int
    errors_a: int | None
    errors_b: int | None
    a_only: int
    b_only: int
    p_value: float
    difference: float
    low: float
    high: float
    better: str | None
    alpha: float
    test: str
    error_a: float
    error_b: float
    n_boot: int | None = None

    def to_dict(self):
        """The fields as a JSON-able dict (plain Python numbers), for run.json."""
        return asdict(self)

    def describe(self):
        """One sentence: the two errors, the difference with its interval, the test and its p-value."""
        level = f"{1 - self.alpha:.0%}"
        if self.test == "mcnemar-exact":
            scale = 100
            errors = f"error {self.error_b:.2%} (candidate) vs {self.error_a:.2%} (incumbent)"
            test = (f"McNemar exact p = {self.p_value:.3g}: {self.a_only} rows only the incumbent gets wrong, "
                    f"{self.b_only} only the candidate")
            unit = " points"
        elif self.test == "stratified-bootstrap":
            scale = 100
            errors = f"balanced error {self.error_b:.2%} (candidate) vs {self.error_a:.2%} (incumbent)"
            test = f"stratified paired bootstrap p = {self.p_value:.3g} ({self.n_boot} resamples)"
            unit = " points"
        else:
            scale = 1
            errors = f"RMSE {self.error_b:.4g} (candidate) vs {self.error_a:.4g} (incumbent)"
            test = f"paired bootstrap p = {self.p_value:.3g} ({self.n_boot} resamples)"
            unit = ""
        verdict = {"a": "the incumbent is better", "b": "the candidate is better",
                   None: "no difference beyond noise"}[self.better]
        return (f"{verdict} on {self.n} rows: {errors}, difference {scale * self.difference:+.4g}{unit} "
                f"({level} CI {scale * self.low:+.4g} to {scale * self.high:+.4g}); {test}")


# ---- input checks ----------------------------------------------------------------------------
def _three(y, pred_a, pred_b):
    arrays = [as_vector(v, name) for v, name in ((y, "y"), (pred_a, "pred_a"), (pred_b, "pred_b"))]
    n = len(arrays[0])
    for arr, name in zip(arrays[1:], ("pred_a", "pred_b")):
        expect(len(arr) == n, f"y and {name}", "the same length (predictions of the same rows)",
               f"{n} and {len(arr)} rows")
    return arrays


def _alpha(alpha):
    ok = isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and 0 < alpha < 1
    expect(ok, "alpha", "a significance level in (0, 1)", shown(alpha))
    return float(alpha)


# ---- classifiers ---------------------------------------------------------------------------
def mcnemar_p(a_only, b_only):
    """McNemar's exact two-sided p-value from the discordant counts: binomtest(b_only, m, 0.5) with
    m = a_only + b_only, i.e. min(1, 2·P(X ≤ min(a_only, b_only))) for X ~ Binomial(m, 1/2); 1 when m = 0."""
    from scipy.stats import binomtest

    m = a_only + b_only
    return 1.0 if m == 0 else float(binomtest(b_only, m, 0.5).pvalue)


def _discordant_interval(a_only, b_only, n, alpha):
    """(low, high) of (b_only − a_only)/n: π = b_only/m's Clopper–Pearson interval mapped by (m/n)(2π − 1)."""
    from scipy.stats import beta

    m = a_only + b_only
    if m == 0:
        return 0.0, 0.0
    p_low = 0.0 if b_only == 0 else float(beta.ppf(alpha / 2, b_only, m - b_only + 1))
    p_high = 1.0 if b_only == m else float(beta.ppf(1 - alpha / 2, b_only + 1, m - b_only))
    return m / n * (2 * p_low - 1), m / n * (2 * p_high - 1)


def compare_classifiers(y, pred_a, pred_b, alpha=0.05):
    """McNemar's exact test of two classifiers' predictions on the same rows.

    y, pred_a, pred_b : (n,) class indices (whole numbers ≥ 0) of the same rows: the truth, the
        incumbent's and the candidate's predictions.
    alpha : significance level (default 0.05): `better` names the model whose advantage has
        p < alpha, and [low, high] is the (1 − alpha) interval.

    p = binomtest(b_only, a_only + b_only, 0.5) two-sided (1 with no discordant row); difference =
    (b_only − a_only)/n = error_b − error_a; its interval maps the Clopper–Pearson interval of
    b_only/m (see the module's docstring), so it leaves out 0 exactly when p < alpha.

    Returns a Comparison with test="mcnemar-exact".
    """
    alpha = _alpha(alpha)
    y, pred_a, pred_b = (as_class_indices(v, name) for v, name in zip(_three(y, pred_a, pred_b),
                                                                   ("y", "pred_a", "pred_b")))
    wrong_a, wrong_b = pred_a != y, pred_b != y
    n, a_only, b_only = len(y), int((wrong_a & ~wrong_b).sum()), int((wrong_b & ~wrong_a).sum())
    p = mcnemar_p(a_only, b_only)
    low, high = _discordant_interval(a_only, b_only, n, alpha)
    better = None if p >= alpha else ("b" if b_only < a_only else "a")
    errors_a, errors_b = int(wrong_a.sum()), int(wrong_b.sum())
    return Comparison(n=n, errors_a=errors_a, errors_b=errors_b, a_only=a_only, b_only=b_only, p_value=p,
                      difference=(b_only - a_only) / n, low=low, high=high, better=better, alpha=alpha,
                      test="mcnemar-exact", error_a=errors_a / n, error_b=errors_b / n)


# ---- regressors ----------------------------------------------------------------------------
def compare_regressors(y, pred_a, pred_b, seed=0, n_boot=2000, alpha=0.05):
    """Paired bootstrap of RMSE_b − RMSE_a on the same rows.

    y, pred_a, pred_b : (n,) targets and the incumbent's and candidate's predictions, finite, n ≥ 2.
    seed : the bootstrap's stream (an int ≥ 0, a SeedSequence or a numpy Generator): the same seed and
        rows give the same result, and swapping a and b mirrors it exactly.
    n_boot : resamples (default 2000); alpha : significance level (default 0.05).

    Each resample draws n rows with replacement, the same rows for both models, and takes
    d* = RMSE_b* − RMSE_a*. [low, high] = the alpha/2 and 1 − alpha/2 quantiles of d*; better = "b"
    when high < 0, "a" when low > 0, else None. p = min(1, 2·share of d* on the other side of 0 from
    the observed difference (ties included)).

    Returns a Comparison with test="paired-bootstrap" and errors_a = errors_b = None.
    """
    alpha = _alpha(alpha)
    positive(n_boot, "n_boot", integer=True)
    n_boot = int(n_boot)
    y, pred_a, pred_b = (v.astype(np.float64) for v in _three(y, pred_a, pred_b))
    n = len(y)
    expect(n >= 2, "y", "at least 2 rows (a bootstrap needs a spread)", f"{n} row")
    sq_a, sq_b = (y - pred_a) ** 2, (y - pred_b) ** 2
    rmse_a, rmse_b = math.sqrt(sq_a.mean()), math.sqrt(sq_b.mean())
    difference = rmse_b - rmse_a
    low, high, p, better = _paired_bootstrap(
        np.zeros(n, dtype=np.int64), lambda rows: np.sqrt(sq_b[rows].mean(axis=1)) - np.sqrt(sq_a[rows].mean(axis=1)),
        difference, as_rng(seed), n_boot, alpha)
    abs_a, abs_b = np.abs(y - pred_a), np.abs(y - pred_b)
    return Comparison(n=n, errors_a=None, errors_b=None, a_only=int((abs_a > abs_b).sum()),
                      b_only=int((abs_b > abs_a).sum()), p_value=p, difference=difference, low=low, high=high,
                      better=better, alpha=alpha, test="paired-bootstrap", error_a=rmse_a, error_b=rmse_b,
                      n_boot=n_boot)


def compare_balanced(y, pred_a, pred_b, seed=0, n_boot=2000, alpha=0.05):
    """Stratified paired bootstrap of the balanced error difference, for imbalanced classes.

    y, pred_a, pred_b : (n,) class indices of the same rows (truth, incumbent, candidate).
    seed, n_boot, alpha : as in compare_regressors.

    The balanced error is the mean over the K classes present in y of the error rate within each class,
    BE = (1/K)·Σ_c e_c/n_c (1 − scikit-learn's balanced accuracy). Each resample draws n_c rows with
    replacement within every class c (the class counts stay those of the rows), the same rows for both
    models, so BE_b* − BE_a* = (1/n)·Σᵢ wᵢ·(wrong_bᵢ − wrong_aᵢ) over the drawn rows with wᵢ = n/(K·n_c(i)).
    Interval, p-value and `better` as in compare_regressors; errors_a and errors_b count the wrong rows.

    Returns a Comparison with test="stratified-bootstrap" and error_a, error_b the balanced errors.
    """
    alpha = _alpha(alpha)
    positive(n_boot, "n_boot", integer=True)
    y, pred_a, pred_b = (as_class_indices(v, name) for v, name in zip(_three(y, pred_a, pred_b),
                                                                   ("y", "pred_a", "pred_b")))
    n = len(y)
    expect(n >= 2, "y", "at least 2 rows (a bootstrap needs a spread)", f"{n} row")
    wrong_a, wrong_b = pred_a != y, pred_b != y
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    weight = n / (len(counts) * counts[codes])
    diff = weight * (wrong_b.astype(np.float64) - wrong_a)
    error_a, error_b = float(np.mean(weight * wrong_a)), float(np.mean(weight * wrong_b))
    low, high, p, better = _paired_bootstrap(codes, lambda rows: diff[rows].mean(axis=1), error_b - error_a,
                                             as_rng(seed), int(n_boot), alpha)
    return Comparison(n=n, errors_a=int(wrong_a.sum()), errors_b=int(wrong_b.sum()),
                      a_only=int((wrong_a & ~wrong_b).sum()), b_only=int((wrong_b & ~wrong_a).sum()), p_value=p,
                      difference=error_b - error_a, low=low, high=high, better=better, alpha=alpha,
                      test="stratified-bootstrap", error_a=error_a, error_b=error_b, n_boot=int(n_boot))


def _paired_bootstrap(strata, stat, difference, rng, n_boot, alpha):
    """(low, high, p, better) of a paired difference: n_boot resamples that draw, within each stratum
    (strata (n,) codes; all 0: the plain bootstrap), as many rows as it holds with replacement, the same
    rows for both models; stat(rows (B, n)) gives the difference on each resample's rows. [low, high]:
    the percentile interval; p: twice the share of resamples on the other side of 0 from `difference`
    (ties included), at most 1; better: "b" when high < 0, "a" when low > 0, else None."""
    n = len(strata)
    groups = [np.flatnonzero(strata == c) for c in np.unique(strata)]
    boot = np.empty(n_boot)
    step = max(1, BOOT_CELLS // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        rows = np.concatenate([g[rng.integers(0, len(g), size=(b, len(g)))] for g in groups], axis=1)
        boot[start:start + b] = stat(rows)
    low, high = (float(v) for v in np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    other = (boot >= 0).mean() if difference < 0 else (boot <= 0).mean() if difference > 0 else 0.5
    return low, high, float(min(1.0, 2 * other)), "b" if high < 0 else "a" if low > 0 else None
