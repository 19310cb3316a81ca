"""Find import circles among the modules of a package; exit 1 if there is any.

Every import counts: at the top of a module, inside a function, and under
``if TYPE_CHECKING:``, because an import moved out of sight still ties the two modules
together (STYLE.md: "The house check counts import circles between modules: keep it at
zero"). ``from bot.x import y`` is an import of ``bot.x.y`` when that is a module, else of
``bot.x``.

    .venv/bin/python scripts/import_cycles.py [PACKAGE_DIR]   # default: bot
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package under `package_dir`, by dotted name."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that module `name` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, node.module, node.level, is_package=is_package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {_nearest_known(imported, known) for imported in found} - {"", name}


def _absolute(name: str, module: str | None, level: int, *, is_package: bool) -> str:
    if level == 0:
        return module or ""
    parts = name.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, module] if module else anchor)


def _nearest_known(imported: str, known: set[str]) -> str:
    """The longest prefix of `imported` that is one of our modules ("" when none is)."""
    parts = imported.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts)


def find_cycles(package_dir: Path) -> list[list[str]]:
    """Each group of modules that import one another in a circle (sorted), none if clean."""
    modules = module_names(package_dir)
    known = set(modules)
    graph = {name: imports_of(name, path, known) for name, path in modules.items()}
    return sorted(sorted(group) for group in _strongly_connected(graph) if len(group) > 1)


def _strongly_connected(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative so a deep import chain cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            target = next(edges, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    yield group
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph[target]))))
            elif target in on_stack:
                low[node] = min(low[node], index[target])


def main(argv: list[str]) -> int:
    package_dir = Path(argv[1] if len(argv) > 1 else "bot")
    cycles = find_cycles(package_dir)
    for group in cycles:
        print(f"import circle: {' ↔ '.join(group)}")
    print(f"{len(cycles)} import circle(s) among the modules of {package_dir}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
