"""Routing modes as strategies: `strategy(plan.routing)` says what the mode decides.

`kube6.routing.base.RoutingStrategy` is the interface, `kube6.routing.strategies.STRATEGIES`
the table with one strategy per `RoutingMode`.
"""

from __future__ import annotations

from kube6.modes import RoutingMode
from kube6.routing.base import RoutingStrategy
from kube6.routing.strategies import STRATEGIES, proposed_mode


def strategy(mode: RoutingMode) -> RoutingStrategy:
    """The strategy of `mode` (every mode has one: a test holds the table to the enum)."""
    return STRATEGIES[mode]


__all__ = ["STRATEGIES", "RoutingStrategy", "proposed_mode", "strategy"]
