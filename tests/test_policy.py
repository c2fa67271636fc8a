"""The recipe's policy (recipe/loop.py) with a scripted trainer: no training, every branch of the loop and
every knob, with the exact experiments trained, the one chosen and the decision trail.

The script maps a configuration to what "training" it gives: a train error rate, a number of dev errors
(k of n_dev, so that "one dev error fewer" is exact), a dev cost, the epochs trained (fewer than asked:
a plateau stop) and a smooth or jagged cost curve."""

import json
import time
from dataclasses import dataclass, replace

import numpy as np
import pytest

import nnrecipe as nr
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

_rng = np.random.default_rng(0)
X_TAB = _rng.normal(size=(200, 2))
X_IMG = _rng.normal(size=(200, 8, 8))
Y = (X_TAB[:, 0] + 0.3 * _rng.normal(size=200) > 0).astype(int)
H, H_IMG = (16, 8), (64, 32)          # the first configuration's hidden layers (2 features; 8x8 images)
LR = 0.01                             # and its learning rate (600 full-batch epochs: 120 training rows)
N_DEV = 40                            # 200 rows split 60/20/20; checked against r.split_ in test_good_fit

BIAS_WHY = "avoidable bias 20.0% > 2.0%: "
OUTCOMES = ("kept: ", "rejected: ", "a measurement, never kept", "the first incumbent")


# ---- the scripted trainer ---------------------------------------------------------------------
@dataclass(frozen=True)
class Out:
    """What training a configuration gives: train error rate, dev errors (of N_DEV), dev cost, the epochs
    trained (None: all asked; fewer: a plateau stop), J jagged or smooth, gradient findings."""
    train: float
    dev: int
    dev_cost: float = 1.0
    epochs: int | None = None
    jagged: bool = False
    findings: tuple = ()


GOOD = Out(0.0, 0)                    # good fit
BIAS = Out(0.20, 8)                   # train 20%, dev 20%: high bias only
VAR = Out(0.0, 8)                     # train 0%, dev 20%: high variance only


def key(cfg):
    return (tuple(cfg.hidden), cfg.l2, cfg.keep_prob, cfg.epochs, cfg.lr, cfg.train_share, cfg.augment)


def at(hidden=H, l2=0.0, keep=1.0, epochs=600, lr=LR, share=1.0, augment=False):
    """The script's key of a configuration (the first one's values unless given)."""
    return (tuple(hidden), l2, keep, epochs, lr, share, augment)


class FakeModel:
    """What the scripted trainer 'trains': a tag, a test error of its own, a file that holds both."""

    def __init__(self, tag, test_error):
        self.tag, self.test_error, self.seen = tag, test_error, None

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def error(self, X, y):
        self.seen = X.shape
        return self.test_error

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"tag": self.tag, "test_error": self.test_error}, f)


@dataclass
class Call:
    config: object
    epochs: int
    warm: object
    n_train: int
    shape: tuple


class ScriptedTrainer:
    """The Trainer protocol (augments, run) answering from a script: table[key(config)], else default."""

    def __init__(self, default, table=None, augments=False):
        self.default, self.table, self.augments, self.calls = default, dict(table or {}), augments, []

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        o = self.table.get(key(config), self.default)
        self.calls.append(Call(config, epochs, warm, len(data.y), data.X.shape))
        n = epochs if o.epochs is None else o.epochs
        cost = [1.0 - 1e-4 * i + (0.05 * (i % 2) if o.jagged else 0.0) for i in range(n)]
        dev = o.dev / len(data.y_dev)
        history = {"cost": cost, "penalty": [0.0] * n, "train_error": [o.train] * n,
                   "dev_cost": [o.dev_cost] * n, "dev_error": [dev] * n}
        model = FakeModel(len(self.calls), len(self.calls) / 1000)   # a test error of its own
        return Result(model, history, n, o.train, dev, o.dev_cost, "plateau" if n < epochs else None,
                      findings=[dict(f) for f in o.findings])


class SavingTrainer(ScriptedTrainer):
    """With the protocol's optional load: --resume reads its models back."""

    def load(self, path):
        with open(path) as f:
            d = json.load(f)
        return FakeModel(d["tag"], d["test_error"])


def fit(trainer, X=X_TAB, **options):
    """Recipe(...).fit with the checks every run must pass."""
    r = nr.Recipe(trainer=trainer, verbose=0, seed=0, **options).fit(X, Y)
    for e in r.experiments_:
        assert e.outcome is not None and e.outcome.startswith(OUTCOMES), (e.id, e.outcome)
    assert [e.outcome for e in r.experiments_][0] == "the first incumbent"
    assert [e.kept for e in r.experiments_].count(True) == 1 and r.best_experiment_.kept
    assert r.best_ is r.best_experiment_.net
    assert r.record_["final"]["experiment"] == r.best_experiment_.id
    assert r.test_error_ == r.best_.test_error
    if not options.get("resume"):                 # the test set opened once, on rows
        assert r.best_.seen == (len(r.split_.test), int(np.prod(X.shape[1:])))
    assert r.decisions_[-1].startswith(f"chose experiment {r.best_experiment_.id} ")
    assert r.decisions_[0].startswith("task: classification") and r.decisions_[1].startswith("split: ")
    return r


def tried(r):
    return [(e.knob, key(e.config)) for e in r.experiments_]


def policy_lines(r):
    """The trail between the data checks and the final choice, without the per-experiment lines."""
    return [d for d in r.decisions_[3:-1] if not d.startswith("experiment ")]


def dev(k):
    return k / N_DEV


# ---- the loop's branches ----------------------------------------------------------------------
def test_good_fit_at_start_trains_one_experiment():
    t = ScriptedTrainer(GOOD)
    r = fit(t)
    assert len(r.split_.dev) == N_DEV
    assert tried(r) == [("start", at())]
    assert t.calls[0].epochs == 600 and t.calls[0].warm is None and t.calls[0].n_train == len(r.split_.train)
    assert r.decisions_[3:] == [
        "experiment 1 (a He-initialized ReLU network sized from the data): train 0.00%, dev 0.00% → good fit",
        "stop: good fit, both gaps within 2.0% of the baseline",
        r.decisions_[-1]]
    assert r.best_experiment_.id == 1 and r.diagnosis_.case == "good fit"


@pytest.mark.parametrize("jagged", [False, True])
def test_high_bias_turns_every_bias_knob_in_order(jagged):
    """Nothing helps: width, depth, epochs (warm) and, when J is jagged, the learning rate, each
    rejected; a width with equal dev errors and a lower dev cost is rejected too (bias: no ties)."""
    t = ScriptedTrainer(BIAS, {at((32, 16)): Out(0.10, 8, dev_cost=0.5), at(): replace(BIAS, jagged=jagged)})
    r = fit(t)
    expected = [("start", at()), ("width", at((32, 16))), ("depth", at((16, 8, 8))),
                ("epochs", at(epochs=1200))] + ([("lr", at(lr=LR / 3))] if jagged else [])
    assert tried(r) == expected
    assert [e.outcome for e in r.experiments_[1:]] == \
        ["rejected: 8 dev errors of 40 as experiment 1 (a bias knob must remove dev errors)"] * (len(expected) - 1)
    assert r.best_experiment_.id == 1
    longer = r.experiments_[3]
    assert t.calls[3].warm is r.experiments_[0].net and t.calls[3].epochs == 600       # only the missing ones
    assert (longer.epochs, longer.trained_epochs) == (600, 1200)
    assert longer.why == BIAS_WHY + "train twice as long"
    assert r.record_["spent_epochs"] == 600 * len(expected)
    smooth = [] if jagged else ["a smaller learning rate: not tried, J of experiment 1 fell smoothly"]
    assert policy_lines(r) == smooth + ["stop: high bias, and no bias knob of the recipe is left to turn"]
    assert "experiment 2 (avoidable bias 20.0% > 2.0%: twice as wide): train 10.00%, dev 20.00% → high bias and " \
           "high variance" in r.decisions_
    if jagged:
        assert r.experiments_[4].why == BIAS_WHY + "J is jagged: Adam with a third of the learning rate"


def test_width_kept_is_tried_again_and_longer_warms_the_new_incumbent():
    t = ScriptedTrainer(BIAS, {at((32, 16)): Out(0.15, 6), at((64, 32)): Out(0.10, 4),
                               at((128, 64)): Out(0.05, 4, dev_cost=0.1)})
    r = fit(t)
    assert tried(r) == [("start", at()), ("width", at((32, 16))), ("width", at((64, 32))),
                        ("width", at((128, 64))), ("depth", at((64, 32, 32))), ("epochs", at((64, 32), epochs=1200))]
    assert [e.outcome for e in r.experiments_] == [
        "the first incumbent",
        "kept: 6 dev errors of 40, fewer than experiment 1's 8",
        "kept: 4 dev errors of 40, fewer than experiment 2's 6",
        "rejected: 4 dev errors of 40 as experiment 3 (a bias knob must remove dev errors)",   # cheaper, no matter
        "rejected: 8 dev errors of 40, more than experiment 3's 4",
        "rejected: 8 dev errors of 40, more than experiment 3's 4"]
    assert r.best_experiment_.id == 3 and r.best_dev_error_ == dev(4)
    assert t.calls[5].warm is r.experiments_[2].net and t.calls[5].epochs == 600
    assert r.experiments_[4].why.startswith("avoidable bias 10.0% > 2.0%: ")
    assert policy_lines(r) == ["a smaller learning rate: not tried, J of experiment 3 fell smoothly",
                               "stop: high bias, and no bias knob of the recipe is left to turn"]


@pytest.mark.parametrize("knob, table, grown, skip", [
    (Wider(max_units=32), {at((32, 16)): Out(0.10, 4)}, [("width", at((32, 16)))],
     "a wider network: not tried, the widest hidden layer already has 32 units (the knob's maximum is 32)"),
    (Deeper(), {at((16, 8, 8)): Out(0.10, 4), at((16, 8, 8, 8)): Out(0.05, 2)},
     [("depth", at((16, 8, 8))), ("depth", at((16, 8, 8, 8)))],
     "a deeper network: not tried, the network already has 4 hidden layers (the knob's maximum is 4)"),
], ids=["width", "depth"])
def test_a_growing_knob_is_repeated_until_its_maximum(knob, table, grown, skip):
    r = fit(ScriptedTrainer(BIAS, table), knobs=[knob])
    assert tried(r) == [("start", at())] + grown
    assert all(e.outcome.startswith("kept: ") for e in r.experiments_[1:])
    assert r.best_experiment_.id == len(grown) + 1
    assert policy_lines(r) == [skip, "stop: high bias, and no bias knob of the recipe is left to turn"]


@pytest.mark.parametrize("start, longer, lines", [
    (BIAS, [("epochs", at(epochs=1200))], ["stop: good fit, both gaps within 2.0% of the baseline"]),
    (replace(BIAS, epochs=300), [],
     ["train longer: not tried, experiment 1 stopped on a plateau of J after 300 of 600 epochs",
      "stop: high bias, and no bias knob of the recipe is left to turn"]),
], ids=["kept", "plateau"])
def test_longer_warm_starts_or_skips_after_a_plateau(start, longer, lines):
    t = ScriptedTrainer(start, {at(epochs=1200): GOOD})
    r = fit(t, knobs=[Longer()])
    assert tried(r) == [("start", at())] + longer
    assert policy_lines(r) == lines
    if longer:
        assert (t.calls[1].warm, t.calls[1].epochs) == (r.experiments_[0].net, 600)
        assert r.best_experiment_.id == 2 and r.best_experiment_.trained_epochs == 1200
        assert r.record_["spent_epochs"] == 1200
    else:
        assert r.experiments_[0].stopped and r.experiments_[0].stop_reason == "plateau"
        assert r.experiments_[0].trained_epochs == 300


@pytest.mark.parametrize("jagged, lines", [
    (True, ["stop: good fit, both gaps within 2.0% of the baseline"]),
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
    """L2 (or dropout) cures the variance but leaves avoidable bias: the bias knobs are not turned."""
    t = ScriptedTrainer(VAR, {regularized: Out(0.05, 2)})
    r = fit(t)
    grid = [("l2", at(l2=lam)) for lam in (0.01, 0.1, 0.3, 1.0, 3.0)]
    drop = [] if variance_knob == "l2" else [("dropout", at(keep=0.9)), ("dropout", at(keep=0.8))]
    assert tried(r) == [("start", at())] + grid + drop
    assert r.best_experiment_.config.regularized and key(r.best_experiment_.config) == regularized
    assert r.best_experiment_.diagnosis.case == "high bias"
    assert not {"width", "depth", "epochs", "lr"} & {e.knob for e in r.experiments_}
    assert policy_lines(r)[-2:] == [
        "avoidable bias 5.0% comes with the regularization chosen for variance; a bigger network would only buy "
        "back what λ or dropout took: bias knobs not turned (a wider network, a deeper network, train longer, "
        "a smaller learning rate)",
        "stop: high bias, and no bias knob of the recipe is left to turn"]


@pytest.fixture(scope="module")
def variance_run():
    t = ScriptedTrainer(VAR, {
        at(l2=0.01): Out(0.0, 8, dev_cost=0.9),          # a tie on dev, cheaper: kept
        at(l2=0.1): Out(0.0, 6),                          # one dev error fewer... two: kept
        at(l2=0.3): Out(0.0, 6, dev_cost=1.2),            # a tie, dearer: rejected
        at(l2=1.0): Out(0.01, 5),                         # kept
        at(l2=3.0): Out(0.10, 10),                        # rejected
        at(l2=1.0, keep=0.9): Out(0.01, 4),               # dropout on λ = 1: kept
        at(l2=1.0, keep=0.9, share=0.5): Out(0.0, 2),     # the learning curve: lower, never kept
    })
    return t, fit(t)


def test_high_variance_turns_every_variance_knob_in_order(variance_run):
    """L2 grid (ties broken by dev cost), dropout on the chosen λ, augmentation skipped on a table, and a
    learning curve whose lower dev error is never kept."""
    t, r = variance_run
    assert tried(r) == [("start", at())] + [("l2", at(l2=lam)) for lam in (0.01, 0.1, 0.3, 1.0, 3.0)] + [
        ("dropout", at(l2=1.0, keep=0.9)), ("dropout", at(l2=1.0, keep=0.8)),
        ("data", at(l2=1.0, keep=0.9, share=0.5))]
    assert [e.outcome for e in r.experiments_] == [
        "the first incumbent",
        "kept: 8 dev errors of 40 as experiment 1, at a lower dev cost (0.9 < 1)",
        "kept: 6 dev errors of 40, fewer than experiment 2's 8",
        "rejected: 6 dev errors of 40 as experiment 3, at a dev cost not lower (1.2 ≥ 1)",
        "kept: 5 dev errors of 40, fewer than experiment 3's 6",
        "rejected: 10 dev errors of 40, more than experiment 5's 5",
        "kept: 4 dev errors of 40, fewer than experiment 5's 5",
        "rejected: 8 dev errors of 40, more than experiment 7's 4",
        "a measurement, never kept"]
    assert r.best_experiment_.id == 7 and r.best_dev_error_ == dev(4)
    assert r.experiments_[8].dev_error < r.best_dev_error_
    assert t.calls[8].n_train == len(r.split_.train) // 2 and t.calls[8].config.epochs == 600
    assert r.record_["lambda_sweep"] == [
        {"l2": lam, "train_error": e.train_error, "dev_error": e.dev_error, "experiment": e.id}
        for lam, e in zip((0.01, 0.1, 0.3, 1.0, 3.0), r.experiments_[1:6])]
    assert [s["experiment"] for s in r.record_["lambda_sweep"]] == [2, 3, 4, 5, 6]
    verdict = "more data is unlikely to help much: doubling train changed dev error by +5.0%"
    assert r.record_["learning_curve"] == {"sizes": [60, 120], "train_error": [0.0, 0.01],
                                           "dev_error": [dev(2), dev(4)], "verdict": verdict}
    assert policy_lines(r) == [
        "data augmentation: not tried, the rows are a table, not images: rotations and zooms do not apply",
        verdict, "stop: high variance, and no variance knob of the recipe is left to turn"]
    # every keep or reject is a line of the trail, as in the record
    assert [d for d in r.decisions_ if d.startswith("experiment ") and (" kept" in d or " rejected" in d or
                                                                         "measurement" in d)] == \
        [f"experiment {e.id} {e.outcome}" for e in r.experiments_[1:]]
    assert r.experiments_[1].why == "variance 20.0% > 2.0%: L2 λ = 0.01 (log grid, picked on dev)"
    assert r.experiments_[6].why == "variance 11.5% > 2.0%: dropout keep_prob 0.9"


def test_a_tie_won_on_dev_cost_says_so(variance_run):
    _, r = variance_run
    assert "dev cost" in r.experiments_[1].outcome


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
    t = ScriptedTrainer(Out(0.0, 4, epochs=250))
    r = fit(t, knobs=[LearningCurve()])
    assert tried(r) == [("start", at()), ("data", at(epochs=250, share=0.5))]
    assert t.calls[1].epochs == 250


class AugmentAgain(Augment):
    name = "augment2"


@pytest.mark.parametrize("X, augments, lines, n", [
    (X_TAB, True, ["data augmentation: not tried, the rows are a table, not images: rotations and zooms do not "
                   "apply"] * 2, 1),
    (X_IMG, False, ["data augmentation: not tried, this trainer does not augment"] * 2, 1),
    (X_IMG, True, ["data augmentation: not tried, experiment 2 already trains on augmented images"], 2),
], ids=["table", "images-no-augments", "images"])
def test_augment(X, augments, lines, n):
    hidden = H if X.ndim == 2 else H_IMG
    t = ScriptedTrainer(VAR, {at(hidden, augment=True): Out(0.0, 4)}, augments=augments)
    r = fit(t, X=X, knobs=[Augment(), AugmentAgain()])
    assert tried(r) == [("start", at(hidden)), ("augment", at(hidden, augment=True))][:n]
    assert r.best_experiment_.id == n
    if n == 2:
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
    t = ScriptedTrainer(replace(BIAS, jagged=True))
    r = fit(t, budget=1000)
    assert tried(r) == [("start", at())]
    assert policy_lines(r) == [
        f"skipped ({BIAS_WHY}twice as wide): 600 more epochs would pass the budget of 1000",
        f"skipped ({BIAS_WHY}one more hidden layer): 600 more epochs would pass the budget of 1000",
        f"skipped ({BIAS_WHY}train twice as long): 600 more epochs would pass the budget of 1000",
        f"skipped ({BIAS_WHY}J is jagged: Adam with a third of the learning rate): 600 more epochs would pass "
        "the budget of 1000",
        "stop: high bias, and the budget of 1000 epochs is spent: the knobs left need more than the 400 epochs "
        "that remain"]


def test_a_budget_used_up_stops_the_loop():
    r = fit(ScriptedTrainer(BIAS), budget=1200)
    assert tried(r) == [("start", at()), ("width", at((32, 16)))]
    assert policy_lines(r) == ["stop: the budget of 1200 epochs is spent"]
    assert r.record_["spent_epochs"] == 1200


def test_a_budget_below_the_first_epochs_cuts_the_first_experiment():
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


def test_a_users_knob_that_skips_leaves_its_reason():
    r = fit(ScriptedTrainer(VAR), knobs=[Never()])
    assert tried(r) == [("start", at())]
    assert policy_lines(r) == ["never: not tried, the moon is not full",
                               "stop: high variance, and no variance knob of the recipe is left to turn"]


def test_a_knob_removed_from_the_defaults_is_not_turned():
    knobs = [k for k in nr.default_knobs() if k.name != "width"]
    r = fit(ScriptedTrainer(BIAS), knobs=knobs)
    assert tried(r) == [("start", at()), ("depth", at((16, 8, 8))), ("epochs", at(epochs=1200))]
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
        nr.Recipe(trainer=t, knobs=knobs, verbose=0).fit(X_TAB, Y)
    assert str(err.value).startswith(message)
    assert len(t.calls) == calls                  # the list is checked before any training


def test_propose_returning_configs_instead_of_candidates_raises_nnrecipe_error():
    class Configs(nr.Knob):
        name, kind = "configs", "bias"

        def propose(self, incumbent, diagnosis, context):
            return [replace(incumbent.config, hidden=(32, 16))]

    with pytest.raises(nr.NNRecipeError, match="configs"):
        nr.Recipe(trainer=ScriptedTrainer(BIAS), knobs=[Configs()], verbose=0).fit(X_TAB, Y)


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


# ---- a user's network builder for the NumPy trainer --------------------------------------------
def test_a_builder_trains_for_real():
    built = []

    def builder(hidden, keep_prob, seed):
        built.append((hidden, keep_prob, seed))
        return nr.Network([*(nr.Dense(h, "relu") for h in hidden), nr.Dense(1, "sigmoid")], seed=seed)

    start = time.perf_counter()
    r = nr.Recipe(model=builder, budget=20, verbose=0, seed=0).fit(X_TAB, Y)
    assert time.perf_counter() - start < 2
    assert built[0] == (H, 1.0, 0) and len(built) == len(r.experiments_) == 1
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
        nr.Recipe(model=builder, budget=20, verbose=0).fit(X_TAB, Y)
    assert str(err.value) == message


def test_model_and_trainer_both_given_raise():
    with pytest.raises(nr.NNRecipeError, match="give model .* or trainer, not both"):
        nr.Recipe(model=lambda h, k, s: None, trainer=ScriptedTrainer(GOOD), verbose=0).fit(X_TAB, Y)


# ---- run.json ---------------------------------------------------------------------------------
FINDING = {"epoch": 3, "message": "gradients vanish in W1", "repair": "check the init"}


def _recorded_run(out):
    t = SavingTrainer(VAR, {at(): replace(VAR, epochs=500, findings=(FINDING,)),
                            at(l2=0.1): Out(0.0, 4, dev_cost=0.5)})
    return t, fit(t, out=out, knobs=[L2Grid(grid=(0.1, 1.0)), LearningCurve()])


def test_run_json_round_trip(tmp_path):
    t, r = _recorded_run(tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["version"] == 2 and record["final"]["experiment"] == r.best_experiment_.id == 2
    assert len(record["experiments"]) == len(r.experiments_) == 4
    for row, e in zip(record["experiments"], r.experiments_):
        assert nr.Experiment.from_dict(row).to_dict() == e.to_dict()
        assert row["outcome"] == e.outcome and row["stop_reason"] == e.stop_reason
    assert record["experiments"][0]["stop_reason"] == "plateau" and record["experiments"][1]["dev_cost"] == 0.5
    assert record["lambda_sweep"] == [{"l2": 0.1, "train_error": 0.0, "dev_error": dev(4), "experiment": 2},
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
        1, "start", 0.0, dev(8), 500, [FINDING])


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
    assert json.loads((out / "run.json").read_text())["version"] == 2
