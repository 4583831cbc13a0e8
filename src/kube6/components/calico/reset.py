"""Calico's `reset` step (`pod-network`): pods' Calico interfaces, sandbox network namespaces and
Felix's routes that no CNI DEL removed, and in `bgp` routing the routes calico-node's BIRD left."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kube6.routing import strategy
from kube6.steps import probe
from kube6.steps.base import HostContext, Step, StepPlan, run

CALICO_LINK = re.compile(r"^cali[0-9a-f]{11}$")
"""The host side of a pod's veth pair as Calico's CNI plugin names it (`cali` + 11 hex)."""
CNI_NETNS = re.compile(r"^cni-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
"""A pod sandbox's network namespace as containerd names it under /var/run/netns."""


FELIX_ROUTE_PROTO = "80"
"""The routing protocol number Felix marks its routes with (dataplanedefs.DefaultRouteProto): the
routes to other nodes' blocks and the blackhole of the node's own blocks."""
BIRD_ROUTE_PROTO = "12"
"""The routing protocol number of BIRD's kernel routes (`bird` in iproute2's rt_protos).
calico-node's BIRD runs its kernel protocol with `persist` (Calico's templates: keep the routes
while BIRD restarts), so the routes it programmed outlive it: what it learned from its peers
(another node's Local Service address, a route the router sends) and any static route not
rejected for the kernel."""
_ROUTE_TYPES = frozenset({"blackhole", "unreachable", "prohibit", "throw"})


@dataclass(frozen=True)
class PodNetworkFacts:
    links: tuple[str, ...]
    """Calico pod interfaces still on the host."""
    namespaces: tuple[str, ...]
    """Pod sandbox network namespaces still mounted."""
    routes: tuple[tuple[str, ...], ...] = ()
    """Felix's routes still in the table: (type, prefix) or (prefix,)."""
    bird_routes: tuple[tuple[str, ...], ...] = ()
    """BIRD's routes still in the table (routing `bgp` only), the same way."""


def pod_links(ip_link: str) -> tuple[str, ...]:
    """Calico pod interface names in `ip -o link show` output (`12: cali…@if3: <…> …`)."""
    names = (
        line.split(":", 2)[1].strip().split("@")[0] for line in ip_link.splitlines() if ":" in line
    )
    return tuple(sorted(n for n in names if CALICO_LINK.match(n)))


def pod_namespaces(ip_netns: str) -> tuple[str, ...]:
    """containerd's pod namespaces in `ip netns list` output (`cni-<uuid> (id: 0)`)."""
    names = (line.split()[0] for line in ip_netns.splitlines() if line.strip())
    return tuple(sorted(n for n in names if CNI_NETNS.match(n)))


def routes_of(ip_route: str) -> tuple[tuple[str, ...], ...]:
    """`ip -6 route show proto N` lines as what deletes them: (type, prefix) or (prefix,).
    A multipath route's `nexthop` lines belong to the route above them: one delete removes
    it whole."""
    found: list[tuple[str, ...]] = []
    for line in ip_route.splitlines():
        words = line.split()
        if not words or line[0].isspace():
            continue
        if words[0] in _ROUTE_TYPES and len(words) > 1:
            found.append((words[0], words[1]))
        else:
            found.append((words[0],))
    return tuple(found)


async def _routes(ctx: HostContext, proto: str) -> tuple[tuple[str, ...], ...]:
    return routes_of(await probe.stdout(ctx, "ip", "-6", "route", "show", "proto", proto) or "")


async def read_pod_network(ctx: HostContext) -> PodNetworkFacts:
    # BIRD's routes only where calico-node ran BIRD: elsewhere a BIRD of the operator's own
    # may own routes of that protocol.
    bgp = strategy(ctx.plan.routing).bgp_peering
    return PodNetworkFacts(
        pod_links(await probe.stdout(ctx, "ip", "-o", "link", "show") or ""),
        pod_namespaces(await probe.stdout(ctx, "ip", "netns", "list") or ""),
        await _routes(ctx, FELIX_ROUTE_PROTO),
        await _routes(ctx, BIRD_ROUTE_PROTO) if bgp else (),
    )


def fresh_pod_network(ctx: HostContext) -> PodNetworkFacts:
    return PodNetworkFacts((), ())


def plan_pod_network(ctx: HostContext, facts: PodNetworkFacts) -> StepPlan:
    """Delete pods' Calico interfaces (their routes go with them), sandbox namespaces and
    Felix's routes.

    kubeadm reset removes the pods through the runtime, whose CNI DEL asks the API server to
    release each address; on the last control plane the API server is already gone, so the
    teardown fails and the interfaces, routes and namespaces stay behind. Felix's routes to the
    blocks of the nodes stay on every node: nothing removes them once calico-node is gone, and
    BIRD's (bgp) stay by design (BIRD_ROUTE_PROTO)."""
    if not (facts.links or facts.namespaces or facts.routes or facts.bird_routes):
        return StepPlan.nothing(
            "no pod interfaces, pod network namespaces, Felix or BIRD routes are left"
        )
    why = "left by pods whose network teardown failed (no API server for Calico's CNI DEL)"
    felix = "Felix's route (calico-node no longer runs to remove it)"
    bird = "calico-node's BIRD keeps its routes when it stops (its kernel protocol's `persist`)"
    return StepPlan.do(
        *(run("ip", "link", "delete", name, why=why) for name in facts.links),
        *(run("ip", "netns", "delete", name, why=why) for name in facts.namespaces),
        *(
            run("ip", "-6", "route", "delete", *route, "proto", proto, why=reason)
            for routes, proto, reason in (
                (facts.routes, FELIX_ROUTE_PROTO, felix),
                (facts.bird_routes, BIRD_ROUTE_PROTO, bird),
            )
            for route in routes
        ),
    )


RESET: tuple[Step[Any], ...] = (
    Step(
        "pod-network",
        "Pods' Calico interfaces, sandbox network namespaces and Calico's routes removed.",
        plan_pod_network,
        read_pod_network,
        fresh_pod_network,
    ),
)
