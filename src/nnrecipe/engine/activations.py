"""Elementwise activations, each a pair: f(z, out) and its derivative written from the output a.

Writing every derivative in terms of a = f(z) means a layer keeps one array for backward.
"""

from functools import lru_cache

import numpy as np
from scipy.special import expit

LEAKY_SLOPE = 0.01


@lru_cache(maxsize=64)
def _zeros_row(width, dtype):
    # np.maximum against a row of zeros is twice as fast as against the scalar 0 (NumPy 2.x).
    return np.zeros(width, dtype)


def _relu(z, out):
    return np.maximum(z, _zeros_row(z.shape[-1], z.dtype), out=out)


def _relu_grad(a, dy):
    return dy * (a > 0)


def _leaky_relu(z, out):
    return np.maximum(z, z * LEAKY_SLOPE, out=out)    # max(z, αz) = leaky ReLU for 0 < α < 1


def _leaky_relu_grad(a, dy):
    return np.where(a > 0, dy, dy * LEAKY_SLOPE)      # a > 0 exactly when z > 0


def _tanh(z, out):
    return np.tanh(z, out=out)


def _tanh_grad(a, dy):
    return dy * (1 - a * a)                            # tanh' = 1 − tanh²


def _sigmoid(z, out):
    return expit(z, out=out)                           # stable for any z


def _sigmoid_grad(a, dy):
    return dy * a * (1 - a)                            # σ' = σ(1 − σ)


def _softmax(z, out):
    out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _softmax_grad(a, dy):
    # Jacobian-vector product: dz_i = a_i (dy_i − Σ_j dy_j a_j)
    return a * (dy - (dy * a).sum(axis=-1, keepdims=True))


def _linear(z, out):
    if out is not None and out is not z:
        out[...] = z
        return out
    return z


def _linear_grad(a, dy):
    return dy


ACTIVATIONS = {
    "relu": (_relu, _relu_grad),
    "leaky_relu": (_leaky_relu, _leaky_relu_grad),
    "tanh": (_tanh, _tanh_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "softmax": (_softmax, _softmax_grad),
    "linear": (_linear, _linear_grad),
}
