"""`network/calico-bgp-sessions` (routing `bgp`): `up` goes on once every node reports its BGP
sessions Established, the router's and the mesh's.

calico-node writes them into kube6's CalicoNodeStatus objects (bgp.node_status) every
NODE_STATUS_PERIOD seconds and once when an object appears, which is when bgp.yaml is applied
and before BIRD has the router as a peer: without this wait, the verify step that follows
reads that first report and finds no session with the router (found by the bgp journey on
real nodes, where the session came up a second after the report).
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6.components.calico.bgp import NODE_STATUS_PERIOD, node_status_name
from kube6.components.calico.bgp_password import unless_bgp
from kube6.components.calico.checks import NODE_STATUS
from kube6.steps import probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets, run
from kube6.steps.kubectl import kubectl
from kube6.steps.verify import parse_items

RESOURCE = NODE_STATUS.crd
"""Where Calico stores the reports (read without the Calico API server, as verify does)."""
WAIT_SECONDS = 3 * NODE_STATUS_PERIOD + 60
"""Three reports and a minute for the sessions: longer means a router or firewall problem,
which `kube6 verify` then names (calico-bgp-sessions)."""


@dataclass(frozen=True)
class SessionFacts:
    established: dict[str, int]
    """Node -> the IPv6 sessions its last report counts Established (absent: no report)."""


def parse_established(text: str | None) -> dict[str, int]:
    """CalicoNodeStatus name -> `status.bgp.numberEstablishedV6`, from `kubectl get -o json`."""
    found: dict[str, int] = {}
    for item in parse_items(text) or ():
        name = (item.get("metadata") or {}).get("name")
        count = ((item.get("status") or {}).get("bgp") or {}).get("numberEstablishedV6")
        if isinstance(name, str) and isinstance(count, int):
            found[name] = count
    return found


async def read_sessions(ctx: HostContext) -> SessionFacts:
    if unless_bgp(ctx):
        return SessionFacts({})
    text = await probe.stdout(ctx, *kubectl(ctx, "get", RESOURCE, "-o", "json"))
    return SessionFacts(parse_established(text))


def fresh_sessions(ctx: HostContext) -> SessionFacts:
    return SessionFacts({})


def plan_sessions(ctx: HostContext, facts: SessionFacts) -> StepPlan:
    reason = unless_bgp(ctx)
    if reason:
        return StepPlan.nothing(reason)
    # A full mesh: the router and every other node.
    expected = len(ctx.plan.nodes)
    waiting = [
        node_status_name(node.name)
        for node in ctx.plan.nodes
        if facts.established.get(node_status_name(node.name)) != expected
    ]
    if not waiting:
        return StepPlan.nothing(
            f"every node reports {expected} BGP session(s) Established (the router and the mesh)"
        )
    return StepPlan.do(
        run(
            *kubectl(
                ctx,
                "wait",
                f"--for=jsonpath={{.status.bgp.numberEstablishedV6}}={expected}",
                *(f"{RESOURCE}/{name}" for name in waiting),
                f"--timeout={WAIT_SECONDS}s",
            ),
            why=f"BIRD's sessions with the router and the other nodes, as calico-node reports "
            f"them (every {NODE_STATUS_PERIOD} s); `kube6 verify` names a session that does not "
            "come up",
            timeout=WAIT_SECONDS + 30,
        )
    )


STEP: Step[SessionFacts] = Step(
    "calico-bgp-sessions",
    "Every node's BGP sessions Established, the router's and the mesh's (bgp mode).",
    plan_sessions,
    read_sessions,
    fresh_sessions,
    targets=Targets.FIRST_CONTROL_PLANE,
    needs_cluster=True,
)
