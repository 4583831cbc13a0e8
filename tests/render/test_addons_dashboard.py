"""Dashboard renderer: least-privilege logins, no token Secret, route through the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from kube6 import spec
from kube6.components.dashboard import render as dashboard
from kube6.components.gateway import render as gateway
from kube6.components.registry import RENDERERS
from kube6.plan.model import Plan

PlanOf = Callable[[str], Plan]

ADMIN_ON = spec.EXAMPLE_YAML.replace(
    "dashboard: {host: kube001-dashboard.example.com}",
    "dashboard: {host: kube001-dashboard.example.com, admin: true}",
)


def _files(plan: Plan) -> dict[str, str]:
    return {a.path: a.content for a in dashboard.render(plan)}


def _docs(plan: Plan, path: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(_files(plan)[path]))


def _bindings(plan: Plan) -> dict[str, str]:
    """ServiceAccount name -> the ClusterRole it is bound to."""
    bound = {}
    for doc in _docs(plan, dashboard.RBAC_PATH):
        if doc["kind"] == "ClusterRoleBinding":
            [subject] = doc["subjects"]
            assert subject["kind"] == "ServiceAccount"
            assert subject["namespace"] == dashboard.NAMESPACE
            bound[subject["name"]] = doc["roleRef"]["name"]
    return bound


def test_default_login_is_read_only(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    assert _bindings(plan) == {dashboard.VIEWER: "view"}
    accounts = {
        d["metadata"]["name"]
        for d in _docs(plan, dashboard.RBAC_PATH)
        if d["kind"] == "ServiceAccount"
    }
    assert accounts == {dashboard.VIEWER}
    everything = "".join(_files(plan).values())
    assert "cluster-admin" not in everything.replace("no cluster-admin", "")


def test_headlamp_itself_gets_no_cluster_admin(plan_of: PlanOf) -> None:
    values = yaml.safe_load(_files(plan_of(spec.EXAMPLE_YAML))[dashboard.VALUES_PATH])
    # The chart's default binds Headlamp's own account to cluster-admin.
    assert values["clusterRoleBinding"] == {"create": False}


def test_admin_login_only_when_asked(plan_of: PlanOf) -> None:
    plan = plan_of(ADMIN_ON)
    assert _bindings(plan) == {dashboard.VIEWER: "view", dashboard.ADMIN: "cluster-admin"}
    assert "WARNING" in _files(plan)[dashboard.RBAC_PATH]


def test_no_long_lived_token_secret(plan_of: PlanOf) -> None:
    for text in (spec.EXAMPLE_YAML, ADMIN_ON):
        plan = plan_of(text)
        for path in _files(plan):
            if path.endswith(".yaml") and path != dashboard.VALUES_PATH:
                kinds = {d["kind"] for d in _docs(plan, path)}
                assert "Secret" not in kinds
        assert "kubernetes.io/service-account-token" not in "".join(_files(plan).values())
        assert all(not a.secret for a in dashboard.render(plan))


def test_route_reaches_the_headlamp_service_through_the_dashboard_listener(
    plan_of: PlanOf,
) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    values = yaml.safe_load(_files(plan)[dashboard.VALUES_PATH])
    https, redirect = _docs(plan, dashboard.ROUTE_PATH)
    assert (
        https["spec"]["hostnames"]
        == redirect["spec"]["hostnames"]
        == ["kube001-dashboard.example.com"]
    )
    [backend] = https["spec"]["rules"][0]["backendRefs"]
    assert backend == {"name": values["fullnameOverride"], "port": values["service"]["port"]}
    assert https["metadata"]["namespace"] == dashboard.NAMESPACE
    manifest = {a.path: a.content for a in RENDERERS["gateway"](plan)}[gateway.MANIFEST_PATH]
    gw = next(d for d in yaml.safe_load_all(manifest) if d["kind"] == "Gateway")
    listeners = {item["name"]: item for item in gw["spec"]["listeners"]}
    [parent] = https["spec"]["parentRefs"]
    assert (parent["name"], parent["namespace"]) == (
        gw["metadata"]["name"],
        gw["metadata"]["namespace"],
    )
    listener = listeners[parent["sectionName"]]
    assert listener["protocol"] == "HTTPS"
    assert listener["hostname"] == "kube001-dashboard.example.com"
    # The listener admits routes from the dashboard's namespace, where the route lives.
    labels = listener["allowedRoutes"]["namespaces"]["selector"]["matchLabels"]
    assert labels["kubernetes.io/metadata.name"] == https["metadata"]["namespace"]
    [redirect_parent] = redirect["spec"]["parentRefs"]
    assert listeners[redirect_parent["sectionName"]]["protocol"] == "HTTP"
    [rule] = redirect["spec"]["rules"]
    assert rule["filters"][0]["requestRedirect"]["scheme"] == "https"


def test_no_route_without_host_or_gateway(plan_of: PlanOf) -> None:
    no_host = spec.EXAMPLE_YAML.replace(
        "dashboard: {host: kube001-dashboard.example.com}", "dashboard: {enabled: true}"
    )
    no_gateway = spec.EXAMPLE_YAML.replace("gateway: {enabled: true}", "gateway: {enabled: false}")
    for text in (no_host, no_gateway):
        files = _files(plan_of(text))
        assert set(files) == {dashboard.VALUES_PATH, dashboard.RBAC_PATH}
        assert "port-forward" in files[dashboard.VALUES_PATH]


def test_dashboard_off_renders_nothing(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace(
        "dashboard: {host: kube001-dashboard.example.com}", "dashboard: {enabled: false}"
    )
    assert _files(plan_of(text)) == {}
