"""The recipe's trainings in parallel (issue 15): a local loky pool, any Executor, a Dask cluster.

- the same run wherever the trainings ran: a Dask LocalCluster (2 worker processes) through the Client
  (data scattered once) and through client.get_executor() (data with every task), and the local pool
  with workers=2, each against workers=1: identical decisions, chosen experiment and bit-identical
  weights (the refitted best_ and every fold model of every experiment);
- the parallel path really runs elsewhere: the pool's models come back from other processes;
- a worker killed mid-run: a clear error naming the experiment and --resume; --resume finishes the run
  (the recorded experiments reused, the pool working again) with the uninterrupted run's decisions;
- bad input: workers and executor (library), --workers 0, --dask with nothing listening, the dask
  extra missing, --workers with --dask (CLI).
"""

import os
import subprocess
import sys
import time

import cloudpickle
import pytest

import nnrecipe as nr
from nnrecipe.datasets import football_table
from nnrecipe.recipe import executors
from nnrecipe.recipe.folds import K
from nnrecipe.recipe.trainers import NumpyTrainer

# loky (and dask) unpickle the trainers below in fresh interpreters, where tests/ need not be importable
cloudpickle.register_pickle_by_value(sys.modules[__name__])

HOME = os.getpid()          # this test process: a training anywhere else ran in a worker
DOOMED = 0.3                # the λ of the L2 grid whose trainings kill their worker
BUDGET = 4500               # epochs: a cap above football's whole run (9 experiments x 3 folds: 3 573, then the refit)


class Pids(NumpyTrainer):
    """NumpyTrainer that marks each model with the id of the process that trained it."""

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        r = super().run(config, data, epochs, seed, warm=warm, verbose=verbose)
        r.model.pid = os.getpid()
        return r


class DiesInWorker(NumpyTrainer):
    """NumpyTrainer whose trainings of λ = DOOMED kill the worker process they run in (never this one).
    It waits a little first, so that the trainings submitted before it have finished: the error then
    concerns λ = DOOMED's experiment (a dead worker breaks every training still in flight)."""

    def __init__(self, home, delay=1.5):
        super().__init__()
        self.home, self.delay = home, delay

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        if config.l2 == DOOMED and os.getpid() != self.home:
            time.sleep(self.delay)
            os._exit(1)
        return super().run(config, data, epochs, seed, warm=warm, verbose=verbose)


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def football():
    return football_table()


@pytest.fixture(scope="module")
def serial(football):
    """The reference: every training in this process, one after another."""
    return nr.Recipe(verbose=0, workers=1, budget=BUDGET).fit(
            football.X, football.y, test=football.test)


@pytest.fixture(scope="module")
def client():
    """A Dask cluster of 2 worker processes (1 thread each) on this machine, shared by the module."""
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def assert_same_run(r, serial):
    """Identical decisions and choice; bit-identical weights of best_ and of every fold model."""
    assert r.record_["cv"] == serial.record_["cv"]         # football cross-validates: K = 3 folds per experiment
    assert r.decisions_ == serial.decisions_
    assert r.best_experiment_.id == serial.best_experiment_.id
    assert r.record_["final"]["experiment"] == serial.record_["final"]["experiment"]
    assert_same_weights(r.best_, serial.best_)
    assert len(r.experiments_) == len(serial.experiments_) >= 6         # at least the start and the L2 grid
    for a, b in zip(r.experiments_, serial.experiments_):
        assert a.config == b.config
        assert len(a.net.models) == len(b.net.models) == serial.record_["cv"]["folds"]
        for m, n in zip(a.net.models, b.net.models):
            assert_same_weights(m, n)


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and wa[k].shape == wb[k].shape, k
        assert wa[k].tobytes() == wb[k].tobytes(), f"{k} differs"


# ---- the same run wherever it ran -------------------------------------------------------------
def test_dask_client_gives_the_serial_run(football, serial, client):
    from dask.distributed import get_task_stream
    with get_task_stream(client) as stream:
        r = nr.Recipe(verbose=0, budget=BUDGET, executor=client).fit(
            football.X, football.y, test=football.test)
    assert len(stream.data) >= K * 6          # the folds of the start and of the L2 grid, at least, ran there
    assert_same_run(r, serial)


def test_dask_executor_gives_the_serial_run(football, serial, client):
    from dask.distributed import get_task_stream
    with get_task_stream(client) as stream:
        r = nr.Recipe(verbose=0, budget=BUDGET, executor=client.get_executor()).fit(
            football.X, football.y, test=football.test)
    assert len(stream.data) >= K * 6
    assert_same_run(r, serial)


def test_local_pool_gives_the_serial_run_from_other_processes(football, serial):
    r = nr.Recipe(verbose=0, workers=2, budget=BUDGET, trainer=Pids()).fit(
            football.X, football.y, test=football.test)
    assert_same_run(r, serial)
    pids = {m.pid for e in r.experiments_ for m in e.net.models}
    assert HOME not in pids and pids, pids            # every fold trained in a worker, none here


# ---- a worker dies mid-run ----------------------------------------------------------------------
def test_a_dead_worker_names_its_experiment_and_resume_finishes_the_run(football, serial, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(nr.NNRecipeError) as info:
        nr.Recipe(verbose=0, workers=2, budget=BUDGET, trainer=DiesInWorker(HOME), out=out).fit(
            football.X, football.y, test=football.test)
    message = str(info.value)
    doomed = next(e for e in serial.experiments_ if e.config.l2 == DOOMED)
    # the process died: the message names the experiment being read and every training then in flight
    assert message.startswith(f"a worker process died (TerminatedWorkerError) while experiment {doomed.id} ("), message
    assert f"λ = {DOOMED}" in message and "--resume" in message
    assert "Traceback" not in message

    # --resume, on the local pool again (loky replaces the broken one): the experiments recorded
    # before the death are read back, the others trained in the pool's workers
    r = nr.Recipe(verbose=0, workers=2, budget=BUDGET, trainer=Pids(), out=out, resume=True).fit(
        football.X, football.y, test=football.test)
    assert same_trail(r.decisions_, serial.decisions_)
    assert r.best_experiment_.id == serial.best_experiment_.id
    assert_same_weights(r.best_, serial.best_)
    reused = [e.id for e in r.experiments_ if not any(hasattr(m, "pid") for m in e.net.models)]
    trained = [e for e in r.experiments_ if e.id not in reused]
    assert reused == list(range(1, doomed.id)), reused          # all those before the doomed one, from disk
    assert trained and all(m.pid != HOME for e in trained for m in e.net.models)
    for a, b in zip(r.experiments_, serial.experiments_):
        for m, n in zip(a.net.models, b.net.models):
            assert_same_weights(m, n)


RESUMED = "as the run being resumed decided: "


def same_trail(resumed, fresh):
    """The decisions of a resumed run are the fresh run's, but for a way the resumed run takes from the record
    (cross-validation): 'as the run being resumed decided: X' stands for a line ending in X."""
    assert len(resumed) == len(fresh), (resumed, fresh)
    for a, b in zip(resumed, fresh):
        assert a == b or (a.startswith(RESUMED) and b.endswith(a[len(RESUMED):])), (a, b)
    return True


# ---- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [0, -1, 2.5, True, "2"])
def test_workers_must_be_a_whole_number(football, workers):
    with pytest.raises(nr.NNRecipeError, match=r"^workers must be a whole number ≥ 1"):
        nr.Recipe(verbose=0, workers=workers).fit(
            football.X, football.y, test=football.test)


def test_executor_must_be_an_executor(football):
    with pytest.raises(nr.NNRecipeError, match=r"^executor must be a concurrent.futures.Executor.*got object"):
        nr.Recipe(verbose=0, executor=object()).fit(
            football.X, football.y, test=football.test)


def test_workers_and_executor_not_both(football):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool, pytest.raises(nr.NNRecipeError, match=r"^workers must be None when an "
                                                                             r"executor is given"):
        nr.Recipe(verbose=0, workers=2, executor=pool).fit(
            football.X, football.y, test=football.test)


def cli(capsys, *args):
    """`nnrecipe ARGS` in this process: (exit status, stderr)."""
    from nnrecipe.cli import main
    try:
        status = main([*map(str, args), "--quiet"])
    except SystemExit as exc:                           # argparse's refusal of a flag's value
        status = exc.code
    return status, capsys.readouterr().err


def test_cli_workers_0(tmp_path, capsys):
    status, err = cli(capsys, "run", "football", "--workers", "0", "--out", tmp_path / "r")
    assert status == 2, err
    assert "argument --workers: must be an integer ≥ 1; got 0" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "models").exists()         # refused before any training


def test_cli_workers_and_dask_refused(tmp_path, capsys):
    status, err = cli(capsys, "run", "football", "--workers", "2", "--dask", "tcp://127.0.0.1:9", "--out",
                      tmp_path / "r")
    assert status == 2, err
    assert "--workers" in err and "--dask" in err and "not both" in err and "Traceback" not in err


def test_cli_dask_with_nothing_listening(tmp_path):
    """The console command as a user types it: a clear line within seconds (start-up included), no training."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "nnrecipe", "run", "football", "--dask", "tcp://127.0.0.1:9",
                        "--out", str(tmp_path / "r")], check=False, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - t0
    assert p.returncode == 2, p.stderr
    assert seconds < 15, seconds
    assert "tcp://127.0.0.1:9" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "r" / "run.json").exists()       # before any training


def test_dask_extra_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)      # `import dask.distributed` fails
    with pytest.raises(nr.NNRecipeError, match=r"pip install 'nnrecipe\[dask\]'"):
        executors.connect("tcp://127.0.0.1:9")
