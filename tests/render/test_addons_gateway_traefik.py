"""Traefik Proxy as the gateway's implementation: its rendered objects, the Gateway wiring and
the policies that open its pods (and nothing else) to the outside.

The golden scenario `traefik` holds the full files; these tests say what must hold in them.
Entry points are matched the way Traefik's Gateway API provider matches them (an entry point
whose address ends in `:<listener port>`, pkg/provider/kubernetes/gateway/kubernetes.go
`entryPointName`), so a listener port without an entry point fails here, not on a cluster.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Any

import pytest
import yaml
from tests.render.test_addons_gateway import ENVOY_EXAMPLE
from tests.render.test_addons_policies import ENVOY, OUTSIDE, WEB, _verdict

from kube6 import spec
from kube6.components import registry
from kube6.components.gateway import render as gateway
from kube6.components.gateway import traefik
from kube6.modes import RoutingMode
from kube6.plan.model import Plan
from kube6.render.base import Artifact

PlanOf = Callable[[str], Plan]
GoldenPlan = Callable[[str], Plan]

TRAEFIK_PODS = {
    "projectcalico.org/namespace": traefik.NAMESPACE,
    **traefik.LABELS,
    "pod-template-generation": "1",
}


def _files(plan: Plan) -> dict[str, Artifact]:
    return {a.path: a for a in registry.render_all(plan)}


def _objects(plan: Plan, path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(_files(plan)[path].content) if d]


def _kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def _entry_points(args: list[str]) -> dict[str, str]:
    """entry point name -> address, from Traefik's --entryPoints.NAME.address flags."""
    found = {}
    for arg in args:
        key, _, value = arg.partition("=")
        parts = key.split(".")
        if parts[0] == "--entryPoints" and parts[2:] == ["address"]:
            found[parts[1]] = value
    return found


def test_traefik_replaces_envoy_gateways_objects(golden_plan: GoldenPlan, plan_of: PlanOf) -> None:
    plan = golden_plan("traefik")
    files = _files(plan)
    assert traefik.MANIFEST_PATH in files
    assert gateway.VALUES_PATH not in files, "no Envoy Gateway values with Traefik"
    objects = _objects(plan, gateway.MANIFEST_PATH)
    assert [o["kind"] for o in objects] == ["Namespace", "GatewayClass", "Gateway"]
    assert _kind(objects, "GatewayClass")["spec"] == {"controllerName": traefik.CONTROLLER_NAME}
    # Envoy Gateway when kube6.yaml asks for it: its values, no Traefik.
    envoy = _files(plan_of(ENVOY_EXAMPLE))
    assert gateway.VALUES_PATH in envoy
    assert traefik.MANIFEST_PATH not in envoy


def test_every_gateway_listener_has_its_entry_point_on_ipv6(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("traefik")
    gw = _kind(_objects(plan, gateway.MANIFEST_PATH), "Gateway")
    daemon_set = _kind(_objects(plan, traefik.MANIFEST_PATH), "DaemonSet")
    [container] = daemon_set["spec"]["template"]["spec"]["containers"]
    entry_points = _entry_points(container["args"])
    assert all(address.startswith("[::]:") for address in entry_points.values()), entry_points
    ports = {listener["port"] for listener in gw["spec"]["listeners"]}
    assert ports == {80, 443}, "the dashboard's HTTPS listener is in the scenario"
    for port in ports:
        matching = [n for n, a in entry_points.items() if a.endswith(f":{port}")]
        assert matching, (port, entry_points)
        assert "traefik" not in matching, (port, entry_points)
    declared = {p["containerPort"] for p in container["ports"]}
    assert ports <= declared
    assert "--providers.kubernetesgateway=true" in container["args"]
    assert "--global.checkNewVersion=false" in container["args"]


def test_traefik_binds_the_listener_ports_unprivileged(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("traefik")
    pod = _kind(_objects(plan, traefik.MANIFEST_PATH), "DaemonSet")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert not pod.get("hostNetwork"), "the gateway's pods are pods: policies apply to them"
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    [sysctl] = pod["securityContext"]["sysctls"]
    assert sysctl["name"] == "net.ipv4.ip_unprivileged_port_start"
    assert int(sysctl["value"]) <= min(traefik.ENTRY_POINTS.values())
    assert container["image"] == "docker.io/library/traefik:v3.7.13"


def test_the_service_asks_calico_for_the_gateway_address(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("traefik")
    assert plan.load_balancers.gateway is not None
    manifest = _kind(_objects(plan, traefik.MANIFEST_PATH), "Service")
    service = manifest["spec"]
    # Calico's LoadBalancer controller serves Services without a class; the annotation asks
    # for the planned address (a JSON list, as kube-controllers parses it).
    assert "loadBalancerClass" not in service
    assert "externalIPs" not in service, "no node address is copied into the Service"
    asked = json.loads(manifest["metadata"]["annotations"]["projectcalico.org/loadBalancerIPs"])
    assert asked == [str(plan.load_balancers.gateway)]
    assert IPv6Address(asked[0]) in plan.load_balancers.cidr
    assert service["ipFamilies"] == ["IPv6"]
    assert service["ipFamilyPolicy"] == "SingleStack"
    # ndp-proxy: only workers answer for the range, each runs a Traefik pod: Local works
    # and keeps the client's address.
    assert plan.routing == "ndp-proxy"
    assert service["externalTrafficPolicy"] == "Local"
    assert service["allocateLoadBalancerNodePorts"] is False
    assert {p["port"] for p in service["ports"]} == set(traefik.ENTRY_POINTS.values())
    gw = _kind(_objects(plan, gateway.MANIFEST_PATH), "Gateway")
    assert "addresses" not in gw["spec"], "the controllers report the Service's address"


def test_routed_spreads_the_gateways_traffic_over_every_node(golden_plan: GoldenPlan) -> None:
    """Routed, the provider sends the range to one node, which may run no Traefik pod."""
    plan = dataclasses.replace(golden_plan("traefik"), routing=RoutingMode.ROUTED)
    service = _kind(_objects(plan, traefik.MANIFEST_PATH), "Service")["spec"]
    assert service["externalTrafficPolicy"] == "Cluster"
    notes = _files(plan)[gateway.MANIFEST_PATH].content
    assert "client addresses masqueraded" in " ".join(notes.replace("#", " ").split())


def test_the_rbac_grants_reads_and_status_writes_only(golden_plan: GoldenPlan) -> None:
    role = _kind(_objects(golden_plan("traefik"), traefik.MANIFEST_PATH), "ClusterRole")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs == {"list", "watch", "update"}
    for rule in role["rules"]:
        if "update" in rule["verbs"]:
            assert rule["verbs"] == ["update"]
            assert all(r.endswith("/status") for r in rule["resources"]), rule


def test_the_dashboards_https_listener_is_wired_as_with_envoy(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("traefik")
    gw = _kind(_objects(plan, gateway.MANIFEST_PATH), "Gateway")
    [https] = [li for li in gw["spec"]["listeners"] if li["protocol"] == "HTTPS"]
    assert https["hostname"] == plan.addons.dashboard.host
    assert https["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "kube6-dashboard-tls"}]
    annotations = gw["metadata"]["annotations"]
    assert annotations == {"cert-manager.io/cluster-issuer": "letsencrypt-production"}


def test_policies_open_traefiks_pods_on_the_listener_ports_only(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("traefik")
    for port in (80, 443):
        assert gateway.proxy_port(plan, port) == port
        assert _verdict(plan, TRAEFIK_PODS, OUTSIDE, port) == "Pass"
    # /ping and anything else stay closed to the internet; other pods too.
    for port in (traefik.PING_PORT, 22, 10443):
        assert _verdict(plan, TRAEFIK_PODS, OUTSIDE, port) == "Deny"
    assert _verdict(plan, WEB, OUTSIDE, 80) == "Deny"
    # Envoy's pods (were some left from an earlier controller) are not opened.
    assert _verdict(plan, ENVOY, OUTSIDE, 10080) == "Deny"
    # A pod labelled traefik in another namespace is not the gateway.
    impostor = {**TRAEFIK_PODS, "projectcalico.org/namespace": "default"}
    assert _verdict(plan, impostor, OUTSIDE, 80) == "Deny"


def test_the_controller_is_chosen_in_kube6_yaml(plan_of: PlanOf) -> None:
    # Traefik is the default (README: "The gateway: Traefik or Envoy Gateway").
    assert traefik.chosen(plan_of(spec.EXAMPLE_YAML))
    assert not traefik.chosen(plan_of(ENVOY_EXAMPLE))
    base = spec.EXAMPLE_YAML.replace("gateway: {enabled: true}", "gateway: {controller: traefik}")
    assert base != spec.EXAMPLE_YAML
    plan = plan_of(base)
    assert traefik.chosen(plan)
    off = plan_of(base.replace("{controller: traefik}", "{controller: traefik, enabled: false}"))
    assert not traefik.chosen(off)
    assert traefik.MANIFEST_PATH not in _files(off)
    with pytest.raises(ValueError, match="controller"):
        plan_of(base.replace("{controller: traefik}", "{controller: nginx}"))
