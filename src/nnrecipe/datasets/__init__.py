"""Bundled datasets."""

from importlib import resources

import numpy as np

from ..errors import NNRecipeError


def football():
    """The course's regularization data (where the goalkeeper should kick the ball).

    Returns (X_train (211, 2), y_train (211,), X_test (200, 2), y_test (200,)); labels 0/1.
    """
    from scipy.io import loadmat
    with resources.files(__package__).joinpath("football.mat").open("rb") as f:
        data = loadmat(f)
    return (data["X"].astype(np.float64), data["y"].ravel().astype(np.int64),
            data["Xval"].astype(np.float64), data["yval"].ravel().astype(np.int64))


DATASETS = {"football": football}


def load_dataset(name):
    if name not in DATASETS:
        raise NNRecipeError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    return DATASETS[name]()
