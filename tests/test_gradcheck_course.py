"""The course's N-dimensional gradient check, reproduced with nr.gradcheck's low-level form."""

import numpy as np
import pytest

import nnrecipe as nr


def course_case():
    np.random.seed(1)                      # the course's set-up, in its order (column layout)
    x = np.random.randn(4, 3)
    y = np.array([1, 1, 0])
    params = {"W1": np.random.randn(5, 4), "b1": np.random.randn(5, 1), "W2": np.random.randn(3, 5),
              "b2": np.random.randn(3, 1), "W3": np.random.randn(1, 3), "b3": np.random.randn(1, 1)}
    return x, y, params


def forward(x, p):
    z1 = p["W1"] @ x + p["b1"]
    a1 = np.maximum(z1, 0)
    z2 = p["W2"] @ a1 + p["b2"]
    a2 = np.maximum(z2, 0)
    z3 = p["W3"] @ a2 + p["b3"]
    a3 = 1 / (1 + np.exp(-z3))
    return z1, a1, z2, a2, z3, a3


def cost(x, y, p):
    a3 = forward(x, p)[-1]
    m = x.shape[1]
    return float(np.sum(-np.log(a3) * y - np.log(1 - a3) * (1 - y)) / m)


def backward(x, y, p, buggy):
    _z1, a1, _z2, a2, _z3, a3 = forward(x, p)
    m = x.shape[1]
    dz3 = a3 - y
    dW3 = dz3 @ a2.T / m
    db3 = dz3.sum(axis=1, keepdims=True) / m
    dz2 = (p["W3"].T @ dz3) * (a2 > 0)
    dW2 = dz2 @ a1.T / m * (2 if buggy else 1)          # the course's planted bugs
    db2 = dz2.sum(axis=1, keepdims=True) / m
    dz1 = (p["W2"].T @ dz2) * (a1 > 0)
    dW1 = dz1 @ x.T / m
    db1 = dz1.sum(axis=1, keepdims=True) * (4 if buggy else 1) / m
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_buggy_backward_is_caught_and_located(mode):
    x, y, params = course_case()
    report = nr.gradcheck(lambda p: cost(x, y, p), params, lambda p: backward(x, y, p, buggy=True), mode=mode,
                          seed=0)
    if mode == "full":
        assert report.difference == pytest.approx(0.2850931567761623, abs=1e-6)
    assert report.verdict == "bug" and not report
    assert sorted(report.at_fault) == ["W2", "b1"]
    assert {w["param"] for w in report.worst} <= {"W2", "b1"}


def test_correct_backward_passes():
    x, y, params = course_case()
    report = nr.gradcheck(lambda p: cost(x, y, p), params, lambda p: backward(x, y, p, buggy=False))
    assert report.difference < 2e-7                     # the course printed 1.1890913023330276e-07
    assert report.at_fault == []


def test_the_same_network_in_the_engine():
    """The course's network as an nnrecipe Network (row layout): the engine's own backward."""
    x, y, params = course_case()
    net = nr.Network([nr.Dense(5, "relu"), nr.Dense(3, "relu"), nr.Dense(1, "sigmoid")], input_dim=4,
                     dtype="float64")
    for name, value in params.items():
        net.params[name][...] = value.T if name.startswith("W") else value.ravel()
    assert net.cost(x.T, y) == pytest.approx(cost(x, y, params), rel=1e-13)
    report = nr.gradcheck(net, x.T, y)
    assert report.difference < 2e-7 and report.at_fault == []
    assert "W2" in str(report) and "difference" in str(report)
