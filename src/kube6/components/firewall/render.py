"""The host firewall: one nftables table per node, and the unit that loads it at boot.

Files per node (when `firewall.enabled`):

- `/etc/kube6/firewall.nft`: the table `ip6 kube6`, loaded atomically with `nft -f`. It starts
  with `table ip6 kube6` + `delete table ip6 kube6`, so a second load replaces the table in the
  same transaction instead of adding a copy, and a failed load changes nothing.
- `/etc/systemd/system/kube6-firewall.service`: loads the file before the network comes up.
  kube6 keeps its own directory and unit instead of /etc/nftables.conf: that file starts with
  `flush ruleset` on Debian and Ubuntu, is not enabled everywhere, and belongs to the admin.
  The unit is ordered after nftables.service and restarts with it, so a `flush ruleset` there
  never leaves the node without kube6's table.

The input hook is filtered, policy drop. Forwarded traffic (pods, services, the gateway's
externalIPs, which kube-proxy DNATs before input) is left to Calico and the network policies,
with one exception in the forward hook (policy accept): packets still addressed to the
LoadBalancer range are dropped. kube-proxy DNATs a LoadBalancer Service's declared ports to
its pods before that hook (prerouting), so what is left there is every other port and every
unassigned address of the range, which the node would otherwise route back out to the
provider's router (the NDP proxy or the route brought it here): a Service's ports get in,
nothing else in the range does. kube-proxy's and Calico's own nftables tables are untouched.
The family is `ip6`: kube6 nodes speak IPv6; a host that also has IPv4 keeps whatever IPv4
rules it had, so an IPv4 SSH session or a DHCPv4 lease is never cut off by kube6.

Every value written into the ruleset is a typed address, prefix or port from the plan, checked
again here, so no spec text can become an nftables statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from ipaddress import IPv6Address, IPv6Network, collapse_addresses

from kube6.plan.model import API_PORT, Plan, PlannedNode
from kube6.render.base import Artifact, NodeFile, header

RULESET = NodeFile("/etc/kube6/firewall.nft")
UNIT = NodeFile("/etc/systemd/system/kube6-firewall.service")
RULESET_PATH, UNIT_PATH = RULESET.path, UNIT.path
UNIT_NAME = "kube6-firewall.service"
NFT = "/usr/sbin/nft"
TABLE = "ip6 kube6"

ETCD_PORTS = (2379, 2380)
KUBELET_PORT = 10250
BGP_PORT = 179
TYPHA_PORT = 5473
"""calico-typha (host network, deployed by the operator): every calico-node connects to it."""
DHCPV6_CLIENT_PORT = 546

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def render(plan: Plan) -> Iterator[Artifact]:
    """Per node: the nftables ruleset and the systemd unit that loads it.

    Example: `nodes/node0001/etc/kube6/firewall.nft` and
    `nodes/node0001/etc/systemd/system/kube6-firewall.service` for the built-in example.
    """
    if not plan.firewall.enabled:
        return
    unit = unit_file(plan)
    shared = shared_sets(plan)
    for node in plan.nodes:
        yield Artifact(
            path=RULESET.at(node),
            content=ruleset(plan, node, shared),
            description=f"host firewall of {node.name} (nftables table {TABLE})",
        )
        yield Artifact(
            path=UNIT.at(node),
            content=unit,
            description=f"systemd unit loading {RULESET_PATH} at boot",
        )


# Every value that enters the ruleset goes through one of these: they refuse anything that
# is not already a typed address, prefix, port or DNS-1123 name.


def _typed(value: object) -> IPv6Address:
    if not isinstance(value, IPv6Address):
        raise TypeError(f"firewall: expected an IPv6Address, got {value!r}")
    return value


def _address(value: object) -> str:
    return str(_typed(value))


def _network(value: object) -> str:
    if not isinstance(value, IPv6Network):
        raise TypeError(f"firewall: expected an IPv6Network, got {value!r}")
    return str(value)


def _port(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise TypeError(f"firewall: expected a port number 1-65535, got {value!r}")
    return str(value)


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise TypeError(f"firewall: expected a DNS-1123 node name, got {value!r}")
    return value


def _comment_block(text: str) -> str:
    # The header quotes the spec's file name; a newline in it must not end the comment.
    lines = text.rstrip("\n").split("\n")
    if any(not line.startswith("# ") or "\r" in line for line in lines):
        raise ValueError(f"firewall: the file header is not a plain comment block: {text!r}")
    return "\n".join(lines)


def _set(
    name: str, elements: Iterable[str], *, interval: bool, comment: str, key: str = "ip6 saddr"
) -> list[str]:
    items = list(elements)
    lines = [
        f"\t# {comment}",
        f"\tset {name} {{",
        # `typeof`, not `type ipv6_addr`: a set declared by type and loaded by nft 1.1 (Debian
        # 13) makes nft 1.0.6 segfault when it reads the ruleset, and kube-proxy's and
        # calico-node's images run such an nft on the host's ruleset (found on Debian 13
        # nodes: kube-proxy's every sync crashed). Both forms make the same kernel set.
        f"\t\ttypeof {key}",
    ]
    if interval:
        lines.append("\t\tflags interval")
    if items:
        lines.append(f"\t\telements = {{ {', '.join(items)} }}")
    lines.append("\t}")
    return lines


def _prefixes(networks: Iterable[IPv6Network]) -> list[str]:
    checked = [_network(n) for n in networks]
    # Overlapping intervals are an error in an nftables set: merge them first.
    return [str(n) for n in collapse_addresses(IPv6Network(n) for n in checked)]


NAMES_SHOWN = 10


def _names(nodes: list[PlannedNode]) -> str:
    shown = ", ".join(_name(n.name) for n in nodes[:NAMES_SHOWN])
    return shown + (f" and {len(nodes) - NAMES_SHOWN} more" if len(nodes) > NAMES_SHOWN else "")


def _addresses(nodes: list[PlannedNode]) -> list[str]:
    """Node addresses as merged intervals: consecutive addresses (`P::1`-`P::500`, the usual
    numbering) take a few prefixes, so every node's file does not grow with the cluster."""
    return _prefixes(IPv6Network(_typed(n.address)) for n in nodes)


def shared_sets(plan: Plan) -> tuple[list[str], list[str]]:
    """The sets every node's ruleset shares, and the API-source set of control-plane nodes.

    Computed once per plan by `render`: rebuilding them for each node made rendering grow with
    the square of the node count (bench/plan_render.py).
    """
    fw = plan.firewall
    nodes = sorted(plan.nodes, key=lambda n: _typed(n.address))
    control = [n for n in nodes if n.is_control_plane]
    common = [
        *_set(
            "nodes",
            _addresses(nodes),
            interval=True,
            comment="every node of the cluster: " + _names(nodes),
        ),
        *_set(
            "control_plane",
            _addresses(control),
            interval=True,
            comment="control-plane nodes (etcd members): " + _names(control),
        ),
        *_set(
            "pods",
            _prefixes(pool.cidr for pool in plan.pools),
            interval=True,
            comment="pod pools: pods reach the API server and kubelets of the nodes",
        ),
        *_set(
            "load_balancers",
            _prefixes([plan.load_balancers.cidr]),
            interval=True,
            comment="the LoadBalancer range: only the Services' declared ports (DNATed) pass",
            key="ip6 daddr",
        ),
        *_set(
            "ssh_sources",
            _prefixes(fw.ssh_sources),
            interval=True,
            comment="firewall.ssh_sources",
        ),
    ]
    api = _set(
        "api_sources",
        _prefixes(fw.api_sources),
        interval=True,
        comment="firewall.api_sources (::/0: everywhere; kube6 plan warns about it)",
    )
    return common, api


def ruleset(
    plan: Plan, node: PlannedNode, shared: tuple[list[str], list[str]] | None = None
) -> str:
    """The nftables ruleset of `node`: `nft -f` it, twice or more, to get exactly one table."""
    fw = plan.firewall
    name = _name(node.name)
    ssh = _port(fw.ssh_port)
    common, api_set = shared if shared is not None else shared_sets(plan)
    sets = [*common, *(api_set if node.is_control_plane else [])]

    rules = [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "",
        "\t\tct state established,related accept",
        '\t\tiif "lo" accept',
        "",
        "\t\t# ICMPv6 as RFC 4890 recommends for a host. Errors first: path MTU discovery",
        "\t\t# needs packet-too-big; pings are answered.",
        "\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded,"
        " parameter-problem, echo-request } accept",
        "\t\t# Neighbour and router discovery only from the link itself (hop limit 255);",
        "\t\t# the NDP proxy answers solicitations for pod and service addresses with these.",
        "\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit,"
        " nd-neighbor-advert, nd-redirect } ip6 hoplimit 255 accept",
        "\t\t# MLD from link-local sources: switches that snoop MLD stop forwarding the",
        "\t\t# solicited-node multicast of hosts that ignore their queries.",
        "\t\tip6 saddr fe80::/10 icmpv6 type { mld-listener-query, mld-listener-report,"
        " mld-listener-done, mld2-listener-report } accept",
        "\t\t# DHCPv6 replies, for hosts whose provider hands out addresses that way.",
        f"\t\tip6 saddr fe80::/10 udp dport {_port(DHCPV6_CLIENT_PORT)} accept",
        "",
        "\t\tct state invalid drop",
        "",
        f'\t\ttcp dport {ssh} ip6 saddr @ssh_sources accept comment "SSH"',
    ]
    if node.is_control_plane:
        api = _port(API_PORT)
        etcd = f"{_port(ETCD_PORTS[0])}-{_port(ETCD_PORTS[1])}"
        rules += [
            f'\t\ttcp dport {api} ip6 saddr @api_sources accept comment "API server"',
            "\t\t# Nodes and pods (kubernetes Service endpoints are node addresses) always reach",
            "\t\t# the API server, whatever api_sources says.",
            f"\t\ttcp dport {api} ip6 saddr @nodes accept",
            f"\t\ttcp dport {api} ip6 saddr @pods accept",
            f'\t\ttcp dport {etcd} ip6 saddr @control_plane accept comment "etcd"',
        ]
    kubelet = _port(KUBELET_PORT)
    bgp = _port(BGP_PORT)
    rules += [
        "\t\t# Between nodes: kubelet (API server, metrics) and Typha.",
        f'\t\ttcp dport {kubelet} ip6 saddr @nodes accept comment "kubelet"',
        f"\t\ttcp dport {kubelet} ip6 saddr @pods accept",
        f'\t\ttcp dport {_port(TYPHA_PORT)} ip6 saddr @nodes accept comment "calico-typha"',
    ]
    if fw.bgp_peer is not None:
        # Only bgp routing runs BIRD (the Calico renderer): its node mesh and the upstream peer.
        peer = _address(fw.bgp_peer)
        rules += [
            f'\t\ttcp dport {bgp} ip6 saddr @nodes accept comment "BGP mesh"',
            f'\t\ttcp dport {bgp} ip6 saddr {peer} accept comment "BGP upstream"',
        ]
    if fw.gateway_ports and node.is_worker:
        ports = ", ".join(_port(p) for p in fw.gateway_ports)
        rules += [
            "\t\t# The gateway's ports. kube-proxy DNATs them to the gateway's pods before this",
            "\t\t# hook, so this matters only for a gateway on the host network.",
            f'\t\ttcp dport {{ {ports} }} accept comment "gateway"',
        ]
    rules += [
        "\t}",
        "",
        "\t# Forwarded traffic is Calico's, but for the LoadBalancer range: kube-proxy has",
        "\t# DNATed each Service's declared ports to its pods before this hook, so a packet",
        "\t# still addressed to the range is for a port or address that no Service declares.",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        '\t\tip6 daddr @load_balancers drop comment "LoadBalancer range: undeclared"',
    ]
    rules.append("\t}")

    what = f"Host firewall of {name} ({_address(node.address)}): nftables table {TABLE}."
    text = [
        f"#!{NFT} -f",
        _comment_block(header(plan, what)),
        "#",
        f"# Load: {NFT} -f {RULESET_PATH} (atomic; loading again replaces the table).",
        f"# Inspect: nft list table {TABLE}   Remove: nft delete table {TABLE}",
        "",
        f"table {TABLE}",
        f"delete table {TABLE}",
        "",
        f"table {TABLE} {{",
        *sets,
        "",
        *rules,
        "}",
    ]
    return "\n".join(text) + "\n"


def unit_file(plan: Plan) -> str:
    """The systemd unit that loads the ruleset at boot (the same on every node)."""
    what = "Loads kube6's host firewall (nftables table ip6 kube6) before the network is up."
    lines = [
        "[Unit]",
        f"Description=kube6 host firewall (nftables table {TABLE})",
        "Documentation=man:nft(8)",
        "DefaultDependencies=no",
        "Wants=network-pre.target",
        "Before=network-pre.target kubelet.service shutdown.target",
        "Conflicts=shutdown.target",
        # nftables.service runs `flush ruleset`: load after it, and again whenever it runs.
        "After=nftables.service",
        "PartOf=nftables.service",
        "ReloadPropagatedFrom=nftables.service",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        f"ExecStart={NFT} -f {RULESET_PATH}",
        f"ExecReload={NFT} -f {RULESET_PATH}",
        f"ExecStop=-{NFT} delete table {TABLE}",
        "",
        "[Install]",
        "WantedBy=sysinit.target",
    ]
    return header(plan, what) + "\n".join(lines) + "\n"
