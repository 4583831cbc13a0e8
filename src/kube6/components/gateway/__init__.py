"""The gateway component: Gateway API CRDs, Envoy Gateway or Traefik, the kube6 Gateway on IPv6.

Renderers in `render` (Envoy Gateway values, the Gateway and its IPv6 listeners, with the
HTTPS listeners other components ask for) and `traefik` (Traefik's objects, when
`addons.gateway.controller` is `traefik`); here its `up` steps (the Gateway API bundle at
kube6's pin; Envoy Gateway's CRD chart and chart, or Traefik's rendered objects; the rendered
Gateway; with Traefik, `gateway-ready`), the hosts they come from, and verify's `gateway-ipv6`
check. The gateway's public address and how its Service asks Calico for it: `address`.

CRDs have one source each: the Gateway API standard channel at kube6's pin, Envoy Gateway's own
CRDs from its gateway-crds-helm chart (the gateway-helm chart's bundled copy is switched off in
its values). Each Helm release is installed with `--wait`, so its step ends when its workloads
are ready; the rendered Gateway is applied after its controller, server-side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kube6 import mirrors
from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use
from kube6.components.gateway import address, render, traefik, traefik_steps
from kube6.plan.model import Plan
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets, run
from kube6.steps.kubectl import kubectl
from kube6.verify.objects import (
    ClusterObjects,
    CustomKind,
    Obj,
    address_of,
    condition,
    describe_condition,
    dig,
    not_installed,
    obj_name,
)
from kube6.verify.result import CheckResult, failed, passed, skipped
from kube6.versions import ENVOY_GATEWAY, GATEWAY_API, TRAEFIK

GATEWAY = CustomKind("gateway.networking.k8s.io", "v1", "Gateway", "gateways", namespaced=True)
GATEWAY_CRD = GATEWAY.crd
BUNDLE_ANNOTATION = "gateway.networking.k8s.io/bundle-version"
GITHUB_RELEASES = "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
ENVOY_CHARTS = (
    "oci://docker.io/envoyproxy/gateway-helm",
    "oci://docker.io/envoyproxy/gateway-crds-helm",
)


def gateway_api_url() -> str:
    return f"{GITHUB_RELEASES}{GATEWAY_API.version}/standard-install.yaml"


def applies(ctx: HostContext) -> str | None:
    return (
        None
        if ctx.plan.addons.gateway.enabled
        else "the gateway is off in the plan (addons.gateway)"
    )


def envoy_applies(ctx: HostContext) -> str | None:
    """Envoy Gateway's steps: the gateway on, with Envoy Gateway as its controller."""
    reason = applies(ctx)
    if reason is None and traefik.chosen(ctx.plan):
        return "the gateway's controller is traefik, not envoy-gateway"
    return reason


# ---- up ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleFacts:
    version: str | None


async def read_bundle(ctx: HostContext) -> BundleFacts:
    if applies(ctx):
        return BundleFacts(None)
    path = "jsonpath={.metadata.annotations." + BUNDLE_ANNOTATION.replace(".", "\\.") + "}"
    text = await probe.stdout(ctx, *kubectl(ctx, "get", "crd", GATEWAY_CRD, "-o", path))
    return BundleFacts((text or "").strip() or None)


def fresh_bundle(ctx: HostContext) -> BundleFacts:
    return BundleFacts(None)


def plan_bundle(ctx: HostContext, facts: BundleFacts) -> StepPlan:
    """The Gateway API standard CRDs at the pinned bundle version (server-side apply)."""
    reason = applies(ctx)
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


UP: tuple[Step[Any], ...] = (
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
            ENVOY_CHARTS[1],
            ENVOY_GATEWAY.version,
            render.CONTROLLER_NAMESPACE,
            sets=("crds.envoyGateway.enabled=true", "crds.gatewayAPI.enabled=false"),
        ),
        envoy_applies,
    ),
    cluster.helm_step(
        "envoy-gateway",
        "Envoy Gateway, the Gateway API controller (its chart's bundled CRDs off).",
        cluster.Release(
            "envoy-gateway",
            ENVOY_CHARTS[0],
            ENVOY_GATEWAY.version,
            render.CONTROLLER_NAMESPACE,
            values="gateway/values.yaml",
        ),
        envoy_applies,
    ),
    traefik_steps.INSTALL,
    cluster.manifests_step(
        "gateway",
        "The rendered GatewayClass, EnvoyProxy (Envoy Gateway) and Gateway.",
        cluster.under("gateway", exclude=("values.yaml", traefik.MANIFEST_PATH.rsplit("/")[-1])),
        applies,
    ),
    traefik_steps.READY,
)


# ---- artifacts -----------------------------------------------------------------------------


def hosts(plan: Plan) -> list[ArtifactHost]:
    if not plan.addons.gateway.enabled:
        return []
    return [
        ArtifactHost("github.com", f"Gateway API {GATEWAY_API.version} CRDs (release asset)"),
        ArtifactHost(
            "objects.githubusercontent.com", "where github.com redirects release downloads"
        ),
        ArtifactHost(
            "release-assets.githubusercontent.com",
            "where github.com redirects release downloads (newer host)",
        ),
        ArtifactHost("docker.io", f"Traefik Proxy {TRAEFIK.version} image")
        if traefik.chosen(plan)
        else ArtifactHost("docker.io", f"Envoy Gateway {ENVOY_GATEWAY.version} chart and images"),
    ]


ENVOY_IMAGE = "docker.io/envoyproxy/gateway"


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    if not plan.addons.gateway.enabled:
        return []
    bundle = UpstreamArtifact(
        "download", gateway_api_url(), "pin kube6.versions.GATEWAY_API (standard channel)"
    )
    if traefik.chosen(plan):
        image = UpstreamArtifact(
            "image", traefik.IMAGE, "the rendered DaemonSet (cluster/gateway/traefik.yaml)"
        )
        return [bundle, image]
    charts = [
        UpstreamArtifact("chart", ref, "pin kube6.versions.ENVOY_GATEWAY", ENVOY_GATEWAY.version)
        for ref in ENVOY_CHARTS
    ]
    controller = UpstreamArtifact(
        "image",
        f"{ENVOY_IMAGE}:{ENVOY_GATEWAY.version}",
        "the gateway-helm chart's default image (kube6 renders no image values) at its pin; "
        "the Envoy proxies it starts use the chart's own default envoyproxy/envoy tag",
    )
    return [bundle, *charts, controller]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    found: list[tuple[str, Use]] = [
        (host, ("download", GITHUB_RELEASES))
        for host in (
            "github.com",
            "objects.githubusercontent.com",
            "release-assets.githubusercontent.com",
        )
    ]
    if plan.addons.gateway.enabled and not traefik.chosen(plan):
        found += [("docker.io", ("chart", ref)) for ref in ENVOY_CHARTS]
    return found


# ---- verify --------------------------------------------------------------------------------


def served_addresses(objects: ClusterObjects) -> list[IPv6Address]:
    """The IPv6 addresses in the Gateways' status (what the from-outside checks connect to)."""
    found: list[IPv6Address] = []
    for obj in objects.of(GATEWAY) or []:
        for entry in dig(obj, "status", "addresses") or []:
            addr = address_of(entry.get("value") if isinstance(entry, Mapping) else None)
            if isinstance(addr, IPv6Address) and addr not in found:
                found.append(addr)
    return found


def kinds(plan: Plan) -> Sequence[CustomKind]:
    return (GATEWAY,) if plan.addons.gateway.enabled else ()


def check_gateways(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`gateway-ipv6`: every Gateway programmed, on IPv6 addresses only, its listeners too."""
    name = "gateway-ipv6"
    gateways = objects.of(GATEWAY)
    if not plan.addons.gateway.enabled:
        return skipped(name, "the gateway is not in the plan")
    if gateways is None:
        return not_installed(
            name,
            "Gateway API",
            GATEWAY_CRD,
            "install the Gateway API CRDs and the gateway controller with `kube6 up`",
        )
    if not gateways:
        return failed(
            name,
            "there is no Gateway",
            "apply the rendered Gateway with `kube6 up`",
        )
    bad: list[str] = []
    seen: list[str] = []
    for obj in gateways:
        label = obj_name(obj)
        got = [
            a.get("value")
            for a in (dig(obj, "status", "addresses") or [])
            if isinstance(a, Mapping)
        ]
        problems = _gateway_problems(obj, got)
        if _is_kube6_gateway(obj) and got and str(address.gateway_address(plan)) not in got:
            problems.append(f"not on the planned gateway address {address.gateway_address(plan)}")
        if problems:
            bad.append(f"{label}: {'; '.join(problems)}")
        else:
            seen.append(f"{label}: {', '.join(str(v) for v in got)}")
    if bad:
        return failed(
            name, f"{len(bad)} Gateway(s) are not serving on IPv6", _gateway_fix(plan), bad
        )
    return passed(name, f"all {len(gateways)} Gateway(s) are programmed on IPv6", seen)


def _gateway_problems(obj: Obj, got: list[Any]) -> list[str]:
    """What keeps one Gateway from serving on IPv6: its addresses (`got`: in its status) and
    the Programmed conditions of the Gateway and its listeners."""
    asked = [
        a.get("value") for a in (dig(obj, "spec", "addresses") or []) if isinstance(a, Mapping)
    ]
    problems = [
        f"address {value} is not IPv6"
        for value in [*asked, *got]
        if isinstance(address_of(value), IPv4Address)
    ]
    if not got:
        problems.append("no address in status")
    cond = condition(obj, "Programmed")
    if cond is None or cond.get("status") != "True":
        problems.append(describe_condition(cond, "Programmed"))
    for listener in dig(obj, "status", "listeners") or []:
        lcond = condition({"status": listener}, "Programmed")
        if lcond is not None and lcond.get("status") != "True":
            problems.append(
                f"listener {listener.get('name')}: {describe_condition(lcond, 'Programmed')}"
            )
    return problems


def _is_kube6_gateway(obj: Obj) -> bool:
    meta = obj.get("metadata") or {}
    return bool(
        meta.get("name") == render.GATEWAY_NAME
        and meta.get("namespace") == render.GATEWAY_NAMESPACE
    )


def _gateway_fix(plan: Plan) -> str:
    where = (
        f"the gateway's Service asks Calico for {address.gateway_address(plan)} "
        f"(annotation {address.LOAD_BALANCER_IPS}); calico-kube-controllers' log says why it "
        "did not give it (`kubectl -n calico-system logs deploy/calico-kube-controllers`)"
    )
    if traefik.chosen(plan):
        return (
            f"Traefik reports the address of its Service's load-balancer status, and {where}: "
            f"run `kube6 up` again, then `kubectl describe gateway NAME` and `kubectl -n "
            f"{traefik.NAMESPACE} get pods,svc -o wide` (Traefik's log: `kubectl -n "
            f"{traefik.NAMESPACE} logs ds/{traefik.NAME}`)"
        )
    return (
        "the controller must create IPv6-only listeners (Envoy Gateway: EnvoyProxy "
        f"spec.ipFamily IPv6), and {where}: `kubectl describe gateway NAME` and the Service "
        "of the gateway"
    )


def namespaces(plan: Plan) -> Sequence[str]:
    if not plan.addons.gateway.enabled:
        return ()
    return (traefik.NAMESPACE,) if traefik.chosen(plan) else (render.CONTROLLER_NAMESPACE,)


def component(listeners: render.Listeners) -> Component:
    """The gateway, with the HTTPS listeners that the other components ask of it."""
    return Component(
        "gateway",
        renderers={"gateway": render.renderer(listeners)},
        up=UP,
        hosts=hosts,
        uses=uses,
        artifacts=artifacts,
        object_checks=(check_gateways,),
        kinds=kinds,
        namespaces=namespaces,
    )
