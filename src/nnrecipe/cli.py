"""The command line: `nnrecipe train DATA ...`."""

import argparse
import sys

import numpy as np

from . import __version__
from .errors import NNRecipeError


def _ints(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 20,3; got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer sizes must be ≥ 1; got {text!r}")
    return values


def _keep_probs(text):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a float or comma-separated floats; got {text!r}") from None
    return values[0] if len(values) == 1 else values


def parser():
    p = argparse.ArgumentParser(prog="nnrecipe", description="The practical recipe for improving neural networks.")
    p.add_argument("--version", action="version", version=f"nnrecipe {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a network on a dataset and report train and dev/test error")
    t.add_argument("data", help="a bundled dataset (football) or a .csv / .npz file")
    t.add_argument("--target", help="the label column (CSV) or array (NPZ, default y)")
    t.add_argument("--hidden", type=_ints, default=[20, 3], help="hidden layer sizes (default 20,3)")
    t.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    t.add_argument("--init", default="auto", help="initialization (default auto: He for ReLU, Xavier for tanh)")
    t.add_argument("--l2", type=float, default=0.0, help="L2 strength λ")
    t.add_argument("--l1", type=float, default=0.0, help="L1 strength λ₁")
    t.add_argument("--keep-prob", type=_keep_probs, default=1.0, help="dropout keep_prob per hidden layer")
    t.add_argument("--epochs", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: full batch)")
    t.add_argument("--optimizer", default="adam", choices=["gd", "momentum", "adam"])
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="write the trained model here (.npz)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    g = sub.add_parser("gradcheck", help="check a saved model's backpropagation against numerical gradients")
    g.add_argument("model", help="a model file written by `nnrecipe train --out` or net.save")
    g.add_argument("data", help="a bundled dataset (football) or a .csv / .npz file")
    g.add_argument("--target", help="the label column (CSV) or array (NPZ, default y)")
    g.add_argument("--examples", type=int, default=64, help="check on the first N training examples (default 64)")
    g.add_argument("--mode", choices=["full", "fast"], default="full")
    g.add_argument("--dropout", choices=["off", "frozen"], default="off")
    g.add_argument("--seed", type=int, default=0)
    return p


def gradcheck(args):
    import nnrecipe as nr
    net = nr.load(args.model)
    X, y, *_ = _load(args.data, args.target, args.seed)
    if args.examples < 1:
        raise NNRecipeError(f"--examples must be ≥ 1; got {args.examples}")
    report = nr.gradcheck(net, X[:args.examples], y[:args.examples], mode=args.mode, dropout=args.dropout,
                          seed=args.seed)
    print(report)
    return 1 if report.verdict == "bug" else 0


def _load(data, target, seed):
    """(X_train, y_train, X_eval, y_eval, eval_name, classes) for a dataset name or file."""
    from .datasets import DATASETS, load_dataset
    if data in DATASETS:
        X, y, Xt, yt = load_dataset(data)
        return X, y, Xt, yt, "test", [0, 1]
    from .data.io import read_table
    X, y, _, classes = read_table(data, target)
    order = np.random.default_rng(seed).permutation(len(X))
    n_dev = max(1, len(X) // 5)
    dev, train = order[:n_dev], order[n_dev:]
    return X[train], y[train], X[dev], y[dev], "dev", classes


def train(args):
    import nnrecipe as nr
    from rich.console import Console
    console = Console(soft_wrap=True)
    X, y, Xe, ye, eval_name, classes = _load(args.data, args.target, args.seed)
    if classes is None:
        output, n_out, kind = "linear", 1, "regression"
    elif len(classes) <= 2:
        output, n_out, kind = "sigmoid", 1, "binary classification"
    else:
        output, n_out, kind = "softmax", len(classes), f"{len(classes)}-class classification"
    net = nr.mlp([X.shape[1], *args.hidden, n_out], hidden=args.activation, output=output, init=args.init,
                 l2=args.l2, l1=args.l1, keep_prob=args.keep_prob, seed=args.seed)
    net.normalizer = nr.Standardizer().fit(X)
    console.print(f"[bold]{args.data}[/]: {len(X)} train / {len(Xe)} {eval_name} examples, "
                  f"{X.shape[1]} features, {kind}")
    console.print(f"network {[X.shape[1], *args.hidden, n_out]}, {net.n_params} parameters, "
                  f"{args.optimizer} lr {args.lr}, {args.epochs} epochs")
    hist = nr.fit(net, X, y, dev=(Xe, ye), epochs=args.epochs, batch_size=args.batch_size,
                  optimizer=args.optimizer, lr=args.lr, seed=args.seed, verbose=0 if args.quiet else 1)
    if classes is None:
        console.print(f"train mean squared error {net.error(X, y):.6g} · "
                      f"{eval_name} mean squared error {net.error(Xe, ye):.6g}")
    else:
        wrong = [int(round(net.error(A, b) * len(A))) for A, b in ((X, y), (Xe, ye))]
        console.print(f"train error {wrong[0] / len(X):.2%} ({wrong[0]}/{len(X)}) · "
                      f"{eval_name} error {wrong[1] / len(Xe):.2%} ({wrong[1]}/{len(Xe)})")
    if hist.stop_reason:
        console.print(f"[yellow]{hist.stop_reason}[/]")
    if args.out:
        net.save(args.out)
        console.print(f"model written to {args.out}")
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return {"train": train, "gradcheck": gradcheck}[args.command](args)
    except NNRecipeError as exc:
        print(f"nnrecipe: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
