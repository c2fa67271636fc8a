"""Data augmentation: shape/dtype/identity/determinism properties, known values, bad input."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnrecipe.data.augment import Compose, Crop, Elastic, Flip, Noise, Rotate, Zoom
from nnrecipe.errors import NNRecipeError

ALL = [Flip(), Crop(), Zoom(), Rotate(), Elastic(), Noise()]
STRONG = [Flip(0.5), Crop(2), Zoom(0.3), Rotate(30), Elastic(8.0, 2.0), Noise(0.1), Compose(ALL)]
IDENTITY = [Flip(0), Crop(0), Zoom(0), Rotate(0), Elastic(0, 3.0), Noise(0), Compose([]),
            Compose([Flip(0), Crop(0), Zoom(0.0), Rotate(0.0), Elastic(0.0), Noise(0.0)])]
DTYPES = [np.float32, np.float64, np.uint8]
prop = settings(max_examples=25, deadline=None, derandomize=True)


def batch(seed, shape, dtype):
    g = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return g.integers(0, 256, size=shape).astype(dtype)
    return g.random(shape).astype(dtype)


shapes = st.tuples(st.integers(1, 4), st.integers(1, 10), st.integers(1, 10),
                   st.sampled_from([None, 1, 3])).map(lambda s: s[:3] if s[3] is None else s)


def blob(size=33, width=5.0, n=1):
    """A smooth Gaussian bump centred in a size×size image, repeated n times: (n, size, size)."""
    r = np.arange(size) - (size - 1) / 2
    return np.repeat(np.exp(-(r[:, None] ** 2 + r ** 2) / (2 * width ** 2))[None], n, axis=0)


@prop
@given(shape=shapes, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1),
       aug=st.sampled_from(ALL + STRONG))
def test_shape_dtype_kept_input_untouched_and_seeded(shape, dtype, seed, aug):
    assume(min(shape[1:3]) > 2 or "Crop" not in repr(aug))        # Crop(2) refuses images of 2 pixels or less
    X = batch(seed, shape, dtype)
    before = X.copy()
    out = aug(X, seed)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert out is not X and not np.shares_memory(out, X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(aug(X, np.random.default_rng(seed)), out)


@prop
@given(shape=shapes, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1),
       aug=st.sampled_from(IDENTITY))
def test_zero_strength_is_an_exact_copy(shape, dtype, seed, aug):
    X = batch(seed, shape, dtype)
    out = aug(X, seed)
    np.testing.assert_array_equal(out, X)
    assert out.dtype == X.dtype and not np.shares_memory(out, X)


@prop
@given(seeds=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2, unique=True),
       channels=st.sampled_from([(), (3,)]), aug=st.sampled_from(STRONG))
def test_different_seeds_give_different_output(seeds, channels, aug):
    X = batch(0, (32, 8, 8) + channels, np.float64)
    assert not np.array_equal(aug(X, seeds[0]), aug(X, seeds[1]))


@pytest.mark.parametrize("aug", [Flip(0.5), Crop(2), Zoom(0.3), Rotate(30), Elastic(), Noise(0.1)])
def test_each_image_gets_its_own_draw(aug):
    X = np.repeat(batch(1, (1, 8, 8), np.float64), 16, axis=0)
    out = aug(X, 0)
    assert len({o.tobytes() for o in out}) > 1


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 4, 5, 2)])
def test_flip_p1_reverses_width(shape):
    X = batch(0, shape, np.float32)
    np.testing.assert_array_equal(Flip(p=1)(X, 0), X[:, :, ::-1])


def test_flip_half_flips_some_and_keeps_others():
    X = batch(0, (40, 5, 6), np.float64)
    out = Flip(0.5)(X, 3)
    flipped = np.array([np.array_equal(o, x[:, ::-1]) for o, x in zip(out, X)])
    kept = np.array([np.array_equal(o, x) for o, x in zip(out, X)])
    assert (flipped ^ kept).all() and 0 < flipped.sum() < 40


def shift(x, dr, dc):
    """x[i + dr, j + dc] where in range, 0 elsewhere: for x of shape (H, W) or (H, W, C)."""
    out = np.zeros_like(x)
    H, W = x.shape[:2]
    out[max(0, -dr):H - max(0, dr), max(0, -dc):W - max(0, dc)] = \
        x[max(0, dr):H + min(0, dr), max(0, dc):W + min(0, dc)]
    return out


def test_crop_largest_pad_keeps_part_of_every_image():
    X = np.ones((200, 3, 4))
    out = Crop(pad=2)(X, 0)
    assert out.reshape(200, -1).max(axis=1).min() == 1             # no image shifted wholly out of view


@pytest.mark.parametrize("shape", [(30, 7, 6), (30, 7, 6, 3)])
def test_crop_is_an_integer_shift_of_at_most_pad(shape):
    X = batch(0, shape, np.uint8) | 1                      # no zeros: a shift shows in the border
    out = Crop(pad=2)(X, 0)
    found = set()
    for o, x in zip(out, X):
        matches = [(dr, dc) for dr in range(-2, 3) for dc in range(-2, 3)
                   if np.array_equal(o, shift(x, dr, dc))]
        assert len(matches) == 1
        found.add(matches[0])
    assert len(found) > 5                                  # the offsets do vary


def test_rotate_small_angle_changes_a_smooth_image_little():
    X = blob(n=8)
    out = Rotate(degrees=0.5)(X, 0)
    assert 0 < np.abs(out - X).max() < 0.01


def test_rotate_full_range_changes_an_asymmetric_image():
    X = np.zeros((8, 9, 9))
    X[:, 1:4, 2:7] = 1.0                                   # a bar in the top half
    out = Rotate(degrees=180)(X, 0)
    assert np.abs(out - X).mean(axis=(1, 2)).min() > 0.05
    assert out.min() >= 0 and out.max() <= 1              # bilinear: no overshoot


def test_rotate_keeps_the_centre_of_a_blob():
    out = Rotate(degrees=180)(blob(n=8), 0)
    np.testing.assert_allclose(out[:, 16, 16], 1.0)


def test_zoom_keeps_the_centre_and_changes_the_rest():
    X = blob(n=8)
    out = Zoom(scale=0.3)(X, 0)
    np.testing.assert_allclose(out[:, 16, 16], X[:, 16, 16], atol=1e-12)
    np.testing.assert_allclose(out[:, 15:18, 15:18], X[:, 15:18, 15:18], atol=0.05)
    assert np.abs(out - X).max() > 0.05


def test_zoom_out_brings_in_zero_fill():
    X = np.ones((4, 20, 20))
    out = Zoom(scale=0.5)(X, 1)
    shrunk = out.min(axis=(1, 2)) == 0
    assert shrunk.any() and out.max() <= 1


def test_noise_has_the_requested_std_and_zero_mean():
    X = np.full((64, 32, 32), 0.3)
    d = Noise(std=0.2)(X, 0) - X
    assert abs(d.std() / 0.2 - 1) < 0.05 and abs(d.mean()) < 0.01


def test_noise_on_integers_rounds_and_clips():
    X = np.full((16, 8, 8), 250, np.uint8)
    out = Noise(std=20)(X, 0)
    assert out.dtype == np.uint8
    assert out.max() == 255 and out.min() > 150            # clipped at 255, no wrap-around
    assert 230 < out.mean() < 250
    ints = np.zeros((16, 8, 8), np.int16)
    assert set(np.unique(Noise(std=0.3)(ints, 0))) <= {-2, -1, 0, 1, 2}


def test_elastic_with_large_sigma_keeps_the_mean():
    r, c = np.mgrid[:64, :64]
    X = np.repeat((0.5 + 0.25 * np.sin(c / 3) + 0.25 * np.cos(r / 4))[None], 16, axis=0)
    out = Elastic(alpha=30, sigma=8)(X, 0)
    inner = (slice(None), slice(6, -6), slice(6, -6))      # away from the zero fill
    ratio = out[inner].mean(axis=(1, 2)) / X[inner].mean(axis=(1, 2))
    assert np.abs(ratio - 1).max() < 0.03
    assert np.abs(out - X)[inner].max() > 0.1              # while pixels do move


def test_elastic_small_alpha_is_a_small_change():
    X = blob(n=4)
    out = Elastic(alpha=0.01, sigma=1.0)(X, 0)
    assert 0 < np.abs(out - X).max() < 0.01


def test_compose_applies_in_order_with_one_generator():
    X = batch(0, (6, 8, 8), np.float64)
    g = np.random.default_rng(5)
    expected = Noise(0.1)(Rotate(20)(Flip(1)(X, g), g), g)
    np.testing.assert_array_equal(Compose([Flip(1), Rotate(20), Noise(0.1)])(X, 5), expected)


def test_compose_accepts_any_callable():
    X = batch(0, (2, 4, 4), np.float32)
    np.testing.assert_array_equal(Compose([lambda x, rng: x[:, ::-1]])(X, 0), X[:, ::-1])


def test_repr_shows_the_settings():
    assert repr(Rotate(degrees=10)) == "Rotate(degrees=10)"
    assert repr(Elastic()) == "Elastic(alpha=8.0, sigma=3.0)"
    assert repr(Compose([Flip(1), Crop(3)])) == "Compose([Flip(p=1), Crop(pad=3)])"


X4 = np.zeros((2, 4, 4))


@pytest.mark.parametrize("call, pattern", [
    (lambda: Flip(p=-0.1), r"p must be a probability in \[0, 1\]; got -0.1"),
    (lambda: Flip(p=1.5), r"p must be a probability in \[0, 1\]; got 1.5"),
    (lambda: Flip(p="half"), r"p must be a probability in \[0, 1\]; got 'half'"),
    (lambda: Crop(pad=-1), r"pad must be >= 0; got -1"),
    (lambda: Crop(pad=1.5), r"pad must be an integer ≥ 0; got 1.5"),
    (lambda: Zoom(scale=-0.1), r"scale must be >= 0; got -0.1"),
    (lambda: Zoom(scale=1.0), r"scale must be < 1 \(zoom factors must stay > 0\); got 1.0"),
    (lambda: Rotate(degrees=-5), r"degrees must be >= 0; got -5"),
    (lambda: Rotate(degrees=181), r"degrees must be <= 180; got 181"),
    (lambda: Rotate(degrees=None), r"degrees must be a number ≥ 0; got None"),
    (lambda: Elastic(alpha=-1), r"alpha must be >= 0; got -1"),
    (lambda: Elastic(sigma=-2.0), r"sigma must be >= 0; got -2.0"),
    (lambda: Noise(std=-0.1), r"std must be >= 0; got -0.1"),
    (lambda: Noise(std=float("nan")), r"std must be >= 0; got nan"),
    (lambda: Compose([Flip(), 3]), r"steps\[1\] must be a callable aug\(X, rng\); got 3"),
    (lambda: Compose(5), r"steps must be a list of augmentations; got 5"),
    (lambda: Flip()(np.zeros((4, 4)), 0), r"X must be a batch of images .* got 2-D shape \(4, 4\)"),
    (lambda: Rotate()(np.zeros((1, 2, 3, 4, 5)), 0), r"X must be a batch of images .* got 5-D"),
    (lambda: Crop()(np.full((1, 2, 2), "a"), 0), r"X must be numeric \(integer or float\); got dtype <U1"),
    (lambda: Noise()(X4.astype(bool), 0), r"X must be numeric .* got dtype bool"),
    (lambda: Zoom()(X4.astype(object), 0), r"X must be numeric .* got dtype object"),
    (lambda: Elastic()([[[1, 2]], [[3]]], 0), r"X must be array-like of numbers; got list"),
    (lambda: Compose([Flip()])(np.zeros(3), 0), r"X must be a batch of images .* got 1-D"),
    (lambda: Flip()(X4, "seed"), r"rng must be a numpy.random.Generator or an int seed >= 0; got 'seed'"),
    (lambda: Flip()(X4, None), r"rng must be .*; got None"),
    (lambda: Flip()(X4, -1), r"rng must be .*; got -1"),
    (lambda: Flip()(X4, True), r"rng must be .*; got True"),
    (lambda: Compose([])(X4, 1.5), r"rng must be .*; got 1.5"),
    (lambda: Flip(p=np.float64(2.0)), r"^p must be a probability in \[0, 1\]; got 2.0$"),      # not np.float64(2.0)
    (lambda: Crop(100)(np.ones((2, 8, 8)), 0), r"^pad must be smaller than the images' height and width \(8 × 8\); got 100$"),
    (lambda: Crop(3)(np.ones((2, 3, 9, 3)), 0), r"^pad must be smaller .* \(3 × 9\); got 3$"),
    (lambda: Compose([Crop(5)])(np.ones((2, 9, 5)), 0), r"^pad must be smaller .* \(9 × 5\); got 5$"),
])
def test_bad_input_raises_a_named_error(call, pattern):
    with pytest.raises(NNRecipeError, match=pattern):
        call()
