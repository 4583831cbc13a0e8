"""ndppd's `reset` step (`routing`): ndppd stopped and disabled, its configuration removed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.components.ndppd import steps as routing
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, Step, StepPlan, run
from kube6.steps.files import remove


@dataclass(frozen=True)
class RoutingFacts:
    service: probe.ServiceFacts
    config: bool
    dropin: bool = False


async def read_routing(ctx: HostContext) -> RoutingFacts:
    return RoutingFacts(
        await probe.read_service(ctx, routing.SERVICE),
        await probe.exists(ctx, routing.CONFIG_PATH),
        await probe.exists(ctx, routing.DROPIN_PATH),
    )


def fresh_routing(ctx: HostContext) -> RoutingFacts:
    present = bool(ctx.node.ndp_rules)
    return RoutingFacts(probe.ServiceFacts(present, present), present)


def plan_routing(ctx: HostContext, facts: RoutingFacts) -> StepPlan:
    """Stop and disable ndppd, remove /etc/ndppd.conf (only where kube6 ran it)."""
    reason = routing.not_needed(ctx)
    if reason:
        return StepPlan.nothing(reason)
    actions: list[Action] = [*probe.stop(ctx, routing.SERVICE, facts.service)]
    if facts.config:
        actions.append(remove(ctx, routing.CONFIG_PATH, why="kube6's NDP proxy rules"))
    if facts.dropin:
        actions += [
            remove(ctx, routing.DROPIN_PATH, why="kube6's restart policy for ndppd"),
            run("systemctl", "daemon-reload"),
        ]
    if not actions:
        return StepPlan.nothing("ndppd is stopped and /etc/ndppd.conf is gone")
    return StepPlan.do(*actions)


RESET: tuple[Step[Any], ...] = (
    Step(
        "routing",
        "ndppd stopped and disabled, /etc/ndppd.conf removed.",
        plan_routing,
        read_routing,
        fresh_routing,
    ),
)
