"""The recipe's policy (recipe/loop.py) with a scripted trainer: no training, every branch of the loop and
every knob, with the exact experiments trained, the one chosen and the decision trail.

The script maps a configuration to what "training" it gives: a train error rate, the dev rows it gets
wrong (the first k of N_DEV, or the rows named), a dev cost, the epochs trained (fewer than asked: a
plateau stop) and a smooth or jagged cost curve. The scripted model predicts the dev labels with
exactly those rows wrong, so the recipe's paired comparison of dev predictions (McNemar's exact test;
a paired bootstrap for a regression) sees what the script says: the first 2 rows wrong against the
first 8 is 6 discordant rows all won by the candidate (p = 0.031, better beyond dev's noise); the
first 7 against the first 8 is one row (p = 1, within the noise).

The loop's tests pass baseline_error=0.0: they test decisions given a baseline. The "auto" baseline
is tested with a scripted estimate_baseline."""

import importlib
import json
import time
from dataclasses import dataclass, replace

import numpy as np
import pytest

import nnrecipe as nr
import nnrecipe.doctor.baseline as baseline_module
from nnrecipe.recipe import (
    Augment,
    Deeper,
    L2Grid,
    LearningCurve,
    Longer,
    Result,
    SmallerLearningRate,
    Wider,
)
from nnrecipe.recipe.folds import FoldModels
from nnrecipe.recipe.loop import first_config

_rng = np.random.default_rng(0)
X_TAB = _rng.normal(size=(200, 2))
X_IMG = _rng.normal(size=(200, 8, 8))
Y = (X_TAB[:, 0] + 0.3 * _rng.normal(size=200) > 0).astype(int)
X_BIG = _rng.normal(size=(1000, 2))                   # 1000 rows: a dev set of 200
Y_BIG = (X_BIG[:, 0] > 0).astype(int)
Y_REG = 3 * X_TAB[:, 0] + 0.1 * _rng.normal(size=200)
H, H_IMG = (16, 8), (64, 32)          # the first configuration's hidden layers (2 features; 8x8 images)
FIRST = first_config(2, 120)          # the first configuration: 2 features, 120 training rows (up to 1000: all
EPOCHS, LR = FIRST.epochs, FIRST.lr   # the tests' data sets, X_BIG's 600 included), its epochs and learning rate
N_DEV = 40                            # 200 rows split 60/20/20; checked against r.split_ in the good-fit tests
SHIFT = 1.0                           # a regression's scripted miss on a "wrong" dev row, in the target's units
GIVEN = "given"                       # fit(baseline_error=GIVEN): Recipe's default, not passed

BIAS_WHY = "avoidable bias 20.0% > 2.0%: "
OUTCOMES = ("kept: ", "rejected: ", "a measurement, never kept", "the first incumbent")
NOISE = "within dev's noise (McNemar p = 1)"
BEYOND = "better beyond dev's noise (McNemar p = 0.031)"          # 6 discordant rows, all the candidate's
MATCH = ("dev and test match: ", "WARNING, dev and test differ: ")
UNCONFIRMED = ("stop: good fit, both gaps within 2.0% of the baseline; not confirmed: dev's 95% interval reaches "
               "8.8% over 40 rows, more than 2.0% above the baseline")


# ---- the scripted trainer ---------------------------------------------------------------------
@dataclass(frozen=True)
class Out:
    """What training a configuration gives: train error (a rate; an RMSE for a regression), the dev rows
    it gets wrong (an int k: the first k of N_DEV; a tuple: those rows), dev cost, the epochs trained
    (None: all asked; fewer: a plateau stop), J jagged or smooth, gradient findings."""
    train: float
    dev: int | tuple
    dev_cost: float = 1.0
    epochs: int | None = None
    jagged: bool = False
    findings: tuple = ()

    @property
    def wrong(self):
        return tuple(range(self.dev)) if isinstance(self.dev, int) else tuple(sorted(self.dev))


def rows(start, stop):
    """Dev rows start..stop-1, for Out(dev=...)."""
    return tuple(range(start, stop))


GOOD = Out(0.0, 0)                    # good fit (on the point estimates)
BIAS = Out(0.20, 8)                   # train 20%, dev 20%: high bias only
VAR = Out(0.0, 8)                     # train 0%, dev 20%: high variance only


def key(cfg):
    return (tuple(cfg.hidden), cfg.l2, cfg.keep_prob, cfg.epochs, cfg.lr, cfg.train_share, cfg.augment)


def at(hidden=H, l2=0.0, keep=1.0, epochs=EPOCHS, lr=LR, share=1.0, augment=False):
    """The script's key of a configuration (the first one's values unless given)."""
    return (tuple(hidden), l2, keep, epochs, lr, share, augment)


class FakeModel:
    """What the scripted trainer 'trains': a tag, a test error of its own, and the dev rows it gets wrong.

    predict on the dev rows (the very rows the trainer was given) returns their labels with the scripted
    rows wrong (the other class; for a regression the value + SHIFT); on any other rows it predicts
    class 0 (0.0), and the test error is the scripted one (model.error). The file holds all of it."""

    def __init__(self, tag, test_error, X_dev, y_dev, wrong, regression=False):
        self.tag, self.test_error, self.seen = tag, test_error, None
        self.X_dev, self.y_dev = np.asarray(X_dev, dtype=float), np.asarray(y_dev)
        self.wrong, self.regression = list(wrong), regression

    def predict(self, X):
        X = np.asarray(X)
        if X.shape != self.X_dev.shape or not np.array_equal(X, self.X_dev):
            return np.zeros(len(X), dtype=self.y_dev.dtype)
        out = self.y_dev.copy()
        out[self.wrong] = out[self.wrong] + SHIFT if self.regression else 1 - out[self.wrong]
        return out

    def error(self, X, y):
        self.seen = X.shape
        return self.test_error

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"tag": self.tag, "test_error": self.test_error, "X_dev": self.X_dev.tolist(),
                       "y_dev": self.y_dev.tolist(), "wrong": self.wrong, "regression": self.regression}, f)


@dataclass
class Call:
    config: object
    epochs: int
    warm: object
    n_train: int
    shape: tuple
    X: np.ndarray = None                  # the rows trained on and the dev rows watched, as given
    X_dev: np.ndarray = None


class ScriptedTrainer:
    """The Trainer protocol (augments, regresses, run) answering from a script: table[key(config)], else
    default. stagger: call i (from 0) trains stagger·i epochs fewer than the script says (a plateau stop),
    so that the folds of a cross-validated experiment train different epochs."""

    def __init__(self, default, table=None, augments=False, regresses=False, stagger=0):
        self.default, self.table, self.augments, self.calls = default, dict(table or {}), augments, []
        self.regresses, self.stagger = regresses, stagger

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        o = self.table.get(key(config), self.default)
        assert o.epochs is None or o.epochs <= epochs, (o.epochs, epochs)     # a plateau stops early, never late
        n = (epochs if o.epochs is None else o.epochs) - self.stagger * len(self.calls)
        assert n >= 1, n
        self.calls.append(Call(config, epochs, warm, len(data.y), data.X.shape, data.X, data.X_dev))
        cost = [1.0 - 1e-4 * i + (0.05 * (i % 2) if o.jagged else 0.0) for i in range(n)]
        n_dev = len(data.y_dev)
        assert all(0 <= i < n_dev for i in o.wrong), o.wrong
        dev = SHIFT * np.sqrt(len(o.wrong) / n_dev) if self.regresses else len(o.wrong) / n_dev
        history = {"cost": cost, "penalty": [0.0] * n, "train_error": [o.train] * n,
                   "dev_cost": [o.dev_cost] * n, "dev_error": [dev] * n}
        model = FakeModel(len(self.calls), len(self.calls) / 1000, data.X_dev, data.y_dev, o.wrong,
                          self.regresses)                                   # a test error of its own
        return Result(model, history, n, o.train, dev, o.dev_cost, "plateau" if n < epochs else None,
                      findings=[dict(f) for f in o.findings])


class SavingTrainer(ScriptedTrainer):
    """With the protocol's optional load: --resume reads its models back."""

    def load(self, path):
        with open(path) as f:
            d = json.load(f)
        return FakeModel(d["tag"], d["test_error"], d["X_dev"], d["y_dev"], d["wrong"], d["regression"])


def fit(trainer, X=X_TAB, y=Y, baseline_error=0.0, **options):
    """Recipe(baseline_error=0.0 unless given; GIVEN: Recipe's default; cv=0, decisions on dev, unless
    given).fit with the checks every run must pass."""
    if baseline_error is not GIVEN:
        options["baseline_error"] = baseline_error
    cv = options.setdefault("cv", 0)
    r = nr.Recipe(trainer=trainer, verbose=0, seed=0, **options).fit(X, y)
    for e in r.experiments_:
        assert e.outcome is not None and e.outcome.startswith(OUTCOMES), (e.id, e.outcome)
    assert next(e.outcome for e in r.experiments_) == "the first incumbent"
    assert [e.kept for e in r.experiments_].count(True) == 1 and r.best_experiment_.kept
    folds = r.record_["cv"]
    if folds:                     # cross-validated: the choice refitted on train+dev, not the fold models
        assert cv != 0 and isinstance(r.best_experiment_.net, FoldModels) and r.best_ is not r.best_experiment_.net
        assert r.record_["final"]["refit"]["rows"] == folds["rows"] == len(r.split_.train) + len(r.split_.dev)
    else:                         # decided on dev, which adds a third of train's rows here: refitted on train+dev too
        assert r.best_ is not r.best_experiment_.net and not isinstance(r.best_, FoldModels)
        assert r.record_["final"]["refit"]["rows"] == len(r.split_.train) + len(r.split_.dev)
    assert r.decisions_[-2].startswith((f"refitted experiment {r.best_experiment_.id}'s configuration on all ",
                                        f"refit of experiment {r.best_experiment_.id}'s configuration on all "))
    assert r.record_["final"]["experiment"] == r.best_experiment_.id
    regression = r.target_.regression
    if not regression:
        assert r.test_error_ == r.best_.test_error
    if not options.get("resume") and not regression:     # the test set opened once, on rows
        assert r.best_.seen == (len(r.split_.test), int(np.prod(X.shape[1:])))
    assert r.decisions_[-1].startswith(f"chose experiment {r.best_experiment_.id} ")
    # the trail: task, split, the baseline's line when estimated, cv's lines unless cv=0, the match of dev and test
    task = "task: regression" if regression else "task: classification"
    assert r.decisions_[0].startswith(task) and r.decisions_[1].startswith("split: ")
    auto = options.get("baseline_error", "auto") == "auto"
    match = 3 if auto else 2
    if cv != 0:
        planned = r.decisions_[match:next(i for i, d in enumerate(r.decisions_) if d.startswith(MATCH))]
        assert planned[-1].startswith("decisions on dev: ") or "-fold cross-validation over train+dev (" in planned[-1]
        assert len(planned) == 1 or (len(planned) == 2 and "-fold cross-validation needs " in planned[0])
        match += len(planned)
    assert r.decisions_[match].startswith(MATCH)
    assert r.record_["baseline"]["method"] != "given" if auto else \
        r.record_["baseline"] == {"estimate": options["baseline_error"], "method": "given"}
    return r


_MATCHES = {}


@pytest.fixture(autouse=True)
def _match_once(monkeypatch):
    """The check that dev and test match trains a domain classifier (most of a scripted run's time) and is
    no part of the policy: its real answer is computed once for each pair of dev and test rows and reused."""
    loop = importlib.import_module("nnrecipe.recipe.loop")
    real = loop.check_match

    def once(a, b, **options):
        (Xa, ya), (Xb, yb) = a.peek(), b.peek()
        k = (Xa.shape, Xa.tobytes(), ya.tobytes(), Xb.shape, Xb.tobytes(), yb.tobytes(), repr(sorted(options.items())))
        if k not in _MATCHES:
            _MATCHES[k] = real(a, b, **options)
        return _MATCHES[k]

    monkeypatch.setattr(loop, "check_match", once)


def tried(r):
    return [(e.knob, key(e.config)) for e in r.experiments_]


def policy_lines(r):
    """The trail between the data checks and the final choice, without the per-experiment lines and the
    refit on train+dev (fit() checks it)."""
    start = next(i for i, d in enumerate(r.decisions_) if d.startswith(MATCH)) + 1
    return [d for d in r.decisions_[start:-1] if not d.startswith(("experiment ", "refitted experiment ",
                                                                   "refit of experiment "))]


def outcomes(r):
    return [e.outcome for e in r.experiments_]


def dev(k):
    return k / N_DEV


# ---- the loop's branches ----------------------------------------------------------------------
@pytest.mark.parametrize("X, y, options, line", [
    (X_TAB, Y, {"tolerance": 0.1}, ("stop: good fit, both gaps within 10.0% of the baseline, and dev's 95% interval "
                                     "(up to 8.8%) confirms it")),
    (X_BIG, Y_BIG, {}, ("stop: good fit, both gaps within 2.0% of the baseline, and dev's 95% interval (up to 1.9%) "
                        "confirms it")),
    (X_TAB, Y, {"baseline_error": 0.05, "tolerance": 0.04},
     "stop: good fit, both gaps within 4.0% of the baseline, and dev's 95% interval (up to 8.8%) confirms it"),
], ids=["wide-tolerance", "large-dev", "above-a-baseline"])
def test_a_confirmed_good_fit_at_start_trains_one_experiment(X, y, options, line):
    """0 dev errors of 40 reach 8.8% (Wilson), of 200 1.9%: within the tolerance of the baseline, the run stops."""
    t = ScriptedTrainer(GOOD)
    r = fit(t, X=X, y=y, **options)
    assert len(r.split_.dev) == (N_DEV if len(X) == 200 else 200)
    assert tried(r) == [("start", at())]
    assert t.calls[0].epochs == EPOCHS and t.calls[0].warm is None and t.calls[0].n_train == len(r.split_.train)
    assert t.calls[0].config == FIRST == first_config(2, len(r.split_.train))   # batches of FIRST.batch_size
    assert r.decisions_[3:] == [
        "experiment 1 (a He-initialized ReLU network sized from the data): train 0.00%, dev 0.00% → good fit",
        line, r.decisions_[-2], r.decisions_[-1]]                               # -2: the refit on train+dev
    assert r.best_experiment_.id == 1 and r.diagnosis_.case == "good fit"


def test_an_unconfirmed_good_fit_turns_the_variance_knobs_and_says_not_confirmed():
    """0 dev errors of 40: the point estimates say good fit, but dev's interval reaches 8.8%, more than 2%
    above the baseline. No bias knob is turned; every variance knob is, and a tie at a lower dev cost is kept."""
    t = ScriptedTrainer(GOOD, {at(l2=0.1): Out(0.0, 0, dev_cost=0.5)})
    r = fit(t)
    assert len(r.split_.dev) == N_DEV
    assert tried(r) == [("start", at())] + [("l2", at(l2=lam)) for lam in (0.01, 0.1, 0.3, 1.0, 3.0)] + [
        ("dropout", at(l2=0.1, keep=0.9)), ("dropout", at(l2=0.1, keep=0.8)), ("data", at(l2=0.1, share=0.5))]
    why = "good fit on the point estimates, but dev's 95% interval reaches 8.8%, more than 2.0% above the baseline: "
    assert r.experiments_[1].why == why + "L2 λ = 0.01 (log grid, picked on dev)"
    assert r.experiments_[6].why == why + "dropout keep_prob 0.9"
    assert outcomes(r) == [
        "the first incumbent",
        f"rejected: dev 0.0% against experiment 1's 0.0%, {NOISE}, at a dev cost not lower (1 ≥ 1)",
        f"kept: dev 0.0% against experiment 1's 0.0%, {NOISE}, no more dev errors and a lower dev cost (0.5 < 1)",
        *[f"rejected: dev 0.0% against experiment 3's 0.0%, {NOISE}, at a dev cost not lower (1 ≥ 0.5)"] * 5,
        "a measurement, never kept"]
    assert r.best_experiment_.id == 3
    assert policy_lines(r) == [
        "data augmentation: not tried, the rows are a table, not images: rotations and zooms do not apply",
        "more data is unlikely to help much: doubling train changed dev error by +0.0%", UNCONFIRMED]


def test_an_unconfirmed_good_fit_with_the_budget_spent_stops_on_the_budget():
    r = fit(ScriptedTrainer(GOOD), budget=EPOCHS)
    assert tried(r) == [("start", at())]
    lines = policy_lines(r)
    assert not [line for line in lines if line.startswith("skipped (")]
    assert f"budget of {EPOCHS} epochs is spent" in lines[-1]


@pytest.mark.parametrize("jagged", [False, True])
def test_high_bias_turns_every_bias_knob_in_order(jagged):
    """Nothing helps: width, depth, epochs (warm) and, when J is jagged, the learning rate, each rejected
    within dev's noise; a width with as many dev errors on other rows (16 discordant rows, 8 each way) and a
    lower dev cost is rejected too (bias: no ties)."""
    t = ScriptedTrainer(BIAS, {at((32, 16)): Out(0.10, rows(8, 16), dev_cost=0.5),
                               at(): replace(BIAS, jagged=jagged)})
    r = fit(t)
    expected = [("start", at()), ("width", at((32, 16))), ("depth", at((16, 8, 8))),
                ("epochs", at(epochs=2 * EPOCHS))] + ([("lr", at(lr=LR / 3))] if jagged else [])
    assert tried(r) == expected
    assert outcomes(r)[1:] == [(f"rejected: dev 20.0% against experiment 1's 20.0%, {NOISE}: a bias knob must "
                                "buy a gain beyond it")] * (len(expected) - 1)
    assert r.best_experiment_.id == 1
    longer = r.experiments_[3]
    assert t.calls[3].warm is r.experiments_[0].net and t.calls[3].epochs == EPOCHS       # only the missing ones
    assert (longer.epochs, longer.trained_epochs) == (EPOCHS, 2 * EPOCHS)
    assert longer.why == BIAS_WHY + "train twice as long"
    assert r.record_["spent_epochs"] == EPOCHS * len(expected) + EPOCHS      # + experiment 1's refit on train+dev
    smooth = [] if jagged else ["a smaller learning rate: not tried, J of experiment 1 fell smoothly"]
    assert policy_lines(r) == smooth + ["stop: high bias, and no bias knob of the recipe is left to turn"]
    assert "experiment 2 (avoidable bias 20.0% > 2.0%: twice as wide): train 10.00%, dev 20.00% → high bias and " \
           "high variance" in r.decisions_
    assert "final_note" not in r.record_                    # a given baseline has no interval to explain with
    if jagged:
        assert r.experiments_[4].why == BIAS_WHY + "J is jagged: Adam with a third of the learning rate"


LOWER = "no more dev errors and a lower dev cost (0.5 < 1)"


@pytest.mark.parametrize("knobs, start, candidate, where, outcome, best", [
    # a bias knob: only a gain beyond dev's noise keeps it
    ([Wider(max_units=32)], BIAS, Out(0.10, 7, dev_cost=0.5), at((32, 16)),
     f"rejected: dev 17.5% against experiment 1's 20.0%, {NOISE}: a bias knob must buy a gain beyond it", 1),
    ([Wider(max_units=32)], BIAS, Out(0.10, 2), at((32, 16)),
     f"kept: dev 5.0% against experiment 1's 20.0%, {BEYOND}", 2),
    ([Wider(max_units=32)], BIAS, Out(0.10, rows(8, 10)), at((32, 16)),                 # 8 rows won, 2 lost
     ("rejected: dev 5.0% against experiment 1's 20.0%, within dev's noise (McNemar p = 0.11): a bias knob "
      "must buy a gain beyond it"), 1),
    ([Wider(max_units=32)], BIAS, Out(0.10, 14), at((32, 16)),
     "rejected: dev 35.0% against experiment 1's 20.0%, worse beyond dev's noise (McNemar p = 0.031)", 1),
    # a variance knob: beyond the noise, or within it with no more dev errors at a lower dev cost
    ([L2Grid(grid=(0.1,))], VAR, Out(0.0, 7), at(l2=0.1),
     f"rejected: dev 17.5% against experiment 1's 20.0%, {NOISE}, at a dev cost not lower (1 ≥ 1)", 1),
    ([L2Grid(grid=(0.1,))], VAR, Out(0.0, 7, dev_cost=0.5), at(l2=0.1),
     f"kept: dev 17.5% against experiment 1's 20.0%, {NOISE}, {LOWER}", 2),
    ([L2Grid(grid=(0.1,))], VAR, Out(0.0, 9, dev_cost=0.5), at(l2=0.1),
     f"rejected: dev 22.5% against experiment 1's 20.0%, {NOISE}, but with more dev errors", 1),
    ([L2Grid(grid=(0.1,))], VAR, Out(0.0, 2), at(l2=0.1),
     f"kept: dev 5.0% against experiment 1's 20.0%, {BEYOND}", 2),
    ([L2Grid(grid=(0.1,))], VAR, Out(0.0, rows(8, 10), dev_cost=0.5), at(l2=0.1),
     f"kept: dev 5.0% against experiment 1's 20.0%, within dev's noise (McNemar p = 0.11), {LOWER}", 2),
], ids=["bias-one-row", "bias-six-rows", "bias-same-count-other-rows", "bias-worse", "variance-one-row",
        "variance-one-row-cheaper", "variance-one-more-cheaper", "variance-six-rows", "variance-other-rows-cheaper"])
def test_the_paired_comparison_decides(knobs, start, candidate, where, outcome, best):
    """A one-row dev difference does not change the incumbent, a large one does; two candidates with the
    same dev error (the first 2 rows wrong, or rows 8 and 9) are judged on the rows they disagree on."""
    r = fit(ScriptedTrainer(start, {where: candidate}), knobs=knobs)
    assert len(r.split_.dev) == N_DEV
    assert tried(r)[1][1] == where and r.experiments_[1].outcome == outcome
    assert f"experiment 2 {outcome}" in r.decisions_
    assert r.best_experiment_.id == best


def test_width_kept_is_tried_again_and_longer_warms_the_new_incumbent():
    t = ScriptedTrainer(Out(0.40, 16), {at((32, 16)): Out(0.25, 8), at((64, 32)): Out(0.10, 2),
                                        at((128, 64)): Out(0.05, 2, dev_cost=0.1)})
    r = fit(t)
    assert tried(r) == [("start", at()), ("width", at((32, 16))), ("width", at((64, 32))),
                        ("width", at((128, 64))), ("depth", at((64, 32, 32))),
                        ("epochs", at((64, 32), epochs=2 * EPOCHS))]
    worse = "rejected: dev 40.0% against experiment 3's 5.0%, worse beyond dev's noise (McNemar p = 0.00012)"
    assert outcomes(r) == [
        "the first incumbent",
        "kept: dev 20.0% against experiment 1's 40.0%, better beyond dev's noise (McNemar p = 0.0078)",
        f"kept: dev 5.0% against experiment 2's 20.0%, {BEYOND}",
        f"rejected: dev 5.0% against experiment 3's 5.0%, {NOISE}: a bias knob must buy a gain beyond it",  # cheaper
        worse, worse]
    assert r.best_experiment_.id == 3 and r.best_dev_error_ == dev(2)
    assert t.calls[5].warm is r.experiments_[2].net and t.calls[5].epochs == EPOCHS
    assert r.experiments_[4].why.startswith("avoidable bias 10.0% > 2.0%: ")
    assert policy_lines(r) == ["a smaller learning rate: not tried, J of experiment 3 fell smoothly",
                               "stop: high bias, and no bias knob of the recipe is left to turn"]


@pytest.mark.parametrize("knob, start, table, grown, skip", [
    (Wider(max_units=32), BIAS, {at((32, 16)): Out(0.10, 2)}, [("width", at((32, 16)))],
     "a wider network: not tried, the widest hidden layer already has 32 units (the knob's maximum is 32)"),
    (Deeper(), Out(0.40, 16), {at((16, 8, 8)): Out(0.10, 8), at((16, 8, 8, 8)): Out(0.05, 2)},
     [("depth", at((16, 8, 8))), ("depth", at((16, 8, 8, 8)))],
     "a deeper network: not tried, the network already has 4 hidden layers (the knob's maximum is 4)"),
], ids=["width", "depth"])
def test_a_growing_knob_is_repeated_until_its_maximum(knob, start, table, grown, skip):
    r = fit(ScriptedTrainer(start, table), knobs=[knob])
    assert tried(r) == [("start", at())] + grown
    assert all(e.outcome.startswith("kept: ") and "better beyond dev's noise" in e.outcome
               for e in r.experiments_[1:])
    assert r.best_experiment_.id == len(grown) + 1
    assert policy_lines(r) == [skip, "stop: high bias, and no bias knob of the recipe is left to turn"]


@pytest.mark.parametrize("start, longer, lines", [
    (BIAS, [("epochs", at(epochs=2 * EPOCHS))], [UNCONFIRMED]),
    (replace(BIAS, epochs=EPOCHS // 2), [],
     [f"train longer: not tried, experiment 1 stopped on a plateau of J after {EPOCHS // 2} of {EPOCHS} epochs",
      "stop: high bias, and no bias knob of the recipe is left to turn"]),
], ids=["kept", "plateau"])
def test_longer_warm_starts_or_skips_after_a_plateau(start, longer, lines):
    t = ScriptedTrainer(start, {at(epochs=2 * EPOCHS): GOOD})
    r = fit(t, knobs=[Longer()])
    assert tried(r) == [("start", at())] + longer
    assert policy_lines(r) == lines
    if longer:
        assert (t.calls[1].warm, t.calls[1].epochs) == (r.experiments_[0].net, EPOCHS)
        assert r.best_experiment_.id == 2 and r.best_experiment_.trained_epochs == 2 * EPOCHS
        assert r.experiments_[1].outcome == \
            "kept: dev 0.0% against experiment 1's 20.0%, better beyond dev's noise (McNemar p = 0.0078)"
        assert r.record_["spent_epochs"] == 2 * EPOCHS + 2 * EPOCHS        # + the refit of its 2·EPOCHS from scratch
    else:
        assert r.experiments_[0].stopped and r.experiments_[0].stop_reason == "plateau"
        assert r.experiments_[0].trained_epochs == EPOCHS // 2


@pytest.mark.parametrize("jagged, lines", [
    (True, [UNCONFIRMED]),
    (False, ["a smaller learning rate: not tried, J of experiment 1 fell smoothly",
             "stop: high bias, and no bias knob of the recipe is left to turn"]),
], ids=["jagged", "smooth"])
def test_smaller_learning_rate_only_when_cost_is_jagged(jagged, lines):
    r = fit(ScriptedTrainer(replace(BIAS, jagged=jagged), {at(lr=LR / 3): GOOD}), knobs=[SmallerLearningRate()])
    assert tried(r) == [("start", at())] + ([("lr", at(lr=LR / 3))] if jagged else [])
    assert policy_lines(r) == lines


@pytest.mark.parametrize("variance_knob, regularized", [
    ("l2", at(l2=0.1)), ("dropout", at(keep=0.9)),
])
def test_bias_from_regularization_turns_no_bias_knob(variance_knob, regularized):
    """L2 (or dropout) cures the variance beyond dev's noise but leaves avoidable bias: the bias knobs are
    not turned."""
    t = ScriptedTrainer(VAR, {regularized: Out(0.05, 2)})
    r = fit(t)
    grid = [("l2", at(l2=lam)) for lam in (0.01, 0.1, 0.3, 1.0, 3.0)]
    drop = [] if variance_knob == "l2" else [("dropout", at(keep=0.9)), ("dropout", at(keep=0.8))]
    assert tried(r) == [("start", at())] + grid + drop
    kept = [e for e in r.experiments_ if e.outcome.startswith("kept: ")]
    assert kept == [r.best_experiment_] and "better beyond dev's noise" in kept[0].outcome
    assert r.best_experiment_.config.regularized and key(r.best_experiment_.config) == regularized
    assert r.best_experiment_.diagnosis.case == "high bias"
    assert not {"width", "depth", "epochs", "lr"} & {e.knob for e in r.experiments_}
    assert policy_lines(r)[-2:] == [
        ("avoidable bias 5.0% comes with the regularization chosen for variance; a bigger network would only buy "
         "back what λ or dropout took: bias knobs not turned (a wider network, a deeper network, train longer, "
         "a smaller learning rate)"),
        "stop: high bias, and no bias knob of the recipe is left to turn"]


@pytest.fixture(scope="module")
def variance_run():
    t = ScriptedTrainer(VAR, {
        at(l2=0.01): Out(0.0, 8, dev_cost=0.9),          # the same rows, cheaper: a tie, kept
        at(l2=0.1): Out(0.0, 7),                          # one dev error fewer, dearer: rejected
        at(l2=0.3): Out(0.0, 10, dev_cost=0.5),           # within the noise, cheaper, 2 more errors: rejected
        at(l2=1.0): Out(0.0, 2),                          # 6 rows better: kept beyond the noise
        at(l2=3.0): Out(0.10, 10),                        # 8 rows worse: rejected beyond the noise
        at(l2=1.0, keep=0.9): Out(0.0, (1,), dev_cost=0.5),   # dropout on λ = 1: one row fewer, cheaper: kept
        at(l2=1.0, keep=0.9, share=0.5): Out(0.0, 0),     # the learning curve: lower, never kept
    })
    return t, fit(t)


def test_high_variance_turns_every_variance_knob_in_order(variance_run):
    """L2 grid (ties broken by dev cost), dropout on the chosen λ, augmentation skipped on a table, and a
    learning curve whose lower dev error is never kept."""
    t, r = variance_run
    assert tried(r) == [("start", at())] + [("l2", at(l2=lam)) for lam in (0.01, 0.1, 0.3, 1.0, 3.0)] + [
        ("dropout", at(l2=1.0, keep=0.9)), ("dropout", at(l2=1.0, keep=0.8)),
        ("data", at(l2=1.0, keep=0.9, share=0.5))]
    assert outcomes(r) == [
        "the first incumbent",
        f"kept: dev 20.0% against experiment 1's 20.0%, {NOISE}, no more dev errors and a lower dev cost (0.9 < 1)",
        f"rejected: dev 17.5% against experiment 2's 20.0%, {NOISE}, at a dev cost not lower (1 ≥ 0.9)",
        ("rejected: dev 25.0% against experiment 2's 20.0%, within dev's noise (McNemar p = 0.5), but with more dev "
         "errors"),
        f"kept: dev 5.0% against experiment 2's 20.0%, {BEYOND}",
        "rejected: dev 25.0% against experiment 5's 5.0%, worse beyond dev's noise (McNemar p = 0.0078)",
        f"kept: dev 2.5% against experiment 5's 5.0%, {NOISE}, no more dev errors and a lower dev cost (0.5 < 1)",
        "rejected: dev 20.0% against experiment 7's 2.5%, worse beyond dev's noise (McNemar p = 0.016)",
        "a measurement, never kept"]
    assert r.best_experiment_.id == 7 and r.best_dev_error_ == dev(1)
    assert r.experiments_[8].dev_error < r.best_dev_error_
    assert t.calls[8].n_train == len(r.split_.train) // 2 and t.calls[8].config.epochs == EPOCHS
    assert r.record_["lambda_sweep"] == [
        {"l2": lam, "train_error": e.train_error, "dev_error": e.dev_error, "experiment": e.id}
        for lam, e in zip((0.01, 0.1, 0.3, 1.0, 3.0), r.experiments_[1:6])]
    assert [s["experiment"] for s in r.record_["lambda_sweep"]] == [2, 3, 4, 5, 6]
    verdict = "more data is unlikely to help much: doubling train changed dev error by +2.5%"
    assert r.record_["learning_curve"] == {"sizes": [60, 120], "train_error": [0.0, 0.0],
                                           "dev_error": [dev(0), dev(1)], "verdict": verdict}
    assert policy_lines(r) == [
        "data augmentation: not tried, the rows are a table, not images: rotations and zooms do not apply",
        verdict, "stop: high variance, and no variance knob of the recipe is left to turn"]
    # every keep or reject is a line of the trail, as in the record
    assert [d for d in r.decisions_ if d.startswith("experiment ") and (" kept" in d or " rejected" in d or
                                                                         "measurement" in d)] == \
        [f"experiment {e.id} {e.outcome}" for e in r.experiments_[1:]]
    assert r.experiments_[1].why == "variance 20.0% > 2.0%: L2 λ = 0.01 (log grid, picked on dev)"
    assert r.experiments_[6].why == "variance 5.0% > 2.0%: dropout keep_prob 0.9"
    assert r.experiments_[8].why == "variance 2.5% > 2.0%: learning curve at 50% of train"


def test_a_tie_won_on_dev_cost_says_so(variance_run):
    _, r = variance_run
    assert "lower dev cost" in r.experiments_[1].outcome and "within dev's noise" in r.experiments_[1].outcome


def test_the_final_line_claims_no_lowest_dev_error_it_does_not_have(variance_run):
    _, r = variance_run
    lowest = min(e.dev_error for e in r.experiments_)
    assert "lowest dev error" not in r.decisions_[-1] or r.best_dev_error_ == lowest


@pytest.mark.parametrize("curve, verdict", [
    (Out(0.0, 8), "more data would help: doubling train from 60 to 120 cut dev error by 10.0%"),
    (Out(0.0, 3), "more data is unlikely to help much: doubling train changed dev error by +2.5%"),
    (Out(0.0, 4), "more data is unlikely to help much: doubling train changed dev error by +0.0%"),
], ids=["falling", "rising", "unchanged"])
def test_learning_curve_verdict(curve, verdict):
    r = fit(ScriptedTrainer(Out(0.0, 4), {at(share=0.5): curve}), knobs=[LearningCurve()])
    assert tried(r) == [("start", at()), ("data", at(share=0.5))]
    assert r.best_experiment_.id == 1 and r.experiments_[1].outcome == "a measurement, never kept"
    assert r.record_["learning_curve"]["verdict"] == verdict
    assert policy_lines(r) == [verdict, "stop: high variance, and no variance knob of the recipe is left to turn"]


def test_learning_curve_trains_as_long_as_the_incumbent_did():
    plateau = EPOCHS * 5 // 12                     # a plateau stop before the first configuration's epochs
    t = ScriptedTrainer(Out(0.0, 4, epochs=plateau))
    r = fit(t, knobs=[LearningCurve()])
    assert tried(r) == [("start", at()), ("data", at(epochs=plateau, share=0.5))]
    assert t.calls[1].epochs == plateau


class AugmentAgain(Augment):
    name = "augment2"


@pytest.mark.parametrize("X, augments, lines, n", [
    (X_TAB, True, [("data augmentation: not tried, the rows are a table, not images: rotations and zooms do not "
                    "apply")] * 2, 1),
    (X_IMG, False, ["data augmentation: not tried, this trainer does not augment"] * 2, 1),
    (X_IMG, True, ["data augmentation: not tried, experiment 2 already trains on augmented images"], 2),
], ids=["table", "images-no-augments", "images"])
def test_augment(X, augments, lines, n):
    hidden = H if X.ndim == 2 else H_IMG
    t = ScriptedTrainer(VAR, {at(hidden, augment=True): Out(0.0, 2)}, augments=augments)
    r = fit(t, X=X, knobs=[Augment(), AugmentAgain()])
    assert tried(r) == [("start", at(hidden)), ("augment", at(hidden, augment=True))][:n]
    assert r.best_experiment_.id == n
    if n == 2:
        assert r.experiments_[1].outcome == f"kept: dev 5.0% against experiment 1's 20.0%, {BEYOND}"
        assert t.calls[1].shape == (len(r.split_.train), 8, 8)          # images, not rows, to augment
    assert policy_lines(r)[:-1] == lines
    assert policy_lines(r)[-1] == "stop: high variance, and no variance knob of the recipe is left to turn"


def test_bias_knobs_come_first_whatever_the_list_order():
    t = ScriptedTrainer(Out(0.10, 12))                     # high bias and high variance
    r = fit(t, knobs=[L2Grid(grid=(0.1,)), Wider(max_units=16)])
    assert tried(r) == [("start", at()), ("l2", at(l2=0.1))]
    assert policy_lines(r) == [
        "a wider network: not tried, the widest hidden layer already has 16 units (the knob's maximum is 16)",
        "stop: high bias and high variance, and no bias or variance knob of the recipe is left to turn"]


def test_no_knob_left():
    r = fit(ScriptedTrainer(VAR), knobs=[])
    assert tried(r) == [("start", at())]
    assert policy_lines(r) == ["stop: high variance, and no variance knob of the recipe is left to turn"]
    assert r.record_["knobs"] == []


# ---- the budget -------------------------------------------------------------------------------
def test_candidates_past_the_budget_are_skipped():
    """The first experiment fits the budget; what remains (two thirds of its epochs) fits no candidate."""
    budget = EPOCHS + EPOCHS * 2 // 3
    t = ScriptedTrainer(replace(BIAS, jagged=True))
    r = fit(t, budget=budget)
    assert tried(r) == [("start", at())]
    past = f"{EPOCHS} more epochs would pass the budget of {budget}"
    assert policy_lines(r) == [
        f"skipped ({BIAS_WHY}twice as wide): {past}",
        f"skipped ({BIAS_WHY}one more hidden layer): {past}",
        f"skipped ({BIAS_WHY}train twice as long): {past}",
        f"skipped ({BIAS_WHY}J is jagged: Adam with a third of the learning rate): {past}",
        (f"stop: high bias, and the budget of {budget} epochs is spent: the knobs left need more than the "
         f"{budget - EPOCHS} epochs that remain")]


def test_a_budget_used_up_stops_the_loop():
    r = fit(ScriptedTrainer(BIAS), budget=2 * EPOCHS)
    assert tried(r) == [("start", at()), ("width", at((32, 16)))]
    assert policy_lines(r) == [f"stop: the budget of {2 * EPOCHS} epochs is spent"]
    assert r.record_["spent_epochs"] == 2 * EPOCHS + EPOCHS                  # the refit on train+dev comes on top


def test_a_budget_below_the_first_epochs_cuts_the_first_experiment():
    assert 100 < EPOCHS
    t = ScriptedTrainer(BIAS)
    r = fit(t, budget=100)
    assert tried(r) == [("start", at(epochs=100))] and t.calls[0].epochs == 100
    assert r.experiments_[0].why == "a He-initialized ReLU network sized from the data, cut to the budget of 100 epochs"
    assert policy_lines(r) == ["stop: the budget of 100 epochs is spent"]


# ---- knobs of one's own -----------------------------------------------------------------------
class Wider3(nr.Knob):
    """The docstring's example: a user's own knob in a dozen lines."""
    name, kind = "wider3", "bias"

    def propose(self, incumbent, diagnosis, context):
        hidden = incumbent.config.hidden
        if max(hidden) >= 1024:
            return nr.Skip(f"the widest layer already has {max(hidden)} units")
        wide = tuple(3 * h for h in hidden)
        return [nr.Candidate(replace(incumbent.config, hidden=wide), "three times as wide")]


class Never(nr.Knob):
    name, kind = "never", "variance"

    def propose(self, incumbent, diagnosis, context):
        return nr.Skip("the moon is not full")


def test_a_users_knob_runs_with_its_name():
    r = fit(ScriptedTrainer(BIAS, {at((48, 24)): GOOD}), knobs=[Wider3(), Never()])
    assert tried(r) == [("start", at()), ("wider3", at((48, 24)))]
    assert r.experiments_[1].why == BIAS_WHY + "three times as wide"
    assert r.best_experiment_.id == 2 and r.record_["knobs"] == ["wider3", "never"]
    # the good fit it reaches is not confirmed on 40 dev rows: the variance knob is turned, and skips
    assert policy_lines(r) == ["never: not tried, the moon is not full", UNCONFIRMED]


def test_a_users_knob_that_skips_leaves_its_reason():
    r = fit(ScriptedTrainer(VAR), knobs=[Never()])
    assert tried(r) == [("start", at())]
    assert policy_lines(r) == ["never: not tried, the moon is not full",
                               "stop: high variance, and no variance knob of the recipe is left to turn"]


def test_a_knob_with_no_candidate_leaves_a_line():
    r = fit(ScriptedTrainer(VAR), knobs=[Named("empty", kind="variance", proposal=[])])
    assert tried(r) == [("start", at())]
    assert policy_lines(r) == ["empty: not tried, it proposed no candidate",
                               "stop: high variance, and no variance knob of the recipe is left to turn"]


def test_a_knob_removed_from_the_defaults_is_not_turned():
    knobs = [k for k in nr.default_knobs() if k.name != "width"]
    r = fit(ScriptedTrainer(BIAS), knobs=knobs)
    assert tried(r) == [("start", at()), ("depth", at((16, 8, 8))), ("epochs", at(epochs=2 * EPOCHS))]
    assert r.record_["knobs"] == ["depth", "epochs", "lr", "l2", "dropout", "augment", "data"]


class Named(nr.Knob):
    def __init__(self, name, kind="bias", proposal=()):
        self.name, self.kind, self.proposal = name, kind, proposal

    def propose(self, incumbent, diagnosis, context):
        return self.proposal


@pytest.mark.parametrize("knobs, message, calls", [
    (5, "knobs must be a list of Knob objects; got int", 0),
    ([object()], "knobs must be Knob objects (a name and a propose method); got <object object", 0),
    ([Named("odd", kind="other")], "knob 'odd''s kind must be 'bias' or 'variance'; got 'other'", 0),
    ([Wider(), Wider(max_units=64)], "knobs must be knobs with distinct names; got width more than once", 0),
    ([Named("start")], "a knob's name must be anything but 'start' (the first experiment); got 'start'", 0),
    ([Named("bad", proposal=42)], "knob 'bad''s propose must be a list of nr.Candidate or an nr.Skip; got 42", 1),
], ids=["not-a-list", "not-a-knob", "kind", "duplicate", "start", "propose"])
def test_bad_knobs_raise(knobs, message, calls):
    t = ScriptedTrainer(BIAS)
    with pytest.raises(nr.NNRecipeError) as err:
        nr.Recipe(trainer=t, knobs=knobs, baseline_error=0.0, cv=0, verbose=0).fit(X_TAB, Y)
    assert str(err.value).startswith(message)
    assert len(t.calls) == calls                  # the list is checked before any training


def test_propose_returning_configs_instead_of_candidates_raises_nnrecipe_error():
    class Configs(nr.Knob):
        name, kind = "configs", "bias"

        def propose(self, incumbent, diagnosis, context):
            return [replace(incumbent.config, hidden=(32, 16))]

    with pytest.raises(nr.NNRecipeError, match="configs"):
        nr.Recipe(trainer=ScriptedTrainer(BIAS), knobs=[Configs()], baseline_error=0.0, cv=0, verbose=0).fit(X_TAB, Y)


class DuckWider:
    """The Knob protocol without subclassing nr.Knob: name, kind, propose (conclude is optional)."""
    name, kind = "duck", "bias"

    def __init__(self, skip=False):
        self.skip = skip

    def propose(self, incumbent, diagnosis, context):
        if self.skip:
            return nr.Skip("it quacks")
        return [nr.Candidate(replace(incumbent.config, hidden=(32, 16)), "twice as wide")]


@pytest.mark.parametrize("skip", [False, True], ids=["kept", "skip"])
def test_a_duck_typed_knob_runs(skip):
    r = fit(ScriptedTrainer(BIAS, {at((32, 16)): GOOD}), knobs=[DuckWider(skip)])
    assert len(r.experiments_) == (1 if skip else 2)
    assert r.best_experiment_.id == len(r.experiments_)
    assert policy_lines(r)[-1] == ("stop: high bias, and no bias knob of the recipe is left to turn" if skip else
                                   UNCONFIRMED)


# ---- a user's network builder for the NumPy trainer --------------------------------------------
def test_a_builder_trains_for_real():
    built = []

    def builder(hidden, keep_prob, seed):
        built.append((hidden, keep_prob, seed))
        return nr.Network([*(nr.Dense(h, "relu") for h in hidden), nr.Dense(1, "sigmoid")], seed=seed)

    start = time.perf_counter()
    r = nr.Recipe(model=builder, budget=20, baseline_error=0.0, cv=0, verbose=0, seed=0).fit(X_TAB, Y)
    assert time.perf_counter() - start < 2
    assert built[0] == built[1] == (H, 1.0, 0) and len(built) == len(r.experiments_) + 1 == 2   # + the refit
    assert isinstance(r.best_, nr.Network) and [layer.units for layer in r.best_.layers] == [16, 8, 1]
    assert r.experiments_[0].trained_epochs <= 20 and len(r.experiments_[0].history["cost"]) <= 20
    assert 0 <= r.test_error_ <= 1 and r.predict(X_TAB[:5]).shape == (5,)


@pytest.mark.parametrize("builder, message", [
    (lambda hidden, keep_prob, seed: nr.Network([nr.Dense(4, "relu"), nr.Dense(1, "sigmoid")], input_dim=5),
     "model must be a network taking 2 inputs (the data's width); got input_dim 5"),
    (lambda hidden, keep_prob, seed: nr.Network([nr.Dense(4, "relu"), nr.Dense(2, "softmax")]),
     "model must be a network ending in Dense(1, 'sigmoid') for these classes; got Dense(2, 'softmax')"),
    (lambda hidden, keep_prob, seed: "a network",
     "model must be a builder returning an nr.Network; got str"),
], ids=["inputs", "outputs", "not-a-network"])
def test_a_wrong_builder_raises(builder, message):
    with pytest.raises(nr.NNRecipeError) as err:
        nr.Recipe(model=builder, budget=20, baseline_error=0.0, cv=0, verbose=0).fit(X_TAB, Y)
    assert str(err.value) == message


def test_model_and_trainer_both_given_raise():
    with pytest.raises(nr.NNRecipeError, match="give model .* or trainer, not both"):
        nr.Recipe(model=lambda h, k, s: None, trainer=ScriptedTrainer(GOOD), baseline_error=0.0, cv=0,
                  verbose=0).fit(X_TAB, Y)


# ---- run.json ---------------------------------------------------------------------------------
FINDING = {"epoch": 3, "message": "gradients vanish in W1", "repair": "check the init"}
RECORDED_PLATEAU = EPOCHS * 5 // 6                 # the recorded run's first experiment stops on a plateau


def _recorded_run(out):
    t = SavingTrainer(VAR, {at(): replace(VAR, epochs=RECORDED_PLATEAU, findings=(FINDING,)),
                            at(l2=0.1): Out(0.0, 2, dev_cost=0.5)})     # kept beyond dev's noise
    return t, fit(t, out=out, knobs=[L2Grid(grid=(0.1, 1.0)), LearningCurve()])


def test_run_json_round_trip(tmp_path):
    _t, r = _recorded_run(tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["version"] == 3 and record["final"]["experiment"] == r.best_experiment_.id == 2
    assert len(record["experiments"]) == len(r.experiments_) == 4
    for row, e in zip(record["experiments"], r.experiments_):
        assert nr.Experiment.from_dict(row).to_dict() == e.to_dict()
        assert row["outcome"] == e.outcome and row["stop_reason"] == e.stop_reason
    assert record["experiments"][0]["stop_reason"] == "plateau" and record["experiments"][1]["dev_cost"] == 0.5
    assert [row["outcome"] for row in record["experiments"]] == [
        "the first incumbent", f"kept: dev 5.0% against experiment 1's 20.0%, {BEYOND}",
        "rejected: dev 20.0% against experiment 2's 5.0%, worse beyond dev's noise (McNemar p = 0.031)",
        "a measurement, never kept"]
    assert record["baseline"] == {"estimate": 0.0, "method": "given"} and record["baseline_error"] == 0.0
    assert record["lambda_sweep"] == [{"l2": 0.1, "train_error": 0.0, "dev_error": dev(2), "experiment": 2},
                                      {"l2": 1.0, "train_error": 0.0, "dev_error": dev(8), "experiment": 3}]
    assert record["decisions"] == r.decisions_
    assert "gradient health, experiment 1, epoch 3: gradients vanish in W1 → check the init" in r.decisions_
    assert (tmp_path / "run" / "models" / "exp04.npz").exists() and (tmp_path / "run" / "model.npz").exists()


def _version_1(row):
    row = {k: v for k, v in row.items() if k not in ("dev_cost", "outcome", "stop_reason")}
    row["history"] = dict(row["history"], dev_cost=[*row["history"]["dev_cost"][:-1], 0.75])
    return row


def test_a_version_1_row_is_read(tmp_path):
    _, r = _recorded_run(tmp_path / "run")
    row = _version_1(r.experiments_[0].to_dict())
    e = nr.Experiment.from_dict(json.loads(json.dumps(row)))
    assert e.dev_cost == 0.75 and e.outcome is None and e.stop_reason is None
    assert e.config == r.experiments_[0].config and e.diagnosis == r.experiments_[0].diagnosis
    assert (e.id, e.knob, e.train_error, e.dev_error, e.trained_epochs, e.health) == (
        1, "start", 0.0, dev(8), RECORDED_PLATEAU, [FINDING])


def test_a_version_1_run_is_resumed_without_training(tmp_path):
    out = tmp_path / "run"
    _, first = _recorded_run(out)
    record = json.loads((out / "run.json").read_text())
    record["version"] = 1
    record["experiments"] = [_version_1(row) for row in record["experiments"]]
    (out / "run.json").write_text(json.dumps(record))
    t = SavingTrainer(VAR)                                          # a script that would choose otherwise
    r = fit(t, out=out, resume=True, knobs=[L2Grid(grid=(0.1, 1.0)), LearningCurve()])
    assert t.calls == []
    assert tried(r) == tried(first) and r.best_experiment_.id == 2
    assert [e.dev_cost for e in r.experiments_] == [0.75] * 4
    assert [e.outcome for e in r.experiments_] == [e.outcome for e in first.experiments_]
    assert json.loads((out / "run.json").read_text())["version"] == 3


# ---- the baseline: given, estimated ("auto", the default), or the fallback to 0 ---------------------
@dataclass(frozen=True)
class FakeBaseline:
    """What doctor.baseline.estimate_baseline returns, scripted."""
    estimate: float
    low: float
    high: float
    method: str = "a scripted k-NN estimate"
    note: str = "baseline: 15.0% (95% CI 10.0–22.0%), a scripted k-NN estimate"

    def to_dict(self):
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "method": self.method,
                "details": {"scripted": True}, "note": self.note, "subsampled": False}


def script_baseline(monkeypatch, answer):
    """Replace estimate_baseline with one that records its call and returns (or raises) `answer`."""
    calls = []

    def estimate_baseline(X_train, y_train, X_dev, y_dev, task, seed=0, **options):
        calls.append({"X_train": np.asarray(X_train), "y_train": np.asarray(y_train), "X_dev": np.asarray(X_dev),
                      "y_dev": np.asarray(y_dev), "task": task, "seed": seed})
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(baseline_module, "estimate_baseline", estimate_baseline)
    return calls


EXPLAINED = ("no avoidable bias left that the data can show: train 20.00% sits within the estimated irreducible "
             "error (10.00%–22.00%, a scripted k-NN estimate)")


@pytest.mark.parametrize("high, note", [(0.22, True), (0.18, False)], ids=["within", "above"])
def test_an_estimated_baseline_is_the_default_and_the_diagnosis_reads_against_it(monkeypatch, high, note):
    """baseline_error="auto" (not passed): estimated from the standardized training rows, its line right after
    the split's; avoidable bias is train − estimate. A run that ends on high bias with train error within the
    estimate's interval says no avoidable bias is left that the data can show."""
    found = FakeBaseline(0.15, 0.10, high)
    calls = script_baseline(monkeypatch, found)
    t = ScriptedTrainer(BIAS)
    r = fit(t, baseline_error=GIVEN)
    assert nr.Recipe().baseline_error == "auto"
    (call,) = calls
    assert call["task"] == "classification" and call["seed"] == 0
    assert call["X_train"].shape == (len(r.split_.train), 2) and call["X_dev"].shape == (N_DEV, 2)
    assert np.allclose(call["X_train"].mean(axis=0), 0) and np.allclose(call["X_train"].std(axis=0), 1)
    assert np.array_equal(call["y_train"], r.split_.train.y) and np.array_equal(call["y_dev"], r.split_.dev.y)
    assert np.allclose(call["X_dev"], r.standardizer_.transform(r.split_.dev.X))
    assert r.decisions_[2] == found.note and r.decisions_[3].startswith(MATCH)
    assert r.baseline_error_ == 0.15 and r.diagnosis_.baseline_error == 0.15
    assert r.record_["baseline_error"] == 0.15 and r.record_["baseline"] == found.to_dict()
    assert r.experiments_[1].why == "avoidable bias 5.0% > 2.0%: twice as wide"
    assert r.diagnosis_.case == "high bias"
    stop = ["a smaller learning rate: not tried, J of experiment 1 fell smoothly",
            "stop: high bias, and no bias knob of the recipe is left to turn"]
    if note:
        assert policy_lines(r) == stop + [EXPLAINED] and r.record_["final_note"] == EXPLAINED
    else:
        assert policy_lines(r) == stop and "final_note" not in r.record_


@pytest.mark.parametrize("high, note", [(0.22, True), (0.18, False)], ids=["within", "above"])
def test_a_run_that_ends_on_variance_with_dev_inside_the_irreducible_error_says_so(monkeypatch, high, note):
    """Train 0%, dev 8 of 40 (20%) against an estimate of 15% (10–`high`): high variance by the notes' gaps
    (dev − train 20 points), and no variance knob to turn; with dev inside the estimate's interval the end
    says no avoidable error is left that the data can show (train fits noise below the irreducible error)."""
    script_baseline(monkeypatch, FakeBaseline(0.15, 0.10, high))
    r = fit(ScriptedTrainer(VAR), baseline_error=GIVEN, knobs=[])
    assert r.diagnosis_.case == "high variance"
    said = ("no avoidable error left that the data can show: dev 20.00% sits within the estimated irreducible "
            f"error (10.00%–{100 * high:.2f}%, a scripted k-NN estimate)")
    stop = "stop: high variance, and no variance knob of the recipe is left to turn"
    if note:
        assert policy_lines(r) == [stop, said] and r.record_["final_note"] == said
    else:
        assert policy_lines(r) == [stop] and "final_note" not in r.record_


@pytest.mark.parametrize("wrong, lowered", [(4, True), (16, False)], ids=["beyond-noise", "within-noise"])
def test_a_dev_error_clearly_under_the_estimate_lowers_the_baseline(monkeypatch, wrong, lowered):
    """An estimate of 45% (35–55%); the first network gets `wrong` of 40 dev rows wrong. 4 (10%, Wilson's 95%
    interval up to 23.1%) is under the estimate beyond dev's noise: the baseline becomes 10%, said in the
    trail and run.json, and the diagnosis reads against it. 16 (40%, up to 55.4%) is not: nothing changes."""
    script_baseline(monkeypatch, FakeBaseline(0.45, 0.35, 0.55))
    r = fit(ScriptedTrainer(Out(0.0, wrong)), baseline_error=GIVEN, knobs=[])
    b = r.record_["baseline"]
    if lowered:
        assert r.baseline_error_ == r.record_["baseline_error"] == b["estimate"] == 0.1
        assert b["lowered_from"] == 0.45 and b["low"] == 0.1 and b["high"] == pytest.approx(0.2306, abs=1e-4)
        assert b["method"] == "experiment 1's dev error"
        assert ("experiment 1 reaches dev 10.0%, below the estimated baseline of 45.0% beyond dev's noise (its 95% "
                "interval ends at 23.1%): a reachable error bounds the irreducible one, so the baseline is now "
                "10.0%") in r.decisions_
        assert r.diagnosis_.baseline_error == 0.1 and r.diagnosis_.case == "high variance"
    else:
        assert r.baseline_error_ == 0.45 and "lowered_from" not in b and b["method"] == "a scripted k-NN estimate"
        assert not any("reaches dev" in line for line in r.decisions_)


def test_a_given_baseline_is_never_lowered():
    r = fit(ScriptedTrainer(Out(0.0, 4)), baseline_error=0.45, knobs=[])
    assert r.baseline_error_ == 0.45 and r.diagnosis_.baseline_error == 0.45


def test_a_good_fit_is_confirmed_against_the_estimated_baseline(monkeypatch):
    """Dev 6 of 40 (15%) against an estimate of 13%: the point estimates say good fit, but dev's interval
    reaches 29.1%, 16 points above the baseline: not confirmed."""
    script_baseline(monkeypatch, FakeBaseline(0.13, 0.08, 0.2))
    r = fit(ScriptedTrainer(Out(0.13, 6)), baseline_error="auto", knobs=[Wider()])
    assert r.diagnosis_.case == "good fit" and tried(r) == [("start", at())]
    assert policy_lines(r) == [("stop: good fit, both gaps within 2.0% of the baseline; not confirmed: dev's 95% "
                                "interval reaches 29.1% over 40 rows, more than 2.0% above the baseline")]


def test_a_baseline_that_cannot_be_estimated_falls_back_to_zero_with_a_warning(monkeypatch):
    calls = script_baseline(monkeypatch, nr.NNRecipeError("fewer than 30 training rows of class 1"))
    with pytest.warns(nr.BaselineWarning, match="could not be estimated") as caught:
        r = fit(ScriptedTrainer(BIAS), baseline_error="auto")
    assert len(calls) == 1 and caught[0].filename == __file__          # attributed to the caller, not the library
    sentence = ("the baseline error could not be estimated (fewer than 30 training rows of class 1); 0 is used: "
                "pass --baseline-error to give one")
    assert r.decisions_[2] == f"WARNING, {sentence}" and r.record_["warnings"] == [sentence]
    assert r.baseline_error_ == 0.0 and r.record_["baseline_error"] == 0.0
    assert r.record_["baseline"] == {"estimate": 0.0, "method": "fallback",
                                     "reason": "fewer than 30 training rows of class 1"}
    assert r.experiments_[1].why == BIAS_WHY + "twice as wide"                  # bias read against 0
    assert "final_note" not in r.record_                                        # no interval to explain with


def test_a_given_baseline_is_not_estimated(monkeypatch):
    calls = script_baseline(monkeypatch, AssertionError("a given baseline must not be estimated"))
    r = fit(ScriptedTrainer(BIAS), baseline_error=0.05)
    assert calls == [] and r.baseline_error_ == 0.05
    assert r.experiments_[1].why == "avoidable bias 15.0% > 2.0%: twice as wide"


# ---- a regression: the paired bootstrap of dev RMSEs ---------------------------------------------
@pytest.mark.parametrize("candidate, outcome, line", [
    (Out(0.0, 7), ("rejected: dev 0.4183 against experiment 1's 0.4472, within dev's noise (paired bootstrap "
                   "p = 0.74), at a dev cost not lower (1 ≥ 1)"),
     "stop: high variance, and no variance knob of the recipe is left to turn"),
    (Out(0.0, 1), ("kept: dev 0.1581 against experiment 1's 0.4472, better beyond dev's noise (paired bootstrap "
                   "p = 0)"),
     ("stop: good fit, both gaps within 0.2 of the baseline; not confirmed: dev's 95% interval reaches 0.2739 over "
      "40 rows, more than 0.2 above the baseline")),
], ids=["one-row", "seven-rows"])
def test_a_regression_candidate_is_judged_by_the_paired_bootstrap(candidate, outcome, line):
    """Dev rows missed by 1.0 (the first 8: RMSE 0.447): one row fewer is within the noise, seven fewer is
    beyond it; the good fit reached (RMSE 0.158) is not confirmed by the bootstrap's upper end on 40 rows."""
    t = ScriptedTrainer(VAR, {at(l2=0.1): candidate}, regresses=True)
    r = fit(t, y=Y_REG, tolerance=0.2, knobs=[L2Grid(grid=(0.1,))])
    assert r.target_.regression and len(r.split_.dev) == N_DEV
    assert tried(r) == [("start", at()), ("l2", at(l2=0.1))]
    assert r.experiments_[1].outcome == outcome
    assert r.best_experiment_.id == (2 if outcome.startswith("kept") else 1)
    assert policy_lines(r) == [line]


def test_a_regression_good_fit_is_confirmed_by_the_bootstrap():
    r = fit(ScriptedTrainer(GOOD, regresses=True), y=Y_REG, tolerance=0.2)
    assert tried(r) == [("start", at())]
    assert policy_lines(r) == [("stop: good fit, both gaps within 0.2 of the baseline, and dev's 95% interval "
                               "(up to 0) confirms it")]


# ---- cross-validation over train+dev (cv=k, or cv="auto" when dev cannot resolve the tolerance) ------------
POOL = 160                            # train+dev of the 200 rows: 120 + 40, five folds of 32


def _row_set(X):
    return {row.tobytes() for row in np.asarray(X, dtype=float)}


def test_cross_validation_trains_every_experiment_once_per_fold():
    """cv=5: each experiment is 5 trainer calls, each watching a fold of 32 rows and training on the other 128;
    the folds' dev rows are disjoint and cover train+dev. The out-of-fold error is the experiment's dev error
    (VAR: 8 of each fold's 32 rows wrong, 40 of 160), spent is every fold's epochs (call i stops i epochs
    short), and the run's spent epochs add the experiments' and the refit's."""
    t = ScriptedTrainer(VAR, {at(l2=0.1): Out(0.0, 2)}, stagger=1)
    r = fit(t, cv=5, knobs=[L2Grid(grid=(0.1,))])
    assert r.record_["cv"] == {"folds": 5, "rows": POOL, "reason": "cv=5"}
    assert len(r.split_.train) + len(r.split_.dev) == POOL
    assert ("cv=5: every decision uses 5-fold cross-validation over train+dev (160 rows; an experiment's dev error "
            "is its out-of-fold error), and the chosen configuration is refitted on all of them") in r.decisions_
    assert tried(r) == [("start", at()), ("l2", at(l2=0.1))]
    assert len(t.calls) == 2 * 5 + 1                                   # 5 per experiment, then the refit
    pool = _row_set(np.concatenate([r.split_.train.X, r.split_.dev.X]))
    assert len(pool) == POOL and not pool & _row_set(r.split_.test.X)          # the test set stays locked
    trained = [EPOCHS - i for i in range(len(t.calls))]
    for n, e in enumerate(r.experiments_):
        calls = t.calls[5 * n: 5 * n + 5]
        assert [key(c.config) for c in calls] == [key(e.config)] * 5 and all(c.warm is None for c in calls)
        assert [c.epochs for c in calls] == [EPOCHS] * 5
        assert [c.n_train for c in calls] == [POOL - POOL // 5] * 5
        assert [len(c.X_dev) for c in calls] == [POOL // 5] * 5
        folds = [_row_set(c.X_dev) for c in calls]
        assert sum(map(len, folds)) == POOL and set().union(*folds) == pool                 # disjoint, covering
        for c, fold in zip(calls, folds):
            assert not _row_set(c.X) & fold and _row_set(c.X) | fold == pool
        assert e.folds == 5 and isinstance(e.net, FoldModels) and len(e.net.models) == 5
        assert e.spent == sum(trained[5 * n: 5 * n + 5]) and e.epochs == trained[5 * n]      # the longest fold
    assert [e.dev_error for e in r.experiments_] == [40 / POOL, 10 / POOL]
    assert r.experiments_[1].outcome.startswith(
        "kept: dev 6.2% against experiment 1's 25.0%, better beyond dev's noise")
    refit = r.record_["final"]["refit"]["epochs"]
    assert refit == trained[-1]
    assert r.record_["spent_epochs"] == sum(e.spent for e in r.experiments_) + refit == sum(trained)


def test_a_cross_validated_choice_is_refitted_on_train_and_dev():
    """After the last experiment, one more trainer call: the chosen configuration from scratch on all 160 rows of
    train+dev, for its epochs. That model, not the chosen experiment's fold models, is the run's model and
    the one the test set is opened on."""
    t = ScriptedTrainer(VAR, {at(l2=0.1): Out(0.0, 2)})
    r = fit(t, cv=5, knobs=[L2Grid(grid=(0.1, 1.0))])
    assert tried(r) == [("start", at()), ("l2", at(l2=0.1)), ("l2", at(l2=1.0))]
    assert r.best_experiment_.id == 2
    *folds, last = t.calls
    assert len(folds) == 5 * len(r.experiments_)
    assert key(last.config) == key(r.best_experiment_.config) and last.warm is None and last.epochs == EPOCHS
    assert last.n_train == len(r.split_.train) + len(r.split_.dev) == POOL and len(last.X_dev) == POOL
    assert r.best_ is not r.best_experiment_.net and r.best_.tag == len(t.calls)          # the refit's model
    assert all(r.best_ is not m for e in r.experiments_ for m in e.net.models)
    assert r.test_error_ == r.best_.test_error and r.best_.seen == (len(r.split_.test), 2)
    assert r.record_["final"]["refit"] == {"rows": POOL, "epochs": EPOCHS, "train_error": 0.0, "stop_reason": None}
    line = f"refitted experiment 2's configuration on all {POOL} rows of train+dev: {EPOCHS} epochs, train 0.0%"
    assert r.decisions_[-2:] == [line, r.decisions_[-1]] and r.decisions_[-1].startswith("chose experiment 2 ")
    assert r.record_["spent_epochs"] == 5 * EPOCHS * len(r.experiments_) + EPOCHS


def test_cv_auto_cross_validates_only_when_dev_cannot_resolve_the_tolerance():
    """The default: 40 dev rows at a baseline of 0 reach ± 4.4%, wider than 2%: K = 3 folds over train+dev; 200 dev
    rows reach ± 0.9%: decisions on dev, and a line that says so."""
    assert nr.Recipe().cv == "auto"
    t = ScriptedTrainer(GOOD)
    r = fit(t, cv="auto", knobs=[])
    assert r.record_["cv"]["folds"] == 3 and r.record_["cv"]["rows"] == POOL
    assert r.decisions_[2] == (
        "dev's 95% interval at the baseline of 0.0% is ± 4.4% over 40 rows, wider than the tolerance of 2.0%: every "
        "decision uses 3-fold cross-validation over train+dev (160 rows; an experiment's dev error is its "
        "out-of-fold error), and the chosen configuration is refitted on all of them")
    assert len(t.calls) == 3 + 1
    t = ScriptedTrainer(GOOD)
    r = fit(t, X=X_BIG, y=Y_BIG, cv="auto")
    assert r.record_["cv"] is None and len(t.calls) == 1 + 1 and r.best_ is not r.best_experiment_.net  # + refit
    assert r.decisions_[2] == ("decisions on dev: dev's 95% interval at the baseline of 0.0% is ± 0.9% over 200 "
                               "rows, within the tolerance of 2.0%")
    assert r.decisions_[3].startswith(MATCH) and r.decisions_[4].startswith("experiment 1 ")


@pytest.mark.parametrize("cv", [1, -1, "yes", True, 2.5], ids=["one", "negative", "string", "bool", "float"])
def test_a_bad_cv_raises_before_any_training(cv):
    t = ScriptedTrainer(GOOD)
    with pytest.raises(nr.NNRecipeError, match="cv") as err:
        nr.Recipe(trainer=t, cv=cv, baseline_error=0.0, verbose=0).fit(X_TAB, Y)
    assert str(err.value) == f'cv must be "auto", 0 (decide on dev) or a number of folds ≥ 2; got {cv!r}'
    assert t.calls == []


def test_a_bad_metric_raises_before_any_training():
    t = ScriptedTrainer(GOOD)
    with pytest.raises(nr.NNRecipeError, match="metric") as err:
        nr.Recipe(trainer=t, metric="nope", cv=0, baseline_error=0.0, verbose=0).fit(X_TAB, Y)
    assert "'nope'" in str(err.value)
    assert t.calls == []



# ---- the refit on train+dev when deciding on dev ---------------------------------------------------
def test_deciding_on_dev_refits_on_train_and_dev_only_when_dev_adds_enough_rows(monkeypatch):
    """60/20/20: dev adds a third of train's rows (≥ REFIT_SHARE): the chosen configuration is trained once
    more, from scratch, on train+dev (the rows of both, its full epochs), and that model is the one saved and
    tested. With a rule that asks for half, it is not: the chosen experiment's own network is."""
    import nnrecipe.recipe.loop as loop

    t = ScriptedTrainer(GOOD)
    r = fit(t, X=X_BIG, y=Y_BIG)
    refit = t.calls[-1]
    assert len(t.calls) == 2 and refit.warm is None and refit.epochs == r.best_experiment_.config.epochs
    assert refit.config == r.best_experiment_.config and refit.n_train == len(r.split_.train) + len(r.split_.dev) == 800
    assert r.record_["final"]["refit"]["rows"] == 800 and r.best_ is not r.best_experiment_.net
    monkeypatch.setattr(loop, "REFIT_SHARE", 0.5)
    t = ScriptedTrainer(GOOD)
    r = nr.Recipe(trainer=t, verbose=0, seed=0, baseline_error=0.0, cv=0).fit(X_BIG, Y_BIG)
    assert len(t.calls) == 1 and r.best_ is r.best_experiment_.net and "refit" not in r.record_["final"]
    assert not any(line.startswith("refitted") for line in r.decisions_)
