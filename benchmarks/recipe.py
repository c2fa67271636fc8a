"""The automatic recipe vs a scikit-learn grid search, on the same train/dev data.

Per dataset (football, circles, moons, digits; the bundled data with default options) and seed:

a. the recipe: Recipe(verbose=0, seed=s).fit(X, y, test=..., classes=...); its dev error is the
   chosen experiment's, its cost the epochs all its experiments trained (record_["spent_epochs"]);
b. the grid: MLPClassifier (ReLU, Adam, random_state=s) over hidden_layer_sizes in {(16,), (32,),
   (64,), (32, 16), (64, 32), (128, 64)} x alpha in {1e-5, ..., 1} (6 x 6 = 36 candidates). Same
   split as the recipe (split_dev(X, y, test, seed=s) for football, which has its own test set,
   split(X, y, seed=s) otherwise; asserted equal to recipe.split_), StandardScaler fit on train.
   max_iter, batch size and learning rate are those of the recipe's first experiment (150
   epochs of batches of 32 for up to 1000 training rows, else 60 epochs of batches of 64, both at
   lr 0.003); MLPClassifier may stop earlier (tol 1e-4 on the training loss), so its cost is the sum
   of n_iter_ (epochs actually run) over all 36 candidates.

The grid is a loop over ParameterGrid that fits each candidate on train and scores it on dev:
exactly GridSearchCV(cv=PredefinedSplit([-1] * n_train + [0] * n_dev)) with one fold, but it
keeps every fitted candidate, so n_iter_ is known for each. Both pick on the same dev set with
models trained on the same rows, and both refit their choice on train+dev before the locked test
set is opened once (GridSearchCV's refit=True, with a scaler of those rows; the recipe refits after
cross-validation, and after deciding on dev when dev adds at least 10% of train's rows); the
refit's epochs count for both. alpha is scikit-learn's L2 weight, penalty
alpha/(2 n_batch)·‖W‖² per step, the recipe's λ/(2m) on a full batch (its L2 grid is 0.01..3).

Target per dataset (mean over seeds): recipe dev error <= grid's best + 1 point, using at most a
third of the grid's epochs. Seconds are wall-clock on a shared 2-core machine (load reported).

    python benchmarks/recipe.py [--seeds 0 1 2]
"""

import argparse
import os
import time
import warnings
from collections import defaultdict

N_THREADS = 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(N_THREADS))

import numpy as np
from _machine import cpu_seconds, others_load, print_load
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from nnrecipe.data.split import split, split_dev
from nnrecipe.datasets import load_dataset
from nnrecipe.recipe import Recipe

DATASETS = ("football", "circles", "moons", "digits")
GRID = {"hidden_layer_sizes": [(16,), (32,), (64,), (32, 16), (64, 32), (128, 64)],
        "alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]}
MAX_GAP, MAX_RATIO = 0.01, 1 / 3


def run_recipe(t, seed):
    t0 = time.perf_counter()
    r = Recipe(verbose=0, seed=seed).fit(t.X, t.y, test=t.test, classes=t.classes)
    return r, time.perf_counter() - t0


def run_grid(t, seed, first):
    """Every candidate fit on train, scored on dev; the best one then tested once."""
    s = split_dev(t.X, t.y, t.test, seed=seed) if t.test is not None else split(t.X, t.y, seed=seed)
    rows = lambda a: a.reshape(len(a), -1)
    scaler = StandardScaler().fit(rows(s.train.X))
    Xtr, Xdev = scaler.transform(rows(s.train.X)), scaler.transform(rows(s.dev.X))
    batch = len(Xtr) if first["batch_size"] is None else first["batch_size"]
    t0, fitted = time.perf_counter(), []
    for params in ParameterGrid(GRID):
        clf = MLPClassifier(solver="adam", learning_rate_init=first["lr"], batch_size=batch,
                            max_iter=first["epochs"], random_state=seed, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xtr, s.train.y)
        fitted.append((1 - clf.score(Xdev, s.dev.y), clf))
    dev_error, best = min(fitted, key=lambda f: f[0])           # ties: the first in grid order
    X_all, y_all = np.concatenate([rows(s.train.X), rows(s.dev.X)]), np.concatenate([s.train.y, s.dev.y])
    scale_all = StandardScaler().fit(X_all)                     # refit=True: the best candidate on train+dev
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        final = clone(best).fit(scale_all.transform(X_all), y_all)
    seconds = time.perf_counter() - t0
    test = s.open_test(reason="final evaluation of the grid's best candidate")
    return {"split": s, "dev": dev_error, "epochs": sum(c.n_iter_ for _, c in fitted) + final.n_iter_, "best": best,
            "test": 1 - final.score(scale_all.transform(rows(test.X)), test.y), "seconds": seconds}


def knob_costs(record, into):
    """Per knob: epochs spent, and how much it lowered the best dev error seen before it."""
    best = None
    for e in record["experiments"]:
        into[e["knob"]]["epochs"] += e["epochs"]
        if best is not None:
            into[e["knob"]]["gain"] += max(0.0, best - e["dev_error"])
        into[e["knob"]]["runs"] += 1
        into[e["knob"]]["after_best"] += e["epochs"] - (e["best_epoch"] + 1)
        best = e["dev_error"] if best is None else min(best, e["dev_error"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="1 to 3 seeds (default 0 1 2)")
    args = parser.parse_args(argv)
    if not 1 <= len(args.seeds) <= 3:
        parser.error("give 1 to 3 seeds")

    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    time.sleep(0.5)
    quiet = others_load(cpu0, cpu_seconds(), time.perf_counter() - wall0)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    rows, summary, knobs = [], {}, {name: defaultdict(lambda: defaultdict(float)) for name in DATASETS}
    for name in DATASETS:
        t = load_dataset(name)
        per_seed = []
        for seed in args.seeds:
            r, r_seconds = run_recipe(t, seed)
            g = run_grid(t, seed, r.record_["experiments"][0]["config"])
            for part in ("train", "dev"):
                assert np.array_equal(getattr(g["split"], part).index, getattr(r.split_, part).index), part
            rec_dev, rec_epochs = r.best_dev_error_, r.record_["spent_epochs"]
            gap, ratio = rec_dev - g["dev"], rec_epochs / g["epochs"]
            per_seed.append((gap, ratio))
            knob_costs(r.record_, knobs[name])
            best = g["best"]
            rows.append(f"| {name} | {seed} | {100 * rec_dev:.2f} | {rec_epochs:,} | {len(r.experiments_)} | "
                        f"{100 * g['dev']:.2f} | {g['epochs']:,} | {best.hidden_layer_sizes} α={best.alpha:g} | "
                        f"{100 * gap:+.2f} | {ratio:.2f} | {100 * r.test_error_:.2f} | {100 * g['test']:.2f} | "
                        f"{r_seconds:.1f} | {g['seconds']:.1f} |")
        gap, ratio = np.mean(per_seed, axis=0)
        summary[name] = (gap, ratio, "PASS" if gap <= MAX_GAP and ratio <= MAX_RATIO else "MISS")
    others = others_load(cpu0, cpu_seconds(), time.perf_counter() - wall0)

    import sklearn
    print(f"# recipe vs GridSearchCV (MLPClassifier, {len(ParameterGrid(GRID))} candidates), seeds "
          f"{' '.join(map(str, args.seeds))}; numpy {np.__version__}, scikit-learn {sklearn.__version__}\n")
    print_load(quiet, others)
    print("| data | seed | recipe dev % | recipe epochs | experiments | grid dev % | grid epochs | grid best | "
          "gap (points) | epoch ratio | recipe test % | grid test % | recipe s | grid s |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nTarget: gap <= {100 * MAX_GAP:g} point and epoch ratio <= {MAX_RATIO:.2f} (mean over seeds)\n")
    print("| data | mean gap (points) | mean epoch ratio | verdict |")
    print("|---|---:|---:|---|")
    for name, (gap, ratio, verdict) in summary.items():
        print(f"| {name} | {100 * gap:+.2f} | {ratio:.2f} | {verdict} |")
    print("\nWhere the recipe's epochs went (summed over seeds). gain: how far each knob's runs lowered the "
          "best dev error seen before them; after best: epochs trained past each run's lowest-dev epoch.\n")
    print("| data | knob | runs | epochs | after best | dev gain (points) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, per_knob in knobs.items():
        for knob, c in per_knob.items():
            print(f"| {name} | {knob} | {c['runs']:.0f} | {c['epochs']:,.0f} | {c['after_best']:,.0f} | "
                  f"{100 * c['gain']:.2f} |")


if __name__ == "__main__":
    main()
