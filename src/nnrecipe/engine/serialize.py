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
import os
import uuid
import zipfile

import numpy as np

from .._checks import as_path, writable_path
from .._version import __version__
from ..errors import NNRecipeError, expect

FORMAT, VERSION = "nnrecipe-model", 1
VERSIONS = (1, 2)           # 2: the file holds a table preprocessor (version 1 readers must refuse it)
MAX_BYTES = 4 << 30          # refuse archives that claim more than 4 GiB uncompressed
_META = "__meta__"


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
    """(arrays, meta) from an archive written by write_archive; NNRecipeError (naming `name`) for anything else."""
    path = as_path(path, name)
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(info.file_size for info in zf.infolist()) > MAX_BYTES:
                raise NNRecipeError(f"{path} claims more than {MAX_BYTES >> 30} GiB of data; refusing to load it")
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive[_META].tobytes().decode())
            arrays = {name: archive[name] for name in archive.files if name != _META}
    except NNRecipeError:
        raise
    except FileNotFoundError:
        raise NNRecipeError(f"{name} must name an existing file; got {str(path)!r}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise NNRecipeError(f"{path} is not a readable nnrecipe file ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise NNRecipeError(f"{path} is not a readable nnrecipe file (metadata is not an object)")
    return arrays, meta


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


def network_from_config(config):
    """Rebuild an (initialized, unweighted) Network from Network.config(); validates everything."""
    from .layers import LAYER_TYPES
    from .network import Network
    try:
        layers = []
        for spec in config["layers"]:
            spec = dict(spec)
            kind = spec.pop("type")
            if kind not in LAYER_TYPES:
                raise NNRecipeError(f"layer type must be one of {', '.join(LAYER_TYPES)}; got {kind!r}")
            layers.append(LAYER_TYPES[kind](**spec))
        return Network(layers, input_dim=config["input_dim"], l2=config["l2"], l1=config["l1"],
                       seed=config.get("seed"), dtype=config["dtype"])
    except NNRecipeError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise NNRecipeError(f"model metadata is malformed ({type(exc).__name__}: {exc})") from None


def load(path):
    """Read a network written by `save`. Raises NNRecipeError for any bad file."""
    arrays, meta = read_archive(path)
    if meta.get("format") != FORMAT or meta.get("version") not in VERSIONS:
        raise NNRecipeError(f"{path} must be an nnrecipe model file (format {FORMAT!r}, version "
                            f"{' or '.join(map(str, VERSIONS))}); got format {meta.get('format')!r}, "
                            f"version {meta.get('version')!r}")
    net = network_from_config(meta.get("network"))
    weights = {}
    for name, p in net.params.items():
        value = arrays.get(f"param.{name}")
        if value is None or value.shape != p.shape or value.dtype != p.dtype or not np.isfinite(value).all():
            got = "missing" if value is None else f"{value.dtype} {value.shape}"
            raise NNRecipeError(f"{path}: parameter {name} must be finite {p.dtype} {p.shape}; got {got}")
        weights[name] = value
    net.set_weights(weights)
    if meta.get("normalizer") is not None:
        from ..data.normalize import NORMALIZERS
        kind = meta["normalizer"].get("type") if isinstance(meta["normalizer"], dict) else None
        if kind not in NORMALIZERS:
            raise NNRecipeError(f"{path}: normalizer type must be one of {', '.join(NORMALIZERS)}; got {kind!r}")
        state = {k.removeprefix("normalizer."): v for k, v in arrays.items() if k.startswith("normalizer.")}
        net.normalizer = NORMALIZERS[kind].from_state(state, n_features=net.input_dim)
    if meta.get("preprocessor") is not None:
        net.preprocessor = _load_preprocessor(path, meta["preprocessor"], arrays, net.input_dim)
    net.classes = None if meta.get("classes") is None else np.asarray(meta["classes"])
    net.features = meta.get("features")
    _labels_meta(net), _features_meta(net)             # the same checks as on save
    return net


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
