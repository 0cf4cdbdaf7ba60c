"""The import graph of `src/cutover`: one direction, no circle, Prefect only in the flows.

Every import is counted, at module level or inside a function (a lazy import is
still an arrow). Layers, lowest first; a package may import its own layer's base
modules and anything below, never above:

    errors secrets logs clock journal program children   the base
    plan                                           the plan as data
    control migrate notices dataflow               the parts, each on the plan
    engine   sim                                   running a cutover; the simulated estate
    flows                                          the engine in Prefect
    drill                                          rehearsals: estate, traffic, the flows
    cli                                            the command
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "cutover"

LAYERS: list[set[str]] = [
    {"__init__", "errors", "secrets", "logs", "clock", "journal", "program", "children"},
    {"plan"},
    {"control", "migrate", "notices", "dataflow"},
    {"engine", "sim"},
    {"flows"},
    {"drill"},
    {"cli"},
]
APART = {("engine", "sim"), ("sim", "engine")}
"""Same layer, but never importing each other."""
PREFECT_ALLOWED = {"flows"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module `name` imports (ours resolved to modules, foreign ones by top name)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(area: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if area in layer)


def test_every_package_has_a_layer() -> None:
    areas = {_area(m) for m in _modules()}
    assert areas <= set().union(*LAYERS), areas - set().union(*LAYERS)


def test_imports_point_down_only() -> None:
    """No arrow from a layer to one above it (the library never reaches up to flows or CLI)."""
    wrong = []
    for module, imports in _graph().items():
        here = _area(module)
        for target in imports:
            if not target.startswith("cutover.") and target != "cutover":
                continue
            there = _area(target)
            if _layer(there) > _layer(here) or (here, there) in APART:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_prefect_is_imported_only_by_the_flows() -> None:
    wrong = [
        module
        for module, imports in _graph().items()
        if _area(module) not in PREFECT_ALLOWED
        and any(i.split(".")[0] == "prefect" for i in imports)
    ]
    assert wrong == []


def test_the_import_graph_has_no_circle() -> None:
    """Tarjan's strongly connected components over our modules: every one of size 1."""
    ours = set(_modules())
    graph = {m: {t for t in ts if t in ours} for m, ts in _graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph[node]:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []


@pytest.mark.parametrize("limit", [400])
def test_no_module_is_over_the_size_limit(limit: int) -> None:
    """Modules stay small enough to read in one sitting (docs/architecture.md: sizes)."""
    big = {
        _module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := p.read_text().count("\n")) > limit
    }
    assert big == {}
