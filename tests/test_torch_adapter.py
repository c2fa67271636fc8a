"""The PyTorch adapter: init_, gradcheck, GradientMonitor, EarlyStopping, diagnose."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import nnrecipe.doctor.diagnose
from nnrecipe.adapters.torch import (
    EarlyStopping,
    GradientMonitor,
    diagnose,
    gradcheck,
    init_,
)
from nnrecipe.errors import NNRecipeError


def test_import_nnrecipe_does_not_import_torch():
    code = "import sys, nnrecipe; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- init_ ----------------------------------------------------------------------------------------
def var(t):
    return t.detach().double().var().item()


def test_init_sequential_he_after_relu_xavier_after_tanh_sigmoid_and_last():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1000, 500), nn.ReLU(), nn.Linear(500, 400), nn.Dropout(0.2), nn.Tanh(),
                          nn.Linear(400, 300), nn.Sigmoid(), nn.Linear(300, 10))
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.bias)
    used = init_(model)
    assert used == {"0": "he", "2": "xavier", "5": "xavier", "7": "xavier"}
    assert var(model[0].weight) == pytest.approx(2 / 1000, rel=0.1)          # He: Var = 2/n_in
    assert var(model[2].weight) == pytest.approx(1 / 500, rel=0.1)           # the notes' Xavier: 1/n_in
    assert var(model[5].weight) == pytest.approx(1 / 400, rel=0.1)
    assert var(model[7].weight) == pytest.approx(1 / 300, rel=0.1)
    assert all(torch.all(m.bias == 0) for m in model if isinstance(m, nn.Linear))


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 64, 3)
        self.act = nn.LeakyReLU(0.2)
        self.block = nn.Sequential(nn.Linear(1000, 200), nn.Tanh())
        self.hidden = nn.Linear(200, 100)
        self.norm = nn.BatchNorm1d(100)
        self.relu = nn.ReLU()
        self.out = nn.Linear(100, 10)

    def forward(self, x):           # the structure, not forward, tells init_ what follows what
        return self.out(self.relu(self.norm(self.hidden(self.block(x)))))


def test_init_custom_module_reads_registration_order():
    torch.manual_seed(1)
    model = Custom()
    assert init_(model) == {"conv": "he", "block.0": "xavier", "hidden": "he", "out": "xavier"}
    fan_in = 16 * 3 * 3
    assert var(model.conv.weight) == pytest.approx(2 / ((1 + 0.2 ** 2) * fan_in), rel=0.1)   # leaky ReLU gain
    assert var(model.block[0].weight) == pytest.approx(1 / 1000, rel=0.1)
    assert var(model.hidden.weight) == pytest.approx(2 / 200, rel=0.1)
    assert torch.all(model.conv.bias == 0) and torch.all(model.out.bias == 0)


def test_init_forced_scheme():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(1000, 600), nn.Tanh(), nn.Linear(600, 10))
    assert init_(model, scheme="glorot") == {"0": "glorot", "2": "glorot"}
    assert var(model[0].weight) == pytest.approx(2 / (1000 + 600), rel=0.1)
    assert init_(model, scheme="he")["0"] == "he"
    assert var(model[0].weight) == pytest.approx(2 / 1000, rel=0.1)


@pytest.mark.parametrize("args, argument", [((object(),), "model"), ((nn.Linear(2, 2), "kaiming"), "scheme"),
                                            ((nn.ReLU(),), "model")])
def test_init_bad_input(args, argument):
    with pytest.raises(NNRecipeError, match=argument):
        init_(*args)


# ---- gradcheck ------------------------------------------------------------------------------------
class Cube(torch.autograd.Function):
    """y = a² · b; `bug` picks a planted mistake in backward."""
    bug = None

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da = g * a * b if Cube.bug == "factor" else 2 * g * a * b     # d(a²b)/da = 2ab
        db = g * a * a
        return da, db


class MatMul(torch.autograd.Function):
    """y = x @ w; `bug` = "transpose" gives dx = g @ w instead of g @ wᵀ."""
    bug = None

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g @ (w if MatMul.bug == "transpose" else w.T), x.T @ g


@pytest.fixture
def planted():
    yield
    Cube.bug = MatMul.bug = None


def leaves(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s, generator=g, dtype=torch.float64).requires_grad_() for s in shapes)


@pytest.mark.parametrize("function, bug, shapes", [(Cube, "factor", [(5,), (5,)]),
                                                   (MatMul, "transpose", [(4, 3), (3, 3)])])
def test_gradcheck_function_agrees_with_torch_and_names_the_input(planted, function, bug, shapes):
    inputs = leaves(*shapes)
    report = gradcheck(function, inputs)
    assert report.verdict == "ok" and report and report.difference < 1e-7
    assert torch.autograd.gradcheck(function.apply, inputs)
    function.bug = bug
    report = gradcheck(function, inputs)
    assert report.verdict == "bug" and report.at_fault == ["input0"]
    assert report.by_param["input1"].verdict == "ok"
    assert report.worst[0]["param"] == "input0"
    assert not torch.autograd.gradcheck(function.apply, inputs, raise_exception=False)
    assert "input0" in str(report) and "bug" in str(report)


def test_gradcheck_sees_a_backward_that_ignores_its_incoming_gradient():
    class NoChain(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.sin(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return torch.cos(x)                    # forgot g: invisible to ∂(Σ y)/∂x
    assert gradcheck(NoChain, leaves((6,))).at_fault == ["input0"]


def test_gradcheck_module_with_loss_agrees_with_torch():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = gradcheck(model, x, y, loss=nn.MSELoss())
    assert report.verdict == "ok"
    assert list(report.by_param) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert report.checked == 3 * 5 + 5 + 5 * 2 + 2
    # the model is untouched (float32, same values)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model[0].weight.dtype == torch.float32

    model64 = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    model64.load_state_dict(model.state_dict())
    names = [n for n, _ in model64.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in model64.parameters())

    def J(*ps):
        return F.mse_loss(functional_call(model64, dict(zip(names, ps)), (x.double(),)), y.double())
    assert torch.autograd.gradcheck(J, params)


def test_gradcheck_module_input_requiring_grad():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid())
    x = torch.randn(5, 3, requires_grad=True)
    report = gradcheck(model, x, mode="fast", seed=1)
    assert set(report.by_param) == {"0.weight", "0.bias", "input0"} and report.verdict == "ok"


class Scale(nn.Module):
    """y = x ⊙ s through a custom Function, with a planted bug in ∂J/∂s."""

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(x, s)
            return x * s

        @staticmethod
        def backward(ctx, g):
            x, s = ctx.saved_tensors
            return g * s, (g * x).sum(0) * 2           # the bug: a stray factor 2 in ds

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(0.5, 1.5, n))

    def forward(self, x):
        return Scale.Fn.apply(x, self.weight)


def test_gradcheck_attributes_a_custom_layer_bug_to_its_parameter():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    model.add_module("scale", Scale(4))
    model.add_module("out", nn.Linear(4, 1))
    report = gradcheck(model, torch.randn(6, 3), torch.randn(6, 1), loss=F.mse_loss)
    assert report.verdict == "bug" and report.at_fault == ["scale.weight"]
    assert report.by_param["0.weight"].verdict == "ok"


def test_gradcheck_frozen_dropout():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, 3))
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    assert gradcheck(model, x, y, loss=F.cross_entropy, dropout="frozen").verdict == "ok"
    assert gradcheck(model, x, y, loss=F.cross_entropy, dropout="off").verdict == "ok"
    # a fresh mask at every evaluation makes the numbers meaningless; frozen reuses one mask
    noisy = leaves((6, 4))
    torch.manual_seed(0)

    def f(z):
        return F.dropout(z, 0.5, training=True) * z
    assert gradcheck(f, noisy, dropout="off").verdict == "bug"
    assert gradcheck(f, noisy, dropout="frozen").verdict == "ok"


def test_gradcheck_relu_kinks_are_left_out():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        model[0].bias.zero_()
    x = torch.tensor([[1e-7, 1.0], [1.0, -1.0]])         # unit 0 of row 0 sits within ε of its kink
    report = gradcheck(model, x, epsilon=1e-6)
    assert report.kinks > 0 and report.verdict == "ok"


@pytest.mark.parametrize("kwargs, argument", [
    ({"epsilon": 0.0}, "epsilon"), ({"mode": "slow"}, "mode"), ({"dropout": "on"}, "dropout"),
    ({"seed": -1}, "seed"), ({"targets": torch.zeros(3)}, "loss"), ({"loss": "mse"}, "loss"),
    ({"loss": lambda out, t: out, "targets": torch.zeros(3, 2)}, "loss")])
def test_gradcheck_bad_arguments(kwargs, argument):
    with pytest.raises(NNRecipeError, match=argument):
        gradcheck(nn.Linear(2, 2), torch.zeros(3, 2), **kwargs)


def test_gradcheck_bad_model_or_inputs():
    with pytest.raises(NNRecipeError, match="module_or_function"):
        gradcheck(42, torch.zeros(2))
    with pytest.raises(NNRecipeError, match="inputs"):
        gradcheck(Cube, (torch.zeros(2), torch.zeros(2)))          # nothing requires grad
    with pytest.raises(NNRecipeError, match="inputs"):
        gradcheck(torch.sin, "x")


def test_gradcheck_non_finite_weights_or_cost_are_a_bug():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    model.weight.data.fill_(float("nan"))
    for mode in ("full", "fast"):
        report = gradcheck(model, (torch.randn(4, 3),), targets=torch.randn(4, 1), loss=F.mse_loss, mode=mode)
        assert report.verdict == "bug" and not report and report.difference != report.difference   # NaN
        assert report.at_fault == ["weight", "bias"] and "not finite" in str(report)
    report = gradcheck(nn.Linear(3, 1), torch.randn(4, 3), loss=lambda out: out.sum() * float("inf"))
    assert report.verdict == "bug" and not report


def test_gradcheck_takes_numpy_inputs_and_targets():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    assert gradcheck(model, (X.astype(np.float32),), targets=y, loss=F.cross_entropy).verdict == "ok"
    assert gradcheck(model, X).verdict == "ok"                                   # a bare array: one input
    with pytest.raises(NNRecipeError, match=r"^inputs must be tensors or numeric NumPy arrays"):
        gradcheck(model, (np.array(["a", "b"]),))
    with pytest.raises(NNRecipeError, match=r"^targets must be"):
        gradcheck(model, X, targets=np.array([None] * 5), loss=F.cross_entropy)


# ---- GradientMonitor ------------------------------------------------------------------------------
def mlp(widths, act):
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def train(model, monitor, steps, epochs=1, lr=1e-3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, model[0].in_features, generator=g)
    y = torch.randint(0, model[-1].out_features, (64,), generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            if monitor is not None:
                monitor.step(loss)
            opt.step()
        if monitor is not None:
            monitor.epoch_end(epoch)


def hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def test_monitor_flags_vanishing_gradients_in_a_deep_sigmoid_net():
    torch.manual_seed(7)
    model = mlp([16] + [32] * 19 + [4], nn.Sigmoid)              # 20 Linear layers
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
    monitor = GradientMonitor(model)
    train(model, monitor, steps=2)
    rules = {(f.rule, f.layer) for f in monitor.findings}
    assert ("vanishing_gradients", "0.weight") in rules
    vanishing = next(f for f in monitor.findings if f.rule == "vanishing_gradients")
    assert vanishing.epoch == 0 and "0.weight" in vanishing.message and "38.weight" in vanishing.message
    assert "Xavier initialization (init_(model, scheme='xavier'))" in vanishing.repair   # the notes' for sigmoid
    monitor.remove()


def test_monitor_healthy_he_relu_net_records_norms_and_removes_hooks():
    torch.manual_seed(8)
    model = mlp([20, 64, 64, 64, 3], nn.ReLU)
    init_(model)
    monitor = GradientMonitor(model, every=1)
    assert hooks(model) == 4                                    # armed for the first step
    train(model, monitor, steps=5, epochs=2)
    assert monitor.findings == [] and monitor.report.ok and monitor.epochs == [0, 1]
    assert list(monitor.grad_norms) == [n for n, _ in model.named_parameters()]
    assert all(len(v) == 10 for v in monitor.grad_norms.values()) and monitor.steps == list(range(10))
    row = monitor.report.layers[0]
    assert row["name"] == "0.weight" and row["init"] == "he" and row["activation"] == "relu"
    assert row["dead_share"] == 0.0 and 0 < row["act_std"] and row["grad_norm"] > 0
    assert monitor.report.layers[-1]["output"] and monitor.report.layers[-1]["dead_share"] is None
    # the last gradient norm is that of the last .grad
    assert monitor.grad_norms["6.weight"][-1] == pytest.approx(model[6].weight.grad.norm().item(), rel=1e-5)
    assert hooks(model) == 4                                    # re-armed for the next epoch's first step
    with torch.no_grad():
        model(torch.randn(2, 20))                               # an evaluation is not sampled
    assert hooks(model) == 4 and not monitor._stats
    model(torch.randn(2, 20)).sum().backward()
    monitor.step()                                              # ... gone after a training step
    assert hooks(model) == 0
    monitor.epoch_end()
    monitor.remove()
    assert hooks(model) == 0


def test_monitor_every_and_no_effect_on_training():
    torch.manual_seed(9)
    a = mlp([10, 32, 2], nn.Tanh)
    b = mlp([10, 32, 2], nn.Tanh)
    b.load_state_dict(a.state_dict())
    monitor = GradientMonitor(b, every=2)
    train(a, None, steps=5)
    train(b, monitor, steps=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert monitor.steps == [0, 2, 4] and len(monitor.grad_norms["0.weight"]) == 3
    assert monitor.report.layers[0]["saturated_share"] is not None


def test_monitor_dead_relu_and_non_finite():
    torch.manual_seed(10)
    model = mlp([8, 32, 32, 2], nn.ReLU)
    with torch.no_grad():
        model[2].bias.fill_(-100.0)                             # the second hidden layer never fires
    monitor = GradientMonitor(model)
    train(model, monitor, steps=1)
    assert ("dead_relu", "2.weight") in {(f.rule, f.layer) for f in monitor.findings}
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    train(model, monitor, steps=1)
    non_finite = [f for f in monitor.findings if f.rule == "non_finite"]
    assert non_finite and non_finite[0].epoch == 0 and monitor.report.findings[0].rule == "non_finite"


def test_monitor_conv_layers():
    torch.manual_seed(11)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    init_(model)
    monitor = GradientMonitor(model)
    loss = model(torch.randn(4, 3, 8, 8)).square().mean()
    loss.backward()
    monitor.step(loss)
    report = monitor.epoch_end()
    assert [r["name"] for r in report.layers] == ["0.weight", "3.weight"]
    assert report.layers[0]["units"] == 8 and report.layers[0]["dead_share"] is not None


def test_monitor_parameters_of_several_dtypes():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    model[2].double()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    monitor = GradientMonitor(model)
    monitor.step()
    assert monitor.grad_norms["0.weight"] == [3.0] and monitor.grad_norms["2.bias"] == [pytest.approx(2 ** 0.5)]
    assert monitor.epoch_end().gradient_ratio == pytest.approx(3 / 6 ** 0.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_monitor_gradcheck_and_early_stopping():
    torch.manual_seed(13)
    model = mlp([8, 32, 32, 2], nn.ReLU).cuda()
    init_(model)
    x, y = torch.randn(64, 8, device="cuda"), torch.randint(0, 2, (64,), device="cuda")
    monitor, stopper = GradientMonitor(model), EarlyStopping(patience=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(3):
        for _ in range(4):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            monitor.step(loss)
            opt.step()
        monitor.epoch_end(epoch)
        stopper.step(loss, model)
    assert monitor.findings == [] and len(monitor.grad_norms["0.weight"]) == 12
    stopper.restore(model)
    assert model[0].weight.is_cuda and all(v.device.type == "cpu" for v in stopper.best_state.values())
    report = gradcheck(model, x[:8], y[:8], loss=F.cross_entropy, mode="fast")
    assert report.verdict == "ok"
    monitor.remove()


@pytest.mark.parametrize("args, argument", [((object(),), "model"), ((nn.Linear(2, 2), 0), "every"),
                                            ((nn.ReLU(),), "model")])
def test_monitor_bad_input(args, argument):
    with pytest.raises(NNRecipeError, match=argument):
        GradientMonitor(*args)


# ---- EarlyStopping and diagnose -------------------------------------------------------------------
def test_early_stopping_restores_best_state_dict():
    torch.manual_seed(12)
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    stopper = EarlyStopping(patience=2)
    best = None
    for value in (3.0, 2.0, torch.tensor(2.5), 2.6, 2.7):
        with torch.no_grad():
            model[0].weight.add_(1.0)
        model(torch.randn(4, 3))                                # moves the BatchNorm buffers too
        if value == 2.0:
            best = {k: v.clone() for k, v in model.state_dict().items()}
        if stopper.step(value, model):
            break
    assert value == 2.6 and stopper.stopped and stopper.best == 2.0 and stopper.best_epoch == 1
    assert not torch.equal(model[0].weight, best["0.weight"])
    stopper.restore(model)
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())
    assert all(v.device.type == "cpu" for v in stopper.best_state.values())


def test_early_stopping_max_mode_and_min_delta():
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=1, min_delta=0.05, mode="max")
    assert not stopper.step(0.80, model)
    assert stopper.step(0.83, model)                 # not more than min_delta better
    assert stopper.best == 0.80 and stopper.best_epoch == 0


@pytest.mark.parametrize("kwargs, argument", [({"patience": -1}, "patience"), ({"min_delta": -0.1}, "min_delta"),
                                              ({"mode": "lowest"}, "mode")])
def test_early_stopping_bad_arguments(kwargs, argument):
    with pytest.raises(NNRecipeError, match=argument):
        EarlyStopping(**kwargs)


def test_early_stopping_bad_step_and_restore():
    stopper = EarlyStopping()
    with pytest.raises(NNRecipeError, match="value"):
        stopper.step("low", nn.Linear(1, 1))
    with pytest.raises(NNRecipeError, match="model"):
        stopper.step(1.0, {"w": 1})
    with pytest.raises(NNRecipeError, match="restore"):
        stopper.restore(nn.Linear(1, 1))


def test_diagnose_is_the_engines():
    assert diagnose is nnrecipe.doctor.diagnose.diagnose
    assert diagnose(train_error=0.01, dev_error=0.15).case == "high variance"
