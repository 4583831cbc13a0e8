"""The routing strategy table: one strategy per RoutingMode, and consumers that ask it."""

from __future__ import annotations

import ast
from pathlib import Path

from kube6.modes import RoutingMode
from kube6.routing import STRATEGIES, strategy

SRC = Path(__file__).resolve().parents[2] / "src" / "kube6"


def test_every_mode_has_a_strategy_keyed_by_its_own_mode() -> None:
    assert set(STRATEGIES) == set(RoutingMode)
    for mode in RoutingMode:
        assert strategy(mode).mode is mode


def test_the_host_runs_the_ndp_proxy_exactly_when_the_mode_proxies() -> None:
    for mode in RoutingMode:
        s = strategy(mode)
        assert (s.host_idle is None) == s.ndp_proxy, mode
    # Today's modes (a new mode adds no line here: the loop above holds it too).
    assert strategy(RoutingMode.BGP).bgp_peering
    assert not strategy(RoutingMode.BGP).ndp_proxy
    assert strategy(RoutingMode.NDP_PROXY).ndp_proxy
    assert not strategy(RoutingMode.ROUTED).ndp_proxy
    assert not strategy(RoutingMode.ROUTED).bgp_peering


def test_consumers_read_the_strategy_not_the_raw_mode() -> None:
    """Only the enum's home, the strategies, the spec, `init` and the planner may name a mode's
    member: a branch elsewhere would make a new mode silently behave like another one."""
    allowed = {
        "modes.py",
        "routing/strategies.py",
        "spec/__init__.py",
        "init.py",
        "cli/init_cmd.py",
    }
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "RoutingMode"
            ):
                offenders.append(f"{rel}:{node.lineno} RoutingMode.{node.attr}")
    assert not offenders, offenders
