"""Wiring goes one way: the composition root builds the areas, areas never reach back.

The product's imports are read with ``ast`` from its folders, every one of them (an
import inside a function is a dependency too), and checked against docs/architecture.md
("Who imports whom"):

* no area imports the composition root (``proctorbot/app.py``, ``serve.py``, ``cli.py``,
  ``commands_core.py``, ``__main__.py``), nor does the shared kernel beside it
  (``proctorbot/context.py`` and the other modules areas may import);
* no import cycle between areas (an area is a top-level folder with an ``__init__.py``:
  a new area is checked as soon as it exists);
* ``detection/`` imports nothing of ``bot/ conference/ report/ notifications/``, and
  ``bot/`` nothing of ``report/ notifications/``;
* nothing in the product imports the test fixtures (``tests/``).

Each failure lists every offending import as ``file:line imports module``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "proctorbot"
ROOT_MODULES = frozenset({"app", "serve", "cli", "commands_core", "__main__", "worker"})
NOT_AREAS = frozenset({"tests", "benchmarks", PACKAGE})
AREAS = tuple(
    sorted(
        p.name
        for p in REPO.iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name not in NOT_AREAS
    )
)
ROOT = "the composition root"
KERNEL = "proctorbot/ (shared kernel)"
FORBIDDEN = {
    "detection": ("bot", "conference", "report", "notifications"),
    "bot": ("report", "notifications"),
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing part: an area, KERNEL or ROOT
    file: str  # relative to the repository
    line: int
    module: str  # the imported module, absolute

    @property
    def target(self) -> str | None:
        """The part of the product the import reaches; None outside it."""
        parts = self.module.split(".")
        if parts[0] == "tests":
            return "tests"
        if parts[0] != PACKAGE or len(parts) < 2:
            return None
        if parts[1] in ROOT_MODULES:
            return ROOT
        if parts[1] in AREAS:
            return parts[1]
        return KERNEL

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def _package_of(path: Path) -> list[str]:
    """``proctorbot.<area>.<sub>`` as parts, for relative imports."""
    relative = path.relative_to(REPO).with_suffix("").parts
    top = [PACKAGE] if relative[0] == PACKAGE else [PACKAGE, relative[0]]
    return top + list(relative[1:-1])


def _imported(node: ast.AST, path: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        package = _package_of(path)
        base = package[: len(package) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    # `from proctorbot import app` imports the module proctorbot.app
    return [module] + [f"{module}.{alias.name}" for alias in node.names if alias.name != "*"]


def _part_of(path: Path) -> str:
    relative = path.relative_to(REPO)
    if relative.parts[0] == PACKAGE:
        return ROOT if relative.stem in ROOT_MODULES else KERNEL
    return relative.parts[0]


def product_imports() -> list[Import]:
    found = []
    folders = [REPO / PACKAGE, *(REPO / area for area in AREAS)]
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            source = _part_of(path)
            for node in ast.walk(tree):
                reached = set()  # one entry per import statement and part reached
                for module in _imported(node, path):
                    entry = Import(source, str(path.relative_to(REPO)), node.lineno, module)
                    if entry.target in (None, source) or entry.target in reached:
                        continue
                    reached.add(entry.target)
                    found.append(entry)
    return found


def _listing(imports: list[Import]) -> str:
    lines = sorted({str(i) for i in imports})
    return "\n".join(f"  {line}" for line in lines)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: each component of more than one area is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _shortest_cycle(graph: dict[str, set[str]], start: str) -> list[str]:
    """The shortest way from ``start`` back to itself (breadth first)."""
    paths = [[start, nxt] for nxt in sorted(graph.get(start, ()))]
    seen = set()
    while paths:
        path = paths.pop(0)
        if path[-1] == start:
            return path
        if path[-1] in seen:
            continue
        seen.add(path[-1])
        paths += [path + [nxt] for nxt in sorted(graph.get(path[-1], ()))]
    return [start]


def test_import_direction_sees_every_area() -> None:
    assert {"bot", "conference", "detection", "report", "storage"} <= set(AREAS)
    imports = product_imports()
    assert {i.source for i in imports} >= {"bot", "checklist", "report", ROOT}


def test_import_direction_no_area_imports_the_composition_root() -> None:
    back = [i for i in product_imports() if i.target == ROOT and i.source != ROOT]
    assert not back, "areas import the composition root (it passes them what they need):\n" + (
        _listing(back)
    )


def test_import_direction_no_cycle_between_areas() -> None:
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for i in product_imports():
        if i.source in AREAS and i.target in AREAS:
            edges[(i.source, i.target)].append(i)
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    report = []
    for component in _strongly_connected(graph):
        inside = [(s, t) for (s, t) in sorted(edges) if s in component and t in component]
        shortest = " -> ".join(_shortest_cycle(graph, component[0]))
        report.append(f"cycle between {', '.join(component)} (e.g. {shortest}):")
        for source, target in inside:
            report.append(f" {source} -> {target}:\n{_listing(edges[(source, target)])}")
    assert not report, "import cycles between areas:\n" + "\n".join(report)


def test_import_direction_detection_and_bot_stay_upstream() -> None:
    wrong = [
        i for i in product_imports() if i.source in FORBIDDEN and i.target in FORBIDDEN[i.source]
    ]
    assert not wrong, (
        "detection/ imports nothing of bot/ conference/ report/ notifications/, bot/ "
        "nothing of report/ notifications/:\n" + _listing(wrong)
    )


def test_import_direction_product_imports_no_test_fixtures() -> None:
    fixtures = [i for i in product_imports() if i.target == "tests"]
    assert not fixtures, "the product imports test code:\n" + _listing(fixtures)
