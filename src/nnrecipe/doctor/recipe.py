"""The automatic recipe: diagnose, turn one knob at a time, keep what dev says is better, and
open the test set once at the end. Every experiment is recorded in a run folder (run.json + models).
"""

import hashlib
import json
import math
import os
import shutil
import sys
import warnings
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import numpy as np

from .._checks import as_rows, plain, positive, writable_folder
from ..data import augment as aug
from ..data.match import check_match
from ..data.normalize import Standardizer, rows_in
from ..data.split import split, split_dev
from ..engine.network import mlp
from ..engine.serialize import atomic_write, load
from ..errors import LeakageWarning, NNRecipeError, TestSetWarning, expect
from ..training.callbacks import EarlyStopping
from ..training.fit import fit
from .diagnose import check_levels, describe_error, diagnose, error_interval
from .health import GradientMonitor

RUN_FORMAT = "nnrecipe-run"
MIN_ROWS = 50                          # 60/20/20 leaves ≥ 10 rows in dev and test for the match check
L2_GRID = (0.01, 0.1, 0.3, 1.0, 3.0)             # a log grid, half-decade steps where λ usually lands
KEEP_PROBS = (0.9, 0.8)
MAX_WIDTH, MAX_DEPTH = 512, 4
BIAS_KNOBS = ("width", "depth", "epochs", "lr")
VARIANCE_KNOBS = ("l2", "dropout", "augment", "data")
NEW_OUT = "use a new --out, or --force to replace that run"
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclass(frozen=True)
class Config:
    """One experiment's settings (JSON-able)."""
    hidden: tuple
    epochs: int
    batch_size: int | None
    lr: float = 0.01
    optimizer: str = "adam"
    activation: str = "relu"
    l2: float = 0.0
    keep_prob: float = 1.0
    augment: bool = False
    train_share: float = 1.0           # < 1 only for the learning curve

    def key(self):
        return json.dumps(asdict(self), sort_keys=True)


def _rows(X):
    return X.reshape(len(X), -1)


def _jagged(cost):
    """True when J rose in more than a tenth of the epochs of its second half: the notes' sign of a
    learning rate too large for the curvature."""
    tail = np.diff(np.asarray(cost[len(cost) // 2:], dtype=np.float64))
    return tail.size > 0 and np.mean(tail > 0) > 0.1


def _images_augmentation():
    return aug.Compose([aug.Rotate(10), aug.Zoom(0.1)])


def _warn_user(message, category):
    """warnings.warn attributed to the first caller outside nnrecipe (the user's Recipe.fit, nt.fit or
    the CLI), not to a line of the library."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _features(X, name):
    """X as an array of rows (n, d) or images (n, H, W[, C]), numeric and finite; errors name `name`
    and the user's own row and column."""
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as exc:              # ragged lists and the like
        raise NNRecipeError(f"{name} must be array-like of numbers; got {type(X).__name__} ({exc})") from None
    as_rows(X, name)                                    # the checks (images flattened to rows)
    return X


def _labels(y, n, name, rows_of):
    """y as n class labels, one per row of `rows_of`: numbers or strings, nothing that looks like a
    regression target."""
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise NNRecipeError(f"{name} must be array-like of class labels; got {type(y).__name__} ({exc})") from None
    expect(y.ndim == 1 and len(y) == n, name, f"class labels of shape ({n},), one per row of {rows_of}",
           f"shape {y.shape}")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if bad.size:
            raise NNRecipeError(f"{name} must be class labels (the recipe classifies; regression targets are not "
                                f"supported); got the non-integer value {plain(y[bad[0]])} at row {bad[0]}")
    elif y.dtype.kind not in "biuUSO":
        raise NNRecipeError(f"{name} must be class labels (numbers or strings); got dtype {y.dtype}")
    return y


def _fingerprint(X, y, test, classes, s):
    """What --resume must find unchanged: X's shape, hashes of X, of the labels, of a given test set, and
    the rows the split put in train and dev."""
    def digest(*arrays):
        h = hashlib.blake2b(digest_size=16)
        for a in map(np.ascontiguousarray, arrays):
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a)
        return h.hexdigest()
    names = np.array(json.dumps([plain(c) for c in classes], default=str))
    return {"shape": list(X.shape), "X": digest(X), "y": digest(y, names),
            "test": None if test is None else digest(*test), "split": digest(s.train.index, s.dev.index)}


def _differences(old, new):
    """What differs between two fingerprints, in words (the split only when the data is the same)."""
    if old.get("shape") != new["shape"]:
        data = [f"X had shape {tuple(old.get('shape') or ())}, this X has {tuple(new['shape'])}"]
    else:
        data = ["the values of X differ"] if old.get("X") != new["X"] else []
    data += [words for key, words in (("y", "the labels y differ"), ("test", "the test set given differs"))
             if old.get(key) != new[key]]
    return data or ["the split differs"]


class Recipe:
    """The notes' basic recipe, run by the machine.

    baseline_error : the best reachable error (human-level, Bayes estimate), in [0, 1).
    tolerance : a gap (avoidable bias or variance) larger than this is worth a knob, in [0, 1)
        (default 0.02). Both are numbers (numpy scalars too), checked by fit before any work.
    budget : total training epochs over all experiments (default None: no limit). A budget below the
        first experiment's epochs (600 up to 1000 training rows, else 60) cuts that experiment to it.
    out : a folder for run.json, models/ and the report; None keeps everything in memory.
    resume : reuse the experiments an earlier run recorded in `out`; force : discard that run.
    trainer : None (the NumPy engine) or a `nnrecipe.torch.TorchTrainer(model_factory)`: the same
        recipe drives a torch model (one process, or DDP under torchrun: only rank 0 writes).

    After fit: classes_ (y's labels, in the order of the network's outputs; `predict` returns them),
    split_, match_, experiments_ (records, as in run.json), best_ (the chosen Network, which predicts
    indices into classes_), best_dev_error_, diagnosis_, test_error_, record_ (the whole run.json dict).

    Each experiment trains until its epoch limit or a plateau of the training cost J (no gain of
    1e-4 in 10 epochs: the rule never looks at dev, so it is not early stopping).
    """

    def __init__(self, baseline_error=0.0, tolerance=None, budget=None, seed=0, out=None, resume=False,
                 force=False, verbose=1, log=print, trainer=None):
        self.baseline_error, self.tolerance, self.budget, self.seed = baseline_error, tolerance, budget, seed
        self.trainer = trainer
        self.out, self.resume, self.force, self.verbose, self.log = out, resume, force, verbose, log

    # ---- the loop ---------------------------------------------------------------------
    def fit(self, X, y, test=None, name="data", features=None, classes=None):
        """Run the recipe on (X, y): X (n, d) or images (n, H, W[, C]); y (n,) class labels of one
        sortable kind (0/1, -1/1, 3/7, strings: `classes_` keeps them), or indices into `classes`.
        test : (X_test, y_test) when the data comes with its own test set, else split off."""
        self._validate_options()
        X, y, test = self._inputs(X, y, test, classes)
        self._writes = self.out is not None
        if self.trainer is not None and self.out is not None:
            from ..adapters.torch_train import is_main
            self._writes = is_main()                          # under DDP only rank 0 writes
        self._prepare_out()
        s = split_dev(X, y, test, seed=self.seed) if test is not None else split(X, y, seed=self.seed)
        self.split_ = s
        self._n_out = 1 if len(self.classes_) <= 2 else len(self.classes_)
        self._images = X.ndim > 2
        self.match_ = check_match(s.dev, s.test, seed=self.seed)
        self.standardizer_ = Standardizer().fit(s.train.X)
        self._n_dev = len(s.dev)
        self._spent, self._done, self.experiments_, self.decisions_ = 0, {}, [], []
        self._over_budget, self._openings = False, []
        fingerprint = _fingerprint(X, y, test, self.classes_, s)
        self._load_previous(fingerprint)
        self.record_ = self._new_record(name, features, s, fingerprint)
        self._decide(f"split: {s.sizes}")
        self._decide(("dev and test match: " if self.match_.same else "WARNING, dev and test differ: ")
                     + self.match_.verdict + ("" if self.match_.same else
                                              " (the notes: dev and test must come from one distribution)"))
        self._check_duplicates(s)
        self._search()
        self._finish()
        return self

    def predict(self, X):
        """The chosen model's predictions as labels of y (`classes_`), not as class indices."""
        return self.classes_[np.asarray(self.best_.predict(_rows(np.asarray(X)))).reshape(-1).astype(int)]

    def _search(self):
        cfg, why = self._first_config(), "a He-initialized ReLU network sized from the data"
        if self.budget is not None and self.budget < cfg.epochs:     # a run always trains something
            cfg, why = replace(cfg, epochs=self.budget), why + f", cut to the budget of {self.budget} epochs"
        best = self._run(cfg, "start", why)
        bias, variance = list(BIAS_KNOBS), list(VARIANCE_KNOBS)
        self.lambda_sweep_, self.learning_curve_ = [], None
        while True:
            d = best["diag"]
            if d.case == "good fit":
                self._decide(f"stop: {d.case}, both gaps within {d.tolerance:.1%} of the baseline")
                break
            if self.budget is not None and self._spent >= self.budget:
                self._decide(f"stop: the budget of {self.budget} epochs is spent")
                break
            regularized = best["cfg"].l2 > 0 or best["cfg"].keep_prob < 1
            if d.high_bias and bias and regularized:
                self._decide(f"avoidable bias {d.avoidable_bias:.1%} comes with the regularization chosen for "
                             "variance; a bigger network would only buy back what λ or dropout took: bias knobs "
                             "not turned")
                bias.clear()
            elif d.high_bias and bias:
                knob = bias.pop(0)
                candidate = self._try_bias(knob, best, d)
                if candidate is not None and self._better(candidate, best, ties=False):
                    best = candidate
                    if knob in ("width", "depth"):
                        bias.insert(0, knob)           # it helped: grow the same way again
            elif d.high_variance and variance:
                best = self._try_variance(variance.pop(0), best, d)
            else:
                left = "bias" if d.high_bias else "variance"
                self._decide(f"stop: {d.case}, and " + (
                    f"the budget of {self.budget} epochs is spent: the knobs left need more than the "
                    f"{self.budget - self._spent} epochs that remain" if self._over_budget
                    else f"no {left} knob of the recipe is left to turn"))
                break
        self._best = best

    def _try_bias(self, knob, best, d):
        cfg, why = best["cfg"], f"avoidable bias {d.avoidable_bias:.1%} > {d.tolerance:.1%}: "
        if knob == "width" and max(cfg.hidden) < MAX_WIDTH:
            new, why = replace(cfg, hidden=tuple(min(MAX_WIDTH, 2 * h) for h in cfg.hidden)), why + "twice as wide"
        elif knob == "depth" and len(cfg.hidden) < MAX_DEPTH:
            new, why = replace(cfg, hidden=(*cfg.hidden, cfg.hidden[-1])), why + "one more hidden layer"
        elif knob == "epochs" and best["stopped"]:
            self._decide(f"train longer: not tried, experiment {best['rec']['id']} stopped on a plateau of J "
                         f"after {best['rec']['trained_epochs']} of {cfg.epochs} epochs")
            return None
        elif knob == "epochs":      # continue the incumbent: the first half is already trained
            return self._run(replace(cfg, epochs=2 * cfg.epochs), knob, why + "train twice as long", warm=best)
        elif knob == "lr" and not _jagged(best["rec"]["history"]["cost"]):
            self._decide(f"a smaller learning rate: not tried, J of experiment {best['rec']['id']} fell smoothly")
            return None
        elif knob == "lr":
            new, why = replace(cfg, lr=cfg.lr / 3), why + "J is jagged: Adam with a third of the learning rate"
        else:
            return None
        return self._run(new, knob, why)

    def _try_variance(self, knob, best, d):
        cfg, why = best["cfg"], f"variance {d.variance:.1%} > {d.tolerance:.1%}: "
        if knob == "l2":
            runs = [self._run(replace(cfg, l2=lam), "l2", why + f"L2 λ = {lam:g} (log grid, picked on dev)")
                    for lam in L2_GRID]
            runs = [r for r in runs if r is not None]
            self.lambda_sweep_ = [{"l2": r["cfg"].l2, "train_error": r["train_error"], "dev_error": r["dev_error"]}
                                  for r in runs]
        elif knob == "dropout":
            runs = [self._run(replace(cfg, keep_prob=p), "dropout", why + f"dropout keep_prob {p:g}")
                    for p in KEEP_PROBS]
        elif knob == "augment" and self._images and not cfg.augment and self.trainer is None:
            runs = [self._run(replace(cfg, augment=True), "augment", why + "augment images (rotate, zoom)")]
        elif knob == "data":
            self._learning_curve(best)
            return best
        else:
            return best
        for r in runs:
            if r is not None and self._better(r, best):
                best = r
        return best

    def _learning_curve(self, best):
        """Dev error on half of train and on all of it: still falling with the last doubling means
        more data would help (one extra run: the verdict needs no more)."""
        shares = (0.5,)
        cfg = replace(best["cfg"], epochs=best["rec"]["trained_epochs"])    # as long as the full-data run
        runs = [self._run(replace(cfg, train_share=f), "data", f"learning curve at {f:.0%} of train") for f in shares]
        if any(r is None for r in runs):
            return
        points = [*runs, best]
        sizes = [round(len(self.split_.train) * f) for f in (*shares, 1.0)]
        dev = [r["dev_error"] for r in points]
        gain = dev[0] - dev[1]             # what the last doubling of the data bought
        verdict = (f"more data would help: doubling train from {sizes[0]} to {sizes[1]} cut dev error by "
                   f"{gain:.1%}" if gain > self._tolerance() / 2 else
                   f"more data is unlikely to help much: doubling train changed dev error by {-gain:+.1%}")
        self.learning_curve_ = {"sizes": sizes, "train_error": [r["train_error"] for r in points],
                                "dev_error": dev, "verdict": verdict}
        self._decide(verdict)

    def _better(self, candidate, best, ties=True):
        """Only dev decides: fewer dev errors; with ties=True (variance knobs) an equal dev error
        with a lower dev cost also wins, so that regularization comes when it costs nothing."""
        fewer = round(candidate["dev_error"] * self._n_dev) < round(best["dev_error"] * self._n_dev)
        same = round(candidate["dev_error"] * self._n_dev) == round(best["dev_error"] * self._n_dev)
        return fewer or (ties and same and candidate["dev_cost"] < best["dev_cost"])

    # ---- one experiment -----------------------------------------------------------------
    def _first_config(self):
        d, m = int(np.prod(self.split_.train._X.shape[1:])), len(self.split_.train)
        width = int(np.clip(2 ** round(math.log2(8 * math.sqrt(d))), 16, 128))
        full = m <= 1000
        return Config(hidden=(width, max(4, width // 2)), epochs=600 if full else 60, batch_size=None if full else 64,
                      lr=0.01 if full else 0.003)

    def _tolerance(self):
        return check_levels(self.baseline_error, self.tolerance)[1]

    def _run(self, cfg, knob, why, warm=None):
        """Train one configuration (from `warm`'s weights when given: only the epochs it lacks)."""
        key = cfg.key()
        if key in self._done and "net" in self._done[key]:
            return self._done[key]
        base = warm["rec"]["trained_epochs"] if warm else 0
        todo = cfg.epochs - base
        if self.budget is not None and self._spent + todo > self.budget:
            self._decide(f"skipped ({why}): {todo} more epochs would pass the budget of {self.budget}")
            self._over_budget = True
            return None
        number = len(self.experiments_) + 1
        s = self.split_
        Xtr, ytr = s.train.X, s.train.y
        if cfg.train_share < 1:
            keep = np.random.default_rng(self.seed).permutation(len(Xtr))[: round(len(Xtr) * cfg.train_share)]
            Xtr, ytr = Xtr[keep], ytr[keep]
        previous = self._done.get(key)
        ext = ".npz" if self.trainer is None else ".pt"
        recorded = previous is not None and self.out is not None and (self.out / previous["model"]).exists()
        if recorded and self.trainer is None:
            net = load(self.out / previous["model"])           # resumed: the run recorded it
            net.classes = net.features = None                   # in memory: indices, as when trained
            hist, epochs = previous["history"], previous["epochs"]
            grads, findings = previous["gradients"], previous["health"]
        else:
            if self.verbose:
                self.log(f"experiment {number}: {why}")
            train = self._train_numpy if self.trainer is None else self._train_torch
            net, hist, epochs, grads, findings = train(cfg, Xtr, ytr, todo, warm)
            for f in findings:
                self._decide(f"gradient health, experiment {number}, epoch {f['epoch']}: {f['message']} → "
                             f"{f['repair']}")
        self._spent += epochs
        train_error = float(net.error(_rows(Xtr), ytr))             # on the rows it trained on
        dev_error = float(net.error(_rows(s.dev.X), s.dev.y))
        diag = diagnose(train_error, dev_error, self.baseline_error, self.tolerance)
        model = f"models/exp{number:02d}{ext}"
        if self._writes:
            self._save_model(net, self.out / model)
        rec = {"id": number, "knob": knob, "why": why, "config": asdict(cfg), "history": hist, "epochs": epochs,
               "trained_epochs": base + epochs,
               "best_epoch": int(np.argmin(hist["dev_error"])) if hist["dev_error"] else None,
               "train_error": train_error, "dev_error": dev_error, "diagnosis": diag.to_dict(),
               "gradient_norms": grads["norms"], "gradient_epochs": grads["epochs"], "health": findings,
               "model": model, "kept": False}
        self.experiments_.append(rec)
        self._decide(f"experiment {number} ({why}): train {train_error:.2%}, dev {dev_error:.2%} → {diag.case}")
        result = {"cfg": cfg, "net": net, "diag": diag, "train_error": train_error, "dev_error": dev_error,
                  "dev_cost": hist["dev_cost"][-1], "stopped": epochs < todo, "rec": rec}
        self._done[key] = result
        self._save()
        return result

    def _train_numpy(self, cfg, Xtr, ytr, todo, warm):
        """(net, history dict, epochs run, gradient norms, findings) of one nnrecipe experiment."""
        s = self.split_
        net = mlp([self.standardizer_.mean_.size, *cfg.hidden, self._n_out], hidden=cfg.activation,
                  output="sigmoid" if self._n_out == 1 else "softmax", l2=cfg.l2, keep_prob=cfg.keep_prob,
                  seed=self.seed)
        net.normalizer = self.standardizer_
        if warm is not None:
            net.set_weights(warm["net"].get_weights())
        plateau = EarlyStopping(monitor="cost", patience=10, min_delta=1e-4, restore_best=False)
        monitor = GradientMonitor(_rows(Xtr), ytr, every=max(1, todo // 30), seed=self.seed)
        h = fit(net, Xtr if cfg.augment else _rows(Xtr), ytr, dev=(_rows(s.dev.X), s.dev.y),
                epochs=todo, batch_size=cfg.batch_size, lr=cfg.lr, optimizer=cfg.optimizer,
                callbacks=[plateau, monitor], seed=self.seed, verbose=self.verbose,
                augment=_images_augmentation() if cfg.augment else None)
        hist = {k: [float(v) for v in getattr(h, k)] for k in ("cost", "penalty", "train_error", "dev_cost", "dev_error")}
        return (net, hist, len(h), {"epochs": monitor.epochs, "norms": monitor.grad_norms},
                [f.to_dict() for f in monitor.findings])

    def _train_torch(self, cfg, Xtr, ytr, todo, warm):
        """The same experiment with a torch model from the trainer's factory (one process or DDP)."""
        s = self.split_
        model, hist = self.trainer.train(asdict(cfg) | {"epochs": todo}, _rows(Xtr), ytr, _rows(s.dev.X), s.dev.y,
                                         self.seed, normalizer=self.standardizer_,
                                         warm=warm["net"] if warm else None)
        watch = self.trainer.monitor_
        return (model, hist, self.trainer.epochs_run_, {"epochs": [], "norms": watch.grad_norms},
                [f.to_dict() for f in watch.findings])

    # ---- the end: test once, record, report -----------------------------------------------
    def _finish(self):
        best = self._best
        best["rec"]["kept"] = True
        self.best_, self.diagnosis_, self.best_dev_error_ = best["net"], best["diag"], best["dev_error"]
        test = self.split_.open_test(reason=f"final evaluation of experiment {best['rec']['id']}")
        self.test_error_ = float(self.best_.error(_rows(test.X), test.y))
        n, wrong = len(test), round(self.test_error_ * len(test))
        low, high = error_interval(wrong, n)
        at, reason = self.split_.test_openings[-1]
        openings = [*self._openings, {"at": at, "reason": reason}]
        # interval: half the width of [low, high], for readers of older records
        self.record_["test"] = {"error": self.test_error_, "n": n, "errors": wrong, "low": low, "high": high,
                                "interval": (high - low) / 2, "method": "wilson",
                                "opened_at": openings[0]["at"], "reason": openings[0]["reason"], "openings": openings}
        self.record_["final"] = {"experiment": best["rec"]["id"], "model": "model.npz" if self.trainer is None
                                 else "model.pt",
                                 "diagnosis": self.diagnosis_.to_dict()}
        times = "once" if len(openings) == 1 else f"{len(openings)} times"
        self._decide(f"chose experiment {best['rec']['id']} (lowest dev error {best['dev_error']:.2%}); test set "
                     f"opened {times}: test error {describe_error(wrong, n)}")
        if len(openings) > 1:
            self._warn(f"the test set of the run in {self.out} has now been opened {len(openings)} times (first "
                       f"at {openings[0]['at']}): a choice made after seeing its error fits the test set, so "
                       "the error is no longer an unbiased estimate", TestSetWarning)
        if self._writes:
            self._save_model(self.best_, self.out / ("model.npz" if self.trainer is None else "model.pt"))
        self._save()

    def _save_model(self, net, path):
        """Write a model; an engine network's file also holds the labels and column names, so that
        nr.load(path).predict gives y's labels (in memory the networks keep predicting indices)."""
        if self.trainer is not None:
            return net.save(path)
        features = self.record_["data"]["features"]
        net.classes, net.features = self.classes_, features if features and len(features) == net.input_dim else None
        try:
            net.save(path)
        finally:
            net.classes = net.features = None

    def _new_record(self, name, features, s, fingerprint):
        return {"format": RUN_FORMAT, "version": 1, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "data": {"name": str(name), "n": len(s.train) + len(s.dev) + len(s.test),
                         "n_features": int(self.standardizer_.mean_.size),
                         "features": None if features is None else [str(f) for f in features],
                         "classes": [c if isinstance(c, (int, float, str)) else str(c)
                                     for c in map(plain, self.classes_)],
                         "kind": "binary" if self._n_out == 1 else "multiclass", "images": bool(self._images),
                         "fingerprint": fingerprint, "duplicates": None},
                "split": {"train": len(s.train), "dev": len(s.dev), "test": len(s.test), "reason": s.sizes.reason,
                          "dev_interval": s.sizes.dev_interval, "test_interval": s.sizes.test_interval},
                "match": self.match_.to_dict(), "baseline_error": float(self.baseline_error),
                "tolerance": self._tolerance(), "budget": self.budget, "seed": self.seed,
                "experiments": self.experiments_, "lambda_sweep": [], "learning_curve": None,
                "decisions": self.decisions_, "warnings": [], "final": None, "test": None}

    def _decide(self, sentence):
        self.decisions_.append(sentence)

    def _warn(self, sentence, category):
        """A finding that qualifies the results: in the decision trail, the record's warnings and a Python
        warning at the user's call."""
        self._decide(f"WARNING, {sentence}")
        self.record_["warnings"].append(sentence)
        _warn_user(sentence, category)

    def _check_duplicates(self, s):
        """Dev and test rows that repeat a training row make their errors optimistic."""
        train = _rows(s.train.X)
        found = {sub.name: int(rows_in(_rows(sub._unlocked_arrays()[0]), train).sum()) for sub in (s.dev, s.test)}
        self.record_["data"]["duplicates"] = found
        if any(found.values()):
            self._warn(f"{found['dev']} dev and {found['test']} test rows duplicate training rows: dev/test errors "
                       "are optimistic; deduplicate the data", LeakageWarning)

    def _save(self):
        self.record_["lambda_sweep"] = getattr(self, "lambda_sweep_", [])
        self.record_["learning_curve"] = getattr(self, "learning_curve_", None)
        self.record_["spent_epochs"] = self._spent
        if self._writes:
            text = json.dumps(self.record_, indent=1, default=_jsonable).encode()
            atomic_write(self.out / "run.json", lambda f: f.write(text))

    # ---- validation and the run folder --------------------------------------------------
    def _validate_options(self):
        check_levels(self.baseline_error, self.tolerance)
        if self.budget is not None:
            positive(self.budget, "budget", integer=True)

    def _inputs(self, X, y, test, classes):
        """(X, y, test) checked before any work, errors naming X, y or test with the user's own rows and
        shapes; the labels become indices into `classes_` (np.unique of y's, or `classes` when y holds
        indices into it, as the CLI gives)."""
        X = _features(X, "X")
        if len(X) < MIN_ROWS:
            raise NNRecipeError(f"the data must have at least {MIN_ROWS} rows to split into train, dev and test "
                                f"and compare dev with test; got {len(X)}")
        y, n = _labels(y, len(X), "y", "X"), len(X)
        if test is not None:
            expect(isinstance(test, (tuple, list)) and len(test) == 2, "test", "a pair (X_test, y_test)",
                   type(test).__name__)
            Xt = _features(test[0], "X_test")
            expect(Xt.shape[1:] == X.shape[1:], "X_test", f"rows of shape {X.shape[1:]} like X", f"shape {Xt.shape}")
            test = (Xt, _labels(test[1], len(Xt), "y_test", "X_test"))
        parts = [y] if test is None else [y, test[1]]
        try:
            labels = np.concatenate(parts)
            if classes is None:
                self.classes_, codes = np.unique(labels, return_inverse=True)
        except TypeError:                               # mixed kinds: numbers and strings, None, …
            kinds = sorted({type(plain(v)).__name__ for p in parts for v in p})
            raise NNRecipeError("y must hold labels of one sortable kind (all numbers or all strings); got "
                                + ", ".join(kinds)) from None
        if classes is not None:
            self.classes_, k = np.asarray(classes), len(classes)
            ok = labels.dtype.kind in "biuf" and labels.min() >= 0 and labels.max() < k
            expect(ok, "y", f"indices 0…{k - 1} into classes (given with {k} labels)",
                   f"values from {plain(labels.min())} to {plain(labels.max())}" if labels.dtype.kind in "biuf"
                   else f"dtype {labels.dtype}")
            codes = labels.astype(np.int64)
        present = np.unique(codes[:n])
        if len(present) < 2:
            raise NNRecipeError(f"y must hold at least 2 classes to train a classifier; got 1 class "
                                f"({plain(self.classes_[present[0]])!r})")
        return X, codes[:n], None if test is None else (test[0], codes[n:])

    def _prepare_out(self):
        if self.out is None:
            return
        self.out = writable_folder(self.out, "out")
        if (self.out / "run.json").exists():
            if self.force:
                for part in ("run.json", "model.npz", "report.html"):
                    (self.out / part).unlink(missing_ok=True)
                for part in ("models", "figures"):
                    shutil.rmtree(self.out / part, ignore_errors=True)
            elif not self.resume:
                raise NNRecipeError(f"--out {self.out} holds another run (run.json); pass --resume to continue it "
                                    "or --force to replace it")
        if self._writes:
            (self.out / "models").mkdir(parents=True, exist_ok=True)

    def _load_previous(self, fingerprint):
        """With resume: the experiments a run in `out` recorded, by configuration, and its test openings;
        refused when that run was made from other data."""
        if self.out is None or not self.resume or not (self.out / "run.json").exists():
            return
        try:
            previous = json.loads((self.out / "run.json").read_text())
        except (OSError, ValueError) as exc:
            raise NNRecipeError(f"--resume: {self.out / 'run.json'} is not readable ({exc})") from None
        if previous.get("format") != RUN_FORMAT or previous.get("seed") != self.seed:
            raise NNRecipeError(f"--resume: {self.out} holds a run with another format or seed; use --force")
        recorded = (previous.get("data") or {}).get("fingerprint")
        if recorded is None:
            raise NNRecipeError(f"--resume: {self.out / 'run.json'} records no fingerprint of its data (an older "
                                f"nnrecipe wrote it), so it cannot be matched to this data; {NEW_OUT}")
        if recorded != fingerprint:
            raise NNRecipeError(f"--resume: --out {self.out} holds a run made from other data "
                                f"({'; '.join(_differences(recorded, fingerprint))}); {NEW_OUT}")
        test = previous.get("test") or {}
        self._openings = test.get("openings") or ([{"at": test["opened_at"], "reason": test.get("reason")}]
                                                  if test.get("opened_at") else [])
        for rec in previous.get("experiments", []):
            cfg = Config(**{**rec["config"], "hidden": tuple(rec["config"]["hidden"])})
            self._done[cfg.key()] = {"model": rec["model"], "history": rec["history"], "epochs": rec["epochs"],
                                     "gradients": {"epochs": rec.get("gradient_epochs", []),
                                                   "norms": rec.get("gradient_norms", {})},
                                     "health": rec.get("health", [])}


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
