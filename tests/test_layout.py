"""The code's shape, kept: no import cycle between campplanet's modules, and no private
attribute of a dependency used (httpx, httpcore, feedparser: only their public API)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "campplanet"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The campplanet modules a module imports when it is loaded (imports under
    ``if TYPE_CHECKING:`` and inside functions are left out: they run later, or never)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in [node] if not isinstance(node, ast.If) else node.body:
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module.startswith("campplanet"):
                    found.add(child.module)
                    found.update(
                        f"{child.module}.{a.name}"
                        for a in child.names
                        if (SRC.parent / f"{child.module}.{a.name}".replace(".", "/"))
                        .with_suffix(".py")
                        .exists()
                    )
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("campplanet"))
    return found


def test_no_import_cycle():
    graph = {module_name(p): imports(p) for p in SRC.rglob("*.py")}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(module: str, path: list[str]) -> bool:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycle.extend([*path[path.index(dep) :], dep] if dep in path else [module, dep])
                return True
            if dep not in state and visit(dep, [*path, dep]):
                return True
        state[module] = 2
        return False

    for module in sorted(graph):
        if module not in state and visit(module, [module]):
            break
    assert not cycle, " -> ".join(cycle)


PRIVATE = re.compile(
    r"\b(?:httpx|httpcore|feedparser)(?:\.[a-z]\w*)*\._\w+"  # httpx._transports, feedparser.x._y
    r"|\._pool\b|_FeedParserMixin"
)


def test_no_private_attribute_of_a_dependency():
    used = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert not used, used
