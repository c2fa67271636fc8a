"""The course demos: their tables reproduce the notes' claims, their figures are real PNGs."""

import numpy as np
import pytest
from PIL import Image

from nnrecipe.demos import DEMOS, Demo, run_demo
from nnrecipe.errors import NNRecipeError


def rows(demo):
    return {next(iter(row.values())): row for row in demo.table}


def assert_pngs(demo):
    assert demo.figures and all(path.exists() for path in demo.figures)
    for path in demo.figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as image:
            image.verify()


@pytest.fixture(scope="module")
def init(tmp_path_factory):
    return run_demo("init", tmp_path_factory.mktemp("init") / "new" / "dir")      # the full 15 000 steps


@pytest.fixture(scope="module")
def regularization(tmp_path_factory):
    return run_demo("regularization", tmp_path_factory.mktemp("reg"))               # the full 30 000 steps


def test_names_and_unknown_demo(tmp_path):
    assert list(DEMOS) == ["init", "vanishing", "regularization"]
    with pytest.raises(NNRecipeError, match="init, vanishing, regularization.*'nope'"):
        run_demo("nope", tmp_path)


def test_init_reproduces_the_course(init):
    assert isinstance(init, Demo) and [p.name for p in init.figures] == ["init_cost.png", "init_boundaries.png"]
    assert_pngs(init)
    r = rows(init)
    assert list(r) == ["zeros", "random×10", "He"]
    assert list(r["He"]) == ["init", "first cost", "final cost", "train %", "test %", "course train / test %"]
    # zeros: symmetry is never broken, every hidden unit keeps the same weights, the net guesses
    assert (r["zeros"]["train %"], r["zeros"]["test %"]) == (50.0, 50.0)
    zeros = init.models["zeros"].params
    for name in ("W1", "W2"):
        assert np.all(zeros[name] == zeros[name][:, :1])
    # random×10: a huge first cost (saturated sigmoid), then worse than He on every count
    assert r["random×10"]["first cost"] > 100 * r["He"]["first cost"]
    for other in ("zeros", "random×10"):
        for key in ("train %", "test %"):
            assert r["He"][key] > r[other][key]
        assert r["He"]["final cost"] < r[other]["final cost"]
    # from the course's own initial weights, the course's figures exactly
    assert (r["random×10"]["train %"], r["random×10"]["test %"]) == pytest.approx((83.0, 86.0))
    assert (r["He"]["train %"], r["He"]["test %"]) == pytest.approx((298 / 3, 96.0))
    text = str(init)
    assert text.startswith("Initialization") and "random×10" in text and "99.3" in text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_init_with_nnrecipe_initializers(tmp_path, seed):
    r = rows(run_demo("init", tmp_path, seed=seed, steps=1))
    assert r["random×10"]["first cost"] > 10 * r["He"]["first cost"]
    assert r["zeros"]["first cost"] == pytest.approx(np.log(2))


def test_vanishing_known_values_and_steady_inits(tmp_path):
    demo = run_demo("vanishing", tmp_path)
    assert_pngs(demo)
    r = rows(demo)
    assert list(r["He, ReLU"]) == ["scheme", "‖a1‖", "‖a10‖", "‖a20‖", "‖a30‖", "‖dW1‖", "‖dW30‖"]
    for c in (1.5, 0.5):                       # inputs of norm 1: ‖a_l‖ = c^l exactly
        row = r[f"{c}·I, linear"]
        for l in (1, 10, 20, 30):
            assert row[f"‖a{l}‖"] == pytest.approx(c ** l, rel=1e-9)
        assert row["‖dW1‖"] == pytest.approx(row["‖dW30‖"], rel=1e-9)    # c^(l-1)·c^(L-l)·c^L at every l
    # same inputs, J = ½‖ŷ‖²/m: ∂J/∂W_l = c^(2L-1)·XᵀX/m, so the two gradients differ by 3^59
    assert r["1.5·I, linear"]["‖dW1‖"] / r["0.5·I, linear"]["‖dW1‖"] == pytest.approx(3.0 ** 59, rel=1e-9)
    for name in ("He, ReLU", "Xavier, linear", "Xavier, tanh"):
        values = [v for k, v in r[name].items() if k != "scheme"]
        assert all(0.1 < v < 10 for v in values), (name, values)


def test_vanishing_depth_is_a_parameter(tmp_path):
    demo = run_demo("vanishing", tmp_path, seed=4, depth=12, width=16, batch=8)
    row = rows(demo)["0.5·I, linear"]
    assert list(row)[1:] == ["‖a1‖", "‖a4‖", "‖a8‖", "‖a12‖", "‖dW1‖", "‖dW12‖"] and row["‖a12‖"] == pytest.approx(0.5 ** 12)
    with pytest.raises(NNRecipeError, match="depth"):
        run_demo("vanishing", tmp_path, depth=2)


def test_regularization_helps_the_test_set(regularization):
    assert [p.name for p in regularization.figures] == ["regularization.png"]
    assert_pngs(regularization)
    r = rows(regularization)
    assert list(r) == ["none", "L2 λ=0.7", "dropout 0.86"]
    for name in ("L2 λ=0.7", "dropout 0.86"):
        assert r[name]["test %"] >= r["none"]["test %"]
    # the course's initial weights: its table for none and L2 exactly (200 / 183 and 198 / 186 right)
    assert (r["none"]["train %"], r["none"]["test %"]) == pytest.approx((100 * 200 / 211, 91.5))
    assert (r["L2 λ=0.7"]["train %"], r["L2 λ=0.7"]["test %"]) == pytest.approx((100 * 198 / 211, 93.0))
    assert r["L2 λ=0.7"]["final cost"] > r["none"]["final cost"]       # J includes the penalty
