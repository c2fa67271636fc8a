"""Model files: exact round trip, atomic writes, and bad files that raise without running code."""

import errno
import json
import os
import pickle

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.engine import serialize


@pytest.fixture
def trained(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 3)) * 5 + 2, rng.integers(0, 3, 80)
    net = nr.mlp([3, 6, 4, 3], hidden="tanh", output="softmax", l2=0.2, l1=0.01, keep_prob=[0.9, 1.0], seed=4)
    net.normalizer = nr.Standardizer().fit(X)
    nr.fit(net, X, y, epochs=5, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    net.save(path)
    return net, X, path


def test_round_trip_is_exact(trained):
    net, X, path = trained
    back = nr.load(path)
    assert back.config() == net.config()
    for name, p in net.params.items():
        assert back.params[name].dtype == p.dtype
        np.testing.assert_array_equal(back.params[name], p)
    np.testing.assert_array_equal(back.normalizer.mean_, net.normalizer.mean_)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in net.layers]
    assert back.layers[1].keep_prob == 0.9


def test_float64_round_trip(tmp_path):
    net = nr.mlp([2, 3, 1], dtype="float64", seed=1)
    net.save(tmp_path / "m.npz")
    back = nr.load(tmp_path / "m.npz")
    assert back.dtype == np.float64 and back.normalizer is None
    np.testing.assert_array_equal(back.theta, net.theta)


def test_custom_layers_cannot_be_saved(tmp_path):
    class Identity(nr.Layer):
        def forward(self, x, training):
            return x

        def backward(self, dy):
            return dy
    net = nr.Network([Identity(), nr.Dense(1, "sigmoid")], input_dim=2)
    with pytest.raises(nr.NNRecipeError, match="layer 0 \\(Identity\\) cannot be saved"):
        net.save(tmp_path / "m.npz")


def test_failed_write_leaves_the_old_file(trained, monkeypatch):
    net, _, path = trained
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(nr.NNRecipeError, match=r"^path must be a writable file; .*\(disk full\)$"):
        net.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]          # no temporary left


def test_missing_file(tmp_path):
    with pytest.raises(nr.NNRecipeError, match="existing file"):
        nr.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "flipped"])
def test_damaged_files_raise(trained, damage):
    _, _, path = trained
    data = path.read_bytes()
    damaged = {"garbage": bytes(range(256)) * 10, "truncated": data[: len(data) // 2], "empty": b"",
               "flipped": data[:200] + bytes(b ^ 0xFF for b in data[200:400]) + data[400:]}[damage]
    path.write_bytes(damaged)
    with pytest.raises(nr.NNRecipeError):
        nr.load(path)


class Payload:
    """Unpickling this would create a file: proof that code ran."""
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickle_payloads_never_run(tmp_path):
    marker = tmp_path / "pwned"
    # 1. a raw pickle instead of a zip archive
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Payload(str(marker))))
    # 2. an npz whose arrays are pickled objects
    hostile = tmp_path / "hostile.npz"
    obj = np.empty(1, dtype=object)
    obj[0] = Payload(str(marker))
    np.savez(hostile, __meta__=np.frombuffer(b'{"format": "nnrecipe-model", "version": 1}', np.uint8),
             **{"param.W1": obj})
    # 3. metadata that names a callable as a layer type
    evil_meta = tmp_path / "meta.npz"
    meta = {"format": "nnrecipe-model", "version": 1,
            "network": {"layers": [{"type": "os.system", "units": 1}], "input_dim": 1, "l2": 0, "l1": 0,
                        "dtype": "float32"}}
    np.savez(evil_meta, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    for path in (raw, hostile, evil_meta):
        with pytest.raises(nr.NNRecipeError):
            nr.load(path)
    assert not marker.exists()


def write_with_meta(path, meta, arrays=None):
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **(arrays or {}))


@pytest.mark.parametrize("edit, message", [
    (lambda m, a: m.update(format="something-else"), "format"),
    (lambda m, a: m.update(version=99), "version"),
    (lambda m, a: m["network"]["layers"][0].update(units="many"), "units"),
    (lambda m, a: m["network"]["layers"][0].update(extra=1), "malformed"),
    (lambda m, a: m["network"].pop("input_dim"), "malformed"),
    (lambda m, a: a.update({"param.W1": np.zeros((9, 9), np.float32)}), "W1"),
    (lambda m, a: a.pop("param.b2"), "b2"),
    (lambda m, a: a.update({"param.W2": np.full((4, 1), np.nan, np.float32)}), "finite"),
    (lambda m, a: a.update({"param.W2": np.zeros((4, 1), np.float64)}), "W2"),
    (lambda m, a: m.update(normalizer={"type": "Evil"}), "normalizer"),
])
def test_malformed_contents_raise(tmp_path, edit, message):
    net = nr.mlp([3, 4, 1], seed=0)
    net.save(tmp_path / "good.npz")
    arrays, meta = serialize.read_archive(tmp_path / "good.npz")
    edit(meta, arrays)
    write_with_meta(tmp_path / "bad.npz", meta, arrays)
    with pytest.raises(nr.NNRecipeError, match=message):
        nr.load(tmp_path / "bad.npz")


def test_metadata_must_be_an_object(tmp_path):
    np.savez(tmp_path / "m.npz", __meta__=np.frombuffer(b"[1, 2]", np.uint8))
    with pytest.raises(nr.NNRecipeError, match="not an object"):
        nr.load(tmp_path / "m.npz")


def test_claimed_size_limit(tmp_path, monkeypatch):
    net = nr.mlp([3, 4, 1], seed=0)
    net.save(tmp_path / "m.npz")
    monkeypatch.setattr(serialize, "MAX_BYTES", 100)
    with pytest.raises(nr.NNRecipeError, match="refusing"):
        nr.load(tmp_path / "m.npz")


def test_a_pickled_network_trains_its_live_weights():
    import pickle

    import nnrecipe as nr
    from nnrecipe.datasets import football
    X, y, _, _ = football()
    net = nr.mlp([2, 8, 1], seed=0)
    nr.fit(net, X, y, epochs=5, verbose=0)
    back = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(back.theta, net.theta)
    assert np.shares_memory(back.params["W1"], back.theta)            # the views are rebuilt
    before = back.predict_proba(X).copy()
    nr.fit(back, X, y, epochs=20, verbose=0)
    assert not np.array_equal(back.predict_proba(X), before)
    assert len(pickle.dumps(net)) < 2 * net.theta.nbytes + 20_000     # each array stored once


# ---- paths (audit #9, #10) ---------------------------------------------------------------------
def small_net():
    return nr.mlp([3, 4, 1], seed=0)


@pytest.mark.parametrize("where, expected", [
    (lambda tmp: tmp / "no_such_folder" / "m.npz", "a file in an existing folder"),
    (lambda tmp: tmp, "a file, not a folder"),
    (lambda tmp: 5, "a file path"), (lambda tmp: None, "a file path"), (lambda tmp: "", "a file path")])
def test_save_refuses_a_bad_path_before_writing(tmp_path, where, expected):
    with pytest.raises(nr.NNRecipeError, match=rf"^path must be {expected}") as info:
        small_net().save(where(tmp_path))
    assert ".tmp" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [None, 5, "", b"m.npz"])
def test_load_refuses_what_is_not_a_path(path):
    with pytest.raises(nr.NNRecipeError, match=r"^path must be a file path"):
        nr.load(path)


def test_a_failed_rename_names_the_path_not_the_temporary(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(src), str(dst))
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(nr.NNRecipeError, match=r"^path must be a writable file; .*m\.npz' failed "
                                               r"\(Permission denied\)$") as info:
        small_net().save(tmp_path / "m.npz")
    assert ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []                                   # no temporary left


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        small_net().save(tmp_path / "m.npz")
        nr.write_data(tmp_path / "d.csv", np.zeros((2, 2)), np.array([0, 1]))
    finally:
        os.umask(old)
    for name in ("m.npz", "d.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("output, units, classes", [("softmax", 3, ["cat", "dog", "eel"]), ("sigmoid", 1, [3, 7])])
def test_classes_and_features_round_trip_and_predict_gives_labels(tmp_path, output, units, classes):
    net = nr.mlp([2, 4, units], output=output, seed=0)
    X = np.random.default_rng(0).standard_normal((20, 2))
    index = net.predict(X)                                    # no classes: 0, 1, ...
    net.classes, net.features = np.array(classes), ["height", "weight"]
    np.testing.assert_array_equal(net.predict(X), np.array(classes)[index])
    net.save(tmp_path / "m.npz")
    back = nr.load(tmp_path / "m.npz")
    assert back.features == ["height", "weight"] and back.classes.tolist() == classes
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


@pytest.mark.parametrize("attr, value, match", [("classes", ["a", "b", "c"], "classes must be one number or string per class \\(2"),
                                                ("classes", [["a"], ["b"]], "classes must"),
                                                ("features", ["x"], "features must be 2 column names"),
                                                ("features", [1, 2], "features must")])
def test_bad_classes_or_features_refuse_to_save(tmp_path, attr, value, match):
    net = nr.mlp([2, 1], seed=0)
    setattr(net, attr, value)
    with pytest.raises(nr.NNRecipeError, match=match):
        net.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_tampered_classes_raise_on_load(tmp_path):
    nr.mlp([2, 1], seed=0).save(tmp_path / "m.npz")
    arrays, meta = serialize.read_archive(tmp_path / "m.npz")
    serialize.write_archive(tmp_path / "m.npz", arrays, meta | {"classes": ["a", "b", "c"]})
    with pytest.raises(nr.NNRecipeError, match="classes must"):
        nr.load(tmp_path / "m.npz")
