"""PyTorch autograd as the oracle for nnrecipe's objective J and its gradients.

For each network we rebuild the same computation in torch float64 from copies of the same
parameters (and, with dropout, the very masks nnrecipe used), take torch's own losses and
penalties, and compare J (relative 1e-12) and every gradient (relative 1e-9 in norm).
"""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnrecipe as nr

# Any RuntimeWarning (overflow, invalid value, divide by zero) raised in this file is a failure.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

HIDDEN = ("relu", "leaky_relu", "tanh", "sigmoid", "softmax", "linear")
OUTPUTS = {                      # id -> (activation, units)
    "sigmoid1": ("sigmoid", 1),
    "sigmoid3": ("sigmoid", 3),
    "softmax4": ("softmax", 4),
    "linear1": ("linear", 1),
    "linear2": ("linear", 2),
}
REGS = {"none": (0.0, 0.0), "l2": (0.3, 0.0), "l1": (0.0, 0.2), "both": (0.3, 0.2)}

J_RTOL = 1e-12
GRAD_RTOL = 1e-9
TINY = np.finfo(np.float64).tiny

TORCH_ACT = {
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda z: torch.softmax(z, dim=1),
    "linear": lambda z: z,
}


class Scale(nr.Layer):
    """A user-written layer with one parameter vector: y = x * s (elementwise per column)."""

    def __init__(self, n):
        super().__init__()
        self.params = {"s": np.ones(n)}
        self.grads = {}

    def forward(self, x, training):
        self.x = x
        return x * self.params["s"]

    def backward(self, dy):
        self.grads["s"] = (dy * self.x).sum(0)
        return dy * self.params["s"]

    @staticmethod
    def torch_forward(a, params):
        return a * params["s"]


# ---- helpers ------------------------------------------------------------------------------

def make_targets(rng, output, units, n):
    if output == "sigmoid":
        y = rng.integers(0, 2, size=(n, units))
        return y[:, 0] if units == 1 else y
    if output == "softmax":
        return rng.integers(0, units, size=n)
    y = rng.standard_normal((n, units))
    return y[:, 0] if units == 1 else y


def randomize(net, rng, scale=0.8):
    """Overwrite every parameter in place (so biases are not zero and nothing sits at a kink)."""
    for p in net.params.values():
        p[...] = rng.standard_normal(p.shape) * scale


def param_names(net):
    """(layer, {key: name}) per layer, numbering only the layers that have parameters."""
    out, k = [], 0
    for layer in net.layers:
        if layer.params:
            k += 1
        out.append((layer, {key: f"{key}{k}" for key in layer.params}))
    return out


def torch_objective(net, X, y, training):
    """J and dJ/dθ computed by torch autograd from copies of net's parameters and masks."""
    params = {name: torch.tensor(np.array(p, dtype=np.float64), requires_grad=True)
              for name, p in net.params.items()}
    a = torch.tensor(np.asarray(X, dtype=np.float64))
    weights = []
    last = net.layers[-1]
    for layer, names in param_names(net):
        if isinstance(layer, nr.Dense):
            W, b = params[names["W"]], params[names["b"]]
            weights.append(W)
            z = a @ W + b
            a = z if layer is last else TORCH_ACT[layer.activation](z)
        elif isinstance(layer, nr.Activation):
            a = TORCH_ACT[layer.name](a)
        elif isinstance(layer, nr.Dropout):
            if training and layer.keep_prob < 1.0:
                a = a * torch.tensor(np.array(layer.mask, dtype=np.float64))
        else:
            a = layer.torch_forward(a, {key: params[name] for key, name in names.items()})
    z = a
    m = z.shape[0]
    if last.activation == "sigmoid":
        yt = torch.tensor(np.asarray(y, dtype=np.float64).reshape(m, -1))
        data = F.binary_cross_entropy_with_logits(z, yt, reduction="none").sum(dim=1).mean()
    elif last.activation == "softmax":
        data = F.cross_entropy(z, torch.tensor(np.asarray(y, dtype=np.int64)))
    else:
        yt = torch.tensor(np.asarray(y, dtype=np.float64).reshape(m, -1))
        data = 0.5 * ((z - yt) ** 2).sum(dim=1).mean()
    penalty = torch.zeros((), dtype=torch.float64)
    for W in weights:
        penalty = penalty + net.l2 / (2 * m) * (W ** 2).sum() + net.l1 / m * W.abs().sum()
    J = data + penalty
    names = list(params)
    grads = torch.autograd.grad(J, [params[n] for n in names], allow_unused=True)
    grads = {n: (np.zeros(params[n].shape) if g is None else g.numpy()) for n, g in zip(names, grads)}
    return J.item(), grads, z.detach().numpy()


def rel_err(g, ref):
    return np.linalg.norm(np.asarray(g, np.float64) - ref) / max(np.linalg.norm(ref), TINY)


def assert_matches_torch(net, X, y, training=False, j_rtol=J_RTOL, grad_rtol=GRAD_RTOL):
    J_nr = net.cost(X, y, training=training)
    g_nr = net.gradients(X, y, training=training)
    J_t, g_t, z = torch_objective(net, X, y, training)
    assert np.isfinite(J_nr)
    assert J_nr == pytest.approx(J_t, rel=j_rtol, abs=0), (J_nr, J_t)
    assert set(g_nr) == set(net.params) == set(g_t)
    errors = {}
    for name, p in net.params.items():
        assert g_nr[name].shape == p.shape, name
        assert np.all(np.isfinite(g_nr[name])), name
        errors[name] = rel_err(g_nr[name], g_t[name])
    bad = {name: e for name, e in errors.items() if not e <= grad_rtol}
    assert not bad, f"gradient mismatch (relative error) {bad}"
    return J_nr, g_nr, z


def two_hidden_net(hidden, output, units, l2, l1, dropout, seed=0):
    layers = [nr.Dense(7, hidden)]
    if dropout:
        layers.append(nr.Dropout(0.8))
    layers.append(nr.Dense(5, hidden))
    if dropout:
        layers.append(nr.Dropout(0.8))
    layers.append(nr.Dense(units, output))
    return nr.Network(layers, input_dim=3, l2=l2, l1=l1, seed=seed, dtype="float64")


# ---- the full grid --------------------------------------------------------------------------

@pytest.mark.parametrize("dropout", [False, True], ids=["nodrop", "drop0.8"])
@pytest.mark.parametrize("reg", list(REGS))
@pytest.mark.parametrize("out_id", list(OUTPUTS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_two_hidden_layers_match_torch(hidden, out_id, reg, dropout):
    output, units = OUTPUTS[out_id]
    l2, l1 = REGS[reg]
    seed = (HIDDEN.index(hidden) * 100 + list(OUTPUTS).index(out_id) * 10
            + list(REGS).index(reg)) * 2 + dropout
    rng = np.random.default_rng(seed)
    net = two_hidden_net(hidden, output, units, l2, l1, dropout, seed=seed)
    randomize(net, rng)
    X = rng.standard_normal((16, 3))
    y = make_targets(rng, output, units, 16)
    before = {name: p.copy() for name, p in net.params.items()}

    if not dropout:
        assert_matches_torch(net, X, y, training=False)
    else:
        net.freeze_dropout(True)
        drops = [layer for layer in net.layers if isinstance(layer, nr.Dropout)]
        J_nr = net.cost(X, y, training=True)
        masks = [layer.mask.copy() for layer in drops]
        g_nr = net.gradients(X, y, training=True)
        for layer, mask, width in zip(drops, masks, (7, 5)):
            assert layer.mask.shape == (16, width)
            np.testing.assert_array_equal(layer.mask, mask)          # frozen: not redrawn
            assert np.all((mask == 0) | (mask == 1 / 0.8))
            assert (mask == 0).any() and (mask != 0).any()             # dropout really acts
        J_t, g_t, _ = torch_objective(net, X, y, training=True)
        assert J_nr == pytest.approx(J_t, rel=J_RTOL, abs=0)
        assert set(g_nr) == set(net.params) == set(g_t)
        bad = {n: rel_err(g_nr[n], g_t[n]) for n in net.params
               if not rel_err(g_nr[n], g_t[n]) <= GRAD_RTOL}
        assert not bad, f"gradient mismatch (relative error) {bad}"
        # training=False ignores the masks: it matches the torch net without dropout
        assert_matches_torch(net, X, y, training=False)

    for name, p in net.params.items():          # computing J and ∇J leaves θ alone
        np.testing.assert_array_equal(p, before[name])


# ---- other architectures --------------------------------------------------------------------

def test_logistic_regression_no_hidden_layer():
    rng = np.random.default_rng(11)
    net = nr.mlp([3, 1], output="sigmoid", dtype="float64")
    randomize(net, rng)
    assert sorted(net.params) == ["W1", "b1"]
    X = rng.standard_normal((16, 3))
    y = rng.integers(0, 2, size=16)
    _, g, _ = assert_matches_torch(net, X, y)
    # the closed form: dJ/dW = Xᵀ(σ(Xw + b) − y)/m
    p = 1 / (1 + np.exp(-(X @ net.params["W1"] + net.params["b1"])))
    np.testing.assert_allclose(g["W1"], X.T @ (p - y[:, None]) / 16, rtol=1e-12)


@pytest.mark.parametrize("reg", ["none", "both"])
def test_logistic_regression_with_penalties(reg):
    rng = np.random.default_rng(12)
    l2, l1 = REGS[reg]
    net = nr.mlp([3, 1], output="sigmoid", l2=l2, l1=l1, dtype="float64")
    randomize(net, rng)
    assert_matches_torch(net, rng.standard_normal((16, 3)), rng.integers(0, 2, size=16))


@pytest.mark.parametrize("act", HIDDEN)
@pytest.mark.parametrize("out_id", ["sigmoid1", "softmax4", "linear2"])
def test_standalone_activation_layer(act, out_id):
    output, units = OUTPUTS[out_id]
    rng = np.random.default_rng(21 + HIDDEN.index(act))
    net = nr.Network([nr.Dense(6, "linear"), nr.Activation(act), nr.Dense(4, "tanh"),
                      nr.Activation("tanh"), nr.Dense(units, output)],
                     input_dim=3, l2=0.3, l1=0.2, seed=1, dtype="float64")
    assert sorted(net.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    randomize(net, rng)
    X = rng.standard_normal((16, 3))
    assert_matches_torch(net, X, make_targets(rng, output, units, 16))


def test_activation_layer_equals_fused_dense_activation():
    """Dense(n, 'linear') + Activation(a) gives the same J and ∇J as Dense(n, a)."""
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 4, size=16)
    for act in HIDDEN:
        split = nr.Network([nr.Dense(6, "linear"), nr.Activation(act), nr.Dense(4, "softmax")],
                           input_dim=3, l2=0.1, dtype="float64")
        fused = nr.Network([nr.Dense(6, act), nr.Dense(4, "softmax")], input_dim=3, l2=0.1,
                           dtype="float64")
        randomize(split, rng)
        fused.set_weights(split.get_weights())
        assert split.cost(X, y) == pytest.approx(fused.cost(X, y), rel=1e-14)
        gs, gf = split.gradients(X, y), fused.gradients(X, y)
        for name in gs:
            np.testing.assert_allclose(gs[name], gf[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("out_id", list(OUTPUTS))
@pytest.mark.parametrize("reg", ["none", "both"])
def test_user_written_layer(out_id, reg):
    output, units = OUTPUTS[out_id]
    l2, l1 = REGS[reg]
    rng = np.random.default_rng(31 + list(OUTPUTS).index(out_id))
    net = nr.Network([nr.Dense(6, "tanh"), Scale(6), nr.Dense(5, "relu"), nr.Dense(units, output)],
                     input_dim=3, l2=l2, l1=l1, seed=2, dtype="float64")
    assert list(net.params) == ["W1", "b1", "s2", "W3", "b3", "W4", "b4"]
    randomize(net, rng)
    net.params["s2"][...] = rng.uniform(0.5, 2.0, size=6) * rng.choice([-1, 1], size=6)
    X = rng.standard_normal((16, 3))
    y = make_targets(rng, output, units, 16)
    J1, g1, _ = assert_matches_torch(net, X, y)
    # the user layer's parameter is not penalized: J depends on s only through the data term
    assert np.abs(g1["s2"]).max() > 0
    # a second call gives the same answer (the user's fresh grad arrays are copied in again)
    g2 = net.gradients(X, y)
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name])
    assert net.cost(X, y) == J1


def test_user_written_layer_with_dropout_and_first_position():
    rng = np.random.default_rng(41)
    net = nr.Network([Scale(3), nr.Dense(6, "leaky_relu"), nr.Dropout(0.7), Scale(6),
                      nr.Dense(3, "sigmoid")], input_dim=3, l2=0.3, l1=0.2, seed=3, dtype="float64")
    assert list(net.params) == ["s1", "W2", "b2", "s3", "W4", "b4"]
    randomize(net, rng)
    net.freeze_dropout(True)
    X = rng.standard_normal((16, 3))
    y = rng.integers(0, 2, size=(16, 3))
    assert_matches_torch(net, X, y, training=True)


def test_user_layer_penalty_excludes_its_params():
    """Scaling a user layer's params by hand changes J only through the data term."""
    rng = np.random.default_rng(42)
    X, y = rng.standard_normal((16, 3)), rng.standard_normal(16)
    nets = []
    for l2 in (0.0, 5.0):
        net = nr.Network([nr.Dense(4, "tanh"), Scale(4), nr.Dense(1, "linear")], input_dim=3, l2=l2,
                         seed=0, dtype="float64")
        nets.append(net)
    randomize(nets[0], rng)
    nets[1].set_weights(nets[0].get_weights())
    g0, g1 = nets[0].gradients(X, y), nets[1].gradients(X, y)
    np.testing.assert_allclose(g0["s2"], g1["s2"], rtol=1e-14)
    np.testing.assert_allclose(g0["b1"], g1["b1"], rtol=1e-14)
    np.testing.assert_allclose(g1["W1"] - g0["W1"], 5.0 / 16 * nets[0].params["W1"], rtol=1e-10)


# ---- property-based ---------------------------------------------------------------------------

@st.composite
def architectures(draw):
    depth = draw(st.integers(0, 3))
    layers_spec = []
    for _ in range(depth):
        kind = draw(st.sampled_from(["dense", "dense", "dense_act", "scale_dense"]))
        width = draw(st.integers(1, 8))
        act = draw(st.sampled_from(HIDDEN))
        keep = draw(st.sampled_from([1.0, 1.0, 0.5, 0.9]))
        layers_spec.append((kind, width, act, keep))
    out_id = draw(st.sampled_from(list(OUTPUTS)))
    reg = draw(st.sampled_from(list(REGS)))
    n = draw(st.integers(1, 24))
    n_in = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return layers_spec, out_id, reg, n, n_in, seed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures())
def test_property_random_networks_match_torch(arch):
    layers_spec, out_id, reg, n, n_in, seed = arch
    output, units = OUTPUTS[out_id]
    l2, l1 = REGS[reg]
    layers, width = [], n_in
    for kind, w, act, keep in layers_spec:
        if kind == "scale_dense":
            layers.append(Scale(width))
        if kind == "dense_act":
            layers += [nr.Dense(w, "linear"), nr.Activation(act)]
        else:
            layers.append(nr.Dense(w, act))
        if keep < 1.0:
            layers.append(nr.Dropout(keep))
        width = w
    layers.append(nr.Dense(units, output))
    rng = np.random.default_rng(seed)
    net = nr.Network(layers, input_dim=n_in, l2=l2, l1=l1, seed=seed, dtype="float64")
    net.freeze_dropout(True)
    randomize(net, rng)
    X = rng.standard_normal((n, n_in))
    y = make_targets(rng, output, units, n)
    training = any(isinstance(layer, nr.Dropout) for layer in layers)

    _, g, _ = assert_matches_torch(net, X, y, training=training)
    assert list(g) == list(net.params)
    for name, p in net.params.items():
        assert g[name].shape == p.shape and g[name].dtype == p.dtype
        assert not np.shares_memory(g[name], p)


# ---- stability at huge logits ---------------------------------------------------------------

def huge_logit_net(out_id, how, dtype, rng):
    """A net whose logits reach |z| ≈ 1e4, by scaling the last layer or by huge inputs."""
    output, units = OUTPUTS[out_id]
    hidden = "tanh" if how == "scaled_weights" else "leaky_relu"
    net = nr.Network([nr.Dense(7, hidden), nr.Dense(5, hidden), nr.Dense(units, output)],
                     input_dim=3, l2=0.3, l1=0.2, seed=4, dtype=dtype)
    randomize(net, rng)
    X = rng.standard_normal((16, 3))
    y = make_targets(rng, output, units, 16)
    if how == "scaled_weights":
        _, _, z = torch_objective(net, X, y, training=False)
        factor = 1e4 / np.abs(z).max()
        net.params["W3"][...] *= factor
        net.params["b3"][...] *= factor
    else:
        _, _, z = torch_objective(net, X, y, training=False)
        X = X * (1e4 / np.abs(z).max())
    return net, X, y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["scaled_weights", "huge_inputs"])
@pytest.mark.parametrize("out_id", list(OUTPUTS))
def test_huge_logits_are_finite_and_match_torch(out_id, how, dtype):
    rng = np.random.default_rng(51 + list(OUTPUTS).index(out_id))
    net, X, y = huge_logit_net(out_id, how, dtype, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # any overflow/invalid warning fails
        J = net.cost(X, y)
        g = net.gradients(X, y)
        out = net.output(X)
        pred = net.predict(X)
    assert np.isfinite(J)
    for name, grad in g.items():
        assert np.all(np.isfinite(grad)), name
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(pred))

    J_t, g_t, z = torch_objective(net, X, y, training=False)
    assert 5e3 < np.abs(z).max() < 2e4                  # the logits really are huge
    if dtype == "float64":
        assert J == pytest.approx(J_t, rel=J_RTOL, abs=0)
        bad = {n: rel_err(g[n], g_t[n]) for n in g if not rel_err(g[n], g_t[n]) <= GRAD_RTOL}
        assert not bad, bad
    else:
        # float32 arithmetic against the float64 oracle on the float32 parameters
        assert J == pytest.approx(J_t, rel=1e-4)
        bad = {n: rel_err(g[n], g_t[n]) for n in g if not rel_err(g[n], g_t[n]) <= 1e-3}
        assert not bad, bad


@pytest.mark.parametrize("units", [1, 3])
def test_bce_at_huge_logits_matches_torch_exactly(units):
    """The BCE cost alone (no penalty) at z = ±1e4, ±50, ±1e-3 against torch's
    binary_cross_entropy_with_logits: one Dense sigmoid layer whose logits we set directly."""
    z_vals = np.array([1e4, -1e4, 50.0, -50.0, 1e-3, -1e-3, 700.0, -745.0])
    n = len(z_vals)
    net = nr.Network([nr.Dense(units, "sigmoid")], input_dim=1, dtype="float64")
    net.params["W1"][...] = np.linspace(1.0, 0.5, units)
    net.params["b1"][...] = 0.0
    X = z_vals[:, None]
    for y_col in (0, 1):
        y = np.full((n, units), y_col)
        yy = y[:, 0] if units == 1 else y
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            J = net.cost(X, yy)
            g = net.gradients(X, yy)
        z = torch.tensor(X * net.params["W1"])
        ref = F.binary_cross_entropy_with_logits(z, torch.tensor(y, dtype=torch.float64),
                                                 reduction="none").sum(1).mean().item()
        assert np.isfinite(J) and J == pytest.approx(ref, rel=J_RTOL, abs=0)
        assert all(np.all(np.isfinite(v)) for v in g.values())
        _, g_t, _ = torch_objective(net, X, yy, training=False)
        for name in g:
            assert rel_err(g[name], g_t[name]) <= GRAD_RTOL, name
