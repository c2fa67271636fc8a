"""The torch GradientMonitor's overhead: the same torch training loop with and without it, in one run.

MLP 784-256-128-10 (ReLU, cross-entropy), minibatch 128, Adam lr 1e-3, float32, 2 threads, 20 000
random examples with labels from a random linear teacher (benchmarks/engine.py's data and loop).
The monitor records every `--every`-th step (default 10, the monitor's default; --every 1 records
each step, as Cockpit's cheapest configuration does): after backward, the 2-norm of all 6 parameter gradients in one
torch._foreach_norm call, stacked and kept on the device (no host sync), and the loss; once per
epoch, the first step's forward runs with hooks on the 3 layers' activations (mean, std, dead
share), and epoch_end reads everything back in a few syncs and applies the health rules. Best of
`--repeats` timed runs of `--epochs` epochs, the two sides taking turns (a burst of load from
elsewhere does not land on one side only), after one untimed warm-up of each. Also: the time spent
inside the monitor's calls during training, the time of one step() and of one epoch_end (outside
training: warm caches), and whether both runs end with bit-identical weights.

    python benchmarks/torch_monitor.py [--epochs 3] [--repeats 5] [--every 10]
"""

import math
import platform
import time

# _workload pins the BLAS/OpenMP threads: imported before torch
from _workload import BATCH, LAYERS, LR, N_EXAMPLES, N_THREADS, make_data, parse_args

# isort: split

import torch
from _machine import cpu_seconds, others_load, print_load, settle

from nnrecipe.adapters.torch import GradientMonitor

TARGET = 0.05        # the monitor may cost at most 5% of training time (Cockpit's cheapest: 1.5x)


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(LAYERS[0], LAYERS[1]), torch.nn.ReLU(),
                               torch.nn.Linear(LAYERS[1], LAYERS[2]), torch.nn.ReLU(),
                               torch.nn.Linear(LAYERS[2], LAYERS[3]))


def train(X, y, epochs, monitor, every=10):
    """Seconds of one training run (model and monitor built before the clock starts), the seconds
    spent inside the monitor's calls, the weights, and the monitor."""
    model = make_model()
    watch = GradientMonitor(model, every=every) if monitor else None
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    n, inside = len(X), 0.0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            if watch is not None:
                t = time.perf_counter()
                watch.step(loss)
                inside += time.perf_counter() - t
            opt.step()
        if watch is not None:
            t = time.perf_counter()
            watch.epoch_end(epoch)
            inside += time.perf_counter() - t
    seconds = time.perf_counter() - t0
    if watch is not None:
        watch.remove()
    return seconds, inside, [p.detach().clone() for p in model.parameters()], watch


def unit_costs(X, y, repeats=200):
    """Best seconds of one monitor.step() (gradients present) and of one epoch_end."""
    model = make_model()
    watch = GradientMonitor(model, every=1)          # every call records: the cost of one record
    loss = torch.nn.functional.cross_entropy(model(X[:BATCH]), y[:BATCH])
    loss.backward()
    step = end = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        watch.step(loss)
        step = min(step, time.perf_counter() - t0)
    for _ in range(20):
        t0 = time.perf_counter()
        watch.epoch_end()
        end = min(end, time.perf_counter() - t0)
    watch.remove()
    return step, end


def main(argv=None):
    args = parse_args(__doc__, argv, per="side", every=10)
    every = args.every
    torch.set_num_threads(N_THREADS)
    quiet, cpu0, wall0 = settle()
    X, y = (torch.from_numpy(a) for a in make_data())
    for monitor in (False, True):                      # warm-up (untimed)
        train(X[:5 * BATCH], y[:5 * BATCH], 1, monitor)
    best, weights, inside = {False: math.inf, True: math.inf}, {}, math.inf
    for _ in range(args.repeats):
        for monitor in (False, True):
            seconds, spent, weights[monitor], watch = train(X, y, args.epochs, monitor, every)
            best[monitor] = min(best[monitor], seconds)
            inside = min(inside, spent) if monitor else inside
    step, end = unit_costs(X, y)
    others = others_load(cpu0, cpu_seconds(), time.perf_counter() - wall0)

    steps = math.ceil(N_EXAMPLES / BATCH)
    overhead = best[True] / best[False] - 1
    print(f"# torch GradientMonitor overhead ({platform.processor() or platform.machine()}, {N_THREADS} threads, "
          f"torch {torch.__version__})")
    print(f"MLP {'-'.join(map(str, LAYERS))}, ReLU, cross-entropy, batch {BATCH}, Adam lr {LR}, float32, "
          f"{N_EXAMPLES} examples ({steps} steps/epoch), {args.epochs} epochs, best of {args.repeats}; gradient "
          f"norms every {every} step(s), activation statistics on one step per epoch, rules every epoch\n")
    print_load(quiet, others)
    print("| run | seconds | per step |")
    print("|---|---:|---:|")
    for monitor, label in ((False, "training loop"), (True, "training loop + GradientMonitor")):
        print(f"| {label} | {best[monitor]:.3f} | {best[monitor] / (args.epochs * steps) * 1e6:.0f} us |")
    print(f"\none recorded monitor.step(): {step * 1e6:.0f} us = {step / (best[False] / (args.epochs * steps)):.2%} of a "
          f"training step; one epoch_end: {end * 1e3:.2f} ms = {end / (best[False] / args.epochs):.2%} of an epoch")
    print(f"time inside the monitor's calls during training (best run): {inside * 1e3:.1f} ms = "
          f"{inside / best[False]:.2%} of the run without it (timed around the calls, so it includes the cache "
          "misses of reading fresh gradients, which the optimizer then does not pay: the end-to-end figure "
          "below is the one that counts)")
    print(f"findings on this workload: {[(f.rule, f.layer) for f in watch.findings] or 'none'}")
    print(f"overhead: {overhead:+.2%} (target <= {TARGET:.0%}: {'PASS' if overhead <= TARGET else 'MISS'})")
    same = all(torch.equal(a, b) for a, b in zip(weights[False], weights[True]))
    print(f"weights after training with and without the monitor: {'bit-identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
