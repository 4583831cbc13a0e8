"""`link-model`: the provider's link model from recorded link facts, and each routing mode's
verdict on it (fits, contradicts with the spec line to change, unknown with what is missing)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from kube6.checks import Status
from kube6.checks.link import NAME, classify_node
from kube6.checks.model import CheckResult
from kube6.facts import HostFacts, parse_routes
from kube6.facts.link import LinkFacts, RaPrefix, parse_listen, parse_neighbours
from kube6.facts.link_model import classify
from kube6.init import FITTING
from kube6.modes import LinkModel, RoutingMode
from kube6.plan.model import Plan
from kube6.routing import STRATEGIES, proposed_mode
from tests.checks.test_checks import PREFIX, healthy, plan_from, results

DATA = Path(__file__).parent.parent / "facts" / "data"
UNASSIGNED = "2001:db8:1234:5678::5ca1:ab1e"
TWO_NODES = [
    {"name": "node0001", "address": "2001:db8:1234:5678::1"},
    {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
]


def data(name: str) -> str:
    return (DATA / name).read_text()


def listened(name: str, **changes: object) -> HostFacts:
    """The example host, having listened on eth0 (recorded in the lab)."""
    link = LinkFacts("eth0", PREFIX, listen=parse_listen(data(name)), rdisc6=())
    return healthy(link=replace(link, **changes))  # type: ignore[arg-type]


def plan(routing: RoutingMode) -> Plan:
    bgp = {"bgp": {"peer": "2001:db8:1234:5678::fffe", "peer_as": 65000}}
    return plan_from(
        routing=str(routing), nodes=TWO_NODES, **(bgp if routing is RoutingMode.BGP else {})
    )


def verdict(facts: HostFacts, routing: RoutingMode) -> CheckResult:
    return results(facts, plan(routing))[NAME]


def test_the_router_soliciting_an_unassigned_address_is_on_link() -> None:
    found = classify_node(
        plan(RoutingMode.NDP_PROXY),
        plan(RoutingMode.NDP_PROXY).nodes[0],
        listened("link-listen-lab-on-link.txt"),
    )
    assert found.model is LinkModel.ON_LINK
    assert UNASSIGNED in found.why
    assert any("the router fe80::1 (3e:63:91:54:2a:a0) solicited" in s for s in found.seen)
    assert "model: on-link" in found.evidence


def test_a_packet_for_an_unassigned_address_reaching_us_is_routed() -> None:
    p = plan(RoutingMode.ROUTED)
    found = classify_node(p, p.nodes[0], listened("link-listen-lab-routed.txt"))
    assert found.model is LinkModel.ROUTED
    assert "arrived at this host's MAC" in found.why


def test_another_hosts_solicitation_decides_nothing() -> None:
    # node0002 of the routed lab hears node0001 (not the gateway) soliciting the address.
    p = plan(RoutingMode.ROUTED)
    found = classify_node(p, p.nodes[1], listened("link-listen-lab-routed-other-node.txt"))
    assert found.model is LinkModel.UNKNOWN
    assert any("not the default gateway" in s for s in found.seen)
    assert any("nobody knocked" in m for m in found.missing)


def test_the_gateways_mac_identifies_the_router_under_another_address() -> None:
    # A router that solicits from its own link-local while hosts use a gateway address of it.
    facts = listened(
        "link-listen-lab-routed-other-node.txt",
        neighbours=parse_neighbours('[{"dst":"fe80::1","lladdr":"96:14:76:a6:ec:c1"}]'),
    )
    p = plan(RoutingMode.ROUTED)
    assert classify_node(p, p.nodes[1], facts).model is LinkModel.ON_LINK


def test_solicitations_for_node_addresses_decide_nothing() -> None:
    text = "listen eth0 aa:bb 4\nns 3e:63 fe80::1 2001:db8:1234:5678::2 3\ndone 3\n"
    facts = healthy(link=LinkFacts("eth0", PREFIX, listen=parse_listen(text)))
    p = plan(RoutingMode.ROUTED)
    assert classify_node(p, p.nodes[0], facts).model is LinkModel.UNKNOWN


def test_packets_for_pods_or_services_decide_nothing() -> None:
    # In ndp-proxy mode the router sends pod traffic here once ndppd answered: not "routed".
    p = plan(RoutingMode.NDP_PROXY)
    pod = p.pools[0].cidr.network_address + 5
    text = f"listen eth0 aa:bb 4\nhost 3e:63 2001:db8:ffff::10 {pod} 3\ndone 3\n"
    facts = healthy(link=LinkFacts("eth0", PREFIX, listen=parse_listen(text)))
    assert classify_node(p, p.nodes[0], facts).model is LinkModel.UNKNOWN


def test_router_advertisement_flags() -> None:
    radvd = listened("link-listen-radvd.txt")
    assert classify(radvd, "eth0", PREFIX, ()).model is LinkModel.ON_LINK
    # The same router advertising the prefix with L=0 is only a hint.
    off = RaPrefix(IPv6Address("fe80::1"), PREFIX, on_link=False, autonomous=True)
    facts = healthy(link=LinkFacts("eth0", PREFIX, rdisc6=(off,)))
    found = classify(facts, "eth0", PREFIX, ())
    assert found.model is LinkModel.UNKNOWN
    assert "L=0" in found.why


def test_the_kernels_route_from_an_ra_is_on_link() -> None:
    # Recorded: a host that took radvd's L=1 prefix; the kernel's route has a lifetime.
    routes = parse_routes(data("ip-route-radvd-on-link.json"))
    facts = healthy(routes=routes, link=LinkFacts("eth0", PREFIX))
    found = classify(facts, "eth0", PREFIX, ())
    assert found.model is LinkModel.ON_LINK
    assert "route from its RA" in found.why


def test_a_missing_listener_is_unknown_evidence() -> None:
    facts = healthy(
        link=LinkFacts(
            "eth0",
            PREFIX,
            unknown=(
                ("link listen", "python3 is not installed on node0001"),
                ("rdisc6", "rdisc6 is not installed on node0001"),
            ),
        )
    )
    found = classify(facts, "eth0", PREFIX, ())
    assert found.model is LinkModel.UNKNOWN
    assert "missing: link listen: python3 is not installed on node0001" in found.evidence
    assert "missing: rdisc6: rdisc6 is not installed on node0001" in found.evidence
    # The host's own /64 route is shown, and said to prove nothing.
    assert any("says nothing of the router" in s for s in found.seen)


def test_a_128_is_a_hint() -> None:
    facts = healthy(
        interfaces=(
            replace(
                healthy().interfaces[1],  # type: ignore[index]
                addresses=(
                    replace(healthy().interfaces[1].addresses[0], prefixlen=128),  # type: ignore[index]
                ),
            ),
        ),
        routes=(),
    )
    found = classify(facts, "eth0", PREFIX, ())
    assert found.model is LinkModel.UNKNOWN
    assert "/128" in found.why
    assert any("no default route" in m for m in found.missing)


# --- the verdict of each routing mode ---------------------------------------------------------


def test_each_model_proposes_one_mode() -> None:
    assert proposed_mode(LinkModel.ON_LINK) is RoutingMode.NDP_PROXY
    assert proposed_mode(LinkModel.ROUTED) is RoutingMode.ROUTED
    assert proposed_mode(LinkModel.UNKNOWN) is None
    for model in (LinkModel.ON_LINK, LinkModel.ROUTED):
        mode = proposed_mode(model)
        assert mode is not None
        assert model in STRATEGIES[mode].link_models
    # init proposes the same (it may not import the strategies: a lower layer).
    assert {m: proposed_mode(m) for m in LinkModel if proposed_mode(m)} == FITTING


@pytest.mark.parametrize(
    ("recorded", "routing", "status", "fix"),
    [
        ("link-listen-lab-on-link.txt", RoutingMode.NDP_PROXY, Status.OK, ""),
        ("link-listen-lab-on-link.txt", RoutingMode.ROUTED, Status.WARN, "routing: ndp-proxy"),
        ("link-listen-lab-on-link.txt", RoutingMode.BGP, Status.OK, ""),
        ("link-listen-lab-routed.txt", RoutingMode.ROUTED, Status.OK, ""),
        ("link-listen-lab-routed.txt", RoutingMode.NDP_PROXY, Status.WARN, "routing: routed"),
        ("link-listen-lab-routed.txt", RoutingMode.BGP, Status.OK, ""),
    ],
)
def test_the_spec_is_judged_against_the_model(
    recorded: str, routing: RoutingMode, status: Status, fix: str
) -> None:
    result = verdict(listened(recorded), routing)
    assert result.status is status, result
    assert result.fix == (f"set {fix} in kube6.yaml" if fix else "")
    model = "on-link" if "on-link" in recorded else "routed"
    assert result.message.startswith(f"{model}: ")
    assert result.evidence.splitlines()[0] == f"model: {model}"
    if status is Status.OK:
        assert f"routing {routing} fits" in result.message


def test_unknown_keeps_the_spec_and_says_what_is_missing() -> None:
    result = verdict(healthy(), RoutingMode.NDP_PROXY)  # listened, nothing knocked
    assert result.status is Status.OK
    assert result.message.startswith("unknown: ")
    assert "routing ndp-proxy is kept" in result.message
    assert "nobody knocked" in result.evidence


def test_a_listener_that_could_not_run_warns() -> None:
    facts = healthy(
        link=LinkFacts("eth0", PREFIX, unknown=(("link listen", "python3 is not installed"),))
    )
    result = verdict(facts, RoutingMode.ROUTED)
    assert result.status is Status.WARN
    assert "could not check" in result.message
    assert "python3 is not installed" in result.message
    assert "python3" in result.fix
    assert "missing: link listen: python3 is not installed" in result.evidence
    # Not gathered at all (no uplink given to gather): the same warning.
    assert verdict(healthy(link=None), RoutingMode.ROUTED).status is Status.WARN
