"""The CoreDNS component: kube6's CoreDNS changes (DNS64 when the resolvers lack it) and the
wait until every node is Ready and CoreDNS available, in the `network` phase. Renderer in
`render`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kube6.components.base import Component
from kube6.components.coredns import render
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets
from kube6.steps.kubectl import kubectl


def _dns64(ctx: HostContext) -> str | None:
    if ctx.plan.dns_settings.coredns_dns64:
        return None
    return f"CoreDNS keeps its defaults (DNS64: {ctx.plan.dns_settings.dns64})"


@dataclass(frozen=True)
class ReadyFacts:
    ready: frozenset[str]
    coredns_available: int


def parse_ready_nodes(text: str | None) -> frozenset[str]:
    """Names of Ready nodes from `kubectl get nodes -o json`."""
    if not text:
        return frozenset()
    try:
        items = json.loads(text).get("items", [])
    except ValueError:
        return frozenset()
    ready = set()
    for item in items:
        for cond in (item.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                ready.add(item["metadata"]["name"])
    return frozenset(ready)


async def read_ready(ctx: HostContext) -> ReadyFacts:
    nodes = await probe.stdout(ctx, *kubectl(ctx, "get", "nodes", "-o", "json"))
    available = await probe.stdout(
        ctx,
        *kubectl(
            ctx,
            "-n",
            "kube-system",
            "get",
            "deployment",
            "coredns",
            "-o",
            "jsonpath={.status.availableReplicas}",
        ),
    )
    count = (available or "").strip()
    return ReadyFacts(parse_ready_nodes(nodes), int(count) if count.isdigit() else 0)


def fresh_ready(ctx: HostContext) -> ReadyFacts:
    return ReadyFacts(frozenset(), 0)


def plan_ready(ctx: HostContext, facts: ReadyFacts) -> StepPlan:
    """Wait until every node of the plan is Ready and CoreDNS has an available replica."""
    wanted = {n.name for n in ctx.plan.nodes}
    if wanted <= facts.ready and facts.coredns_available > 0:
        return StepPlan.nothing(f"{len(wanted)} node(s) Ready, CoreDNS available")
    return StepPlan.do(
        cluster.wait(
            ctx,
            "wait",
            "--for=condition=Ready",
            "node",
            "--all",
            why="Calico brings the node network up",
        ),
        cluster.wait(
            ctx,
            "-n",
            "kube-system",
            "rollout",
            "status",
            "deployment/coredns",
            why="cluster DNS answers",
        ),
    )


UP: tuple[Step[Any], ...] = (
    cluster.manifests_step(
        "coredns",
        "CoreDNS with DNS64, when the resolvers lack it.",
        cluster.under("coredns"),
        _dns64,
        take_over=True,  # kubeadm created the ConfigMap; kube6 replaces its Corefile
    ),
    Step(
        "ready",
        "Every node Ready and CoreDNS available.",
        plan_ready,
        read_ready,
        fresh_ready,
        targets=Targets.FIRST_CONTROL_PLANE,
        needs_cluster=True,
    ),
)

COMPONENT = Component("coredns", renderers={"coredns": render.render}, up=UP)
