"""Every upstream version that kube6 installs, in one place, with the source of each pin.

A pin is what `kube6 up` installs and what the k8s test tier builds or fetches. Change a pin
here and nowhere else; the build script of the k8s tier reads this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    """One upstream component at one version, and where that version was confirmed."""

    name: str
    version: str
    source: str


KUBERNETES_MINOR = "1.37"
"""The Kubernetes minor that kube6 targets by default; the patch is resolved at install time."""

KUBERNETES_PATCHES = {"1.37": "v1.37.2", "1.36": "v1.36.4"}
"""The minors kube6 supports, each with the patch release it installs: kubeadm config
`v1beta4` (read since 1.31; v1beta3 removed in 1.37) and containerd 2.x (required from 1.36).
1.36.4: https://kubernetes.io/releases/1.36/ (2026-08-11). 1.35 and older are not offered."""
SUPPORTED_MINORS = tuple(KUBERNETES_PATCHES)

KUBERNETES = Pin(
    "kubernetes",
    "v1.37.2",
    "k8s.io/kubernetes tags on the Go module proxy (1.37.0 released 2026-08-26, "
    "https://kubernetes.io/releases/1.37/); the patch the k8s test tier builds",
)
CONTAINERD = Pin(
    "containerd",
    "2.4.2",
    "github.com/containerd/containerd/v2 tags on the Go module proxy; 2.x is required "
    "from Kubernetes 1.36 (https://containerd.io/releases/)",
)
CALICO = Pin(
    "calico",
    "v3.33.1",
    "https://github.com/projectcalico/calico/releases (v3.33.1, 2026-11-16); CRDs ship "
    "in their own chart since v3.32",
)
TIGERA_OPERATOR = Pin(
    "tigera-operator",
    "v1.44.0",
    "the operator release that Calico's release-v3.33 names (metadata.mk; the chart's "
    "tigeraOperator.version); its source is ../shared/upstream/src/operator-release-v1.44",
)
HELM = Pin(
    "helm",
    "v4.3.1",
    "helm.sh/helm/v4 tags on the Go module proxy (Helm 4 GA 2025-11-12, "
    "https://helm.sh/blog/helm-4-released)",
)
CERT_MANAGER = Pin(
    "cert-manager",
    "v1.21.2",
    "github.com/cert-manager/cert-manager tags on the Go module proxy "
    "(https://cert-manager.io/docs/releases/)",
)
GATEWAY_API = Pin(
    "gateway-api",
    "v1.6.3",
    "sigs.k8s.io/gateway-api tags on the Go module proxy "
    "(https://github.com/kubernetes-sigs/gateway-api/blob/main/CHANGELOG/1.6-CHANGELOG.md)",
)
ENVOY_GATEWAY = Pin(
    "envoy-gateway",
    "v1.9.1",
    "github.com/envoyproxy/gateway tags on the Go module proxy; chart "
    "oci://docker.io/envoyproxy/gateway-helm (reachable over IPv6)",
)
TRAEFIK = Pin(
    "traefik",
    "v3.7.13",
    "github.com/traefik/traefik/v3 tags on the Go module proxy (newest v3.7 patch); image "
    "docker.io/library/traefik (the official image, reachable over IPv6). kube6 writes its "
    "Kubernetes objects itself (no chart)",
)
HEADLAMP = Pin(
    "headlamp",
    "0.43.0",
    "https://github.com/kubernetes-sigs/headlamp/releases (v0.43.0, 2026-06-16); chart "
    "https://kubernetes-sigs.github.io/headlamp/",
)
ETCD = Pin(
    "etcd",
    "v3.7.0",
    "go.etcd.io/etcd/server/v3 tags on the Go module proxy; used by the k8s test tier "
    "(kubeadm installs its own etcd image on hosts)",
)
KWOK = Pin(
    "kwok",
    "v0.8.0",
    "sigs.k8s.io/kwok tags on the Go module proxy; used by the k8s test tier only",
)
NDPPD = Pin(
    "ndppd",
    "0.2.5",
    "the Debian/Ubuntu package (https://github.com/DanielAdolfsson/ndppd, last release 2020)",
)

PAUSE = Pin(
    "pause",
    "registry.k8s.io/pause:3.10.2",
    "kubeadm's PauseVersion constant in k8s.io/kubernetes v1.37.2 "
    "(cmd/kubeadm/app/constants); `kubeadm config images list` agrees (k8s tier test)",
)

BUSYBOX = Pin(
    "busybox",
    "docker.io/library/busybox:1.37.0",
    "the official image https://hub.docker.com/_/busybox (tag 1.37.0: BusyBox 1.37.0, "
    "2024-09-27, built with upstream `make defconfig` by github.com/docker-library/busybox, "
    "so nc has -z); docker.io is reachable over IPv6. The image of `kube6 verify`'s probe pods",
)

ALL: tuple[Pin, ...] = (
    KUBERNETES,
    CONTAINERD,
    CALICO,
    TIGERA_OPERATOR,
    HELM,
    CERT_MANAGER,
    GATEWAY_API,
    ENVOY_GATEWAY,
    TRAEFIK,
    HEADLAMP,
    ETCD,
    KWOK,
    NDPPD,
    PAUSE,
    BUSYBOX,
)


def by_name(name: str) -> Pin:
    """Return the pin called `name`, e.g. `by_name("calico").version == "v3.33.1"`."""
    for pin in ALL:
        if pin.name == name:
            return pin
    known = ", ".join(p.name for p in ALL)
    raise KeyError(f"no pin named {name!r}; known pins: {known}")
