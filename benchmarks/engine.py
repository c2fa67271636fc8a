"""Training-throughput benchmark: nnrecipe vs torch (CPU) vs scikit-learn, and vs the machine's peak.

One run measures, with every library limited to 2 threads:

* examples/s training an MLP 784-256-128-10 (ReLU, softmax + cross-entropy), minibatch 128,
  Adam lr 1e-3, float32, a fresh shuffle every epoch, on 20 000 random examples with labels
  from a random linear teacher; best of `--repeats` timed runs of `--epochs` epochs each,
  after one untimed warm-up run per library;
* the float32 matrix-multiply peak: NumPy matmul of 2048x2048 matrices, GFLOP/s = 2n^3/t;
* nnrecipe's achieved GFLOP/s: the matmul FLOPs one training step performs, times the steps,
  over nnrecipe's time (the elementwise work, the loss and Adam are not counted: overhead).

    python benchmarks/engine.py [--epochs 3] [--repeats 5]
"""
# ruff: noqa: I001  (_workload must be imported before numpy and torch)

import math
import platform
import time
import warnings

from _workload import BATCH, LAYERS, LR, N_EXAMPLES, N_THREADS, make_data, parse_args  # first: it pins the BLAS threads

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import nnrecipe as nr
from _machine import cpu_seconds, others_load, print_load, settle

TARGETS = {"torch": (1.2, 1.5), "scikit-learn": (2.0, 2.5), "peak": (0.80, 0.90)}   # (target, aim)


# ---- one training run per library: returns seconds --------------------------------------------
def run_nnrecipe(X, y, epochs):
    net = nr.mlp(LAYERS, hidden="relu", output="softmax", seed=0, dtype="float32")
    t0 = time.perf_counter()
    nr.fit(net, X, y, epochs=epochs, batch_size=BATCH, optimizer="adam", lr=LR, verbose=0, seed=0)
    return time.perf_counter() - t0


def run_torch(X, y, epochs):
    torch.manual_seed(0)
    dims = LAYERS
    model = torch.nn.Sequential(
        torch.nn.Linear(dims[0], dims[1]), torch.nn.ReLU(),
        torch.nn.Linear(dims[1], dims[2]), torch.nn.ReLU(),
        torch.nn.Linear(dims[2], dims[3]))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)          # zero-copy views
    n = len(Xt)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = Xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def run_sklearn(X, y, epochs):
    clf = MLPClassifier(hidden_layer_sizes=tuple(LAYERS[1:-1]), activation="relu", solver="adam",
                        batch_size=BATCH, learning_rate_init=LR, max_iter=epochs, shuffle=True,
                        tol=0.0, n_iter_no_change=epochs + 1, early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t0
    assert clf.n_iter_ == epochs, (clf.n_iter_, epochs)
    assert clf.coefs_[0].dtype == np.float32, clf.coefs_[0].dtype       # it trained in float32
    return seconds


RUNNERS = {"nnrecipe": run_nnrecipe, "torch": run_torch, "scikit-learn": run_sklearn}


def best_times(X, y, epochs, repeats):
    """Best seconds per library. The repeats go round-robin over the libraries, so a burst of
    load from elsewhere on the machine does not land on one library's runs only."""
    for fn in RUNNERS.values():
        fn(X[:5 * BATCH], y[:5 * BATCH], 1)      # warm-up: lazy imports, allocator, thread pools (untimed)
    best = dict.fromkeys(RUNNERS, math.inf)
    for _ in range(repeats):
        for name, fn in RUNNERS.items():
            best[name] = min(best[name], fn(X, y, epochs))
    return best


# ---- the machine and the FLOP count -----------------------------------------------------------
def matmul_peak(n=2048, repeats=7):
    """Best float32 GFLOP/s of NumPy's n x n matmul (2n^3 FLOPs)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    began = time.perf_counter()
    while time.perf_counter() - began < 0.5:      # warm-up: thread pool, clocks (untimed)
        np.matmul(a, b, out=out)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def step_flops(batch):
    """Matmul FLOPs of one training step on a batch: forward x@W for every layer; backward the
    weight gradients x.T@dz for every layer and the input gradients dz@W.T for every layer but
    the first (Network.backward calls it with need_dx=False, so Dense.backward skips it)."""
    pairs = list(zip(LAYERS[:-1], LAYERS[1:]))
    forward = sum(2 * batch * i * o for i, o in pairs)
    weight_grads = forward
    input_grads = sum(2 * batch * i * o for i, o in pairs[1:])
    return forward + weight_grads + input_grads


def epoch_flops():
    full, last = divmod(N_EXAMPLES, BATCH)        # the last, smaller batch is kept (fit._batches)
    return full * step_flops(BATCH) + (step_flops(last) if last else 0)


def matmul_floor(repeats=7):
    """Seconds per epoch of the training step's matmuls alone, same shapes, same BLAS (a floor)."""
    rng = np.random.default_rng(2)
    pairs = list(zip(LAYERS[:-1], LAYERS[1:]))
    xs = [rng.standard_normal((BATCH, i), dtype=np.float32) for i, _ in pairs]
    ws = [rng.standard_normal((i, o), dtype=np.float32) for i, o in pairs]
    dzs = [rng.standard_normal((BATCH, o), dtype=np.float32) for _, o in pairs]
    gws = [np.empty_like(w) for w in ws]
    steps = math.ceil(N_EXAMPLES / BATCH)

    def one_epoch():
        for _ in range(steps):
            for x, w in zip(xs, ws):
                x @ w
            for k, (x, dz, gw) in enumerate(zip(xs, dzs, gws)):
                np.matmul(x.T, dz, out=gw)
                if k:
                    dz @ ws[k].T
    one_epoch()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        one_epoch()
        best = min(best, time.perf_counter() - t0)
    return best


# ---- report -----------------------------------------------------------------------------------
def verdict(value, target, aim):
    return ("PASS" if value >= target else "MISS") + (", aim met" if value >= aim else ", aim not met")


def main(argv=None):
    args = parse_args(__doc__, argv, per="library")

    torch.set_num_threads(N_THREADS)
    with threadpool_limits(limits=N_THREADS):
        quiet, cpu0, wall0 = settle()
        X, y = make_data()
        peaks, floors = [matmul_peak()], [matmul_floor()]
        seconds = best_times(X, y, args.epochs, args.repeats)
        peaks.append(matmul_peak())               # measured before and after: the best of both
        floors.append(matmul_floor())
        peak, floor = max(peaks), min(floors)
        others = others_load(cpu0, cpu_seconds(), time.perf_counter() - wall0)

    n_seen = args.epochs * N_EXAMPLES
    rate = {name: n_seen / s for name, s in seconds.items()}
    flops = args.epochs * epoch_flops()
    achieved = flops / seconds["nnrecipe"] / 1e9
    share = achieved / peak

    print(f"# nnrecipe training benchmark ({platform.processor() or platform.machine()}, {N_THREADS} threads, "
          f"numpy {np.__version__}, torch {torch.__version__}, sklearn {__import__('sklearn').__version__})")
    print(f"MLP {'-'.join(map(str, LAYERS))}, ReLU, softmax + CE, batch {BATCH}, Adam lr {LR}, float32, "
          f"{N_EXAMPLES} examples, {args.epochs} epochs, best of {args.repeats}\n")
    drift = max(max(peaks) / min(peaks), max(floors) / min(floors)) - 1
    if drift > 0.1:
        print(f"WARNING: the matmul timings before and after the training runs differ by {drift:.0%} "
              f"(peak {peaks[0]:.0f} then {peaks[1]:.0f} GFLOP/s; batch-{BATCH} matmuls {floors[0]:.3f} then "
              f"{floors[1]:.3f} s/epoch): the machine's speed changed during the run (a shared host?); rerun.")
    print_load(quiet, others)
    print(f"float32 matmul peak (NumPy 2048x2048, {N_THREADS} threads): {peak:.1f} GFLOP/s")
    print(f"matmul FLOPs per epoch: {epoch_flops() / 1e9:.2f} GFLOP "
          f"({math.ceil(N_EXAMPLES / BATCH)} steps of {step_flops(BATCH) / 1e6:.1f} MFLOP)")
    print(f"the same matmuls alone (batch-{BATCH} shapes): {floor:.3f} s/epoch = "
          f"{epoch_flops() / floor / 1e9:.1f} GFLOP/s = {epoch_flops() / floor / 1e9 / peak:.0%} of peak, "
          f"{N_EXAMPLES / floor:,.0f} examples/s (nnrecipe's ceiling with this BLAS)")
    steps = math.ceil(N_EXAMPLES / BATCH)
    budget = epoch_flops() / (TARGETS["peak"][0] * peak * 1e9) - floor
    print(f"time per step: nnrecipe {seconds['nnrecipe'] / (args.epochs * steps) * 1e6:.0f} us, of which the "
          f"matmuls alone need >= {floor / steps * 1e6:.0f} us; {TARGETS['peak'][0]:.0%} of peak leaves "
          + (f"{budget / steps * 1e6:.0f} us per step" if budget > 0 else "no time at all")
          + " for everything else (Adam, elementwise, batching)\n")

    print("| library | seconds | examples/s | vs torch | vs scikit-learn | GFLOP/s | share of peak |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in RUNNERS:
        gf = flops / seconds[name] / 1e9
        print(f"| {name} | {seconds[name]:.3f} | {rate[name]:,.0f} | {rate[name] / rate['torch']:.2f}x | "
              f"{rate[name] / rate['scikit-learn']:.2f}x | {gf:.1f} | {gf / peak:.1%} |")
    print("\n(GFLOP/s: the same matmul FLOP count over each library's time; none of the three computes the "
          "first layer's input gradient.)")
    n_params = sum(a * b + b for a, b in zip(LAYERS, LAYERS[1:]))
    model_share = 6 * n_params * n_seen / seconds["nnrecipe"] / 1e9 / peak
    print(f"For comparison, model-FLOPs utilization (PaLM's MFU: 6 x {n_params:,} parameters per example, "
          f"counting the first layer's input gradient that is never computed): {model_share:.0%} of peak. "
          "The verdict below uses the FLOPs actually executed.\n")

    checks = [("nnrecipe / torch", rate["nnrecipe"] / rate["torch"], *TARGETS["torch"], "x"),
              ("nnrecipe / scikit-learn", rate["nnrecipe"] / rate["scikit-learn"], *TARGETS["scikit-learn"], "x"),
              ("nnrecipe share of peak", share, *TARGETS["peak"], "%")]
    print("| target | measured | target | aim | verdict |")
    print("|---|---:|---:|---:|---|")
    for label, value, target, aim, unit in checks:
        fmt = (lambda v: f"{v:.0%}") if unit == "%" else (lambda v: f"{v:.2f}x")
        print(f"| {label} | {fmt(value)} | >= {fmt(target)} | >= {fmt(aim)} | {verdict(value, target, aim)} |")


if __name__ == "__main__":
    main()
