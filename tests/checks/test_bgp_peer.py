"""`bgp-peer` on hand-built handshakes (the real one, against BIRD: tests/lab/test_bgp_peer.py),
and the facts' parser on the speaker's output."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address

import pytest

from kube6.checks import Status
from kube6.checks.model import CheckResult
from kube6.errors import FactError
from kube6.facts import HostFacts, Listener
from kube6.facts import bgp as facts_bgp
from kube6.facts.bgp import BgpAnswer, parse_answer, probe_router_id, speaker_argv
from kube6.plan.model import Plan
from tests.checks.test_checks import NODE_ADDR, healthy, plan_from, results

ROUTER = IPv6Address("2001:db8:1234:5678::fffe")
BGP_PLAN = plan_from(routing="bgp", bgp={"peer": str(ROUTER), "peer_as": 65001})


def answer(result: facts_bgp.Outcome, **more: object) -> BgpAnswer:
    return BgpAnswer(ROUTER, NODE_ADDR, result, **more)  # type: ignore[arg-type]


def bgp_peer(facts: HostFacts, plan: Plan = BGP_PLAN) -> CheckResult:
    return results(facts, plan)["bgp-peer"]


def test_the_router_accepts_the_node() -> None:
    assert BGP_PLAN.bgp is not None
    cluster_as = BGP_PLAN.bgp.as_number
    found = bgp_peer(
        healthy(bgp=answer("accepted", peer_as=65001, hold=240, router_id="192.0.2.254"))
    )
    assert found.status is Status.OK, found
    assert found.message == (
        f"the router {ROUTER} (AS 65001) accepts this node from {NODE_ADDR} as AS {cluster_as}"
    )
    assert found.evidence.splitlines() == [
        f"TCP [{ROUTER}]:179 from {NODE_ADDR}: accepted",
        "router's OPEN: AS 65001, hold 240 s, ID 192.0.2.254",
    ]


def test_the_router_answers_as_another_as() -> None:
    found = bgp_peer(healthy(bgp=answer("accepted", peer_as=65009)))
    assert found.status is Status.FAIL
    assert found.message.endswith("answers as AS 65009, the spec says peer_as 65001")
    assert found.fix.startswith("set bgp.peer_as: 65009 in kube6.yaml")


@pytest.mark.parametrize(
    ("result", "more", "message", "fix"),
    [
        (
            "notification",
            {"code": 2, "subcode": 2},
            "refused this node's OPEN: NOTIFICATION 2/2 (bad peer AS: the router expects "
            "another AS from this node)",
            f"neighbor {NODE_ADDR} remote-as",
        ),
        (
            "notification",
            {"code": 6, "subcode": 5},
            "refused this node's OPEN: NOTIFICATION 6/5 (connection rejected: the router does "
            "not accept this neighbour)",
            "bgp.as_number in kube6.yaml is the cluster's own AS",
        ),
        (
            "closed",
            {"detail": "the router closed the connection"},
            "does not take BGP from",
            "on request",
        ),
        ("refused", {"detail": "connection refused"}, "connection refused", "remote-as"),
        (
            "timeout",
            {"detail": "no answer to the OPEN"},
            "gave no BGP answer within 5 s",
            "TCP 179",
        ),
        (
            "unreachable",
            {"detail": "Network is unreachable"},
            "cannot be reached",
            "ip -6 route get",
        ),
    ],
)
def test_what_the_router_did_wrong_is_named_with_the_fix(
    result: facts_bgp.Outcome, more: dict[str, object], message: str, fix: str
) -> None:
    found = bgp_peer(healthy(bgp=answer(result, **more)))
    assert found.status is Status.FAIL, found
    assert found.message.startswith(f"the router {ROUTER} "), found.message
    assert message in found.message
    assert fix in found.fix


def test_a_node_that_speaks_bgp_is_not_disturbed() -> None:
    facts = healthy(bgp=None)
    facts = replace(facts, listeners=(*(facts.listeners or ()), Listener("::", 179)))
    found = bgp_peer(facts)
    assert found.status is Status.OK
    assert found.message.startswith("skipped: something listens on TCP 179 here")


def test_no_connect_and_unknown() -> None:
    assert bgp_peer(healthy()).message == "skipped: no connections were allowed (--no-connect)"
    facts = replace(healthy(), unknown={"bgp handshake": "python3 is not installed on node0001"})
    found = bgp_peer(facts)
    assert found.status is Status.WARN
    assert "python3 is not installed" in found.message


def test_parse_answer() -> None:
    text = '{"as": 65001, "hold": 240, "id": "192.0.2.254", "result": "accepted"}'
    assert parse_answer(text, ROUTER, NODE_ADDR) == answer(
        "accepted", peer_as=65001, hold=240, router_id="192.0.2.254"
    )
    text = '{"result": "notification", "code": 2, "subcode": 2}'
    assert parse_answer(text, ROUTER, NODE_ADDR).subcode == 2
    for bad in ("", "not json", '{"result": "maybe"}', "[1]"):
        with pytest.raises(FactError, match="the BGP handshake"):
            parse_answer(bad, ROUTER, NODE_ADDR)


def test_the_speaker_runs_from_the_node_address_with_the_cluster_as() -> None:
    router_id = probe_router_id("node0001")
    assert router_id != IPv4Address(0)
    argv = speaker_argv(ROUTER, NODE_ADDR, 4200000000, router_id)
    assert argv[:3] == ("python3", "-I", "-c")
    assert argv[4:] == (str(ROUTER), str(NODE_ADDR), "4200000000", str(router_id), "5")


def test_a_silent_router_may_want_a_password_or_another_one() -> None:
    unsigned = bgp_peer(healthy(bgp=answer("timeout", detail="no answer to the OPEN")))
    assert "drops connections without it: put it in a file and set bgp.password_file" in (
        unsigned.fix
    )
    signed = bgp_peer(healthy(bgp=answer("timeout", detail="no answer", signed=True)))
    assert "signed with another password: check the one in bgp.password_file" in signed.fix
    assert f"TCP [{ROUTER}]:179 from {NODE_ADDR}, signed with TCP MD5: timeout" in (signed.evidence)


def test_the_password_goes_on_standard_input_never_in_argv() -> None:
    target = facts_bgp.BgpTarget(ROUTER, NODE_ADDR, 64512, "pass word")
    found = facts_bgp.handshake_probe("node0001", target)
    assert found.secret_stdin == "pass word"
    assert "pass word" not in " ".join(found.argv)
    assert "pass word" not in repr(found)
    assert found.parse('{"result": "accepted"}').signed
    unsigned = facts_bgp.handshake_probe("node0001", replace(target, password=None))
    assert unsigned.secret_stdin == ""  # stdin closed: the speaker never waits for one
    assert not unsigned.parse('{"result": "accepted"}').signed
