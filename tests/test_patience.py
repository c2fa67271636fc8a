"""The patience rule is written once (training.callbacks.Patience) and used by EarlyStopping, the torch
adapter's EarlyStopping and the torch trainer's plateau stop; plateau_stop() is the recipe's plateau."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnrecipe as nr
from nnrecipe.training import callbacks
from nnrecipe.training.callbacks import PLATEAU_MIN_DELTA, PLATEAU_PATIENCE, Patience, plateau_stop


def test_patience_counts_updates_without_improvement():
    rule = Patience(patience=2, min_delta=0.1)
    assert rule.best == math.inf and rule.best_epoch is None and not rule.exhausted
    assert rule.update(1.0) and (rule.best, rule.best_epoch, rule.wait) == (1.0, 0, 0)
    assert not rule.update(0.95)                     # better, but not by more than min_delta
    assert rule.update(0.85) and (rule.best, rule.best_epoch, rule.wait) == (0.85, 2, 0)
    assert not rule.update(float("nan")) and rule.wait == 1 and not rule.exhausted   # NaN never improves
    assert not rule.update(0.8) and rule.exhausted and rule.updates == 5
    rule.reset()
    assert (rule.best, rule.best_epoch, rule.wait, rule.updates, rule.exhausted) == (math.inf, None, 0, 0, False)


def test_patience_max_mode_and_given_epochs():
    rule = Patience(patience=1, min_delta=0.05, mode="max")
    assert rule.update(0.80, epoch=7) and rule.best_epoch == 7
    assert not rule.update(0.83, epoch=8) and rule.exhausted and rule.best == 0.80


@pytest.mark.parametrize("kwargs, argument", [({"patience": -1}, "patience"), ({"patience": 1.5}, "patience"),
                                              ({"patience": True}, "patience"), ({"min_delta": -0.1}, "min_delta"),
                                              ({"min_delta": "0"}, "min_delta"), ({"mode": "lowest"}, "mode")])
def test_patience_bad_arguments(kwargs, argument):
    with pytest.raises(nr.NNRecipeError, match=f"{argument} must be"):
        Patience(**kwargs)


def _plateau_as_written_before(costs, patience, min_delta):
    """The torch trainer's plateau lines as they were: the epochs run."""
    best, wait = math.inf, 0
    for epoch, cost in enumerate(costs):
        best, wait = (cost, 0) if cost < best - min_delta else (best, wait + 1)
        if wait >= patience:
            return epoch + 1
    return len(costs)


@given(st.lists(st.floats(0, 2, allow_nan=False), max_size=60), st.integers(1, 6),
       st.sampled_from([0.0, 1e-4, 0.05, 0.5]))
def test_patience_is_the_rule_the_trainers_used(costs, patience, min_delta):
    rule, run = Patience(patience, min_delta), len(costs)
    for epoch, cost in enumerate(costs):
        rule.update(cost)
        if rule.exhausted:
            run = epoch + 1
            break
    assert run == _plateau_as_written_before(costs, patience, min_delta)


def test_every_stopper_uses_the_one_rule():
    stop = nr.EarlyStopping(monitor="dev_cost", patience=4, min_delta=0.01)
    assert isinstance(stop, Patience) and (stop.patience, stop.min_delta) == (4, 0.01)
    torch_train = pytest.importorskip("nnrecipe.adapters.torch_train")
    from nnrecipe.adapters.torch import EarlyStopping as TorchEarlyStopping
    assert isinstance(TorchEarlyStopping(patience=3), Patience)
    assert torch_train.Patience is Patience
    assert (torch_train.PLATEAU_PATIENCE, torch_train.PLATEAU_MIN_DELTA) == (PLATEAU_PATIENCE, PLATEAU_MIN_DELTA)


def test_plateau_stop_is_the_recipes_plateau():
    assert (PLATEAU_PATIENCE, PLATEAU_MIN_DELTA) == (10, 1e-4)
    stop = plateau_stop()
    assert isinstance(stop, nr.EarlyStopping) and stop is not plateau_stop()      # a new one each call
    assert (stop.monitor, stop.patience, stop.min_delta, stop.restore_best) == ("cost", 10, 1e-4, False)
    assert callbacks.plateau_stop is plateau_stop


def test_plateau_stop_says_plateau_and_keeps_the_last_weights():
    from nnrecipe.datasets import football
    X, y, Xd, yd = football()
    net = nr.mlp([2, 8, 1], seed=0)
    stop = plateau_stop()
    hist = nr.fit(net, X, y, dev=(Xd, yd), epochs=5000, lr=0.01, callbacks=[stop], verbose=0)
    assert len(hist) < 5000 and stop.best_theta is None and stop.stopped_epoch == len(hist) - 1
    assert hist.stop_reason.startswith("stopped on a plateau: cost did not improve for 10 epochs")
    # the rule, checked on the history: the last 10 epochs gained no more than 1e-4 on the best before
    assert min(hist.cost[-10:]) >= min(hist.cost[:-10]) - 1e-4
    assert np.isfinite(net.theta).all()
