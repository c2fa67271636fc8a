"""One object used twice: callbacks and optimizers across fit calls, frozen dropout masks across
batch shapes, and the one decision rule shared by predict and error."""

import copy

import numpy as np
import pytest

import nnrecipe as nr


def toy():
    """A training set and a dev set."""
    rng = np.random.default_rng(0)
    X, Xd = rng.standard_normal((200, 3)), rng.standard_normal((100, 3))
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int), (Xd, (Xd[:, 0] + 0.3 * Xd[:, 1] > 0).astype(int))


def test_a_reused_early_stopping_starts_afresh():
    X, y, dev = toy()
    es = nr.EarlyStopping(monitor="dev_cost", patience=5)
    a = nr.mlp([3, 8, 1], seed=0)
    nr.fit(a, X, y, dev=dev, epochs=200, lr=0.05, callbacks=[es], verbose=0)
    assert es.stopped_epoch is not None                       # the first run did stop early

    b, fresh = nr.mlp([3, 8, 1], seed=1), nr.mlp([3, 8, 1], seed=1)
    h = nr.fit(b, X, y, dev=dev, epochs=30, lr=0.001, callbacks=[es], verbose=0)
    h_fresh = nr.fit(fresh, X, y, dev=dev, epochs=30, lr=0.001,
                     callbacks=[nr.EarlyStopping(monitor="dev_cost", patience=5)], verbose=0)
    assert len(h) == len(h_fresh) == 30 and h.stop_reason is None
    np.testing.assert_array_equal(b.theta, fresh.theta)       # not a's weights
    assert es.best == min(h.dev_cost) and es.stopped_epoch is None

    c = nr.mlp([3, 4, 1], seed=1)                              # another size: no broadcast error
    nr.fit(c, X, y, dev=dev, epochs=3, callbacks=[es], verbose=0)
    assert es.best_theta.shape == c.theta.shape


def test_resume_keeps_the_early_stopping_state_it_restores(tmp_path):
    X, y, dev = toy()
    path = tmp_path / "run.ckpt.npz"

    def run(epochs, resume=None):
        net = nr.mlp([3, 8, 1], keep_prob=0.8, seed=2, dtype="float64")
        es = nr.EarlyStopping(monitor="dev_cost", patience=100, min_delta=1.0)   # best: epoch 0
        nr.fit(net, X, y, dev=dev, epochs=epochs, batch_size=32, lr=0.01, verbose=0,
               callbacks=[es, nr.Checkpoint(path)], resume=resume)
        return net, es

    full, es_full = run(12)
    run(6)
    resumed, es_resumed = run(12, resume=path)
    np.testing.assert_array_equal(resumed.theta, full.theta)
    assert (es_resumed.best, es_resumed.best_epoch, es_resumed.wait) == (es_full.best, 0, 11)


def test_frozen_dropout_keeps_one_mask_per_batch_shape():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
    net = nr.mlp([3, 6, 1], keep_prob=0.5, seed=0, dtype="float64").freeze_dropout()
    full = net.cost(X, y, training=True)
    part = net.cost(X[:4], y[:4], training=True)
    assert net.cost(X, y, training=True) == full and net.cost(X[:4], y[:4], training=True) == part
    drop = net.layers[1]
    before = drop.mask
    net.cost(X[4:8], y[4:8], training=True)                           # other rows, same shape
    assert drop.mask is before and set(drop.frozen_masks) == {(10, 6), (4, 6)}
    net.freeze_dropout()                                              # a new freeze draws anew
    assert drop.frozen_masks == {} and net.cost(X, y, training=True) != full


def test_minibatch_training_with_frozen_dropout_reuses_its_masks():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((211, 2))
    y = (X[:, 0] > 0).astype(int)
    net = nr.mlp([2, 20, 3, 1], keep_prob=0.86, seed=3).freeze_dropout()
    nr.fit(net, X, y, epochs=1, batch_size=64, verbose=0)           # batches of 64, 64, 64, 19
    drops = [net.layers[1], net.layers[3]]
    states = [drop.rng.bit_generator.state for drop in drops]
    nr.fit(net, X, y, epochs=4, batch_size=64, verbose=0)
    assert [drop.rng.bit_generator.state for drop in drops] == states  # no mask drawn any more
    for drop in drops:
        assert sorted(drop.frozen_masks) == [(19, drop.mask.shape[1]), (64, drop.mask.shape[1])]


@pytest.mark.parametrize("output, weights, label", [("sigmoid", [[1e-8]], 1), ("softmax", [[0.0, 1e-8]], 1)])
def test_predict_and_error_decide_by_one_rule_in_float32(output, weights, label):
    net = nr.mlp([1, len(weights[0])], output=output, seed=0)      # float32: σ(1e-8) rounds to 0.5
    net.params["W1"][...], net.params["b1"][...] = weights, 0
    X, y = np.ones((4, 1)), np.full(4, label)
    np.testing.assert_array_equal(net.predict(X), y)                 # z favours `label`, if barely
    assert net.error(X, y) == np.mean(net.predict(X) != y) == 0.0
    assert net.error(X, 1 - y) == np.mean(net.predict(X) != 1 - y) == 1.0


@pytest.mark.parametrize("make", [nr.Adam, nr.Momentum])
def test_an_optimizer_object_refuses_another_network(make):
    X, y, _ = toy()
    opt = make(lr=0.01)
    nr.fit(nr.mlp([3, 8, 1], seed=0), X, y, epochs=2, optimizer=opt, verbose=0)
    for other in (nr.mlp([3, 4, 1], seed=1), nr.mlp([3, 8, 1], seed=0, dtype="float64")):
        before = other.theta.copy()
        with pytest.raises(nr.NNRecipeError, match=rf"^optimizer: this {make.__name__} holds state .*\(41,\) float32"):
            nr.fit(other, X, y, epochs=2, optimizer=opt, verbose=0)
        np.testing.assert_array_equal(other.theta, before)            # refused before any step


def test_a_gd_object_has_no_state_and_trains_any_network():
    X, y, _ = toy()
    opt = nr.GD(lr=0.1)
    nr.fit(nr.mlp([3, 8, 1], seed=0), X, y, epochs=2, optimizer=opt, verbose=0)
    for make in (lambda: nr.mlp([3, 4, 1], seed=1), lambda: nr.mlp([3, 8, 1], seed=0, dtype="float64")):
        a, b = make(), make()
        nr.fit(a, X, y, epochs=2, optimizer=opt, verbose=0)
        nr.fit(b, X, y, epochs=2, optimizer="gd", lr=0.1, verbose=0)
        np.testing.assert_array_equal(a.theta, b.theta)


def test_an_optimizer_object_carries_its_state_into_the_next_fit():
    X, y, _ = toy()
    net, opt = nr.mlp([3, 8, 1], seed=0, dtype="float64"), nr.Adam(lr=0.01)
    nr.fit(net, X, y, epochs=2, batch_size=64, optimizer=opt, verbose=0)      # 4 steps an epoch
    again, fresh = copy.deepcopy(net), nr.Adam(lr=0.01)
    nr.fit(net, X, y, epochs=1, batch_size=64, optimizer=opt, verbose=0)
    nr.fit(again, X, y, epochs=1, batch_size=64, optimizer=fresh, verbose=0)
    assert (opt.t, fresh.t) == (12, 4)                                        # steps go on counting
    assert not np.allclose(net.theta, again.theta)                           # and the moments with them
