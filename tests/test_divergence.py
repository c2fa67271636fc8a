"""The divergence rule (training.callbacks.diverged): a finite blow-up of the training cost stops fit,
which puts back the weights with the lowest cost and warns; healthy runs never trip it."""

import math
import warnings

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.datasets import load_dataset
from nnrecipe.recipe.loop import first_config
from nnrecipe.training.callbacks import BLOWUP_FACTOR, BLOWUP_MARGIN, cost_ceiling, diverged

DATASETS = ("football", "circles", "moons", "spirals", "digits")


def prepared(name, seed=0):
    """A bundled dataset as the recipe trains it: rows, classes, the recipe's first network (sizes,
    epochs, batches) and a standardizer of the training rows."""
    t = load_dataset(name)
    X = t.X.reshape(len(t.X), -1)
    n_out = 1 if len(t.classes) == 2 else len(t.classes)
    cfg = first_config(X.shape[1], len(X))
    net = nr.mlp([X.shape[1], *cfg.hidden, n_out], output="sigmoid" if n_out == 1 else "softmax", seed=seed)
    net.normalizer = nr.Standardizer().fit(X)
    return X, t.y, net, cfg


class Recorder(nr.Callback):
    """The weights at the end of every epoch."""

    def __init__(self):
        self.thetas = []

    def on_epoch_end(self, run, logs):
        self.thetas.append(run.net.theta.copy())


class RaiseRate(nr.Callback):
    """Multiply the optimizer's rate by `factor` at the end of epoch `at`: healthy first, then a blow-up."""

    def __init__(self, at, factor):
        self.at, self.factor = at, factor

    def on_epoch_end(self, run, logs):
        if run.epoch == self.at:
            run.optimizer.lr *= self.factor


def test_the_rule():
    assert cost_ceiling(0.7) == pytest.approx(7.0) and cost_ceiling(0.01) == pytest.approx(1.01)
    assert (BLOWUP_FACTOR, BLOWUP_MARGIN) == (10.0, 1.0)
    assert not diverged(6.9, 0.7) and diverged(7.1, 0.7)
    assert diverged(math.nan, 0.7) and diverged(math.inf, 0.7) and diverged(-math.inf, None)
    assert not diverged(1e9, None) and not diverged(1e9, math.nan)       # no reference: only non-finite counts
    assert not diverged(1.0, 0.01) and diverged(1.02, 0.01)             # a small J₀: the margin


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_lr_1e6_on_football_stops_at_once_with_the_starting_weights(optimizer):
    X, y, net, _ = prepared("football")
    start = net.theta.copy()
    with pytest.warns(nr.DivergenceWarning, match="far above its starting value.*lower learning rate"):
        hist = nr.fit(net, X, y, epochs=200, optimizer=optimizer, lr=1e6, verbose=0)
    assert len(hist) <= 2, hist.cost                   # the issue: 200 epochs, J 0.73 → 138 862, no word
    assert "the weights training started from" in hist.stop_reason
    np.testing.assert_array_equal(net.theta, start)
    assert np.isfinite(net.theta).all() and all(c <= cost_ceiling(hist.cost[0]) for c in hist.cost)


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_a_blow_up_after_healthy_epochs_restores_the_lowest_cost_weights(optimizer):
    X, y, net, _ = prepared("football")
    rec = Recorder()
    with pytest.warns(nr.DivergenceWarning, match="lowest cost"):
        hist = nr.fit(net, X, y, epochs=100, optimizer=optimizer, lr=0.01, verbose=0,
                      callbacks=[rec, RaiseRate(at=20, factor=1e8)])
    assert 21 <= len(hist) <= 24 and f"at epoch {len(hist)}" in hist.stop_reason
    best = int(np.argmin(hist.cost))                   # epoch k's J is that of the weights after epoch k − 1
    assert best > 0 and f"J = {hist.cost[best]:.4g}, after epoch {best - 1}" in hist.stop_reason
    np.testing.assert_array_equal(net.theta, rec.thetas[best - 1])
    assert net.cost(X, y) == pytest.approx(hist.cost[best], rel=1e-5)      # full batch: exactly that J


def test_a_blow_up_inside_the_first_epoch_of_minibatches_is_caught():
    X, y, net, _ = prepared("digits")
    start = net.theta.copy()
    with pytest.warns(nr.DivergenceWarning, match="epoch 0"), np.errstate(all="ignore"):
        hist = nr.fit(net, X, y, epochs=5, batch_size=64, optimizer="gd", lr=1e6, verbose=0)
    assert len(hist) == 0
    np.testing.assert_array_equal(net.theta, start)


def test_a_warm_start_measures_from_its_own_start():
    """A second fit call starts from trained weights (a small J₀): the margin keeps a fresh optimizer's
    first bumps from counting, and a blow-up still counts."""
    X, y, net, cfg = prepared("moons")
    nr.fit(net, X, y, epochs=200, lr=cfg.lr, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nr.DivergenceWarning)
        nr.fit(net, X, y, epochs=100, lr=cfg.lr, verbose=0)
    trained = net.theta.copy()
    with pytest.warns(nr.DivergenceWarning):
        hist = nr.fit(net, X, y, epochs=100, optimizer="gd", lr=1e6, verbose=0)
    assert len(hist) <= 2
    np.testing.assert_array_equal(net.theta, trained)


def test_a_non_finite_cost_still_stops_with_its_value():
    X, y, net, _ = prepared("football")
    with pytest.warns(nr.DivergenceWarning, match="became (nan|inf)"), np.errstate(all="ignore"):
        hist = nr.fit(net, X * 1e30, y, epochs=20, optimizer="gd", lr=1.0, verbose=0)
    assert np.isfinite(net.theta).all() and all(np.isfinite(hist.cost))


def test_the_guard_survives_a_resume(tmp_path):
    """The reference J₀ and the best weights are in the checkpoint: an interrupted run resumed, then
    blowing up, restores what the uninterrupted run restores."""
    X, y, net, _ = prepared("football")
    first = net.get_weights()

    def run(epochs, resume=None):
        net.set_weights(first)
        callbacks = [nr.Checkpoint(tmp_path / "ck.npz"), RaiseRate(at=15, factor=1e8)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nr.DivergenceWarning)
            hist = nr.fit(net, X, y, epochs=epochs, optimizer="adam", lr=0.01, verbose=0, callbacks=callbacks,
                          resume=resume)
        return hist, net.theta.copy()

    whole, theta = run(60)
    run(10)                                              # "killed" after 10 epochs
    resumed, theta_resumed = run(60, resume=tmp_path / "ck.npz")
    assert resumed.stop_reason == whole.stop_reason and resumed.cost == whole.cost
    np.testing.assert_array_equal(theta_resumed, theta)


HEALTHY = [("adam", None), ("adam", 1e-3), ("adam", 1e-2), ("adam", 0.1), ("gd", 1e-3), ("gd", 1e-2), ("gd", 0.1)]


@pytest.mark.parametrize("name", DATASETS)
def test_no_false_alarm_on_healthy_runs_of_every_bundled_dataset(name):
    """The recipe's first network and schedule (lr None: the recipe's own rate) and a range of rates with
    Adam and GD, seeds 0–2 for the recipe's setting: no DivergenceWarning, no stop reason."""
    X, y, _, cfg = prepared(name)
    settings = [(opt, cfg.lr if lr is None else lr, seed) for opt, lr in HEALTHY for seed in (0, 1, 2)
                if seed == 0 or lr is None]
    epochs = min(cfg.epochs, 150) if name != "digits" else 10              # enough to pass the early bumps
    with warnings.catch_warnings():
        warnings.simplefilter("error", nr.DivergenceWarning)
        for opt, lr, seed in settings:
            _, _, net, _ = prepared(name, seed)
            hist = nr.fit(net, X, y, epochs=epochs, batch_size=cfg.batch_size, optimizer=opt, lr=lr, seed=seed,
                          verbose=0)
            assert hist.stop_reason is None and len(hist) == epochs, (opt, lr, seed, hist.stop_reason)
            assert max(hist.cost) < cost_ceiling(hist.cost[0]) / 2              # far from the ceiling


def test_a_checkpoint_with_a_malformed_guard_is_refused(tmp_path):
    from nnrecipe.engine.serialize import read_archive, write_archive
    X, y, net, _ = prepared("football")
    nr.fit(net, X, y, epochs=2, verbose=0, callbacks=[nr.Checkpoint(tmp_path / "ck.npz")])
    arrays, meta = read_archive(tmp_path / "ck.npz", "resume")
    write_archive(tmp_path / "bad.npz", arrays, meta | {"guard": {"start": "0.5", "best": None, "best_epoch": 0}})
    with pytest.raises(nr.NNRecipeError, match="guard is malformed"):
        nr.fit(net, X, y, epochs=4, verbose=0, callbacks=[nr.Checkpoint(tmp_path / "ck.npz")],
               resume=tmp_path / "bad.npz")


@pytest.mark.parametrize("name", ["football", "circles", "moons", "spirals", "digits"])
def test_no_false_alarm_in_whole_runs_of_the_recipe(name):
    """`nnrecipe run NAME` as the CLI fits it, seeds 0–2, every knob it turns (the L2 grid, a warm
    "longer", dropout, ...): no DivergenceWarning, no experiment stopped by the rule, and every
    experiment's J stays far below its ceiling. One worker, so that a warning would surface here."""
    t = load_dataset(name, images=True) if name == "digits" else load_dataset(name)
    for seed in (0, 1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", nr.DivergenceWarning)
            r = nr.Recipe(verbose=0, seed=seed, workers=1).fit(t.X, t.y, test=t.test, name=name,
                                                                features=t.features, classes=t.classes)
        for e in r.experiments_:
            assert "diverg" not in (e.stop_reason or ""), (seed, e.id, e.stop_reason)
            assert max(e.history["cost"]) < cost_ceiling(e.history["cost"][0]) / 2, (seed, e.id)
