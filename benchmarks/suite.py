"""nnrecipe with no options against scikit-learn's defaults and an Optuna search, on the same rows (issue 13).

Tables (all shipped offline by packages or made here):
- real: scikit-learn's iris, wine, breast_cancer, digits and diabetes (`load_diabetes(scaled=False)`, a
  regression in the target's units), and palmerpenguins (tests/fixtures/penguins.csv, target "species":
  text columns and gaps);
- synthetic, with a known Bayes error R* (the best any model can do), made once from a fixed stream so
  every seed sees the same table:
  · gaussians — two classes of equal prior, x | y ~ N(μ_y, I) in 8 dimensions, ‖μ₁ − μ₀‖ = Δ = 2:
    the Bayes rule is the perpendicular bisector and R* = Φ(−Δ/2) = Φ(−1) = 15.87%;
  · noisy-labels — a clean table (x ~ U[−1, 1]⁶, y = 1[x₁² + x₂² < 1/2], R* = 0) whose labels are
    flipped independently with probability η = 0.1: the clean label stays the best guess, so R* = η;
  · friedman1 — y = 10 sin(π x₁x₂) + 20 (x₃ − ½)² + 10 x₄ + 5 x₅ + ε, x ~ U[0, 1]¹⁰, ε ~ N(0, σ²),
    σ = 1: the best prediction is the noise-free function, so the Bayes RMSE is σ = 1.

Methods, per table and seed s, all on the SAME train/dev/test rows:
- recipe: `nr.Recipe(verbose=0, seed=s).fit(table, target)` — `nnrecipe run TABLE --target T` as a
  library call: a raw table (a dict of columns, or the CSV's path), no options. Its test error is
  `test_error_` (the test set opened once, at its end), its epochs `record_["spent_epochs"]` (every
  experiment's), its estimated baseline `record_["baseline"]` when the record has one ("—" otherwise).
- The peers take the recipe's rows: `r.split_` (train, dev and the test set the recipe opened), whose
  features are the recipe's prepared numeric columns (`r.preprocessor_.transform(table)`, checked
  equal), so text columns reach every method encoded the same way. Every method's final model
  learns from train+dev, all rows but the test's, as the recipe's does (it refits its choice on
  train+dev: after cross-validation, and after deciding on dev when dev adds ≥ 10% of train's rows,
  true of every table here):
  · mlp — `make_pipeline(StandardScaler(), MLPClassifier/MLPRegressor(max_iter=1000, random_state=s))`
    fitted on train+dev (defaults choose nothing on dev): scikit-learn's defaults except max_iter
    (1000 rather than 200, so it stops on its own tolerance rule rather than on a ConvergenceWarning;
    the unscaled diabetes target needs it); epochs = n_iter_;
  · hgb — `HistGradientBoostingClassifier/Regressor(random_state=s)` defaults, fitted on train+dev
    (not an MLP: no epochs);
  · optuna — a TPE search (`TPESampler(seed=s)`, --trials, default 30) over the mlp pipeline's
    hidden_layer_sizes (1 or 2 layers of 8–128 units, log scale: it holds the default 100), alpha
    (1e-6–10, log) and learning_rate_init (1e-4–0.1, log), each trial fitted on train and scored on
    dev; the trial best on dev is refitted on train+dev (GridSearchCV's refit=True) and scored on
    test; epochs = n_iter_ summed over all trials and the refit.
  Test error is the error rate (classification) or the RMSE in the target's units (regression).

Targets (issue 13), on the medians over seeds: on every table the recipe's test error is no worse than
the default MLP's by more than 0.5 points (regression: RMSE within 2%); its mean over the tables is no
worse than the Optuna search's (classification: the mean error rate; regression: the mean RMSE ratio
recipe/Optuna ≤ 1); and it trains at most a quarter of Optuna's epochs (summed over the tables).

Optuna is a benchmark-only dependency, not one of nnrecipe's: `pip install optuna`. This script is not
part of the test suite. Seconds are wall-clock with 2 BLAS threads; the machine's load is printed. A
seed takes about 7–8 minutes on a 2-core machine with another process keeping one core busy (seeds 0–2:
23 min), nearly all of it the Optuna search; the recipe itself takes seconds per table.

    python benchmarks/suite.py [--seeds 0 1 2] [--tables iris wine ...] [--trials 30]
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

N_THREADS = 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(N_THREADS))

import numpy as np
from _machine import cpu_seconds, others_load, print_load, settle
from scipy.stats import norm
from sklearn import datasets
from sklearn.base import clone
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nnrecipe as nr

PENGUINS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "penguins.csv"
DATA_SEED = 20240613                      # the synthetic tables' own stream: the same table for every seed
MAX_GAP, MAX_RMSE_RATIO, MAX_EPOCH_SHARE = 0.005, 1.02, 0.25
METHODS = ("recipe", "mlp", "hgb", "optuna")


# ---- tables ------------------------------------------------------------------------------------
def _sklearn(loader, **kw):
    def load():
        b = loader(**kw)
        names = [str(n) for n in getattr(b, "feature_names", range(b.data.shape[1]))]
        columns = {name: b.data[:, j] for j, name in enumerate(names)}
        columns["target"] = b.target
        return columns, "target", None
    return load


def _penguins():
    return str(PENGUINS), "species", None


def _stream(k):
    return np.random.default_rng(np.random.SeedSequence(DATA_SEED).spawn(3)[k])


def _gaussians(n=2000, d=8, delta=2.0):
    rng = _stream(0)
    y = rng.integers(0, 2, n)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    X = rng.normal(size=(n, d)) + np.outer(y - 0.5, delta * direction)     # means ±Δ/2 along a unit vector
    return _columns(X, y), "y", float(norm.cdf(-delta / 2))


def _noisy_labels(n=2000, d=6, eta=0.1):
    rng = _stream(1)
    X = rng.uniform(-1, 1, size=(n, d))
    clean = (X[:, 0] ** 2 + X[:, 1] ** 2 < 0.5).astype(int)
    flip = rng.random(n) < eta
    return _columns(X, np.where(flip, 1 - clean, clean)), "y", eta


def _friedman1(n=2000, d=10, sigma=1.0):
    rng = _stream(2)
    X = rng.uniform(0, 1, size=(n, d))
    f = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]
    return _columns(X, f + rng.normal(0, sigma, n)), "y", sigma


def _columns(X, y):
    columns = {f"x{j + 1}": X[:, j] for j in range(X.shape[1])}
    columns["y"] = y
    return columns


TABLES = {
    "iris": _sklearn(datasets.load_iris),
    "wine": _sklearn(datasets.load_wine),
    "breast_cancer": _sklearn(datasets.load_breast_cancer),
    "digits": _sklearn(datasets.load_digits),
    "diabetes": _sklearn(datasets.load_diabetes, scaled=False),
    "penguins": _penguins,
    "gaussians": _gaussians,
    "noisy_labels": _noisy_labels,
    "friedman1": _friedman1,
}


# ---- methods ----------------------------------------------------------------------------------
def _error(model, X, y, regression):
    predicted = model.predict(X)
    if regression:
        return float(np.sqrt(np.mean((np.asarray(predicted, float) - y) ** 2)))
    return float(np.mean(predicted != y))


def _mlp(regression, seed, **params):
    peer = (MLPRegressor if regression else MLPClassifier)(max_iter=1000, random_state=seed, **params)
    return make_pipeline(StandardScaler(), peer)


def _all(rows):
    """train+dev: every row but the test's, what each method's final model learns from."""
    (X, y), (Xd, yd) = rows["train"], rows["dev"]
    return np.concatenate([X, Xd]), np.concatenate([y, yd])


def run_mlp(rows, regression, seed):
    model = _mlp(regression, seed).fit(*_all(rows))
    return _error(model, *rows["test"], regression), model[-1].n_iter_


def run_hgb(rows, regression, seed):
    model = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(random_state=seed)
    model.fit(*_all(rows))
    return _error(model, *rows["test"], regression), None


def run_optuna(rows, regression, seed, trials):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    models, epochs = {}, []

    def objective(trial):
        layers = trial.suggest_int("layers", 1, 2)
        hidden = tuple(trial.suggest_int(f"units{i + 1}", 8, 128, log=True) for i in range(layers))
        model = _mlp(regression, seed, hidden_layer_sizes=hidden,
                     alpha=trial.suggest_float("alpha", 1e-6, 10.0, log=True),
                     learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 0.1, log=True))
        model.fit(*rows["train"])
        models[trial.number] = model
        epochs.append(model[-1].n_iter_)
        return _error(model, *rows["dev"], regression)

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    final = clone(models[study.best_trial.number]).fit(*_all(rows))      # GridSearchCV's refit=True
    return _error(final, *rows["test"], regression), int(sum(epochs) + final[-1].n_iter_)


def _baseline(r):
    """The recipe's estimated baseline as text, from record_["baseline"] (a number, or a dict with the
    estimate and maybe its interval); None when the record has none."""
    b = r.record_.get("baseline")
    if isinstance(b, dict):
        value = next((b[k] for k in ("error", "estimate", "value", "baseline_error") if
                      isinstance(b.get(k), (int, float))), None)
        low, high = b.get("low"), b.get("high")
        if value is None:
            return None
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            return value, (low, high)
        return value, None
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        return float(b), None
    return None


def _rows_digest(rows):
    """A digest of the exact train/dev/test arrays: a cached peer result is reused only for the same rows."""
    h = hashlib.blake2b(digest_size=12)
    for part in ("train", "dev", "test"):
        for a in rows[part]:
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a)
    return h.hexdigest()


def run_table(name, seed, trials, cache=None):
    table, target, bayes = TABLES[name]()
    out = {"bayes": bayes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the recipe's trail warnings, MLP convergence warnings
        t0 = time.perf_counter()
        r = nr.Recipe(verbose=0, seed=seed).fit(table, target)
        seconds = time.perf_counter() - t0
        regression = r.classes_ is None
        s = r.split_
        assert s.test_openings, "the recipe opened its test set"
        test = s.test                            # opened by the recipe, for its final evaluation
        index = np.sort(np.concatenate([s.train.index, s.dev.index, test.index]))
        assert np.array_equal(index, np.arange(len(index))), "train, dev and test partition the rows"
        if r.preprocessor_ is not None:          # the peers see the recipe's prepared columns
            prepared = r.preprocessor_.transform(table)
            if len(prepared) == len(index):      # (rows without a target were dropped before the split)
                for part in (s.train, s.dev, test):
                    assert np.allclose(prepared[part.index], part.X, equal_nan=True), "same prepared rows"
        rows = {"train": (s.train.X, s.train.y), "dev": (s.dev.X, s.dev.y), "test": (test.X, test.y)}
        out["n"], out["regression"] = len(index), regression
        out["recipe"] = (float(r.test_error_), int(r.record_["spent_epochs"]), seconds, _baseline(r))
        key = f"{name}|{seed}|{trials}|refit|{_rows_digest(rows)}"
        if cache is not None and key in cache:
            out.update({m: tuple(v) for m, v in cache[key].items()})
            return out
        for method, run in (("mlp", run_mlp), ("hgb", run_hgb)):
            t0 = time.perf_counter()
            error, epochs = run(rows, regression, seed)
            out[method] = (error, epochs, time.perf_counter() - t0, None)
        t0 = time.perf_counter()
        error, epochs = run_optuna(rows, regression, seed, trials)
        out["optuna"] = (error, epochs, time.perf_counter() - t0, None)
        if cache is not None:
            cache[key] = {m: out[m] for m in ("mlp", "hgb", "optuna")}
    return out


# ---- printing --------------------------------------------------------------------------------
def _err(value, regression):
    return "—" if value is None else f"{value:.4g}" if regression else f"{100 * value:.2f}%"


def _base(b, regression):
    if b is None:
        return "—"
    value, interval = b
    text = _err(value, regression)
    return text if interval is None else f"{text} ({_err(interval[0], regression)}–{_err(interval[1], regression)})"


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES), metavar="TABLE",
                        help="any of: " + ", ".join(TABLES))
    parser.add_argument("--trials", type=int, default=30, help="Optuna trials per table and seed (default 30)")
    parser.add_argument("--cache", type=Path, help="a JSON file of the peers' results, reused for the same "
                        "table, seed, trials and rows (the peers do not depend on the recipe's decisions, only on "
                        "its split): re-running after a change of the recipe then takes minutes, not half an hour")
    args = parser.parse_args(argv)
    try:
        import optuna  # noqa: F401
    except ImportError:
        sys.exit("benchmarks/suite.py needs Optuna, a benchmark-only dependency (not one of nnrecipe's): "
                 "pip install optuna")

    quiet, cpu0, wall0 = settle()
    results = {}
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else None if not args.cache else {}
    for name in args.tables:
        for seed in args.seeds:
            results[name, seed] = run_table(name, seed, args.trials, cache)
            if args.cache:
                args.cache.write_text(json.dumps(cache))
            print(f"  {name} seed {seed} done ({time.perf_counter() - wall0:.0f} s)", file=sys.stderr, flush=True)
    wall = time.perf_counter() - wall0
    others = others_load(cpu0, cpu_seconds(), wall)

    print(f"# nnrecipe (no options) vs scikit-learn defaults and Optuna TPE ({args.trials} trials), seeds "
          f"{' '.join(map(str, args.seeds))}\n")
    print(f"`python benchmarks/suite.py --seeds {' '.join(map(str, args.seeds))} --trials {args.trials}"
          + ("" if args.tables == list(TABLES) else " --tables " + " ".join(args.tables))
          + f"` — {wall / 60:.1f} min with {N_THREADS} BLAS threads\n")
    print_load(quiet, others)
    print("Test error: error rate, or RMSE in the target's units (diabetes, friedman1). Epochs: the recipe's "
          "record_['spent_epochs']; MLP n_iter_; Optuna n_iter_ summed over its trials; HGB is not an MLP (—). "
          "Baseline: the recipe's estimate (record_['baseline']), — when its record has none.\n")
    print("| table | seed | method | test error | epochs | s | est. baseline | Bayes error |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for (name, seed), res in results.items():
        reg = res["regression"]
        for method in METHODS:
            error, epochs, seconds, base = res[method]
            print(f"| {name} | {seed} | {method} | {_err(error, reg)} | {'—' if epochs is None else f'{epochs:,}'} "
                  f"| {seconds:.1f} | {_base(base, reg) if method == 'recipe' else ''} | "
                  f"{_err(res['bayes'], reg)} |")

    print("\n## Medians over seeds\n")
    print("| table | rows | recipe | MLP | HGB | Optuna | recipe epochs | Optuna epochs | recipe s | Optuna s | "
          "est. baseline | Bayes error | recipe vs MLP |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    summary, misses = {}, []
    for name in args.tables:
        runs = [results[name, seed] for seed in args.seeds]
        reg = runs[0]["regression"]
        med = {m: _median([r[m][0] for r in runs]) for m in METHODS}
        epochs = {m: _median([r[m][1] for r in runs]) for m in ("recipe", "optuna")}
        secs = {m: _median([r[m][2] for r in runs]) for m in ("recipe", "optuna")}
        bases = [r["recipe"][3] for r in runs if r["recipe"][3] is not None]
        base = (_median([b[0] for b in bases]), None) if bases else None
        ok = med["recipe"] <= (MAX_RMSE_RATIO * med["mlp"] if reg else med["mlp"] + MAX_GAP)
        if not ok:
            misses.append(name)
        summary[name] = (reg, med, epochs)
        gap = (f"{med['recipe'] / med['mlp']:.3f}× " if reg else f"{100 * (med['recipe'] - med['mlp']):+.2f} pt ")
        print(f"| {name} | {runs[0]['n']:,} | " + " | ".join(_err(med[m], reg) for m in METHODS)
              + f" | {epochs['recipe']:,.0f} | {epochs['optuna']:,.0f} | {secs['recipe']:.1f} | {secs['optuna']:.1f} | "
              + f"{_base(base, reg)} | {_err(runs[0]['bayes'], reg)} | {gap}{'PASS' if ok else 'MISS'} |")

    print("\n## Targets (issue 13)\n")
    print(f"- every table no worse than the default MLP by more than {100 * MAX_GAP:.1f} points (RMSE within "
          f"{100 * (MAX_RMSE_RATIO - 1):.0f}%): " + ("PASS" if not misses else f"MISS ({', '.join(misses)})"))
    cls = [n for n in args.tables if not summary[n][0]]
    reg = [n for n in args.tables if summary[n][0]]
    parts, ok = [], True
    if cls:
        ours, theirs = (float(np.mean([summary[n][1][m] for n in cls])) for m in ("recipe", "optuna"))
        parts.append(f"classification mean error {100 * ours:.2f}% vs Optuna {100 * theirs:.2f}%")
        ok &= ours <= theirs
    if reg:
        ratio = float(np.mean([summary[n][1]["recipe"] / summary[n][1]["optuna"] for n in reg]))
        parts.append(f"regression mean RMSE ratio recipe/Optuna {ratio:.3f}")
        ok &= ratio <= 1
    print(f"- mean over the tables no worse than Optuna's: {'; '.join(parts)}: {'PASS' if ok else 'MISS'}")
    ours, theirs = (sum(summary[n][2][m] for n in args.tables) for m in ("recipe", "optuna"))
    share = ours / theirs if theirs else math.inf
    print(f"- at most {MAX_EPOCH_SHARE:.0%} of Optuna's epochs: {ours:,.0f} vs {theirs:,.0f} ({share:.1%}): "
          f"{'PASS' if share <= MAX_EPOCH_SHARE else 'MISS'}")


if __name__ == "__main__":
    main()
