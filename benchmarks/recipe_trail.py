"""What the recipe decides, as JSON: per dataset and seed, every experiment (knob, configuration, epochs,
train/dev error), the chosen experiment, its test error and a hash of its weights.

Used to show that a refactoring leaves the recipe's decisions unchanged: run it before and after and
compare the two files (`python benchmarks/recipe_trail.py > after.json; diff before.json after.json`).

    python benchmarks/recipe_trail.py [--seeds 0 1 2] [--data football circles moons digits]
"""

import argparse
import hashlib
import json
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")          # one thread: BLAS sums in one order, bit-exact weights

import numpy as np

import nnrecipe as nr


def trail(name, seed):
    t = nr.load_dataset(name)
    r = nr.Recipe(verbose=0, seed=seed).fit(t.X, t.y, test=t.test, classes=t.classes)
    exps = [e if isinstance(e, dict) else e.to_dict() for e in r.experiments_]
    theta = np.ascontiguousarray(r.best_.theta)
    return {"experiments": [{"knob": e["knob"], "config": e["config"], "epochs": e["epochs"],
                             "train_error": e["train_error"], "dev_error": e["dev_error"]} for e in exps],
            "chosen": r.record_["final"]["experiment"], "test_error": r.test_error_,
            "weights": hashlib.blake2b(theta.tobytes(), digest_size=8).hexdigest()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", nargs="+", default=["football", "circles", "moons", "digits"])
    args = parser.parse_args(argv)
    out = {f"{name}/{seed}": trail(name, seed) for name in args.data for seed in args.seeds}
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
