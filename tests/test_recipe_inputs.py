"""What the recipe accepts and refuses before any work: X and y named with the user's own rows, labels
of any kind, the budget, a resumed run folder made from other data, duplicate rows across the sets."""

import json
import warnings

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.recipe import Recipe

BUDGET = 20          # epochs: enough to train something, small enough to keep these tests fast


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return X, (X[:, 0] > 0).astype(int)


def fit(X, y, **kwargs):
    return Recipe(verbose=0, **{"budget": BUDGET, **kwargs}).fit(X, y)


@pytest.mark.parametrize("change, message", [
    (lambda X, y: (np.where(np.arange(200)[:, None] == 150, np.nan, X), y),
     "X must be finite; got nan at row 150, column 0"),
    (lambda X, y: (X[:, 0], y), r"X must be 2-D .*; got 1-D shape \(200,\)"),
    (lambda X, y: (X.astype(str), y), "X must be numeric"),
    (lambda X, y: (X, y[:150]), r"y must be of shape \(200,\), one value per row of X; got shape \(150,\)"),
    (lambda X, y: (X, np.zeros(200, int)), r"y must hold at least 2 classes .*; got 1 class \(0\)"),
    (lambda X, y: (X, np.full(200, "cat")), r"got 1 class \('cat'\)"),
    (lambda X, y: (X, np.where(np.arange(200) == 7, np.nan, X[:, 1])), r"y must be finite numbers within ±1e\+30 "
                                                                       r"for a regression .*; got nan at row 7"),
    (lambda X, y: (X, np.where(np.arange(200) == 9, 1e149, X[:, 1])), r"y must be finite numbers within ±1e\+30 "
                                                                       r"for a regression \(the network trains in "
                                                                       r"float32\); got 1e\+149 at row 9"),
    (lambda X, y: (X, np.where(y == 1, np.nan, 0.0)), r"y must be class labels; got nan at row \d+ \(a missing"),
    (lambda X, y: (X, np.array([1, "a"], dtype=object)[y]), "y must hold labels of one sortable kind"),
])
def test_bad_x_and_y_are_named_with_the_users_rows(data, change, message):
    with pytest.raises(nr.NNRecipeError, match=message):
        fit(*change(*data))


@pytest.mark.parametrize("options, message", [
    ({"tolerance": 1.5}, r"tolerance must be in \[0, 1\); got 1.5"),
    ({"tolerance": -0.1}, r"tolerance must be in \[0, 1\); got -0.1"),
    ({"tolerance": float("nan")}, r"tolerance must be in \[0, 1\); got nan"),
    ({"tolerance": "0.05"}, r"tolerance must be in \[0, 1\); got '0.05'"),
    ({"baseline_error": np.float32(1.0)}, r"baseline_error must be in \[0, 1\); got 1.0"),
])
def test_bad_options_are_refused_before_any_training(data, monkeypatch, options, message):
    def no_training(*args, **kwargs):
        raise AssertionError("an experiment was trained before the options were checked")
    monkeypatch.setattr("nnrecipe.recipe.trainers.fit", no_training)
    with pytest.raises(nr.NNRecipeError, match=message):
        fit(*data, **options)


def test_numpy_scalars_are_a_baseline_and_a_tolerance(data, tmp_path):
    r = Recipe(verbose=0, budget=BUDGET, out=tmp_path / "run", baseline_error=np.float32(0.1),
               tolerance=np.float32(0.05)).fit(*data)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["baseline_error"] == pytest.approx(0.1) and record["tolerance"] == pytest.approx(0.05)
    assert r.diagnosis_.tolerance == pytest.approx(0.05)


def test_a_given_test_set_is_checked_too(data):
    X, y = data
    Xt = X[:60].copy()
    Xt[7, 2] = np.inf
    with pytest.raises(nr.NNRecipeError, match="X_test must be finite; got inf at row 7, column 2"):
        Recipe(verbose=0, budget=BUDGET).fit(X, y, test=(Xt, y[:60]))
    with pytest.raises(nr.NNRecipeError, match=r"X_test must be rows of shape \(3,\) like X; got shape \(60, 2\)"):
        Recipe(verbose=0, budget=BUDGET).fit(X, y, test=(X[:60, :2], y[:60]))


def test_indices_into_given_classes_must_be_in_range(data):
    X, y = data
    with pytest.raises(nr.NNRecipeError, match=r"y must be indices 0…1 into classes .*; got values from -1 to 1"):
        Recipe(verbose=0, budget=BUDGET).fit(X, np.array([-1, 1])[y], classes=["no", "yes"])


@pytest.mark.parametrize("labels", [np.array([-1, 1]), np.array([3, 7]), np.array([0.0, 1.0]),
                                    np.array(["cat", "dog"])])
def test_labels_of_any_kind_are_classes_and_predictions_come_back_as_them(data, labels):
    X, y = data
    r = fit(X, labels[y])
    assert list(r.classes_) == list(labels) and r.record_["data"]["classes"] == labels.tolist()
    assert r.record_["data"]["kind"] == "binary"
    predicted = r.predict(X)
    assert set(predicted) <= set(labels) and np.mean(predicted == labels[y]) > 0.6


def test_a_budget_below_the_first_experiment_cuts_it(data):
    r = fit(*data, budget=5, cv=0)                      # the first experiment wants 150 epochs
    [first] = r.experiments_
    assert first.config.epochs == 5 and r.record_["spent_epochs"] <= 5 + 5    # the refit on train+dev on top
    assert r.record_["final"]["refit"]["epochs"] <= 5
    assert "cut to the budget of 5 epochs" in first.why
    assert "stop: the budget of 5 epochs is spent" in r.decisions_
    r = fit(*data, budget=10, cv=5)                     # 5 folds: 2 epochs each
    [first] = r.experiments_
    assert first.config.epochs == 2 and first.spent <= 10
    assert "cut to the budget of 10 epochs over 5 folds" in first.why
    assert "stop: the budget of 10 epochs is spent" in r.decisions_


def _run_folder(tmp_path, X, y):
    out = tmp_path / "run"
    Recipe(verbose=0, budget=BUDGET, out=out).fit(X, y)
    return out


def test_resume_refuses_a_run_made_from_other_data(data, tmp_path):
    X, y = data
    out = _run_folder(tmp_path, X, y)
    fingerprint = json.loads((out / "run.json").read_text())["data"]["fingerprint"]
    assert fingerprint["shape"] == [200, 3] and {"X", "y", "split"} <= set(fingerprint)
    for other, differs in [((X[:150], y[:150]), r"\(X had shape \(200, 3\), this X has \(150, 3\); "),
                           ((X + 1, y), r"\(the values of X differ\)"), ((X, 1 - y), r"\(the labels y differ\)")]:
        with pytest.raises(nr.NNRecipeError, match=rf"--resume: --out .* holds a run made from other data {differs}"
                                                   ".*; use a new --out, or --force"):
            Recipe(verbose=0, budget=BUDGET, out=out, resume=True).fit(*other)
    Recipe(verbose=0, budget=BUDGET, out=out, force=True).fit(X + 1, y)      # --force still replaces it


def test_resume_refuses_a_run_json_without_a_fingerprint(data, tmp_path):
    out = _run_folder(tmp_path, *data)
    record = json.loads((out / "run.json").read_text())
    del record["data"]["fingerprint"]                                        # as an older nnrecipe wrote it
    (out / "run.json").write_text(json.dumps(record))
    with pytest.raises(nr.NNRecipeError, match="records no fingerprint of its data .* use a new --out, or --force"):
        Recipe(verbose=0, budget=BUDGET, out=out, resume=True).fit(*data)


def test_copied_rows_are_a_leak_finding_at_the_users_line():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[200:230] = X[:30]                                              # 30 records copied: continuous columns
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fit(X, y)
    [leak] = [w for w in caught if issubclass(w.category, nr.LeakageWarning)]
    found = r.record_["data"]["duplicates"]
    assert found["dev"] + found["test"] > 0 and leak.filename == __file__       # the user's line, not the library's
    assert "duplicate training rows (chance alone gives about 0.0, at most 0)" in str(leak.message)
    assert f"WARNING, {leak.message}" in r.decisions_ and r.record_["warnings"] == [str(leak.message)]


def test_repeats_in_a_table_of_few_distinct_rows_are_chance_not_a_leak():
    rng = np.random.default_rng(0)
    X = np.tile(rng.normal(size=(20, 2)), (15, 1))                   # 20 distinct rows, each 15 times
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fit(X, y)
    assert not [w for w in caught if issubclass(w.category, nr.LeakageWarning)] and not r.record_["warnings"]
    assert r.record_["data"]["duplicates"] == {"dev": 60, "test": 60}
    assert "60 of 60 dev rows repeat a training row, as expected when the 180 training rows hold only 20 distinct " \
           "rows (chance alone gives about 60): not a leak" in r.decisions_


def test_model_files_give_the_labels_of_y(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    r = nr.Recipe(verbose=0, budget=400, out=tmp_path / "r").fit(X, y, features=["a", "b"])
    net = nr.load(tmp_path / "r" / "model.npz")
    assert net.classes.tolist() == ["no", "yes"] and net.features == ["a", "b"]
    np.testing.assert_array_equal(net.predict(X), r.predict(X))
    assert r.best_.classes is None                      # the network in memory still predicts indices


def test_the_match_check_names_the_users_columns_in_full():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    names = ["a rather long column name, longer than fifteen characters", "b", "c"]
    r = nr.Recipe(verbose=0, budget=50).fit(X, y, features=names)
    assert r.match_.feature_names == names and r.record_["match"]["feature_names"] == names
    assert sorted(f["name"] for f in r.record_["match"]["features"]) == sorted(names)
