"""verify: `kube6 verify`'s object checks, on objects listed with kubectl on the first control
plane (the admin kubeconfig never leaves the host). The data-path and from-outside checks of
`kube6 verify` need a vantage point outside the cluster: run that command for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kube6.results import listed
from kube6.steps import probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets, run
from kube6.steps.kubectl import kubectl

if TYPE_CHECKING:
    # lightkube's models are loaded when this step reads a cluster, so that
    # `up --dry-run --fresh` and the other commands do without them.
    from kube6.plan.model import Plan
    from kube6.verify.objects import ClusterObjects, CustomKind
    from kube6.verify.result import CheckResult

    Checks = Callable[[Plan, ClusterObjects], list[CheckResult]]
    """Every object check of `kube6 verify` (kube6.components.registry.check_objects)."""
    Kinds = Callable[[Plan], Sequence[CustomKind]]
    """The custom kinds those checks read in a plan (kube6.components.registry.custom_kinds)."""


@dataclass(frozen=True)
class VerifyFacts:
    objects: ClusterObjects | None
    """None when the API server did not answer (`problem` says what it said)."""
    problem: str = ""


def parse_items(text: str | None) -> tuple[dict[str, Any], ...] | None:
    """The items of a `kubectl get ... -o json` list, or None when it could not be read."""
    if text is None:
        return None
    try:
        items = json.loads(text).get("items")
    except (ValueError, AttributeError):
        return None
    return tuple(items) if isinstance(items, list) else None


def to_objects(lists: dict[str, tuple[dict[str, Any], ...] | None]) -> ClusterObjects:
    """Typed core objects (lightkube models) and plain custom objects (by CRD name), as verify
    reads them."""
    from lightkube.models.core_v1 import Node, Pod, Service

    from kube6.verify.objects import ClusterObjects

    return ClusterObjects(
        nodes=tuple(Node.from_dict(o) for o in lists["nodes"] or ()),  # type: ignore[no-untyped-call]
        services=tuple(Service.from_dict(o) for o in lists["services"] or ()),  # type: ignore[no-untyped-call]
        pods=tuple(Pod.from_dict(o) for o in lists["pods"] or ()),  # type: ignore[no-untyped-call]
        custom={k: v for k, v in lists.items() if k not in CORE},
    )


async def _list(ctx: HostContext, resource: str, *, namespaced: bool) -> str | None:
    scope = ("-A",) if namespaced else ()
    return await probe.stdout(ctx, *kubectl(ctx, "get", resource, *scope, "-o", "json"))


CORE = ("nodes", "services", "pods")


async def read_verify(ctx: HostContext, kinds: Sequence[CustomKind]) -> VerifyFacts:
    ready = await ctx.executor.run(kubectl(ctx, "get", "--raw", "/readyz"), check=False)
    if not ready.ok:
        return VerifyFacts(None, (ready.stdout + ready.stderr).strip()[:400])
    lists: dict[str, tuple[dict[str, Any], ...] | None] = {}
    for resource in CORE:
        lists[resource] = parse_items(await _list(ctx, resource, namespaced=resource != "nodes"))
    for kind in kinds:
        lists[kind.crd] = parse_items(await _list(ctx, kind.crd, namespaced=kind.namespaced))
    return VerifyFacts(to_objects(lists))


def fresh_verify(ctx: HostContext) -> VerifyFacts:
    return VerifyFacts(None, "a host kube6 never touched has no cluster yet")


def plan_verify(ctx: HostContext, facts: VerifyFacts, check_objects: Checks) -> StepPlan:
    """Read-only: refuse when a check fails, otherwise say how many passed."""
    from kube6.verify.result import Status

    if facts.objects is None and ctx.dry_run:
        # A dry run on a host with no cluster yet (or --fresh): the cluster that the steps
        # before this one would create is what verify reads; planned, not refused.
        return StepPlan.do(
            run(
                *kubectl(ctx, "get", "--raw", "/readyz"),
                why="after the steps above: the API server answers, then kube6 checks nodes, "
                "Services, pods, pools, issuers and gateways against the plan",
            ),
            notes=("`kube6 verify` from your workstation adds the data path and the outside view",),
        )
    if ctx.options.fresh:
        return StepPlan.nothing("not run: --fresh does not contact the hosts (run `kube6 verify`)")
    if facts.objects is None:
        return StepPlan.stop(
            f"the API server on {ctx.node.name} is not ready: {facts.problem}",
            fix=f"on {ctx.node.name}: `kubectl get --raw '/readyz?verbose'` and "
            "`journalctl -u kubelet` show which part is not",
        )
    results = check_objects(ctx.plan, facts.objects)
    failed = [r for r in results if r.status is Status.FAIL]
    if failed:
        return StepPlan.stop(
            f"{len(failed)} of {len(results)} acceptance check(s) failed:\n{listed(failed)}",
            fix="`kube6 verify` shows every check with its evidence",
        )
    return StepPlan.nothing(
        f"{len(results)} acceptance checks passed; `kube6 verify` adds the data path and the "
        "view from outside"
    )


def verify_step(check_objects: Checks, kinds: Kinds) -> Step[VerifyFacts]:
    """The `verify` step, running `check_objects` on the nodes, Services, pods and the
    objects of `kinds` (the registry gives the components' checks and kinds)."""

    async def read(ctx: HostContext) -> VerifyFacts:
        return await read_verify(ctx, kinds(ctx.plan))

    def plan(ctx: HostContext, facts: VerifyFacts) -> StepPlan:
        return plan_verify(ctx, facts, check_objects)

    return Step(
        "verify",
        "kube6 verify's object checks against the plan, read through kubectl on the first node.",
        plan,
        read,
        fresh_verify,
        targets=Targets.FIRST_CONTROL_PLANE,
        needs_cluster=True,
    )
