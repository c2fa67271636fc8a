"""Wall time of `nnrecipe run` with --workers 1 and --workers 2 (issue 15), and the same decisions.

Per table, the run `nnrecipe run DATA` makes, as library calls in this one process, same seed (0),
verbose=0, every default otherwise (budget, cross-validation, knobs):

    football      nnrecipe.datasets.football_table()            its own test set
    digits        load_dataset("digits", images=True)            8x8 images, as the CLI reads them
    breast cancer sklearn.datasets.load_breast_cancer()          569 rows, 30 features
    penguins      tests/fixtures/penguins.csv, target "species"  a raw table, as `--target species`

each timed with

    w1        Recipe(workers=1): every training in this process, one after another (one BLAS thread, as
              the recipe sets for every training, here and in the workers);
    w2        Recipe(workers=2): the independent trainings (a knob's candidates, the k folds of each
              experiment) on loky's local pool of 2 processes, one BLAS thread each.

The three are interleaved within each repeat, in an order that rotates from repeat to repeat, so that a
change of the machine's load touches all of them; the table shows per-table medians over the repeats.
loky's pool is started once (by the ceiling below) and reused by every later run of this process, as it
is by later runs of one Python session; the first w2 run, whose workers import nnrecipe, is reported
apart and left out of the medians. w1/w2 is what a user of
`--workers 2` gains over `--workers 1`.
Every run of a table must give the same decision trail (checked, ✔ in the table). "exp" is the
experiments, "epochs" the epochs they trained, and "L2 grid's share of w1" the part of one more serial
run spent in the L2 grid's experiments (5 candidates submitted at once, each with its folds; timed per
knob by `KnobClock`). Target (issue 15): w1/w2 ≥ 1.5 on the λ-grid-heavy runs, those whose grid takes
at least a third of the serial run. What else a run does — its first experiment, one-candidate knobs
such as augmentation, the baseline estimate, reading and checking the data, the report — runs one
thing at a time, and bounds what a second worker can gain (Amdahl).

The machine's load average (os.getloadavg(): 1, 5, 15 minutes) is printed before and after: on a shared
2-core machine other processes slow every run, the serial runs with multi-threaded BLAS the most. And
the machine's ceiling, measured before and after the runs: 6 chunks of pure-Python work (no BLAS, no
data) in this process one after another, then on the same pool of 2 processes. Their ratio is the most
any --workers 2 could gain here at that moment (about 2 on an idle 2-core machine; about 1 when other
processes keep the cores busy), the yardstick for w1/w2.

    python benchmarks/parallel.py [--repeats 3] [--tables football digits breast_cancer penguins]
"""

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

from threadpoolctl import threadpool_info

import nnrecipe as nr
from nnrecipe.datasets import football_table, load_dataset

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("football", "digits", "breast_cancer", "penguins")
MODES = ("w1", "w2")
HEAVY = 1 / 3          # a λ-grid-heavy run: the L2 grid's experiments take at least a third of the serial run


def fitter(name):
    """fit(recipe) -> recipe, the way `nnrecipe run NAME` fits it."""
    if name == "football":
        t = football_table()
        return lambda r: r.fit(t.X, t.y, test=t.test, name=name, features=t.features, classes=t.classes)
    if name == "digits":
        t = load_dataset("digits", images=True)
        return lambda r: r.fit(t.X, t.y, test=t.test, name=name, features=t.features, classes=t.classes)
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer
        b = load_breast_cancer()
        return lambda r: r.fit(b.data, b.target, name=name, features=list(b.feature_names))
    if name == "penguins":
        path = ROOT / "tests" / "fixtures" / "penguins.csv"
        return lambda r: r.fit(str(path), "species", name=name)
    raise SystemExit(f"unknown table {name!r}; one of {', '.join(TABLES)}")


class KnobClock(nr.Recipe):
    """A Recipe that adds up the wall time of its experiments per knob (`seconds_`): with workers=1 every
    training runs inside the experiment that asks for it, so knob "l2" gets the L2 grid's share of the
    serial run (its trainings, and judging them). A benchmark's probe of a private step; not an API."""

    def _experiment(self, cfg, knob, why, warm=None):
        t0 = time.perf_counter()
        try:
            return super()._experiment(cfg, knob, why, warm)
        finally:
            self.seconds_[knob] = self.seconds_.get(knob, 0.0) + time.perf_counter() - t0


def timed(fit, mode):
    """(seconds, recipe) of one run in `mode` ("w1", "w2", or "clock": w1 timed per knob)."""
    recipe = (KnobClock if mode == "clock" else nr.Recipe)(verbose=0, seed=0, workers=2 if mode == "w2" else 1)
    recipe.seconds_ = {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(recipe)
    return time.perf_counter() - t0, recipe


def _spin(n):
    s = 0
    for i in range(n):
        s += i
    return s


def ceiling(n=10_000_000, chunks=6):
    """(serial seconds, pool seconds) of `chunks` pieces of pure-Python work on loky's pool of 2."""
    from joblib.externals.loky import get_reusable_executor
    pool = get_reusable_executor(max_workers=2)
    [f.result() for f in [pool.submit(_spin, 10) for _ in range(4)]]          # the pool up
    t0 = time.perf_counter()
    for _ in range(chunks):
        _spin(n)
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    [f.result() for f in [pool.submit(_spin, n) for _ in range(chunks)]]
    return serial, time.perf_counter() - t0


def show_ceiling(when):
    a, b = ceiling()
    print(f"ceiling {when}: pure-Python work {a:.2f} s serial, {b:.2f} s on 2 processes: {a / b:.2f}x")


def load():
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    args = ap.parse_args()
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()) or "none found"
    print(f"{os.cpu_count()} cores; BLAS/OpenMP here: {blas}")
    print(f"load average before (1/5/15 min): {load()}")
    show_ceiling("before")
    rows, first_pool = [], None
    for name in args.tables:
        fit = fitter(name)
        seconds, trails, last = {m: [] for m in MODES}, set(), None
        for rep in range(args.repeats):
            order = MODES[rep % 2:] + MODES[:rep % 2]           # alternate: no mode always first
            for mode in order:
                s, r = timed(fit, mode)
                if mode == "w2" and first_pool is None:
                    first_pool = (name, s)                      # the workers' imports included
                else:
                    seconds[mode].append(s)
                trails.add(tuple(r.decisions_))
                last = r
                print(f"  {name:<13} repeat {rep + 1} {mode:<8} {s:7.1f} s  (load {os.getloadavg()[0]:.2f})",
                      flush=True)
        med = {m: statistics.median(v) if v else float("nan") for m, v in seconds.items()}
        s, clocked = timed(fit, "clock")
        share = clocked.seconds_.get("l2", 0.0) / s
        print(f"  {name:<13} w1 per knob: " + ", ".join(f"{k} {v:.2f} s" for k, v in clocked.seconds_.items())
              + f" of {s:.2f} s: the L2 grid {share:.0%}", flush=True)
        rows.append((name, med, len(trails) == 1, share, len(last.experiments_), last.record_["spent_epochs"],
                     (last.record_.get("cv") or {}).get("folds")))
    print()
    print(f"load average after (1/5/15 min): {load()}")
    show_ceiling("after")
    if first_pool:
        print(f"first w2 run ({first_pool[0]}), the workers importing nnrecipe: {first_pool[1]:.1f} s (not in the "
              "medians)")
    print()
    print(f"medians over {args.repeats} repeats, seconds of wall time")
    print()
    print("| table | exp | epochs | folds | L2 grid's share of w1 | w1 | w2 | w1/w2 | same decisions |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, med, same, share, n, epochs, folds in rows:
        print(f"| {name} | {n} | {epochs} | {folds or '-'} | {share:.0%} | {med['w1']:.1f} | "
              f"{med['w2']:.1f} | {med['w1'] / med['w2']:.2f}x | {'✔' if same else '✘ DIFFER'} |")
    heavy = [(name, med['w1'] / med['w2']) for name, med, _, share, *_ in rows if share >= HEAVY]
    if heavy:
        ok = all(ratio >= 1.5 for _, ratio in heavy)
        print()
        print(f"target w1/w2 ≥ 1.5 on the λ-grid-heavy runs (the grid ≥ {HEAVY:.0%} of w1: "
              f"{', '.join(n for n, _ in heavy)}): {'met' if ok else 'NOT met'}")
    if not all(same for _, _, same, *_ in rows):
        raise SystemExit("the decisions differ between runs of one table")


if __name__ == "__main__":
    main()
