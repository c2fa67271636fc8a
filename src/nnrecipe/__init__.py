"""nnrecipe: the practical recipe for improving neural networks, as software."""

__version__ = "0.1.0"

from .engine.layers import Activation, Dense, Dropout, Layer
from .engine.network import Network, mlp
from .engine.optim import GD, Adam, Momentum, Optimizer
from .engine.serialize import load
from .errors import DivergenceWarning, NNRecipeError
from .training.callbacks import Callback, Checkpoint, EarlyStopping, Progress
from .training.fit import Run, fit
from .training.history import History
from .data.normalize import Standardizer
from .gradcheck import GradcheckReport, gradcheck

__all__ = ["Activation", "Dense", "Dropout", "Layer", "Network", "mlp", "GD", "Adam", "Momentum",
           "Optimizer", "load", "DivergenceWarning", "NNRecipeError", "Callback", "Checkpoint",
           "EarlyStopping", "Progress", "Run", "fit", "History", "Standardizer", "GradcheckReport", "gradcheck",
           "__version__"]
