"""The hosts that `kube6 up` downloads from, derived from the plan, each with its reason.

On an IPv6-only server each must resolve to an IPv6 address (its own, or one that a DNS64
synthesized inside a NAT64 prefix), or the install stops half-way. `kube6 check` resolves every
one of them on every node before anything is installed. The URLs themselves live in the steps
(kube6.steps.*); this list must name every host they use.

With a `mirrors` section, an upstream host whose every use is mirrored is not needed: the
mirror's host takes its place in the list (`mirror_for` names the upstream hosts it stands in
for), and `kube6 check` reports each source as reachable natively, through NAT64, through a
mirror, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from kube6 import mirrors
from kube6.plan.model import Plan
from kube6.versions import CALICO, CERT_MANAGER, ENVOY_GATEWAY, GATEWAY_API, HEADLAMP, HELM


@dataclass(frozen=True)
class ArtifactHost:
    name: str
    reason: str
    port: int = 443
    """The TCP port `check` connects to (a mirror may serve on another)."""
    mirror_for: tuple[str, ...] = ()
    """The upstream hosts this mirror stands in for (empty: an upstream host)."""


# How each upstream host is used: ("registry", name), ("apt", repo), ("download", URL prefix),
# ("chart", repository URL or OCI reference). A host is mirrored when every use is.
Use = tuple[str, str]
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
CALICO_CHARTS = "https://docs.tigera.io/calico/charts"
HEADLAMP_CHARTS = "https://kubernetes-sigs.github.io/headlamp/"
CERT_MANAGER_CHART = "oci://quay.io/jetstack/charts/cert-manager"
ENVOY_CHARTS = (
    "oci://docker.io/envoyproxy/gateway-helm",
    "oci://docker.io/envoyproxy/gateway-crds-helm",
)
HELM_DOWNLOADS = "https://get.helm.sh/"
GITHUB_REDIRECTS = ("objects.githubusercontent.com", "release-assets.githubusercontent.com")
GITHUB_RELEASES = "https://github.com/kubernetes-sigs/gateway-api/releases/download/"


def _uses(plan: Plan, host: str) -> list[Use]:
    uses: list[Use] = []
    if host in _REGISTRY_HOSTS:
        uses.append(("registry", _REGISTRY_HOSTS[host]))
    if host in ("pkgs.k8s.io", "prod-cdn.packages.k8s.io"):
        uses.append(("apt", "kubernetes"))
    if host == "download.docker.com":
        uses.append(("apt", "docker"))
    if host == "get.helm.sh":
        uses.append(("download", HELM_DOWNLOADS))
    if host in (
        "github.com",
        "objects.githubusercontent.com",
        "release-assets.githubusercontent.com",
    ):
        uses.append(("download", GITHUB_RELEASES))
    if host == "docs.tigera.io":
        uses.append(("chart", CALICO_CHARTS))
    if host == "kubernetes-sigs.github.io":
        uses.append(("chart", HEADLAMP_CHARTS))
    if host == "quay.io" and plan.addons.cert_manager:
        uses.append(("chart", CERT_MANAGER_CHART))
    if host == "docker.io" and plan.addons.gateway:
        uses += [("chart", ref) for ref in ENVOY_CHARTS]
    return uses


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


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port or (80 if parts.scheme == "http" else 443)
    return (parts.hostname or url), port


def artifact_hosts(plan: Plan) -> tuple[ArtifactHost, ...]:
    """Every host that the plan's components are fetched from (by nodes, during `up`)."""
    minor = plan.kubernetes_minor
    hosts = [
        ArtifactHost("pkgs.k8s.io", f"apt repository of kubelet/kubeadm/kubectl v{minor}"),
        ArtifactHost("prod-cdn.packages.k8s.io", "where pkgs.k8s.io redirects package downloads"),
        ArtifactHost("download.docker.com", "apt repository of containerd.io (containerd 2.x)"),
        ArtifactHost(
            "registry.k8s.io",
            f"control-plane, CoreDNS and pause images of Kubernetes {plan.kubernetes_version}",
        ),
        ArtifactHost("get.helm.sh", f"the helm {HELM.version} binary"),
        ArtifactHost("docs.tigera.io", f"Calico {CALICO.version} Helm charts (repository)"),
        ArtifactHost("quay.io", "the tigera-operator image and Calico images"),
        ArtifactHost("docker.io", "Calico component images (docker.io/calico)"),
        ArtifactHost("registry-1.docker.io", "Docker Hub's registry API"),
        ArtifactHost("auth.docker.io", "Docker Hub's pull tokens"),
        ArtifactHost("production.cloudflare.docker.com", "Docker Hub's image layers"),
    ]
    if plan.addons.gateway:
        hosts += [
            ArtifactHost("github.com", f"Gateway API {GATEWAY_API.version} CRDs (release asset)"),
            ArtifactHost(
                "objects.githubusercontent.com", "where github.com redirects release downloads"
            ),
            ArtifactHost(
                "release-assets.githubusercontent.com",
                "where github.com redirects release downloads (newer host)",
            ),
            ArtifactHost("docker.io", f"Envoy Gateway {ENVOY_GATEWAY.version} chart and images"),
        ]
    if plan.addons.cert_manager:
        hosts.append(
            ArtifactHost("quay.io", f"cert-manager {CERT_MANAGER.version} chart and images")
        )
    if plan.addons.dashboard:
        hosts += [
            ArtifactHost("kubernetes-sigs.github.io", f"Headlamp {HEADLAMP.version} Helm chart"),
            ArtifactHost("ghcr.io", "the Headlamp image"),
            ArtifactHost("pkg-containers.githubusercontent.com", "ghcr.io's image layers"),
        ]
    if plan.addons.cert_manager:
        for which in ("staging", "production"):
            directory = mirrors.acme_directory(plan.mirrors, which)
            if directory is not None:
                hosts.append(
                    ArtifactHost(
                        *_mirror_entry(directory.url, f"ACME {which} directory (cert-manager)"),
                        mirror_for=(f"letsencrypt {which}",),
                    )
                )
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


def _mirror_entry(url: str, reason: str) -> tuple[str, str, int]:
    host, port = _host_port(url)
    return host, reason, port


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
                name, port = _host_port(url)
                out.append(
                    ArtifactHost(name, f"mirror of {host.name}: {host.reason}", port, (host.name,))
                )
    return out


def names(hosts: tuple[ArtifactHost, ...]) -> tuple[str, ...]:
    return tuple(h.name for h in hosts)
