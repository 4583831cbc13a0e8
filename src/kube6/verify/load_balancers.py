"""LoadBalancer Services: an address from the plan's range, and answering from outside.

`load-balancer-addresses` (an object check, Calico's: its kube-controllers assign the
addresses) reads the Services the API server returned: every `type: LoadBalancer` Service that
Calico serves (no `loadBalancerClass`, or `calico`) must have an ingress address inside the
plan's LoadBalancer range, and only IPv6 ones. `load-balancer-reachable` (from outside, where
`kube6 verify` runs) opens a TCP connection to each declared TCP port of each such address:
what a visitor would get. The connection is injected (`TcpConnect`), so both are tested
without a network.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from ipaddress import IPv6Address
from typing import TYPE_CHECKING

from kube6.plan.model import LOAD_BALANCER_POOL, Plan
from kube6.verify.objects import ClusterObjects, address_of
from kube6.verify.result import CheckResult, failed, passed, skipped, warned

if TYPE_CHECKING:
    from lightkube.resources.core_v1 import Service

CALICO_CLASS = "calico"
"""The loadBalancerClass Calico's LoadBalancer controller serves (besides none at all)."""
NEARLY_FULL = 0.9
"""Warn when this share of the range is in use: the next Services would get no address."""

TcpConnect = Callable[[IPv6Address, int], None]
"""(address, port) -> None once a TCP connection opened; raises OSError when it did not."""


def _name(svc: Service) -> str:
    meta = svc.metadata
    return f"{meta.namespace}/{meta.name}" if meta else "?"


def calico_load_balancers(services: Sequence[Service]) -> list[Service]:
    """The `type: LoadBalancer` Services whose address Calico assigns."""
    return [
        svc
        for svc in services
        if svc.spec is not None
        and svc.spec.type == "LoadBalancer"
        and svc.spec.loadBalancerClass in (None, CALICO_CLASS)
    ]


def ingress_addresses(svc: Service) -> list[str]:
    """The Service's load balancer ingress IPs, as the status gives them."""
    balancer = svc.status.loadBalancer if svc.status else None
    return [i.ip for i in (balancer.ingress or []) if i.ip] if balancer else []


def check_addresses(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`load-balancer-addresses`: each Calico LoadBalancer Service has an address, IPv6 and
    inside the plan's LoadBalancer range."""
    name = "load-balancer-addresses"
    lb = plan.load_balancers.cidr
    services = calico_load_balancers(objects.services)
    if not services:
        return skipped(name, "no LoadBalancer Service in the cluster")
    bad: list[str] = []
    seen: list[str] = []
    used = 0
    fixes: list[str] = []
    for svc in services:
        ips = ingress_addresses(svc)
        if not ips:
            bad.append(f"{_name(svc)}: no address yet")
            fixes.append(
                "calico-kube-controllers assigns the addresses: `kubectl -n calico-system logs "
                f"deploy/calico-kube-controllers`; the pool {LOAD_BALANCER_POOL} must exist "
                "(see `calico-ippools`) and have a free address"
            )
            continue
        # IPv4 addresses are `services-ipv6`'s to report; here: IPv6 ones outside the range.
        ipv6 = [ip for ip in ips if isinstance(address_of(ip), IPv6Address)]
        outside = [ip for ip in ipv6 if not _in(address_of(ip), plan)]
        used += len(ipv6) - len(outside)
        if outside:
            bad.append(f"{_name(svc)}: {', '.join(outside)} outside {lb}")
            fixes.append(
                f"only the pool {LOAD_BALANCER_POOL} ({lb}) may serve LoadBalancer Services: "
                "remove spec.loadBalancerIP or the projectcalico.org/loadBalancerIPs annotation "
                "that asks for another address, and delete other LoadBalancer pools"
            )
        else:
            seen.append(f"{_name(svc)}: {', '.join(ips)}")
    if bad:
        return failed(
            name,
            f"{len(bad)} of {len(services)} LoadBalancer Service(s) have no address in {lb}",
            "; also: ".join(dict.fromkeys(fixes)),
            bad + seen,
        )
    size = plan.load_balancers.size
    if used >= NEARLY_FULL * size:
        return warned(
            name,
            f"{used} of the {size} addresses of {lb} are in use",
            "plan a larger range before the next LoadBalancer Service finds none: "
            "network.load_balancer_size (or network.load_balancers) in kube6.yaml, then `kube6 "
            "up`",
            seen,
        )
    return passed(
        name,
        f"all {len(services)} LoadBalancer Service(s) have an address in {lb} "
        f"({used} of {size} in use)",
        seen,
    )


def _in(address: object, plan: Plan) -> bool:
    return isinstance(address, IPv6Address) and address in plan.load_balancers.cidr


def check_reachable(
    plan: Plan, services: Sequence[Service], connect: TcpConnect
) -> list[CheckResult]:
    """`load-balancer-reachable`: every declared TCP port of every address in the range
    accepts a connection from here. UDP and SCTP ports cannot be told open by a connect:
    listed, not judged."""
    name = "load-balancer-reachable"
    targets: list[tuple[str, IPv6Address, int]] = []
    untested: list[str] = []
    for svc in calico_load_balancers(services):
        addresses = [a for a in map(address_of, ingress_addresses(svc)) if _in(a, plan)]
        for declared in (svc.spec.ports or []) if svc.spec else []:
            for address in addresses:
                assert isinstance(address, IPv6Address)
                if (declared.protocol or "TCP") == "TCP":
                    targets.append((_name(svc), address, declared.port))
                else:
                    untested.append(f"{_name(svc)}: {declared.protocol} {declared.port} not tested")
    if not targets:
        return [skipped(name, "no LoadBalancer Service with a TCP port and an address")]
    seen: list[str] = []
    bad: list[str] = []
    closed: dict[str, None] = {}  # the Services with a port that does not answer, in order
    for svc_name, address, port in targets:
        try:
            connect(address, port)
        except OSError as exc:
            bad.append(f"{svc_name}: [{address}]:{port}: {exc}")
            closed[svc_name] = None
            continue
        seen.append(f"{svc_name}: [{address}]:{port} connected")
    if bad:
        # The usual cause first: kube6's default policies keep every pod closed to the
        # internet, a LoadBalancer Service's pods too, until `kube6 expose` opens them.
        expose = "; ".join(f"`kube6 expose {svc_name}`" for svc_name in closed)
        return [
            failed(
                name,
                f"{len(bad)} of {len(targets)} LoadBalancer address:port(s) do not answer from "
                "here",
                f"kube6's policies keep a Service's pods closed until it is exposed: {expose}; "
                "the Service needs ready endpoints (`kubectl get endpointslices -n NS`); the "
                "address must reach a node: "
                + strategy_hint(plan)
                + "; kube-proxy DNATs it on every node (`nft list table ip kube-proxy`)",
                bad + seen + untested,
            )
        ]
    return [
        passed(
            name,
            f"all {len(targets)} LoadBalancer address:port(s) answer from here",
            seen + untested,
        )
    ]


def strategy_hint(plan: Plan) -> str:
    """How the range reaches the nodes in this plan's routing mode (for fixes)."""
    from kube6.routing import strategy

    mode = strategy(plan.routing)
    via = mode.load_balancers_via_link
    if via is None:
        return (
            f"Calico announces {plan.load_balancers.cidr} over BGP (serviceLoadBalancerIPs): "
            "see the router's routes"
        )
    if mode.ndp_proxy:
        return f"{via} (a static rule for {plan.load_balancers.cidr} in /etc/ndppd.conf)"
    return via


def tcp_connect(address: IPv6Address, port: int, timeout: float = 5.0) -> None:
    """Open and close a TCP connection to [address]:port."""
    with socket.create_connection((str(address), port), timeout=timeout):
        pass
