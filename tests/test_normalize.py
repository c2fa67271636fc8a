"""nr.Standardizer (fit, partial_fit, transform, inverse_transform, state) and its leakage report."""

import io
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

import nnrecipe as nr
from nnrecipe.data import normalize
from nnrecipe.data.normalize import _row_hash, rows_in

prop = settings(max_examples=60, deadline=None, derandomize=True)


def _table(n=400, dtype=np.float64, seed=0):
    """Features on different scales and offsets, plus a constant column (exactly representable)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=[5.0, -2.0, 0.0, 100.0], scale=[3.0, 0.01, 1.0, 20.0], size=(n, 4))
    return np.column_stack([X, np.full(n, 0.5)]).astype(dtype)




# ------------------------------------------------------------------ against scikit-learn

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_transform_inverse_match_standard_scaler(dtype):
    X = _table(dtype=dtype)
    ours, theirs = nr.Standardizer().fit(X), StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-6, atol=1e-6)
    assert ours.n_samples_seen_ == theirs.n_samples_seen_ == len(X)
    Z = ours.transform(X)
    assert Z.dtype == dtype and Z.shape == X.shape
    # sklearn transforms float32 in float32 arithmetic ((x − μ) rounded before ÷ σ, up to 1e-5 off on a
    # column with σ = 0.01); the oracle is its statistics applied in float64 to the same values.
    np.testing.assert_allclose(Z, theirs.transform(X.astype(np.float64)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(Z, theirs.transform(X), rtol=1e-6, atol=1e-6 if dtype == np.float64 else 5e-5)
    # the constant column is only centred (scale 1, like sklearn): all zeros
    assert ours.var_[-1] == 0 and ours.scale_[-1] == 1.0
    np.testing.assert_array_equal(Z[:, -1], 0.0)
    # each standardized column has mean 0 and (non-constant) variance 1
    np.testing.assert_allclose(Z.mean(axis=0, dtype=np.float64), 0, atol=1e-5)
    np.testing.assert_allclose(Z[:, :-1].var(axis=0, dtype=np.float64), 1, rtol=1e-5)
    Z64 = np.random.default_rng(1).normal(size=(50, 5))
    np.testing.assert_allclose(ours.inverse_transform(Z64), theirs.inverse_transform(Z64), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.inverse_transform(Z), X, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ours.fit_transform(X), Z, rtol=1e-6, atol=1e-6)


def test_known_values_by_hand():
    X = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [6.0, 10.0]])
    sc = nr.Standardizer().fit(X)
    np.testing.assert_allclose(sc.mean_, [3.0, 10.0])
    np.testing.assert_allclose(sc.var_, [3.5, 0.0])             # (4 + 1 + 0 + 9) / 4
    np.testing.assert_allclose(sc.transform([[3.0 + 2 * np.sqrt(3.5), 12.0]]), [[2.0, 2.0]])
    np.testing.assert_allclose(sc.inverse_transform([[0.0, 0.0]]), [[3.0, 10.0]])
    # integer input is standardized in float64
    Zi = sc.transform(np.array([[3, 10]]))
    assert Zi.dtype == np.float64
    np.testing.assert_array_equal(Zi, [[0.0, 0.0]])


@pytest.mark.parametrize("value", [0.5, -3.0, 0.0, 1024.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exactly_constant_column_is_only_centred(value, dtype):
    X = np.column_stack([np.linspace(0, 1, 300), np.full(300, value)]).astype(dtype)
    sc = nr.Standardizer().fit(X)
    assert sc.var_[1] == 0 and sc.scale_[1] == 1.0
    np.testing.assert_array_equal(sc.transform(X)[:, 1], 0.0)
    np.testing.assert_allclose(sc.transform(X), StandardScaler().fit_transform(X), atol=1e-6)


@pytest.mark.parametrize("value", [0.1, 3.7, 1e6 + 0.3])
def test_float32_constant_column_with_any_value_is_only_centred(value):
    X = np.full((1_000, 1), value, np.float32)
    np.testing.assert_array_equal(nr.Standardizer().fit(X).transform(X), 0.0)


@pytest.mark.parametrize("value", [0.1, 3.7, 1e6 + 0.3])
def test_float64_constant_column_with_round_off_is_only_centred(value):
    X = np.full((1_000, 1), value)
    sc, sk = nr.Standardizer().fit(X), StandardScaler().fit(X)
    np.testing.assert_allclose(sc.transform(X), sk.transform(X), atol=1e-6)


# ------------------------------------------------------------------ partial_fit

@prop
@given(st.lists(st.integers(1, 299), max_size=12, unique=True))
def test_partial_fit_over_chunks_equals_fit(cuts):
    X = _table(300, seed=2)[:, :4]
    bounds = [0, *sorted(cuts), 300]
    chunked, sk = nr.Standardizer(), StandardScaler()
    for a, b in itertools.pairwise(bounds):
        assert chunked.partial_fit(X[a:b]) is chunked
        sk.partial_fit(X[a:b])
    whole = nr.Standardizer().fit(X)
    assert chunked.n_samples_seen_ == 300
    np.testing.assert_allclose(chunked.mean_, whole.mean_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(chunked.var_, whole.var_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(chunked.transform(X), whole.transform(X), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(chunked.mean_, sk.mean_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(chunked.var_, sk.var_, rtol=1e-9, atol=1e-9)


def test_partial_fit_on_float32_chunks_matches_sklearn():
    X = _table(600, np.float32, seed=4)
    ours, theirs = nr.Standardizer(), StandardScaler()
    for chunk in np.array_split(X, 7):
        ours.partial_fit(chunk)
        theirs.partial_fit(chunk)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_partial_fit_single_rows_with_a_large_offset():
    # one row at a time, far from the origin: the merge stays accurate
    X = 1e6 + np.random.default_rng(5).normal(size=(500, 2))
    sc = nr.Standardizer()
    for row in X:
        sc.partial_fit(row[None, :])
    np.testing.assert_allclose(sc.var_, X.var(axis=0), rtol=1e-8)
    np.testing.assert_allclose(sc.mean_, X.mean(axis=0), rtol=1e-12)


def test_fit_resets_earlier_partial_fit_state():
    A, B = _table(100, seed=6), _table(80, seed=7) * 2 + 1
    sc = nr.Standardizer()
    sc.partial_fit(A)
    with pytest.warns(nr.LeakageWarning):
        sc.partial_fit(A[:10], held_out=A[:3])
    assert sc.leakage_ == {"held_out[0]": 3}
    sc.fit(B)
    fresh = nr.Standardizer().fit(B)
    assert sc.n_samples_seen_ == 80 and sc.leakage_ == {}
    np.testing.assert_array_equal(sc.mean_, fresh.mean_)
    np.testing.assert_array_equal(sc.var_, fresh.var_)
    np.testing.assert_array_equal(sc.scale_, fresh.scale_)


def test_transform_and_fit_never_modify_their_input():
    for dtype in (np.float32, np.float64):
        X = _table(dtype=dtype)
        before = X.copy()
        sc = nr.Standardizer().fit(X)
        sc.partial_fit(X)
        Z = sc.transform(X)
        assert not np.shares_memory(Z, X)
        back = sc.inverse_transform(Z)
        assert not np.shares_memory(back, Z)
        np.testing.assert_array_equal(X, before)
        Z_before = Z.copy()
        sc.inverse_transform(Z)
        np.testing.assert_array_equal(Z, Z_before)


# ------------------------------------------------------------------ bad input

def test_bad_input_raises_the_package_error():
    X = _table()
    sc = nr.Standardizer()
    with pytest.raises(nr.NNRecipeError, match=r"the Standardizer is not fitted: call fit\(X_train\) first"):
        sc.transform(X)
    with pytest.raises(nr.NNRecipeError, match=r"not fitted"):
        sc.inverse_transform(X)
    sc.fit(X)
    with pytest.raises(nr.NNRecipeError, match=r"X must have 5 columns \(as in fit\); got 4"):
        sc.transform(X[:, :4])
    with pytest.raises(nr.NNRecipeError, match=r"X must have 5 columns \(as in fit\); got 6"):
        sc.inverse_transform(np.zeros((2, 6)))
    with pytest.raises(nr.NNRecipeError, match=r"X must have 5 columns \(as in earlier chunks\); got 3"):
        sc.partial_fit(X[:, :3])
    with pytest.raises(nr.NNRecipeError, match=r"X must be 2-D"):
        nr.Standardizer().fit(X[:, 0])
    with pytest.raises(nr.NNRecipeError, match=r"X must be non-empty"):
        nr.Standardizer().fit(X[:0])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(nr.NNRecipeError, match=r"X must be finite; got nan at row 3, column 2"):
        nr.Standardizer().fit(bad)
    with pytest.raises(nr.NNRecipeError, match=r"X must be numeric"):
        nr.Standardizer().fit(np.array([["a", "b"]]))
    with pytest.raises(nr.NNRecipeError, match=r"held-out rows must have 5 columns like X"):
        nr.Standardizer().fit(X, held_out=np.zeros((3, 2)))


# ------------------------------------------------------------------ state

def test_state_round_trip():
    X = _table()
    sc = nr.Standardizer().fit(X)
    state = sc.state()
    assert set(state) == {"mean", "var", "n_samples_seen"}
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as saved:
        back = nr.Standardizer.from_state(dict(saved), n_features=5)
    np.testing.assert_array_equal(back.mean_, sc.mean_)
    np.testing.assert_array_equal(back.var_, sc.var_)
    np.testing.assert_array_equal(back.scale_, sc.scale_)
    assert back.n_samples_seen_ == 400
    np.testing.assert_array_equal(back.transform(X), sc.transform(X))
    np.testing.assert_array_equal(back.inverse_transform(X), sc.inverse_transform(X))
    # a restored standardizer keeps learning like the original
    more = _table(50, seed=9)
    np.testing.assert_allclose(back.partial_fit(more).var_, sc.partial_fit(more).var_, rtol=1e-12)


@pytest.mark.parametrize("state, pattern", [
    ({"mean": np.zeros(3), "var": np.ones(3)}, r"normalizer statistics are malformed"),
    ({"mean": np.zeros(3), "var": np.ones(3), "n_samples_seen": "many"}, r"malformed"),
    ({"mean": np.zeros(2), "var": np.ones(3), "n_samples_seen": 5}, r"shape \(3,\) with var ≥ 0; got shapes \(2,\)"),
    ({"mean": np.zeros(3), "var": -np.ones(3), "n_samples_seen": 5}, r"var ≥ 0"),
    ({"mean": np.array([0, np.nan, 0]), "var": np.ones(3), "n_samples_seen": 5}, r"must be finite arrays"),
    ({"mean": np.zeros(3), "var": np.array([1, np.inf, 1]), "n_samples_seen": 5}, r"must be finite arrays"),
])
def test_from_state_rejects_malformed_statistics(state, pattern):
    with pytest.raises(nr.NNRecipeError, match=pattern):
        nr.Standardizer.from_state(state, n_features=3)


def test_restored_standardizer_reports_leakage():
    X = _table()
    back = nr.Standardizer.from_state(nr.Standardizer().fit(X).state(), n_features=5)
    with pytest.warns(nr.LeakageWarning):
        back.partial_fit(X[:20], held_out=X[:5])
    assert back.leakage_ == {"held_out[0]": 5}


# ------------------------------------------------------------------ leakage report

def _split():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(500, 4)), rng.integers(0, 2, 500)
    return X, nr.split(X, y, seed=0)


def test_fitting_on_train_reports_no_leakage():
    _, s = _split()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sc = nr.Standardizer().fit(s.train.X, held_out=s)
    assert sc.leakage_ == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nr.Standardizer().fit(s.train.X, held_out=[s.dev, s.test])
    # comparing rows is not evaluating: the test set stays locked
    assert s.test_openings == []
    with pytest.raises(nr.TestSetLocked):
        _ = s.test.X


def test_fitting_on_everything_reports_dev_and_test_rows():
    X, s = _split()
    with pytest.warns(nr.LeakageWarning, match=r"100 rows in dev, 100 rows in test") as rec:
        sc = nr.Standardizer().fit(X, held_out=s)
    assert sc.leakage_ == {"dev": len(s.dev), "test": len(s.test)} == {"dev": 100, "test": 100}
    assert "split.train.X" in str(rec[0].message)
    assert s.test_openings == []
    # still a correct fit of X
    np.testing.assert_allclose(sc.mean_, X.mean(axis=0), rtol=1e-12)


def test_partial_fit_leakage_warning_points_at_the_caller():
    X, s = _split()
    with pytest.warns(nr.LeakageWarning) as rec:
        nr.Standardizer().partial_fit(X, held_out=s)
    assert rec[0].filename == __file__


def test_fit_leakage_warning_points_at_the_caller():
    X, s = _split()
    with pytest.warns(nr.LeakageWarning) as rec:
        nr.Standardizer().fit(X, held_out=s)
    assert rec[0].filename == __file__


def test_held_out_may_be_a_subset_an_array_or_a_list():
    X, s = _split()
    with pytest.warns(nr.LeakageWarning):
        assert nr.Standardizer().fit(X, held_out=s.dev).leakage_ == {"dev": 100}
    with pytest.warns(nr.LeakageWarning):
        assert nr.Standardizer().fit(X, held_out=s.test).leakage_ == {"test": 100}
    with pytest.warns(nr.LeakageWarning, match=r"7 rows in held_out\[0\]"):
        assert nr.Standardizer().fit(X, held_out=X[10:17]).leakage_ == {"held_out[0]": 7}
    with pytest.warns(nr.LeakageWarning):
        sc = nr.Standardizer().fit(X, held_out=[s.dev, X[:3], np.zeros((2, 4))])
    assert sc.leakage_ == {"dev": 100, "held_out[1]": 3}
    with pytest.warns(nr.LeakageWarning):
        assert nr.Standardizer().fit(X, held_out=(s.dev, s.test)).leakage_ == {"dev": 100, "test": 100}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nr.Standardizer().fit(X, held_out=X[:5] + 1e-9).leakage_ == {}


def test_leakage_accumulates_over_partial_fit_chunks():
    X, s = _split()
    sc = nr.Standardizer()
    for chunk in np.array_split(X, 6):
        with pytest.warns(nr.LeakageWarning):
            sc.partial_fit(chunk, held_out=s)
    assert sc.leakage_ == {"dev": 100, "test": 100}


def test_leakage_counts_rows_of_the_fitted_data():
    # duplicated training rows are each counted
    rows = np.array([[1.0, 2.0], [3.0, 4.0]])
    X = np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 6.0], [3.0, 4.0]])
    with pytest.warns(nr.LeakageWarning):
        assert nr.Standardizer().fit(X, held_out=rows).leakage_ == {"held_out[0]": 3}


# ------------------------------------------------------------------ rows_in

def test_rows_in_known_values():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [2.0, 1.0]])
    np.testing.assert_array_equal(rows_in(X, [[5.0, 6.0], [1.0, 2.0], [9.0, 9.0]]), [True, False, True, False])
    assert rows_in(X, np.zeros((0, 2))).tolist() == [False] * 4
    assert rows_in(X[:0], [[1.0, 2.0]]).shape == (0,)
    # the same numbers in another dtype are the same row
    np.testing.assert_array_equal(rows_in(np.array([[1, 2], [7, 8]]), [[1.0, 2.0]]), [True, False])
    np.testing.assert_array_equal(rows_in(X.astype(np.float32), X[1:2]), [False, True, False, False])
    # a value that differs in the last bit is not the same row
    assert not rows_in([[0.1, 0.2]], [[np.nextafter(0.1, 1), 0.2]]).any()
    # images are compared as flattened rows
    imgs = np.arange(24.0).reshape(3, 2, 4)
    np.testing.assert_array_equal(rows_in(imgs, imgs[[2]]), [False, False, True])


def test_rows_in_treats_negative_zero_as_zero():
    assert rows_in([[-0.0, 1.0]], [[0.0, 1.0]]).tolist() == [True]
    assert rows_in([[0.0, -0.0]], [[-0.0, 0.0]]).tolist() == [True]
    assert rows_in([[0.0, 1.0]], [[-0.0, 1.0]]).tolist() == [True]


def test_rows_in_rejects_a_column_mismatch():
    with pytest.raises(nr.NNRecipeError, match=r"held-out rows must have 2 columns like X; got shape \(1, 3\)"):
        rows_in([[1.0, 2.0]], [[1.0, 2.0, 3.0]])


def test_rows_in_confirms_hash_hits_exactly(monkeypatch):
    # every row hashes alike: only the exact comparison can tell rows apart
    monkeypatch.setattr(normalize, "_row_hash", lambda A: np.zeros(len(A), dtype=np.uint64))
    X = np.array([[1.0, 2.0], [3.0, 4.0], [-0.0, 5.0]])
    np.testing.assert_array_equal(rows_in(X, [[3.0, 4.0], [0.0, 5.0]]), [False, True, True])
    assert not rows_in(X, [[9.0, 9.0]]).any()


def test_a_real_hash_collision_is_not_reported():
    # The hash is Σ_j bits(x_j)·c_j mod 2⁶⁴. Read c_j off rows whose bit patterns are unit vectors,
    # then build y ≠ x with the same hash: bits(y) = bits(x) + (c_2, −c_1).
    tiny = np.array([1], dtype=np.uint64).view(np.float64)[0]      # bit pattern 1
    c1, c2 = (int(h) for h in _row_hash(np.array([[tiny, 0.0], [0.0, tiny]])))
    for start in np.linspace(0.5, 50.0, 200):
        u = np.array([start, start + 1.0]).view(np.uint64)
        v = np.array([(int(u[0]) + c2) % 2**64, (int(u[1]) - c1) % 2**64], dtype=np.uint64)
        y = v.view(np.float64)
        if np.isfinite(y).all() and not (v == np.uint64(2**63)).any():
            break
    else:
        pytest.fail("no finite colliding pair found")
    x = u.view(np.float64)
    assert not np.array_equal(x, y)
    hx, hy = _row_hash(np.array([x, y]))
    assert hx == hy                                             # a genuine collision
    assert rows_in(x[None, :], y[None, :]).tolist() == [False]
    assert rows_in(np.array([x, y]), y[None, :]).tolist() == [False, True]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nr.Standardizer().fit(x[None, :], held_out=y[None, :]).leakage_ == {}


@prop
@given(st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=1, max_size=30),
       st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=1, max_size=30))
def test_rows_in_matches_a_set_of_tuples(xs, rs):
    expected = [x in set(rs) for x in xs]
    assert rows_in(np.array(xs, float) / 2, np.array(rs, float) / 2).tolist() == expected
