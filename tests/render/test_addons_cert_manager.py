"""cert-manager renderer: Gateway API enabled, both Let's Encrypt issuers, solver wiring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from kube6 import spec
from kube6.components.cert_manager import render as cert_manager
from kube6.components.gateway import render as gateway
from kube6.components.registry import RENDERERS
from kube6.plan.model import Plan

PlanOf = Callable[[str], Plan]

STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


def _files(plan: Plan) -> dict[str, str]:
    return {a.path: a.content for a in cert_manager.render(plan)}


def _issuers(plan: Plan) -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all(_files(plan)[cert_manager.ISSUERS_PATH])
    return {d["metadata"]["name"]: d for d in docs}


def test_values_enable_crds_and_gateway_api(plan_of: PlanOf) -> None:
    values = yaml.safe_load(_files(plan_of(spec.EXAMPLE_YAML))[cert_manager.VALUES_PATH])
    assert values["crds"] == {"enabled": True}
    assert values["config"] == {
        "apiVersion": "controller.config.cert-manager.io/v1alpha1",
        "kind": "ControllerConfiguration",
        "enableGatewayAPI": True,
    }


def test_both_issuers_with_their_acme_servers(plan_of: PlanOf) -> None:
    issuers = _issuers(plan_of(spec.EXAMPLE_YAML))
    assert set(issuers) == {"letsencrypt-staging", "letsencrypt-production"}
    for name, server in (("letsencrypt-staging", STAGING), ("letsencrypt-production", PRODUCTION)):
        issuer = issuers[name]
        assert (issuer["apiVersion"], issuer["kind"]) == ("cert-manager.io/v1", "ClusterIssuer")
        acme = issuer["spec"]["acme"]
        assert acme["server"] == server
        assert acme["email"] == "admin@example.com"
        assert acme["privateKeySecretRef"]["name"].startswith(name)
    keys = {i["spec"]["acme"]["privateKeySecretRef"]["name"] for i in issuers.values()}
    assert len(keys) == 2, "each issuer needs its own ACME account key"


def test_solver_points_at_the_gateways_http_listener(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    manifest = {a.path: a.content for a in RENDERERS["gateway"](plan)}[gateway.MANIFEST_PATH]
    gw = next(d for d in yaml.safe_load_all(manifest) if d["kind"] == "Gateway")
    ports = {item["name"]: item["port"] for item in gw["spec"]["listeners"]}
    for issuer in _issuers(plan).values():
        [solver] = issuer["spec"]["acme"]["solvers"]
        [ref] = solver["http01"]["gatewayHTTPRoute"]["parentRefs"]
        assert (ref["kind"], ref["name"], ref["namespace"]) == (
            "Gateway",
            gw["metadata"]["name"],
            gw["metadata"]["namespace"],
        )
        assert ports[ref["sectionName"]] == 80, "HTTP-01 is answered on port 80"


def test_the_gateway_uses_one_of_the_rendered_issuers(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace("issuer: staging", "issuer: production")
    plan = plan_of(text)
    assert gateway.issuer_name(plan) in _issuers(plan)
    assert gateway.issuer_name(plan) == "letsencrypt-production"


def test_no_email_means_no_email_field(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace("{email: admin@example.com, issuer: staging}", "{}")
    for issuer in _issuers(plan_of(text)).values():
        assert "email" not in issuer["spec"]["acme"]


def test_gateway_off_is_flagged_in_the_issuers(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace("gateway: {enabled: true}", "gateway: {enabled: false}")
    assert "WARNING: the gateway add-on is off" in _files(plan_of(text))[cert_manager.ISSUERS_PATH]


def test_cert_manager_off_renders_nothing(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace(
        "{email: admin@example.com, issuer: staging}", "{enabled: false}"
    )
    assert _files(plan_of(text)) == {}
