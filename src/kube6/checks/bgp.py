"""`bgp-peer` (routing `bgp`): the router accepts the node as a neighbour with the planned ASes.

Judged from the handshake that `kube6.facts.bgp` opened from the node's address: the router's
OPEN names its AS (it must be the spec's `bgp.peer_as`), its KEEPALIVE accepts the node's OPEN
with the cluster's AS (`bgp.as_number`). Anything else says what to change on which side.
"""

from __future__ import annotations

from collections.abc import Sequence

from kube6.checks.context import Context, fail, ok, unknown
from kube6.checks.model import CheckResult
from kube6.facts import bgp
from kube6.facts.bgp import BgpAnswer

NAME = "bgp-peer"


def check_bgp_peer(ctx: Context) -> Sequence[CheckResult]:
    plan, facts = ctx.plan, ctx.facts
    if plan.bgp is None:
        return [ok(f"skipped: routing {plan.routing} runs no BGP")]
    if facts.listeners is not None and bgp.speaks_bgp(facts.listeners):
        return [
            ok(
                "skipped: something listens on TCP 179 here (calico-node's BIRD): a second "
                "session from this address would disturb it; `kube6 verify` reports the real "
                "one (calico-bgp-sessions)"
            )
        ]
    if facts.bgp is None:
        if bgp.HANDSHAKE in facts.unknown:
            return [unknown(facts, bgp.HANDSHAKE)]
        return [ok("skipped: no connections were allowed (--no-connect)")]
    return [_judge(facts.bgp, plan.bgp.peer_as, plan.bgp.as_number)]


def _judge(answer: BgpAnswer, peer_as: int, cluster_as: int) -> CheckResult:
    """The verdict on the router's answer to an OPEN from `answer.source` as `cluster_as`."""
    seen = _evidence(answer)
    router = f"the router {answer.peer}"
    neighbour = (
        f"{router} needs `neighbor {answer.source} remote-as {cluster_as}` (or its equivalent)"
    )
    if answer.result == "accepted" and answer.peer_as == peer_as:
        return ok(
            f"{router} (AS {peer_as}) accepts this node from {answer.source} as AS {cluster_as}",
            seen,
        )
    if answer.result == "accepted":
        return fail(
            f"{router} answers as AS {answer.peer_as}, the spec says peer_as {peer_as}",
            f"set bgp.peer_as: {answer.peer_as} in kube6.yaml if that is your provider's AS",
            seen,
        )
    closed = (
        f"does not take BGP from {answer.source}: {answer.detail}",
        f"{neighbour}; some providers set it up only on request (a router that has just "
        "refused a session may refuse connections for a minute: check again then)",
    )
    problem, fix = {
        "closed": closed,
        "refused": closed,
        "notification": (
            f"refused this node's OPEN: {bgp.notification_text(answer.code, answer.subcode)}",
            f"{neighbour}; bgp.as_number in kube6.yaml is the cluster's own AS",
        ),
        "timeout": (
            f"gave no BGP answer within {bgp.OPEN_SECONDS} s: {answer.detail}",
            f"TCP {bgp.BGP_PORT} to {answer.peer} must be open from {answer.source} (a "
            f"firewall of the host's or the provider's may drop it); {neighbour}; {_md5(answer)}",
        ),
        "unreachable": (
            f"cannot be reached from {answer.source}: {answer.detail}",
            f"the node needs its address {answer.source} and a route to {answer.peer} (`ip -6 "
            f"route get {answer.peer} from {answer.source}` on the node)",
        ),
    }[answer.result]
    return fail(f"{router} {problem}", fix, seen)


def _md5(answer: BgpAnswer) -> str:
    """A router that signs its sessions drops unsigned (or wrongly signed) segments unanswered."""
    if answer.signed:
        return (
            "the router drops segments signed with another password: check the one in "
            "bgp.password_file with your provider"
        )
    return (
        "a router that expects a TCP MD5 password drops connections without it: put it in a "
        "file and set bgp.password_file in kube6.yaml"
    )


def _evidence(answer: BgpAnswer) -> list[str]:
    signed = ", signed with TCP MD5" if answer.signed else ""
    lines = [f"TCP [{answer.peer}]:{bgp.BGP_PORT} from {answer.source}{signed}: {answer.result}"]
    if answer.peer_as is not None:
        lines.append(
            f"router's OPEN: AS {answer.peer_as}, hold {answer.hold} s, ID {answer.router_id}"
        )
    if answer.result == "notification":
        lines.append(bgp.notification_text(answer.code, answer.subcode))
    return lines


CHECKS = (
    (
        NAME,
        check_bgp_peer,
        "routing bgp: the router accepts the node's BGP session with the planned ASes",
    ),
)
