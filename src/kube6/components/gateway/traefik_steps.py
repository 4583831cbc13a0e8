"""Traefik's `up` steps: its rendered objects (`traefik`), then `gateway-ready` once the Gateway
is applied: the gateway address given to the Service by Calico, every Traefik pod ready, and the
Gateway Programmed with that address in its status.

Traefik's readiness is proven by its own reports: the DaemonSet's rollout (the kubelet's /ping
probe on each pod) and the Gateway status that Traefik writes (Accepted and Programmed once its
provider has loaded the Gateway's listeners onto its entry points).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kube6.components.gateway import address, render, traefik
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets
from kube6.steps.kubectl import kubectl


def applies(ctx: HostContext) -> str | None:
    if traefik.chosen(ctx.plan):
        return None
    if not ctx.plan.addons.gateway.enabled:
        return "the gateway is off in the plan (addons.gateway)"
    return f"the gateway's controller is {ctx.plan.addons.gateway.controller}, not traefik"


@dataclass(frozen=True)
class ReadyFacts:
    ingress: tuple[str, ...]
    """The Traefik Service's status.loadBalancer.ingress addresses."""
    rolled_out: bool
    """The DaemonSet's current generation runs and is ready on every node it schedules to."""
    gateway: tuple[bool, tuple[str, ...]]
    """The Gateway: Programmed (current generation), and the addresses in its status."""


def _load(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_ingress(text: str | None) -> tuple[str, ...]:
    """The IPs of a Service's status.loadBalancer.ingress, from `kubectl get -o json`."""
    ingress = ((_load(text).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return tuple(str(i["ip"]) for i in ingress if isinstance(i, dict) and i.get("ip"))


def parse_rolled_out(text: str | None) -> bool:
    """True when a DaemonSet (`kubectl get -o json`) runs its current generation, ready, on
    every node it is scheduled to (at least one)."""
    data = _load(text)
    status = data.get("status") or {}
    generation = (data.get("metadata") or {}).get("generation")
    desired = status.get("desiredNumberScheduled", 0)
    return (
        desired > 0
        and status.get("observedGeneration") == generation
        and status.get("updatedNumberScheduled") == desired
        and status.get("numberReady") == desired
    )


def parse_gateway(text: str | None) -> tuple[bool, tuple[str, ...]]:
    """(Programmed for its current generation, status addresses) of a Gateway."""
    data = _load(text)
    status = data.get("status") or {}
    generation = (data.get("metadata") or {}).get("generation")
    programmed = any(
        c.get("type") == "Programmed"
        and c.get("status") == "True"
        and c.get("observedGeneration") == generation
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    )
    addresses = tuple(
        str(a["value"])
        for a in status.get("addresses") or []
        if isinstance(a, dict) and "value" in a
    )
    return programmed, addresses


async def read_ready(ctx: HostContext) -> ReadyFacts:
    if applies(ctx):
        return fresh_ready(ctx)

    async def get(*what: str) -> str | None:
        return await probe.stdout(ctx, *kubectl(ctx, "get", *what, "-o", "json"))

    service = await get("service", traefik.NAME, "-n", traefik.NAMESPACE)
    daemons = await get("daemonset", traefik.NAME, "-n", traefik.NAMESPACE)
    gateway = await get("gateway", render.GATEWAY_NAME, "-n", render.GATEWAY_NAMESPACE)
    return ReadyFacts(parse_ingress(service), parse_rolled_out(daemons), parse_gateway(gateway))


def fresh_ready(ctx: HostContext) -> ReadyFacts:
    return ReadyFacts((), False, (False, ()))


def plan_ready(ctx: HostContext, facts: ReadyFacts) -> StepPlan:
    """Wait for the gateway address on the Service (Calico), Traefik's pods and the Gateway."""
    reason = applies(ctx)
    if reason:
        return StepPlan.nothing(reason)
    if not ctx.plan.workers:
        # Nothing to wait for: a DaemonSet without a worker runs no pod, and waiting would
        # only time out. verify's gateway-ipv6 fails on the unprogrammed Gateway, with its fix.
        return StepPlan.nothing(
            "no worker node: no Traefik pod runs and the Gateway is not programmed "
            "(give a node the worker role in kube6.yaml)"
        )
    planned = (str(address.gateway_address(ctx.plan)),)
    programmed, shown = facts.gateway
    if facts.ingress == planned and facts.rolled_out and programmed and shown == planned:
        return StepPlan.nothing(
            f"Traefik is ready and Gateway {render.GATEWAY_NAME} is programmed on {planned[0]}"
        )
    ns = ("-n", traefik.NAMESPACE)
    gw = (f"gateway/{render.GATEWAY_NAME}", "-n", render.GATEWAY_NAMESPACE)
    actions = [
        cluster.wait(
            ctx,
            "wait",
            f"--for=jsonpath={{.status.loadBalancer.ingress[0].ip}}={planned[0]}",
            f"service/{traefik.NAME}",
            *ns,
            why="Calico's LoadBalancer controller gives the Service the gateway address "
            "(calico-kube-controllers' log tells why not)",
        )
    ]
    actions += [
        cluster.wait(
            ctx,
            "rollout",
            "status",
            f"daemonset/{traefik.NAME}",
            *ns,
            why="a ready Traefik pod on every worker",
        ),
        cluster.wait(
            ctx,
            "wait",
            "--for=condition=Programmed",
            *gw,
            why="Traefik has loaded the Gateway's listeners",
        ),
    ]
    # Traefik copies the Service's address at its next configuration event.
    actions.append(
        cluster.wait(
            ctx,
            "wait",
            f"--for=jsonpath={{.status.addresses[0].value}}={planned[0]}",
            *gw,
            why="the Gateway's status shows the gateway address",
        )
    )
    return StepPlan.do(*actions)


INSTALL = cluster.manifests_step(
    "traefik",
    "Traefik Proxy, the Gateway API controller (its objects as kube6 renders them).",
    cluster.under("gateway", exclude=("values.yaml", "gateway.yaml")),
    applies,
)

READY = Step(
    "gateway-ready",
    "Traefik ready on every worker; the Gateway Programmed on the gateway address.",
    plan_ready,
    read_ready,
    fresh_ready,
    targets=Targets.FIRST_CONTROL_PLANE,
    needs_cluster=True,
)
