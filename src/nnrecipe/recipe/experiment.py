"""One experiment of the recipe: its configuration and its record.

`Config` is what a knob changes; `Experiment` is what training it gave. The same Experiment object
is the recipe's memory (`Recipe.experiments_`), a row of run.json (`to_dict`) and what `--resume`
reads back (`from_dict`, which also reads the version-1 rows of older run.json files).
"""

import json
import math
from dataclasses import asdict, dataclass, field, fields

from ..doctor.diagnose import Diagnosis


@dataclass(frozen=True)
class Config:
    """One experiment's settings (JSON-able). hidden: the hidden layers' widths; epochs: the total
    epochs the weights will have been trained (a warm start trains only the ones it lacks);
    batch_size None: full batch; train_share < 1: only that share of the training rows (the
    learning curve)."""
    hidden: tuple
    epochs: int
    batch_size: int | None
    lr: float = 0.01
    optimizer: str = "adam"
    activation: str = "relu"
    l2: float = 0.0
    keep_prob: float = 1.0
    augment: bool = False
    train_share: float = 1.0

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names} | {"hidden": tuple(d["hidden"])})

    def key(self):
        """A canonical string: two configurations with equal keys are the same experiment."""
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def regularized(self):
        return self.l2 > 0 or self.keep_prob < 1


@dataclass
class Experiment:
    """What one configuration gave.

    id : 1, 2, ... in the order trained; knob : the knob that proposed it ("start" for the first);
    why : the reason in words; history : per-epoch lists (cost, penalty, train_error, dev_cost,
    dev_error) of this experiment's own epochs; epochs : epochs trained by it; trained_epochs :
    the weights' total (with a warm start's parent's); train_error, dev_error, dev_cost : of the
    weights it kept (the last ones: the plateau rule never looks at dev), train on the rows it
    trained on; best_epoch : the epoch of the lowest dev error in history (a mark, not what was
    kept); diagnosis : against the run's baseline; gradient_epochs / gradient_norms : the gradient
    monitor's series; health : its findings (dicts); model : the model file, relative to the run
    folder; outcome : what the policy did with it, in words; kept : True for the chosen one; folds :
    0 when judged on dev, k when cross-validated over train+dev (errors are then the folds' mean train
    error and the out-of-fold error; model files models/expNN-foldI); spent : epochs over all its models
    (None: epochs). `net` (the trained model; a FoldModels when cross-validated) lives in memory only.
    """
    id: int
    knob: str
    why: str
    config: Config
    history: dict
    epochs: int
    trained_epochs: int
    train_error: float
    dev_error: float
    dev_cost: float
    diagnosis: Diagnosis
    stop_reason: str | None = None
    best_epoch: int | None = None
    gradient_epochs: list = field(default_factory=list)
    gradient_norms: dict = field(default_factory=dict)
    health: list = field(default_factory=list)
    model: str | None = None
    outcome: str | None = None
    kept: bool = False
    folds: int = 0
    spent: int | None = None
    plain_errors: dict | None = None
    net: object = field(default=None, repr=False, compare=False)

    @property
    def key(self):
        """(configuration key, epochs the weights had before, folds): the same configuration trained from
        other weights, or cross-validated instead of judged on dev, is another experiment."""
        return self.config.key(), self.trained_epochs - self.epochs, self.folds

    @property
    def stopped(self):
        """True when training ended before the configuration's epochs (a plateau, a divergence)."""
        return self.trained_epochs < self.config.epochs

    def to_dict(self):
        """The run.json row (version 3): JSON-able, without the model itself."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "net"}
        return d | {"config": asdict(self.config), "diagnosis": self.diagnosis.to_dict(),
                    "dev_cost": _finite(self.dev_cost)}

    @classmethod
    def from_dict(cls, d):
        """A run.json row of version 3, 2 (no folds, spent or plain_errors) or 1 (no dev_cost, stop_reason or outcome either)."""
        names = {f.name for f in fields(cls)} - {"net", "config", "diagnosis"}
        values = {k: v for k, v in d.items() if k in names}
        dev_cost = d.get("dev_cost")
        if dev_cost is None:                            # version 1: the last epoch's dev cost
            dev_cost = (d.get("history", {}).get("dev_cost") or [math.nan])[-1]
        diag = d.get("diagnosis") or {}
        return cls(**values | {"config": Config.from_dict(d["config"]), "dev_cost": _number(dev_cost),
                               "diagnosis": Diagnosis(**{f.name: diag[f.name] for f in fields(Diagnosis)
                                                         if f.name in diag} | {"next_steps": tuple(
                                                             diag.get("next_steps", ()))})})


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _number(value):
    return math.nan if value is None else float(value)
