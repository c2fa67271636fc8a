"""The engine: hand-worked values, initialization statistics, dropout, dtypes, logistic regression."""

import math

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.engine import init


def tiny_logistic(l2):
    net = nr.mlp([2, 1], output="sigmoid", l2=l2, dtype="float64")
    net.params["W1"][...] = [[1.0], [-2.0]]
    net.params["b1"][...] = 0.5
    return net


def test_tiny_cost_with_l2_by_hand():
    # X = [[1, 0], [0, 1]], y = [1, 0], W = [1, -2]ᵀ, b = 0.5  →  z = [1.5, -1.5].
    # Both examples have loss -log σ(1.5) = log(1 + e^-1.5) = 0.2014132779827524...
    # Penalty: λ/(2m)·‖W‖² = 0.1/4 · (1 + 4) = 0.125.   J = 0.2014132779827524 + 0.125.
    X, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 0])
    net = tiny_logistic(l2=0.1)
    assert net.cost(X, y) == pytest.approx(math.log1p(math.exp(-1.5)) + 0.125, rel=1e-14)
    assert net.cost(X, y) == pytest.approx(0.3264132779827524, rel=1e-14)
    # dz = p − y = [σ(1.5) − 1, σ(−1.5)] = [−s, s] with s = σ(−1.5) = 0.18242552380635635.
    # dW = Xᵀdz/m + (λ/m)·W = [−s/2 + 0.05, s/2 − 0.1];  db = (−s + s)/2 = 0 (never penalized).
    s = 1 / (1 + math.exp(1.5))
    grads = net.gradients(X, y)
    np.testing.assert_allclose(grads["W1"][:, 0], [-s / 2 + 0.05, s / 2 - 0.1], rtol=1e-13)
    assert grads["b1"][0] == pytest.approx(0.0, abs=1e-16)


def test_l1_penalty_by_hand():
    X, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 0])
    net = nr.mlp([2, 1], output="sigmoid", l1=0.3, dtype="float64")
    net.params["W1"][...] = [[1.0], [-2.0]]
    net.params["b1"][...] = 0.5
    # λ₁/m·Σ|W| = 0.3/2 · 3 = 0.45; gradient adds λ₁/m·sign(W) = [0.15, -0.15].
    assert net.cost(X, y) == pytest.approx(math.log1p(math.exp(-1.5)) + 0.45, rel=1e-14)
    s = 1 / (1 + math.exp(1.5))
    np.testing.assert_allclose(net.gradients(X, y)["W1"][:, 0], [-s / 2 + 0.15, s / 2 - 0.15], rtol=1e-13)


@pytest.mark.parametrize("scheme, variance", [
    ("he", 2 / 1000), ("xavier", 1 / 1000), ("glorot", 2 / 1500),
    ("he_uniform", 2 / 1000), ("xavier_uniform", 1 / 1000), ("glorot_uniform", 2 / 1500),
    ("random", 0.01 ** 2), ("random_uniform", 0.01 ** 2)])
def test_init_variance(scheme, variance):
    net = nr.mlp([1000, 500, 1], init=scheme, seed=0, dtype="float64")
    W = net.params["W1"]
    assert W.shape == (1000, 500)
    assert W.var() == pytest.approx(variance, rel=0.05)
    assert abs(W.mean()) < 0.05 * math.sqrt(variance)
    assert not net.params["b1"].any()                              # biases start at zero
    if scheme.endswith("uniform"):
        assert np.abs(W).max() <= math.sqrt(3 * variance)


def test_init_zeros_and_auto():
    net = nr.mlp([4, 3, 1], init="zeros")
    assert not net.theta.any()
    assert init.resolve("auto", "relu") == "he" and init.resolve("auto", "leaky_relu") == "he"
    assert init.resolve("auto", "tanh") == "xavier" and init.resolve("auto", "sigmoid") == "xavier"
    relu_net = nr.mlp([1000, 400, 1], hidden="relu", seed=1, dtype="float64")
    tanh_net = nr.mlp([1000, 400, 1], hidden="tanh", seed=1, dtype="float64")
    assert relu_net.params["W1"].var() == pytest.approx(2 / 1000, rel=0.05)
    assert tanh_net.params["W1"].var() == pytest.approx(1 / 1000, rel=0.05)


def test_random_scale_settable():
    layer = nr.Dense(300, "tanh", init="random", scale=0.5)
    net = nr.Network([layer, nr.Dense(1, "sigmoid")], input_dim=400, seed=0, dtype="float64")
    assert net.params["W1"].std() == pytest.approx(0.5, rel=0.05)


def test_dropout_does_not_change_initial_weights():
    a = nr.mlp([5, 8, 6, 1], seed=7)
    b = nr.mlp([5, 8, 6, 1], keep_prob=0.5, seed=7)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_inverted_dropout_statistics_and_predict_identity():
    layer = nr.Dropout(0.8)
    layer.rng = np.random.default_rng(0)
    x = np.ones((400, 500))
    out = layer.forward(x, training=True)
    assert set(np.unique(out)) <= {0.0, 1.25}
    assert out.mean() == pytest.approx(1.0, abs=0.01)                       # expectation kept
    assert (out > 0).mean() == pytest.approx(0.8, abs=0.01)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)     # same mask backward
    assert layer.forward(x, training=False) is x                            # identity at predict time
    assert x.min() == 1.0                                                   # input untouched


def test_frozen_dropout_makes_cost_deterministic():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 2, 30)
    net = nr.mlp([4, 16, 16, 1], keep_prob=[0.5, 0.7], seed=0, dtype="float64")
    assert net.cost(X, y, training=True) != net.cost(X, y, training=True)   # fresh masks
    net.freeze_dropout()
    assert net.cost(X, y, training=True) == net.cost(X, y, training=True)
    assert net.cost(X, y, training=True) != net.cost(X, y)                  # dropout is on
    net.freeze_dropout(False)
    assert net.cost(X, y, training=True) != net.cost(X, y, training=True)


def test_float32_by_default_float64_on_request():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 3, 64)
    net = nr.mlp([3, 8, 3], output="softmax", seed=0)
    assert all(p.dtype == np.float32 for p in net.params.values())
    nr.fit(net, X, y, epochs=3, batch_size=16, verbose=0)
    assert all(p.dtype == np.float32 for p in net.params.values())           # Adam did not promote
    assert net.predict_proba(X).dtype == np.float32
    net64 = nr.mlp([3, 8, 3], output="softmax", seed=0, dtype="float64")
    assert net64.predict_proba(X).dtype == np.float64
    with pytest.raises(nr.NNRecipeError, match="dtype"):
        nr.mlp([3, 1], dtype="float16")


def test_predict_shapes_and_probabilities():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    binary = nr.mlp([3, 4, 1], seed=0)
    p = binary.predict_proba(X)
    assert p.shape == (10, 2) and np.allclose(p.sum(1), 1)
    assert set(binary.predict(X)) <= {0, 1} and binary.predict(X).shape == (10,)
    multi = nr.mlp([3, 4, 5], output="softmax", seed=0)
    assert multi.predict_proba(X).shape == (10, 5) and np.allclose(multi.predict_proba(X).sum(1), 1)
    np.testing.assert_array_equal(multi.predict(X), multi.predict_proba(X).argmax(1))
    reg = nr.mlp([3, 4, 2], output="linear", seed=0)
    assert reg.predict(X).shape == (10, 2)
    with pytest.raises(nr.NNRecipeError, match="predict_proba"):
        reg.predict_proba(X)


def test_logistic_regression_matches_scikit_learn():
    """mlp([n_x, 1]) is logistic regression: J = (1/m)ΣL + λ/2m‖w‖² has the minimizer of
    scikit-learn's C·ΣL + ½‖w‖² with C = 1/λ."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    X, y = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    net = nr.mlp([4, 1], output="sigmoid", l2=2.0, seed=0, dtype="float64")
    nr.fit(net, X, y, epochs=3000, optimizer="adam", lr=0.05, verbose=0)
    ref = LogisticRegression(C=1 / 2.0, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(net.params["W1"][:, 0], ref.coef_[0], atol=1e-4)
    assert net.params["b1"][0] == pytest.approx(ref.intercept_[0], abs=1e-4)


def test_inputs_are_never_modified():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)).astype(np.float32), rng.integers(0, 2, 50)
    X0, y0 = X.copy(), y.copy()
    net = nr.mlp([3, 5, 1], keep_prob=0.8, seed=0)
    net.normalizer = nr.Standardizer().fit(X)
    nr.fit(net, X, y, dev=(X, y), epochs=3, batch_size=7, verbose=0)
    net.predict(X), net.cost(X, y), net.gradients(X, y, training=True)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_standardizer_matches_scikit_learn():
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(0)
    X = rng.normal(3, 2, size=(100, 4))
    X[:, 2] = 5.0                                                  # σ = 0 is only centred
    ours, ref = nr.Standardizer().fit(X), StandardScaler().fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), X, atol=1e-12)


def test_params_are_live_views_of_theta():
    net = nr.mlp([3, 4, 1], seed=0)
    net.params["W1"][0, 0] = 42.0
    assert 42.0 in net.theta
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.n_params == 3 * 4 + 4 + 4 + 1
