"""The lab's shape as plain data: namespaces, links, addresses, pods.

Pure: `layout(plan, lab_id)` computes it; the commands that build it are
`kube6.lab.commands`, and the Lab (`kube6.lab.core`) only runs those argv lists.

Only documentation prefixes are used: the plan's own (the user's spec is expected to use
2001:db8::/32 in a lab), 2001:db8:ffff::/48 for the world outside the node's link, 2001:db8:64::/96
for NAT64, 192.0.2.0/24 for tayga's pool and 198.51.100.0/24 for the IPv4-only host.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from kube6 import net
from kube6.modes import LinkModel
from kube6.plan.model import Plan
from kube6.routing import strategy

NAMESPACE_PREFIX = "k6"
LAB_ID = re.compile(r"^[0-9a-f]{4}$")
NAMESPACE = re.compile(r"^k6-(?P<id>[0-9a-f]{4})-(?P<role>[a-z0-9-]{1,80})$")

# The world outside the node's link.
INTERNET_NET = IPv6Network("2001:db8:ffff::/64")
INTERNET_HOST = IPv6Address("2001:db8:ffff::10")
"""An IPv6 host outside the cluster prefix (the `internet` namespace)."""
INTERNET_GATEWAY = IPv6Address("2001:db8:ffff::1")
NAT64_LINK = IPv6Network("2001:db8:ffff:64::/64")
NAT64_UPSTREAM = IPv6Address("2001:db8:ffff:64::1")
NAT64_HOST = IPv6Address("2001:db8:ffff:64::2")
RESOLVER = IPv6Address("2001:db8:ffff:64::53")
"""The lab's recursive resolver (unbound, with the dns64 module unless disabled)."""
NAT64_PREFIX = IPv6Network("2001:db8:64::/96")
"""Network-specific NAT64 prefix: tayga refuses 64:ff9b::/96 with non-global IPv4."""
TAYGA_POOL = IPv4Network("192.0.2.0/24")
TAYGA_ADDRESS = IPv4Address("192.0.2.1")
IPV4_NET = IPv4Network("198.51.100.0/24")
IPV4_HOST = IPv4Address("198.51.100.10")
"""An IPv4-only host, reachable from the cluster only through NAT64."""
IPV4_GATEWAY = IPv4Address("198.51.100.1")
AUTH_PORT = 5353
"""Port of the authoritative unbound (on ::1 in the nat64 namespace) that serves the lab's names."""
LAB_ZONE = "lab.example."
IPV4_ONLY_NAME = f"v4only.{LAB_ZONE}"
IPV6_NAME = f"v6.{LAB_ZONE}"
LISTEN_PORTS = (80, 443)
"""TCP ports that the internet hosts accept connections on."""

UPSTREAM_LINK_LOCAL = IPv6Address("fe80::1")
"""The upstream router's address on every node link, as many hosting providers use."""
CALICO_GATEWAY = IPv6Address("fe80::ecee:eeff:feee:eeee")
"""What Calico pods route through: the link-local that ee:ee:ee:ee:ee:ee gives the host side."""
CALICO_MAC = "ee:ee:ee:ee:ee:ee"

Argv = tuple[str, ...]


def link_model_for(plan: Plan) -> LinkModel:
    """The provider the spec describes: `routed` for routing routed, else on-link (a `bgp`
    router learns the pods by BGP and still puts the node link on-link)."""
    return strategy(plan.routing).proposed_for or LinkModel.ON_LINK


LAB_LINK_MODELS = (LinkModel.ON_LINK, LinkModel.ROUTED)
"""What the lab's provider can be (kube6.modes.LinkModel: `kube6 check` finds which): on-link,
the router solicits every address of the prefix (older OVH, many VPS offers); routed, it
resolves only the node's own address and routes the prefix to it (Hetzner's servers, a routed
/56 or /48)."""


def namespace_name(lab_id: str, role: str) -> str:
    """`k6-<id>-<role>`, e.g. `k6-1a2b-node0001`."""
    if not LAB_ID.match(lab_id):
        raise ValueError(f"lab id {lab_id!r} is not 4 lowercase hex digits (e.g. '1a2b')")
    name = f"{NAMESPACE_PREFIX}-{lab_id}-{role}"
    if not NAMESPACE.match(name):
        raise ValueError(f"{role!r} cannot be part of a namespace name; use [a-z0-9-]")
    return name


def lab_id_of(namespace: str) -> str | None:
    """The lab id of a lab namespace, or None when `namespace` is not one."""
    match = NAMESPACE.match(namespace)
    return match.group("id") if match else None


@dataclass(frozen=True)
class NodeLink:
    """A cluster node: its namespace and its uplink to the upstream router's bridge."""

    name: str
    namespace: str
    address: IPv6Address
    prefix: IPv6Network
    interface: str
    upstream_port: str
    bridge: str
    index: int


@dataclass(frozen=True)
class Segment:
    """One provider link on the upstream router: a bridge, and how the router reaches `prefix`
    on it (`link`: on-link from its own address `router`, or routed to `routed_to`, the first
    node on the link; the other nodes' addresses are then on-link host routes)."""

    prefix: IPv6Network
    bridge: str
    router: IPv6Address
    link: LinkModel = LinkModel.ON_LINK
    nodes: tuple[IPv6Address, ...] = ()
    unassigned: IPv6Address | None = None
    """An address of the prefix that no node, pod or service has: where the lab's internet
    knocks now and then, as scanners do on a real provider network (`Lab(noise=True)`)."""

    @property
    def routed_to(self) -> IPv6Address | None:
        return self.nodes[0] if self.link is LinkModel.ROUTED and self.nodes else None


@dataclass(frozen=True)
class Pod:
    """A pod namespace attached to its node the way Calico does it."""

    name: str
    namespace: str
    node: str
    address: IPv6Address
    host_interface: str


@dataclass(frozen=True)
class Layout:
    lab_id: str
    upstream: str
    internet: str
    nat64: str
    nodes: tuple[NodeLink, ...]
    segments: tuple[Segment, ...]
    pod_blocks: dict[str, IPv6Network] = field(compare=False, hash=False)
    """Per node: the address block its pods get addresses from (the node's first Calico block)."""
    link: LinkModel = LinkModel.ON_LINK
    internet_mtu: int | None = None
    """The MTU of the link between the provider's router and the internet (None: 1500): a
    smaller one is a hop that full-size packets need path MTU discovery for, as a tunnel or
    a provider's transit link would be."""

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.upstream, self.internet, self.nat64, *(n.namespace for n in self.nodes))

    def node(self, name: str) -> NodeLink:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise KeyError(f"no lab node named {name!r}; the lab has {known}")


def layout(
    plan: Plan, lab_id: str, link: LinkModel | None = None, *, internet_mtu: int | None = None
) -> Layout:
    """Where everything goes for `plan`: one namespace per node, one bridge per provider link,
    each link `on-link` or `routed` (default: what the plan's routing mode expects), and the
    internet behind a hop of `internet_mtu` bytes (default 1500)."""
    if internet_mtu is not None and not 1280 <= internet_mtu <= 1500:
        raise ValueError(
            f"internet MTU {internet_mtu} is outside 1280-1500 (IPv6's minimum to Ethernet's)"
        )
    model = link or link_model_for(plan)
    if model not in LAB_LINK_MODELS:
        raise ValueError(f"the lab's provider is on-link or routed, not {model}")
    segments: dict[IPv6Network, Segment] = {}
    for node in plan.nodes:
        if node.link_prefix not in segments:
            index = len(segments)
            segments[node.link_prefix] = Segment(
                prefix=node.link_prefix,
                bridge=f"lan{index}",
                router=_router_address(node.link_prefix, plan),
                link=model,
                nodes=tuple(n.address for n in plan.nodes if n.link_prefix == node.link_prefix),
                unassigned=_unassigned_address(node.link_prefix, plan),
            )
    nodes = tuple(
        NodeLink(
            name=node.name,
            namespace=namespace_name(lab_id, node.name),
            address=node.address,
            prefix=node.link_prefix,
            interface=node.interface,
            upstream_port=f"nd{index}",
            bridge=segments[node.link_prefix].bridge,
            index=index,
        )
        for index, node in enumerate(plan.nodes)
    )
    return Layout(
        lab_id=lab_id,
        upstream=namespace_name(lab_id, "upstream"),
        internet=namespace_name(lab_id, "internet"),
        nat64=namespace_name(lab_id, "nat64"),
        nodes=nodes,
        segments=tuple(segments.values()),
        pod_blocks=_pod_blocks(plan),
        link=model,
        internet_mtu=internet_mtu,
    )


def _router_address(prefix: IPv6Network, plan: Plan) -> IPv6Address:
    """The last usable address of the link that no node, pod or service range uses."""
    taken = [plan.services, *(pool.cidr for pool in plan.pools)]
    nodes = {node.address for node in plan.nodes}
    candidate = IPv6Address(int(prefix.broadcast_address) - 1)
    while candidate in nodes or any(candidate in block for block in taken):
        candidate = IPv6Address(int(candidate) - 1)
    return candidate


NOISE_OFFSET = 0x5CA1_AB1E
"""Where in a prefix the lab's scanner knocks (`...::5ca1:ab1e`, then below if that is taken)."""


def _unassigned_address(prefix: IPv6Network, plan: Plan) -> IPv6Address:
    taken = [plan.services, *(pool.cidr for pool in plan.pools)]
    nodes = {node.address for node in plan.nodes}
    candidate = IPv6Address(int(prefix.network_address) + NOISE_OFFSET % prefix.num_addresses)
    while candidate in nodes or any(candidate in block for block in taken):
        candidate = IPv6Address(int(candidate) - 1)
    return candidate


def _pod_blocks(plan: Plan) -> dict[str, IPv6Network]:
    """Each node's pods come from the node's own block of its pool, as Calico's IPAM gives out."""
    blocks: dict[str, IPv6Network] = {}
    taken: dict[str, int] = {}
    for node in plan.nodes:
        pool = plan.pool(node.pool)
        index = taken.get(pool.name, 0)
        taken[pool.name] = index + 1
        blocks[node.name] = net.subnet_at(pool.cidr, pool.block_size, index % pool.blocks)
    return blocks


def pod(layout: Layout, node: str, index: int, address: IPv6Address | None = None) -> Pod:
    """The `index`-th pod on `node` (0-based): its namespace, address and host-side veth name."""
    link = layout.node(node)
    block = layout.pod_blocks[node]
    chosen = address if address is not None else net.nth(block, index + 1)
    name = f"pod-{link.index}-{index}"
    namespace = namespace_name(layout.lab_id, name)
    # Calico names the host side cali + 11 hex digits of a hash of the workload.
    digest = hashlib.sha1(namespace.encode(), usedforsecurity=False).hexdigest()[:11]
    return Pod(
        name=name, namespace=namespace, node=node, address=chosen, host_interface=f"cali{digest}"
    )
