"""Gradient health: values worked by hand, each rule on a network built to break it, a healthy
network that breaks none, GradientMonitor's series and its neutrality, and every bad input."""

import json
import math
import warnings

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.doctor.health import (
    DEAD,
    EXPLODING,
    SATURATED,
    VANISHING,
    GradientMonitor,
    HealthReport,
    health,
)


@pytest.fixture(scope="module")
def moons():
    t = nr.load_dataset("moons")
    return (t.X - t.X.mean(0)) / t.X.std(0), t.y


def rules(findings):
    return {(f.rule, f.layer) for f in findings}


def tiny(activation="relu", l2=0.0):
    """2 → 2 (activation) → 1 (linear), float64, weights set by hand."""
    net = nr.Network([nr.Dense(2, activation), nr.Dense(1, "linear")], input_dim=2, l2=l2, dtype="float64")
    net.set_weights({"W1": [[1.0, -1.0], [1.0, -2.0]], "b1": [0.0, 0.0], "W2": [[1.0], [2.0]], "b2": [0.0]})
    return net


X_TINY, Y_TINY = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([1.0, 1.0])


# ---- values worked by hand --------------------------------------------------------------------
def test_known_values_on_a_tiny_relu_net():
    # z1 = X·W1 = [[3, −5], [2, −1]] → a1 = [[3, 0], [2, 0]]: unit 2 is 0 on both rows (dead).
    # z2 = a1·W2 = [3, 2]; J = ½·((3−1)² + (2−1)²)/2 = 1.25; dz2 = (z2 − y)/m = [1, 0.5].
    # dW2 = a1ᵀ·dz2 = [[4], [0]];  dz1 = (dz2·W2ᵀ)·[a1 > 0] = [[1, 0], [0.5, 0]];
    # dW1 = Xᵀ·dz1 = [[2.5, 0], [1.5, 0]] → ‖dW1‖ = √8.5, ‖dW2‖ = 4.
    net = tiny()
    rep = health(net, X_TINY, Y_TINY)
    w1, w2 = rep.layers
    assert rep.cost == pytest.approx(1.25)
    assert w1["name"] == "W1" and w2["name"] == "W2" and w2["output"] and not w1["output"]
    assert w1["grad_norm"] == pytest.approx(math.sqrt(8.5)) and w2["grad_norm"] == pytest.approx(4.0)
    assert w1["weight_norm"] == pytest.approx(math.sqrt(7)) and w2["weight_norm"] == pytest.approx(math.sqrt(5))
    assert rep.gradient_ratio == pytest.approx(math.sqrt(8.5) / 4)
    assert w1["dead_share"] == 0.5 and w1["saturated_share"] is None
    assert w1["act_mean"] == pytest.approx(1.25) and w1["act_std"] == pytest.approx(math.sqrt(6.75 / 4))
    assert w2["act_mean"] == pytest.approx(2.5) and w2["act_std"] == pytest.approx(0.5)    # logits [3, 2]
    assert w2["dead_share"] is None and w2["saturated_share"] is None                       # output layer
    assert rep.ok and rep.findings == []


def test_gradient_norms_are_those_of_the_data_loss_without_the_penalty():
    net = tiny(l2=0.3)
    grads = tiny().gradients(X_TINY, Y_TINY)              # the same weights with l2 = 0
    rep = health(net, X_TINY, Y_TINY)
    assert [r["grad_norm"] for r in rep.layers] == pytest.approx([np.linalg.norm(grads["W1"]),
                                                                  np.linalg.norm(grads["W2"])])
    assert rep.cost == pytest.approx(net.cost(X_TINY, Y_TINY))     # the cost is J, penalty included
    assert net.l2 == 0.3


def test_an_l2_penalty_does_not_hide_vanishing_gradients():
    # 8 sigmoid layers: ‖dW1‖/‖dW9‖ ≈ 1.6e-5; λW/m added to the gradients would lift it to 0.055
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 10))
    y = (X[:, 0] > 0).astype(int)
    reports = [health(nr.mlp([10] + [32] * 8 + [1], hidden="sigmoid", init="xavier", l2=l2, seed=0), X, y)
               for l2 in (0.0, 1.0)]
    assert reports[0].gradient_ratio == reports[1].gradient_ratio < VANISHING
    assert [rules(r.findings) for r in reports] == [{("vanishing_gradients", "W1")}] * 2


def test_leaky_relu_unit_with_negative_preactivation_everywhere_is_dead():
    rep = health(tiny("leaky_relu"), X_TINY, Y_TINY)      # unit 2: z = −5, −1 → outputs −0.05, −0.01
    assert rep.layers[0]["dead_share"] == 0.5


def test_relus_of_a_standalone_activation_layer_are_those_of_the_dense_layer_before_it():
    X = np.random.default_rng(0).standard_normal((50, 4))
    net = nr.Network([nr.Dense(8, "linear"), nr.Activation("relu"), nr.Dense(8, "relu"), nr.Dense(1, "sigmoid")],
                     input_dim=4, seed=0)
    net.params["b1"][...] = -100                           # z1 < 0 everywhere: the Activation's relus are dead
    rep = health(net, X, (X[:, 0] > 0).astype(int))
    w1, w2, _ = rep.layers
    assert (w1["activation"], w1["dead_share"], w1["activation_layer"]) == ("relu", 1.0, 1)
    assert w2["activation_layer"] is None
    dead = {f.layer: f for f in rep.findings if f.rule == "dead_relu"}
    assert "the 8 relu units of net.layers[1] (Activation after W1) are dead" in dead["W1"].message
    assert "He initialization (init='he') for W1" in dead["W1"].repair
    assert "vanishing_signal" not in {f.rule for f in rep.findings}


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturated_share_counts_example_unit_pairs(activation):
    # unit 1 sees z = 10, −10, 5, 0.1: saturated on 3 rows (tanh(5) = 0.99991, σ(5) = 0.9933);
    # unit 2 sees z = 0.1·x: never. 3 of 8 pairs.
    net = nr.Network([nr.Dense(2, activation), nr.Dense(1, "sigmoid")], input_dim=1, dtype="float64")
    net.params["W1"][...] = [[10.0, 0.1]]
    rep = health(net, [[1.0], [-1.0], [0.5], [0.01]], [0, 1, 0, 1])
    assert rep.layers[0]["saturated_share"] == pytest.approx(3 / 8) and rep.layers[0]["dead_share"] is None


def test_health_changes_no_weight_and_no_random_stream(moons):
    X, y = moons
    net = nr.mlp([2, 16, 16, 1], keep_prob=0.5, seed=0)
    theta, streams = net.theta.copy(), [layer.rng.bit_generator.state for layer in net.layers
                                        if isinstance(layer, nr.Dropout)]
    health(net, X, y)
    assert np.array_equal(net.theta, theta)
    assert streams == [layer.rng.bit_generator.state for layer in net.layers if isinstance(layer, nr.Dropout)]


# ---- each rule on a network built to break it ---------------------------------------------------
def test_vanishing_gradients_in_a_deep_sigmoid_net_with_small_random_init():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    net = nr.mlp([8] + [16] * 19 + [1], hidden="sigmoid", init="random", seed=0)    # N(0, 1)·0.01
    rep = health(net, X, (X[:, 0] > 0).astype(int))
    assert len(rep.layers) == 20 and rep.gradient_ratio < VANISHING
    (f,) = [f for f in rep.findings if f.rule == "vanishing_gradients"]
    assert f.layer == "W1" and f.value == rep.gradient_ratio and f.threshold == VANISHING
    assert "AutoTrainer" in f.anchor and "Xavier initialization" in f.repair and "W19" in f.repair
    assert "normalized inputs" in f.repair


def test_exploding_gradients_in_a_deep_tanh_net_in_the_chaotic_regime():
    # σ_w = 4: tanh keeps every activation in [−1, 1] while the backward signal grows layer by layer
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    layers = [nr.Dense(64, "tanh", "random", scale=4 / math.sqrt(n)) for n in [8] + [64] * 18]
    net = nr.Network(layers + [nr.Dense(1, "sigmoid")], input_dim=8, seed=0)
    rep = health(net, X, (X[:, 0] > 0).astype(int))
    (f,) = [f for f in rep.findings if f.rule == "exploding_gradients"]
    assert f.layer == "W1" and f.value > EXPLODING and f.threshold == EXPLODING
    assert f.repair.startswith("gradient clipping, a lower learning rate")
    assert "Xavier initialization (init='xavier') for W1, W2, …, W19 (19 layers)" in f.repair


def deep_identity_net(depth=12, width=4, gain=1.5):
    net = nr.mlp([width] * depth + [1], hidden="linear", output="linear", seed=0, dtype="float64")
    for k in range(1, depth):
        net.params[f"W{k}"][...] = gain * np.eye(width)
    return net


def test_deep_linear_net_with_weights_1_5_identity_has_huge_but_even_gradients():
    # dW_k = a_{k−1}ᵀ·δ_k with a_{k−1} = 1.5^{k−1}·X and δ_k = 1.5^{11−k}·δ12·W12ᵀ: every hidden
    # layer's gradient has the same norm, and ‖dW1‖/‖dW12‖ = ‖W12‖/1.5 exactly. The ratio rule
    # (AutoTrainer's) cannot see this explosion; the cost blows up in training instead (below).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    net = deep_identity_net()
    rep = health(net, X, X.sum(1))
    hidden = [r["grad_norm"] for r in rep.layers[:-1]]
    assert min(hidden) > 1e3 and hidden == pytest.approx([hidden[0]] * 11, rel=1e-12)
    assert rep.gradient_ratio == pytest.approx(np.linalg.norm(net.params["W12"]) / 1.5, rel=1e-12)
    assert "exploding_gradients" not in {f.rule for f in rep.findings}


def test_monitor_records_the_divergence_that_fit_stops():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    net = deep_identity_net()
    mon = GradientMonitor(X, X.sum(1), every=100)          # no check before the divergence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # fit's own overflow on the way to inf
        with pytest.warns(nr.DivergenceWarning):
            hist = nr.fit(net, X, X.sum(1), epochs=5, optimizer="gd", lr=0.1, verbose=0, callbacks=[mon])
    assert mon.epochs == [] and len(mon.findings) == 1
    f = mon.findings[0]
    assert (f.rule, f.layer, f.epoch) == ("non_finite", None, len(hist)) and f.message == hist.stop_reason
    assert "a lower learning rate" in f.repair and "gradient clipping" in f.repair


def test_non_finite_weight_is_reported_by_layer():
    net = tiny()
    net.params["W2"][1, 0] = np.nan
    rep = health(net, X_TINY, Y_TINY)
    assert rules(rep.findings) == {("non_finite", None), ("non_finite", "W2")}
    assert not rep.ok and json.dumps(rep.to_dict(), allow_nan=False)
    assert rep.to_dict()["cost"] is None


def test_dead_relus_after_a_huge_learning_rate(moons):
    X, y = moons
    net = nr.mlp([2, 32, 32, 1], hidden="relu", seed=0)
    mon = GradientMonitor(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nr.DivergenceWarning)     # no NaN: the units die, training goes on
        nr.fit(net, X, y, epochs=10, optimizer="gd", lr=3.8, verbose=0, callbacks=[mon])   # 10 diverges: stopped
    dead = [f for f in mon.findings if f.rule == "dead_relu"]
    assert [f.layer for f in dead] == ["W2"] and dead[0].value >= DEAD and dead[0].threshold == DEAD
    assert mon.dead_share["W2"][-1] >= DEAD and mon.dead_share["W2"][0] < DEAD       # killed by training
    assert dead[0].epoch == mon.epochs[next(i for i, v in enumerate(mon.dead_share["W2"]) if v >= DEAD)]
    assert "DeepDiagnosis" in dead[0].anchor and dead[0].repair == "a lower learning rate"   # He already


def test_saturation_in_a_tanh_net_with_a_huge_init_scale():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    net = nr.Network([nr.Dense(50, "tanh", "random", scale=10), nr.Dense(50, "tanh", "random", scale=10),
                      nr.Dense(1, "sigmoid")], input_dim=10, seed=0)
    rep = health(net, X, (X[:, 0] > 0).astype(int))
    assert rules(rep.findings) == {("saturation", "W1"), ("saturation", "W2")}
    for f, row in zip(rep.findings, rep.layers):
        assert f.value == row["saturated_share"] > SATURATED and f.threshold == SATURATED
        assert f.repair == f"Xavier initialization (init='xavier') for {f.layer}, normalized inputs, a lower learning rate"


def test_a_healthy_he_relu_net_trained_normally_breaks_no_rule(moons):
    X, y = moons
    net = nr.mlp([2, 32, 16, 1], hidden="relu", init="he", seed=0)
    mon = GradientMonitor(X, y, max_rows=200)
    nr.fit(net, X, y, epochs=60, batch_size=64, optimizer="adam", lr=0.01, verbose=0, callbacks=[mon])
    assert net.error(X, y) < 0.05
    assert mon.findings == [] and mon.report.ok and health(net, X, y).ok
    assert "healthy: no rule fired" in str(mon.report)


# ---- GradientMonitor --------------------------------------------------------------------------
class Snapshots(nr.Callback):
    def __init__(self):
        self.weights = []

    def on_train_begin(self, run):
        self.weights.append(run.net.get_weights())

    def on_epoch_end(self, run, logs):
        self.weights.append(run.net.get_weights())


def test_monitor_series_are_health_at_each_check_and_update_ratios_by_hand(moons):
    X, y = moons
    net = nr.mlp([2, 8, 8, 1], seed=1, dtype="float64")
    snaps, mon = Snapshots(), GradientMonitor(X, y, every=2, max_rows=50, seed=3)
    nr.fit(net, X, y, epochs=5, batch_size=32, lr=0.01, verbose=0, callbacks=[snaps, mon])
    assert mon.epochs == [1, 3] and len(mon.X) == 50
    assert set(mon.grad_norms) == {"W1", "W2", "W3"} and all(len(v) == 2 for v in mon.grad_norms.values())
    assert mon.saturated_share["W1"] == [None, None] and mon.dead_share["W3"] == [None, None]
    for name in ("W1", "W2", "W3"):        # ‖W_now − W_prev‖/‖W_prev‖ between checks (start, 1, 3)
        w0, w2, w4 = (snaps.weights[i][name] for i in (0, 2, 4))
        assert mon.update_ratios[name] == pytest.approx([np.linalg.norm(w2 - w0) / np.linalg.norm(w0),
                                                         np.linalg.norm(w4 - w2) / np.linalg.norm(w2)])
    net.set_weights(snaps.weights[4])      # the last check: health on the same probe
    last = health(net, mon.X, mon.y)
    assert [r["grad_norm"] for r in last.layers] == [mon.grad_norms[n][-1] for n in ("W1", "W2", "W3")]
    assert [r["weight_norm"] for r in last.layers] == [mon.weight_norms[n][-1] for n in ("W1", "W2", "W3")]


def test_probe_is_a_fixed_seeded_sample(moons):
    X, y = moons
    a, b, c = (GradientMonitor(X, y, max_rows=30, seed=s) for s in (0, 0, 1))
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X) and len(a.X) == 30
    rows = [np.flatnonzero((X == r).all(1))[0] for r in a.X]
    assert np.array_equal(a.y, y[rows]) and rows == sorted(set(rows))
    assert len(GradientMonitor(X[:10], y[:10], max_rows=30).X) == 10


def test_monitor_does_not_change_the_training_trajectory(moons):
    X, y = moons

    def train(callbacks):
        net = nr.mlp([2, 16, 16, 1], keep_prob=0.8, l2=0.1, seed=2)
        nr.fit(net, X, y, epochs=6, batch_size=50, optimizer="momentum", lr=0.05, verbose=0,
               callbacks=callbacks, dev=(X[:100], y[:100]))
        return net.theta.copy()

    mon = GradientMonitor(X, y, max_rows=64)
    assert np.array_equal(train([]), train([mon])) and len(mon.epochs) == 6


def test_a_finding_is_reported_once_with_the_epoch_it_first_fired():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 10))
    y = (X[:, 0] > 0).astype(int)
    net = nr.Network([nr.Dense(20, "tanh", "random", scale=10), nr.Dense(1, "sigmoid")], input_dim=10, seed=0)
    mon = GradientMonitor(X, y)
    nr.fit(net, X, y, epochs=4, lr=1e-4, verbose=0, callbacks=[mon])
    assert [(f.rule, f.layer, f.epoch) for f in mon.findings] == [("saturation", "W1", 0)]
    assert all(v > SATURATED for v in mon.saturated_share["W1"]) and mon.epochs == [0, 1, 2, 3]


def test_reports_and_monitor_are_json_and_print(moons):
    X, y = moons
    net = nr.mlp([2, 8, 1], seed=0)
    mon = GradientMonitor(X, y)
    nr.fit(net, X, y, epochs=2, verbose=0, callbacks=[mon])
    d = json.loads(json.dumps(mon.to_dict(), allow_nan=False))
    assert d["epochs"] == [0, 1] and len(d["grad_norms"]["W1"]) == 2 and d["saturated_share"]["W1"] == [None, None]
    rep = health(net, X, y)
    assert isinstance(rep, HealthReport) and json.loads(json.dumps(rep.to_dict(), allow_nan=False))["ok"]
    text = str(rep)
    assert text.splitlines()[0].split() == ["name", "activation", "grad_norm", "weight_norm", "act_mean",
                                            "act_std", "dead_share", "saturated_share"]
    assert "W2" in text and "‖dW_first‖/‖dW_last‖" in text and "HealthReport(ok=True" in repr(rep)
    bad = health(nr.Network([nr.Dense(8, "tanh", "random", scale=10), nr.Dense(1, "sigmoid")], input_dim=2,
                            seed=0), X, y)
    assert "saturation (W1): " in str(bad) and "[DeepDiagnosis (Wardat et al., ICSE 2022)]" in str(bad)
    assert bad.findings[0].to_dict()["rule"] == "saturation"


def test_monitor_resumes_from_a_checkpoint_with_its_series(moons, tmp_path):
    X, y = moons

    def run(epochs, resume=None):
        net = nr.mlp([2, 8, 8, 1], seed=0)
        mon = GradientMonitor(X, y, max_rows=64)
        nr.fit(net, X, y, epochs=epochs, batch_size=64, verbose=0, resume=resume,
               callbacks=[nr.Checkpoint(tmp_path / "ck.npz"), mon])
        return mon, net.theta.copy()

    whole, theta = run(4)
    run(2)                                             # killed after 2 epochs: the checkpoint remains
    resumed, theta_resumed = run(4, resume=tmp_path / "ck.npz")
    assert np.array_equal(theta, theta_resumed)
    assert resumed.to_dict() == whole.to_dict() and resumed.epochs == [0, 1, 2, 3]


def test_a_monitor_reused_in_another_fit_starts_afresh(moons):
    X, y = moons
    vanishing = [2] + [16] * 8 + [1]                       # sigmoid, N(0, 0.01²): vanishing at every check

    def watched(sizes, mon, seed=1):
        net = nr.mlp(sizes, hidden="sigmoid", init="random", seed=seed)
        nr.fit(net, X, y, epochs=3, verbose=0, callbacks=[mon])
        return mon.to_dict()

    mon = GradientMonitor(X, y, max_rows=64)
    watched(vanishing, mon, seed=0)
    assert watched([2, 16, 1], mon) == watched([2, 16, 1], GradientMonitor(X, y, max_rows=64))   # another size
    again = watched(vanishing, mon)                        # the same size: its findings and update ratios anew
    assert again == watched(vanishing, GradientMonitor(X, y, max_rows=64)) and again["epochs"] == [0, 1, 2]
    assert [(f["rule"], f["epoch"]) for f in again["findings"]] == [("vanishing_gradients", 0)]


# ---- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"every": 0}, "every must be an integer ≥ 1; got 0"),
    ({"every": 1.5}, "every must be an integer ≥ 1; got 1.5"),
    ({"every": True}, "every must be an integer ≥ 1; got True"),
    ({"max_rows": 0}, "max_rows must be an integer ≥ 1; got 0"),
    ({"max_rows": "256"}, "max_rows must be an integer ≥ 1; got '256'"),
    ({"seed": -1}, "seed must be an int ≥ 0"),
])
def test_monitor_rejects_bad_settings(kwargs, message):
    with pytest.raises(nr.NNRecipeError, match=message):
        GradientMonitor(X_TINY, Y_TINY, **kwargs)


def test_monitor_and_health_reject_x_and_y_of_different_lengths():
    with pytest.raises(nr.NNRecipeError, match="y and X must be the same length; got 3 and 2 rows"):
        GradientMonitor(X_TINY, [1.0, 0.0, 1.0])
    with pytest.raises(nr.NNRecipeError, match="y and X must be the same length; got 1 and 2 rows"):
        health(tiny(), X_TINY, [1.0])


@pytest.mark.parametrize("X, message", [
    ([1.0, 2.0], "X must be 2-D"),
    ([[1.0, np.nan]], "X must be finite"),
    ([[1.0, 2.0, 3.0]], "X must have 2 columns"),
])
def test_health_rejects_bad_x(X, message):
    with pytest.raises(nr.NNRecipeError, match=message):
        health(tiny(), X, [1.0] * len(np.atleast_2d(X)))


def test_health_needs_a_built_network():
    with pytest.raises(nr.NNRecipeError, match="net must be a built network .*; got a network that is not built"):
        health(nr.Network([nr.Dense(1, "sigmoid")]), X_TINY, [0, 1])
    with pytest.raises(nr.NNRecipeError, match="net must be an nnrecipe Network; got dict"):
        health({"W1": np.ones((2, 2))}, X_TINY, [0, 1])


def test_monitor_probe_of_the_wrong_width_fails_at_the_start_of_fit():
    mon = GradientMonitor(np.ones((5, 3)), np.zeros(5))
    with pytest.raises(nr.NNRecipeError, match="X must have 2 columns"):
        nr.fit(tiny(), X_TINY, Y_TINY, epochs=1, verbose=0, callbacks=[mon])


@pytest.mark.parametrize("c, rule", [(1.5, "exploding_signal"), (0.5, "vanishing_signal")])
def test_deep_linear_net_with_scaled_identity_weights_is_flagged(c, rule):
    """With hidden weights c·I the signal at layer l is c^l·x: std ratio last/first hidden = c^19."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int)
    net = nr.Network([nr.Dense(4, "linear") for _ in range(20)] + [nr.Dense(1, "sigmoid")], input_dim=4, seed=0)
    for name, p in net.params.items():
        if name.startswith("W") and p.shape == (4, 4):
            p[...] = c * np.eye(4)
    report = nr.health(net, X, y)
    [finding] = [f for f in report.findings if f.rule == rule]
    assert finding.layer == "W20" and finding.value == pytest.approx(c ** 19, rel=1e-6)     # float32
    assert "the notes" in finding.anchor
