"""Every refused input, with the message the user sees (not just the exception type)."""

from __future__ import annotations

from ipaddress import IPv6Network
from typing import Any

import pytest

from kube6 import spec as spec_module
from kube6.errors import PlanError, SpecError
from kube6.plan import make_plan

NODE = {"name": "node0001", "address": "2001:db8:1234:5678::1"}


def spec_with(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"prefix": "2001:db8:1234:5678::/64", "nodes": [dict(NODE)]}
    data.update(changes)
    return data


def node_with(**changes: Any) -> dict[str, Any]:
    return spec_with(nodes=[{**NODE, **changes}])


SPEC_REFUSALS = [
    ("ipv4 prefix", spec_with(prefix="192.0.2.0/24"), "prefix: '192.0.2.0/24' is an IPv4 prefix"),
    (
        "ipv4 address",
        node_with(address="192.0.2.1"),
        "nodes[0].address: '192.0.2.1' is an IPv4 address",
    ),
    (
        "ipv4-mapped",
        node_with(address="::ffff:192.0.2.1"),
        "'::ffff:192.0.2.1' is an IPv4-mapped address",
    ),
    ("link-local", node_with(address="fe80::1"), "'fe80::1' is a link-local address"),
    ("multicast", node_with(address="ff02::1"), "'ff02::1' is a multicast address"),
    ("loopback", node_with(address="::1"), "'::1' is the loopback address"),
    ("unspecified", node_with(address="::"), "'::' is the unspecified address"),
    ("link-local prefix", spec_with(prefix="fe80::/64"), "'fe80::/64' is a link-local prefix"),
    ("multicast prefix", spec_with(prefix="ff00::/64"), "'ff00::/64' is a multicast prefix"),
    (
        "host bits",
        spec_with(prefix="2001:db8:1234:5678::1/64"),
        "has host bits set; did you mean '2001:db8:1234:5678::/64'?",
    ),
    ("no length", spec_with(prefix="2001:db8::"), "'2001:db8::' has no prefix length"),
    (
        "not an address",
        node_with(address="node1.example"),
        "'node1.example' is not an IPv6 address",
    ),
    ("node name", node_with(name="Node_1"), "nodes[0].name: 'Node_1' is not a DNS-1123 label"),
    ("long node name", node_with(name="a" * 64), "is not a DNS-1123 label"),
    ("unknown key", spec_with(prefx="x"), "unknown key 'prefx'; did you mean 'prefix'?"),
    (
        "unknown nested key",
        node_with(adress="2001:db8::1"),
        "nodes[0]: unknown key 'adress'; did you mean 'address'?",
    ),
    ("no nodes", spec_with(nodes=[]), "nodes: "),
    (
        "bad role",
        node_with(roles=["master"]),
        "nodes[0].roles[0]: must be one of 'control-plane', 'worker'; got 'master'",
    ),
    ("no roles", node_with(roles=[]), "a node needs at least one role"),
    ("bgp without peer", spec_with(routing="bgp"), "routing: bgp needs a bgp section"),
    (
        "router id",
        spec_with(
            routing="bgp", bgp={"peer": "2001:db8::ff", "peer_as": 65000, "router_id": "0.0.0.0"}
        ),
        "is not a valid BGP identifier",
    ),
    (
        "router id text",
        spec_with(
            routing="bgp", bgp={"peer": "2001:db8::ff", "peer_as": 65000, "router_id": "node1"}
        ),
        "router_id 'node1' is not a BGP identifier",
    ),
    ("ssh injection", node_with(ssh="root@host; rm -rf /"), "is not an SSH target"),
    ("interface injection", node_with(interface="eth0; reboot"), "nodes[0].interface"),
    (
        "dns64 without prefix",
        spec_with(dns={"dns64": "coredns"}),
        "dns64: coredns needs nat64_prefix",
    ),
    (
        "email",
        spec_with(addons={"cert_manager": {"email": "not-an-email"}}),
        "'not-an-email' is not an e-mail address",
    ),
    (
        "dashboard host",
        spec_with(addons={"dashboard": {"host": "bad host!"}}),
        "'bad host!' is not a DNS name",
    ),
    ("top level list", [], "the top level must be a mapping"),
]


@pytest.mark.parametrize(
    ("case", "data", "message"), SPEC_REFUSALS, ids=[c[0] for c in SPEC_REFUSALS]
)
def test_spec_refusals_say_what_and_where(case: str, data: Any, message: str) -> None:
    if not isinstance(data, dict):
        with pytest.raises(SpecError) as info:
            spec_module.parse_text("- a\n- b\n")
    else:
        with pytest.raises(SpecError) as info:
            spec_module.from_data(data)
    assert message in str(info.value)


PLAN_REFUSALS = [
    (
        "duplicate names",
        spec_with(nodes=[NODE, {"name": "node0001", "address": "2001:db8:1234:5678::2"}]),
        "[node-names-unique] node name(s) used more than once: node0001",
    ),
    (
        "duplicate addresses",
        spec_with(nodes=[NODE, {"name": "node0002", "address": "2001:db8:1234:5678::1"}]),
        "[node-addresses-unique] node address(es) used more than once: 2001:db8:1234:5678::1",
    ),
    (
        "no control plane",
        node_with(roles=["worker"]),
        "[control-plane-present] none of the 1 node(s) has the control-plane role",
    ),
    (
        "prefix too small",
        spec_with(prefix="2001:db8::/124", routing="routed"),
        "[prefix-size] prefix 2001:db8::/124 has 16 addresses",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "message"), PLAN_REFUSALS, ids=[c[0] for c in PLAN_REFUSALS]
)
def test_plan_refusals_name_the_rule(case: str, data: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError) as info:
        make_plan(spec_module.from_data(data))
    assert message in str(info.value)


RULE_FAILURES = [
    (
        "node inside pods",
        node_with(address="2001:db8:1234:5678:8:2:0:1"),
        "node-address-outside-ranges",
        "node0001 (2001:db8:1234:5678:8:2:0:1) is inside pool",
    ),
    (
        "node inside services",
        node_with(address="2001:db8:1234:5678:8:3:0:5"),
        "node-address-outside-ranges",
        "is inside services 2001:db8:1234:5678:8:3::/112",
    ),
    (
        "services too big",
        spec_with(network={"services": "2001:db8:1234:5678:9::/96"}),
        "service-prefix-length",
        "services /96 has 32 host bits; kubeadm allows at most 20",
    ),
    (
        "services too small for dns",
        spec_with(network={"services": "2001:db8:1234:5678:9::/125"}),
        "service-room-for-dns",
        "services /125 has only 7 addresses",
    ),
    (
        "node mask too long",
        spec_with(network={"node_mask": 121}),
        "node-mask-vs-pods",
        "node mask /121 with pods /104: the difference 17",
    ),
    (
        "node mask shorter than pods",
        spec_with(network={"node_mask": 100}),
        "node-mask-vs-pods",
        "the difference -4 must be 0 to 16",
    ),
    (
        "block too big",
        spec_with(network={"block_size": 112}),
        "block-size-range",
        "Calico block /112 is outside the IPv6 range /116-/128",
    ),
    (
        "overlap",
        spec_with(network={"services": "2001:db8:1234:5678:8:2::/112"}),
        "ranges-disjoint",
        "overlapping ranges",
    ),
    (
        "pods outside prefix",
        spec_with(network={"pods": "2001:db8:9999::/104"}),
        "ranges-inside-prefix",
        "pool default-ipv6-ippool 2001:db8:9999::/104 is outside its link prefix",
    ),
    (
        "node inside load balancers",
        node_with(address="2001:db8:1234:5678:8:4:0:7"),
        "node-address-outside-ranges",
        "is inside load balancers 2001:db8:1234:5678:8:4::/120",
    ),
    (
        "load balancers overlap services",
        spec_with(network={"load_balancers": "2001:db8:1234:5678:8:3::/120"}),
        "ranges-disjoint",
        "services 2001:db8:1234:5678:8:3::/112 and load balancers 2001:db8:1234:5678:8:3::/120",
    ),
    (
        "load balancer size too big",
        spec_with(network={"load_balancer_size": 104}),
        "load-balancer-size",
        "network.load_balancer_size 104 is outside /112-/128",
    ),
    (
        "load balancer range too big",
        spec_with(network={"load_balancers": "2001:db8:1234:5678:9::/96"}),
        "load-balancer-size",
        "network.load_balancers 2001:db8:1234:5678:9::/96 is outside /112-/128",
    ),
    (
        "load balancers off link",
        spec_with(network={"load_balancers": "2001:db8:9999::/120"}),
        "load-balancers-reachable",
        "LoadBalancer range 2001:db8:9999::/120 lies outside the nodes' prefixes "
        "(2001:db8:1234:5678::/64): the provider's router asks by neighbour solicitation",
    ),
    (
        "load balancers off the routed prefix",
        spec_with(routing="routed", network={"load_balancers": "2001:db8:9999::/120"}),
        "load-balancers-reachable",
        "the provider routes only the nodes' own prefixes to them",
    ),
    (
        "load balancers hold the subnet-router anycast address",
        spec_with(network={"load_balancers": "2001:db8:1234:5678::/120"}),
        "load-balancers-avoid-routers",
        "holds the Subnet-Router anycast address of 2001:db8:1234:5678::/64 2001:db8:1234:5678::",
    ),
    (
        "load balancers hold the bgp peer",
        spec_with(
            routing="bgp",
            bgp={"peer": "2001:db8:7777::fe", "peer_as": 65000},
            network={"load_balancers": "2001:db8:7777::/120"},
        ),
        "load-balancers-avoid-routers",
        "holds the BGP peer 2001:db8:7777::fe",
    ),
    (
        "node off link",
        node_with(address="2001:db8:9999::1"),
        "node-address-in-prefix",
        "node0001 (2001:db8:9999::1) is not in its link prefix",
    ),
    (
        "dns outside",
        spec_with(network={"dns": "2001:db8:1234:5678:9::a"}),
        "dns-inside-services",
        "is not a usable address of the service range",
    ),
    (
        "max pods",
        spec_with(network={"block_size": 124, "pods": "2001:db8:1234:5678:8:2::/124"}),
        "max-pods-per-block",
        "maxPods 16 fits",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "rule", "message"), RULE_FAILURES, ids=[c[0] for c in RULE_FAILURES]
)
def test_rule_failures_carry_numbers_and_a_fix(
    case: str, data: dict[str, Any], rule: str, message: str
) -> None:
    plan = make_plan(spec_module.from_data(data))
    matching = [r for r in plan.rules if r.name == rule]
    assert matching, f"rule {rule} not checked"
    assert any(message in r.message for r in matching), [r.message for r in matching]
    if "fits" not in message:
        assert not plan.ok
        assert any(r.fix for r in matching if not r.ok)


def test_even_control_planes_warn() -> None:
    nodes = [
        {"name": f"cp{i}", "address": f"2001:db8:1234:5678::{i + 1}", "roles": ["control-plane"]}
        for i in range(2)
    ]
    plan = make_plan(spec_module.from_data(spec_with(nodes=nodes)))
    [quorum] = [r for r in plan.rules if r.name == "etcd-quorum"]
    assert quorum.grade == "warn"
    assert "even etcd member count" in quorum.message
    assert plan.ok


def test_unique_local_pods_warn_about_nat66() -> None:
    plan = make_plan(
        spec_module.from_data(
            spec_with(
                prefix="fd12:3456:789a:1::/64",
                nodes=[{"name": "a", "address": "fd12:3456:789a:1::1"}],
            )
        )
    )
    assert plan.nat_outgoing is True
    [nat] = [r for r in plan.rules if r.name == "nat-outgoing"]
    assert nat.grade == "warn"
    assert "NAT66" in nat.message


def test_well_known_nat64_prefix_is_accepted() -> None:
    spec = spec_module.from_data(
        spec_with(dns={"nat64_prefix": "64:ff9b::/96", "dns64": "coredns"})
    )
    assert str(spec.dns.nat64_prefix) == "64:ff9b::/96"
    assert make_plan(spec).dns_settings.coredns_dns64


def test_fixed_router_id_fails_the_plan() -> None:
    data = spec_with(
        routing="bgp", bgp={"peer": "2001:db8::ff", "peer_as": 65000, "router_id": "192.0.2.1"}
    )
    plan = make_plan(spec_module.from_data(data))
    assert [r.name for r in plan.failures] == ["bgp-router-id"]


def test_load_balancers_are_planned_beside_the_services_and_bgp_may_put_them_anywhere() -> None:
    plan = make_plan(spec_module.from_data(spec_with()))
    assert str(plan.load_balancers.cidr) == "2001:db8:1234:5678:8:4::/120"
    assert plan.load_balancers.size == 256
    assert plan.load_balancers.block_size == 120
    sized = make_plan(spec_module.from_data(spec_with(network={"load_balancer_size": 112})))
    assert str(sized.load_balancers.cidr) == "2001:db8:1234:5678:8:4::/112"
    assert sized.load_balancers.block_size == 116  # Calico's largest IPv6 block
    # bgp announces the range: outside the node prefixes is fine there.
    bgp = make_plan(
        spec_module.from_data(
            spec_with(
                routing="bgp",
                bgp={"peer": "2001:db8:1234:5678::fffe", "peer_as": 65000},
                network={"load_balancers": "2001:db8:9999::/120"},
            )
        )
    )
    assert bgp.ok, [str(f) for f in bgp.failures]
    assert bgp.load_balancers.link is None
    assert bgp.bgp is not None
    assert IPv6Network("2001:db8:9999::/120") in bgp.bgp.advertise


def test_only_the_workers_of_the_link_answer_for_the_load_balancer_range() -> None:
    """ndp-proxy: a Service that keeps client addresses (the gateway's, Local) has pods on
    workers only; a control plane answering for the range would take its traffic and drop it."""
    nodes = [
        {"name": "cp1", "address": "2001:db8:1234:5678::11", "roles": ["control-plane"]},
        {"name": "w1", "address": "2001:db8:1234:5678::21", "roles": ["worker"]},
        {"name": "w2", "address": "2001:db8:1234:5678::22", "roles": ["worker"]},
        # On another link: it cannot answer for the first link's range.
        {"name": "w3", "address": "2001:db8:1234:9999::31", "roles": ["worker"]},
    ]
    data = spec_with(nodes=nodes)
    data["nodes"][3]["prefix"] = "2001:db8:1234:9999::/64"
    plan = make_plan(spec_module.from_data(data))
    lb = plan.load_balancers.cidr
    answering = [n.name for n in plan.nodes if any(r.cidr == lb for r in n.ndp_rules)]
    assert answering == ["w1", "w2"]
    reachable = {r.name: r for r in plan.rules}["load-balancers-reachable"]
    assert reachable.ok
    assert "w1, w2" in reachable.message
    # The range's link without a worker: nothing would answer, the plan says so.
    data["nodes"] = [data["nodes"][0], data["nodes"][3]]
    failed = {r.name: r for r in make_plan(spec_module.from_data(data)).rules}
    rule = failed["load-balancers-reachable"]
    assert rule.grade == "fail", rule
    assert "2001:db8:1234:5678::/64, which has no worker node" in rule.message
    assert "worker role" in (rule.fix or "")
    # No worker at all (nothing runs pods yet): a warning.
    data["nodes"] = [data["nodes"][0]]
    rule = {r.name: r for r in make_plan(spec_module.from_data(data)).rules}[
        "load-balancers-reachable"
    ]
    assert rule.grade == "warn", rule
