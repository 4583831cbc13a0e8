"""The host's `reset` step: sysctls restored from the snapshot `up` saved, kube6's sysctl.d and
modules-load.d files removed, fstab swap lines restored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.components.host import steps as host
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, PutFile, Step, StepPlan, run
from kube6.steps.files import remove


@dataclass(frozen=True)
class HostFacts:
    snapshot: str | None
    files: tuple[str, ...]
    fstab: str | None


async def read_host(ctx: HostContext) -> HostFacts:
    paths = (host.SYSCTL_PATH, host.MODULES_PATH)
    return HostFacts(
        await probe.read_text(ctx, host.SNAPSHOT_PATH),
        tuple([p for p in paths if await probe.exists(ctx, p)]),
        await probe.read_text(ctx, host.FSTAB),
    )


def fresh_host(ctx: HostContext) -> HostFacts:
    return HostFacts(None, (host.SYSCTL_PATH, host.MODULES_PATH), None)


def restore_fstab(text: str) -> str:
    return "".join(line.removeprefix(host.SWAP_MARK) for line in text.splitlines(keepends=True))


def plan_host(ctx: HostContext, facts: HostFacts) -> StepPlan:
    """Restore the sysctls kube6 changed (forwarding first), remove its files, restore fstab."""
    actions: list[Action] = []
    before = host.parse_sysctl_conf(facts.snapshot or "")
    if before:
        settings = [f"{k}={v}" for k, v in host.restore_order(before)]
        actions.append(run("sysctl", "-w", *settings, why="the values from before kube6 up"))
    if facts.files:
        actions.append(remove(ctx, *facts.files, why="kube6's kernel settings at boot"))
    if facts.fstab is not None and host.SWAP_MARK in facts.fstab:
        actions.append(PutFile(host.FSTAB, restore_fstab(facts.fstab), 0o644, why="swap at boot"))
    if facts.snapshot is not None:
        actions.append(remove(ctx, host.SNAPSHOT_PATH, why="restored"))
    if not actions:
        return StepPlan.nothing("no kube6 kernel settings are left on this host")
    return StepPlan.do(*actions)


RESET: tuple[Step[Any], ...] = (
    Step(
        "host",
        "sysctls restored from the snapshot; kube6's sysctl.d/modules-load.d removed.",
        plan_host,
        read_host,
        fresh_host,
    ),
)
