"""The achievable error, estimated from the data: the baseline the diagnosis reads avoidable bias against.

`estimate_baseline(X_train, y_train, X_dev, y_dev, task)` returns a `Baseline`: an estimate of the
irreducible error (the Bayes error rate R* of a classification; the noise level σ of a regression, an
RMSE in the target's units) with a 95% interval, the method that gave it and a sentence for the
decision trail. Two kinds of evidence:

- a nearest-neighbour estimate from the training rows, which needs no model (FeeBee, Renggli et al.
  2021, finds k-NN estimators the practical Bayes-error estimators on real data);
- a reachable error: a strong reference learner, scikit-learn's HistGradientBoosting with its
  defaults, fitted on the training rows and scored on the dev rows. No classifier beats the Bayes
  error and no regressor beats the noise, so its dev error bounds the irreducible error from above,
  up to the dev set's noise.

The estimate is the smaller of the two, and the `Baseline` says which one it was.

Which columns the neighbours measure. Columns that carry nothing about y still spread the rows apart,
so every neighbour is farther away, the k-NN posteriors are smoothed and every neighbour estimate runs
high (measured: two Gaussians with nine irrelevant columns, +7 points; noisy labels with four, the
Cover–Hart lower bound itself above R*; Friedman's function with five, σ̂ 1.5–1.9 for σ = 1). So the
neighbour estimates are computed twice: on all columns, and on the columns the reference learner
relies on (`relevant_columns`: permutation importance on dev, Breiman 2001), and the lower is kept.
Both are sound in the limit: the irreducible error given some of the columns is never below the one
given all of them, so dropping a column that matters can only raise an estimate, never bring it under
the truth. The interval takes the ends of both.

Classification
--------------
X (n, d), classes y ∈ {0, …, K−1}, K the number of classes with training rows. N_k(i) are the k
nearest other training rows of row i (Euclidean distance on the standardized inputs; row i itself is
left out, even among exact copies of it) and p̂_c(i) = |{j ∈ N_k(i): y_j = c}| / k: the leave-one-out
k-NN estimate of the class posterior p(c | x_i). The plug-in estimate of R* = E[1 − max_c p(c | x)] is

    R̂_k = (1/n)·Σ_i t_i,    t_i = 1 − max_c p̂_c(i),    k = round(√n) clipped to [5, 50].

Two biases pull it in opposite directions. 1 − max_c p is concave in p, so for a noisy but unbiased
p̂ Jensen's inequality gives E[t_i] ≤ 1 − max_c p(c | x_i): R̂_k is low where classes overlap, by
O(1/√k). Neighbours that sit away from x_i smooth the posterior towards the local class mix, which
pulls R̂_k up; this grows with the dimension and with k/n, and is worst where the posterior jumps
(labels flipped at random on a table whose clean classes are separable). k ~ √n makes both vanish
as n grows (k → ∞, k/n → 0).

The 1-NN leave-one-out error R₁ (the share of rows whose nearest other row has another class) gives
the Cover–Hart bounds (Cover & Hart 1967): asymptotically R₁ ≤ R*·(2 − K/(K−1)·R*), so

    ((K−1)/K)·(1 − √(1 − K/(K−1)·R₁)) ≤ R* ≤ R₁          (K = 2: (1 − √(1 − 2R₁))/2 ≤ R* ≤ R₁).

The k-NN estimate is R̂_k clipped into these bounds (the `Baseline` says when). The bounds are
limits as n → ∞: on a finite sample in many dimensions R₁ overstates its limit, and the lower bound
can then exceed R*; the reference's reachable error is the finite-sample fact that overrides it. The
lower bound is tight when the posterior is flat (pure label noise), where R̂_k is furthest off.

The reference: HistGradientBoostingClassifier (defaults, random_state from the seed), its dev error
e_ref = (wrong dev predictions)/m with its 95% Wilson interval. Estimate: min(clip(R̂_k), e_ref).

Noise of R̂_k and R₁ (`label_bootstrap`): the per-row terms share labels (row j's label enters the
terms of every row it neighbours), so the spread of the terms alone understates it 2–4× (measured).
A parametric bootstrap conditional on X redraws every label from its k-NN posterior, y*_j ~ p̂(· | x_j),
over the fixed neighbour graph: se² = Var_i(h_i)/n + Var*(R̂*_k), where h_i = E*[t*_i] is row i's
expected term (the rows' part) and Var*(R̂*_k) the labels' part; likewise for R₁. The same redraws
estimate the Jensen bias, b = E*[R̂*_k] − (1/n)·Σ_i (1 − max_c E*[p̂*_c(i)]) ≤ 0.

The interval: from the lowest of the lower ends to the lowest of the upper ends (`_interval`).
Lower ends: R̂_k − 1.96·se (its low side), the Cover–Hart lower bound at R₁ − 1.96·se(R₁) (for a
smoothed, too high R̂_k), each on all columns and on the relevant ones, and, when it is the estimate,
the reference's Wilson lower end (an upper bound's own noise). Upper ends: R̂_k + 1.96·se − b (widened
by the Jensen bias), on both column sets, and the reference's Wilson upper end (a reachable error).

Coverage, measured with `python benchmarks/baseline.py --seeds 20 --sizes 1000 5000` (20 seeds, 1 000
dev rows; the share of runs whose interval holds R*, at 1 000 and 5 000 training rows): two Gaussians
in 2-D 20/20 and 20/20, in 10-D (nine irrelevant columns) 18/20 and 20/20; noisy labels (η = 0.1) in
2-D 18/20 and 19/20, with four irrelevant columns 17/20 and 19/20 (0/20 and 11/20 on all columns
alone); three classes 20/20 and 20/20.

Regression
----------
y = f(x) + ε with independent noise of variance σ². With N_p(i) the p-th nearest other row of i,
γ(p) = (1/2n)·Σ_i (y_i − y_{N_p(i)})² has expectation σ² + (1/2)·E[(f(x_i) − f(x_{N_p(i)}))²]: the 1-NN
estimate γ(1) (Devroye, Györfi, Lugosi & Walk 2018 study it as a residual-variance estimate) is high
by the regression function's change between neighbours. For a smooth f that change grows with the
squared neighbour distance δ(p) = (1/n)·Σ_i ‖x_i − x_{N_p(i)}‖², so the Gamma test (Stefánsson,
Končar & Jones 1997) fits the line γ(p) ≈ Γ + A·δ(p) over p = 1..GAMMA_NEIGHBOURS by least squares
and reads the noise variance off its intercept: σ̂² = Γ, clipped to [0, γ(1)], σ̂ = √Γ in the target's
units. Measured on smooth f with σ known (d = 2, 3, 5, 10; 1 000 to 20 000 rows): γ(1) ran 3–17% above
σ for d ≥ 3, the Gamma test 0–5%. Γ = (1/n)·Σ_i u_i with u_i = Σ_p w_p·(y_i − y_{N_p(i)})²/2
(w: the least-squares intercept weights); its standard error comes from a residual bootstrap
conditional on X (`residual_bootstrap`) in the same way as the labels' above.

The reference: HistGradientBoostingRegressor's dev RMSE with its percentile-bootstrap interval
(`doctor.metrics.regression_errors`). Estimate: min(σ̂, RMSE_ref), σ̂ the lower of the Gamma tests on
all columns and on the relevant ones. Interval: lower ends √(Γ − 1.96·se) on both column sets and,
when it is the estimate, the reference's; upper ends √(Γ + 1.96·se) on both and the reference's.
Coverage (the benchmark above): a smooth function of 3 columns (σ = 0.5) 20/20 and 20/20; Friedman's
first function (5 of 10 columns matter, σ = 1) 18/20 and 19/20 (10/20 and 3/20 on all columns alone).

Scale and failure
-----------------
The nearest-neighbour part and the reference use at most `max_rows` training rows (a seeded
subsample, stratified by class for a classifier) and the reference is scored on at most `max_rows`
dev rows; `subsampled` and the note say so. Neighbours come from scikit-learn's NearestNeighbors, a
k-d tree up to KD_TREE_MAX_DIM features and brute force above (measured faster there).

Too little data (fewer than MIN_ROWS training rows, a class with fewer than MIN_CLASS_ROWS training
rows, a single class) raises NNRecipeError saying why; the recipe then falls back to a baseline of 0.
"""

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .._checks import as_class_indices, as_matrix, as_vector, check_seed, one_of, shown
from ..data.split import Z95
from ..errors import expect
from .diagnose import error_interval

TASKS = ("classification", "regression")
MIN_ROWS = 30                 # fewer training rows than this: no estimate
MIN_CLASS_ROWS = 2            # a class that occurs needs this many training rows (a neighbour of its own)
K_MIN, K_MAX = 5, 50          # k = round(√n) clipped to [K_MIN, K_MAX]
GAMMA_NEIGHBOURS = 10         # the Gamma test's p = 1..10 (Jones' usual choice)
MAX_ROWS = 10_000             # default cap on the rows the estimate uses (1M × 20 rows: 2.5 s; 20 000: 5.4 s)
KD_TREE_MAX_DIM = 5           # a k-d tree up to this many features, brute force above (measured faster)
N_REDRAWS = 100               # bootstrap redraws of the labels (residuals) for the standard errors
REFERENCE = "HistGradientBoosting"
RELEVANT_SHARE = 0.05         # a relevant column's permutation importance is ≥ 5% of the largest
IMPORTANCE_REPEATS = 5        # shuffles of each column for its permutation importance
IMPORTANCE_ROWS = 2_000       # at most this many dev rows are shuffled (d·5 copies of them go through the trees)
IMPORTANCE_MAX_COLUMNS = 32   # wider tables skip it: the cost grows with d (digits' 64: 4.2 s of 10-class trees)


@dataclass(frozen=True)
class Baseline:
    """An estimate of the irreducible error, with its 95% interval and where it came from.

    estimate : the error rate (classification) or the RMSE in the target's units (regression) that no
        model is expected to beat; low ≤ estimate ≤ high : its 95% interval.
    method : what gave the estimate: "k-NN Bayes-error estimate (k = 50)" or "Gamma-test noise
        estimate (10 neighbours)"; "HistGradientBoosting dev error" / "HistGradientBoosting dev RMSE"
        when the reference learner's reachable error was lower.
    details : the pieces, JSON-able: "task", "units" (None or "RMSE"), the rows used and given, the
        lower nearest-neighbour estimate ("knn", with its "columns": "all" or the relevant ones) with
        its standard error and interval, R₁ and the Cover–Hart bounds (classification), γ(1) and the
        Gamma test (regression), every candidate ("candidates": "all" and, when fewer columns matter,
        "relevant"), the columns' permutation importances ("relevance"), the reference's dev error
        with its interval, "winner" ("knn" or "reference"), "seed" and "max_rows".
    note : one sentence for the decision trail.
    subsampled : True when fewer training (or dev) rows than given were used.
    """
    estimate: float
    low: float
    high: float
    method: str
    details: dict = field(default_factory=dict)
    note: str = ""
    subsampled: bool = False

    def __str__(self):
        return self.note

    def to_dict(self):
        """The fields as a JSON-able dict."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "method": self.method,
                "details": self.details, "note": self.note, "subsampled": self.subsampled}


# ---- input checks ----------------------------------------------------------------------------
def _targets(y, n, name, x_name):
    """y as a finite numeric 1-D array ((n,) or (n, 1)) with as many rows as its X."""
    arr = as_vector(y, name)
    expect(len(arr) == n, f"{name} and {x_name}", "the same length", f"{len(arr)} and {n} rows")
    return arr


def _count(value, name, least):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= least
    expect(ok, name, f"an integer ≥ {least}", shown(value))
    return int(value)


def _streams(seed):
    """Five independent streams (training subsample, dev subsample, reference learner, bootstrap, column
    relevance) from
    seed: an int ≥ 0 or a SeedSequence (copied, so the caller's is not advanced)."""
    expect(seed is not None, "seed", "an int ≥ 0 or a numpy SeedSequence", "None")
    seed = check_seed(seed, "seed", "an int ≥ 0 or a numpy SeedSequence")
    root = (np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
            if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    return root.spawn(5)


def _seed_said(seed):
    return seed if isinstance(seed, int) else repr(seed)


# ---- subsampling -----------------------------------------------------------------------------
def subsample(n, m, rng, y=None):
    """Sorted indices of m of n rows, drawn without replacement from rng; None when m ≥ n (all rows).
    With class labels y, stratified: class c gets its share n_c·m/n (rounded by largest remainders),
    at least MIN_CLASS_ROWS rows (or all it has), so the total can exceed m by a few rows."""
    if m >= n:
        return None
    if y is None:
        return np.sort(rng.choice(n, size=m, replace=False))
    perm = rng.permutation(n)
    grouped = perm[np.argsort(y[perm], kind="stable")]          # rows by class, shuffled within each
    counts = np.unique(y, return_counts=True)[1]
    quota = counts * (m / n)
    take = np.floor(quota).astype(np.int64)
    take[np.argsort(-(quota - take), kind="stable")[:m - int(take.sum())]] += 1
    take = np.minimum(np.maximum(take, MIN_CLASS_ROWS), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.sort(np.concatenate([grouped[s:s + t] for s, t in zip(starts, take)]))


def _rows(X, y, m, stream, stratify):
    rows = subsample(len(X), m, np.random.default_rng(stream), y if stratify else None)
    return (X, y) if rows is None else (X[rows], y[rows])


def _one_thread():
    """A context in which OpenMP and BLAS run one thread. HistGradientBoosting's short parallel loops
    stall when the cores are busy (measured: 20 000 × 20 rows took 10 s on 2 busy cores with threads,
    0.5 s with one); on max_rows rows one thread is fast anywhere."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _random_state(stream):
    """An int for scikit-learn's random_state, drawn from the stream."""
    return int(stream.generate_state(1)[0] & 0x7FFFFFFF)


# ---- nearest neighbours ----------------------------------------------------------------------
def choose_k(n):
    """The number of neighbours for n training rows: round(√n) clipped to [K_MIN, K_MAX] (and < n)."""
    return int(min(max(round(math.sqrt(n)), K_MIN), K_MAX, n - 1))


def neighbours(X, k, distances=False):
    """(n, k) indices of each row's k nearest other rows of X (Euclidean), nearest first, and with
    distances=True their (n, k) distances too. Row i itself is left out even when exact copies tie
    with it: it is dropped wherever it appears, else the (k+1)-th neighbour is."""
    from sklearn.neighbors import NearestNeighbors

    n = len(X)
    algorithm = "kd_tree" if X.shape[1] <= KD_TREE_MAX_DIM else "brute"
    dist, ind = NearestNeighbors(n_neighbors=k + 1, algorithm=algorithm).fit(X).kneighbors(X)
    own = ind == np.arange(n)[:, None]
    own[~own.any(axis=1), -1] = True
    ind = ind[~own].reshape(n, k)
    return (ind, dist[~own].reshape(n, k)) if distances else ind


def cover_hart_bounds(one_nn_error, n_classes):
    """The Cover–Hart bounds (lower, upper) on the Bayes error R* from the 1-NN error R₁, K classes.

    R₁ ≤ R*·(2 − K/(K−1)·R*) (Cover & Hart 1967, in the limit of many rows) solves to
    R* ≥ ((K−1)/K)·(1 − √(1 − K/(K−1)·R₁)); and R* ≤ R₁. An R₁ above (K−1)/K (worse than guessing)
    gives the lower bound (K−1)/K. Example: K = 2, R₁ = 0.18 gives (0.1, 0.18)."""
    ok = isinstance(n_classes, numbers.Integral) and not isinstance(n_classes, bool) and n_classes >= 2
    expect(ok, "n_classes", "an integer ≥ 2", shown(n_classes))
    ok = isinstance(one_nn_error, numbers.Real) and not isinstance(one_nn_error, bool) and 0 <= one_nn_error <= 1
    expect(ok, "one_nn_error", "an error rate in [0, 1]", shown(one_nn_error))
    share = (n_classes - 1) / n_classes
    lower = share * (1 - math.sqrt(max(0.0, 1 - one_nn_error / share)))
    return float(min(lower, one_nn_error)), float(one_nn_error)


def class_shares(codes, nb, K):
    """(n, K) shares p̂_c(i) of each class c among the neighbours nb[i] (n, k) of row i; codes: the rows'
    classes 0..K−1."""
    n, k = nb.shape
    if K == 2:
        ones = codes.astype(np.int32)[nb].sum(axis=1) / k
        return np.stack([1.0 - ones, ones], axis=1)
    flat = (np.arange(n)[:, None] * K + codes[nb]).ravel()
    return np.bincount(flat, minlength=n * K).reshape(n, K) / k


def label_bootstrap(shares, nb, rng, n_redraws=N_REDRAWS):
    """Standard errors of the plug-in R̂_k and of R₁, and the plug-in's Jensen bias (module text).

    shares (n, K) : the k-NN posteriors p̂(· | x_j); nb (n, k) : the neighbour graph. n_redraws times,
    every label is redrawn, y*_j ~ p̂(· | x_j), and R̂*_k and R₁* are recomputed on the same graph.
    se² = Var_i(h_i)/n + Var*(·) with h_i row i's mean term over the redraws. jensen_bias =
    E*[R̂*_k] − (1/n)·Σ_i (1 − max_c p̄_c(i)), p̄(i) = E*[p̂*(i)] the mean of its neighbours' p̂."""
    n, K = shares.shape
    cum = np.cumsum(shares, axis=1)
    cum[:, -1] = np.inf
    plug, one = np.empty(n_redraws), np.empty(n_redraws)
    h_plug, h_one = np.zeros(n), np.zeros(n)
    for b in range(n_redraws):
        y = (rng.random(n)[:, None] >= cum).sum(axis=1)
        t = 1.0 - class_shares(y, nb, K).max(axis=1)
        miss = y[nb[:, 0]] != y
        plug[b], one[b] = t.mean(), miss.mean()
        h_plug += t
        h_one += miss
    h_plug /= n_redraws
    h_one /= n_redraws
    smooth = np.stack([shares[:, c][nb].mean(axis=1) for c in range(K)], axis=1)
    return {"se_plug_in": float(math.sqrt(h_plug.var() / n + plug.var(ddof=1))),
            "se_one_nn": float(math.sqrt(h_one.var() / n + one.var(ddof=1))),
            "jensen_bias": float(plug.mean() - np.mean(1.0 - smooth.max(axis=1))), "redraws": n_redraws}


def gamma_test(y, nb, dist):
    """The Gamma test's noise variance from neighbours nb (n, P) at distances dist (n, P) of each row.

    γ(p) = (1/2n)·Σ_i (y_i − y_{nb[i, p]})², δ(p) = (1/n)·Σ_i dist[i, p]²; the least-squares line
    γ ≈ Γ + A·δ over p = 1..P has intercept Γ = Σ_p w_p·γ(p). Returns (terms, gamma, delta): the
    per-row terms u_i = Σ_p w_p·(y_i − y_{nb[i, p]})²/2, whose mean is Γ, and the vectors γ, δ. When
    the δ(p) are all equal (exact copies) the line is undefined and w picks γ(1)."""
    half_sq = 0.5 * (y[:, None] - y[nb]) ** 2
    gamma, delta = half_sq.mean(axis=0), (dist ** 2).mean(axis=0)
    spread = delta - delta.mean()
    if np.ptp(delta) <= 1e-12 * max(float(delta.max()), 1e-300):
        w = np.zeros(len(delta))
        w[0] = 1.0
    else:
        w = 1.0 / len(delta) - delta.mean() * spread / float(spread @ spread)
    return half_sq @ w, gamma, delta


def residual_bootstrap(y, nb, dist, rng, n_redraws=N_REDRAWS):
    """The standard error of the Gamma test's Γ, conditional on X: n_redraws times, y*_j = ŝ_j + r*_j
    with ŝ_j the mean target of j's neighbours and r* drawn with replacement from the residuals
    (y − ŝ)·√(P/(P+1)) (centred; the factor undoes ŝ's own noise), and Γ* recomputed on the same
    neighbours. se² = Var_i(h_i)/n + Var*(Γ*), h_i row i's mean term over the redraws."""
    n, P = nb.shape
    smooth = y[nb].mean(axis=1)
    resid = (y - smooth) * math.sqrt(P / (P + 1))
    resid -= resid.mean()
    draws, h = np.empty(n_redraws), np.zeros(n)
    for b in range(n_redraws):
        terms = gamma_test(smooth + resid[rng.integers(0, n, n)], nb, dist)[0]
        draws[b] = terms.mean()
        h += terms
    h /= n_redraws
    return float(math.sqrt(h.var() / n + draws.var(ddof=1)))


def _interval(estimate, lower_ends, upper_ends, top=math.inf):
    """[lowest lower end, lowest upper end], widened to contain the estimate, within [0, top]."""
    low, high = min(min(lower_ends), estimate), max(min(upper_ends), estimate)
    return float(max(0.0, low)), float(min(top, high))


# ---- the estimate ----------------------------------------------------------------------------
def estimate_baseline(X_train, y_train, X_dev, y_dev, task, seed=0, max_rows=MAX_ROWS, n_classes=None,
                      balanced=False):
    """Estimate the irreducible error of a table from its training and dev rows (see the module's text).

    X_train (n, d), X_dev (m, d) : numeric rows, already standardized (with training statistics).
    y_train (n,), y_dev (m,) : class indices 0..K−1 (task "classification") or numbers ("regression").
    task : "classification" or "regression".
    seed : an int ≥ 0 or a numpy SeedSequence: the subsamples, the reference learner's random_state
        and the bootstrap draw from separate streams spawned from it; the same seed, the same result.
    max_rows : at most this many training rows, and dev rows, are used (an int ≥ MIN_ROWS); more are
        subsampled, seeded (stratified by class for a classifier).
    n_classes : classification only: the number of classes K, labels must be < K; None: any
        index ≥ 0. The estimate concerns the classes that have training rows.
    balanced : classification only: estimate the irreducible BALANCED error (the mean of the per-class
        error rates) instead, see `_balanced`.

    Returns a Baseline: estimate (an error rate, or an RMSE in the target's units), low and high (its
    95% interval), method, details, note, subsampled. A million rows × 20 features take about 2–4 s.

    Raises NNRecipeError for bad input, and when the table is too small to estimate: fewer than
    MIN_ROWS (30) training rows, a class with fewer than MIN_CLASS_ROWS (2) training rows, one class.
    """
    one_of(task, "task", TASKS)
    X_train, X_dev = as_matrix(X_train, "X_train"), as_matrix(X_dev, "X_dev")
    expect(X_dev.shape[1] == X_train.shape[1], "X_dev", f"{X_train.shape[1]} columns, as X_train has",
           f"{X_dev.shape[1]}")
    y_train = _targets(y_train, len(X_train), "y_train", "X_train")
    y_dev = _targets(y_dev, len(X_dev), "y_dev", "X_dev")
    max_rows = _count(max_rows, "max_rows", MIN_ROWS)
    streams = _streams(seed)
    if task == "classification":
        if n_classes is not None:
            n_classes = _count(n_classes, "n_classes", 2)
        y_train = as_class_indices(y_train, "y_train", n_classes)
        y_dev = as_class_indices(y_dev, "y_dev", n_classes)
    else:
        expect(n_classes is None, "n_classes", "None for a regression", shown(n_classes))
    expect(len(X_train) >= MIN_ROWS, "X_train", f"at least {MIN_ROWS} rows to estimate the baseline",
           f"{len(X_train)} rows")
    expect(not balanced or task == "classification", "balanced", "False for a regression", shown(balanced))
    run = _balanced if balanced else _classification if task == "classification" else _regression
    base = run(X_train, y_train, X_dev, y_dev, streams, max_rows)
    base.details.update(seed=_seed_said(seed), max_rows=max_rows)
    return base


def _which(winner, estimate, reached):
    """The trail's words for which evidence gave the estimate."""
    return f"{estimate} is kept" if winner == "knn" else f"{REFERENCE} reaches less, so its {reached} is the estimate"


def _rows_said(n_used, n_all, m_used, m_all):
    parts = [f"{used:,} of {given:,} {what} rows" for used, given, what in
             ((n_used, n_all, "training"), (m_used, m_all, "dev")) if used < given]
    return "; from a seeded subsample of " + " and ".join(parts) if parts else ""


def _pct(value):
    return f"{value:.1%}"


def _classes(X_train, y_train, X_dev, y_dev, streams, max_rows):
    """The rows used (subsampled if needed, stratified by class) and the classes renumbered 0..K−1:
    (X, y, Xd, yd, codes (n,), K, k)."""
    present, counts = np.unique(y_train, return_counts=True)
    expect(len(present) >= 2, "y_train", "at least 2 classes to estimate the baseline",
           f"only class {present[0]}")
    rare = int(np.argmin(counts))
    expect(counts[rare] >= MIN_CLASS_ROWS, "y_train",
           f"at least {MIN_CLASS_ROWS} rows of every class it holds to estimate the baseline",
           f"{counts[rare]} row of class {present[rare]}")
    X, y = _rows(X_train, y_train, max_rows, streams[0], True)
    Xd, yd = _rows(X_dev, y_dev, max_rows, streams[1], False)
    return X, y, Xd, yd, np.searchsorted(present, y), len(present), choose_k(len(X))


# ---- which columns the neighbours measure --------------------------------------------------------
def relevant_columns(model, Xd, yd, stream):
    """The columns a fitted reference model relies on, and every column's permutation importance.

    The importance of column j (Breiman 2001) is the mean rise of the model's dev loss when column j's
    dev values are shuffled: I_j = (1/R)·Σ_r [L(X with column j permuted by π_jr) − L(X)] over R =
    IMPORTANCE_REPEATS shuffles, L the mean log-loss −log p̂(y | x) for a classifier, the mean squared
    error for a regressor, on at most IMPORTANCE_ROWS dev rows; its spread is the standard deviation of
    the R terms. (scikit-learn's permutation_importance computes the same thing with one prediction per
    column and shuffle; here the R shuffled copies of a column go through the model in one call, which
    walks HistGradientBoosting's trees d instead of d·R times: 3.5× faster, measured on breast cancer.)
    A column is relevant when its importance is at least RELEVANT_SHARE of the largest and more than
    twice its spread.

    Xd (m, d), yd (m,) : dev rows (a classifier's rows of classes it was not fitted on are left out);
    stream : a SeedSequence for the row subsample and the shuffles. Returns (columns (r,) sorted,
    importance (d,)): all columns, and importance None, when there are fewer than MIN_ROWS dev rows,
    one column or more than IMPORTANCE_MAX_COLUMNS (the cost grows with d), or when no importance is
    positive."""
    d = Xd.shape[1]
    classes = getattr(model, "classes_", None)
    if classes is not None:
        known = np.isin(yd, classes)
        Xd, yd = Xd[known], yd[known]
    if len(Xd) < MIN_ROWS or not 2 <= d <= IMPORTANCE_MAX_COLUMNS:
        return np.arange(d), None
    rng = np.random.default_rng(stream)
    rows = subsample(len(Xd), IMPORTANCE_ROWS, rng)
    if rows is not None:
        Xd, yd = Xd[rows], yd[rows]
    m, repeats = len(Xd), IMPORTANCE_REPEATS
    Y = np.tile(yd, repeats)

    def loss(X, y):                                    # (len(y),): each row's loss
        if classes is None:
            return (model.predict(X) - y) ** 2
        p = model.predict_proba(X)[np.arange(len(y)), np.searchsorted(classes, y)]
        return -np.log(np.clip(p, 1e-15, 1.0))

    with _one_thread():
        base = float(np.mean(loss(Xd, yd)))
        rises = np.empty((d, repeats))
        for j in range(d):
            copies = np.tile(Xd, (repeats, 1))           # (R·m, d): R copies, column j shuffled in each
            copies[:, j] = np.concatenate([Xd[rng.permutation(m), j] for _ in range(repeats)])
            rises[j] = loss(copies, Y).reshape(repeats, m).mean(axis=1) - base
    mean, spread = rises.mean(axis=1), rises.std(axis=1)
    top = float(mean.max())
    if top <= 0:
        return np.arange(d), mean
    return np.flatnonzero((mean >= RELEVANT_SHARE * top) & (mean > 2 * spread)), mean


def _column_sets(ref, X, Xd, yd, stream):
    """{"all": None} and, when the reference relies on only some columns, {"relevant": columns}; and
    the JSON-able record of the importances."""
    columns, importance = relevant_columns(ref, Xd, yd, stream)
    sets = {"all": None}
    if 0 < len(columns) < X.shape[1]:
        sets["relevant"] = columns
    said = {"columns": [int(j) for j in columns] if "relevant" in sets else "all",
            "importance": None if importance is None else [float(v) for v in importance],
            "share": RELEVANT_SHARE}
    return sets, said


def _candidates(sets, X, part):
    """{name: part(X's columns of that set), with its "columns" ("all" or their indices)} for each column set
    of `_column_sets`, in order (the bootstrap draws from one stream, so the order is part of the seed)."""
    return {name: dict(part(X if cols is None else X[:, cols]), columns="all" if cols is None else
                       [int(j) for j in cols]) for name, cols in sets.items()}


def _combine(parts, reached, reached_low, reached_high, top=math.inf):
    """The neighbour candidates and the reference's reachable error combined: the lowest candidate, which
    evidence wins, the estimate (the smaller) and its interval (`_interval`: every candidate's ends, the
    reference's upper end, and its lower end when it is the estimate). parts: {name: {"estimate",
    "low", "high"}}. Returns (name, part, winner, estimate, low, high)."""
    name = min(parts, key=lambda key: parts[key]["estimate"])
    winner = "knn" if parts[name]["estimate"] <= reached else "reference"
    estimate = min(parts[name]["estimate"], reached)
    low, high = _interval(estimate, [p["low"] for p in parts.values()] + ([reached_low] if winner == "reference" else []),
                          [p["high"] for p in parts.values()] + [reached_high], top)
    return name, parts[name], winner, estimate, low, high


def _columns_said(name, parts, d):
    """The note's words for the columns the chosen neighbour estimate measured."""
    if name == "all":
        return ""
    return f", on the {len(parts[name]['columns'])} of {d} columns {REFERENCE} relies on"


def _knn_part(X, codes, K, k, rng):
    """The k-NN estimate, its bootstrap spread and the Cover–Hart bounds on the columns of X."""
    nb = neighbours(X, k)
    shares = class_shares(codes, nb, K)
    plug = float(np.mean(1.0 - shares.max(axis=1)))
    one_nn = float(np.mean(codes[nb[:, 0]] != codes))
    spread = label_bootstrap(shares, nb, rng)
    se, se_one, jensen = spread["se_plug_in"], spread["se_one_nn"], spread["jensen_bias"]
    lower, upper = cover_hart_bounds(one_nn, K)
    lower_low = cover_hart_bounds(max(0.0, one_nn - Z95 * se_one), K)[0]
    return {"estimate": min(max(plug, lower), upper), "plug_in": plug, "se": se,
            "low": min(plug - Z95 * se, lower_low), "high": plug + Z95 * se - min(jensen, 0.0), "jensen_bias": jensen,
            "clipped": "lower" if plug < lower else "upper" if plug > upper else None,
            "redraws": spread["redraws"], "one_nn_error": one_nn, "one_nn_se": se_one,
            "cover_hart": {"lower": lower, "upper": upper, "lower_low": lower_low},
            "knn_loo_error": float(np.mean(shares.argmax(axis=1) != codes))}


def _classification(X_train, y_train, X_dev, y_dev, streams, max_rows):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, Xd, yd, codes, K, k = _classes(X_train, y_train, X_dev, y_dev, streams, max_rows)
    n_all, m_all, n, m = len(X_train), len(X_dev), len(X), len(Xd)

    # the reference learner: a reachable dev error, and the columns it relies on
    with _one_thread():
        ref = HistGradientBoostingClassifier(random_state=_random_state(streams[2])).fit(X, y)
        errors = int(np.sum(ref.predict(Xd) != yd))
    ref_error = errors / m
    ref_low, ref_high = error_interval(errors, m)
    sets, relevance = _column_sets(ref, X, Xd, yd, streams[4])

    boot = np.random.default_rng(streams[3])
    parts = _candidates(sets, X, lambda Xc: _knn_part(Xc, codes, K, k, boot))
    chosen, part, winner, estimate, low, high = _combine(parts, ref_error, ref_low, ref_high, top=1.0)
    knn, plug, clipped = part["estimate"], part["plug_in"], part["clipped"]
    lower, upper = part["cover_hart"]["lower"], part["cover_hart"]["upper"]
    details = {
        "task": "classification", "units": None, "n_train": n, "n_train_given": n_all, "n_dev": m,
        "n_dev_given": m_all, "n_classes": K, "k": k,
        "knn": {key: part[key] for key in ("estimate", "plug_in", "se", "low", "high", "jensen_bias", "clipped",
                                           "redraws", "columns")},
        "one_nn_error": part["one_nn_error"], "one_nn_se": part["one_nn_se"], "cover_hart": part["cover_hart"],
        "knn_loo_error": part["knn_loo_error"], "candidates": parts, "relevance": relevance,
        "reference": {"name": "HistGradientBoostingClassifier", "dev_error": ref_error, "errors": errors,
                      "n": m, "low": ref_low, "high": ref_high},
        "winner": winner}
    said = {None: "between Cover–Hart bounds",
            "lower": f"(raised from {_pct(plug)} to the lower of its Cover–Hart bounds)",
            "upper": f"(lowered from {_pct(plug)} to the upper of its Cover–Hart bounds, the 1-NN error)"}[clipped]
    which = _which(winner, "the k-NN estimate", "dev error")
    note = (f"baseline (estimated): {_pct(estimate)} (95% CI {100 * low:.1f}–{_pct(high)}), k-NN Bayes-error "
            f"estimate {_pct(knn)} (k = {k}{_columns_said(chosen, parts, X.shape[1])}) {said} "
            f"[{_pct(lower)}, {_pct(upper)}]; {REFERENCE} reaches {_pct(ref_error)} on dev "
            f"(95% CI {100 * ref_low:.1f}–{_pct(ref_high)}): {which}{_rows_said(n, n_all, m, m_all)}")
    method = f"k-NN Bayes-error estimate (k = {k})" if winner == "knn" else f"{REFERENCE} dev error"
    return Baseline(estimate, low, high, method, details, note, n < n_all or m < m_all)


def _balanced(X_train, y_train, X_dev, y_dev, streams, max_rows):
    """The irreducible balanced error BE* = min_h (1/K)·Σ_c P(h(x) ≠ c | y = c). The rule that reaches it
    picks argmax_c p(c | x)/π_c (π_c the class shares), and with the k-NN posteriors p̂ its plug-in is

        BÊ = (1/n)·Σ_i Σ_c p̂_c(i)·1[h(i) ≠ c] / (K·π_c),    h(i) = argmax_c p̂_c(i)/π_c,

    with a normal interval ± 1.96·sd(terms)/√n, on all columns and on the relevant ones (the lower is
    kept). The reference learner is HistGradientBoosting with class_weight="balanced", scored by its
    balanced error on dev (doctor.metrics.balanced_error, with its interval). The estimate is the
    smaller; the Cover–Hart bounds concern the plain error and are not used."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from .metrics import balanced_error

    X, y, Xd, yd, codes, K, k = _classes(X_train, y_train, X_dev, y_dev, streams, max_rows)
    n, m = len(X), len(Xd)
    with _one_thread():
        ref = HistGradientBoostingClassifier(class_weight="balanced", random_state=_random_state(streams[2]))
        found = balanced_error(yd, ref.fit(X, y).predict(Xd))
    sets, relevance = _column_sets(ref, X, Xd, yd, streams[4])
    prior = np.bincount(codes, minlength=K) / n

    def part(Xc):
        shares = class_shares(codes, neighbours(Xc, k), K)
        pick = np.argmax(shares / prior, axis=1)
        terms = (shares * (np.arange(K) != pick[:, None]) / (K * prior)).sum(axis=1)
        plug, half = float(terms.mean()), Z95 * float(terms.std(ddof=1)) / math.sqrt(n)
        return {"estimate": plug, "low": plug - half, "high": plug + half}

    parts = _candidates(sets, X, part)
    chosen, best, winner, estimate, low, high = _combine(parts, found["error"], found["low"], found["high"], top=1.0)
    plug = best["estimate"]
    details = {"task": "classification", "units": None, "metric": "balanced", "n_train": n,
               "n_train_given": len(X_train), "n_dev": m, "n_dev_given": len(X_dev), "n_classes": K, "k": k,
               "knn": best, "candidates": parts, "relevance": relevance,
               "reference": {"name": "HistGradientBoostingClassifier(class_weight='balanced')",
                             "dev_error": found["error"], "n": m, "low": found["low"], "high": found["high"]},
               "winner": winner}
    which = _which(winner, "the k-NN estimate", "dev error")
    note = (f"baseline (estimated, balanced error): {_pct(estimate)} (95% CI {100 * low:.1f}–{_pct(high)}), "
            f"k-NN plug-in {_pct(plug)} (k = {k}{_columns_said(chosen, parts, X.shape[1])}); {REFERENCE} with "
            f"balanced class weights reaches {_pct(found['error'])} on dev: {which}"
            f"{_rows_said(n, len(X_train), m, len(X_dev))}")
    method = (f"k-NN balanced-error estimate (k = {k})" if winner == "knn"
              else f"{REFERENCE} balanced dev error")
    return Baseline(estimate, low, high, method, details, note, n < len(X_train) or m < len(X_dev))


def _gamma_part(X, y, P, rng):
    """The Gamma test's noise estimate and its bootstrap interval on the columns of X."""
    nb, dist = neighbours(X, P, distances=True)
    terms, gamma, delta = gamma_test(y, nb, dist)
    raw = float(terms.mean())
    var = min(max(raw, 0.0), float(gamma[0]))
    se = residual_bootstrap(y, nb, dist, rng)
    return {"estimate": math.sqrt(var), "variance": var, "variance_raw": raw, "se_variance": se,
            "low": math.sqrt(max(0.0, var - Z95 * se)), "high": math.sqrt(var + Z95 * se),
            "clipped": "lower" if raw < 0 else "upper" if raw > gamma[0] else None, "redraws": N_REDRAWS,
            "one_nn_estimate": math.sqrt(float(gamma[0])), "gamma": [float(v) for v in gamma],
            "delta": [float(v) for v in delta]}


def _regression(X_train, y_train, X_dev, y_dev, streams, max_rows):
    from sklearn.ensemble import HistGradientBoostingRegressor

    from .metrics import regression_errors

    n_all, m_all = len(X_train), len(X_dev)
    X, y = _rows(X_train, y_train.astype(np.float64), max_rows, streams[0], False)
    Xd, yd = _rows(X_dev, y_dev.astype(np.float64), max_rows, streams[1], False)
    n, m = len(X), len(Xd)

    # the reference learner: a reachable dev RMSE, and the columns it relies on
    with _one_thread():
        ref = HistGradientBoostingRegressor(random_state=_random_state(streams[2])).fit(X, y)
        pred = ref.predict(Xd)
    if m >= 2:
        scored = regression_errors(yd, pred, seed=streams[2].spawn(1)[0])
        ref_rmse, ref_low, ref_high = scored["rmse"], scored["low"], scored["high"]
    else:
        ref_rmse = ref_low = ref_high = float(abs(yd[0] - pred[0]))
    sets, relevance = _column_sets(ref, X, Xd, yd, streams[4])

    # the nearest-neighbour estimate: the Gamma test's intercept
    P = min(GAMMA_NEIGHBOURS, n - 1)
    boot = np.random.default_rng(streams[3])
    parts = _candidates(sets, X, lambda Xc: _gamma_part(Xc, y, P, boot))
    chosen, part, winner, estimate, low, high = _combine(parts, ref_rmse, ref_low, ref_high)
    sigma = part["estimate"]
    details = {
        "task": "regression", "units": "RMSE", "n_train": n, "n_train_given": n_all, "n_dev": m,
        "n_dev_given": m_all, "neighbours": P,
        "knn": {key: part[key] for key in ("estimate", "variance", "variance_raw", "se_variance", "low", "high",
                                           "clipped", "redraws", "columns")},
        "one_nn_estimate": part["one_nn_estimate"], "gamma": part["gamma"], "delta": part["delta"],
        "candidates": parts, "relevance": relevance,
        "reference": {"name": "HistGradientBoostingRegressor", "dev_rmse": ref_rmse, "n": m,
                      "low": ref_low, "high": ref_high},
        "winner": winner}
    g = lambda v: f"{v:.4g}"
    which = _which(winner, "the nearest-neighbour estimate", "dev RMSE")
    note = (f"baseline (estimated): RMSE {g(estimate)} (95% CI {g(low)}–{g(high)}), nearest-neighbour noise "
            f"estimate σ̂ = {g(sigma)} (Gamma test over {P} neighbours{_columns_said(chosen, parts, X.shape[1])}; "
            f"1-NN: {g(part['one_nn_estimate'])}); {REFERENCE} reaches RMSE {g(ref_rmse)} on dev "
            f"(95% CI {g(ref_low)}–{g(ref_high)}): {which}{_rows_said(n, n_all, m, m_all)}")
    method = f"Gamma-test noise estimate ({P} neighbours)" if winner == "knn" else f"{REFERENCE} dev RMSE"
    return Baseline(estimate, low, high, method, details, note, n < n_all or m < m_all)
