"""The host checks' table (CHECKS): every preflight check with its name (for --ignore) and
what it checks. The checks themselves are pure functions of (plan, node, facts), by subject:
the system (kube6.checks.system), the network (kube6.checks.network), and below, DNS64 and the
artifact hosts.

A check of checks/system.py or checks/network.py returns its findings without a name: the table
names it, once (see kube6.checks.context). The DNS64 and artifact-host checks below still name
their findings themselves.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from kube6.checks.artifacts import ArtifactHost
from kube6.checks.context import Check, Context
from kube6.checks.model import CheckResult, fail, ok, warn
from kube6.checks.network import (
    check_default_route,
    check_forwarding,
    check_node_address,
    check_prefix,
    check_uplink,
)
from kube6.checks.system import (
    check_cgroup,
    check_modules,
    check_os,
    check_packages,
    check_ports,
    check_services,
    check_swap,
)
from kube6.facts import HostFacts, Lookup, dns

NAT64_FIX = (
    "give the hosts resolvers with DNS64 and a NAT64 gateway on the path: your provider's, a "
    "router of your own (Jool, Tayga), or a public NAT64/DNS64 service (e.g. nat64.net; see "
    "https://nat64.xyz); set them in /etc/systemd/resolved.conf (DNS=) or netplan "
    "`nameservers`; or mirror these artifacts on an IPv6-reachable host"
)


def unknown(name: str, facts: HostFacts, fact: str) -> CheckResult:
    return warn(
        name,
        f"could not check: {fact} could not be read ({facts.why_unknown(fact)})",
        "run the probe by hand on the host (kube6 --debug check shows the commands)",
    )


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
