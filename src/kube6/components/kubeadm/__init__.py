"""The kubeadm component: the kubeadm configurations, the first control plane's init, the
other nodes' join (and kubelet serving certificates), and the images kubeadm pulls."""

from __future__ import annotations

from kube6.components.base import ArtifactHost, Component
from kube6.components.kubeadm import artifacts, control_plane, join, render, reset
from kube6.plan.model import Plan


def hosts(plan: Plan) -> list[ArtifactHost]:
    return [
        ArtifactHost(
            "registry.k8s.io",
            f"control-plane, CoreDNS and pause images of Kubernetes {plan.kubernetes_version}",
        )
    ]


COMPONENT = Component(
    "kubeadm",
    reset=reset.RESET,
    renderers={"kubeadm": render.render},
    up=(control_plane.STEP, join.STEP),
    hosts=hosts,
    artifacts=artifacts.artifacts,
)
