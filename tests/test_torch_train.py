"""TorchTrainer: nnrecipe's objective on torch models, in one process and under DDP (2 CPU ranks, gloo)."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import nnrecipe as nr
from nnrecipe.adapters.torch_train import TorchTrainer, is_main, l2_penalty, mlp_factory
from nnrecipe.datasets import football, spirals

WORKER = Path(__file__).with_name("_ddp_worker.py")
CFG = {"hidden": (20, 3), "keep_prob": 1.0, "l2": 0.0, "lr": 0.01, "epochs": 300, "batch_size": None,
       "optimizer": "adam"}


def _worker():
    spec = importlib.util.spec_from_file_location("_ddp_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def double_mlp(n_in, n_out):
    make = mlp_factory(n_in, n_out)
    return lambda hidden, keep_prob: make(hidden, keep_prob).double()


def weights(model):
    return {k: v.detach().cpu().numpy().copy() for k, v in model.module.state_dict().items()}


def test_football_single_process_reaches_a_sensible_error():
    X, y, X_dev, y_dev = football()
    trainer = TorchTrainer(mlp_factory(2, 1), device="cpu")
    model, hist = trainer.train(CFG, X, y, X_dev, y_dev, seed=0)
    assert set(hist) == {"cost", "penalty", "train_error", "dev_cost", "dev_error"}
    assert all(len(v) == trainer.epochs_run_ for v in hist.values()) and trainer.epochs_run_ <= CFG["epochs"]
    assert all(isinstance(v, float) for v in hist["cost"])
    assert hist["cost"][-1] < hist["cost"][0] and hist["penalty"] == [0.0] * trainer.epochs_run_
    assert model.error(X, y) < 0.1 and model.error(X_dev, y_dev) < 0.12        # the course: 94.8% / 91.5%
    assert model.predict(X_dev).shape == (200,) and set(np.unique(model.predict(X_dev))) <= {0, 1}
    assert is_main()


def test_l2_is_the_notes_penalty_and_its_gradient():
    """J = mean BCE + (λ/2m)·Σ‖W‖²: the recorded penalty, and one GD step differs from λ = 0 by −α(λ/m)·W."""
    X, y, X_dev, y_dev = football()
    m, lam, lr, seed = len(X), 0.7, 0.3, 5
    torch.manual_seed(seed)
    init = double_mlp(2, 1)((20, 3), 1.0)
    W0 = [p.detach().numpy().copy() for p in init.parameters() if p.ndim == 2]
    by_hand = lam / (2 * m) * sum(float(np.sum(W ** 2)) for W in W0)
    assert l2_penalty(init, lam, m).item() == pytest.approx(by_hand, rel=1e-12)
    with torch.no_grad():
        bce = F.binary_cross_entropy_with_logits(init(torch.as_tensor(X))[:, 0], torch.as_tensor(y, dtype=torch.float64))

    cfg = CFG | {"epochs": 1, "optimizer": "gd", "lr": lr}
    trainer = TorchTrainer(double_mlp(2, 1), device="cpu")
    plain, _ = trainer.train(cfg, X, y, X_dev, y_dev, seed)
    reg, hist = trainer.train(cfg | {"l2": lam}, X, y, X_dev, y_dev, seed)
    assert hist["penalty"][0] == pytest.approx(by_hand, rel=1e-12)
    assert hist["cost"][0] == pytest.approx(float(bce) + by_hand, rel=1e-12)
    names = [k for k, v in reg.module.state_dict().items() if v.ndim == 2]
    for name, W in zip(names, W0):                 # ∇ of (λ/2m)‖W‖² is (λ/m)·W
        np.testing.assert_allclose(weights(reg)[name] - weights(plain)[name], -lr * lam / m * W, atol=1e-14)
    for name in weights(reg):                      # biases are never penalized
        if name.endswith("bias"):
            np.testing.assert_array_equal(weights(reg)[name], weights(plain)[name])


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_full_batch_matches_nnrecipe_fit(optimizer):
    """Same initial weights, same objective, same optimizer: the NumPy engine's curve, to float64 precision."""
    X, y, X_dev, y_dev = football()
    cfg = CFG | {"l2": 0.3, "epochs": 30, "optimizer": optimizer, "lr": 0.02}
    model, hist = TorchTrainer(double_mlp(2, 1), device="cpu").train(cfg, X, y, X_dev, y_dev, seed=1)
    torch.manual_seed(1)
    init = [p.detach().numpy() for p in double_mlp(2, 1)((20, 3), 1.0).parameters()]
    net = nr.mlp([2, 20, 3, 1], hidden="relu", output="sigmoid", l2=0.3, dtype="float64")
    for i in range(3):                             # torch's weight is (out, in); nnrecipe's W is (in, out)
        net.params[f"W{i + 1}"][...], net.params[f"b{i + 1}"][...] = init[2 * i].T, init[2 * i + 1]
    h = nr.fit(net, X, y, dev=(X_dev, y_dev), epochs=30, optimizer=optimizer, lr=0.02, verbose=0)
    assert len(hist["cost"]) == len(h.cost) == 30              # no plateau stop at lr 0.02: all 30 epochs
    for field in ("cost", "penalty", "train_error", "dev_cost", "dev_error"):
        np.testing.assert_allclose(hist[field], getattr(h, field), rtol=1e-9, err_msg=field)
    for i in range(3):                             # every final weight and bias, not only the first layer's
        np.testing.assert_allclose(weights(model)[f"{2 * i}.weight"], net.params[f"W{i + 1}"].T, rtol=1e-9)
        np.testing.assert_allclose(weights(model)[f"{2 * i}.bias"], net.params[f"b{i + 1}"], rtol=1e-9, atol=1e-15)


def test_deterministic_per_seed():
    X, y, X_dev, y_dev = football()
    cfg = CFG | {"epochs": 20, "batch_size": 32, "keep_prob": 0.8}
    trainer = TorchTrainer(mlp_factory(2, 1), device="cpu")
    (a, ha), (b, hb), (c, hc) = (trainer.train(cfg, X, y, X_dev, y_dev, seed=s) for s in (7, 7, 8))
    assert ha == hb and ha != hc
    for k, v in weights(a).items():
        np.testing.assert_array_equal(v, weights(b)[k])
    assert not np.array_equal(weights(a)["0.weight"], weights(c)["0.weight"])


def test_plateau_of_J_stops_training():
    X, y, X_dev, y_dev = football()
    trainer = TorchTrainer(mlp_factory(2, 1), device="cpu")
    _, hist = trainer.train(CFG | {"optimizer": "gd", "lr": 1e-9}, X, y, X_dev, y_dev, seed=0)
    assert trainer.epochs_run_ == len(hist["cost"]) == 11 and "plateau" in trainer.stop_reason_


def test_multiclass_uses_cross_entropy():
    data = spirals(300, classes=3)
    X, y = data.X, data.y
    trainer = TorchTrainer(mlp_factory(2, 3), device="cpu")
    cfg = CFG | {"hidden": (32, 32), "epochs": 200, "optimizer": "momentum", "lr": 0.5}
    model, hist = trainer.train(cfg, X, y, None, None, seed=0)
    assert hist["dev_error"] == [] and hist["cost"][-1] < hist["cost"][0]
    assert model.error(X, y) < 0.3 and set(np.unique(model.predict(X))) <= {0, 1, 2}


def test_save_is_a_state_dict(tmp_path):
    X, y, X_dev, y_dev = football()
    model, _ = TorchTrainer(mlp_factory(2, 1), device="cpu").train(CFG | {"epochs": 2}, X, y, X_dev, y_dev, 0)
    model.save(tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert sorted(state) == sorted(weights(model)) and os.listdir(tmp_path) == ["m.pt"]
    fresh = mlp_factory(2, 1)((20, 3), 1.0)
    fresh.load_state_dict(state)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        np.testing.assert_array_equal(fresh(Xt).numpy(), model.module(Xt).numpy())
    with pytest.raises(nr.NNRecipeError, match="path"):
        model.save(tmp_path / "no such folder" / "m.pt")


@pytest.mark.parametrize("change, name", [({"optimizer": "sgd"}, "cfg['optimizer']"), ({"lr": 0}, "cfg['lr']"),
                                           ({"keep_prob": 0}, "cfg['keep_prob']"), ({"hidden": 20}, "cfg['hidden']"),
                                           ({"batch_size": 0}, "cfg['batch_size']")])
def test_bad_config_names_the_argument(change, name):
    X, y, X_dev, y_dev = football()
    with pytest.raises(nr.NNRecipeError, match=name.replace("[", r"\[")):
        TorchTrainer(mlp_factory(2, 1)).train(CFG | change, X, y, X_dev, y_dev, 0)


def test_bad_data_names_the_argument():
    X, y, X_dev, y_dev = football()
    with pytest.raises(nr.NNRecipeError, match="y_dev"):
        TorchTrainer(mlp_factory(2, 1)).train(CFG, X, y, X_dev, y_dev + 0.5, 0)
    with pytest.raises(nr.NNRecipeError, match="cfg"):
        TorchTrainer(mlp_factory(2, 1)).train({"hidden": (3,)}, X, y, X_dev, y_dev, 0)
    with pytest.raises(nr.NNRecipeError, match="device"):
        TorchTrainer(mlp_factory(2, 1), device="nowhere")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_ddp_two_cpu_ranks_equal_one_process(tmp_path):
    """2 ranks (gloo) end with the single-process weights and history, hence the same diagnosis."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [
        str(Path(nr.__file__).parents[1]), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(WORKER), str(tmp_path)]
    done = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    worker = _worker()
    model, hist = worker.train()
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2] and [r["main"] for r in ranks] == [True, False]
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    for name, W in weights(model).items():
        np.testing.assert_allclose(state[name].numpy(), W, rtol=1e-10, atol=1e-13, err_msg=name)
    for r in ranks:
        assert r["history"]["train_error"] == hist["train_error"] and r["history"]["dev_error"] == hist["dev_error"]
        for field in ("cost", "penalty", "dev_cost"):
            np.testing.assert_allclose(r["history"][field], hist[field], rtol=1e-10, err_msg=field)
        assert r["diagnosis"] == worker.diagnosis(hist)
    assert ranks[0]["history"] == ranks[1]["history"]
