"""`link-model`: is the node's prefix on-link at the provider, or routed to the node?

The model comes from what the uplink showed (kube6.facts.link_model.classify); the spec's
routing strategy says whether it fits (`RoutingStrategy.judge_link`), with the spec line to
change when it does not.
"""

from __future__ import annotations

from ipaddress import IPv6Network

from kube6.checks.context import Check, Context
from kube6.checks.model import CheckResult, warn
from kube6.facts import HostFacts
from kube6.facts.link_model import Classification, classify
from kube6.modes import LinkModel
from kube6.plan.model import Plan, PlannedNode
from kube6.routing import proposed_mode, strategy

NAME = "link-model"


def claimed_ranges(plan: Plan) -> tuple[IPv6Network, ...]:
    """Ranges whose addresses a node may answer for or route (the pod pools, services): a
    packet for one of them says nothing of the provider. The pools, not `plan.pods`: with
    nodes on several links that is kubeadm's podSubnet, a supernet of every pool that covers
    the node links themselves (found on real nodes: every address was "claimed")."""
    return (plan.services, *(pool.cidr for pool in plan.pools))


def classify_node(plan: Plan, node: PlannedNode, facts: HostFacts) -> Classification:
    return classify(
        facts,
        node.interface,
        node.link_prefix,
        (n.address for n in plan.nodes),
        claimed_ranges(plan),
    )


def check_link_model(ctx: Context) -> list[CheckResult]:
    found = classify_node(ctx.plan, ctx.node, ctx.facts)
    mode = strategy(ctx.plan.routing)
    if found.model is LinkModel.UNKNOWN and not found.listened:
        listen = next((why for what, why in _unknown(ctx.facts) if what == "link listen"), None)
        return [
            warn(
                NAME,
                "could not check: the uplink could not be listened on"
                + (f" ({listen})" if listen else "")
                + f"; routing {mode.mode} is kept as kube6.yaml says",
                "the listener needs python3 on the host (Debian: apt-get install python3-minimal)"
                "; without it, tell on-link from routed by hand: ping an address of the prefix "
                "that no host has from outside and watch `tcpdump -ni IF icmp6` on the node "
                "(solicitations from the router: on-link; the pings themselves: routed)",
                "\n".join(found.evidence),
            )
        ]
    return mode.judge_link(
        NAME, found.model, found.why, proposed_mode(found.model), "\n".join(found.evidence)
    )


def _unknown(facts: HostFacts) -> tuple[tuple[str, str], ...]:
    return facts.link.unknown if facts.link else ()


CHECKS: tuple[tuple[str, Check, str], ...] = (
    (
        NAME,
        check_link_model,
        "the provider's link model (on-link or routed, from what the uplink shows) fits routing",
    ),
)
