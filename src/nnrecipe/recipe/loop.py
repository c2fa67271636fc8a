"""The automatic recipe: diagnose, turn one knob at a time, keep what dev says is better, and open the
test set once at the end. This module is the policy only: knobs propose (recipe/knobs.py), a trainer
trains (recipe/trainers.py), the store keeps the folder (recipe/store.py), and every step is an
Experiment (recipe/experiment.py) and a sentence of the decision trail.
"""

import math
import numbers
import os
import sys
import warnings
from concurrent.futures import BrokenExecutor
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from .._checks import plain, positive
from ..data.match import check_match
from ..data.normalize import Standardizer
from ..doctor.diagnose import check_levels, describe_test, diagnose, error_interval
from ..errors import BaselineWarning, LeakageWarning, NNRecipeError, TestSetWarning, expect
from .experiment import Config, Experiment
from .executors import Runner, Shared, check_executor
from .folds import K, FoldModels, combine, dev_half_width, make_folds, subsample
from .inputs import is_table, read_inputs
from .knobs import Candidate, Context, Skip, check_knobs, default_knobs
from .store import RUN_FORMAT, RUN_VERSION, RunStore, fingerprint, releases_store
from .trainers import NumpyTrainer, TrainData

METRICS = ("auto", "error", "balanced")
RARE_SHARE = 0.10                     # metric="auto": the balanced error when the rarest class is rarer
REGRESSION_TOLERANCE = 0.02           # of the training target's standard deviation
REFIT_SHARE = 0.10                    # deciding on dev: refit on train+dev when dev adds at least this share of train
MAX_POINTS = 2000                      # test predictions kept in run.json for the report's plots
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _rows(X):
    return X.reshape(len(X), -1)


def _warn_user(message, category):
    """warnings.warn attributed to the first caller outside nnrecipe (the user's Recipe.fit, nt.fit or
    the CLI), not to a line of the library."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _fold_file(name, i):
    """models/exp03.npz → models/exp03-fold1.npz for fold i = 0."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-fold{i + 1}.{ext}" if dot else f"{name}-fold{i + 1}"


def _title(knob):
    """A knob in words for the trail: its title, else its name."""
    return getattr(knob, "title", None) or knob.name


def first_config(n_features, n_train):
    """The first experiment: two ReLU hidden layers sized from the data's width (8·√d rounded to a power
    of two, 16 to 128, then half of it), Adam at 0.003: up to 1000 training rows 150 epochs of batches of
    32, else 60 epochs of batches of 64. (Measured on iris, wine, breast cancer, penguins and diabetes,
    seeds 0–2, under cross-validation: as good as 600 full-batch epochs at 0.01, for a quarter of
    the epochs; 100 epochs or batches of 16 lost a dev row here and there.)"""
    width = int(np.clip(2 ** round(math.log2(8 * math.sqrt(n_features))), 16, 128))
    small = n_train <= 1000
    return Config(hidden=(width, max(4, width // 2)), epochs=150 if small else 60, batch_size=32 if small else 64,
                  lr=0.003)


class Recipe:
    """The notes' basic recipe, run by the machine.

    baseline_error : "auto" (the default: estimated from the training rows, see doctor/baseline.py, and
        lowered to an experiment's dev error that lies under it beyond dev's noise) or the best reachable
        error (human-level, a Bayes estimate): a rate in [0, 1) for a classifier, an RMSE in the target's
        units for a regression. A number given always wins.
    tolerance : a gap (avoidable bias or variance) larger than this is worth a knob (default: 0.02,
        two points of error rate; for a regression REGRESSION_TOLERANCE = 2% of the training target's
        standard deviation, the RMSE of always predicting the mean). Checked before any training.
    cv : "auto" (the default): when dev's 95% interval at the baseline is wider than the tolerance (a
        dev set too small to decide on), every decision uses K = 3-fold cross-validation over
        train+dev, stratified, and the chosen configuration is refitted on all of train+dev
        (recipe/folds.py); 0: always decide on dev; k ≥ 2: always k folds. The test set stays locked.
        Deciding on dev, the chosen configuration is refitted on train+dev too when dev adds at least
        REFIT_SHARE (10%) of train's rows (`_refit`).
    metric : a classifier's error to decide on: "auto" (the default: the balanced error, the mean of the
        per-class error rates, when the rarest class is under 10% of the training rows and under half
        of its even share 1/K, so that ten balanced classes of 10% each are not "imbalanced"; else the
        error rate), "error" or "balanced". Both are reported. A regression always decides on the RMSE.
    workers : how many trainings run at once (default None: one per core of this machine, for the NumPy
        engine; a torch trainer runs one at a time unless given an executor): the candidates a knob
        proposes and the folds of each are independent, and go to a local process pool (loky; BLAS one
        thread per worker). 1: one after the other, in this process.
    executor : None, or any concurrent.futures.Executor to run them on (e.g. a Dask cluster's
        `client.get_executor()`), or a dask `Client` (then the data is scattered to the workers once).
        The same seed gives the same decisions and weights wherever the trainings ran.
    task : "auto" (fractional targets, or whole numbers with many distinct values, are regressed;
        see recipe/target.py), "classify" or "regress". A regression trains a linear output on
        ½·squared error and diagnoses the RMSE in the target's units.
    budget : total training epochs over all experiments, every fold's when cross-validating (default None:
        no limit). A budget below the first experiment's epochs (150 up to 1000 training rows, else 60;
        times the folds) cuts that experiment to it. The final refit on train+dev comes on top.
    knobs : the knobs to turn, in order (default `default_knobs()`: wider, deeper, longer, learning
        rate; L2 grid, dropout, augmentation, learning curve); a user's own Knob objects too.
    model : None, or a builder `model(hidden, keep_prob, seed) -> nr.Network` for the NumPy engine.
    trainer : None (NumPy engine), or any Trainer, e.g. `nnrecipe.torch.TorchTrainer(model_factory)`:
        the same recipe drives a torch model (one process, or DDP under torchrun: only rank 0 writes).
    out : a folder for run.json, models/ and the report; None keeps everything in memory.
    resume : reuse the experiments an earlier run recorded in `out`; force : discard that run.

    After fit: classes_ (y's labels, in the order of the network's outputs; `predict` returns them),
    split_, match_, experiments_ (Experiment records), best_ (the chosen model, which predicts indices
    into classes_), best_experiment_, best_dev_error_, diagnosis_, test_error_, decisions_ (the trail),
    record_ (the run.json dict).

    Each experiment trains until its epoch limit or a plateau of the training cost J (no gain of
    1e-4 in 10 epochs: the rule never looks at dev, so it is not early stopping).
    """

    def __init__(self, baseline_error="auto", tolerance=None, budget=None, seed=0, out=None, resume=False,
                 force=False, verbose=1, log=print, trainer=None, knobs=None, model=None, task="auto", cv="auto",
                 metric="auto", workers=None, executor=None):
        self.baseline_error, self.tolerance, self.budget, self.seed = baseline_error, tolerance, budget, seed
        self.task, self.cv, self.metric, self.workers, self.executor = task, cv, metric, workers, executor
        self.knobs, self.model, self.trainer = knobs, model, trainer
        self.out, self.resume, self.force, self.verbose, self.log = out, resume, force, verbose, log

    # ---- the run ----------------------------------------------------------------------------
    @releases_store                  # the run folder's lock is given back however fit ends
    def fit(self, X, y, test=None, name="data", features=None, classes=None, drop_missing=False):
        """Run the recipe on (X, y).

        X : (n, d) numbers or images (n, H, W[, C]); or a raw table (a pandas DataFrame, a pyarrow
            Table, a dict of columns, a .csv/.parquet path) with text, gaps, dates: it is prepared by a
            TablePreprocessor fitted on the training rows only (kept in the model file).
        y : (n,) class labels of one sortable kind (0/1, -1/1, 3/7, strings: `classes_` keeps them) or
            numbers (a regression, see `task`), indices into `classes`, or the name of X's target column.
            Rows whose target is missing are dropped and counted.
        test : (X_test, y_test) when the data comes with its own test set, else split off.
        drop_missing : drop a raw table's rows with any missing feature (they are imputed otherwise).
        """
        knobs, trainer = self._validate_options()
        inputs = read_inputs(X, y, test, classes, self.task, drop_missing)
        target = self.target_ = inputs.target
        self.classes_ = target.classes
        if target.regression and not getattr(trainer, "regresses", False):
            raise NNRecipeError(f"trainer must be able to fit a regression (the target is one: {target.reason}); "
                                f"{type(trainer).__name__} classifies only")
        s = self.split_ = inputs.split(self.seed)
        self.preprocessor_, self._dropped = inputs.preprocessor, inputs.dropped
        if inputs.preprocessor is not None:
            features = inputs.preprocessor.feature_names_out_
        self.baseline_error_, self.tolerance_ = self._levels(s.train.y)
        self.metric_ = self._choose_metric(s.train.y)
        store = RunStore(self.out, self.resume, self.force, writes=getattr(trainer, "writes", True))
        labels = self.classes_ if self.classes_ is not None else np.array(["regression"])
        print_ = fingerprint(inputs.X, target.y, inputs.test, labels, s)
        store.open(print_, self.seed)
        self._store, self._trainer = store, trainer
        self.standardizer_ = Standardizer().fit(s.train.X)
        d = int(self.standardizer_.mean_.size)
        names = None if features is None or len(features) != d else [str(f) for f in features]
        self.match_ = check_match(s.dev, s.test, seed=self.seed, features=names)
        self._data = TrainData(s.train.X, s.train.y, _rows(s.dev.X), s.dev.y, self.standardizer_, target.n_out,
                               target.output, self.metric_ == "balanced")
        self._context = Context(len(s.train), len(s.dev), d, target.n_out, s.train.X.ndim > 2,
                                bool(getattr(trainer, "augments", False)), self.tolerance_, target.units)
        self.experiments_, self.decisions_, self._done, self._spent, self._over_budget = [], [], {}, 0, False
        self._predictions = {}
        self.record_ = self._new_record(name, features, s, print_)
        self._decide(target.reason)
        self._data_decisions(inputs)
        self._decide(f"split: {s.sizes}")
        if self._metric_reason:
            self._decide(self._metric_reason)
        self._estimate_baseline(s)
        self._plan_cv(s)
        self._runner = Runner(Shared(self._data, self._pool, tuple(self._folds) if self._folds else None),
                              *self._parallel)
        self._pending = {}
        self._decide(("dev and test match: " if self.match_.same else "WARNING, dev and test differ: ")
                     + self.match_.verdict + ("" if self.match_.same else
                                              " (the notes: dev and test must come from one distribution)"))
        self._check_duplicates(s)
        try:
            best = self._search(knobs)
        finally:
            for futures, _ in self._pending.values():   # submitted, then skipped by the budget
                for f in futures:
                    getattr(f, "cancel", lambda: None)()
            self._pending.clear()
        self._finish(best)
        return self

    def predict(self, X):
        """The chosen model's predictions: labels of y (`classes_`, not class indices), or values. X as
        given to fit: numbers, or raw rows with the original columns (any order) when fit had a table."""
        X = self.preprocessor_.transform(X) if self.preprocessor_ is not None and is_table(X) else np.asarray(X)
        out = np.asarray(self.best_.predict(_rows(X))).reshape(-1)
        return out if self.classes_ is None else self.classes_[out.astype(int)]

    # ---- the policy -------------------------------------------------------------------------
    def _search(self, knobs):
        """The loop: while a gap is high, turn the next knob of its kind; stop at a good fit, when the
        budget is spent, or when no knob of the kind needed is left. Returns the incumbent."""
        cfg = first_config(self._context.n_features, self._context.n_train)
        why = "a He-initialized ReLU network sized from the data"
        started = [e for e in (self._store.previous_record or {}).get("experiments", []) if e.get("knob") == "start"]
        if started:                    # --resume: the recorded run's start (an older nnrecipe may have chosen another)
            cfg = Config.from_dict(started[0]["config"])
        models = max(1, len(self._folds or ()))                       # one per fold when cross-validating
        if self.budget is not None and self.budget < cfg.epochs * models:     # a run always trains something
            cfg, why = (replace(cfg, epochs=max(1, self.budget // models)),
                        why + f", cut to the budget of {self.budget} epochs" + (f" over {models} folds" if models > 1
                                                                                else ""))
        best = self._experiment(cfg, "start", why)
        best.outcome = "the first incumbent"
        bias = [k for k in knobs if k.kind == "bias"]
        variance = [k for k in knobs if k.kind == "variance"]
        while True:
            d = best.diagnosis
            spent = self.budget is not None and self._spent >= self.budget
            if d.case == "good fit":
                high = self._dev_high(best)
                confirmed = high - d.baseline_error <= d.tolerance + 1e-12
                if confirmed or not variance or spent:
                    self._decide(f"stop: {d.case}, both gaps within {self._show(d.tolerance)} of the baseline" + (
                        f", and dev's 95% interval (up to {self._show(high)}) confirms it" if confirmed else
                        f"; not confirmed: dev's 95% interval reaches {self._show(high)} over "
                        f"{self._context.n_dev} rows, more than {self._show(d.tolerance)} above the baseline") + (
                        f"; the budget of {self.budget} epochs is spent" if spent and not confirmed else ""))
                    return best
                why = (f"good fit on the point estimates, but dev's 95% interval reaches {self._show(high)}, "
                       f"more than {self._show(d.tolerance)} above the baseline: ")
                best = self._next(variance, best, d, why, ties=True)
                continue
            if spent:
                self._decide(f"stop: the budget of {self.budget} epochs is spent")
                return best
            if d.high_bias and bias and best.config.regularized:
                self._decide(f"avoidable bias {self._show(d.avoidable_bias)} comes with the regularization chosen for "
                             "variance; a bigger network would only buy back what λ or dropout took: bias knobs "
                             f"not turned ({', '.join(map(_title, bias))})")
                bias.clear()
            elif d.high_bias and bias:
                why = f"avoidable bias {self._show(d.avoidable_bias)} > {self._show(d.tolerance)}: "
                best = self._next(bias, best, d, why, ties=False)
            elif d.high_variance and variance:
                why = f"variance {self._show(d.variance)} > {self._show(d.tolerance)}: "
                best = self._next(variance, best, d, why, ties=True)
            else:
                left = " or ".join(kind for kind, high in (("bias", d.high_bias), ("variance", d.high_variance))
                                   if high)
                self._decide(f"stop: {d.case}, and " + (
                    f"the budget of {self.budget} epochs is spent: the knobs left need more than the "
                    f"{self.budget - self._spent} epochs that remain" if self._over_budget
                    else f"no {left} knob of the recipe is left to turn"))
                self._explain_end(best)
                return best

    def _explain_end(self, best):
        """When the run ends on a gap whose error sits within the estimated irreducible error's interval,
        say that the data shows nothing avoidable left (not 'bigger network' or 'more regularization'):
        high bias with train inside it, or high variance with dev inside it (train then fits noise that
        no model can learn: a gap to train below the irreducible error is not one a knob can close)."""
        baseline, d = self.record_.get("baseline") or {}, best.diagnosis
        high = baseline.get("high")
        if high is None:
            return
        side = ("train", best.train_error, "avoidable bias") if d.high_bias else (
            "dev", best.dev_error, "avoidable error") if d.high_variance else None
        if side is None or side[1] > high:
            return
        self.record_["final_note"] = (
            f"no {side[2]} left that the data can show: {side[0]} {d.show(side[1])} sits within the estimated "
            f"irreducible error ({d.show(baseline['low'])}–{d.show(high)}, {baseline.get('method')})")
        self._decide(self.record_["final_note"])

    def _next(self, queue, best, diagnosis, why, ties):
        """Turn the first knob of `queue` (taken off it); a knob that helped and repeats goes back first
        (grow the same way again)."""
        knob = queue.pop(0)
        new = self._turn(knob, best, diagnosis, why, ties)
        if new is not best and getattr(knob, "repeat", False):
            queue.insert(0, knob)
        return new

    def _turn(self, knob, best, diagnosis, why, ties):
        """Train what `knob` proposes for `best`, one candidate after the other against the incumbent
        of the moment; returns the incumbent after it (best itself when none won)."""
        proposal = knob.propose(best, diagnosis, self._context)
        if isinstance(proposal, Skip):
            self._decide(f"{_title(knob)}: not tried, {proposal.reason}")
            return best
        ok = isinstance(proposal, (list, tuple)) and all(isinstance(c, Candidate) for c in proposal)
        expect(ok, f"knob {knob.name!r}'s propose", "a list of nr.Candidate or an nr.Skip", repr(proposal))
        if not proposal:
            self._decide(f"{_title(knob)}: not tried, it proposed no candidate")
            return best
        trained, incumbent = [], best
        self._prefetch([(c.config, best if c.warm else None, c.why) for c in proposal])
        for c in proposal:
            e = self._experiment(c.config, knob.name, why + c.why, warm=best if c.warm else None)
            if e is None or (e.outcome is not None and e is not incumbent):     # judged in an earlier turn
                continue
            trained.append(e)
            if e is incumbent:                                  # the same configuration again
                continue
            if not c.compete:
                e.outcome = "a measurement, never kept"
            else:
                e.outcome = self._verdict(e, incumbent, ties)
                incumbent = e if e.outcome.startswith("kept") else incumbent
            self._decide(f"experiment {e.id} {e.outcome}")
        conclude = getattr(knob, "conclude", None)
        note = conclude(best, trained, self._context) if conclude else None
        if note is not None:
            if note.key is not None:
                self.record_[note.key] = note.value
            if note.sentence:
                self._decide(note.sentence)
        self._save()
        return incumbent

    def _verdict(self, candidate, best, ties):
        """'kept: ...' or 'rejected: ...', with the rule that decided. Only dev decides, and beyond its
        noise: the paired comparison of the two models' predictions on the same dev rows (McNemar's exact
        test for error rates, a paired bootstrap for an RMSE) keeps a candidate better beyond it. Within
        the noise, a variance knob's candidate (ties=True) is kept with no more dev errors and a lower dev
        cost (regularization that costs nothing); a bias knob's is not (more capacity must buy a gain
        beyond the noise)."""
        from ..doctor.compare import compare_balanced, compare_classifiers, compare_regressors
        y, a, b = self._judged(), self._dev_predictions(best), self._dev_predictions(candidate)
        compare, test = {"rmse": (compare_regressors, "paired bootstrap"), "error": (compare_classifiers, "McNemar"),
                         "balanced": (compare_balanced, "stratified bootstrap")}[self.metric_]
        c = compare(y, a, b) if self.metric_ == "error" else compare(y, a, b, seed=self.seed)
        figures = f"dev {self._show(candidate.dev_error)} against experiment {best.id}'s {self._show(best.dev_error)}"
        test = f"{test} p = {c.p_value:.2g}"
        if c.better == "b":
            return f"kept: {figures}, better beyond dev's noise ({test})"
        if c.better == "a":
            return f"rejected: {figures}, worse beyond dev's noise ({test})"
        if not ties:
            return f"rejected: {figures}, within dev's noise ({test}): a bias knob must buy a gain beyond it"
        if candidate.dev_error > best.dev_error:
            return f"rejected: {figures}, within dev's noise ({test}), but with more dev errors"
        if candidate.dev_cost < best.dev_cost:
            return (f"kept: {figures}, within dev's noise ({test}), no more dev errors and a lower dev cost "
                    f"({candidate.dev_cost:.4g} < {best.dev_cost:.4g})")
        return (f"rejected: {figures}, within dev's noise ({test}), at a dev cost not lower "
                f"({candidate.dev_cost:.4g} ≥ {best.dev_cost:.4g})")

    def _judged(self):
        """The targets of the rows decisions are made on: dev's, or train+dev's when cross-validating."""
        return self._pool[1] if self._folds else self._data.y_dev

    def _dev_predictions(self, e):
        """An experiment's predictions on the judged rows (class indices or values), computed once: on dev,
        or its out-of-fold predictions of train+dev."""
        if e.id not in self._predictions:
            self._predictions[e.id] = e.net.oof if isinstance(e.net, FoldModels) else \
                np.asarray(e.net.predict(self._data.X_dev)).reshape(-1)
        return self._predictions[e.id]

    def _dev_high(self, e):
        """The upper end of the 95% interval of an experiment's error on the judged rows: Wilson for a
        rate, the bootstrap for an RMSE."""
        if self.target_.regression:
            from ..doctor.metrics import regression_errors
            return regression_errors(self._judged(), self._dev_predictions(e), seed=self.seed)["high"]
        if self.metric_ == "balanced":
            from ..doctor.metrics import balanced_error
            return balanced_error(self._judged(), self._dev_predictions(e))["high"]
        n = self._context.n_dev
        return error_interval(round(e.dev_error * n), n)[1]

    def _show(self, value):
        """An error or a gap in the trail's words: 8.2% for rates, 'RMSE 54.12' in the target's units."""
        return self._context.show(value)

    def _levels(self, y_train):
        """(baseline, tolerance), checked; a regression's default tolerance from the training target."""
        tolerance = self.tolerance
        if self.target_.regression and tolerance is None:
            tolerance = REGRESSION_TOLERANCE * float(np.std(y_train))
        auto = isinstance(self.baseline_error, str) and self.baseline_error == "auto"
        return check_levels(0.0 if auto else self.baseline_error, tolerance, self.target_.units)

    def _estimate_baseline(self, s):
        """baseline_error="auto": the irreducible error estimated from the training rows (a k-NN Bayes-error
        estimate, or a nearest-neighbour noise estimate for a regression) and capped by what a strong
        reference learner reaches on dev (doctor/baseline.py); 0 with a warning when the data cannot tell."""
        if not (isinstance(self.baseline_error, str) and self.baseline_error == "auto"):
            self.record_["baseline"] = {"estimate": self.baseline_error_, "method": "given"}
            return
        from ..doctor.baseline import estimate_baseline
        rows = self.standardizer_.transform(_rows(s.train.X))
        try:
            b = estimate_baseline(rows, s.train.y, self.standardizer_.transform(self._data.X_dev), s.dev.y,
                                  self.target_.task, seed=self.seed, balanced=self.metric_ == "balanced")
        except NNRecipeError as exc:
            self.record_["baseline"] = {"estimate": 0.0, "method": "fallback", "reason": str(exc)}
            self._warn(f"the baseline error could not be estimated ({exc}); 0 is used: pass --baseline-error "
                       "to give one", BaselineWarning)
            return
        self.baseline_error_ = float(b.estimate)
        self.record_["baseline_error"], self.record_["baseline"] = self.baseline_error_, b.to_dict()
        self._decide(b.note)

    def _choose_metric(self, y_train):
        """'rmse', 'error' or 'balanced' (see `metric`); the sentence that says why goes to the trail."""
        self._metric_reason = None
        if self.target_.regression:
            expect(self.metric == "auto", "metric", '"auto" for a regression (it decides on the RMSE)',
                   repr(self.metric))
            return "rmse"
        counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=max(2, self.target_.n_out))
        rarest = int(np.argmin(counts))
        share = counts[rarest] / counts.sum()
        even = 1 / len(counts)                      # each class's share if the classes were balanced
        label = plain(self.classes_[rarest]) if self.classes_ is not None else rarest
        if self.metric == "balanced" or (self.metric == "auto" and share < min(RARE_SHARE, even / 2)):
            self._metric_reason = (
                "decisions on the balanced error (the mean of the per-class error rates): " + (
                    "metric='balanced' given" if self.metric == "balanced" else
                    f"the rarest class {label!r} is {share:.1%} of the training rows (< {RARE_SHARE:.0%}, and under "
                    f"half of the {even:.1%} a class would have if they were balanced)")
                + "; the error rate is reported beside it")
            return "balanced"
        return "error"

    def _plan_cv(self, s):
        """Decide on dev, or on k-fold cross-validation over train+dev when dev's 95% interval at the
        baseline is wider than the tolerance (cv="auto"), or as the user said; the trail says why."""
        self._folds, self._pool, self.record_["cv"] = None, None, None
        n_dev, regression, show = len(s.dev), self.target_.regression, self._show
        half = dev_half_width(n_dev, self.baseline_error_, regression)
        at = (f"dev's 95% interval at the baseline of {show(self.baseline_error_)} is ± {show(half)} over {n_dev} "
              f"rows")
        cv, recorded = self.cv, self._store.previous_record
        if cv == "auto" and recorded is not None:        # --resume: the recorded run's way (none before version 3)
            cv = (recorded.get("cv") or {}).get("folds", 0)
            at = "as the run being resumed decided"
        if cv == 0 or (cv == "auto" and half <= self.tolerance_):
            if self.cv == "auto":
                self._decide(f"decisions on dev: {at}" + (f", within the tolerance of {show(self.tolerance_)}"
                                                          if recorded is None else ""))
            return
        X, y = self._train_and_dev()
        folds, k, note = make_folds(y, K if cv == "auto" else cv, self.seed, regression)
        if note:
            self._decide(note)
        why = (f"{at}, wider than the tolerance of {show(self.tolerance_)}" if cv == "auto" else
               at if self.cv == "auto" else f"cv={self.cv}")
        self._decide(f"{why}: every decision uses {k}-fold cross-validation over train+dev ({len(y)} rows; an "
                     "experiment's dev error is its out-of-fold error), and the chosen configuration is refitted "
                     "on all of them")
        self._folds, self._pool = folds, (X, y)
        self._context = replace(self._context, n_train=len(y) - len(y) // k, n_dev=len(y))
        self.record_["cv"] = {"folds": k, "rows": len(y), "reason": why}

    # ---- one experiment ---------------------------------------------------------------------
    def _key(self, cfg, warm):
        """(configuration, epochs its weights start from, folds): a warm start from other weights, or a
        cross-validated run, makes another experiment."""
        return cfg.key(), warm.trained_epochs if warm else 0, len(self._folds or ())

    def _past_budget(self, cfg, key):
        """True when the epochs `cfg` still needs from its starting weights (every fold's) would pass the
        budget now."""
        _, base, folds = key
        return self.budget is not None and self._spent + (cfg.epochs - base) * max(1, folds) > self.budget

    def _experiment(self, cfg, knob, why, warm=None):
        """Train one configuration (from `warm`'s weights when given: only the epochs it lacks), or
        take it from this run (the same configuration twice) or from the recorded run (--resume).
        None when its epochs would pass the budget."""
        key = self._key(cfg, warm)
        _, base, folds = key
        if key in self._done:
            return self._done[key]
        todo = cfg.epochs - base
        if self._past_budget(cfg, key):
            self._decide(f"skipped ({why}): {todo * max(1, folds)} more epochs would pass the budget of {self.budget}")
            self._over_budget = True
            return None
        number = len(self.experiments_) + 1
        model = f"models/exp{number:02d}{getattr(self._trainer, 'extension', '.npz')}"
        previous = self._store.previous.get(key)
        net = self._load_model(previous) if previous is not None else None
        if net is not None:                                   # resumed: the run recorded it
            e = replace(previous, id=number, knob=knob, why=why, outcome=None, kept=False, model=model, net=net)
        else:
            if self.verbose:
                self.log(f"experiment {number}: {why}")
            r = self._train(cfg, todo, warm, key, f"experiment {number} ({why})")
            e = Experiment(number, knob, why, cfg, r.history, r.epochs, base + r.epochs, r.train_error,
                           r.dev_error, r.dev_cost, None, r.stop_reason,
                           int(np.argmin(r.history["dev_error"])) if r.history.get("dev_error") else None,
                           list(r.gradient_epochs), dict(r.gradient_norms), list(r.findings), model,
                           folds=folds, spent=r.spent, net=r.model)
            for f in e.health:
                self._decide(f"gradient health, experiment {number}, epoch {f['epoch']}: {f['message']} → "
                             f"{f['repair']}")
        if self.metric_ == "balanced" and e.plain_errors is None:
            e.plain_errors = {"train": e.train_error, "dev": e.dev_error}
            e.train_error, e.dev_error = self._balanced(e)
        self._lower_baseline(e)
        e.diagnosis = diagnose(e.train_error, e.dev_error, self.baseline_error_, self.tolerance_, self.target_.units)
        self._spent += e.spent or e.epochs
        self._save_model(e.net, model)
        self.experiments_.append(e)
        self._decide(f"experiment {number} ({why}): train {e.diagnosis.show(e.train_error)}, dev "
                     f"{e.diagnosis.show(e.dev_error)} → {e.diagnosis.case}")
        self._done[key] = e
        self._save()
        return e

    def _lower_baseline(self, e):
        """A reachable error bounds the irreducible one, the network's as the reference learner's: when an
        experiment's dev error lies under the estimated baseline beyond dev's noise (the upper end of its 95%
        interval below the estimate: a reference fitted on a subsample of a big table, say), the estimate was
        too high, and the baseline becomes that dev error (its interval: up to that upper end)."""
        b = self.record_.get("baseline") or {}
        if b.get("high") is None or e.dev_error >= self.baseline_error_:
            return
        high = self._dev_high(e)
        if high >= self.baseline_error_:
            return
        show, was = self._show, self.baseline_error_
        self.baseline_error_ = self.record_["baseline_error"] = float(e.dev_error)
        b.update(estimate=self.baseline_error_, low=min(b["low"], self.baseline_error_), high=float(high),
                 method=f"experiment {e.id}'s dev error", lowered_from=was)
        self._decide(f"experiment {e.id} reaches dev {show(e.dev_error)}, below the estimated baseline of {show(was)} "
                     f"beyond dev's noise (its 95% interval ends at {show(high)}): a reachable error bounds the "
                     f"irreducible one, so the baseline is now {show(e.dev_error)}")

    def _balanced(self, e):
        """(train, dev) balanced errors of an experiment: on the rows it trained on (each fold's model on its
        own rows, averaged over the folds) and on the judged rows."""
        from ..doctor.metrics import balanced_error

        def on(model, X, y):
            return balanced_error(y, np.asarray(model.predict(_rows(X))).reshape(-1))["error"]

        dev = balanced_error(self._judged(), self._dev_predictions(e))["error"]
        if isinstance(e.net, FoldModels):
            X, y = self._pool
            rest = [np.setdiff1d(np.arange(len(y)), val) for val in self._folds]
            return float(np.mean([on(m, X[t], y[t]) for m, t in zip(e.net.models, rest)])), dev
        data = subsample(self._data, e.config.train_share, self.seed)
        return on(e.net, data.X, data.y), dev

    def _train(self, cfg, epochs, warm, key, label):
        """The trainer's Result for `cfg` (from the `warm` experiment's weights): trained on train (its share)
        and watched on dev, or once per fold over train+dev; submitted now, or earlier by _prefetch."""
        futures = self._pending.pop(key, (None, None))[0] or self._submit(cfg, epochs, warm)
        try:
            results = [f.result() for f in futures]
        except (NNRecipeError, KeyboardInterrupt):
            raise
        except Exception as exc:
            if not self._runner.parallel:
                raise
            resume = "; the run folder keeps the experiments recorded before it: --resume continues from them"
            if isinstance(exc, BrokenExecutor) or type(exc).__name__ == "KilledWorker":      # a process died
                others = [why for _, why in self._pending.values()]    # any of them may be the one that ended it
                raise NNRecipeError(f"a worker process died ({type(exc).__name__}) while {label}" + (
                    f" and the trainings of {'; '.join(others)} were" if others else " was") + " running" +
                    resume) from None
            raise NNRecipeError(f"{label} failed where it ran ({type(exc).__name__}: {exc})" + resume) from None
        return combine(results, self._folds, *self._pool, self.target_.regression) if self._folds else results[0]

    def _submit(self, cfg, epochs, warm, alone=True):
        """Submit the trainings of one experiment to the runner: one, or one per fold (together, never alone)."""
        parts = range(len(self._folds)) if self._folds else [None]
        net = warm.net if warm else None
        return [self._runner.submit(self._trainer, cfg, p, epochs, self.seed, verbose=self.verbose,
                                    warm=net.models[p] if isinstance(net, FoldModels) else net,
                                    alone=alone and len(parts) == 1) for p in parts]

    def _prefetch(self, planned):
        """Parallel runs: submit at once the trainings of the experiments a knob proposed ((config, warm
        experiment, why) triples) that are not done, not recorded by an earlier run and within the budget now.
        Their results are read in order by _experiment, so the decisions are those of the serial path; one
        that the budget skips by then is never read."""
        if not self._runner.parallel:
            return
        todo = {}
        for cfg, warm, why in planned:
            key = self._key(cfg, warm)
            if not (key in self._done or key in self._pending or key in todo or key in self._store.previous
                    or self._past_budget(cfg, key)):
                todo[key] = (cfg, warm, why)
        if len(todo) < 2:
            return                      # one experiment: _experiment submits it (its folds in parallel)
        for key, (cfg, warm, why) in todo.items():
            self._pending[key] = (self._submit(cfg, cfg.epochs - key[1], warm, alone=False), why)
        if self.verbose:
            trainings = sum(len(futures) for futures, _ in self._pending.values())
            self.log(f"{len(todo)} experiments in flight ({trainings} trainings)")

    # ---- the end: test once, record, report -------------------------------------------------
    def _finish(self, best):
        best.kept = True
        self.best_experiment_, self.best_ = best, best.net
        self.diagnosis_, self.best_dev_error_ = best.diagnosis, best.dev_error
        model = "model" + getattr(self._trainer, "extension", ".npz")
        high = self._dev_high(best)
        self.record_["final"] = {"experiment": best.id, "model": model, "diagnosis": best.diagnosis.to_dict(),
                                 "dev_high": high, "confirmed": best.diagnosis.case != "good fit" or
                                 high - best.diagnosis.baseline_error <= best.diagnosis.tolerance + 1e-12}
        recorded = self._recorded_test(best)
        finished = ((self._store.previous_record or {}).get("final") or {}) if recorded is not None else None
        if self._refits(finished):
            self.best_ = self._refit(best, model, (finished or {}).get("refit"))
        if recorded is not None:
            test, note = recorded, f"recorded when the run first finished, {recorded['opened_at']}; not opened again"
        else:
            test = self._open_test(best)
            n = len(test["openings"])
            note = "opened once" if n == 1 else f"opened {n} times"
        self.record_["test"] = test
        self.test_error_ = test["error"]
        self._decide(f"chose experiment {best.id} (the incumbent, dev error {best.diagnosis.show(best.dev_error)}); "
                     f"test set {note}: test error {describe_test(test)}")
        openings = test["openings"]
        if recorded is None and len(openings) > 1:
            self._warn(f"the test set of the run in {self.out} has now been opened {len(openings)} times (first "
                       f"at {openings[0]['at']}): a choice made after seeing its error fits the test set, so "
                       "the error is no longer an unbiased estimate", TestSetWarning)
        self._save_model(self.best_, model)
        self._save()

    def _train_and_dev(self):
        """(X, y) of train+dev: the rows cross-validation folds, and a refit learns from."""
        s = self.split_
        return np.concatenate([s.train.X, s.dev.X]), np.concatenate([s.train.y, s.dev.y])

    def _refits(self, finished):
        """Whether the chosen configuration is refitted on train+dev (`_refit`): always after cross-validation;
        deciding on dev, when dev adds at least REFIT_SHARE of train's rows (60/20/20: a third more rows; not
        at 98/1/1, where it would cost a whole training for 1% more), unless this resumes a run that finished
        (`finished`: its record's "final", else None) without a refit (an older nnrecipe's), whose recorded model and test result stand. The
        test set then scores a model that learned from every row but the test's, as GridSearchCV's refit
        does. Measured on benchmarks/suite.py's tables that decide on dev (medians over seeds 0–2): digits
        1.95% → 1.67%, Friedman #1 RMSE 1.243 → 1.205."""
        if self._folds:
            return True
        return len(self.split_.dev) >= REFIT_SHARE * len(self.split_.train) and (finished is None or "refit" in finished)

    def _refit(self, best, model, recorded):
        """The chosen configuration trained from scratch on all of train+dev (its epochs, the plateau rule on
        J, a Standardizer of those rows); or, given `recorded` (the refit in the record of a run that finished
        with this choice), that run's model read back."""
        X, y = self._pool or self._train_and_dev()
        net = self._store.load_model(self._trainer, model) if recorded else None
        if net is not None:
            self.record_["final"]["refit"] = recorded
            self._spent += recorded["epochs"]                   # spent by the run that finished, as its experiments
            self._decide(f"refit of experiment {best.id}'s configuration on all {len(y)} rows of train+dev: read back "
                         "from the finished run")
            return net
        rows = _rows(X)
        data = replace(self._data, X=X, y=y, X_dev=rows, y_dev=y, normalizer=Standardizer().fit(rows))
        r = self._trainer.run(best.config, data, best.config.epochs, self.seed, verbose=self.verbose)
        self._spent += r.spent or r.epochs
        train = r.train_error
        if self.metric_ == "balanced":
            from ..doctor.metrics import balanced_error
            train = balanced_error(y, np.asarray(r.model.predict(rows)).reshape(-1))["error"]
        self.record_["final"]["refit"] = {"rows": len(y), "epochs": r.epochs, "train_error": train,
                                          "stop_reason": r.stop_reason}
        self._decide(f"refitted experiment {best.id}'s configuration on all {len(y)} rows of train+dev: {r.epochs} "
                     f"epochs, train {self._show(train)}")
        return r.model

    def _recorded_test(self, best):
        """The recorded run's test result when it finished with this same choice, else None."""
        record = self._store.previous_record or {}
        test, final = record.get("test"), record.get("final") or {}
        chosen = [e for e in record.get("experiments", []) if e.get("id") == final.get("experiment")]
        if not test or not chosen or Config.from_dict(chosen[0]["config"]) != best.config:
            return None
        return test

    def _open_test(self, best):
        """Open the test set (once) and measure the chosen model on it: the error rate with its 95%
        Wilson interval and the confusion matrix, or the RMSE with its 95% bootstrap interval, the MAE,
        R² and the predictions (up to MAX_POINTS) for the report's plots."""
        from ..doctor.metrics import confusion, regression_errors
        test = self.split_.open_test(reason=f"final evaluation of experiment {best.id}")
        predicted = np.asarray(self.best_.predict(_rows(test.X))).reshape(-1)
        at, reason = self.split_.test_openings[-1]
        openings = [*self._store.openings(), {"at": at, "reason": reason}]
        opened = {"opened_at": openings[0]["at"], "reason": openings[0]["reason"], "openings": openings}
        if self.target_.regression:
            found = regression_errors(test.y, predicted, seed=self.seed)
            shown = slice(0, MAX_POINTS)
            return found | {"error": found["rmse"], "actual": test.y[shown].tolist(),
                            "predicted": predicted[shown].tolist()} | opened
        from ..doctor.metrics import balanced_error
        error = float(self.best_.error(_rows(test.X), test.y))          # the model's own rule, as on dev
        n, wrong = len(test), round(error * len(test))
        low, high = error_interval(wrong, n)
        # interval: half the width of [low, high], for readers of older records
        return {"error": error, "n": n, "errors": wrong, "low": low, "high": high, "interval": (high - low) / 2,
                "method": "wilson", "metric": self.metric_, "balanced": balanced_error(test.y, predicted),
                "confusion": confusion(test.y, predicted.astype(np.int64), self.record_["data"]["classes"])} | opened

    def _features(self):
        return self.record_["data"]["features"]

    def _save_model(self, model, name):
        """Write a model file; a cross-validated experiment's k models as name-fold1 ... name-foldk."""
        models = model.models if isinstance(model, FoldModels) else [model]
        for i, m in enumerate(models):
            self._store.save_model(self._trainer, m, _fold_file(name, i) if isinstance(model, FoldModels) else name,
                                   self.classes_, self._features(), self.preprocessor_)

    def _load_model(self, e):
        """A recorded experiment's model, or None when it cannot be read back; a cross-validated one's k
        models with their out-of-fold predictions computed again."""
        if not e.folds:
            return self._store.load_model(self._trainer, e.model)
        if e.folds != len(self._folds or ()):
            return None
        models = [self._store.load_model(self._trainer, _fold_file(e.model, i)) for i in range(e.folds)]
        if any(m is None for m in models):
            return None
        X, y = self._pool
        oof = np.zeros(len(y), dtype=np.float64 if self.target_.regression else np.int64)
        for m, val in zip(models, self._folds):
            oof[val] = np.asarray(m.predict(_rows(X[val]))).reshape(-1)
        return FoldModels(models, oof)

    def _data_decisions(self, inputs):
        """The trail's lines for rows dropped and for every column a raw table's preprocessor did more with
        than use as it is; the record's data section gets them all."""
        for reason, count in inputs.dropped.items():
            self._decide(f"rows dropped: {count} ({reason})")
        pre = inputs.preprocessor
        if pre is None:
            return
        plain_ = [d["column"] for d in pre.decisions_ if d["action"] == "used"]
        if plain_:
            self._decide(f"columns used as they are: {', '.join(map(str, plain_))}")
        for d in pre.decisions_:
            if d["action"] != "used":
                self._decide(f"column {d['column']!r} ({d['kind']}): {d['action']}, {d['reason']}")

    def _new_record(self, name, features, s, print_):
        return {"format": RUN_FORMAT, "version": RUN_VERSION,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "data": {"name": str(name), "n": len(s.train) + len(s.dev) + len(s.test),
                         "n_features": self._context.n_features,
                         "features": None if features is None else [str(f) for f in features],
                         "classes": None if self.classes_ is None else
                         [c if isinstance(c, (int, float, str)) else str(c) for c in map(plain, self.classes_)],
                         "kind": self.target_.task if self.target_.regression else
                         "binary" if self._context.n_out == 1 else "multiclass",
                         "images": self._context.images, "fingerprint": print_, "duplicates": None,
                         "columns": None if self.preprocessor_ is None else self.preprocessor_.decisions_,
                         "rows_dropped": self._dropped, "task_reason": self.target_.reason},
                "split": {"train": len(s.train), "dev": len(s.dev), "test": len(s.test), "reason": s.sizes.reason,
                          "dev_interval": s.sizes.dev_interval, "test_interval": s.sizes.test_interval},
                "match": self.match_.to_dict(), "baseline_error": self.baseline_error_, "units": self.target_.units,
                "tolerance": self.tolerance_, "budget": self.budget, "seed": self.seed,
                "knobs": [k.name for k in self._knobs], "experiments": [], "lambda_sweep": [],
                "learning_curve": None, "decisions": self.decisions_, "warnings": [], "final": None, "test": None}

    def _decide(self, sentence):
        self.decisions_.append(sentence)

    def _warn(self, sentence, category):
        """A finding that qualifies the results: in the decision trail, the record's warnings and a Python
        warning at the user's call."""
        self._decide(f"WARNING, {sentence}")
        self.record_["warnings"].append(sentence)
        _warn_user(sentence, category)

    def _check_duplicates(self, s):
        """Dev and test rows that repeat a training row make their errors optimistic, unless the table has
        so few distinct rows that chance alone gives as many repeats (doctor.metrics.duplicate_rows)."""
        from ..doctor.metrics import duplicate_rows
        train = _rows(s.train.X)
        checks = {sub.name: duplicate_rows(train, _rows(sub.peek()[0]), sub.name) for sub in (s.dev, s.test)}
        self.record_["data"]["duplicates"] = {name: c["found"] for name, c in checks.items()}
        self.record_["data"]["duplicate_check"] = checks
        for c in checks.values():
            if c["found"] and c["chance"]:
                self._decide(c["message"])
        leaks = [c["message"] for c in checks.values() if not c["chance"]]
        if leaks:
            self._warn("; ".join(leaks), LeakageWarning)

    def _save(self):
        self.record_["experiments"] = [e.to_dict() for e in self.experiments_]
        self.record_["spent_epochs"] = self._spent
        self._store.write_record(self.record_)

    # ---- validation -------------------------------------------------------------------------
    def _validate_options(self):
        """(knobs, trainer), checked before any work (the levels once the task is known)."""
        if self.budget is not None:
            positive(self.budget, "budget", integer=True)
        cv = self.cv
        expect((isinstance(cv, str) and cv == "auto") or (isinstance(cv, numbers.Integral) and not isinstance(
            cv, bool) and (cv == 0 or cv >= 2)), "cv", '"auto", 0 (decide on dev) or a number of folds ≥ 2', repr(cv))
        expect(isinstance(self.metric, str) and self.metric in METRICS, "metric", " or ".join(map(repr, METRICS)),
               repr(self.metric))
        self._knobs = check_knobs(default_knobs() if self.knobs is None else self.knobs)
        if self.trainer is not None and self.model is not None:
            raise NNRecipeError("give model (a NumPy network builder) or trainer, not both")
        trainer = NumpyTrainer(self.model) if self.trainer is None else self.trainer
        workers, executor = check_executor(self.workers, self.executor)
        if self.workers is None and executor is None and not isinstance(trainer, NumpyTrainer):
            workers = 1                              # a torch trainer owns its devices (GPU, DDP): serial
        self._parallel = (workers or 1, executor)
        expect(callable(getattr(trainer, "run", None)), "trainer", "an object with run(config, data, epochs, seed, "
               "warm, verbose), e.g. nnrecipe.torch.TorchTrainer", type(trainer).__name__)
        return self._knobs, trainer
