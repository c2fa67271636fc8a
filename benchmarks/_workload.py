"""The MLP workload the engine and health benchmarks share. Importing it pins the BLAS/OpenMP pools
to N_THREADS, so import it before numpy and torch."""

import os

N_THREADS = 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(N_THREADS))

import numpy as np

N_EXAMPLES, N_FEATURES, N_CLASSES = 20_000, 784, 10
LAYERS = [N_FEATURES, 256, 128, N_CLASSES]
BATCH, LR = 128, 1e-3


def make_data(seed=0):
    """Standard-normal float32 features; labels = argmax of a random linear teacher (+ noise)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_EXAMPLES, N_FEATURES), dtype=np.float32)
    teacher = rng.standard_normal((N_FEATURES, N_CLASSES), dtype=np.float32)
    logits = X @ teacher + rng.standard_normal((N_EXAMPLES, N_CLASSES), dtype=np.float32)
    return X, logits.argmax(axis=1).astype(np.int64)


def parse_args(doc, argv, per="library", every=None):
    """--epochs and --repeats, as every timed comparison takes them (and --every when given a default)."""
    import argparse
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help=f"timed runs per {per}, best kept (default 5)")
    if every is not None:
        parser.add_argument("--every", type=int, default=every, help=f"record every N steps (default {every})")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1 or getattr(args, "every", 1) < 1:
        parser.error("--epochs, --repeats and --every must be >= 1")
    return args
