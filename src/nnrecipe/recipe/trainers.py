"""Trainers: turn one configuration into a trained model and what training showed.

The protocol (one method; `NumpyTrainer` and `nnrecipe.torch.TorchTrainer` implement it, and a
scripted trainer in the tests does too):

    trainer.run(config, data, epochs, seed, warm=None, verbose=0) -> Result

config : a Config; data : a TrainData; epochs : how many epochs to train now (a warm start trains
only the ones the warm model lacks); seed : the run's seed; warm : the model to start from, or None.
Optional: `augments` (True when the trainer can train on augmented images), `extension` (the model
file's suffix), `load(path)` (a saved model, or None when the trainer cannot read its files back:
`--resume` then trains that experiment again) and `save(model, path, classes, features)`.
"""

from dataclasses import dataclass, field

import numpy as np

from ..data import augment as aug
from ..doctor.health import GradientMonitor
from ..engine.network import Network, mlp
from ..engine.serialize import load
from ..errors import expect
from ..training.callbacks import plateau_stop
from ..training.fit import fit

FIELDS = ("cost", "penalty", "train_error", "dev_cost", "dev_error")


@dataclass(frozen=True)
class TrainData:
    """X (n, d) or images (n, H, W[, C]) and y (n,) class indices or values to train on; X_dev (n_dev, d)
    rows and y_dev (n_dev,) to watch; normalizer (transform(X) on rows, fitted on the training rows);
    n_out (1 for two classes or a regression, k for k classes); output: the last layer's activation,
    "sigmoid", "softmax" or "linear" (a regression: errors are then RMSE in the target's units);
    balanced: the run decides on the balanced error, so a trainer that can should predict the class
    that minimizes it (NumpyTrainer: a logit adjustment, see there)."""
    X: np.ndarray
    y: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    normalizer: object
    n_out: int
    output: str = ""
    balanced: bool = False

    def __post_init__(self):
        if not self.output:
            object.__setattr__(self, "output", "sigmoid" if self.n_out == 1 else "softmax")

    @property
    def rows(self):
        return self.X.reshape(len(self.X), -1)


@dataclass
class Result:
    """What one training gave. model : predicts class indices, error(X, y) a rate; history : the
    per-epoch lists of FIELDS for this call's epochs; epochs : epochs trained; stop_reason : None
    when it ran out of epochs; train_error (on the rows it trained on), dev_error, dev_cost : of the
    weights kept; gradient_epochs : the epoch of each gradient record; gradient_norms : parameter
    name -> one norm per record; findings : the gradient monitor's findings as dicts; spent : the
    epochs of every model trained (cross-validation trains one per fold), None: `epochs`."""
    model: object
    history: dict
    epochs: int
    train_error: float
    dev_error: float
    dev_cost: float
    stop_reason: str | None = None
    gradient_epochs: list = field(default_factory=list)
    gradient_norms: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)
    spent: int | None = None


class Trainer:
    """The protocol's base: no augmentation, .npz model files; without save/load the store writes with
    model.save(path) and never reads a model back."""
    augments = False
    extension = ".npz"

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        raise NotImplementedError


class NumpyTrainer(Trainer):
    """Trains nnrecipe networks with `nr.fit` (Adam or the configuration's optimizer), a plateau stop
    on J that never looks at dev, and a GradientMonitor.

    model : None (a He-initialized MLP of the configuration's widths), or a builder
        `model(hidden, keep_prob, seed) -> nr.Network` for the data's width and outputs (1 for two
        classes, k for k, 1 linear output for a regression). The recipe owns λ: it sets `net.l2` from
        the configuration.

    A regression trains on the standardized target t = (y − μ)/σ (μ, σ of the training target), so
    that one learning rate and one λ grid serve every target's scale, and then folds μ and σ into the
    last layer (W ← σ·W, b ← σ·b + μ): exact for a linear output, and the saved network predicts in
    the target's units. J and the dev cost are those of t; the history's errors are RMSE in y's units.

    With data.balanced, the trained classifier's logits are shifted by −log π_c (π_c the training rows'
    class shares; one sigmoid unit: −log(π₁/π₀)), folded into the last bias: the network then predicts
    argmax_c p(c | x)/π_c, the rule that minimizes the balanced error (post-hoc logit adjustment, Menon
    et al. 2021), where argmax_c p(c | x) minimizes the error rate. Its probabilities are those of
    balanced classes. A warm start takes the shift off before training on.
    """
    augments = regresses = True
    one_thread = True            # small networks: one BLAS thread each (recipe/executors.py)

    def __init__(self, model=None):
        expect(model is None or callable(model), "model", "None or a callable (hidden, keep_prob, seed) -> "
               "nr.Network", type(model).__name__)
        self.model = model

    def build(self, config, n_in, n_out, seed, output=None):
        """A fresh network for `config`, (n, n_in) → n_out outputs (`output`: the last activation)."""
        output = output or ("sigmoid" if n_out == 1 else "softmax")
        if self.model is None:
            return mlp([n_in, *config.hidden, n_out], hidden=config.activation, output=output, l2=config.l2,
                       keep_prob=config.keep_prob, seed=seed)
        net = self.model(tuple(config.hidden), config.keep_prob, seed)
        expect(isinstance(net, Network), "model", "a builder returning an nr.Network", type(net).__name__)
        if net.input_dim is None:
            net.build(n_in)
        expect(net.input_dim == n_in, "model", f"a network taking {n_in} inputs (the data's width)",
               f"input_dim {net.input_dim}")
        last = net.layers[-1]
        expect(last.units == n_out and last.activation == output, "model",
               f"a network ending in Dense({n_out}, {output!r}) for these classes",
               f"Dense({last.units}, {last.activation!r})")
        net.l2 = float(config.l2)
        return net

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        net = self.build(config, data.rows.shape[1], data.n_out, seed, data.output)
        net.normalizer = data.normalizer
        if warm is not None:
            net.set_weights(warm.get_weights())
        regression = data.output == "linear"
        mu, sigma = (float(np.mean(data.y)), float(np.std(data.y)) or 1.0) if regression else (0.0, 1.0)
        y, y_dev = ((data.y - mu) / sigma, (data.y_dev - mu) / sigma) if regression else (data.y, data.y_dev)
        if regression and warm is not None:
            _fold(net, 1 / sigma, -mu / sigma)           # back to the standardized target
        shift = _prior_shift(data.y, data.n_out) if data.balanced and not regression else None
        if shift is not None and warm is not None:
            _fold(net, 1.0, -shift)                      # back to the plain logits
        plateau = plateau_stop()
        monitor = GradientMonitor(data.rows, y, every=max(1, epochs // 30), seed=seed)
        h = fit(net, data.X if config.augment else data.rows, y, dev=(data.X_dev, y_dev),
                epochs=epochs, batch_size=config.batch_size, lr=config.lr, optimizer=config.optimizer,
                callbacks=[plateau, monitor], seed=seed, verbose=verbose,
                augment=aug.Compose([aug.Rotate(10), aug.Zoom(0.1)]) if config.augment else None)
        history = {k: [float(v) for v in getattr(h, k)] for k in FIELDS}
        error = (lambda X, t: float(net.error(X, t))) if not regression else \
            (lambda X, t: float(np.sqrt(net.error(X, t))))
        if shift is not None:
            _fold(net, 1.0, shift)                       # predicts the balanced-error rule
        if regression:
            _fold(net, sigma, mu)                        # predicts in the target's units
            for k in ("train_error", "dev_error"):      # MSE of t per epoch → RMSE of y
                history[k] = [sigma * float(np.sqrt(v)) for v in history[k]]
        dev_cost = history["dev_cost"][-1] if history["dev_cost"] else float("nan")   # no epoch: a blow-up at once
        return Result(net, history, len(h), error(data.rows, data.y), error(data.X_dev, data.y_dev), dev_cost,
                      h.stop_reason, list(monitor.epochs), monitor.grad_norms, [f.to_dict() for f in monitor.findings])

    def save(self, model, path, classes=None, features=None, preprocessor=None):
        """The model file also holds the labels, the column names and a raw table's preprocessor, so that
        nr.load(path).predict(raw rows) gives y's labels (in memory the networks keep predicting indices
        of prepared rows)."""
        model.classes, model.preprocessor = classes, preprocessor
        model.features = features if features is not None and len(features) == model.input_dim else None
        try:
            model.save(path)
        finally:
            model.classes = model.features = model.preprocessor = None

    def load(self, path):
        net = load(path)
        net.classes = net.features = net.preprocessor = None     # in memory: indices of prepared rows
        return net


def _prior_shift(y, n_out):
    """−log π_c of the class shares of y (n,) for n_out softmax units; −log(π₁/π₀) for one sigmoid unit.
    A class without rows counts as one row."""
    counts = np.maximum(np.bincount(np.asarray(y, dtype=np.int64), minlength=max(2, n_out)), 1)
    log_prior = np.log(counts / counts.sum())
    return -(log_prior[1] - log_prior[0]) if n_out == 1 else -log_prior


def _fold(net, scale, shift):
    """Make the linear output z become scale·z + shift, in place: W ← scale·W, b ← scale·b + shift of the
    last Dense layer (float64 arithmetic, stored in the network's dtype)."""
    last = net.layers[-1].params
    last["W"][...] = last["W"].astype(np.float64) * scale
    last["b"][...] = last["b"].astype(np.float64) * scale + shift
