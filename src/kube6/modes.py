"""The spec's routing modes, in a module of their own: the CLI builds its `--routing` choices
from them without importing the spec's pydantic models (that costs `kube6 --help` ~0.5 s)."""

from __future__ import annotations

from enum import StrEnum


class RoutingMode(StrEnum):
    """How the pod and service ranges reach the nodes (DESIGN.md, "Routing")."""

    NDP_PROXY = "ndp-proxy"
    ROUTED = "routed"
    BGP = "bgp"
