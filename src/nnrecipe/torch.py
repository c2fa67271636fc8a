"""nnrecipe's discipline around PyTorch models (torch is imported only when this module is).

init_, gradcheck, GradientMonitor, EarlyStopping, diagnose: tools for any nn.Module and loop.
TorchTrainer, mlp_factory, is_main: training under the recipe, one process or DDP (torchrun).
fit: the recipe driving a torch model.
"""

from .adapters.torch import (
    Diagnosis,
    EarlyStopping,
    GradientMonitor,
    diagnose,
    gradcheck,
    init_,
)
from .adapters.torch_train import TorchModel, TorchTrainer, is_main, mlp_factory


def fit(model_factory, X, y, test=None, device=None, **recipe_options):
    """Run `nr.Recipe(**recipe_options)` on (X, y) with torch models from `model_factory(hidden,
    keep_prob) -> nn.Module` (logits: 1 output for two classes, k for k); the recipe turns width,
    depth, dropout and L2 (weight decay as λ/2m·Σ‖W‖²). Returns the fitted Recipe."""
    from .recipe import Recipe
    return Recipe(trainer=TorchTrainer(model_factory, device=device), **recipe_options).fit(X, y, test=test)


__all__ = ["Diagnosis", "EarlyStopping", "GradientMonitor", "TorchModel", "TorchTrainer", "diagnose", "fit",
           "gradcheck", "init_", "is_main", "mlp_factory"]
