"""The cert-manager component: cert-manager with Gateway API support, the Let's Encrypt issuers.

Renderers in `render` (values, ClusterIssuers); here its `up` steps (the chart with its CRDs,
`crds.enabled=true`, then the rendered issuers), the hosts they come from (with the ACME
directories of a mirrored Let's Encrypt), and verify's `cert-manager-issuers` check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kube6 import mirrors
from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use, host_port
from kube6.components.cert_manager import render
from kube6.plan.model import Plan
from kube6.steps import cluster
from kube6.steps.base import HostContext, Step
from kube6.verify.objects import (
    ClusterObjects,
    CustomKind,
    condition,
    describe_condition,
    dig,
    not_installed,
    obj_name,
)
from kube6.verify.result import CheckResult, failed, passed, skipped
from kube6.versions import CERT_MANAGER

NAMESPACE = "cert-manager"
CLUSTER_ISSUER = CustomKind(
    "cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", namespaced=False
)
CHART = "oci://quay.io/jetstack/charts/cert-manager"


def applies(ctx: HostContext) -> str | None:
    if ctx.plan.addons.cert_manager.enabled:
        return None
    return "cert-manager is off in the plan (addons.cert_manager)"


UP: tuple[Step[Any], ...] = (
    cluster.helm_step(
        "cert-manager",
        "cert-manager with its CRDs and Gateway API support.",
        cluster.Release(
            "cert-manager",
            CHART,
            CERT_MANAGER.version,
            NAMESPACE,
            values="cert-manager/values.yaml",
            sets=("crds.enabled=true",),
        ),
        applies,
    ),
    cluster.manifests_step(
        "issuers",
        "The Let's Encrypt ClusterIssuers.",
        cluster.under("cert-manager", "cert_manager"),
        applies,
    ),
)


def hosts(plan: Plan) -> list[ArtifactHost]:
    if not plan.addons.cert_manager.enabled:
        return []
    return [ArtifactHost("quay.io", f"cert-manager {CERT_MANAGER.version} chart and images")]


IMAGES = ("controller", "webhook", "cainjector", "acmesolver", "startupapicheck")
"""The chart's deployments and jobs (acmesolver: the HTTP-01 solver pods the controller
starts; startupapicheck: the post-install job): its default images, quay.io/jetstack, tagged
with the chart's version (the rendered values set none)."""


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    if not plan.addons.cert_manager.enabled:
        return []
    values = render.values(plan)
    chart = UpstreamArtifact(
        "chart", CHART, "pin kube6.versions.CERT_MANAGER", CERT_MANAGER.version
    )
    where = (
        "the chart's default image (the rendered values set none), tagged with the chart's version"
    )
    images = [
        UpstreamArtifact(
            "image", f"quay.io/jetstack/cert-manager-{name}:{CERT_MANAGER.version}", where
        )
        for name in IMAGES
        if values.get(name, {}).get("enabled", True)
    ]
    return [chart, *images]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [("quay.io", ("chart", CHART))] if plan.addons.cert_manager.enabled else []


def acme_mirrors(plan: Plan) -> list[ArtifactHost]:
    """The mirrored ACME directories that the issuers use instead of Let's Encrypt."""
    if not plan.addons.cert_manager.enabled:
        return []
    found = []
    for which in ("staging", "production"):
        directory = mirrors.acme_directory(plan.mirrors, which)
        if directory is not None:
            name, port = host_port(directory.url)
            found.append(
                ArtifactHost(
                    name,
                    f"ACME {which} directory (cert-manager)",
                    port,
                    mirror_for=(f"letsencrypt {which}",),
                )
            )
    return found


def kinds(plan: Plan) -> Sequence[CustomKind]:
    return (CLUSTER_ISSUER,) if plan.addons.cert_manager.enabled else ()


def check_cluster_issuers(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`cert-manager-issuers`: a Ready ClusterIssuer for the planned Let's Encrypt server."""
    name = "cert-manager-issuers"
    issuers = objects.of(CLUSTER_ISSUER)
    if not plan.addons.cert_manager.enabled:
        return skipped(name, "cert-manager is not in the plan")
    if issuers is None:
        return not_installed(
            name,
            "cert-manager",
            CLUSTER_ISSUER.crd,
            "install cert-manager with `kube6 up` (Helm chart with crds.enabled=true)",
        )
    issuer = plan.addons.cert_manager.issuer
    server = render.ACME_SERVERS[issuer]
    lines: list[str] = []
    not_ready: list[str] = []
    matching = 0
    for obj in issuers:
        acme = dig(obj, "spec", "acme", "server")
        cond = condition(obj, "Ready")
        lines.append(f"{obj_name(obj)}: {acme or 'not ACME'}, {describe_condition(cond, 'Ready')}")
        if acme == server:
            matching += 1
        if cond is None or cond.get("status") != "True":
            not_ready.append(lines[-1])
    if matching == 0:
        return failed(
            name,
            f"no ClusterIssuer uses the planned Let's Encrypt {issuer} server",
            f"apply the rendered ClusterIssuers (ACME server {server}) with `kube6 up`",
            lines or ["no ClusterIssuers"],
        )
    if not_ready:
        return failed(
            name,
            f"{len(not_ready)} ClusterIssuer(s) are not Ready",
            "`kubectl describe clusterissuer NAME`: ACME registration needs "
            "acme-v02.api.letsencrypt.org reachable from the cert-manager pod (it has AAAA "
            "records) and a valid e-mail address in kube6.yaml",
            not_ready,
        )
    return passed(name, f"the ClusterIssuer(s) for Let's Encrypt {issuer} are Ready", lines)


def namespaces(plan: Plan) -> Sequence[str]:
    return (NAMESPACE,) if plan.addons.cert_manager.enabled else ()


COMPONENT = Component(
    "cert-manager",
    renderers={"cert_manager": render.render},
    up=UP,
    hosts=hosts,
    uses=uses,
    mirror_hosts=acme_mirrors,
    artifacts=artifacts,
    object_checks=(check_cluster_issuers,),
    kinds=kinds,
    namespaces=namespaces,
)
