"""After cross-validation, which final model: the chosen configuration refitted on all of train+dev, or
the ensemble of its k fold models? (issue 13, item 3: "measure which is better and document the choice")

On the small tables where the recipe cross-validates (dev too small to resolve the tolerance), seeds
0–2: `nr.Recipe(verbose=0, seed=s).fit(table, target)` with no options chooses a configuration by its
out-of-fold error and refits it (`r.best_`, its test error `r.test_error_`); the same run's fold models
(`r.best_experiment_.net`, a FoldModels: the mean of the k models' probabilities, or values) are scored
on the same test rows. Test error is the error rate, or the RMSE for diabetes. Prints per-seed rows and
the medians; the ensemble costs k forward passes per prediction and k model files, the refit one more
training.

    python benchmarks/cv_final.py [--seeds 0 1 2] [--tables iris wine ...]
"""

import argparse
import os
import sys
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402

import nnrecipe as nr  # noqa: E402
from nnrecipe.datasets import football_table  # noqa: E402

TABLES = ["iris", "wine", "breast_cancer", "penguins", "diabetes", "football"]


def _load(name):
    if name == "football":
        t = football_table()
        return (t.X, t.y), {"test": t.test}
    table, target, _ = suite.TABLES[name]()
    return (table, target), {}


def _error(pred, y, regression):
    return float(np.sqrt(np.mean((pred - y) ** 2))) if regression else float(np.mean(pred != y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=TABLES, choices=TABLES)
    args = parser.parse_args(argv)
    rows = {}
    print("| table | seed | folds | refit | fold ensemble |\n|---|---:|---:|---:|---:|")
    for name in args.tables:
        for seed in args.seeds:
            data, kw = _load(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = nr.Recipe(verbose=0, seed=seed).fit(*data, **kw)
            if not r.record_["cv"]:
                print(f"| {name} | {seed} | — (decided on dev) | | |")
                continue
            test = r.split_.test
            regression = r.classes_ is None
            ensemble = np.asarray(r.best_experiment_.net.predict(test.X.reshape(len(test.X), -1))).reshape(-1)
            refit = np.asarray(r.best_.predict(test.X.reshape(len(test.X), -1))).reshape(-1)
            pair = (_error(refit, test.y, regression), _error(ensemble, test.y, regression))
            rows.setdefault(name, []).append(pair)
            show = (lambda v: f"{v:.3f}") if regression else (lambda v: f"{v:.2%}")
            print(f"| {name} | {seed} | {r.record_['cv']['folds']} | {show(pair[0])} | {show(pair[1])} |", flush=True)
    print("\n| table | refit (median) | fold ensemble (median) |\n|---|---:|---:|")
    for name, pairs in rows.items():
        refit, ens = (float(np.median([p[i] for p in pairs])) for i in (0, 1))
        show = (lambda v: f"{v:.3f}") if name == "diabetes" else (lambda v: f"{v:.2%}")
        print(f"| {name} | {show(refit)} | {show(ens)} |")


if __name__ == "__main__":
    main()
