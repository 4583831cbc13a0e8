"""Data-path probes on recorded outputs: the argv they run and how each output is read.

The nslookup outputs were recorded in the lab (tests/verify/test_datapath_lab.py) from bind9's
nslookup 9.18 and busybox 1.35's, against the lab's unbound (DNS64) resolver.
"""

from __future__ import annotations

import asyncio
import dataclasses
from ipaddress import IPv6Address, IPv6Network

import pytest

from kube6 import spec as spec_module
from kube6.execute import RecordingExecutor, Result
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify.datapath import PING_ATTEMPTS, Targets, refuses_a_flag, run_datapath
from kube6.verify.probe_output import Lookup, parse_global_addresses, parse_nslookup
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
1 packets transmitted, 0 received, 100% packet loss, time 0ms
"""
BUSYBOX_PING_LOST = """\
PING {0} ({0}): 56 data bytes

--- {0} ping statistics ---
1 packets transmitted, 0 packets received, 100% packet loss
"""

# ---- nslookup -type=AAAA NAME 2001:db8:ffff:64::53, recorded --------------------------------

BIND9_ANSWER = """\
Server:\t\t2001:db8:ffff:64::53
Address:\t2001:db8:ffff:64::53#53

Non-authoritative answer:
Name:\tv4only.lab.example
Address: 2001:db8:64::c633:640a

"""
BUSYBOX_ANSWER = """\
Server:\t\t2001:db8:ffff:64::53
Address:\t[2001:db8:ffff:64::53]:53

Non-authoritative answer:
Name:\tv4only.lab.example
Address: 2001:db8:64::c633:640a

"""
BIND9_NXDOMAIN = """\
Server:\t\t2001:db8:ffff:64::53
Address:\t2001:db8:ffff:64::53#53

** server can't find nope.lab.example: NXDOMAIN

"""
BUSYBOX_NXDOMAIN = """\
Server:\t\t2001:db8:ffff:64::53
Address:\t[2001:db8:ffff:64::53]:53

** server can't find nope.lab.example.: NXDOMAIN

"""
BIND9_NO_ANSWER = """\
Server:\t\t2001:db8:ffff:64::53
Address:\t2001:db8:ffff:64::53#53

Non-authoritative answer:
*** Can't find lab.example.: No answer

"""
# busybox prints the heading and nothing under it.
BUSYBOX_NO_ANSWER = """\
Server:\t\t2001:db8:ffff:64::53
Address:\t[2001:db8:ffff:64::53]:53

Non-authoritative answer:

"""
BIND9_TIMEOUT = """\
;; communications error to 2001:db8:ffff:64::99#53: timed out
;; no servers could be reached

"""
BUSYBOX_TIMEOUT = ";; connection timed out; no servers could be reached\n\n"
# Not recorded: bind9's CNAME form (its documented layout), to show chains are followed.
BIND9_CNAME = """\
Server:\t\t2001:db8::53
Address:\t2001:db8::53#53

Non-authoritative answer:
www.example.org\tcanonical name = edge.example.net.
Name:\tedge.example.net
Address: 2001:db8:1::1
Name:\tedge.example.net
Address: 2001:db8:1::2

"""


def ping(target: str, size: int | None = None) -> tuple[str, ...]:
    sized = () if size is None else ("-s", str(size - 48))
    return ("ping", "-n", "-c", "1", "-W", "2", *sized, target)


FULL = 1500
"""The example plan's pods: no network.mtu, so the uplink's 1500."""


def lookup(name: str, server: str | None) -> tuple[str, ...]:
    absolute = name if name.endswith(".") else f"{name}."
    at = (server,) if server else ()
    return ("nslookup", "-type=AAAA", "-timeout=2", "-retry=2", absolute, *at)


def answer(*addresses: str) -> str:
    lines = "".join(f"Name:\tx\nAddress: {a}\n" for a in addresses)
    return f"Server:\t\t::1\nAddress:\t::1#53\n\nNon-authoritative answer:\n{lines}\n"


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
        lookup(f"kubernetes.default.svc.{plan.dns_domain}", str(plan.dns)): (
            0,
            answer(str(plan.api)),
        ),
        ping(NODE): (0, PING_OK.format(NODE)),
        ping(OTHER_POD): (0, PING_OK.format(OTHER_POD)),
        ping(OUTSIDE): (0, PING_OK.format(OUTSIDE)),
        ping(OUTSIDE, FULL): (0, PING_OK.format(OUTSIDE)),
        lookup("v4only.lab.example.", "2001:db8:ffff:64::53"): (0, BIND9_ANSWER),
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
        ("path-mtu", Status.OK),
        ("pod-to-ipv4-via-nat64", Status.OK),
    ]
    found = by_name(results)
    assert found["path-mtu"].message == (
        f"an outside address ({OUTSIDE}) answers ping with 1500-byte packets"
    )
    assert ev(found["pod-to-outside"]) == (
        "1 packets transmitted, 1 received, 0% packet loss, time 0ms",
    )
    assert found["pod-to-ipv4-via-nat64"].message == (
        "v4only.lab.example. through NAT64 accepts TCP on [2001:db8:64::c633:640a]:80"
    )


def test_outside_unreachable_in_ndp_proxy_mode_points_at_the_proxy(plan: Plan) -> None:
    replies = healthy(plan) | {ping(OUTSIDE): (1, PING_LOST.format(OUTSIDE))}
    ex = pod(replies)
    result = by_name(asyncio.run(run_datapath(ex, plan, TARGETS)))["pod-to-outside"]
    assert result.status is Status.FAIL
    assert result.message == f"an outside address ({OUTSIDE}) does not answer ping"
    assert ev(result) == (
        "1 packets transmitted, 0 received, 100% packet loss, time 0ms",
        "4 echo requests, 2 s each",
    )
    assert "NDP proxy" in result.fix
    assert "ndppd" in result.fix
    assert ex.argvs.count(ping(OUTSIDE)) == PING_ATTEMPTS


def test_a_black_hole_for_large_packets_is_caught(plan: Plan) -> None:
    """Small echoes answered, full-size ones never: Packet Too Big does not reach the pod."""
    replies = healthy(plan) | {ping(OUTSIDE, FULL): (1, PING_LOST.format(OUTSIDE))}
    ex = pod(replies)
    found = by_name(asyncio.run(run_datapath(ex, plan, TARGETS)))
    assert found["pod-to-outside"].status is Status.OK
    result = found["path-mtu"]
    assert result.status is Status.FAIL
    assert result.message == (
        f"an outside address ({OUTSIDE}) does not answer ping with 1500-byte packets"
    )
    assert "Packet Too Big" in result.fix
    assert "network.mtu" in result.fix
    assert ex.argvs.count(ping(OUTSIDE, FULL)) == PING_ATTEMPTS


def test_the_full_size_is_the_planned_mtu(plan: Plan) -> None:
    smaller = dataclasses.replace(plan, mtu=1420)
    replies = healthy(plan) | {ping(OUTSIDE, 1420): (0, PING_OK.format(OUTSIDE))}
    ex = pod(replies)
    found = by_name(asyncio.run(run_datapath(ex, smaller, TARGETS)))
    assert found["path-mtu"].status is Status.OK
    assert ping(OUTSIDE, 1420) in ex.argvs


def test_one_lost_echo_is_not_a_failure(plan: Plan) -> None:
    """The first echo to a new pod may go while its address is being resolved."""
    replies = iter(
        [Result(1, BUSYBOX_PING_LOST.format(NODE), ""), Result(0, PING_OK.format(NODE), "")]
    )
    ex = pod(healthy(plan))
    ex.replies[ping(NODE)] = lambda command: next(replies)
    result = by_name(asyncio.run(run_datapath(ex, plan, TARGETS)))["pod-to-node"]
    assert result.status is Status.OK
    assert ex.argvs.count(ping(NODE)) == 2


def test_cluster_dns_wrong_answer_and_timeout(plan: Plan) -> None:
    name = lookup(f"kubernetes.default.svc.{plan.dns_domain}", str(plan.dns))
    wrong = healthy(plan) | {name: (0, answer("2001:db8::99"))}
    result = by_name(asyncio.run(run_datapath(pod(wrong), plan, TARGETS)))["dns-kubernetes"]
    assert result.message == (
        f"kubernetes.default.svc.cluster.local resolves to 2001:db8::99, expected {plan.api}"
    )
    for output in (BIND9_TIMEOUT, BUSYBOX_TIMEOUT):
        timeout = healthy(plan) | {name: (1, output)}
        result = by_name(asyncio.run(run_datapath(pod(timeout), plan, TARGETS)))["dns-kubernetes"]
        assert result.status is Status.FAIL
        assert result.message == (
            f"resolving kubernetes.default.svc.cluster.local through {plan.dns} failed: "
            "the resolver did not answer"
        )
        assert any("no servers could be reached" in line for line in ev(result))
        assert "CoreDNS" in result.fix


@pytest.mark.parametrize("output", [BIND9_NO_ANSWER, BUSYBOX_NO_ANSWER])
def test_no_dns64_answer(plan: Plan, output: str) -> None:
    replies = healthy(plan) | {lookup("v4only.lab.example.", "2001:db8:ffff:64::53"): (0, output)}
    ex = pod(replies)
    result = by_name(asyncio.run(run_datapath(ex, plan, TARGETS)))["pod-to-ipv4-via-nat64"]
    assert result.message == "v4only.lab.example. has no AAAA answer through 2001:db8:ffff:64::53"
    assert "synthesize AAAA records in 2001:db8:64::/96" in result.fix
    assert not any(argv[0] == "nc" for argv in ex.argvs)


@pytest.mark.parametrize("output", [BIND9_NXDOMAIN, BUSYBOX_NXDOMAIN])
def test_ipv4_only_name_does_not_exist(plan: Plan, output: str) -> None:
    replies = healthy(plan) | {lookup("v4only.lab.example.", "2001:db8:ffff:64::53"): (1, output)}
    result = by_name(asyncio.run(run_datapath(pod(replies), plan, TARGETS)))[
        "pod-to-ipv4-via-nat64"
    ]
    assert result.message == (
        "v4only.lab.example. does not exist (NXDOMAIN) through 2001:db8:ffff:64::53"
    )
    assert ev(result)[0].startswith("** server can't find nope.lab.example")


def test_nat64_gateway_down(plan: Plan) -> None:
    nc = ("nc", "-z", "-n", "-w", "3", "2001:db8:64::c633:640a", "80")
    replies = healthy(plan) | {nc: (1, "")}
    result = by_name(asyncio.run(run_datapath(pod(replies), plan, TARGETS)))[
        "pod-to-ipv4-via-nat64"
    ]
    assert result.status is Status.FAIL
    assert "DNS64 works (2001:db8:64::c633:640a)" in result.fix


# Debian's busybox nc (built without nc-1.10 compatibility), recorded.
SMALL_NC_USAGE = """\
nc: invalid option -- 'z'
BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: nc [-iN] [-wN] [-l] [-p PORT] [-f FILE|IPADDR PORT] [-e PROG]
"""


@pytest.mark.parametrize(("code", "status"), [(0, Status.OK), (1, Status.FAIL)])
def test_nc_without_z_connects_with_e_true(plan: Plan, code: int, status: Status) -> None:
    z = ("nc", "-z", "-n", "-w", "3", "2001:db8:64::c633:640a", "80")
    small = ("nc", "-w", "3", "2001:db8:64::c633:640a", "80", "-e", "true")
    ex = pod(healthy(plan))
    ex.reply(z, "", exit_code=1, stderr=SMALL_NC_USAGE)
    refused = "nc: can't connect to remote host: Connection refused\n"
    ex.reply(small, "", exit_code=code, stderr="" if code == 0 else refused)
    result = by_name(asyncio.run(run_datapath(ex, plan, TARGETS)))["pod-to-ipv4-via-nat64"]
    assert result.status is status
    assert ex.argvs[-2:] == [z, small]
    if code:
        assert ev(result) == (refused.strip(),)


def test_a_refused_connection_is_not_a_refused_flag() -> None:
    assert refuses_a_flag(Result(1, "", SMALL_NC_USAGE))
    assert refuses_a_flag(Result(1, "", "nc: unrecognized option: z\n"))  # musl's getopt
    assert not refuses_a_flag(Result(1, "", "nc: connect to 2001:db8::1 port 80: refused\n"))
    assert not refuses_a_flag(Result(0, "", "invalid option"))


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
    assert [r.status for r in results] == [Status.OK] * 7
    assert [is_skipped(r) for r in results] == [False] + [True] * 6
    assert ex.argvs == [("ip", "-o", "addr", "show", "scope", "global")]


V4ONLY = (IPv6Address("2001:db8:64::c633:640a"),)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (BIND9_ANSWER, Lookup(V4ONLY)),
        (BUSYBOX_ANSWER, Lookup(V4ONLY)),
        (BIND9_NXDOMAIN, Lookup(error="NXDOMAIN")),
        (BUSYBOX_NXDOMAIN, Lookup(error="NXDOMAIN")),
        (BIND9_NO_ANSWER, Lookup(error="no answer")),
        (BUSYBOX_NO_ANSWER, Lookup(error="no answer")),
        (BIND9_TIMEOUT, Lookup(error="timeout")),
        (BUSYBOX_TIMEOUT, Lookup(error="timeout")),
        (BIND9_CNAME, Lookup((IPv6Address("2001:db8:1::1"), IPv6Address("2001:db8:1::2")))),
        ("", Lookup(error="no answer")),
        ("** server can't find x.: SERVFAIL\n", Lookup(error="SERVFAIL")),
    ],
)
def test_parse_nslookup(output: str, expected: Lookup) -> None:
    """bind9's and busybox's output read alike; the server's own address is never an answer."""
    assert parse_nslookup(output) == expected


def test_parse_nslookup_keeps_the_lines_that_say_why() -> None:
    assert parse_nslookup(BIND9_TIMEOUT).notes == (
        ";; communications error to 2001:db8:ffff:64::99#53: timed out",
        ";; no servers could be reached",
    )
    assert parse_nslookup(BUSYBOX_NXDOMAIN).notes == (
        "** server can't find nope.lab.example.: NXDOMAIN",
    )


def test_parse_global_addresses() -> None:
    assert [str(a) for a in parse_global_addresses(IP_ADDR)] == [POD]
    busybox = (
        "2: eth0    inet6 2001:db8:1234:5678:8:2:0:1/128 scope global flags 02 \\"
        "       valid_lft forever preferred_lft forever\n"
    )
    assert [str(a) for a in parse_global_addresses(busybox)] == ["2001:db8:1234:5678:8:2:0:1"]
