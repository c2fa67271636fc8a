"""Callbacks: one small protocol, called by fit with a `Run` (net, history, epoch, ...).

    on_train_begin(run)       before the first epoch (of this call or of a resumed run)
    on_epoch_end(run, logs)   logs: this epoch's cost, penalty, train_error[, dev_cost, dev_error], time
    on_train_end(run)         after the last epoch, however training ended

Stop training by setting `run.stop_training = True`. A callback with state that must survive
a resume gives `state_dict()` (JSON-able values and ndarrays) and `load_state_dict(state)`.

The patience rule (improve by more than min_delta within `patience` epochs) is written once, in
`Patience`; EarlyStopping here, nnrecipe.torch's EarlyStopping and the torch trainer's plateau stop
use it. `plateau_stop()` is the recipe's plateau of the training cost J (PLATEAU_PATIENCE epochs
without a gain of PLATEAU_MIN_DELTA), a stop that never looks at dev. The divergence rule is written
once too, in `diverged()` (with `cost_ceiling()`): nr.fit and the torch trainer stop on it.

One callback object may serve several fit calls (a list built once for a hyperparameter loop,
or fit called twice to train longer), as in Keras: a callback with per-run state resets it in
on_train_begin unless `run.resumed` is True. `run.resumed` is True only for
`fit(..., resume=path)`; fit then calls load_state_dict (with the state the checkpoint saved)
before on_train_begin, so that on_train_begin sees the restored state and must keep it.
"""

import math
import numbers
import sys
import time

from ..errors import NNRecipeError, expect

PLATEAU_PATIENCE, PLATEAU_MIN_DELTA = 10, 1e-4      # the recipe's plateau of J: no gain of 1e-4 in 10 epochs
BLOWUP_FACTOR, BLOWUP_MARGIN = 10.0, 1.0             # the divergence rule: J > max(10·J₀, J₀ + 1)


def cost_ceiling(start):
    """The highest training cost J that is not a divergence: max(BLOWUP_FACTOR·J₀, J₀ + BLOWUP_MARGIN),
    J₀ = `start`, the cost of the weights training started from.

    Why these two terms. J ≥ 0 and healthy training lowers it; a rate far too high multiplies it by 10⁴
    or more within an epoch or two (GD or Adam at lr 1e6 on football: 0.5 → 4·10¹³). Measured on healthy
    runs (the five bundled datasets and a standardized regression; GD, momentum and Adam at lr 1e-3 to
    0.1; λ 0 to 10; keep_prob 1 and 0.8; full batch and batches of 64): J never rose above 1.22·J₀ after
    the start. Ten times J₀ lies far between the two. The factor alone fails when J₀ is small: a warm
    start (fit called again on trained weights, J₀ = 0.01, a fresh optimizer) bumps J by up to 0.09 at
    lr 0.01, which is 10·J₀. So J may always rise by BLOWUP_MARGIN = 1 too: one unit of the loss is about
    the cost of a useless model (ln 2 = 0.69 for two classes, ln k for k; 0.5 for the mean of a
    standardized regression target under ½·squared error), a rise no sound step makes. (Adam at lr 0.1
    restarted on trained weights can throw J up by 1 to 3 before it recovers: that is stopped, and the
    advice, a lower rate, fits.) An L2 term is part of J and of J₀: a large λ only raises J₀ and the
    ceiling with it, while exploding weights raise the term too.
    """
    return max(BLOWUP_FACTOR * start, start + BLOWUP_MARGIN)


def diverged(cost, start):
    """The divergence rule: True when the training cost `cost` is NaN, infinite or above
    cost_ceiling(start) (`start`: the cost training started from; None or non-finite: only a non-finite
    cost counts)."""
    if not math.isfinite(cost):
        return True
    return start is not None and math.isfinite(start) and cost > cost_ceiling(start)


class Patience:
    """The patience rule: a value improves when it beats the best so far by more than `min_delta`
    (is lower, mode "min": a loss, an error; is higher, mode "max": an accuracy). `wait` counts the
    updates since the last improvement; the rule is `exhausted` once wait ≥ patience. A NaN never
    improves.

        rule = Patience(patience=10, min_delta=1e-4)
        for epoch in range(epochs):
            ...; rule.update(cost, epoch)
            if rule.exhausted: break

    Attributes: best (±inf before a first improvement), best_epoch (the `epoch` given with the best
    value; by default the 0-based count of updates; None before), wait, updates (how many values).
    """

    def __init__(self, patience=10, min_delta=0.0, mode="min"):
        ok = isinstance(patience, numbers.Integral) and not isinstance(patience, bool) and patience >= 0
        expect(ok, "patience", "an integer ≥ 0", repr(patience))
        ok = isinstance(min_delta, numbers.Real) and not isinstance(min_delta, bool) and min_delta >= 0
        expect(ok, "min_delta", "a number ≥ 0", repr(min_delta))
        expect(mode in ("min", "max"), "mode", "'min' or 'max'", repr(mode))
        self.patience, self.min_delta, self.mode = int(patience), float(min_delta), mode
        self.reset()

    def reset(self):
        """Forget every value seen."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.updates = None, 0, 0

    def update(self, value, epoch=None):
        """Record one value; True when it improved on the best by more than min_delta (it is then
        the best, and wait is 0), else False (wait grows by one)."""
        epoch = self.updates if epoch is None else epoch
        self.updates += 1
        if self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        return improved

    @property
    def exhausted(self):
        """True once `patience` updates in a row brought no improvement."""
        return self.wait >= self.patience

    def __repr__(self):
        return (f"{type(self).__name__}(patience={self.patience}, min_delta={self.min_delta:g}, mode={self.mode!r}; "
                f"best={self.best:.6g}, wait={self.wait})")


class Callback:
    def on_train_begin(self, run):
        pass

    def on_epoch_end(self, run, logs):
        pass

    def on_train_end(self, run):
        pass


class EarlyStopping(Callback, Patience):
    """Stop when `monitor` ("dev_error", "dev_cost", or "cost", the training J) has not improved
    by more than min_delta for `patience` epochs (epochs before start_from_epoch are not
    counted), and restore the best weights at the end, whether or not training stopped early.
    monitor="cost" with restore_best=False is a plateau stop that never looks at dev.

    After training: best (value), best_epoch (0-based), stopped_epoch (None if it ran out).
    Each fit call starts afresh (a resumed run goes on with the state its checkpoint saved).
    The rule is a `Patience` (EarlyStopping is one, fed the monitored value each epoch).
    """

    def __init__(self, monitor="dev_error", patience=10, min_delta=0.0, start_from_epoch=0, restore_best=True):
        if monitor not in ("dev_error", "dev_cost", "cost"):
            raise NNRecipeError(f"monitor must be 'dev_error', 'dev_cost' or 'cost'; got {monitor!r}")
        self.monitor, self.start_from_epoch, self.restore_best = monitor, int(start_from_epoch), bool(restore_best)
        Patience.__init__(self, patience, min_delta)

    def reset(self):
        """Forget the last run: the rule's values, the best weights and the stopped epoch."""
        Patience.reset(self)
        self.stopped_epoch, self.best_theta = None, None

    def on_train_begin(self, run):
        if not run.has_dev and self.monitor != "cost":
            raise NNRecipeError(f"EarlyStopping monitors {self.monitor!r}, so fit needs dev=(X_dev, y_dev)")
        if not run.resumed:            # a new run: forget the last one (its best weights above all)
            self.reset()

    def on_epoch_end(self, run, logs):
        if run.epoch < self.start_from_epoch:
            return
        if self.update(logs[self.monitor], run.epoch):
            if self.restore_best:
                self.best_theta = run.net.theta.copy()
        elif self.exhausted:
            self.stopped_epoch = run.epoch
            run.stop_training = True
            kind = "stopped on a plateau" if self.monitor == "cost" else "early stopping"
            run.history.stop_reason = (f"{kind}: {self.monitor} did not improve for {self.patience} epochs "
                                       f"(best {self.best:.6g} at epoch {self.best_epoch})")

    def on_train_end(self, run):
        if self.restore_best and self.best_theta is not None:
            run.net.theta[...] = self.best_theta

    def state_dict(self):
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "stopped_epoch": self.stopped_epoch}
        return state | ({"best_theta": self.best_theta} if self.best_theta is not None else {})

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], int(state["wait"])
        self.stopped_epoch, self.best_theta = state["stopped_epoch"], state.get("best_theta")


def plateau_stop():
    """The recipe's plateau stop: EarlyStopping on the training cost J, PLATEAU_PATIENCE epochs
    without a gain of more than PLATEAU_MIN_DELTA, keeping the last weights (it never looks at dev,
    so it is no early stopping in the notes' sense: dev stays free for the comparisons)."""
    return EarlyStopping(monitor="cost", patience=PLATEAU_PATIENCE, min_delta=PLATEAU_MIN_DELTA, restore_best=False)


class Checkpoint(Callback):
    """Every `every` epochs, atomically write what `fit(..., resume=path)` needs to go on."""

    def __init__(self, path, every=1):
        if not isinstance(every, int) or every < 1:
            raise NNRecipeError(f"every must be an integer ≥ 1; got {every!r}")
        self.path, self.every = path, every

    def on_epoch_end(self, run, logs):
        if (run.epoch + 1) % self.every == 0:
            run.checkpoint(self.path)


class Progress(Callback):
    """A progress bar with the cost and dev error of the latest epoch.

    It draws on stderr, and only when stderr is a terminal (stdout stays the program's, as with
    tqdm); or on `console`, a rich Console, when that is a terminal. The figures shown are refreshed
    at most every `refresh_seconds`, and at the end always those of the last epoch. A run that stops
    before its epoch limit (a plateau, early stopping, a divergence) ends with a full bar over the
    epochs it ran and a line with its last figures, how many epochs of the limit ran, and why it
    stopped (History.stop_reason).
    """

    def __init__(self, refresh_seconds=0.1, console=None):
        self.refresh_seconds, self.console = refresh_seconds, console
        self._bar = None

    def on_train_begin(self, run):
        console = self.console
        if console is None:
            if not sys.stderr.isatty():
                return
            from rich.console import Console
            console = Console(stderr=True)          # as tqdm: stdout stays the program's
        elif not console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar
        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), transient=False, console=console)
        self._console = console
        self._task = self._bar.add_task("training", total=run.epochs, completed=run.epoch + 1)
        self._bar.start()
        self._last = 0.0

    def on_epoch_end(self, run, logs):
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._last < self.refresh_seconds and run.epoch + 1 < run.epochs:
            return
        self._last = now
        self._bar.update(self._task, completed=run.epoch + 1, description=_figures(logs["cost"], logs.get("dev_error")))

    def on_train_end(self, run):
        if self._bar is None:
            return
        h, done = run.history, run.epoch + 1
        text = _figures(h.cost[-1], h.dev_error[-1] if h.dev_error else None) if len(h) else "training"
        stopped = done < run.epochs
        self._bar.update(self._task, completed=done, total=done if stopped else run.epochs, description=text)
        self._bar.stop()
        self._bar = None
        if stopped:
            reason = h.stop_reason or "stopped by a callback"
            self._console.print(f"{text} · {done} of {run.epochs} epochs · {reason}", soft_wrap=True,
                                markup=False, highlight=False)

    def abort(self):
        """Stop drawing at once (fit was interrupted): the terminal gets its cursor back, no summary line."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _figures(cost, dev_error=None):
    """The bar's text: "cost 0.1234 · dev error 5.00%" (without dev data: the cost alone)."""
    return f"cost {cost:.4f}" + ("" if dev_error is None else f" · dev error {dev_error:.2%}")
