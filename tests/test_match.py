import json
import types

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.data.match import Match, check_match, holm
from nnrecipe.errors import NNRecipeError


def mixed(rng, n, shift=0.0, probs=(0.4, 0.3, 0.2, 0.1), share=0.5):
    """n rows: 5 normal features (the third shifted by `shift` σ), a categorical column; binary y."""
    X = np.column_stack([rng.normal(size=(n, 5)), rng.choice(4, size=n, p=probs)])
    X[:, 2] += shift
    return X, (rng.random(n) < share).astype(int)


NAMES = ["a", "b", "c", "d", "e", "colour"]


def test_two_halves_of_one_shuffled_set_match():
    X, y = mixed(np.random.default_rng(0), 4000)
    m = check_match((X[:2000], y[:2000]), (X[2000:], y[2000:]), features=NAMES)
    assert isinstance(m, Match) and m.same and bool(m)
    assert m.verdict.startswith("same")
    assert m.worst_features == []
    assert {t.name: t.test for t in m.features} == {**dict.fromkeys(NAMES[:5], "ks"), "colour": "chi2"}
    assert m.label.test == "chi2" and m.label.name == "label"
    assert 0.4 < m.auc < 0.6 and m.n_a == m.n_b == 2000 and m.alpha == 0.05


def test_one_shifted_feature_is_found_first():
    rng = np.random.default_rng(1)
    (Xa, ya), (Xb, yb) = mixed(rng, 2000), mixed(rng, 2000, shift=0.3)
    m = check_match((Xa, ya), (Xb, yb), features=NAMES)
    assert not m.same
    assert m.verdict.startswith("different") and "'c'" in m.verdict
    assert m.worst_features[0] == "c"
    top = m.features[0]
    assert (top.name, top.test) == ("c", "ks") and top.p_adjusted < 1e-6 and top.statistic > 0.08
    # records are sorted most different first
    assert [t.p_adjusted for t in m.features] == sorted(t.p_adjusted for t in m.features)


def test_shifted_categorical_column_is_found_by_chi2():
    rng = np.random.default_rng(2)
    a = mixed(rng, 2000)
    b = mixed(rng, 2000, probs=(0.3, 0.3, 0.2, 0.2))
    m = check_match(a, b, features=NAMES)
    assert not m.same and m.worst_features[0] == "colour"
    assert m.features[0].test == "chi2" and m.features[0].p_adjusted < 1e-6
    assert "χ²" in m.verdict
    # named explicitly as categorical: same answer; as numeric (categorical=[]): a KS test instead
    assert check_match(a, b, features=NAMES, categorical=["colour"]).features[0].test == "chi2"
    assert check_match(a, b, categorical=5).features[0].test == "chi2"
    assert check_match(a, b, categorical=[], classifier=False).features[0].test == "ks"


def test_label_share_shift_is_found():
    rng = np.random.default_rng(3)
    m = check_match(mixed(rng, 2000, share=0.5), mixed(rng, 2000, share=0.6), classifier=False)
    assert not m.same and m.worst_features == []
    assert m.label.test == "chi2" and m.label.p_adjusted < 1e-6
    assert m.verdict.startswith("different") and "label" in m.verdict


def test_float_targets_use_ks():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 3))
    m = check_match((X[:500], rng.normal(size=500)), (X[500:], rng.normal(0.5, 1, size=500)), classifier=False)
    assert m.label.test == "ks" and not m.same


def test_joint_shift_only_the_domain_classifier_sees():
    """x0, x1 correlated +0.8 in a and −0.8 in b: every marginal is N(0, 1) in both sets."""
    rng = np.random.default_rng(5)
    n = 2000
    X = rng.normal(size=(2 * n, 4))
    X[:, 1] = 0.8 * X[:, 0] + 0.6 * X[:, 1]
    X[n:, 1] *= -1
    m = check_match(X[:n], X[n:])
    assert all(t.p_adjusted > 0.05 for t in m.features) and m.worst_features == []
    assert m.auc > 0.6 and m.auc_p_value < 1e-6
    assert not m.same
    assert m.verdict.startswith("different") and "domain classifier" in m.verdict
    assert m.label is None


def test_holm_known_values():
    # sorted p: 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])          # capped at 1
    np.testing.assert_allclose(holm([0.02]), [0.02])                  # one test: unchanged
    np.testing.assert_allclose(holm([0.01, 0.01, 0.2]), [0.03, 0.03, 0.2])


class LockedSubset:
    """Like split's locked test set: .X raises, peek hands the data over."""

    def __init__(self, X, y):
        self._data = (X, y)
        self.calls = 0

    @property
    def X(self):
        raise RuntimeError("the test set is locked")

    y = X

    def peek(self):
        self.calls += 1
        return self._data


def test_locked_subset_is_read_through_peek():
    X, y = mixed(np.random.default_rng(6), 600)
    locked = LockedSubset(X[300:], y[300:])
    dev = types.SimpleNamespace(X=X[:300], y=y[:300])          # a plain object with .X and .y
    m = check_match(dev, locked)
    assert locked.calls == 1 and m.n_b == 300
    plain = check_match((X[:300], y[:300]), (X[300:], y[300:]))   # the same data handed over openly
    assert m.label.test == "chi2" and m.to_dict() == plain.to_dict()
    m2 = check_match(X[:300], LockedSubset(X[300:], None), classifier=False)   # bare X; no labels
    assert m2.label is None


def test_same_seed_same_numbers_and_json():
    X, y = mixed(np.random.default_rng(7), 1200)
    a, b = (X[:600], y[:600]), (X[600:], y[600:])
    d1, d2 = check_match(a, b, seed=3).to_dict(), check_match(a, b, seed=3).to_dict()
    assert d1 == d2
    assert json.loads(json.dumps(d1)) == d1
    assert check_match(a, b, seed=4).auc != d1["auc"]
    assert check_match(a, b, max_rows=100).n_a == 600            # subsampled for the classifier only


def test_str_is_a_table():
    X, y = mixed(np.random.default_rng(8), 400)
    text = str(check_match((X[:200], y[:200]), (X[200:], y[200:]), features=NAMES))
    lines = text.splitlines()
    assert lines[0].startswith(("same", "different"))
    for name in [*NAMES, "label", "domain classifier"]:
        assert any(line[2:].startswith(name) for line in lines[2:]), name
    m = check_match(X[:200], X[200:], classifier=False)
    assert m.auc is None and m.auc_p_value is None and "domain" not in str(m) + m.verdict


@pytest.mark.parametrize("a, b, kwargs, message", [
    (np.zeros((20, 3)), np.zeros((20, 4)), {}, "(20, 3) and (20, 4)"),
    (np.zeros((5, 3)), np.zeros((20, 3)), {}, "at least 10 rows; got 5"),
    (np.zeros((20, 3)), np.full((20, 3), np.nan), {}, "finite"),
    (np.full((20, 3), np.inf), np.zeros((20, 3)), {}, "a (X) must be finite"),
    (np.zeros(20), np.zeros((20, 3)), {}, "2-D"),
    (np.array([["x"] * 3] * 20), np.zeros((20, 3)), {}, "numeric"),
    ((np.zeros((20, 3)), np.zeros(19)), np.zeros((20, 3)), {}, "the same length"),
    ((np.zeros((20, 3)), np.zeros((20, 2))), np.zeros((20, 3)), {}, "one target column"),
    ((np.zeros((20, 3)), [np.nan] * 20), np.zeros((20, 3)), {}, "finite"),
    (np.zeros((20, 3)), np.zeros((20, 3)), {"alpha": 0}, "alpha must be a number in (0, 1)"),
    (np.zeros((20, 3)), np.zeros((20, 3)), {"alpha": 1.5}, "alpha"),
    (np.zeros((20, 3)), np.zeros((20, 3)), {"max_rows": 5}, "max_rows must be an integer"),
    (np.zeros((20, 3)), np.zeros((20, 3)), {"categorical": [7]}, "categorical must be column indices"),
    (np.zeros((20, 3)), np.zeros((20, 3)), {"categorical": ["z"]}, "'z'"),
    (np.zeros((20, 3)), np.zeros((20, 3)), {"feature_names": ["p", "q"]}, "feature_names must be 3 names"),
])
def test_bad_input(a, b, kwargs, message):
    with pytest.raises(NNRecipeError) as info:
        check_match(a, b, **kwargs)
    assert message in str(info.value)


def test_labels_on_one_side_only_are_refused():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 2, 40)
    with pytest.raises(nr.NNRecipeError, match=r"a and b must be labels for both or for neither .* got labels for a only"):
        nr.check_match((X, y), X)
    with pytest.raises(nr.NNRecipeError, match="got labels for b only"):
        nr.check_match(X, (X, y))


LONG = ["bill_length_in_millimetres", "flipper_length_mm", "body_mass_g",
        "a_column_name_far_longer_than_the_forty_characters_of_a_row"]


def test_features_are_kept_whole_in_the_result_its_dict_and_its_table():
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(400, 4)), rng.integers(0, 2, 400)
    X[200:, 3] += 1.0                                   # the long-named column differs
    m = check_match((X[:200], y[:200]), (X[200:], y[200:]), features=LONG, classifier=False)
    assert m.feature_names == LONG and m.to_dict()["feature_names"] == LONG
    assert sorted(t.name for t in m.features) == sorted(LONG) and m.worst_features == [LONG[3]]
    assert f"'{LONG[3]}' differs most" in m.verdict
    text = str(m)
    for name in LONG:                                   # str cut names to 15 characters before
        assert any(line[2:] == name or line[2:].startswith(name + " ") for line in text.splitlines()), name
    lines = text.splitlines()
    top = lines.index(f"* {LONG[3]}")                   # longer than the column: a line of its own,
    numbers = lines[top + 1].split()                    # its test and numbers on the next
    assert lines[top + 1].startswith(" " * 20) and numbers[0] == "ks" and len(numbers) == 4
    assert json.loads(json.dumps(m.to_dict()))["feature_names"] == LONG


def test_feature_names_is_still_accepted_as_the_former_name():
    X = np.random.default_rng(10).normal(size=(100, 2))
    old = check_match(X[:50], X[50:], feature_names=["p", "q"], classifier=False)
    assert old.feature_names == ["p", "q"] and old.to_dict() == check_match(
        X[:50], X[50:], features=["p", "q"], classifier=False).to_dict()
    assert check_match(X[:50], X[50:], classifier=False).feature_names == ["x0", "x1"]
    with pytest.raises(NNRecipeError, match="feature_names must be left out when features is given"):
        check_match(X[:50], X[50:], features=["p", "q"], feature_names=["r", "s"])
    with pytest.raises(NNRecipeError, match="features must be 2 names"):
        check_match(X[:50], X[50:], features=["p"])


class Frame:
    """The part of a DataFrame check_match reads: .columns and the values as an array."""

    def __init__(self, values, columns):
        self.values, self.columns = np.asarray(values), list(columns)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self):
        return len(self.values)


def test_names_come_from_a_dataframe():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    a, b = Frame(X[:100], LONG[:3]), Frame(X[100:], LONG[:3])
    m = check_match((a, y[:100]), (b, y[100:]), classifier=False)
    assert m.feature_names == LONG[:3] and {t.name for t in m.features} == set(LONG[:3])
    assert check_match(a, X[100:], classifier=False).feature_names == LONG[:3]     # one frame is enough
    assert check_match(a, b, features=["p", "q", "r"], classifier=False).feature_names == ["p", "q", "r"]
    with pytest.raises(NNRecipeError, match="a and b must be DataFrames with the same columns in the same order"):
        check_match(a, Frame(X[100:], LONG[2::-1]), classifier=False)


def test_names_come_from_a_pandas_dataframe():
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(12).normal(size=(100, 2))
    m = check_match(pd.DataFrame(X[:50], columns=LONG[:2]), pd.DataFrame(X[50:], columns=LONG[:2]),
                    classifier=False)
    assert m.feature_names == LONG[:2]


def test_cli_check_match_shows_whole_column_names(tmp_path, capsys):
    from nnrecipe.cli import main
    from nnrecipe.data.io import write_data
    rng = np.random.default_rng(13)
    X, y = rng.normal(size=(400, 4)), rng.integers(0, 2, 400)
    write_data(tmp_path / "a.csv", X[:200], y[:200], LONG, "label")
    write_data(tmp_path / "b.csv", X[200:], y[200:], LONG, "label")
    assert main(["check-match", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--target", "label"]) == 0
    out = capsys.readouterr().out
    for name in LONG:
        assert f"  {name}" in out, name
    write_data(tmp_path / "c.csv", X[200:, ::-1], y[200:], LONG[::-1], "label")     # same columns, other order
    assert main(["check-match", str(tmp_path / "a.csv"), str(tmp_path / "c.csv"), "--target", "label"]) == 2
    assert "B must have the columns of A in the same order" in capsys.readouterr().err
