"""verify: the API server answers `/readyz` through the admin kubeconfig on the first control
plane. The full acceptance of the cluster is `kube6 verify` (its own command, run from the
operator's machine through the Kubernetes API); this step says so and stays read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6.steps.base import HostContext, Step, StepPlan, Targets
from kube6.steps.control_plane import kubectl


@dataclass(frozen=True)
class ReadyzFacts:
    ready: bool
    detail: str


async def read_verify(ctx: HostContext) -> ReadyzFacts:
    done = await ctx.executor.run(kubectl(ctx, "get", "--raw", "/readyz"), check=False)
    return ReadyzFacts(done.ok and done.stdout.strip() == "ok", (done.stdout + done.stderr).strip())


def fresh_verify(ctx: HostContext) -> ReadyzFacts:
    return ReadyzFacts(True, "ok")


def plan_verify(ctx: HostContext, facts: ReadyzFacts) -> StepPlan:
    """Read-only: refuse when the API server is not ready, otherwise point at `kube6 verify`."""
    if not facts.ready:
        return StepPlan.stop(
            f"the API server on {ctx.node.name} is not ready: {facts.detail[:400]}",
            fix=f"on {ctx.node.name}: `kubectl get --raw '/readyz?verbose'` and "
            "`journalctl -u kubelet` show which part is not",
        )
    return StepPlan.nothing(
        "the API server is ready; `kube6 verify` checks the whole cluster against the plan"
    )


STEP: Step[ReadyzFacts] = Step(
    "verify",
    "The API server is ready (then run `kube6 verify`).",
    plan_verify,
    read_verify,
    fresh_verify,
    targets=Targets.FIRST_CONTROL_PLANE,
    needs_cluster=True,
)
