"""`kube6 check`'s bgp-peer against a real BGP router: BIRD 2 (Debian's bird2) on the lab's
provider router, with node0001 configured as a neighbour and node0002 not, as a provider that
set up one server's session and forgot the other would.

Each node opens the handshake from its own address (python3 on the node, kube6.facts.bgp):
BIRD accepts node0001's OPEN when the ASes match and refuses it with a NOTIFICATION when the
spec's cluster AS is not the one it expects, closes node0002's connection (unknown neighbour),
and with nothing listening the kernel refuses. A node where BIRD already listens on TCP 179
(calico-node after `up`) is left alone.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kube6.checks import CheckResult, Status
from kube6.checks.bgp import NAME
from kube6.checks.runner import check_hosts
from kube6.errors import Kube6Error
from kube6.execute import Executor
from kube6.lab import Lab
from kube6.lab.layout import layout
from kube6.lab.process import SBIN, in_namespace, program
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data
from tests.lab.conftest import TWO_NODES

pytestmark = pytest.mark.lab

ROUTER_AS = 65001
CLUSTER_AS = 64600
ROUTER_ID = "192.0.2.254"

BIRD = """router id {router_id};
log stderr all;
protocol device {{}}
"""
NEIGHBOUR = """protocol bgp {name} {{
    local {router} as {router_as};
    neighbor {node} as {cluster_as};
    passive on;{password}
    error wait time 1, 2;
    ipv6 {{ import none; export none; }};
}}
"""


def _router() -> str:
    """The lab router's address on the node link (where its BGP speaker listens)."""
    plain = make_plan(from_data(TWO_NODES), source="bgp lab")
    return str(layout(plain, "0000").segments[0].router)


def plan_for(cluster_as: int = CLUSTER_AS, peer_as: int = ROUTER_AS) -> Plan:
    bgp = {"peer": _router(), "peer_as": peer_as, "as_number": cluster_as}
    return make_plan(from_data({**TWO_NODES, "routing": "bgp", "bgp": bgp}), source="bgp lab")


def bgp_peer(lab: Lab, plan: Plan, password: str | None = None) -> dict[str, CheckResult]:
    """`check`'s bgp-peer of every node (signing with `password`, as bgp.password_file)."""
    executors: dict[str, Executor] = {n.name: lab.executor(n.name) for n in plan.nodes}
    results = asyncio.run(
        check_hosts(plan, executors, hosts=(), listen_seconds=0.5, bgp_password=password)
    )
    return {r.node: r for r in results if r.name == NAME}


@pytest.fixture(scope="module")
def lab(lab_env: None) -> Iterator[Lab]:
    if shutil.which("bird", path=SBIN) is None:
        pytest.fail("bird (bird2) is needed: run tests/lab/install-packages.sh as root")
    with Lab(plan_for(), ssh=True) as lab:
        _bird(lab, {"node0001": CLUSTER_AS})
        yield lab


def _bird(lab: Lab, neighbours: dict[str, int], password: str | None = None) -> None:
    """(Re)start BIRD on the router with these nodes as neighbours (node -> its AS), their
    sessions signed with TCP MD5 when `password` is given."""
    if "bird" in lab.daemons:
        lab.daemons["bird"].stop()
        _wait_until(lambda: not _listening(lab), "bird still listens")
    conf = lab.workdir / "bird.conf"
    parts = [BIRD.format(router_id=ROUTER_ID)]
    for node, cluster_as in neighbours.items():
        address = lab.node(node).address
        parts.append(
            NEIGHBOUR.format(
                name=node,
                router=_router(),
                router_as=ROUTER_AS,
                node=address,
                cluster_as=cluster_as,
                password=f'\n    password "{password}";' if password else "",
            )
        )
    conf.write_text("".join(parts))
    lab.start(
        "bird",
        lab.layout.upstream,
        (program("bird"), "-f", "-c", str(conf), "-s", str(lab.workdir / "bird.ctl")),
        ready=lambda: _listening(lab),
    )


def _wait_until(done: Callable[[], bool], why: str) -> None:
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline, why
        time.sleep(0.2)


def _listening(lab: Lab) -> bool:
    done = lab.run(lab.layout.upstream, ("ss", "-Hltn", "sport = :179"), check=False)
    return bool(done.stdout.strip())


def test_the_configured_node_is_accepted_and_the_other_is_not(lab: Lab) -> None:
    found = bgp_peer(lab, plan_for())
    first, second = found["node0001"], found["node0002"]
    assert first.status is Status.OK, first
    assert first.message == (
        f"the router {_router()} (AS {ROUTER_AS}) accepts this node from 2001:db8:1234:5678::1 "
        f"as AS {CLUSTER_AS}"
    )
    assert f"router's OPEN: AS {ROUTER_AS}, hold 240 s, ID {ROUTER_ID}" in first.evidence
    assert second.status is Status.FAIL, second
    assert second.message.startswith(f"the router {_router()} does not take BGP from "), second
    assert f"neighbor 2001:db8:1234:5678::2 remote-as {CLUSTER_AS}" in second.fix


def test_a_router_of_another_as_than_the_spec_says(lab: Lab) -> None:
    result = bgp_peer(lab, plan_for(peer_as=ROUTER_AS + 1))["node0001"]
    assert result.status is Status.FAIL, result
    assert result.message.endswith(f"answers as AS {ROUTER_AS}, the spec says peer_as 65002")
    assert result.fix.startswith(f"set bgp.peer_as: {ROUTER_AS} in kube6.yaml")


def test_a_node_that_already_speaks_bgp_is_left_alone(lab: Lab) -> None:
    # A listener on TCP 179 in node0001 stands for calico-node's BIRD: no second session.
    node = lab.node_ns("node0001")
    daemon = lab.start(
        "listener-179",
        node,
        (
            "python3",
            "-c",
            "import socket,time;s=socket.create_server(('::',179),family=socket.AF_INET6);time.sleep(60)",
        ),
        ready=lambda: bool(lab.run(node, ("ss", "-Hltn", "sport = :179")).stdout.strip()),
    )
    try:
        result = bgp_peer(lab, plan_for())["node0001"]
    finally:
        daemon.stop()
    assert result.status is Status.OK, result
    assert result.message.startswith("skipped: something listens on TCP 179 here"), result


def test_a_node_without_its_planned_address(lab: Lab) -> None:
    # The plan says ::99 for node0001; the node has ::1.
    nodes = [
        {"name": "node0001", "address": "2001:db8:1234:5678::99"},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
    ]
    moved = {**TWO_NODES, "nodes": nodes}
    bgp = {"peer": _router(), "peer_as": ROUTER_AS, "as_number": CLUSTER_AS}
    plan = make_plan(from_data({**moved, "routing": "bgp", "bgp": bgp}), source="bgp lab")
    result = bgp_peer(lab, plan)["node0001"]
    assert result.status is Status.FAIL, result
    assert "cannot send from 2001:db8:1234:5678::99: Cannot assign requested address" in (
        result.message
    )
    assert "needs its address 2001:db8:1234:5678::99" in result.fix


def test_a_cluster_as_the_router_does_not_expect_is_refused(lab: Lab) -> None:
    # After this, BIRD refuses connections for its `error wait time` (1-2 s here).
    result = bgp_peer(lab, plan_for(cluster_as=CLUSTER_AS + 1))["node0001"]
    assert result.status is Status.FAIL, result
    assert "refused this node's OPEN: NOTIFICATION 2/2 (bad peer AS" in result.message
    assert f"remote-as {CLUSTER_AS + 1}" in result.fix


def test_a_four_octet_cluster_as(lab: Lab) -> None:
    # Private 4-octet ASes (RFC 6996) are common: the OPEN carries AS_TRANS (23456) and the
    # real AS in its capability, which BIRD compares with the neighbour's.
    four_octet = 4_200_000_001
    _bird(lab, {"node0002": four_octet})
    found = bgp_peer(lab, plan_for(cluster_as=four_octet))
    assert found["node0002"].status is Status.OK, found["node0002"]
    assert found["node0002"].message.endswith(f"as AS {four_octet}")
    assert found["node0001"].status is Status.FAIL, found["node0001"]


def test_no_bgp_speaker_on_the_router(lab: Lab) -> None:
    lab.daemons["bird"].stop()
    _wait_until(lambda: not _listening(lab), "bird still listens")
    result = bgp_peer(lab, plan_for())["node0001"]
    assert result.status is Status.FAIL, result
    assert "connection refused" in result.message


def test_a_router_that_signs_its_sessions(lab: Lab) -> None:
    # A provider's router with a TCP MD5 password (RFC 2385; Vultr's do): the kernel drops
    # every unsigned or wrongly signed segment, so without the right password the node hears
    # nothing at all; BIRD signs through the kernel too (TCP_MD5SIG on its socket).
    password = "kube6 lab's pass|word"
    _bird(lab, {"node0001": CLUSTER_AS}, password=password)
    signed = bgp_peer(lab, plan_for(), password)["node0001"]
    assert signed.status is Status.OK, signed
    assert f"TCP [{_router()}]:179 from 2001:db8:1234:5678::1, signed with TCP MD5: accepted" in (
        signed.evidence
    )
    unsigned = bgp_peer(lab, plan_for())["node0001"]
    assert unsigned.status is Status.FAIL, unsigned
    assert "gave no BGP answer within 5 s" in unsigned.message
    assert "set bgp.password_file in kube6.yaml" in unsigned.fix
    wrong = bgp_peer(lab, plan_for(), "not the router's")["node0001"]
    assert wrong.status is Status.FAIL, wrong
    assert "signed with another password" in wrong.fix
    assert password not in str(signed) + str(unsigned) + str(wrong)


def test_a_signed_handshake_through_ssh(lab: Lab) -> None:
    # As `kube6 check` runs from an operator's machine: the speaker and its password (on
    # standard input, never in the remote command line) through real sshd.
    password = "through ssh | pass"
    _bird(lab, {"node0001": CLUSTER_AS}, password=password)
    plan = plan_for()
    executors: dict[str, Executor] = {"node0001": lab.ssh_executor("node0001")}
    results = in_namespace(
        lab.internet,
        lambda: asyncio.run(
            check_hosts(plan, executors, hosts=(), listen_seconds=0.5, bgp_password=password)
        ),
    )
    (found,) = [r for r in results if r.name == NAME]
    assert found.status is Status.OK, found
    assert "signed with TCP MD5: accepted" in found.evidence


def test_the_labs_own_bgp_router_takes_every_node_signed(lab_env: None, tmp_path: Path) -> None:
    """`Lab(bgp_router=True)`: the lab's provider router speaks BGP for the spec (kube6.lab's
    own BIRD configuration, the password of bgp.password_file): `check` finds every node
    accepted, signed; a spec whose peer is not the router's address is refused with the fix."""
    password_file = tmp_path / "bgp-password"
    password_file.write_text("lab router's pass\n")
    plan = make_plan(
        from_data(
            {
                **TWO_NODES,
                "routing": "bgp",
                "bgp": {
                    "peer": _router(),
                    "peer_as": ROUTER_AS,
                    "as_number": CLUSTER_AS,
                    "password_file": str(password_file),
                },
            }
        ),
        source="lab bgp router",
    )
    with Lab(plan, bgp_router=True) as lab:
        found = bgp_peer(lab, plan, "lab router's pass")
        for node in plan.nodes:
            assert found[node.name].status is Status.OK, found[node.name]
            assert "signed with TCP MD5: accepted" in found[node.name].evidence
        assert bgp_peer(lab, plan, None)["node0001"].status is Status.FAIL  # unsigned: dropped
    wrong = make_plan(
        from_data(
            {**TWO_NODES, "routing": "bgp", "bgp": {"peer": "2001:db8:1234:5678::fe", "peer_as": 1}}
        ),
        source="lab bgp router",
    )
    with pytest.raises(Kube6Error) as refused:
        Lab(wrong, bgp_router=True).up()
    assert refused.value.fix.startswith(f"set bgp.peer: {_router()} in kube6.yaml")
