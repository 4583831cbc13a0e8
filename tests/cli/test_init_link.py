"""`kube6 init` proposes the routing mode from the provider's link model when the uplink shows
it, and says when its proposal is only a guess from the host's own routes."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv6Network

from kube6.facts.gather import HostFacts
from kube6.facts.link import LinkFacts, parse_listen
from kube6.init import propose_routing, render_text
from kube6.init_detect import answers_from_facts
from kube6.modes import LinkModel, RoutingMode
from tests.cli.test_init_detect import facts

PREFIX = IPv6Network("2001:db8:1234:5678::/64")
GATEWAY = "2001:db8:1234:5678::fe"  # the default route of ip-route-static.json


def host(listened: str | None) -> HostFacts:
    base = facts("ip-addr-multi.json", "ip-route-static.json")
    if listened is None:
        return base
    text = f"listen uplink0 52:54:00:00:00:01 4\n{listened}done 9\n"
    return replace(base, link=LinkFacts("uplink0", PREFIX, listen=parse_listen(text)))


def test_the_router_soliciting_proposes_ndp_proxy() -> None:
    answers = answers_from_facts(
        host(f"ns 3e:63:91:54:2a:a0 {GATEWAY} 2001:db8:1234:5678::5ca1:ab1e 3\n")
    )
    assert answers.routing is RoutingMode.NDP_PROXY
    assert any(
        n.startswith("provider's link: on-link: the router solicited") for n in answers.notes
    )
    assert "routing: ndp-proxy" in render_text(answers)


def test_a_routed_prefix_proposes_routed_despite_the_on_link_route() -> None:
    # The host has the /64 on its uplink (proto kernel), as Hetzner's servers do: the old
    # guess from the routes said ndp-proxy; the wire says the router routes the prefix here.
    answers = answers_from_facts(
        host("host 3e:63:91:54:2a:a0 2001:db8:ffff::10 2001:db8:1234:5678::5ca1:ab1e 2\n")
    )
    assert answers.routing is RoutingMode.ROUTED
    assert any("provider's link: routed" in n for n in answers.notes)
    assert "routing: routed" in render_text(answers)


def test_nothing_seen_keeps_the_guess_and_says_so() -> None:
    for answers in (answers_from_facts(host("")), answers_from_facts(host(None))):
        assert answers.routing is RoutingMode.NDP_PROXY
        assert any("a guess from this host's own routes" in n for n in answers.notes)


def test_propose_routing_prefers_the_link_model() -> None:
    assert propose_routing(PREFIX, True, LinkModel.ROUTED) is RoutingMode.ROUTED
    assert propose_routing(PREFIX, False, LinkModel.ON_LINK) is RoutingMode.NDP_PROXY
    assert propose_routing(PREFIX, False) is RoutingMode.ROUTED
    assert propose_routing(PREFIX, True) is RoutingMode.NDP_PROXY
