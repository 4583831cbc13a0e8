"""The containerd component: containerd.io from Docker's apt repository, its configuration
(and registry mirrors), crictl's. Renderers in `render`, `up` steps in `steps`."""

from __future__ import annotations

from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use
from kube6.components.containerd import render, reset, steps
from kube6.plan.model import Plan


def hosts(plan: Plan) -> list[ArtifactHost]:
    return [ArtifactHost("download.docker.com", "apt repository of containerd.io (containerd 2.x)")]


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    return [
        UpstreamArtifact(
            "apt",
            "https://download.docker.com/linux/",
            "the containerd.io package (kube6.versions.CONTAINERD's 2.x line); the path goes on "
            "with the host's distribution (debian or ubuntu)",
            source="docker",
        )
    ]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [("download.docker.com", ("apt", "docker"))]


COMPONENT = Component(
    "containerd",
    reset=reset.RESET,
    renderers={"containerd": render.render},
    up=(steps.STEP,),
    hosts=hosts,
    artifacts=artifacts,
    uses=uses,
)
