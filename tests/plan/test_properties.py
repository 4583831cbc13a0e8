"""Properties of the planner over prefixes /48-/96, 1-5,000 nodes and every routing mode.

The invariants are checked here from first principles (kubeadm, controller-manager and Calico
limits), not by reading the planner's own rule list, so a planner bug cannot hide itself.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv6Network
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kube6 import spec as spec_module
from kube6.errors import PlanError
from kube6.plan import make_plan
from kube6.plan.model import Plan, RuleResult

KNOWN_RULES = {
    "control-plane-present",
    "gateway-address",
    "etcd-quorum",
    "ndp-proxy-capacity",
    "routed-prefix-per-node",
    "node-names-unique",
    "node-addresses-unique",
    "ranges-disjoint",
    "node-address-outside-ranges",
    "node-address-in-prefix",
    "ranges-inside-prefix",
    "dns-inside-services",
    "service-prefix-length",
    "service-room-for-dns",
    "node-mask-vs-pods",
    "block-size-range",
    "block-inside-pool",
    "blocks-for-nodes",
    "pods-per-node",
    "max-pods-per-block",
    "nat-outgoing",
    "api-sources-open",
    "control-plane-endpoint",
    "ipv4-only-sources",
    "prefix-size",
    "bgp-router-id",
    "acme-solver",
    "load-balancer-size",
    "load-balancers-reachable",
    "load-balancers-avoid-routers",
}


def network_overrides(draw: st.DrawFn, base: int, length: int) -> dict[str, Any]:
    """Random overrides of planned values, some of which break a rule on purpose."""
    network: dict[str, Any] = {}
    if draw(st.booleans()):
        network["block_size"] = draw(st.integers(min_value=110, max_value=128))
    if draw(st.booleans()):
        network["node_mask"] = draw(st.integers(min_value=96, max_value=128))
    if draw(st.booleans()):
        slen = draw(st.integers(min_value=100, max_value=126))
        network["services"] = str(IPv6Network((base + (1 << (127 - length)), slen), strict=False))
    choice = draw(st.integers(min_value=0, max_value=3))
    if choice == 1:
        network["load_balancer_size"] = draw(st.integers(min_value=100, max_value=128))
    elif choice == 2:
        # Anywhere in the prefix, or just outside it, of any size: some break a rule on purpose.
        llen = draw(st.integers(min_value=104, max_value=128))
        offset = draw(st.integers(min_value=0, max_value=(1 << (129 - length)) - 1))
        network["load_balancers"] = str(IPv6Network((base + offset, llen), strict=False))
    return network


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    length = draw(st.integers(min_value=48, max_value=96))
    high = draw(st.integers(min_value=0, max_value=(1 << (length - 32)) - 1))
    base = (0x20010DB8 << 96) | (high << (128 - length))
    prefix = IPv6Network((base, length))
    count = draw(st.integers(min_value=1, max_value=5000))
    routing = draw(st.sampled_from(["ndp-proxy", "routed", "bgp"]))
    control = draw(st.integers(min_value=1, max_value=min(count, 5)))
    nodes = [
        {
            "name": f"n{i}",
            "address": str(ipaddress.IPv6Address(base + 1 + i)),
            "roles": ["control-plane", "worker"] if i < control else ["worker"],
        }
        for i in range(count)
    ]
    data: dict[str, Any] = {"prefix": str(prefix), "routing": routing, "nodes": nodes}
    if routing == "bgp":
        data["bgp"] = {"peer": "2001:db8:ffff::1", "peer_as": 65000}
    network = network_overrides(draw, base, length)
    if network:
        data["network"] = network
    return data


def independent_violations(plan: Plan) -> list[str]:
    """Every limit that the real programs enforce, recomputed here."""
    problems = []
    s = plan.services.prefixlen
    if s < 108:
        problems.append("service range larger than /108")
    if (1 << (128 - s)) - 1 < 10:
        problems.append("no room for DNS")
    if plan.allocate_node_cidrs and not (
        plan.pods.prefixlen <= plan.node_mask <= plan.pods.prefixlen + 16
    ):
        problems.append("node mask vs pods")
    for pool in plan.pools:
        if not 116 <= pool.block_size <= 128 or pool.block_size < pool.cidr.prefixlen:
            problems.append("block size")
        if pool.cidr.overlaps(plan.services):
            problems.append("pool overlaps services")
        users = len(plan.nodes) if pool.nodes is None else len(pool.nodes)
        if (
            pool.block_size >= pool.cidr.prefixlen
            and (1 << (pool.block_size - pool.cidr.prefixlen)) < users
        ):
            problems.append("not enough blocks")
        if not pool.cidr.subnet_of(plan.pods):
            problems.append("pool outside podSubnet")
    for a in plan.pools:
        for b in plan.pools:
            if a is not b and a.cidr.overlaps(b.cidr):
                problems.append("pools overlap")
    lb = plan.load_balancers.cidr
    if not 112 <= lb.prefixlen <= 128:
        problems.append("load balancer size")
    block = plan.load_balancers.block_size
    if not 116 <= block <= 128 or block < lb.prefixlen:
        problems.append("load balancer block size")
    if lb.overlaps(plan.services) or any(lb.overlaps(p.cidr) for p in plan.pools):
        problems.append("load balancers overlap a range")
    links = {n.link_prefix for n in plan.nodes}
    if plan.routing != "bgp" and not any(lb.subnet_of(link) for link in links):
        problems.append("load balancers outside every link")
    if any(link.network_address in lb for link in links):
        problems.append("load balancers hold a subnet-router anycast address")
    if plan.bgp is not None and plan.bgp.peer in lb:
        problems.append("load balancers hold the BGP peer")
    if plan.load_balancers.gateway is not None and plan.load_balancers.gateway not in lb:
        problems.append("gateway address outside the load balancers")
    answering = [n for n in plan.nodes for r in n.ndp_rules if r.cidr == lb]
    if plan.routing == "ndp-proxy" and plan.workers and not answering:
        problems.append("no node answers for the load balancers")
    if plan.routing == "ndp-proxy":
        # The service range outlives any one control plane: each one on its link answers.
        link = plan.first_control_plane.link_prefix
        expected = {n.name for n in plan.control_plane_nodes if n.link_prefix == link}
        answer = {n.name for n in plan.nodes for r in n.ndp_rules if r.cidr == plan.services}
        if answer != expected:
            problems.append("service range not answered by every control plane of its link")
    if plan.dns not in plan.services:
        problems.append("dns outside services")
    for node in plan.nodes:
        if (
            node.address in plan.services
            or node.address in lb
            or any(node.address in p.cidr for p in plan.pools)
        ):
            problems.append(f"node {node.name} inside a range")
        if plan.routing == "ndp-proxy":
            if node.address not in node.link_prefix:
                problems.append("node off its link")
            for rule in node.ndp_rules:
                if not rule.cidr.subnet_of(node.link_prefix):
                    problems.append("ndp rule outside link")
    names = [n.name for n in plan.nodes]
    if len(set(names)) != len(names):
        problems.append("duplicate names")
    if not plan.control_plane_nodes:
        problems.append("no control plane")
    return problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_accepted_plans_satisfy_every_rule_and_refusals_name_one(data: dict[str, Any]) -> None:
    spec = spec_module.from_data(data)
    try:
        plan = make_plan(spec)
    except PlanError as exc:
        assert exc.failures
        for failure in exc.failures:
            assert isinstance(failure, RuleResult)
            assert failure.name in KNOWN_RULES
            assert failure.fix
        return
    for rule in plan.rules:
        assert rule.name in KNOWN_RULES, rule.name
    if plan.ok:
        assert independent_violations(plan) == []
    else:
        assert all(f.name in KNOWN_RULES and f.fix for f in plan.failures)


@settings(max_examples=60, deadline=None)
@given(specs())
def test_defaults_alone_always_give_a_valid_plan(data: dict[str, Any]) -> None:
    data.pop("network", None)
    plan = make_plan(spec_module.from_data(data))
    assert plan.ok, [str(f) for f in plan.failures]
    assert independent_violations(plan) == []


@settings(max_examples=40, deadline=None)
@given(specs())
def test_planning_is_deterministic(data: dict[str, Any]) -> None:
    spec = spec_module.from_data(data)
    try:
        first = make_plan(spec)
    except PlanError:
        return
    assert make_plan(spec) == first


def test_the_independent_checker_can_fail() -> None:
    import dataclasses

    plan = make_plan(spec_module.example())
    broken = dataclasses.replace(
        plan, services=IPv6Network("2001:db8:1234:5678:8:3::/100"), node_mask=124
    )
    assert {"service range larger than /108", "node mask vs pods"} <= set(
        independent_violations(broken)
    )
