"""Every bad input raises NNRecipeError (a ValueError) with a message naming the argument."""

import numpy as np
import pytest

import nnrecipe as nr

rng = np.random.default_rng(0)
X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)


def fit(**overrides):
    args = dict(net=nr.mlp([3, 4, 1], seed=0), X=X, y=y, epochs=2, verbose=0) | overrides
    return nr.fit(args.pop("net"), args.pop("X"), args.pop("y"), **args)


def nan_at(a, index, value=np.nan):
    a = a.astype(float).copy()
    a[index] = value
    return a


@pytest.mark.parametrize("call, pattern", [
    (lambda: fit(y=y[:-1]), r"y and X must be the same length; got 19 and 20"),
    (lambda: fit(X=X[:, 0]), r"X must be 2-D"),
    (lambda: fit(X=X[None]), r"X must be 2-D"),
    (lambda: fit(X=nan_at(X, (3, 1))), r"X must be finite; got nan at row 3, column 1"),
    (lambda: fit(X=nan_at(X, (0, 2), -np.inf)), r"X must be finite; got -inf at row 0, column 2"),
    (lambda: fit(y=nan_at(y, 1, np.inf)), r"y must be finite; got inf"),
    (lambda: fit(y=nan_at(y, 4)), r"y must be finite"),
    (lambda: fit(y=y + 1), r"y must hold labels in \{0, 1\} for a sigmoid output; got 2"),
    (lambda: fit(net=nr.mlp([3, 4, 3], output="softmax"), y=np.arange(20) % 5),
     r"y must hold labels in 0..2 for a 3-unit softmax output \(more classes than outputs\?\)"),
    (lambda: fit(net=nr.mlp([3, 4, 3], output="softmax"), y=-y), r"labels in 0..2"),
    (lambda: fit(net=nr.mlp([3, 4, 3], output="softmax"), y=y + 0.5), r"integer class labels"),
    (lambda: fit(X=X[:0], y=y[:0]), r"X must be non-empty"),
    (lambda: fit(X=X[:, :2]), r"X must have 3 columns"),
    (lambda: fit(X=np.array([["a", "b", "c"]] * 20)), r"X must be numeric"),
    (lambda: fit(lr=0), r"lr must be > 0; got 0"),
    (lambda: fit(lr=-0.1), r"lr must be > 0"),
    (lambda: fit(optimizer="adamw"), r"optimizer must be one of gd, momentum, adam"),
    (lambda: fit(optimizer=nr.Adam(), lr=0.1), r"lr must be None when optimizer is an object"),
    (lambda: fit(epochs=0), r"epochs must be > 0; got 0"),
    (lambda: fit(epochs=2.5), r"epochs must be an integer"),
    (lambda: fit(batch_size=0), r"batch_size must be > 0"),
    (lambda: fit(dev=X), r"dev must be a pair"),
    (lambda: fit(dev=(X, y[:3])), r"y and X must be the same length"),
    (lambda: fit(verbose=5), r"verbose must be 0 or 1"),
    (lambda: nr.mlp([3, 4, 1], keep_prob=0), r"keep_prob must be in \(0, 1\]; got 0"),
    (lambda: nr.mlp([3, 4, 1], keep_prob=1.2), r"keep_prob must be in \(0, 1\]; got 1.2"),
    (lambda: nr.mlp([3, 4, 4, 1], keep_prob=[0.5]), r"keep_prob must be a float or a list of 2"),
    (lambda: nr.Dropout(-0.5), r"keep_prob must be in \(0, 1\]"),
    (lambda: nr.mlp([3, 4, 1], l2=-1), r"l2 must be >= 0; got -1"),
    (lambda: nr.mlp([3, 4, 1], l1=-0.1), r"l1 must be >= 0"),
    (lambda: nr.mlp([3]), r"layer_dims must be a list"),
    (lambda: nr.mlp([3, 0, 1]), r"layer_dims entries must be > 0"),
    (lambda: nr.mlp([3, 4, 1], hidden="swish"), r"activation must be one of"),
    (lambda: nr.mlp([3, 4, 1], init="lecun"), r"init must be one of"),
    (lambda: nr.mlp([3, 4, 1], output="relu"), r"layers must end with a Dense layer whose activation"),
    (lambda: nr.mlp([3, 4, 1], output="softmax"), r"softmax output needs at least 2 units"),
    (lambda: nr.Network([]), r"layers must be a non-empty list"),
    (lambda: nr.Network([nr.Dense(1, "sigmoid")]).params, r"not built yet"),
    (lambda: nr.Momentum(beta=1.0), r"beta must be in \[0, 1\)"),
    (lambda: nr.Adam(beta2=-1), r"beta2 must be in \[0, 1\)"),
    (lambda: nr.Checkpoint("x.npz", every=0), r"every must be an integer"),
    (lambda: nr.EarlyStopping(patience=-1), r"patience must be an integer"),
    (lambda: nr.mlp([3, 2, 1], output="linear").predict_proba(X), r"predict_proba"),
    (lambda: nr.mlp([3, 2, 2], output="linear").cost(X, y), r"y must have 2 column"),
    (lambda: nr.mlp([3, 2, 1], seed=0).set_weights({"W1": 0}), r"weights must have the keys"),
    (lambda: nr.Standardizer().transform(X), r"not fitted"),
    # audit #18: bad seeds, dtypes and callbacks
    (lambda: nr.mlp([3, 4, 1], seed="x"), r"^seed must be an int ≥ 0, a numpy SeedSequence or None; got 'x'$"),
    (lambda: nr.mlp([3, 4, 1], seed=-1), r"^seed must be an int ≥ 0.*; got -1$"),
    (lambda: nr.mlp([3, 4, 1], seed=1.0), r"^seed must be an int ≥ 0.*; got 1.0$"),
    (lambda: nr.mlp([3, 4, 1], seed=np.random.default_rng(0)), r"^seed must be an int ≥ 0"),
    (lambda: nr.Network([nr.Dense(1, "sigmoid")], seed=True), r"^seed must be an int ≥ 0.*; got True$"),
    (lambda: fit(seed="x"), r"^seed must be an int ≥ 0.*; got 'x'$"),
    (lambda: fit(seed=-1), r"^seed must be an int ≥ 0.*; got -1$"),
    (lambda: nr.mlp([3, 4, 1], dtype="banana"), r"^dtype must be 'float32' or 'float64'; got 'banana'$"),
    (lambda: nr.mlp([3, 4, 1], dtype=None), r"^dtype must be 'float32' or 'float64'; got None$"),
    (lambda: nr.mlp([3, 4, 1], dtype="int32"), r"^dtype must be 'float32' or 'float64'"),
    (lambda: nr.mlp([3, 4, 1], seed=0).astype("banana"), r"^dtype must be 'float32' or 'float64'"),
    (lambda: fit(callbacks=[5]), r"^callbacks must be a list of callbacks .*; got 5 at position 0$"),
    (lambda: fit(callbacks=[nr.EarlyStopping(monitor="cost"), "x"]), r"^callbacks must .*; got 'x' at position 1$"),
    (lambda: fit(callbacks=5), r"^callbacks must be a list of callbacks .*; got int$"),
    (lambda: fit(callbacks=nr.EarlyStopping), r"^callbacks must be a list of callbacks"),     # the class itself
    # numpy scalars are shown as plain values, not np.float64(...)
    (lambda: fit(lr=np.float64(-0.5)), r"^lr must be > 0; got -0.5$"),
    (lambda: fit(verbose=np.int64(5)), r"^verbose must be 0 or 1; got 5$"),
    (lambda: nr.mlp([3, 4, 1], keep_prob=np.float64(np.nan)), r"^keep_prob must be in \(0, 1\]; got nan$"),
    (lambda: nr.mlp([3, 4, 1], l2=np.float32(-1)), r"^l2 must be >= 0; got -1.0$"),
])
def test_bad_input(call, pattern):
    with pytest.raises(nr.NNRecipeError, match=pattern) as info:
        call()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("call", [lambda out: nr.Recipe(verbose=0, out=out).fit(*_two_blobs()),
                                  lambda out: __import__("nnrecipe.demos").demos.run_demo("init", out)],
                         ids=["Recipe", "run_demo"])
def test_an_out_folder_that_is_a_file_is_refused_before_any_work(tmp_path, call):
    blocker = tmp_path / "num.csv"
    blocker.write_text("x\n1\n")
    for out, why in ((blocker, "a file"), (blocker / "run", "inside the file")):
        with pytest.raises(nr.NNRecipeError, match=f"must be a folder \\(new or existing\\); got .*{why}"):
            call(out)


def _two_blobs(n=200):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] > 0).astype(int)
