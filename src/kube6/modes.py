"""Small enums shared across kube6, in a module without dependencies: the CLI builds its
`--routing` choices from RoutingMode without importing the spec's pydantic models (that costs
`kube6 --help` ~0.5 s), and planner rules and host checks grade their results alike."""

from __future__ import annotations

from enum import StrEnum


class RoutingMode(StrEnum):
    """How the pod and service ranges reach the nodes (README.md, "Routing modes")."""

    NDP_PROXY = "ndp-proxy"
    ROUTED = "routed"
    BGP = "bgp"


class Grade(StrEnum):
    """How a planner rule (plan.model.Level) or a host check (checks.model.Status) came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
