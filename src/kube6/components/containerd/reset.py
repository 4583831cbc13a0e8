"""containerd's `reset` step (`runtime`): kube6's containerd and crictl configuration removed
(the package stays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.components.containerd import steps as runtime
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, Step, StepPlan, run
from kube6.steps.files import remove


@dataclass(frozen=True)
class RuntimeFacts:
    files: tuple[str, ...]
    service: probe.ServiceFacts


async def read_runtime(ctx: HostContext) -> RuntimeFacts:
    files = tuple(
        [p for p in (runtime.CONFIG_PATH, runtime.CRICTL_PATH) if await probe.exists(ctx, p)]
    )
    service = probe.ServiceFacts(False, False)
    if runtime.CONFIG_PATH in files:
        service = await probe.read_service(ctx, "containerd")
    return RuntimeFacts(files, service)


def fresh_runtime(ctx: HostContext) -> RuntimeFacts:
    return RuntimeFacts((runtime.CONFIG_PATH, runtime.CRICTL_PATH), probe.ServiceFacts(True, True))


def plan_runtime(ctx: HostContext, facts: RuntimeFacts) -> StepPlan:
    """Remove kube6's containerd and crictl config; a running containerd restarts on defaults."""
    if not facts.files:
        return StepPlan.nothing("kube6's containerd and crictl configuration are gone")
    actions: list[Action] = [remove(ctx, *facts.files, why="kube6's runtime configuration")]
    if runtime.CONFIG_PATH in facts.files and facts.service.active:
        actions.append(run("systemctl", "restart", "containerd", why="back to its defaults"))
    return StepPlan.do(*actions)


RESET: tuple[Step[Any], ...] = (
    Step(
        "runtime",
        "kube6's containerd and crictl configuration removed.",
        plan_runtime,
        read_runtime,
        fresh_runtime,
    ),
)
