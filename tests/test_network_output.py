"""The network owns its output activation and loss: the layers it is given are not changed, so a
layer object can serve in another network (as the output or as a hidden layer) with the numbers of
a fresh one. And the flat parameter layout is public: theta, grad_theta, slices, n_penalized."""

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.datasets import football

CACHES = {"params", "grads", "x", "a", "_ones"}       # what build and forward/backward fill in


def _settings(layer):
    return {k: v for k, v in vars(layer).items() if k not in CACHES}


def _data(n=40, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def test_a_network_does_not_change_its_layers():
    first, out = nr.Dense(4, "tanh"), nr.Dense(1, "sigmoid")
    before = _settings(first), _settings(out)
    net = nr.Network([first, nr.Dropout(0.9), out], input_dim=2, seed=0)
    X, y = _data()
    net.gradients(X, y, training=True)
    net.cost(X, y)
    assert (_settings(first), _settings(out)) == before
    assert not hasattr(out, "activation_in_loss") and not hasattr(first, "propagate")


def _twin(layers, reused_at, seed=3):
    """A network with `layers` and one built from fresh copies of the same layers (same config)."""
    fresh = [type(layer)(**{k: v for k, v in layer.config().items() if k != "type"}) for layer in layers]
    return (nr.Network(layers, input_dim=2, seed=seed, dtype="float64"),
            nr.Network(fresh, input_dim=2, seed=seed, dtype="float64"))


@pytest.mark.parametrize("case", ["output then hidden", "first then middle"])
def test_a_layer_reused_in_another_network_computes_what_a_fresh_one_does(case):
    X, y = _data()
    if case == "output then hidden":
        shared = nr.Dense(3, "sigmoid")
        nr.Network([nr.Dense(5, "relu"), shared], input_dim=2, seed=0).gradients(X, np.eye(3)[y + 1])
        layers = [shared, nr.Dense(1, "sigmoid")]                 # now a hidden sigmoid layer
    else:
        shared = nr.Dense(4, "tanh")
        nr.Network([shared, nr.Dense(1, "sigmoid")], input_dim=2, seed=0).gradients(X, y)
        layers = [nr.Dense(3, "relu"), shared, nr.Dense(1, "sigmoid")]   # now it must pass dx on
    reused, fresh = _twin(layers, shared)
    np.testing.assert_array_equal(reused.theta, fresh.theta)
    assert reused.cost(X, y) == fresh.cost(X, y)
    g_reused, g_fresh = reused.gradients(X, y), fresh.gradients(X, y)
    assert g_reused.keys() == g_fresh.keys()
    for name in g_fresh:
        np.testing.assert_array_equal(g_reused[name], g_fresh[name])
    np.testing.assert_array_equal(reused.predict_proba(X), fresh.predict_proba(X))
    assert nr.gradcheck(reused, X, y).verdict == "ok"
    h1 = nr.fit(reused, X, y, epochs=20, lr=0.1, verbose=0)
    h2 = nr.fit(fresh, X, y, epochs=20, lr=0.1, verbose=0)
    assert h1.cost == h2.cost
    np.testing.assert_array_equal(reused.theta, fresh.theta)


def test_the_output_layer_is_known_to_the_network():
    net = nr.mlp([2, 5, 3, 1], seed=0)
    assert net.output_layer is net.layers[-1]
    assert net.fused(net.layers[-1]) and not any(net.fused(layer) for layer in net.layers[:-1])
    assert not net.fused(nr.Dense(1, "sigmoid"))
    X, y = _data()
    Xp = net.prepare_X(X)
    outputs = net.layer_outputs(Xp)
    assert len(outputs) == len(net.layers)
    np.testing.assert_array_equal(outputs[-1], net.logits(Xp))            # the logits, not sigmoid(z)
    assert (outputs[-1] < 0).any() and (outputs[0] >= 0).all()             # relu hidden, logits out
    np.testing.assert_allclose(1 / (1 + np.exp(-outputs[-1].astype(np.float64))), net.output(X), rtol=1e-6)


def test_the_flat_layout_is_public():
    net = nr.mlp([2, 5, 3, 1], l2=0.1, seed=0, dtype="float64")
    X, y = _data()
    grads = net.gradients(X, y)
    slices = net.slices
    assert list(slices) == list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for name, (offset, shape) in slices.items():
        size = int(np.prod(shape))
        view = net.theta[offset:offset + size].reshape(shape)
        assert np.shares_memory(view, net.params[name]) and shape == net.params[name].shape
        np.testing.assert_array_equal(net.grad_theta[offset:offset + size].reshape(shape), grads[name])
    assert net.n_penalized == 2 * 5 + 5 * 3 + 3 * 1
    assert all(slices[w][0] < net.n_penalized for w in ("W1", "W2", "W3"))
    assert all(slices[b][0] >= net.n_penalized for b in ("b1", "b2", "b3"))
    assert net.grad_theta is net.grad_theta and net.grad_theta.shape == net.theta.shape


def test_the_flat_layout_needs_a_built_network(tmp_path):
    net = nr.Network([nr.Dense(1, "sigmoid")])
    for attr in ("grad_theta", "slices", "n_penalized"):
        with pytest.raises(nr.NNRecipeError, match="not built"):
            getattr(net, attr)
    with pytest.raises(nr.NNRecipeError, match="net must be a built network"):
        net.save(tmp_path / "m.npz")


def test_layers_reused_in_the_same_places_give_the_same_numbers():
    """A course-sized net trained a few steps: the same numbers when its layers were used before."""
    X, y, _, _ = football()
    hidden, out = nr.Dense(20, "relu"), nr.Dense(1, "sigmoid")
    nr.Network([hidden, nr.Dense(3, "relu"), out], input_dim=2, seed=1).gradients(X, y)
    again = nr.Network([hidden, nr.Dense(3, "relu"), out], input_dim=2, seed=3)
    fresh = nr.mlp([2, 20, 3, 1], seed=3)
    h1 = nr.fit(again, X, y, epochs=50, lr=0.3, verbose=0)
    h2 = nr.fit(fresh, X, y, epochs=50, lr=0.3, verbose=0)
    assert h1.cost == h2.cost
