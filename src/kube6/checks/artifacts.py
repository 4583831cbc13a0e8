"""The artifact hosts' check, and the audit per artifact.

The check: every host that `kube6 up` downloads from (handed in as data,
`Context.artifact_hosts`, assembled by kube6.components.registry with the mirrors applied) is
reachable natively (IPv6), through NAT64 (an AAAA synthesized inside a NAT64 prefix), through a
mirror (kube6.yaml `mirrors`), or not at all.

On an IPv6-only server each must resolve to an IPv6 address, or the install stops half-way.

The audit (`audit_artifacts`): every image, chart, apt repository and download of the plan
(kube6.components.registry.artifacts, handed in as data) judged per node from the same lookups:
over IPv6, only through NAT64, through a configured mirror, or unreachable, with the kube6.yaml
`mirrors` setting that would serve it from a mirror.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any
from urllib.parse import urlsplit

from kube6.checks.context import Context, fail, ok
from kube6.checks.model import ArtifactHost, CheckResult, UpstreamArtifact
from kube6.facts import HostFacts, Lookup
from kube6.plan.model import Plan

NAT64_FIX = (
    "give the hosts resolvers with DNS64 and a NAT64 gateway on the path: your provider's, a "
    "router of your own (Jool, Tayga), or a public NAT64/DNS64 service (e.g. nat64.net; see "
    "https://nat64.xyz); set them in /etc/systemd/resolved.conf (DNS=) or netplan "
    "`nameservers`; or mirror these artifacts on an IPv6-reachable host"
)


def _nat64_prefixes(plan: Plan, facts: HostFacts) -> tuple[IPv6Network, ...]:
    found = facts.nat64.prefixes if facts.nat64 else ()
    planned = plan.dns_settings.nat64_prefix
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
    prefixes = _nat64_prefixes(ctx.plan, facts)
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
        fix = NAT64_FIX + " named in kube6.yaml `mirrors`"
    return [
        fail(
            f"{len(bad)} of {len(verdicts)} download hosts cannot be reached over IPv6, "
            f"NAT64 or a mirror — {lines}{nat64_note}{mirror_note}",
            fix,
            f"needed for: {reasons}. Seen: {evidence}",
        )
    ]


VERDICTS = ("unreachable", "nat64", "mirror", "ipv6")
"""The audit's verdicts, worst first (the order `kube6 check` groups them in)."""
DOCKER_HUB_LIMIT = (
    "Docker Hub limits anonymous pulls per IPv6 /64: every node of the cluster shares one "
    "limit (pulls fail with 429 Too Many Requests once it is used up); a docker.io registry "
    "mirror avoids it"
)
NAT64_ONLY = (
    "works through the provider's NAT64 (its AAAA is synthesized): the install depends on that "
    "gateway; a mirror reachable over IPv6 removes the dependency"
)


@dataclass(frozen=True)
class ArtifactVerdict:
    """How one node reaches one artifact."""

    node: str
    artifact: UpstreamArtifact
    verdict: str
    """One of VERDICTS."""
    host: str
    """The host judged: the mirror's when the plan mirrors the artifact, else the upstream's."""
    detail: str
    fix: str = ""
    """What would make it reachable, or independent of NAT64 or Docker Hub's limit (with the
    kube6.yaml `mirrors` setting); empty when nothing needs doing."""
    notes: tuple[str, ...] = ()
    """What the verdict depends on (the provider's NAT64, Docker Hub's pull limit)."""

    def to_json(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "node": self.node,
            "component": a.component,
            "kind": a.kind,
            "ref": a.ref,
            "version": a.version,
            "repository": a.source if a.kind == "chart" else "",
            "origin": a.origin,
            "host": self.host,
            "mirror": a.mirror,
            "verdict": self.verdict,
            "detail": self.detail,
            "notes": list(self.notes),
            "fix": self.fix,
        }


def judged_host(artifact: UpstreamArtifact) -> tuple[str, int]:
    """(host, TCP port) that a node contacts for `artifact`: its mirror's, else upstream's."""
    if not artifact.mirror:
        return artifact.upstream_host, 443
    parts = urlsplit(artifact.mirror)
    return parts.hostname or artifact.mirror, parts.port or (80 if parts.scheme == "http" else 443)


def lookup_hosts(artifacts: Sequence[UpstreamArtifact]) -> list[ArtifactHost]:
    """The hosts to resolve (and connect to) on each node for the audit, once each."""
    found: dict[str, ArtifactHost] = {}
    for artifact in artifacts:
        name, port = judged_host(artifact)
        found.setdefault(name, ArtifactHost(name, f"artifact {artifact.ref}", port))
    return list(found.values())


def judge_artifact(
    artifact: UpstreamArtifact, lookup: Lookup | None, prefixes: tuple[IPv6Network, ...], node: str
) -> ArtifactVerdict:
    host, _ = judged_host(artifact)
    path, detail = judge_lookup(lookup, prefixes)
    if artifact.mirror:
        if path == "unreachable":
            fix = f"the mirror {artifact.mirror} (kube6.yaml `mirrors`) must answer from the nodes"
            return ArtifactVerdict(node, artifact, "unreachable", host, detail, fix)
        return ArtifactVerdict(
            node, artifact, "mirror", host, f"{artifact.mirror}: {path} {detail}"
        )
    setting = f"serve it from a mirror (kube6.yaml):\n{artifact.fix}" if artifact.fix else ""
    if path == "unreachable":
        nat64 = "give the nodes DNS64 and NAT64 (see artifact-hosts-reachable's fix)"
        fix = f"{setting}\nor {nat64}" if setting else nat64
        return ArtifactVerdict(node, artifact, "unreachable", host, detail, fix)
    notes = ((NAT64_ONLY,) if path == "nat64" else ()) + (
        (DOCKER_HUB_LIMIT,) if artifact.registry == "docker.io" else ()
    )
    return ArtifactVerdict(node, artifact, path, host, detail, setting if notes else "", notes)


def audit_artifacts(
    plan: Plan,
    facts_by_node: Mapping[str, HostFacts | BaseException],
    artifacts: Sequence[UpstreamArtifact],
) -> list[ArtifactVerdict]:
    """Every artifact judged on every node whose facts were read, in plan order."""
    verdicts: list[ArtifactVerdict] = []
    for node in plan.nodes:
        facts = facts_by_node.get(node.name)
        if not isinstance(facts, HostFacts):
            continue  # an unreachable node fails host-reachable; nothing to judge here
        prefixes = _nat64_prefixes(plan, facts)
        verdicts += [
            judge_artifact(a, facts.lookup(judged_host(a)[0]), prefixes, node.name)
            for a in artifacts
        ]
    return verdicts
