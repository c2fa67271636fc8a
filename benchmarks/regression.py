"""The recipe on a regression target against scikit-learn's MLPRegressor defaults, on the same rows.

Data: scikit-learn's diabetes table (442 rows, 10 features, a whole-number target of 25 to 346, read
unscaled: `load_diabetes(scaled=False)`), which the recipe calls a regression by itself (many distinct
whole numbers). Per seed, both use the recipe's own split (`nr.split(X, y, seed)`, stratified on the
target's quantiles): the recipe decides by 3-fold cross-validation over train+dev (dev's 88 rows cannot
resolve its tolerance) and refits its choice on all of train+dev; the peer is
`make_pipeline(StandardScaler(), MLPRegressor(max_iter=1000, random_state=seed))` fitted on the same
train+dev rows (and, for reference, on train alone). Both are scored once on the test rows.

Target: the recipe's median test RMSE over seeds 0–2 within 2% of (or below) the peer's.

    python benchmarks/regression.py [--seeds 0 1 2]
"""

import argparse
import os
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nnrecipe as nr

MAX_RATIO = 1.02


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    X, y = load_diabetes(return_X_y=True, scaled=False)
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        r = nr.Recipe(verbose=0, seed=seed).fit(X, y)
        seconds = time.perf_counter() - t0
        s = nr.split(X, y, seed=seed)
        assert np.array_equal(s.train.index, r.split_.train.index), "the same rows for both"
        test = s.open_test(reason="the peer's one evaluation")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pool = np.concatenate([s.train.X, s.dev.X]), np.concatenate([s.train.y, s.dev.y])
            peer = make_pipeline(StandardScaler(), MLPRegressor(max_iter=1000, random_state=seed)).fit(*pool)
            peer_seconds = time.perf_counter() - t0
            alone = make_pipeline(StandardScaler(), MLPRegressor(max_iter=1000, random_state=seed)).fit(*s.train)
        assert "refit" in r.record_["final"], "the recipe's final model learned from train+dev, as the peer's"
        ours, theirs = r.test_error_, rmse(peer.predict(test.X), test.y)
        rows.append((seed, ours, theirs, rmse(alone.predict(test.X), test.y), r.record_["spent_epochs"],
                     peer[-1].n_iter_, len(r.experiments_), r.diagnosis_.case, seconds, peer_seconds))
    print(f"# recipe vs MLPRegressor defaults on diabetes (unscaled target), seeds {' '.join(map(str, args.seeds))}\n")
    print("| seed | recipe test RMSE | MLPRegressor test RMSE | ratio | MLPRegressor on train alone | recipe epochs | "
          "peer epochs | experiments | final diagnosis | recipe s | peer s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for seed, ours, theirs, alone, ep, pe, n, case, sec, psec in rows:
        print(f"| {seed} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.3f} | {alone:.2f} | {ep:,} | {pe:,} | {n} | "
              f"{case} | {sec:.1f} | {psec:.1f} |")
    ours, theirs = np.median([r[1] for r in rows]), np.median([r[2] for r in rows])
    verdict = "PASS" if ours <= MAX_RATIO * theirs else "MISS"
    print(f"\nmedian test RMSE: recipe {ours:.2f}, MLPRegressor {theirs:.2f}, ratio {ours / theirs:.3f} "
          f"(target ≤ {MAX_RATIO}): {verdict}")


if __name__ == "__main__":
    main()
