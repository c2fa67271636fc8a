"""The command line: `nnrecipe train | gradcheck | split | check-match ...`."""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from ._checks import writable_folder, writable_path
from ._version import __version__
from .data.io import TABLE_SUFFIXES as TABLES
from .doctor.diagnose import describe_test
from .errors import LeakageWarning, NNRecipeError, TestSetWarning


def _ints(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 20,3; got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer sizes must be ≥ 1; got {text!r}")
    return values


def _count(low):
    """An argparse type: an integer ≥ low (seeds ≥ 0, epochs ≥ 1, ...)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer ≥ {low}; got {text}")
        return value
    return parse


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0; got {text}")
    return value


def _keep_probs(text):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a float or comma-separated floats; got {text!r}") from None
    return values[0] if len(values) == 1 else values


def _ratios(text):
    if text == "auto":
        return text
    try:
        parts = [float(v) if "." in v or "e" in v.lower() else int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, three shares such as 0.98,0.01,0.01 or three counts; "
                                         f"got {text!r}") from None
    return parts


def _auto_or(convert, expected):
    """An argparse type: 'auto', or convert(text) (--baseline-error: a number; --cv: a whole number, whose
    range the Recipe checks)."""
    def parse(text):
        if text == "auto":
            return text
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}") from None
    return parse


def _data_options(p, target_help="the label column (CSV/Parquet) or array (NPZ/.mat, default y)"):
    p.add_argument("--target", help=target_help)
    p.add_argument("--drop-nan", action="store_true", help="drop rows with a missing or non-finite value")
    p.add_argument("--onehot", action="store_true", help="one-hot encode text feature columns")
    p.add_argument("--task", choices=["auto", "classify", "regress"], default="auto",
                   help="what the target is: auto (default: text, booleans and whole numbers are classes, "
                        "fractions a regression target, and so are more than 20 distinct whole numbers with under "
                        "20 rows each on average), classify or regress")


DATA_HELP = "a bundled dataset (football, circles, moons, spirals, digits) or a .csv/.parquet/.npz/.mat file"


def parser():
    p = argparse.ArgumentParser(prog="nnrecipe", description="The practical recipe for improving neural networks.")
    p.add_argument("--version", action="version", version=f"nnrecipe {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a network on a dataset and report train and dev/test error")
    t.add_argument("data", help=DATA_HELP + " or a folder of images, one subfolder per class")
    _data_options(t)
    t.add_argument("--hidden", type=_ints, default=[20, 3], help="hidden layer sizes (default 20,3)")
    t.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    t.add_argument("--init", default="auto", help="initialization (default auto: He for ReLU, Xavier for tanh)")
    t.add_argument("--l2", type=float, default=0.0, help="L2 strength λ")
    t.add_argument("--l1", type=float, default=0.0, help="L1 strength λ₁")
    t.add_argument("--keep-prob", type=_keep_probs, default=1.0, help="dropout keep_prob per hidden layer")
    t.add_argument("--epochs", type=_count(1), default=1000)
    t.add_argument("--batch-size", type=_count(1), default=None, help="minibatch size (default: full batch)")
    t.add_argument("--optimizer", default="adam", choices=["gd", "momentum", "adam"])
    t.add_argument("--lr", type=_positive, default=0.01)
    t.add_argument("--seed", type=_count(0), default=0)
    t.add_argument("--out", help="write the trained model here (.npz)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    g = sub.add_parser("gradcheck", help="check a saved model's backpropagation against numerical gradients")
    g.add_argument("model", help="a model file written by `nnrecipe train --out` or net.save")
    g.add_argument("data", help=DATA_HELP)
    _data_options(g)
    g.add_argument("--examples", type=_count(1), default=64, help="check on the first N training examples (default 64)")
    g.add_argument("--mode", choices=["full", "fast"], default="full")
    g.add_argument("--dropout", choices=["off", "frozen"], default="off")
    g.add_argument("--seed", type=_count(0), default=0)
    r = sub.add_parser("run", help="the main job: split, check, train, diagnose, apply the recipe, test once, report")
    r.add_argument("data", help=DATA_HELP + " or a folder of images, one subfolder per class")
    _data_options(r)
    r.add_argument("--baseline-error", type=_auto_or(float, "auto or a number"), default="auto",
                   help="the best reachable error, e.g. human-level (a rate, or an RMSE for a regression), or "
                        "auto (default): estimated from the training rows")
    r.add_argument("--tolerance", type=float, default=None, help="a gap worth a knob (default 0.02)")
    r.add_argument("--metric", choices=["auto", "error", "balanced"], default="auto",
                   help="a classifier's error to decide on: auto (default: the balanced error when the rarest class "
                        "is under 10%% of the training rows and half its balanced share 1/K), error (the error "
                        "rate) or balanced (the mean of the per-class error rates); both are reported")
    r.add_argument("--cv", type=_auto_or(int, "auto, 0 or a number of folds"), default="auto",
                   help="auto (default): k-fold cross-validation over train+dev when dev is too small to resolve "
                        "the tolerance; 0: decide on dev; K: always K folds")
    r.add_argument("--workers", type=_count(1), default=None,
                   help="trainings at once on this machine (default: one per core; 1: one after the other)")
    r.add_argument("--dask", metavar="ADDRESS", help="run the trainings on the Dask cluster whose scheduler is at "
                   "ADDRESS (tcp://host:8786; needs the dask extra: pip install 'nnrecipe[dask]')")
    r.add_argument("--budget", type=_count(1), default=None, help="total training epochs over all experiments "
                   "(the refit on train+dev comes after them)")
    r.add_argument("--out", help="the run folder (default: runs/NAME, or runs/NAME-2, -3, ... when taken)")
    r.add_argument("--seed", type=_count(0), default=0)
    r.add_argument("--resume", action="store_true", help="continue the run recorded in --out (default: the newest "
                                                         "run of this name)")
    r.add_argument("--force", action="store_true", help="replace the run recorded in --out (default: the newest run "
                                                        "of this name)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--mlflow", metavar="URI", help="also log the run to this MLflow tracking URI "
                                                   "(http://host:5000, file:mlruns, ...; needs the mlflow extra)")
    d = sub.add_parser("demo", help="the notes' illustrations: init, vanishing, regularization")
    d.add_argument("name", choices=["init", "vanishing", "regularization"])
    d.add_argument("--out", default="demo", help="where the figures go (default ./demo)")
    d.add_argument("--seed", type=_count(0), default=None, help="default: the course's own initial weights")
    rs = sub.add_parser("runs", help="list the experiments of a run folder (or the runs under a folder)")
    rs.add_argument("dir", help="a run folder written by `nnrecipe run`, or a folder of them")
    s = sub.add_parser("split", help="split a data file into train/dev/test Parquet files plus training statistics "
                                     "(Parquet input is streamed in bounded memory)")
    s.add_argument("data", help="a .parquet file (streamed), or a .csv/.npz/.mat file")
    _data_options(s)
    s.add_argument("--out", required=True, help="the output folder (must not exist, or be empty)")
    s.add_argument("--ratios", type=_ratios, default="auto", help="auto (default), shares 0.98,0.01,0.01 or counts")
    s.add_argument("--no-stratify", action="store_true", help="do not keep class shares equal across sets")
    s.add_argument("--key", help="assign rows by a hash of this column: stable when rows are appended")
    s.add_argument("--salt", default="", help="salt of the --key hash")
    s.add_argument("--seed", type=_count(0), default=0)
    s.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    pr = sub.add_parser("predict", help="predict new raw rows with a saved model and write the predictions as CSV")
    pr.add_argument("model", help="a model file: model.npz of a run, or one written by `train --out` or net.save")
    pr.add_argument("rows", metavar="NEW", help="the rows to predict: a .csv or .parquet file with the columns the "
                                                "model was trained on, in any order (others are ignored)")
    pr.add_argument("--out", required=True, help="the CSV to write: the id (or row), prediction and, for a "
                                                 "classifier, one p(<label>) column per class")
    pr.add_argument("--id", help="a column of NEW to write beside each prediction (default: the row number, from 0)")
    m = sub.add_parser("check-match", help="do two data sets come from one distribution? (exit 1 if not)")
    m.add_argument("a", help="the first set: " + DATA_HELP)
    m.add_argument("b", help="the second set, same columns")
    _data_options(m)
    m.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate (Holm), default 0.05")
    m.add_argument("--seed", type=_count(0), default=0)
    return p


def gradcheck(args):
    import nnrecipe as nr
    net = nr.load(args.model)
    X, y, *_ = _load(args.data, args)
    report = nr.gradcheck(net, X[:args.examples], y[:args.examples], mode=args.mode, dropout=args.dropout,
                          seed=args.seed)
    print(report)
    return 1 if report.verdict == "bug" else 0


def _read(data, args):
    """A Table from a bundled dataset name or a file."""
    from .data.io import Table, read_table
    from .datasets import DATASETS, load_dataset
    if data in DATASETS:
        return load_dataset(data)
    if not Path(data).exists():
        raise NNRecipeError(f"DATA must be a bundled dataset ({', '.join(DATASETS)}) or an existing file; "
                            f"got {data!r}")
    return Table(*read_table(data, args.target, categorical="onehot" if args.onehot else None,
                             drop_nan=args.drop_nan, task=args.task))


def _load(data, args):
    """(X_train, y_train, X_dev, y_dev, table, split) for a dataset name or file, split as `run`
    splits: train and dev from the data's own training rows when it has a test set (football), else
    nr.split's train and dev; the test set stays locked either way."""
    from .data.split import split, split_dev
    t = _read(data, args)
    X = t.X.reshape(len(t.X), -1)
    s = (split(X, t.y, seed=args.seed) if t.test is None else
         split_dev(X, t.y, (t.test[0].reshape(len(t.test[0]), -1), t.test[1]), seed=args.seed))
    return s.train.X, s.train.y, s.dev.X, s.dev.y, t, s


def train(args):
    from rich.console import Console

    import nnrecipe as nr
    console = Console(soft_wrap=True)
    if args.out:
        _can_write(writable_path(args.out, "--out"), "--out")
    X, y, Xd, yd, t, s = _load(args.data, args)
    classes = t.classes
    if classes is None:
        output, n_out, kind = "linear", 1, "regression"
    elif len(classes) <= 2:
        output, n_out, kind = "sigmoid", 1, "binary classification"
    else:
        output, n_out, kind = "softmax", len(classes), f"{len(classes)}-class classification"
    net = nr.mlp([X.shape[1], *args.hidden, n_out], hidden=args.activation, output=output, init=args.init,
                 l2=args.l2, l1=args.l1, keep_prob=args.keep_prob, seed=args.seed)
    net.normalizer = nr.Standardizer().fit(X, held_out=s)
    net.classes = None if classes is None else np.asarray(classes)      # predict gives the data's labels
    net.features = list(t.features)
    console.print(f"[bold]{args.data}[/]: {len(X)} train / {len(Xd)} dev examples, {X.shape[1]} features, {kind}")
    console.print(f"split: {s.sizes}; the test set ({len(s.test)}) stays locked")
    console.print(f"network {[X.shape[1], *args.hidden, n_out]}, {net.n_params} parameters, "
                  f"{args.optimizer} lr {args.lr}, {args.epochs} epochs")
    hist = nr.fit(net, X, y, dev=(Xd, yd), epochs=args.epochs, batch_size=args.batch_size,
                  optimizer=args.optimizer, lr=args.lr, seed=args.seed, verbose=0 if args.quiet else 1)
    if classes is None:
        console.print(f"train RMSE {np.sqrt(net.error(X, y)):.6g} · dev RMSE {np.sqrt(net.error(Xd, yd)):.6g} (the "
                      "target's units, as `run` reports)")
    else:
        wrong = [round(net.error(A, b) * len(A)) for A, b in ((X, y), (Xd, yd))]
        console.print(f"train error {wrong[0] / len(X):.2%} ({wrong[0]}/{len(X)}) · "
                      f"dev error {wrong[1] / len(Xd):.2%} ({wrong[1]}/{len(Xd)})")
    if hist.stop_reason:
        console.print(f"[yellow]{hist.stop_reason}[/]")
    if args.out:
        net.save(args.out)
        console.print(f"model written to {args.out}")
    return 0


# the Recipe's options that `run` sets from a flag: its errors about them name the flag
RUN_FLAGS = {"baseline_error": "--baseline-error", "tolerance": "--tolerance", "cv": "--cv", "budget": "--budget",
             "out": "--out", "metric": "--metric", "task": "--task", "workers": "--workers"}


def _as_flag(exc):
    """An NNRecipeError "`option` must be X; got Y" about a Recipe option, as "`--flag` must be X; got Y"."""
    name, must, rest = str(exc).partition(" must ")
    return NNRecipeError(RUN_FLAGS[name] + must + rest) if must and name in RUN_FLAGS else exc


def run(args):
    from rich.console import Console

    from .recipe.executors import connect
    console = Console(soft_wrap=True)
    if args.resume and args.force:
        raise NNRecipeError("give --resume or --force, not both")
    name = Path(args.data).stem if args.data not in _bundled() else args.data
    out = writable_folder(args.out or _default_out(Path("runs") / name, args), "--out")
    args.on_interrupt = f"the run folder {out} can be resumed: {_resume_command(args.argv, out, args.out is not None)}"
    if args.mlflow:
        from .adapters.mlflow import check
        check(args.mlflow)
    if args.dask and args.workers is not None:
        raise NNRecipeError("give --workers (this machine) or --dask (a cluster), not both")
    client = connect(args.dask) if args.dask else None        # before any work: a clear error within seconds
    try:
        recipe = _run_recipe(args, out, name, client, console)
    except NNRecipeError as exc:
        raise _as_flag(exc) from None
    finally:
        if client is not None:
            client.close()
    for line in recipe.decisions_:
        console.print(f"  · {line}")
    report = _write_report(out, recipe)
    test, n_exp, d = recipe.record_["test"], len(recipe.experiments_), recipe.diagnosis_
    unsure = "" if recipe.record_["final"].get("confirmed", True) else " (not confirmed by dev's interval)"
    if recipe.record_.get("final_note"):               # the gap's error is inside the estimated irreducible error
        unsure += " (within the estimated irreducible error)"
    console.print(f"[bold]{d.case}{unsure}[/] (train {d.show(d.train_error)}, dev {d.show(d.dev_error)}, baseline "
                  f"{d.show(d.baseline_error)}) · [bold]test error {describe_test(test)}[/] · "
                  f"{_epochs_spent(recipe.record_, n_exp)}")
    console.print(f"run folder {out}: run.json, model.npz" + (f", {report.name}" if report else ""))
    if args.mlflow:
        from .adapters.mlflow import log_run
        console.print(f"logged to MLflow at {args.mlflow}: run {log_run(out, recipe.record_, args.mlflow)}")
    return 0


def _run_recipe(args, out, name, client, console):
    """The Recipe of `nnrecipe run`, fitted on the data the arguments name."""
    from .recipe import Recipe
    recipe = Recipe(baseline_error=args.baseline_error, tolerance=args.tolerance, budget=args.budget,
                    seed=args.seed, out=out, resume=args.resume, force=args.force, task=args.task,
                    metric=args.metric, cv=args.cv, workers=args.workers, executor=client,
                    verbose=0 if args.quiet else 1, log=lambda text: console.print(f"[bold]›[/] {text}"))
    with warnings.catch_warnings():           # the decision trail below states them; no second copy
        warnings.simplefilter("ignore", LeakageWarning)
        warnings.simplefilter("ignore", TestSetWarning)
        if Path(args.data).suffix.lower() in TABLES and Path(args.data).is_file():   # raw columns, as written
            from .data.io import check_target, read_arrow
            if not args.target:
                raise NNRecipeError("--target must name the column to predict in " + Path(args.data).name)
            table = read_arrow(args.data, "DATA")
            check_target(table.column_names, args.target, "--target", Path(args.data).name)
            recipe.fit(table, args.target, name=name, drop_missing=args.drop_nan)
        else:
            t = _read(args.data, args) if args.data != "digits" else _bundled_images("digits")
            recipe.fit(t.X, t.y, test=t.test, name=name, features=t.features, classes=t.classes)
    return recipe


def _epochs_spent(record, n_exp):
    """'3200 epochs over 9 experiments' and, after a refit, 'and 400 to refit the choice on train+dev' (the
    budget counts the experiments' epochs, the refit comes after it; spent_epochs counts both)."""
    refit = (record["final"].get("refit") or {}).get("epochs", 0)
    return (f"{record['spent_epochs'] - refit} epochs over {n_exp} experiment{'' if n_exp == 1 else 's'}"
            + (f" and {refit} to refit the choice on train+dev" if refit else ""))


def _default_out(base, args):
    """Without --out: a new folder per run (runs/NAME, runs/NAME-2, ...), as Lightning's version_N, so the
    same command twice simply works; --resume and --force take the newest run of that name."""
    from .recipe.store import latest, next_free
    return latest(base) if args.resume or args.force else next_free(base)


def _bundled():
    from .datasets import DATASETS
    return DATASETS


def _bundled_images(name):
    from .datasets import load_dataset
    return load_dataset(name, images=True)


def _write_report(out, recipe):
    """report.html beside run.json, with the decision boundary when the data has two features."""
    from .report import write_report
    s = recipe.split_
    return write_report(out, recipe.record_, net=recipe.best_, X=s.train.X, y=s.train.y)


def demo(args):
    from .demos import run_demo
    from .recipe.store import make_folder
    result = run_demo(args.name, make_folder(writable_folder(args.out, "--out"), "--out"), seed=args.seed)
    print(result)
    print("figures: " + ", ".join(str(p) for p in result.figures))
    return 0


def runs(args):
    from rich.console import Console
    root = Path(args.dir)
    if not root.is_dir():
        raise NNRecipeError(f"DIR must be a run folder or a folder of them; got {str(root)!r}")
    console = Console(soft_wrap=True)
    if (root / "run.json").exists():
        table, whys, footer = _record(root, _experiments)
        console.print(table)
        for line in whys + footer:
            console.print(line)
        return 0
    found = sorted(p.parent for p in root.glob("*/run.json"))
    if not found:
        raise NNRecipeError(f"{root} holds no run.json, nor folders that do")
    table = _table(str(root), ("run", "fold"), "data", "created", "experiments", "epochs", "dev", "test")
    unreadable = []
    for folder in found:
        try:
            table.add_row(folder.name, *_record(folder, _summary))
        except NNRecipeError as exc:
            table.add_row(folder.name, "[red]unreadable run.json[/]", *[""] * 5)
            unreadable.append(str(exc))
    console.print(table)
    for line in unreadable:
        print(f"nnrecipe: {line}", file=sys.stderr)
    return 1 if unreadable else 0


RIGHT = ("#", "epochs", "experiments", "train", "dev", "test")


def _table(title, *columns):
    """A compact rich Table (two spaces between columns) that fits 80 columns: its columns never wrap
    or cut their text, except those given as (name, "fold"), which wrap."""
    from rich import box
    from rich.table import Table
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, 1), pad_edge=False)
    for column in columns:
        name, overflow = column if isinstance(column, tuple) else (column, None)
        table.add_column(name, justify="right" if name in RIGHT else "left", no_wrap=overflow is None,
                         overflow=overflow or "ellipsis")
    return table


def _record(folder, build):
    """build(the dict in folder/run.json); NNRecipeError when that file is not a readable run record."""
    import json
    path = folder / "run.json"
    try:
        return build(json.loads(path.read_text(encoding="utf-8")), folder)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        why = f"no field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise NNRecipeError(f"{path} is not a readable run record ({why})") from None


def _summary(record, folder):
    """One row of the runs under a folder: data, created, experiments, epochs, dev, test."""
    final = next((e for e in record["experiments"] if e["id"] == (record.get("final") or {}).get("experiment")),
                 None)
    show = _shows(record)
    return (record["data"]["name"], record["created"][:16].replace("T", " "), str(len(record["experiments"])),
            str(record.get("spent_epochs", "")), show(final["dev_error"]) if final else "—",
            show(record["test"]["error"]) if record.get("test") else "—")


def _shows(record):
    """How a run's errors are written: rates as 2.00%, a regression's RMSE as a number."""
    units = record.get("units")
    return (lambda v: f"{v:.2%}") if units is None else (lambda v: f"{v:.4g}")


def _experiments(record, folder):
    """(table of a run's experiments, their `why` lines, the test line): `why` is long prose, so it
    goes below the table, where the numbers need not share the width with it."""
    show = _shows(record)
    units = f" ({record['units']})" if record.get("units") else ""
    table = _table(f"{folder}: {record['data']['name']}, baseline {show(record['baseline_error'])}{units}",
                   "#", "knob", "hidden", "λ", "keep", "epochs", "train", "dev", ("case", "fold"), "chosen")
    chosen = (record.get("final") or {}).get("experiment")
    whys = []
    for e in record["experiments"]:
        c = e["config"]
        table.add_row(str(e["id"]), e["knob"], ",".join(map(str, c["hidden"])), f"{c['l2']:g}",
                      f"{c['keep_prob']:g}", str(e["epochs"]), show(e["train_error"]), show(e["dev_error"]),
                      e["diagnosis"]["case"], "✓" if e["id"] == chosen else "")
        whys.append(f"{e['id']:>3}  {e['why']}")
    test = record.get("test")
    if not test:
        return table, whys, []
    times = len(test.get("openings") or [None])
    opened = f"once, {test['opened_at']}" if times == 1 else f"{times} times, first {test['opened_at']}"
    if "rmse" not in test:
        test = test | {"errors": test.get("errors", round(test["error"] * test["n"]))}   # older records lack it
    return table, whys, [f"test error {describe_test(test)} (opened {opened})"]


def split(args):
    """Stream a Parquet file into train/dev/test; other files are converted to Parquet first."""
    import tempfile

    from rich.console import Console
    from rich.progress import Progress

    from .data.io import write_data
    from .data.stream import split_file
    console = Console(soft_wrap=True, stderr=True)
    _try_folder(writable_folder(args.out, "--out"), "--out")        # an unwritable --out fails before any work
    source, target = args.data, args.target
    given = source if source in _bundled() else Path(source).resolve()      # what stats.json records
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console, transient=True,
                                                            disable=args.quiet or not console.is_terminal) as bar:
        if not str(source).lower().endswith((".parquet", ".pq")):
            t = _read(source, args)
            if t.X.ndim != 2:
                raise NNRecipeError(f"DATA must be tabular to split into files; got images of shape {t.X.shape}")
            if t.test is not None:
                console.print(f"note: {args.data} comes with its own test set ({len(t.test[0])} rows), which split "
                              f"leaves out: it splits the other {len(t.X)} rows (`nnrecipe run` keeps that test set)")
            target = target or "y"
            source = f"{tmp}/data.parquet"
            write_data(source, t.X, t.y if t.classes is None else np.asarray(t.classes)[t.y], t.features, target)
        elif target is None:
            raise NNRecipeError("--target must name the label column of the Parquet file")
        job = bar.add_task("splitting", total=None)
        result = split_file(source, args.out, target, ratios=args.ratios, stratify=not args.no_stratify,
                            key=args.key, salt=args.salt, seed=args.seed, drop_nan=args.drop_nan,
                            overwrite=args.overwrite, task=args.task, source=given,
                            progress=lambda done, total: bar.update(job, completed=done, total=total))
    print(f"{result.mode} split: " + " · ".join(f"{k} {v:,}" for k, v in result.n.items()) + f" ({result.reason})")
    print(f"written to {result.out}: " + ", ".join(p.name for p in result.paths.values()))
    return 0


def check_match(args):
    from .data.match import check_match as check
    a, b = _read(args.a, args), _read(args.b, args)
    if a.features is not None and b.features is not None and list(a.features) != list(b.features):
        raise NNRecipeError(f"B must have the columns of A in the same order; got {list(b.features)[:6]} for "
                            f"{list(a.features)[:6]}")
    m = check((a.X.reshape(len(a.X), -1), a.y), (b.X.reshape(len(b.X), -1), b.y), alpha=args.alpha,
              features=a.features, seed=args.seed)
    print(m)
    return 0 if m.same else 1


def predict(args):
    """Labels and class probabilities (or values) of a saved model for the raw rows of a file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .data.io import read_arrow
    from .engine.serialize import atomic_write, load
    out = _can_write(writable_path(args.out, "--out"), "--out")
    net = load(args.model)
    table = read_arrow(args.rows, "NEW")
    where = Path(args.rows).name
    if args.id is not None and args.id not in table.column_names:
        raise NNRecipeError(f"--id must name a column of {where}; got {args.id!r} (columns: "
                            f"{', '.join(table.column_names)})")
    if net.preprocessor is not None:
        labels, proba = net.predict_with_proba(table)
        ignored = net.preprocessor.ignored_
    else:
        X, ignored = _model_columns(net, table, where)
        labels, proba = net.predict_with_proba(X)
    columns = {args.id or "row": table.column(args.id) if args.id else pa.array(np.arange(table.num_rows))}
    if labels.ndim == 2:                            # several regression outputs
        columns.update({f"prediction {j}": labels[:, j] for j in range(labels.shape[1])})
    else:
        columns["prediction"] = labels
    if proba is not None:
        names = net.classes if net.classes is not None else range(proba.shape[1])
        columns.update({f"p({name})": proba[:, k] for k, name in enumerate(names)})
    atomic_write(out, lambda f: pacsv.write_csv(pa.table(columns), f), "--out")
    ignored = [c for c in ignored if c != args.id]
    note = f"; ignored {len(ignored)} column(s) the model does not use: {', '.join(map(repr, ignored))}" if ignored else ""
    print(f"predicted {table.num_rows} row(s) of {where} → {out}{note}")
    return 0


def _model_columns(net, table, where):
    """(X, ignored columns) for a model without a table preprocessor: its feature columns (by name when
    the model knows them, else every column of the file) as numbers."""
    import pyarrow as pa
    names = net.features if net.features is not None else table.column_names
    missing = [c for c in names if c not in table.column_names]
    if missing:
        raise NNRecipeError(f"NEW must have every column the model was trained on; missing "
                            f"{', '.join(map(repr, missing))} in {where}")
    try:
        X = np.column_stack([table.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False) for c in names])
    except (pa.ArrowException, NotImplementedError) as exc:
        raise NNRecipeError(f"NEW must hold numbers in the model's columns (this model has no table "
                            f"preprocessor); {where} does not ({exc})") from None
    return X, [c for c in table.column_names if c not in set(names)]


def main(argv=None):
    """Run one command; its exit status. Bad input, an unusable path and Ctrl-C end in one line on stderr
    (exit 2, 2 and 130), never a traceback; any other exception is a bug, and shows its traceback."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = parser().parse_args(argv)
    args.argv, args.on_interrupt = argv, None
    shown = warnings.showwarning
    warnings.showwarning = _one_line(shown)
    try:
        commands = {"run": run, "runs": runs, "demo": demo, "train": train, "gradcheck": gradcheck, "split": split,
                    "check-match": check_match, "predict": predict}
        return commands[args.command](args)
    except NNRecipeError as exc:
        print(f"nnrecipe: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:                      # a path that cannot be read or written, a full disk, ...
        print(f"nnrecipe: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnrecipe: interrupted" + (f"; {args.on_interrupt}" if args.on_interrupt else ""), file=sys.stderr)
        return 130                              # 128 + SIGINT, as a shell reports it
    finally:
        warnings.showwarning = shown


def _one_line(show):
    """A warnings.showwarning that writes nnrecipe's own warnings (a stale lock taken over, a divergence)
    as one line on stderr, 'nnrecipe: warning: ...', without Python's file, line and source; others go
    to `show`, the one in place before."""
    def showwarning(message, category, filename, lineno, file=None, line=None):
        if not category.__module__.startswith("nnrecipe"):
            return show(message, category, filename, lineno, file, line)
        print(f"nnrecipe: warning: {message}", file=sys.stderr if file is None else file)
    return showwarning


def _try_folder(path, name):
    """Check that the folder `path` can be created and written, leaving no trace: one that did not exist
    is made and removed again (with the parents made for it), so a command refused later leaves nothing."""
    from .recipe.store import make_folder
    made = [p for p in (path, *path.parents) if not p.exists()]         # deepest first
    make_folder(path, name)
    for p in made:
        p.rmdir()
    return path


def _can_write(path, name):
    """path, once a file can be created beside it (then removed): an output that cannot be written fails
    before the work, not after it."""
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise NNRecipeError(f"{name} must be a file this process can write; got {str(path)!r} "
                            f"({exc.strerror or exc})") from None
    return path


def _os_error(exc):
    """An OSError in words: 'Permission denied: out/run.json' rather than its errno and repr."""
    where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    return f"{exc.strerror or type(exc).__name__}: {where}" if where else str(exc) or type(exc).__name__


def _resume_command(argv, out, out_given):
    """The command that goes on with this run: its own arguments with --resume instead of --force, and
    the run folder when --out was left to the default."""
    import shlex
    words = [w for w in argv if not (len(w) > 3 and "--force".startswith(w))]      # argparse takes "--for"
    if not any(len(w) > 4 and "--resume".startswith(w) for w in words):
        words.append("--resume")
    if not out_given:
        words += ["--out", str(out)]
    return shlex.join(["nnrecipe", *words])


if __name__ == "__main__":
    sys.exit(main())
