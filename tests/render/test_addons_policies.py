"""Default network policies, checked by evaluating them the way Calico does (ingress only).

`_verdict` walks the kube6 tier: policies by order, the first rule that matches decides, and a
tier whose policies select the pod but match nothing applies its defaultAction. Selectors are
the `all()` and `k == "v" && ...` forms the renderer writes; anything else fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import pytest
import yaml

from kube6 import spec
from kube6.components.calico import policies
from kube6.components.calico.api import CALICO_API
from kube6.components.gateway import render as gateway
from kube6.plan.model import Plan

PlanOf = Callable[[str], Plan]

OUTSIDE = IPv6Address("2001:db8:ffff::10")
ENVOY = {
    "projectcalico.org/namespace": gateway.CONTROLLER_NAMESPACE,
    "gateway.envoyproxy.io/owning-gateway-name": gateway.GATEWAY_NAME,
    "gateway.envoyproxy.io/owning-gateway-namespace": gateway.GATEWAY_NAMESPACE,
    "app.kubernetes.io/name": "envoy",
}
WEB = {"projectcalico.org/namespace": "default", "app": "web"}


def _docs(plan: Plan) -> list[dict[str, Any]]:
    [artifact] = policies.render(plan)
    assert artifact.path == policies.POLICIES_PATH
    return list(yaml.safe_load_all(artifact.content))


def _selects(selector: str, labels: dict[str, str]) -> bool:
    if selector == "all()":
        return True
    if selector.startswith("has(") and selector.endswith(")"):
        return selector[4:-1] in labels
    for term in selector.split("&&"):
        key, _, value = term.strip().partition(" == ")
        assert value[:1] == value[-1:] == '"', f"unexpected selector {selector!r}"
        if labels.get(key) != value[1:-1]:
            return False
    return True


def _rule_matches(rule: dict[str, Any], source: IPv6Address, port: int, proto: str) -> bool:
    if "protocol" in rule and rule["protocol"] != proto:
        return False
    nets = rule.get("source", {})
    if "nets" in nets and not any(source in ip_network(n) for n in nets["nets"]):
        return False
    if "notNets" in nets and any(source in ip_network(n) for n in nets["notNets"]):
        return False
    ports = rule.get("destination", {}).get("ports")
    return ports is None or port in ports


def _verdict(
    plan: Plan,
    labels: dict[str, str],
    source: IPv6Address,
    port: int,
    proto: str = "TCP",
    extra: list[dict[str, Any]] | None = None,
) -> str:
    """What the kube6 tier does with an ingress packet: "Pass", "Deny" or "not selected"."""
    docs = _docs(plan) + (extra or [])
    [tier] = [d for d in docs if d["kind"] == "Tier"]
    ordered = sorted(
        (d for d in docs if d["kind"] == "GlobalNetworkPolicy"), key=lambda d: d["spec"]["order"]
    )
    selected = False
    for policy in ordered:
        spec_ = policy["spec"]
        assert spec_["tier"] == tier["metadata"]["name"]
        if "Ingress" not in spec_["types"] or not _selects(spec_["selector"], labels):
            continue
        selected = True
        for rule in spec_.get("ingress", []):
            if _rule_matches(rule, source, port, proto):
                return str(rule["action"])
    return str(tier["spec"]["defaultAction"]) if selected else "not selected"


def test_resources_are_calico_crds_in_a_tier_of_their_own(plan_of: PlanOf) -> None:
    docs = _docs(plan_of(spec.EXAMPLE_YAML))
    assert {d["apiVersion"] for d in docs} == {CALICO_API}
    assert docs[0]["kind"] == "Tier", "the tier must exist before its policies"
    tier = docs[0]
    # Before the default tier (1,000,000) of Kubernetes NetworkPolicies, after the admin tier.
    assert 1000 < tier["spec"]["order"] < 1_000_000
    assert tier["spec"]["defaultAction"] == "Pass"
    for policy in docs[1:]:
        name = policy["metadata"]["name"]
        assert name.startswith(f"{tier['metadata']['name']}."), name
        assert policy["spec"]["types"] == ["Ingress"], "egress is never selected"
        assert "egress" not in policy["spec"]


def test_outside_traffic_to_ordinary_pods_is_denied(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    for port in (80, 443, 8080, 22):
        assert _verdict(plan, WEB, OUTSIDE, port) == "Deny"
    assert _verdict(plan, WEB, OUTSIDE, 53, "UDP") == "Deny"


def test_host_endpoints_are_never_selected(plan_of: PlanOf) -> None:
    # Calico host endpoints (off by default) carry no namespace label: SSH to a node must
    # never depend on these pod policies.
    plan = plan_of(spec.EXAMPLE_YAML)
    assert _verdict(plan, {"kubernetes.io/hostname": "node0001"}, OUTSIDE, 22) == "not selected"


def test_cluster_traffic_passes_on_unchanged(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    pod = ip_address(int(plan.pools[0].cidr.network_address) + 7)
    assert isinstance(pod, IPv6Address)
    for source in (pod, plan.nodes[0].address, plan.api):
        for labels in (WEB, ENVOY):
            assert _verdict(plan, labels, source, 8080) == "Pass", source


def test_the_gateway_is_reachable_on_envoys_listener_ports_only(plan_of: PlanOf) -> None:
    plan = plan_of(
        spec.EXAMPLE_YAML.replace(
            "gateway: {enabled: true}", "gateway: {enabled: true, controller: envoy-gateway}"
        )
    )
    for listener in (80, 443):
        assert _verdict(plan, ENVOY, OUTSIDE, gateway.container_port(listener)) == "Pass"
    # Envoy's stats/readiness ports and anything else stay closed to the internet.
    for port in (19001, 19003, 22):
        assert _verdict(plan, ENVOY, OUTSIDE, port) == "Deny"
    # Another Gateway's Envoy pods (same namespace, other owner) are not opened by kube6.
    other = {**ENVOY, "gateway.envoyproxy.io/owning-gateway-name": "other"}
    assert _verdict(plan, other, OUTSIDE, 10443) == "Deny"


def test_no_gateway_no_exception(plan_of: PlanOf) -> None:
    plan = plan_of(
        spec.EXAMPLE_YAML.replace("gateway: {enabled: true}", "gateway: {enabled: false}")
    )
    names = [d["metadata"]["name"] for d in _docs(plan)]
    assert policies.GATEWAY_POLICY not in names
    assert _verdict(plan, ENVOY, OUTSIDE, 10443) == "Deny"


@pytest.mark.parametrize("scenario_name", ["own-prefixes-bgp", "ha-3cp-5w"])
def test_every_pool_and_node_is_trusted(
    golden_plan: Callable[[str], Plan], scenario_name: str
) -> None:
    plan = golden_plan(scenario_name)
    trusted = [ip_network(n) for n in policies.trusted_sources(plan)]
    for pool in plan.pools:
        assert pool.cidr in trusted
        inside = ip_address(int(pool.cidr.network_address) + 1)
        assert isinstance(inside, IPv6Address)
        assert _verdict(plan, WEB, inside, 8080) == "Pass"
    assert plan.services in trusted
    for node in plan.nodes:
        assert IPv6Network(f"{node.address}/128") in trusted
        assert _verdict(plan, WEB, node.address, 8080) == "Pass"
    # A neighbour in the same /64 that is not a node is outside the cluster.
    stranger = ip_address(int(plan.nodes[0].address) + 0x1000)
    assert isinstance(stranger, IPv6Address)
    assert _verdict(plan, WEB, stranger, 8080) == "Deny"


def test_the_file_explains_how_to_open_a_port(plan_of: PlanOf) -> None:
    [artifact] = policies.render(plan_of(spec.EXAMPLE_YAML))
    example = "\n".join(
        line.removeprefix("#   ")
        for line in artifact.content.splitlines()
        if line.startswith("#   ") and not line.startswith("#   kube6.")
    )
    start = example.index("apiVersion:")
    documented = yaml.safe_load(example[start:])
    assert documented["kind"] == "GlobalNetworkPolicy"
    assert documented["spec"]["tier"] == policies.TIER
    assert documented["spec"]["order"] < policies.EXTERNAL_ORDER
    # With the documented policy added, the shop's port opens and nothing else does.
    plan = plan_of(spec.EXAMPLE_YAML)
    shop = {"projectcalico.org/namespace": "web", "app": "shop"}
    assert _verdict(plan, shop, OUTSIDE, 8080) == "Deny"
    assert _verdict(plan, shop, OUTSIDE, 8080, extra=[documented]) == "Pass"
    assert _verdict(plan, shop, OUTSIDE, 8081, extra=[documented]) == "Deny"
    assert _verdict(plan, WEB, OUTSIDE, 8080, extra=[documented]) == "Deny"
