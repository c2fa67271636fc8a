"""The training loop: optimizers against torch, batching, callbacks, divergence, resume."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnrecipe as nr


def toy(n=120, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int)


def gradient_sequence(seed=0, steps=40, shape=(7, 3)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape), [rng.normal(size=shape) for _ in range(steps)]


@pytest.mark.parametrize("name", ["gd", "adam"])
def test_optimizer_matches_torch(name):
    torch = pytest.importorskip("torch")
    w0, grads = gradient_sequence()
    ours = nr.engine.optim.make(name, lr=0.05)
    w = w0.copy()
    tw = torch.tensor(w0, requires_grad=True)
    ref = torch.optim.SGD([tw], lr=0.05) if name == "gd" else torch.optim.Adam([tw], lr=0.05)
    for g in grads:
        ours.step([w], [g])
        tw.grad = torch.tensor(g)
        ref.step()
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_momentum_is_the_course_recursion():
    w0, grads = gradient_sequence()
    opt = nr.Momentum(lr=0.1, beta=0.9)
    w, v, ref = w0.copy(), np.zeros_like(w0), w0.copy()
    for g in grads:
        opt.step([w], [g])
        v = 0.9 * v + 0.1 * g                    # v ← βv + (1−β)dW
        ref = ref - 0.1 * v                      # W ← W − α·v
    np.testing.assert_allclose(w, ref, rtol=1e-12)


def test_adam_keeps_float32_and_updates_in_place():
    w = np.ones((5, 5), np.float32)
    before = w.ctypes.data
    nr.Adam(lr=0.01).step([w], [np.full((5, 5), 0.5, np.float32)])
    assert w.dtype == np.float32 and w.ctypes.data == before
    np.testing.assert_allclose(w, 1 - 0.01, rtol=1e-5)         # first Adam step moves by ≈ lr


class BatchSizes(nr.Layer):
    """An identity layer that records the batch sizes it trains on."""
    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward(self, x, training):
        if training:
            self.sizes.append(len(x))
        return x

    def backward(self, dy):
        return dy


def test_minibatches_keep_the_last_partial_batch():
    X, y = toy(n=10)
    probe = BatchSizes()
    net = nr.Network([probe, nr.Dense(4, "relu"), nr.Dense(1, "sigmoid")], seed=0)
    nr.fit(net, X, y, epochs=2, batch_size=4, verbose=0)
    assert probe.sizes == [4, 4, 2, 4, 4, 2]
    probe.sizes.clear()
    nr.fit(net, X, y, epochs=2, batch_size=None, verbose=0)
    assert probe.sizes == [10, 10]


def test_history_fields():
    X, y = toy()
    net = nr.mlp([3, 8, 1], l2=0.1, seed=0)
    hist = nr.fit(net, X, y, epochs=7, batch_size=32, verbose=0)
    assert len(hist) == 7 and len(hist.train_error) == 7 and len(hist.time) == 7
    assert hist.dev_error == [] and hist.dev_cost == []
    assert all(p > 0 for p in hist.penalty) and all(c > p for c, p in zip(hist.cost, hist.penalty))
    Xd, yd = toy(seed=1)
    hist = nr.fit(net, X, y, dev=(Xd, yd), epochs=4, verbose=0)
    assert len(hist.dev_error) == 4 and len(hist.dev_cost) == 4
    # dev figures are those of the weights at the end of each epoch: the last ones are the final net's
    assert hist.dev_error[-1] == pytest.approx(np.mean(net.predict(Xd) != yd), abs=1e-12)
    p = net.predict_proba(Xd)[:, 1].astype(np.float64)             # (n, 2): P(0), P(1)
    bce = -np.mean(yd * np.log(p) + (1 - yd) * np.log1p(-p))
    assert hist.dev_cost[-1] == pytest.approx(bce, rel=1e-4)
    assert hist.dev_cost[-1] != pytest.approx(net.cost(Xd, yd), rel=1e-4)   # the dev cost has no penalty


def test_history_says_whether_dropout_was_on_in_training(tmp_path):
    X, y = toy()
    assert nr.fit(nr.mlp([3, 8, 1], seed=0), X, y, epochs=2, verbose=0).dropout is False
    assert nr.fit(nr.mlp([3, 8, 1], keep_prob=[1.0], seed=0), X, y, epochs=2, verbose=0).dropout is False
    net, path = nr.mlp([3, 8, 1], keep_prob=0.8, seed=0), tmp_path / "c.npz"
    assert nr.fit(net, X, y, epochs=2, callbacks=nr.Checkpoint(path), verbose=0).dropout is True
    resumed = nr.fit(net, X, y, epochs=4, callbacks=nr.Checkpoint(path), verbose=0, resume=path)
    assert resumed.dropout is True and len(resumed) == 4
    from nnrecipe.training.history import History
    assert History.from_state(resumed.state()).dropout is True
    assert History.from_state({}).dropout is False           # checkpoints written before the field


def test_full_batch_cost_is_the_objective_before_each_step():
    X, y = toy()
    net = nr.mlp([3, 8, 1], l2=0.3, seed=0, dtype="float64")
    expected = net.cost(X, y)
    hist = nr.fit(net, X, y, epochs=1, optimizer="gd", lr=0.1, verbose=0)
    assert hist.cost[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("optimizer", ["gd", "adam-object"])
def test_fit_twice_trains_twice_as_long(optimizer):
    X, y = toy()
    make = (lambda: "gd") if optimizer == "gd" else (lambda: nr.Adam(lr=0.01))
    a, b = nr.mlp([3, 8, 1], seed=0, dtype="float64"), nr.mlp([3, 8, 1], seed=0, dtype="float64")
    opt_a, opt_b = make(), make()
    lr = 0.1 if optimizer == "gd" else None
    nr.fit(a, X, y, epochs=10, optimizer=opt_a, lr=lr, verbose=0)
    nr.fit(b, X, y, epochs=5, optimizer=opt_b, lr=lr, verbose=0)
    nr.fit(b, X, y, epochs=5, optimizer=opt_b, lr=lr, verbose=0)
    np.testing.assert_array_equal(a.theta, b.theta)


def test_same_seed_same_result_and_seeds_differ():
    X, y = toy()
    runs = []
    for seed in (0, 0, 1):
        net = nr.mlp([3, 8, 1], keep_prob=0.8, seed=3)
        nr.fit(net, X, y, epochs=3, batch_size=16, seed=seed, verbose=0)
        runs.append(net.theta.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


class Recorder(nr.Callback):
    def __init__(self):
        self.events, self.thetas = [], []

    def on_train_begin(self, run):
        self.events.append("begin")

    def on_epoch_end(self, run, logs):
        self.events.append(run.epoch)
        self.thetas.append(run.net.theta.copy())

    def on_train_end(self, run):
        self.events.append("end")


def test_early_stopping_restores_the_best_weights():
    X, y = toy(n=60)
    Xd, yd = toy(n=60, seed=5)
    net = nr.mlp([3, 64, 64, 1], seed=0, dtype="float64")
    rec, stop = Recorder(), nr.EarlyStopping(monitor="dev_cost", patience=5)
    hist = nr.fit(net, X, y, dev=(Xd, yd), epochs=500, lr=0.05, callbacks=[rec, stop], verbose=0)
    assert stop.stopped_epoch is not None and len(hist) == stop.stopped_epoch + 1 < 500
    assert stop.stopped_epoch - stop.best_epoch == 5
    assert hist.dev_cost[stop.best_epoch] == min(hist.dev_cost)
    np.testing.assert_array_equal(net.theta, rec.thetas[stop.best_epoch])
    assert "early stopping" in hist.stop_reason
    assert rec.events[0] == "begin" and rec.events[-1] == "end"


def test_a_single_callback_is_a_list_of_one():
    X, y = toy(n=60)
    Xd, yd = toy(n=60, seed=5)
    runs = []
    for callbacks in (nr.EarlyStopping(monitor="dev_cost", patience=3), [nr.EarlyStopping(monitor="dev_cost", patience=3)]):
        net = nr.mlp([3, 16, 1], seed=0, dtype="float64")
        hist = nr.fit(net, X, y, dev=(Xd, yd), epochs=300, lr=0.05, callbacks=callbacks, verbose=0)
        runs.append((len(hist), net.theta.copy(), hist.stop_reason))
    assert runs[0][0] == runs[1][0] < 300 and "early stopping" in runs[0][2]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_callbacks_none_is_no_callbacks():
    X, y = toy(n=30)
    assert len(nr.fit(nr.mlp([3, 4, 1], seed=0), X, y, epochs=3, callbacks=None, verbose=0)) == 3


def test_checkpoint_into_a_missing_folder_fails_before_training(tmp_path):
    X, y = toy(n=30)
    net = nr.mlp([3, 4, 1], seed=0)
    before = net.theta.copy()
    rec = Recorder()
    with pytest.raises(nr.NNRecipeError, match=r"^Checkpoint path must be a file in an existing folder; got '.*nodir"):
        nr.fit(net, X, y, epochs=3, verbose=0, callbacks=[rec, nr.Checkpoint(tmp_path / "nodir" / "ck.npz")])
    assert rec.events == [] and np.array_equal(net.theta, before)           # not one epoch trained
    with pytest.raises(nr.NNRecipeError, match=r"^Checkpoint path must be a file, not a folder"):
        nr.fit(net, X, y, epochs=3, verbose=0, callbacks=nr.Checkpoint(tmp_path))


@pytest.mark.parametrize("resume, expected", [(5, "be a file path"), ("no_such.ckpt.npz", "name an existing file")])
def test_bad_resume_names_resume(tmp_path, resume, expected):
    X, y = toy(n=30)
    with pytest.raises(nr.NNRecipeError, match=rf"^resume must {expected}"):
        nr.fit(nr.mlp([3, 4, 1], seed=0), X, y, epochs=2, verbose=0,
               resume=resume if isinstance(resume, int) else tmp_path / resume)


def test_early_stopping_restores_even_without_stopping():
    X, y = toy(n=60)
    net = nr.mlp([3, 32, 1], seed=0, dtype="float64")
    rec, stop = Recorder(), nr.EarlyStopping(monitor="dev_error", patience=1000)
    hist = nr.fit(net, X, y, dev=toy(n=60, seed=5), epochs=40, lr=0.05, callbacks=[rec, stop], verbose=0)
    assert stop.stopped_epoch is None and len(hist) == 40
    np.testing.assert_array_equal(net.theta, rec.thetas[stop.best_epoch])


def test_early_stopping_start_from_epoch_and_min_delta():
    X, y = toy(n=60)
    stop = nr.EarlyStopping(monitor="dev_cost", patience=2, start_from_epoch=10, min_delta=1e9)
    hist = nr.fit(nr.mlp([3, 8, 1], seed=0), X, y, dev=toy(seed=5), epochs=100, callbacks=[stop], verbose=0)
    # With an impossible min_delta nothing improves after the first counted epoch (10).
    assert stop.best_epoch == 10 and stop.stopped_epoch == 12 and len(hist) == 13


def test_early_stopping_needs_dev_data():
    X, y = toy()
    with pytest.raises(nr.NNRecipeError, match="dev"):
        nr.fit(nr.mlp([3, 4, 1]), X, y, epochs=2, callbacks=[nr.EarlyStopping()], verbose=0)
    with pytest.raises(nr.NNRecipeError, match="monitor"):
        nr.EarlyStopping(monitor="train_error")


def test_divergence_stops_and_restores_the_lowest_cost_weights():
    X, y = toy()
    X = X * 1e3
    net = nr.mlp([3, 16, 1], output="linear", seed=0, dtype="float64")
    start = net.theta.copy() if net.built else None
    rec = Recorder()
    with pytest.warns(nr.DivergenceWarning, match="lower learning rate"):
        hist = nr.fit(net, X, y * 1e3, epochs=200, optimizer="gd", lr=10.0, callbacks=[rec], verbose=0)
    assert len(hist) < 200 and "He initialization" in hist.stop_reason and "normalized inputs" in hist.stop_reason
    assert np.isfinite(net.theta).all() and all(np.isfinite(hist.cost))
    # epoch k's cost is J of the weights it started from (full batch): those after epoch k − 1
    best = int(np.argmin(hist.cost))
    np.testing.assert_array_equal(net.theta, rec.thetas[best - 1] if best else start)


def test_progress_is_silent_when_not_a_terminal(capsys, monkeypatch):
    X, y = toy()
    nr.fit(nr.mlp([3, 4, 1]), X, y, epochs=5, verbose=1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    # the same fit with stderr on a terminal shows the bar, ending at 5/5 with the last cost
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    hist = nr.fit(nr.mlp([3, 4, 1], seed=0), X, y, epochs=5, verbose=1)
    shown = capsys.readouterr()
    assert shown.out == "", shown.out                      # the bar goes to stderr, as tqdm's: stdout stays clean
    assert "5/5" in shown.err and f"cost {hist.cost[-1]:.4f}" in shown.err, shown.err
    nr.fit(nr.mlp([3, 4, 1], seed=0), X, y, epochs=5, verbose=0)            # verbose=0: silent even there
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""


RESUMABLE = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import nnrecipe as nr

    class Kill(nr.Callback):
        def on_epoch_end(self, run, logs):
            if run.epoch == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)); y = (X[:, 0] * X[:, 1] > 0).astype(int)
    Xd = rng.normal(size=(100, 4)); yd = (Xd[:, 0] * Xd[:, 1] > 0).astype(int)
    net = nr.mlp([4, 16, 8, 1], keep_prob=0.8, seed=5)
    callbacks = [nr.EarlyStopping(patience=100), nr.Checkpoint(sys.argv[1], every=2), Kill()]
    resume = sys.argv[1] if sys.argv[3] == "resume" else None
    nr.fit(net, X, y, dev=(Xd, yd), epochs=15, batch_size=32, lr=0.01, callbacks=callbacks,
           seed=11, verbose=0, resume=resume)
    np.save(sys.argv[4], net.theta)
""")


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(RESUMABLE)
    ckpt, full, resumed = tmp_path / "run.ckpt.npz", tmp_path / "full.npy", tmp_path / "resumed.npy"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    run = lambda *args: subprocess.run([sys.executable, str(script), *map(str, args)], env=env,
                                       capture_output=True, text=True, timeout=120)
    killed = run(ckpt, 8, "fresh", tmp_path / "unused.npy")
    assert killed.returncode == -9 and ckpt.exists()                    # SIGKILL after epoch 8
    assert run(ckpt, -1, "resume", resumed).returncode == 0             # goes on from the checkpoint after epoch 7
    uninterrupted = run(tmp_path / "other.ckpt.npz", -1, "fresh", full)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    np.testing.assert_array_equal(np.load(resumed), np.load(full))


def test_resume_rejects_another_network(tmp_path):
    X, y = toy()
    path = tmp_path / "c.npz"
    nr.fit(nr.mlp([3, 4, 1]), X, y, epochs=2, callbacks=[nr.Checkpoint(path)], verbose=0)
    with pytest.raises(nr.NNRecipeError, match="architecture"):
        nr.fit(nr.mlp([3, 5, 1]), X, y, epochs=4, callbacks=[nr.Checkpoint(path)], verbose=0, resume=path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_adam_is_bit_identical_to_numpy(dtype, monkeypatch):
    from nnrecipe.engine import optim
    if optim._fused is None:
        pytest.skip("the compiled kernel is not built here")
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=5000).astype(dtype)
    grads = [rng.normal(size=5000).astype(dtype) for _ in range(30)]
    results = []
    for kernel in (optim._fused, None):
        monkeypatch.setattr(optim, "_fused", kernel)
        w, opt = w0.copy(), nr.Adam(lr=0.01)
        for g in grads:
            opt.step([w], [g])
        results.append(w)
    np.testing.assert_array_equal(results[0], results[1])


def test_a_plateau_of_the_training_cost_stops_without_dev_data():
    import nnrecipe as nr
    from nnrecipe.datasets import football
    X, y, _, _ = football()
    net = nr.mlp([2, 8, 1], seed=0)
    stop = nr.EarlyStopping(monitor="cost", patience=5, min_delta=1e-3, restore_best=False)
    hist = nr.fit(net, X, y, epochs=5000, lr=0.01, callbacks=[stop], verbose=0)
    assert len(hist) < 5000 and stop.best_theta is None
    assert all(hist.cost[i] - min(hist.cost[i + 1:i + 6]) <= 1e-3 for i in [len(hist) - 6])
    assert "cost did not improve for 5 epochs" in hist.stop_reason
