"""The figures of a run: one small function per figure, each returning a matplotlib Figure.

Figures are `matplotlib.figure.Figure` objects, rendered by Agg when saved; pyplot is never used,
so there is no global list of open figures and nothing carries over from one figure to the next.
The style is set on each Axes (not in rcParams), so the caller's matplotlib settings are neither
read for it nor changed: one colour for train, one for dev, a light grid, 9–11 pt text.

Histories may be `nr.History` objects or the `history` dicts of a run record (keys cost, penalty,
train_error, dev_error); a diagnosis may be an `nr.Diagnosis` or its dict.
"""

import io
import math
from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter
from PIL import Image

from ..engine.serialize import atomic_write
from ..errors import NNRecipeError

TRAIN, DEV, BASELINE = "#2563a8", "#e0702a", "#8a8f98"    # blue for train, orange for dev, grey baseline
FAINT, INK, GRID = "#c3c8cf", "#2b2f33", "#e6e8eb"
HIGH, FINE = "#c0392b", "#2e8b57"                          # a gap above the tolerance / within it
CLASSES = ("#1b9e77", "#7570b3", "#d95f02", "#e7298a", "#66a61e", "#a6761d", "#e6ab02", "#666666")
SIZE, DPI = (7.0, 4.0), 110                                # 770 × 440 pixels


# ---- shared pieces ---------------------------------------------------------------------------
def new_figure(title=None, xlabel=None, ylabel=None, nrows=1, ncols=1, size=SIZE, **subplots):
    """A white Figure with an (nrows, ncols) array of styled Axes; titles and labels on the first."""
    fig = Figure(figsize=size, dpi=DPI, facecolor="white", layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    for ax in axes.flat:
        ax.set_facecolor("white")
        ax.grid(True, color=GRID, linewidth=0.7)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.spines[["left", "bottom"]].set_color("#9aa0a6")
        ax.tick_params(labelsize=9, colors=INK, length=3)
    label(axes[0, 0], title, xlabel, ylabel)
    return fig, axes


def label(ax, title=None, xlabel=None, ylabel=None):
    if title:
        ax.set_title(title, fontsize=11, color=INK, loc="left")
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=10, color=INK)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=10, color=INK)


def legend(ax, **kw):
    """A legend on a translucent white box without an edge: a line it covers stays out of its way."""
    ax.legend(fontsize=9, frameon=True, framealpha=0.85, edgecolor="none", facecolor="white", **kw)


def save(fig, path):
    """Write `fig` to `path` as a PNG (atomically: temp file + rename) and return the PNG's bytes.

    The figures are flat colours with anti-aliased edges, so a 256-colour palette PNG looks the
    same as the RGB one at about a third of the size.
    """
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=DPI, facecolor="white")
    out = io.BytesIO()
    Image.open(raw).convert("RGB").quantize(256).save(out, format="png", optimize=True)
    data = out.getvalue()
    write_bytes(path, data)
    return data


def write_bytes(path, data):
    """Write bytes to path atomically: a reader sees the old file or the new one, never half."""
    atomic_write(path, lambda f: f.write(data))


def finite(value):
    """value as a float, or None when it is missing, not a number or not finite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def error_text(value, percent=True, signed=False):
    """An error as the report writes it everywhere (titles, legends, tables, cards): a rate as a
    percentage with one decimal, two below 1% (where one would round to 0.0%); a regression error
    (percent=False: an RMSE, in the target's units) with 3 significant digits; "—" when missing."""
    v = finite(value)
    if v is None:
        return "—"
    sign = "+" if signed else ""
    if not percent:
        return f"{v:{sign}.3g}"
    return f"{v:{sign}.{2 if 0 < abs(v) < 0.01 else 1}%}"


def error_label(percent=True):
    """The error axis's name: "error" for rates, "RMSE" for regression (in the target's units)."""
    return "error" if percent else "RMSE"


def drawn(fig):
    """What a figure of this module shows, read back from its artists (for captions, alt text, tests):
    {"titles": the left title of each visible Axes, in order; "marks": one {"label", "x", "y"} per
    marked point (the ring of `lambda_sweep`)}."""
    axes = [ax for ax in fig.axes if ax.get_visible()]
    marks = [{"label": line.get_label(), "x": float(line.get_xdata()[0]), "y": float(line.get_ydata()[0])}
             for ax in axes for line in ax.lines if line.get_gid() == "mark"]
    return {"titles": [ax.get_title(loc="left") for ax in axes], "marks": marks}


def _get(obj, key, default=None):
    """obj[key] for a record dict, obj.key for a History or Diagnosis; None counts as missing."""
    value = obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)
    return default if value is None else value


def _series(obj, key):
    return np.asarray(_get(obj, key, []), dtype=float).ravel()


def _epochs(values):
    return np.arange(1, len(values) + 1)


def _log_if_wide(ax, values, axis="y", span=10.0):
    """Log scale on `axis` when the positive values span more than `span`× (a decade by default):
    then the slow tail of a curve is as readable as its fast start."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() > span * v.min():
        _log_axis(ax, axis, v)


def _log_axis(ax, axis, positive, linthresh=None):
    """A log `axis` ("x" or "y"), or symlog (linear below `linthresh`) when 0 must show too,
    labelled with plain numbers (0.3, 1, 20) rather than 3×10⁻¹; minor ticks labelled only when
    the values lie within two decades."""
    scale = {"value": "symlog", "linthresh": linthresh} if linthresh else {"value": "log"}
    getattr(ax, f"set_{axis}scale")(**scale)
    which = getattr(ax, f"{axis}axis")
    which.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    few = positive.max() <= 100 * positive.min()
    which.set_minor_formatter(FuncFormatter(_two_five) if few else NullFormatter())


def _two_five(value, _):
    """Minor log tick label: only 2× and 5× a power of ten (0.2, 0.5, 20), the rest unlabelled."""
    mantissa = value / 10 ** np.floor(np.log10(value)) if value > 0 else 0
    return f"{value:g}" if round(mantissa, 6) in (2, 5) else ""


def _error_axis(ax, percent):
    """Error rates as percentages from 0; regression errors (RMSE, in the target's units) as plain numbers."""
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.set_ylim(bottom=0)


def _train_dev(ax, x, train, dev, lw=1.8, marker=None, labels=True):
    """The train curve in TRAIN, the dev curve in DEV: the pair every error figure draws."""
    if len(train):
        ax.plot(x[:len(train)], train, color=TRAIN, lw=lw, marker=marker, ms=4, label="train" if labels else None)
    if len(dev):
        ax.plot(x[:len(dev)], dev, color=DEV, lw=lw, marker=marker, ms=4, label="dev" if labels else None)


# ---- the figures -----------------------------------------------------------------------------
def cost_curve(history, others=(), title="Cost J per epoch"):
    """J per epoch of `history` (bold) with its penalty term (dashed), over the J of `others` (faint).

    J = (1/m)·ΣL + (λ/2m)·Σ‖W‖²: the penalty line shows how much of J is regularization.
    """
    fig, axes = new_figure(title, "epoch", "J")
    ax = axes[0, 0]
    plotted = []
    for i, other in enumerate(others):
        cost = _series(other, "cost")
        ax.plot(_epochs(cost), cost, color=FAINT, lw=1, label="other experiments" if i == 0 else None)
        plotted.append(cost)
    cost, penalty = _series(history, "cost"), _series(history, "penalty")
    ax.plot(_epochs(cost), cost, color=TRAIN, lw=2, label="J (training set)")
    plotted.append(cost)
    if np.any(penalty > 0):
        ax.plot(_epochs(penalty), penalty, color=TRAIN, lw=1.3, ls="--", label="penalty (λ/2m)·Σ‖W‖²")
        plotted.append(penalty)
    _log_if_wide(ax, np.concatenate(plotted))
    legend(ax)
    return fig


def error_curves(histories, labels=None, highlight=-1, baseline=None, percent=True, dev=None):
    """Train and dev error per epoch, one small panel per history (shared y), `highlight` in bold.

    Each panel's title gives the dev error of the weights the run kept: dev[i] when given (a run
    record's experiments[i]["dev_error"]), else the history's last dev error (its final weights').
    The dot marks the epoch of lowest dev error, "lowest dev" in the legend: a reference point, not
    the weights kept unless it is the last epoch. `drawn(fig)["titles"]` reads the titles back.
    """
    n = max(len(histories), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    size = SIZE if n == 1 else (SIZE[0], 1.0 + 2.2 * nrows)
    fig, axes = new_figure(nrows=nrows, ncols=ncols, size=size, sharey=True)
    labels = labels or [f"#{i + 1}" for i in range(len(histories))]
    highlight = highlight % n if highlight is not None else None
    for i, ax in enumerate(axes.flat):
        if i >= len(histories):
            ax.set_visible(False)
            continue
        train, dev_curve = _series(histories[i], "train_error"), _series(histories[i], "dev_error")
        _train_dev(ax, _epochs(max(train, dev_curve, key=len)), train, dev_curve, lw=1.5, labels=i == 0)
        if baseline is not None:
            ax.axhline(baseline, color=BASELINE, ls=":", lw=1.2, label="baseline" if i == 0 else None)
        finite_dev = dev_curve[np.isfinite(dev_curve)]
        if finite_dev.size:
            low = int(np.nanargmin(dev_curve))
            ax.plot(low + 1, dev_curve[low], "o", color=DEV, ms=5, label="lowest dev" if i == 0 else None)
        kept = dev[i] if dev is not None else (finite_dev[-1] if finite_dev.size else None)
        title = str(labels[i]) + (f"  ·  dev {error_text(kept, percent)}" if finite(kept) is not None else "")
        ax.set_title(title, fontsize=10, color=INK, loc="left",
                     fontweight="bold" if i == highlight else "normal")
        if i == highlight and n > 1:
            ax.spines[["left", "bottom"]].set(color=INK, linewidth=1.4)
        _error_axis(ax, percent)
    first = axes[0, 0]
    label(first, ylabel=error_label(percent))
    for ax in axes[-1]:
        label(ax, xlabel="epoch")
    legend(first)
    return fig


def bias_variance_bar(diagnosis, title="Where the error comes from", percent=True):
    """Baseline, train and dev error as bars, with the two gaps the recipe reads as arrows:
    avoidable bias = train − baseline, variance = dev − train; red when above the tolerance."""
    base, train = float(_get(diagnosis, "baseline_error", 0.0)), float(_get(diagnosis, "train_error"))
    dev, tol = float(_get(diagnosis, "dev_error")), float(_get(diagnosis, "tolerance", 0.0))
    fig, axes = new_figure(title, None, error_label(percent))
    ax = axes[0, 0]
    x = np.array([0.0, 1.5, 3.0])                      # gaps between the bars leave room for arrows
    fmt = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.3g}")
    bars = ax.bar(x, [base, train, dev], width=0.6, color=[BASELINE, TRAIN, DEV])
    ax.bar_label(bars, labels=[fmt(v) for v in (base, train, dev)], padding=3, fontsize=9, color=INK)
    ax.set_xticks(x, ["baseline", "train", "dev"], fontsize=10)
    ax.grid(False, axis="x")
    for mid, lo, hi, name in ((0.75, base, train, "avoidable bias"), (2.25, train, dev, "variance")):
        colour = HIGH if hi - lo > tol else FINE
        ax.hlines([lo, hi], mid - 0.45, mid + 0.45, color=FAINT, ls=":", lw=1)
        ax.annotate("", xy=(mid, hi), xytext=(mid, lo),
                    arrowprops={"arrowstyle": "<->", "color": colour, "lw": 1.6, "shrinkA": 0, "shrinkB": 0})
        sign = "+" if hi >= lo else "−"
        ax.text(mid, (lo + hi) / 2, f"{name}\n{sign}{fmt(abs(hi - lo))}", ha="center", va="center",
                fontsize=9, color=colour, bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1.5})
    top = max(base, train, dev)
    ax.set_ylim(0, top * 1.25 if top > 0 else 0.01)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.text(1.0, 1.0, f"red: gap above the tolerance {fmt(tol)}", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=8.5, color=HIGH)
    return fig


def lambda_sweep(sweep, title="L2 strength λ: train and dev error", percent=True, mark="lowest",
                 mark_label=None):
    """Train and dev error against λ (log x), one point ringed.

    mark : which point to ring: an index into `sweep` (as given, e.g. the chosen model's point),
    "lowest" (the lowest dev error; among ties the smallest λ) or None (no ring). mark_label : the
    ring's legend text (default "λ = …", "lowest dev: λ = …" for "lowest"). `drawn(fig)["marks"]`
    reads the ring back. λ = 0 cannot sit on a log axis, so with it the axis is symlog: linear
    below the smallest positive λ, logarithmic above.
    """
    order = sorted(range(len(sweep)), key=lambda i: float(_get(sweep[i], "l2", 0.0)))
    points = [sweep[i] for i in order]
    lam = np.array([float(_get(p, "l2", 0.0)) for p in points])
    train = np.array([float(_get(p, "train_error", np.nan)) for p in points])
    dev = np.array([float(_get(p, "dev_error", np.nan)) for p in points])
    fig, axes = new_figure(title, "λ", error_label(percent))
    ax = axes[0, 0]
    _train_dev(ax, lam, train, dev, marker="o")
    at = None
    if isinstance(mark, str) and mark == "lowest":
        at = int(np.nanargmin(dev)) if np.isfinite(dev).any() else None
        mark_label = mark_label or (f"lowest dev: λ = {lam[at]:g}" if at is not None else None)
    elif mark is not None:
        at = order.index(int(mark))             # a ValueError names a mark that is not an index of sweep
    if at is not None:
        ax.plot(lam[at], dev[at], "o", ms=13, mfc="none", mec=DEV, mew=1.5, gid="mark",
                label=mark_label or f"λ = {lam[at]:g}")
    positive = lam[lam > 0]
    if positive.size:
        _log_axis(ax, "x", positive, linthresh=positive.min() if positive.size < lam.size else None)
    _error_axis(ax, percent)
    legend(ax)
    return fig


def learning_curve(curve, title="Learning curve", percent=True):
    """Train and dev error against the number of training examples (log x when wide)."""
    sizes = _series(curve, "sizes")
    fig, axes = new_figure(title, "training examples", error_label(percent))
    ax = axes[0, 0]
    _train_dev(ax, sizes, _series(curve, "train_error"), _series(curve, "dev_error"), marker="o")
    _log_if_wide(ax, sizes, axis="x")
    _error_axis(ax, percent)
    legend(ax)
    return fig


def decision_boundary(ax, predict, X, y, resolution=200):
    """Shade the label `predict` gives over a grid spanning X (+8%), then scatter X by class y.

    predict : a callable (n, 2) → labels, e.g. `net.predict`. A float output that is not
    integer-valued (a probability, a regression value) is shaded continuously instead, with the
    0.5 contour drawn when it lies in range.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y).ravel()
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = np.where(hi > lo, 0.08 * (hi - lo), 0.5)
    g0, g1 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    Z = np.asarray(predict(np.column_stack([g0.ravel(), g1.ravel()]))).reshape(g0.shape)
    discrete = np.allclose(Z, np.rint(Z))
    if discrete and y.dtype.kind in "iu":
        Z = np.rint(Z).astype(y.dtype)
    seen = np.union1d(np.unique(y), np.unique(Z)) if discrete else np.unique(y)
    colours = [CLASSES[i % len(CLASSES)] for i in range(len(seen))]
    if discrete:
        # each label → its index in `seen`; filled levels halfway between indices: one flat colour each
        index = np.searchsorted(seen, Z)
        levels = np.arange(len(seen) + 1) - 0.5
        ax.contourf(g0, g1, index, levels=levels, colors=colours, alpha=0.22)
        if len(seen) > 1:
            ax.contour(g0, g1, index, levels=levels[1:-1], colors=INK, linewidths=0.8, alpha=0.6)
    else:
        cmap = LinearSegmentedColormap.from_list("two", [colours[0], "white", colours[-1]])
        ax.contourf(g0, g1, Z, levels=16, cmap=cmap, alpha=0.35)
        if Z.min() < 0.5 < Z.max():
            ax.contour(g0, g1, Z, levels=[0.5], colors=INK, linewidths=0.9)
    for c, colour in zip(seen, colours):
        pts = X[y == c]
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colour, edgecolor="white", linewidth=0.4,
                       label=f"class {c}", zorder=3)
    ax.set_xlim(g0.min(), g0.max())
    ax.set_ylim(g1.min(), g1.max())
    ax.grid(False)
    legend(ax, markerscale=1.5)
    return ax


def decision_boundary_figure(predict, X, y, title="Decision boundary", features=("x0", "x1")):
    """decision_boundary on a figure of its own."""
    fig, axes = new_figure(title, features[0], features[1])
    decision_boundary(axes[0, 0], predict, X, y)
    return fig


def gradient_norms(norms, epochs=None, title="Gradient norm per layer"):
    """‖∂J/∂W‖ per layer (log y) over the checked epochs; darker colour = deeper layer.

    norms : {"W1": [...], "W2": [...]} one value per check; epochs : the epoch of each check
    (without them the x axis counts checks). Vanishing gradients fall towards 0 in the first
    layers, exploding ones rise by decades: both show at once on a log scale.
    """
    fig, axes = new_figure(title, "epoch" if epochs is not None else "check", "gradient norm")
    ax = axes[0, 0]
    cmap = colormaps["viridis"]
    values = []
    for i, (name, norm) in enumerate(norms.items()):
        v = np.asarray(norm, dtype=float).ravel()
        x = np.asarray(epochs)[:len(v)] if epochs is not None else _epochs(v)
        colour = cmap(0.85 * (1 - i / max(len(norms) - 1, 1)))          # first layer light, last dark
        ax.plot(x, np.where(v > 0, v, np.nan), color=colour, lw=1.6, marker="o" if len(v) <= 30 else None,
                ms=3, label=str(name))
        values.append(v)
    _log_if_wide(ax, np.concatenate(values) if values else [], span=1.0)
    legend(ax, ncols=min(max(len(norms), 1), 4))
    return fig




def confusion_matrix(ax, matrix, labels, flagged=()):
    """Draw a k × k confusion matrix on `ax` as a heatmap: row i is the true class i, column j the
    predicted class, each cell written with its count and shaded by its share of the row (M[i][j] / n_i),
    so that a rare class's row reads as clearly as a common one's; a dark diagonal is a class the model
    gets right. flagged : indices of classes whose error stands out (their row label in HIGH). With
    more than 20 classes the counts are left out (the shading stays). Returns the image."""
    M = np.asarray(matrix, dtype=float).reshape(len(matrix), -1)
    k = len(M)
    rows = M.sum(axis=1, keepdims=True)
    share = np.divide(M, rows, out=np.zeros_like(M), where=rows > 0)
    ax.grid(False)
    image = ax.imshow(share, cmap=LinearSegmentedColormap.from_list("share", ["#ffffff", TRAIN]), vmin=0, vmax=1)
    names = [str(v) for v in labels]
    turn = k > 6 or max(map(len, names), default=0) > 4
    ax.set_xticks(range(k), names, rotation=45 if turn else 0, ha="right" if turn else "center", fontsize=9)
    ax.set_yticks(range(k), names, fontsize=9)
    for i in flagged:
        ax.get_yticklabels()[i].set(color=HIGH, fontweight="bold")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(M[i, j])}", ha="center", va="center", fontsize=9 if k <= 10 else 7,
                        color="white" if share[i, j] > 0.55 else INK)
    label(ax, "Counts (shade: share of the true class)", "predicted class", "true class")
    return image


def class_errors(ax, per_class, overall=None, flagged=()):
    """Draw each class's error rate with its 95% interval on `ax` (one row per class, the first on
    top), the overall error as a dashed line; flagged classes in HIGH.

    per_class : dicts with "label", "error", "low", "high" (a `metrics.confusion` dict's per_class);
    a class without rows (error None) is left empty."""
    k = len(per_class)
    y = np.arange(k)
    for i, c in enumerate(per_class):
        e, lo, hi = finite(c.get("error")), finite(c.get("low")), finite(c.get("high"))
        if e is None:
            continue
        colour = HIGH if i in flagged else TRAIN
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [i, i], color=colour, lw=2, alpha=0.55, solid_capstyle="butt")
        ax.plot(e, i, "o", color=colour, ms=6)
    if finite(overall) is not None:
        ax.axvline(overall, color=BASELINE, ls="--", lw=1.2, label=f"overall {error_text(overall)}")
        legend(ax, loc="lower right")
    ax.set_yticks(y, [str(c.get("label")) for c in per_class], fontsize=9)
    for i in flagged:
        ax.get_yticklabels()[i].set(color=HIGH, fontweight="bold")
    ax.set_ylim(k - 0.5, -0.5)
    ax.set_xlim(0, 1.02 * max([finite(c.get("high")) or 0 for c in per_class] + [finite(overall) or 0, 0.05]))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.grid(False, axis="y")
    label(ax, "Error per class, 95% interval", "error")


def confusion_figure(matrix, labels, per_class, overall=None, flagged=(), title=None):
    """The confusion matrix (left) beside each class's error with its interval (right): the figure of a
    classifier's test set. `drawn(fig)["titles"]` reads both panels' titles back."""
    k = len(matrix)
    fig, axes = new_figure(title, nrows=1, ncols=2, size=(SIZE[0], float(np.clip(1.6 + 0.32 * k, SIZE[1], 9.0))),
                           width_ratios=[1.15, 1])
    confusion_matrix(axes[0, 0], matrix, labels, flagged)
    class_errors(axes[0, 1], per_class, overall, flagged)
    return fig


def _pairs(actual, predicted):
    a, p = np.asarray(actual, dtype=float).ravel(), np.asarray(predicted, dtype=float).ravel()
    if a.shape != p.shape:
        raise NNRecipeError(f"actual and predicted must be the same length; got {a.size} and {p.size}")
    keep = np.isfinite(a) & np.isfinite(p)
    return a[keep], p[keep]


def _points(ax, x, y):
    """A scatter that stays readable from ten points to a few thousand: smaller and fainter with more."""
    alpha = float(np.clip(30 / math.sqrt(max(len(x), 1)), 0.25, 0.9))
    ax.scatter(x, y, s=12 if len(x) < 500 else 6, color=DEV, alpha=alpha, edgecolor="none", zorder=3)


def predicted_actual(ax, actual, predicted):
    """Draw each row as a point (actual, predicted) on `ax`, with the diagonal predicted = actual on
    which a perfect model's points lie (gid "diagonal"); both axes span the same range, so the distance
    from the diagonal reads the same everywhere."""
    a, p = _pairs(actual, predicted)
    both = np.concatenate([a, p])
    lo, hi = (both.min(), both.max()) if both.size else (0.0, 1.0)
    pad = 0.04 * (hi - lo) if hi > lo else 0.5
    lo, hi = lo - pad, hi + pad
    ax.plot([lo, hi], [lo, hi], color=BASELINE, ls="--", lw=1.2, label="predicted = actual", gid="diagonal")
    _points(ax, a, p)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    label(ax, "Predicted against actual", "actual", "predicted")
    legend(ax, loc="upper left")


def residuals(ax, actual, predicted):
    """Draw the residual actual − predicted against the prediction on `ax`, with the zero line (gid
    "zero") and dotted lines at ± the RMSE. A good fit leaves a band even around zero; a slope or a
    curve is a bias the model missed, a funnel a spread that grows with the target."""
    a, p = _pairs(actual, predicted)
    r = a - p
    ax.axhline(0.0, color=BASELINE, ls="--", lw=1.2, gid="zero")
    if r.size:
        spread = float(np.sqrt(np.mean(r ** 2)))
        for sign in (1, -1):
            ax.axhline(sign * spread, color=FAINT, ls=":", lw=1.4, label="± RMSE" if sign > 0 else None, gid="rmse")
        top = float(np.abs(r).max()) or 1.0
        ax.set_ylim(-1.08 * top, 1.08 * top)
        legend(ax, loc="upper right")
    _points(ax, p, r)
    label(ax, "Residuals", "predicted", "actual − predicted")


def regression_figure(actual, predicted, title=None):
    """Predicted against actual (left) and the residuals (right): the figure of a regression's test set."""
    fig, axes = new_figure(title, nrows=1, ncols=2)
    predicted_actual(axes[0, 0], actual, predicted)
    residuals(axes[0, 1], actual, predicted)
    return fig
