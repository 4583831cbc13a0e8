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


class LinkModel(StrEnum):
    """What the provider's router does with a node link's prefix (`kube6 check`'s `link-model`).

    - `on-link`: it resolves every address of the prefix by neighbour solicitation, so the
      nodes must answer for pods and services (routing `ndp-proxy`);
    - `routed`: it sends the whole prefix to the node (routing `routed`, nothing to proxy);
    - `unknown`: nothing seen decides it (what is missing is in the check's evidence).
    """

    ON_LINK = "on-link"
    ROUTED = "routed"
    UNKNOWN = "unknown"
