"""The package's one error type, and its warnings."""


class NNRecipeError(ValueError):
    """Bad input to nnrecipe: the message names the argument, what was expected and what was given."""


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the cost became NaN or infinite, or rose far above its starting value
    (training.callbacks.diverged); the weights with the lowest cost were restored."""


class TestSetLocked(NNRecipeError):
    """The test set was read before `Split.open_test(reason=...)`."""


class TestSetWarning(UserWarning):
    """The test set was opened more than once."""


class LeakageWarning(UserWarning):
    """Statistics were fitted on rows that also sit in a dev or test set."""


class DropoutWarning(UserWarning):
    """diagnose(history) read a train error that was measured with dropout on."""


class BaselineWarning(UserWarning):
    """baseline_error="auto" could not estimate the irreducible error; the recipe used 0."""


def expect(condition, argument, expected, given):
    """Raise NNRecipeError('`argument` must be expected; got given') unless condition holds."""
    if not condition:
        raise NNRecipeError(f"{argument} must be {expected}; got {given}")
