"""The preflight checks: pure functions of (plan, node, facts) -> CheckResults.

Each check has a stable name (for --ignore), says what it saw (evidence) and how to fix it.
A fact that could not be read gives a warning that says why, never a crash.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from kube6.checks.artifacts import ArtifactHost
from kube6.checks.model import CheckResult, fail, ok, warn
from kube6.facts import HostFacts, Lookup, dns
from kube6.facts.system import WANTED_MODULES
from kube6.plan.model import Plan, PlannedNode
from kube6.routing import strategy

SUPPORTED_OS = {"debian": ("12", "13"), "ubuntu": ("22.04", "24.04")}
CONTROL_PLANE_PORTS = {
    6443: "kube-apiserver",
    2379: "etcd clients",
    2380: "etcd peers",
    10250: "kubelet",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
}
WORKER_PORTS = {10250: "kubelet"}
NAT64_FIX = (
    "give the hosts resolvers with DNS64 and a NAT64 gateway on the path: your provider's, a "
    "router of your own (Jool, Tayga), or a public NAT64/DNS64 service (e.g. nat64.net; see "
    "https://nat64.xyz); set them in /etc/systemd/resolved.conf (DNS=) or netplan "
    "`nameservers`; or mirror these artifacts on an IPv6-reachable host"
)


@dataclass(frozen=True)
class Context:
    """What every check reads."""

    plan: Plan
    node: PlannedNode
    facts: HostFacts
    artifact_hosts: tuple[ArtifactHost, ...]


Check = Callable[[Context], Sequence[CheckResult]]


def unknown(name: str, facts: HostFacts, fact: str) -> CheckResult:
    return warn(
        name,
        f"could not check: {fact} could not be read ({facts.why_unknown(fact)})",
        "run the probe by hand on the host (kube6 --debug check shows the commands)",
    )


def _sysctl_fix(*settings: str) -> str:
    return "sysctl -w " + " ".join(settings)


# --- os -------------------------------------------------------------------------------------


def check_os(ctx: Context) -> list[CheckResult]:
    name, os = "os-supported", ctx.facts.os
    if os is None:
        return [unknown(name, ctx.facts, "os")]
    versions = SUPPORTED_OS.get(os.id)
    evidence = f"{os.pretty_name} (ID={os.id}, VERSION_ID={os.version_id})"
    if versions is None or os.version_id not in versions:
        supported = ", ".join(f"{k} {'/'.join(v)}" for k, v in SUPPORTED_OS.items())
        return [
            warn(
                name,
                f"{os.pretty_name} is not one of the releases kube6 is tested on ({supported})",
                "use a supported release, or go on knowing that package names may differ",
                evidence,
            )
        ]
    return [ok(name, f"{os.pretty_name} is supported", evidence)]


# --- addresses and interfaces ---------------------------------------------------------------


def check_uplink(ctx: Context) -> list[CheckResult]:
    name, node, facts = "uplink-interface", ctx.node, ctx.facts
    if facts.interfaces is None:
        return [unknown(name, facts, "addresses")]
    present = [i.name for i in facts.interfaces]
    interface = facts.interface(node.interface)
    if interface is None:
        defaults = sorted({r.dev for r in facts.default_routes})
        hint = f" (the default route uses {', '.join(defaults)})" if defaults else ""
        return [
            fail(
                name,
                f"interface {node.interface!r} of node {node.name} is not on this host{hint}",
                f"set nodes[{node.name}].interface in kube6.yaml to the uplink{hint}",
                f"interfaces: {', '.join(present) or 'none with IPv6'}",
            )
        ]
    if not interface.up:
        return [
            fail(
                name,
                f"interface {node.interface} is down",
                f"ip link set {node.interface} up (and fix the network configuration)",
            )
        ]
    return [ok(name, f"uplink {node.interface} is up", f"mtu {interface.mtu}")]


def check_node_address(ctx: Context) -> list[CheckResult]:
    name, node, facts = "node-address", ctx.node, ctx.facts
    if facts.interfaces is None:
        return [unknown(name, facts, "addresses")]
    stable = [f"{a.address} ({i.name})" for i in facts.interfaces for a in i.addresses if a.stable]
    evidence = "stable global addresses here: " + (", ".join(stable) or "none")
    for interface in facts.interfaces:
        for address in interface.addresses:
            if address.address != node.address:
                continue
            if address.temporary:
                return [
                    fail(
                        name,
                        f"{node.address} is a temporary (privacy) address: it will change",
                        "choose a stable address for nodes[].address (one of the stable ones "
                        "below), or give the host a static one",
                        evidence,
                    )
                ]
            if address.deprecated or address.dadfailed or address.tentative:
                state = "deprecated" if address.deprecated else "not usable (DAD)"
                return [
                    fail(
                        name,
                        f"{node.address} is {state} on {interface.name}",
                        "renew the address (check the router advertisements or DHCPv6), or "
                        "choose a stable one for nodes[].address",
                        evidence,
                    )
                ]
            if interface.name != node.interface:
                return [
                    warn(
                        name,
                        f"{node.address} is on {interface.name}, but the plan's uplink is "
                        f"{node.interface}",
                        f"set nodes[{node.name}].interface: {interface.name} in kube6.yaml",
                        evidence,
                    )
                ]
            note = " (learned by SLAAC/DHCPv6: keep it stable)" if address.dynamic else ""
            return [ok(name, f"{node.address} is on {interface.name}{note}", evidence)]
    return [
        fail(
            name,
            f"node address {node.address} of {node.name} is not on this host",
            f"add it (ip -6 addr add {node.address}/{node.link_prefix.prefixlen} dev "
            f"{node.interface}, and in the network configuration), or correct "
            "nodes[].address in kube6.yaml",
            evidence,
        )
    ]


# --- routes and sysctls ---------------------------------------------------------------------


def check_default_route(ctx: Context) -> list[CheckResult]:
    name, node, facts = "default-route", ctx.node, ctx.facts
    if facts.routes is None:
        return [unknown(name, facts, "routes")]
    defaults = facts.default_routes
    if not defaults:
        return [
            fail(
                name,
                "there is no default IPv6 route: Calico and every download need one",
                f"add one (ip -6 route add default via <router> dev {node.interface}) in "
                "the network configuration, or enable router advertisements on the uplink",
                "ip -6 route show default: (empty)",
            )
        ]
    route = min(defaults, key=lambda r: r.metric)
    via = f"via {route.gateway} dev {route.dev} proto {route.proto}"
    if not route.from_ra:
        return [ok(name, f"default route {via} (configured, not learned)", via)]
    accept_ra = facts.sysctl(route.dev, "accept_ra")
    if accept_ra is None:
        return [unknown(name, facts, "sysctl")]
    networkd = facts.services.get("systemd-networkd") if facts.services else None
    if accept_ra == 2:
        return [ok(name, f"default route {via}; accept_ra=2 keeps it with forwarding on", via)]
    if accept_ra == 0 and networkd is not None and networkd.running:
        return [
            ok(
                name,
                f"default route {via}; systemd-networkd handles router advertisements itself",
                f"{via}; accept_ra=0; systemd-networkd active",
            )
        ]
    fix = _sysctl_fix(f"net.ipv6.conf.{_key(route.dev)}.accept_ra=2")
    message = (
        f"the default route comes from router advertisements on {route.dev}, and "
        f"accept_ra={accept_ra}: once forwarding is on the kernel ignores them and the route "
        "expires"
    )
    if route.dev == node.interface:
        return [
            warn(
                name,
                message + f" (`kube6 up` writes accept_ra=2 for {route.dev} before forwarding)",
                fix,
                f"{via}; accept_ra={accept_ra}",
            )
        ]
    return [
        fail(
            name,
            message + f"; the plan's uplink is {node.interface}, so `up` would not fix it",
            f"{fix}; and set nodes[{node.name}].interface: {route.dev} in kube6.yaml",
            f"{via}; accept_ra={accept_ra}",
        )
    ]


def _key(interface: str) -> str:
    # sysctl(8) reads dots as separators; VLAN names such as eth0.100 are written eth0/100.
    return interface.replace(".", "/")


def check_forwarding(ctx: Context) -> list[CheckResult]:
    name, facts = "forwarding", ctx.facts
    if facts.ipv6_conf is None:
        return [unknown(name, facts, "sysctl")]
    if not facts.ipv6_conf:
        return [
            fail(
                name,
                "the kernel has no IPv6 (no /proc/sys/net/ipv6/conf)",
                "remove ipv6.disable=1 from the kernel command line and reboot",
            )
        ]
    values = {scope: facts.sysctl(scope, "forwarding") for scope in ("all", "default")}
    evidence = ", ".join(f"net.ipv6.conf.{k}.forwarding={v}" for k, v in values.items())
    off = [scope for scope, value in values.items() if value != 1]
    if not off:
        return [ok(name, "IPv6 forwarding is on (all and default)", evidence)]
    return [
        warn(
            name,
            f"IPv6 forwarding is off on {' and '.join(off)}; pods and services need it "
            "(`kube6 up` turns it on)",
            _sysctl_fix(*(f"net.ipv6.conf.{scope}.forwarding=1" for scope in off)),
            evidence,
        )
    ]


def check_modules(ctx: Context) -> list[CheckResult]:
    name, facts = "kernel-modules", ctx.facts
    if facts.modules is None:
        return [unknown(name, facts, "modules")]
    missing = [m for m, _ in WANTED_MODULES if m not in facts.modules]
    wanted = ", ".join(m for m, _ in WANTED_MODULES)
    if not missing:
        return [ok(name, f"loaded or built in: {wanted}")]
    return [
        warn(
            name,
            f"not loaded: {', '.join(missing)} (`kube6 up` loads them and lists them in "
            "/etc/modules-load.d)",
            shlex.join(["modprobe", "-a", *missing]),
            f"needed: {wanted}",
        )
    ]


def check_swap(ctx: Context) -> list[CheckResult]:
    name, facts = "swap", ctx.facts
    if facts.swaps is None:
        return [unknown(name, facts, "swap")]
    if not facts.swaps:
        return [ok(name, "no swap is active")]
    devices = ", ".join(s.device for s in facts.swaps)
    return [
        warn(
            name,
            f"swap is active ({devices}); kubelet refuses to start with swap on "
            "(`kube6 up` turns it off and comments it out of /etc/fstab)",
            "swapoff -a, and remove the swap line from /etc/fstab",
            devices,
        )
    ]


def check_cgroup(ctx: Context) -> list[CheckResult]:
    name, facts = "cgroup-v2", ctx.facts
    if facts.cgroup is None:
        return [unknown(name, facts, "cgroup")]
    if facts.cgroup == 2:
        return [ok(name, "cgroup v2 (unified hierarchy)", "/sys/fs/cgroup is cgroup2fs")]
    if ctx.plan.host.cgroup_v1:
        return [
            warn(
                name,
                "cgroup v1 or hybrid, allowed by host.cgroup_v1 in kube6.yaml (kubelet runs with "
                "failCgroupV1: false); cgroup v1 is deprecated and gets no new Kubernetes features",
                "boot with systemd.unified_cgroup_hierarchy=1 when the host allows it, then drop "
                "host.cgroup_v1",
                "/sys/fs/cgroup is not cgroup2fs",
            )
        ]
    return [
        fail(
            name,
            "cgroup v1 or hybrid: kubelet 1.35 and later refuse to start on cgroup v1",
            "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line (or use "
            "Ubuntu 22.04+/Debian 11+, where v2 is the default), then reboot; a host that cannot "
            "(a container host with a v1 hierarchy) sets host.cgroup_v1: true in kube6.yaml",
            "/sys/fs/cgroup is not cgroup2fs",
        )
    ]


def check_ports(ctx: Context) -> list[CheckResult]:
    name, node, facts = "ports-free", ctx.node, ctx.facts
    if facts.listeners is None:
        return [unknown(name, facts, "listeners")]
    wanted = dict(WORKER_PORTS)
    if node.is_control_plane:
        wanted.update(CONTROL_PLANE_PORTS)
    taken = [
        f"{port} ({what}) by a listener on {listener.address}"
        for port, what in sorted(wanted.items())
        for listener in facts.listeners
        if listener.port == port
    ]
    ports = ", ".join(str(p) for p in sorted(wanted))
    if not taken:
        return [ok(name, f"ports {ports} are free")]
    if _cluster_installed(ctx):
        # kubeadm, kubelet and kubectl at the plan's minor: the listeners are this node's own
        # cluster (a second `kube6 up`, or one resuming after a failure), not a stranger's.
        return [
            ok(
                name,
                f"ports {ports}: in use by this node's Kubernetes at the plan's minor "
                "(`kube6 up` continues it)",
                "; ".join(taken),
            )
        ]
    first = next(p for p in sorted(wanted) if any(x.port == p for x in facts.listeners))
    return [
        fail(
            name,
            "in use: " + "; ".join(taken) + " (a cluster already here? then `kube6 reset` first)",
            f"find the program with `ss -ltnp 'sport = :{first}'` and stop it",
            f"needed: {ports}",
        )
    ]


def _cluster_installed(ctx: Context) -> bool:
    packages = ctx.facts.packages or {}
    return all(
        (packages.get(p) or "").startswith(f"{ctx.plan.kubernetes_minor}.") for p in KUBE_PACKAGES
    )


def _covers(route_dst: IPv6Network | None, prefix: IPv6Network) -> bool:
    return route_dst is not None and prefix.subnet_of(route_dst)


def check_prefix(ctx: Context) -> list[CheckResult]:
    name, plan, node, facts = "prefix-on-link", ctx.plan, ctx.node, ctx.facts
    if facts.routes is None:
        return [unknown(name, facts, "routes")]
    prefix = node.link_prefix
    on_link = [r for r in facts.routes if r.on_link and _covers(r.dst, prefix)]
    evidence = (
        "on-link: " + ", ".join(f"{r.dst} dev {r.dev} proto {r.proto}" for r in on_link)
        if on_link
        else "no on-link route covers " + str(prefix)
    )
    return strategy(plan.routing).judge_prefix(name, node, prefix, on_link, evidence)


# --- DNS64 and the artifact hosts -----------------------------------------------------------


def check_resolvers(ctx: Context) -> list[CheckResult]:
    """CoreDNS forwards to dns.resolvers, or else to the node's resolv.conf servers: IPv6-only
    pods reach only IPv6 ones (an IPv4 resolver would leave every outside name unresolved)."""
    name, plan, facts = "resolvers-ipv6", ctx.plan, ctx.facts
    if plan.dns_settings.resolvers:
        listed = ", ".join(map(str, plan.dns_settings.resolvers))
        return [ok(name, f"CoreDNS forwards to dns.resolvers of kube6.yaml: {listed}", listed)]
    if facts.resolv_conf is None:
        return [unknown(name, facts, dns.RESOLV_CONF.name)]
    conf = facts.resolv_conf
    if conf.stub and facts.resolved_conf is not None:
        conf = facts.resolved_conf
    ipv6, ipv4 = conf.addresses()
    seen = ", ".join(conf.nameservers) or "(none)"
    if ipv6:
        listed = ", ".join(map(str, ipv6))
        return [ok(name, f"the host's resolvers include IPv6 ones: {listed}", seen)]
    fix = (
        "set dns.resolvers in kube6.yaml to IPv6 resolvers (your provider's, or a DNS64 "
        "service when pods need IPv4-only names), e.g. dns: {resolvers: [2001:db8::53]}; or "
        "give the host an IPv6 nameserver"
    )
    if ipv4:
        return [
            fail(
                name,
                f"the host resolves through IPv4 only ({', '.join(ipv4)}) and kube6.yaml sets no "
                "dns.resolvers: CoreDNS would forward there, which IPv6-only pods cannot reach",
                fix,
                seen,
            )
        ]
    return [fail(name, "the host has no nameserver that pods could use", fix, seen)]


def check_dns64(ctx: Context) -> list[CheckResult]:
    name, plan, facts = "dns64", ctx.plan, ctx.facts
    planned = plan.dns_settings
    if facts.nat64 is None:
        return [unknown(name, facts, "lookup ipv4only.arpa")]
    found = facts.nat64.prefixes
    evidence = "AAAA ipv4only.arpa: " + (
        ", ".join(str(a) for a in facts.nat64.lookup.ipv6) or facts.nat64.lookup.error or "none"
    )
    if found:
        text = ", ".join(str(p) for p in found)
        if planned.nat64_prefix is not None and planned.nat64_prefix not in found:
            return [
                warn(
                    name,
                    f"the resolvers synthesize with {text}, but kube6.yaml says "
                    f"dns.nat64_prefix: {planned.nat64_prefix}",
                    f"set dns.nat64_prefix: {found[0]} in kube6.yaml (or fix the resolvers)",
                    evidence,
                )
            ]
        return [ok(name, f"the host's resolvers do DNS64 with prefix {text}", evidence)]
    if planned.dns64 == "resolvers":
        return [
            fail(
                name,
                "kube6.yaml says the resolvers do DNS64 (dns64: resolvers), but they do not "
                "synthesize AAAA records for ipv4only.arpa",
                "point the host at DNS64 resolvers, or set dns.dns64 to coredns or off",
                evidence,
            )
        ]
    if not facts.nat64.lookup.resolved:
        return [
            warn(
                name,
                "ipv4only.arpa does not resolve at all (it has A records everywhere): the "
                "host's resolvers may not work, so DNS64 is unknown",
                "check /etc/resolv.conf (and resolvectl status); `getent ahostsv6 "
                "ipv4only.arpa` must print addresses",
                evidence,
            )
        ]
    return [ok(name, "no DNS64: the host's resolvers return no synthesized AAAA", evidence)]


def _nat64_prefixes(ctx: Context) -> tuple[IPv6Network, ...]:
    found = ctx.facts.nat64.prefixes if ctx.facts.nat64 else ()
    planned = ctx.plan.dns_settings.nat64_prefix
    return tuple(found) + ((planned,) if planned is not None else ())


def _via_nat64(address: IPv6Address, prefixes: tuple[IPv6Network, ...]) -> bool:
    return any(address in p for p in prefixes)


def judge_lookup(lookup: Lookup | None, prefixes: tuple[IPv6Network, ...]) -> tuple[str, str]:
    """(verdict, detail): verdict is `ipv6`, `nat64` or `unreachable`."""
    if lookup is None:
        return "unreachable", "not looked up"
    if lookup.ipv6:
        shown = ", ".join(str(a) for a in lookup.ipv6[:2])
        path = "nat64" if all(_via_nat64(a, prefixes) for a in lookup.ipv6) else "ipv6"
        if lookup.connect is False:
            return "unreachable", f"resolves to {shown}, but {lookup.connect_detail}"
        tested = "" if lookup.connect else " (connection not tested)"
        return path, f"{shown}{tested}"
    if lookup.ipv4:
        shown = ", ".join(str(a) for a in lookup.ipv4[:2])
        return "unreachable", f"IPv4 only ({shown}) and no DNS64 synthesizes an IPv6 address"
    return "unreachable", lookup.error or "does not resolve"


def check_artifact_hosts(ctx: Context) -> list[CheckResult]:
    """Every artifact source: reachable natively (IPv6), through NAT64, through a mirror
    (kube6.yaml `mirrors`), or not at all."""
    name, facts = "artifact-hosts-reachable", ctx.facts
    prefixes = _nat64_prefixes(ctx)
    verdicts = {
        host.name: judge_lookup(facts.lookup(host.name), prefixes) for host in ctx.artifact_hosts
    }

    def shown(host: ArtifactHost) -> str:
        verdict, detail = verdicts[host.name]
        port = f" port {host.port}" if host.port != 443 else ""
        via = f" (mirror of {', '.join(host.mirror_for)})" if host.mirror_for else ""
        return f"{host.name}{port}{via}: {verdict} {detail}"

    evidence = "; ".join(shown(h) for h in ctx.artifact_hosts)
    bad = [h for h in ctx.artifact_hosts if verdicts[h.name][0] == "unreachable"]
    via = [h.name for h in ctx.artifact_hosts if verdicts[h.name][0] == "nat64"]
    mirrored = [h for h in ctx.artifact_hosts if h.mirror_for]
    nat64_note = f"; through NAT64: {', '.join(via)}" if via else ""
    mirror_note = (
        "; through mirrors: " + ", ".join(f"{'/'.join(h.mirror_for)} -> {h.name}" for h in mirrored)
        if mirrored
        else ""
    )
    if not bad:
        upstream = [h for h in ctx.artifact_hosts if not h.mirror_for]
        direct = len([h for h in upstream if h.name not in via])
        parts = [f"{direct} over IPv6"] if direct or not mirrored else []
        summary = ", ".join(parts) + nat64_note + mirror_note
        return [
            ok(
                name,
                f"all {len(verdicts)} artifact hosts are reachable: {summary.removeprefix('; ')}",
                evidence,
            )
        ]
    groups: dict[str, list[str]] = {}
    for host in bad:
        groups.setdefault(verdicts[host.name][1], []).append(host.name)
    lines = "; ".join(f"{', '.join(hosts)}: {detail}" for detail, hosts in groups.items())
    reasons = "; ".join(f"{h.name}: {h.reason}" for h in bad)
    bad_mirrors = [h.name for h in bad if h.mirror_for]
    fix = NAT64_FIX
    if bad_mirrors:
        fix = (
            f"the mirror(s) {', '.join(bad_mirrors)} from kube6.yaml `mirrors` must answer "
            "from the nodes; for the other hosts: " + NAT64_FIX
        )
    else:
        fix = NAT64_FIX + " Or serve them from a mirror (kube6.yaml `mirrors`)."
    return [
        fail(
            name,
            f"{len(bad)} of {len(verdicts)} download hosts cannot be reached over IPv6, "
            f"NAT64 or a mirror — {lines}{nat64_note}{mirror_note}",
            fix,
            f"needed for: {reasons}. Seen: {evidence}",
        )
    ]


# --- what is already installed or running ---------------------------------------------------


FIREWALLS = ("firewalld", "ufw")
KUBE_PACKAGES = ("kubeadm", "kubelet", "kubectl")


def check_services(ctx: Context) -> list[CheckResult]:
    name, plan, facts = "conflicting-services", ctx.plan, ctx.facts
    if facts.services is None:
        return [unknown(name, facts, "services")]
    active = [s for s in FIREWALLS if (svc := facts.services.get(s)) and svc.running]
    if active and plan.firewall.enabled:
        units = " ".join(active)
        return [
            warn(
                name,
                f"{', '.join(active)} is active: its rules and kube6's nftables table would "
                "both filter traffic, and the stricter one wins",
                f"systemctl disable --now {units}, or set firewall.enabled: false in kube6.yaml",
                f"active: {units}",
            )
        ]
    return [ok(name, "no other host firewall is active")]


def check_packages(ctx: Context) -> list[CheckResult]:
    name, plan, facts = "kubernetes-packages", ctx.plan, ctx.facts
    if facts.packages is None:
        return [unknown(name, facts, "packages")]
    installed = {p: facts.packages[p] for p in KUBE_PACKAGES if p in facts.packages}
    if not installed:
        return [ok(name, "kubeadm, kubelet and kubectl are not installed yet")]
    evidence = ", ".join(f"{p} {v}" for p, v in installed.items())
    foreign = {p: v for p, v in installed.items() if _kubernetes_minor(v) is None}
    if foreign:
        # e.g. Google Cloud SDK's kubectl, 1:528.0.0-0: not a Kubernetes release to upgrade.
        listed = ", ".join(f"{p} {v}" for p, v in foreign.items())
        return [
            warn(
                name,
                f"{listed}: not a Kubernetes release version (another vendor's package); "
                "kube6 installs kubeadm, kubelet and kubectl from pkgs.k8s.io",
                f"remove it first (apt-get remove {' '.join(foreign)}) so that apt installs "
                "the Kubernetes packages",
                evidence,
            )
        ]
    other = {p: v for p, v in installed.items() if _kubernetes_minor(v) != plan.kubernetes_minor}
    if other:
        return [
            warn(
                name,
                f"installed at another minor than the plan's {plan.kubernetes_minor}: "
                f"{', '.join(f'{p} {v}' for p, v in other.items())}",
                "upgrade the cluster one minor at a time (kubeadm upgrade), or set "
                "cluster.kubernetes in kube6.yaml to the installed minor",
                evidence,
            )
        ]
    return [ok(name, f"installed at the planned minor: {evidence}", evidence)]


KUBERNETES_DEB = re.compile(r"^(?P<minor>1\.[0-9]{1,3})\.[0-9]{1,3}-[0-9A-Za-z.+~]+$")
"""pkgs.k8s.io's Debian versions: 1.37.2-1.1 (no epoch)."""


def _kubernetes_minor(version: str) -> str | None:
    """ "1.37" of "1.37.2-1.1"; None for another scheme (an epoch, a vendor's numbering)."""
    match = KUBERNETES_DEB.match(version)
    return match.group("minor") if match else None


CHECKS: tuple[tuple[str, Check, str], ...] = (
    ("os-supported", check_os, "a Debian or Ubuntu release that kube6 is tested on"),
    ("uplink-interface", check_uplink, "the plan's uplink interface exists and is up"),
    ("node-address", check_node_address, "the node address is on the host, stable"),
    ("default-route", check_default_route, "a default IPv6 route that survives forwarding"),
    ("forwarding", check_forwarding, "IPv6 forwarding on all and default"),
    ("kernel-modules", check_modules, "the kernel modules that containerd and nftables need"),
    ("swap", check_swap, "no active swap"),
    ("cgroup-v2", check_cgroup, "the unified cgroup hierarchy"),
    ("ports-free", check_ports, "the control-plane and kubelet ports are free"),
    ("prefix-on-link", check_prefix, "the prefix is on-link (ndp-proxy) or routed"),
    ("resolvers-ipv6", check_resolvers, "CoreDNS has IPv6 resolvers to forward to"),
    ("dns64", check_dns64, "DNS64 in the host's resolvers, and its prefix"),
    ("conflicting-services", check_services, "no other host firewall fighting kube6's"),
    (
        "kubernetes-packages",
        check_packages,
        "kubeadm/kubelet/kubectl absent or at the plan's minor",
    ),
    (
        "artifact-hosts-reachable",
        check_artifact_hosts,
        "every download host resolves to IPv6, directly or through NAT64",
    ),
)
