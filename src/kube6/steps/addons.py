"""add-ons: Gateway API CRDs, Envoy Gateway, cert-manager and its ClusterIssuers, Headlamp.

CRDs have one source each: the Gateway API standard channel at kube6's pin, Envoy Gateway's own
CRDs from its gateway-crds-helm chart (the gateway-helm chart's bundled copy is switched off in
its values), cert-manager's from its chart (`crds.enabled=true`).

Charts and the Gateway API bundle come from upstream at the versions pinned in kube6.versions;
each Helm release is installed with `--wait`, so the step ends when its workloads are ready.
Rendered manifests (gateway, issuers, the dashboard's least-privilege login) are applied after
their controller, server-side.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6 import mirrors
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets, run
from kube6.steps.control_plane import kubectl
from kube6.versions import CERT_MANAGER, ENVOY_GATEWAY, GATEWAY_API, HEADLAMP

GATEWAY_CRD = "gateways.gateway.networking.k8s.io"
BUNDLE_ANNOTATION = "gateway.networking.k8s.io/bundle-version"


def gateway_api_url() -> str:
    return (
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
        f"{GATEWAY_API.version}/standard-install.yaml"
    )


def _gateway(ctx: HostContext) -> str | None:
    return None if ctx.plan.addons.gateway else "the gateway is off in the plan (addons.gateway)"


def _envoy(ctx: HostContext) -> str | None:
    if not ctx.plan.addons.gateway:
        return _gateway(ctx)
    controller = ctx.plan.addons.gateway_controller
    if controller not in ("envoy", "envoy-gateway"):
        return f"the gateway controller is {controller}; kube6 installs Envoy Gateway only"
    return None


def _cert_manager(ctx: HostContext) -> str | None:
    if ctx.plan.addons.cert_manager:
        return None
    return "cert-manager is off in the plan (addons.cert_manager)"


def _dashboard(ctx: HostContext) -> str | None:
    return None if ctx.plan.addons.dashboard else "the dashboard is off in the plan"


@dataclass(frozen=True)
class BundleFacts:
    version: str | None


async def read_bundle(ctx: HostContext) -> BundleFacts:
    if _gateway(ctx):
        return BundleFacts(None)
    path = "jsonpath={.metadata.annotations." + BUNDLE_ANNOTATION.replace(".", "\\.") + "}"
    text = await probe.stdout(ctx, *kubectl(ctx, "get", "crd", GATEWAY_CRD, "-o", path))
    return BundleFacts((text or "").strip() or None)


def fresh_bundle(ctx: HostContext) -> BundleFacts:
    return BundleFacts(None)


def plan_bundle(ctx: HostContext, facts: BundleFacts) -> StepPlan:
    """The Gateway API standard CRDs at the pinned bundle version (server-side apply)."""
    reason = _gateway(ctx)
    if reason:
        return StepPlan.nothing(reason)
    if facts.version == GATEWAY_API.version:
        return StepPlan.nothing(f"Gateway API CRDs {GATEWAY_API.version} are installed")
    return StepPlan.do(
        # --force-conflicts: kube6 owns the Gateway API version, also when the CRDs came from
        # elsewhere first (another installer, a chart that bundles them).
        run(
            *kubectl(
                ctx,
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                "kube6",
                "-f",
                mirrors.download_url(ctx.plan.mirrors, gateway_api_url()),
            ),
            why=f"Gateway API {GATEWAY_API.version} (github.com: needs IPv6 or NAT64 to it)",
        ),
        run(
            *kubectl(
                ctx, "wait", "--for=condition=Established", f"crd/{GATEWAY_CRD}", "--timeout=60s"
            )
        ),
    )


STEP: Step[object] = Step(
    "addons",
    "Gateway API CRDs, Envoy Gateway, cert-manager and ClusterIssuers, Headlamp; each ready.",
    children=(
        Step(
            "gateway-api",
            "The Gateway API CRDs at the pinned version.",
            plan_bundle,
            read_bundle,
            fresh_bundle,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
        cluster.helm_step(
            "envoy-gateway-crds",
            "Envoy Gateway's own CRDs (the Gateway API ones come from gateway-api).",
            cluster.Release(
                "envoy-gateway-crds",
                "oci://docker.io/envoyproxy/gateway-crds-helm",
                ENVOY_GATEWAY.version,
                "envoy-gateway-system",
                sets=("crds.envoyGateway.enabled=true", "crds.gatewayAPI.enabled=false"),
            ),
            _envoy,
        ),
        cluster.helm_step(
            "envoy-gateway",
            "Envoy Gateway, the Gateway API controller (its chart's bundled CRDs off).",
            cluster.Release(
                "envoy-gateway",
                "oci://docker.io/envoyproxy/gateway-helm",
                ENVOY_GATEWAY.version,
                "envoy-gateway-system",
                values="gateway/values.yaml",
            ),
            _envoy,
        ),
        cluster.manifests_step(
            "gateway",
            "The rendered GatewayClass, EnvoyProxy and Gateway.",
            cluster.under("gateway"),
            _gateway,
        ),
        cluster.helm_step(
            "cert-manager",
            "cert-manager with its CRDs and Gateway API support.",
            cluster.Release(
                "cert-manager",
                "oci://quay.io/jetstack/charts/cert-manager",
                CERT_MANAGER.version,
                "cert-manager",
                values="cert-manager/values.yaml",
                sets=("crds.enabled=true",),
            ),
            _cert_manager,
        ),
        cluster.manifests_step(
            "issuers",
            "The Let's Encrypt ClusterIssuers.",
            cluster.under("cert-manager", "cert_manager"),
            _cert_manager,
        ),
        cluster.helm_step(
            "dashboard",
            "Headlamp, the Kubernetes dashboard.",
            cluster.Release(
                "headlamp",
                "headlamp",
                HEADLAMP.version,
                "headlamp",
                repo="https://kubernetes-sigs.github.io/headlamp/",
                values="dashboard/values.yaml",
            ),
            _dashboard,
        ),
        cluster.manifests_step(
            "dashboard-login",
            "Headlamp's least-privilege login.",
            cluster.under("dashboard", "headlamp"),
            _dashboard,
        ),
    ),
)
