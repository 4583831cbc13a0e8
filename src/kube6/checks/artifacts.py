"""The hosts that `kube6 up` downloads from, derived from the plan, each with its reason.

On an IPv6-only server each must resolve to an IPv6 address (its own, or one that a DNS64
synthesized inside a NAT64 prefix), or the install stops half-way. `kube6 check` resolves every
one of them on every node before anything is installed. The URLs themselves live in the steps
(kube6.steps.*); this list must name every host they use.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6.plan.model import Plan
from kube6.versions import CALICO, CERT_MANAGER, ENVOY_GATEWAY, GATEWAY_API, HEADLAMP, HELM


@dataclass(frozen=True)
class ArtifactHost:
    name: str
    reason: str


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
    merged: dict[str, ArtifactHost] = {}
    for host in hosts:
        if host.name in merged:
            merged[host.name] = ArtifactHost(
                host.name, f"{merged[host.name].reason}; {host.reason}"
            )
        else:
            merged[host.name] = host
    return tuple(merged.values())


def names(hosts: tuple[ArtifactHost, ...]) -> tuple[str, ...]:
    return tuple(h.name for h in hosts)
