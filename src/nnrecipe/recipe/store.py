"""The run folder: run.json, models/, the chosen model and the report; the data's fingerprint that
--resume must find unchanged; atomic writes. The policy never touches a path: it asks the store.

    runs/football/run.json           the record (version 3: cross-validation, metric; versions 1 and 2 are still read)
    runs/football/models/exp01.npz   every experiment's model
    runs/football/model.npz          the chosen one
    runs/football/.lock              while a run holds the folder: its pid and host (JSON)

One run at a time: `open` takes the folder's lock (created with O_CREAT|O_EXCL, so of two runs only
one can make it) and `close` removes it; a second run into the folder is refused while the holder
lives. A lock whose process is gone (a run killed by SIGKILL, a machine reboot) is stale: the next
run on the same host takes it over and says so. A lock from another host cannot be checked and is
never taken over.
"""

import functools
import hashlib
import json
import os
import re
import shutil
import socket
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .._checks import plain, writable_folder
from ..engine.serialize import atomic_write
from ..errors import NNRecipeError
from .experiment import Experiment

RUN_FORMAT = "nnrecipe-run"
RUN_VERSION = 3
NEW_OUT = "use a new --out, or --force to replace that run"
LOCK = ".lock"


class StaleLockWarning(UserWarning):
    """A run folder's lock was left by a run that is gone; the new run took it over."""


def fingerprint(X, y, test, classes, s):
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


def differences(old, new):
    """What differs between two fingerprints, in words (the split only when the data is the same)."""
    if old.get("shape") != new["shape"]:
        data = [f"X had shape {tuple(old.get('shape') or ())}, this X has {tuple(new['shape'])}"]
    else:
        data = ["the values of X differ"] if old.get("X") != new["X"] else []
    data += [words for key, words in (("y", "the labels y differ"), ("test", "the test set given differs"))
             if old.get(key) != new[key]]
    return data or ["the split differs"]


def numbered(base):
    """The run folders of one name, oldest first: base, base-2, base-3, ... that hold a run.json."""
    base = Path(base)
    found = [(1, base)] if (base / "run.json").exists() else []
    pattern = re.compile(re.escape(base.name) + r"-(\d+)")
    if base.parent.is_dir():
        found += [(int(m.group(1)), p) for p in base.parent.iterdir()
                  if (m := pattern.fullmatch(p.name)) and (p / "run.json").exists()]
    return [p for _, p in sorted(found)]


def next_free(base):
    """base when it holds no run, else base-N with N one more than the highest taken (as Lightning's
    version_N): running the same command twice makes two runs."""
    runs = numbered(base)
    if not runs:
        return Path(base)
    last = runs[-1].name
    n = int(last.rsplit("-", 1)[1]) if last != Path(base).name else 1
    return Path(base).parent / f"{Path(base).name}-{n + 1}"


def latest(base):
    """The newest run folder of that name (for --resume and --force without --out), else base."""
    runs = numbered(base)
    return runs[-1] if runs else Path(base)


class RunStore:
    """A run folder, or nothing (out None: everything stays in memory).

    writes : False on the ranks of a distributed run that must not write (only rank 0 does).
    open(...) prepares the folder and, with resume, reads the recorded run; `previous` then maps an
    experiment's key (Experiment.key) to its recorded Experiment, `previous_record` is the whole record.
    """

    def __init__(self, out=None, resume=False, force=False, writes=True):
        self.out = None if out is None else writable_folder(out, "out")
        self.resume, self.force = resume, force
        self.writes = writes and self.out is not None
        self.previous, self.previous_record = {}, None
        self._lock = None

    def open(self, fingerprint, seed):
        """Check the folder before any training: a recorded run is refused unless resume (same data and
        seed) or force (removed first). A writing store creates the folder and takes its lock first
        (NNRecipeError while another live run holds it); `close()` gives it back."""
        if self.out is None:
            return self
        if self.resume and not self.out.exists():
            raise NNRecipeError(f"--resume: there is no run to resume: {self.out} does not exist; leave out "
                                "--resume to start a new run there")
        if self.writes:
            make_folder(self.out)
            self._take_lock()
        try:
            if (self.out / "run.json").exists():
                if self.force:
                    self._clear()
                elif not self.resume:
                    raise NNRecipeError(f"--out {self.out} holds another run (run.json); pass --resume to continue "
                                        "it or --force to replace it")
                else:
                    self._read(fingerprint, seed)
            if self.writes:
                make_folder(self.out / "models")
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Give the folder's lock back (if this store holds it); safe to call twice."""
        lock, self._lock = self._lock, None
        if lock is not None and _read_lock(self.out / LOCK) == lock:      # never remove another run's lock
            (self.out / LOCK).unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _take_lock(self):
        """Create out/.lock (O_CREAT|O_EXCL) with this process's pid and host; a lock left by a dead process
        on this host is taken over (StaleLockWarning), one held by a live process is refused."""
        path = self.out / LOCK
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "token": uuid.uuid4().hex}
        for attempt in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(path)
                if attempt == 0 and _stale(holder, path):
                    if _read_lock(path) == holder:        # still the stale one (not a lock just taken over)
                        path.unlink(missing_ok=True)
                    warnings.warn(f"{path}: {_who(holder)} is gone (a killed run); this run takes the folder over",
                                  StaleLockWarning, stacklevel=4)
                    continue
                raise NNRecipeError(f"out {self.out} is in use by another run ({_who(holder)}); wait for it to "
                                    f"finish, or use another --out. If no such run is alive, delete {path}") from None
            except OSError as exc:
                raise NNRecipeError(f"out must be a folder this process can write; got {str(self.out)!r} "
                                    f"({exc.strerror or exc})") from None
            with os.fdopen(fd, "w") as f:
                json.dump(mine, f)
            self._lock = mine
            return

    def _clear(self):
        for part in ("run.json", "model.npz", "model.pt", "report.html"):
            (self.out / part).unlink(missing_ok=True)
        for part in ("models", "figures"):
            shutil.rmtree(self.out / part, ignore_errors=True)

    def _read(self, fingerprint, seed):
        path = self.out / "run.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise NNRecipeError(f"--resume: {path} is not readable ({exc})") from None
        if not isinstance(record, dict) or record.get("format") != RUN_FORMAT or record.get("seed") != seed:
            raise NNRecipeError(f"--resume: {self.out} holds a run with another format or seed; use --force")
        if record.get("version", 1) > RUN_VERSION:
            raise NNRecipeError(f"--resume: {path} is of version {record['version']}, newer than this nnrecipe "
                                f"reads ({RUN_VERSION}); upgrade nnrecipe, or {NEW_OUT}")
        recorded = (record.get("data") or {}).get("fingerprint")
        if recorded is None:
            raise NNRecipeError(f"--resume: {path} records no fingerprint of its data (an older nnrecipe wrote "
                                f"it), so it cannot be matched to this data; {NEW_OUT}")
        if recorded != fingerprint:
            raise NNRecipeError(f"--resume: --out {self.out} holds a run made from other data "
                                f"({'; '.join(differences(recorded, fingerprint))}); {NEW_OUT}")
        self.previous_record = record
        for row in record.get("experiments", []):
            e = Experiment.from_dict(row)
            self.previous[e.key] = e

    def openings(self):
        """The test set's recorded openings ({at, reason}), oldest first."""
        test = (self.previous_record or {}).get("test") or {}
        return test.get("openings") or ([{"at": test["opened_at"], "reason": test.get("reason")}]
                                        if test.get("opened_at") else [])

    def write_record(self, record):
        if self.writes:
            text = json.dumps(record, indent=1, default=_jsonable).encode()
            atomic_write(self.out / "run.json", lambda f: f.write(text))

    def save_model(self, trainer, model, name, classes=None, features=None, preprocessor=None):
        if self.writes:
            save = getattr(trainer, "save", None)             # optional in the Trainer protocol
            if save is None:
                model.save(self.out / name)
            else:
                save(model, self.out / name, classes, features, preprocessor)

    def load_model(self, trainer, name):
        """The model recorded as `name`, or None (no folder, no file, or a trainer that cannot read it)."""
        load = getattr(trainer, "load", None)                 # optional in the Trainer protocol
        if self.out is None or name is None or load is None or not (self.out / name).exists():
            return None
        return load(self.out / name)


def releases_store(method):
    """Decorate a method that opens `self._store` (a RunStore): its lock is given back however the method
    ends (a return, an error, Ctrl-C)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        finally:
            store = getattr(self, "_store", None)
            if store is not None:
                store.close()
    return run


def make_folder(path, name="out"):
    """Create the folder `path` (and its parents) and return it as a Path; one that cannot be made or
    written (in /proc, on a read-only disk, where a file has its name) is NNRecipeError naming `name`."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(f"no write permission on {path}")
    except OSError as exc:
        raise NNRecipeError(f"{name} must be a folder this process can create and write; got {str(path)!r} "
                            f"({exc.strerror or exc})") from None
    return path


def _read_lock(path):
    """The holder recorded in a lock file (a dict), or None when it cannot be read."""
    try:
        holder = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _stale(holder, path, grace=10.0):
    """True when the lock's process is gone: a pid on this host that no longer runs, or an unreadable lock
    file older than `grace` seconds (a holder killed between creating and writing it)."""
    if holder is None:
        try:
            age = datetime.now().timestamp() - Path(path).stat().st_mtime
        except OSError:
            return True
        return age > grace
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0 or os.name == "nt":
        return False         # another machine's run cannot be checked here; on Windows kill(pid, 0) is Ctrl-C
    try:
        os.kill(pid, 0)                               # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:                                   # PermissionError: it exists, run by another user
        return False
    return False


def _who(holder):
    """The lock's holder in words: 'pid 123 on host h, since ...'."""
    if holder is None:
        return "a holder whose lock file cannot be read"
    return f"pid {holder.get('pid')} on host {holder.get('host')}, since {holder.get('started')}"


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
