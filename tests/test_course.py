"""The course's regularization table on the football data, reproduced exactly."""

import numpy as np
import pytest
from conftest import course_network

import nnrecipe as nr


def train_course(net, X, y):
    return nr.fit(net, X, y, epochs=30_000, optimizer="gd", lr=0.3, verbose=0)


def accuracy_counts(net, data):
    X, y, Xt, yt = data
    return int((net.predict(X) == y).sum()), int((net.predict(Xt) == yt).sum())


def test_no_regularization(football_data):
    X, y, _, _ = football_data
    net = course_network()
    hist = train_course(net, X, y)
    assert hist.cost[0] == pytest.approx(0.6557412523481002, rel=1e-9)
    assert hist.cost[10_000] == pytest.approx(0.16329987525724213, rel=1e-9)
    assert hist.cost[20_000] == pytest.approx(0.138516424232, rel=1e-9)
    assert accuracy_counts(net, football_data) == (200, 183)    # 94.79 % / 91.5 %


def test_l2(football_data):
    X, y, _, _ = football_data
    net = course_network(l2=0.7)
    hist = train_course(net, X, y)
    cost = np.array(hist.cost)
    assert cost[0] == pytest.approx(0.6974484493131264, rel=1e-9)
    assert cost[10_000] == pytest.approx(0.26849188732822, rel=1e-9)
    assert accuracy_counts(net, football_data) == (198, 186)    # 93.84 % / 93.0 %
    # The penalty is part of the recorded cost.
    assert hist.penalty[0] == pytest.approx(0.7 / (2 * 211) * sum((net_w ** 2).sum() for net_w in
                                            course_weights()), rel=1e-12)
    # The recorded J decreases at every step of the first 1 000, and the course's curve
    # (one point per 1 000 steps) through step 19 000. After that, full-batch GD at lr 0.3
    # on this non-smooth (ReLU) objective wobbles: the course's own trajectory, which this
    # one matches at steps 0 and 10 000, rises by at most ~7e-5 between recorded points.
    assert np.all(np.diff(cost[:1000]) < 0)
    assert np.all(np.diff(cost[:19_001:1000]) < 0)
    assert np.max(np.diff(cost[::1000])) < 1e-4


def course_weights():
    rs, dims = np.random.RandomState(3), [2, 20, 3, 1]
    return [rs.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1]) for l in range(1, 4)]


def test_dropout_fresh_masks(football_data):
    """keep_prob 0.86 on both hidden layers, Xavier init, a new mask every step, 5 seeds."""
    X, y, Xt, yt = football_data
    train_acc, test_acc = [], []
    for seed in range(5):
        net = nr.mlp([2, 20, 3, 1], hidden="relu", output="sigmoid", init="xavier", keep_prob=0.86,
                     seed=seed, dtype="float64")
        train_course(net, X, y)
        train_acc.append((net.predict(X) == y).mean())
        test_acc.append((net.predict(Xt) == yt).mean())
    gap = np.median(np.subtract(train_acc, test_acc))
    assert np.median(test_acc) >= 0.92
    assert gap < 200 / 211 - 183 / 200           # smaller than without regularization
