"""Model files: a .npz archive of arrays plus JSON metadata, loaded with allow_pickle=False.

Nothing in a file is executed: layers are rebuilt from a fixed table of types, every value
is validated, and any unreadable, truncated or hostile file raises NNRecipeError.
Writes go to a temporary file in the same folder, then an atomic rename.

A network with a table preprocessor (net.preprocessor) is written as version 2: the
preprocessor's learned values go in the metadata ("preprocessor": {"type", "state"}) and in
arrays named "preprocessor.*". A network without one is written as version 1, as before, and
both versions load.
"""

import json
import lzma
import math
import os
import re
import stat
import struct
import uuid
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npformat

from .._checks import as_path, writable_path
from .._version import __version__
from ..errors import NNRecipeError, expect

FORMAT, VERSION = "nnrecipe-model", 1
VERSIONS = (1, 2)           # 2: the file holds a table preprocessor (version 1 readers must refuse it)
MAX_BYTES = 4 << 30          # refuse archives that claim more than 4 GiB uncompressed
MAX_META_BYTES = 64 << 20    # metadata beyond 64 MiB is not ours (a big table preprocessor needs a few MiB)
MAX_DEPTH = 64               # JSON nesting deeper than this is not ours (ours nests about 6 levels)
MAX_MEMBERS = 10_000         # arrays in one archive (a model has two per dense layer)
MAX_HEADER = 10_000          # bytes of one .npy header (NumPy's own default limit)
MAX_PARAMS = 1 << 28         # parameters a model file may describe (1 GiB as float32)
MAX_LAYERS = 1_000
_META = "__meta__"
_CHUNK = 1 << 18             # .npy data is read in pieces of this size (NumPy's own buffer size)


def atomic_write(path, write, name="path"):
    """Call write(f) on a new temporary file beside path (same folder: same file system), then
    rename it onto path, so a reader sees the old file or the new one, never half of one. The file
    is made by open(), so its mode follows the umask like any other output (mkstemp's is 0600).
    A failed write raises NNRecipeError naming `name` and path, not the temporary file."""
    path = writable_path(path, name)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise NNRecipeError(f"{name} must be a writable file; writing {str(path)!r} failed "
                                f"({exc.strerror or exc})") from None    # strerror: no temporary name
        raise


def write_archive(path, arrays, meta):
    """Atomically write {name: ndarray} and a JSON-able meta dict to path (.npz)."""
    blob = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    atomic_write(path, lambda f: np.savez(f, **{_META: blob}, **arrays))


def read_archive(path, name="path"):
    """(arrays, meta) from an archive written by write_archive; NNRecipeError (naming `name`) for anything else.

    Every claim a file makes is checked before memory is spent on it (read_npz), and the JSON
    metadata must be within MAX_META_BYTES and MAX_DEPTH levels of nesting."""
    path = as_path(path, name)
    where = f"{path} is not a readable nnrecipe file"
    arrays, _ = read_npz(path, name, where, limits={_META: MAX_META_BYTES})
    if _META not in arrays:
        raise NNRecipeError(f"{where} (it has no {_META} member)")
    return arrays, _parse_meta(arrays.pop(_META), where)


def read_npz(path, name="path", where=None, only=None, limits=None):
    """({name: array}, every member's name) of a NumPy .npz archive, names without ".npy"; `only`:
    the names to read (None: all); limits: {name: most bytes} tighter than MAX_BYTES.

    Nothing is trusted before it is checked: the path must be a regular file (not /dev/zero, a pipe
    or a folder); each member a .npy array of numbers or text (never objects: no pickle) whose
    header's shape times item size is exactly the member's size; all of them within MAX_BYTES. A
    failure raises NNRecipeError "`where` (what is wrong)"."""
    where = where or f"{path} is not a readable .npz archive"
    regular_file(path, name)
    try:
        with open(path, "rb") as f:
            opened = os.fstat(f.fileno())
            if not stat.S_ISREG(opened.st_mode):                    # replaced since regular_file looked
                raise NNRecipeError(f"{name} must be a regular file; {str(path)!r} is not one")
            with zipfile.ZipFile(f) as zf:
                infos = _members(zf, where)
                names = [info.filename[:-4] for info in infos]
                arrays = {key: _read_npy(zf, info, where, (limits or {}).get(key), opened.st_size)
                          for key, info in zip(names, infos) if only is None or key in only}
    except NNRecipeError:
        raise
    except (OSError, ValueError, KeyError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zlib.error, lzma.LZMAError, struct.error) as exc:
        why = "it is truncated" if isinstance(exc, EOFError) else f"{type(exc).__name__}: {exc}"
        raise NNRecipeError(f"{where} ({why})") from None
    return arrays, names


_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}


def regular_file(path, name="path"):
    """NNRecipeError naming `name` unless path (os.stat: links followed) is an existing regular file:
    reading a device such as /dev/zero never ends, opening a named pipe waits for a writer."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise NNRecipeError(f"{name} must name an existing file; got {str(path)!r}") from None
    if not stat.S_ISREG(mode):
        link = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
        raise NNRecipeError(f"{name} must be a regular file; {str(path)!r}{link} is "
                            f"{_KINDS.get(stat.S_IFMT(mode), 'not one')}")


def _members(zf, where):
    """The archive's entries, each a distinct .npy member, their sizes together within MAX_BYTES."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise NNRecipeError(f"{where} (it has {len(infos)} members; at most {MAX_MEMBERS} expected)")
    total = sum(info.file_size for info in infos)
    if total > MAX_BYTES:
        raise NNRecipeError(f"{where} (it claims {total:,} bytes, more than {MAX_BYTES >> 30} GiB of data; "
                            f"refusing to load it)")
    seen = set()
    for info in infos:
        if not info.filename.endswith(".npy") or info.is_dir():
            raise NNRecipeError(f"{where} (member {info.filename!r} is not a .npy array)")
        if info.filename in seen:
            raise NNRecipeError(f"{where} (member {info.filename!r} occurs twice)")
        seen.add(info.filename)
    return infos


def _read_npy(zf, info, where, limit=None, room=0):
    """The array in one .npy member. Its header is read first and must describe exactly the bytes the
    member holds (at most `limit`), in a dtype of plain numbers or text: no object (pickled) or
    structured arrays. An uncompressed member whose bytes lie within the archive's `room` bytes
    (what np.savez writes) is read straight into its array; any other in chunks, so that memory
    follows the bytes really there, whatever the sizes in the zip directory claim."""
    where = f"{where} (member {info.filename!r}"
    limit = MAX_BYTES if limit is None else limit
    with zf.open(info) as f:
        version = npformat.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise NNRecipeError(f"{where} has .npy format version {version}; 1.0 or 2.0 expected)")
        read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, fortran, dtype = read_header(f, max_header_size=MAX_HEADER)
        if dtype.hasobject or dtype.kind not in "biufcUS" or dtype.itemsize == 0:
            raise NNRecipeError(f"{where} holds dtype {dtype.str!r}: arrays are read without pickle, so only "
                                "numbers or text)")
        if any(n < 0 for n in shape):
            raise NNRecipeError(f"{where} claims the negative shape {shape})")
        claimed, held = math.prod(shape) * dtype.itemsize, info.file_size - f.tell()
        if claimed != held:
            raise NNRecipeError(f"{where} claims shape {shape} of {dtype.str}, {claimed:,} bytes, but holds "
                                f"{held:,})")
        if claimed > limit:
            raise NNRecipeError(f"{where} holds {claimed:,} bytes; at most {limit:,} expected)")
        there = (info.compress_type == zipfile.ZIP_STORED and info.compress_size == info.file_size
                 and info.header_offset + info.compress_size <= room)
        data = np.empty(claimed, np.uint8) if there else bytearray()
        done = 0
        while done < claimed:
            if there:
                got = f.readinto(memoryview(data[done:done + _CHUNK]))
            else:
                chunk = f.read(min(claimed - done, _CHUNK))
                data += chunk
                got = len(chunk)
            if not got:
                raise NNRecipeError(f"{where} is truncated)")
            done += got
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _parse_meta(blob, where):
    """The metadata member (UTF-8 JSON bytes) as a dict; its nesting is measured before json parses it."""
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise NNRecipeError(f"{where} (metadata must be bytes; got {blob.dtype.str} of shape {blob.shape})")
    try:
        text = blob.tobytes().decode("utf-8")
        depth = _json_depth(text)
        meta = json.loads(text) if depth <= MAX_DEPTH else None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise NNRecipeError(f"{where} (metadata is not JSON text: {type(exc).__name__}: {_brief(str(exc), 200)})") \
            from None
    if depth > MAX_DEPTH:
        raise NNRecipeError(f"{where} (metadata nests {depth} levels deep; at most {MAX_DEPTH} expected)")
    if not isinstance(meta, dict):
        raise NNRecipeError(f"{where} (metadata is not an object)")
    return meta


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_depth(text):
    """How deeply JSON text nests arrays and objects; brackets inside strings do not count."""
    codes = np.frombuffer(_STRINGS.sub('""', text).encode(), np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))


def save(net, path):
    """Write a network (architecture, λ, dtype, weights, normalizer statistics) to path."""
    writable_path(path)
    expect(net.built, "net", "a built network (give input_dim, or fit it once)", "a network that is not built")
    config = net.config()
    for i, layer_config in enumerate(config["layers"]):
        if layer_config is None:
            raise NNRecipeError(f"layer {i} ({type(net.layers[i]).__name__}) cannot be saved: only Dense, "
                                "Dropout and Activation layers are stored in model files")
    arrays = {f"param.{name}": p for name, p in net.params.items()}
    normalizer = None
    if net.normalizer is not None:
        normalizer = {"type": type(net.normalizer).__name__}
        arrays.update({f"normalizer.{k}": v for k, v in net.normalizer.state().items()})
    meta = {"format": FORMAT, "version": VERSION, "nnrecipe": __version__, "network": config,
            "normalizer": normalizer, "classes": _labels_meta(net), "features": _features_meta(net)}
    if net.preprocessor is not None:
        meta["version"], meta["preprocessor"] = 2, _preprocessor_meta(net, arrays)
    write_archive(path, arrays, meta)


def _preprocessors():
    from ..data.tables import TablePreprocessor
    return {"TablePreprocessor": TablePreprocessor}


def _preprocessor_meta(net, arrays):
    """{"type", "state"} of net.preprocessor; its arrays go into `arrays` as "preprocessor.<name>"."""
    pre, kinds = net.preprocessor, _preprocessors()
    expect(type(pre).__name__ in kinds and isinstance(pre, kinds[type(pre).__name__]), "preprocessor",
           f"a fitted {' or '.join(kinds)} to be saved", type(pre).__name__)
    state, state_arrays = pre.to_state()
    width = len(pre.feature_names_out_)
    expect(width == net.input_dim, "preprocessor", f"one output column per network input ({net.input_dim})",
           f"{width} columns")
    arrays.update({f"preprocessor.{k}": v for k, v in state_arrays.items()})
    return {"type": type(pre).__name__, "state": state}


def _n_classes(net):
    """How many labels the output stands for: 2 for one sigmoid unit, K for a softmax; None otherwise."""
    units, kind = net.layers[-1].units, net.loss.activation
    return 2 if kind == "sigmoid" and units == 1 else units if kind == "softmax" else None


def _labels_meta(net):
    if net.classes is None:
        return None
    classes = np.asarray(net.classes)
    if classes.ndim != 1 or len(classes) != _n_classes(net) or classes.dtype.kind not in "biufU":
        raise NNRecipeError(f"classes must be one number or string per class ({_n_classes(net)} for this "
                            f"network's output); got {net.classes!r}")
    return classes.tolist()


def _features_meta(net):
    if net.features is None:
        return None
    features = list(net.features)
    if len(features) != net.input_dim or not all(isinstance(f, str) for f in features):
        raise NNRecipeError(f"features must be {net.input_dim} column names (strings); got {net.features!r}")
    return features


_SETTINGS = {"Dense": {"units", "activation", "init", "scale"}, "Dropout": {"keep_prob", "frozen"},
             "Activation": {"name"}}
_PREFIXES = ("param.", "normalizer.", "preprocessor.")


def _brief(value, limit=60):
    """repr(value) for messages, cut short: a hostile file must not flood the terminal."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check(condition, field, expected, value):
    """NNRecipeError 'model metadata is malformed: `field` must be expected; got value' unless condition."""
    if not condition:
        raise NNRecipeError(f"model metadata is malformed: {field} must be {expected}; got {_brief(value)}")


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def param_shapes(config):
    """{name: shape} of the parameters (W1, b1, W2, ...) that a Network.config() describes, worked
    out from the metadata alone, field by field, so that a file claiming absurd layer sizes is
    refused before the network allocates a single weight: at most MAX_LAYERS layers and MAX_PARAMS
    parameters."""
    from .layers import LAYER_TYPES
    _check(isinstance(config, dict), "network", "an object", config)
    layers, width = config.get("layers"), config.get("input_dim")
    _check(isinstance(layers, list) and 0 < len(layers) <= MAX_LAYERS, "network.layers",
           f"a list of 1 to {MAX_LAYERS} layers", layers)
    _check(_count(width), "network.input_dim", "an integer ≥ 1", width)
    shapes, k, total = {}, 0, 0
    for i, spec in enumerate(layers):
        field = f"network.layers[{i}]"
        _check(isinstance(spec, dict), field, "an object", spec)
        kind = spec.get("type")
        _check(isinstance(kind, str) and kind in LAYER_TYPES, f"{field}.type", f"one of {', '.join(LAYER_TYPES)}",
               kind)
        extra = sorted(set(spec) - _SETTINGS[kind] - {"type"})
        _check(not extra, field, f"the settings of a {kind} layer ({', '.join(sorted(_SETTINGS[kind]))})",
               extra)
        if kind == "Dense":
            units = spec.get("units")
            _check(_count(units), f"{field}.units", "an integer ≥ 1", units)
            total += (width + 1) * units
            _check(total <= MAX_PARAMS, f"{field}.units", f"small enough for at most {MAX_PARAMS:,} parameters in "
                   f"all ({width:,} inputs)", units)
            k += 1
            shapes[f"W{k}"], shapes[f"b{k}"] = (width, units), (units,)
            width = units
    return shapes


def network_from_config(config):
    """Rebuild an (initialized, unweighted) Network from Network.config(); validates everything, the
    size it implies (param_shapes) before anything is built."""
    from .layers import LAYER_TYPES
    from .network import Network
    param_shapes(config)
    for key in ("l2", "l1"):
        value = config.get(key)
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), f"network.{key}", "a number ≥ 0",
               value)
    _check(config.get("dtype") in ("float32", "float64"), "network.dtype", "'float32' or 'float64'",
           config.get("dtype"))
    try:
        layers = [LAYER_TYPES[spec["type"]](**{k: v for k, v in spec.items() if k != "type"})
                  for spec in config["layers"]]
        return Network(layers, input_dim=config["input_dim"], l2=config["l2"], l1=config["l1"],
                       seed=config.get("seed"), dtype=config["dtype"])
    except NNRecipeError as exc:
        raise NNRecipeError(f"model metadata is malformed: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise NNRecipeError(f"model metadata is malformed ({type(exc).__name__}: {_brief(str(exc), 200)})") from None


def load(path):
    """Read a network written by `save`. Raises NNRecipeError for any bad file.

    The metadata is checked against the arrays actually in the file before the network is built:
    one array per parameter, of the shape and dtype the layers imply, finite, and no member the
    format does not know. Messages about the contents start with the path."""
    arrays, meta = read_archive(path)
    version = meta.get("version")
    if meta.get("format") != FORMAT or type(version) is not int or version not in VERSIONS:
        raise NNRecipeError(f"{path} must be an nnrecipe model file (format {FORMAT!r}, version "
                            f"{' or '.join(map(str, VERSIONS))}); got format {_brief(meta.get('format'))}, "
                            f"version {_brief(version)}")
    try:
        return _network(path, arrays, meta)
    except NNRecipeError as exc:
        raise NNRecipeError(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}") from None


def _network(path, arrays, meta):
    """The network that load reads, from the archive's arrays and metadata."""
    weights = _weights(arrays, meta.get("network"))
    net = network_from_config(meta["network"])
    net.set_weights(weights)
    if meta.get("normalizer") is not None:
        from ..data.normalize import NORMALIZERS
        normalizer = meta["normalizer"]
        expect(isinstance(normalizer, dict), "normalizer", 'an object {"type": ...} or null', _brief(normalizer))
        kind = normalizer.get("type")
        expect(isinstance(kind, str) and kind in NORMALIZERS, "normalizer type", f"one of {', '.join(NORMALIZERS)}",
               _brief(kind))
        state = {k.removeprefix("normalizer."): v for k, v in arrays.items() if k.startswith("normalizer.")}
        net.normalizer = NORMALIZERS[kind].from_state(state, n_features=net.input_dim)
    if meta.get("preprocessor") is not None:
        net.preprocessor = _load_preprocessor(path, meta["preprocessor"], arrays, net.input_dim)
    classes, features = meta.get("classes"), meta.get("features")
    labels = isinstance(classes, list) and all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                                               for c in classes)
    expect(classes is None or labels, "classes", "a list of numbers or strings, one per class", _brief(classes))
    expect(features is None or isinstance(features, list), "features", "a list of column names",
           _brief(features))
    net.classes = None if classes is None else np.asarray(classes)
    net.features = features
    _labels_meta(net), _features_meta(net)             # the same checks as on save
    return net


def _weights(arrays, config):
    """{W1: array, b1: ...}: the file's parameter arrays, each checked against the shape the metadata
    implies (param_shapes), its dtype and finiteness; members that are not part of the format refused."""
    shapes = param_shapes(config)
    _check(config.get("dtype") in ("float32", "float64"), "network.dtype", "'float32' or 'float64'",
           config.get("dtype"))
    dtype = np.dtype(config["dtype"])
    unknown = [k for k in arrays if not k.startswith(_PREFIXES) or
               (k.startswith("param.") and k.removeprefix("param.") not in shapes)]
    expect(not unknown, "the arrays of a model file", "its parameters, normalizer and preprocessor",
           f"also {', '.join(map(_brief, unknown[:5]))}")
    weights = {}
    for name, shape in shapes.items():
        value = arrays.get(f"param.{name}")
        if value is None or value.shape != shape or value.dtype != dtype or not np.isfinite(value).all():
            got = "missing" if value is None else f"{value.dtype} {value.shape}" + (
                "" if value.shape != shape or value.dtype != dtype else " with NaN or infinite values")
            raise NNRecipeError(f"parameter {name} must be finite {dtype} {shape}; got {got}")
        weights[name] = value
    return weights


def _load_preprocessor(path, meta, arrays, input_dim):
    kinds = _preprocessors()
    kind = meta.get("type") if isinstance(meta, dict) else None
    if kind not in kinds:
        raise NNRecipeError(f"{path}: preprocessor type must be one of {', '.join(kinds)}; got {kind!r}")
    state = {k.removeprefix("preprocessor."): v for k, v in arrays.items() if k.startswith("preprocessor.")}
    try:
        pre = kinds[kind].from_state(meta.get("state"), state)
    except NNRecipeError as exc:
        raise NNRecipeError(f"{path}: {exc}") from None
    if len(pre.feature_names_out_) != input_dim:
        raise NNRecipeError(f"{path}: the preprocessor must give one column per network input ({input_dim}); "
                            f"got {len(pre.feature_names_out_)}")
    return pre
