"""What a routing mode decides, as one interface that every consumer reads.

A routing mode says how the pod and service ranges reach the nodes from outside the cluster
(README, "Routing"). Each mode is one `RoutingStrategy` in `kube6.routing.strategies`; steps,
checks, renderers and verify ask the strategy (or plan-derived facts such as a node's NDP rules
and `plan.bgp`), never compare the raw `RoutingMode`, so a new mode is one more strategy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from ipaddress import IPv6Network
from typing import TYPE_CHECKING

from kube6.facts.network import Route
from kube6.modes import LinkModel, RoutingMode
from kube6.results import Finding

if TYPE_CHECKING:  # plan/rules.py asks the strategies: no import cycle at run time
    from kube6.plan.model import Plan, PlannedNode


class RoutingStrategy(ABC):
    """One routing mode: what runs where, what `check` expects of the link, how to debug it."""

    mode: RoutingMode
    ndp_proxy: bool = False
    """The nodes answer neighbour solicitations for pods and services (ndppd runs on them)."""
    bgp_peering: bool = False
    """Calico's BGP speaker peers with an upstream router (BGP resources, TCP 179 open)."""
    link_models: frozenset[LinkModel] = frozenset()
    """The provider link models this mode works on (`check`'s link-model judges by it)."""
    proposed_for: LinkModel | None = None
    """The link model for which `init` and `check` propose this mode (one mode per model)."""
    load_balancers_via_link: str | None = None
    """Why the LoadBalancer range must lie inside a node's link prefix (how the provider sends
    its traffic to the nodes), or None when the range is announced and may lie anywhere."""
    load_balancer_entry: str = "a worker"
    """Where a LoadBalancer address's traffic comes in. When that is a node that runs the
    Service's pods (the gateway's proxies run on every worker), the gateway keeps client
    addresses (externalTrafficPolicy Local); `keeps_client_address` says which."""
    keeps_client_address: bool = True
    """The gateway's Service may use externalTrafficPolicy Local: its traffic comes in only at
    nodes that run a gateway pod. False: at a node that may run none, so the Service spreads
    it over every node (Cluster), and the client's address is masqueraded on the way."""

    @property
    @abstractmethod
    def host_idle(self) -> str | None:
        """Why nothing runs on the host for routing, or None when the NDP proxy runs there."""

    @abstractmethod
    def judge_prefix(
        self,
        name: str,
        node: PlannedNode,
        prefix: IPv6Network,
        on_link: Sequence[Route],
        evidence: str,
    ) -> list[Finding]:
        """`check`'s verdict on the node's link prefix, given the on-link routes covering it."""

    @abstractmethod
    def judge_link(
        self, name: str, found: LinkModel, why: str, fitting: RoutingMode | None, evidence: str
    ) -> list[Finding]:
        """`check`'s verdict on the provider's link model `found` (`why`: what decided it);
        `fitting` is the mode proposed for it, for the fix when this one does not fit."""

    @abstractmethod
    def outside_fix(self, plan: Plan) -> str:
        """What to look at when pods are not reachable from outside the cluster."""
