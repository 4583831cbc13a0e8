"""preflight: `kube6 check` on each host before anything changes; a failed check stops the host
unless it is ignored by name (`--ignore NAME`, kubeadm's --ignore-preflight-errors).

The facts are the host's HostFacts (`kube6.facts.gather`, read-only, with the plan's artifact
hosts resolved and connected to), the checks are `kube6.checks.run_checks`; `--ignore` turns a
named failure into a warning there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kube6.checks import ArtifactHost, CheckResult, Status, run_checks
from kube6.facts import HostFacts, gather
from kube6.plan.model import Plan
from kube6.results import listed
from kube6.steps.base import HostContext, Step, StepPlan


@dataclass(frozen=True)
class PreflightFacts:
    results: tuple[CheckResult, ...]


ArtifactHosts = Callable[[Plan], Sequence[ArtifactHost]]
"""The plan's artifact hosts (kube6.components.registry.artifact_hosts: components know them)."""


def reader(artifact_hosts: ArtifactHosts) -> Callable[[HostContext], Awaitable[PreflightFacts]]:
    async def read_preflight(ctx: HostContext) -> PreflightFacts:
        hosts = artifact_hosts(ctx.plan)
        lookups = [host.name for host in hosts]
        facts: HostFacts | BaseException
        try:
            facts = await gather(
                ctx.executor, ctx.node.name, lookups=lookups, ports={h.name: h.port for h in hosts}
            )
        except Exception as exc:  # unreachable host: the checks report it as host-reachable
            facts = exc
        results = run_checks(ctx.plan, {ctx.node.name: facts}, ctx.options.ignore, hosts=hosts)
        return PreflightFacts(tuple(results))

    return read_preflight


def fresh_preflight(ctx: HostContext) -> PreflightFacts:
    return PreflightFacts(())


def plan_preflight(ctx: HostContext, facts: PreflightFacts) -> StepPlan:
    """Stop on a failed check (ignored ones are warnings by now); else count what passed."""
    if ctx.options.fresh:
        return StepPlan.nothing("not run: --fresh does not contact the hosts (run `kube6 check`)")
    failed = [r for r in facts.results if r.status is Status.FAIL]
    if failed:
        return StepPlan.stop(
            f"{len(failed)} preflight check(s) failed on {ctx.node.name}:\n{listed(failed)}",
            fix="fix them, or pass --ignore NAME for a check you know does not matter here",
        )
    warned = [r.name for r in facts.results if r.status is Status.WARN]
    note = f" (warnings: {', '.join(warned)})" if warned else ""
    return StepPlan.nothing(f"{len(facts.results)} checks passed{note}")


def preflight_step(artifact_hosts: ArtifactHosts) -> Step[PreflightFacts]:
    """The first step of `up`, checking `artifact_hosts(plan)` with the rest."""
    return Step(
        "preflight",
        "kube6 check on the host; a failed check stops it unless ignored by name.",
        plan_preflight,
        reader(artifact_hosts),
        fresh_preflight,
    )
