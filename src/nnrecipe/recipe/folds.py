"""Cross-validation for small data: the notes' "hold-out cross-validation set", rotated.

When the dev set is too small to resolve the tolerance (its 95% interval at the achievable error is
wider than the tolerance: one dev row is worth more than the gaps the recipe decides on), every
experiment is trained k times, once without each fold of train+dev, and judged on its out-of-fold
predictions: each of the n = n_train + n_dev rows predicted by the one model that never saw it. The
paired comparisons then see n rows instead of n_dev. The test set stays locked; the chosen
configuration is refitted on all of train+dev (see Recipe._finish, and benchmarks/cv_final.py for
why a refit rather than the fold ensemble). The folds train wherever the run's trainings go
(recipe/executors.py: `train` builds a fold's data with `fold_data`), and `combine` makes one result.

Each fold's model gets its own Standardizer fitted on that fold's training rows only.
"""

import math
from dataclasses import replace

import numpy as np
from sklearn.model_selection import StratifiedKFold

from ..data.normalize import Standardizer
from ..data.split import quantile_bins
from ..doctor.diagnose import Z95, error_interval
from ..errors import expect
from .trainers import FIELDS, Result

K = 3                     # folds when cv="auto" decides that dev is too small (benchmarks/suite.py: 3, 4 and 5
                          # folds gave the same medians; 17%, 22% and 27% of Optuna's epochs)


def dev_half_width(n_dev, baseline, regression):
    """Half the width of dev's 95% interval at the achievable error: Wilson's for an error rate of
    `baseline` over n_dev rows; for an RMSE of `baseline` (Gaussian errors), 1.96·σ/√(2·n_dev), the
    standard error of a sample standard deviation."""
    if regression:
        return Z95 * baseline / math.sqrt(2 * n_dev)
    low, high = error_interval(round(baseline * n_dev), n_dev)
    return (high - low) / 2


def make_folds(y, k, seed, regression):
    """(validation row indices of each fold, k used, a sentence or None): stratified on the classes (on
    quantile bins of a regression target), shuffled with `seed`. A class with fewer rows than k gives
    fewer folds (at least 2), and the sentence says so."""
    strata = quantile_bins(y, n_sets=k) if regression else np.asarray(y)
    note = None
    if not regression:
        rarest = int(np.bincount(strata).min(initial=len(strata)))
        expect(rarest >= 2, "y", "at least 2 rows of every class for cross-validation", f"{rarest} of one class")
        if rarest < k:
            note = f"{k}-fold cross-validation needs {k} rows of every class; the rarest has {rarest}: {rarest} folds"
            k = rarest
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [val for _, val in splitter.split(np.zeros((len(strata), 1)), strata)], k, note


class FoldModels:
    """The k models of a cross-validated experiment: models[i] was trained without fold i. oof (n,):
    every row of train+dev predicted by the model that did not see it (class indices or values).
    predict(X) is the fold ensemble: the mean of the k models' probabilities (argmax) or values."""

    def __init__(self, models, oof):
        self.models, self.oof = list(models), np.asarray(oof)

    def predict(self, X):
        first = self.models[0]
        if not getattr(getattr(first, "loss", None), "classifier", False):
            return np.mean([m.predict(X) for m in self.models], axis=0)
        proba = np.mean([m.predict_proba(X) for m in self.models], axis=0)
        return np.argmax(proba, axis=1)


def subsample(data, share, seed):
    """`data` with only a `share` of its training rows (the learning curve's points): the same rows for
    the same seed and size."""
    if share >= 1:
        return data
    keep = np.random.default_rng(seed).permutation(len(data.X))[: round(len(data.X) * share)]
    return replace(data, X=data.X[keep], y=data.y[keep])


def fold_data(like, X, y, val, share, seed):
    """The TrainData of one fold: train+dev rows (X (n, ...), y (n,)) without the fold's `val` rows to train
    on (a `share` of them for a learning-curve point), the `val` rows to watch, a Standardizer of the
    training rows; n_out, output and balanced as the run's `like`."""
    train = np.setdiff1d(np.arange(len(y)), val)
    data = replace(like, X=X[train], y=y[train], X_dev=X[val].reshape(len(val), -1), y_dev=y[val],
                   normalizer=Standardizer().fit(X[train].reshape(len(train), -1)))
    return subsample(data, share, seed)


def combine(results, folds, X, y, regression):
    """One Result from the k folds' results (in fold order) over train+dev (X (n, ...), y (n,)).

    model : a FoldModels (its oof: each row predicted by the fold model that did not see it); history :
    the folds' per-epoch values averaged (a fold that stopped early keeps its last value); epochs : the
    most any fold trained; spent : all folds' epochs; train_error and dev_cost : the folds' means;
    dev_error : the out-of-fold error over the n rows (a rate, or an RMSE); stop_reason : the folds'
    reasons when every fold stopped early; gradient series and findings : those of the first fold."""
    oof = np.zeros(len(y), dtype=np.float64 if regression else np.int64)
    for r, val in zip(results, folds):
        oof[val] = np.asarray(r.model.predict(X[val].reshape(len(val), -1))).reshape(-1)
    longest = max(len(r.history.get("cost", ())) for r in results)
    history = {k: _mean_padded([r.history.get(k, []) for r in results], longest) for k in FIELDS}
    dev = float(np.sqrt(np.mean((oof - y) ** 2))) if regression else float(np.mean(oof != y))
    first = results[0]
    stops = sorted({r.stop_reason for r in results if r.stop_reason})
    return Result(FoldModels([r.model for r in results], oof), history, max(r.epochs for r in results),
                  float(np.mean([r.train_error for r in results])), dev,
                  float(np.mean([r.dev_cost for r in results])),
                  "; ".join(stops) if stops and all(r.stop_reason for r in results) else None,
                  first.gradient_epochs, first.gradient_norms, first.findings,
                  spent=sum(r.epochs for r in results))


def _mean_padded(series, n):
    """The mean over series of per-epoch values, each padded to n with its last value."""
    series = [list(s) + [s[-1]] * (n - len(s)) for s in series if len(s)]
    return np.mean(series, axis=0).tolist() if series else []
