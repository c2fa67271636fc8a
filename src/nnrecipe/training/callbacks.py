"""Callbacks: one small protocol, called by fit with a `Run` (net, history, epoch, ...).

    on_train_begin(run)       before the first epoch (of this call or of a resumed run)
    on_epoch_end(run, logs)   logs: this epoch's cost, penalty, train_error[, dev_cost, dev_error], time
    on_train_end(run)         after the last epoch, however training ended

Stop training by setting `run.stop_training = True`. A callback with state that must survive
a resume gives `state_dict()` (JSON-able values and ndarrays) and `load_state_dict(state)`.

One callback object may serve several fit calls (a list built once for a hyperparameter loop,
or fit called twice to train longer), as in Keras: a callback with per-run state resets it in
on_train_begin unless `run.resumed` is True. `run.resumed` is True only for
`fit(..., resume=path)`; fit then calls load_state_dict (with the state the checkpoint saved)
before on_train_begin, so that on_train_begin sees the restored state and must keep it.
"""

import math
import sys
import time

from ..errors import NNRecipeError


class Callback:
    def on_train_begin(self, run):
        pass

    def on_epoch_end(self, run, logs):
        pass

    def on_train_end(self, run):
        pass


class EarlyStopping(Callback):
    """Stop when `monitor` ("dev_error", "dev_cost", or "cost", the training J) has not improved
    by more than min_delta for `patience` epochs (epochs before start_from_epoch are not
    counted), and restore the best weights at the end, whether or not training stopped early.
    monitor="cost" with restore_best=False is a plateau stop that never looks at dev.

    After training: best (value), best_epoch (0-based), stopped_epoch (None if it ran out).
    Each fit call starts afresh (a resumed run goes on with the state its checkpoint saved).
    """

    def __init__(self, monitor="dev_error", patience=10, min_delta=0.0, start_from_epoch=0, restore_best=True):
        if monitor not in ("dev_error", "dev_cost", "cost"):
            raise NNRecipeError(f"monitor must be 'dev_error', 'dev_cost' or 'cost'; got {monitor!r}")
        if not isinstance(patience, int) or patience < 0:
            raise NNRecipeError(f"patience must be an integer ≥ 0; got {patience!r}")
        if not min_delta >= 0:
            raise NNRecipeError(f"min_delta must be ≥ 0; got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.start_from_epoch, self.restore_best = int(start_from_epoch), bool(restore_best)
        self._reset()

    def _reset(self):
        self.best, self.best_epoch, self.wait, self.stopped_epoch, self.best_theta = math.inf, None, 0, None, None

    def on_train_begin(self, run):
        if not run.has_dev and self.monitor != "cost":
            raise NNRecipeError(f"EarlyStopping monitors {self.monitor!r}, so fit needs dev=(X_dev, y_dev)")
        if not run.resumed:            # a new run: forget the last one (its best weights above all)
            self._reset()

    def on_epoch_end(self, run, logs):
        if run.epoch < self.start_from_epoch:
            return
        value = logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, run.epoch, 0
            if self.restore_best:
                self.best_theta = run.net.theta.copy()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = run.epoch
                run.stop_training = True
                run.history.stop_reason = (f"early stopping: {self.monitor} did not improve for "
                                           f"{self.patience} epochs (best {self.best:.6g} at epoch {self.best_epoch})")

    def on_train_end(self, run):
        if self.restore_best and self.best_theta is not None:
            run.net.theta[...] = self.best_theta

    def state_dict(self):
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "stopped_epoch": self.stopped_epoch}
        return state | ({"best_theta": self.best_theta} if self.best_theta is not None else {})

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], int(state["wait"])
        self.stopped_epoch, self.best_theta = state["stopped_epoch"], state.get("best_theta")


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
    """A progress bar (on stderr) with the cost and dev error; silent when stderr is not a terminal."""

    def __init__(self, refresh_seconds=0.1):
        self.refresh_seconds = refresh_seconds
        self._bar = None

    def on_train_begin(self, run):
        if not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar
        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), transient=False, console=Console(stderr=True))   # as tqdm: stdout stays the program's
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
        text = f"cost {logs['cost']:.4f}" + (f" · dev error {logs['dev_error']:.2%}" if "dev_error" in logs else "")
        self._bar.update(self._task, completed=run.epoch + 1, description=text)

    def on_train_end(self, run):
        if self._bar is not None:
            self._bar.update(self._task, completed=run.epoch + 1)
            self._bar.stop()
            self._bar = None
