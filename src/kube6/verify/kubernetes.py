"""Checks of Kubernetes' own nodes and Services against the Plan: nodes registered, Ready, on
their planned addresses, with pod CIDRs; Services IPv6 single-stack in the planned range,
`kubernetes` and `kube-dns` on their planned addresses. Pods: kube6.verify.pods. Pure: objects
in (kube6.verify.objects), results out.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import TYPE_CHECKING

from kube6.plan.model import Plan
from kube6.verify.objects import ClusterObjects, address_of, join_fixes, network_of
from kube6.verify.result import CheckResult, failed, passed, skipped, warned

if TYPE_CHECKING:
    from lightkube.resources.core_v1 import Node, Service


def cluster_checks(plan: Plan, objects: ClusterObjects) -> list[CheckResult]:
    """The checks of Kubernetes' own objects that come before the network's: nodes, their pod
    CIDRs, Services."""
    return [
        *check_nodes(plan, objects.nodes),
        check_node_pod_cidrs(plan, objects.nodes),
        *check_services(plan, objects.services),
    ]


def _inside(address: IPv4Address | IPv6Address | None, network: IPv6Network) -> bool:
    return isinstance(address, IPv6Address) and address in network


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
