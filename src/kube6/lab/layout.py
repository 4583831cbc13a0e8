"""The lab's shape as plain data: namespaces, links, addresses and the commands that build it.

Pure: `layout(plan, lab_id)` and `setup_commands(layout, options)` compute everything; the Lab
(`kube6.lab.core`) only runs the argv lists. Every command is confined to a namespace that the
lab owns (`ip netns add/exec NS`, `ip -n NS ...`); `confined()` is the guard that proves it, and
the Lab refuses to run anything that fails it.

Only documentation prefixes are used: the plan's own (the user's spec is expected to use
2001:db8::/32 in a lab), 2001:db8:ffff::/48 for the world outside the node's link, 2001:db8:64::/96
for NAT64, 192.0.2.0/24 for tayga's pool and 198.51.100.0/24 for the IPv4-only host.

Longer than 400 lines: the layout and the commands that build it are one pure unit, kept
together so that `confined()` judges every command the Lab runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
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


def _sysctl(namespace: str, *settings: str) -> Argv:
    return ("ip", "netns", "exec", namespace, "sysctl", "-q", "-w", *settings)


def _ip(namespace: str, *args: str) -> Argv:
    return ("ip", "-n", namespace, *args)


ROUTER_SYSCTLS = ("net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.default.forwarding=1")


def setup_commands(lay: Layout, *, real_nodes: bool = False) -> list[Argv]:
    """Every command that builds the lab, in order (namespaces, links, addresses, routes).

    Daemons are not here: the Lab starts and stops them itself (tayga's tunnel comes with
    `tayga_commands`, after `tayga --mktun` created it). With `real_nodes` the nodes keep a
    fresh server's forwarding and accept_ra: setting them is `kube6 up`'s job there.
    """
    cmds = _world_commands(lay) + _segment_commands(lay)
    for node in lay.nodes:
        cmds += _node_commands(lay, node, real_nodes=real_nodes)
    return cmds


def _world_commands(lay: Layout) -> list[Argv]:
    """The namespaces, and the world outside the nodes' links: the provider's router
    (upstream), the internet host, and NAT64 with the resolver."""
    cmds: list[Argv] = [("ip", "netns", "add", ns) for ns in lay.namespaces]
    for ns in lay.namespaces:
        # DAD only delays the lab by a second per address; the lab's addresses are unique.
        cmds.append(
            _sysctl(ns, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
        )
        cmds.append(_ip(ns, "link", "set", "lo", "up"))
    up, inet, n64 = lay.upstream, lay.internet, lay.nat64
    cmds.append(_sysctl(up, *ROUTER_SYSCTLS))
    cmds.append(_sysctl(n64, *ROUTER_SYSCTLS, "net.ipv4.ip_forward=1"))

    # upstream <-> internet
    cmds += [
        _ip(inet, "link", "add", "eth0", "type", "veth", "peer", "name", "inet0", "netns", up),
        _ip(inet, "addr", "add", f"{INTERNET_HOST}/64", "dev", "eth0", "nodad"),
        _ip(inet, "link", "set", "eth0", "up"),
        _ip(up, "addr", "add", f"{INTERNET_GATEWAY}/64", "dev", "inet0", "nodad"),
        _ip(up, "link", "set", "inet0", "up"),
        _ip(inet, "-6", "route", "add", "default", "via", str(INTERNET_GATEWAY), "dev", "eth0"),
        _ip(up, "-6", "route", "add", "default", "via", str(INTERNET_HOST), "dev", "inet0"),
    ]
    if lay.internet_mtu is not None:
        cmds += [
            _ip(inet, "link", "set", "eth0", "mtu", str(lay.internet_mtu)),
            _ip(up, "link", "set", "inet0", "mtu", str(lay.internet_mtu)),
        ]
    # upstream <-> nat64 (IPv6 side; also where the resolver listens)
    cmds += [
        _ip(n64, "link", "add", "eth0", "type", "veth", "peer", "name", "nat0", "netns", up),
        _ip(n64, "addr", "add", f"{NAT64_HOST}/64", "dev", "eth0", "nodad"),
        _ip(n64, "addr", "add", f"{RESOLVER}/64", "dev", "eth0", "nodad"),
        _ip(n64, "link", "set", "eth0", "up"),
        _ip(up, "addr", "add", f"{NAT64_UPSTREAM}/64", "dev", "nat0", "nodad"),
        _ip(up, "link", "set", "nat0", "up"),
        _ip(n64, "-6", "route", "add", "default", "via", str(NAT64_UPSTREAM), "dev", "eth0"),
        _ip(up, "-6", "route", "add", str(NAT64_PREFIX), "via", str(NAT64_HOST), "dev", "nat0"),
    ]
    # nat64 <-> internet (IPv4 side: the IPv4-only host lives in the internet namespace)
    cmds += [
        _ip(n64, "link", "add", "v4", "type", "veth", "peer", "name", "eth1", "netns", inet),
        _ip(n64, "addr", "add", f"{IPV4_GATEWAY}/24", "dev", "v4"),
        _ip(n64, "link", "set", "v4", "up"),
        _ip(inet, "addr", "add", f"{IPV4_HOST}/24", "dev", "eth1"),
        _ip(inet, "link", "set", "eth1", "up"),
        _ip(inet, "route", "add", str(TAYGA_POOL), "via", str(IPV4_GATEWAY), "dev", "eth1"),
    ]
    return cmds


def _segment_commands(lay: Layout) -> list[Argv]:
    up = lay.upstream
    cmds: list[Argv] = []
    # upstream: one bridge per provider link, snooping off so that solicitations for addresses
    # nobody has joined still reach every port. The router's link-local is every node's gateway.
    for seg in lay.segments:
        cmds += [
            _ip(up, "link", "add", seg.bridge, "type", "bridge", "mcast_snooping", "0"),
            _ip(up, "addr", "add", f"{UPSTREAM_LINK_LOCAL}/64", "dev", seg.bridge, "nodad"),
        ]
        if seg.routed_to is None:
            # On-link: the router solicits any address of the prefix, like a hosting
            # provider's router that puts the /64 on the link.
            cmds.append(
                _ip(
                    up,
                    "addr",
                    "add",
                    f"{seg.router}/{seg.prefix.prefixlen}",
                    "dev",
                    seg.bridge,
                    "nodad",
                )
            )
        cmds.append(_ip(up, "link", "set", seg.bridge, "up"))
        if seg.routed_to is not None:
            # Routed: only the nodes' own addresses are resolved on the link; the prefix is
            # routed to the first node (a provider routes a prefix to one server).
            cmds += [
                _ip(up, "-6", "route", "add", f"{address}/128", "dev", seg.bridge)
                for address in seg.nodes
            ]
            cmds.append(
                _ip(
                    up,
                    "-6",
                    "route",
                    "add",
                    str(seg.prefix),
                    "via",
                    str(seg.routed_to),
                    "dev",
                    seg.bridge,
                )
            )
    return cmds


def _node_commands(lay: Layout, node: NodeLink, *, real_nodes: bool) -> list[Argv]:
    """A node's uplink on its provider link, its address and its default route."""
    up = lay.upstream
    cmds: list[Argv] = []
    ns = node.namespace
    if not real_nodes:
        cmds.append(_sysctl(ns, *ROUTER_SYSCTLS))
    cmds += [
        _ip(
            ns,
            "link",
            "add",
            node.interface,
            "type",
            "veth",
            "peer",
            "name",
            node.upstream_port,
            "netns",
            up,
        ),
        _ip(up, "link", "set", node.upstream_port, "master", node.bridge, "up"),
    ]
    if not real_nodes:
        # kube6's sysctl file: keep RA-learned routes while forwarding.
        cmds.append(_sysctl(ns, f"net.ipv6.conf.{node.interface}.accept_ra=2"))
    cmds += [
        _ip(
            ns,
            "addr",
            "add",
            f"{node.address}/{node.prefix.prefixlen}",
            "dev",
            node.interface,
            "nodad",
        ),
        _ip(ns, "link", "set", node.interface, "up"),
        _ip(
            ns,
            "-6",
            "route",
            "add",
            "default",
            "via",
            str(UPSTREAM_LINK_LOCAL),
            "dev",
            node.interface,
        ),
    ]
    return cmds


def tayga_commands(lay: Layout, device: str = "tayga0") -> list[Argv]:
    """Bring up tayga's tunnel and route the NAT64 prefix and the IPv4 pool through it."""
    n64 = lay.nat64
    return [
        _ip(n64, "link", "set", device, "up"),
        _ip(n64, "route", "add", str(TAYGA_POOL), "dev", device),
        _ip(n64, "-6", "route", "add", str(NAT64_PREFIX), "dev", device),
    ]


def pod_commands(lay: Layout, p: Pod) -> list[Argv]:
    """Attach a pod as Calico does: a veth, the pod's /128, a host route, a link-local gateway."""
    node_ns = lay.node(p.node).namespace
    ns = p.namespace
    return [
        ("ip", "netns", "add", ns),
        _sysctl(ns, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"),
        _ip(ns, "link", "set", "lo", "up"),
        _ip(
            ns,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            p.host_interface,
            "netns",
            node_ns,
        ),
        _ip(node_ns, "link", "set", p.host_interface, "address", CALICO_MAC),
        _ip(node_ns, "link", "set", p.host_interface, "up"),
        _ip(ns, "addr", "add", f"{p.address}/128", "dev", "eth0", "nodad"),
        _ip(ns, "link", "set", "eth0", "up"),
        _ip(ns, "-6", "route", "add", f"{CALICO_GATEWAY}/128", "dev", "eth0"),
        _ip(ns, "-6", "route", "add", "default", "via", str(CALICO_GATEWAY), "dev", "eth0"),
        _ip(node_ns, "-6", "route", "add", f"{p.address}/128", "dev", p.host_interface),
    ]


def mesh_commands(lay: Layout, node: str) -> list[Argv]:
    """The routes that Calico's BGP mesh gives the other nodes on the link once `node` hosts
    pods: its block via its address. Without them a node would solicit another node's pod
    addresses on the link itself (ndppd 0.2.x then answers the session's first solicitor, the
    router, instead: cross-node pod traffic would fail for a reason no cluster has)."""
    link = lay.node(node)
    block = lay.pod_blocks[node]
    return [
        _ip(
            other.namespace,
            "-6",
            "route",
            "replace",
            str(block),
            "via",
            str(link.address),
            "dev",
            other.interface,
            "proto",
            "bird",
        )
        for other in lay.nodes
        if other.name != node and other.prefix == link.prefix
    ]


def confined(argv: Sequence[str], namespaces: Iterable[str]) -> bool:
    """True when `argv` can only act inside one of `namespaces`.

    Accepted: `ip netns add|del|exec|pids NS ...` and `ip -n NS ...`. Anything else, in
    particular a bare `ip link`, `ip route` or `sysctl`, would act on the machine itself.
    """
    allowed = set(namespaces)
    args = tuple(argv)
    if len(args) >= 4 and args[0] == "ip" and args[1] == "netns":
        return args[2] in {"add", "del", "exec", "pids"} and args[3] in allowed
    if len(args) >= 3 and args[0] == "ip" and args[1] == "-n":
        return args[2] in allowed
    return False
