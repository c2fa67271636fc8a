"""Optimizers. State lives in lists that line up with the parameter list; every update is
in place, with Python-float coefficients so float32 arrays stay float32.

    step(params, grads)    params, grads: lists of arrays of the same shapes
"""

import math

import numpy as np

from .._checks import positive
from ..errors import NNRecipeError

try:                                   # the optional compiled kernel (setup.py); same arithmetic
    from . import _fused
except ImportError:                    # pragma: no cover - source checkouts without a build
    _fused = None


class Optimizer:
    default_lr = 0.01

    def __init__(self, lr=None):
        self.lr = float(positive(self.default_lr if lr is None else lr, "lr"))
        self.t = 0
        self.slots = {}          # name -> list of arrays, one per parameter

    def _slot(self, name, params):
        if name not in self.slots:
            self.slots[name] = [np.zeros_like(p) for p in params]
        return self.slots[name]

    def step(self, params, grads):
        raise NotImplementedError

    def check(self, params):
        """Refuse params that this optimizer's state (from earlier steps) does not fit; the
        scratch is no state: it is dropped, and made anew for params by the next step."""
        self.slots.pop("tmp", None)
        shapes = [(p.shape, p.dtype) for p in params]
        for slot in self.slots.values():
            if [(a.shape, a.dtype) for a in slot] != shapes:
                raise NNRecipeError(
                    f"optimizer: this {type(self).__name__} holds state for parameters of shape and dtype "
                    f"{_shown(slot)}, not {_shown(params)}: it goes on only with the network it trained. "
                    "Give fit a new optimizer, or its name (e.g. 'adam'), for another network or dtype")

    def state_dict(self):
        """Step count and every slot (the scratch excepted), for checkpoints."""
        return {"t": self.t, "slots": {k: v for k, v in self.slots.items() if k != "tmp"}}

    def load_state_dict(self, state):
        self.t = int(state["t"])
        self.slots = {k: [np.array(a) for a in v] for k, v in state["slots"].items()}   # scratch anew

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr})"


class GD(Optimizer):
    """Plain gradient descent: W ← W − α·dW."""

    def step(self, params, grads):
        self.t += 1
        for p, g, t in zip(params, grads, self._slot("tmp", params)):
            p -= np.multiply(g, self.lr, out=t)


class Momentum(Optimizer):
    """v ← βv + (1−β)·dW;  W ← W − α·v   (the course's form; β = 0.9).

    Kept as V = v/(1−β), so that V ← βV + dW needs no temporary and W ← W − α(1−β)·V.
    """

    def __init__(self, lr=None, beta=0.9):
        super().__init__(lr)
        self.beta = float(beta)
        if not 0 <= self.beta < 1:
            raise NNRecipeError(f"beta must be in [0, 1); got {beta!r}")

    def step(self, params, grads):
        self.t += 1
        for p, g, v, t in zip(params, grads, self._slot("V", params), self._slot("tmp", params)):
            v *= self.beta
            v += g
            p -= np.multiply(v, self.lr * (1 - self.beta), out=t)


class Adam(Optimizer):
    """Adam with bias correction (β₁ = 0.9, β₂ = 0.999, ε = 1e-8):

        m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
        W ← W − α·m̂ / (√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)

    Kept as M = m/(1−β₁) and V = v/(1−β₂), which turns both averages into `*= β; += g`,
    and the step into W ← W − c·M / (√V + ε/s) with s = √((1−β₂)/(1−β₂ᵗ)) and
    c = α(1−β₁)/((1−β₁ᵗ)·s). Same arithmetic, three fewer passes over the parameters.
    With the compiled kernel (`_fused.adam`) the whole update is one pass, bit-identical.
    """

    default_lr = 0.001

    def __init__(self, lr=None, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        for name, b in (("beta1", self.beta1), ("beta2", self.beta2)):
            if not 0 <= b < 1:
                raise NNRecipeError(f"{name} must be in [0, 1); got {b!r}")

    def step(self, params, grads):
        self.t += 1
        M, V, tmp = self._slot("M", params), self._slot("V", params), self._slot("tmp", params)
        s = math.sqrt((1 - self.beta2) / (1 - self.beta2 ** self.t))
        c = self.lr * (1 - self.beta1) / ((1 - self.beta1 ** self.t) * s)
        for p, g, m, v, t in zip(params, grads, M, V, tmp):
            if _fused is not None and _fusable(p, g):
                _fused.adam(p, g, m, v, self.beta1, self.beta2, c, self.eps / s)
                continue
            m *= self.beta1
            m += g
            v *= self.beta2
            v += np.square(g, out=t)
            np.sqrt(v, out=t)
            t += self.eps / s
            np.divide(m, t, out=t)
            p -= np.multiply(t, c, out=t)


def _shown(arrays):
    return ", ".join(f"{a.shape} {a.dtype}" for a in arrays)


def _fusable(p, g):
    return (p.dtype == g.dtype and p.dtype.kind == "f" and p.dtype.itemsize in (4, 8)
            and p.flags.c_contiguous and g.flags.c_contiguous and p.shape == g.shape)


OPTIMIZERS = {"gd": GD, "momentum": Momentum, "adam": Adam}


def make(optimizer, lr=None):
    """An optimizer from a name ("gd", "momentum", "adam") or an object with step(params, grads)."""
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise NNRecipeError(f"optimizer must be one of {', '.join(OPTIMIZERS)} or an object with "
                                f"step(params, grads); got {optimizer!r}")
        return OPTIMIZERS[optimizer](lr)
    if not callable(getattr(optimizer, "step", None)):
        raise NNRecipeError(f"optimizer must be a name or an object with step(params, grads); got {optimizer!r}")
    if lr is not None:
        raise NNRecipeError("lr must be None when optimizer is an object (set the object's lr)")
    return optimizer
