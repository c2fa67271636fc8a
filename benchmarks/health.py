"""GradientMonitor overhead: the same training run with and without it, in one run.

MLP 784-256-128-10 (ReLU, softmax + cross-entropy), minibatch 128, Adam lr 1e-3, float32, 2
threads, 20 000 random examples with labels from a random linear teacher (benchmarks/engine.py's
data); the monitor checks every epoch on a probe of 256 rows. Best of `--repeats` timed runs of
`--epochs` epochs each, with and without the monitor taking turns (a burst of load from elsewhere
does not land on one side only), after one untimed warm-up of each. Also: the time of one check,
and whether both runs end with bit-identical weights (the monitor must not change training).

    python benchmarks/health.py [--epochs 3] [--repeats 5]
"""
# ruff: noqa: I001  (_workload must be imported before numpy and torch)

import math
import platform
import time

from _workload import BATCH, LAYERS, LR, N_EXAMPLES, N_THREADS, make_data, parse_args  # first: it pins the BLAS threads

import numpy as np
from _machine import cpu_seconds, others_load, print_load, settle
from threadpoolctl import threadpool_limits

import nnrecipe as nr
from nnrecipe.doctor.health import GradientMonitor, health

PROBE = 256
TARGET = 0.05                     # the monitor may cost at most 5% of training time


def train(X, y, epochs, monitor):
    """Seconds of one fit (the monitor's probe is drawn before the clock starts) and the weights."""
    net = nr.mlp(LAYERS, hidden="relu", output="softmax", seed=0, dtype="float32")
    callbacks = [GradientMonitor(X, y, every=1, max_rows=PROBE, seed=0)] if monitor else []
    t0 = time.perf_counter()
    nr.fit(net, X, y, epochs=epochs, batch_size=BATCH, optimizer="adam", lr=LR, callbacks=callbacks,
           verbose=0, seed=0)
    return time.perf_counter() - t0, net.theta.copy()


def one_check(X, y, repeats=20):
    """Best seconds of one health check on PROBE rows (what the monitor adds per epoch, less the
    update ratios)."""
    net = nr.mlp(LAYERS, hidden="relu", output="softmax", seed=0, dtype="float32")
    Xp, yp = X[:PROBE], y[:PROBE]
    health(net, Xp, yp)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        health(net, Xp, yp)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    args = parse_args(__doc__, argv, per="side")

    with threadpool_limits(limits=N_THREADS):
        quiet, cpu0, wall0 = settle()
        X, y = make_data()
        for monitor in (False, True):                  # warm-up (untimed)
            train(X[:5 * BATCH], y[:5 * BATCH], 1, monitor)
        best, theta = {False: math.inf, True: math.inf}, {}
        for _ in range(args.repeats):
            for monitor in (False, True):
                seconds, theta[monitor] = train(X, y, args.epochs, monitor)
                best[monitor] = min(best[monitor], seconds)
        check = one_check(X, y)
        others = others_load(cpu0, cpu_seconds(), time.perf_counter() - wall0)

    overhead = best[True] / best[False] - 1
    print(f"# GradientMonitor overhead ({platform.processor() or platform.machine()}, {N_THREADS} threads, "
          f"numpy {np.__version__})")
    print(f"MLP {'-'.join(map(str, LAYERS))}, ReLU, softmax + CE, batch {BATCH}, Adam lr {LR}, float32, "
          f"{N_EXAMPLES} examples, {args.epochs} epochs, best of {args.repeats}; monitor every epoch on "
          f"{PROBE} rows\n")
    print_load(quiet, others)
    print("| run | seconds | per epoch |")
    print("|---|---:|---:|")
    for monitor, label in ((False, "fit"), (True, "fit + GradientMonitor")):
        print(f"| {label} | {best[monitor]:.3f} | {best[monitor] / args.epochs * 1e3:.1f} ms |")
    print(f"\none health check on {PROBE} rows: {check * 1e3:.2f} ms "
          f"= {check / (best[False] / args.epochs):.2%} of an epoch")
    print(f"overhead: {overhead:+.2%} (target <= {TARGET:.0%}: {'PASS' if overhead <= TARGET else 'MISS'})")
    same = np.array_equal(theta[False], theta[True])
    print(f"weights after training with and without the monitor: {'bit-identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
