"""Train a torch model under the recipe: one process or several (DistributedDataParallel), CPU or CUDA.

The objective is nnrecipe's: J = (1/|B|)·Σ_B L + (λ/2m)·Σ‖W‖²_F over the weight matrices (never the
biases), m the training-set size, L binary cross-entropy on logits (one output) or cross-entropy
(k outputs). Under `torchrun` (torch.distributed initialized) every rank trains on its slice of each
batch and ends with the same weights and the same history as one process would; only rank 0 should
write files (`is_main()`). On a GPU the same code runs: tensors live on `device`, NumPy sees `.cpu()`.
"""

import math
import numbers
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .._checks import as_matrix, as_targets, one_of, positive, probability
from ..engine.serialize import atomic_write
from ..errors import DivergenceWarning, NNRecipeError, expect
from ..recipe.trainers import Result
from ..training.callbacks import (  # the recipe's plateau of J, the divergence rule of nr.fit
    PLATEAU_MIN_DELTA,
    PLATEAU_PATIENCE,
    Patience,
    cost_ceiling,
    diverged,
)
from .torch import GradientMonitor

KEYS = ("hidden", "keep_prob", "l2", "lr", "epochs", "batch_size", "optimizer")
FIELDS = ("cost", "penalty", "train_error", "dev_cost", "dev_error")
MOMENTUM = 0.9


def mlp_factory(n_in, n_out):
    """A model factory: make(hidden, keep_prob) -> nn.Sequential mapping (n, n_in) to (n, n_out) logits.

    Hidden layers are Linear → ReLU (→ Dropout(1 − keep_prob)), He-initialized (Var W = 2/fan_in);
    the last Linear is Xavier-initialized; biases start at zero. n_out = 1 for binary, k for k classes.
    """
    positive(n_in, "n_in", integer=True)
    positive(n_out, "n_out", integer=True)

    def make(hidden, keep_prob):
        layers, width = [], n_in
        for h in hidden:
            linear = nn.Linear(width, h)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")      # He: W ~ N(0, 2/fan_in)
            layers += [linear, nn.ReLU()] + ([nn.Dropout(1 - keep_prob)] if keep_prob < 1 else [])
            width = h
        layers.append(nn.Linear(width, n_out))
        nn.init.xavier_normal_(layers[-1].weight)                          # N(0, 2/(fan_in + fan_out))
        for layer in layers:
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.bias)
        return nn.Sequential(*layers)
    return make


def is_main():
    """True in a single process and on rank 0 of a distributed run: the one process that writes files."""
    return not _distributed() or dist.get_rank() == 0


def _distributed():
    return dist.is_available() and dist.is_initialized()


def l2_penalty(module, l2, m):
    """(λ/2m)·Σ‖W‖²_F over the parameters with ≥ 2 dimensions (weights; biases never): a 0-d tensor."""
    weights = [p for p in module.parameters() if p.ndim >= 2]
    if not l2 or not weights:
        return torch.zeros((), dtype=next(module.parameters()).dtype, device=next(module.parameters()).device)
    return (l2 / (2 * m)) * sum((W * W).sum() for W in weights)


def _loss_sum(z, y):
    """Σ L over a batch: z (n, 1) logits with BCE, or z (n, k) with cross-entropy; y (n,) int labels."""
    expect(z.ndim == 2, "model_factory", "a model whose output is (n, n_out) logits", f"shape {tuple(z.shape)}")
    if z.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(z[:, 0], y.to(z.dtype), reduction="sum")
    return F.cross_entropy(z, y, reduction="sum")


def _labels(z):
    """Predicted labels (n,) from logits (n, 1) (z > 0 ⇔ p > ½) or (n, k) (argmax)."""
    return (z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(1)


class TorchModel:
    """A trained nn.Module seen as a Network: X (n, d) NumPy → predict (n,) labels, error (a rate), save.
    `normalizer` (anything with transform(X)) is applied to every X, as Network.normalizer is."""

    def __init__(self, module, device, normalizer=None):
        self.module, self.device, self.normalizer = module, device, normalizer

    def _logits(self, X):
        X = as_matrix(X, "X")
        X = X if self.normalizer is None else self.normalizer.transform(X)
        self.module.eval()
        with torch.no_grad():
            return self.module(torch.as_tensor(X, dtype=next(self.module.parameters()).dtype, device=self.device))

    def predict(self, X):
        return _labels(self._logits(X)).cpu().numpy()

    def error(self, X, y):
        """Share of rows of (X (n, d), y (n,)) misclassified, in eval mode (no dropout), without gradients."""
        return float(np.mean(self.predict(X) != as_targets(y, len(X), "y")))

    def save(self, path):
        """torch.save of the state_dict (on the CPU), atomically (engine.serialize.atomic_write)."""
        state = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        atomic_write(path, lambda f: torch.save(state, f))


class TorchTrainer:
    """Trains model_factory(hidden: tuple, keep_prob: float) -> nn.Module on nnrecipe's objective.

    device : None picks cuda:LOCAL_RANK when CUDA is available, else the CPU.
    After train: epochs_run_ (epochs actually trained), stop_reason_ (None when it ran out of epochs).
    """

    def __init__(self, model_factory, device=None):
        expect(callable(model_factory), "model_factory", "a callable (hidden, keep_prob) -> nn.Module",
               type(model_factory).__name__)
        self.model_factory = model_factory
        if device is None:
            cuda = torch.cuda.is_available()
            device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if cuda else "cpu"
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise NNRecipeError(f"device must be None, 'cpu', 'cuda' or 'cuda:N'; got {device!r} ({exc})") from None

    extension, augments = ".pt", False          # the Trainer protocol (nnrecipe.recipe.trainers)

    @property
    def writes(self):
        """Only rank 0 of a distributed run writes the run folder."""
        return is_main()

    def run(self, config, data, epochs, seed, warm=None, verbose=0):
        """The recipe's Trainer protocol: train `config` (a Config) on a TrainData for `epochs` epochs, from
        `warm` (a TorchModel) when given; returns a Result whose gradient records carry the epoch of each
        recorded step, as the NumPy trainer's do."""
        model, history = self.train(asdict(config) | {"epochs": epochs}, data.rows, data.y, data.X_dev, data.y_dev,
                                    seed, normalizer=data.normalizer, warm=warm)
        watch = self.monitor_
        batches = 1 if config.batch_size is None else math.ceil(len(data.y) / config.batch_size)
        return Result(model, history, self.epochs_run_, model.error(data.rows, data.y),
                      model.error(data.X_dev, data.y_dev), history["dev_cost"][-1], self.stop_reason_,
                      [step // batches for step in watch.steps], watch.grad_norms,
                      [f.to_dict() for f in watch.findings])

    def train(self, cfg, X, y, X_dev, y_dev, seed, normalizer=None, warm=None):
        """Train on X (n, d), y (n,) int labels; evaluate X_dev, y_dev (or None) every epoch.

        cfg : {hidden, keep_prob, l2, lr, epochs, batch_size (None: full batch), optimizer "adam" | "gd"
        | "momentum"}; other keys are ignored. seed : init (torch.manual_seed) and shuffling.
        normalizer : optional, applied to X and X_dev and kept on the model. warm : a TorchModel to
        start from. Returns (TorchModel, history: dict of per-epoch float lists, FIELDS).
        Distributed: every rank passes the whole data set and the same seed; each trains on its share.
        """
        c = _config(cfg)
        expect(isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0, "seed",
               "an int ≥ 0", repr(seed))
        data = [_data(X, y, "X", "y", normalizer)]
        if X_dev is not None:
            data.append(_data(X_dev, y_dev, "X_dev", "y_dev", normalizer))
        torch.manual_seed(seed)                       # the initial weights (and dropout masks) follow the seed
        module = self.model_factory(c["hidden"], c["keep_prob"])
        expect(isinstance(module, nn.Module), "model_factory", "a callable returning an nn.Module",
               type(module).__name__)
        module.to(self.device)
        if warm is not None:
            module.load_state_dict(warm.module.state_dict())
        dtype = next(module.parameters()).dtype
        (Xt, yt), *dev = [(torch.as_tensor(a, dtype=dtype, device=self.device),
                           torch.as_tensor(b, dtype=torch.long, device=self.device)) for a, b in data]
        rank, world = (dist.get_rank(), dist.get_world_size()) if _distributed() else (0, 1)
        net = module
        if _distributed():
            net = DistributedDataParallel(module, device_ids=[self.device] if self.device.type == "cuda" else None)
        opt = _optimizer(c["optimizer"], module.parameters(), c["lr"])
        shuffle = torch.Generator().manual_seed(seed)  # the same permutation on every rank
        batches = 1 if c["batch_size"] is None else math.ceil(len(Xt) / c["batch_size"])
        watch = GradientMonitor(module, every=max(1, batches // 4))    # a few records per epoch
        m, history, plateau = len(Xt), {k: [] for k in FIELDS}, Patience(PLATEAU_PATIENCE, PLATEAU_MIN_DELTA)
        self.stop_reason_ = None
        for epoch in range(c["epochs"]):
            net.train()
            # Σ loss, Σ errors, Σ penalty·|B_r|, rows; then dev Σ loss, Σ errors, rows: summed over ranks below
            sums = torch.zeros(7, dtype=torch.float64, device=self.device)
            for batch in _batches(m, c["batch_size"], shuffle):
                # Rank r takes the slice [b·r/W, b·(r+1)/W) of the global batch B (b = |B|): the slices
                # partition B. Its local objective ℓ_r = W·(Σ_{B_r} L / b + (|B_r|/b)·P). DDP averages the
                # gradients over W ranks, so it applies (1/W)·Σ_r ∇ℓ_r = Σ_B ∇L / b + ∇P = ∇J exactly, even
                # when b is not divisible by W. With one process (W = 1, B_r = B): ℓ = mean loss + P = J.
                lo, hi = len(batch) * rank // world, len(batch) * (rank + 1) // world
                idx = batch[lo:hi].to(self.device)
                z = net(Xt[idx])
                loss, penalty = _loss_sum(z, yt[idx]), l2_penalty(module, c["l2"], m)
                opt.zero_grad(set_to_none=True)
                (world * (loss / len(batch) + (hi - lo) / len(batch) * penalty)).backward()
                watch.step()                          # after DDP's all-reduce: the same norms on every rank
                opt.step()
                sums[0] += loss.detach()
                sums[1] += (_labels(z.detach()) != yt[idx]).sum()
                sums[2] += penalty.detach() * (hi - lo)
                sums[3] += hi - lo
            if dev:
                sums[4:] += _evaluate(module, *dev[0], rank, world)
            if world > 1:
                dist.all_reduce(sums)                 # SUM: every rank now holds the same totals
            s = sums.tolist()
            # J of the epoch = (Σ loss + Σ_B P·|B|)/m: as nnrecipe's fit, the batches' J weighted by size
            logs = {"cost": (s[0] + s[2]) / s[3], "penalty": s[2] / s[3], "train_error": s[1] / s[3]}
            if dev:
                logs |= {"dev_cost": s[4] / s[6], "dev_error": s[5] / s[6]}
            for k, v in logs.items():
                history[k].append(float(v))
            watch.epoch_end(epoch)
            if diverged(logs["cost"], history["cost"][0]):     # the same rule on every rank: J is all-reduced
                above = "" if not math.isfinite(logs["cost"]) else f" (above {cost_ceiling(history['cost'][0]):.4g})"
                self.stop_reason_ = f"the cost became {logs['cost']:.4g}{above}: try a lower learning rate"
                warnings.warn(self.stop_reason_, DivergenceWarning, stacklevel=2)
                break
            plateau.update(logs["cost"])
            if plateau.exhausted:
                self.stop_reason_ = f"plateau: J gained less than {PLATEAU_MIN_DELTA:g} in {PLATEAU_PATIENCE} epochs"
                break
        self.epochs_run_ = len(history["cost"])
        watch.remove()
        self.monitor_ = watch
        return TorchModel(module, self.device, normalizer), history


def _evaluate(module, X, y, rank, world):
    """This rank's contiguous share of the dev rows: (Σ loss, Σ errors, rows), eval mode, no gradients."""
    lo, hi = len(X) * rank // world, len(X) * (rank + 1) // world
    module.eval()
    with torch.no_grad():
        z = module(X[lo:hi])
        return torch.stack([_loss_sum(z, y[lo:hi]).double(), (_labels(z) != y[lo:hi]).sum().double(),
                            torch.tensor(hi - lo, dtype=torch.float64, device=z.device)])


def _batches(m, batch_size, generator):
    """One epoch's global batches (CPU index tensors): all rows in order, or a shuffle cut into batches."""
    if batch_size is None or batch_size >= m:
        return [torch.arange(m)]
    return torch.randperm(m, generator=generator).split(batch_size)


def _optimizer(name, params, lr):
    if name == "adam":          # m̂/(√v̂ + ε) with bias correction, β₁ 0.9, β₂ 0.999: nnrecipe's Adam
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    if name == "momentum":      # the notes' v ← βv + (1−β)g, W ← W − αv; as V = v/(1−β): V ← βV + g
        return torch.optim.SGD(params, lr=lr * (1 - MOMENTUM), momentum=MOMENTUM)   # W ← W − α(1−β)V
    return torch.optim.SGD(params, lr=lr)


def _data(X, y, xname, yname, normalizer):
    X = as_matrix(X, xname)
    y = as_targets(y, len(X), yname)
    expect(y.ndim == 1 and np.array_equal(y, np.round(y)) and y.min() >= 0, yname,
           "class labels 0, 1, … of shape (n,)", f"shape {y.shape}, dtype {y.dtype}")
    return (X if normalizer is None else normalizer.transform(X)), y.astype(np.int64)


def _config(cfg):
    expect(isinstance(cfg, Mapping) and all(k in cfg for k in KEYS), "cfg", "a dict with keys " + ", ".join(KEYS),
           repr(cfg))
    hidden = cfg["hidden"]
    ok = isinstance(hidden, (tuple, list)) and all(isinstance(h, numbers.Integral) and h > 0 for h in hidden)
    expect(ok, "cfg['hidden']", "a tuple of positive ints", repr(hidden))
    expect(not cfg.get("augment"), "cfg['augment']", "False (TorchTrainer does not augment)", repr(cfg.get("augment")))
    if cfg["batch_size"] is not None:
        positive(cfg["batch_size"], "cfg['batch_size']", integer=True)
    return {"hidden": tuple(int(h) for h in hidden), "keep_prob": probability(cfg["keep_prob"], "cfg['keep_prob']"),
            "l2": float(positive(cfg["l2"], "cfg['l2']", allow_zero=True)), "lr": float(positive(cfg["lr"], "cfg['lr']")),
            "epochs": positive(cfg["epochs"], "cfg['epochs']", integer=True), "batch_size": cfg["batch_size"],
            "optimizer": one_of(cfg["optimizer"], "cfg['optimizer']", ("adam", "gd", "momentum"))}
