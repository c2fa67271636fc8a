"""How often the estimated baseline's 95% interval holds the true irreducible error (issue 13).

`doctor.baseline.estimate_baseline` on synthetic tables whose Bayes error (or noise level) is known,
each seed its own training and dev draw and its own estimate seed. Prints, per table and training
size: the coverage (runs whose interval holds the truth), the median estimate, the median interval and
which evidence gave the estimate (k-NN on all columns, k-NN on the columns the reference relies on,
or the reference learner itself).

Tables (R* the Bayes error; σ the noise RMSE):
- gaussians-2d / gaussians-10d: equal priors, N(±Δ/2·e₁, I), Δ = 2, in 2 and 10 dimensions (9
  irrelevant columns): R* = Φ(−1) = 15.87%;
- noisy-2d / noisy-6d: a separable table (class 1 where x₁ + x₂²/2 > 1/2, x ~ N(0, I)) with labels
  flipped with probability η = 0.1, without and with 4 irrelevant columns: R* = η;
- three-classes: equal priors, N(μ_c, I) in 2-D (means (0, 0), (2, 0), (1, 1.7)): R* by Monte Carlo;
- smooth-3d: y = sin x₁ + x₂²/4 + 0.3·x₃ + N(0, 0.5²): σ = 0.5;
- friedman1: y = 10 sin(π x₁x₂) + 20 (x₃ − ½)² + 10 x₄ + 5 x₅ + N(0, 1), x ~ U[0, 1]¹⁰: σ = 1.

    python benchmarks/baseline.py --seeds 20 --sizes 1000 5000
"""

import argparse
import time
import warnings

import numpy as np
from scipy.stats import norm

from nnrecipe.doctor.baseline import estimate_baseline

MEANS3 = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]])


def gaussians(d):
    def make(n, rng):
        y = rng.integers(0, 2, n)
        X = rng.standard_normal((n, d))
        X[:, 0] += np.where(y == 1, 1.0, -1.0)
        return X, y
    return make


def noisy(extra, eta=0.1):
    def make(n, rng):
        X = rng.standard_normal((n, 2))
        clean = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.5).astype(np.int64)
        y = np.where(rng.random(n) < eta, 1 - clean, clean)
        return np.hstack([X, rng.standard_normal((n, extra))]), y
    return make


def three_classes(n, rng):
    y = rng.integers(0, 3, n)
    return rng.standard_normal((n, 2)) + MEANS3[y], y


def three_class_bayes():
    X, _ = three_classes(400_000, np.random.default_rng(12345))
    logp = -0.5 * ((X[:, None, :] - MEANS3[None]) ** 2).sum(axis=2)
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return float(np.mean(1.0 - (p / p.sum(axis=1, keepdims=True)).max(axis=1)))


def smooth(n, rng):
    X = rng.standard_normal((n, 3))
    return X, np.sin(X[:, 0]) + 0.25 * X[:, 1] ** 2 + 0.3 * X[:, 2] + 0.5 * rng.standard_normal(n)


def friedman1(n, rng):
    X = rng.uniform(0, 1, size=(n, 10))
    f = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
    return X, f + rng.standard_normal(n)


TABLES = {  # name: (maker, task, truth)
    "gaussians-2d": (gaussians(2), "classification", float(norm.cdf(-1.0))),
    "gaussians-10d": (gaussians(10), "classification", float(norm.cdf(-1.0))),
    "noisy-2d": (noisy(0), "classification", 0.1),
    "noisy-6d": (noisy(4), "classification", 0.1),
    "three-classes": (three_classes, "classification", None),
    "smooth-3d": (smooth, "regression", 0.5),
    "friedman1": (friedman1, "regression", 1.0),
}


def standardized(X, Xd):
    mu, sd = X.mean(axis=0), X.std(axis=0)
    return (X - mu) / sd, (Xd - mu) / sd


def which(b):
    if b.details["winner"] == "reference":
        return "reference"
    return "k-NN, all columns" if b.details["knn"]["columns"] == "all" else "k-NN, relevant columns"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000], help="training rows")
    parser.add_argument("--dev", type=int, default=1000, help="dev rows (default 1000)")
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'table':<14} {'n':>5} {'truth':>7} {'covered':>8} {'median estimate':>16} {'median interval':>17}  "
          f"estimate from (runs)")
    for name in args.tables:
        make, task, truth = TABLES[name]
        truth = three_class_bayes() if truth is None else truth
        for n in args.sizes:
            hits, estimates, lows, highs, sources, t0 = 0, [], [], [], {}, time.perf_counter()
            for seed in range(args.seeds):
                rng = np.random.default_rng([seed, 2024])
                X, y = make(n, rng)
                Xd, yd = make(args.dev, rng)
                X, Xd = standardized(X, Xd)
                b = estimate_baseline(X, y, Xd, yd, task, seed=seed)
                hits += b.low <= truth <= b.high
                estimates.append(b.estimate)
                lows.append(b.low)
                highs.append(b.high)
                sources[which(b)] = sources.get(which(b), 0) + 1
            f = (lambda v: f"{v:.3f}") if task == "regression" else (lambda v: f"{100 * v:.1f}%")
            print(f"{name:<14} {n:>5} {f(truth):>7} {hits:>4}/{args.seeds:<3} {f(np.median(estimates)):>16} "
                  f"{f(np.median(lows)) + '–' + f(np.median(highs)):>17}  "
                  + ", ".join(f"{k} ({v})" for k, v in sorted(sources.items()))
                  + f"  [{(time.perf_counter() - t0) / args.seeds:.2f} s/run]", flush=True)


if __name__ == "__main__":
    main()
