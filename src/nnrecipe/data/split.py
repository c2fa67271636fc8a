"""Train/dev/test splits sized for the data: stratified, group-aware, seeded, test set locked."""

import hashlib
import itertools
import math
import numbers
import warnings
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .._checks import as_rng
from ..errors import NNRecipeError, TestSetLocked, TestSetWarning, expect

SETS = ("train", "dev", "test")
Z95 = 1.959963984540054          # the standard normal's 97.5% quantile: a two-sided 95% interval

# The notes' table: the share of the data given to dev (and to test) at a few sizes. Between two
# rows the share moves on a straight line in (log n, log share); outside the table it is constant.
AUTO_SHARES = ((1e5, 0.20), (1e6, 0.01), (1e8, 0.0025))


def _half_width(p, n):
    """± of the 95% normal interval for an error rate p measured on n examples."""
    return Z95 * math.sqrt(p * (1 - p) / n) if n else math.inf


@dataclass(frozen=True)
class Sizes:
    """How many examples each set gets, why, and how precisely dev and test measure an error.

    `dev_interval` / `test_interval`: ± of the 95% interval for an error near `expected_error`.
    """
    train: int
    dev: int
    test: int
    reason: str
    expected_error: float = 0.1

    @property
    def counts(self):
        return (self.train, self.dev, self.test)

    @property
    def dev_interval(self):
        return _half_width(self.expected_error, self.dev)

    @property
    def test_interval(self):
        return _half_width(self.expected_error, self.test)

    def __str__(self):
        n = sum(self.counts)
        shares = "/".join(f"{100 * c / n:.4g}" for c in self.counts)
        return (f"train {self.train:,} · dev {self.dev:,} · test {self.test:,} ({shares}%): {self.reason}; "
                f"an error near {self.expected_error:.0%} is measured within ±{100 * self.dev_interval:.2f} "
                f"points on dev and ±{100 * self.test_interval:.2f} on test (95%)")


def _pct(share):
    return f"{100 * (1 - 2 * share):.3g}/{100 * share:.3g}/{100 * share:.3g}"


def auto_share(n):
    """(dev share, reason) for n examples, from AUTO_SHARES; test gets the same share."""
    first, last = AUTO_SHARES[0], AUTO_SHARES[-1]
    if n <= first[0]:
        return first[1], f"auto: n = {n:,} ≤ {first[0]:,.0f}, so {_pct(first[1])} (the notes' table)"
    if n >= last[0]:
        return last[1], f"auto: n = {n:,} ≥ {last[0]:,.0f}, so {_pct(last[1])} (the notes' table)"
    for (na, sa), (nb, sb) in itertools.pairwise(AUTO_SHARES):
        if n <= nb:
            t = (math.log(n) - math.log(na)) / (math.log(nb) - math.log(na))
            share = math.exp(math.log(sa) + t * (math.log(sb) - math.log(sa)))
            why = ("the notes' table" if n == nb else f"between the notes' {_pct(sa)} at {na:,.0f} and "
                   f"{_pct(sb)} at {nb:,.0f}, on a line in log n and log share")
            return share, f"auto: n = {n:,}, so {_pct(share)} ({why})"


def _largest_remainder(n, ratios):
    """Integer counts summing to n in the given proportions (Hamilton's method)."""
    ideal = np.asarray(ratios, dtype=np.float64) * n
    counts = np.floor(ideal).astype(np.int64)
    counts[np.argsort(-(ideal - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def split_sizes(n, ratios="auto", margin=None, expected_error=0.1):
    """Sizes (train, dev, test) for n examples, with the reason they were chosen.

    ratios : "auto" (the notes' table, smooth in log n), three shares summing to 1, or three
        counts summing to n.
    margin : instead of ratios, size dev and test so that an error near `expected_error` is
        measured within ± margin at 95% confidence; the rest goes to train.
    """
    expect(isinstance(n, numbers.Integral) and n >= 3, "n", "an integer ≥ 3 (one example per set)", repr(n))
    n = int(n)
    expect(isinstance(expected_error, numbers.Real) and 0 < expected_error < 1, "expected_error",
           "in (0, 1)", repr(expected_error))
    if margin is not None:
        expect(isinstance(margin, numbers.Real) and 0 < margin < 0.5, "margin", "in (0, 0.5)", repr(margin))
        # n_set = z²·p(1−p)/margin²: the normal interval for p on n_set examples is ± margin.
        each = math.ceil(Z95 ** 2 * expected_error * (1 - expected_error) / margin ** 2)
        if 2 * each >= n:
            raise NNRecipeError(f"margin={margin} at an error near {expected_error:.0%} needs {each:,} examples "
                                f"each for dev and test and some for train; got n = {n:,}. Use a larger "
                                "margin or ratios instead")
        reason = (f"margin ±{margin:g} at 95% confidence for an error near {expected_error:.0%} needs "
                  f"{each:,} examples each for dev and test; the other {n - 2 * each:,} go to train")
        counts = (n - 2 * each, each, each)
    elif isinstance(ratios, str):
        expect(ratios == "auto", "ratios", '"auto", three shares or three counts', repr(ratios))
        share, reason = auto_share(n)
        held = max(1, round(n * share))
        counts = (n - 2 * held, held, held)
    else:
        counts = _explicit_counts(n, ratios)
        reason = "explicit ratios" if any(isinstance(r, float) for r in ratios) else "explicit counts"
    counts = tuple(int(c) for c in counts)
    for name, c in zip(SETS, counts):
        if c < 1:
            raise NNRecipeError(f"the {name} set would be empty ({counts} of n = {n:,}); give it a larger share")
    return Sizes(*counts, reason=reason, expected_error=float(expected_error))


def _explicit_counts(n, ratios):
    try:
        r = np.asarray(ratios, dtype=np.float64)
    except (TypeError, ValueError):
        r = None
    expect(r is not None and r.shape == (3,) and np.isfinite(r).all() and (r >= 0).all(), "ratios",
           "three non-negative numbers (train, dev, test)", repr(ratios))
    if all(isinstance(v, numbers.Integral) for v in ratios):
        expect(r.sum() == n, "ratios", f"counts summing to n = {n:,}", f"{tuple(ratios)} (sum {int(r.sum()):,})")
        return r.astype(np.int64)
    expect(abs(r.sum() - 1) <= 1e-9, "ratios", "shares summing to 1", f"{tuple(ratios)} (sum {r.sum():g})")
    return _largest_remainder(n, r / r.sum())


def allocate(class_counts, sizes, one_each=False):
    """Per class, how many of its examples go to each set: (n_classes, n_sets) integers whose rows
    sum to class_counts and columns to sizes, each the floor or the ceiling of the exact proportion
    n_c·size_s/n (so exactly it when that is an integer).

    one_each : also give every class at least one example in every set when each class has at least
        n_sets examples and each set at least n_classes (else it changes nothing). The exception to
        the floor or ceiling: a class whose share of a set rounds to 0 gets 1 there, by a trade
        (see _one_each) that moves two of its cells and two of another class's by one each.
    """
    counts = np.asarray(class_counts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    product = counts[:, None] * sizes[None, :]                       # exact integers: n_c·size_s
    alloc, remainder = np.divmod(product, counts.sum())
    allowed = remainder > 0                                          # cells that may round up
    row_left, col_left = counts - alloc.sum(1), sizes - alloc.sum(0)
    # The leftover units form a 0/1 matrix on the allowed cells with these row and column sums; the
    # fractional parts are such a matrix with entries in [0, 1], so by flow integrality a 0/1 one
    # exists. Greedy first (each class takes the sets owed most), then augmenting paths for the rest.
    extra = np.zeros_like(alloc)
    for c in np.argsort(-row_left, kind="stable"):
        open_ = np.flatnonzero(allowed[c] & (col_left > 0))
        take = open_[np.lexsort((-remainder[c, open_], -col_left[open_]))][: row_left[c]]
        extra[c, take], col_left[take], row_left[c] = 1, col_left[take] - 1, row_left[c] - len(take)
    for c in np.flatnonzero(row_left):
        for _ in range(row_left[c]):
            _augment(c, extra, allowed, col_left)
    return _one_each(alloc + extra, product) if one_each else alloc + extra


def _one_each(alloc, product):
    """alloc with no zero cell, row and column sums kept, when every row sums to ≥ n_sets and every
    column to ≥ n_classes (else alloc as it is). Class c with no example in set s takes one there
    from the class d most above its exact share in s, and gives d one in the set t where c is most
    above its own share. Such a d and t hold ≥ 2 (column s has ≥ n_classes among n_classes − 1
    classes, row c ≥ n_sets among n_sets − 1 sets), so no cell falls to 0."""
    n_classes, n_sets = alloc.shape
    if (alloc.sum(1) < n_sets).any() or (alloc.sum(0) < n_classes).any():
        return alloc
    n = alloc.sum()
    for c, s in zip(*np.nonzero(alloc == 0)):
        if alloc[c, s]:                                              # filled by an earlier trade
            continue
        donors, sources = np.flatnonzero(alloc[:, s] >= 2), np.flatnonzero(alloc[c] >= 2)
        over = alloc * n - product                                   # n·(count − exact share), exact
        d, t = donors[np.argmax(over[donors, s])], sources[np.argmax(over[c, sources])]
        alloc[[c, d], [s, t]] += 1
        alloc[[c, d], [t, s]] -= 1
    return alloc


def _augment(c, extra, allowed, col_left):
    """Place one more unit of class c by a breadth-first search over sets for an augmenting path:
    c enters s₀, a class with a unit in s₀ moves it to s₁, …, until a set with room is reached."""
    came_from = {int(s): None for s in np.flatnonzero(allowed[c] & (extra[c] == 0))}
    frontier = deque(came_from)
    while frontier:
        s = frontier.popleft()
        if col_left[s] > 0:
            col_left[s] -= 1
            while came_from[s] is not None:            # walk back: each mover steps into the freed slot
                mover, previous = came_from[s]
                extra[mover, s], extra[mover, previous] = 1, 0
                s = previous
            extra[c, s] = 1
            return
        movers = np.flatnonzero(extra[:, s] == 1)
        for t in range(extra.shape[1]):
            if t not in came_from:
                ok = movers[allowed[movers, t] & (extra[movers, t] == 0)]
                if len(ok):
                    came_from[t] = (int(ok[0]), s)
                    frontier.append(t)
    raise AssertionError("allocate: no integral allocation exists (impossible for valid input)")


class Subset:
    """One of train, dev and test: `X` (n, ...), `y` (n,) or None, `index` (n,) rows of the
    original arrays in ascending order. The test subset refuses to be read until it is opened;
    `peek()` hands its (X, y) to checks on the data itself without opening it."""

    def __init__(self, name, X, y, index, split=None):
        self.name, self._X, self._y, self._index, self._split = name, X, y, index, split

    def _check(self):
        if self._split is not None and not self._split._test_opened:
            raise TestSetLocked("the test set is locked: use train and dev for every decision, then call "
                                "split.open_test(reason=...) once, for the final evaluation")

    @property
    def X(self):
        self._check()
        return self._X

    @property
    def y(self):
        self._check()
        return self._y

    @property
    def index(self):
        self._check()
        return self._index

    def peek(self):
        """(X, y) without opening a locked test set and without recording an opening: for checks on
        the data itself (dev/test distribution match, leakage, duplicates), never to evaluate a
        model. Train and dev give the same arrays as .X and .y."""
        return self._X, self._y

    def __len__(self):
        return len(self._index)

    def __iter__(self):          # X, y = s.train
        return iter((self.X, self.y))

    def __repr__(self):
        locked = self._split is not None and not self._split._test_opened
        return f"Subset({self.name!r}, n={len(self):,}{', locked' if locked else ''})"


class Split:
    """The result of `split`: `train`, `dev`, `test` (locked) Subsets, the `sizes` with their
    reason, and `test_openings`, a list of (UTC timestamp, reason) for every opening."""

    def __init__(self, X, y, assignment, sizes, stratified):
        index = [np.flatnonzero(assignment == k) for k in range(len(SETS))]
        take = (lambda a, i: None if a is None else a[i])
        self.train, self.dev = (Subset(name, X[i], take(y, i), i) for name, i in zip(SETS[:2], index))
        self.test = Subset("test", X[index[2]], take(y, index[2]), index[2], split=self)
        self.sizes, self.stratified, self.test_openings, self._test_opened = sizes, stratified, [], False

    def open_test(self, reason):
        """Unlock the test set for the final evaluation and record why; returns it. Opening it a
        second time warns: every look at the test set biases the error it reports."""
        expect(isinstance(reason, str) and reason.strip(), "reason", "a non-empty string saying why", repr(reason))
        if self.test_openings:
            first_time, first_reason = self.test_openings[0]
            warnings.warn(f"THE TEST SET IS BEING OPENED AGAIN (opening {len(self.test_openings) + 1}; first at "
                          f"{first_time} for {first_reason!r}). Decisions made after seeing test results "
                          "overfit the test set: its error is no longer an unbiased estimate.",
                          TestSetWarning, stacklevel=2)
        self.test_openings.append((datetime.now(UTC).isoformat(timespec="seconds"), reason))
        self._test_opened = True
        return self.test

    def __repr__(self):
        return f"Split({self.sizes})"


def _codes(values, name):
    """Integer codes (n,) and the number of distinct values, for labels or group ids."""
    try:
        uniques, codes = np.unique(np.asarray(values), return_inverse=True)
    except TypeError:
        raise NNRecipeError(f"{name} must hold values of one sortable type; got {type(values).__name__}") from None
    return codes.reshape(-1), len(uniques)


def _is_continuous(y):
    return y.dtype.kind == "f" and (not np.all(y == np.round(y)) or len(np.unique(y)) > 50)


def split(X, y=None, ratios="auto", stratify=True, groups=None, seed=0, margin=None, expected_error=0.1):
    """Split (X, y) into train, dev and test; returns a Split whose test set is locked.

    X : (n, ...) array; y : (n,) labels or values, or None; groups : (n,) ids, never split across sets.
    ratios, margin, expected_error : as in `split_sizes`.
    stratify : keep each class's share the same in every set (within one example), and give every
        class at least one example in every set when each set has at least as many examples as
        there are classes: a class of 3 gets 1/1/1, not 2/1/0, and the classes whose counts trade
        for it may then be more than one example off their share (`allocate`'s one_each). A
        continuous target is stratified on its quantiles (`quantile_bins`): every set gets its share
        of low, middle and high values.
    seed : an int, a SeedSequence or a Generator; the split uses its own stream.
    """
    X = np.asarray(X)
    expect(X.ndim >= 1 and len(X) >= 3, "X", "an array with at least 3 rows", f"shape {X.shape}")
    n = len(X)
    if y is not None:
        y = np.asarray(y)
        expect(y.ndim in (1, 2) and len(y) == n, "y", f"{n} rows like X", f"shape {y.shape}")
    expect(isinstance(stratify, bool), "stratify", "True or False", repr(stratify))
    sizes = split_sizes(n, ratios, margin, expected_error)
    rng = as_rng(seed)

    labels, class_counts, stratified = _strata(y, n, stratify, len(SETS))
    target = allocate(class_counts, sizes.counts, one_each=stratified)

    if groups is None:
        assignment = _assign_rows(labels, target, rng)
    else:
        groups = np.asarray(groups)
        expect(groups.shape == (n,), "groups", f"shape ({n},) like X's rows", f"shape {groups.shape}")
        assignment = _assign_groups(labels, groups, target, rng)
        counts = np.bincount(assignment, minlength=len(SETS))
        sizes = Sizes(*map(int, counts), reason=sizes.reason + "; group-aware, so sizes are approximate",
                      expected_error=sizes.expected_error)
    return Split(X, y, assignment, sizes, stratified)


def quantile_bins(values, n_sets=3, per_bin=5):
    """Bin codes (n,) of a continuous target by its quantiles: up to 10 bins of about equal size, each
    with at least per_bin·n_sets values (fewer bins on small data), so that stratifying on the bins
    gives every set its share of the target's range. Tied quantiles merge their bins."""
    values = np.asarray(values, dtype=np.float64)
    for q in range(min(10, len(values) // (per_bin * n_sets)), 1, -1):
        edges = np.quantile(values, np.linspace(0, 1, q + 1)[1:-1])
        codes, _ = _codes(np.searchsorted(edges, values, side="right"), "y")
        if np.bincount(codes).min() >= n_sets:
            return codes
    return np.zeros(len(values), dtype=np.int64)


def _strata(y, n, stratify, n_sets):
    """(class codes (n,), class counts, stratified?): one pseudo-class when not stratifying; the
    quantile bins of a continuous target."""
    column = None if y is None or y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)   # (n, 1) labels count
    if not (stratify and column is not None):
        return np.zeros(n, dtype=np.int64), np.array([n]), False
    if _is_continuous(column):
        labels = quantile_bins(column, n_sets)
        return labels, np.bincount(labels), True
    labels, n_classes = _codes(column, "y")
    class_counts = np.bincount(labels, minlength=n_classes)
    if class_counts.min() < n_sets:
        c = np.unique(column)[class_counts.argmin()].tolist()
        raise NNRecipeError(f"y: every class needs at least {n_sets} examples (one per set) to stratify; "
                            f"class {c!r} has {class_counts.min()}. Merge rare classes or pass stratify=False")
    return labels, class_counts, True


def split_dev(X, y, test, stratify=True, seed=0):
    """For data that comes with its own test set: (X, y) is cut into train and dev, and
    test = (X_test, y_test) becomes the locked test set. Dev gets the share of train + dev that
    `ratios="auto"` would give it for the whole data (a quarter up to 10⁵ examples)."""
    X, X_test = np.asarray(X), np.asarray(test[0])
    y, y_test = np.asarray(y), np.asarray(test[1])
    expect(len(X) >= 2 and len(y) == len(X), "X, y", "at least 2 rows of equal length", f"{len(X)} and {len(y)}")
    expect(len(X_test) >= 1 and len(y_test) == len(X_test) and X_test.shape[1:] == X.shape[1:], "test",
           f"(X_test, y_test) with rows like X {X.shape[1:]}", f"shapes {X_test.shape} and {y_test.shape}")
    share, _ = auto_share(len(X) + len(X_test))
    dev_share = share / (1 - share)                  # auto's dev : (train + dev)
    n_dev = min(len(X) - 1, max(1, round(len(X) * dev_share)))
    labels, class_counts, stratified = _strata(y, len(X), stratify, 2)
    target = allocate(class_counts, (len(X) - n_dev, n_dev), one_each=stratified)
    assignment = np.concatenate([_assign_rows(labels, target, as_rng(seed)), np.full(len(X_test), 2, np.int8)])
    sizes = Sizes(len(X) - n_dev, n_dev, len(X_test), reason=(
        f"the data's own test set ({len(X_test):,}); the rest cut {100 * (1 - dev_share):.3g}:"
        f"{100 * dev_share:.3g} into train and dev, as auto would"))
    return Split(np.concatenate([X, X_test]), np.concatenate([y, y_test]), assignment, sizes, stratified)


def _assign_rows(labels, target, rng):
    """Set codes (n,): within each class a random subset of the allocated size per set."""
    perm = rng.permutation(len(labels))
    order = perm[np.argsort(labels[perm], kind="stable")]           # grouped by class, random within
    codes = np.repeat(np.tile(np.arange(target.shape[1]), target.shape[0]), target.ravel())
    assignment = np.empty(len(labels), dtype=np.int8)
    assignment[order] = codes
    return assignment


def _assign_groups(labels, groups, target, rng):
    """Whole groups to sets, largest first, each to the set that brings the class counts closest
    to `target` (n_classes × n_sets) in squared error."""
    group_codes, n_groups = _codes(groups, "groups")
    if n_groups < len(SETS):
        raise NNRecipeError(f"groups: need at least {len(SETS)} distinct groups (one per set); got {n_groups}")
    per_group = np.zeros((n_groups, target.shape[0]), dtype=np.int64)
    np.add.at(per_group, (group_codes, labels), 1)
    order = rng.permutation(n_groups)
    order = order[np.argsort(-per_group[order].sum(1), kind="stable")]
    have = np.zeros(target.T.shape, dtype=np.int64)                  # (n_sets, n_classes)
    to_set = np.empty(n_groups, dtype=np.int8)
    for g in order:
        # ‖have_s + g − target_s‖² − ‖have_s − target_s‖² = ‖g‖² + 2·g·(have_s − target_s)
        s = int(np.argmin(per_group[g] @ (have - target.T).T))
        to_set[g], have[s] = s, have[s] + per_group[g]
    if (have.sum(1) == 0).any():
        empty = SETS[int(np.flatnonzero(have.sum(1) == 0)[0])]
        raise NNRecipeError(f"groups: the {empty} set received no group; there are too few groups "
                            f"({n_groups}) for these ratios")
    return to_set[group_codes]


def split_by_key(keys, ratios=(0.98, 0.01, 0.01), salt=""):
    """Set codes (n,) int8 (0 train, 1 dev, 2 test) from a hash of each key: a row's set depends only
    on its key and the salt, so it never changes when rows are added or reordered.

    keys : (n,) integers (hashed as 64-bit integers) or strings/other values (hashed as UTF-8 text).
    """
    expect(isinstance(salt, str), "salt", "a string", repr(salt))
    try:
        r = np.asarray(ratios, dtype=np.float64)
    except (TypeError, ValueError):
        r = np.zeros(0)
    expect(r.shape == (3,) and (r >= 0).all() and abs(r.sum() - 1) <= 1e-9, "ratios",
           "three shares (train, dev, test) summing to 1", repr(ratios))
    keys = np.asarray(keys)
    expect(keys.ndim == 1, "keys", "a 1-D array of ids", f"shape {keys.shape}")
    salt_int = int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "little")
    if keys.dtype.kind in "iub":
        u = _splitmix64(keys.astype(np.int64).view(np.uint64) ^ np.uint64(salt_int))
    else:
        key = hashlib.blake2b(salt.encode(), digest_size=32).digest()
        digest = (hashlib.blake2b(str(k).encode(), digest_size=8, key=key).digest() for k in keys)
        u = np.frombuffer(b"".join(digest), dtype="<u8").copy() if len(keys) else np.zeros(0, np.uint64)
    unit = (u >> np.uint64(11)).astype(np.float64) * 2.0 ** -53      # top 53 bits → [0, 1)
    return np.searchsorted(np.cumsum(r)[:-1], unit, side="right").astype(np.int8)


def _splitmix64(x):
    """SplitMix64's finalizer: a bijective mix of 64-bit integers whose outputs look uniform."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
