"""The hosts that `kube6 up` downloads from, derived from the plan, each with its reason.

On an IPv6-only server each must resolve to an IPv6 address (its own, or one that a DNS64
synthesized inside a NAT64 prefix), or the install stops half-way. `kube6 check` resolves every
one of them on every node before anything is installed. Each component names the hosts its
artifacts come from and how it uses them (kube6.components); this module applies the mirrors.

With a `mirrors` section, an upstream host whose every use is mirrored is not needed: the
mirror's host takes its place in the list (`mirror_for` names the upstream hosts it stands in
for), and `kube6 check` reports each source as reachable natively, through NAT64, through a
mirror, or not at all.
"""

from __future__ import annotations

from kube6 import mirrors
from kube6.components.base import ArtifactHost, Use, host_port
from kube6.plan.model import Plan

__all__ = ["ArtifactHost", "artifact_hosts", "names"]

_REGISTRY_HOSTS: dict[str, str] = {
    "registry.k8s.io": "registry.k8s.io",
    "quay.io": "quay.io",
    "docker.io": "docker.io",
    "registry-1.docker.io": "docker.io",
    "auth.docker.io": "docker.io",
    "production.cloudflare.docker.com": "docker.io",
    "ghcr.io": "ghcr.io",
    "pkg-containers.githubusercontent.com": "ghcr.io",
}


def _uses(plan: Plan, host: str) -> list[Use]:
    from kube6.components import registry

    uses: list[Use] = []
    if host in _REGISTRY_HOSTS:
        uses.append(("registry", _REGISTRY_HOSTS[host]))
    return uses + registry.uses(plan, host)


def _mirror_urls(plan: Plan, use: Use) -> list[str] | None:
    """The mirror URLs that serve `use`, or None when it is fetched from upstream."""
    kind, what = use
    found = plan.mirrors
    if kind == "registry":
        entry = next((m for m in found.registries if m.registry == what), None)
        return [e.url for e in entry.endpoints] if entry else None
    if kind == "apt":
        apt = mirrors.apt_repository(found, "kubernetes" if what == "kubernetes" else "docker")
        return [u for u in (apt.url, apt.key_url) if u] if apt else None
    if kind == "download":
        probe = what + "probe"
        moved = mirrors.download_url(found, probe)
        return [moved] if moved != probe else None
    if kind == "chart":
        repo, chart = (what, "probe") if not what.startswith("oci://") else (None, what)
        source = mirrors.chart_source(found, chart, repo)
        if source.mirror is None:
            return None
        return [source.mirror.mirror.replace("oci://", "https://", 1)]
    return None


def artifact_hosts(plan: Plan) -> tuple[ArtifactHost, ...]:
    """Every host that the plan's components are fetched from (by nodes, during `up`)."""
    # The components import the checks' toolkit (ArtifactHost): the registry is loaded here.
    from kube6.components import registry

    hosts = registry.upstream_hosts(plan)
    hosts += registry.mirror_hosts(plan)
    hosts = _apply_mirrors(plan, hosts)
    merged: dict[str, ArtifactHost] = {}
    for host in hosts:
        if host.name in merged:
            before = merged[host.name]
            merged[host.name] = ArtifactHost(
                host.name,
                f"{before.reason}; {host.reason}",
                before.port,
                tuple(dict.fromkeys((*before.mirror_for, *host.mirror_for))),
            )
        else:
            merged[host.name] = host
    return tuple(merged.values())


def _apply_mirrors(plan: Plan, hosts: list[ArtifactHost]) -> list[ArtifactHost]:
    """Upstream hosts whose every use is mirrored give way to their mirrors' hosts."""
    out: list[ArtifactHost] = []
    for host in hosts:
        uses = _uses(plan, host.name)
        found = [_mirror_urls(plan, use) for use in uses]
        if not uses or any(urls is None for urls in found):
            out.append(host)
            continue
        for urls in found:
            for url in urls or ():
                name, port = host_port(url)
                out.append(
                    ArtifactHost(name, f"mirror of {host.name}: {host.reason}", port, (host.name,))
                )
    return out


def names(hosts: tuple[ArtifactHost, ...]) -> tuple[str, ...]:
    return tuple(h.name for h in hosts)
