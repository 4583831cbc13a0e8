"""firewall: the rendered nftables file on the host, loaded with `nft -f` (one transaction).

The file comes from the firewall renderer, at the path the two share (`render.RULESET`).
`nft -f` applies the whole file atomically: the host is
never half-filtered. The table name is read from the file (`table inet kube6 { ... }`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kube6.components.firewall.render import RULESET, UNIT
from kube6.render.base import Artifact
from kube6.steps import files, probe
from kube6.steps.base import Action, HostContext, PutFile, Step, StepPlan, run

DEFAULT_TABLE = ("inet", "kube6")
_TABLE = re.compile(
    r"^\s*(?:add\s+)?table\s+(inet|ip6|ip|bridge|netdev|arp)\s+([A-Za-z0-9_-]+)", re.M
)


def firewall_file(ctx: HostContext) -> Artifact | None:
    """This node's rendered nftables file, if the plan has one."""
    return files.rendered(ctx, RULESET)


def host_path(ctx: HostContext, artifact: Artifact) -> str:
    return RULESET.path


def table_of(text: str) -> tuple[str, str]:
    """(family, name) of the first table the file declares, `("inet", "kube6")` by default."""
    match = _TABLE.search(text)
    return (match.group(1), match.group(2)) if match else DEFAULT_TABLE


@dataclass(frozen=True)
class FirewallFacts:
    file: str | None
    loaded: bool
    """`nft list table FAMILY NAME` succeeds."""


async def read_firewall(ctx: HostContext) -> FirewallFacts:
    artifact = firewall_file(ctx)
    if artifact is None:
        return FirewallFacts(None, False)
    family, name = table_of(artifact.content)
    code = await probe.exit_code(ctx, "nft", "list", "table", family, name)
    return FirewallFacts(await probe.read_text(ctx, host_path(ctx, artifact)), code == 0)


def fresh_firewall(ctx: HostContext) -> FirewallFacts:
    return FirewallFacts(None, False)


def plan_firewall(ctx: HostContext, facts: FirewallFacts) -> StepPlan:
    """Put the file and `nft -f` it when it changed or its table is not loaded."""
    artifact = firewall_file(ctx)
    if artifact is None:
        if not ctx.plan.firewall.enabled:
            return StepPlan.nothing("the host firewall is off in the plan (firewall.enabled)")
        return files.missing(ctx, RULESET)
    path = host_path(ctx, artifact)
    family, name = table_of(artifact.content)
    if facts.file == artifact.content and facts.loaded:
        return StepPlan.nothing(f"{path} is the rendered one and table {family} {name} is loaded")
    actions: list[Action] = []
    if facts.file != artifact.content:
        actions.append(PutFile(path, artifact.content, artifact.mode, why="the host firewall"))
    actions.append(run("nft", "-f", path, why="load it in one transaction"))
    return StepPlan.do(*actions)


UNIT_SUFFIX = UNIT.path


@dataclass(frozen=True)
class BootFacts:
    unit: str | None
    enabled: bool


def unit_file(ctx: HostContext) -> Artifact | None:
    return files.rendered(ctx, UNIT)


async def read_boot(ctx: HostContext) -> BootFacts:
    artifact = unit_file(ctx)
    if artifact is None:
        return BootFacts(None, False)
    name = artifact.path.rsplit("/", 1)[-1]
    enabled = await probe.stdout(ctx, "systemctl", "is-enabled", name)
    return BootFacts(await probe.read_text(ctx, UNIT_SUFFIX), (enabled or "").strip() == "enabled")


def fresh_boot(ctx: HostContext) -> BootFacts:
    return BootFacts(None, False)


def plan_boot(ctx: HostContext, facts: BootFacts) -> StepPlan:
    """The rendered systemd unit that loads the table at boot, before the network is up."""
    artifact = unit_file(ctx)
    if artifact is None:
        if not ctx.plan.firewall.enabled:
            return StepPlan.nothing(f"no firewall unit was rendered for {ctx.node.name}")
        return files.missing(ctx, UNIT)
    name = artifact.path.rsplit("/", 1)[-1]
    if facts.unit == artifact.content and facts.enabled:
        return StepPlan.nothing(f"{name} is installed and enabled")
    actions: list[Action] = []
    if facts.unit != artifact.content:
        actions += [
            PutFile(UNIT_SUFFIX, artifact.content, artifact.mode, why="load the table at boot"),
            run("systemctl", "daemon-reload"),
        ]
    if not facts.enabled:
        actions.append(run("systemctl", "enable", name, why="at every boot"))
    return StepPlan.do(*actions)


STEP: Step[object] = Step(
    "firewall",
    "The rendered nftables table, loaded atomically now and by a systemd unit at boot.",
    children=(
        Step(
            "rules",
            "The nftables file, loaded with nft -f.",
            plan_firewall,
            read_firewall,
            fresh_firewall,
        ),
        Step(
            "boot",
            "The systemd unit that loads it at boot, enabled.",
            plan_boot,
            read_boot,
            fresh_boot,
        ),
    ),
)
