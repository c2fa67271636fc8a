"""What modules use of each other goes through public, documented names: Subset.peek, health.findings,
gradcheck.check_problem (and Network's grad_theta, slices, n_penalized: test_network_output.py).
A scan of the source keeps it so: no module reads another module's private attributes or imports its
private names."""

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

import nnrecipe as nr
from nnrecipe.doctor.health import Finding, findings, gradient_ratio
from nnrecipe.gradcheck import check_problem

SRC = Path(nr.__file__).parent


# ---- Subset.peek ---------------------------------------------------------------------------------
def test_peek_reads_a_locked_test_set_without_opening_it():
    X = np.arange(200.0).reshape(100, 2)
    y = np.arange(100) % 2
    s = nr.split(X, y, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Xt, yt = s.test.peek()
        Xt2, _ = s.test.peek()                                   # as often as needed: no opening
    assert s.test_openings == [] and Xt2 is Xt and not hasattr(s.test, "_unlocked_arrays")
    with pytest.raises(nr.TestSetLocked):
        _ = s.test.X
    np.testing.assert_array_equal(Xt, X[s.open_test(reason="compare").index])
    np.testing.assert_array_equal(yt, s.test.y)
    Xd, yd = s.dev.peek()
    assert Xd is s.dev.X and yd is s.dev.y


class Peekable:
    """Only peek() reads it: .X raises, as a locked test set's does."""

    name = "test"

    def __init__(self, X):
        self.rows = X

    @property
    def X(self):
        raise RuntimeError("locked")

    def peek(self):
        return self.rows, None


def test_the_leakage_report_reads_held_out_sets_through_peek():
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.warns(nr.LeakageWarning, match="3 rows in test"):
        sc = nr.Standardizer().fit(X, held_out=Peekable(X[:3]))
    assert sc.leakage_ == {"test": 3}


# ---- health.findings -----------------------------------------------------------------------------
def _row(name, grad_norm, output=False, **extra):
    return {"name": name, "activation": "sigmoid" if output else "tanh", "init": "xavier", "units": 4,
            "output": output, "act_mean": 0.0, "act_std": 1.0, "dead_share": None, "saturated_share": None,
            "grad_norm": grad_norm, "weight_norm": 1.0, "bad_weights": 0, "bad_grads": 0} | extra


def test_findings_applies_the_rules_to_any_models_rows():
    healthy = [_row("W1", 0.5), _row("W2", 1.0, output=True)]
    assert findings(healthy, cost=0.7, ratio=0.5) == []
    vanishing = [_row("W1", 1e-6), _row("W2", 1.0, output=True)]
    (f,) = findings(vanishing, cost=0.7, ratio=1e-6)
    assert isinstance(f, Finding) and (f.rule, f.layer, f.value) == ("vanishing_gradients", "W1", 1e-6)
    (f,) = findings([_row("W1", 1.0, bad_grads=2), _row("W2", 1.0, output=True)], cost=0.7, ratio=1.0)
    assert (f.rule, f.layer, f.value) == ("non_finite", "W1", 2)
    assert findings(healthy, cost=float("nan"), ratio=0.5)[0].rule == "non_finite"


def test_gradient_ratio():
    assert gradient_ratio([_row("W1", 0.5)]) is None
    assert gradient_ratio([_row("W1", 0.5), _row("W2", 0.1), _row("W3", 2.0, output=True)]) == 0.25
    assert gradient_ratio([_row("W1", 0.5), _row("W2", 0.0)]) == float("inf")
    assert np.isnan(gradient_ratio([_row("W1", 0.0), _row("W2", 0.0)]))


def test_the_torch_monitor_uses_the_same_rules():
    pytest.importorskip("torch")
    import nnrecipe.adapters.torch as adapter
    assert adapter.findings is findings and adapter.gradient_ratio is gradient_ratio
    assert adapter.check_problem is check_problem


# ---- gradcheck.check_problem ---------------------------------------------------------------------
class Quadratic:
    """J(θ) = Σ c·θ², two named arrays; `analytic` as given (right or wrong)."""

    def __init__(self, analytic_scale=1.0):
        self.theta0 = np.linspace(-1.0, 1.0, 7)
        self.c = np.arange(1.0, 8.0)
        self.slices = {"a": (0, (3,)), "B": (3, (2, 2))}
        self.analytic = analytic_scale * 2 * self.c * self.theta0

    def cost(self, theta):
        return self.c * theta ** 2, None

    def l1_kinks(self, name, values, epsilon):
        return np.zeros(values.shape, bool)

    def batched(self, name, epsilon):
        return None


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_check_problem_checks_any_function_of_a_flat_theta(mode):
    report = check_problem(Quadratic(), 1e-6, mode, seed=0)
    assert report.verdict == "ok" and list(report.by_param) == ["a", "B"] and report.mode == mode
    assert report.by_param["B"].shape == (2, 2)
    wrong = check_problem(Quadratic(analytic_scale=1.5), 1e-6, mode, seed=0)
    assert wrong.verdict == "bug" and set(wrong.at_fault) == {"a", "B"}


def test_gradcheck_of_a_network_is_check_problem_on_its_problem():
    X = np.random.default_rng(1).standard_normal((20, 3))
    y = (X.sum(1) > 0).astype(int)
    net = nr.mlp([3, 4, 1], hidden="tanh", seed=0)
    a, b = nr.gradcheck(net, X, y, mode="fast", seed=2), nr.gradcheck(net, X, y, mode="fast", seed=2)
    assert a.difference == b.difference and a.verdict == "ok"


# ---- the scan ------------------------------------------------------------------------------------
# Private names of other libraries, used on purpose.
FOREIGN = {("adapters/sklearn.py", "_validate_data"), ("adapters/torch.py", "_foreach_norm"),
           ("adapters/torch.py", "_NormBase"), ("recipe/loop.py", "_getframe")}
PRIVATE_MODULES = {p.stem for p in SRC.rglob("_*.py") if not p.name.startswith("__")} | {"_fused"}


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def _foreign_private_uses(path):
    """(line, text) for each private attribute read on an object other than self/cls whose name this
    file does not define, and each private name imported from another module (private modules
    such as _checks and _version are the package's internal modules: importing them is fine)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if _private(a.name) and a.name not in PRIVATE_MODULES]
        elif (isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own
              and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_module_reads_another_modules_private_names():
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        uses = [(line, text) for line, text in _foreign_private_uses(path)
                if (rel, text.rsplit(".", 1)[-1].removeprefix("import ")) not in FOREIGN]
        if uses:
            offenders[rel] = uses
    assert offenders == {}


def test_the_scan_finds_what_it_looks_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from .gradcheck import _full, _checks\nclass A:\n    def f(self, net):\n"
                      "        self._mine = net._dtheta\n        return self._mine, net._mine\n")
    assert _foreign_private_uses(sample) == [(1, "import _full"), (4, "net._dtheta")]
