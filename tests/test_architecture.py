"""The import structure of the package, enforced.

Every module of ``archcalc/`` and of ``exporters/`` (installed as ``archcalc.exporters``) is
parsed with :mod:`ast`; every import is collected, those inside functions included (they run
later, but they still make the dependency), and resolved to the module it loads:

* ``import a.b`` and ``from a import b`` where ``a.b`` is a module: that module;
* ``from a import name`` where ``name`` is not a module: the package ``a`` itself (its
  ``__init__``), so a module that takes names from its own package's ``__init__`` depends on it;
* imports under ``if TYPE_CHECKING:`` are left out (they never run).

Two rules hold on that graph:

1. no circle: no module imports itself through other modules;
2. the layers: each import goes to the same package or to a package on a lower line of
   ``LAYERS``; packages on one line are siblings and do not import each other; only the public
   face ``archcalc/__init__.py`` may import anything, and nothing imports it. The only upward
   imports are the two notebook hooks in ``UPWARD``.
"""
from __future__ import annotations

import ast
import functools
import pathlib
import sys
from dataclasses import dataclass

import networkx as nx
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# top to bottom; the packages of one line are siblings
LAYERS: list[tuple[str, ...]] = [
    ("archcalc.cli",),
    ("archcalc.views",),
    ("archcalc.design",),
    ("archcalc.latency",),
    ("archcalc.exporters", "archcalc.diff"),
    ("archcalc.analysis", "archcalc.spec"),
    ("archcalc.onnx_import",),
    ("archcalc.graph", "archcalc.report"),
    ("archcalc.settings",),
    ("archcalc.ops",),
    ("archcalc.units", "archcalc.files", "archcalc.bulk", "archcalc.version"),
    ("archcalc.errors",),
]
LEVEL = {unit: i for i, line in enumerate(LAYERS) for unit in line}
PUBLIC_FACE = "archcalc"

# the notebook hooks: (importing module, the function the import sits in, imported module)
UPWARD = {("archcalc.graph", "Network._repr_svg_", "archcalc.views.notebook"),
          ("archcalc.report", "Report._repr_html_", "archcalc.views.notebook")}


@dataclass(frozen=True)
class Import:
    source: str         # the importing module
    target: str         # the module it loads
    path: str           # the importing file, relative to the repository
    line: int
    where: str          # the enclosing class/function ("" at module level)

    def __str__(self) -> str:
        at = f" (in {self.where})" if self.where else ""
        return f"{self.path}:{self.line}: {self.source} → {self.target}{at}"


def modules() -> dict[str, pathlib.Path]:
    """Every module: dotted name → file (a package is named by its ``__init__``)."""
    found = {}
    for base, prefix in ((ROOT / "archcalc", ("archcalc",)),
                         (ROOT / "exporters", ("archcalc", "exporters"))):
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(prefix + parts)] = path
    return found


MODULES = modules()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def is_package(name: str) -> bool:
    """A package: one with an ``__init__.py``, or a folder without one (a namespace package,
    as archcalc/design)."""
    if name in PACKAGES:
        return True
    return any(m.startswith(name + ".") for m in MODULES)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve_from(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of ``from <node.module> import …`` in ``module``."""
    if not node.level:
        return node.module or ""
    package = module if is_package(module) and MODULES[module].name == "__init__.py" \
        else module.rpartition(".")[0]
    base = package.split(".")
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str) -> str | None:
    """``name`` as one of our modules: itself, or the longest prefix that is one (``import
    archcalc.ops.base`` loads archcalc.ops.base); None outside archcalc."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES or (is_package(candidate) and candidate.startswith("archcalc")):
            return candidate
        parts.pop()
    return None


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[Import] = []

    def add(target: str | None, node: ast.AST, where: str) -> None:
        if target is not None and target != module:
            found.append(Import(module, target, rel, node.lineno, where))

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:           # the body never runs
                visit(child, where)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_known(alias.name), node, where)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if alias.name != "*" and _known(sub) == sub:
                    add(sub, node, where)           # from package import submodule
                else:
                    add(_known(base), node, where)  # a name of the package's __init__
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            where = f"{where}.{node.name}" if where else node.name
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, "")
    return found


ALL_IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def unit(module: str) -> str:
    """The package of the layer table a module belongs to (archcalc.analysis.walk →
    archcalc.analysis); ``archcalc`` itself is the public face."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(MODULES)
    for imp in ALL_IMPORTS:
        g.add_edge(imp.source, imp.target)
    return g


def _circle_edges(cycles: list[list[str]]) -> list[Import]:
    """The imports that make the circles (each edge of each circle, every place it is made)."""
    edges = {(c[i], c[(i + 1) % len(c)]) for c in cycles for i in range(len(c))}
    return sorted({imp for imp in ALL_IMPORTS if (imp.source, imp.target) in edges},
                  key=lambda i: (i.path, i.line, i.target))


@functools.cache
def circles() -> list[list[str]]:
    """Every simple circle of the module graph. The two notebook hooks are left out: they are
    the one sanctioned upward import, made when a notebook first shows a network or a report,
    and any view they reach necessarily leads back down to the graph and the report."""
    g = graph()
    for source, _, target in UPWARD:
        if g.has_edge(source, target):
            g.remove_edge(source, target)
    return list(nx.simple_cycles(g))


# today's violations, each marked until it is fixed (strict: the mark must go when it is)
KNOWN_CIRCLES = {
}
KNOWN_LAYER_VIOLATIONS: dict[str, str] = {}
UNITS = ["archcalc", *LEVEL]


def _marked(reasons: dict[str, str], units: list[str]) -> list:
    return [pytest.param(u, marks=pytest.mark.xfail(strict=True, reason=reasons[u]))
            if u in reasons else u for u in units]


def test_every_module_sits_on_a_layer():
    assert [m for m in MODULES if m != PUBLIC_FACE and unit(m) not in LEVEL] == []


@pytest.mark.parametrize("package", _marked(KNOWN_CIRCLES, UNITS))
def test_no_import_circle(package):
    cycles = [c for c in circles() if any(unit(m) == package for m in c)]
    lines = [str(imp) for imp in _circle_edges(cycles)]
    assert not cycles, (f"{len(cycles)} import circle(s) through {package}:\n  "
                        + "\n  ".join(" → ".join([*c, c[0]]) for c in cycles)
                        + "\nmade by:\n  " + "\n  ".join(lines))


def layer_violations(package: str) -> list[str]:
    """The imports of ``package``'s modules that break the layers, each as
    ``file:line: from → to (in function) [why]``."""
    bad = []
    for imp in sorted(set(ALL_IMPORTS), key=lambda i: (i.path, i.line, i.target)):
        a, b = unit(imp.source), unit(imp.target)
        if a != package or imp.source == PUBLIC_FACE or a == b:
            continue
        if b == PUBLIC_FACE:
            bad.append(f"{imp} [imports the public face archcalc/__init__.py]")
        elif (imp.source, imp.where, imp.target) in UPWARD:
            continue
        elif b not in LEVEL:
            bad.append(f"{imp} [{b} is on no layer]")
        elif LEVEL[b] == LEVEL[a]:
            bad.append(f"{imp} [siblings on one line]")
        elif LEVEL[b] < LEVEL[a]:
            bad.append(f"{imp} [upward: {b} is above {a}]")
    return bad


@pytest.mark.parametrize("package", _marked(KNOWN_LAYER_VIOLATIONS, UNITS))
def test_imports_go_down_the_layers(package):
    bad = layer_violations(package)
    assert bad == [], f"{len(bad)} import(s) against the layers:\n  " + "\n  ".join(bad)


def test_the_notebook_hooks_are_where_they_are_allowed():
    """The allowed upward imports exist as listed (a stale entry would allow one elsewhere)."""
    found = {(i.source, i.where, i.target) for i in ALL_IMPORTS}
    assert UPWARD <= found


# the checker itself, on what the code is known to hold

def test_imports_inside_functions_and_relative_forms_are_resolved():
    graph_imports = {(i.target, i.where) for i in imports_of("archcalc.graph")}
    assert ("archcalc.views.notebook", "Network._repr_svg_") in graph_imports   # in a method
    assert ("archcalc.errors", "") in graph_imports                             # from .errors
    walk = {i.target for i in imports_of("archcalc.analysis.walk")}
    assert "archcalc.analysis.rf" in walk               # from . import rf as rfa: the module
    assert "archcalc.analysis" not in walk              # (not the package's __init__)
    gates = {i.target for i in imports_of("archcalc.diff.gates")}
    assert "archcalc.diff" in gates                     # from . import Delta, …: the __init__
    onnx_exporter = {i.target for i in imports_of("archcalc.exporters.onnx")}
    assert "archcalc.ops" in onnx_exporter or any(t.startswith("archcalc.ops.")
                                                  for t in onnx_exporter)


def test_type_checking_imports_are_exempt(tmp_path, monkeypatch):
    src = tmp_path / "probe.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                   "    from archcalc.cli import main\nelse:\n    from archcalc import errors\n"
                   "def f():\n    import archcalc.views.table\n")
    monkeypatch.setitem(MODULES, "archcalc.probe", src)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    got = {(i.target, i.line, i.where) for i in imports_of("archcalc.probe")}
    assert got == {("archcalc.errors", 5, ""), ("archcalc.views.table", 7, "f")}
