"""`kube6 up` and `kube6 reset`: run the steps on the chosen nodes, or show what they would do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kube6.usecases.nodes import SshOptions, executors_for, refuse_several_local

if TYPE_CHECKING:
    from kube6.execute.base import Executor
    from kube6.plan.model import Plan
    from kube6.steps import Report, Step, StepResult


@dataclass(frozen=True)
class UpRequest:
    steps: tuple[Step[Any], ...]
    """UP_STEPS or RESET_STEPS."""
    nodes: Sequence[str]
    """The chosen nodes (`select_nodes`)."""
    dry_run: bool = False
    fresh: bool = False
    """With dry_run: never contact the hosts; plan for hosts kube6 never touched."""
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    ignore: Sequence[str] = ()
    """Preflight checks whose failure does not stop a host."""
    ssh: SshOptions = field(default_factory=SshOptions)


def up(
    plan: Plan,
    request: UpRequest,
    *,
    on_result: Callable[[StepResult], None] | None = None,
    executors: Mapping[str, Executor] | None = None,
) -> Report:
    """Run `request.steps` on the chosen nodes (closing their executors after); the report.

    `executors` (node name -> executor) stand in for the nodes' own; with `fresh` each node
    gets a RecordingExecutor that fails on use, which proves the hosts were never contacted.
    """
    from kube6.components.registry import make_contexts
    from kube6.steps import RunOptions, run_steps

    names = list(request.nodes)
    if executors is None:
        executors = _executors(plan, names, request)
    options = RunOptions(
        dry_run=request.dry_run, fresh=request.fresh, ignore=frozenset(request.ignore)
    )
    contexts = make_contexts(plan, executors, options)

    async def go() -> Report:
        try:
            return await run_steps(
                request.steps,
                contexts,
                only=list(request.only),
                skip=list(request.skip),
                on_result=on_result,
            )
        finally:
            for executor in executors.values():
                await executor.close()

    return asyncio.run(go())


def _executors(plan: Plan, names: list[str], request: UpRequest) -> dict[str, Executor]:
    if request.fresh:
        from kube6.execute import RecordingExecutor

        return {n: RecordingExecutor(host=n) for n in names}
    refuse_several_local(plan, names)
    return executors_for(plan, names, request.ssh)
