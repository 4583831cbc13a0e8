"""The images kubeadm pulls for the control plane and every node (`kubeadm config images list`).

The registry is the rendered ClusterConfiguration's `imageRepository` (kubeadm's default,
registry.k8s.io, when kube6 renders none); the Kubernetes components carry the plan's version,
pause is pinned (kube6.versions.PAUSE, the tag containerd pins too). etcd's and CoreDNS's tags
are the defaults compiled into that kubeadm release: not pinned by kube6, so not shown.
"""

from __future__ import annotations

from kube6.checks.model import UpstreamArtifact
from kube6.components.kubeadm import render
from kube6.plan.model import Plan
from kube6.versions import PAUSE

DEFAULT_REPOSITORY = "registry.k8s.io"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    configuration = next(
        d for d in render.init_documents(plan) if d.get("kind") == "ClusterConfiguration"
    )
    repository = configuration.get("imageRepository", DEFAULT_REPOSITORY)
    where = (
        "imageRepository of the rendered ClusterConfiguration"
        if "imageRepository" in configuration
        else "kubeadm's default imageRepository (the rendered ClusterConfiguration sets none)"
    )
    version = plan.kubernetes_version
    found = [
        UpstreamArtifact("image", f"{repository}/{name}:{version}", f"{where}; the plan's version")
        for name in CONTROL_PLANE
    ]
    found.append(UpstreamArtifact("image", PAUSE.version, f"pin kube6.versions.PAUSE ({where})"))
    found += [
        UpstreamArtifact(
            "image",
            f"{repository}/{name}",
            f"{where}; the tag is kubeadm {version}'s built-in default (not pinned by kube6)",
        )
        for name in ("etcd", "coredns/coredns")
    ]
    return found
