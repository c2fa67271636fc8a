"""nr.fit(..., augment=...): applied afresh to training batches only, from its own stream."""

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.data import augment as A


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    X = rng.random((60, 6, 6)).astype(np.float32)
    y = (X[:, :3].mean((1, 2)) > X[:, 3:].mean((1, 2))).astype(int)
    return X, y


def _net():
    return nr.mlp([36, 8, 1], seed=1)


def test_zero_strength_augmentation_trains_exactly_like_none(images):
    X, y = images
    a, b = _net(), _net()
    nr.fit(a, X.reshape(60, -1), y, epochs=3, batch_size=16, verbose=0)
    nr.fit(b, X, y, epochs=3, batch_size=16, verbose=0, augment=A.Compose([A.Flip(0), A.Noise(0)]))
    np.testing.assert_array_equal(a.theta, b.theta)


def test_augment_sees_each_training_batch_as_images_and_never_dev(images):
    X, y = images
    seen = []

    def record(batch, rng):
        assert isinstance(rng, np.random.Generator)
        seen.append(batch.shape)
        return batch

    nr.fit(_net(), X, y, dev=(X[:10], y[:10]), epochs=2, batch_size=25, verbose=0, augment=record)
    assert seen == [(25, 6, 6), (25, 6, 6), (10, 6, 6)] * 2


def test_augmentation_changes_training_but_is_seeded(images):
    X, y = images
    runs = []
    for seed in (0, 0, 1):
        net = _net()
        nr.fit(net, X, y, epochs=2, batch_size=16, verbose=0, seed=seed, augment=A.Noise(0.3))
        runs.append(net.theta.copy())
    plain = _net()
    nr.fit(plain, X.reshape(60, -1), y, epochs=2, batch_size=16, verbose=0)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2]) and not np.array_equal(runs[0], plain.theta)


def test_caller_images_are_not_modified(images):
    X, y = images
    before = X.copy()
    nr.fit(_net(), X, y, epochs=1, verbose=0, augment=A.Compose([A.Noise(0.5), A.Rotate(30)]))
    np.testing.assert_array_equal(X, before)


def test_augment_must_be_callable(images):
    X, y = images
    with pytest.raises(nr.NNRecipeError, match="augment must be a callable"):
        nr.fit(_net(), X, y, epochs=1, verbose=0, augment="flip")


def test_resume_with_augmentation_matches_an_uninterrupted_run(images, tmp_path):
    X, y = images
    aug = A.Noise(0.2)
    full = _net()
    nr.fit(full, X, y, epochs=4, batch_size=16, verbose=0, augment=aug)

    class StopAt2(nr.Callback):
        def on_epoch_end(self, run, logs):
            run.stop_training = run.epoch == 1

    part, path = _net(), tmp_path / "ck.npz"
    nr.fit(part, X, y, epochs=4, batch_size=16, verbose=0, augment=aug,
           callbacks=[nr.Checkpoint(path, every=1), StopAt2()])
    resumed = _net()
    nr.fit(resumed, X, y, epochs=4, batch_size=16, verbose=0, augment=aug,
           callbacks=[nr.Checkpoint(tmp_path / "ck2.npz", every=1), StopAt2()], resume=path)
    np.testing.assert_array_equal(resumed.theta, full.theta)
