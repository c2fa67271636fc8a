"""Bundled datasets: shapes, dtypes, classes, determinism per seed."""

import numpy as np
import pytest

from nnrecipe.data.io import Table
from nnrecipe.datasets import (
    DATASETS,
    circles,
    digits,
    football,
    load_dataset,
    moons,
    spirals,
)
from nnrecipe.errors import NNRecipeError

TOYS = {"circles": circles, "moons": moons, "spirals": spirals}


@pytest.mark.parametrize("name", TOYS)
def test_toy_shapes_and_classes(name):
    n = 90
    table = TOYS[name](n=n)
    assert isinstance(table, Table) and table.test is None
    assert table.X.shape == (n, 2) and table.X.dtype == np.float64 and np.isfinite(table.X).all()
    assert table.y.shape == (n,) and table.y.dtype == np.int64
    assert table.features == ["x0", "x1"]
    k = 3 if name == "spirals" else 2
    assert table.classes == list(range(k)) and np.bincount(table.y).tolist() == [n // k] * k


@pytest.mark.parametrize("name", TOYS)
def test_toy_determinism_per_seed(name):
    a, b, c = TOYS[name](seed=1), TOYS[name](seed=1), TOYS[name](seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)


@pytest.mark.parametrize("name", TOYS)
def test_toys_leave_the_global_rng_alone(name):
    state = np.random.get_state()[1].copy()
    TOYS[name](seed=None)
    TOYS[name](seed=np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_circles_matches_sklearn_and_its_geometry():
    from sklearn.datasets import make_circles
    X, y = make_circles(n_samples=300, noise=0.05, factor=0.5, random_state=4)
    table = circles(n=300, seed=4)
    np.testing.assert_array_equal(table.X, X)
    np.testing.assert_array_equal(table.y, y)
    clean = circles(n=200, noise=0.0, factor=0.3)
    radius = np.hypot(*clean.X.T)
    np.testing.assert_allclose(radius[clean.y == 0], 1.0)
    np.testing.assert_allclose(radius[clean.y == 1], 0.3)


def test_spirals_geometry():
    # Without noise, arm k's point at radius r sits at angle 4k + 4r.
    table = spirals(n=301, classes=4, noise=0.0)
    assert np.bincount(table.y).tolist() == [76, 75, 75, 75]
    for k in range(4):
        arm = table.X[table.y == k]
        r = np.linspace(0, 1, len(arm))
        np.testing.assert_allclose(arm, np.column_stack([r * np.sin(4 * k + 4 * r), r * np.cos(4 * k + 4 * r)]),
                                   atol=1e-12)


def test_digits_matches_sklearn():
    from sklearn.datasets import load_digits
    ref = load_digits()
    flat, images = digits(), digits(images=True)
    assert flat.X.shape == (1797, 64) and images.X.shape == (1797, 8, 8)
    assert flat.X.dtype == images.X.dtype == np.float64 and flat.y.dtype == np.int64
    np.testing.assert_array_equal(flat.X, ref.data)
    np.testing.assert_array_equal(images.X, ref.images)
    np.testing.assert_array_equal(flat.y, ref.target)
    assert flat.classes == list(range(10))
    assert flat.features[:2] == ["pixel_0_0", "pixel_0_1"] and flat.features[63] == "pixel_7_7"


def test_football_table_has_the_course_split():
    X, y, Xt, yt = football()
    table = load_dataset("football")
    assert table.X.shape == (211, 2) and table.test[0].shape == (200, 2)
    np.testing.assert_array_equal(table.X, X)
    np.testing.assert_array_equal(table.y, y)
    np.testing.assert_array_equal(table.test[0], Xt)
    np.testing.assert_array_equal(table.test[1], yt)
    assert table.classes == [0, 1] and table.features == ["x0", "x1"]


def test_dataset_passes_options_and_checks_names():
    assert set(DATASETS) == {"football", "circles", "moons", "spirals", "digits"}
    assert load_dataset("spirals", n=30, classes=5).classes == [0, 1, 2, 3, 4]
    with pytest.raises(NNRecipeError, match="dataset must be one of football, circles, moons, spirals, digits; "
                                            "got 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(NNRecipeError, match=r"options of dataset 'moons' must be among its arguments \(n, noise, "
                                            r"seed\); got factor"):
        load_dataset("moons", factor=0.2)


@pytest.mark.parametrize("call, message", [
    (lambda: circles(n=1), "n must be an integer ≥ 2; got 1"),
    (lambda: circles(factor=1.5), r"factor must be a number in \(0, 1\); got 1.5"),
    (lambda: moons(noise=-1), "noise must be a number ≥ 0; got -1"),
    (lambda: moons(seed=-3), "seed must be an integer in"),
    (lambda: spirals(classes=1), "classes must be an integer ≥ 2; got 1"),
    (lambda: spirals(n=2, classes=3), "n must be an integer ≥ 3; got 2"),
    (lambda: digits(images="yes"), "images must be True or False"),
])
def test_bad_options(call, message):
    with pytest.raises(NNRecipeError, match=message):
        call()
