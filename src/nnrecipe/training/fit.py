"""The training loop: full batch or shuffled minibatches, an optimizer, callbacks, resume."""

import math
import time
import warnings

import numpy as np

from .._checks import check_seed, positive, shown, writable_path
from ..engine import optim
from ..engine.layers import Dropout
from ..engine.serialize import read_archive, write_archive
from ..errors import DivergenceWarning, NNRecipeError
from .callbacks import BLOWUP_FACTOR, BLOWUP_MARGIN, Checkpoint, Progress, cost_ceiling, diverged
from .history import History

CHECKPOINT_FORMAT = "nnrecipe-checkpoint"
DIVERGED = ("training stopped: the cost became {value} at epoch {epoch}{why}; {restored} were restored. "
            "Try a lower learning rate (a tenth of it, then smaller), He initialization for ReLU layers "
            "(Xavier for tanh/sigmoid), or normalized inputs.")


class Run:
    """What callbacks see of a fit in progress: `net`, `history`, `optimizer`, `epoch` (the
    0-based epoch just finished), `epochs` (the total), `has_dev`, `resumed` (True when fit
    goes on from a checkpoint: callbacks then keep the state it restored); set `stop_training`
    to stop.
    """

    def __init__(self, net, optimizer, epochs, has_dev, history, resumed=False):
        self.net, self.optimizer, self.epochs, self.has_dev = net, optimizer, epochs, has_dev
        self.history, self.epoch, self.stop_training, self.resumed = history, -1, False, resumed
        self._checkpoint_paths = []

    def checkpoint(self, path):
        """Write a resumable checkpoint to path once every callback has seen this epoch."""
        self._checkpoint_paths.append(path)


class _Guard:
    """The divergence rule at work in fit: it keeps the weights with the lowest training cost so far and,
    when an epoch's cost is non-finite or above cost_ceiling(J₀), puts them back.

    J₀ (`start`) is the cost of the starting weights on the first batch (the whole set in full batch):
    a reference taken before any step, so that a blow-up inside the first epoch is caught too. An
    epoch's cost measures the weights it started from (exactly so in full batch, where it is J of
    those weights; with minibatches it is the mean over batches that start from them), so the weights
    kept are those at the start of the epoch with the lowest cost.
    """

    def __init__(self, theta):
        self.start, self.best, self.best_epoch = None, math.inf, None
        self.theta, self._began = theta.copy(), theta.copy()

    def begin(self, theta, batch_cost):
        """Note the weights an epoch starts from; batch_cost is J of the first batch (the first is J₀)."""
        self._began[...] = theta
        if self.start is None:
            self.start = float(batch_cost)

    def check(self, cost, epoch):
        """True (and nothing kept) when `cost`, epoch's J, breaks the rule; else keep its starting weights
        if it is the lowest cost so far."""
        if diverged(cost, self.start):
            return True
        if cost < self.best:
            self.best, self.best_epoch = cost, epoch
            self.theta, self._began = self._began, self.theta          # swap buffers: no copy
        return False

    def restore(self, theta, value, epoch):
        """Put the kept weights back into theta; the stop reason, in words."""
        if self.best_epoch is None:                     # the first epoch diverged
            theta[...] = self._began
            restored = "the weights training started from"
        else:
            theta[...] = self.theta
            restored = (f"the weights training started from (J = {self.best:.4g})" if self.best_epoch == 0 else
                        f"the weights with the lowest cost (J = {self.best:.4g}, after epoch {self.best_epoch - 1})")
        why = ""
        if not isinstance(value, str) and math.isfinite(value):
            why = (f", far above its starting value J₀ = {self.start:.4g} (the rule: stop when J > "
                   f"max({BLOWUP_FACTOR:g}·J₀, J₀ + {BLOWUP_MARGIN:g}) = {cost_ceiling(self.start):.4g})")
            value = f"{value:.4g}"
        return DIVERGED.format(value=value, epoch=epoch, why=why, restored=restored)

    def state(self):
        """(arrays, JSON-able meta) for a checkpoint, so that a resumed fit keeps J₀ and the best weights."""
        meta = {"start": self.start, "best": self.best if self.best_epoch is not None else None,
                "best_epoch": self.best_epoch}
        return {"guard.theta": self.theta}, meta

    def load(self, arrays, meta):
        """What state() saved (meta None: a checkpoint older than the rule, which then starts afresh)."""
        if meta is None:
            return
        number = (lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
        ok = (isinstance(meta, dict) and number(meta.get("start")) and number(meta.get("best"))
              and (meta.get("best_epoch") is None or type(meta.get("best_epoch")) is int))
        if not ok:
            raise NNRecipeError(f"resume must name a checkpoint written by nnrecipe.Checkpoint; its divergence "
                                f"guard is malformed: {str(meta)[:200]}")
        self.start, self.best_epoch = meta["start"], meta["best_epoch"]
        self.best = math.inf if meta["best"] is None else float(meta["best"])
        if "guard.theta" in arrays and arrays["guard.theta"].shape == self.theta.shape:
            self.theta[...] = arrays["guard.theta"]


def _batches(m, batch_size, rng):
    """Index arrays of one epoch: one full batch, or a shuffle cut into batches (last kept)."""
    if batch_size is None or batch_size >= m:
        return [None]
    order = rng.permutation(m)
    return [order[i:i + batch_size] for i in range(0, m, batch_size)]


def _rows(X):
    """Images (n, H, W[, C]) as rows (n, H·W·C); 2-D X unchanged."""
    return X.reshape(len(X), -1) if X.ndim > 2 else X


def _is_callback(obj):
    return not isinstance(obj, type) and all(callable(getattr(obj, hook, None)) for hook in ("on_train_begin", "on_epoch_end", "on_train_end"))


def _callback_list(callbacks):
    """callbacks as a new list; one callback alone (Keras-style) is a list of one; None is none."""
    if callbacks is None:
        return []
    if _is_callback(callbacks):
        return [callbacks]
    expected = ("a list of callbacks (objects with on_train_begin, on_epoch_end and on_train_end, "
                "such as nr.EarlyStopping())")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise NNRecipeError(f"callbacks must be {expected}; got {type(callbacks).__name__}") from None
    bad = next((i for i, cb in enumerate(callbacks) if not _is_callback(cb)), None)
    if bad is not None:
        raise NNRecipeError(f"callbacks must be {expected}; got {shown(callbacks[bad])} at position {bad}")
    return callbacks


def _saved(callbacks):
    return [cb for cb in callbacks if not isinstance(cb, Progress)]


def _dropout_rngs(net):
    return [layer.rng for layer in net.layers if isinstance(layer, Dropout)]


def _save_checkpoint(path, run, rng, callbacks, aug_rng, guard):
    guard_arrays, guard_meta = guard.state()
    arrays = {"theta": run.net.theta} | guard_arrays
    opt_state = run.optimizer.state_dict() if hasattr(run.optimizer, "state_dict") else {"t": 0, "slots": {}}
    for name, arrays_of_slot in opt_state["slots"].items():
        arrays.update({f"opt.{name}.{i}": a for i, a in enumerate(arrays_of_slot)})
    cb_meta = []
    for i, cb in enumerate(callbacks):
        state = cb.state_dict() if hasattr(cb, "state_dict") else None
        if state is not None:
            arrays.update({f"cb.{i}.{k}": v for k, v in state.items() if isinstance(v, np.ndarray)})
            state = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
        cb_meta.append(state)
    meta = {"format": CHECKPOINT_FORMAT, "version": 1, "epoch": run.epoch + 1, "network": run.net.config(),
            "optimizer": {"type": type(run.optimizer).__name__, "t": opt_state["t"],
                          "slots": {k: len(v) for k, v in opt_state["slots"].items()}},
            "history": run.history.state(), "shuffle_rng": rng.bit_generator.state,
            "augment_rng": aug_rng.bit_generator.state,
            "dropout_rngs": [g.bit_generator.state if g is not None else None for g in _dropout_rngs(run.net)],
            "callbacks": cb_meta, "guard": guard_meta}
    write_archive(path, arrays, meta)


def _restore_checkpoint(path, net, optimizer, rng, callbacks, aug_rng, guard):
    """Load a checkpoint into net, optimizer, rng and callbacks; return (history, next epoch)."""
    arrays, meta = read_archive(path, "resume")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise NNRecipeError(f"resume must name a checkpoint written by nnrecipe.Checkpoint; {path} is "
                            f"{meta.get('format')!r}")
    theta = arrays.get("theta")
    if theta is None or theta.shape != net.theta.shape or meta.get("network", {}).get("layers") != net.config()["layers"]:
        raise NNRecipeError(f"resume: the checkpoint {path} was written for another network architecture")
    if meta["optimizer"]["type"] != type(optimizer).__name__ or len(meta["callbacks"]) != len(callbacks):
        raise NNRecipeError("resume: give fit the same optimizer and callbacks as the run that wrote "
                            f"{path} ({meta['optimizer']['type']}, {len(meta['callbacks'])} callbacks)")
    net.theta[...] = theta
    if hasattr(optimizer, "load_state_dict"):
        slots = {name: [arrays[f"opt.{name}.{i}"] for i in range(n)] for name, n in meta["optimizer"]["slots"].items()}
        optimizer.load_state_dict({"t": meta["optimizer"]["t"], "slots": slots})
    rng.bit_generator.state = meta["shuffle_rng"]
    if "augment_rng" in meta:
        aug_rng.bit_generator.state = meta["augment_rng"]
    for g, state in zip(_dropout_rngs(net), meta["dropout_rngs"]):
        if g is not None and state is not None:
            g.bit_generator.state = state
    for i, (cb, state) in enumerate(zip(callbacks, meta["callbacks"])):
        if state is not None:
            prefix = f"cb.{i}."
            cb.load_state_dict(state | {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
    guard.load(arrays, meta.get("guard"))
    return History.from_state(meta["history"]), int(meta["epoch"])


def fit(net, X, y, dev=None, epochs=100, batch_size=None, optimizer="adam", lr=None, callbacks=(),
        seed=0, verbose=1, resume=None, augment=None):
    """Train `net` on (X, y) from its current weights; returns a History.

    X : (n_samples, n_features); y : (n_samples,) labels or values (see Network).
    dev : optional (X_dev, y_dev), evaluated after every epoch.
    batch_size : None for full-batch, else minibatches of a fresh shuffle every epoch.
    optimizer : "gd", "momentum", "adam" or an object with step(params, grads); lr its rate.
        A name makes a fresh optimizer for this call: calling fit twice trains twice as long,
        but the second call starts with no momentum or Adam moments. An optimizer object
        (nr.Adam(...)) keeps its state between calls, so passing the same one again goes on
        where it stopped; it only fits the network it trained (another size is refused).
    callbacks : a list of callbacks (nr.EarlyStopping, nr.Checkpoint, ...) or a single one.
    seed : the shuffling stream, an int ≥ 0 (the network's own seed drives init and dropout).
        Each call starts the stream afresh: a second call with the same seed repeats the
        first call's shuffles.
    verbose : 1 shows a progress bar on a terminal, 0 is silent.
    resume : a path written by Checkpoint: continue that run where it stopped.
    augment : a callable (X_batch, rng) -> X_batch applied afresh to every training batch (never to
        dev), e.g. nr.augment.Compose([...]). With it X may be images (n, H, W[, C]); the network sees
        each image flattened to a row, so predict takes X.reshape(len(X), -1).
    """
    if augment is not None and not callable(augment):
        raise NNRecipeError(f"augment must be a callable (X_batch, rng) -> X_batch; got {type(augment).__name__}")
    images = np.asarray(X) if augment is not None else None
    Xp = net.prepare_X(X if images is None else _rows(images))
    yp = net.prepare_y(y, len(Xp))
    if dev is not None:
        if not (isinstance(dev, (tuple, list)) and len(dev) == 2):
            raise NNRecipeError(f"dev must be a pair (X_dev, y_dev); got {type(dev).__name__}")
        Xd = net.prepare_X(dev[0] if images is None else _rows(np.asarray(dev[0])))
        dev = (Xd, net.prepare_y(dev[1], len(Xd)))
    positive(epochs, "epochs", integer=True)
    if batch_size is not None:
        positive(batch_size, "batch_size", integer=True)
    if verbose not in (0, 1, 2, True, False):
        raise NNRecipeError(f"verbose must be 0 or 1; got {shown(verbose)}")
    opt = optim.make(optimizer, lr)
    callbacks = _callback_list(callbacks)
    for cb in callbacks:
        if isinstance(cb, Checkpoint):
            writable_path(cb.path, "Checkpoint path")         # now, not after the first epoch
    seed = check_seed(seed)
    if verbose and not any(isinstance(cb, Progress) for cb in callbacks):
        callbacks.append(Progress())
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    aug_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])   # its own stream

    history, start, guard = History(), 0, _Guard(net.theta)
    if resume is not None:
        history, start = _restore_checkpoint(resume, net, opt, rng, _saved(callbacks), aug_rng, guard)
    if isinstance(opt, optim.Optimizer):
        opt.check([net.theta])
    history.dropout = any(isinstance(layer, Dropout) and layer.keep_prob < 1 for layer in net.layers)
    run = Run(net, opt, epochs, dev is not None, history, resumed=resume is not None)
    run.epoch = start - 1
    for cb in callbacks:
        cb.on_train_begin(run)

    m, params, grads = len(Xp), [net.theta], [net.grad_theta]
    try:
        for epoch in range(start, epochs):
            began = time.perf_counter()
            loss_sum = error_sum = penalty_sum = 0.0
            finite = True
            for b, idx in enumerate(_batches(m, batch_size, rng)):
                Xb, yb = (Xp, yp) if idx is None else (Xp[idx], yp[idx])
                if images is not None:
                    Xb = net.prepare_X(_rows(augment(images if idx is None else images[idx], aug_rng)))
                loss, errors, penalty = net.step(Xb, yb, m)
                if b == 0:
                    guard.begin(net.theta, loss / len(Xb) + penalty)
                if not (math.isfinite(loss) and math.isfinite(penalty)):
                    finite = False
                    break
                opt.step(params, grads)
                loss_sum, error_sum, penalty_sum = loss_sum + loss, error_sum + errors, penalty_sum + penalty * len(Xb)
            cost = (loss_sum + penalty_sum) / m if finite else math.nan
            if not np.isfinite(net.theta).all():
                cost = math.nan
            if guard.check(cost, epoch):
                value = loss + penalty if not finite else (cost if math.isfinite(cost) else "non-finite in the weights")
                history.stop_reason = guard.restore(net.theta, value, epoch)
                warnings.warn(history.stop_reason, DivergenceWarning, stacklevel=2)
                break
            logs = {"cost": cost, "penalty": penalty_sum / m, "train_error": error_sum / m}
            if dev is not None:
                z = net.logits(dev[0])
                logs["dev_cost"] = net.loss.loss_and_grad(z, dev[1])[0] / len(z)
                logs["dev_error"] = net.loss.errors(z, dev[1]) / len(z)
            logs["time"] = time.perf_counter() - began
            history.append(logs)
            run.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_end(run, logs)
            for path in run._checkpoint_paths:
                _save_checkpoint(path, run, rng, _saved(callbacks), aug_rng, guard)
            run._checkpoint_paths.clear()
            if run.stop_training:
                break
    except BaseException:                   # Ctrl-C, an error: take the progress bar off the terminal
        for cb in callbacks:
            if isinstance(cb, Progress):
                cb.abort()
        raise
    for cb in callbacks:
        cb.on_train_end(run)
    return history
