"""Host facts read from lab nodes: what kube6 sees on a host behind a hosting provider's /64."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from ipaddress import IPv6Address, IPv6Network

import pytest

from kube6.execute import NetnsExecutor
from kube6.facts.gather import HostFacts, gather
from kube6.lab import IPV4_HOST, IPV4_ONLY_NAME, IPV6_NAME, NAT64_PREFIX, Lab
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab


def _facts(lab: Lab, node: str = "node0001", lookups: Sequence[str] = ()) -> HostFacts:
    executor = NetnsExecutor(lab.node_ns(node), host=node)
    return asyncio.run(gather(executor, node, lookups=lookups))


def test_a_lab_node_looks_like_a_prepared_host(shared_lab: Lab, plan: Plan) -> None:
    facts = _facts(shared_lab, lookups=[IPV4_ONLY_NAME, IPV6_NAME])
    eth0 = facts.interface("eth0")
    assert eth0 is not None
    (address,) = eth0.global_addresses
    assert address.address == plan.nodes[0].address
    assert address.stable
    (route,) = facts.default_routes
    assert route.gateway == IPv6Address("fe80::1")
    assert route.dev == "eth0"
    assert facts.sysctl("all", "forwarding") == 1
    assert facts.sysctl("eth0", "accept_ra") == 2
    # DNS64 found through RFC 7050, and both kinds of outside host answer on 443.
    assert facts.nat64 is not None
    assert facts.nat64.prefixes == (NAT64_PREFIX,)
    v4only, v6 = facts.lookup(IPV4_ONLY_NAME), facts.lookup(IPV6_NAME)
    assert v4only is not None
    assert v6 is not None
    assert v4only.ipv6 == (IPv6Address("2001:db8:64::c633:640a"),)
    assert v4only.connect is True, v4only.connect_detail
    assert v6.ipv6 == (IPv6Address("2001:db8:ffff::10"),)
    assert v6.connect is True, v6.connect_detail


def test_without_dns64_no_prefix_and_the_name_is_ipv4_only(lab_env: None, plan: Plan) -> None:
    with Lab(plan, dns64=False) as lab:
        facts = _facts(lab, lookups=[IPV4_ONLY_NAME])
    assert facts.nat64 is not None
    assert facts.nat64.prefixes == ()
    v4only = facts.lookup(IPV4_ONLY_NAME)
    assert v4only is not None
    assert v4only.ipv6 == ()
    assert v4only.ipv4 == (IPV4_HOST,)


def test_without_tayga_the_synthesized_address_does_not_connect(lab_env: None, plan: Plan) -> None:
    with Lab(plan, nat64=False) as lab:
        facts = _facts(lab, lookups=[IPV4_ONLY_NAME])
    assert facts.nat64 is not None
    assert facts.nat64.prefix == IPv6Network("2001:db8:64::/96")
    v4only = facts.lookup(IPV4_ONLY_NAME)
    assert v4only is not None
    assert v4only.connect is False
