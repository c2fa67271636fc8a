import os

import numpy as np
import pytest
from hypothesis import settings

import nnrecipe as nr
from nnrecipe.datasets import football

# CI runs every property test on the same examples (a fixed seed): a failure there is reproducible, and
# new examples are explored on developers' machines, where each run draws afresh.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def football_data():
    return football()


def course_network(l2=0.0, keep_prob=1.0, init="auto", seed=None):
    """The course's [2, 20, 3, 1] network with its initial weights: RandomState(3),
    randn(n_l, n_prev) / sqrt(n_prev) for l = 1..3 (column layout, transposed here), zero biases."""
    dims = [2, 20, 3, 1]
    net = nr.mlp(dims, hidden="relu", output="sigmoid", l2=l2, keep_prob=keep_prob, init=init,
                 seed=seed, dtype="float64")
    rs = np.random.RandomState(3)
    for l in range(1, 4):
        net.params[f"W{l}"][...] = (rs.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])).T
        net.params[f"b{l}"][...] = 0
    return net
