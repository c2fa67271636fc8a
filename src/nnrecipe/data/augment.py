"""Data augmentation for image batches, applied on the fly to training minibatches.

Every augmentation is a callable: ``aug(X, rng)`` takes a batch ``X`` of shape (N, H, W) or
(N, H, W, C) and returns a NEW array of the same shape and dtype; ``X`` is never modified.
``rng`` is a ``numpy.random.Generator`` or an int seed. Each image draws its own parameters.
A strength of zero (the first setting of each augmentation) returns an exact copy.

Geometry (Crop, Zoom, Rotate, Elastic) fills outside the image with zeros: the background of
digits and OCR, and the mean of standardized data. Zoom, Rotate and Elastic sample bilinearly
(order=1). Integer images are rounded and clipped to their dtype's range.
"""

import numbers

import numpy as np
from scipy import ndimage

from .._checks import positive, shown
from ..errors import NNRecipeError, expect


def _images(X):
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise NNRecipeError(f"X must be array-like of numbers; got {type(X).__name__} ({exc})") from None
    expect(arr.ndim in (3, 4), "X", "a batch of images of shape (N, H, W) or (N, H, W, C)",
           f"{arr.ndim}-D shape {arr.shape}")
    expect(arr.dtype.kind in "iuf", "X", "numeric (integer or float)", f"dtype {arr.dtype}")
    return arr


def _generator(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    ok = isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0
    expect(ok, "rng", "a numpy.random.Generator or an int seed >= 0", shown(rng))
    return np.random.default_rng(rng)


def _cast(out, dtype):
    """float64 result → dtype; integers are rounded, then clipped to the dtype's range."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(dtype)


def _warp(X, rows, cols):
    """Sample every image of X at source coordinates rows, cols (each (N, H, W), in pixels),
    bilinearly, reading 0 outside the image. Returns an array of X's shape and dtype."""
    N, H, W = X.shape[:3]
    C = X.shape[3] if X.ndim == 4 else 1
    # Channels join the batch axis, (N·C, H, W), so one 3-D map_coordinates call does it all;
    # the batch coordinate is an exact integer, so nothing mixes across images.
    img = np.moveaxis(X.reshape(N, H, W, C), 3, 1).reshape(N * C, H, W).astype(np.float64)
    batch = np.broadcast_to(np.arange(N * C)[:, None, None], img.shape)
    coords = [batch, np.repeat(rows, C, axis=0), np.repeat(cols, C, axis=0)]
    out = ndimage.map_coordinates(img, coords, order=1, mode="grid-constant", cval=0.0)
    return _cast(np.moveaxis(out.reshape(N, C, H, W), 1, 3).reshape(X.shape), X.dtype)


def _affine(X, A):
    """Output pixel p of image n reads the input at c + A[n] @ (p − c), c the image centre;
    A is (N, 2, 2) over (row, col)."""
    H, W = X.shape[1:3]
    centre = np.array([(H - 1) / 2, (W - 1) / 2])[:, None, None]
    offset = np.mgrid[:H, :W] - centre                                  # (2, H, W)
    src = np.einsum("nij,jhw->nihw", A, offset) + centre                # (N, 2, H, W)
    return _warp(X, src[:, 0], src[:, 1])


class Augmentation:
    """Base class. Subclasses list their settings in ``_settings`` (the strength first) and
    implement ``_apply(X, rng)`` for a checked X and a Generator."""

    _settings = ()

    def __call__(self, X, rng):
        X, rng = _images(X), _generator(rng)
        if getattr(self, self._settings[0]) == 0:
            return X.copy()
        return self._apply(X, rng)

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._settings)
        return f"{type(self).__name__}({args})"


class Flip(Augmentation):
    """Horizontal flip (the W axis reversed) of each image with probability p."""

    _settings = ("p",)

    def __init__(self, p=0.5):
        ok = isinstance(p, numbers.Real) and not isinstance(p, bool) and 0 <= p <= 1
        expect(ok, "p", "a probability in [0, 1]", shown(p))
        self.p = p

    def _apply(self, X, rng):
        out = X.copy()
        flip = rng.random(len(X)) < self.p
        out[flip] = X[flip, :, ::-1]
        return out


class Crop(Augmentation):
    """Zero-pad by ``pad`` pixels, crop back to H×W at a random offset: each image moves by an
    integer shift in [−pad, pad] along each axis, with zeros coming in. Exact (no interpolation).
    pad must be smaller than the images' height and width."""

    _settings = ("pad",)

    def __init__(self, pad=2):
        self.pad = positive(pad, "pad", integer=True, allow_zero=True)

    def _apply(self, X, rng):
        N, H, W = X.shape[:3]
        p = self.pad
        # a shift of pad ≥ H (or W) pixels can move an image wholly out of view: all zeros
        expect(p < min(H, W), "pad", f"smaller than the images' height and width ({H} × {W})", shown(p))
        padded = np.pad(X, [(0, 0), (p, p), (p, p)] + [(0, 0)] * (X.ndim - 3))
        top, left = rng.integers(0, 2 * p + 1, size=(2, N))[..., None, None]  # each (N, 1, 1)
        # out[n, i, j] = padded[n, top + i, left + j] = X[n, i + top − p, j + left − p]
        return padded[np.arange(N)[:, None, None], top + np.arange(H)[:, None], left + np.arange(W)]


class Zoom(Augmentation):
    """Zoom by a factor z ~ U[1 − scale, 1 + scale] about the centre (z > 1 magnifies)."""

    _settings = ("scale",)

    def __init__(self, scale=0.1):
        positive(scale, "scale", allow_zero=True)
        expect(scale < 1, "scale", "< 1 (zoom factors must stay > 0)", shown(scale))
        self.scale = scale

    def _apply(self, X, rng):
        z = 1 + rng.uniform(-self.scale, self.scale, len(X))
        return _affine(X, np.eye(2) / z[:, None, None])     # output offset d reads input at d / z


class Rotate(Augmentation):
    """Rotate by an angle θ ~ U[−degrees, degrees] about the centre."""

    _settings = ("degrees",)

    def __init__(self, degrees=10):
        positive(degrees, "degrees", allow_zero=True)
        expect(degrees <= 180, "degrees", "<= 180", shown(degrees))
        self.degrees = degrees

    def _apply(self, X, rng):
        t = np.deg2rad(rng.uniform(-self.degrees, self.degrees, len(X)))
        c, s = np.cos(t), np.sin(t)
        return _affine(X, np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], 1))


class Elastic(Augmentation):
    """Elastic distortion (Simard, Steinkraus & Platt, 2003): per image a displacement field
    U[−1, 1] per pixel and axis, smoothed by a Gaussian of std ``sigma`` pixels and scaled by
    ``alpha`` pixels. Small sigma: noise-like; large sigma: near-affine. Good for digits/OCR."""

    _settings = ("alpha", "sigma")

    def __init__(self, alpha=8.0, sigma=3.0):
        self.alpha = positive(alpha, "alpha", allow_zero=True)
        self.sigma = positive(sigma, "sigma", allow_zero=True)

    def _apply(self, X, rng):
        N, H, W = X.shape[:3]
        field = rng.uniform(-1, 1, size=(2, N, H, W))                     # (d_row, d_col)
        field = self.alpha * ndimage.gaussian_filter(field, (0, 0, self.sigma, self.sigma))
        rows, cols = np.mgrid[:H, :W]
        return _warp(X, rows + field[0], cols + field[1])


class Noise(Augmentation):
    """Additive Gaussian noise N(0, std²), in the data's units."""

    _settings = ("std",)

    def __init__(self, std=0.05):
        self.std = positive(std, "std", allow_zero=True)

    def _apply(self, X, rng):
        return _cast(X + self.std * rng.standard_normal(X.shape), X.dtype)


class Compose:
    """Apply augmentations in order, all drawing from the same Generator: ``Compose([a, b])(X, rng)``
    is ``b(a(X, rng), rng)``. Any callable ``f(X, rng)`` may take part."""

    def __init__(self, steps):
        try:
            self.steps = list(steps)
        except TypeError:
            raise NNRecipeError(f"steps must be a list of augmentations; got {steps!r}") from None
        for i, step in enumerate(self.steps):
            expect(callable(step), f"steps[{i}]", "a callable aug(X, rng)", repr(step))

    def __call__(self, X, rng):
        out, rng = _images(X).copy(), _generator(rng)
        for step in self.steps:
            out = step(out, rng)
        return out

    def __repr__(self):
        return f"Compose({self.steps!r})"
