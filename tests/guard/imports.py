"""kube6's run-time import graph between its top-level units (packages and modules), from the
source (ast): every `import` and `from ... import`, in functions too, outside `if TYPE_CHECKING:`
blocks (those are for the type checker and never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "kube6"


@dataclass(frozen=True)
class Edge:
    source: str
    """The importing unit (`steps`), ..."""
    target: str
    """... the imported one (`verify`)."""
    where: str
    """file:line, relative to src/kube6."""


def unit_of(module: str) -> str | None:
    """`steps` for kube6.steps.base, `spec` for kube6.spec; None outside kube6 or for kube6
    itself (its version)."""
    parts = module.split(".")
    if parts[0] != "kube6" or len(parts) == 1:
        return None
    return parts[1]


def units() -> set[str]:
    return {
        p.name if p.is_dir() else p.stem
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem != "__init__")
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (m for child in node.orelse for m in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST) -> Iterator[tuple[str, int]]:
    if isinstance(node, ast.Import):
        yield from ((alias.name, node.lineno) for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module == "kube6":  # from kube6 import net, mirrors
            yield from ((f"kube6.{alias.name}", node.lineno) for alias in node.names)
        else:
            yield node.module, node.lineno
    else:
        yield from _imports(node)


def edges() -> list[Edge]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        source = rel.parts[0].removesuffix(".py")
        for module, line in _imports(ast.parse(path.read_text())):
            target = unit_of(module)
            if target is not None and target not in (source, "__version__"):
                found.append(Edge(source, target, f"{rel.as_posix()}:{line}"))
    return found
