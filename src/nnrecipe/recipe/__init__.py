"""The recipe as an open design: a policy (loop), knobs that propose, trainers that train, Experiment
records and a run store. `nr.Recipe`, `nr.Knob` and friends are re-exported by the package root."""

from .experiment import Config, Experiment
from .knobs import (
    Augment,
    Candidate,
    Context,
    Deeper,
    Dropout,
    Knob,
    L2Grid,
    LearningCurve,
    Longer,
    Note,
    Skip,
    SmallerLearningRate,
    Wider,
    default_knobs,
)
from .inputs import MIN_ROWS
from .loop import Recipe
from .store import RunStore
from .trainers import NumpyTrainer, Result, TrainData, Trainer

__all__ = ["MIN_ROWS", "Augment", "Candidate", "Config", "Context", "Deeper", "Dropout", "Experiment", "Knob",
           "L2Grid", "LearningCurve", "Longer", "Note", "NumpyTrainer", "Recipe", "Result", "RunStore", "Skip",
           "SmallerLearningRate", "TrainData", "Trainer", "Wider", "default_knobs"]
