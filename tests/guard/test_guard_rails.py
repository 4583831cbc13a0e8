"""Guard rails of the floor plan: the layers kube6 imports along, and files that stay short.

Layers, lowest first (a unit is a top-level package or module of src/kube6). A unit imports
only units of lower layers at run time; units of one layer are siblings and never import each
other (`checks` reads facts and the plan, not what `render` writes; `steps` runs the checks
and installs rendered files, but does not reach into `verify`); the components use all of
those toolkits, and nothing below them imports a component. Complexity and function size
are ruff's (C901, PLR0911, PLR0912, PLR0915 in pyproject.toml).
"""

from __future__ import annotations

import ast

from tests.guard.imports import SRC, edges, units

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "modes", "net", "versions"),  # no kube6 imports at all
    ("yamlio", "results", "execute"),  # YAML, the result type, the executors (the thin shell)
    ("spec", "trace"),  # kube6.yaml; `kube6 trace` (an executor and nothing of the cluster)
    ("mirrors", "init", "facts"),  # artifact sources, writing kube6.yaml, reading hosts
    ("routing", "init_detect", "disk_pressure"),  # routing modes; init detection; kubelet disk
    ("plan",),  # spec -> Plan (pure), judged by its rules
    ("render", "checks", "verify"),  # the plan's readers: files, host checks, cluster checks
    ("steps",),  # converge a host: installs rendered files, runs the preflight checks
    ("components",),  # one home per component: its renderers, steps, pins and object checks
    ("lab", "usecases"),  # the test lab; check/up/verify as functions
    ("cli",),  # parse, call a use case, print
)

# Imports against the layers on main while issue 13 item 1 moves each component's pieces
# into components/ (from the toolkits that still hold or call them). Each goes when its move
# is done; no new one may join them.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}

MAX_LINES = 400
LONG_REASON = "Longer than 400 lines:"
# Files that other work is taking apart (none left: issue 13's splits are done).
BEING_SPLIT: set[str] = set()


def layer_of() -> dict[str, int]:
    return {unit: number for number, layer in enumerate(LAYERS) for unit in layer}


def test_every_unit_has_one_layer() -> None:
    placed = [unit for layer in LAYERS for unit in layer]
    assert len(placed) == len(set(placed)), "a unit is in two layers"
    missing = sorted(units() - set(placed))
    assert not missing, f"place {missing} in LAYERS (tests/guard/test_guard_rails.py)"


def test_imports_go_down_the_layers() -> None:
    layers = layer_of()
    offenders = [
        f"{e.where}: {e.source} (layer {layers[e.source]}) imports {e.target} "
        f"(layer {layers[e.target]})"
        for e in edges()
        if e.source in layers
        and e.target in layers
        and layers[e.target] >= layers[e.source]
        and (e.where.split(":")[0], e.target) not in KNOWN_EXCEPTIONS
    ]
    assert not offenders, "\n".join(offenders)


def test_the_rails_see_imports_inside_functions_and_skip_type_checking_ones() -> None:
    found = {(e.source, e.target, e.where.split(":")[0]) for e in edges()}
    # cli/verify_cmd.py imports the use case inside the command (to load it lazily) ...
    assert ("cli", "usecases", "cli/verify_cmd.py") in found
    # ... and routing/ names the plan's types only for the type checker.
    assert not any(s == "routing" and t == "plan" for s, t, _ in found)


def test_long_files_say_why_at_the_top() -> None:
    unexplained = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text()
        if text.count("\n") <= MAX_LINES or rel in BEING_SPLIT:
            continue
        if LONG_REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{rel} ({text.count(chr(10))} lines)")
    assert not unexplained, (
        f"split these, or say why in the module docstring ({LONG_REASON!r} ...): {unexplained}"
    )
