"""`kube6 init`: write a commented kube6.yaml from flags and, on Linux, what the host shows.

The pure core is `InitAnswers -> text` (first write) and `update_text(old, answers)` (a later
init keeps the user's comments and order: ruamel.yaml round-trip). Detection lives in
`detect_local`, which reads the host through `kube6.facts`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace

__all__ = [
    "InitAnswers",
    "NodeAnswer",
    "merge",
    "parse_node_flag",
    "render_text",
    "replace",
    "update_text",
]
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kube6 import net
from kube6.errors import SpecError
from kube6.modes import LinkModel, RoutingMode
from kube6.spec import DNS1123_LABEL, default_roles, parse_text
from kube6.versions import KUBERNETES_MINOR


@dataclass(frozen=True)
class NodeAnswer:
    name: str
    address: IPv6Address
    roles: tuple[str, ...] = ("control-plane", "worker")
    ssh: str | None = None
    interface: str | None = None
    roles_given: bool = False
    """roles= was on the command line (an update then writes them; else the file's stay)."""


@dataclass(frozen=True)
class InitAnswers:
    """Everything init writes; each value from a flag, detection, or a documented default."""

    cluster: str = "kube001"
    prefix: IPv6Network | None = None
    routing: RoutingMode | None = None
    nodes: tuple[NodeAnswer, ...] = ()
    resolvers: tuple[IPv6Address, ...] = ()
    nat64_prefix: IPv6Network | None = None
    email: str | None = None
    dashboard_host: str | None = None
    notes: tuple[str, ...] = field(default=())
    """How each detected value was found (written as comments at the top)."""
    warnings: tuple[str, ...] = field(default=())
    """What detection found wrong (said on stderr and written as comments)."""


NODE_FLAG = re.compile(r"^(?P<name>[^=,]+)=(?P<address>[^,]+)(?P<rest>(,[a-z]+=[^,]+)*)$")


def parse_node_flag(text: str, *, first: bool) -> NodeAnswer:
    """`node0001=2001:db8::1[,roles=control-plane+worker][,ssh=root@[2001:db8::1]][,if=eth0]`."""
    match = NODE_FLAG.match(text.strip())
    if not match:
        raise SpecError(
            [
                f"--node {text!r}: write NAME=ADDRESS, optionally followed by ,roles=worker "
                ",ssh=root@[ADDRESS] ,if=eth0 (e.g. node0002=2001:db8::2,roles=worker)"
            ],
            source="command line",
        )
    name = match.group("name")
    if not DNS1123_LABEL.match(name):
        raise SpecError(
            [f"--node {text!r}: {name!r} is not a DNS-1123 label (e.g. node0001)"],
            source="command line",
        )
    try:
        address = net.parse_address(match.group("address"))
    except ValueError as exc:
        raise SpecError([f"--node {text!r}: {exc}"], source="command line") from None
    # The rule of the spec for a node without roles (spec.default_roles): the first node is
    # control-plane + worker, every other node a worker.
    roles: tuple[str, ...] = default_roles(0 if first else 1)
    ssh = interface = None
    roles_given = False
    for item in filter(None, match.group("rest").split(",")):
        key, _, value = item.partition("=")
        if key == "roles":
            roles = tuple(value.split("+"))
            roles_given = True
            bad = [r for r in roles if r not in ("control-plane", "worker")]
            if bad or not roles:
                raise SpecError(
                    [
                        f"--node {text!r}: roles={value!r}: write control-plane, worker or "
                        "control-plane+worker"
                    ],
                    source="command line",
                )
        elif key == "ssh":
            ssh = value
        elif key == "if":
            interface = value
        else:
            raise SpecError(
                [f"--node {text!r}: unknown option {key!r}; use roles=, ssh= or if="],
                source="command line",
            )
    return NodeAnswer(name, address, roles, ssh, interface, roles_given)


FITTING = {LinkModel.ON_LINK: RoutingMode.NDP_PROXY, LinkModel.ROUTED: RoutingMode.ROUTED}
"""The mode init proposes for each decided link model."""


def propose_routing(
    prefix: IPv6Network, on_link: bool | None, found: LinkModel = LinkModel.UNKNOWN
) -> RoutingMode:
    """The mode that fits the provider's link model when the uplink showed it (`found`, see
    kube6.checks.link); without that, ndp-proxy when the prefix is on-link at the uplink (the
    provider's usual /64), routed when it is not. (The same as the routing strategies'
    `proposed_for`, which `init` may not import: tests hold the two together.)"""
    fitting = FITTING.get(found)
    if fitting is not None:
        return fitting
    if on_link is False:
        return RoutingMode.ROUTED
    return RoutingMode.NDP_PROXY


def render_text(answers: InitAnswers) -> str:
    """The commented kube6.yaml of a first `init`; it always loads (tested)."""
    if answers.prefix is None or not answers.nodes:
        raise SpecError(
            [
                "init needs a prefix and at least one node: pass --prefix 2001:db8:1:2::/64 "
                "--node node0001=2001:db8:1:2::1 (on a Linux host init detects them itself)"
            ],
            source="command line",
        )
    routing = answers.routing or RoutingMode.NDP_PROXY
    out = io.StringIO()
    w = out.write
    w("# kube6.yaml: the desired IPv6 single-stack cluster. `kube6 plan` explains every\n")
    w("# address it derives from this file; `kube6 schema` prints every field.\n")
    for note in answers.notes:
        w(f"# detected: {note}\n")
    for warning in answers.warnings:
        w(f"# WARNING: {warning}\n")
    w("\ncluster:\n")
    w(f"  name: {answers.cluster or 'kube001'}          # a DNS-1123 label\n")
    w(f'  kubernetes: "{KUBERNETES_MINOR}"       # minor; the patch is resolved at install\n')
    w("\n# What the provider gave you: an on-link /64, or a routed /64, /56 or /48.\n")
    w(f"prefix: {answers.prefix}\n")
    w("\n# How pod and service addresses reach the nodes:\n")
    w("#   ndp-proxy  the prefix is on-link at the provider: the node answers neighbour\n")
    w("#              solicitations for pods and services (ndppd)\n")
    w("#   routed     the provider routes the prefix to the node: nothing to proxy\n")
    w("#   bgp        Calico peers with your router (add a bgp: section: peer, peer_as,\n")
    w("#              and password_file when the router wants a TCP MD5 password)\n")
    w(f"routing: {routing}\n")
    w("\nnodes:\n")
    for node in answers.nodes:
        w(f"  - name: {node.name}\n")
        kind = (
            "unique-local (ULA): reachable only inside your network"
            if node.address in IPv6Network("fc00::/7")
            else "stable global address (not temporary)"
        )
        w(f"    address: {node.address}      # {kind}\n")
        w(f"    roles: [{', '.join(node.roles)}]\n")
        if node.interface:
            w(f"    interface: {node.interface}          # uplink (default route)\n")
        if node.ssh:
            w(f'    ssh: "{node.ssh}"\n')
        else:
            w("    # ssh: root@[ADDRESS]     # omit to run on this machine\n")
    w("\n# Overrides of planned values; `kube6 plan` shows the defaults and why.\n")
    w("# network:\n#   pods: P:8:2::/104\n#   services: P:8:3::/112\n#   block_size: 120\n")
    w("\ndns:\n")
    if answers.resolvers:
        w("  resolvers:                   # what CoreDNS forwards to\n")
        for resolver in answers.resolvers:
            w(f"    - {resolver}\n")
    else:
        w("  resolvers: []                # empty: the node's /etc/resolv.conf\n")
    if answers.nat64_prefix:
        w(f"  nat64_prefix: {answers.nat64_prefix}   # NAT64 reaches IPv4-only hosts\n")
    else:
        w("  # nat64_prefix: 64:ff9b::/96  # ghcr.io and github.com have no IPv6: needs NAT64\n")
    w("\naddons:\n")
    w("  gateway: {enabled: true}     # Gateway API + Traefik Proxy, IPv6 listeners\n")
    email = f"email: {answers.email}, " if answers.email else ""
    w(f"  cert_manager: {{{email}issuer: staging}}   # Let's Encrypt; production when it works\n")
    if answers.dashboard_host:
        w(f"  dashboard: {{host: {answers.dashboard_host}}}\n")
    else:
        w("  dashboard: {enabled: true}   # add host: NAME to publish it through the gateway\n")
    w("\nfirewall:\n")
    w("  api_sources: ['::/0']        # narrow to the prefixes you administer from\n")
    w("\n# Mirrors of what kube6 installs (same images, packages, charts, files), for sites\n")
    w("# that cannot reach the upstream sources (no NAT64 for ghcr.io/github.com, air-gapped,\n")
    w("# Docker Hub's pull limits). `kube6 check` tests that the nodes reach each one.\n")
    w("# mirrors:\n")
    w("#   registries:                # containerd certs.d/<registry>/hosts.toml\n")
    w("#     - registry: ghcr.io\n")
    w('#       endpoints: [{url: "https://registry.example.com"}]   # ca: PEM if private\n')
    w("#       fallback: true         # false: never ask the upstream registry\n")
    w("#   apt:                       # in place of pkgs.k8s.io / download.docker.com\n")
    w(
        '#     kubernetes: {url: "https://apt.example.com/k8s/", key_url: "https://apt.example.com/k8s/Release.key"}\n'
    )
    w("#   charts:                    # upstream repository or oci:// prefix -> mirror\n")
    w(
        '#     - {upstream: "https://kubernetes-sigs.github.io/headlamp/", mirror: "oci://registry.example.com/charts"}\n'
    )
    w("#   downloads:                 # URL prefix -> mirror prefix (helm, Gateway API bundle)\n")
    w(
        '#     - {upstream: "https://github.com/", mirror: "https://files.example.com/github.com/"}\n'
    )
    w("#   acme:                      # ACME directories in place of Let's Encrypt\n")
    w('#     staging: {url: "https://acme.example.com/dir"}   # ca: PEM of its TLS CA\n')
    w("\n# Unusual hosts (containers such as LXC or systemd-nspawn, old kernels, shared disks);\n")
    w("# all off.\n")
    w("# host:\n")
    w("#   cgroup_v1: false               # kubelet failCgroupV1: false on cgroup v1 hosts\n")
    w("#   restrict_oom_score_adj: false  # containerd, when it lacks CAP_SYS_RESOURCE\n")
    w("#   min_free_disk: null            # 10Gi: kubelet keeps that free, not 10-15% of disk\n")
    text = out.getvalue()
    parse_text(text, source="the file init would write")
    return text


def update_text(old: str, answers: InitAnswers) -> str:
    """Apply `answers` to an existing kube6.yaml, keeping the user's comments and order."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc: Any = yaml.load(old)
    if not isinstance(doc, CommentedMap):
        raise SpecError(["the existing file is not a mapping; move it away and run init again"])
    if answers.cluster:
        doc.setdefault("cluster", CommentedMap())["name"] = answers.cluster
    if answers.prefix is not None:
        _refuse_stranded_nodes(doc, answers)
        doc["prefix"] = str(answers.prefix)
    if answers.routing is not None:
        doc["routing"] = str(answers.routing)
    if answers.nodes:
        nodes = doc.get("nodes")
        if not isinstance(nodes, CommentedSeq):
            nodes = CommentedSeq()
            doc["nodes"] = nodes
        by_name = {n.get("name"): n for n in nodes if isinstance(n, CommentedMap)}
        for node in answers.nodes:
            entry = by_name.get(node.name)
            if entry is None:
                entry = CommentedMap()
                entry["name"] = node.name
                nodes.append(entry)
            entry["address"] = str(node.address)
            if node.interface:
                entry["interface"] = node.interface
            if node.ssh:
                entry["ssh"] = node.ssh
            if node.roles_given:
                roles = CommentedSeq(node.roles)
                roles.fa.set_flow_style()
                entry["roles"] = roles
    if answers.nat64_prefix is not None:
        dns = doc.setdefault("dns", CommentedMap())
        dns["nat64_prefix"] = str(answers.nat64_prefix)
    if answers.email is not None or answers.dashboard_host is not None:
        addons = doc.setdefault("addons", CommentedMap())
        if answers.email is not None:
            addons.setdefault("cert_manager", CommentedMap())["email"] = answers.email
        if answers.dashboard_host is not None:
            addons.setdefault("dashboard", CommentedMap())["host"] = answers.dashboard_host
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    text = buffer.getvalue()
    parse_text(text, source="the updated file")
    return text


def _refuse_stranded_nodes(doc: Any, answers: InitAnswers) -> None:
    """A new prefix with nodes left on addresses outside it would be a spec that does not plan:
    refuse, naming the nodes to give with --node."""
    assert answers.prefix is not None
    given = {n.name for n in answers.nodes}
    stranded = []
    for entry in doc.get("nodes") or []:
        if not hasattr(entry, "get") or entry.get("name") in given:
            continue
        try:
            address = net.parse_address(str(entry.get("address")))
        except ValueError:
            continue
        if address not in answers.prefix and entry.get("prefix") is None:
            stranded.append(f"{entry.get('name')} ({address})")
    if stranded:
        raise SpecError(
            [
                f"--prefix {answers.prefix}: node(s) {', '.join(stranded)} keep addresses "
                "outside the new prefix; give each its new address with --node "
                f"NAME=ADDRESS (e.g. --node {stranded[0].split(' ')[0]}="
                f"{answers.prefix.network_address + 1})"
            ],
            source="command line",
        )


def merge(detected: InitAnswers, flags: InitAnswers) -> InitAnswers:
    """Flags win over detection, field by field."""
    return replace(
        detected,
        cluster=flags.cluster or detected.cluster,
        prefix=flags.prefix or detected.prefix,
        routing=flags.routing or detected.routing,
        nodes=flags.nodes or detected.nodes,
        resolvers=flags.resolvers or detected.resolvers,
        nat64_prefix=flags.nat64_prefix or detected.nat64_prefix,
        email=flags.email or detected.email,
        dashboard_host=flags.dashboard_host or detected.dashboard_host,
        notes=detected.notes if not (flags.prefix and flags.nodes) else (),
        warnings=detected.warnings if not flags.resolvers else (),
    )
