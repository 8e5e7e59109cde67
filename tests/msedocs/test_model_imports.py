"""The case model imports in one direction: no module of msedocs.model imports another that
imports it back (case and rehab once did), so any of them can be imported first."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import msedocs.model
from tests.packages import module_names

MODEL = Path(msedocs.model.__file__).parent
MODULES = module_names("msedocs.model")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is imported: at module level, also under ``if`` and
    ``try``, but not under ``if TYPE_CHECKING`` nor inside functions (run later, on a call)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node.test):
            found += _runtime_imports(node.body) + _runtime_imports(node.orelse)
        elif isinstance(node, ast.Try):
            found += _runtime_imports(node.body) + _runtime_imports(node.orelse) + _runtime_imports(node.finalbody)
            for handler in node.handlers:
                found += _runtime_imports(handler.body)
    return found


def _path(name: str) -> Path:
    relative = Path(*name.split(".")[2:])
    return MODEL / relative / "__init__.py" if (MODEL / relative).is_dir() else MODEL / f"{relative}.py"


def import_graph() -> dict[str, set[str]]:
    """Module of msedocs.model → the modules of msedocs.model it imports when imported."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        path = _path(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                base = f"{base}.{node.module}" if base and node.module else base or node.module or ""
                # ``from . import ru`` imports the module ru; ``from .case import Case`` the module case
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            edges |= {t for t in targets if t in MODULES and t != name}
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return cycles


def test_the_model_imports_in_one_direction():
    graph = import_graph()
    assert "msedocs.model.parts" in graph["msedocs.model.rehab"]  # the graph sees relative imports
    assert "msedocs.model.rehab" in graph["msedocs.model.case"]
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


@pytest.mark.parametrize("name", MODULES)
def test_each_module_of_the_model_can_be_imported_first(name):
    probe = f"import {name}\nimport msedocs.model\nmsedocs.model.Case.model_json_schema()\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
