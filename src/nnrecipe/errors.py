"""The package's one error type, and the warning it gives when training diverges."""


class NNRecipeError(ValueError):
    """Bad input to nnrecipe: the message names the argument, what was expected and what was given."""


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the cost became NaN or infinite."""


def expect(condition, argument, expected, given):
    """Raise NNRecipeError('`argument` must be expected; got given') unless condition holds."""
    if not condition:
        raise NNRecipeError(f"{argument} must be {expected}; got {given}")
