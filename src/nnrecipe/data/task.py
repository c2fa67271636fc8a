"""What a target is, classes or a number: one rule for every reader (`read_data`, the recipe).

task="auto" calls a target a regression target when it has fractional values, or when it holds whole
numbers with many distinct values (more than MAX_CLASSES, and on average fewer than MIN_PER_CLASS
rows each: such "classes" could not be learned, e.g. a disease-progression score of 25 to 346);
text, booleans and few whole numbers are classes. "classify" and "regress" say it outright.
"""

import numpy as np

from .._checks import plain

TASKS = ("auto", "classify", "regress")
MAX_CLASSES, MIN_PER_CLASS = 20, 20


def numbers(y):
    """y (n,) as float64 when every value is a real number (no text, no None, no bool), else None."""
    if y.dtype.kind in "biuf":
        return y.astype(np.float64)
    if y.dtype.kind == "O" and all(isinstance(plain(v), (int, float)) and not isinstance(plain(v), bool) for v in y):
        return y.astype(np.float64)
    return None


def decide_task(values, n, task):
    """(regression?, reason in words) for a target of n rows; values: its numbers (float64), or None when
    it is not numeric; task: one of TASKS."""
    if task == "classify":
        return False, "task: classification, as asked (--task classify)"
    if task == "regress":
        return True, "task: regression, as asked (--task regress)"
    if values is None:
        return False, "task: classification: the target holds labels that are not numbers"
    finite = values[np.isfinite(values)]
    fraction = np.flatnonzero(finite != np.round(finite))
    if fraction.size:
        return True, (f"task: regression: the target has fractional values ({plain(finite[fraction[0]])} "
                      f"and {fraction.size - 1} more); --task classify overrides")
    distinct = len(np.unique(finite))
    if distinct > MAX_CLASSES and n / distinct < MIN_PER_CLASS:
        return True, (f"task: regression: the target holds whole numbers with {distinct} distinct values in {n} "
                      f"rows (more than {MAX_CLASSES} classes of under {MIN_PER_CLASS} rows on average could not "
                      "be learned as classes); --task classify overrides")
    return False, (f"task: classification: the target holds {distinct} distinct whole numbers; --task regress "
                   "overrides")
