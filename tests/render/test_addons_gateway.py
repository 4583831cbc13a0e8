"""Gateway renderer: IPv6 EnvoyProxy, GatewayClass wiring, worker addresses, listeners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from kube6 import spec
from kube6.components.dashboard import render as dashboard
from kube6.components.gateway import render as gateway
from kube6.components.registry import RENDERERS
from kube6.plan.model import Plan

PlanOf = Callable[[str], Plan]
ENVOY_EXAMPLE = spec.EXAMPLE_YAML.replace(
    "gateway: {enabled: true}", "gateway: {enabled: true, controller: envoy-gateway}"
)
"""The built-in example with Envoy Gateway as the gateway's implementation (Traefik is the
default)."""


def _docs(plan: Plan) -> dict[str, dict[str, Any]]:
    files = {a.path: a.content for a in RENDERERS["gateway"](plan)}
    return {d["kind"]: d for d in yaml.safe_load_all(files[gateway.MANIFEST_PATH])}


def _listeners(plan: Plan) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in _docs(plan)["Gateway"]["spec"]["listeners"]}


def test_example_gateway_is_ipv6_and_wired_to_its_class(plan_of: PlanOf) -> None:
    plan = plan_of(ENVOY_EXAMPLE)
    assert ENVOY_EXAMPLE != spec.EXAMPLE_YAML
    docs = _docs(plan)
    proxy, klass, gw = docs["EnvoyProxy"], docs["GatewayClass"], docs["Gateway"]
    assert proxy["spec"]["ipFamily"] == "IPv6"
    ref = klass["spec"]["parametersRef"]
    assert (ref["group"], ref["kind"]) == ("gateway.envoyproxy.io", "EnvoyProxy")
    assert (ref["name"], ref["namespace"]) == (
        proxy["metadata"]["name"],
        proxy["metadata"]["namespace"],
    )
    assert gw["spec"]["gatewayClassName"] == klass["metadata"]["name"]
    assert docs["Namespace"]["metadata"]["name"] == gw["metadata"]["namespace"]
    kube = proxy["spec"]["provider"]["kubernetes"]
    assert "envoyDaemonSet" in kube
    assert "envoyDeployment" not in kube
    assert kube["envoyService"] == {
        # No class: Calico's LoadBalancer controller serves it, with the planned address.
        "type": "LoadBalancer",
        "annotations": {"projectcalico.org/loadBalancerIPs": '["2001:db8:1234:5678:8:4:0:1"]'},
        "allocateLoadBalancerNodePorts": False,
        "externalTrafficPolicy": "Local",
    }
    # Envoy Gateway would copy spec.addresses into the Service's externalIPs.
    assert "addresses" not in gw["spec"]


def test_example_listeners(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    listeners = _listeners(plan)
    http = listeners[gateway.HTTP_LISTENER]
    assert (http["protocol"], http["port"]) == ("HTTP", 80)
    # ACME HTTP-01 routes live in other namespaces than the Gateway.
    assert http["allowedRoutes"] == {"namespaces": {"from": "All"}}
    https = listeners[dashboard.LISTENER]
    assert (https["protocol"], https["port"]) == ("HTTPS", 443)
    assert https["hostname"] == plan.addons.dashboard.host == "kube001-dashboard.example.com"
    assert https["tls"]["mode"] == "Terminate"
    assert https["tls"]["certificateRefs"] == [{"kind": "Secret", "name": dashboard.TLS_SECRET}]
    selector = https["allowedRoutes"]["namespaces"]["selector"]["matchLabels"]
    assert selector == {"kubernetes.io/metadata.name": dashboard.NAMESPACE}
    annotations = _docs(plan)["Gateway"]["metadata"]["annotations"]
    assert annotations == {"cert-manager.io/cluster-issuer": "letsencrypt-staging"}


def test_the_gateway_address_is_set_or_address_1_of_the_range(plan_of: PlanOf) -> None:
    plan = plan_of(ENVOY_EXAMPLE)
    assert str(plan.load_balancers.gateway) == "2001:db8:1234:5678:8:4:0:1"
    chosen = {c.name: c for c in plan.choices}["gateway_address"]
    assert (chosen.value, chosen.source) == ("2001:db8:1234:5678:8:4:0:1", "default")
    text = ENVOY_EXAMPLE.replace(
        "controller: envoy-gateway}",
        "controller: envoy-gateway, address: '2001:db8:1234:5678:8:4::80'}",
    )
    assert text != ENVOY_EXAMPLE
    plan = plan_of(text)
    service = _docs(plan)["EnvoyProxy"]["spec"]["provider"]["kubernetes"]["envoyService"]
    asked = service["annotations"]["projectcalico.org/loadBalancerIPs"]
    assert asked == '["2001:db8:1234:5678:8:4:0:80"]'
    chosen = {c.name: c for c in plan.choices}["gateway_address"]
    assert (chosen.value, chosen.source) == ("2001:db8:1234:5678:8:4:0:80", "set")
    assert {r.name: r for r in plan.rules}["gateway-address"].ok
    # Only an address of the range: Calico gives a Service no other.
    with_outside = text.replace("8:4::80", "8:5::80")
    rule = {r.name: r for r in plan_of(with_outside).rules}["gateway-address"]
    assert not rule.ok
    assert "2001:db8:1234:5678:8:5:0:80 is outside the LoadBalancer range" in rule.message
    assert "addons.gateway.address" in (rule.fix or "")


def test_the_production_issuer_is_asked_of_cert_manager(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("ha-3cp-5w")
    issuer = _docs(plan)["Gateway"]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    assert issuer == "letsencrypt-production"


def test_values_follow_the_cluster_domain(plan_of: PlanOf) -> None:
    text = ENVOY_EXAMPLE.replace("  name: kube001\n", "  name: kube001\n  dns_domain: k6.test\n")
    plan = plan_of(text)
    files = {a.path: a.content for a in RENDERERS["gateway"](plan)}
    values = yaml.safe_load(files[gateway.VALUES_PATH])
    assert values["kubernetesClusterDomain"] == "k6.test"
    assert (
        values["config"]["envoyGateway"]["gateway"]["controllerName"]
        == (_docs(plan)["GatewayClass"]["spec"]["controllerName"])
    )


def test_gateway_off_renders_nothing(plan_of: PlanOf) -> None:
    plan = plan_of(
        spec.EXAMPLE_YAML.replace("gateway: {enabled: true}", "gateway: {enabled: false}")
    )
    assert list(RENDERERS["gateway"](plan)) == []


def test_without_cert_manager_no_issuer_annotation(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace(
        "cert_manager: {email: admin@example.com, issuer: staging}",
        "cert_manager: {enabled: false}",
    )
    plan = plan_of(text)
    assert "annotations" not in _docs(plan)["Gateway"]["metadata"]
    content = {a.path: a.content for a in RENDERERS["gateway"](plan)}[gateway.MANIFEST_PATH]
    assert "put a TLS certificate" in content


@pytest.mark.parametrize(
    "change",
    [
        "dashboard: {enabled: false, host: kube001-dashboard.example.com}",
        "dashboard: {enabled: true}",
    ],
)
def test_no_https_listener_without_a_dashboard_host(plan_of: PlanOf, change: str) -> None:
    text = spec.EXAMPLE_YAML.replace("dashboard: {host: kube001-dashboard.example.com}", change)
    assert set(_listeners(plan_of(text))) == {gateway.HTTP_LISTENER}


@pytest.mark.parametrize(("listener", "pod"), [(80, 10080), (443, 10443), (8443, 8443)])
def test_container_port_shifts_privileged_ports(listener: int, pod: int) -> None:
    assert gateway.container_port(listener) == pod
