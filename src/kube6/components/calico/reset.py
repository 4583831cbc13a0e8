"""Calico's `reset` step (`pod-network`): pods' Calico interfaces, sandbox network namespaces and
Felix's routes that no CNI DEL removed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kube6.steps import probe
from kube6.steps.base import HostContext, Step, StepPlan, run

CALICO_LINK = re.compile(r"^cali[0-9a-f]{11}$")
"""The host side of a pod's veth pair as Calico's CNI plugin names it (`cali` + 11 hex)."""
CNI_NETNS = re.compile(r"^cni-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
"""A pod sandbox's network namespace as containerd names it under /var/run/netns."""


FELIX_ROUTE_PROTO = "80"
"""The routing protocol number Felix marks its routes with (dataplanedefs.DefaultRouteProto): the
routes to other nodes' blocks and the blackhole of the node's own blocks."""
_ROUTE_TYPES = frozenset({"blackhole", "unreachable", "prohibit", "throw"})


@dataclass(frozen=True)
class PodNetworkFacts:
    links: tuple[str, ...]
    """Calico pod interfaces still on the host."""
    namespaces: tuple[str, ...]
    """Pod sandbox network namespaces still mounted."""
    routes: tuple[tuple[str, ...], ...] = ()
    """Felix's routes still in the table: (type, prefix) or (prefix,)."""


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


def felix_routes(ip_route: str) -> tuple[tuple[str, ...], ...]:
    """`ip -6 route show proto 80` lines as what deletes them: (type, prefix) or (prefix,)."""
    found: list[tuple[str, ...]] = []
    for line in ip_route.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] in _ROUTE_TYPES and len(words) > 1:
            found.append((words[0], words[1]))
        else:
            found.append((words[0],))
    return tuple(found)


async def read_pod_network(ctx: HostContext) -> PodNetworkFacts:
    routes = await probe.stdout(ctx, "ip", "-6", "route", "show", "proto", FELIX_ROUTE_PROTO)
    return PodNetworkFacts(
        pod_links(await probe.stdout(ctx, "ip", "-o", "link", "show") or ""),
        pod_namespaces(await probe.stdout(ctx, "ip", "netns", "list") or ""),
        felix_routes(routes or ""),
    )


def fresh_pod_network(ctx: HostContext) -> PodNetworkFacts:
    return PodNetworkFacts((), ())


def plan_pod_network(ctx: HostContext, facts: PodNetworkFacts) -> StepPlan:
    """Delete pods' Calico interfaces (their routes go with them), sandbox namespaces and
    Felix's routes.

    kubeadm reset removes the pods through the runtime, whose CNI DEL asks the API server to
    release each address; on the last control plane the API server is already gone, so the
    teardown fails and the interfaces, routes and namespaces stay behind. Felix's routes to the
    blocks of the nodes stay on every node: nothing removes them once calico-node is gone."""
    if not (facts.links or facts.namespaces or facts.routes):
        return StepPlan.nothing(
            "no pod interfaces, pod network namespaces or Felix routes are left"
        )
    why = "left by pods whose network teardown failed (no API server for Calico's CNI DEL)"
    felix = "Felix's route (calico-node no longer runs to remove it)"
    return StepPlan.do(
        *(run("ip", "link", "delete", name, why=why) for name in facts.links),
        *(run("ip", "netns", "delete", name, why=why) for name in facts.namespaces),
        *(
            run("ip", "-6", "route", "delete", *route, "proto", FELIX_ROUTE_PROTO, why=felix)
            for route in facts.routes
        ),
    )


RESET: tuple[Step[Any], ...] = (
    Step(
        "pod-network",
        "Pods' Calico interfaces and sandbox network namespaces removed.",
        plan_pod_network,
        read_pod_network,
        fresh_pod_network,
    ),
)
