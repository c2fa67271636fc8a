"""Where the recipe's trainings run: in this process, on a local process pool, or on any
`concurrent.futures.Executor` (a Dask cluster's `client.get_executor()`, or the Client itself).

The recipe submits the trainings that do not depend on each other at once (the candidates a knob
proposes, and the k folds of each) and reads their results in the order it submitted them. Every task
carries its seed (the run's seed; a fold is named by its index), never one drawn from the order of
completion, so the decisions, the chosen experiment and the weights are the same wherever they ran.

Workers keep BLAS to one thread (threadpoolctl), so that two workers do not fight over the cores. The
run's data travels once to a Dask cluster (`Client.scatter`) and with each task to a local pool
(pickled: small beside the training it feeds).
"""

import os
import signal
import threading
from concurrent.futures import Executor
from dataclasses import dataclass

from ..errors import NNRecipeError, expect
from .folds import fold_data, subsample
from .trainers import TrainData


@dataclass(frozen=True)
class Shared:
    """What every training of a run reads: the run's TrainData (train rows, dev rows, the normalizer, the
    outputs), and when cross-validating train+dev as (X, y) and the folds' validation rows."""
    data: TrainData
    pool: tuple | None = None
    folds: tuple | None = None


def train(trainer, config, shared, part, epochs, seed, warm=None, verbose=0, one_thread=True):
    """One training, where it runs: `config` on the run's training rows (part None; the configuration's
    share of them) or on fold `part` of train+dev; the trainer's Result. one_thread: BLAS (and OpenMP)
    get one thread, as in every pool worker, so that the workers do not fight over the cores; in this
    process too for a trainer that asks for it (NumpyTrainer.one_thread: the recipe's networks are
    small, and a second BLAS thread only fights other load for a core — benchmarks/parallel.py
    measured digits at 80 s with two threads against 14 s with one on a loaded 2-core machine)."""
    from threadpoolctl import threadpool_limits

    if part is None:
        data = subsample(shared.data, config.train_share, seed)
    else:
        X, y = shared.pool
        data = fold_data(shared.data, X, y, shared.folds[part], config.train_share, seed)
    if not one_thread:
        return trainer.run(config, data, epochs, seed, warm=warm, verbose=verbose)
    with threadpool_limits(limits=1):
        return trainer.run(config, data, epochs, seed, warm=warm, verbose=verbose)


class _Later:
    """A future of the serial path: the training runs when its result is first asked for, in this process
    (so a candidate that the budget skips is never trained, and the progress bars show)."""

    def __init__(self, call):
        self._call, self._done = call, None

    def result(self):
        if self._call is not None:
            self._done, self._call = self._call(), None
        return self._done


class Runner:
    """Submits trainings; `workers` and `executor` as Recipe's.

    submit(..., alone=False) -> a future (result()). A training submitted alone (nothing else to run
    beside it) runs in this process, as on the serial path, with its progress bar: a pool would only
    add its start-up. The local pool (loky's reusable executor: it stays up for the next run of this
    process) starts at the first parallel submission; a dask Client gets the data once, scattered.
    parallel: False on the serial path (workers=1, no executor).
    """

    def __init__(self, shared, workers=1, executor=None):
        self.shared, self.workers, self.executor, self._remote = shared, workers, executor, None
        if hasattr(executor, "scatter") and hasattr(executor, "get_executor"):     # a dask Client
            self._remote = executor.scatter(shared, broadcast=True)
            self.executor = executor.get_executor(pure=False)

    @property
    def parallel(self):
        return self.executor is not None or self.workers > 1

    def submit(self, trainer, config, part, epochs, seed, warm=None, verbose=0, alone=False):
        if alone or not self.parallel:
            one = getattr(trainer, "one_thread", False)
            return _Later(lambda: train(trainer, config, self.shared, part, epochs, seed, warm, verbose, one))
        shared = self.shared if self._remote is None else self._remote
        if self.executor is not None:
            return self.executor.submit(train, trainer, config, shared, part, epochs, seed, warm)
        from joblib.externals.loky import get_reusable_executor

        # Ctrl-C is the main process's to handle (one line, a resumable folder), not k workers' tracebacks.
        # The workers are started while SIGINT is ignored here (an ignored signal stays ignored across fork
        # and exec, so they ignore it while they import; the initializer keeps it so) and blocked (so that a
        # Ctrl-C meanwhile waits, and is delivered here once the handler is back: blocked signals are never
        # dropped as ignored).
        main = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
        if main:
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.executor = get_reusable_executor(max_workers=self.workers, initializer=signal.signal,
                                                  initargs=(signal.SIGINT, signal.SIG_IGN))
            return self.executor.submit(train, trainer, config, shared, part, epochs, seed, warm)
        finally:
            if main:
                signal.signal(signal.SIGINT, handler)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def cores():
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:             # not on Linux
        return os.cpu_count() or 1


def check_executor(workers, executor):
    """(workers, executor) checked: workers None (the cores), or a whole number ≥ 1 (1: serial);
    executor None, or a concurrent.futures.Executor, or a dask Client; not both."""
    if executor is not None:
        expect(workers is None, "workers", "None when an executor is given (the executor decides)", repr(workers))
        ok = isinstance(executor, Executor) or callable(getattr(executor, "submit", None))
        expect(ok, "executor", "a concurrent.futures.Executor (e.g. dask's client.get_executor()) or a dask Client",
               type(executor).__name__)
        return None, executor
    if workers is None:
        return cores(), None
    ok = isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1
    expect(ok, "workers", "a whole number ≥ 1 (1: one experiment at a time, in this process)", repr(workers))
    return workers, None


def connect(address, timeout=5):
    """A dask Client connected to the scheduler at `address` (tcp://host:8786), or NNRecipeError within
    `timeout` seconds: the dask extra missing (how to install it), or nothing listening there."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise NNRecipeError("--dask needs the dask extra: pip install 'nnrecipe[dask]'") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise NNRecipeError(f"--dask must be the address of a running Dask scheduler; nothing answered at "
                            f"{address!r} within {timeout} s ({type(exc).__name__})") from None
