"""routing: in `ndp-proxy` mode the NDP proxy (ndppd) installed, configured, running.

In `bgp` mode nothing runs on the host (Calico's BGP speaker peers with the router; its
resources come with the network step); in `routed` mode the provider routes the prefix here.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6 import mirrors
from kube6.components.ndppd.render import CONFIG, DROPIN
from kube6.errors import FactError
from kube6.facts.system import OsRelease, parse_os_release
from kube6.routing import strategy
from kube6.steps import apt, files, probe
from kube6.steps.base import Action, HostContext, PutFile, Step, StepPlan, run

CONFIG_PATH, DROPIN_PATH = CONFIG.path, DROPIN.path
SERVICE = "ndppd"


def not_needed(ctx: HostContext) -> str | None:
    idle = strategy(ctx.plan.routing).host_idle
    if idle:
        return idle
    if not ctx.node.ndp_rules:
        return f"{ctx.node.name} answers no neighbour solicitations in this plan"
    return None


DISTRIBUTION_SECTIONS = {"debian": "main", "ubuntu": "universe"}
"""Where each distribution keeps ndppd in its archive."""
MIRROR_SOURCES = "/etc/apt/sources.list.d/kube6-distribution-mirror.list"


@dataclass(frozen=True)
class InstallFacts:
    packages: apt.PackageFacts
    os_release: OsRelease | None
    mirror_sources: str | None
    """The sources list of the distribution archive's mirror on the host, if any."""


async def read_install(ctx: HostContext) -> InstallFacts:
    if not_needed(ctx):
        return InstallFacts(apt.PackageFacts({}, frozenset()), None, None)
    text = await ctx.executor.get("/etc/os-release")
    try:
        os_release = parse_os_release(text) if text is not None else None
    except FactError:
        os_release = None
    return InstallFacts(
        await apt.read_packages(ctx, (SERVICE,)),
        os_release,
        await probe.read_text(ctx, MIRROR_SOURCES),
    )


def fresh_install(ctx: HostContext) -> InstallFacts:
    return InstallFacts(apt.PackageFacts({SERVICE: None}, frozenset()), apt.assumed_os(ctx), None)


def mirror_sources(ctx: HostContext, os_release: OsRelease | None) -> str | None:
    """The sources list of the distribution archive's mirror (mirrors.apt.distribution)."""
    mirror = ctx.plan.mirrors.apt.distribution
    if mirror is None or os_release is None or not os_release.codename:
        return None
    section = DISTRIBUTION_SECTIONS.get(os_release.id, "main")
    return (
        "# Written by kube6 up: the distribution's archive through its mirror "
        "(kube6.yaml mirrors.apt.distribution), for ndppd.\n"
        f"deb {mirrors.for_distro(mirror, os_release.id)} {os_release.codename} {section}\n"
    )


def plan_install(ctx: HostContext, facts: InstallFacts) -> StepPlan:
    """`apt-get install ndppd` (the distribution's 0.2.5; nothing newer is released), from the
    distribution archive's mirror when kube6.yaml names one."""
    reason = not_needed(ctx)
    if reason:
        return StepPlan.nothing(reason)
    if facts.packages.versions.get(SERVICE):
        return StepPlan.nothing(f"ndppd {facts.packages.versions[SERVICE]} is installed")
    actions: list[Action] = []
    mirror, found = ctx.plan.mirrors.apt.distribution, facts.os_release
    wrong = mirror and found and mirrors.wrong_distro("mirrors.apt.distribution", mirror, found.id)
    if found and wrong:
        return StepPlan.stop(f"{ctx.node.name} runs {found.pretty_name}, but {wrong[0]}", wrong[1])
    sources = mirror_sources(ctx, facts.os_release)
    if sources is not None:
        if facts.mirror_sources != sources:
            actions.append(PutFile(MIRROR_SOURCES, sources, 0o644, why="the archive's mirror"))
        actions.append(apt.apt_get("update", why="read the mirror"))
    actions.append(apt.apt_get("install", "-y", SERVICE, why="the NDP proxy"))
    return StepPlan.do(*actions)


@dataclass(frozen=True)
class ConfigFacts:
    file: str | None
    service: probe.ServiceFacts
    dropin: str | None = None


async def read_config(ctx: HostContext) -> ConfigFacts:
    if not_needed(ctx):
        return ConfigFacts(None, probe.ServiceFacts(False, False))
    return ConfigFacts(
        await probe.read_text(ctx, CONFIG_PATH),
        await probe.read_service(ctx, SERVICE),
        await probe.read_text(ctx, DROPIN_PATH),
    )


def fresh_config(ctx: HostContext) -> ConfigFacts:
    # Not assumed running: Debian's package starts ndppd with its example configuration,
    # which may fail; the service step enables and starts it with the rendered one.
    return ConfigFacts(None, probe.ServiceFacts(False, False))


def plan_config(ctx: HostContext, facts: ConfigFacts) -> StepPlan:
    """The rendered /etc/ndppd.conf; a running ndppd restarts to read it (it has no reload)."""
    reason = not_needed(ctx)
    if reason:
        return StepPlan.nothing(reason)
    artifact = files.rendered(ctx, CONFIG)
    if artifact is None:
        return files.missing(ctx, CONFIG)
    actions: list[Action] = []
    dropin = files.rendered(ctx, DROPIN)
    if dropin is None:
        return files.missing(ctx, DROPIN)
    if facts.dropin != dropin.content:
        actions += [
            PutFile(DROPIN_PATH, dropin.content, dropin.mode, why="restart ndppd if it dies"),
            run("systemctl", "daemon-reload", why="systemd reads the drop-in"),
        ]
    if facts.file != artifact.content:
        actions.append(
            PutFile(CONFIG_PATH, artifact.content, artifact.mode, why="what ndppd answers for")
        )
    if not actions:
        return StepPlan.nothing(f"{CONFIG_PATH} (and its systemd drop-in) are the rendered ones")
    if facts.service.active:
        actions += probe.restart(ctx, SERVICE, facts.service)
    return StepPlan.do(*actions)


async def read_service(ctx: HostContext) -> probe.ServiceFacts:
    if not_needed(ctx):
        return probe.ServiceFacts(False, False)
    return await probe.read_service(ctx, SERVICE)


def fresh_service(ctx: HostContext) -> probe.ServiceFacts:
    return probe.ServiceFacts(False, False)  # `systemctl enable` and `start ndppd` are planned


def plan_service(ctx: HostContext, facts: probe.ServiceFacts) -> StepPlan:
    """ndppd enabled at boot and running now."""
    reason = not_needed(ctx)
    if reason:
        return StepPlan.nothing(reason)
    actions = probe.start(ctx, SERVICE, facts)
    return StepPlan.do(*actions) if actions else StepPlan.nothing("ndppd is enabled and running")


STEP: Step[object] = Step(
    "routing",
    "ndp-proxy: ndppd installed, configured, running; bgp and routed: nothing on the host.",
    children=(
        Step("install", "The ndppd package.", plan_install, read_install, fresh_install),
        Step("config", "The rendered /etc/ndppd.conf.", plan_config, read_config, fresh_config),
        Step("service", "ndppd enabled and running.", plan_service, read_service, fresh_service),
    ),
)
