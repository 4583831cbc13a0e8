"""The mirrors applied to the components' artifact hosts and artifacts (kube6.yaml `mirrors`),
and the `mirrors` setting that would serve an artifact from a mirror.

With a `mirrors` section, an upstream host whose every use is mirrored is not needed: the
mirror's host takes its place in the list (`mirror_for` names the upstream hosts it stands in
for). The registry assembles the hosts and the uses (kube6.components.registry.artifact_hosts);
the checks judge the result (kube6.checks.artifacts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal
from urllib.parse import urlsplit

from kube6 import mirrors
from kube6.components.base import ArtifactHost, UpstreamArtifact, Use, host_port
from kube6.plan.model import Plan

REGISTRY_HOSTS: dict[str, str] = {
    "registry.k8s.io": "registry.k8s.io",
    "quay.io": "quay.io",
    "docker.io": "docker.io",
    "registry-1.docker.io": "docker.io",
    "auth.docker.io": "docker.io",
    "production.cloudflare.docker.com": "docker.io",
    "ghcr.io": "ghcr.io",
    "pkg-containers.githubusercontent.com": "ghcr.io",
}
"""Host -> the image registry it serves (its API, tokens or layers): a mirror of the registry
replaces all of them."""


def mirror_urls(plan: Plan, use: Use) -> list[str] | None:
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


def apply_mirrors(
    plan: Plan, hosts: Iterable[ArtifactHost], uses_of: Callable[[str], list[Use]]
) -> tuple[ArtifactHost, ...]:
    """`hosts` with each upstream host whose every use (`uses_of(name)`, plus the registry it
    serves) is mirrored replaced by its mirrors' hosts; one entry per host name."""
    out: list[ArtifactHost] = []
    for host in hosts:
        registry = [("registry", REGISTRY_HOSTS[host.name])] if host.name in REGISTRY_HOSTS else []
        uses = registry + uses_of(host.name)
        found = [mirror_urls(plan, use) for use in uses]
        if not uses or any(urls is None for urls in found):
            out.append(host)
            continue
        for urls in found:
            for url in urls or ():
                name, port = host_port(url)
                out.append(
                    ArtifactHost(name, f"mirror of {host.name}: {host.reason}", port, (host.name,))
                )
    return _merged(out)


def _merged(hosts: list[ArtifactHost]) -> tuple[ArtifactHost, ...]:
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


EXAMPLE_MIRROR = "https://mirror.example.net"
"""The placeholder in a suggested `mirrors` setting: a host of yours reachable over IPv6."""


def artifact_mirror(plan: Plan, artifact: UpstreamArtifact) -> str:
    """The mirror URL that serves `artifact` in this plan (kube6.yaml `mirrors`), or ""."""
    found = plan.mirrors
    if artifact.kind == "image":
        entry = next((m for m in found.registries if m.registry == artifact.registry), None)
        return entry.endpoints[0].url if entry else ""
    if artifact.kind == "apt":
        which: Literal["kubernetes", "docker"] = (
            "kubernetes" if artifact.source == "kubernetes" else "docker"
        )
        apt = mirrors.apt_repository(found, which)
        return apt.url if apt else ""
    if artifact.kind == "download":
        moved = mirrors.download_url(found, artifact.ref)
        return moved if moved != artifact.ref else ""
    if artifact.kind == "chart":
        source = mirrors.chart_source(found, artifact.ref, artifact.source or None)
        return source.mirror.mirror if source.mirror else ""
    return ""


def mirror_setting(artifact: UpstreamArtifact) -> str:
    """The kube6.yaml `mirrors` entry that would serve `artifact` from a mirror of yours (at
    EXAMPLE_MIRROR: replace it), as YAML."""
    if artifact.kind == "image":
        return (
            "mirrors:\n  registries:\n"
            f"    - registry: {artifact.registry}\n"
            f"      endpoints: [{{url: {EXAMPLE_MIRROR}}}]"
        )
    if artifact.kind == "apt":
        which = "kubernetes" if artifact.source == "kubernetes" else "docker"
        return (
            f"mirrors:\n  apt:\n    {which}:\n"
            f"      url: {EXAMPLE_MIRROR}/{which}/\n"
            f"      key_url: {EXAMPLE_MIRROR}/{which}/Release.key"
        )
    if artifact.kind == "download":
        parts = urlsplit(artifact.ref)
        upstream = f"{parts.scheme}://{parts.netloc}/"
        return (
            "mirrors:\n  downloads:\n"
            f"    - upstream: {upstream}\n"
            f"      mirror: {EXAMPLE_MIRROR}/{parts.netloc}/"
        )
    upstream = artifact.source or artifact.ref.rsplit("/", 1)[0]
    return (
        "mirrors:\n  charts:\n"
        f"    - upstream: {upstream}\n"
        f"      mirror: oci://{urlsplit(EXAMPLE_MIRROR).netloc}/charts"
    )
