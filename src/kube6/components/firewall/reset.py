"""The firewall's `reset` step: kube6's nftables table, its file and its boot unit removed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.components.firewall import steps as firewall
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, Step, StepPlan, run
from kube6.steps.files import remove


@dataclass(frozen=True)
class FirewallFacts:
    loaded: bool
    files: tuple[str, ...]
    enabled: bool


async def read_firewall(ctx: HostContext) -> FirewallFacts:
    rules, unit = firewall.firewall_file(ctx), firewall.unit_file(ctx)
    loaded, enabled, files = False, False, []
    if rules is not None:
        family, name = firewall.table_of(rules.content)
        loaded = await probe.exit_code(ctx, "nft", "list", "table", family, name) == 0
        path = firewall.host_path(ctx, rules)
        if await probe.exists(ctx, path):
            files.append(path)
    if unit is not None and await probe.exists(ctx, firewall.UNIT_SUFFIX):
        files.append(firewall.UNIT_SUFFIX)
        name = unit.path.rsplit("/", 1)[-1]
        enabled = (
            await probe.stdout(ctx, "systemctl", "is-enabled", name) or ""
        ).strip() == "enabled"
    return FirewallFacts(loaded, tuple(files), enabled)


def fresh_firewall(ctx: HostContext) -> FirewallFacts:
    rules, unit = firewall.firewall_file(ctx), firewall.unit_file(ctx)
    files = [firewall.host_path(ctx, rules)] if rules else []
    files += [firewall.UNIT_SUFFIX] if unit else []
    return FirewallFacts(rules is not None, tuple(files), unit is not None)


def plan_firewall(ctx: HostContext, facts: FirewallFacts) -> StepPlan:
    """Disable the unit, delete kube6's table (only it: other tables stay), remove the files."""
    if not (facts.loaded or facts.files or facts.enabled):
        return StepPlan.nothing("kube6's firewall table is not loaded and its files are gone")
    actions: list[Action] = []
    unit = firewall.unit_file(ctx)
    if facts.enabled and unit is not None:
        actions.append(run("systemctl", "disable", unit.path.rsplit("/", 1)[-1]))
    rules = firewall.firewall_file(ctx)
    if facts.loaded and rules is not None:
        family, name = firewall.table_of(rules.content)
        actions.append(run("nft", "delete", "table", family, name, why="kube6's table only"))
    if facts.files:
        actions.append(remove(ctx, *facts.files))
        if firewall.UNIT_SUFFIX in facts.files:
            actions.append(run("systemctl", "daemon-reload"))
    return StepPlan.do(*actions)


RESET: tuple[Step[Any], ...] = (
    Step(
        "firewall",
        "kube6's nftables table, file and boot unit removed.",
        plan_firewall,
        read_firewall,
        fresh_firewall,
    ),
)
