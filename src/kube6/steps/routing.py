"""routing: in `ndp-proxy` mode the NDP proxy (ndppd) installed, configured, running.

In `bgp` mode nothing runs on the host (Calico's BGP speaker peers with the router; its
resources come with the network step); in `routed` mode the provider routes the prefix here.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6.modes import RoutingMode
from kube6.steps import apt, probe
from kube6.steps.base import Action, HostContext, PutFile, Services, Step, StepPlan, run

CONFIG_PATH = "/etc/ndppd.conf"
DROPIN_PATH = "/etc/systemd/system/ndppd.service.d/kube6.conf"
SERVICE = "ndppd"


def not_needed(ctx: HostContext) -> str | None:
    if ctx.plan.routing is RoutingMode.BGP:
        return "routing is bgp: Calico peers with the router, nothing runs on the host for it"
    if ctx.plan.routing is RoutingMode.ROUTED:
        return "routing is routed: the provider routes the prefix to the hosts, nothing to proxy"
    if not ctx.node.ndp_rules:
        return f"{ctx.node.name} answers no neighbour solicitations in this plan"
    return None


async def read_install(ctx: HostContext) -> apt.PackageFacts:
    if not_needed(ctx):
        return apt.PackageFacts({}, frozenset())
    return await apt.read_packages(ctx, (SERVICE,))


def fresh_install(ctx: HostContext) -> apt.PackageFacts:
    return apt.PackageFacts({SERVICE: None}, frozenset())


def plan_install(ctx: HostContext, facts: apt.PackageFacts) -> StepPlan:
    """`apt-get install ndppd` (the distribution's 0.2.5; nothing newer is released)."""
    reason = not_needed(ctx)
    if reason:
        return StepPlan.nothing(reason)
    if facts.versions.get(SERVICE):
        return StepPlan.nothing(f"ndppd {facts.versions[SERVICE]} is installed")
    return StepPlan.do(apt.apt_get("install", "-y", SERVICE, why="the NDP proxy"))


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
    artifact = ctx.files.get(CONFIG_PATH)
    if artifact is None:
        return StepPlan.nothing(f"no {CONFIG_PATH} was rendered for {ctx.node.name}")
    actions: list[Action] = []
    dropin = ctx.files.get(DROPIN_PATH)
    systemd = ctx.options.services is Services.SYSTEMD
    if systemd and dropin is not None and facts.dropin != dropin.content:
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
    return probe.ServiceFacts(False, False)  # `systemctl enable --now ndppd` is planned


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
