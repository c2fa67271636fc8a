"""The recipe's tools for PyTorch models: init, gradient checking, gradient health, early stopping.

    init_(model)                         He after the ReLU family, Xavier after tanh/sigmoid, biases 0
    gradcheck(model, inputs, ...)        central differences against autograd, nnrecipe's report
    GradientMonitor(model)               gradient norms per step, activation statistics, health rules
    EarlyStopping(patience=10)           keeps the best state_dict, restores it
    diagnose(train_error, dev_error)     bias or variance (nnrecipe.doctor.diagnose.diagnose)

Only users of this module import torch: `import nnrecipe` never does.

Which activation follows a layer is read from the module's structure: the leaf modules in the
order of `named_modules()` (an nn.Sequential's order; a custom module's registration order). From
each nn.Linear / nn.Conv1d/2d/3d the next leaf that is an activation module is its activation;
dropout, normalization, pooling, flatten and other leaves without parameters are skipped, and
another layer with parameters (or the end) means none. Activations called as functions inside
`forward` (F.relu) are not visible: such a layer counts as linear (pass `scheme=` to init_).
"""

import copy
import math
import numbers
import re
import weakref
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from .._checks import shown
from ..doctor.diagnose import Diagnosis, diagnose
from ..doctor.health import HealthReport, findings, gradient_ratio
from ..errors import NNRecipeError, expect
from ..gradcheck import check_problem
from ..training.callbacks import Patience

__all__ = ["Diagnosis", "EarlyStopping", "GradientMonitor", "diagnose", "gradcheck", "init_"]

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# The ReLU family (He) is tested before the squashing family: ReLU6 subclasses Hardtanh.
RELU_FAMILY = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.GELU, nn.SiLU,
               nn.Mish, nn.Softplus, nn.Hardswish)
# SELU is here on purpose: self-normalizing nets want LeCun's Var = 1/n_in, the notes' Xavier.
SQUASHING = (nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Softsign, nn.Hardsigmoid, nn.LogSigmoid, nn.Tanhshrink,
             nn.SELU, nn.Softmax, nn.LogSoftmax)
NORMALIZATION = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
SCHEMES = ("auto", "he", "xavier", "glorot")
FLUSH_EVERY = 1024        # recorded steps kept on the device before one read-back (else at epoch_end)

_INITS = weakref.WeakKeyDictionary()      # layer -> the scheme init_ gave it (read by GradientMonitor)


def _is_activation(m):
    return isinstance(m, RELU_FAMILY + SQUASHING)


def _activation_name(act):
    """The engine's name of an activation module ("relu", "leaky_relu", "tanh", "sigmoid"), else
    its class name in lower case; "linear" for none."""
    if act is None:
        return "linear"
    if isinstance(act, (nn.LeakyReLU, nn.PReLU, nn.RReLU)):
        return "leaky_relu"
    if isinstance(act, (nn.ReLU, nn.ReLU6)):
        return "relu"
    return {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}.get(type(act), type(act).__name__.lower())


def _weighted_layers(model):
    """[(name, layer, activation module or None)] for every Linear/Conv layer, in structure order."""
    leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    out = []
    for i, (name, layer) in enumerate(leaves):
        if not isinstance(layer, WEIGHTED):
            continue
        act = None
        for _, m in leaves[i + 1:]:
            if _is_activation(m):
                act = m
                break
            has_params = next(m.parameters(recurse=False), None) is not None
            if isinstance(m, WEIGHTED) or (has_params and not isinstance(m, NORMALIZATION)):
                break
        out.append((name or type(layer).__name__, layer, act))
    return out


def _require_module(model, argument):
    expect(isinstance(model, nn.Module), argument, "a torch.nn.Module", type(model).__name__)


# ---- initialization -------------------------------------------------------------------------------
def init_(model, scheme="auto"):
    """Initialize every nn.Linear / nn.Conv*d of `model` in place for the activation that follows it.

    "auto": He (Var W = 2/n_in: kaiming_normal_, fan_in; for leaky ReLU 2/((1 + a²)·n_in) with its
    slope a) after the ReLU family; Xavier as in the notes (Var W = 1/n_in, normal with std
    1/√fan_in) after tanh, sigmoid and for a layer with no activation (the output layer). "he",
    "xavier" or "glorot" (Var W = 2/(n_in + n_out), xavier_normal_) force one scheme. n_in is the
    fan-in: in_features, or in_channels/groups · kernel size. Biases are set to 0.

    Returns {layer name: scheme used} in structure order.
    """
    _require_module(model, "model")
    expect(scheme in SCHEMES, "scheme", "one of " + ", ".join(map(repr, SCHEMES)), repr(scheme))
    layers = _weighted_layers(model)
    expect(bool(layers), "model", "a module with at least one nn.Linear or nn.Conv1d/2d/3d", "none")
    used = {}
    with torch.no_grad():
        for name, layer, act in layers:
            chosen = scheme if scheme != "auto" else "he" if isinstance(act, RELU_FAMILY) else "xavier"
            if chosen == "he":
                slope = _slope(act)
                nn.init.kaiming_normal_(layer.weight, a=slope, mode="fan_in",
                                        nonlinearity="leaky_relu" if slope else "relu")
            elif chosen == "xavier":        # std = gain/√fan_in with gain 1: Var = 1/n_in
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="linear")
            else:
                nn.init.xavier_normal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
            _INITS[layer] = chosen
            used[name] = chosen
    return used


def _slope(act):
    """The negative slope of a leaky ReLU-like activation (0 for the others)."""
    if isinstance(act, nn.LeakyReLU):
        return float(act.negative_slope)
    if isinstance(act, nn.PReLU):
        return float(act.weight.detach().mean())
    if isinstance(act, nn.RReLU):
        return (act.lower + act.upper) / 2      # the slope it uses in eval mode
    return 0.0


# ---- gradient checking ---------------------------------------------------------------------------
class _TorchProblem:
    """J(θ) of a float64 copy of a model or function, in the protocol of nnrecipe.gradcheck.check_problem:
    theta0 (all checked tensors, flattened and concatenated), slices (name -> (offset, shape)),
    analytic (autograd's ∂J/∂θ, flat), cost(θ) -> ([J], kink pattern)."""

    def __init__(self, model, inputs, targets, loss, dropout, seed):
        self.loss, self.seed, self.frozen = loss, seed, dropout == "frozen"
        self.patterns, self._weights = [], None
        named = []
        if isinstance(model, nn.Module):
            self.call = copy.deepcopy(model).double()
            # Train mode: BatchNorm normalizes with the batch's statistics, as in training (a
            # deterministic function of θ; its running averages are never read). Dropout layers are
            # switched off, or frozen (kept on, the RNG reseeded before every evaluation).
            self.call.train()
            for m in self.call.modules():
                if isinstance(m, DROPOUT) and not self.frozen:
                    m.eval()
                if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ReLU6, nn.Hardtanh)):
                    m.register_forward_hook(self._pattern)
            named = [(n, p) for n, p in self.call.named_parameters() if p.requires_grad]
        elif isinstance(model, type) and issubclass(model, torch.autograd.Function):
            self.call = model.apply
        elif callable(model):
            self.call = model
        else:
            raise NNRecipeError("module_or_function must be a torch.nn.Module, a torch.autograd.Function "
                                f"subclass or a callable of tensors; got {type(model).__name__}")
        self.inputs = [_float64(x, "inputs") for x in inputs]
        self.targets = _float64(targets, "targets", grad=False)
        named += [(f"input{i}", x) for i, x in enumerate(self.inputs) if torch.is_tensor(x) and x.requires_grad]
        if not named:
            raise NNRecipeError("inputs must include a floating tensor with requires_grad=True (or the module "
                                "must have parameters that require grad); nothing to check")
        self.tensors = [t for _, t in named]
        J = self.objective()
        if not J.requires_grad:
            raise NNRecipeError("module_or_function must give an output that depends on the checked tensors; "
                                "got one that does not require grad")
        grads = torch.autograd.grad(J, self.tensors, allow_unused=True)
        self.analytic = _flat([torch.zeros_like(t) if g is None else g for g, t in zip(grads, self.tensors)])
        self.theta0 = _flat(self.tensors)
        self._current = self.theta0.copy()                 # what the tensors hold now
        self.slices, offset = {}, 0
        for name, t in named:
            self.slices[name] = (offset, tuple(t.shape))
            offset += t.numel()

    def _pattern(self, module, inputs, output):
        """The side of each kink every unit is on (ReLU: z > 0; ReLU6/Hardtanh: both ends)."""
        if isinstance(module, nn.Hardtanh):
            self.patterns.append(torch.stack((output > module.min_val, output < module.max_val)))
        else:
            self.patterns.append(output > 0)

    def objective(self):
        """The scalar J at the tensors' current values: loss(model(*inputs), targets), or Σ r ⊙ output
        with r ~ N(0, 1) drawn once from `seed` (a plain sum would pass a backward that ignores its
        incoming gradient)."""
        rng = torch.random.fork_rng(devices=self._cuda_devices()) if self.frozen else nullcontext()
        with rng:
            if self.frozen:
                torch.manual_seed(self.seed)          # the same dropout masks at every evaluation
            out = self.call(*self.inputs)
        if self.loss is not None:
            J = self.loss(out, self.targets) if self.targets is not None else self.loss(out)
            ok = torch.is_tensor(J) and J.numel() == 1
            expect(ok, "loss", "a callable returning a scalar tensor", f"{type(J).__name__}"
                   + (f" of shape {tuple(J.shape)}" if torch.is_tensor(J) else ""))
            return J.reshape(())
        outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
                if torch.is_tensor(o) and o.is_floating_point()]
        expect(bool(outs), "module_or_function", "a function returning floating tensors", type(out).__name__)
        if self._weights is None:
            g = torch.Generator().manual_seed(self.seed)
            self._weights = [torch.randn(o.shape, generator=g, dtype=torch.float64).to(o.device) for o in outs]
        return sum((o * r).sum() for o, r in zip(outs, self._weights))

    def _cuda_devices(self):
        return sorted({t.device.index or 0 for t in self.tensors if t.is_cuda})

    def cost(self, theta):
        """([J(θ)], kink pattern): θ is written into the tensors whose slice changed, J is evaluated
        without autograd."""
        with torch.no_grad():
            for (offset, shape), t in zip(self.slices.values(), self.tensors):
                part = theta[offset:offset + t.numel()]
                if not np.array_equal(part, self._current[offset:offset + t.numel()]):
                    t.copy_(torch.from_numpy(part.reshape(shape)))
                    self._current[offset:offset + t.numel()] = part
            self.patterns = []
            value = float(self.objective())
        return np.array([value]), self.patterns

    def l1_kinks(self, name, values, epsilon):
        return np.zeros(values.shape, bool)

    def batched(self, name, epsilon):
        return None                      # one coordinate at a time, two evaluations each


def _flat(tensors):
    """The tensors' values as one flat float64 NumPy vector (on the host)."""
    return np.concatenate([t.detach().cpu().numpy().ravel() for t in tensors])


def _float64(x, name, grad=True):
    """A float64 copy of a floating tensor or NumPy array (a leaf, requiring grad as a tensor x did;
    never for an array); a NumPy integer array as an integer tensor; anything else as is."""
    if isinstance(x, np.ndarray):
        expect(x.dtype.kind in "biuf", name, "tensors or numeric NumPy arrays", f"a NumPy array of dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if torch.is_tensor(x) and x.is_floating_point():
        return x.detach().to(torch.float64, copy=True).requires_grad_(grad and x.requires_grad)
    return x


def gradcheck(module_or_function, inputs, targets=None, loss=None, epsilon=1e-6, mode="full", dropout="off",
              seed=0, directions=3, samples=5):
    """Check autograd's gradients against central differences, (J(θ + ε·eᵢ) − J(θ − ε·eᵢ)) / 2ε.

    module_or_function : an nn.Module (its parameters that require grad are checked, named as in
        named_parameters()), a torch.autograd.Function subclass (its `apply`) or any callable of
        tensors; in every case also each input tensor with requires_grad=True, named "input0",
        "input1", ... by position.
    inputs : a tensor or a tuple of arguments; targets : passed to `loss`. NumPy arrays among them
        become tensors (floats in float64, not checked themselves).
    loss : loss(output, targets) -> scalar tensor (loss(output) without targets); None: J = Σ r ⊙
        output with a fixed r ~ N(0, 1) from `seed`.
    mode : "full" (every coordinate) or "fast" (`directions` random directions over all tensors and
        per tensor, plus `samples` random coordinates per tensor), as nnrecipe.gradcheck.
    dropout : "off" (Dropout modules in eval mode) or "frozen" (kept on, the global RNG reseeded
        with `seed` before every evaluation: the same masks each time). The rest of a module runs
        in train mode (BatchNorm with batch statistics).

    Runs on a float64 deep copy: the model and the inputs are left unchanged. A coordinate whose
    ±ε step moves a ReLU / leaky ReLU / ReLU6 module's input across its kink is left out and
    counted. Returns nnrecipe's GradcheckReport (difference, verdict "ok" ≤ 1e-7, "look" ≤ 1e-3,
    else "bug"; by_param, worst, at_fault; print it for the table).
    """
    ok = isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool) and 0 < epsilon < 1
    expect(ok, "epsilon", "a float in (0, 1)", shown(epsilon))
    expect(mode in ("full", "fast"), "mode", "'full' or 'fast'", repr(mode))
    expect(dropout in ("off", "frozen"), "dropout", "'off' or 'frozen'", repr(dropout))
    for value, name in ((seed, "seed"), (directions, "directions"), (samples, "samples")):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= (name != "seed")
        expect(ok, name, "an integer ≥ 0" if name == "seed" else "an integer ≥ 1", shown(value))
    expect(loss is None or callable(loss), "loss", "None or a callable (output, targets) -> scalar tensor",
           type(loss).__name__)
    expect(targets is None or loss is not None, "loss", "given when targets are", "None")
    inputs = (inputs,) if torch.is_tensor(inputs) or isinstance(inputs, np.ndarray) else inputs
    expect(isinstance(inputs, (tuple, list)), "inputs", "a tensor or a tuple of arguments", type(inputs).__name__)
    problem = _TorchProblem(module_or_function, inputs, targets, loss, dropout, int(seed))
    return check_problem(problem, float(epsilon), mode, seed, int(directions), int(samples))


# ---- gradient health -----------------------------------------------------------------------------
class GradientMonitor:
    """Gradient health of a torch model during training, with nnrecipe's rules (doctor.health).

        monitor = GradientMonitor(model)
        for epoch in ...:
            for xb, yb in batches:
                loss = loss_fn(model(xb), yb); loss.backward()
                monitor.step(loss)                      # after backward, before zero_grad
                opt.step(); opt.zero_grad()
            report = monitor.epoch_end(epoch)           # the rules; report.findings, print(report)
        monitor.remove()

    What is recorded how often:
    * every `every`-th step() (default 10: a trend at well under 1% of training time; every=1
      records each step for about 7% on a CPU MLP, see benchmarks/torch_monitor.py): the 2-norm of every parameter's gradient, in one torch._foreach_norm
      call, kept on the device (no host sync); the loss when given. Read back once per epoch (or
      every 1024 recorded steps, or when grad_norms is read).
    * on one step per epoch (the first training forward after construction or after epoch_end):
      forward hooks on each Linear/Conv layer's activation (the layer itself when none follows)
      record the mean and std of its output, the share of dead ReLU units (≤ 0 for every example
      and position of the batch) and of saturated tanh/sigmoid outputs (|tanh| > 0.99, sigmoid <
      0.01 or > 0.99). Only forwards with grad enabled count (not an evaluation under no_grad);
      the hooks are removed at the next step(), so the other steps run without any.
    * epoch_end: weight norms and NaN/inf counts of weights and gradients, then the rules, on rows
      named by each layer's weight parameter ("0.weight"): ‖∇W_first‖/‖∇W_last‖ uses the mean
      gradient norm over the epoch's recorded steps.

    Attributes: grad_norms (parameter name -> list, one value per recorded step), steps (their
    0-based step numbers), epochs, reports (one HealthReport per epoch_end), report (the last),
    findings (each rule and layer once, from the first epoch it fired, with that epoch).
    The monitor only reads: training with and without it gives the same weights.
    """

    def __init__(self, model, every=10):
        _require_module(model, "model")
        ok = isinstance(every, numbers.Integral) and not isinstance(every, bool) and every >= 1
        expect(ok, "every", "an integer ≥ 1", repr(every))
        self.model, self.every = model, int(every)
        self._params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        names = {id(p): n for n, p in self._params}
        self._layers = [(names[id(layer.weight)], layer, act) for _, layer, act in _weighted_layers(model)
                        if id(layer.weight) in names]
        expect(bool(self._layers), "model", "a module with a trainable nn.Linear or nn.Conv1d/2d/3d", "none")
        self._uniform = len({(p.device, p.dtype) for _, p in self._params}) == 1
        self._grad_norms = {n: [] for n, _ in self._params}
        self.steps, self.epochs, self.reports, self.findings = [], [], [], []
        self._count, self._pending, self._losses, self._epoch_start = 0, [], [], 0
        self._stats, self._handles, self._seen, self._removed = {}, [], set(), False
        self._arm()

    # -- activations, on one step per epoch --
    def _arm(self):
        for name, layer, act in self._layers:
            unit_dim = -1 if isinstance(layer, nn.Linear) else 1      # Linear: last dim; Conv: channels
            hook = self._stats_hook(name, _activation_name(act), unit_dim)
            self._handles.append((act if act is not None else layer).register_forward_hook(hook))

    def _stats_hook(self, name, activation, unit_dim):
        def hook(module, inputs, output):
            if not torch.is_grad_enabled() or not torch.is_tensor(output):
                return
            a = output.detach().float()
            std, mean = torch.std_mean(a, correction=0)
            nan = torch.full((), math.nan, device=a.device)
            dead = saturated = nan
            if activation in ("relu", "leaky_relu"):       # a unit is dead if ≤ 0 everywhere in the batch
                dead = (a <= 0).movedim(unit_dim, 0).reshape(a.shape[unit_dim], -1).all(1).float().mean()
            elif activation == "tanh":
                saturated = (a.abs() > 0.99).float().mean()
            elif activation == "sigmoid":
                saturated = ((a < 0.01) | (a > 0.99)).float().mean()
            self._stats[name] = torch.stack((mean, std, dead, saturated))
        return hook

    def _disarm(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # -- gradient norms, every `every` steps --
    def step(self, loss=None):
        """Call after loss.backward() (before the gradients are zeroed): records every `every`-th
        call's gradient norms, and `loss` (a scalar tensor or number) if given."""
        if self._handles and self._stats:
            self._disarm()                 # this step's forward was sampled
        self._count += 1
        if (self._count - 1) % self.every:
            return
        with torch.no_grad():
            grads = [p.grad if p.grad is not None else p.new_zeros(0) for _, p in self._params]
            norms = torch._foreach_norm(grads)             # ‖g‖₂ of every tensor, one call
            if not self._uniform:                          # several devices or dtypes: gather them
                norms = [n.to(norms[0].device, torch.float32) for n in norms]
            self._pending.append(norms)                    # stacked at the read-back
        self.steps.append(self._count - 1)
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()
        if loss is not None:
            self._losses.append(loss.detach() if torch.is_tensor(loss) else float(loss))

    def _flush(self):
        """Move the recorded norms to the host: one sync for all of them."""
        if self._pending:
            device = self._pending[0][0].device
            values = torch.stack([n.to(device) for norms in self._pending for n in norms]).tolist()
            self._pending, width = [], len(self._params)
            for k, (name, _) in enumerate(self._params):
                self._grad_norms[name] += values[k::width]

    @property
    def grad_norms(self):
        self._flush()
        return self._grad_norms

    # -- the rules, once per epoch --
    def epoch_end(self, epoch=None):
        """Evaluate the rules on this epoch's records; returns the HealthReport (also `report`).
        `epoch`: the 0-based epoch the findings are dated with (default: a count of calls)."""
        epoch = len(self.epochs) if epoch is None else epoch
        ok = isinstance(epoch, numbers.Integral) and not isinstance(epoch, bool)
        expect(ok, "epoch", "an integer", repr(epoch))
        self._flush()
        weights = [layer.weight.detach() for _, layer, _ in self._layers]
        grads = [layer.weight.grad for _, layer, _ in self._layers]
        device = weights[0].device
        with torch.no_grad():                       # NaN/inf counts of each weight and gradient
            counts = [torch.stack(((~torch.isfinite(w)).sum(),
                                   (~torch.isfinite(g if g is not None else w[:0])).sum()))
                      for w, g in zip(weights, grads)]
            bad = torch.stack([c.to(device) for c in counts]).tolist()
            weight_norms = torch.stack([n.to(device, torch.float32) for n in torch._foreach_norm(weights)]).tolist()
        stats = {name: s.tolist() for name, s in self._stats.items()}
        tensors = [v.to(device, torch.float32).reshape(()) for v in self._losses if torch.is_tensor(v)]
        losses = (torch.stack(tensors).tolist() if tensors else []) + [v for v in self._losses if not torch.is_tensor(v)]
        cost = sum(losses) / len(losses) if losses else 0.0

        rows = []
        for k, (name, layer, act) in enumerate(self._layers):
            recorded = self._grad_norms[name][self._epoch_start:] or self._grad_norms[name][-1:]
            finite = [v for v in recorded if math.isfinite(v)]
            mean, std, dead, saturated = stats.get(name, [math.nan] * 4)
            rows.append({"name": name, "activation": _activation_name(act), "init": _INITS.get(layer, "unknown"),
                         "units": layer.weight.shape[0], "output": k == len(self._layers) - 1,
                         "act_mean": mean, "act_std": std,
                         "dead_share": None if math.isnan(dead) else dead,
                         "saturated_share": None if math.isnan(saturated) else saturated,
                         "grad_norm": sum(finite) / len(finite) if finite else math.nan,
                         "weight_norm": weight_norms[k], "bad_weights": int(bad[k][0]),
                         # a NaN/inf norm earlier in the epoch counts even if the last gradient is finite
                         "bad_grads": int(bad[k][1]) or int(len(finite) < len(recorded))})
        ratio = gradient_ratio(rows)
        found = [_torch_message(f, rows) for f in findings(rows, cost, ratio)]
        for r in rows:
            del r["bad_weights"], r["bad_grads"]
        for f in found:
            if (f.rule, f.layer) not in self._seen:
                self._seen.add((f.rule, f.layer))
                self.findings.append(replace(f, epoch=epoch))
        self.report = HealthReport(rows, cost, ratio, found)
        self.reports.append(self.report)
        self.epochs.append(epoch)
        self._epoch_start = len(self._grad_norms[self._params[0][0]])
        self._losses, self._stats = [], {}
        if not self._removed:
            self._disarm()
            self._arm()                    # sample the next epoch's first training forward
        return self.report

    def remove(self):
        """Remove the hooks; step() still records norms, epoch_end still evaluates (without
        activation statistics)."""
        self._disarm()
        self._removed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _torch_message(finding, rows):
    """A finding in torch terms: init advice names init_, and the gradient-ratio rules name the
    parameters (the engine's message derives W1, W2, ... from its own layer names)."""
    repair = re.sub(r"\(init='(\w+)'\)", r"(init_(model, scheme='\1'))", finding.repair)
    finding = replace(finding, repair=repair)
    if finding.rule not in ("vanishing_gradients", "exploding_gradients"):
        return finding
    return replace(finding, message=f"‖∇{rows[0]['name']}‖ is {finding.value:.3g} × ‖∇{rows[-1]['name']}‖ "
                                    "(mean gradient norms over the epoch)")


# ---- early stopping ------------------------------------------------------------------------------
class EarlyStopping(Patience):
    """Stop when a monitored value has not improved by more than `min_delta` for `patience` calls,
    keeping a copy of the best model's state_dict (on the CPU).

        stopper = EarlyStopping(patience=10)
        for epoch in ...:
            train(...); if stopper.step(dev_loss, model): break
        stopper.restore(model)

    mode "min" (a loss, an error) or "max" (an accuracy). A NaN value never improves. After a
    run: best (value), best_epoch (0-based count of step calls), wait, stopped (True once step
    said stop). The rule is nnrecipe's `Patience`, as in nnrecipe.EarlyStopping.
    """

    def __init__(self, patience=10, min_delta=0.0, mode="min"):
        super().__init__(patience, min_delta, mode)
        self.best_state, self.stopped = None, False

    def step(self, value, model):
        """Record this epoch's `value` (a number or a one-element tensor); True means stop."""
        _require_module(model, "model")
        if torch.is_tensor(value):
            expect(value.numel() == 1, "value", "a number or a one-element tensor", f"shape {tuple(value.shape)}")
            value = value.item()
        expect(isinstance(value, numbers.Real) and not isinstance(value, bool), "value", "a number", repr(value))
        if self.update(float(value)):
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            self.stopped = self.stopped or self.exhausted
        return self.stopped

    def restore(self, model):
        """Load the best state_dict into `model` (in place, on the model's devices)."""
        _require_module(model, "model")
        if self.best_state is None:
            raise NNRecipeError("restore needs a best state: call step(value, model) with a finite value first")
        model.load_state_dict(self.best_state)
        return model
