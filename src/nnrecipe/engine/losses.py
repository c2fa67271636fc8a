"""Output activation and loss, fused: the gradient of the mean loss w.r.t. the logits z is
(p − y)/batch, and no log(0) can occur whatever the logits.

Each loss knows its targets (`targets` validates and shapes y), its output (`output`), its
prediction (`predict`, from the logits: labels decided by one rule that `errors` shares), and its
error (classification: share misclassified; regression: mean squared error).
"""

import numpy as np
from scipy.special import expit

from ..errors import NNRecipeError


def _as_columns(y, n_outputs, output):
    """y as (n, n_outputs): a 1-D y is one column."""
    y = np.asarray(y)
    column = y.reshape(-1, 1) if y.ndim == 1 else y
    if column.shape[1] != n_outputs:
        raise NNRecipeError(f"y must have {n_outputs} column(s) for a {n_outputs}-unit {output} output; "
                            f"got shape {y.shape}")
    return column


class BinaryCrossEntropy:
    """Sigmoid output. L = −y log σ(z) − (1−y) log(1−σ(z)) = max(z,0) − z·y + log(1+e^−|z|)."""

    activation = "sigmoid"
    classifier = True

    def targets(self, y, n_outputs, dtype):
        column = _as_columns(y, n_outputs, "sigmoid")
        bad = (column != 0) & (column != 1)
        if bad.any():
            raise NNRecipeError(f"y must hold labels in {{0, 1}} for a sigmoid output; got {column[bad][0].item()!r}")
        return column.astype(dtype)

    def output(self, z):
        return expit(z)

    def per_example(self, z, y):
        return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum(axis=-1)

    def loss_and_grad(self, z, y):
        """Sum of losses over the batch, and dL/dz per example (not yet divided by the batch)."""
        return float(self.per_example(z, y).sum()), expit(z) - y

    def predict(self, z):
        """Labels from the logits: z > 0 ⇔ p > 0.5, also where σ(z) rounds to exactly 0.5."""
        labels = (z > 0).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels

    def errors(self, z, y):
        """Number of wrong labels in the batch (averaged over the outputs)."""
        return float((self.predict(z).reshape(y.shape) != y).sum()) / y.shape[1]


class CategoricalCrossEntropy:
    """Softmax output with integer labels. L = logsumexp(z) − z_y."""

    activation = "softmax"
    classifier = True

    def targets(self, y, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim != 1:
            raise NNRecipeError(f"y must be 1-D integer class labels for a softmax output; got shape {y.shape}")
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise NNRecipeError(f"y must hold integer class labels for a softmax output; got {y[y != np.round(y)][0].item()!r}")
        labels = y.astype(np.int64)
        if labels.min() < 0 or labels.max() >= n_outputs:
            raise NNRecipeError(f"y must hold labels in 0..{n_outputs - 1} for a {n_outputs}-unit softmax output "
                                f"(more classes than outputs?); got labels {labels.min()}..{labels.max()}")
        return labels

    def output(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def per_example(self, z, y):
        top = z.max(axis=-1, keepdims=True)
        index = np.broadcast_to(y[..., None], z.shape[:-1] + (1,))     # z may stack perturbations
        picked = np.take_along_axis(z, index, axis=-1)[..., 0]
        return np.log(np.exp(z - top).sum(axis=-1)) + top[..., 0] - picked

    def loss_and_grad(self, z, y):
        rows = np.arange(len(y))
        shifted = z - z.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        total = p.sum(axis=1, keepdims=True)
        loss = float((np.log(total[:, 0]) - shifted[rows, y]).sum())
        p /= total
        p[rows, y] -= 1                                   # p − onehot(y)
        return loss, p

    def predict(self, z):
        """Labels from the logits (argmax z: no ties made by rounding probabilities)."""
        return z.argmax(axis=1)

    def errors(self, z, y):
        return float((self.predict(z) != y).sum())


class MeanSquaredError:
    """Linear output. L = ½‖z − y‖² per example (the ½ makes the gradient z − y)."""

    activation = "linear"
    classifier = False

    def targets(self, y, n_outputs, dtype):
        return _as_columns(y, n_outputs, "linear").astype(dtype)

    def output(self, z):
        return z

    def per_example(self, z, y):
        return 0.5 * ((z - y) ** 2).sum(axis=-1)

    def loss_and_grad(self, z, y):
        diff = z - y
        return 0.5 * float(np.vdot(diff, diff)), diff

    def predict(self, z):
        return z[:, 0] if z.shape[1] == 1 else z

    def errors(self, z, y):
        """Sum over the batch of the squared error (averaged over outputs): its mean is the MSE."""
        diff = z - y
        return float(np.vdot(diff, diff)) / y.shape[1]


LOSSES = {cls.activation: cls for cls in (BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError)}
