"""Layers: one protocol for built-in and user-written layers.

    forward(x, training) -> y     keeps what backward needs
    backward(dy) -> dx            assigns self.grads (same keys and shapes as self.params)

`x` is (batch, n_in), `y` is (batch, n_out). A layer with parameters puts them in
`self.params`; once the layer sits in a Network they are views into the network's one flat
parameter vector, so update them in place (`W[...] = ...`), never rebind them.
"""

import numpy as np

from .._checks import one_of, positive, probability
from . import init as _init
from .activations import ACTIVATIONS


class Layer:
    """Base class. Subclasses set `params` (dict name -> array) and write `grads` in backward.

    `penalized` names the params that L2/L1 apply to (Dense: its weights, never biases).
    A Network never changes a layer's settings: the same layer object may sit in another network,
    as a hidden layer or as the output layer, and compute the same numbers there.
    """

    penalized = ()

    def __init__(self):
        self.params = {}
        self.grads = {}

    def build(self, n_in, rng, dtype):
        """Create parameters for inputs of width n_in (drawing from rng); return the output width."""
        return n_in

    def forward(self, x, training):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def config(self):
        """JSON-able settings that rebuild this layer (None: the layer cannot be saved)."""
        return

    def __repr__(self):
        settings = self.config() or {}
        inner = ", ".join(f"{k}={v!r}" for k, v in settings.items() if k != "type")
        return f"{type(self).__name__}({inner})"


class Activation(Layer):
    """An activation on its own, as a layer without parameters."""

    def __init__(self, name):
        super().__init__()
        self.name = one_of(name, "activation", tuple(ACTIVATIONS))
        self._f, self._df = ACTIVATIONS[name]

    def forward(self, x, training):
        self.a = self._f(x, None if self.name == "linear" else np.empty_like(x))
        return self.a

    def backward(self, dy):
        return self._df(self.a, dy)

    def config(self):
        return {"type": "Activation", "name": self.name}


class Dense(Layer):
    """z = x @ W + b, then the activation. W is (n_in, units), b is (units,).

    forward(x, training) and backward(dy) are the layer protocol: the activation included. The
    Network that ends with this layer fuses its activation into the loss (as Keras' from_logits
    and PyTorch's BCEWithLogitsLoss do): it calls forward(x, training, logits=True), which returns
    z, and backward(dz, logits=True), which receives dJ/dz. backward(..., need_dx=False) skips dx
    (returns None): the Network asks it of its first layer, whose dx nobody reads. Neither is a
    setting of the layer: each call says it.
    """

    penalized = ("W",)

    def __init__(self, units, activation="linear", init="auto", scale=0.01):
        super().__init__()
        self.units = positive(units, "units", integer=True)
        self.activation = one_of(activation, "activation", tuple(ACTIVATIONS))
        self.init = _init.resolve(init, activation)
        self.scale = positive(scale, "scale")
        self._f, self._df = ACTIVATIONS[activation]
        self._ones = np.ones(0)

    def build(self, n_in, rng, dtype):
        self.params = {"W": _init.weights(self.init, n_in, self.units, rng, dtype, self.scale),
                       "b": np.zeros(self.units, dtype)}
        return self.units

    def forward(self, x, training, logits=False):
        """The activation of z = x @ W + b; z itself when logits=True (the activation is in the loss)."""
        z = x @ self.params["W"]
        z += self.params["b"]
        self.x = x
        self.a = z if logits else self._f(z, z)
        return self.a

    def backward(self, dy, logits=False, need_dx=True):
        """dy is dJ/da, or dJ/dz when logits=True (as forward was called). Assigns grads; returns
        dJ/dx, or None when need_dx=False."""
        dz = dy if logits else self._df(self.a, dy)
        np.matmul(self.x.T, dz, out=self.grads["W"])
        if self._ones.shape[0] != len(dz) or self._ones.dtype != dz.dtype:
            self._ones = np.ones(len(dz), dz.dtype)
        np.matmul(self._ones, dz, out=self.grads["b"])      # Σ over the batch, as a BLAS call
        return dz @ self.params["W"].T if need_dx else None

    def config(self):
        return {"type": "Dense", "units": self.units, "activation": self.activation,
                "init": self.init, "scale": self.scale}


class Dropout(Layer):
    """Inverted dropout: keep each unit with probability keep_prob and scale kept units by
    1/keep_prob, so the expected activation is unchanged and predict needs no rescaling.

    `frozen=True` reuses one mask per input shape on every call (kept in `frozen_masks`, keyed
    by shape), so the training cost is deterministic, minibatches of every size included: what
    gradient checking of the dropout path needs. `mask` is the mask of the last call.
    """

    def __init__(self, keep_prob, frozen=False):
        super().__init__()
        self.keep_prob = probability(keep_prob, "keep_prob")
        self.frozen = bool(frozen)
        self.rng = None       # a numpy Generator, given by the Network (its dropout stream)
        self.clear_masks()

    def clear_masks(self):
        """Forget every mask: the next call draws afresh (frozen or not)."""
        self.mask, self.frozen_masks = None, {}

    def forward(self, x, training):
        self._active = training and self.keep_prob < 1.0
        if not self._active:
            return x
        self.mask = self.frozen_masks.get(x.shape) if self.frozen else None
        if self.mask is None:
            if self.rng is None:
                self.rng = np.random.default_rng()
            keep = self.rng.random(x.shape, dtype=x.dtype) < self.keep_prob
            self.mask = keep.astype(x.dtype)
            self.mask *= 1.0 / self.keep_prob
            if self.frozen:
                self.frozen_masks[x.shape] = self.mask
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask if self._active else dy

    def config(self):
        return {"type": "Dropout", "keep_prob": self.keep_prob}


LAYER_TYPES = {"Dense": Dense, "Dropout": Dropout, "Activation": Activation}
