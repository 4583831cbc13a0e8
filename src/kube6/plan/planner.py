"""The planner: ClusterSpec -> Plan, a pure function with named rules.

Layout from one prefix P (the guide's, made explicit):

- /64: pods `P:8:2::/104`, services `P:8:3::/112`, node mask = block = /120.
- /62 or shorter (a routed /56 or /48): roomier; pods get a /100 in the second /64 of P
  (node mask = block = /116: 4,096 addresses a node, 65,536 nodes) and services the largest
  range kubeadm allows, a /108 in the third /64.
- longer than /64 (/80, /96, ...): tighter; P is cut in quarters, pods start the third quarter
  and services the fourth, each at its default size or the quarter's size when that is smaller.

Node mask and Calico block size are kept equal where the rules allow, so that a node's
`spec.podCIDR` is exactly its first Calico block.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from ipaddress import IPv6Address, IPv6Network

from kube6 import mirrors, net
from kube6.errors import PlanError
from kube6.modes import RoutingMode
from kube6.plan.model import (
    API_PORT,
    POOL_LABEL,
    AddonsPlan,
    BgpPlan,
    Choice,
    DnsPlan,
    FirewallPlan,
    Level,
    NdpRule,
    Plan,
    PlannedNode,
    Pool,
    RuleResult,
)
from kube6.spec import ClusterSpec
from kube6.versions import KUBERNETES_PATCHES

DEFAULT_BLOCK = 120
MIN_BLOCK = 116
MAX_NODE_MASK_DIFF = 16  # kubeadm PodSubnetNodeMaskMaxDiff and the controller-manager cidrset
MIN_SERVICE_PREFIX = 108  # kubeadm MaximumBitsForServiceSubnet = 20
DNS_INDEX = 10  # kubeadm puts cluster DNS at the 10th address of the service range
DEFAULT_MAX_PODS = 110  # kubelet's default
DEFAULT_INTERFACE = "eth0"
MIN_POD_ADDRESSES = 16
SINGLE_POOL_NAME = "default-ipv6-ippool"


class _Rules:
    """Collects rule outcomes in the order they were checked."""

    def __init__(self) -> None:
        self.results: list[RuleResult] = []

    def ok(self, name: str, detail: str) -> None:
        self.results.append(RuleResult(name, Level.OK, detail))

    def warn(self, name: str, detail: str, fix: str) -> None:
        self.results.append(RuleResult(name, Level.WARN, detail, fix))

    def fail(self, name: str, detail: str, fix: str) -> None:
        self.results.append(RuleResult(name, Level.FAIL, detail, fix))

    def check(self, name: str, passed: bool, ok: str, failed: str, fix: str) -> bool:
        if passed:
            self.ok(name, ok)
        else:
            self.fail(name, failed, fix)
        return passed


def spec_digest(spec: ClusterSpec) -> str:
    data = spec.model_dump(mode="json")
    # Sections added later leave the digest of a spec that does not use them unchanged, so
    # rendered files (and their headers) do not change on an upgrade that changes nothing.
    for section in ("mirrors", "host"):
        if getattr(spec, section) == type(getattr(spec, section))():
            data.pop(section)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def default_layout(prefix: IPv6Network) -> tuple[IPv6Network, IPv6Network]:
    """The default (pods, services) inside `prefix`; PlanError when it is too small."""
    length = prefix.prefixlen
    if length == 63:  # too few /64s for the roomy layout: use the guide's in the first one
        return default_layout(net.subnet_at(prefix, 64, 0))
    if length == 64:
        return (
            net.offset_network(prefix, (0x8 << 48) | (0x2 << 32), 104),
            net.offset_network(prefix, (0x8 << 48) | (0x3 << 32), 112),
        )
    if length < 64:
        return (
            net.subnet_at(net.subnet_at(prefix, 64, 1), 100, 0),
            net.subnet_at(net.subnet_at(prefix, 64, 2), MIN_SERVICE_PREFIX, 0),
        )
    quarter = length + 2
    pods_len = max(104, quarter)
    services_len = max(112, quarter)
    smallest_services = 128 - math.ceil(math.log2(DNS_INDEX + 1))
    if services_len > smallest_services or pods_len > 128 - 1:
        size = 1 << (128 - length)
        raise PlanError(
            [
                RuleResult(
                    "prefix-size",
                    Level.FAIL,
                    f"prefix {prefix} has {size} addresses; a quarter (/{quarter}) is too small "
                    f"for a service range with the DNS address at index {DNS_INDEX} "
                    f"(needs /{smallest_services} or shorter) and a pod range",
                    "use a /120 or shorter prefix (a /64 is the usual allocation), or set "
                    "network.pods and network.services yourself",
                )
            ]
        )
    return (
        net.subnet_at(net.subnet_at(prefix, quarter, 2), pods_len, 0),
        net.subnet_at(net.subnet_at(prefix, quarter, 3), services_len, 0),
    )


def make_plan(spec: ClusterSpec, *, source: str = "kube6.yaml") -> Plan:
    """Plan every address of the cluster; rules that fail are in `Plan.rules`.

    Raises PlanError when no plan can be made at all (no control-plane node, duplicate names or
    addresses, a prefix too small for any layout).
    """
    rules = _Rules()
    choices: list[Choice] = []
    network = spec.network

    _refuse_unplannable(spec)
    control_planes = [n for n in spec.nodes if n.is_control_plane]
    rules.ok(
        "control-plane-present",
        f"{len(control_planes)} control-plane node(s): {_names(control_planes)}",
    )
    if len(control_planes) % 2 == 0:
        rules.warn(
            "etcd-quorum",
            f"{len(control_planes)} control-plane nodes: an even etcd member count tolerates no "
            f"more failures than {len(control_planes) - 1}",
            "use 1, 3 or 5 control-plane nodes",
        )
    else:
        rules.ok(
            "etcd-quorum",
            f"{len(control_planes)} etcd member(s) tolerate {len(control_planes) // 2} failure(s)",
        )

    # Link prefixes: each distinct prefix gets one pool, in order of first appearance.
    link_of = {n.name: n.prefix or spec.prefix for n in spec.nodes}
    prefixes: list[IPv6Network] = []
    for node in spec.nodes:
        if link_of[node.name] not in prefixes:
            prefixes.append(link_of[node.name])
    several = len(prefixes) > 1

    services_node = control_planes[0]
    services_link = link_of[services_node.name]
    default_pods, default_services = default_layout(services_link)
    if network.services is not None:
        services = network.services
        choices.append(Choice("services", str(services), "set", "network.services"))
    else:
        services = default_services
        choices.append(
            Choice("services", str(services), "default", _layout_reason(services_link, "services"))
        )

    pool_cidrs: list[IPv6Network] = []
    for index, prefix in enumerate(prefixes):
        if index == 0 and network.pods is not None and prefix == prefixes[0]:
            pool_cidrs.append(network.pods)
        else:
            pool_cidrs.append(
                default_pods if prefix == services_link else default_layout(prefix)[0]
            )
    if network.pods is not None:
        choices.append(Choice("pods", str(network.pods), "set", "network.pods"))
    else:
        choices.append(
            Choice(
                "pods",
                ", ".join(map(str, pool_cidrs)),
                "default",
                _layout_reason(prefixes[0], "pods")
                + ("; one pool per node prefix" if several else ""),
            )
        )

    pods = pool_cidrs[0] if not several else net.supernet_of(pool_cidrs)
    allocate = not several
    if several:
        choices.append(
            Choice(
                "pods.subnet",
                str(pods),
                "derived",
                "kubeadm podSubnet covers every pool; node CIDR allocation is off because "
                "Calico IPAM assigns from the per-prefix pools",
            )
        )

    nodes_per_pool = Counter(prefixes.index(link_of[n.name]) for n in spec.nodes)
    block_size = _choose_block(network.block_size, pool_cidrs, nodes_per_pool, allocate, choices)
    if network.node_mask is not None:
        node_mask = network.node_mask
        choices.append(Choice("node_mask", f"/{node_mask}", "set", "network.node_mask"))
    else:
        node_mask = block_size
        choices.append(
            Choice("node_mask", f"/{node_mask}", "derived", "equal to the Calico block size")
        )

    block_addresses = 1 << (128 - block_size)
    if network.max_pods is not None:
        max_pods = network.max_pods
        choices.append(Choice("max_pods", str(max_pods), "set", "network.max_pods"))
    else:
        max_pods = min(DEFAULT_MAX_PODS, block_addresses)
        choices.append(
            Choice(
                "max_pods",
                str(max_pods),
                "default",
                "kubelet's default of 110"
                if max_pods == DEFAULT_MAX_PODS
                else f"a /{block_size} block holds {block_addresses} addresses",
            )
        )

    ula = [net.is_unique_local(c) for c in pool_cidrs]
    if network.nat_outgoing is not None:
        nat = [network.nat_outgoing] * len(pool_cidrs)
        choices.append(
            Choice("nat_outgoing", str(network.nat_outgoing).lower(), "set", "network.nat_outgoing")
        )
    else:
        nat = ula
        choices.append(
            Choice(
                "nat_outgoing",
                str(nat[0]).lower(),
                "default",
                "unique-local pods need NAT66 to leave the cluster"
                if nat[0]
                else "global pod addresses are routed as they are",
            )
        )

    pools = tuple(
        Pool(
            name=SINGLE_POOL_NAME if not several else f"{spec.cluster.name}-pool-{i}",
            cidr=cidr,
            block_size=block_size,
            nat_outgoing=nat[i],
            nodes=None
            if not several
            else tuple(n.name for n in spec.nodes if link_of[n.name] == prefixes[i]),
        )
        for i, cidr in enumerate(pool_cidrs)
    )

    if network.dns is not None:
        dns = network.dns
        choices.append(Choice("dns", str(dns), "set", "network.dns"))
    else:
        dns = net.nth(services, DNS_INDEX)
        choices.append(
            Choice("dns", str(dns), "derived", f"address {DNS_INDEX} of {services} (as kubeadm)")
        )
    api = net.nth(services, 1)
    choices.append(Choice("api", str(api), "derived", f"address 1 of {services}"))

    endpoint = spec.cluster.control_plane_endpoint or net.bracket(services_node.address, API_PORT)
    choices.append(
        Choice(
            "control_plane_endpoint",
            endpoint,
            "set" if spec.cluster.control_plane_endpoint else "default",
            "cluster.control_plane_endpoint"
            if spec.cluster.control_plane_endpoint
            else f"the first control-plane node, {services_node.name}",
        )
    )

    planned_nodes = _plan_nodes(spec, link_of, pools, prefixes, services, services_node.name)

    _check_ranges(rules, spec, pools, services, dns, link_of, services_link)
    _check_sizes(
        rules, pools, pods, services, node_mask, block_size, max_pods, allocate, nodes_per_pool
    )
    _check_nat(rules, pools)
    _check_exposure(rules, spec, control_planes)

    dns64 = spec.dns.dns64 or ("resolvers" if spec.dns.nat64_prefix else "off")
    choices.append(
        Choice(
            "dns64",
            dns64,
            "set" if spec.dns.dns64 else "default",
            "dns.dns64"
            if spec.dns.dns64
            else (
                "a NAT64 prefix is set: the resolvers are expected to synthesize"
                if spec.dns.nat64_prefix
                else "no NAT64 prefix given"
            ),
        )
    )
    github = "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
    ipv4_only_mirrored = (
        any(m.registry == "ghcr.io" for m in spec.mirrors.registries)
        and mirrors.download_url(spec.mirrors, github) != github
    )
    if dns64 == "off" and spec.addons.dashboard.enabled and not ipv4_only_mirrored:
        rules.warn(
            "ipv4-only-sources",
            "no NAT64: the dashboard image (ghcr.io) and GitHub downloads have no IPv6 address",
            "give dns.nat64_prefix (run `kube6 check` to discover it) or mirror those images",
        )

    if spec.routing is RoutingMode.BGP and spec.bgp is not None:
        rules.check(
            "bgp-router-id",
            spec.bgp.router_id == "hash",
            "Calico derives a distinct router ID per node from its name (hash)",
            f"router_id {spec.bgp.router_id!r} cannot be given to every node: the node mesh needs "
            "a distinct ID per node, and the operator sets CALICO_ROUTER_ID=hash itself when a "
            "node has no IPv4 address",
            "remove bgp.router_id (the default, hash, is right for IPv6-only nodes)",
        )
    if spec.host.cgroup_v1:
        rules.warn(
            "host-cgroup-v1",
            "host.cgroup_v1: kubelet is told to run on cgroup v1 hosts (failCgroupV1: false); "
            "cgroup v1 is deprecated in Kubernetes and gets no new features",
            "boot the hosts with cgroup v2 (systemd.unified_cgroup_hierarchy=1) where they "
            "allow it, then remove host.cgroup_v1",
        )
    if spec.host.restrict_oom_score_adj:
        rules.ok(
            "host-oom-score-adj",
            "host.restrict_oom_score_adj: containerd keeps pods' oom_score_adj at or above its "
            "own (restrict_oom_score_adj = true), for runtimes without CAP_SYS_RESOURCE",
        )
    if spec.mirrors != type(spec.mirrors)():
        used = [
            what
            for what, on in (
                ("registries", spec.mirrors.registries),
                ("apt", spec.mirrors.apt != type(spec.mirrors.apt)()),
                ("charts", spec.mirrors.charts),
                ("downloads", spec.mirrors.downloads),
                ("acme", spec.mirrors.acme != type(spec.mirrors.acme)()),
            )
            if on
        ]
        rules.ok(
            "mirrors",
            f"artifacts through mirrors ({', '.join(used)}): the same images, packages, charts "
            "and files as from the upstream sources; `kube6 check` tests that nodes reach them",
        )
    if addons_need_solver(spec):
        rules.warn(
            "acme-solver",
            "cert-manager is on but the gateway is off: the Let's Encrypt issuers have no HTTP-01 "
            "solver and will not issue certificates",
            "enable addons.gateway, or disable addons.cert_manager",
        )
    bgp = None
    if spec.routing is RoutingMode.BGP and spec.bgp is not None:
        bgp = BgpPlan(
            peer=spec.bgp.peer,
            peer_as=spec.bgp.peer_as,
            as_number=spec.bgp.as_number,
            router_id=spec.bgp.router_id,
            advertise=(*pool_cidrs, services),
        )

    addons = spec.addons
    return Plan(
        cluster_name=spec.cluster.name,
        kubernetes_minor=spec.cluster.kubernetes,
        kubernetes_version=_kubernetes_version(spec.cluster.kubernetes, choices),
        dns_domain=spec.cluster.dns_domain,
        prefix=spec.prefix,
        routing=spec.routing,
        pods=pods,
        allocate_node_cidrs=allocate,
        node_mask=node_mask,
        block_size=block_size,
        max_pods=max_pods,
        nat_outgoing=any(nat),
        pools=pools,
        services=services,
        dns=dns,
        api=api,
        control_plane_endpoint=endpoint,
        nodes=planned_nodes,
        mtu=network.mtu,
        bgp=bgp,
        dns_settings=DnsPlan(spec.dns.resolvers, spec.dns.nat64_prefix, dns64),
        addons=AddonsPlan(
            gateway=addons.gateway.enabled,
            gateway_controller=addons.gateway.controller,
            cert_manager=addons.cert_manager.enabled,
            acme_email=addons.cert_manager.email,
            issuer=addons.cert_manager.issuer,
            dashboard=addons.dashboard.enabled,
            dashboard_host=addons.dashboard.host,
            dashboard_admin=addons.dashboard.admin,
        ),
        firewall=FirewallPlan(
            enabled=spec.firewall.enabled,
            ssh_port=spec.firewall.ssh_port,
            ssh_sources=spec.firewall.ssh_sources,
            api_sources=spec.firewall.api_sources,
            gateway_ports=(80, 443) if addons.gateway.enabled else (),
            bgp_peer=spec.bgp.peer if bgp and spec.bgp else None,
        ),
        rules=tuple(rules.results),
        choices=tuple(choices),
        digest=spec_digest(spec),
        source=source,
        mirrors=spec.mirrors,
        host=spec.host,
    )


def _names(nodes: Sequence[object]) -> str:
    return ", ".join(getattr(n, "name", "?") for n in nodes) or "none"


def _refuse_unplannable(spec: ClusterSpec) -> None:
    failures: list[object] = []
    names = Counter(n.name for n in spec.nodes)
    dup_names = sorted(name for name, count in names.items() if count > 1)
    if dup_names:
        failures.append(
            RuleResult(
                "node-names-unique",
                Level.FAIL,
                f"node name(s) used more than once: {', '.join(dup_names)}",
                "give every node its own name; kubeadm, kubelet and etcd identify nodes by it",
            )
        )
    addresses = Counter(n.address for n in spec.nodes)
    dup_addresses = sorted(str(a) for a, count in addresses.items() if count > 1)
    if dup_addresses:
        failures.append(
            RuleResult(
                "node-addresses-unique",
                Level.FAIL,
                f"node address(es) used more than once: {', '.join(dup_addresses)}",
                "give every node its own stable global address",
            )
        )
    if not any(n.is_control_plane for n in spec.nodes):
        failures.append(
            RuleResult(
                "control-plane-present",
                Level.FAIL,
                f"none of the {len(spec.nodes)} node(s) has the control-plane role",
                "add `roles: [control-plane, worker]` to the first node",
            )
        )
    if failures:
        raise PlanError(failures)


def _layout_reason(prefix: IPv6Network, what: str) -> str:
    if prefix.prefixlen == 64:
        return f"the guide's layout inside the /64 {prefix}"
    if prefix.prefixlen < 63:
        index = 1 if what == "pods" else 2
        return f"roomy layout: its own /64 (number {index}) of {prefix}"
    return f"tight layout: quarter {3 if what == 'pods' else 4} of {prefix}"


def _choose_block(
    wanted: int | None,
    pools: list[IPv6Network],
    nodes_per_pool: Counter[int],
    allocate: bool,
    choices: list[Choice],
) -> int:
    if wanted is not None:
        choices.append(Choice("block_size", f"/{wanted}", "set", "network.block_size"))
        return wanted
    longest = max(p.prefixlen for p in pools)
    shortest = min(p.prefixlen for p in pools)
    lower = max(MIN_BLOCK, longest)
    upper = min(128, shortest + MAX_NODE_MASK_DIFF) if allocate else 128
    block = min(max(DEFAULT_BLOCK, lower), max(upper, lower))
    while block < upper and any(
        (1 << (block - pools[i].prefixlen)) < count for i, count in nodes_per_pool.items()
    ):
        block += 1
    reason = (
        "Calico's default of /122 is smaller than needed; /120 gives 256 addresses per node"
        if block == DEFAULT_BLOCK
        else f"the largest block that fits the pod range and the node count (/{lower}-/{upper})"
    )
    choices.append(Choice("block_size", f"/{block}", "default", reason))
    return block


def _plan_nodes(
    spec: ClusterSpec,
    link_of: dict[str, IPv6Network],
    pools: tuple[Pool, ...],
    prefixes: list[IPv6Network],
    services: IPv6Network,
    services_node: str,
) -> tuple[PlannedNode, ...]:
    several = len(pools) > 1
    planned = []
    for node in spec.nodes:
        pool = pools[prefixes.index(link_of[node.name])]
        ndp: list[NdpRule] = []
        if spec.routing is RoutingMode.NDP_PROXY:
            ndp.append(NdpRule(pool.cidr, "auto", "pods that this node routes"))
            if node.name == services_node:
                ndp.append(NdpRule(services, "static", "the service range (answered by one node)"))
        planned.append(
            PlannedNode(
                name=node.name,
                address=node.address,
                roles=node.roles,
                ssh=node.ssh,
                link_prefix=link_of[node.name],
                interface=node.interface or DEFAULT_INTERFACE,
                pool=pool.name,
                ndp_rules=tuple(ndp),
                labels=((POOL_LABEL, pool.name),) if several else (),
            )
        )
    return tuple(planned)


def _check_ranges(
    rules: _Rules,
    spec: ClusterSpec,
    pools: tuple[Pool, ...],
    services: IPv6Network,
    dns: IPv6Address,
    link_of: dict[str, IPv6Network],
    services_link: IPv6Network,
) -> None:
    ranges = [(f"pool {p.name} {p.cidr}", p.cidr) for p in pools] + [
        (f"services {services}", services)
    ]
    overlaps = [
        f"{a} and {b}"
        for i, (a, x) in enumerate(ranges)
        for (b, y) in ranges[i + 1 :]
        if x.overlaps(y)
    ]
    rules.check(
        "ranges-disjoint",
        not overlaps,
        "pod pools and the service range do not overlap",
        f"overlapping ranges: {'; '.join(overlaps)}",
        "choose network.pods and network.services that do not overlap",
    )

    inside = [
        f"{n.name} ({n.address}) is inside {label}"
        for n in spec.nodes
        for label, cidr in ranges
        if n.address in cidr
    ]
    rules.check(
        "node-address-outside-ranges",
        not inside,
        f"all {len(spec.nodes)} node address(es) lie outside the pod and service ranges",
        "; ".join(inside[:5]) + (f" (and {len(inside) - 5} more)" if len(inside) > 5 else ""),
        "move the pod/service ranges (network.pods, network.services) away from node addresses",
    )

    if spec.routing is RoutingMode.NDP_PROXY:
        off_link = [
            f"{n.name} ({n.address}) is not in its link prefix {link_of[n.name]}"
            for n in spec.nodes
            if n.address not in link_of[n.name]
        ]
        rules.check(
            "node-address-in-prefix",
            not off_link,
            "every node address is on its on-link prefix",
            "; ".join(off_link[:5]),
            "with ndp-proxy the node must sit on the /64 it proxies for: fix the node address "
            "or its `prefix`, or use routing: routed",
        )
        outside = [
            f"pool {p.name} {p.cidr} is outside its link prefix"
            for p, link in zip(pools, _pool_links(pools, spec, link_of), strict=True)
            if not p.cidr.subnet_of(link)
        ]
        if not services.subnet_of(services_link):
            outside.append(f"services {services} are outside {services_link}")
        rules.check(
            "ranges-inside-prefix",
            not outside,
            "pods and services lie inside the on-link prefix, where the NDP proxy can answer",
            "; ".join(outside),
            "with ndp-proxy, pods and services must be inside the on-link prefix (the provider "
            "sends neighbour solicitations only for it); choose ranges inside it",
        )

    rules.check(
        "dns-inside-services",
        dns in services and dns not in (services.network_address, net.nth(services, 1)),
        f"cluster DNS {dns} is inside {services}",
        f"cluster DNS {dns} is not a usable address of the service range {services}",
        f"leave network.dns unset (kubeadm uses {net.nth(services, DNS_INDEX)})",
    )


def _pool_links(
    pools: tuple[Pool, ...], spec: ClusterSpec, link_of: dict[str, IPv6Network]
) -> list[IPv6Network]:
    links = []
    for pool in pools:
        first = pool.nodes[0] if pool.nodes else spec.nodes[0].name
        links.append(link_of[first])
    return links


def _check_sizes(
    rules: _Rules,
    pools: tuple[Pool, ...],
    pods: IPv6Network,
    services: IPv6Network,
    node_mask: int,
    block: int,
    max_pods: int,
    allocate: bool,
    nodes_per_pool: Counter[int],
) -> None:
    s = services.prefixlen
    rules.check(
        "service-prefix-length",
        s >= MIN_SERVICE_PREFIX,
        f"services /{s} is within kubeadm's limit of /{MIN_SERVICE_PREFIX} or longer",
        f"services /{s} has {128 - s} host bits; kubeadm allows at most 20 (/108 or longer)",
        "use a /108 to /112 service range (network.services)",
    )
    room = (1 << (128 - s)) - 1
    rules.check(
        "service-room-for-dns",
        room >= DNS_INDEX,
        f"services /{s} has room for the DNS address at index {DNS_INDEX}",
        f"services /{s} has only {room} addresses after the network address; the DNS address "
        f"is number {DNS_INDEX}",
        "use a /124 or shorter service range",
    )
    if allocate:
        p = pods.prefixlen
        rules.check(
            "node-mask-vs-pods",
            p <= node_mask <= p + MAX_NODE_MASK_DIFF,
            f"node mask /{node_mask} is {node_mask - p} bits longer than pods /{p} (at most 16)",
            f"node mask /{node_mask} with pods /{p}: the difference {node_mask - p} must be "
            f"0 to {MAX_NODE_MASK_DIFF} (kubeadm and kube-controller-manager)",
            f"use a node mask between /{p} and /{min(128, p + MAX_NODE_MASK_DIFF)}",
        )
    else:
        rules.ok(
            "node-mask-vs-pods",
            "node CIDR allocation is off (pools in several prefixes): no node-mask limit",
        )
    rules.check(
        "block-size-range",
        MIN_BLOCK <= block <= 128,
        f"Calico block /{block} is within /116-/128",
        f"Calico block /{block} is outside the IPv6 range /116-/128",
        "set network.block_size between 116 and 128 (120 gives 256 addresses per block)",
    )
    too_big = [f"{p.name} {p.cidr}" for p in pools if block < p.cidr.prefixlen]
    rules.check(
        "block-inside-pool",
        not too_big,
        f"a /{block} block fits inside every pool",
        f"a /{block} block is larger than pool(s) {', '.join(too_big)}",
        "use a longer block size or a larger pod range",
    )
    short = [
        f"{pools[i].name} has {pools[i].blocks if block >= pools[i].cidr.prefixlen else 0} "
        f"block(s) for {count} node(s)"
        for i, count in sorted(nodes_per_pool.items())
        if block < pools[i].cidr.prefixlen or pools[i].blocks < count
    ]
    rules.check(
        "blocks-for-nodes",
        not short,
        "every pool has at least one /{} block per node ({})".format(
            block,
            ", ".join(f"{p.name}: {p.blocks if block >= p.cidr.prefixlen else 0}" for p in pools),
        ),
        "; ".join(short),
        "use a larger pod range or a longer block size",
    )
    per_block = 1 << (128 - block)
    rules.check(
        "pods-per-node",
        per_block >= MIN_POD_ADDRESSES,
        f"a node's first /{block} block holds {per_block} pod addresses",
        f"a /{block} block holds only {per_block} pod address(es) per node (at least "
        f"{MIN_POD_ADDRESSES} are needed for the system pods and some workloads)",
        "the prefix is too small for this many nodes: use a larger prefix or fewer nodes",
    )
    if max_pods <= per_block:
        rules.ok("max-pods-per-block", f"maxPods {max_pods} fits in one /{block} ({per_block})")
    else:
        need = math.ceil(max_pods / per_block)
        spare = all(
            block >= pools[i].cidr.prefixlen and pools[i].blocks >= count * need
            for i, count in nodes_per_pool.items()
        )
        if spare:
            rules.warn(
                "max-pods-per-block",
                f"maxPods {max_pods} exceeds a /{block} block ({per_block} addresses): Calico "
                f"will take {need} blocks per full node",
                "raise the block (a shorter network.block_size) or lower network.max_pods",
            )
        else:
            rules.fail(
                "max-pods-per-block",
                f"maxPods {max_pods} needs {need} /{block} blocks per node and the pools lack them",
                "lower network.max_pods or use a larger pod range",
            )


def _check_nat(rules: _Rules, pools: tuple[Pool, ...]) -> None:
    for pool in pools:
        ula = net.is_unique_local(pool.cidr)
        if ula and pool.nat_outgoing:
            rules.warn(
                "nat-outgoing",
                f"pool {pool.cidr} is unique-local: pods reach the internet only through NAT66 "
                "(natOutgoing Enabled), and are not reachable from outside",
                "use a global prefix for pods to avoid NAT",
            )
        elif ula:
            rules.warn(
                "nat-outgoing",
                f"pool {pool.cidr} is unique-local with natOutgoing off: pods cannot reach the "
                "internet",
                "set network.nat_outgoing: true, or use a global prefix",
            )
        elif pool.nat_outgoing:
            rules.warn(
                "nat-outgoing",
                f"pool {pool.cidr} is global but natOutgoing is on: pods leave with the node's "
                "address",
                "leave network.nat_outgoing unset: global pods need no NAT",
            )
        else:
            rules.ok("nat-outgoing", f"pool {pool.cidr} is global: natOutgoing Disabled")


def _check_exposure(rules: _Rules, spec: ClusterSpec, control_planes: Sequence[object]) -> None:
    everywhere = [str(p) for p in spec.firewall.api_sources if p.prefixlen == 0]
    if spec.firewall.enabled and everywhere:
        rules.warn(
            "api-sources-open",
            "the API server (6443) accepts connections from everywhere (::/0)",
            "set firewall.api_sources to the prefixes you administer from",
        )
    else:
        rules.ok("api-sources-open", "the API server is reachable only from the listed prefixes")
    if len(control_planes) > 1 and spec.cluster.control_plane_endpoint is None:
        rules.warn(
            "control-plane-endpoint",
            f"{len(control_planes)} control-plane nodes share the endpoint of the first one: "
            "when it is down, nodes lose the API",
            "set cluster.control_plane_endpoint to a DNS name with an AAAA record per "
            "control-plane node",
        )


def addons_need_solver(spec: ClusterSpec) -> bool:
    return spec.addons.cert_manager.enabled and not spec.addons.gateway.enabled


def _kubernetes_version(minor: str, choices: list[Choice]) -> str:
    # The spec admits only supported minors, each with its pinned patch: a `.0` is never
    # invented (a .0 may lack fixes the pinned patch carries, and may not read our configs).
    version = KUBERNETES_PATCHES[minor]
    choices.append(
        Choice("kubernetes_version", version, "derived", "the pinned patch of this minor")
    )
    return version
