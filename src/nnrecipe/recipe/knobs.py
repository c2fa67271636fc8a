"""Knobs: what the recipe may turn. A knob is a bias knob or a variance knob; for the incumbent (the
best experiment so far) and its diagnosis it proposes candidate configurations, each with a reason,
or says why it does not apply (`Skip`): that reason always enters the decision trail.

    class Wider3(Knob):                          # a user's own knob
        name, kind = "wider3", "bias"
        def propose(self, incumbent, diagnosis, context):
            hidden = incumbent.config.hidden
            if max(hidden) >= 1024:
                return Skip(f"the widest layer already has {max(hidden)} units")
            wide = tuple(3 * h for h in hidden)
            return [Candidate(replace(incumbent.config, hidden=wide), "three times as wide")]

    Recipe(knobs=[Wider3(), *default_knobs()])

The policy (recipe/loop.py) decides: it turns bias knobs while avoidable bias is high and variance
knobs while variance is high, in list order, trains each candidate, and keeps one only when dev says
it is better than the incumbent. A knob never trains, never sees the test set and keeps no state
between runs; `conclude` may sum up what its candidates showed (the λ sweep, the learning curve).
"""

from dataclasses import dataclass, replace

import numpy as np

from ..doctor.diagnose import show_error
from ..errors import NNRecipeError, expect

KINDS = ("bias", "variance")


@dataclass(frozen=True)
class Candidate:
    """A configuration to train. warm: continue from the incumbent's weights (only the epochs it
    lacks); compete: False for a measurement that must never replace the incumbent."""
    config: object
    why: str
    warm: bool = False
    compete: bool = True


@dataclass(frozen=True)
class Skip:
    """A knob that does not apply, and why (a clause: 'the network already has 4 hidden layers')."""
    reason: str


@dataclass(frozen=True)
class Note:
    """What a knob's candidates showed, for the record: record[key] = value, and a sentence for the
    decision trail (either may be None)."""
    key: str | None = None
    value: object = None
    sentence: str | None = None


@dataclass(frozen=True)
class Context:
    """What a knob may know of the run: the training and dev set sizes, the network's input and
    output widths, whether the rows are images, whether the trainer can augment, the tolerance, and
    the units of the errors (None: rates; "RMSE": a regression, in the target's units)."""
    n_train: int
    n_dev: int
    n_features: int
    n_out: int
    images: bool
    can_augment: bool
    tolerance: float
    units: str | None = None

    def show(self, value, signed=False):
        """An error or a gap in words: '8.2%' for rates, '3.912' in the target's units."""
        return show_error(value, None, signed, digits=1) if self.units is None else \
            f"{value:{'+' if signed else ''}.4g}"


class Knob:
    """The protocol. name: the short name in records ('width'); kind: 'bias' or 'variance'; title:
    the knob in words for the trail; repeat: turned again right away when it helped (grow the
    same way again)."""
    name = "knob"
    kind = "bias"
    title = None
    repeat = False

    def propose(self, incumbent, diagnosis, context):
        """A list of Candidate (possibly empty) or a Skip with the reason it does not apply."""
        raise NotImplementedError

    def conclude(self, incumbent, trained, context):
        """After its candidates: a Note, or None. trained: the Experiments they gave (skipped ones
        are missing); incumbent: the one they were compared with."""
        return None

    def __repr__(self):
        return f"{type(self).__name__}()"


def check_knobs(knobs):
    """knobs as a list, each with a name, a kind in KINDS and a propose method; names unique."""
    try:
        knobs = list(knobs)
    except TypeError:
        raise NNRecipeError(f"knobs must be a list of Knob objects; got {type(knobs).__name__}") from None
    for k in knobs:
        ok = callable(getattr(k, "propose", None)) and isinstance(getattr(k, "name", None), str)
        expect(ok, "knobs", "Knob objects (a name and a propose method)", repr(k))
        expect(getattr(k, "kind", None) in KINDS, f"knob {k.name!r}'s kind", "'bias' or 'variance'",
               repr(getattr(k, "kind", None)))
        expect(k.name != "start", "a knob's name", "anything but 'start' (the first experiment)", repr(k.name))
    names = [k.name for k in knobs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    expect(not dupes, "knobs", "knobs with distinct names", f"{', '.join(dupes)} more than once")
    return knobs


# ---- the notes' bias knobs --------------------------------------------------------------------
@dataclass
class Wider(Knob):
    """Twice as many units in every hidden layer, up to `max_units`."""
    name, kind, title, repeat = "width", "bias", "a wider network", True
    max_units: int = 512

    def propose(self, incumbent, diagnosis, context):
        hidden = incumbent.config.hidden
        if max(hidden) >= self.max_units:
            return Skip(f"the widest hidden layer already has {max(hidden)} units (the knob's maximum is "
                        f"{self.max_units})")
        wide = tuple(min(self.max_units, 2 * h) for h in hidden)
        return [Candidate(replace(incumbent.config, hidden=wide), "twice as wide")]


@dataclass
class Deeper(Knob):
    """One more hidden layer as wide as the last, up to `max_layers`."""
    name, kind, title, repeat = "depth", "bias", "a deeper network", True
    max_layers: int = 4

    def propose(self, incumbent, diagnosis, context):
        hidden = incumbent.config.hidden
        if len(hidden) >= self.max_layers:
            return Skip(f"the network already has {len(hidden)} hidden layers (the knob's maximum is "
                        f"{self.max_layers})")
        return [Candidate(replace(incumbent.config, hidden=(*hidden, hidden[-1])), "one more hidden layer")]


class Longer(Knob):
    """Twice the epochs, continuing the incumbent's weights; pointless when it stopped on a plateau."""
    name, kind, title = "epochs", "bias", "train longer"

    def propose(self, incumbent, diagnosis, context):
        if incumbent.stopped:
            return Skip(f"experiment {incumbent.id} stopped on a plateau of J after {incumbent.trained_epochs} "
                        f"of {incumbent.config.epochs} epochs")
        return [Candidate(replace(incumbent.config, epochs=2 * incumbent.config.epochs), "train twice as long",
                          warm=True)]


class SmallerLearningRate(Knob):
    """A third of the learning rate, when J is jagged: it rose in more than a tenth of the epochs of
    its second half, the notes' sign of a step too large for the curvature."""
    name, kind, title = "lr", "bias", "a smaller learning rate"

    def propose(self, incumbent, diagnosis, context):
        cost = incumbent.history.get("cost") or []
        tail = np.diff(np.asarray(cost[len(cost) // 2:], dtype=np.float64))
        if not (tail.size > 0 and np.mean(tail > 0) > 0.1):
            return Skip(f"J of experiment {incumbent.id} fell smoothly")
        cfg = incumbent.config
        return [Candidate(replace(cfg, lr=cfg.lr / 3), "J is jagged: Adam with a third of the learning rate")]


# ---- the notes' variance knobs ----------------------------------------------------------------
@dataclass
class L2Grid(Knob):
    """L2 at each λ of a log grid (half-decade steps where λ usually lands), picked on dev. (Looking
    further while the grid's largest λ won was measured on benchmarks/suite.py and made diabetes and
    Friedman #1 worse on test: dev's choice among large λ did not carry over.)"""
    name, kind, title = "l2", "variance", "L2 regularization"
    grid: tuple = (0.01, 0.1, 0.3, 1.0, 3.0)

    def propose(self, incumbent, diagnosis, context):
        return [Candidate(replace(incumbent.config, l2=lam), f"L2 λ = {lam:g} (log grid, picked on dev)")
                for lam in self.grid]

    def conclude(self, incumbent, trained, context):
        return Note("lambda_sweep", [{"l2": e.config.l2, "train_error": e.train_error, "dev_error": e.dev_error,
                                      "experiment": e.id} for e in trained])


@dataclass
class Dropout(Knob):
    """Inverted dropout on the hidden layers at each keep_prob."""
    name, kind, title = "dropout", "variance", "dropout"
    keep_probs: tuple = (0.9, 0.8)

    def propose(self, incumbent, diagnosis, context):
        return [Candidate(replace(incumbent.config, keep_prob=p), f"dropout keep_prob {p:g}")
                for p in self.keep_probs]


class Augment(Knob):
    """Image augmentation (small rotations and zooms); tables and trainers that cannot augment skip it."""
    name, kind, title = "augment", "variance", "data augmentation"

    def propose(self, incumbent, diagnosis, context):
        if not context.images:
            return Skip("the rows are a table, not images: rotations and zooms do not apply")
        if not context.can_augment:
            return Skip("this trainer does not augment")
        if incumbent.config.augment:
            return Skip(f"experiment {incumbent.id} already trains on augmented images")
        return [Candidate(replace(incumbent.config, augment=True), "augment images (rotate, zoom)")]


class LearningCurve(Knob):
    """Would more data help? Dev error with half of the training rows, as long as the incumbent
    trained: still falling with the last doubling means yes. A measurement: never kept."""
    name, kind, title = "data", "variance", "more data (a learning curve)"
    share = 0.5

    def propose(self, incumbent, diagnosis, context):
        cfg = replace(incumbent.config, epochs=incumbent.trained_epochs, train_share=self.share)
        return [Candidate(cfg, f"learning curve at {self.share:.0%} of train", compete=False)]

    def conclude(self, incumbent, trained, context):
        if not trained:
            return None
        points = [trained[0], incumbent]
        sizes = [round(context.n_train * self.share), context.n_train]
        gain = points[0].dev_error - points[1].dev_error          # what the last doubling of the data bought
        verdict = (f"more data would help: doubling train from {sizes[0]} to {sizes[1]} cut dev error by "
                   f"{context.show(gain)}" if gain > context.tolerance / 2 else
                   f"more data is unlikely to help much: doubling train changed dev error by "
                   f"{context.show(0.0 - gain, signed=True)}")
        curve = {"sizes": sizes, "train_error": [e.train_error for e in points],
                 "dev_error": [e.dev_error for e in points], "verdict": verdict}
        return Note("learning_curve", curve, verdict)


def default_knobs():
    """The notes' knobs in the notes' order: bias (wider, deeper, longer, learning rate), then
    variance (L2 grid, dropout, augmentation, the learning curve)."""
    return [Wider(), Deeper(), Longer(), SmallerLearningRate(), L2Grid(), Dropout(), Augment(), LearningCurve()]
