"""The Plan: every address, size and choice that kube6 will use, and the rules it satisfies.

A Plan is plain frozen data. The planner (`kube6.plan.planner`) builds it from a ClusterSpec;
renderers, checks, steps and verify only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network
from typing import Literal

from kube6.modes import Grade, RoutingMode
from kube6.results import Finding
from kube6.spec import HasRoles, Host, Mirrors, Role
from kube6.spec.addons import Addons

API_PORT = 6443


Level = Grade


RuleResult = Finding
"""A planner rule, checked: a stable name, the grade, the numbers (message), and a fix."""


@dataclass(frozen=True)
class Choice:
    """Where a planned value came from: set in the spec, a default, or derived from others."""

    name: str
    value: str
    source: Literal["set", "default", "derived"]
    reason: str


@dataclass(frozen=True)
class Pool:
    """A Calico IPPool. `nodes` is None when the pool serves every node (nodeSelector all())."""

    name: str
    cidr: IPv6Network
    block_size: int
    nat_outgoing: bool
    nodes: tuple[str, ...] | None

    @property
    def node_selector(self) -> str:
        """The Calico selector: all(), or the kube6 pool label that kubelet sets on the node."""
        if self.nodes is None:
            return "all()"
        return f'{POOL_LABEL} == "{self.name}"'

    @property
    def blocks(self) -> int:
        return 1 << (self.block_size - self.cidr.prefixlen)


POOL_LABEL = "kube6.io/pool"
"""Node label (set through kubelet --node-labels) that pins a node to its per-prefix pool."""


@dataclass(frozen=True)
class NdpRule:
    """One ndppd rule on a node's uplink: `auto` answers only for routed targets (the pods this
    node hosts), `static` answers for the whole range (the service range, on one node; the
    LoadBalancer range, on every node of its link)."""

    cidr: IPv6Network
    method: Literal["auto", "static"]
    why: str


@dataclass(frozen=True)
class PlannedNode(HasRoles):
    name: str
    address: IPv6Address
    roles: tuple[Role, ...]
    ssh: str | None
    link_prefix: IPv6Network
    """The on-link prefix of the node's uplink: its own prefix or the cluster prefix."""
    interface: str
    """Uplink interface name."""
    pool: str
    """Name of the Calico pool that this node's pods come from."""
    ndp_rules: tuple[NdpRule, ...]
    """What the NDP proxy on this node answers for (empty unless routing is ndp-proxy)."""
    labels: tuple[tuple[str, str], ...] = ()
    """Node labels that kubelet registers (key, value)."""


LOAD_BALANCER_POOL = "kube6-load-balancers"
"""Name of the Calico IP pool of the LoadBalancer range."""


@dataclass(frozen=True)
class LoadBalancers:
    """The LoadBalancer range: Calico's IP pool for `type: LoadBalancer` Services.

    calico-kube-controllers' LoadBalancer controller (on by default in an operator install)
    gives each such Service an address from it; kube-proxy then DNATs the Service's declared
    ports on that address, on every node. How the address reaches the nodes is the routing
    strategy's: an NDP `static` rule (ndp-proxy), the routed prefix (routed), or BGP.
    """

    cidr: IPv6Network
    block_size: int
    """The Calico block size of the pool (IPv6: /116-/128, and not larger than the range)."""
    link: IPv6Network | None
    """The nodes' link prefix that holds the range (None: inside none of them)."""
    gateway: IPv6Address | None = None
    """The range's address that the kube6 Gateway's Service asks for (None: gateway off).
    Calico reserves it from automatic assignment, so no other Service takes it."""

    @property
    def size(self) -> int:
        """How many addresses, i.e. how many single-stack LoadBalancer Services fit."""
        return 1 << (128 - self.cidr.prefixlen)


@dataclass(frozen=True)
class BgpPlan:
    peer: IPv6Address
    peer_as: int
    as_number: int
    router_id: str
    advertise: tuple[IPv6Network, ...]
    """Ranges Calico advertises: the pools (as blocks), the service and LoadBalancer ranges."""
    password_file: str | None = None
    """Where the TCP MD5 password is (the spec's bgp.password_file); the password itself is
    read only when a command needs it (kube6.components.calico.bgp_password)."""


@dataclass(frozen=True)
class DnsPlan:
    resolvers: tuple[IPv6Address, ...]
    nat64_prefix: IPv6Network | None
    dns64: Literal["resolvers", "coredns", "off"]

    @property
    def coredns_dns64(self) -> bool:
        return self.dns64 == "coredns"


@dataclass(frozen=True)
class FirewallPlan:
    enabled: bool
    ssh_port: int
    ssh_sources: tuple[IPv6Network, ...]
    api_sources: tuple[IPv6Network, ...]
    gateway_ports: tuple[int, ...]
    bgp_peer: IPv6Address | None


@dataclass(frozen=True)
class Neighbours:
    """Neighbour-table sizes from the plan (the formula: `kube6.plan.neighbours`)."""

    node_entries: int
    """The most entries one node's kernel table holds: its pods' and its own, its peers, routers."""
    gc_thresh: tuple[int, int, int]
    """net.ipv6.neigh.default.gc_thresh1/2/3 rendered for every node."""
    proxied: int
    """Addresses one node's NDP proxy answers for by asking the target (`auto`): its pods; 0
    when no proxy runs."""
    router_entries: int
    """Addresses of the link the provider's router resolves by NDP (nodes and pods), before any
    service address reached from outside; 0 when the prefix is routed to the nodes."""


@dataclass(frozen=True)
class Plan:
    cluster_name: str
    kubernetes_minor: str
    kubernetes_version: str
    """The patch that render writes into kubeadm configs (the pinned one for the minor)."""
    dns_domain: str
    prefix: IPv6Network
    routing: RoutingMode
    pods: IPv6Network
    """kubeadm podSubnet: the single pool, or the smallest prefix covering every pool."""
    allocate_node_cidrs: bool
    """False when pools lie in several prefixes: node.spec.podCIDR then means nothing."""
    node_mask: int
    block_size: int
    max_pods: int
    nat_outgoing: bool
    pools: tuple[Pool, ...]
    services: IPv6Network
    load_balancers: LoadBalancers
    dns: IPv6Address
    api: IPv6Address
    """The `kubernetes` Service address: the first address of the service range."""
    control_plane_endpoint: str
    nodes: tuple[PlannedNode, ...]
    mtu: int | None
    bgp: BgpPlan | None
    dns_settings: DnsPlan
    addons: Addons
    """The add-ons' settings as the spec gives them (spec `addons`; each add-on's component
    reads its own section)."""
    firewall: FirewallPlan
    neighbours: Neighbours
    rules: tuple[RuleResult, ...]
    choices: tuple[Choice, ...]
    digest: str
    """Short hash of the spec the plan came from; every rendered file names it."""
    source: str = "kube6.yaml"
    mirrors: Mirrors = field(default_factory=Mirrors)
    """Where artifacts come from when not from their upstream sources (spec `mirrors`)."""
    host: Host = field(default_factory=Host)
    """Settings for unusual hosts (spec `host`): cgroup v1, restricted oom_score_adj."""

    @property
    def ok(self) -> bool:
        return all(rule.ok for rule in self.rules)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(rule for rule in self.rules if not rule.ok)

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        return tuple(rule for rule in self.rules if rule.grade is Level.WARN)

    @property
    def control_plane_nodes(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if n.is_control_plane)

    @property
    def first_control_plane(self) -> PlannedNode:
        return self.control_plane_nodes[0]

    @property
    def workers(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if n.is_worker)

    def node(self, name: str) -> PlannedNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node named {name!r} in the plan")

    def pool(self, name: str) -> Pool:
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise KeyError(f"no pool named {name!r} in the plan")
