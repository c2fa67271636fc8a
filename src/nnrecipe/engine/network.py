"""Network: a stack of layers, a fused output loss, and the regularized objective

    J = (1/m)·Σ L  +  (λ/2m)·Σ‖W‖²_F  +  (λ₁/m)·Σ|W|        (biases never penalized)

All parameters live in one flat vector θ (and their gradients in one flat dθ); the arrays in
`params` and each layer's `params` are views into it, weights first. One flat vector makes
the optimizer one in-place pass, the penalty one dot product, and θ what gradient checking
nudges.

The network owns its output: the last layer's activation is fused into the loss (sigmoid with
binary cross-entropy, softmax with cross-entropy), as Keras' `from_logits=True` and PyTorch's
`BCEWithLogitsLoss` do. The layer is not changed for that: the network calls it in logits mode
(`output_layer.forward(x, training, logits=True)`), so the same layer object placed in another
network, as a hidden layer or not, computes what a fresh one would.
"""

import numpy as np

from .._checks import (
    as_matrix,
    as_targets,
    check_seed,
    positive,
    probability,
    resolve_dtype,
)
from ..errors import NNRecipeError
from .layers import Dense, Dropout, Layer
from .losses import LOSSES


class Network:
    """A feed-forward network. The last layer must be a Dense with a sigmoid, softmax or
    linear activation; it picks the loss (binary cross-entropy, categorical cross-entropy,
    mean squared error).

    Parameters
    ----------
    layers : list of Layer
    input_dim : int, optional. Builds now; otherwise on first use, from X's width.
    l2, l1 : float ≥ 0. Penalty strengths λ and λ₁ in J.
    seed : int, SeedSequence or None. Init and dropout draw from separate child streams.
    dtype : "float32" (default) or "float64".

    The flat parameter vector and its layout (for optimizers and gradient checking): `theta` (θ),
    `grad_theta` (dθ), `slices` (name -> (offset, shape) in θ), `n_penalized` (θ[:n_penalized]
    are the weights L2/L1 apply to). The output: `output_layer`, `fused(layer)`, `logits(X)`,
    `layer_outputs(X)`.

    Raw tables: with `preprocessor` set (a fitted nr.data.tables.TablePreprocessor), every method
    that takes X (predict, predict_proba, error, cost, fit, ...) takes raw rows with the original
    column names in any order (a pandas DataFrame, a dict of columns, a pyarrow Table, a
    .csv/.parquet path): the preprocessor encodes them, then the normalizer applies. A numeric
    array is then read as the preprocessor's input columns (`preprocessor.columns_`, in that
    order), and only when they are all numbers or booleans; anything else must come as named
    columns. Without a preprocessor X is the numeric matrix, as always.
    """

    preprocessor = None              # networks pickled before preprocessors existed read None

    def __init__(self, layers, input_dim=None, l2=0.0, l1=0.0, seed=None, dtype="float32"):
        self.layers = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise NNRecipeError(f"layers must be a non-empty list of nnrecipe Layer objects; got {layers!r}")
        last = self.layers[-1]
        if not isinstance(last, Dense) or last.activation not in LOSSES:
            raise NNRecipeError("layers must end with a Dense layer whose activation is one of "
                                f"{', '.join(LOSSES)} (it picks the loss); got {last!r}")
        if last.activation == "softmax" and last.units < 2:
            raise NNRecipeError(f"a softmax output needs at least 2 units; got {last.units}")
        self.l2 = float(positive(l2, "l2", allow_zero=True))
        self.l1 = float(positive(l1, "l1", allow_zero=True))
        self.dtype = resolve_dtype(dtype)
        self.seed = check_seed(seed)
        self.loss = LOSSES[last.activation]()
        self.preprocessor = None     # optional: raw rows -> features (transform), before the normalizer
        self.normalizer = None       # optional: an object with transform(X), applied to every X
        self.classes = None          # optional (n_classes,): the labels predict returns for 0, 1, ...
        self.features = None         # optional list of the input columns' names, in order
        self.input_dim = None
        if input_dim is not None:
            self.build(input_dim)

    # ---- construction -------------------------------------------------------------------
    def build(self, input_dim):
        """Create every parameter for inputs of width input_dim; returns self."""
        self.input_dim = positive(input_dim, "input_dim", integer=True)
        seed = self.seed       # a SeedSequence is copied: spawning from it would change it
        root = (np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
                if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
        init_stream, dropout_stream = root.spawn(2)
        init_rng = np.random.default_rng(init_stream)
        width = self.input_dim
        for layer, stream in zip(self.layers, dropout_stream.spawn(len(self.layers))):
            width = layer.build(width, init_rng, self.dtype)
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng(stream)
        self._flatten()
        return self

    def _flatten(self):
        entries, k = [], 0
        for layer in self.layers:
            if layer.params:
                k += 1
                entries += [(f"{key}{k}", layer, key) for key in layer.params]
        natural = [name for name, _, _ in entries]
        entries.sort(key=lambda e: e[2] not in e[1].penalized)      # weights first (stable)
        arrays = [np.asarray(layer.params[key]) for _, layer, key in entries]
        total = sum(a.size for a in arrays)
        self._theta = np.empty(total, self.dtype)
        self._dtheta = np.zeros(total, self.dtype)
        self._slots, self._params, self._grads, self._offsets, offset = [], {}, {}, {}, 0
        self._n_penalized = 0
        for (name, layer, key), array in zip(entries, arrays):
            p = self._theta[offset:offset + array.size].reshape(array.shape)
            g = self._dtheta[offset:offset + array.size].reshape(array.shape)
            p[...] = array
            layer.params[key], layer.grads[key] = p, g
            self._slots.append((layer, key, g))
            self._params[name], self._grads[name] = p, g
            self._offsets[name] = offset
            if key in layer.penalized:
                self._n_penalized += array.size
            offset += array.size
        self._params = {name: self._params[name] for name in natural}   # W1, b1, W2, ...
        self._grads = {name: self._grads[name] for name in natural}
        self._scratch = np.empty(self._n_penalized, self.dtype)

    @property
    def built(self):
        return self.input_dim is not None

    @property
    def params(self):
        """dict name -> live parameter array ("W1", "b1", ...). Change them in place."""
        self._require_built()
        return dict(self._params)

    @property
    def theta(self):
        """Every parameter as one live vector θ (penalized weights first): change it in place."""
        self._require_built()
        return self._theta

    @property
    def grad_theta(self):
        """The gradient dθ of the last step/gradients call, one live vector laid out as `theta`."""
        self._require_built()
        return self._dtheta

    @property
    def slices(self):
        """dict name -> (offset, shape): params[name] is theta[offset:offset + size].reshape(shape)
        (and grads likewise in grad_theta), in the order of `params` ("W1", "b1", ...)."""
        self._require_built()
        return {name: (self._offsets[name], p.shape) for name, p in self._params.items()}

    @property
    def n_penalized(self):
        """θ[:n_penalized] are the weights the L2/L1 penalty applies to (every W; never a bias)."""
        self._require_built()
        return self._n_penalized

    @property
    def n_params(self):
        return self._theta.size if self.built else 0

    @property
    def output_layer(self):
        """The last layer: a Dense whose activation the network fuses into the loss (it computes
        the logits z; `loss` applies the activation). The layer itself is not changed."""
        return self.layers[-1]

    def fused(self, layer):
        """True when `layer` is this network's output layer, whose activation is computed by the loss:
        in this network its output is the logits z, not its activation."""
        return layer is self.layers[-1]

    def get_weights(self):
        """A copy of every parameter: dict name -> ndarray."""
        return {name: p.copy() for name, p in self.params.items()}

    def set_weights(self, weights):
        """Copy arrays into the parameters (same names and shapes as `params`)."""
        params = self.params
        if set(weights) != set(params):
            raise NNRecipeError(f"weights must have the keys {sorted(params)}; got {sorted(weights)}")
        for name, value in weights.items():
            value = np.asarray(value)
            if value.shape != params[name].shape:
                raise NNRecipeError(f"weights[{name!r}] must have shape {params[name].shape}; got {value.shape}")
            params[name][...] = value

    def __getstate__(self):
        """Pickle (and deepcopy) the layers' arrays once; the flat θ they view is rebuilt on load."""
        derived = {"_theta", "_dtheta", "_slots", "_params", "_grads", "_offsets", "_scratch", "_n_penalized"}
        return {k: v for k, v in self.__dict__.items() if k not in derived}

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.built:
            self._flatten()

    def astype(self, dtype):
        """Convert every parameter to dtype ("float32" or "float64") in place; returns self."""
        self.dtype = resolve_dtype(dtype)
        if self.built:
            self._flatten()
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.clear_masks()
        return self

    def freeze_dropout(self, frozen=True):
        """Reuse one dropout mask per batch shape on every call (frozen), so that J is
        deterministic, or draw fresh masks (not frozen). Either way the old masks are dropped."""
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.frozen = bool(frozen)
                layer.clear_masks()
        return self

    # ---- the objective ------------------------------------------------------------------
    def _require_built(self):
        if not self.built:
            raise NNRecipeError("the network is not built yet: give input_dim, or call fit/cost with data first")

    def prepare_X(self, X):
        """Encode raw rows with the preprocessor (if any), validate X, build the network on first use,
        cast to its dtype, apply the normalizer."""
        if self.preprocessor is not None:
            X = self.preprocessor.transform(X)
        X = as_matrix(X, "X")
        if not self.built:
            self.build(X.shape[1])
        if X.shape[1] != self.input_dim:
            raise NNRecipeError(f"X must have {self.input_dim} columns (the network's input_dim); got {X.shape[1]}")
        if self.normalizer is not None:
            X = self.normalizer.transform(X)
        return X.astype(self.dtype, copy=False)

    def prepare_y(self, y, n):
        return self.loss.targets(as_targets(y, n), self.layers[-1].units, self.dtype)

    def logits(self, X, training=False):
        """Pre-activation of the output layer for a prepared X: (n_samples, n_outputs)."""
        a = X
        for layer in self.layers[:-1]:
            a = layer.forward(a, training)
        return self.layers[-1].forward(a, training, logits=True)

    def layer_outputs(self, X, training=False):
        """Every layer's output for a prepared X, as `logits` computes them (a list, one array per
        layer; the last is the logits z). For tools that inspect the forward pass (health, gradcheck)."""
        outputs, a = [], X
        for layer in self.layers[:-1]:
            a = layer.forward(a, training)
            outputs.append(a)
        outputs.append(self.layers[-1].forward(a, training, logits=True))
        return outputs

    def backward(self, dz):
        """Backpropagate dJ/dz of the output layer; leaves every gradient in dθ. The first layer's
        dx is not computed when the layer can skip it (Dense: need_dx=False)."""
        layers = self.layers
        dz = layers[-1].backward(dz, logits=True, need_dx=len(layers) > 1)
        for i in range(len(layers) - 2, 0, -1):
            dz = layers[i].backward(dz)
        if len(layers) > 1:
            first = layers[0]
            if isinstance(first, Dense):
                first.backward(dz, need_dx=False)
            else:
                first.backward(dz)
        for layer, key, g in self._slots:          # user layers may assign new grad arrays
            if layer.grads[key] is not g:
                g[...] = layer.grads[key]
                layer.grads[key] = g

    def penalty(self, m):
        """(λ/2m)·Σ‖W‖² + (λ₁/m)·Σ|W| for a training set of m examples."""
        w = self._theta[:self._n_penalized]
        total = 0.0
        if self.l2:
            total += self.l2 / (2 * m) * float(np.dot(w, w))
        if self.l1:
            total += self.l1 / m * float(np.abs(w).sum())
        return total

    def _penalty_gradient(self, m):
        """dθ[weights] += (λ/m)·W + (λ₁/m)·sign(W), in place."""
        w, g, tmp = self._theta[:self._n_penalized], self._dtheta[:self._n_penalized], self._scratch
        if self.l2:
            g += np.multiply(w, self.l2 / m, out=tmp)
        if self.l1:
            g += np.multiply(np.sign(w, out=tmp), self.l1 / m, out=tmp)

    def step(self, X, y, m=None, training=True):
        """Forward and backward on a prepared batch; fills dθ with ∇J.

        m is the training-set size for the penalty (default: the batch). Returns
        (sum of losses over the batch, number of errors in the batch, penalty).
        """
        m = len(X) if m is None else m
        z = self.logits(X, training)
        loss, dz = self.loss.loss_and_grad(z, y)
        errors = self.loss.errors(z, y)
        dz *= 1.0 / len(X)
        self.backward(dz)
        penalty = 0.0
        if self.l2 or self.l1:
            penalty = self.penalty(m)
            self._penalty_gradient(m)
        return loss, errors, penalty

    def cost(self, X, y, training=False):
        """J on (X, y), penalty included. training=True applies dropout (frozen: deterministic)."""
        X = self.prepare_X(X)
        z = self.logits(X, training)
        loss, _ = self.loss.loss_and_grad(z, self.prepare_y(y, len(X)))
        return loss / len(X) + self.penalty(len(X))

    def gradients(self, X, y, training=False):
        """∇J on (X, y): dict name -> ndarray with the keys and shapes of `params`."""
        X = self.prepare_X(X)
        self.step(X, self.prepare_y(y, len(X)), training=training)
        return {name: g.copy() for name, g in self._grads.items()}

    # ---- predictions --------------------------------------------------------------------
    def output(self, X):
        """Output-layer activations: probabilities or values, (n_samples, n_outputs)."""
        return self.loss.output(self.logits(self.prepare_X(X), training=False))

    def predict_proba(self, X):
        """Class probabilities, (n_samples, n_classes); a single sigmoid unit gives [1−p, p]."""
        if not self.loss.classifier:
            raise NNRecipeError("predict_proba needs a classifier (sigmoid or softmax output); this network "
                                "has a linear output: use predict")
        return self._proba(self.logits(self.prepare_X(X)))

    def predict(self, X):
        """Labels or values (n_samples,): classes[index] when `classes` is set, else the class
        index (0/1 for one sigmoid unit); values for regression. Labels are decided from the
        logits (z > 0, argmax z), as `error` decides them."""
        return self._labels(self.logits(self.prepare_X(X)))

    def predict_with_proba(self, X):
        """(predict(X), predict_proba(X)) from one pass: X is prepared (preprocessor, normalizer) and
        run through the network once. The probabilities are None for a regression network."""
        z = self.logits(self.prepare_X(X))
        return self._labels(z), (self._proba(z) if self.loss.classifier else None)

    def _labels(self, z):
        labels = self.loss.predict(z)
        return labels if self.classes is None else np.asarray(self.classes)[labels]

    def _proba(self, z):
        out = self.loss.output(z)
        return np.hstack([1 - out, out]) if out.shape[1] == 1 and self.loss.activation == "sigmoid" else out

    def error(self, X, y):
        """Share misclassified (classifier) or mean squared error (regression)."""
        X = self.prepare_X(X)
        return self.loss.errors(self.logits(X), self.prepare_y(y, len(X))) / len(X)

    # ---- files --------------------------------------------------------------------------
    def save(self, path):
        from .serialize import save
        save(self, path)

    def config(self):
        return {"layers": [layer.config() for layer in self.layers], "input_dim": self.input_dim,
                "l2": self.l2, "l1": self.l1, "dtype": self.dtype.name,
                "seed": self.seed if isinstance(self.seed, int) else None}

    def __repr__(self):
        inner = ", ".join(map(repr, self.layers))
        return (f"Network([{inner}], input_dim={self.input_dim}, l2={self.l2}, l1={self.l1}, "
                f"dtype={self.dtype.name!r}, n_params={self.n_params})")


def mlp(layer_dims, hidden="relu", output="sigmoid", init="auto", l2=0.0, l1=0.0,
        keep_prob=1.0, seed=None, dtype="float32"):
    """A multilayer perceptron from its layer sizes [n_x, n_h1, ..., n_y].

    keep_prob: one float for every hidden layer, or a list with one per hidden layer
    (1.0 = no dropout). `mlp([n_x, 1], output="sigmoid")` is logistic regression.
    """
    dims = list(layer_dims) if isinstance(layer_dims, (list, tuple)) else None
    if not dims or len(dims) < 2:
        raise NNRecipeError(f"layer_dims must be a list [n_x, ..., n_y] of at least 2 sizes; got {layer_dims!r}")
    for d in dims:
        positive(d, "layer_dims entries", integer=True)
    n_hidden = len(dims) - 2
    if not isinstance(keep_prob, (list, tuple)):
        probability(keep_prob, "keep_prob")
    keeps = list(keep_prob) if isinstance(keep_prob, (list, tuple)) else [keep_prob] * n_hidden
    if len(keeps) != n_hidden:
        raise NNRecipeError(f"keep_prob must be a float or a list of {n_hidden} (one per hidden layer); "
                            f"got {keep_prob!r}")
    layers = []
    for units, keep in zip(dims[1:-1], keeps):
        layers.append(Dense(units, hidden, init))
        if probability(keep, "keep_prob") < 1.0:
            layers.append(Dropout(keep))
    layers.append(Dense(dims[-1], output, init))
    return Network(layers, input_dim=dims[0], l2=l2, l1=l1, seed=seed, dtype=dtype)
