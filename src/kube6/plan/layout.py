"""The layout: every address and size of the cluster, computed from the spec (no judgement).

From one prefix P (the guide's, made explicit):

- /64: pods `P:8:2::/104`, services `P:8:3::/112`, node mask = block = /120, LoadBalancer
  range `P:8:4::/120`.
- /62 or shorter (a routed /56 or /48): roomier; pods get a /100 in the second /64 of P
  (node mask = block = /116: 4,096 addresses a node, 65,536 nodes), services the largest
  range kubeadm allows, a /108 in the third /64, and the LoadBalancer range the fourth /64.
- longer than /64 (/80, /96, ...): tighter; P is cut in quarters, pods start the third quarter
  and services the fourth, each at its default size or the quarter's size when that is smaller;
  the LoadBalancer range starts the second quarter (node addresses are usually in the first).

The LoadBalancer range is planned in `kube6.plan.load_balancers`.

Node mask and Calico block size are kept equal where the rules allow, so that a node's
`spec.podCIDR` is exactly its first Calico block. Every value chosen here also records a
Choice (set, default or derived, and why); the rules (`kube6.plan.rules`) then judge the result.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Literal

from kube6 import mirrors, net
from kube6.errors import PlanError
from kube6.modes import Grade
from kube6.plan.load_balancers import plan_load_balancers
from kube6.plan.model import API_PORT, Choice, LoadBalancers, Neighbours, Pool
from kube6.plan.neighbours import neighbour_sizes
from kube6.results import Finding
from kube6.spec import ClusterSpec, Network, Node

DEFAULT_BLOCK = 120
MIN_BLOCK = 116
MAX_NODE_MASK_DIFF = 16  # kubeadm PodSubnetNodeMaskMaxDiff and the controller-manager cidrset
MIN_SERVICE_PREFIX = 108  # kubeadm MaximumBitsForServiceSubnet = 20
DNS_INDEX = 10  # kubeadm puts cluster DNS at the 10th address of the service range
DEFAULT_MAX_PODS = 110  # kubelet's default
SINGLE_POOL_NAME = "default-ipv6-ippool"
GITHUB_DOWNLOADS = "https://github.com/kubernetes-sigs/gateway-api/releases/download/"

Dns64 = Literal["resolvers", "coredns", "off"]


@dataclass(frozen=True)
class Layout:
    """What the planner computed and the rules judge."""

    spec: ClusterSpec
    control_planes: tuple[Node, ...]
    link_of: Mapping[str, IPv6Network]
    """Each node's on-link prefix: its own `prefix`, else the cluster's."""
    prefixes: tuple[IPv6Network, ...]
    """The distinct link prefixes, in order of first appearance: one pool each."""
    services_link: IPv6Network
    """The link prefix of the first control-plane node, where the service range lives."""
    services: IPv6Network
    load_balancers: LoadBalancers
    pods: IPv6Network
    allocate: bool
    """Node CIDR allocation (off when pools lie in several prefixes)."""
    block_size: int
    node_mask: int
    max_pods: int
    pools: tuple[Pool, ...]
    nodes_per_pool: Counter[int]
    dns: IPv6Address
    api: IPv6Address
    endpoint: str
    dns64: Dns64
    neighbours: Neighbours

    @property
    def services_node(self) -> Node:
        return self.control_planes[0]

    @property
    def ranges(self) -> list[tuple[str, IPv6Network]]:
        """Every pool, the service and LoadBalancer ranges, each with a label for messages."""
        return [(f"pool {p.name} {p.cidr}", p.cidr) for p in self.pools] + [
            (f"services {self.services}", self.services),
            (f"load balancers {self.load_balancers.cidr}", self.load_balancers.cidr),
        ]

    @property
    def pool_links(self) -> list[IPv6Network]:
        """The link prefix of each pool (that of its first node)."""
        return [
            self.link_of[pool.nodes[0] if pool.nodes else self.spec.nodes[0].name]
            for pool in self.pools
        ]

    @property
    def ipv4_only_mirrored(self) -> bool:
        """Whether the IPv4-only sources (ghcr.io, GitHub downloads) come through mirrors."""
        spec = self.spec.mirrors
        return (
            any(m.registry == "ghcr.io" for m in spec.registries)
            and mirrors.download_url(spec, GITHUB_DOWNLOADS) != GITHUB_DOWNLOADS
        )


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
                Finding(
                    "prefix-size",
                    Grade.FAIL,
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


def make_layout(spec: ClusterSpec, choices: list[Choice]) -> Layout:
    """Lay the cluster out; every value chosen is appended to `choices`, in order."""
    control_planes = tuple(n for n in spec.nodes if n.is_control_plane)
    link_of = {n.name: n.prefix or spec.prefix for n in spec.nodes}
    prefixes = tuple(dict.fromkeys(link_of[n.name] for n in spec.nodes))
    services_link = link_of[control_planes[0].name]
    services, pool_cidrs, pods = _ranges(spec.network, prefixes, services_link, choices)
    load_balancers = plan_load_balancers(
        spec.network,
        spec.addons.gateway,
        prefixes,
        services_link,
        choices,
        _layout_reason(services_link, "lb"),
    )
    allocate = len(prefixes) == 1
    nodes_per_pool = Counter(prefixes.index(link_of[n.name]) for n in spec.nodes)
    block_size, block_choice = _choose_block(
        spec.network.block_size, pool_cidrs, nodes_per_pool, allocate
    )
    choices.append(block_choice)
    node_mask, max_pods = _node_sizes(spec.network, block_size, choices)
    nat = _nat_outgoing(spec.network, pool_cidrs, choices)
    pools = tuple(
        Pool(
            name=SINGLE_POOL_NAME if allocate else f"{spec.cluster.name}-pool-{i}",
            cidr=cidr,
            block_size=block_size,
            nat_outgoing=nat[i],
            nodes=None
            if allocate
            else tuple(n.name for n in spec.nodes if link_of[n.name] == prefixes[i]),
        )
        for i, cidr in enumerate(pool_cidrs)
    )
    dns, api, endpoint = _addresses(spec, services, control_planes[0], choices)
    return Layout(
        spec=spec,
        control_planes=control_planes,
        link_of=link_of,
        prefixes=prefixes,
        services_link=services_link,
        services=services,
        load_balancers=load_balancers,
        pods=pods,
        allocate=allocate,
        block_size=block_size,
        node_mask=node_mask,
        max_pods=max_pods,
        pools=pools,
        nodes_per_pool=nodes_per_pool,
        dns=dns,
        api=api,
        endpoint=endpoint,
        dns64=_dns64(spec, choices),
        neighbours=neighbour_sizes(spec, link_of, max_pods, choices),
    )


def _ranges(
    network: Network,
    prefixes: tuple[IPv6Network, ...],
    services_link: IPv6Network,
    choices: list[Choice],
) -> tuple[IPv6Network, list[IPv6Network], IPv6Network]:
    """The service range, one pod pool per link prefix, and the podSubnet covering them."""
    default_pods, default_services = default_layout(services_link)
    if network.services is not None:
        services = network.services
        choices.append(Choice("services", str(services), "set", "network.services"))
    else:
        services = default_services
        choices.append(
            Choice("services", str(services), "default", _layout_reason(services_link, "services"))
        )
    several = len(prefixes) > 1
    pool_cidrs = [
        network.pods
        if index == 0 and network.pods is not None
        else (default_pods if prefix == services_link else default_layout(prefix)[0])
        for index, prefix in enumerate(prefixes)
    ]
    if network.pods is not None:
        choices.append(Choice("pods", str(network.pods), "set", "network.pods"))
    else:
        reason = _layout_reason(prefixes[0], "pods")
        choices.append(
            Choice(
                "pods",
                ", ".join(map(str, pool_cidrs)),
                "default",
                reason + ("; one pool per node prefix" if several else ""),
            )
        )
    if not several:
        return services, pool_cidrs, pool_cidrs[0]
    pods = net.supernet_of(pool_cidrs)
    choices.append(
        Choice(
            "pods.subnet",
            str(pods),
            "derived",
            "kubeadm podSubnet covers every pool; node CIDR allocation is off because "
            "Calico IPAM assigns from the per-prefix pools",
        )
    )
    return services, pool_cidrs, pods


def _layout_reason(prefix: IPv6Network, what: str) -> str:
    if prefix.prefixlen == 64:
        return f"the guide's layout inside the /64 {prefix}"
    if prefix.prefixlen < 63:
        index = {"pods": 1, "services": 2}.get(what, 3)
        return f"roomy layout: its own /64 (number {index}) of {prefix}"
    return f"tight layout: quarter {({'pods': 3, 'services': 4}).get(what, 2)} of {prefix}"


def _choose_block(
    wanted: int | None,
    pools: list[IPv6Network],
    nodes_per_pool: Counter[int],
    allocate: bool,
) -> tuple[int, Choice]:
    if wanted is not None:
        return wanted, Choice("block_size", f"/{wanted}", "set", "network.block_size")
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
    return block, Choice("block_size", f"/{block}", "default", reason)


def _node_sizes(network: Network, block_size: int, choices: list[Choice]) -> tuple[int, int]:
    """The node mask and kubelet's maxPods."""
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
        choices.append(Choice("max_pods", str(network.max_pods), "set", "network.max_pods"))
        return node_mask, network.max_pods
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
    return node_mask, max_pods


def _nat_outgoing(
    network: Network, pool_cidrs: list[IPv6Network], choices: list[Choice]
) -> list[bool]:
    """natOutgoing per pool: as set, else on exactly for unique-local pools."""
    if network.nat_outgoing is not None:
        choices.append(
            Choice("nat_outgoing", str(network.nat_outgoing).lower(), "set", "network.nat_outgoing")
        )
        return [network.nat_outgoing] * len(pool_cidrs)
    nat = [net.is_unique_local(c) for c in pool_cidrs]
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
    return nat


def _addresses(
    spec: ClusterSpec, services: IPv6Network, services_node: Node, choices: list[Choice]
) -> tuple[IPv6Address, IPv6Address, str]:
    """Cluster DNS, the `kubernetes` Service address and the control-plane endpoint."""
    if spec.network.dns is not None:
        dns = spec.network.dns
        choices.append(Choice("dns", str(dns), "set", "network.dns"))
    else:
        dns = net.nth(services, DNS_INDEX)
        choices.append(
            Choice("dns", str(dns), "derived", f"address {DNS_INDEX} of {services} (as kubeadm)")
        )
    api = net.nth(services, 1)
    choices.append(Choice("api", str(api), "derived", f"address 1 of {services}"))
    given = spec.cluster.control_plane_endpoint
    endpoint = given or net.bracket(services_node.address, API_PORT)
    choices.append(
        Choice(
            "control_plane_endpoint",
            endpoint,
            "set" if given else "default",
            "cluster.control_plane_endpoint"
            if given
            else f"the first control-plane node, {services_node.name}",
        )
    )
    return dns, api, endpoint


def _dns64(spec: ClusterSpec, choices: list[Choice]) -> Dns64:
    dns64: Dns64 = spec.dns.dns64 or ("resolvers" if spec.dns.nat64_prefix else "off")
    if spec.dns.dns64:
        reason = "dns.dns64"
    elif spec.dns.nat64_prefix:
        reason = "a NAT64 prefix is set: the resolvers are expected to synthesize"
    else:
        reason = "no NAT64 prefix given"
    choices.append(Choice("dns64", dns64, "set" if spec.dns.dns64 else "default", reason))
    return dns64
