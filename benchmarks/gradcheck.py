"""Gradient-checking benchmark: nnrecipe's gradcheck vs torch.autograd.gradcheck vs the textbook loop.

One run times, with every library limited to 2 threads, five checks of the SAME function

    J(θ) = mean softmax cross-entropy of a 3-layer tanh MLP 24-128-128-40 (24 872 parameters)
           on 64 standard-normal examples with integer labels, in float64,

    a. nr.gradcheck(net, X, y, mode="full")           every coordinate, batched per Dense array
    b. nr.gradcheck(net, X, y, mode="fast", seed=0)   random directions + sampled coordinates
    c. torch.autograd.gradcheck(J_torch, θ, fast_mode=False)   the full 1 × n Jacobian
    d. torch.autograd.gradcheck(J_torch, θ, fast_mode=True)    one random projection
    e. the per-coordinate NumPy loop of the course notes: θᵢ += ε, J(θ), θᵢ −= 2ε, J(θ), restore

with ε = 1e-7 everywhere. J_torch is the same network written with torch.nn.functional from the
same float64 weights (x @ W + b in row layout) as a function of the flattened θ. torch's full
check is timed on every coordinate unless a pilot run predicts more than --torch-budget seconds;
then it is timed on a documented random subset and extrapolated linearly per input coordinate
(the output says so). Times are best-of-N (N per method below); the fast checks are warmed up.

Then the targets: nnrecipe full ≥ 10× faster than torch's full gradcheck; nnrecipe fast < 50 ms;
and whether every method agrees on this (correct) code.

The machine may be shared: the run reports how many cores other processes kept busy meanwhile.
--profile adds nnrecipe full mode's time per parameter array (through a private hook).

    python benchmarks/gradcheck.py [--fast-repeats 20] [--full-repeats 5] [--slow-repeats 2] [--profile]
"""

import argparse
import importlib
import math
import os
import platform
import subprocess
import time
from collections import defaultdict

N_THREADS = 2
# Before numpy / torch load: some pools size themselves from these at import time.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(N_THREADS))

import numpy as np
import torch
import torch.nn.functional as F
from _machine import cpu_seconds, others_load
from threadpoolctl import threadpool_limits

import nnrecipe as nr

LAYERS = [24, 128, 128, 40]          # 24·128+128 + 128·128+128 + 128·40+40 = 24 872 parameters
N_EXAMPLES = 64
EPSILON = 1e-7
TORCH_ATOL, TORCH_RTOL = 1e-5, 1e-3   # torch's defaults: loose enough for eps=1e-7 in float64
SPEEDUP_TARGET, FAST_TARGET_S = 10.0, 0.050


# ---- the problem ----------------------------------------------------------------------------
def make_problem(seed=0):
    """The float64 network (24 872 parameters: [20, 128, 128, 40] would have 24 360) and its data."""
    net = nr.mlp(LAYERS, hidden="tanh", output="softmax", seed=seed, dtype="float64")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_EXAMPLES, LAYERS[0]))
    y = rng.integers(0, LAYERS[-1], N_EXAMPLES)
    return net, X, y


def natural_params(net):
    """[(name, array copy)] in the order W1, b1, W2, b2, ... (float64)."""
    return [(name, np.array(p, dtype=np.float64)) for name, p in net.params.items()]


def flatten(arrays):
    return np.concatenate([a.ravel() for _, a in arrays])


def _difference(numeric, analytic):
    """‖n − a‖ / (‖n‖ + ‖a‖): the course notes' relative difference."""
    scale = np.linalg.norm(numeric) + np.linalg.norm(analytic)
    return float(np.linalg.norm(numeric - analytic) / scale) if scale > 0 else 0.0


# ---- e. the textbook loop -----------------------------------------------------------------------
class NumpyJ:
    """J(θ) by a straightforward NumPy forward pass; θ is one flat float64 vector whose slices
    are the layer arrays (views), so θᵢ += ε moves the network."""

    def __init__(self, params, X, y):
        self.theta = flatten(params)
        self.layers, offset = [], 0
        for name, a in params:
            view = self.theta[offset:offset + a.size].reshape(a.shape)
            offset += a.size
            if name.startswith("W"):
                self.layers.append([view, None])
            else:
                self.layers[-1][1] = view
        self.X, self.y, self.rows = X, y, np.arange(len(y))

    def __call__(self):
        a = self.X
        for k, (W, b) in enumerate(self.layers):
            z = a @ W + b
            a = np.tanh(z) if k < len(self.layers) - 1 else z
        top = a.max(axis=1, keepdims=True)
        logsumexp = np.log(np.exp(a - top).sum(axis=1)) + top[:, 0]
        return float(np.mean(logsumexp - a[self.rows, self.y]))


def loop_gradcheck(J, analytic, epsilon=EPSILON, coords=None):
    """The per-coordinate two-sided difference; returns (numeric, difference vs analytic)."""
    theta = J.theta
    coords = range(theta.size) if coords is None else coords
    numeric = np.empty(len(coords))
    for j, i in enumerate(coords):
        old = theta[i]
        theta[i] = old + epsilon
        plus = J()
        theta[i] = old - epsilon
        minus = J()
        theta[i] = old                                   # restore exactly
        numeric[j] = (plus - minus) / (2 * epsilon)
    return numeric, _difference(numeric, analytic[np.asarray(coords)])


# ---- c, d. torch -------------------------------------------------------------------------------
def torch_function(params, X, y, coords=None):
    """J as a torch function of θ (all of it, or only θ[coords] with the rest fixed)."""
    shapes = [(name, a.shape) for name, a in params]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
    base = torch.from_numpy(flatten(params))
    index = None if coords is None else torch.as_tensor(np.asarray(coords), dtype=torch.int64)

    def J(theta):
        if index is not None:
            theta = base.index_put((index,), theta)      # differentiable in the subset
        a, offset, n_layers = Xt, 0, len(shapes) // 2
        for k in range(n_layers):
            (_, w_shape), (_, b_shape) = shapes[2 * k], shapes[2 * k + 1]
            W = theta[offset:offset + math.prod(w_shape)].view(w_shape)
            offset += math.prod(w_shape)
            b = theta[offset:offset + math.prod(b_shape)]
            offset += math.prod(b_shape)
            z = torch.addmm(b, a, W)                       # x @ W + b, row layout
            a = torch.tanh(z) if k < n_layers - 1 else z
        return F.cross_entropy(a, yt)                      # mean over the examples

    start = base if index is None else base[index]
    return J, start.clone().requires_grad_(True)


def torch_gradcheck(J, theta, fast_mode):
    return torch.autograd.gradcheck(J, (theta,), eps=EPSILON, atol=TORCH_ATOL, rtol=TORCH_RTOL,
                                    fast_mode=fast_mode, raise_exception=False)


# ---- the machine ---------------------------------------------------------------------------
def source_version():
    """The commit of the nnrecipe being measured, '+dirty' when src/ has uncommitted changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(nr.__file__)))
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")


def profile_full(net, X, y):
    """Seconds per parameter array of one nnrecipe full check (wraps the private batched hook)."""
    module = importlib.import_module("nnrecipe.gradcheck")
    problem = getattr(module, "_NetworkProblem", None)
    if problem is None or not hasattr(problem, "batched"):
        return None
    original, seconds = problem.batched, defaultdict(float)

    def timed(self, name, epsilon):
        t0 = time.perf_counter()
        try:
            return original(self, name, epsilon)
        finally:
            seconds[name] += time.perf_counter() - t0
    problem.batched = timed
    try:
        t0 = time.perf_counter()
        nr.gradcheck(net, X, y, mode="full", epsilon=EPSILON)
        total = time.perf_counter() - t0
    finally:
        problem.batched = original
    return total, dict(seconds)


# ---- timing ------------------------------------------------------------------------------------
def best_of(fn, repeats, warmup=0):
    """(best seconds, last result)."""
    for _ in range(warmup):
        fn()
    best, result = math.inf, None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def fmt_time(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast-repeats", type=int, default=20,
                        help="best-of repeats for nnrecipe fast and torch fast (default 20)")
    parser.add_argument("--full-repeats", type=int, default=5, help="best-of repeats for nnrecipe full (default 5)")
    parser.add_argument("--slow-repeats", type=int, default=2,
                        help="best-of repeats for torch full and the NumPy loop (default 2)")
    parser.add_argument("--torch-budget", type=float, default=180.0,
                        help="seconds: above this predicted time, torch full runs on a subset (default 180)")
    parser.add_argument("--torch-subset", type=int, default=0,
                        help="force torch full onto this many random coordinates (0 = decide from a pilot)")
    parser.add_argument("--seed", type=int, default=0, help="network, data and subset seed (default 0)")
    parser.add_argument("--profile", action="store_true", help="also print nnrecipe full's time per parameter array")
    args = parser.parse_args(argv)
    began, cpu_began = time.perf_counter(), cpu_seconds()

    threadpool_limits(N_THREADS)
    torch.set_num_threads(N_THREADS)
    net, X, y = make_problem(args.seed)
    params = natural_params(net)
    n = net.n_params
    analytic = flatten(list(net.gradients(X, y).items()))          # natural order, float64
    print(f"# gradcheck benchmark: MLP {'-'.join(map(str, LAYERS))} tanh/softmax, {n} parameters, "
          f"{N_EXAMPLES} examples, float64, ε = {EPSILON:g}, {N_THREADS} threads")
    print(f"# nnrecipe {nr.__version__} at {source_version()}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, NumPy {np.__version__}, torch {torch.__version__}, Python {platform.python_version()}\n")

    # the same J everywhere: value and gradient of each implementation against nnrecipe's
    J_np = NumpyJ(params, X, y)
    J_t, theta_t = torch_function(params, X, y)
    value_t = J_t(theta_t)
    (grad_t,) = torch.autograd.grad(value_t, theta_t)
    J_nr = net.cost(X, y)
    print(f"same J: nnrecipe {J_nr:.15f}, NumPy loop's J {J_np():.15f} (|Δ| {abs(J_np() - J_nr):.1e}), "
          f"torch {value_t.item():.15f} (|Δ| {abs(value_t.item() - J_nr):.1e}); torch autograd vs "
          f"net.gradients: difference {_difference(grad_t.numpy(), analytic):.1e}\n")

    rows, checks = {}, []

    # a. nnrecipe full
    t, report = best_of(lambda: nr.gradcheck(net, X, y, mode="full", epsilon=EPSILON), args.full_repeats)
    rows["nnrecipe full"] = (t, f"{report.checked} (all)", f"best of {max(1, args.full_repeats)}")
    checks.append(("nnrecipe full", f"verdict {report.verdict!r}, difference {report.difference:.3e}",
                   report.verdict))

    # b. nnrecipe fast
    t, report = best_of(lambda: nr.gradcheck(net, X, y, mode="fast", epsilon=EPSILON, seed=0),
                        args.fast_repeats, warmup=1)
    rows["nnrecipe fast"] = (t, f"{report.checked} probes", f"best of {max(1, args.fast_repeats)}")
    checks.append(("nnrecipe fast", f"verdict {report.verdict!r}, difference {report.difference:.3e}",
                   report.verdict))

    # c. torch full: pilot on a subset, then all coordinates or a subset within the budget
    sub_rng = np.random.default_rng(args.seed + 1)
    pilot = np.sort(sub_rng.choice(n, min(n, 500), replace=False))
    J_p, theta_p = torch_function(params, X, y, pilot)
    t_pilot, _ = best_of(lambda: torch_gradcheck(J_p, theta_p, False), 1, warmup=0)
    predicted = t_pilot * n / len(pilot)
    k = args.torch_subset or (n if predicted <= args.torch_budget else
                              max(500, int(n * args.torch_budget / 3 / predicted)))
    if k >= n:
        J_c, theta_c = J_t, theta_t
        note = f"best of {max(1, args.slow_repeats)}"
    else:
        coords = np.sort(sub_rng.choice(n, k, replace=False))
        J_c, theta_c = torch_function(params, X, y, coords)
        note = f"timed on {k} random coordinates, × {n / k:.2f} (linear per input coordinate)"
    t, ok = best_of(lambda: torch_gradcheck(J_c, theta_c, False), args.slow_repeats)
    t_torch_full = t * n / k
    rows["torch gradcheck full"] = (t_torch_full, f"{k} (all)" if k >= n else f"{k} timed, {n} extrapolated", note)
    checks.append(("torch gradcheck full", f"returned {ok}" + ("" if k >= n else f" (on the {k}-coordinate subset)"),
                   "ok" if ok else "bug"))

    # d. torch fast
    t, ok = best_of(lambda: torch_gradcheck(J_t, theta_t, True), args.fast_repeats, warmup=1)
    rows["torch gradcheck fast"] = (t, "1 random projection", f"best of {max(1, args.fast_repeats)}")
    checks.append(("torch gradcheck fast", f"returned {ok}", "ok" if ok else "bug"))

    # e. the NumPy loop
    def loop():
        a = flatten(list(net.gradients(X, y).items()))
        return loop_gradcheck(J_np, a)
    t, (_numeric, difference) = best_of(loop, args.slow_repeats)
    rows["NumPy per-coordinate loop"] = (t, f"{n} (all)", f"best of {max(1, args.slow_repeats)}")
    checks.append(("NumPy per-coordinate loop", f"difference vs net.gradients {difference:.3e} → "
                   f"{_verdict(difference)}", _verdict(difference)))

    # ---- report
    t_full = rows["nnrecipe full"][0]
    print("| method | time | coordinates checked | µs / coordinate | speed-up of nnrecipe full vs it | timing |")
    print("|---|---:|---:|---:|---:|---|")
    for name, (t, coords, note) in rows.items():
        per = t / n * 1e6 if "probe" not in coords and "projection" not in coords else float("nan")
        per_s = f"{per:.1f}" if per == per else "–"
        print(f"| {name} | {fmt_time(t)} | {coords} | {per_s} | {t / t_full:.3g}× | {note} |")
    print()
    speedup = rows["torch gradcheck full"][0] / t_full
    t_fast = rows["nnrecipe fast"][0]
    print("targets:")
    print(f"  nnrecipe full ≥ {SPEEDUP_TARGET:g}× faster than torch full gradcheck: {speedup:.2f}× → "
          f"{'PASS' if speedup >= SPEEDUP_TARGET else 'MISS'}")
    print(f"  nnrecipe fast under {FAST_TARGET_S * 1e3:g} ms: {t_fast * 1e3:.1f} ms → "
          f"{'PASS' if t_fast < FAST_TARGET_S else 'MISS'}")
    print(f"\nagreement on correct code (ε = {EPSILON:g}; nnrecipe/loop verdicts: ok ≤ 1e-7 < look ≤ 1e-3 < bug):")
    for name, text, v in checks:
        print(f"  {name:<27} {text}")
    if any(v == "look" for _, _, v in checks):
        ulp = float(np.spacing(J_nr))
        print(f"  note: a 'look' just above 1e-7 on correct code is float64 round-off, not a bug: J(θ ± εeᵢ) ≈ "
              f"{J_nr:.2f} carries ~1 ulp = {ulp:.1e}, so (J₊ − J₋)/2ε is off by ~{ulp / EPSILON:.0e} per coordinate "
              f"(nnrecipe differences per example before summing, which keeps most of that out)")
    if k < n:
        print(f"\ntorch full: a 500-coordinate pilot took {t_pilot:.2f} s (→ {predicted:.0f} s predicted for all "
              f"{n}); timed on {k} random coordinates instead and extrapolated linearly.")
    if args.profile:
        result = profile_full(net, X, y)
        if result is None:
            print("\n--profile: nnrecipe.gradcheck has no _NetworkProblem.batched hook; skipped")
        else:
            total, seconds = result
            print(f"\nnnrecipe full, time per parameter array (one run, {fmt_time(total)} in all):")
            for name, p in net.params.items():
                t = seconds.get(name, float("nan"))
                print(f"  {name:<4} {p.shape!s:<11} {p.size:>6} coordinates  {fmt_time(t):>9}  {t / total:6.1%}")
    wall = time.perf_counter() - began
    load = others_load(cpu_began, cpu_seconds(), wall)
    print(f"\nrun: {wall:.0f} s; other processes kept "
          + ("(unknown)" if load is None else f"{load:.2f} of {os.cpu_count()} cores") + " busy meanwhile"
          + ("" if load is None or load < 0.2 else " — timings are disturbed: rerun on a quiet machine"))


def _verdict(difference):
    return "ok" if difference <= 1e-7 else "look" if difference <= 1e-3 else "bug"


if __name__ == "__main__":
    main()
