"""`kube6 check` against lab nodes: it finds what a real host behind a provider's /64 has, and
catches each way such a host is commonly broken, with the fix."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kube6 import yamlio
from kube6.checks import ArtifactHost, CheckResult, Status
from kube6.checks.runner import check_hosts
from kube6.components.registry import artifact_hosts
from kube6.execute import Executor
from kube6.lab import INTERNET_HOST, IPV4_HOST, IPV4_ONLY_NAME, IPV6_NAME, Lab
from kube6.lab.process import in_namespace
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

pytestmark = pytest.mark.lab

LAB_HOSTS = (
    ArtifactHost(IPV4_ONLY_NAME, "the lab's IPv4-only host"),
    ArtifactHost(IPV6_NAME, "the lab's IPv6 host"),
)
# Served by the lab's DNS the way the real ones are served today (see upstream-facts §5.4).
IPV4_ONLY_ARTIFACT_HOSTS = {
    "github.com",
    "objects.githubusercontent.com",
    "release-assets.githubusercontent.com",
    "ghcr.io",
}


def _check(
    lab: Lab, plan: Plan, hosts: Sequence[ArtifactHost] = LAB_HOSTS, *, connect: bool = True
) -> dict[str, CheckResult]:
    executors: dict[str, Executor] = {n.name: lab.executor(n.name) for n in plan.nodes[:1]}
    results = asyncio.run(check_hosts(plan, executors, hosts=hosts, connect=connect))
    return {r.name: r for r in results}


def test_a_prepared_lab_node_passes_the_routing_and_dns_checks(shared_lab: Lab, plan: Plan) -> None:
    results = _check(shared_lab, plan)
    for name in ("uplink-interface", "node-address", "default-route", "forwarding"):
        assert results[name].status is Status.OK, results[name]
    assert results["prefix-on-link"].status is Status.OK, results["prefix-on-link"]
    dns64 = results["dns64"]
    assert dns64.status is Status.OK
    assert "2001:db8:64::/96" in dns64.message
    hosts = results["artifact-hosts-reachable"]
    assert hosts.status is Status.OK, hosts
    assert f"through NAT64: {IPV4_ONLY_NAME}" in hosts.message


def _artifact_records(plan: Plan) -> dict[str, tuple[str]]:
    """DNS for every artifact host of the plan: IPv4-only where the real one is."""
    return {
        h.name: (str(IPV4_HOST) if h.name in IPV4_ONLY_ARTIFACT_HOSTS else str(INTERNET_HOST),)
        for h in artifact_hosts(plan)
    }


@pytest.fixture(scope="module")
def artifact_lab(lab_env: None, plan: Plan) -> Iterator[Lab]:
    with Lab(plan, records=_artifact_records(plan)) as lab:
        yield lab


def test_the_plans_artifact_hosts_through_ipv6_and_nat64(artifact_lab: Lab, plan: Plan) -> None:
    hosts = artifact_hosts(plan)
    assert IPV4_ONLY_ARTIFACT_HOSTS & {h.name for h in hosts}
    # Resolution only (17 connects race a 5 s timeout on a busy machine); the connections
    # through NAT64 are proven with the lab's own two names above.
    result = _check(artifact_lab, plan, hosts, connect=False)["artifact-hosts-reachable"]
    assert result.status is Status.OK, result
    assert "github.com" in result.message.split("through NAT64:")[1]


@pytest.mark.parametrize("option", ["nat64", "dns64"])
def test_ipv4_only_host_unreachable_without_nat64_or_dns64(
    lab_env: None, plan: Plan, option: str
) -> None:
    with Lab(plan, nat64=option != "nat64", dns64=option != "dns64") as lab:
        results = _check(lab, plan)
    hosts = results["artifact-hosts-reachable"]
    assert hosts.status is Status.FAIL
    assert IPV4_ONLY_NAME in hosts.message
    assert IPV6_NAME not in hosts.message.split("—")[1]  # the IPv6 host is fine
    assert "NAT64" in hosts.fix
    assert "DNS64" in hosts.fix
    if option == "dns64":
        assert results["dns64"].status is Status.OK
        assert "no DNS64" in results["dns64"].message
        assert "IPv4 only (198.51.100.10)" in hosts.message
    else:
        assert "2001:db8:64::/96" in results["dns64"].message
        assert "2001:db8:64::c633:640a" in hosts.message


def test_forwarding_off_is_caught(fresh_lab: Lab, plan: Plan) -> None:
    node = fresh_lab.node_ns("node0001")
    fresh_lab.sysctl(node, "net.ipv6.conf.all.forwarding", 0)
    fresh_lab.sysctl(node, "net.ipv6.conf.default.forwarding", 0)
    result = _check(fresh_lab, plan)["forwarding"]
    assert result.status is not Status.OK
    assert "net.ipv6.conf.all.forwarding=1" in result.fix
    assert "net.ipv6.conf.default.forwarding=1" in result.fix


def test_accept_ra_that_would_drop_the_ra_default_route_is_caught(
    fresh_lab: Lab, plan: Plan
) -> None:
    node = fresh_lab.node_ns("node0001")
    # A default route learned from router advertisements, and the kernel default accept_ra=1,
    # which ignores RAs once forwarding is on: the route would expire.
    fresh_lab.run(
        node,
        ("ip", "-6", "route", "replace", "default", "via", "fe80::1", "dev", "eth0", "proto", "ra"),
    )
    fresh_lab.sysctl(node, "net.ipv6.conf.eth0.accept_ra", 1)
    result = _check(fresh_lab, plan)["default-route"]
    assert result.status is not Status.OK
    assert "accept_ra=1" in result.evidence
    assert "net.ipv6.conf.eth0.accept_ra=2" in result.fix
    # With kube6's setting the same route is fine.
    fresh_lab.sysctl(node, "net.ipv6.conf.eth0.accept_ra", 2)
    assert _check(fresh_lab, plan)["default-route"].status is Status.OK


def test_missing_default_route_is_caught(fresh_lab: Lab, plan: Plan) -> None:
    node = fresh_lab.node_ns("node0001")
    fresh_lab.run(node, ("ip", "-6", "route", "del", "default"))
    result = _check(fresh_lab, plan)["default-route"]
    assert result.status is Status.FAIL
    assert "ip -6 route add default via" in result.fix
    assert "eth0" in result.fix


def test_missing_node_address_is_caught(fresh_lab: Lab, plan: Plan) -> None:
    node = fresh_lab.node_ns("node0001")
    fresh_lab.run(node, ("ip", "-6", "addr", "del", "2001:db8:1234:5678::1/64", "dev", "eth0"))
    result = _check(fresh_lab, plan)["node-address"]
    assert result.status is Status.FAIL
    assert "2001:db8:1234:5678::1" in result.message
    assert "ip -6 addr add 2001:db8:1234:5678::1/64 dev eth0" in result.fix


def steady(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results as two runs a moment apart must agree on them: the free space that `disk-space`
    quotes is this machine's disk, which other work may fill or free meanwhile."""
    return [
        {**r, "message": "", "evidence": ""} if r["name"] == "disk-space" else r for r in results
    ]


SSH_SPEC = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {
            "name": "node0001",
            "address": "2001:db8:1234:5678::1",
            "ssh": "root@[2001:db8:1234:5678::1]",
        },
        {
            "name": "node0002",
            "address": "2001:db8:1234:5678::2",
            "roles": ["worker"],
            "ssh": "root@[2001:db8:1234:5678::2]:22",
        },
    ],
}


@pytest.fixture(scope="module")
def ssh_plan() -> Plan:
    return make_plan(from_data(SSH_SPEC), source="kube6.yaml")


@pytest.fixture(scope="module")
def ssh_lab(lab_env: None, ssh_plan: Plan) -> Iterator[Lab]:
    with Lab(ssh_plan, ssh=True, records=_artifact_records(ssh_plan)) as lab:
        yield lab


def test_check_over_ssh_matches_the_namespace_run(ssh_lab: Lab, ssh_plan: Plan) -> None:
    plan = ssh_plan
    local: dict[str, Executor] = {n.name: ssh_lab.executor(n.name) for n in plan.nodes}
    expected = asyncio.run(check_hosts(plan, local, hosts=LAB_HOSTS))
    # Both nodes over SSH at once, from the internet side (outside the /64), as an operator.
    remote: dict[str, Executor] = {n.name: ssh_lab.ssh_executor(n.name) for n in plan.nodes}
    got = in_namespace(
        ssh_lab.internet, lambda: asyncio.run(check_hosts(plan, remote, hosts=LAB_HOSTS))
    )
    assert {r.node for r in got} == {"node0001", "node0002"}
    assert not [r for r in got if r.name == "host-reachable"]
    assert steady([r.to_dict() for r in got]) == steady([r.to_dict() for r in expected])
    by_node = {(r.node, r.name): r for r in got}
    assert by_node["node0002", "node-address"].status is Status.OK
    assert "2001:db8:1234:5678::2" in by_node["node0002", "node-address"].message


def test_kube6_check_command_over_ssh(ssh_lab: Lab, ssh_plan: Plan, tmp_path: Path) -> None:
    """The real command line, run by an operator on the internet side with a key in ~/.ssh."""
    spec = tmp_path / "kube6.yaml"
    spec.write_text(yamlio.dump(SSH_SPEC))
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    shutil.copy(ssh_lab.ssh_key, home / ".ssh" / "id_ed25519")
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    kube6 = str(Path(sys.executable).parent / "kube6")
    argv = (
        kube6,
        "check",
        "--spec",
        str(spec),
        "--known-hosts",
        str(ssh_lab.known_hosts),
        "--output",
        "json",
        # Resolution only: 17 hosts x 2 nodes of TCP connects race the 5 s timeout on a busy
        # machine; connections through NAT64 are proven by the tests above.
        "--no-connect",
    )
    done = subprocess.run(
        ["ip", "netns", "exec", ssh_lab.internet, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HOME": str(home)},
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    document = json.loads(done.stdout)
    local: dict[str, Executor] = {n.name: ssh_lab.executor(n.name) for n in ssh_plan.nodes}
    expected = asyncio.run(
        check_hosts(ssh_plan, local, hosts=artifact_hosts(ssh_plan), connect=False)
    )
    assert steady(document["results"]) == steady([r.to_dict() for r in expected])
    assert document["ok"] is (done.returncode == 0)
    names = {(r["node"], r["name"]): r for r in document["results"]}
    assert names["node0002", "node-address"]["status"] == "ok"
    artifacts = names["node0001", "artifact-hosts-reachable"]
    assert artifacts["status"] == "ok"
    assert "through NAT64: github.com" in artifacts["message"]
