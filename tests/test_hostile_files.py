"""Hostile model files and tables (issue 14).

Every hostile input is built here, at test time (no binary fixture), and must end in the package's
own error, NNRecipeError, with a message that names the problem. The model files are all loaded
in one child process whose address space is capped at 1 GiB above what it holds once imported: a
case that tried to allocate more would show up as MemoryError, not pass unnoticed.
"""

import copy
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.data import io as data_io
from nnrecipe.data.io import read_arrow
from nnrecipe.data.tables import TablePreprocessor
from nnrecipe.engine import serialize

# ---------------------------------------------------------------- building blocks

def npy(array):
    """The bytes of np.save(array): a well-formed .npy member."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def npy_raw(header, payload=b"", version=(1, 0)):
    """A .npy member with any header text (a dict written as repr, or raw text) and payload: what a
    hostile writer can put in a file, whether NumPy's writer would allow it or not."""
    text = header if isinstance(header, str) else repr(header)
    size = 4 if version[0] >= 2 else 2
    pad = -(6 + 2 + size + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin1")
    length = struct.pack("<I" if size == 4 else "<H", len(body))
    return b"\x93NUMPY" + bytes(version) + length + body + payload


def zip_file(path, members, compression=zipfile.ZIP_STORED):
    """path holding the (name, bytes) members, in order (a name may repeat)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                         # zipfile warns on a repeated name
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def meta_bytes(meta):
    return npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _base_model(tmp):
    """(meta, arrays) of a small sigmoid network with a normalizer, classes and feature names."""
    net = nr.mlp([3, 4, 1], seed=0)
    net.normalizer = nr.Standardizer().fit(np.random.default_rng(0).normal(size=(20, 3)))
    net.classes, net.features = np.array([0, 1]), ["a", "b", "c"]
    net.save(tmp / "base.npz")
    arrays, meta = serialize.read_archive(tmp / "base.npz")
    return meta, arrays


def _base_table_model(tmp):
    """(meta, arrays) of a version-2 model, with a table preprocessor."""
    pre = TablePreprocessor().fit({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 2.0], "c": [5.0, 1.0, 2.0, 3.0]})
    net = nr.mlp([3, 4, 1], seed=0)
    net.preprocessor = pre
    net.save(tmp / "base2.npz")
    arrays, meta = serialize.read_archive(tmp / "base2.npz")
    return meta, arrays


def model(meta_edit=None, arrays_edit=None, table=False):
    """A builder: the base model with its metadata and arrays edited in place, then written."""
    def build(tmp, path):
        meta, arrays = copy.deepcopy(BASES[tmp][1 if table else 0])
        if meta_edit:
            meta_edit(meta)
        if arrays_edit:
            arrays_edit(arrays)
        members = [("__meta__.npy", meta_bytes(meta))] + [(f"{k}.npy", npy(v)) for k, v in arrays.items()]
        return zip_file(path, members)
    return build


def members(*extra, meta=True):
    """A builder: the base metadata (unless meta=False) and the given (name, bytes) members only."""
    def build(tmp, path):
        head = [("__meta__.npy", meta_bytes(BASES[tmp][0][0]))] if meta else []
        return zip_file(path, head + list(extra))
    return build


def raw(data):
    """A builder: a file holding exactly these bytes."""
    def build(tmp, path):
        path.write_bytes(data(tmp) if callable(data) else data)
        return path
    return build


def with_meta(data):
    """A builder: an archive whose metadata member holds these bytes (a .npy member of them)."""
    return members(("__meta__.npy", data), meta=False)


def good_bytes(tmp):
    return (tmp / "base.npz").read_bytes()


def patched(edit):
    """A builder: the base model file's bytes, changed by edit(bytes) -> bytes."""
    return raw(lambda tmp: edit(good_bytes(tmp)))


def _headers(data, signature, field, value, size=2):
    """data with `field` (byte offset) of every zip header with `signature` set to value."""
    out, at = bytearray(data), data.find(signature)
    while at >= 0:
        out[at + field:at + field + size] = value.to_bytes(size, "little")
        at = data.find(signature, at + 4)
    return bytes(out)


def _lying_size(tmp, path, both=False):
    """A member whose central-directory size (and compressed size too, if both) and .npy header
    claim 3 GiB it does not hold."""
    header = npy_raw({"descr": "<f8", "fortran_order": False, "shape": ((3 << 30) // 8,)})
    zip_file(path, [("__meta__.npy", meta_bytes(BASES[tmp][0][0])), ("param.W1.npy", header + b"\x00" * 64)])
    data, name = path.read_bytes(), b"param.W1.npy"
    at = data.find(name, data.find(name) + 1) - 46                  # W1's central directory entry
    fake = len(header) + (3 << 30) // 8 * 8
    sizes = struct.pack("<II", fake, fake) if both else data[at + 20:at + 24] + struct.pack("<I", fake)
    path.write_bytes(data[:at + 20] + sizes + data[at + 28:])
    return path


def _flip_crc(tmp, path):
    """The base model with the last byte of W1's stored data changed: its CRC no longer matches."""
    data = good_bytes(tmp)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("param.W1.npy")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    at = info.header_offset + 30 + name_length + extra_length + info.file_size - 1
    path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:])
    return path


def _huge_meta(tmp, path):
    blob = np.frombuffer(b" " * (serialize.MAX_META_BYTES + 1) + b"{}", np.uint8)
    return zip_file(path, [("__meta__.npy", npy(blob))], zipfile.ZIP_DEFLATED)


def _net(key, value):
    return lambda m: m["network"].update({key: value})


def _layer(i, **settings):
    return lambda m: m["network"]["layers"][i].update(settings)


def _array(name, value):
    return lambda a: a.update({name: value})


F8 = {"descr": "<f8", "fortran_order": False}
READ = "is not a readable nnrecipe file"
MALFORMED = "model metadata is malformed"

MODEL_CASES = [
    # -- not an archive, or a damaged one
    ("empty file", raw(b""), READ),
    ("text", raw(b"this is not a model\n" * 10), READ),
    ("random bytes", raw(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))), READ),
    ("a PNG", raw(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4), READ),
    ("a raw pickle", raw(b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."),
     READ),
    ("a single .npy", raw(npy(np.ones(3))), READ),
    ("truncated to half", patched(lambda d: d[:len(d) // 2]), READ),
    ("truncated to 100 bytes", patched(lambda d: d[:100]), READ),
    ("central directory cut", patched(lambda d: d[:-10]), READ),
    ("zip magic only", raw(b"PK\x03\x04" + b"\x00" * 200), READ),
    ("bad CRC", _flip_crc, "Bad CRC"),
    ("unknown compression", patched(lambda d: _headers(_headers(d, b"PK\x03\x04", 8, 99), b"PK\x01\x02", 10, 99)),
     "compression"),
    ("encrypted member", patched(lambda d: _headers(_headers(d, b"PK\x03\x04", 6, 1), b"PK\x01\x02", 8, 1)),
     "encrypted"),
    # -- members
    ("empty archive", members(meta=False), "no __meta__ member"),
    ("no metadata", members(("param.W1.npy", npy(np.ones((3, 4), np.float32))), meta=False), "no __meta__ member"),
    ("a member that is not .npy", members(("evil.pkl", b"cos\nsystem\n")), "'evil.pkl' is not a .npy array"),
    ("a folder member", members(("param/", b"")), "'param/' is not a .npy array"),
    ("a member twice", members(("param.W1.npy", npy(np.ones(2))), ("param.W1.npy", npy(np.ones(2)))),
     "occurs twice"),
    ("an extra array", model(arrays_edit=_array("evil", np.ones(3))), "also 'evil'"),
    ("an extra parameter", model(arrays_edit=_array("param.W9", np.ones(3, np.float32))), "also 'param.W9'"),
    # -- .npy headers that lie or hide objects
    ("shape (10**12,)", members(("param.W1.npy", npy_raw({**F8, "shape": (10 ** 12,)}))),
     r"claims shape \(1000000000000,\) .*but holds 0"),
    ("shape (2*10**9,) float32", members(("param.W1.npy", npy_raw({"descr": "<f4", "fortran_order": False,
                                                                   "shape": (2 * 10 ** 9,)}, b"\x00" * 16))),
     r"claims shape \(2000000000,\)"),
    ("shape (2**40, 2**40)", members(("param.W1.npy", npy_raw({**F8, "shape": (2 ** 40, 2 ** 40)}))), "claims shape"),
    ("fortran shape claim", members(("param.W1.npy", npy_raw({"descr": "<f4", "fortran_order": True,
                                                             "shape": (100000, 100000)}, b"\x00" * 64))),
     "claims shape"),
    ("negative shape", members(("param.W1.npy", npy_raw({**F8, "shape": (-1,)}))), "negative shape"),
    ("fewer bytes than claimed", members(("param.W1.npy", npy_raw({**F8, "shape": (100,)}, b"\x00" * 80))),
     r"800 bytes, but holds 80"),
    ("more bytes than claimed", members(("param.W1.npy", npy_raw({**F8, "shape": (2,)}, b"\x00" * 800))),
     r"16 bytes, but holds 800"),
    ("central size lies (3 GiB)", _lying_size, f"truncated|Bad CRC|{READ}"),
    ("central sizes both lie (3 GiB)", lambda tmp, path: _lying_size(tmp, path, both=True), "truncated"),
    ("object dtype", members(("param.W1.npy", npy_raw({"descr": "|O", "fortran_order": False, "shape": (2,)},
                                                     b"\x00" * 16))), "'|O'.*without pickle"),
    ("structured dtype", members(("param.W1.npy", npy_raw({"descr": [("a", "|O")], "fortran_order": False,
                                                         "shape": (1,)}, b"\x00" * 8))), "without pickle"),
    ("void dtype", members(("param.W1.npy", npy_raw({"descr": "|V8", "fortran_order": False, "shape": (1,)},
                                                   b"\x00" * 8))), "'|V8'"),
    ("zero-size dtype", members(("param.W1.npy", npy_raw({"descr": "|S0", "fortran_order": False,
                                                         "shape": (10 ** 12,)}))), "'|S0'"),
    ("datetime dtype", members(("param.W1.npy", npy_raw({"descr": "<M8[s]", "fortran_order": False,
                                                        "shape": (1,)}, b"\x00" * 8))), "'<M8\\[s\\]'"),
    ("unknown dtype string", members(("param.W1.npy", npy_raw({"descr": "xyz", "fortran_order": False,
                                                              "shape": (1,)}))), READ),
    ("header not a dict", members(("param.W1.npy", npy_raw("[1, 2, 3]"))), READ),
    ("header with code", members(("param.W1.npy", npy_raw("__import__('os').system('touch pwned')"))), READ),
    ("fortran_order not a bool", members(("param.W1.npy", npy_raw({"descr": "<f8", "fortran_order": "yes",
                                                                  "shape": (1,)}, b"\x00" * 8))), READ),
    ("npy magic wrong", members(("param.W1.npy", b"\x93NUMPX\x01\x00" + b"\x00" * 100)), READ),
    ("npy version 3.0", members(("param.W1.npy", npy_raw({**F8, "shape": (1,)}, b"\x00" * 8, (3, 0)))),
     r"format version \(3, 0\)"),
    ("npy version 9.9", members(("param.W1.npy", b"\x93NUMPY\x09\x09" + b"\x00" * 100)), READ),
    ("npy header of 4 GiB", members(("param.W1.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\xff{")), READ),
    # -- metadata member
    ("metadata nested [ x 200000", with_meta(npy(np.frombuffer(b"[" * 200_000, np.uint8))),
     "nests 200000 levels deep"),
    ("metadata nested objects", with_meta(npy(np.frombuffer(b'{"a":' * 100 + b"1" + b"}" * 100, np.uint8))),
     "nests 100 levels deep"),
    ("metadata larger than the cap", _huge_meta, "at most 67,108,864 expected"),
    ("metadata a JSON list", with_meta(npy(np.frombuffer(b"[1, 2]", np.uint8))), "not an object"),
    ("metadata a JSON string", with_meta(npy(np.frombuffer(b'"model"', np.uint8))), "not an object"),
    ("metadata not JSON", with_meta(npy(np.frombuffer(b"{format: model", np.uint8))), "not JSON text"),
    ("metadata not UTF-8", with_meta(npy(np.frombuffer(b'{"a": "\xff\xfe"}', np.uint8))), "not JSON text"),
    ("metadata with a 5000-digit number", with_meta(npy(np.frombuffer(b'{"a": ' + b"9" * 5000 + b"}", np.uint8))),
     "not JSON text"),
    ("metadata as float64", with_meta(npy(np.zeros(4))), "metadata must be bytes"),
    ("metadata 2-D", with_meta(npy(np.zeros((2, 2), np.uint8))), "metadata must be bytes"),
    # -- metadata fields
    ("format wrong", model(lambda m: m.update(format="other")), "must be an nnrecipe model file"),
    ("format missing", model(lambda m: m.pop("format")), "must be an nnrecipe model file"),
    ("version 99", model(lambda m: m.update(version=99)), "version 99"),
    ("version true", model(lambda m: m.update(version=True)), "version True"),
    ("version as text", model(lambda m: m.update(version="1")), "version '1'"),
    ("network missing", model(lambda m: m.pop("network")), "network must be an object; got None"),
    ("network a list", model(lambda m: m.update(network=[1, 2])), "network must be an object"),
    ('"layers": "abc"', model(_net("layers", "abc")), "network.layers must be a list .*; got 'abc'"),
    ("no layers", model(_net("layers", [])), "network.layers must be a list"),
    ("2000 layers", model(_net("layers", [{"type": "Dropout", "keep_prob": 0.5}] * 2000)),
     "network.layers must be a list of 1 to 1000 layers"),
    ("a layer not an object", model(lambda m: m["network"]["layers"].insert(0, 5)),
     r"network.layers\[0\] must be an object"),
    ("layer type os.system", model(_layer(0, type="os.system")), r"layers\[0\].type must be one of"),
    ("layer type a list", model(_layer(0, type=["Dense"])), r"layers\[0\].type must be one of"),
    ("units = 10**12", model(_layer(0, units=10 ** 12)), r"layers\[0\].units must be small enough"),
    ("input_dim = units = 100000", model(lambda m: (_net("input_dim", 100_000)(m), _layer(0, units=100_000)(m))),
     r"layers\[0\].units must be small enough .*100,000 inputs"),
    ("units negative", model(_layer(0, units=-3)), r"units must be an integer ≥ 1; got -3"),
    ("units a fraction", model(_layer(0, units=2.5)), r"units must be an integer ≥ 1; got 2.5"),
    ("units true", model(_layer(0, units=True)), r"units must be an integer ≥ 1; got True"),
    ("units text", model(_layer(0, units="many")), r"units must be an integer ≥ 1; got 'many'"),
    ("input_dim text", model(_net("input_dim", "3")), "network.input_dim must be an integer ≥ 1"),
    ("input_dim zero", model(_net("input_dim", 0)), "network.input_dim must be an integer ≥ 1"),
    ("an unknown layer setting", model(_layer(0, command="rm -rf /")),
     "settings of a Dense layer.*; got \\['command'\\]"),
    ("an unknown activation", model(_layer(0, activation="rm -rf")), f"{MALFORMED}: activation must be one of"),
    ("an unknown init", model(_layer(0, init={"a": 1})), f"{MALFORMED}: init must be one of"),
    ("dtype object", model(_net("dtype", "object")), "network.dtype must be 'float32' or 'float64'"),
    ("dtype a structure", model(_net("dtype", {"names": ["a"], "formats": ["f8"]})), "network.dtype must be"),
    ("l2 text", model(_net("l2", "abc")), "network.l2 must be a number ≥ 0; got 'abc'"),
    ("l2 negative", model(_net("l2", -1)), f"{MALFORMED}: l2 must be >= 0"),
    ("l1 missing", model(lambda m: m["network"].pop("l1")), "network.l1 must be a number ≥ 0; got None"),
    ("seed negative", model(_net("seed", -1)), f"{MALFORMED}: seed must be"),
    ("output layer relu", model(_layer(-1, activation="relu")), "must end with a Dense layer"),
    # -- parameters against the metadata
    ("W1 of another shape", model(arrays_edit=_array("param.W1", np.zeros((9, 9), np.float32))),
     r"parameter W1 must be finite float32 \(3, 4\); got float32 \(9, 9\)"),
    ("W1 missing", model(arrays_edit=lambda a: a.pop("param.W1")), "parameter W1 .*got missing"),
    ("W1 float64", model(arrays_edit=_array("param.W1", np.zeros((3, 4)))), "parameter W1 .*got float64"),
    ("W1 integers", model(arrays_edit=_array("param.W1", np.zeros((3, 4), np.int32))), "parameter W1 .*got int32"),
    ("W1 big-endian", model(arrays_edit=_array("param.W1", np.zeros((3, 4), ">f4"))), "parameter W1 .*got >f4"),
    ("W1 text", model(arrays_edit=_array("param.W1", np.full((3, 4), "x"))), "parameter W1 .*got <U1"),
    ("NaN in W1", model(arrays_edit=_array("param.W1", np.full((3, 4), np.nan, np.float32))),
     "parameter W1 .*NaN or infinite"),
    ("inf in b2", model(arrays_edit=_array("param.b2", np.full(1, np.inf, np.float32))),
     "parameter b2 .*NaN or infinite"),
    # -- normalizer, classes, features, preprocessor
    ("normalizer type Evil", model(lambda m: m.update(normalizer={"type": "Evil"})), "normalizer type must be one of"),
    ("normalizer a string", model(lambda m: m.update(normalizer="Standardizer")),
     "normalizer must be an object .*; got 'Standardizer'"),
    ("normalizer mean of another shape", model(arrays_edit=_array("normalizer.mean", np.zeros(7))),
     "normalizer statistics must be finite arrays of shape \\(3,\\)"),
    ("normalizer negative variance", model(arrays_edit=_array("normalizer.var", -np.ones(3))), "var ≥ 0"),
    ("normalizer mean missing", model(arrays_edit=lambda a: a.pop("normalizer.mean")), "normalizer statistics"),
    ("classes ragged", model(lambda m: m.update(classes=[[1], [2, 3]])), "classes must be a list of numbers"),
    ("classes text", model(lambda m: m.update(classes="abc")), "classes must be a list of numbers"),
    ("three classes for a sigmoid", model(lambda m: m.update(classes=["a", "b", "c"])),
     r"classes must be one number or string per class \(2"),
    ("features an object", model(lambda m: m.update(features={"a": 1})), "features must be a list of column names"),
    ("features numbers", model(lambda m: m.update(features=[1, 2, 3])), "features must be 3 column names"),
    ("preprocessor type os.system", model(lambda m: m["preprocessor"].update(type="os.system"), table=True),
     "preprocessor type must be one of"),
    ("preprocessor state None", model(lambda m: m["preprocessor"].update(state=None), table=True),
     "preprocessor state is malformed"),
    ("preprocessor columns text", model(lambda m: m["preprocessor"]["state"].update(columns="abc"), table=True),
     "preprocessor state is malformed"),
]

BASES = {}          # tmp folder -> (base meta and arrays, with a preprocessor)
CHILD = r"""
import json, resource, sys
import numpy as np
import pyarrow, pyarrow.csv, sklearn.impute, sklearn.preprocessing
import nnrecipe as nr
import nnrecipe.data.tables

def address_space():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

limit = address_space() + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
results = {}
for path in sys.argv[1:]:
    try:
        if path == "canary":
            np.ones(1 << 28)                     # 2 GiB: must fail under the limit
        else:
            nr.load(path)
        results[path] = ["loaded", ""]
    except nr.NNRecipeError as exc:
        results[path] = ["NNRecipeError", str(exc)]
    except BaseException as exc:
        results[path] = [type(exc).__name__, str(exc)[:500]]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """{case name: (error class name, message)} of nr.load on every MODEL_CASES file, run in one
    child process limited to 1 GiB of address space above its baseline."""
    tmp = tmp_path_factory.mktemp("hostile_models")
    BASES[tmp] = (_base_model(tmp), _base_table_model(tmp))
    paths = {}
    for i, (name, build, _) in enumerate(MODEL_CASES):
        paths[name] = str(build(tmp, tmp / f"case{i}.npz"))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, "canary", *paths.values()], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert not (tmp / "pwned").exists()
    return {"canary": results["canary"]} | {name: results[path] for name, path in paths.items()}


def test_the_memory_limit_bites(loaded):
    assert loaded["canary"][0] == "MemoryError"


@pytest.mark.parametrize("name, match", [(name, match) for name, _, match in MODEL_CASES],
                         ids=[name for name, _, _ in MODEL_CASES])
def test_hostile_model_file(loaded, name, match):
    kind, message = loaded[name]
    assert kind == "NNRecipeError", f"{kind}: {message}"
    with pytest.raises(nr.NNRecipeError, match=match):
        raise nr.NNRecipeError(message)
    assert len(message) < 600


def test_base_models_still_load(tmp_path):
    meta, arrays = _base_model(tmp_path)
    _base_table_model(tmp_path)
    net = nr.load(tmp_path / "base.npz")
    assert net.features == ["a", "b", "c"] and net.classes.tolist() == [0, 1]
    assert nr.load(tmp_path / "base2.npz").preprocessor is not None
    # a Fortran-ordered W1 (NumPy writes it so for a transposed array) reads as the same numbers
    w = np.asfortranarray(arrays["param.W1"])
    zip_file(tmp_path / "f.npz", [("__meta__.npy", meta_bytes(meta))] +
             [(f"{k}.npy", npy(w if k == "param.W1" else v)) for k, v in arrays.items()])
    np.testing.assert_array_equal(nr.load(tmp_path / "f.npz").params["W1"], arrays["param.W1"])


def _not_regular(path, target):
    """path made a link to /dev/zero, a named pipe or a folder."""
    if target == "fifo":
        os.mkfifo(path)
    elif target == "folder":
        path.mkdir()
    else:
        path.symlink_to(target)
    return path


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "folder"])
def test_a_model_path_that_is_not_a_regular_file(tmp_path, target):
    path = _not_regular(tmp_path / "m.npz", target)
    what = {"/dev/zero": r"\(a link to /dev/zero\) is a character device", "fifo": "is a named pipe",
            "folder": "is a folder"}[target]
    with pytest.raises(nr.NNRecipeError, match=f"path must be a regular file; .*{what}"):
        nr.load(path)


def test_claimed_size_limit_counts_every_member(tmp_path, monkeypatch):
    nr.mlp([3, 4, 1], seed=0).save(tmp_path / "m.npz")
    monkeypatch.setattr(serialize, "MAX_BYTES", 200)
    with pytest.raises(nr.NNRecipeError, match="refusing to load it"):
        nr.load(tmp_path / "m.npz")


# ---------------------------------------------------------------- tables

def _rows(n=60, big=None):
    """CSV text of n rows: x, z and a 0/1 target y; column x holds `big` (a float) in every row if given."""
    rng = np.random.default_rng(0)
    lines = ["x,z,y"]
    for i in range(n):
        x = big * (1 + rng.random()) if big is not None else rng.normal()
        lines.append(f"{x!r},{rng.normal()!r},{i % 2}")
    return "\n".join(lines) + "\n"


TABLE_ERRORS = [
    ("empty file", b"", "d.csv, which is empty"),
    ("only blank lines", b"\n\n  \n", "d.csv, which is empty"),
    ("header only", b"x,y\n", "at least one data row"),
    ("one column", b"y\n0\n1\n", "a feature column besides 'y'"),
    ("a PNG", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "looks like a PNG image"),
    ("a gzip stream", gzip.compress(b"x,y\n1,0\n" * 100), "looks like a gzip stream"),
    ("an xlsx (zip)", b"PK\x03\x04" + b"\x14\x00" * 100, "looks like a zip archive"),
    ("a PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n" * 50, "looks like a PDF document"),
    ("a Parquet file", b"PAR1" + bytes(200), "looks like a Parquet file"),
    ("a bzip2 stream", b"BZh91AY&SY" + bytes(range(256)), "looks like a bzip2 stream"),
    ("an npy array", npy(np.ones(10)), "looks like a NumPy .npy array"),
    ("NUL bytes", b"x,y\n1,\x000\n", "binary data \\(it holds NUL bytes\\)"),
    ("control bytes", bytes(range(1, 32)) * 10, "binary data \\(it holds control bytes\\)"),
    ("UTF-16 text", "x,y\n1,0\n".encode("utf-16"), "UTF-16 text"),
    ("Latin-1 text", "x,y\ncafé,0\n".encode("latin-1"), "byte 0xe9 at offset 7, which is not UTF-8"),
    ("duplicated column names", b"x,x,y\n1,2,0\n", "column names of d.csv must be unique; got 'x'"),
    ("a ragged row", b"x,z,y\n1,2,0\n3,1\n", "line 3 does not"),
    ("a late ragged row not UTF-8", ("x,y\n" + "1,0\n" * 20000).encode() + b"1,\xff\xfe,2,3\n",
     "a row that is not UTF-8"),
    ("a late cell not UTF-8", ("x,y\n" + "1,0\n" * 20000).encode() + b"\xff\xfe,1\n",
     "column 'x' of d.csv must hold numbers or UTF-8 text"),
    ("a feature near 1e307", _rows(big=1e307).encode(),
     r"feature column 'x' must hold numbers within ±1e\+150 .*got 1\.\d+e\+307 at row 0 \(line 2"),
    ("a feature near -1.7e308", _rows(big=-1.7e308 / 2).encode(),
     r"'x' must hold numbers within .*got -\d\.\d+e\+30[78]"),
    ("a target near 1e307", b"x,y\n1,1e307\n2,3.5\n", r"target 'y' must hold numbers within .*got 1e\+307"),
    ("a text label that is empty", b"x,y\n1,a\n2,\n", "target 'y' must not be missing"),
]


@pytest.mark.parametrize("data, match", [(d, m) for _, d, m in TABLE_ERRORS], ids=[n for n, _, _ in TABLE_ERRORS])
def test_hostile_table(tmp_path, capfd, data, match):
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    with pytest.raises(nr.NNRecipeError, match=match):
        nr.read_data(path, target="y")
    err = capfd.readouterr().err
    assert "Exception ignored" not in err and "Traceback" not in err


@pytest.mark.parametrize("reader", ["read_arrow", "recipe rows"])
def test_huge_numbers_are_refused_by_every_table_reader(tmp_path, reader):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n 1e307 ,1\n2,0\n3,1\n")                 # numbers as text, with spaces
    with pytest.raises(nr.NNRecipeError, match=r"column 'x'.*within ±1e\+150.*1e\+307"):
        if reader == "read_arrow":
            TablePreprocessor().fit(path)
        else:
            TablePreprocessor().fit({"x": [1.0, 2.0, 3.0]}).transform({"x": [" 1e307", "2", "3"]})


def test_the_standardizer_refuses_what_would_overflow_without_a_warning():
    X = np.c_[np.full(50, 1.7e308), np.ones(50)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(nr.NNRecipeError, match=r"X must hold numbers within ±1e\+150.*1\.7e\+308 at row 0, "
                                                   r"column 0"):
            nr.Standardizer().fit(X)
        fitted = nr.Standardizer().fit(np.ones((3, 2)))
        with pytest.raises(nr.NNRecipeError, match="within ±1e"):
            fitted.transform(np.full((1, 2), -1e200))
        assert np.isfinite(nr.Standardizer().fit_transform(np.c_[np.full(4, 1e149), np.arange(4.0)])).all()


def test_run_on_huge_numbers_says_so_and_nothing_else(tmp_path, capfd):
    from nnrecipe.cli import main
    (tmp_path / "big.csv").write_text(_rows(80, big=1e307))
    code = main(["run", str(tmp_path / "big.csv"), "--target", "y", "--out", str(tmp_path / "out")])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err and "inf" not in err and "RuntimeWarning" not in err
    assert "column 'x' of big.csv must hold numbers within ±1e+150" in err


@pytest.mark.parametrize("name, text, features, first", [
    ("semicolons", "a;b;y\n1;2.5;0\n3;4;1\n", ["a", "b"], [1.0, 2.5]),
    ("semicolons and decimal commas", "a;b;y\n1,5;2,25;0\n3,0;4,5;1\n", ["a", "b"], [1.5, 2.25]),
    ("tabs", "a\tb\ty\n1\t2\t0\n3\t4\t1\n", ["a", "b"], [1.0, 2.0]),
    ("pipes", "a|b|y\n1|2|0\n3|4|1\n", ["a", "b"], [1.0, 2.0]),
    ("commas inside quotes", '"a;b";"c";y\n1;2;0\n3;4;1\n', ["a;b", "c"], [1.0, 2.0]),
    ("a semicolon in a comma file's quoted name", '"a;b;c",d,y\n1,2,0\n3,4,1\n', ["a;b;c", "d"], [1.0, 2.0]),
    ("a UTF-8 BOM and CRLF", "\ufeffa,b,y\r\n1,2,0\r\n3,4,1\r\n", ["a", "b"], [1.0, 2.0]),
    ("unicode names", "größe,日本,y\n1,2,0\n3,4,1\n", ["größe", "日本"], [1.0, 2.0]),
    ("one feature, no delimiter in doubt", "a,y\n1,0\n2,1\n", ["a"], [1.0]),
])
def test_delimiters_and_encodings_are_read(tmp_path, name, text, features, first):
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode())
    table = nr.read_data(path, target="y")
    assert table.features == features and table.X[0].tolist() == first and table.y.tolist() == [0, 1]


def test_a_header_longer_than_the_reader_block_is_read(tmp_path):
    names = [f"a_rather_long_column_name_number_{i:05d}_" + "x" * 20 for i in range(20_000)]    # ~1.2 MB
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names + ["y"]) + "\n" + ",".join(["1"] * len(names) + ["0"]) + "\n")
    assert len(path.read_text().split("\n")[0]) > 1 << 20
    table = nr.read_data(path, target="y")
    assert table.X.shape == (1, 20_000) and table.features[-1] == names[-1]


def test_a_header_beyond_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data_io, "MAX_HEADER_BYTES", 1000)
    path = tmp_path / "d.csv"
    path.write_text(",".join(f"c{i}" for i in range(70_000)))             # no line end at all
    with pytest.raises(nr.NNRecipeError, match="header line is at most 1,000 bytes; d.csv has no line end"):
        nr.read_data(path, target="y")


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "folder"])
def test_a_table_path_that_is_not_a_regular_file(tmp_path, target):
    path = _not_regular(tmp_path / "d.csv", target)
    with pytest.raises(nr.NNRecipeError, match="path must be a regular file"):
        read_arrow(path)
    if target != "folder":                       # read_data reads a folder as an image folder
        with pytest.raises(nr.NNRecipeError, match="path must be a regular file"):
            nr.read_data(path, target="y")


@pytest.mark.parametrize("name, build, match", [
    ("header claims (10**12,)", lambda p: zip_file(p, [("X.npy", npy_raw({**F8, "shape": (10 ** 12,)})),
                                                     ("y.npy", npy(np.zeros(2)))]), "claims shape"),
    ("object X", lambda p: zip_file(p, [("X.npy", npy_raw({"descr": "|O", "fortran_order": False, "shape": (1,)},
                                                         b"\x00" * 8)), ("y.npy", npy(np.zeros(1)))]),
     "without pickle"),
    ("X near 1e307", lambda p: np.savez(p, X=np.full((3, 2), 1e307), y=np.zeros(3)),
     r"X in d.npz must hold numbers within ±1e\+150"),
])
def test_hostile_data_npz(tmp_path, name, build, match):
    path = tmp_path / "d.npz"
    build(path)
    with pytest.raises(nr.NNRecipeError, match=match):
        nr.read_data(path)


@pytest.mark.parametrize("hostile", ["units = 10**12", "shape (10**12,)", "/dev/zero"])
def test_gradcheck_on_a_hostile_model_says_so_and_nothing_else(tmp_path, capfd, hostile):
    from nnrecipe.cli import main
    path = tmp_path / "m.npz"
    if hostile == "/dev/zero":
        path.symlink_to("/dev/zero")
    else:
        BASES.setdefault(tmp_path, (_base_model(tmp_path), _base_table_model(tmp_path)))
        next(build for name, build, _ in MODEL_CASES if name == hostile)(tmp_path, path)
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,y\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(10)))
    code = main(["gradcheck", str(path), str(data), "--target", "y"])
    err = capfd.readouterr().err
    assert code == 2 and err.startswith("nnrecipe: error: ") and "Traceback" not in err
    assert {"units = 10**12": "units must be small enough", "shape (10**12,)": "claims shape",
            "/dev/zero": "is a character device"}[hostile] in err
