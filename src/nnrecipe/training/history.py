"""History: what one or more calls of fit recorded, one value per epoch."""

FIELDS = ("cost", "penalty", "train_error", "dev_cost", "dev_error", "time")


class History:
    """Per epoch: `cost` (J, penalty included: the curve to plot), `penalty` (its
    regularization part), `train_error`, `dev_cost` (mean loss on dev) and `dev_error` when
    dev data is given, `time` (seconds).

    `train_error` is measured as Keras measures it: over the epoch's batches as they were
    trained, with dropout on and the weights moving between batches. It is not the error of
    the trained network on the training set: that is `net.error(X, y)`.

    `dropout` is True when a Dropout layer with keep_prob < 1 was active in training, so that
    train_error was measured with dropout on (it then overstates the network's training error).
    `stop_reason` says why training ended early (early stopping, divergence), else None.
    """

    def __init__(self):
        for field in FIELDS:
            setattr(self, field, [])
        self.stop_reason = None
        self.dropout = False

    def append(self, logs):
        for field in FIELDS:
            if field in logs:
                getattr(self, field).append(logs[field])

    def __len__(self):
        return len(self.cost)

    def state(self):
        return {field: list(getattr(self, field)) for field in FIELDS} | {"stop_reason": self.stop_reason, "dropout": self.dropout}

    @classmethod
    def from_state(cls, state):
        history = cls()
        for field in FIELDS:
            setattr(history, field, [float(v) for v in state.get(field, [])])
        history.stop_reason = state.get("stop_reason")
        history.dropout = bool(state.get("dropout", False))
        return history

    def __repr__(self):
        last = {f: round(getattr(self, f)[-1], 6) for f in FIELDS[:-1] if getattr(self, f)}
        return f"History(epochs={len(self)}, last={last})"
