"""nnrecipe.sklearn: scikit-learn's estimator checks, model selection, labels, early stopping,
randomness and errors."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import nnrecipe as nr
from nnrecipe.sklearn import NNClassifier, NNRegressor

SMALL = {"hidden_layer_sizes": (8,), "epochs": 20, "learning_rate": 0.01, "batch_size": 32}
PARAMS = ["hidden_layer_sizes", "activation", "init", "l2", "l1", "keep_prob", "optimizer", "learning_rate",
          "batch_size", "epochs", "early_stopping", "validation_fraction", "n_iter_no_change",
          "random_state", "dtype"]


@parametrize_with_checks([NNClassifier(**SMALL), NNClassifier(**SMALL, early_stopping=True),
                          NNRegressor(**SMALL), NNRegressor(**SMALL, early_stopping=True)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def blobs(n=300, labels=(0, 1, 2), seed=0):
    """X (n, 2) around one centre per label; y (n,) of those labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0], [3.0, 3.0]])[:len(labels)]
    k = rng.integers(len(labels), size=n)
    return centres[k] + rng.normal(size=(n, 2)), np.asarray(labels)[k]


# ---- model selection ---------------------------------------------------------------------------
def test_grid_search_in_a_pipeline_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), NNClassifier(epochs=100, random_state=0))
    grid = {"nnclassifier__hidden_layer_sizes": [(32,), (64,)], "nnclassifier__l2": [0.0, 1.0]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
    assert search.best_score_ >= 0.95
    assert search.score(X_test, y_test) >= 0.95
    assert isinstance(search.best_estimator_[-1].net_, nr.Network)


def test_cross_val_score_on_digits(digits):
    X_train, _, y_train, _ = digits
    pipe = make_pipeline(StandardScaler(), NNClassifier(hidden_layer_sizes=(64,), epochs=100, random_state=0))
    assert cross_val_score(pipe, X_train, y_train, cv=3).mean() >= 0.95


# ---- labels and probabilities ------------------------------------------------------------------
@pytest.mark.parametrize("labels", [("cat", "dog", "emu"), (42, -3, 7), ("no", "yes")])
def test_labels_of_any_type_round_trip(labels):
    X, y = blobs(labels=labels)
    clf = NNClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=50, random_state=0).fit(X, y)
    assert list(clf.classes_) == sorted(labels)
    pred = clf.predict(X)
    assert pred.dtype == np.asarray(labels).dtype and set(pred) <= set(labels)
    assert clf.score(X, y) >= 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    units = clf.net_.layers[-1].units
    assert units == (1 if len(labels) == 2 else len(labels))          # binary: one sigmoid unit


def test_predict_proba_columns_follow_classes():
    X = np.linspace(-3, 3, 200).reshape(-1, 1)
    y = np.where(X[:, 0] > 0, "b_positive", "a_negative")
    clf = NNClassifier(hidden_layer_sizes=(), learning_rate=0.05, epochs=100, random_state=0).fit(X, y)
    proba = clf.predict_proba([[-2.0], [2.0]])
    assert list(clf.classes_) == ["a_negative", "b_positive"]
    assert proba[0, 0] > 0.9 and proba[1, 1] > 0.9


# ---- regression --------------------------------------------------------------------------------
def linear_data(n=500, n_outputs=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    W = rng.normal(size=(4, n_outputs or 1))
    y = X @ W + 0.5 + 0.05 * rng.normal(size=(n, n_outputs or 1))
    return X, (y[:, 0] if n_outputs is None else y)


def test_regression_on_a_linear_target():
    X, y = linear_data()
    reg = NNRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=100, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (len(X),)
    assert reg.score(X, y) >= 0.95
    assert reg.net_.layers[-1].activation == "linear"


def test_regression_with_several_outputs():
    X, y = linear_data(n_outputs=2)
    reg = NNRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=100, random_state=0).fit(X, y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (len(X), 2)
    assert reg.score(X, y) >= 0.95
    column = NNRegressor(**SMALL, random_state=0).fit(X, y[:, :1])
    assert column.predict(X).shape == (len(X), 1)                   # a 2-D y gives 2-D predictions


# ---- training ----------------------------------------------------------------------------------
def test_early_stopping_restores_the_best_dev_cost_epoch():
    X, y = make_classification(n_samples=200, n_features=20, n_informative=3, flip_y=0.2, random_state=0)
    params = {"hidden_layer_sizes": (128,), "learning_rate": 0.001, "batch_size": 32, "epochs": 300,
              "early_stopping": True, "validation_fraction": 0.25, "n_iter_no_change": 10, "random_state": 1}
    clf = NNClassifier(**params).fit(X, y)
    dev_cost = clf.history_.dev_cost
    assert clf.best_epoch_ == int(np.argmin(dev_cost)) > 0
    assert clf.n_iter_ == len(clf.loss_curve_) == clf.best_epoch_ + 11 < 300
    # the same run stopped at the best epoch ends with the weights the long run restored
    short = NNClassifier(**(params | {"epochs": clf.best_epoch_ + 1})).fit(X, y)
    np.testing.assert_array_equal(short.net_.theta, clf.net_.theta)


def test_without_early_stopping_every_epoch_runs_silently(capsys):
    X, y = blobs()
    clf = NNClassifier(**SMALL, random_state=0).fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 20 and clf.best_epoch_ is None
    assert capsys.readouterr() == ("", "")
    full = NNClassifier(**(SMALL | {"batch_size": None}), random_state=0).fit(X, y)
    huge = NNClassifier(**(SMALL | {"batch_size": 10_000}), random_state=0).fit(X, y)
    np.testing.assert_array_equal(full.net_.theta, huge.net_.theta)      # clipped to n: one batch


def test_an_int_random_state_repeats_and_none_draws_fresh_entropy():
    X, y = blobs()
    same = [NNClassifier(**SMALL, keep_prob=0.8, random_state=3).fit(X, y).predict_proba(X) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    other = NNClassifier(**SMALL, keep_prob=0.8, random_state=4).fit(X, y).predict_proba(X)
    assert not np.array_equal(same[0], other)
    state = np.random.get_state()[1].copy()
    fresh = [NNClassifier(**SMALL).fit(X, y).predict_proba(X) for _ in range(2)]
    assert not np.array_equal(*fresh)
    np.testing.assert_array_equal(np.random.get_state()[1], state)       # the global RNG is untouched


def test_clone_get_params_set_params():
    clf = NNClassifier(hidden_layer_sizes=(16, 8), l2=0.5)
    assert sorted(clf.get_params()) == sorted(PARAMS)
    assert clf.set_params(l2=2.0, epochs=5) is clf and clf.l2 == 2.0 and clf.epochs == 5
    fitted = clf.fit(*blobs())
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "net_")
    with pytest.raises(NotFittedError):
        copy.predict([[0.0, 0.0]])


def test_pickle_keeps_predictions_and_one_parameter_vector():
    X, y = blobs()
    clf = NNClassifier(**SMALL, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert np.shares_memory(back.net_.theta, back.net_.params["W1"])


def test_feature_names_from_a_dataframe_like():
    pa = pytest.importorskip("pyarrow")
    X, y = blobs()
    table = pa.table({"width": X[:, 0], "height": X[:, 1]})
    clf = NNClassifier(**SMALL, random_state=0).fit(table, y)
    assert list(clf.feature_names_in_) == ["width", "height"] and clf.n_features_in_ == 2
    assert clf.score(table, y) >= 0.9


# ---- errors ------------------------------------------------------------------------------------
def test_sklearn_errors_for_bad_data():
    X, y = blobs()
    with pytest.raises(NotFittedError):
        NNClassifier().predict(X)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NNClassifier(**SMALL).fit(X_nan, y)
    fitted = NNRegressor(**SMALL).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(X_nan)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :1])
    with pytest.raises(ValueError, match="Unknown label type"):
        NNClassifier(**SMALL).fit(X, X[:, 0])
    with pytest.raises(nr.NNRecipeError, match="2 classes"):
        NNClassifier(**SMALL).fit(X, np.ones(len(X)))


@pytest.mark.parametrize("param, value", [
    ("keep_prob", 2), ("hidden_layer_sizes", (0,)), ("hidden_layer_sizes", "wide"), ("activation", "swish"),
    ("init", "magic"), ("l2", -1.0), ("l1", -1.0), ("optimizer", "sgd"), ("learning_rate", 0.0),
    ("batch_size", 0), ("epochs", 2.5), ("early_stopping", "yes"), ("validation_fraction", 1.0),
    ("n_iter_no_change", 0), ("random_state", -1), ("dtype", "int8")])
@pytest.mark.parametrize("Estimator", [NNClassifier, NNRegressor])
def test_bad_parameters_raise_at_fit_not_init(Estimator, param, value):
    est = Estimator(**(SMALL | {param: value}))                         # storing never fails
    assert est.get_params()[param] == value
    with pytest.raises(nr.NNRecipeError, match=param):
        est.fit(*blobs(n=50))


@pytest.mark.parametrize("estimator", [NNClassifier(), NNRegressor()], ids=["classifier", "regressor"])
def test_defaults_pass_every_estimator_check(estimator):
    # the README's claim, for the estimators as users construct them (dtype follows X: float64)
    import warnings

    from sklearn.exceptions import SkipTestWarning
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)      # sklearn's own skips (pandas, array API)
        results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_dtype_follows_X(dtype):
    X, y = blobs(60)
    clf = NNClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0).fit(X.astype(dtype), y)
    assert clf.net_.dtype == dtype
    assert NNClassifier(dtype="float32", hidden_layer_sizes=(4,), epochs=2).fit(X, y).net_.dtype == np.float32


def test_one_class_message_shows_the_label_plainly():
    X, _ = blobs(30)
    with pytest.raises(nr.NNRecipeError, match=r"got 1 class \(0\.0\)$"):
        NNClassifier().fit(X, np.zeros(30))
