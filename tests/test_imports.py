"""The package's modules do not reach back into the package root (nnrecipe/__init__.py), whose import
pulls in every submodule: a module that needs the version imports nnrecipe._version."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nnrecipe

SRC = Path(nnrecipe.__file__).parent


def _root_imports(path, rel=None):
    """(line, what) for each import in `path` of a name of the package root that is not a submodule,
    anywhere in the file, and each module-level `import nnrecipe` / `from nnrecipe import ...`.
    rel : the file's place in the package (default: path relative to the installed package)."""
    rel = path.relative_to(SRC) if rel is None else rel
    package = ["nnrecipe", *rel.parent.parts]          # the package a relative import starts from
    submodules = {p.stem for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module == "nnrecipe":
                names = [a.name for a in node.names if a.name not in submodules]
                if names and (node.level or id(node) in top_level):
                    found.append((node.lineno, f"from {'.' * node.level}{node.module or ''} import {', '.join(names)}"))
        elif isinstance(node, ast.Import) and id(node) in top_level:
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] == "nnrecipe"]
    return found


def test_no_module_imports_names_from_the_package_root():
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "__init__.py":
            continue
        if found := _root_imports(path):
            offenders[rel] = found
    assert offenders == {}


def test_the_scan_sees_a_root_import(tmp_path):
    bad = tmp_path / "cli.py"
    bad.write_text("from . import __version__\nfrom .engine import layers\n")
    assert _root_imports(bad, Path("cli.py")) == [(1, "from . import __version__")]
    assert _root_imports(SRC / "__init__.py") == []           # __init__ imports submodules and ._version


def test_version_lives_in_its_own_module():
    from nnrecipe import _version
    assert nnrecipe.__version__ == _version.__version__
    pyproject = SRC.parent.parent / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not a source checkout")
    text = pyproject.read_text(encoding="utf-8")
    assert 'attr = "nnrecipe._version.__version__"' in text


def test_saving_a_model_needs_nothing_from_the_package_root(tmp_path):
    """A fresh interpreter where the package root is an empty stand-in (no names, no submodules
    imported): the engine builds, saves and loads a network, and the MLflow adapter imports."""
    code = textwrap.dedent(f"""
        import sys, types
        root = types.ModuleType("nnrecipe")
        root.__path__ = [{str(SRC)!r}]
        sys.modules["nnrecipe"] = root
        from nnrecipe.engine.network import mlp
        from nnrecipe.engine.serialize import load, save
        from nnrecipe._version import __version__
        import nnrecipe.adapters.mlflow
        net = mlp([2, 3, 1], seed=0)
        save(net, {str(tmp_path / "m.npz")!r})
        assert load({str(tmp_path / "m.npz")!r}).config() == net.config()
        assert not hasattr(root, "__version__") and "nnrecipe.doctor" not in sys.modules
        print("ok", __version__)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", nnrecipe.__version__]
