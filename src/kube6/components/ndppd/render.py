"""The NDP proxy (`/etc/ndppd.conf`, ndppd 0.2.5 syntax, see ndppd.conf(5)).

In `ndp-proxy` routing the provider treats the prefix as on-link and sends a neighbour
solicitation for every pod, service or LoadBalancer address; ndppd on the node answers for the
ranges that the plan gives that node (`PlannedNode.ndp_rules`): its pods (`auto`), the service
range on one node and the LoadBalancer range on every worker of its link (`static`). Nodes
without rules get no file.
"""

from __future__ import annotations

from collections.abc import Iterator

from kube6.plan.model import Plan, PlannedNode
from kube6.render.base import Artifact, NodeFile, header

CONFIG = NodeFile("/etc/ndppd.conf")
DROPIN = NodeFile("/etc/systemd/system/ndppd.service.d/kube6.conf")
"""Restarts ndppd when it dies (`service_dropin`)."""
CONFIG_PATH, DROPIN_PATH = CONFIG.path, DROPIN.path
TIMEOUT_MS = 500
"""How long ndppd waits for the pod's own advertisement (`auto` rules); the ndppd default."""
TTL_MS = 1000
"""How long an answer (or a miss) stays cached. ndppd's default, 30 s, keeps a new pod
unreachable for half a minute after a first unanswered solicitation (bench/ndp_scale.py)."""
ROUTE_TTL_MS = 1000
"""How often ndppd re-reads the routing table for `auto` rules (default 30 s): a new pod's
/128 route is seen within a second. Both together: ~2 s from route to first reply instead of
~31 s, for ~0.5% of a CPU with 1,000 routes (bench/README.md)."""


def render(plan: Plan) -> Iterator[Artifact]:
    """One ndppd.conf per node that has NDP rules.

    Example: `nodes/node0001/etc/ndppd.conf` for the built-in example (routing ndp-proxy).
    """
    for node in plan.nodes:
        if node.ndp_rules:
            yield Artifact(
                path=CONFIG.at(node),
                content=ndppd_conf(plan, node),
                description=f"NDP proxy on {node.interface} of {node.name}",
            )
            yield Artifact(
                path=DROPIN.at(node),
                content=service_dropin(plan),
                description="restart ndppd when it dies",
            )


def service_dropin(plan: Plan) -> str:
    """A systemd drop-in that restarts ndppd when it exits.

    ndppd 0.2.5 aborts (`invalid_pointer`) when a solicitation for an `auto` rule arrives
    before it has read the routing table (seen in kube6's lab); a restart is then all it needs.
    """
    what = "systemd drop-in: keep the NDP proxy running."
    lines = [
        "#",
        "# ndppd 0.2.5 can abort at start-up when a solicitation arrives before it has read",
        "# the routing table; without it no pod on this node is reachable from outside.",
        "[Service]",
        "Restart=on-failure",
        "RestartSec=2s",
    ]
    return header(plan, what) + "\n".join(lines) + "\n"


def ndppd_conf(plan: Plan, node: PlannedNode) -> str:
    """The ndppd.conf text of `node`."""
    what = f"NDP proxy of {node.name}: answers neighbour solicitations on {node.interface}."
    lines = [
        "#",
        "# auto: answer only for addresses this node has a route to (its own pods), after the",
        "#       target answered on that route; static: answer for the whole range at once.",
        "# route-ttl and ttl of 1 s: a new pod answers within ~2 s, not ~31 s (ndppd's defaults).",
        f"route-ttl {ROUTE_TTL_MS}",
        f"proxy {node.interface} {{",
        # The router flag tells the provider's router that this host forwards.
        "    router yes",
        f"    timeout {TIMEOUT_MS}",
        f"    ttl {TTL_MS}",
    ]
    for rule in node.ndp_rules:
        lines += [
            f"    # {' '.join(rule.why.split())}",
            f"    rule {rule.cidr} {{",
            f"        {rule.method}",
            "    }",
        ]
    lines.append("}")
    return header(plan, what) + "\n".join(lines) + "\n"
