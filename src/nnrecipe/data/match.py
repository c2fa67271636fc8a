"""Do two data sets (dev and test; train and dev) come from one distribution?

Per-feature two-sample tests (Kolmogorov–Smirnov for numeric columns, χ² of homogeneity for
categorical ones), the same test on the label, and a domain classifier that tries to tell the
sets apart (it sees shifts that only a combination of features reveals). All p-values go through
one Holm–Bonferroni correction; the sets "match" when no hypothesis is rejected.
"""

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .._checks import as_rows, as_targets
from ..engine.network import mlp
from ..errors import expect
from ..training.fit import fit
from .normalize import Standardizer

MIN_ROWS = 10          # fewer rows per set and no test has any power
MAX_CATEGORIES = 20    # integer-valued columns with at most this many values count as categorical
NAME_WIDTH = 40        # str(Match): a longer column name gets a line of its own (names are never cut)


@dataclass(frozen=True)
class Test:
    """One two-sample test: test is "ks" (statistic D) or "chi2" (statistic χ²)."""
    name: str
    test: str
    statistic: float
    p_value: float
    p_adjusted: float = math.nan

    def to_dict(self):
        return asdict(self)


def holm(p_values):
    """Holm–Bonferroni adjusted p-values, in the order given.

    Sort p ascending: p₍₁₎ ≤ … ≤ p₍ₘ₎. Step-down: H₍ᵢ₎ is rejected at level α iff
    (m − j + 1)·p₍ⱼ₎ ≤ α for every j ≤ i. So the adjusted value is
    p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎), and "reject iff p̃ ≤ α" is Holm's rule;
    it controls the family-wise error rate at α under any dependence between the tests.
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = p.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])       # (m − j + 1)·p₍ⱼ₎, j = 1..m
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)                # running max: step-down monotone
    return adjusted


def _columns(X):
    """The column names of a DataFrame (pandas, polars: anything with .columns), else None."""
    columns = None if isinstance(X, np.ndarray) else getattr(X, "columns", None)
    return None if columns is None else [str(c) for c in columns]


def _arrays(obj, name):
    """(X (n, d) float, images flattened; y or None; X's column names or None) from a Subset, an object
    with .X/.y, a pair (X, y) or a bare X (a DataFrame gives its column names)."""
    if hasattr(obj, "peek"):                    # a locked test set hands its data over unopened
        X, y = obj.peek()
    elif hasattr(obj, "X") and hasattr(obj, "y"):
        X, y = obj.X, obj.y
    elif isinstance(obj, (tuple, list)) and len(obj) == 2 and np.ndim(obj[0]) >= 2:
        X, y = obj
    else:
        X, y = obj, None
    columns = _columns(X)
    X = as_rows(X, f"{name} (X)")
    expect(len(X) >= MIN_ROWS, f"{name}", f"at least {MIN_ROWS} rows", f"{len(X)}")
    if y is not None:
        y = as_targets(y, len(X), f"{name} (y)")
        expect(y.ndim == 1 or y.shape[1] == 1, f"{name} (y)", "one target column", f"shape {y.shape}")
        y = y.reshape(-1)
    return X, y, columns


def _names(features, feature_names, columns_a, columns_b, d):
    """The d column names: `features` (or its former name `feature_names`), else a DataFrame's columns,
    else x0, x1, …"""
    given = "features"
    if feature_names is not None:
        expect(features is None or list(map(str, features)) == list(map(str, feature_names)), "feature_names",
               "left out when features is given (it is the former name of features)", "other names than features")
        features, given = feature_names, "feature_names"
    if features is None and columns_a is not None and columns_b is not None:
        expect(columns_a == columns_b, "a and b", "DataFrames with the same columns in the same order",
               f"{columns_a[:5]} and {columns_b[:5]}")
    if features is None:
        features = columns_a or columns_b or [f"x{j}" for j in range(d)]
    names = [str(s) for s in features]
    expect(len(names) == d, given, f"{d} names (one per column)", f"{len(names)}")
    return names


def _is_categorical(values):
    """Integer-valued with at most MAX_CATEGORIES distinct values."""
    return bool(np.all(values == np.round(values))) and np.unique(values).size <= MAX_CATEGORIES


def _two_sample(name, a, b, categorical):
    if not categorical:
        r = stats.ks_2samp(a, b)            # D = sup_x |F_a(x) − F_b(x)| of the empirical CDFs
        return Test(name, "ks", float(r.statistic), float(r.pvalue))
    cats, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    if cats.size < 2:                        # one value in both sets: nothing can differ
        return Test(name, "chi2", 0.0, 1.0)
    # counts table (categories × 2 sets); χ² = Σ (O − E)²/E with E = row total · column share
    table = np.stack([np.bincount(codes[:len(a)], minlength=cats.size),
                      np.bincount(codes[len(a):], minlength=cats.size)], axis=1)
    r = stats.chi2_contingency(table)
    return Test(name, "chi2", float(r.statistic), float(r.pvalue))


def _domain_auc(Xa, Xb, max_rows, seed):
    """Out-of-fold AUC of a small MLP telling set b (1) from set a (0), and its one-sided p-value."""
    sub_ss, fold_ss, net_ss = np.random.SeedSequence(seed).spawn(3)
    sub, folds = np.random.default_rng(sub_ss), np.random.default_rng(fold_ss)
    Xa = Xa[np.sort(sub.permutation(len(Xa))[:max_rows])]
    Xb = Xb[np.sort(sub.permutation(len(Xb))[:max_rows])]
    Z = Standardizer().fit_transform(np.vstack([Xa, Xb]))          # (n_a + n_b, d)
    t = np.r_[np.zeros(len(Xa)), np.ones(len(Xb))]
    # 2 folds, stratified: each fold holds half of each set
    fold = np.r_[folds.permutation(len(Xa)) % 2, folds.permutation(len(Xb)) % 2]
    score, z = np.empty(len(Z)), []
    for k, (init_seed, shuffle_seed) in enumerate(net_ss.generate_state(4).reshape(2, 2).tolist()):
        train = fold != k
        # a gentle fit (L2, small steps): an overfitted model's held-out scores are noise, and a
        # weak shift gets lost in them; ~600 Adam steps, at least 5 epochs, well under a second
        net = mlp([Z.shape[1], 16, 1], hidden="relu", output="sigmoid", l2=20.0, seed=init_seed)
        epochs = max(5, math.ceil(600 / math.ceil(train.sum() / 128)))
        fit(net, Z[train], t[train], epochs=epochs, batch_size=128, optimizer="adam", lr=0.003,
            seed=shuffle_seed, verbose=0)
        s, held = net.predict_proba(Z[~train])[:, 1], t[~train]      # scored by the model that never saw them
        score[~train] = s
        # one-sided Mann–Whitney within the fold: exact null, as the model is independent of the fold
        p_k = stats.mannwhitneyu(s[held == 1], s[held == 0], alternative="greater", method="asymptotic").pvalue
        z.append(stats.norm.isf(np.clip(p_k, 1e-300, 1.0)))       # as a z-score, N(0, 1) under H0
    # AUC = P(score_b > score_a) + ½·P(tie) = U_b / (n_a·n_b), U over all out-of-fold scores.
    auc = stats.mannwhitneyu(score[t == 1], score[t == 0]).statistic / (len(Xa) * len(Xb))
    # The p-value is not the pooled U's: under H0 the two folds' z are positively correlated (each
    # model learns the other fold's noise; ρ ≈ 0.6 measured), so the pooled U would raise false
    # alarms (9% at α = 5%). z̄ = (z₁ + z₂)/2 has Var ≤ 1 for any ρ ≤ 1, so P(N(0,1) > z̄) is valid.
    return float(auc), float(stats.norm.sf(np.mean(z)))


def check_match(a, b, *, alpha=0.05, categorical=None, features=None, classifier=True, max_rows=20000, seed=0,
                feature_names=None):
    """Test whether data sets a and b come from one distribution; returns a Match.

    a, b : a Subset (read through `peek()`, so a locked test set stays locked), an
        object with .X and .y, a pair (X, y) or a bare X. X is (n, d), the same d in both;
        y is (n,) or None; at least 10 rows each.
    features : the d column names, kept whole in the result (Match.feature_names, the tests' names,
        to_dict, str); default: the columns of a DataFrame a or b, else "x0", "x1", ….
        feature_names : the former name of `features`, still accepted.
    categorical : column indices or names tested with χ²; None: integer-valued columns with
        ≤ 20 distinct values.
    classifier : also train a domain classifier on ≤ max_rows rows of each set (seeded).
    """
    expect(isinstance(alpha, numbers.Real) and 0 < alpha < 1, "alpha", "a number in (0, 1)", repr(alpha))
    expect(isinstance(max_rows, numbers.Integral) and not isinstance(max_rows, bool) and max_rows >= MIN_ROWS,
           "max_rows", f"an integer ≥ {MIN_ROWS}", repr(max_rows))
    (Xa, ya, columns_a), (Xb, yb, columns_b) = _arrays(a, "a"), _arrays(b, "b")
    d = Xa.shape[1]
    expect(Xb.shape[1] == d, "a and b", "the same number of columns", f"shapes {Xa.shape} and {Xb.shape}")
    names = _names(features, feature_names, columns_a, columns_b, d)
    if categorical is None:
        is_cat = [_is_categorical(np.concatenate([Xa[:, j], Xb[:, j]])) for j in range(d)]
    else:
        is_cat = [False] * d
        for c in [categorical] if isinstance(categorical, (str, numbers.Integral)) else categorical:
            ok = c in names if isinstance(c, str) else isinstance(c, numbers.Integral) and -d <= c < d
            expect(ok, "categorical", f"column indices in [0, {d}) or names from features", repr(c))
            is_cat[names.index(c) if isinstance(c, str) else int(c)] = True

    one = "a" if yb is None else "b"
    expect((ya is None) == (yb is None), "a and b", "labels for both or for neither (pass the bare X of "
           f"{one} too to compare the features only)", f"labels for {one} only")
    tests = [_two_sample(names[j], Xa[:, j], Xb[:, j], is_cat[j]) for j in range(d)]
    if ya is not None:
        y = np.concatenate([ya, yb])
        integer = y.dtype.kind in "biu" or _is_categorical(y)
        tests.append(_two_sample("label", ya.astype(np.float64), yb.astype(np.float64), integer))
    auc = auc_p = None
    p = [t.p_value for t in tests]
    if classifier:
        auc, auc_p = _domain_auc(Xa, Xb, max_rows, seed)
        p.append(auc_p)
    adjusted = holm(p)
    tests = [Test(t.name, t.test, t.statistic, t.p_value, float(q)) for t, q in zip(tests, adjusted)]
    label = tests.pop() if len(tests) > d else None
    return Match(tests, label, auc, auc_p, float(adjusted[-1]) if classifier else None, alpha, len(Xa), len(Xb),
                 feature_names=names)


def _fmt(t):
    stat = "KS D" if t.test == "ks" else "χ²"
    return f"{stat} = {t.statistic:.3g}, adjusted p = {t.p_adjusted:.2g}"


class Match:
    """The answer of check_match.

    same : bool, no test rejected at alpha after Holm's correction. verdict : one line.
    features : list of Test (name, test, statistic, p_value, p_adjusted), most different first.
    worst_features : names of the features rejected, most different first. label : Test or None.
    auc, auc_p_value, auc_p_adjusted : the domain classifier's (None without one). n_a, n_b : rows.
    feature_names : the names of the columns, whole, in the data's order.
    """

    def __init__(self, tests, label, auc, auc_p_value, auc_p_adjusted, alpha, n_a, n_b, feature_names=None):
        self.features = sorted(tests, key=lambda t: (t.p_adjusted, t.p_value, -t.statistic))
        self.feature_names = [t.name for t in tests] if feature_names is None else [str(f) for f in feature_names]
        self.label, self.auc, self.auc_p_value, self.auc_p_adjusted = label, auc, auc_p_value, auc_p_adjusted
        self.alpha, self.n_a, self.n_b = float(alpha), n_a, n_b
        self.worst_features = [t.name for t in self.features if t.p_adjusted <= alpha]
        label_differs = label is not None and label.p_adjusted <= alpha
        auc_differs = auc_p_adjusted is not None and auc_p_adjusted <= alpha
        self.same = not (self.worst_features or label_differs or auc_differs)
        self.verdict = self._verdict(label_differs, auc_differs)

    def _verdict(self, label_differs, auc_differs):
        auc = "" if self.auc is None else f"domain classifier AUC {self.auc:.2f}"
        if self.same:
            n = len(self.features) + (self.label is not None) + (self.auc is not None)
            return f"same: no test of {n} rejects at alpha = {self.alpha:g} (Holm)" + (f"; {auc}" if auc else "")
        parts = []
        if self.worst_features:
            k = len(self.worst_features)
            more = f" ({k} features differ)" if k > 1 else ""
            parts.append(f"'{self.worst_features[0]}' differs most ({_fmt(self.features[0])}){more}")
        if label_differs:
            parts.append(f"the label differs ({_fmt(self.label)})")
        if auc_differs and not parts:
            parts.append(f"no single feature differs, but a {auc} tells the sets apart "
                         f"(adjusted p = {self.auc_p_adjusted:.2g})")
        elif auc:
            parts.append(auc)
        return "different: " + "; ".join(parts)

    def __bool__(self):
        return self.same

    def __repr__(self):
        return f"Match(same={self.same}, verdict={self.verdict!r})"

    def __str__(self, limit=20):
        """The verdict and a table of the tests. Column names are never cut: the name column is as wide
        as the longest name (up to NAME_WIDTH); a longer name has a line of its own above its numbers."""
        def line(name, test, statistic, p, adjusted):
            mark = "* " if adjusted <= self.alpha else "  "
            numbers = f"{test:<6}{statistic:>11.4g}{p:>10.2g}{adjusted:>12.2g}"
            if len(name) < width:
                return [f"{mark}{name:<{width}}{numbers}"]
            return [f"{mark}{name}", f"{'':{2 + width}}{numbers}"]

        tests = self.features[:limit] + ([self.label] if self.label is not None else [])
        auc = [] if self.auc is None else [("domain classifier", "auc", self.auc, self.auc_p_value,
                                            self.auc_p_adjusted)]
        names = ["feature", *(t.name for t in tests), *(a[0] for a in auc)]
        width = min(NAME_WIDTH, max(map(len, names))) + 1
        rows = [f"{'':2}{'feature':<{width}}{'test':<6}{'statistic':>11}{'p':>10}{'adjusted p':>12}"]
        for t in self.features[:limit]:
            rows += line(t.name, t.test, t.statistic, t.p_value, t.p_adjusted)
        if len(self.features) > limit:
            rows.append(f"  … {len(self.features) - limit} more features, none more different")
        for t in tests[len(self.features[:limit]):]:
            rows += line(t.name, t.test, t.statistic, t.p_value, t.p_adjusted)
        for a in auc:
            rows += line(*a)
        head = f"check_match: n_a = {self.n_a}, n_b = {self.n_b}, alpha = {self.alpha:g} (Holm; * rejected)"
        return "\n".join([self.verdict, head, *rows])

    def to_dict(self):
        """JSON-ready: plain bools, floats, strings, lists and dicts."""
        return {"same": self.same, "verdict": self.verdict, "worst_features": list(self.worst_features),
                "features": [t.to_dict() for t in self.features],
                "label": None if self.label is None else self.label.to_dict(),
                "auc": self.auc, "auc_p_value": self.auc_p_value, "auc_p_adjusted": self.auc_p_adjusted,
                "alpha": self.alpha, "n_a": self.n_a, "n_b": self.n_b, "feature_names": list(self.feature_names)}

