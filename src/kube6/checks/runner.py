"""The shell around the pure checks: gather facts on every node in parallel, then check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kube6.checks import run_checks, validate_ignore
from kube6.checks.model import ArtifactHost, CheckResult
from kube6.execute import Executor, run_on_hosts
from kube6.facts import HostFacts, gather
from kube6.facts.bgp import BgpTarget
from kube6.facts.link import LISTEN_SECONDS
from kube6.plan.model import Plan, PlannedNode


async def check_hosts(
    plan: Plan,
    executors: Mapping[str, Executor],
    ignore: Iterable[str] = (),
    *,
    hosts: Sequence[ArtifactHost],
    connect: bool = True,
    limit: int = 8,
    listen_seconds: float = LISTEN_SECONDS,
    bgp_password: str | None = None,
) -> list[CheckResult]:
    """Gather facts on each node of `executors` (node name -> executor, at most `limit` at
    once), then run every check. A node that cannot be reached fails `host-reachable` (or
    `privileges` when sudo refuses); the others are still checked. Each node listens on its
    uplink for `listen_seconds` meanwhile (kube6.facts.link), and resolves (and with
    `connect`, connects to) each of `hosts`. Executors are closed afterwards."""
    ignored = validate_ignore(ignore)  # refuse a bad --ignore before contacting anything
    facts = await gather_facts(
        plan,
        executors,
        hosts,
        connect=connect,
        limit=limit,
        listen_seconds=listen_seconds,
        bgp_password=bgp_password,
    )
    return run_checks(plan, facts, ignored, hosts=hosts)


async def gather_facts(
    plan: Plan,
    executors: Mapping[str, Executor],
    lookups: Sequence[ArtifactHost],
    *,
    connect: bool = True,
    limit: int = 8,
    listen_seconds: float = LISTEN_SECONDS,
    bgp_password: str | None = None,
) -> dict[str, HostFacts | BaseException]:
    """Each node's facts (or why they could not be read), resolving each of `lookups` there;
    at most `limit` nodes at once; `bgp_password` signs the BGP handshake (bgp.password_file).
    Executors are closed afterwards."""
    names = list(dict.fromkeys(h.name for h in lookups))
    ports = {h.name: h.port for h in lookups}
    node_of = {id(executor): node for node, executor in executors.items()}

    async def one(executor: Executor) -> HostFacts:
        node = plan.node(node_of[id(executor)])
        return await gather(
            executor,
            node.name,
            lookups=names,
            connect=connect,
            ports=ports,
            uplink=(node.interface, node.link_prefix),
            listen_seconds=listen_seconds,
            bgp_peer=bgp_target(plan, node, bgp_password),
        )

    try:
        outcomes = await run_on_hosts(list(executors.values()), one, limit=limit)
    finally:
        for executor in executors.values():
            await executor.close()
    facts: dict[str, HostFacts | BaseException] = {}
    for node, outcome in zip(executors, outcomes, strict=True):
        facts[node] = outcome.error if outcome.error is not None else outcome.unwrap()
    return facts


def bgp_target(plan: Plan, node: PlannedNode, password: str | None = None) -> BgpTarget | None:
    """Whom `node` peers with in `bgp` routing (every node peers with the router), else None."""
    if plan.bgp is None:
        return None
    return BgpTarget(plan.bgp.peer, node.address, plan.bgp.as_number, password)
