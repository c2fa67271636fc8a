"""nnrecipe: the practical recipe for improving neural networks, as software."""

__version__ = "0.1.0"

from .data.normalize import Standardizer
from .data.split import Sizes, Split, Subset, split, split_by_key, split_sizes
from .engine.layers import Activation, Dense, Dropout, Layer
from .engine.network import Network, mlp
from .engine.optim import GD, Adam, Momentum, Optimizer
from .engine.serialize import load
from .errors import (
    DivergenceWarning,
    LeakageWarning,
    NNRecipeError,
    TestSetLocked,
    TestSetWarning,
)
from .gradcheck import GradcheckReport, gradcheck
from .training.callbacks import Callback, Checkpoint, EarlyStopping, Progress
from .training.fit import Run, fit
from .training.history import History

__all__ = [
    "GD", "Activation", "Adam", "Callback", "Checkpoint", "Dense", "DivergenceWarning", "Dropout",
    "EarlyStopping", "GradcheckReport", "History", "Layer", "LeakageWarning", "Momentum", "NNRecipeError",
    "Network", "Optimizer", "Progress", "Run", "Sizes", "Split", "Standardizer", "Subset", "TestSetLocked",
    "TestSetWarning", "__version__", "fit", "gradcheck", "load", "mlp", "split", "split_by_key", "split_sizes",
]
