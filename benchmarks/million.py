"""What the estimated baseline costs at scale: `nnrecipe run` on 1 000 000 rows × 20 features (issue 13).

The data: X ~ N(0, 1), float32, and a label from a random linear teacher with Gaussian noise on its
margin (y = 1 when X·w + 0.5·ε > 0; about 8% of labels sit on the wrong side), written once to an
NPZ file in a temporary folder. Each run is the command line itself, in a fresh process:

    nnrecipe run big.npz --budget 2 --quiet --out ...

`--budget 2` cuts the network's training to two epochs, so that the fixed costs show: reading the file,
the split, the dev/test checks, the baseline estimate, the test set and the report. It is timed with
the default `--baseline-error auto` (the estimate: k-NN and the reference learner on a 10 000-row
subsample, the column relevance on at most 2 000 dev rows) and with `--baseline-error 0`, which skips the
estimate as every run did before issue 13 (cross-validation and the refit do not apply at 98/1/1), taking
turns so that a change of the machine's load touches both. Target: auto at most 1.5× the time of 0.

    python benchmarks/million.py [--repeats 2] [--rows 1000000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET = 1.5


def make(path, rows, features=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    w = rng.standard_normal(features).astype(np.float32)
    margin = X @ w / np.sqrt(features) + 0.5 * rng.standard_normal(rows, dtype=np.float32)
    np.savez(path, X=X, y=(margin > 0).astype(np.int64))


def run(data, out, baseline):
    """Wall seconds of one `nnrecipe run` in its own process, and its last line (the headline)."""
    cmd = [sys.executable, "-m", "nnrecipe", "run", str(data), "--budget", "2", "--quiet", "--force",
           "--out", str(out), "--baseline-error", baseline]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return seconds, [line for line in done.stdout.splitlines() if " epochs over " in line][-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "big.npz"
        make(data, args.rows)
        print(f"{args.rows:,} rows × 20 features; load average {os.getloadavg()[0]:.2f}")
        seconds = {"auto": [], "0": []}
        for rep in range(args.repeats):
            for baseline in (("auto", "0") if rep % 2 == 0 else ("0", "auto")):
                s, headline = run(data, Path(tmp) / f"out-{baseline}", baseline)
                seconds[baseline].append(s)
                print(f"  repeat {rep + 1} --baseline-error {baseline:<4} {s:6.1f} s  {headline}", flush=True)
    auto, zero = statistics.median(seconds["auto"]), statistics.median(seconds["0"])
    print(f"\nmedians of {args.repeats}: auto {auto:.1f} s, 0 {zero:.1f} s: {auto / zero:.2f}× "
          f"(target ≤ {TARGET}×): {'PASS' if auto <= TARGET * zero else 'MISS'}")


if __name__ == "__main__":
    main()
