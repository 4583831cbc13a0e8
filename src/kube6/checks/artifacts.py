"""The artifact hosts' check: every host that `kube6 up` downloads from (handed in as data,
`Context.artifact_hosts`, assembled by kube6.components.registry with the mirrors applied) is
reachable natively (IPv6), through NAT64 (an AAAA synthesized inside a NAT64 prefix), through a
mirror (kube6.yaml `mirrors`), or not at all.

On an IPv6-only server each must resolve to an IPv6 address, or the install stops half-way.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from kube6.checks.context import Context, fail, ok
from kube6.checks.model import ArtifactHost, CheckResult
from kube6.facts import Lookup

NAT64_FIX = (
    "give the hosts resolvers with DNS64 and a NAT64 gateway on the path: your provider's, a "
    "router of your own (Jool, Tayga), or a public NAT64/DNS64 service (e.g. nat64.net; see "
    "https://nat64.xyz); set them in /etc/systemd/resolved.conf (DNS=) or netplan "
    "`nameservers`; or mirror these artifacts on an IPv6-reachable host"
)


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
    facts = ctx.facts
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
            f"{len(bad)} of {len(verdicts)} download hosts cannot be reached over IPv6, "
            f"NAT64 or a mirror — {lines}{nat64_note}{mirror_note}",
            fix,
            f"needed for: {reasons}. Seen: {evidence}",
        )
    ]
