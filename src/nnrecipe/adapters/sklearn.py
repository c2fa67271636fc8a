"""scikit-learn estimators over the nnrecipe engine: `NNClassifier` and `NNRegressor`.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from nnrecipe.sklearn import NNClassifier

    model = make_pipeline(StandardScaler(), NNClassifier(hidden_layer_sizes=(64,), l2=1.0))
    model.fit(X, y).score(X_test, y_test)

They follow scikit-learn's conventions: `__init__` only stores the parameters, `fit` checks
them (bad values raise `nnrecipe.NNRecipeError`, a ValueError) and the data (scikit-learn's own
errors), and the fitted state lives in attributes ending in `_`, the trained `nnrecipe.Network`
among them (`net_`). Inputs are NOT standardized here: put a `StandardScaler` in front of the
estimator in a Pipeline, so that the statistics come from the training folds only.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from .._checks import positive, shown
from ..engine.network import mlp
from ..errors import NNRecipeError, expect
from ..training.callbacks import EarlyStopping
from ..training.fit import fit

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6
    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

FLOATS = (np.float64, np.float32)      # X keeps a float dtype; anything else becomes float64


def _seeds(random_state):
    """Three independent streams (network init and dropout, shuffling, validation split) from
    random_state: None → fresh OS entropy, an int ≥ 0 → always the same, a NumPy RandomState or
    Generator → a seed drawn from it. Never the global NumPy state."""
    if isinstance(random_state, np.random.RandomState):
        random_state = int(random_state.randint(2**31))
    elif isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**63))
    ok = random_state is None or (isinstance(random_state, numbers.Integral)
                                  and not isinstance(random_state, bool) and random_state >= 0)
    expect(ok, "random_state", "None, an int ≥ 0, or a NumPy RandomState or Generator", repr(random_state))
    net, shuffle, split = np.random.SeedSequence(random_state).spawn(3)
    return net, int(shuffle.generate_state(1)[0]), int(split.generate_state(1)[0])


def _can_stratify(codes, n_classes, fraction):
    """Whether a stratified split of codes (n,) exists: every class has 2 rows, and both parts
    have room for one row of each class (else the validation split is simply random)."""
    n_dev = int(np.ceil(fraction * len(codes)))                 # as train_test_split counts it
    return np.bincount(codes).min() >= 2 and min(n_dev, len(codes) - n_dev) >= n_classes


class _NNEstimator(BaseEstimator):
    """What NNClassifier and NNRegressor share: the parameters and the training."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", init="auto", l2=0.0, l1=0.0,
                 keep_prob=1.0, optimizer="adam", learning_rate=0.001, batch_size=200, epochs=200,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 random_state=None, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.l2 = l2
        self.l1 = l1
        self.keep_prob = keep_prob
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.dtype = dtype

    def _check_params(self):
        """Check the parameters the engine does not see under these names (it checks activation,
        init, l2, l1, keep_prob, optimizer and dtype itself); returns the hidden widths as a list."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
        ok = isinstance(sizes, (tuple, list)) and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes)
        expect(ok, "hidden_layer_sizes", "a tuple of positive ints such as (100,) or (64, 32)",
               repr(self.hidden_layer_sizes))
        positive(self.learning_rate, "learning_rate")
        positive(self.epochs, "epochs", integer=True)
        if self.batch_size is not None:
            positive(self.batch_size, "batch_size", integer=True)
        expect(isinstance(self.early_stopping, (bool, np.bool_)), "early_stopping", "True or False",
               repr(self.early_stopping))
        ok = isinstance(self.validation_fraction, numbers.Real) and 0 < self.validation_fraction < 1
        expect(ok, "validation_fraction", "a number in (0, 1)", repr(self.validation_fraction))
        positive(self.n_iter_no_change, "n_iter_no_change", integer=True)
        return list(sizes)

    def _train(self, X, y, output, n_outputs, n_classes=None):
        """Build `net_` with `n_outputs` units of activation `output` and train it on X
        (n_samples, n_features) and y as the engine takes it: (n_samples,) class indices
        0..n_classes-1 (a classifier: the validation split is stratified) or values, or
        (n_samples, n_outputs) values."""
        sizes = self._check_params()
        net_seed, shuffle_seed, split_seed = _seeds(self.random_state)
        net = mlp([X.shape[1], *sizes, n_outputs], hidden=self.activation, output=output, init=self.init,
                  l2=self.l2, l1=self.l1, keep_prob=self.keep_prob, seed=net_seed,
                  dtype=X.dtype if self.dtype is None else self.dtype)
        dev, callbacks = None, []
        if self.early_stopping:
            stratify = y if n_classes and _can_stratify(y, n_classes, self.validation_fraction) else None
            X, X_dev, y, y_dev = train_test_split(X, y, test_size=self.validation_fraction,
                                                  random_state=split_seed, stratify=stratify)
            dev = (X_dev, y_dev)
            callbacks = [EarlyStopping(monitor="dev_cost", patience=self.n_iter_no_change, restore_best=True)]
        batch_size = None if self.batch_size is None else min(self.batch_size, len(X))
        history = fit(net, X, y, dev=dev, epochs=self.epochs, batch_size=batch_size,
                      optimizer=self.optimizer, lr=self.learning_rate, callbacks=callbacks,
                      seed=shuffle_seed, verbose=0)
        self.net_, self.history_ = net, history
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history.cost)
        self.best_epoch_ = callbacks[0].best_epoch if callbacks else None
        return self


_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int (or one int), default (100,). The width of each hidden
        layer; () gives a network without hidden layers (logistic or linear regression).
    activation : "relu" (default), "leaky_relu", "tanh", "sigmoid" or "linear", for hidden layers.
    init : "auto" (He for the ReLU family, Xavier for tanh/sigmoid), "he", "xavier", "glorot",
        "random", "zeros", or a "*_uniform" variant.
    l2, l1 : float ≥ 0, default 0. λ and λ₁ in J = (1/m)·ΣL + (λ/2m)·Σ‖W‖² + (λ₁/m)·Σ|W|.
    keep_prob : float in (0, 1] or one per hidden layer, default 1.0 (no dropout).
    optimizer : "adam" (default), "momentum" or "gd"; learning_rate its step size (0.001).
    batch_size : int, default 200, clipped to the number of training rows; None: full batch.
    epochs : int, default 200. Passes over the training data (the most, with early stopping).
    early_stopping : bool, default False. Hold out validation_fraction (0.1) of the rows{strat} and
        stop when their mean loss has not improved for n_iter_no_change (10) epochs, then restore
        the weights of the best epoch.
    random_state : None (fresh entropy on every fit), an int (the same model on every fit), or a
        NumPy RandomState/Generator to draw a seed from. Seeds init, dropout, shuffling, split.
    dtype : None (default: X's dtype, float32 or float64, as MLPClassifier does), "float32" or
        "float64": the network's arithmetic. float32 is about twice as fast; its predictions on a
        subset of rows may differ from those on all rows in the last bits (BLAS sums in another order).

    Inputs are used as given: standardize them with a StandardScaler in a Pipeline.

    Attributes
    ----------
    net_ : the trained nnrecipe.Network. history_ : its nnrecipe.History (cost, dev_cost, ...
        per epoch). n_iter_ : epochs run. loss_curve_ : list of J per epoch (penalty included).
    best_epoch_ : 0-based epoch whose weights were restored (early stopping), else None.
    n_features_in_, feature_names_in_ (when X has string column names).
"""


class NNClassifier(ClassifierMixin, _NNEstimator):
    __doc__ = """A neural-network classifier: ReLU (by default) hidden layers, and one sigmoid
    unit for two classes or a softmax over K > 2 classes, trained on the cross-entropy.
    Labels may be of any sortable type (strings, non-contiguous ints). Also: classes_ (n_classes,).
    """ + _PARAMETERS.format(strat=", stratified by class")

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self."""
        X, y = validate_data(self, X, y, dtype=FLOATS)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise NNRecipeError(f"y must hold at least 2 classes to train a classifier; got 1 class "
                                f"({shown(self.classes_[0])})")
        codes, k = np.searchsorted(self.classes_, y), len(self.classes_)
        return self._train(X, codes, "sigmoid" if k == 2 else "softmax", 1 if k == 2 else k, n_classes=k)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of classes_."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        return self.net_.predict_proba(X).astype(X.dtype, copy=False)

    def predict(self, X):
        """Labels (n_samples,) taken from classes_."""
        check_is_fitted(self)
        return self.classes_[self.net_.predict(validate_data(self, X, dtype=FLOATS, reset=False))]


class NNRegressor(RegressorMixin, _NNEstimator):
    __doc__ = """A neural-network regressor: ReLU (by default) hidden layers and a linear output,
    trained on the squared error. y may be 1-D or 2-D (several outputs). Also: n_outputs_.
    """ + _PARAMETERS.format(strat="")

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_outputs); returns self."""
        X, y = validate_data(self, X, y, dtype=FLOATS, multi_output=True, y_numeric=True)
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._y_2d = y.ndim == 2
        return self._train(X, y, "linear", self.n_outputs_)

    def predict(self, X):
        """Values (n_samples,), or (n_samples, n_outputs) when fitted on a 2-D y."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        out = self.net_.output(X).astype(X.dtype, copy=False)       # float64 X: float64 values
        return out if self._y_2d else out[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
