"""nr.split_sizes, nr.split (stratified, group-aware, locked test set), allocate and nr.split_by_key."""

import math
import warnings
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import nnrecipe as nr
from nnrecipe.data.split import allocate, auto_share, split_dev

prop = settings(max_examples=60, deadline=None, derandomize=True)
Z = norm.ppf(0.975)                     # 1.959963984540054…


def _data(n, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, 2, n)


def _opened(s):
    """The split's test subset, opened (the tests below look at every set)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nr.TestSetWarning)
        return s.open_test(reason="test-suite check")


# ------------------------------------------------------------------ split_sizes: the notes' table

@pytest.mark.parametrize("n, expected, share", [
    (1_000, (600, 200, 200), 0.20),
    (100_000, (60_000, 20_000, 20_000), 0.20),
    (1_000_000, (980_000, 10_000, 10_000), 0.01),
    (100_000_000, (99_500_000, 250_000, 250_000), 0.0025),
])
def test_auto_sizes_follow_the_table(n, expected, share):
    sizes = nr.split_sizes(n)
    assert isinstance(sizes, nr.Sizes)
    assert sizes.counts == expected == (sizes.train, sizes.dev, sizes.test)
    assert sum(sizes.counts) == n
    assert auto_share(n)[0] == pytest.approx(share, rel=1e-12)
    assert "the notes' table" in sizes.reason and sizes.reason.startswith("auto")


def test_auto_below_and_above_the_table_is_constant():
    assert nr.split_sizes(10).counts == (6, 2, 2)
    assert nr.split_sizes(50_000).counts == (30_000, 10_000, 10_000)
    assert nr.split_sizes(1_000_000_000).counts == (995_000_000, 2_500_000, 2_500_000)
    assert auto_share(10**10)[0] == 0.0025


def test_auto_in_between_reason_says_how():
    sizes = nr.split_sizes(300_000)
    assert "between the notes' 60/20/20 at 100,000 and 98/1/1 at 1,000,000" in sizes.reason
    assert "log n" in sizes.reason
    # worked by hand: t = log(3)/log(10); share = 0.2 · 0.05^t
    share = 0.2 * 0.05 ** (math.log(3) / math.log(10))
    assert auto_share(300_000)[0] == pytest.approx(share, rel=1e-12)
    assert abs(sizes.dev - share * 300_000) < 1 and abs(sizes.test - share * 300_000) < 1


def test_auto_midpoints_in_log_space_are_geometric_means():
    # halfway in log n between two rows, the share is the geometric mean of theirs
    assert auto_share(round(10**5.5))[0] == pytest.approx(math.sqrt(0.2 * 0.01), rel=1e-5)
    assert auto_share(10**7)[0] == pytest.approx(math.sqrt(0.01 * 0.0025), rel=1e-12)


@prop
@given(st.integers(100_000, 100_000_000), st.integers(100_000, 100_000_000))
def test_auto_share_is_between_its_neighbours_and_monotone(n1, n2):
    s1, _ = auto_share(n1)
    if 100_000 < n1 < 1_000_000:
        assert 0.01 < s1 < 0.2
    elif 1_000_000 < n1 < 100_000_000:
        assert 0.0025 < s1 < 0.01
    lo, hi = sorted((n1, n2))
    assert auto_share(lo)[0] >= auto_share(hi)[0]
    sizes = nr.split_sizes(n1)
    assert sum(sizes.counts) == n1 and abs(sizes.dev - sizes.test) <= 1
    assert abs(sizes.dev - s1 * n1) < 1 and abs(sizes.test - s1 * n1) < 1


@prop
@given(st.integers(3, 10**9))
def test_auto_sizes_always_sum_to_n(n):
    sizes = nr.split_sizes(n)
    assert sum(sizes.counts) == n and min(sizes.counts) >= 1
    assert sizes.dev == sizes.test                    # test gets the same share as dev


# ------------------------------------------------------------------ split_sizes: margin policy

def test_margin_one_point_at_ten_percent_needs_3458_per_set():
    # 1.96² · 0.1 · 0.9 / 0.01² = 3457.3 → 3458 ("about 3 500")
    assert math.ceil(1.96**2 * 0.1 * 0.9 / 0.01**2) == 3458
    sizes = nr.split_sizes(10_000, margin=0.01)
    assert sizes.counts == (10_000 - 2 * 3458, 3458, 3458)
    assert 3400 < sizes.dev < 3500
    assert "margin" in sizes.reason and "3,458" in sizes.reason and "95%" in sizes.reason
    assert "6,542" not in sizes.reason and "3,084" in sizes.reason
    # 3458 is the smallest size whose interval is within the margin
    assert sizes.dev_interval <= 0.01
    assert nr.Sizes(1, 3457, 3457, "by hand").dev_interval > 0.01


def test_margin_with_another_expected_error():
    # 1.96² · 0.05 · 0.95 / 0.02² = 456.2 → 457
    sizes = nr.split_sizes(2_000, margin=0.02, expected_error=0.05)
    assert sizes.counts == (2_000 - 2 * 457, 457, 457)
    assert sizes.expected_error == 0.05
    assert "5%" in sizes.reason


def test_margin_overrides_ratios():
    assert nr.split_sizes(10_000, ratios=(0.8, 0.1, 0.1), margin=0.01).dev == 3458


@pytest.mark.parametrize("n, p", [(1_000, 0.1), (1_000_000, 0.1), (10_000, 0.03), (500, 0.5)])
def test_intervals_are_the_normal_95_percent_half_width(n, p):
    sizes = nr.split_sizes(n, expected_error=p)
    assert sizes.dev_interval == pytest.approx(Z * math.sqrt(p * (1 - p) / sizes.dev), rel=1e-12)
    assert sizes.test_interval == pytest.approx(Z * math.sqrt(p * (1 - p) / sizes.test), rel=1e-12)
    assert sizes.dev_interval == pytest.approx(1.96 * math.sqrt(p * (1 - p) / sizes.dev), rel=1e-4)


def test_interval_known_value_and_str():
    sizes = nr.split_sizes(1_000)                 # 200 in dev: 1.96·sqrt(0.09/200) = 0.04158
    assert sizes.dev_interval == pytest.approx(0.0415779, abs=1e-6)
    text = str(sizes)
    assert "train 600 · dev 200 · test 200" in text and "±4.16" in text and "60/20/20%" in text


# ------------------------------------------------------------------ split_sizes: explicit ratios and counts

def test_explicit_ratios_and_counts():
    by_share = nr.split_sizes(1_000, ratios=(0.7, 0.15, 0.15))
    assert by_share.counts == (700, 150, 150) and by_share.reason == "explicit ratios"
    by_count = nr.split_sizes(1_000, ratios=(500, 300, 200))
    assert by_count.counts == (500, 300, 200) and by_count.reason == "explicit counts"
    assert nr.split_sizes(10, ratios=[0.5, 0.25, 0.25]).counts in ((5, 3, 2), (5, 2, 3))
    assert nr.split_sizes(10, ratios=np.array([4, 3, 3])).counts == (4, 3, 3)
    assert nr.split_sizes(np.int64(10), ratios=(4, 3, 3)).counts == (4, 3, 3)


@prop
@given(st.integers(100, 10**7), st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3))
def test_explicit_shares_round_to_within_one(n, raw):
    ratios = np.array(raw) / sum(raw)
    sizes = nr.split_sizes(n, ratios=tuple(float(r) for r in ratios))
    assert sum(sizes.counts) == n
    assert np.all(np.abs(np.array(sizes.counts) - ratios * n) < 1)


@prop
@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(1, 10**6))
def test_explicit_counts_are_kept(a, b, c):
    assert nr.split_sizes(a + b + c, ratios=(a, b, c)).counts == (a, b, c)


# ------------------------------------------------------------------ split_sizes: bad input

@pytest.mark.parametrize("kwargs, pattern", [
    ({"n": 10, "ratios": (0.5, 0.3, 0.3)}, r"ratios must be shares summing to 1; got \(0\.5, 0\.3, 0\.3\) \(sum 1\.1\)"),
    ({"n": 10, "ratios": (5, 3, 3)}, r"ratios must be counts summing to n = 10; got \(5, 3, 3\) \(sum 11\)"),
    ({"n": 3, "ratios": (0.98, 0.01, 0.01)}, r"the dev set would be empty \(\(3, 0, 0\) of n = 3\)"),
    ({"n": 10, "ratios": (0.5, 0.5, 0.0)}, r"the test set would be empty"),
    ({"n": 10, "ratios": (0.0, 0.5, 0.5)}, r"the train set would be empty"),
    ({"n": 10, "ratios": (10, 0, 0)}, r"the dev set would be empty"),
    ({"n": 100, "ratios": "bogus"}, r"ratios must be \"auto\", three shares or three counts; got 'bogus'"),
    ({"n": 100, "ratios": (0.5, 0.5)}, r"ratios must be three non-negative numbers"),
    ({"n": 100, "ratios": (0.25, 0.25, 0.25, 0.25)}, r"ratios must be three non-negative numbers"),
    ({"n": 100, "ratios": (1.2, -0.1, -0.1)}, r"ratios must be three non-negative numbers"),
    ({"n": 100, "ratios": (0.5, float("nan"), 0.5)}, r"ratios must be three non-negative numbers"),
    ({"n": 100, "ratios": ("a", "b", "c")}, r"ratios must be three non-negative numbers"),
    ({"n": 6_916, "margin": 0.01}, r"margin=0\.01 at an error near 10% needs 3,458 examples each .* got n = 6,916"),
    ({"n": 100, "margin": 0.01}, r"Use a larger margin or ratios instead"),
    ({"n": 100, "margin": 0}, r"margin must be in \(0, 0\.5\); got 0"),
    ({"n": 100, "margin": 0.5}, r"margin must be in \(0, 0\.5\); got 0\.5"),
    ({"n": 100, "margin": -0.1}, r"margin must be in \(0, 0\.5\)"),
    ({"n": 100, "margin": "1%"}, r"margin must be in \(0, 0\.5\); got '1%'"),
    ({"n": 100, "expected_error": 0}, r"expected_error must be in \(0, 1\); got 0"),
    ({"n": 100, "expected_error": 1.0}, r"expected_error must be in \(0, 1\); got 1\.0"),
    ({"n": 100, "expected_error": 1.5}, r"expected_error must be in \(0, 1\)"),
    ({"n": 100, "expected_error": None}, r"expected_error must be in \(0, 1\); got None"),
    ({"n": 2}, r"n must be an integer ≥ 3 \(one example per set\); got 2"),
    ({"n": 0}, r"n must be an integer ≥ 3"),
    ({"n": -5}, r"n must be an integer ≥ 3"),
    ({"n": 100.0}, r"n must be an integer ≥ 3 .*; got 100\.0"),
    ({"n": "100"}, r"n must be an integer ≥ 3"),
])
def test_split_sizes_rejects_bad_input(kwargs, pattern):
    with pytest.raises(nr.NNRecipeError, match=pattern) as err:
        nr.split_sizes(**kwargs)
    assert isinstance(err.value, ValueError)


def test_margin_just_large_enough_leaves_one_for_train():
    assert nr.split_sizes(6_917, margin=0.01).counts == (1, 3458, 3458)


def test_auto_with_three_examples_gives_one_per_set():
    # regression: ratios="auto" at n = 3 used to give (2, 1, 0) and raise "the test set would be empty"
    assert nr.split_sizes(3).counts == (1, 1, 1)
    assert nr.split_sizes(4).counts == (2, 1, 1)
    assert nr.split(np.arange(3.0)[:, None], seed=0).sizes.counts == (1, 1, 1)


# ------------------------------------------------------------------ allocate

def test_allocate_known_values():
    np.testing.assert_array_equal(allocate([50, 50], [60, 20, 20]), [[30, 10, 10], [30, 10, 10]])
    np.testing.assert_array_equal(allocate([90, 10], [60, 20, 20]), [[54, 18, 18], [6, 2, 2]])
    a = allocate([5, 5], [6, 2, 2])                       # 3 / 1 / 1 each, exactly
    np.testing.assert_array_equal(a, [[3, 1, 1], [3, 1, 1]])


@st.composite
def _counts_and_sizes(draw):
    counts = draw(st.lists(st.integers(0, 300), min_size=1, max_size=8))
    total = sum(counts)
    assume(total > 0)
    k = draw(st.integers(1, 5))
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=k - 1, max_size=k - 1)))
    sizes = np.diff([0, *cuts, total])
    return np.array(counts), sizes


@prop
@given(_counts_and_sizes())
def test_allocate_margins_and_proportions(cs):
    counts, sizes = cs
    alloc = allocate(counts, sizes)
    assert alloc.shape == (len(counts), len(sizes)) and alloc.dtype.kind == "i"
    assert (alloc >= 0).all()
    np.testing.assert_array_equal(alloc.sum(axis=1), counts)
    np.testing.assert_array_equal(alloc.sum(axis=0), sizes)
    ideal = counts[:, None] * sizes[None, :] / counts.sum()
    assert np.all(np.abs(alloc - ideal) < 1)
    # each cell is the floor or the ceiling of n_c·size_s/n, computed exactly in integers
    floor, rem = np.divmod(counts[:, None] * sizes[None, :], counts.sum())
    assert np.all((alloc == floor) | ((alloc == floor + 1) & (rem > 0)))


@prop
@given(_counts_and_sizes())
def test_allocate_one_each_fills_every_cell_it_can_and_keeps_the_margins(cs):
    counts, sizes = cs
    alloc = allocate(counts, sizes, one_each=True)
    assert (alloc >= 0).all()
    np.testing.assert_array_equal(alloc.sum(axis=1), counts)
    np.testing.assert_array_equal(alloc.sum(axis=0), sizes)
    plain = allocate(counts, sizes)
    if (counts >= len(sizes)).all() and (sizes >= len(counts)).all():
        assert (alloc >= 1).all()
    else:                                                  # not every cell can be filled: nothing changes
        np.testing.assert_array_equal(alloc, plain)
    if (plain > 0).all():                                  # nothing to fill: floor or ceiling, unchanged
        np.testing.assert_array_equal(alloc, plain)


def test_a_class_of_three_gets_one_example_in_every_set():
    # exact shares 1.8 / 0.6 / 0.6: floor or ceiling alone gave 2 / 1 / 0, no example of class 1 in test
    np.testing.assert_array_equal(allocate([97, 3], [60, 20, 20], one_each=True), [[59, 19, 19], [1, 1, 1]])
    y = np.r_[np.zeros(97, int), [1, 1, 1]]
    s = nr.split(np.random.default_rng(0).standard_normal((100, 2)), y, seed=0)
    assert [np.bincount(sub.y, minlength=2)[1] for sub in (s.train, s.dev, _opened(s))] == [1, 1, 1]
    t = split_dev(np.zeros((42, 2)), np.r_[np.zeros(40, int), [1, 1]], (np.zeros((5, 2)), np.zeros(5, int)))
    assert [np.bincount(sub.y, minlength=2)[1] for sub in (t.train, t.dev)] == [1, 1]


def test_allocate_rounds_every_cell_down_or_up():
    # regression: the greedy alone gave [[0, 1, 1], [0, 1, 1], [2, 1, 1]]: 2 where 4·2/8 = 1 exactly
    counts, sizes = np.array([2, 2, 4]), np.array([2, 3, 3])
    alloc = allocate(counts, sizes)
    ideal = counts[:, None] * sizes[None, :] / counts.sum()
    assert np.all((alloc == np.floor(ideal)) | (alloc == np.ceil(ideal))), alloc
    assert alloc[2, 0] == 1
    np.testing.assert_array_equal(alloc.sum(axis=1), counts)
    np.testing.assert_array_equal(alloc.sum(axis=0), sizes)


# ------------------------------------------------------------------ split: partition and stratification

def _check_partition(s, X, y, n):
    test = _opened(s)
    parts = [s.train.index, s.dev.index, test.index]
    for idx in parts:
        assert idx.ndim == 1 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n))
    for sub in (s.train, s.dev, test):
        np.testing.assert_array_equal(sub.X, X[sub.index])
        if y is None:
            assert sub.y is None
        else:
            np.testing.assert_array_equal(sub.y, y[sub.index])
    assert (len(s.train), len(s.dev), len(test)) == s.sizes.counts


def test_split_default_is_60_20_20_and_a_partition():
    X, y = _data(1_000)
    s = nr.split(X, y, seed=0)
    assert isinstance(s, nr.Split) and isinstance(s.train, nr.Subset)
    assert s.sizes.counts == (600, 200, 200) and s.stratified
    _check_partition(s, X, y, 1_000)
    Xt, yt = s.train                      # unpacks like a tuple
    np.testing.assert_array_equal(Xt, X[s.train.index])
    np.testing.assert_array_equal(yt, y[s.train.index])


@prop
@given(class_counts=st.lists(st.integers(3, 40), min_size=1, max_size=5), data=st.data())
def test_split_is_stratified_within_one_example(class_counts, data):
    counts = np.array(class_counts)
    n = int(counts.sum())
    t = data.draw(st.integers(1, n - 2), label="train")
    d = data.draw(st.integers(1, n - 1 - t), label="dev")
    sizes = (t, d, n - t - d)
    labels = np.random.default_rng(n).permutation(np.repeat(np.arange(len(counts)), counts))
    y = np.array(["cat", "dog", "emu", "fox", "gnu"])[labels] if data.draw(st.booleans()) else labels
    X = np.arange(n)[:, None] * 1.0
    s = nr.split(X, y, ratios=sizes, seed=data.draw(st.integers(0, 2**32 - 1), label="seed"))
    assert s.stratified
    _check_partition(s, X, y, n)
    got = np.array([[np.count_nonzero(sub.y == c) for sub in (s.train, s.dev, s.test)] for c in np.unique(y)])
    np.testing.assert_array_equal(got.sum(0), sizes)
    exact = counts[:, None] * np.array(sizes) / n
    if min(sizes) >= len(counts):                          # room for one example of each class per set
        assert (got >= 1).all()
    if min(sizes) < len(counts) or (exact >= 1).all():     # no trade for it: within one example
        np.testing.assert_array_less(np.abs(got - exact), 1)


def test_stratification_on_an_imbalanced_binary_label():
    y = np.array([1] * 100 + [0] * 900)
    X = np.arange(1_000.0)[:, None]
    s = nr.split(X, y, seed=3)
    test = _opened(s)
    assert [int(sub.y.sum()) for sub in (s.train, s.dev, test)] == [60, 20, 20]


def test_split_is_deterministic_per_seed_and_differs_across_seeds():
    X, y = _data(500)
    a, b, c = nr.split(X, y, seed=7), nr.split(X, y, seed=7), nr.split(X, y, seed=8)
    for name in ("train", "dev"):
        np.testing.assert_array_equal(getattr(a, name).index, getattr(b, name).index)
    np.testing.assert_array_equal(_opened(a).index, _opened(b).index)
    assert not np.array_equal(a.train.index, c.train.index)
    assert not np.array_equal(a.dev.index, c.dev.index)
    d = nr.split(X, y, seed=np.random.SeedSequence(7))
    np.testing.assert_array_equal(d.dev.index, a.dev.index)


def test_split_continuous_target_is_stratified_on_its_quantiles():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 2)), rng.lognormal(size=300)
    s = nr.split(X, y, seed=0)
    assert s.stratified
    _check_partition(s, X, y, 300)
    # each set holds its share (20% ± one row) of each tenth of the target's range
    deciles = np.quantile(y, np.linspace(0, 1, 11)[1:-1])
    for sub, share in ((s.train, 0.6), (s.dev, 0.2)):
        counts = np.bincount(np.searchsorted(deciles, sub.y, side="right"), minlength=10)
        assert np.all(np.abs(counts - share * 30) <= 1), counts
    assert not nr.split(X, y, seed=0, stratify=False).stratified
    # whole-number floats with few values are labels, and are stratified
    s2 = nr.split(X, (np.arange(300) % 3).astype(float), seed=0)
    assert s2.stratified
    assert np.count_nonzero(s2.dev.y == 2.0) == 20


@pytest.mark.parametrize("n, bins", [(30, 2), (45, 3), (150, 10), (1000, 10), (20, 1)])
def test_quantile_bins_keep_enough_values_per_bin(n, bins):
    from nnrecipe.data.split import quantile_bins
    codes = quantile_bins(np.random.default_rng(0).normal(size=n))
    assert codes.max() + 1 == bins and np.bincount(codes).min() >= (3 if bins > 1 else n)
    # ties merge: a target with 4 distinct values gives at most 4 bins
    assert quantile_bins(np.repeat([1.5, 2.5, 3.5, 4.5], 50)).max() + 1 <= 4


def test_split_without_stratification_on_request():
    X, y = _data(300)
    s = nr.split(X, y, stratify=False, seed=0)
    assert not s.stratified and s.sizes.counts == (180, 60, 60)
    _check_partition(s, X, y, 300)


def test_split_without_y():
    X, _ = _data(50)
    s = nr.split(X, seed=0)
    assert not s.stratified and s.train.y is None and s.dev.y is None
    _check_partition(s, X, None, 50)


def test_split_images():
    X = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    y = np.arange(40) % 2
    s = nr.split(X, y, seed=0)
    assert s.train.X.shape == (24, 8, 8) and s.dev.X.shape == (8, 8, 8)
    assert s.train.X.dtype == np.float32
    _check_partition(s, X, y, 40)


def test_split_with_margin_and_explicit_ratios():
    X = np.zeros((10_000, 1))
    assert nr.split(X, margin=0.01, seed=0).sizes.counts == (3_084, 3_458, 3_458)
    assert nr.split(X, ratios=(0.8, 0.1, 0.1), seed=0).sizes.counts == (8_000, 1_000, 1_000)
    assert nr.split(X[:100], ratios=(50, 25, 25), seed=0).sizes.counts == (50, 25, 25)


# ------------------------------------------------------------------ split: groups

@prop
@given(group_sizes=st.lists(st.integers(1, 6), min_size=8, max_size=60), data=st.data())
def test_groups_are_never_shared_between_sets(group_sizes, data):
    ids = np.repeat(np.arange(len(group_sizes)) * 7 + 100, group_sizes)
    n = len(ids)
    rng = np.random.default_rng(len(group_sizes))
    ids = rng.permutation(ids)
    X = np.arange(n, dtype=float)[:, None]
    try:
        s = nr.split(X, groups=ids, seed=data.draw(st.integers(0, 1000), label="seed"))
    except nr.NNRecipeError as exc:                       # too few groups for some set
        assert "received no group" in str(exc)
        assume(False)
    test = _opened(s)
    sets = [set(ids[sub.index]) for sub in (s.train, s.dev, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    np.testing.assert_array_equal(np.sort(np.concatenate([s.train.index, s.dev.index, test.index])),
                                  np.arange(n))
    assert s.sizes.counts == (len(s.train), len(s.dev), len(test))
    target = nr.split_sizes(n).counts
    assert all(abs(got - want) < 2 * max(group_sizes) for got, want in zip(s.sizes.counts, target))


def test_groups_sizes_follow_the_ratios():
    ids = np.random.default_rng(0).permutation(np.repeat(np.arange(200), 5))
    X, y = _data(1_000)
    s = nr.split(X, y, groups=ids, seed=0)
    for got, want in zip(s.sizes.counts, (600, 200, 200)):
        assert abs(got - want) <= 5
    assert "group-aware" in s.sizes.reason
    test = _opened(s)
    assert not set(ids[s.train.index]) & set(ids[test.index])
    assert not set(ids[s.dev.index]) & set(ids[test.index])


def test_groups_with_string_ids():
    ids = np.array([f"patient-{i % 30}" for i in range(300)])
    s = nr.split(np.zeros((300, 2)), groups=ids, seed=1)
    assert not set(ids[s.train.index]) & set(ids[s.dev.index])


# ------------------------------------------------------------------ split: bad input

def test_split_rejects_bad_input():
    X, y = _data(20)
    with pytest.raises(nr.NNRecipeError, match=r"y must be 20 rows like X; got shape \(19,\)"):
        nr.split(X, y[:-1])
    with pytest.raises(nr.NNRecipeError, match=r"y must be 20 rows like X; got shape \(20, 1, 1\)"):
        nr.split(X, y[:, None, None])
    y_rare = np.array([0] * 18 + [7] * 2)
    with pytest.raises(nr.NNRecipeError, match=r"every class needs at least 3 examples .* has 2\. .*stratify=False"):
        nr.split(X, y_rare)
    s = nr.split(X, y_rare, stratify=False, seed=0)         # the way out the message suggests
    assert sum(s.sizes.counts) == 20
    with pytest.raises(nr.NNRecipeError, match=r"groups must be shape \(20,\) like X's rows; got shape \(20, 1\)"):
        nr.split(X, groups=np.arange(20)[:, None])
    with pytest.raises(nr.NNRecipeError, match=r"groups must be shape \(20,\)"):
        nr.split(X, groups=np.arange(19))
    with pytest.raises(nr.NNRecipeError, match=r"groups: need at least 3 distinct groups \(one per set\); got 2"):
        nr.split(X, groups=np.arange(20) % 2)
    with pytest.raises(nr.NNRecipeError, match=r"groups: the test set received no group"):
        nr.split(X, groups=np.arange(20) % 3)
    with pytest.raises(nr.NNRecipeError, match=r"X must be an array with at least 3 rows; got shape \(2, 3\)"):
        nr.split(X[:2])
    with pytest.raises(nr.NNRecipeError, match=r"X must be an array with at least 3 rows; got shape \(\)"):
        nr.split(np.float64(1.0))
    with pytest.raises(nr.NNRecipeError, match=r"stratify must be True or False; got 'yes'"):
        nr.split(X, y, stratify="yes")
    with pytest.raises(nr.NNRecipeError, match=r"ratios must be three non-negative numbers"):
        nr.split(X, y, ratios=(0.5, 0.5))


def test_rare_class_message_names_the_label_plainly():
    X = np.zeros((20, 2))
    with pytest.raises(nr.NNRecipeError, match=r"class 7 has 2"):
        nr.split(X, np.array([0] * 18 + [7] * 2))


def test_split_accepts_a_generator_as_seed():
    X, y = _data(30)
    s = nr.split(X, y, seed=np.random.default_rng(0))
    assert sum(s.sizes.counts) == 30
    again = nr.split(X, y, seed=np.random.default_rng(0))
    np.testing.assert_array_equal(s.dev.index, again.dev.index)


def test_split_rejects_a_bad_seed_with_the_package_error():
    X, y = _data(30)
    for bad in ("abc", 1.5, -1, True):
        with pytest.raises(nr.NNRecipeError, match=r"seed must be"):
            nr.split(X, y, seed=bad)


def test_split_gives_an_exact_share_when_it_divides():
    # regression: 3 of the 4-example class went to test, where exactly 4·5/10 = 2 belong
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    s = nr.split(np.zeros((10, 1)), y, ratios=(2, 3, 5), seed=0)
    assert np.count_nonzero(_opened(s).y == 2) == 2


# ------------------------------------------------------------------ split: the locked test set

def test_test_set_is_locked_until_opened():
    X, y = _data(100)
    s = nr.split(X, y, seed=0)
    for attr in ("X", "y", "index"):
        with pytest.raises(nr.TestSetLocked, match=r"the test set is locked.*open_test\(reason=\.\.\.\)"):
            getattr(s.test, attr)
    with pytest.raises(nr.TestSetLocked):
        Xt, yt = s.test
    assert issubclass(nr.TestSetLocked, nr.NNRecipeError)
    assert len(s.test) == 20 and "locked" in repr(s.test)
    # train and dev are never locked
    assert s.train.X.shape == (60, 3) and s.dev.y.shape == (20,) and len(s.dev.index) == 20
    assert "locked" not in repr(s.dev)
    # the data itself can be checked without opening it
    Xt, yt = s.test.peek()
    assert Xt.shape == (20, 3) and yt.shape == (20,)
    assert s.test_openings == []
    with pytest.raises(nr.TestSetLocked):
        _ = s.test.X


@pytest.mark.parametrize("reason", ["", "   ", None, 3])
def test_open_test_needs_a_reason(reason):
    s = nr.split(*_data(30), seed=0)
    with pytest.raises(nr.NNRecipeError, match=r"reason must be a non-empty string saying why"):
        s.open_test(reason=reason)
    assert s.test_openings == []
    with pytest.raises(nr.TestSetLocked):
        _ = s.test.X


def test_open_test_records_every_opening_and_warns_the_second_time():
    X, y = _data(100)
    s = nr.split(X, y, seed=0)
    Xt_locked, yt_locked = s.test.peek()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # the first opening does not warn
        test = s.open_test(reason="final evaluation")
    assert test is s.test
    np.testing.assert_array_equal(test.X, X[test.index])
    np.testing.assert_array_equal(test.X, Xt_locked)
    np.testing.assert_array_equal(test.y, yt_locked)
    assert len(s.test_openings) == 1
    stamp, why = s.test_openings[0]
    assert why == "final evaluation"
    when = datetime.fromisoformat(stamp)
    assert when.utcoffset() == timedelta(0)
    assert "locked" not in repr(s.test)

    with pytest.warns(nr.TestSetWarning, match=r"OPENED AGAIN \(opening 2; first at .* for 'final evaluation'\)"):
        again = s.open_test(reason="one more look")
    assert again is s.test
    assert [r for _, r in s.test_openings] == ["final evaluation", "one more look"]
    with pytest.warns(nr.TestSetWarning, match=r"opening 3"):
        s.open_test(reason="and another")
    assert len(s.test_openings) == 3


def test_split_repr_mentions_the_sizes():
    s = nr.split(*_data(100), seed=0)
    assert "train 60 · dev 20 · test 20" in repr(s)


# ------------------------------------------------------------------ split_by_key

def test_split_by_key_codes():
    codes = nr.split_by_key(np.arange(1_000))
    assert codes.dtype == np.int8 and codes.shape == (1_000,)
    assert set(np.unique(codes)) <= {0, 1, 2}
    assert nr.split_by_key(np.arange(0)).shape == (0,)
    assert nr.split_by_key([]).shape == (0,)


@pytest.mark.parametrize("ratios", [(0.98, 0.01, 0.01), (0.6, 0.2, 0.2), (0.5, 0.0, 0.5)])
def test_split_by_key_shares_on_integer_keys(ratios):
    n = 100_000
    codes = nr.split_by_key(np.arange(n), ratios=ratios)
    shares = np.bincount(codes, minlength=3) / n
    assert np.all(np.abs(shares - ratios) < 0.01)
    # and within 5 standard errors of a binomial draw
    sd = np.sqrt(np.array(ratios) * (1 - np.array(ratios)) / n)
    assert np.all(np.abs(shares - ratios) <= 5 * sd + 1e-12)


def test_split_by_key_shares_on_string_keys():
    n = 50_000
    keys = np.array([f"user-{i:06d}" for i in range(n)])
    codes = nr.split_by_key(keys, ratios=(0.8, 0.1, 0.1))
    shares = np.bincount(codes, minlength=3) / n
    assert np.all(np.abs(shares - (0.8, 0.1, 0.1)) < 0.01)
    assert np.array_equal(codes, nr.split_by_key(list(keys), ratios=(0.8, 0.1, 0.1)))


def test_split_by_key_degenerate_ratios():
    keys = np.arange(1_000)
    assert (nr.split_by_key(keys, ratios=(1, 0, 0)) == 0).all()
    assert (nr.split_by_key(keys, ratios=(0, 0, 1)) == 2).all()
    assert (nr.split_by_key(keys, ratios=(0, 1, 0)) == 1).all()


def test_split_by_key_is_stable_when_rows_are_appended():
    first = np.arange(5_000) * 13 + 1
    more = np.arange(5_000, 20_000) * 13 + 1
    before = nr.split_by_key(first)
    after = nr.split_by_key(np.concatenate([first, more]))
    np.testing.assert_array_equal(after[:5_000], before)
    names = np.array([f"k{i}" for i in range(3_000)])
    np.testing.assert_array_equal(nr.split_by_key(np.concatenate([names, ["x", "y", "z"]]))[:3_000],
                                  nr.split_by_key(names))


@prop
@given(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=200), st.randoms(use_true_random=False))
def test_split_by_key_does_not_depend_on_row_order(keys, rnd):
    keys = np.array(keys, dtype=np.int64)
    perm = np.array(rnd.sample(range(len(keys)), len(keys)))
    ratios = (0.4, 0.3, 0.3)
    np.testing.assert_array_equal(nr.split_by_key(keys[perm], ratios), nr.split_by_key(keys, ratios)[perm])
    strs = keys.astype(str)
    np.testing.assert_array_equal(nr.split_by_key(strs[perm], ratios), nr.split_by_key(strs, ratios)[perm])


def test_split_by_key_integer_width_does_not_matter():
    keys = np.arange(-500, 500)
    ref = nr.split_by_key(keys.astype(np.int64))
    np.testing.assert_array_equal(nr.split_by_key(keys.astype(np.int32)), ref)
    np.testing.assert_array_equal(nr.split_by_key(keys.astype(np.int16)), ref)
    np.testing.assert_array_equal(nr.split_by_key(keys[500:].astype(np.uint32)), ref[500:])


def test_split_by_key_salt_changes_the_assignment_and_calls_are_deterministic():
    keys = np.arange(20_000)
    a, b = nr.split_by_key(keys, (0.6, 0.2, 0.2)), nr.split_by_key(keys, (0.6, 0.2, 0.2))
    np.testing.assert_array_equal(a, b)
    c = nr.split_by_key(keys, (0.6, 0.2, 0.2), salt="experiment-2")
    np.testing.assert_array_equal(c, nr.split_by_key(keys, (0.6, 0.2, 0.2), salt="experiment-2"))
    # independent assignments agree on a row with probability Σ r² = 0.44
    assert 0.40 < np.mean(a == c) < 0.48
    strs = keys.astype(str)
    assert 0.40 < np.mean(nr.split_by_key(strs, (0.6, 0.2, 0.2))
                          == nr.split_by_key(strs, (0.6, 0.2, 0.2), salt="s")) < 0.48


@pytest.mark.parametrize("kwargs, pattern", [
    ({"ratios": (0.5, 0.5)}, r"ratios must be three shares \(train, dev, test\) summing to 1; got \(0\.5, 0\.5\)"),
    ({"ratios": (0.5, 0.3, 0.3)}, r"ratios must be three shares .* summing to 1"),
    ({"ratios": (1.2, -0.1, -0.1)}, r"ratios must be three shares"),
    ({"ratios": "bogus"}, r"ratios must be three shares .*; got 'bogus'"),
    ({"ratios": (98, 1, 1)}, r"ratios must be three shares"),
    ({"salt": 1}, r"salt must be a string; got 1"),
    ({"salt": b"x"}, r"salt must be a string; got b'x'"),
    ({"keys": np.zeros((3, 2))}, r"keys must be a 1-D array of ids; got shape \(3, 2\)"),
    ({"keys": np.int64(5)}, r"keys must be a 1-D array of ids; got shape \(\)"),
])
def test_split_by_key_rejects_bad_input(kwargs, pattern):
    args = {"keys": np.arange(10)} | kwargs
    with pytest.raises(nr.NNRecipeError, match=pattern):
        nr.split_by_key(args.pop("keys"), **args)
