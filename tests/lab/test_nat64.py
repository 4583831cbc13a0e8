"""NAT64 and DNS64 in the lab: an IPv4-only name resolves to the NAT64 prefix and is reachable."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv6Address

import pytest

from kube6.lab import IPV4_HOST, IPV4_ONLY_NAME, IPV6_NAME, NAT64_PREFIX, Lab
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab

SYNTHESIZED = "2001:db8:64::c633:640a"  # 198.51.100.10 in 2001:db8:64::/96 (RFC 6052)


def test_synthesized_address_is_rfc6052() -> None:
    embedded = int(IPV4_HOST).to_bytes(4, "big")
    expected = IPv6Address(int(NAT64_PREFIX.network_address) | int.from_bytes(embedded, "big"))
    assert str(expected) == SYNTHESIZED


def test_dns64_synthesizes_for_the_ipv4_only_name(shared_lab: Lab) -> None:
    node = shared_lab.node_ns("node0001")
    assert shared_lab.resolve(node, IPV4_ONLY_NAME) == [SYNTHESIZED]
    assert shared_lab.resolve(node, IPV6_NAME) == ["2001:db8:ffff::10"]
    # RFC 7050 discovery: both well-known IPv4 addresses come back inside the prefix.
    assert sorted(shared_lab.resolve(node, "ipv4only.arpa")) == [
        "2001:db8:64::c000:aa",
        "2001:db8:64::c000:ab",
    ]
    # Names the lab does not know are NXDOMAIN at once, not a timeout.
    assert shared_lab.resolve(node, "nothing.invalid") == []


def test_ipv4_only_host_is_reachable_through_tayga(shared_lab: Lab) -> None:
    node = shared_lab.node_ns("node0001")
    assert shared_lab.connect(node, SYNTHESIZED, 443)
    assert shared_lab.ping(node, SYNTHESIZED, deadline=3)
    # The node has no IPv4 at all: NAT64 is the only way.
    assert not shared_lab.connect(node, IPV4_HOST, 443, wait=1)


def test_node_resolv_conf_points_at_the_lab_resolver(shared_lab: Lab) -> None:
    node = shared_lab.node_ns("node0001")
    text = shared_lab.run(node, ("cat", "/etc/resolv.conf")).stdout
    assert "nameserver 2001:db8:ffff:64::53" in text
    # ...and only inside the namespace: the machine's own file is untouched.
    with open("/etc/resolv.conf") as host:
        assert "2001:db8:ffff:64::53" not in host.read()


@pytest.fixture
def lab_without_tayga(lab_env: None, plan: Plan) -> Iterator[Lab]:
    with Lab(plan, nat64=False) as lab:
        yield lab


@pytest.fixture
def lab_without_dns64(lab_env: None, plan: Plan) -> Iterator[Lab]:
    with Lab(plan, dns64=False) as lab:
        yield lab


def test_without_tayga_the_name_resolves_but_leads_nowhere(lab_without_tayga: Lab) -> None:
    lab = lab_without_tayga
    node = lab.node_ns("node0001")
    assert "tayga" not in lab.daemons
    assert lab.resolve(node, IPV4_ONLY_NAME) == [SYNTHESIZED]
    assert not lab.connect(node, SYNTHESIZED, 443, wait=1)


def test_without_dns64_there_is_no_aaaa_for_ipv4_only_names(lab_without_dns64: Lab) -> None:
    lab = lab_without_dns64
    node = lab.node_ns("node0001")
    assert lab.resolve(node, IPV4_ONLY_NAME) == []
    assert lab.resolve(node, IPV4_ONLY_NAME, "A") == [str(IPV4_HOST)]
    assert lab.resolve(node, "ipv4only.arpa") == []
    # tayga still translates for whoever knows the prefix.
    assert lab.connect(node, SYNTHESIZED, 443)
