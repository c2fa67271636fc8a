"""Weight initialization schemes.

Each scheme fixes the variance of W (shape (n_in, n_out)); "_uniform" variants draw from
U(-a, a) with a = sqrt(3·Var), which has the same variance as the normal draw.

    zeros    W = 0                       (symmetry is never broken: a lesson, not a choice)
    random   W ~ N(0, 1)·scale           (scale defaults to 0.01)
    he       Var = 2 / n_in              (ReLU family: keeps the forward signal's variance)
    xavier   Var = 1 / n_in              (tanh / sigmoid)
    glorot   Var = 2 / (n_in + n_out)    (balances forward and backward signals)
"""

import numpy as np

from ..errors import NNRecipeError

_VARIANCE = {
    "he": lambda n_in, n_out: 2.0 / n_in,
    "xavier": lambda n_in, n_out: 1.0 / n_in,
    "glorot": lambda n_in, n_out: 2.0 / (n_in + n_out),
}
SCHEMES = ("auto", "zeros", "random", "random_uniform",
           *_VARIANCE, *(name + "_uniform" for name in _VARIANCE))
RELU_FAMILY = ("relu", "leaky_relu")


def resolve(scheme, activation):
    """The concrete scheme for `auto`: He for the ReLU family, Xavier otherwise."""
    if scheme not in SCHEMES:
        raise NNRecipeError(f"init must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    if scheme == "auto":
        return "he" if activation in RELU_FAMILY else "xavier"
    return scheme


def weights(scheme, n_in, n_out, rng, dtype=np.float32, scale=0.01):
    """A new (n_in, n_out) weight matrix drawn by `scheme` (not 'auto') from `rng`."""
    shape = (n_in, n_out)
    if scheme == "zeros":
        return np.zeros(shape, dtype)
    base, uniform = scheme.removesuffix("_uniform"), scheme.endswith("_uniform")
    std = scale if base == "random" else np.sqrt(_VARIANCE[base](n_in, n_out))
    if uniform:
        a = std * np.sqrt(3.0)
        w = rng.uniform(-a, a, size=shape)
    else:
        w = rng.standard_normal(shape) * std
    return w.astype(dtype, copy=False)
