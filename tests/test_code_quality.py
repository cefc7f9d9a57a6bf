"""The code stays ruff-clean, mypy-clean (strict) and free of import cycles, every declared
check kind loads, and no module of checks/ outgrows ~400 lines: checked with every test run."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

from agent.check import Check, available_kinds, load_kind

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


@pytest.mark.parametrize("tool", [
    [sys.executable, "-m", "ruff", "check", "."],
    [sys.executable, "-m", "mypy"],
], ids=["ruff", "mypy"])
def test_static_checks_pass(tool: list[str]) -> None:
    out = subprocess.run(tool, cwd=REPO, capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


# -- import cycles ---------------------------------------------------------------------

def _module_files() -> dict[str, Path]:
    """Every module of agent/ and checks/ by dotted name (a package by its own name)."""
    out = {}
    for top in ("agent", "checks"):
        for path in sorted((REPO / top).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: Collection[str]) -> set[str]:
    """The modules of ours that ``name`` imports anywhere in its text: at the top, in a
    function, under TYPE_CHECKING. An import of ``a.b.c`` also imports the packages
    ``a`` and ``a.b`` (their ``__init__``), unless ``name`` lives inside them."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    out = set()
    for target in found:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            inside = name == prefix or name.startswith(prefix + ".")
            if prefix in modules and not (inside and i < len(parts)) and prefix != name:
                out.add(prefix)
    return out


def _cycles(graph: Mapping[str, Collection[str]]) -> list[list[str]]:
    """One cycle (as a path that ends where it starts) per group of modules that import
    each other, found by depth-first search."""
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str], on_path: dict[str, int]) -> None:
        on_path[node] = len(path)
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                cycle = [*path[on_path[nxt]:], nxt]
                if not any(set(cycle) <= set(c) for c in cycles):
                    cycles.append(cycle)
            elif nxt not in done:
                visit(nxt, path, on_path)
        path.pop()
        del on_path[node]
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [], {})
    return cycles


def test_the_cycle_finder_reports_each_cycle_as_a_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_agent_or_checks_imports_itself_through_others() -> None:
    modules = _module_files()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["agent.live_checks"] >= {"agent.check", "agent.config.models"}
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(("module", "may_import"), [
    # Thresholds produce findings and the alert state machine consumes them: the machine
    # and its rules stand on the model alone, and thresholds may use them.
    ("agent.alerting.state", {"agent.model"}),
    ("agent.alerting.policy", set()),
    ("agent.alerting.machine", {"agent.model", "agent.alerting.state", "agent.alerting.policy"}),
    ("agent.listen_address", set()),
])
def test_the_lower_layers_import_only_what_sits_below_them(module: str,
                                                           may_import: set[str]) -> None:
    modules = _module_files()
    assert _imports(module, modules[module], modules) <= may_import


# -- check kinds and module sizes ------------------------------------------------------

def _declared_kinds() -> dict[str, str]:
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    kinds: dict[str, str] = project["entry-points"]["watchkeeper.checks"]
    return kinds


@pytest.mark.parametrize(("kind", "target"), sorted(_declared_kinds().items()))
def test_every_declared_check_kind_loads_its_class(kind: str, target: str) -> None:
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type) and issubclass(cls, Check), target
    assert cls.kind == kind
    # The installed metadata says the same as pyproject (the editable install is current).
    assert load_kind(kind) is cls


def test_installed_check_kinds_are_the_declared_ones() -> None:
    assert set(_declared_kinds()) <= set(available_kinds())


def test_no_check_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in sorted((REPO / "checks").rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}
