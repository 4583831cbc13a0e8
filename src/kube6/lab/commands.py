"""The commands that build the lab's layout (pure argv lists; the Lab runs them).

`setup_commands(layout)` builds the namespaces, links, addresses and routes; `tayga_commands`,
`pod_commands` and `mesh_commands` add NAT64's tunnel and pods. Every command is confined to a
namespace that the lab owns (`ip netns add/exec NS`, `ip -n NS ...`); `confined()` is the guard
that proves it, and the Lab refuses to run anything that fails it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kube6.lab.layout import (
    CALICO_GATEWAY,
    CALICO_MAC,
    INTERNET_GATEWAY,
    INTERNET_HOST,
    IPV4_GATEWAY,
    IPV4_HOST,
    NAT64_HOST,
    NAT64_PREFIX,
    NAT64_UPSTREAM,
    RESOLVER,
    TAYGA_POOL,
    UPSTREAM_LINK_LOCAL,
    Argv,
    Layout,
    NodeLink,
    Pod,
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
