"""Gradient checking: the two-sided numerical derivative against backpropagation.

    dθ_approx[i] = (J(θ + ε·eᵢ) − J(θ − ε·eᵢ)) / 2ε              (error O(ε²))
    difference   = ‖dθ_approx − dθ‖₂ / (‖dθ_approx‖₂ + ‖dθ‖₂)
    verdict      = "ok" if ≤ 1e-7, "look" if ≤ 1e-3, else "bug"    (the thresholds of the notes)

A NaN or infinite cost, gradient or weight makes the difference NaN and the verdict "bug".

Everything runs in float64 on a copy of the model, so the model is left bit-identical.

Full mode on a Network nudges every coordinate without a Python loop per coordinate: nudging
W[i, k] of a Dense layer moves its pre-activation by ±ε·x[:, i] in column k only, so a
chunk of perturbations is one stacked array, and only the layers from the perturbed one on
are evaluated. Parameters of user-written layers are nudged one at a time in the real arrays.

Kinks: ReLU, leaky ReLU and |w| are not differentiable at 0. A coordinate whose ±ε step
flips the sign of any ReLU pre-activation (or of the weight, under L1) is left out and counted.
"""

import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._checks import check_seed, positive, shown
from .engine.activations import ACTIVATIONS
from .engine.init import RELU_FAMILY
from .engine.layers import Activation, Dense, Dropout
from .engine.losses import CategoricalCrossEntropy
from .engine.network import Network
from .errors import NNRecipeError

OK, LOOK = 1e-7, 1e-3
_STACK_ELEMENTS = 1 << 19         # floats per stacked chunk of perturbations (4 MiB: cache-sized, reused by malloc)


def verdict(difference):
    # a NaN difference fails both comparisons: "bug"
    return "ok" if difference <= OK else "look" if difference <= LOOK else "bug"


def _difference(numeric, analytic):
    """‖n − a‖ / (‖n‖ + ‖a‖); NaN (so the verdict is "bug") when a value is not finite, as a NaN or
    infinite cost, gradient or weight makes the comparison meaningless."""
    if not (np.isfinite(numeric).all() and np.isfinite(analytic).all()):
        return math.nan
    scale = np.linalg.norm(numeric) + np.linalg.norm(analytic)
    return float(np.linalg.norm(numeric - analytic) / scale) if scale > 0 else 0.0


@dataclass(frozen=True)
class ArrayCheck:
    """The check of one parameter array."""
    name: str
    shape: tuple
    difference: float
    verdict: str
    checked: int      # coordinates (full) or probes (fast) compared
    kinks: int        # left out because their ±ε step crossed a kink


class GradcheckReport:
    """Overall `difference` and `verdict`, `by_param` (name -> ArrayCheck), `worst` (the
    coordinates with the largest |numeric − analytic|), `at_fault` (arrays judged "bug").
    bool(report) is True only when the verdict is "ok"."""

    def __init__(self, rows, mode, epsilon, extra=None, n_worst=5):
        # rows: name -> (shape, numeric 1-D, analytic 1-D, labels, kinks); extra: unnamed probes
        self.mode, self.epsilon = mode, epsilon
        self.by_param = {name: ArrayCheck(name, shape, _difference(num, ana), verdict(_difference(num, ana)),
                                          len(num), kinks)
                         for name, (shape, num, ana, _, kinks) in rows.items()}
        parts = [(num, ana) for _, num, ana, _, _ in rows.values()] + ([extra[:2]] if extra else [])
        numeric = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
        analytic = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        self.difference = _difference(numeric, analytic)
        self.verdict = verdict(self.difference)
        self.checked, self.kinks = len(numeric), sum(r[4] for r in rows.values()) + (extra[2] if extra else 0)
        candidates = []
        for name, (_, num, ana, labels, _) in rows.items():
            err = np.nan_to_num(np.abs(num - ana), nan=np.inf)      # a NaN coordinate is among the worst
            top = np.argsort(-err, kind="stable")[:n_worst] if len(err) <= n_worst else \
                np.sort(np.argpartition(-err, n_worst - 1)[:n_worst])
            candidates += [(err[i], name, labels[i], num[i], ana[i]) for i in top]
        candidates.sort(key=lambda c: -c[0])
        self.worst = [{"param": name, "index": label, "numeric": float(n), "analytic": float(a),
                       "error": float(err)} for err, name, label, n, a in candidates[:n_worst]]

    @property
    def at_fault(self):
        return [name for name, check in self.by_param.items() if check.verdict == "bug"]

    def __bool__(self):
        return self.verdict == "ok"

    def __str__(self):
        lines = [(f"gradient check ({self.mode}, ε = {self.epsilon:g}): difference {self.difference:.3e} → "
                  f"{self.verdict}; {self.checked} compared, {self.kinks} left out at kinks"
                  + ("; the cost or a gradient is not finite (NaN or inf)" if math.isnan(self.difference) else "")),
                 f"{'param':<10}{'shape':<14}{'checked':>9}{'kinks':>7}{'difference':>13}  verdict"]
        for c in self.by_param.values():
            lines.append(f"{c.name:<10}{c.shape!s:<14}{c.checked:>9}{c.kinks:>7}{c.difference:>13.3e}  {c.verdict}")
        if self.worst:
            lines.append("worst coordinates:")
            lines += [f"  {w['param']}{list(w['index']) if isinstance(w['index'], tuple) else ' ' + str(w['index'])}"
                      f"  numeric {w['numeric']:+.9e}  analytic {w['analytic']:+.9e}" for w in self.worst]
        return "\n".join(lines)

    def __repr__(self):
        return f"GradcheckReport(difference={self.difference:.3e}, verdict={self.verdict!r}, at_fault={self.at_fault})"


# ---- the network as a function of θ ---------------------------------------------------------
class _NetworkProblem:
    """J(θ) of a float64 copy of a network, with what the batched path needs."""

    def __init__(self, net, X, y, dropout, seed):
        self.net = net = copy.deepcopy(net).astype("float64")
        self.X = net.prepare_X(X)
        self.y = net.prepare_y(y, len(self.X))
        self.m, self.training = len(self.X), dropout == "frozen"
        if self.training:
            net.freeze_dropout(True)
            if seed is not None:
                streams = np.random.SeedSequence(seed).spawn(len(net.layers))
                for layer, stream in zip(net.layers, streams):
                    if isinstance(layer, Dropout):
                        layer.rng = np.random.default_rng(stream)
        net.step(self.X, self.y, training=self.training)             # draws frozen masks, fills dθ
        self.analytic = net.grad_theta.copy()
        self.theta0 = net.theta.copy()
        outputs = net.layer_outputs(self.X, self.training)
        self.inputs, a = [self.X, *outputs[:-1]], outputs[-1]         # each layer's input at θ₀; the logits
        # softmax: the row max of the logits at θ₀ shifts every stacked logsumexp (a ±ε step moves
        # the logits by O(ε), so no per-perturbation max is needed; overflow falls back below)
        self.shift = a.max(axis=1, keepdims=True) if isinstance(net.loss, CategoricalCrossEntropy) else None
        self.rows = np.arange(self.m)
        self.slices = net.slices

    def cost(self, theta):
        """The terms of J(θ) (each example's loss / m, and the penalty; J is their sum) and the
        on/off pattern of every ReLU-family unit (to spot kinks)."""
        net = self.net
        net.theta[...] = theta
        outputs = net.layer_outputs(self.X, self.training)
        pattern = [out > 0 for layer, out in zip(net.layers, outputs) if _relu_like(net, layer)]
        a = outputs[-1]
        if net.l1:                                     # |w| has its kink at 0
            pattern.append(net.theta[:net.n_penalized] > 0)
        terms = np.append(net.loss.per_example(a, self.y) / self.m, net.penalty(self.m))
        net.theta[...] = self.theta0
        return terms, pattern

    def l1_kinks(self, name, values, epsilon):
        """Coordinates whose ±ε step flips the sign of a penalized weight under L1."""
        layer_key = self._owner(name)
        if not self.net.l1 or layer_key[1] not in layer_key[0].penalized:
            return np.zeros(values.shape, bool)
        return np.abs(values) < epsilon

    def _owner(self, name):
        """(layer, key) holding parameter `name`: the network and the layer share one view."""
        return next((layer, key) for layer in self.net.layers for key, p in layer.params.items()
                    if p is self.net.params[name])

    def batched(self, name, epsilon):
        """Numeric gradient of one Dense parameter array, all coordinates, stacked; or None
        when the layer (or one after it) is not a built-in layer."""
        layer, key = self._owner(name)
        index = self.net.layers.index(layer)
        if not isinstance(layer, Dense) or not all(isinstance(l, (Dense, Dropout, Activation))
                                                   for l in self.net.layers[index + 1:]):
            return None
        x = self.inputs[index]
        z0 = x @ layer.params["W"] + layer.params["b"]
        n = len(x)
        coords = np.indices(layer.params[key].shape).reshape(layer.params[key].ndim, -1).T
        numeric, kinks = np.empty(len(coords)), np.zeros(len(coords), bool)
        local = _column_local(self.net.layers, index) and not self.net.fused(layer)
        widest = max(getattr(l, "units", 1) for l in self.net.layers[index + int(local):])
        chunk = max(1, _STACK_ELEMENTS // (2 * n * widest))
        for start in range(0, len(coords), chunk):
            part = coords[start:start + chunk]
            cols = part[:, -1]                                   # W[i, k] and b[k] move column k only
            step = epsilon * (x[:, part[:, 0]].T if key == "W" else np.ones((len(part), n)))
            column = z0[:, cols].T                               # (P, n)
            J, kink = self._column_tail(index, z0, np.concatenate([cols, cols]),
                                        np.concatenate([column + step, column - step]))
            # Σₑ (Lₑ(θ+) − Lₑ(θ−)): differencing per example, then summing, keeps the rounding of
            # the large shared part of J out of the small difference.
            numeric[start:start + len(part)] = (J[:len(part)] - J[len(part):]).sum(axis=1) / (2 * epsilon)
            kinks[start:start + len(part)] = kink
        if key in layer.penalized:                                  # the penalty's share, exactly
            w = layer.params[key].ravel()
            numeric += self.net.l2 / self.m * w                     # d/dw of λ/2m·w²
            numeric += self.net.l1 / self.m * (np.abs(w + epsilon) - np.abs(w - epsilon)) / (2 * epsilon)
        return numeric, kinks

    def _loss(self, z):
        """Per-example data cost (each loss / m) per perturbation, from stacked logits (2P, n, outputs)."""
        if self.shift is not None:
            e = np.subtract(z, self.shift)
            np.exp(e, out=e)
            total = e.reshape(-1, e.shape[-1]) @ np.ones(e.shape[-1])      # Σ over the classes, one BLAS call
            if np.isfinite(total).all():
                out = np.log(total).reshape(z.shape[:-1])
                out += self.shift[:, 0]
                out -= z[:, self.rows, self.y]
                out /= self.m
                return out
        return self.net.loss.per_example(z, self.y) / self.m

    def _loss_one_column(self, z0, cols, column):
        """_loss when only column cols[p] of the logits z0 (n, outputs) changes, to column[p] (n,):
        Σⱼ exp(zⱼ − c) is the θ₀ sum less the old term plus the new one, O(n) per perturbation."""
        E = np.exp(z0 - self.shift)
        rest = E.sum(axis=1) - E[:, cols].T                              # (2P, n): the other classes
        total = rest + np.exp(column - self.shift[:, 0])
        if not np.isfinite(total).all():                                 # overflow: the general path
            z = np.repeat(z0[None], len(cols), axis=0)
            z[np.arange(len(cols)), :, cols] = column
            return self.net.loss.per_example(z, self.y) / self.m
        picked = np.where(cols[:, None] == self.y, column, z0[self.rows, self.y])
        return (np.log(total) + self.shift[:, 0] - picked) / self.m

    def _loss_rank1(self, zb, d, w):
        """_loss of the logits zb + d[p] ⊗ w[p] (zb (n, outputs), d (2P, n), w (2P, outputs))."""
        g = np.multiply(d[..., None], w[:, None, :])                    # (2P, n, outputs)
        np.exp(g, out=g)
        total = np.einsum("pnc,nc->pn", g, np.exp(zb - self.shift))
        if not np.isfinite(total).all():                                 # overflow: the general path
            z = np.multiply(d[..., None], w[:, None, :])
            z += zb
            return self.net.loss.per_example(z, self.y) / self.m
        picked = zb[self.rows, self.y] + d * w[:, self.y]
        return (np.log(total) + self.shift[:, 0] - picked) / self.m

    def _column_tail(self, index, z0, cols, column):
        """Data cost per perturbation when only column cols[p] of layer `index`'s pre-activation
        z0 (n, width) changes, to `column[p]` (n,). Through elementwise layers the change stays
        in that column, so the next Dense layer's pre-activation changes by a rank-1 term
        Δcolumn ⊗ W[k, :]; from there on the stacked arrays are dense (_tail)."""
        layers, P2 = self.net.layers, len(column)
        kink = np.zeros(P2 // 2, bool)

        def activate(name, col, base):
            nonlocal kink
            if name in RELU_FAMILY:
                on = col > 0
                kink |= (on[:P2 // 2] != on[P2 // 2:]).any(axis=1)
            f = ACTIVATIONS[name][0]
            return f(col, None), f(base, None)

        fused = self.net.fused
        if fused(layers[index]) and self.shift is not None:              # the softmax output layer itself
            return self._loss_one_column(z0, cols, column), kink
        if fused(layers[index]) or not _column_local(layers, index):
            z = np.repeat(z0[None], P2, axis=0)                    # dense from here on
            z[np.arange(P2), :, cols] = column
            return self._tail(index, z)
        col, base = activate(layers[index].activation, column, z0)
        for j in range(index + 1, len(layers)):
            layer = layers[j]
            if isinstance(layer, Dropout):
                if self.training and layer.keep_prob < 1.0:
                    col, base = col * layer.mask[:, cols].T, base * layer.mask
            elif isinstance(layer, Activation):
                col, base = activate(layer.name, col, base)
            else:
                W = layer.params["W"]
                if fused(layer) and self.shift is not None:
                    return self._loss_rank1(base @ W + layer.params["b"], col - base[:, cols].T, W[cols]), kink
                z = np.multiply((col - base[:, cols].T)[..., None], W[cols][:, None, :])
                z += base @ W + layer.params["b"]
                J, later = self._tail(j, z)
                return J, kink | later
        raise AssertionError("a network ends with a Dense layer")

    def _tail(self, index, z):
        """Per-perturbation data cost from pre-activations z (2P, n, width) of layer `index` on."""
        layers, P2 = self.net.layers, len(z)
        kink = np.zeros(P2 // 2, bool)

        def activate(name, pre):
            nonlocal kink
            if name in RELU_FAMILY:
                on = pre > 0
                kink |= (on[:P2 // 2] != on[P2 // 2:]).any(axis=(1, 2))
            return ACTIVATIONS[name][0](pre, pre)                     # pre is ours: in place

        first, fused = layers[index], self.net.fused
        a = z if fused(first) else activate(first.activation, z)
        for layer in layers[index + 1:]:
            if isinstance(layer, Dropout):
                if self.training and layer.keep_prob < 1.0:
                    a *= layer.mask
            elif isinstance(layer, Activation):
                a = activate(layer.name, a)
            else:
                W = layer.params["W"]
                zz = (a.reshape(-1, a.shape[-1]) @ W).reshape(P2, a.shape[1], W.shape[1])
                zz += layer.params["b"]
                a = zz if fused(layer) else activate(layer.activation, zz)
        return self._loss(a), kink


def _column_local(layers, index):
    """True when a change in one column of layer `index`'s pre-activation stays in that column
    up to the next Dense layer (elementwise activations and dropout only; softmax mixes columns)."""
    if layers[index].activation == "softmax":
        return False
    for layer in layers[index + 1:]:
        if isinstance(layer, Dense):
            return True
        if isinstance(layer, Activation) and layer.name == "softmax":
            return False
    return True


class _Labels:
    """The index tuples of the kept coordinates, made on demand (the report needs a handful)."""

    def __init__(self, flat, shape):
        self.flat, self.shape = flat, shape

    def __len__(self):
        return len(self.flat)

    def __getitem__(self, i):
        return _labels([self.flat[i]], self.shape)[0]


def _relu_like(net, layer):
    """True when `layer`'s output in `net` goes through a ReLU-family activation (kinks at 0)."""
    return ((isinstance(layer, Dense) and layer.activation in RELU_FAMILY and not net.fused(layer))
            or (isinstance(layer, Activation) and layer.name in RELU_FAMILY))


class _FunctionProblem:
    """J(θ) for the low-level form: cost_fn(params) -> float, grad_fn(params) -> dict."""

    def __init__(self, cost_fn, params, grad_fn):
        if not isinstance(params, dict) or not params:
            raise NNRecipeError(f"params must be a non-empty dict of arrays; got {type(params).__name__}")
        if not callable(grad_fn):
            raise NNRecipeError(f"grad_fn must be callable (params -> dict of gradients); got {grad_fn!r}")
        self.cost_fn, self.work = cost_fn, {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        grads = grad_fn({k: v.copy() for k, v in self.work.items()})
        self.slices, offset, parts = {}, 0, []
        for name, value in self.work.items():
            if not isinstance(grads, dict) or name not in grads or grads[name] is None:
                raise NNRecipeError(f"grad_fn must return a dict with a gradient for every parameter; "
                                    f"{name!r} is missing")
            g = np.asarray(grads[name], dtype=np.float64)
            if g.shape != value.shape:
                raise NNRecipeError(f"grad_fn must return an array of shape {value.shape} for {name!r}; got {g.shape}")
            self.slices[name] = (offset, value.shape)
            parts.append(g.ravel())
            offset += value.size
        self.analytic = np.concatenate(parts)
        self.theta0 = np.concatenate([v.ravel() for v in self.work.values()])

    def cost(self, theta):
        for name, (offset, shape) in self.slices.items():
            self.work[name][...] = theta[offset:offset + int(np.prod(shape))].reshape(shape)
        value = self.cost_fn({k: v.copy() for k, v in self.work.items()})
        if not (isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.shape == ()
                                                    and value.dtype.kind in "biuf")):
            raise NNRecipeError(f"cost_fn must return one number, the cost J; got {type(value).__name__}"
                                + (f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""))
        return np.array([float(value)]), None

    def l1_kinks(self, name, values, epsilon):
        return np.zeros(values.shape, bool)

    def batched(self, name, epsilon):
        return None


# ---- the checks ----------------------------------------------------------------------------
def _labels(flat, shape):
    """Index tuples of flat positions in an array of `shape` (a 0-d array has the index ())."""
    if not shape:
        return [()] * len(flat)
    return list(zip(*(i.tolist() for i in np.unravel_index(np.asarray(flat, dtype=np.intp), shape))))


def _probe(problem, direction, epsilon):
    """(J(θ+εv) − J(θ−εv)) / 2ε, differenced term by term, and whether the step crossed a kink."""
    plus, pattern_plus = problem.cost(problem.theta0 + epsilon * direction)
    minus, pattern_minus = problem.cost(problem.theta0 - epsilon * direction)
    kink = pattern_plus is not None and any((p != q).any() for p, q in zip(pattern_plus, pattern_minus))
    with np.errstate(invalid="ignore"):                     # inf − inf: NaN, judged by the report
        return float((plus - minus).sum()) / (2 * epsilon), kink


def _full(problem, epsilon):
    rows = {}
    for name, (offset, shape) in problem.slices.items():
        size = int(np.prod(shape))
        analytic = problem.analytic[offset:offset + size]
        values = problem.theta0[offset:offset + size]
        result = problem.batched(name, epsilon)
        if result is None:                                   # nudge the real array, one at a time
            numeric, kinks = np.empty(size), np.zeros(size, bool)
            unit = np.zeros_like(problem.theta0)
            for i in range(size):
                unit[offset + i] = 1.0
                numeric[i], kinks[i] = _probe(problem, unit, epsilon)
                unit[offset + i] = 0.0
        else:
            numeric, kinks = result
        kinks |= problem.l1_kinks(name, values, epsilon)
        keep = ~kinks
        labels = _Labels(np.flatnonzero(keep), shape)
        rows[name] = (shape, numeric[keep], analytic[keep], labels, int(kinks.sum()))
    return rows, None


def _fast(problem, epsilon, directions, samples, rng):
    """Random directions over θ, plus per array random directions and sampled coordinates."""
    def probes(vectors, labels):
        num, ana, kept, kinks = [], [], [], 0
        for v, label in zip(vectors, labels):
            value, kink = _probe(problem, v, epsilon)
            if kink:
                kinks += 1
                continue
            num.append(value), ana.append(float(problem.analytic @ v)), kept.append(label)
        return np.array(num), np.array(ana), kept, kinks

    n = problem.theta0.size
    global_dirs = [v / np.linalg.norm(v) for v in rng.standard_normal((directions, n))]
    extra = probes(global_dirs, range(directions))
    rows = {}
    for name, (offset, shape) in problem.slices.items():
        size = int(np.prod(shape))
        vectors, labels = [], []
        for d in range(directions):
            v = np.zeros(n)
            v[offset:offset + size] = rng.standard_normal(size)
            vectors.append(v / np.linalg.norm(v))
            labels.append(f"direction {d}")
        for i in rng.choice(size, min(samples, size), replace=False):
            v = np.zeros(n)
            v[offset + i] = 1.0
            vectors.append(v)
            labels += _labels([i], shape)
        values = problem.theta0[offset:offset + size]
        l1 = problem.l1_kinks(name, values, epsilon)
        keep = [not (isinstance(label, tuple) and l1[np.ravel_multi_index(label, shape) if shape else 0])
                for label in labels]
        num, ana, kept, kinks = probes([v for v, k in zip(vectors, keep) if k], [l for l, k in zip(labels, keep) if k])
        rows[name] = (shape, num, ana, kept, kinks + keep.count(False))
    return rows, extra[:2] + (extra[3],)


def gradcheck(model, X=None, y=None, epsilon=1e-7, mode="full", dropout="off", seed=None,
              directions=3, samples=5):
    """Check backpropagation against the two-sided numerical derivative.

    gradcheck(net, X, y, ...)              a Network on data (X: (n, features), y: (n,))
    gradcheck(cost_fn, params, grad_fn)    any function: params is a dict of arrays,
                                           cost_fn(params) -> float, grad_fn(params) -> dict

    mode "full" compares every coordinate; "fast" compares `directions` random directions over
    θ and per array, plus `samples` random coordinates per array (seeded by `seed`).
    dropout "off" checks with keep_prob = 1; "frozen" with one fixed mask per Dropout layer.
    Returns a GradcheckReport.
    """
    if not (isinstance(epsilon, (float, np.floating)) and 0 < epsilon < 1):
        raise NNRecipeError(f"epsilon must be a float in (0, 1); got {shown(epsilon)}")
    epsilon = float(epsilon)
    if dropout not in ("off", "frozen"):
        raise NNRecipeError(f"dropout must be 'off' or 'frozen'; got {dropout!r}")
    if mode not in ("full", "fast"):
        raise NNRecipeError(f"mode must be 'full' or 'fast'; got {mode!r}")
    seed = check_seed(seed)
    positive(directions, "directions", integer=True, allow_zero=True)
    positive(samples, "samples", integer=True, allow_zero=True)
    if isinstance(model, Network):
        if X is None or y is None:
            raise NNRecipeError("gradcheck(net, X, y) needs the data X and y")
        problem = _NetworkProblem(model, X, y, dropout, seed)
    elif callable(model):
        problem = _FunctionProblem(model, X, y)
    else:
        raise NNRecipeError(f"model must be a Network or a cost function; got {type(model).__name__}")
    return check_problem(problem, epsilon, mode, seed, directions, samples)


def check_problem(problem, epsilon=1e-7, mode="full", seed=None, directions=3, samples=5):
    """The check itself, on any model written as a `problem` (gradcheck builds one for a Network or a
    cost function, nnrecipe.torch.gradcheck one for a torch model); returns a GradcheckReport.

    A problem is J as a function of one flat float64 vector θ:
        theta0      θ at which to check (1-D)
        analytic    the gradient to check, dJ/dθ at theta0, laid out as theta0
        slices      dict name -> (offset, shape): the named arrays' places in θ (the report's rows)
        cost(theta) -> (terms, pattern): J(θ) as an array of terms (summed after differencing, so
                    the large shared part cancels per term), and a list of boolean arrays whose
                    change between θ + εv and θ − εv marks a kink (or None)
        l1_kinks(name, values, epsilon) -> boolean array: coordinates left out (|w| < ε under L1)
        batched(name, epsilon) -> (numeric, kinks) for every coordinate of array `name` at once,
                    or None to nudge them one at a time through cost
    mode "full" compares every coordinate; "fast" `directions` random directions over θ and per
    array, plus `samples` random coordinates per array, drawn from `seed`.
    """
    if mode == "full":
        rows, extra = _full(problem, epsilon)
    else:
        rows, extra = _fast(problem, epsilon, directions, samples, np.random.default_rng(seed))
    return GradcheckReport(rows, mode, epsilon, extra)
