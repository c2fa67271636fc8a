"""Bundled datasets: the course's football data, and toy problems to test a network on.

`dataset(name, **options)` returns any of them as a `Table` (X, y, features, classes, test).
`load_dataset(name)` and `DATASETS` are the command line's older entry point, kept as they were:
they know only "football" and return its 4-tuple.
"""

import inspect
import numbers
from importlib import resources

import numpy as np

from ..data.io import Table
from ..errors import NNRecipeError, expect


def football():
    """The course's regularization data (where the goalkeeper should kick the ball).

    Returns (X_train (211, 2), y_train (211,), X_test (200, 2), y_test (200,)); labels 0/1.
    """
    from scipy.io import loadmat
    with resources.files(__package__).joinpath("football.mat").open("rb") as f:
        data = loadmat(f)
    return (data["X"].astype(np.float64), data["y"].ravel().astype(np.int64),
            data["Xval"].astype(np.float64), data["yval"].ravel().astype(np.int64))


def football_table():
    """football() as a Table: X (211, 2), y (211,) the course's training set, test = (X (200, 2), y (200,))."""
    X, y, X_test, y_test = football()
    return Table(X, y, ["x0", "x1"], [0, 1], test=(X_test, y_test))


def circles(n=400, noise=0.05, factor=0.5, seed=0):
    """Two concentric circles (the course's initialization data; scikit-learn's make_circles).

    X (n, 2) float64; y (n,) int64, 0 on the outer circle (radius 1), 1 on the inner (radius `factor`);
    `noise` is the standard deviation of Gaussian noise added to each coordinate.
    """
    _check_size(n, 2)
    _check_noise(noise)
    expect(isinstance(factor, numbers.Real) and 0 < factor < 1, "factor", "a number in (0, 1)", repr(factor))
    from sklearn.datasets import make_circles
    X, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=_random_state(seed))
    return _table(X, y, 2)


def moons(n=400, noise=0.2, seed=0):
    """Two interleaving half circles (scikit-learn's make_moons): X (n, 2) float64, y (n,) int64 0/1."""
    _check_size(n, 2)
    _check_noise(noise)
    from sklearn.datasets import make_moons
    X, y = make_moons(n_samples=n, noise=noise, random_state=_random_state(seed))
    return _table(X, y, 2)


def spirals(n=600, classes=3, noise=0.2, seed=0):
    """`classes` interleaved spiral arms in 2-D (the CS231n toy data): X (n, 2) float64, y (n,) int64.

    Arm k holds n // classes points (the first n % classes arms one more), in order of class.
    """
    expect(isinstance(classes, numbers.Integral) and not isinstance(classes, bool) and classes >= 2,
           "classes", "an integer ≥ 2", repr(classes))
    _check_size(n, classes)
    _check_noise(noise)
    rng = np.random.default_rng(_random_state(seed))
    counts = np.full(classes, n // classes)
    counts[:n % classes] += 1
    X, y = [], []
    for k, m in enumerate(counts):
        # Point i of arm k sits at radius r_i (0 → 1) and angle θ_i = 4k + 4r_i + noise·N(0, 1):
        # each arm turns 4 radians as it leaves the centre, arm k starting 4k radians round.
        r = np.linspace(0.0, 1.0, m)
        theta = 4 * k + 4 * r + noise * rng.standard_normal(m)
        X.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        y.append(np.full(m, k))
    return _table(np.concatenate(X), np.concatenate(y), classes)


def digits(images=False):
    """scikit-learn's handwritten digits: 1797 8×8 images of grey levels 0..16.

    X (1797, 64) float64, or (1797, 8, 8) with images=True; y (1797,) int64 digits 0..9;
    features pixel_r_c for the pixel at row r, column c (row-major, as X.reshape(1797, 64)).
    """
    expect(isinstance(images, bool), "images", "True or False", repr(images))
    from sklearn.datasets import load_digits
    data = load_digits()
    X = np.asarray(data.images if images else data.data, dtype=np.float64)
    features = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    return Table(X, data.target.astype(np.int64), features, [int(c) for c in data.target_names])


DATASETS = {"football": football_table, "circles": circles, "moons": moons, "spirals": spirals, "digits": digits}


def load_dataset(name, **options):
    """The bundled dataset `name` as a Table; `options` go to its function (e.g. seed=1 for circles).

    "football" has no options and comes with its test set: Table(X_train, y_train, ..., test=(X_test, y_test)).
    """
    if name not in DATASETS:
        raise NNRecipeError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    loader = DATASETS[name]
    try:
        inspect.signature(loader).bind(**options)
    except TypeError:
        takes = ", ".join(inspect.signature(loader).parameters) or "none"
        raise NNRecipeError(f"the options of dataset {name!r} must be among its arguments ({takes}); got "
                            f"{', '.join(options)}") from None
    return loader(**options)


def _table(X, y, n_classes):
    return Table(X.astype(np.float64), y.astype(np.int64), [f"x{i}" for i in range(X.shape[1])],
                 list(range(n_classes)))


def _check_size(n, at_least):
    expect(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= at_least, "n",
           f"an integer ≥ {at_least}", repr(n))


def _check_noise(noise):
    ok = isinstance(noise, numbers.Real) and not isinstance(noise, bool) and np.isfinite(noise) and noise >= 0
    expect(ok, "noise", "a number ≥ 0", repr(noise))


def _random_state(seed):
    """An int seed for scikit-learn / default_rng: `seed` itself, or one drawn from a Generator
    (None: fresh entropy). Never NumPy's global state."""
    if seed is None or isinstance(seed, np.random.Generator):
        return int(np.random.default_rng(seed).integers(2**32))
    ok = isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= seed < 2**32
    expect(ok, "seed", "an integer in [0, 2**32), a numpy Generator or None", repr(seed))
    return int(seed)
