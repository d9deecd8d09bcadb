"""The project's layers import one way, and no module-level import closes a circle.

Layers, lowest first (README, "How the code is laid out"):

    core -> lake -> quality -> screeners -> maintenance, ops -> the Dagster layer -> cli

A module may import its own layer and the layers below it, at module level. ``screeners`` is
stricter: pure polars, it imports ``tradingstation.core`` and nothing else of the project at
module level (its command-line ``main()`` hands over to the CLI layer inside the function, the
one upward call). Imports inside functions are not walked: they run only when called.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tradingstation", "screeners")

# Where each module belongs: the longest matching prefix wins.
LAYER_OF_PREFIX = {
    "tradingstation": 0,  # the package itself (version only)
    "tradingstation.core": 0,
    "tradingstation.testing": 0,  # a moto server for tests and benchmarks; imports nothing of the project
    "tradingstation.lake": 1,
    "tradingstation.quality": 2,
    "screeners": 3,
    "tradingstation.maintenance": 4,
    "tradingstation.ops": 4,
    "tradingstation.resources": 5,
    "tradingstation.partitions": 5,
    "tradingstation.assets": 5,
    "tradingstation.checks": 5,
    "tradingstation.sensors": 5,
    "tradingstation.schedules": 5,
    "tradingstation.definitions": 5,
    "tradingstation.cli": 6,
}
LAYER_NAMES = ["core", "lake", "quality", "screeners", "maintenance/ops", "dagster", "cli"]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules(root: Path = REPO) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}


def layer(module: str) -> int:
    best = max((p for p in LAYER_OF_PREFIX if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYER_OF_PREFIX")
    return LAYER_OF_PREFIX[best]


def module_level_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported at module level (``if TYPE_CHECKING:`` blocks count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        while name and name not in known:  # a name imported from a module: the module itself
            name = name.rpartition(".")[0]
        return name or None

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PACKAGES and (target := resolve(alias.name)):
                        found.add(target)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base.split(".")[0] not in PACKAGES:
                    continue
                for alias in node.names:
                    target = resolve(f"{base}.{alias.name}")
                    if target:
                        found.add(target)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                walk(node.body)
                for extra in (getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    walk(extra)
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)

    walk(tree.body)
    found.discard(module)
    return found


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    modules = project_modules(root)
    known = set(modules)
    return {m: module_level_imports(m, p, known) for m, p in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if module.startswith("screeners") and not (
                target.startswith("screeners") or target == "tradingstation.core" or target.startswith("tradingstation.core.")
            ):
                problems.append(f"{module} imports {target}: screeners may import only tradingstation.core")
            elif layer(target) > layer(module):
                problems.append(
                    f"{module} ({LAYER_NAMES[layer(module)]}) imports {target} ({LAYER_NAMES[layer(target)]}), a higher layer"
                )
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    for module in project_modules():
        layer(module)


def test_no_import_goes_up_a_layer() -> None:
    problems = upward_imports(import_graph())
    assert not problems, "\n".join(problems)


def test_no_import_circle() -> None:
    graph = import_graph()
    found = cycles(graph)
    described = [" -> ".join(group) + " (each imports another of the group)" for group in found]
    assert not found, "\n".join(described)


def test_a_planted_upward_import_is_named(tmp_path: Path) -> None:
    """The checks above catch what they claim: a lake module importing the Dagster layer, and a circle."""
    import shutil

    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, tmp_path / pkg)
    store = tmp_path / "tradingstation" / "lake" / "store.py"
    store.write_text(store.read_text() + "\nfrom tradingstation.assets.market_data import MARKET_DATA_ASSETS\n")
    calendar = tmp_path / "tradingstation" / "core" / "calendar.py"
    calendar.write_text(calendar.read_text() + "\nfrom tradingstation.core import schemas\n")
    graph = import_graph(tmp_path)
    problems = upward_imports(graph)
    circles = cycles(graph)
    assert any(
        p.startswith("tradingstation.lake.store (lake) imports tradingstation.assets.market_data (dagster)")
        for p in problems
    ), problems
    assert ["tradingstation.core.calendar", "tradingstation.core.schemas"] in circles, circles


@pytest.mark.parametrize("name", ["gapgo", "orb", "breakout"])
def test_a_screener_module_imports_no_dagster_and_no_lake(name: str) -> None:
    graph = import_graph()
    assert all(t.startswith(("screeners", "tradingstation.core")) for t in graph[f"screeners.{name}"])
