"""Gradient health: per-layer gradient and activation statistics, checked against published rules.

One forward and backward pass (dropout off) on a batch gives, for every Dense layer (named by its
weight: "W1", "W2", ...), ‖dW‖_F (dW = ∂L/∂W, L the data loss averaged over the batch: the
backpropagated gradient, without the L2/L1 penalty's λW/m), ‖W‖_F, the mean and standard
deviation of the layer's output and, for hidden layers, the share of dead ReLU units or of
saturated tanh/sigmoid activations. The rules, each finding naming its source:

    vanishing gradients   ‖dW_first‖ / ‖dW_last‖ < 1e-3       AutoTrainer (Zhang et al., ICSE 2021)
    exploding gradients   ‖dW_first‖ / ‖dW_last‖ > 70         AutoTrainer        (≥ 2 Dense layers)
    dead ReLU             ≥ 70% of a hidden layer's units dead  DeepDiagnosis (Wardat et al., ICSE 2022)
    saturation            > 50% of a hidden layer's activations saturated                 DeepDiagnosis
    non-finite            NaN/inf in the cost, a weight or a gradient              AutoTrainer (NaN checks)
    exploding signal      std(a_last hidden) / std(a_first hidden) > 70   the notes (a_L ∝ w^L), with
    vanishing signal      the same ratio < 1e-3                          AutoTrainer's thresholds

A unit is dead when its output is ≤ 0 for every example of the batch (ReLU: always 0; leaky ReLU:
pre-activation always ≤ 0, the same test on its output). An activation is saturated when |tanh| >
0.99, or a sigmoid output is < 0.01 or > 0.99; the share counts (example, unit) pairs. The output
layer's mean and std are those of its logits (its activation is fused into the loss). A hidden
Dense(…, "linear") followed by an Activation layer is one layer: its statistics are those of the
Activation's output, its row names that layer (`activation_layer`: its index in net.layers).

The ratio compares weight gradients, dW_l = a_{l-1}ᵀ·δ_l (a: the layer's input, δ = ∂L/∂z): it
moves when the backward signal δ grows or shrinks faster than the forward signal a. In a network
that is linear throughout both grow alike: with hidden weights c·I the ratio is exactly
‖W_last‖/c at any depth, however large every gradient is. The signal rules catch that case: the
forward activations themselves grow (or shrink) like c^l from the first hidden layer to the last.

The penalty is left out because the rules are about backpropagation: λW/m is no signal that
travels through the layers, and added to a vanishing ∂L/∂W it hides it (an 8-layer sigmoid net
has a ratio of 1.6e-5 without it, 0.055 with l2=1 on the same weights). So the gradients here
are not the ones the optimizer follows when l2 or l1 > 0; the cost is J, penalty included.
"""

import math
import numbers
from dataclasses import asdict, dataclass, replace

import numpy as np

from .._checks import as_rng, as_rows, as_targets
from ..engine.layers import Activation, Dense
from ..engine.network import Network
from ..errors import expect
from ..training.callbacks import Callback
from ..training.fit import DIVERGED

VANISHING, EXPLODING, DEAD, SATURATED = 1e-3, 70.0, 0.70, 0.50
NOTES_SIGNAL = "the notes' deep-network argument (a_L grows like w^L), at AutoTrainer's thresholds"
AUTOTRAINER, DEEPDIAGNOSIS = "AutoTrainer (Zhang et al., ICSE 2021)", "DeepDiagnosis (Wardat et al., ICSE 2022)"
NOTES_INIT = {"relu": ("he", "He"), "leaky_relu": ("he", "He"), "tanh": ("xavier", "Xavier"),
              "sigmoid": ("xavier", "Xavier"), "linear": ("xavier", "Xavier")}
INIT_FAMILY = {"he": "he", "he_uniform": "he", "xavier": "xavier", "xavier_uniform": "xavier",
               "glorot": "xavier", "glorot_uniform": "xavier"}


@dataclass(frozen=True)
class Finding:
    """A rule that fired. `layer`: "W1", ... or None (the whole network); `value` against
    `threshold`; `repair`: the notes' fixes; `anchor`: the rule's source; `epoch`: set by
    GradientMonitor (0-based epoch of the check that found it)."""
    rule: str       # vanishing_gradients | exploding_gradients | dead_relu | saturation | non_finite
    layer: str | None
    value: float
    threshold: float
    message: str
    repair: str
    anchor: str
    epoch: int | None = None

    def to_dict(self):
        return {k: _json(v) for k, v in asdict(self).items()}


class HealthReport:
    """`layers`: one dict per Dense layer with name, activation, init, units, output (bool: the
    output layer), grad_norm, weight_norm, act_mean, act_std, dead_share, saturated_share (None
    where it does not apply), activation_layer (the index in net.layers of the Activation layer
    that applies a linear Dense layer's activation, else None); `cost`: J on the batch; `gradient_ratio`: ‖dW_first‖/‖dW_last‖ (None
    with one Dense layer); `findings`; `ok`: no finding."""

    def __init__(self, layers, cost, gradient_ratio, findings):
        self.layers, self.cost, self.gradient_ratio, self.findings = layers, cost, gradient_ratio, findings

    @property
    def ok(self):
        return not self.findings

    def to_dict(self):
        """JSON-able; NaN and infinities become None."""
        return {"ok": self.ok, "cost": _json(self.cost), "gradient_ratio": _json(self.gradient_ratio),
                "layers": [{k: _json(v) for k, v in row.items()} for row in self.layers],
                "findings": [f.to_dict() for f in self.findings]}

    def __str__(self):
        cols = ("name", "activation", "grad_norm", "weight_norm", "act_mean", "act_std", "dead_share",
                "saturated_share")
        table = [cols] + [tuple(_cell(row[c]) for c in cols) for row in self.layers]
        widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
        lines = ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in table]
        lines.append(f"cost {_cell(self.cost)}, ‖dW_first‖/‖dW_last‖ {_cell(self.gradient_ratio)}")
        lines += [f"{f.rule} ({f.layer or 'network'}): {f.message}. Try {f.repair}. [{f.anchor}]"
                  for f in self.findings] or ["healthy: no rule fired"]
        return "\n".join(lines)

    def __repr__(self):
        return f"HealthReport(ok={self.ok}, findings={[(f.rule, f.layer) for f in self.findings]})"


def _json(v):
    return (float(v) if math.isfinite(v) else None) if isinstance(v, (float, np.floating)) else v


def _cell(v):
    return "-" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)


def _norm(a):
    return float(np.linalg.norm(np.asarray(a, np.float64)))      # float64: Σa² cannot overflow


def _init_advice(rows):
    """The notes' init for the hidden layers whose init is not the one their activation calls for."""
    wrong = {}
    for r in rows:
        want = NOTES_INIT.get(r["activation"])
        if want and not r["output"] and INIT_FAMILY.get(r["init"]) != want[0]:
            wrong.setdefault(want, []).append(r["name"])
    return [f"{label} initialization (init={key!r}) for " + (", ".join(names) if len(names) <= 3 else
            f"{names[0]}, {names[1]}, …, {names[-1]} ({len(names)} layers)") for (key, label), names in wrong.items()]


def _where(r):
    """The row's layer as messages name it: "W1", or "net.layers[1] (Activation after W1)"."""
    k = r.get("activation_layer")
    return r["name"] if k is None else f"net.layers[{k}] (Activation after {r['name']})"


def _finding(rule, layer, value, threshold, message, repairs, anchor):
    return Finding(rule, layer, float(value), float(threshold), message, ", ".join(repairs), anchor)


def gradient_ratio(rows):
    """‖dW_first‖ / ‖dW_last‖ from per-layer rows (their grad_norm, first layer to last): None with
    fewer than 2 rows; inf when only the last norm is 0, NaN when both are."""
    if len(rows) < 2:
        return None
    first, last = rows[0]["grad_norm"], rows[-1]["grad_norm"]
    return first / last if last else (math.inf if first else math.nan)


def findings(rows, cost, ratio):
    """The rules of this module applied to per-layer statistics: a list of Finding (empty: healthy).

    rows : one dict per weighted layer, first to last, with the keys of HealthReport.layers (name,
        activation, init, units, output, act_mean, act_std, dead_share, saturated_share,
        grad_norm, weight_norm; activation_layer optional) plus bad_weights and bad_grads (the
        number of NaN/infinite weights and gradients). Any model's statistics will do: the torch
        adapter's GradientMonitor passes its own.
    cost : J on the batch (a NaN or infinite cost is a finding, and the other rules are skipped).
    ratio : ‖dW_first‖ / ‖dW_last‖ (gradient_ratio(rows)), or None with one layer.
    """
    diverging = ["a lower learning rate", "gradient clipping", *_init_advice(rows), "normalized inputs"]
    out = [] if math.isfinite(cost) else [
        _finding("non_finite", None, 1, 0, f"the cost on the batch is {cost}", diverging, AUTOTRAINER)]
    for r in rows:                   # with a non-finite cost, non-finite gradients are its echo
        bad = r["bad_weights"] + (r["bad_grads"] if math.isfinite(cost) else 0)
        if bad:
            out.append(_finding("non_finite", r["name"], bad, 0, f"{bad} weights or gradients of {r['name']} are "
                                "NaN or infinite", diverging, AUTOTRAINER))
    if out:                          # the other rules would read norms and shares that mean nothing
        return out
    first, last = rows[0]["name"][1:], rows[-1]["name"][1:]
    if ratio is not None and ratio < VANISHING:
        out.append(_finding("vanishing_gradients", rows[0]["name"], ratio, VANISHING,
                            f"‖dW{first}‖ is {ratio:.2g} × ‖dW{last}‖", [*_init_advice(rows), "normalized inputs"],
                            AUTOTRAINER))
    if ratio is not None and ratio > EXPLODING:
        out.append(_finding("exploding_gradients", rows[0]["name"], ratio, EXPLODING,
                            f"‖dW{first}‖ is {ratio:.3g} × ‖dW{last}‖", ["gradient clipping", "a lower learning rate",
                                                                        *_init_advice(rows), "normalized inputs"],
                            AUTOTRAINER))
    hidden = [r for r in rows if not r["output"]]
    if len(hidden) >= 2 and hidden[0]["act_std"] > 0:
        signal = hidden[-1]["act_std"] / hidden[0]["act_std"]
        where = f"the spread of {_where(hidden[-1])}'s outputs is {signal:.3g} × that of {_where(hidden[0])}'s"
        if signal > EXPLODING:
            out.append(_finding("exploding_signal", hidden[-1]["name"], signal, EXPLODING, where,
                                [*_init_advice(rows), "a lower learning rate", "normalized inputs"], NOTES_SIGNAL))
        elif signal < VANISHING:
            out.append(_finding("vanishing_signal", hidden[-1]["name"], signal, VANISHING, where,
                                [*_init_advice(rows), "normalized inputs"], NOTES_SIGNAL))
    for r in rows:
        if r["dead_share"] is not None and r["dead_share"] >= DEAD:
            out.append(_finding("dead_relu", r["name"], r["dead_share"], DEAD,
                                f"{r['dead_share']:.0%} of the {r['units']} {r['activation']} units of {_where(r)} "
                                "are dead (≤ 0 for every example)", ["a lower learning rate", *_init_advice([r])],
                                DEEPDIAGNOSIS))
        if r["saturated_share"] is not None and r["saturated_share"] > SATURATED:
            out.append(_finding("saturation", r["name"], r["saturated_share"], SATURATED,
                                f"{r['saturated_share']:.0%} of the {r['activation']} activations of {_where(r)} are "
                                "saturated", [*_init_advice([r]), "normalized inputs", "a lower learning rate"],
                                DEEPDIAGNOSIS))
    return out


def _dense_layers(net):
    """[(name, layer)] for the Dense layers; k counts every layer with parameters, as net.params."""
    with_params = [layer for layer in net.layers if layer.params]
    return [(f"W{k}", layer) for k, layer in enumerate(with_params, 1) if isinstance(layer, Dense)]


def _output_stats(name, layer, output, a, activation=None, activation_layer=None):
    """Statistics of one Dense layer's output a (n, units), computed in float64 (`output`: the
    network's output layer, a its logits); `activation`, when an Activation layer
    (net.layers[activation_layer]) applies it and a is that layer's output."""
    a = np.asarray(a, np.float64)
    hidden, activation = not output, activation or layer.activation
    dead = saturated = None
    if hidden and activation in ("relu", "leaky_relu"):
        dead = float((a <= 0).all(axis=0).mean())                    # units ≤ 0 on every row
    elif hidden and activation == "tanh":
        saturated = float((np.abs(a) > 0.99).mean())                 # share of (row, unit) pairs
    elif hidden and activation == "sigmoid":
        saturated = float(((a < 0.01) | (a > 0.99)).mean())
    return {"name": name, "activation": activation, "init": layer.init, "units": layer.units,
            "output": not hidden, "act_mean": float(a.mean()), "act_std": float(a.std()),
            "dead_share": dead, "saturated_share": saturated, "activation_layer": activation_layer}


def _check(net, Xp, yp):
    """The report on a prepared batch Xp (n, n_features), yp. It overwrites the network's gradient
    buffer with the data-loss gradient and leaves the weights and every random stream alone."""
    dense = {id(layer): name for name, layer in _dense_layers(net)}
    rows, layers = [], []
    with np.errstate(all="ignore"):                 # overflow is reported as a finding, not a warning
        outputs = net.layer_outputs(Xp, False)      # the forward pass of net.logits, dropout off
        for i, (layer, a) in enumerate(zip(net.layers, outputs)):
            if id(layer) in dense:
                rows.append(_output_stats(dense[id(layer)], layer, net.fused(layer), a))
                layers.append(layer)
            elif (isinstance(layer, Activation) and layer.name != "linear" and rows
                  and rows[-1]["activation"] == "linear" and not rows[-1]["output"]):
                rows[-1] = _output_stats(rows[-1]["name"], layers[-1], False, a, layer.name, i)
        loss, dz = net.loss.loss_and_grad(a, yp)                  # a: the logits
        net.backward(dz / len(Xp))                  # dθ = ∇(data loss) on the batch: no penalty term
        cost = loss / len(Xp) + net.penalty(len(Xp))
        for r, layer in zip(rows, layers):
            r["grad_norm"], r["weight_norm"] = _norm(layer.grads["W"]), _norm(layer.params["W"])
            r["bad_weights"], r["bad_grads"] = (sum(int((~np.isfinite(v)).sum()) for v in arrays.values())
                                                for arrays in (layer.params, layer.grads))
    ratio = gradient_ratio(rows)
    found = findings(rows, cost, ratio)
    for r in rows:
        del r["bad_weights"], r["bad_grads"]
    return HealthReport(rows, cost, ratio, found)


def _require_net(net):
    expect(isinstance(net, Network), "net", "an nnrecipe Network", type(net).__name__)
    expect(net.built, "net", "a built network (give input_dim, or fit it once)", "a network that is not built")


def health(net, X, y):
    """Gradient health of `net` on (X, y): X (n_samples, n_features) as given to fit (the network's
    normalizer applies), y (n_samples,) or (n_samples, n_outputs); a few hundred rows are plenty.
    Returns a HealthReport. The weights are not changed; the gradient buffer is (it holds the
    data-loss gradient, without the penalty, afterwards)."""
    _require_net(net)
    Xp = net.prepare_X(X)
    return _check(net, Xp, net.prepare_y(y, len(Xp)))


class GradientMonitor(Callback):
    """A fit callback: every `every` epochs, health on a fixed probe of at most `max_rows` rows of
    (X, y) (drawn once, with `seed`), and each Dense layer's update ratio ‖W − W_prev‖/‖W_prev‖
    since the previous check (for the first check: since the start of training).

    Series, one value per check, as dicts "W1" -> list: grad_norms (of the data-loss gradient on the
    probe, without the L2/L1 penalty: see the module doc), weight_norms, update_ratios,
    dead_share, saturated_share (None where not applicable). `epochs`: the 0-based epoch of each
    check. `findings`: each rule+layer once, from the first check where it fires, with its epoch; a
    fit that stops on a NaN/inf cost adds a non_finite finding. `report`: the last HealthReport.
    The monitor reads `run.net` and `run.history` only, and leaves the training trajectory unchanged.
    Each fit call starts these afresh (a resumed fit goes on with those its checkpoint saved), so
    one monitor may watch several runs, of networks of any size: it holds the last one's.
    """

    SERIES = ("grad_norms", "weight_norms", "update_ratios", "dead_share", "saturated_share")

    def __init__(self, X, y, every=1, max_rows=256, seed=0):
        for value, name in ((every, "every"), (max_rows, "max_rows")):
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
            expect(ok, name, "an integer ≥ 1", repr(value))
        rng, X = as_rng(seed), as_rows(X, "X")
        y = as_targets(y, len(X))
        rows = np.arange(len(X))
        if len(X) > max_rows:                      # the same seeded rows at every check
            rows = np.sort(rng.choice(len(X), max_rows, replace=False))
        self.X, self.y, self.every = X[rows], y[rows], int(every)
        self._reset()

    def _reset(self):
        self.epochs, self.findings, self.report = [], [], None
        for name in self.SERIES:
            setattr(self, name, {})
        self._previous, self._seen = None, set()

    def on_train_begin(self, run):
        _require_net(run.net)
        if not run.resumed:                        # a new run; a resume keeps what the checkpoint restored
            self._reset()
        self._Xp = run.net.prepare_X(self.X)
        self._yp = run.net.prepare_y(self.y, len(self._Xp))
        if self._previous is None:                 # else: kept from the last check (or a checkpoint)
            self._previous = {name: layer.params["W"].copy() for name, layer in _dense_layers(run.net)}

    def _record(self, finding, epoch):
        if (finding.rule, finding.layer) not in self._seen:
            self._seen.add((finding.rule, finding.layer))
            self.findings.append(replace(finding, epoch=epoch))

    def on_epoch_end(self, run, logs):
        if (run.epoch + 1) % self.every:
            return
        self.report = _check(run.net, self._Xp, self._yp)    # the optimizer has stepped: dθ is free
        self.epochs.append(run.epoch)
        for r, (name, layer) in zip(self.report.layers, _dense_layers(run.net)):
            W, before = layer.params["W"], self._previous[name]
            base = _norm(before)
            change = _norm(W.astype(np.float64) - before)
            update = change / base if base else (math.inf if change else 0.0)
            for series, value in zip(self.SERIES, (r["grad_norm"], r["weight_norm"], update, r["dead_share"],
                                                   r["saturated_share"])):
                getattr(self, series).setdefault(name, []).append(value)
            before[...] = W
        for f in self.report.findings:
            self._record(f, run.epoch)

    def on_train_end(self, run):
        reason = run.history.stop_reason or ""
        if reason.startswith(DIVERGED.split("{")[0]):        # fit stopped on a NaN/inf cost
            rows = [{"name": name, "activation": layer.activation, "init": layer.init,
                     "output": run.net.fused(layer)} for name, layer in _dense_layers(run.net)]
            repairs = ["a lower learning rate", "gradient clipping", *_init_advice(rows), "normalized inputs"]
            self._record(_finding("non_finite", None, 1, 0, reason, repairs, AUTOTRAINER), run.epoch + 1)

    def to_dict(self):
        """JSON-able: epochs, findings and every series (NaN and infinities become None)."""
        series = {s: {k: [_json(v) for v in vs] for k, vs in getattr(self, s).items()} for s in self.SERIES}
        return {"epochs": list(self.epochs), "findings": [f.to_dict() for f in self.findings]} | series

    def state_dict(self):
        """What Checkpoint saves, so that a resumed fit continues the series."""
        state = {"epochs": self.epochs, "findings": [asdict(f) for f in self.findings],
                 "series": {s: getattr(self, s) for s in self.SERIES}}
        return state | {f"previous.{k}": v for k, v in (self._previous or {}).items()}

    def load_state_dict(self, state):
        self.epochs = [int(e) for e in state["epochs"]]
        self.findings = [Finding(**f) for f in state["findings"]]
        self._seen = {(f.rule, f.layer) for f in self.findings}
        for s in self.SERIES:
            setattr(self, s, {k: list(v) for k, v in state["series"][s].items()})
        previous = {k.removeprefix("previous."): np.array(v) for k, v in state.items() if k.startswith("previous.")}
        self._previous = previous or None
