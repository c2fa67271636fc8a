"""Hostile use of the command line and of the run folder: unwritable paths, files where folders belong,
missing data, --resume on nothing, two runs into one folder, stale locks, Ctrl-C. Each case ends in the
package's own error (exit 2) or an interrupt line (exit 130), never a Python traceback."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import nnrecipe as nr
from nnrecipe import cli
from nnrecipe.cli import main
from nnrecipe.recipe.store import LOCK, RunStore, StaleLockWarning

FAST = ["--quiet", "--baseline-error", "0"]       # no baseline estimate: the runs below start training at once
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def cli_process(*args, **popen):
    """`python -m nnrecipe ARGS` as a process (stdout, stderr piped, text)."""
    return subprocess.Popen([sys.executable, "-m", "nnrecipe", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def run_cli(*args, timeout=120):
    p = cli_process(*args)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def refused(capsys, argv, *words):
    """main(argv) exits 2 with one 'nnrecipe: error:' line naming every word; nothing on stdout."""
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("nnrecipe: error: ") and "Traceback" not in captured.err
    for word in words:
        assert word in captured.err, (word, captured.err)
    return captured.err


def lock_of(folder, **holder):
    """Write a lock file into folder, as a run with `holder` (pid, host, started) would."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"} | holder
    (folder / LOCK).write_text(json.dumps(holder))
    return folder / LOCK


def a_dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---- unwritable and misplaced output paths --------------------------------------------------------

@pytest.mark.parametrize("command", [["run", "circles", *FAST], ["split", "circles"], ["demo", "init"]])
@pytest.mark.parametrize("where, why", [("/proc/nnr_x", "No such file or directory"),
                                        ("/sys/nnr_x", "Operation not permitted")])
def test_an_output_folder_that_cannot_be_created(capsys, command, where, why):
    if not os.path.isdir(os.path.dirname(where)):
        pytest.skip(f"no {os.path.dirname(where)} here")
    refused(capsys, [*command, "--out", where], "--out" if command[0] != "run" else "out", repr(where), why)


@pytest.mark.parametrize("command", [["train", "circles", "--epochs", "1"], ["predict", "model.npz", "new.csv"]])
def test_an_output_file_that_cannot_be_written_fails_before_the_work(capsys, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(capsys, [*command, "--out", "/proc/nnr_x.npz"], "--out must be a file this process can write",
            "'/proc/nnr_x.npz'")


def test_a_run_folder_whose_models_is_a_file(capsys, tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "models").write_text("not a folder")
    refused(capsys, ["run", "circles", *FAST, "--out", tmp_path / "r"], "--out must be a folder", "models")
    assert not (tmp_path / "r" / LOCK).exists()                  # the failed open gave its lock back


@pytest.mark.skipif(ROOT or os.name == "nt", reason="root writes into read-only folders")
def test_a_read_only_folder(capsys, tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    refused(capsys, ["run", "circles", *FAST, "--out", tmp_path / "ro" / "r"], "Permission denied")
    refused(capsys, ["run", "circles", *FAST, "--out", tmp_path / "ro"], "can create and write")


def test_an_output_inside_a_file(capsys, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    refused(capsys, ["run", "circles", *FAST, "--out", tmp_path / "f.txt" / "r"], "inside the file")
    refused(capsys, ["split", "circles", "--out", tmp_path / "f.txt"], "a file")


# ---- hostile inputs ---------------------------------------------------------------------------------

def test_missing_data_and_unknown_datasets(capsys, tmp_path):
    refused(capsys, ["run", tmp_path / "missing.csv", "--target", "y"], "DATA must be a bundled dataset",
            "missing.csv")
    refused(capsys, ["run", "circlez"], "football, circles, moons, spirals, digits", "'circlez'")
    refused(capsys, ["train", "nope.parquet"], "an existing file", "nope.parquet")


def test_a_folder_where_a_data_file_belongs(capsys, tmp_path):
    (tmp_path / "data.csv").mkdir()
    refused(capsys, ["run", tmp_path / "data.csv", "--target", "y", "--out", tmp_path / "r"], "--target", "image folder")
    refused(capsys, ["run", tmp_path / "data.csv", "--out", tmp_path / "r"], "no subfolders")
    refused(capsys, ["gradcheck", tmp_path / "data.csv", "circles"], "a regular file", "is a folder")


def test_resume_on_a_folder_that_does_not_exist(capsys, tmp_path, monkeypatch):
    refused(capsys, ["run", "circles", *FAST, "--out", tmp_path / "nothing", "--resume"], "no run to resume",
            str(tmp_path / "nothing"), "leave out --resume")
    assert not (tmp_path / "nothing").exists()
    monkeypatch.chdir(tmp_path)                              # without --out: runs/circles, which was never made
    refused(capsys, ["run", "circles", *FAST, "--resume"], "no run to resume", os.path.join("runs", "circles"))


def test_an_os_error_is_one_line(capsys, monkeypatch):
    def full_disk(args):
        raise OSError(28, "No space left on device", "runs/x/run.json")
    monkeypatch.setattr(cli, "runs", full_disk)
    refused(capsys, ["runs", "."], "No space left on device: runs/x/run.json")


def test_a_bug_still_shows_its_traceback(monkeypatch):
    """Only bad input is turned into a line: an unexpected exception is a bug worth seeing whole."""
    def bug(args):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(cli, "runs", bug)
    with pytest.raises(ZeroDivisionError):
        main(["runs", "."])


def test_ctrl_c_in_any_command_is_one_line_and_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "train", interrupted)
    assert main(["train", "circles"]) == 130
    assert capsys.readouterr().err == "nnrecipe: interrupted\n"


def test_the_resume_command_of_an_interrupted_run():
    words = ["run", "data.csv", "--target", "y", "--force"]
    assert cli._resume_command(words, "runs/data-2", out_given=False) == \
        "nnrecipe run data.csv --target y --resume --out runs/data-2"
    assert cli._resume_command(["run", "a b.csv", "--out", "o", "--resume"], "o", out_given=True) == \
        "nnrecipe run 'a b.csv' --out o --resume"


# ---- the run folder's lock ----------------------------------------------------------------------------

def test_a_folder_locked_by_a_live_process_is_refused_naming_it(capsys, tmp_path):
    lock_of(tmp_path / "r")                                   # this very process: alive
    err = refused(capsys, ["run", "circles", *FAST, "--out", tmp_path / "r"], "in use by another run",
                  f"pid {os.getpid()} on host {socket.gethostname()}", str(tmp_path / "r" / LOCK))
    assert "delete" in err and json.loads((tmp_path / "r" / LOCK).read_text())["pid"] == os.getpid()


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    lock_of(tmp_path / "r", host="elsewhere.example", pid=a_dead_pid())
    with pytest.raises(nr.NNRecipeError, match="in use by another run .pid [0-9]+ on host elsewhere.example"):
        RunStore(tmp_path / "r").open({}, 0)


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path):
    lock = lock_of(tmp_path / "r", pid=a_dead_pid())
    with pytest.warns(StaleLockWarning, match="is gone .a killed run.; this run takes the folder over"):
        store = RunStore(tmp_path / "r").open({}, 0)
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    store.close()
    assert not lock.exists()


def test_the_cli_notes_a_stale_lock_in_one_line(capsys, tmp_path):
    lock_of(tmp_path / "r", pid=a_dead_pid())
    (tmp_path / "r" / "run.json").write_text(json.dumps({"format": "nnrecipe-run", "seed": 7}))
    assert main(["run", "circles", *FAST, "--out", str(tmp_path / "r"), "--resume"]) == 2   # then: another seed
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("nnrecipe: warning: ") and err[0].endswith("this run takes the folder over")
    assert err[1].startswith("nnrecipe: error: --resume: ") and len(err) == 2


def test_an_unreadable_lock_is_refused_while_fresh_and_taken_over_when_old(tmp_path):
    lock = tmp_path / "r" / LOCK
    lock.parent.mkdir()
    lock.write_text("")                                       # a holder between creating and writing it
    with pytest.raises(nr.NNRecipeError, match="cannot be read"):
        RunStore(tmp_path / "r").open({}, 0)
    os.utime(lock, (time.time() - 60, time.time() - 60))      # a minute old: its writer died
    with pytest.warns(StaleLockWarning):
        RunStore(tmp_path / "r").open({}, 0).close()
    assert not lock.exists()


def test_a_store_never_removes_a_lock_it_does_not_hold(tmp_path):
    store = RunStore(tmp_path / "r").open({}, 0)
    theirs = lock_of(tmp_path / "r", pid=12345)               # replaced behind its back
    store.close()
    assert theirs.exists()


def test_a_refused_resume_gives_the_lock_back(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_text(json.dumps({"format": "nnrecipe-run", "seed": 7}))
    with pytest.raises(nr.NNRecipeError, match="another format or seed"):
        RunStore(tmp_path / "r", resume=True).open({}, 0)
    assert not (tmp_path / "r" / LOCK).exists()


def test_a_recipe_that_fails_mid_run_gives_the_lock_back(tmp_path, monkeypatch):
    def interrupted(self, knobs):
        assert (tmp_path / "r" / LOCK).exists()              # held while the run trains
        raise KeyboardInterrupt
    monkeypatch.setattr(nr.Recipe, "_search", interrupted)
    X, y = nr.load_dataset("circles").X, nr.load_dataset("circles").y
    with pytest.raises(KeyboardInterrupt):
        nr.Recipe(out=tmp_path / "r", baseline_error=0.0, verbose=0).fit(X, y)
    assert not (tmp_path / "r" / LOCK).exists()


# ---- real processes -------------------------------------------------------------------------------------

def test_unwritable_out_and_unknown_data_as_processes():
    for args, words in ((["run", "circles", *FAST, "--out", "/proc/nnr_x"], ["/proc/nnr_x"]),
                        (["run", "circlez"], ["circlez"])):
        code, out, err = run_cli(*args)
        assert code == 2 and "Traceback" not in err and err.startswith("nnrecipe: error: ")
        assert all(w in err for w in words), err


HOLD = """
import sys, time
from nnrecipe.recipe.store import RunStore
store = RunStore(sys.argv[1]).open({}, 0)
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_run_is_refused_while_a_live_process_holds_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "r")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        code, _, err = run_cli("run", "circles", *FAST, "--out", tmp_path / "r")
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and "Traceback" not in err
    assert f"in use by another run (pid {holder.pid} on host {socket.gethostname()}" in err, err
    with pytest.warns(StaleLockWarning, match=f"pid {holder.pid}"):      # killed: its lock is stale now
        RunStore(tmp_path / "r").open({}, 0).close()


def wait_for(condition, process, timeout=90.0):
    end = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.skipif(os.name == "nt", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_during_a_run_is_one_line_130_and_a_resumable_folder(tmp_path):
    out = tmp_path / "r"
    first = cli_process("run", "spirals", *FAST, "--budget", "1300", "--out", out, start_new_session=True)
    try:
        wait_for(lambda: (out / "models" / "exp03.npz").exists(), first)     # the L2 grid's pool is under way
        os.killpg(first.pid, signal.SIGINT)        # as a terminal's Ctrl-C: the whole group, pool workers too
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    if first.returncode == 0:
        pytest.skip("the run finished before Ctrl-C reached it")
    assert first.returncode == 130 and "Traceback" not in err, err
    resume = f"nnrecipe run spirals {' '.join(FAST)} --budget 1300 --out {out} --resume"
    assert err.strip().splitlines()[-1] == f"nnrecipe: interrupted; the run folder {out} can be resumed: {resume}"
    assert not (out / LOCK).exists()                             # given back on the way out
    code, _, err = run_cli(*resume.split()[1:])
    assert code == 0 and "Traceback" not in err, err
    assert json.loads((out / "run.json").read_text())["test"]["n"] > 0      # finished: tested once


# ---- every refusal as a real process ---------------------------------------------------------------------
# `python -m nnrecipe ...` on the bad inputs above (one per code path) and on more for every subcommand: the
# exit status the command documents (2 for bad input, argparse's 2 for a bad flag, 1 for `runs` over a folder
# holding an unreadable run), a message naming the problem, never a traceback. Each case runs in a folder of
# its own, with the files it needs built there at test time. The processes start together when the first
# case runs (as many at once as there are cores), and each is refused before any training, so a case costs
# about one interpreter start-up.

def file_of(name, content):
    """A builder: the file `name` holding `content` (text or bytes)."""
    def build(cwd):
        path = cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return build


def rows(name, n=60, columns="x,z,y", label=lambda i: i % 2):
    """A builder: a CSV file of n rows, two number columns and a label."""
    return file_of(name, columns + "\n" + "".join(f"{i / 10},{i % 3},{label(i)}\n" for i in range(n)))


def folder_of(name, *inside):
    """A builder: the folder `name`, holding the (empty) files `inside`."""
    def build(cwd):
        (cwd / name).mkdir(parents=True)
        for f in inside:
            (cwd / name / f).write_text("")
    return build


def model_of(name):
    """A builder: a saved (untrained) model for the columns x and z."""
    def build(cwd):
        net = nr.mlp([2, 3, 1], seed=0)
        net.features = ["x", "z"]
        net.save(cwd / name)
    return build


def locked_by_this_test(name):
    """A builder: the folder `name`, locked by the pytest process, which is alive while the case runs."""
    return lambda cwd: lock_of(cwd / name)


def a_stale_run(name):
    """A builder: a run folder with seed 7 whose lock holder is gone."""
    def build(cwd):
        lock_of(cwd / name, pid=a_dead_pid())
        (cwd / name / "run.json").write_text(json.dumps({"format": "nnrecipe-run", "seed": 7}))
    return build


def read_only(name):
    """A builder: the folder `name`, which only root can write into."""
    def build(cwd):
        (cwd / name).mkdir(mode=0o555)
    return build


NO_PROC = pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc here")
NO_SYS = pytest.mark.skipif(not os.path.isdir("/sys"), reason="no /sys here")
AS_ROOT = pytest.mark.skipif(ROOT or os.name == "nt", reason="root writes into read-only folders")
DATASETS = "football, circles, moons, spirals, digits"
TEXT_LABELS = rows("text.csv", label=lambda i: "ab"[i % 2])


def case(name, argv, *words, code=2, build=(), marks=()):
    """One refusal: `nnrecipe ARGV` in a folder made by the builders exits `code` naming every word."""
    return pytest.param(argv, code, words, build, id=name, marks=marks)


PROCESS_CASES = [
    # the in-process cases above, one per code path
    case("run-out-in-proc", ["run", "circles", *FAST, "--out", "/proc/nnr_x"], "--out must be a folder",
         "'/proc/nnr_x'", "No such file or directory", marks=NO_PROC),
    case("split-out-in-proc", ["split", "circles", "--out", "/proc/nnr_x"], "--out", "'/proc/nnr_x'",
         "No such file or directory", marks=NO_PROC),
    case("demo-out-in-sys", ["demo", "init", "--out", "/sys/nnr_x"], "--out", "'/sys/nnr_x'",
         "Operation not permitted", marks=NO_SYS),
    case("train-out-unwritable", ["train", "circles", "--epochs", "1", "--out", "/proc/nnr_x.npz"],
         "--out must be a file this process can write", "'/proc/nnr_x.npz'", marks=NO_PROC),
    case("predict-out-unwritable", ["predict", "model.npz", "new.csv", "--out", "/proc/nnr_x.npz"],
         "--out must be a file this process can write", "'/proc/nnr_x.npz'", marks=NO_PROC),
    case("run-models-is-a-file", ["run", "circles", *FAST, "--out", "r"], "--out must be a folder", "models",
         build=[file_of(os.path.join("r", "models"), "not a folder")]),
    case("run-out-in-a-read-only-folder", ["run", "circles", *FAST, "--out", os.path.join("ro", "r")],
         "Permission denied", build=[read_only("ro")], marks=AS_ROOT),
    case("run-out-read-only", ["run", "circles", *FAST, "--out", "ro"], "can create and write",
         build=[read_only("ro")], marks=AS_ROOT),
    case("run-out-inside-a-file", ["run", "circles", *FAST, "--out", os.path.join("f.txt", "r")],
         "inside the file", build=[file_of("f.txt", "x")]),
    case("split-out-is-a-file", ["split", "circles", "--out", "f.txt"], "--out", "a file",
         build=[file_of("f.txt", "x")]),
    case("run-missing-file", ["run", "missing.csv", "--target", "y"], "DATA must be a bundled dataset",
         "'missing.csv'"),
    case("run-unknown-dataset", ["run", "circlez"], DATASETS, "'circlez'"),
    case("train-missing-file", ["train", "nope.parquet"], "an existing file", "'nope.parquet'"),
    case("run-folder-as-data-with-target", ["run", "data.csv", "--target", "y", "--out", "r"], "--target",
         "image folder", build=[folder_of("data.csv")]),
    case("run-folder-as-data", ["run", "data.csv", "--out", "r"], "no subfolders", build=[folder_of("data.csv")]),
    case("gradcheck-model-is-a-folder", ["gradcheck", "data.csv", "circles"], "a regular file", "is a folder",
         build=[folder_of("data.csv")]),
    case("run-resume-nothing", ["run", "circles", *FAST, "--out", "nothing", "--resume"], "no run to resume",
         "nothing", "leave out --resume"),
    case("run-resume-default", ["run", "circles", *FAST, "--resume"], "no run to resume",
         os.path.join("runs", "circles")),
    case("run-locked", ["run", "circles", *FAST, "--out", "r"], "in use by another run",
         f"pid {os.getpid()} on host {socket.gethostname()}", build=[locked_by_this_test("r")]),
    case("run-stale-lock-other-seed", ["run", "circles", *FAST, "--out", "r", "--resume"], "nnrecipe: warning: ",
         "this run takes the folder over", "--resume: ", "another format or seed", build=[a_stale_run("r")]),
    # bad flag values: argparse's own refusals, then the package's
    case("run-seed-negative", ["run", "circles", "--seed", "-1"], "argument --seed", "≥ 0; got -1"),
    case("train-epochs-text", ["train", "circles", "--epochs", "abc"], "argument --epochs",
         "expected an integer; got 'abc'"),
    case("run-metric-unknown", ["run", "circles", "--metric", "recall"], "argument --metric",
         "invalid choice: 'recall'"),
    case("run-workers-0", ["run", "circles", *FAST, "--workers", "0", "--out", "r"], "argument --workers: must be",
         "≥ 1", "got 0"),
    case("run-budget-0", ["run", "circles", *FAST, "--budget", "0", "--out", "r"],
         "argument --budget: must be an integer ≥ 1; got 0"),
    case("split-ratios-over-1", ["split", "d.csv", "--target", "y", "--out", "s", "--ratios", "0.5,0.6,0.7"],
         "ratios must be shares summing to 1", "(sum 1.8)", build=[rows("d.csv")]),
    # bad files
    case("run-text-target-regress", ["run", "text.csv", "--target", "y", "--task", "regress", *FAST, "--out", "r"],
         "must be numbers for a regression", "'a'", build=[TEXT_LABELS]),
    case("run-unknown-target", ["run", "d.csv", "--target", "nope", *FAST, "--out", "r"],
         "--target must name a column of d.csv; got 'nope' (columns: x, z, y)", build=[rows("d.csv")]),
    case("run-corrupt-parquet", ["run", "d.parquet", "--target", "y", *FAST, "--out", "r"],
         "must be a Parquet file", "d.parquet could not be read", build=[file_of("d.parquet", b"PAR1 garbage")]),
    case("train-text-target-regress", ["train", "text.csv", "--target", "y", "--task", "regress", "--quiet"],
         "must be numeric", "--task regress", "'a'", build=[TEXT_LABELS]),
    case("train-corrupt-mat", ["train", "d.mat"], "MATLAB .mat file", "d.mat could not be read",
         build=[file_of("d.mat", b"garbage")]),
    case("gradcheck-corrupt-model", ["gradcheck", "m.npz", "circles"], "m.npz is not a readable nnrecipe file",
         build=[file_of("m.npz", b"not a zip at all")]),
    case("predict-corrupt-model", ["predict", "m.npz", "d.csv", "--out", "p.csv"],
         "m.npz is not a readable nnrecipe file", build=[file_of("m.npz", b"\x00" * 64), rows("d.csv")]),
    case("predict-rows-are-a-folder", ["predict", "m.npz", "d.csv", "--out", "p.csv"], "NEW must be a regular "
         "file", "is a folder", build=[model_of("m.npz"), folder_of("d.csv")]),
    case("predict-missing-columns", ["predict", "m.npz", "d.csv", "--out", "p.csv"], "NEW must have every column",
         "missing 'x', 'z' in d.csv", build=[model_of("m.npz"), rows("d.csv", columns="a,b,y")]),
    case("check-match-other-columns", ["check-match", "a.csv", "b.csv", "--target", "y"],
         "B must have the columns of A", build=[rows("a.csv"), rows("b.csv", columns="p,q,y")]),
    case("runs-corrupt-run-json", ["runs", "r"], "is not a readable run record", "JSONDecodeError",
         build=[file_of(os.path.join("r", "run.json"), "{not json")]),
    case("runs-an-unreadable-run-among-runs", ["runs", "all"], "is not a readable run record",
         "no field 'experiments'", code=1, build=[file_of(os.path.join("all", "r1", "run.json"), "{}")]),
]


def _refusal(argv, cwd, timeout=120):
    """(exit status, stdout, stderr) of `python -m nnrecipe ARGV` in cwd; status None if it ran past timeout."""
    p = subprocess.Popen([sys.executable, "-m", "nnrecipe", *map(str, argv)], cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:                   # it did not refuse: it is working on the bad input
        p.kill()
        out, err = p.communicate()
        return None, out, err
    return p.returncode, out, err


@pytest.fixture(scope="module")
def refusals(request, tmp_path_factory):
    """A function from a case (its id, argv and builders) to its (status, stdout, stderr). Every selected,
    not skipped case of test_a_refusal_as_a_process is started at once here, on a pool of one thread per
    core; a case not started with them (none, normally) runs when asked."""
    from concurrent.futures import ThreadPoolExecutor
    root = tmp_path_factory.mktemp("refusals")

    def folder(name, build):
        (root / name).mkdir()
        for b in build:
            b(root / name)
        return root / name

    started = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for item in request.session.items:
            if getattr(item, "originalname", None) != "test_a_refusal_as_a_process" or \
                    any(m.args and m.args[0] for m in item.iter_markers("skipif")):
                continue
            p = item.callspec
            started[p.id] = pool.submit(_refusal, p.params["argv"], folder(p.id, p.params["build"]))

        def result(name, argv, build):
            return started[name].result() if name in started else _refusal(argv, folder(name, build))
        yield result
        for future in started.values():
            future.cancel()


@pytest.mark.parametrize("argv, code, words, build", PROCESS_CASES)
def test_a_refusal_as_a_process(refusals, request, argv, code, words, build):
    status, out, err = refusals(request.node.callspec.id, argv, build)
    assert status is not None, f"nnrecipe {' '.join(argv)} did not refuse: still running after 120 s\n{err}"
    assert "Traceback" not in err, err
    assert status == code, (status, err)
    for word in words:
        assert word in err, (word, err)
    if code == 2:                                    # refused before any work: one error line, nothing on stdout
        last = err.splitlines()[-1]
        assert last.startswith(("nnrecipe: error: ", f"nnrecipe {argv[0]}: error: ")), err
        if not err.startswith("usage: "):            # the package's own refusal: nnrecipe's lines, no other, no blank
            assert all(line.startswith("nnrecipe: ") for line in err.splitlines()), err
        assert out == "", out
