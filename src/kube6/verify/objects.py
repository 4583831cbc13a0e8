"""Pure checks of a running cluster's objects against the Plan: objects in, results out.

The objects are what the API server returned: lightkube models for core kinds (Node, Service,
Pod) and plain dicts for custom resources (Calico IPPool and BlockAffinity, cert-manager
ClusterIssuer, Gateway API Gateway: `CustomKind`s that their components name). `None` for a
custom-resource list means its CRD is not installed. Nothing here talks to a cluster;
`kube6.verify.fetch` does that. The checks of Kubernetes' own objects are here; each component
owns the checks of its objects, and `kube6.components.registry.check_objects` runs them all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

from kube6.plan.model import POOL_LABEL, Plan, Pool
from kube6.verify.result import CheckResult, failed, passed, skipped, warned

if TYPE_CHECKING:
    # Only annotations: `kube6 up` builds empty ClusterObjects without importing lightkube.
    from lightkube.resources.core_v1 import Node, Pod, Service

Obj = Mapping[str, Any]

SYSTEM_NAMESPACES = ("kube-system",)
"""Namespaces whose pods must all be Running for the cluster to work (the components add
theirs: Calico's, the add-ons' controllers')."""


@dataclass(frozen=True)
class CustomKind:
    """A custom resource kind that verify lists for the component that installs it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def crd(self) -> str:
        """The CRD's name (`ippools.crd.projectcalico.org`), as kubectl takes it."""
        return f"{self.plural}.{self.group}"


@dataclass(frozen=True)
class ClusterObjects:
    """Everything the object checks read, as fetched."""

    nodes: tuple[Node, ...] = ()
    services: tuple[Service, ...] = ()
    pods: tuple[Pod, ...] = ()
    custom: Mapping[str, tuple[Obj, ...] | None] = field(default_factory=dict)
    """Custom objects by CRD name (`CustomKind.crd`), for the kinds the planned components
    check. None: that CRD is not installed."""

    def of(self, kind: CustomKind) -> tuple[Obj, ...] | None:
        """The listed objects of `kind`; None when its CRD is not installed (or not listed)."""
        return self.custom.get(kind.crd)


def cluster_checks(plan: Plan, objects: ClusterObjects) -> list[CheckResult]:
    """The checks of Kubernetes' own objects that come before the network's: nodes, their pod
    CIDRs, Services."""
    return [
        *check_nodes(plan, objects.nodes),
        check_node_pod_cidrs(plan, objects.nodes),
        *check_services(plan, objects.services),
    ]


def pod_checks(plan: Plan, objects: ClusterObjects, namespaces: Sequence[str]) -> list[CheckResult]:
    """The pods' checks: addresses in the planned pools, and every pod of kube-system and of
    `namespaces` (the planned components') running."""
    return [
        check_pod_addresses(plan, objects.pods),
        check_system_pods(plan, objects.pods, namespaces),
    ]


# ---- small readers -------------------------------------------------------------------------


def address_of(text: object) -> IPv4Address | IPv6Address | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def network_of(text: object) -> ipaddress.IPv4Network | IPv6Network | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def dig(obj: Obj | None, *keys: str) -> Any:
    """obj[k1][k2]... or None when any level is missing."""
    value: Any = obj
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def obj_name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{namespace}/{name}" if namespace else str(name)


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in dig(obj, "status", "conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def describe_condition(cond: Obj | None, kind: str) -> str:
    if cond is None:
        return f"{kind} condition missing"
    text = f"{kind}={cond.get('status')}"
    why = ": ".join(str(cond[k]) for k in ("reason", "message") if cond.get(k))
    return f"{text} ({why})" if why else text


def _in_pools(address: IPv6Address, pools: Iterable[Pool]) -> Pool | None:
    for pool in pools:
        if address in pool.cidr:
            return pool
    return None


def _inside(address: IPv4Address | IPv6Address | None, network: IPv6Network) -> bool:
    return isinstance(address, IPv6Address) and address in network


def join_fixes(fixes: Iterable[str]) -> str:
    return "; also: ".join(dict.fromkeys(f for f in fixes if f))


def not_installed(name: str, what: str, crd: str, fix: str) -> CheckResult:
    return failed(
        name,
        f"{what} is not installed: the API server does not serve {crd}",
        fix,
        [f"{crd}: not found"],
    )


# ---- nodes ---------------------------------------------------------------------------------


def _node_name(node: Node) -> str:
    return node.metadata.name if node.metadata and node.metadata.name else "?"


def check_nodes(plan: Plan, nodes: Sequence[Node]) -> list[CheckResult]:
    """`nodes-registered`, `nodes-ready`, `nodes-addresses` (InternalIP = planned, no IPv4)."""
    return [_registered(plan, nodes), _ready(nodes), _node_addresses(plan, nodes)]


def _registered(plan: Plan, nodes: Sequence[Node]) -> CheckResult:
    seen = {_node_name(n) for n in nodes}
    planned = [n.name for n in plan.nodes]
    missing = [name for name in planned if name not in seen]
    extra = sorted(seen - set(planned))
    lines = [f"{name}: not registered" for name in missing] + [
        f"{name}: registered but not in the plan" for name in extra
    ]
    if missing:
        return failed(
            "nodes-registered",
            f"{len(missing)} of {len(planned)} planned node(s) are not in the cluster",
            "join them with `kube6 up`; if a node did join, its kubelet registered another name: "
            "check `journalctl -u kubelet` on it and the node name in kube6.yaml",
            lines,
        )
    if extra:
        return warned(
            "nodes-registered",
            f"all {len(planned)} planned node(s) are registered, and {len(extra)} that the plan "
            "does not know",
            "add them to kube6.yaml, or remove them: `kubectl delete node NAME`",
            lines,
        )
    return passed("nodes-registered", f"all {len(planned)} planned node(s) are registered")


def _ready(nodes: Sequence[Node]) -> CheckResult:
    bad: list[str] = []
    for node in nodes:
        conditions = (node.status.conditions or []) if node.status else []
        cond = next((c for c in conditions if c.type == "Ready"), None)
        if cond is None:
            bad.append(f"{_node_name(node)}: no Ready condition")
        elif cond.status != "True":
            why = ": ".join(x for x in (cond.reason, cond.message) if x)
            bad.append(f"{_node_name(node)}: Ready={cond.status}" + (f" ({why})" if why else ""))
    if not nodes:
        return failed(
            "nodes-ready",
            "the cluster has no nodes",
            "run `kube6 up`; is this the kubeconfig of the right cluster?",
        )
    if bad:
        return failed(
            "nodes-ready",
            f"{len(bad)} of {len(nodes)} node(s) are not Ready",
            "on the node: `journalctl -u kubelet -e`; 'network plugin not ready' means Calico "
            "is not running there: `kubectl -n calico-system get pods -o wide`",
            bad,
        )
    return passed("nodes-ready", f"all {len(nodes)} node(s) are Ready")


def _node_addresses(plan: Plan, nodes: Sequence[Node]) -> CheckResult:
    planned = {n.name: n.address for n in plan.nodes}
    bad: list[str] = []
    fixes: list[str] = []
    for node in nodes:
        name = _node_name(node)
        addresses = (
            [(a.type, a.address) for a in (node.status.addresses or [])] if node.status else []
        )
        ipv4 = [
            f"{kind} {text}"
            for kind, text in addresses
            if isinstance(address_of(text), IPv4Address)
        ]
        internal = [address_of(text) for kind, text in addresses if kind == "InternalIP"]
        want = planned.get(name)
        if ipv4:
            bad.append(f"{name}: IPv4 address(es) {', '.join(ipv4)}")
            fixes.append(
                "kubelet reported IPv4 addresses: start kubelet with --node-ip set to the node's "
                "planned IPv6 address only (kube6 renders it in kubeletExtraArgs node-ip) and "
                "restart it: `systemctl restart kubelet`"
            )
        if want is not None and want not in internal:
            shown = ", ".join(str(a) for a in internal) or "none"
            bad.append(f"{name}: InternalIP {shown}, planned {want}")
            fixes.append(
                f"set kubelet's node-ip on {name} to {want} (the address in kube6.yaml) and "
                "restart kubelet; if the plan is wrong, correct the address in kube6.yaml"
            )
    if bad:
        return failed(
            "nodes-addresses",
            f"{len({line.split(':')[0] for line in bad})} node(s) have addresses that differ "
            "from the plan",
            join_fixes(fixes),
            bad,
        )
    return passed(
        "nodes-addresses",
        "every node's InternalIP is its planned IPv6 address and no node has an IPv4 address",
        [f"{_node_name(n)}: {planned.get(_node_name(n), '-')}" for n in nodes],
    )


def check_node_pod_cidrs(plan: Plan, nodes: Sequence[Node]) -> CheckResult:
    """`nodes-pod-cidrs`: node.spec.podCIDRs inside the pod range, with the planned node mask."""
    name = "nodes-pod-cidrs"
    if not plan.allocate_node_cidrs:
        return skipped(
            name,
            "node CIDR allocation is off in this plan (pools in several prefixes): "
            "Calico IPAM alone gives out pod addresses",
        )
    bad: list[str] = []
    seen: list[str] = []
    for node in nodes:
        spec = node.spec
        cidrs = list(spec.podCIDRs or []) if spec else []
        if not cidrs and spec and spec.podCIDR:
            cidrs = [spec.podCIDR]
        node_name = _node_name(node)
        if not cidrs:
            bad.append(f"{node_name}: no podCIDR")
            continue
        for text in cidrs:
            net = network_of(text)
            if not isinstance(net, IPv6Network):
                bad.append(f"{node_name}: podCIDR {text} is not IPv6")
            elif not net.subnet_of(plan.pods):
                bad.append(f"{node_name}: podCIDR {text} is outside the planned pods {plan.pods}")
            elif net.prefixlen != plan.node_mask:
                bad.append(
                    f"{node_name}: podCIDR {text} is a /{net.prefixlen}, planned /{plan.node_mask}"
                )
            else:
                seen.append(f"{node_name}: {text}")
    if bad:
        return failed(
            name,
            f"{len(bad)} node pod CIDR problem(s)",
            f"kube-controller-manager must run with --cluster-cidr={plan.pods} and "
            f"--node-cidr-mask-size-ipv6={plan.node_mask} (kube6 renders both in the kubeadm "
            "ClusterConfiguration); a node keeps its podCIDR until it is deleted and re-joined",
            bad,
        )
    return passed(name, f"every node's pod CIDR is a /{plan.node_mask} inside {plan.pods}", seen)


# ---- services ------------------------------------------------------------------------------


def _svc_name(svc: Service) -> str:
    meta = svc.metadata
    return f"{meta.namespace}/{meta.name}" if meta else "?"


def _cluster_ips(svc: Service) -> list[str]:
    spec = svc.spec
    if spec is None:
        return []
    ips = list(spec.clusterIPs or [])
    if not ips and spec.clusterIP:
        ips = [spec.clusterIP]
    return [ip for ip in ips if ip and ip != "None"]


def _external_ips(svc: Service) -> list[str]:
    """spec.externalIPs and the load balancer's ingress addresses."""
    ips = list(svc.spec.externalIPs or []) if svc.spec else []
    balancer = svc.status.loadBalancer if svc.status else None
    ips += [i.ip for i in (balancer.ingress or []) if i.ip] if balancer else []
    return ips


def check_services(plan: Plan, services: Sequence[Service]) -> list[CheckResult]:
    """`services-ipv6` (every Service single-stack IPv6 in the planned range), `service-
    kubernetes` (on plan.api) and `service-kube-dns` (on plan.dns)."""
    return [
        _services_ipv6(plan, services),
        _service_on(
            services,
            "default",
            "kubernetes",
            plan.api,
            "service-kubernetes",
            f"the API server's --service-cluster-ip-range must be {plan.services}: it "
            "gives `kubernetes` the first address; re-create the control plane from the "
            "rendered kubeadm config",
        ),
        _service_on(
            services,
            "kube-system",
            "kube-dns",
            plan.dns,
            "service-kube-dns",
            f"kubeadm's ClusterConfiguration networking.serviceSubnet must be "
            f"{plan.services} and the kubelet's clusterDNS {plan.dns}; delete and "
            f"re-create kube-dns with clusterIP {plan.dns}",
        ),
    ]


def _services_ipv6(plan: Plan, services: Sequence[Service]) -> CheckResult:
    name = "services-ipv6"
    bad: list[str] = []
    fixes: list[str] = []
    checked = 0
    for svc in services:
        spec = svc.spec
        if spec is None or spec.type == "ExternalName":
            continue
        checked += 1
        families = list(spec.ipFamilies or [])
        policy = spec.ipFamilyPolicy
        ips = _cluster_ips(svc)
        problems: list[str] = []
        if families != ["IPv6"]:
            problems.append(f"ipFamilies {families}")
            fixes.append(
                "re-create the Service with spec.ipFamilies: [IPv6] and spec.ipFamilyPolicy: "
                "SingleStack (the primary family cannot change in place); if the API server "
                "chose IPv4 itself, its --service-cluster-ip-range holds an IPv4 range: it "
                f"must be only {plan.services}"
            )
        if policy != "SingleStack":
            problems.append(f"ipFamilyPolicy {policy}")
            fixes.append(
                "set spec.ipFamilyPolicy: SingleStack (or leave it out: the default is SingleStack)"
            )
        outside = [ip for ip in ips if not _inside(address_of(ip), plan.services)]
        if outside:
            problems.append(f"clusterIPs {', '.join(outside)} outside {plan.services}")
            fixes.append(
                f"the API server's --service-cluster-ip-range must be {plan.services}; "
                "re-create Services that got an address outside it"
            )
        external = [ip for ip in _external_ips(svc) if isinstance(address_of(ip), IPv4Address)]
        if external:
            problems.append(f"external address(es) {', '.join(external)} are IPv4")
            fixes.append(
                "the load balancer (or spec.externalIPs) gave the Service an IPv4 address: "
                "configure its address pool with IPv6 only"
            )
        if problems:
            bad.append(f"{_svc_name(svc)}: {'; '.join(problems)}")
    if bad:
        return failed(
            name,
            f"{len(bad)} of {checked} Service(s) are not single-stack IPv6 in {plan.services}",
            join_fixes(fixes),
            bad,
        )
    return passed(name, f"all {checked} Service(s) are single-stack IPv6 inside {plan.services}")


def _service_on(
    services: Sequence[Service],
    namespace: str,
    svc_name: str,
    want: IPv6Address,
    name: str,
    fix: str,
) -> CheckResult:
    for svc in services:
        meta = svc.metadata
        if meta and meta.namespace == namespace and meta.name == svc_name:
            ips = _cluster_ips(svc)
            if [address_of(ip) for ip in ips] == [want]:
                return passed(name, f"{namespace}/{svc_name} is on {want}", [f"clusterIPs {ips}"])
            return failed(
                name,
                f"{namespace}/{svc_name} is on {', '.join(ips) or 'no address'}, planned {want}",
                fix,
                [f"{namespace}/{svc_name}: clusterIPs {ips}"],
            )
    return failed(
        name,
        f"Service {namespace}/{svc_name} does not exist",
        "kubeadm creates it: is the control plane up (`kubectl get --raw /readyz`)? "
        + ("CoreDNS is an add-on that `kubeadm init` installs" if svc_name == "kube-dns" else ""),
    )


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
