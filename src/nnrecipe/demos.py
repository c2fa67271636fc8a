"""The course notes' illustrations, rerun on the engine: `run_demo(name, out_dir)` → Demo.

    init            zeros / random×10 / He on make_circles       (why initialization matters)
    vanishing       30-layer nets: activation and gradient norms (why the variance of W is set)
    regularization  none / L2 / dropout on the football data     (what regularization buys)

seed=None (the default) starts the two course exercises from the course's own initial draw, so
that their tables can be compared with the notes line by line; an int seed draws the weights with
nnrecipe's own initializers instead (and seeds dropout masks and the vanishing demo's data).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import writable_folder
from .datasets import circles, football
from .engine.layers import Dense
from .engine.network import Network, mlp
from .errors import NNRecipeError, expect
from .report.plots import decision_boundary, label, legend, new_figure, save
from .training.fit import fit


@dataclass
class Demo:
    """What a demo measured: `table` (a list of row dicts), `figures` (the PNG paths it wrote),
    `models` (label → trained or probed Network). str(demo) is the table as plain text."""

    title: str
    table: list
    figures: list
    models: dict = field(default_factory=dict, repr=False)

    def __str__(self):
        cells = [list(self.table[0])] + [[_cell(k, v) for k, v in row.items()] for row in self.table]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        lines = ["  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths)))
                 for row in cells]
        return "\n".join([self.title, "", lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _cell(key, value):
    if isinstance(value, float):
        return f"{value:.1f}" if key.endswith("%") else f"{value:.4g}"
    return str(value)


def _course_weights(net, std):
    """The course's initial draw: W[l] = randn(n_l, n_{l-1}) · std(n_{l-1}) from RandomState(3), one
    row per unit (transposed to nnrecipe's x @ W layout); zero biases."""
    rs = np.random.RandomState(3)
    for name, p in net.params.items():
        p[...] = rs.randn(p.shape[1], p.shape[0]).T * std(p.shape[0]) if name[0] == "W" else 0.0


def _accuracy(net, X, y):
    return 100.0 * float(np.mean(net.predict(X) == y))


def _boundaries(path, title, nets, X, y):
    """One decision boundary per net, side by side on one figure."""
    fig, axes = new_figure(size=(4.0 * len(nets), 4.0), ncols=len(nets), sharey=True)
    for ax, (name, net) in zip(axes[0], nets.items()):
        decision_boundary(ax, net.predict, X, y)
        label(ax, f"{title}: {name} · train {_accuracy(net, X, y):.1f}%")
    save(fig, path)
    return path


def init_demo(out_dir, seed=None, steps=15_000):
    """Zeros never break symmetry (every unit of a layer computes, and learns, the same thing); huge
    random weights saturate the sigmoid, so the first cost is huge and learning is slow; He trains."""
    # The course's data: make_circles(noise=0.05) with its default factor 0.8, seeds 1 and 2.
    train, test = circles(300, noise=0.05, factor=0.8, seed=1), circles(100, noise=0.05, factor=0.8, seed=2)
    schemes = {"zeros": ("zeros", 0.01, lambda n: 0.0, "50.0 / 50.0"),
               "random×10": ("random", 10.0, lambda n: 10.0, "83.0 / 86.0"),
               "He": ("he", 0.01, lambda n: np.sqrt(2.0 / n), "99.3 / 96.0")}
    table, nets, costs = [], {}, {}
    for name, (scheme, scale, std, course) in schemes.items():
        net = Network([Dense(10, "relu", scheme, scale), Dense(5, "relu", scheme, scale),
                       Dense(1, "sigmoid", scheme, scale)], input_dim=2, seed=seed, dtype="float64")
        if seed is None:
            _course_weights(net, std)
        costs[name] = fit(net, train.X, train.y, epochs=steps, optimizer="gd", lr=0.01, verbose=0).cost
        nets[name] = net
        table.append({"init": name, "first cost": costs[name][0], "final cost": net.cost(train.X, train.y),
                      "train %": _accuracy(net, train.X, train.y), "test %": _accuracy(net, test.X, test.y),
                      "course train / test %": course})
    fig, axes = new_figure("Cost J per step, three initializations", "gradient-descent step", "J")
    for name, cost in costs.items():
        axes[0, 0].plot(np.arange(1, len(cost) + 1), cost, lw=1.8, label=name)
    axes[0, 0].set_yscale("log")
    legend(axes[0, 0])
    out = Path(out_dir)
    figures = [out / "init_cost.png", _boundaries(out / "init_boundaries.png", "init", nets, train.X, train.y)]
    save(fig, figures[0])
    return Demo(f"Initialization: [2, 10, 5, 1] ReLU/sigmoid on circles, GD lr 0.01, {steps} steps",
                table, figures, nets)


def vanishing_demo(out_dir, seed=None, depth=30, width=128, batch=256):
    """With W = c·I in a deep linear net, a_l = c^l·x: the signal explodes (1.5) or vanishes (0.5)
    exponentially in depth, and so does every gradient (forward c^(l-1) times backward c^(L-l)).
    Var(W) = 2/n (He, ReLU) or 1/n (Xavier, linear/tanh) keeps the signal's scale steady."""
    expect(isinstance(depth, int) and depth >= 3, "depth", "an integer ≥ 3", repr(depth))
    shown = sorted({1, depth // 3, 2 * depth // 3, depth})         # layers 1, 10, 20, 30 by default
    rng = np.random.default_rng(0 if seed is None else seed)
    X = rng.standard_normal((batch, width))
    X /= np.linalg.norm(X, axis=1, keepdims=True)                  # every input has norm 1
    schemes = {"1.5·I, linear": ("linear", 1.5), "0.5·I, linear": ("linear", 0.5), "He, ReLU": ("relu", "he"),
               "Xavier, linear": ("linear", "xavier"), "Xavier, tanh": ("tanh", "xavier")}
    table, nets, norms, grads = [], {}, {}, {}
    for name, (activation, init) in schemes.items():
        kind = init if isinstance(init, str) else "zeros"
        layers = [Dense(width, activation, kind) for _ in range(depth - 1)] + [Dense(width, "linear", kind)]
        net = nets[name] = Network(layers, input_dim=width, seed=0 if seed is None else seed, dtype="float64")
        if not isinstance(init, str):
            net.set_weights({k: init * np.eye(width) if k[0] == "W" else 0 * v for k, v in net.params.items()})
        norms[name] = [float(np.sqrt(np.mean(np.sum(a * a, axis=1))))            # the network's forward pass
                       for a in net.layer_outputs(X, False)]                 # (a linear output: z = ŷ)
        g = net.gradients(X, np.zeros_like(X))                     # J = ½‖ŷ‖²/m: dJ/dŷ is ŷ/m
        grads[name] = [float(np.linalg.norm(g[f"W{l}"])) for l in range(1, depth + 1)]
        table.append({"scheme": name, **{f"‖a{l}‖": norms[name][l - 1] for l in shown},
                      "‖dW1‖": grads[name][0], f"‖dW{depth}‖": grads[name][-1]})
    fig, axes = new_figure(size=(11.0, 4.0), ncols=2)
    for ax, values, what in ((axes[0, 0], norms, "activation norm ‖a_l‖ (RMS over inputs)"),
                             (axes[0, 1], grads, "gradient norm ‖∂J/∂W_l‖")):
        for name, v in values.items():
            ax.plot(np.arange(1, depth + 1), v, lw=1.8, marker="o", ms=3, label=name)
        ax.set_yscale("log")
        label(ax, f"{what}, depth {depth}", "layer l", what.split(" (")[0])
    legend(axes[0, 0])
    path = Path(out_dir) / "vanishing.png"
    save(fig, path)
    return Demo(f"Exploding / vanishing signals: {depth} layers of {width} units, {batch} inputs of norm 1",
                table, [path], nets)


def regularization_demo(out_dir, seed=None, steps=30_000):
    """Unregularized, the net bends its boundary around the noisy training points (overfits); L2 and
    dropout trade a little training accuracy for a smoother boundary and better test accuracy."""
    X, y, X_test, y_test = football()
    models = {"none": ({}, "94.8 / 91.5"), "L2 λ=0.7": ({"l2": 0.7}, "93.8 / 93.0"),
              "dropout 0.86": ({"keep_prob": 0.86}, "92.9 / 95.0")}
    table, nets = [], {}
    for name, (options, course) in models.items():
        net = mlp([2, 20, 3, 1], hidden="relu", output="sigmoid", init="xavier",
                  seed=0 if seed is None else seed, dtype="float64", **options)
        if seed is None:
            _course_weights(net, lambda n: 1.0 / np.sqrt(n))        # the course's Xavier draw
        fit(net, X, y, epochs=steps, optimizer="gd", lr=0.3, verbose=0)   # fresh dropout masks each step
        nets[name] = net
        table.append({"model": name, "final cost": net.cost(X, y), "train %": _accuracy(net, X, y),
                      "test %": _accuracy(net, X_test, y_test), "course train / test %": course})
    path = _boundaries(Path(out_dir) / "regularization.png", "football", nets, X, y)
    return Demo(f"Regularization: [2, 20, 3, 1] ReLU/sigmoid on football, GD lr 0.3, {steps} steps",
                table, [path], nets)


DEMOS = {"init": init_demo, "vanishing": vanishing_demo, "regularization": regularization_demo}


def run_demo(name, out_dir, seed=None, **options):
    """Run the demo `name` (one of DEMOS), write its figures into out_dir (created if needed) and
    return its Demo. `options` go to the demo's function (e.g. steps=1000)."""
    if name not in DEMOS:
        raise NNRecipeError(f"demo must be one of {', '.join(DEMOS)}; got {name!r}")
    writable_folder(out_dir, "out_dir").mkdir(parents=True, exist_ok=True)
    return DEMOS[name](out_dir, seed=seed, **options)
