"""The module graph: every module imports on its own, and no two modules import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "videokit"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = sorted(_module_name(p) for p in PKG.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """videokit modules ``path`` imports anywhere (lazy ones included), except for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    me = _module_name(path)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("videokit")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("videokit"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    # a module's own parent packages are imported first by Python itself: not a dependency
    return {m for m in found if m in MODULES and m != me and not me.startswith(m + ".")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = {_module_name(p): _imports(p) for p in PKG.rglob("*.py")}
    assert _cycles(graph) == []


def test_the_cycle_check_sees_an_indirect_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    def load(module: str) -> tuple[str, str]:
        out = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
        return module, out.stderr.strip().splitlines()[-1] if out.returncode else ""

    with ThreadPoolExecutor(4) as pool:
        failures = [f"{m}: {err}" for m, err in pool.map(load, MODULES) if err]
    assert failures == []


@pytest.mark.parametrize("module", ["videokit.pipeline", "videokit.config", "videokit.record"])
def test_core_modules_do_not_pull_the_cli_or_the_executors(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith(('videokit._cli', 'videokit.batch', 'videokit.distributed', 'videokit.api'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
