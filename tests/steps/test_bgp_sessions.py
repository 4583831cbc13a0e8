"""network/calico-bgp-sessions: `up` waits for every node's BGP sessions as calico-node
reports them (the real reports: the bgp journey, tests/e2e/test_journey.py)."""

from __future__ import annotations

import json

from kube6.components.calico import bgp_sessions
from kube6.components.calico.bgp_sessions import SessionFacts, parse_established, plan_sessions
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

from .conftest import context

NODES = [
    {"name": "cp1", "address": "2001:db8:1234:5678::11", "roles": ["control-plane"]},
    {"name": "w1", "address": "2001:db8:1234:5678::12", "roles": ["worker"]},
    {"name": "w2", "address": "2001:db8:1234:5678::13", "roles": ["worker"]},
]


def bgp_plan() -> Plan:
    data = {
        "prefix": "2001:db8:1234:5678::/64",
        "routing": "bgp",
        "bgp": {"peer": "2001:db8:1234:5678::fffe", "peer_as": 65001},
        "nodes": NODES,
    }
    return make_plan(from_data(data), source="test")


def _status(name: str, established: int | None) -> dict[str, object]:
    """A CalicoNodeStatus as calico-node writes it (shape seen in the bgp journey)."""
    bgp = {} if established is None else {"numberEstablishedV6": established}
    return {"metadata": {"name": name}, "status": {"bgp": bgp}}


def test_reports_are_read_by_name() -> None:
    text = json.dumps(
        {
            "items": [
                _status("kube6-bgp-cp1", 3),
                _status("kube6-bgp-w1", 1),
                _status("kube6-bgp-w2", None),  # created, not reported yet
            ]
        }
    )
    assert parse_established(text) == {"kube6-bgp-cp1": 3, "kube6-bgp-w1": 1}
    assert parse_established(None) == {}
    assert parse_established("not json") == {}


def test_up_waits_for_the_nodes_whose_sessions_are_not_all_up() -> None:
    ctx = context(bgp_plan())
    # The router and two mesh peers: 3 per node.
    planned = plan_sessions(ctx, SessionFacts({"kube6-bgp-cp1": 3, "kube6-bgp-w1": 2}))
    (wait,) = planned.actions
    argv = wait.command.argv  # type: ignore[union-attr]
    assert argv[3:5] == ("wait", "--for=jsonpath={.status.bgp.numberEstablishedV6}=3")
    assert argv[5:7] == (
        "caliconodestatuses.crd.projectcalico.org/kube6-bgp-w1",
        "caliconodestatuses.crd.projectcalico.org/kube6-bgp-w2",
    )
    assert argv[-1] == f"--timeout={bgp_sessions.WAIT_SECONDS}s"
    done = plan_sessions(ctx, SessionFacts({f"kube6-bgp-{n['name']}": 3 for n in NODES}))
    assert done.noop == "every node reports 3 BGP session(s) Established (the router and the mesh)"


def test_not_in_other_routing_modes(plan: Plan) -> None:
    assert plan_sessions(context(plan), SessionFacts({})).noop == "routing is ndp-proxy, not bgp"
