"""`kube6 init` detection, read from recorded host output (tests/facts/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kube6.errors import SpecError
from kube6.facts.dns import parse_resolv_conf
from kube6.facts.gather import HostFacts
from kube6.facts.network import parse_addresses, parse_routes
from kube6.facts.system import Uname
from kube6.init import render_text
from kube6.init_detect import answers_from_facts

DATA = Path(__file__).resolve().parents[1] / "facts" / "data"


def facts(
    addr: str, route: str, resolv: str = "", hostname: str = "Web-01.example.com"
) -> HostFacts:
    return HostFacts(
        host="h",
        node="h",
        uname=Uname(hostname, "6.8.0", "x86_64"),
        interfaces=parse_addresses((DATA / addr).read_text()),
        routes=parse_routes((DATA / route).read_text()),
        resolv_conf=parse_resolv_conf(resolv) if resolv else None,
    )


def test_slaac_host_gets_its_stable_address_not_a_temporary_one() -> None:
    answers = answers_from_facts(
        facts(
            "ip-addr-temporary.json",
            "ip-route-ra-slaac.json",
            "nameserver 2001:db8::53\nnameserver 192.0.2.53\n",
        )
    )
    [node] = answers.nodes
    assert str(node.address) == "2001:db8:1234:5678:5054:ff:fe12:3456"
    assert node.name == "web-01"
    assert node.interface == "enp1s0"
    assert str(answers.prefix) == "2001:db8:1234:5678::/64"
    assert answers.routing == "ndp-proxy"
    assert [str(r) for r in answers.resolvers] == ["2001:db8::53"]
    assert any("SLAAC" in note for note in answers.notes)
    text = render_text(answers)
    assert "2001:db8:1234:5678:5054:ff:fe12:3456" in text
    assert "# detected: uplink enp1s0" in text


def test_no_default_route_is_refused_with_the_flags_to_use() -> None:
    with pytest.raises(SpecError) as info:
        answers_from_facts(facts("ip-addr-temporary.json", "ip-route-no-default.json"))
    assert "no default IPv6 route" in str(info.value)
    assert "--prefix" in str(info.value)


def test_host_without_ipv6_is_refused() -> None:
    with pytest.raises(SpecError) as info:
        answers_from_facts(facts("ip-addr-no-ipv6.json", "ip-route-ra.json"))
    assert "no stable global IPv6 address" in str(info.value)
