"""One DDP training, launched by tests/test_torch_train.py under `python -m torch.distributed.run`.

Usage: _ddp_worker.py OUT_DIR. Every rank writes rank<r>.json (its all-reduced history and the
diagnosis read from it); rank 0 also writes model.pt (the final weights). The test runs `train()` in
one process with the same data, seed and configuration, and compares.
"""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from nnrecipe.adapters.torch_train import TorchTrainer, is_main, mlp_factory
from nnrecipe.datasets import football
from nnrecipe.doctor.diagnose import diagnose

# 211 training rows: batches of 64 end with one of 19, so the two ranks' slices differ (9 and 10 rows)
CONFIG = {"hidden": (20, 3), "keep_prob": 1.0, "l2": 0.3, "lr": 0.01, "epochs": 60, "batch_size": 64,
          "optimizer": "adam"}
SEED = 3


def factory(hidden, keep_prob):
    return mlp_factory(2, 1)(hidden, keep_prob).double()      # float64: the comparison can be tight


def train(config=CONFIG):
    """(TorchModel, history) on football, as one process or as this rank of a distributed run."""
    X, y, X_dev, y_dev = football()
    return TorchTrainer(factory, device="cpu").train(config, X, y, X_dev, y_dev, SEED)


def diagnosis(history):
    return diagnose(history["train_error"][-1], history["dev_error"][-1]).to_dict()


def main(out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        model, history = train()
        rank = dist.get_rank()
        report = {"rank": rank, "world": dist.get_world_size(), "main": is_main(), "history": history,
                  "diagnosis": diagnosis(history)}
        Path(out, f"rank{rank}.json").write_text(json.dumps(report))
        if is_main():
            model.save(Path(out) / "model.pt")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
