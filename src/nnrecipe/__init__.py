"""nnrecipe: the practical recipe for improving neural networks, as software."""

from ._version import __version__
from .data import augment
from .data.io import Table, read_data, write_data
from .data.match import Match, check_match
from .data.normalize import Standardizer
from .data.split import Sizes, Split, Subset, split, split_by_key, split_sizes
from .data.stream import FileSplit, split_file
from .data.tables import TablePreprocessor
from .datasets import load_dataset
from .doctor.diagnose import Diagnosis, diagnose
from .doctor.health import Finding, GradientMonitor, HealthReport, health
from .engine.layers import Activation, Dense, Dropout, Layer
from .engine.network import Network, mlp
from .engine.optim import GD, Adam, Momentum, Optimizer
from .engine.serialize import load
from .errors import (
    BaselineWarning,
    DivergenceWarning,
    DropoutWarning,
    LeakageWarning,
    NNRecipeError,
    TestSetLocked,
    TestSetWarning,
)
from .gradcheck import GradcheckReport, gradcheck
from .recipe import (
    Candidate,
    Config,
    Experiment,
    Knob,
    Note,
    Recipe,
    Skip,
    Trainer,
    default_knobs,
)
from .training.callbacks import Callback, Checkpoint, EarlyStopping, Progress
from .training.fit import Run, fit
from .training.history import History

__all__ = [
    "GD",
    "Activation",
    "Adam",
    "BaselineWarning",
    "Callback",
    "Candidate",
    "Checkpoint",
    "Config",
    "Dense",
    "Diagnosis",
    "DivergenceWarning",
    "Dropout",
    "DropoutWarning",
    "EarlyStopping",
    "Experiment",
    "FileSplit",
    "Finding",
    "GradcheckReport",
    "GradientMonitor",
    "HealthReport",
    "History",
    "Knob",
    "Layer",
    "LeakageWarning",
    "Match",
    "Momentum",
    "NNRecipeError",
    "Note",
    "Network",
    "Optimizer",
    "Progress",
    "Recipe",
    "Run",
    "Sizes",
    "Skip",
    "Split",
    "Standardizer",
    "Subset",
    "Table",
    "TablePreprocessor",
    "TestSetLocked",
    "TestSetWarning",
    "Trainer",
    "__version__",
    "augment",
    "check_match",
    "default_knobs",
    "diagnose",
    "fit",
    "gradcheck",
    "health",
    "load",
    "load_dataset",
    "mlp",
    "read_data",
    "split",
    "split_by_key",
    "split_file",
    "split_sizes",
    "write_data",
]
