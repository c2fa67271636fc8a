"""The recipe driving a torch model; nnrecipe itself never imports torch."""

import json
import subprocess
import sys

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.recipe import Recipe

torch_train = pytest.importorskip("nnrecipe.adapters.torch_train")


def test_importing_nnrecipe_does_not_import_torch():
    code = "import sys, nnrecipe, nnrecipe.sklearn; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_recipe_drives_a_torch_model_and_records_it(tmp_path):
    t = nr.load_dataset("football")
    trainer = torch_train.TorchTrainer(torch_train.mlp_factory(2, 1))
    r = Recipe(out=tmp_path, verbose=0, trainer=trainer, budget=1500).fit(t.X, t.y, test=t.test,
                                                                          classes=t.classes)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["experiments"][0]["model"].endswith(".pt") and (tmp_path / "model.pt").exists()
    first = record["experiments"][0]
    assert first["gradient_norms"]                                   # the torch GradientMonitor ran
    # one epoch per gradient record, as the NumPy trainer records them: the report plots them per epoch
    epochs = first["gradient_epochs"]
    assert all(len(v) == len(epochs) for v in first["gradient_norms"].values())
    assert epochs == sorted(epochs) and 0 <= epochs[0] and epochs[-1] < first["epochs"]
    assert len(r.split_.test_openings) == 1 and r.test_error_ <= 0.12
    assert r.test_error_ == pytest.approx(r.best_.error(*t.test))     # the torch model applies the normalizer
    assert record["spent_epochs"] <= 1500


def test_nnrecipe_torch_fit_runs_the_recipe_on_a_factory():
    import nnrecipe.torch as nt
    t = nr.load_dataset("moons", n=300)
    r = nt.fit(nt.mlp_factory(2, 1), t.X, t.y, verbose=0, budget=1000)
    refit = (r.record_["final"].get("refit") or {}).get("epochs", 0)     # cross-validated: the refit on top
    assert r.record_["spent_epochs"] - refit <= 1000 and r.test_error_ <= 0.15
    assert isinstance(r.best_, nt.TorchModel)


def test_nnrecipe_torch_fit_names_bad_x_with_the_users_row():
    import nnrecipe.torch as nt
    t = nr.load_dataset("moons", n=200)
    X = t.X.copy()
    X[150, 1] = np.nan
    with pytest.raises(nr.NNRecipeError, match="X must be finite; got nan at row 150, column 1"):
        nt.fit(nt.mlp_factory(2, 1), X, t.y, verbose=0, budget=10)
