"""The dashboard component: Headlamp, its least-privilege login, its route on the gateway.

Renderers in `render` (values, logins, route, and the HTTPS listener it asks of the Gateway);
here its `up` steps (the Headlamp chart, then the rendered login) and the hosts they come from.
"""

from __future__ import annotations

from typing import Any

from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use
from kube6.components.dashboard import render
from kube6.plan.model import Plan
from kube6.steps import cluster
from kube6.steps.base import HostContext, Step
from kube6.versions import HEADLAMP

CHARTS = "https://kubernetes-sigs.github.io/headlamp/"


def applies(ctx: HostContext) -> str | None:
    return None if ctx.plan.addons.dashboard.enabled else "the dashboard is off in the plan"


UP: tuple[Step[Any], ...] = (
    cluster.helm_step(
        "dashboard",
        "Headlamp, the Kubernetes dashboard.",
        cluster.Release(
            "headlamp",
            "headlamp",
            HEADLAMP.version,
            render.NAMESPACE,
            repo=CHARTS,
            values="dashboard/values.yaml",
        ),
        applies,
    ),
    cluster.manifests_step(
        "dashboard-login",
        "Headlamp's least-privilege login.",
        cluster.under("dashboard", "headlamp"),
        applies,
    ),
)


def hosts(plan: Plan) -> list[ArtifactHost]:
    if not plan.addons.dashboard.enabled:
        return []
    return [
        ArtifactHost("kubernetes-sigs.github.io", f"Headlamp {HEADLAMP.version} Helm chart"),
        ArtifactHost("ghcr.io", "the Headlamp image"),
        ArtifactHost("pkg-containers.githubusercontent.com", "ghcr.io's image layers"),
    ]


DEFAULT_IMAGE = "ghcr.io/headlamp-k8s/headlamp"
"""The chart's default image (tagged v<appVersion>, its pin)."""


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    if not plan.addons.dashboard.enabled:
        return []
    image = render.values(plan).get("image", {})
    ref = (
        f"{image['registry']}/{image['repository']}:{image['tag']}"
        if {"registry", "repository", "tag"} <= set(image)
        else f"{DEFAULT_IMAGE}:v{HEADLAMP.version}"
    )
    where = "the rendered values' image" if image else "the chart's default image, at its pin"
    chart = UpstreamArtifact(
        "chart", "headlamp", "pin kube6.versions.HEADLAMP", HEADLAMP.version, CHARTS
    )
    return [chart, UpstreamArtifact("image", ref, where)]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [("kubernetes-sigs.github.io", ("chart", CHARTS))]


COMPONENT = Component(
    "dashboard",
    renderers={"dashboard": render.render},
    up=UP,
    hosts=hosts,
    uses=uses,
    artifacts=artifacts,
)
