"""Checks of the cluster's pods against the Plan: their addresses in the planned pools, and the
system pods (kube-system's and the planned components' namespaces) running. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv6Address
from typing import TYPE_CHECKING

from kube6.plan.model import POOL_LABEL, Plan, Pool
from kube6.verify.objects import ClusterObjects, address_of, join_fixes
from kube6.verify.result import CheckResult, failed, passed, warned

if TYPE_CHECKING:
    from lightkube.resources.core_v1 import Pod

SYSTEM_NAMESPACES = ("kube-system",)
"""Namespaces whose pods must all be Running for the cluster to work (the components add
theirs: Calico's, the add-ons' controllers')."""


def pod_checks(plan: Plan, objects: ClusterObjects, namespaces: Sequence[str]) -> list[CheckResult]:
    """The pods' checks: addresses in the planned pools, and every pod of kube-system and of
    `namespaces` (the planned components') running."""
    return [
        check_pod_addresses(plan, objects.pods),
        check_system_pods(plan, objects.pods, namespaces),
    ]


def _in_pools(address: IPv6Address, pools: Iterable[Pool]) -> Pool | None:
    for pool in pools:
        if address in pool.cidr:
            return pool
    return None


# ---- pods ----------------------------------------------------------------------------------


def _pod_name(pod: Pod) -> str:
    meta = pod.metadata
    return f"{meta.namespace}/{meta.name}" if meta else "?"


def _pod_ips(pod: Pod) -> list[str]:
    status = pod.status
    if status is None:
        return []
    ips = [p.ip for p in (status.podIPs or []) if p.ip]
    if not ips and status.podIP:
        ips = [status.podIP]
    return ips


def check_pod_addresses(plan: Plan, pods: Sequence[Pod]) -> CheckResult:
    """`pod-addresses`: no pod has an IPv4 address; pod-network pods are inside the pools (the
    pool of their node when pools are per node)."""
    name = "pod-addresses"
    by_node = {n.name: n for n in plan.nodes}
    bad: list[str] = []
    fixes: list[str] = []
    counted = 0
    for pod in pods:
        ips = _pod_ips(pod)
        if not ips:
            continue
        counted += 1
        host_network = bool(pod.spec and pod.spec.hostNetwork)
        node = pod.spec.nodeName if pod.spec else None
        for text in ips:
            addr = address_of(text)
            if not isinstance(addr, IPv6Address):
                bad.append(f"{_pod_name(pod)}: {text} is not IPv6")
                fixes.append(
                    "pods get IPv4 when an IPv4 pool exists or the CNI config assigns IPv4: "
                    "remove the IPv4 pool (see `calico-ippools`), then delete the pod so that it "
                    "is re-created"
                    if not host_network
                    else "a host-network pod has its node's addresses: remove IPv4 from the "
                    "node's kubelet node-ip (see `nodes-addresses`)"
                )
                continue
            if host_network:
                continue
            pool = _in_pools(addr, plan.pools)
            if pool is None:
                bad.append(f"{_pod_name(pod)}: {addr} is outside the planned pools")
                fixes.append(
                    "the address comes from a pool that is not planned, or from another CNI: "
                    "`kubectl get ippools.crd.projectcalico.org`; remove the stray pool, then "
                    "delete the pod so that it is re-created"
                )
                continue
            planned = by_node.get(node or "")
            if pool.nodes is not None and planned is not None and planned.pool != pool.name:
                bad.append(
                    f"{_pod_name(pod)}: {addr} is in pool {pool.name}, but node {node} uses "
                    f"{planned.pool}"
                )
                fixes.append(
                    f"label the node as kube6 does ({POOL_LABEL}={planned.pool}) so that Calico "
                    "picks the node's own pool, and re-create the pod"
                )
    if bad:
        return failed(
            name,
            f"{len(bad)} pod address(es) are outside the plan",
            join_fixes(fixes),
            bad,
        )
    return passed(
        name, f"all {counted} pod(s) with addresses are IPv6 only, pod networks in the pools"
    )


def check_system_pods(
    plan: Plan, pods: Sequence[Pod], components: Sequence[str] = ()
) -> CheckResult:
    """`system-pods`: every pod in kube-system and in `components` (the namespaces of the
    planned components: calico-system, tigera-operator, the add-ons' controllers') is Running
    with its containers ready, or has completed."""
    name = "system-pods"
    namespaces = [*SYSTEM_NAMESPACES, *components]
    bad: list[str] = []
    count = 0
    for pod in pods:
        meta, status = pod.metadata, pod.status
        if meta is None or meta.namespace not in namespaces:
            continue
        count += 1
        phase = status.phase if status else None
        if phase == "Succeeded":
            continue
        waiting = [
            f"{c.name} ({c.state.waiting.reason})"
            if c.state and c.state.waiting and c.state.waiting.reason
            else c.name
            for c in ((status.containerStatuses or []) if status else [])
            if not c.ready
        ]
        if phase != "Running" or waiting:
            detail = f"{_pod_name(pod)}: {phase or 'no phase'}"
            if waiting:
                detail += f", not ready: {', '.join(waiting)}"
            bad.append(detail)
    if count == 0:
        return warned(
            name,
            f"no pods in {', '.join(namespaces)}: is this the kubeconfig of a kube6 cluster?",
            "check `kubectl config current-context` and `kubectl get pods -A`",
        )
    if bad:
        return failed(
            name,
            f"{len(bad)} of {count} system pod(s) are not running",
            "`kubectl -n NAMESPACE describe pod NAME` shows why (events at the end), "
            "`kubectl -n NAMESPACE logs NAME` what it said; ImagePullBackOff on an IPv6-only "
            "node usually means an IPv4-only registry: see `kube6 check` (NAT64)",
            bad,
        )
    return passed(name, f"all {count} system pod(s) are running")
