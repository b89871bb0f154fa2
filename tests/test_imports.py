"""The package's modules import one another one way: no cycle, counting every import (a cycle
hidden in a function-level import is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "voice_guide"


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (anywhere in it)."""
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {target for target in targets if target in files} - {name}
    return graph


def cycle_from(start: str, graph: dict[str, set[str]]) -> list[str]:
    """A path start -> ... -> start, or [] (depth-first)."""
    trail: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> bool:
        trail.append(node)
        for after in sorted(graph[node]):
            if after == start or (after not in seen and (seen.add(after) or visit(after))):
                return True
        trail.pop()
        return False

    return [*trail, start] if visit(start) else []


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert "voice_guide.speak.tts" in graph and graph["voice_guide.prompts"]
    cycles = [" -> ".join(cycle) for name in sorted(graph) if (cycle := cycle_from(name, graph))]
    assert cycles == []
