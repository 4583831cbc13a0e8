"""Checks on real facts from a network namespace that this test builds and breaks."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from kube6.checks import ArtifactHost, Status, run_checks
from kube6.execute import NetnsExecutor
from kube6.facts import gather
from kube6.plan import make_plan
from kube6.spec import example

pytestmark = pytest.mark.lab

PLAN = make_plan(example())  # node0001 at 2001:db8:1234:5678::1 on eth0


@pytest.fixture
def node_ns() -> Iterator[str]:
    name = f"k6c-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def sh(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *argv], check=True, capture_output=True)


def statuses(ns: str) -> dict[str, tuple[Status, str]]:
    facts = asyncio.run(gather(NetnsExecutor(ns, host="node0001"), "node0001", connect=False))
    hosts = (ArtifactHost("localhost", "test"),)
    return {r.name: (r.status, r.fix) for r in run_checks(PLAN, {"node0001": facts}, hosts=hosts)}


def test_broken_then_repaired_host(node_ns: str) -> None:
    sh(node_ns, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
    sh(node_ns, "ip", "link", "set", "eth0", "up")
    sh(node_ns, "ip", "link", "set", "peer0", "up")
    sh(node_ns, "ip", "addr", "add", "2001:db8:1234:5678::1/64", "dev", "eth0", "nodad")
    sh(
        node_ns,
        "ip",
        "-6",
        "route",
        "add",
        "default",
        "via",
        "fe80::1",
        "dev",
        "eth0",
        "proto",
        "ra",
    )
    sh(node_ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1")
    sh(node_ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")

    found = statuses(node_ns)
    assert found["node-address"][0] is Status.OK
    assert found["prefix-on-link"][0] is Status.OK  # the /64 is on-link: ndp-proxy is right
    assert found["default-route"] == (Status.WARN, "sysctl -w net.ipv6.conf.eth0.accept_ra=2")
    assert found["forwarding"][0] is Status.WARN
    assert "net.ipv6.conf.all.forwarding=1" in found["forwarding"][1]

    sh(node_ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    sh(node_ns, "sysctl", "-qw", "net.ipv6.conf.default.forwarding=1")
    sh(node_ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=2")
    repaired = statuses(node_ns)
    assert repaired["default-route"][0] is Status.OK
    assert repaired["forwarding"][0] is Status.OK

    sh(node_ns, "ip", "-6", "route", "del", "default")
    sh(node_ns, "ip", "addr", "del", "2001:db8:1234:5678::1/64", "dev", "eth0")
    gone = statuses(node_ns)
    assert gone["default-route"][0] is Status.FAIL
    assert gone["node-address"][0] is Status.FAIL
    assert "ip -6 addr add 2001:db8:1234:5678::1/64 dev eth0" in gone["node-address"][1]
