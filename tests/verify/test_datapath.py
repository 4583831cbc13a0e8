"""Data-path probes on recorded outputs: the argv they run and how each output is read."""

from __future__ import annotations

import asyncio
import dataclasses
from ipaddress import IPv6Address, IPv6Network

import pytest

from kube6 import spec as spec_module
from kube6.execute import RecordingExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify.datapath import Targets, parse_dig_short, parse_global_addresses, run_datapath
from kube6.verify.result import CheckResult, Status, is_skipped
from tests.verify.fixtures import ev

POD = "2001:db8:1234:5678:8:2:0:5"
OTHER_POD = "2001:db8:1234:5678:8:2:1:5"
NODE = "2001:db8:1234:5678::1"
OUTSIDE = "2001:db8:ffff::10"
NAT64 = IPv6Network("2001:db8:64::/96")

IP_ADDR = f"""\
2: eth0    inet6 {POD}/128 scope global \\       valid_lft forever preferred_lft forever
"""
PING_OK = """\
PING {0} ({0}) 56 data bytes
64 bytes from {0}: icmp_seq=1 ttl=63 time=0.061 ms

--- {0} ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
"""
PING_LOST = """\
PING {0} ({0}) 56 data bytes

--- {0} ping statistics ---
8 packets transmitted, 0 received, 100% packet loss, time 7166ms
"""
DIG_TIMEOUT = ";; connection timed out; no servers could be reached\n"


def ping(target: str) -> tuple[str, ...]:
    return ("ping", "-n", "-c", "1", "-w", "8", target)


def dig(name: str, server: str | None) -> tuple[str, ...]:
    at = (f"@{server}",) if server else ()
    return ("dig", "+short", "+time=2", "+tries=2", *at, name, "AAAA")


@pytest.fixture(scope="module")
def plan() -> Plan:
    base = make_plan(spec_module.example())
    # The example has no NAT64; the lab's prefix makes the NAT64 probe run.
    return dataclasses.replace(
        base, dns_settings=dataclasses.replace(base.dns_settings, nat64_prefix=NAT64)
    )


def pod(replies: dict[tuple[str, ...], tuple[int, str]]) -> RecordingExecutor:
    ex = RecordingExecutor(host="probe")
    ex.reply(("ip", "-o", "addr", "show", "scope", "global"), IP_ADDR)
    for argv, (code, out) in replies.items():
        ex.reply(argv, out, exit_code=code)
    return ex


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


TARGETS = Targets(
    node=IPv6Address(NODE),
    other_pod=IPv6Address(OTHER_POD),
    outside=IPv6Address(OUTSIDE),
    ipv4_only_name="v4only.lab.example.",
    ipv4_only_port=80,
    resolver=IPv6Address("2001:db8:ffff:64::53"),
)


def healthy(plan: Plan) -> dict[tuple[str, ...], tuple[int, str]]:
    return {
        dig(f"kubernetes.default.svc.{plan.dns_domain}", str(plan.dns)): (0, f"{plan.api}\n"),
        ping(NODE): (0, PING_OK.format(NODE)),
        ping(OTHER_POD): (0, PING_OK.format(OTHER_POD)),
        ping(OUTSIDE): (0, PING_OK.format(OUTSIDE)),
        dig("v4only.lab.example.", "2001:db8:ffff:64::53"): (0, "2001:db8:64::c633:640a\n"),
        ("nc", "-z", "-n", "-w", "3", "2001:db8:64::c633:640a", "80"): (0, ""),
    }


def test_everything_answers(plan: Plan) -> None:
    ex = pod(healthy(plan))
    results = asyncio.run(run_datapath(ex, plan, TARGETS))
    assert [(r.name, r.status) for r in results] == [
        ("probe-address", Status.OK),
        ("dns-kubernetes", Status.OK),
        ("pod-to-node", Status.OK),
        ("pod-to-pod", Status.OK),
        ("pod-to-outside", Status.OK),
        ("pod-to-ipv4-via-nat64", Status.OK),
    ]
    found = by_name(results)
    assert ev(found["pod-to-outside"]) == (
        "1 packets transmitted, 1 received, 0% packet loss, time 0ms",
    )
    assert found["pod-to-ipv4-via-nat64"].message == (
        "v4only.lab.example. through NAT64 accepts TCP on [2001:db8:64::c633:640a]:80"
    )


def test_outside_unreachable_in_ndp_proxy_mode_points_at_the_proxy(plan: Plan) -> None:
    replies = healthy(plan) | {ping(OUTSIDE): (1, PING_LOST.format(OUTSIDE))}
    result = by_name(asyncio.run(run_datapath(pod(replies), plan, TARGETS)))["pod-to-outside"]
    assert result.status is Status.FAIL
    assert result.message == f"an outside address ({OUTSIDE}) does not answer ping"
    assert ev(result) == ("8 packets transmitted, 0 received, 100% packet loss, time 7166ms",)
    assert "NDP proxy" in result.fix
    assert "ndppd" in result.fix


def test_cluster_dns_wrong_answer_and_timeout(plan: Plan) -> None:
    name = dig(f"kubernetes.default.svc.{plan.dns_domain}", str(plan.dns))
    wrong = healthy(plan) | {name: (0, "2001:db8::99\n")}
    result = by_name(asyncio.run(run_datapath(pod(wrong), plan, TARGETS)))["dns-kubernetes"]
    assert result.message == (
        f"kubernetes.default.svc.cluster.local resolves to 2001:db8::99, expected {plan.api}"
    )
    timeout = healthy(plan) | {name: (9, DIG_TIMEOUT)}
    result = by_name(asyncio.run(run_datapath(pod(timeout), plan, TARGETS)))["dns-kubernetes"]
    assert result.status is Status.FAIL
    assert "no servers could be reached" in ev(result)[0]
    assert "CoreDNS" in result.fix


def test_no_dns64_answer(plan: Plan) -> None:
    replies = healthy(plan) | {dig("v4only.lab.example.", "2001:db8:ffff:64::53"): (0, "")}
    ex = pod(replies)
    result = by_name(asyncio.run(run_datapath(ex, plan, TARGETS)))["pod-to-ipv4-via-nat64"]
    assert result.message == "v4only.lab.example. has no AAAA answer through 2001:db8:ffff:64::53"
    assert "synthesize AAAA records in 2001:db8:64::/96" in result.fix
    assert not any(argv[0] == "nc" for argv in ex.argvs)


def test_nat64_gateway_down(plan: Plan) -> None:
    nc = ("nc", "-z", "-n", "-w", "3", "2001:db8:64::c633:640a", "80")
    replies = healthy(plan) | {nc: (1, "")}
    result = by_name(asyncio.run(run_datapath(pod(replies), plan, TARGETS)))[
        "pod-to-ipv4-via-nat64"
    ]
    assert result.status is Status.FAIL
    assert "DNS64 works (2001:db8:64::c633:640a)" in result.fix


def test_probe_outside_the_pools(plan: Plan) -> None:
    ex = pod(healthy(plan))
    ex.reply(
        ("ip", "-o", "addr", "show", "scope", "global"),
        "2: eth0    inet 192.0.2.5/32 scope global eth0\n"
        "2: eth0    inet6 fd00::5/128 scope global \\       valid_lft forever\n",
    )
    result = asyncio.run(run_datapath(ex, plan, TARGETS))[0]
    assert result.status is Status.FAIL
    assert ev(result) == ("192.0.2.5", "fd00::5")


def test_missing_targets_are_skipped_and_no_nat64_planned(plan: Plan) -> None:
    bare = dataclasses.replace(
        plan, dns_settings=dataclasses.replace(plan.dns_settings, nat64_prefix=None)
    )
    ex = pod({})
    results = asyncio.run(
        run_datapath(ex, bare, Targets(outside=None, cluster_dns=False, ipv4_only_name=None))
    )
    assert [r.status for r in results] == [Status.OK] * 6
    assert [is_skipped(r) for r in results] == [False] + [True] * 5
    assert ex.argvs == [("ip", "-o", "addr", "show", "scope", "global")]


def test_parsers() -> None:
    assert parse_dig_short("github.com.\n2001:db8:64::8c52:7903\n;; comment\n") == [
        IPv6Address("2001:db8:64::8c52:7903")
    ]
    assert [str(a) for a in parse_global_addresses(IP_ADDR)] == [POD]
