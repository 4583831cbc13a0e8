"""runtime: containerd 2.x from Docker's apt repository, the rendered config, running; crictl.

Why Docker's `containerd.io` and not the distribution's `containerd`: Kubernetes 1.36 and later
need containerd 2.x (kubelet takes the cgroup driver from the runtime), while Ubuntu 24.04 and
Debian 12 ship containerd 1.7. download.docker.com carries 2.x for every supported release, and
it is a signed apt repository like pkgs.k8s.io. The pinned version is `kube6.versions.CONTAINERD`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from kube6 import mirrors, yamlio
from kube6.components.containerd.render import CONFIG, REGISTRY_CONFIG_PATH
from kube6.errors import FactError
from kube6.facts.system import OsRelease, parse_os_release
from kube6.steps import apt, files, probe
from kube6.steps.base import Action, HostContext, PutFile, Step, StepPlan
from kube6.versions import CONTAINERD

CONFIG_PATH = CONFIG.path
CRICTL_PATH = "/etc/crictl.yaml"
SOCKET = "unix:///run/containerd/containerd.sock"
KEYRING = f"{apt.KEYRINGS}/docker.asc"
SOURCES = "/etc/apt/sources.list.d/docker.list"
PACKAGE = "containerd.io"
SUPPORTED = ("debian", "ubuntu")


def docker_url(os_release: OsRelease) -> str:
    return f"https://download.docker.com/linux/{os_release.id}"


def docker_line(os_release: OsRelease, url: str | None = None) -> str:
    base = (url or docker_url(os_release)).rstrip("/")
    return f"deb [signed-by={KEYRING}] {base} {os_release.codename} stable"


@dataclass(frozen=True)
class RepoFacts:
    os_release: OsRelease | None
    """None: /etc/os-release is missing or unreadable."""
    repo: apt.RepoFacts


async def read_repository(ctx: HostContext) -> RepoFacts:
    text = await ctx.executor.get("/etc/os-release")
    try:
        os_release = parse_os_release(text) if text is not None else None
    except FactError:
        os_release = None
    return RepoFacts(os_release, await apt.read_repo(ctx, KEYRING, SOURCES))


def fresh_repository(ctx: HostContext) -> RepoFacts:
    return RepoFacts(apt.assumed_os(ctx), apt.FRESH_REPO)


def plan_repository(ctx: HostContext, facts: RepoFacts) -> StepPlan:
    """Docker's apt repository (for containerd.io) for this host's distribution and release."""
    found = facts.os_release
    if found is None or found.id not in SUPPORTED or not found.codename:
        system = found.pretty_name if found else "an unknown system (no /etc/os-release)"
        return StepPlan.stop(
            f"{ctx.node.name} runs {system}; kube6 installs packages on Debian and Ubuntu only",
            fix="use Debian 12/13 or Ubuntu 22.04/24.04, or install containerd 2.x yourself and "
            "skip this step with --skip runtime/repository --skip runtime/install",
        )
    what = "Docker's apt repository (containerd.io)"
    key_url, key, url = f"{docker_url(found)}/gpg", None, None
    mirror = mirrors.apt_repository(ctx.plan.mirrors, "docker")
    if mirror is not None:
        url = mirrors.for_distro(mirror.url, found.id)
        wrong = mirrors.wrong_distro("mirrors.apt.docker.url", url, found.id)
        if wrong:
            return StepPlan.stop(
                f"{ctx.node.name} runs {found.pretty_name}, but {wrong[0]}", wrong[1]
            )
        key_url, key = mirrors.for_distro(mirror.key_url or "", found.id), mirror.key
        what += f" (mirror {url})"
    planned = apt.plan_repo(
        ctx,
        facts.repo,
        what=what,
        key_url=key_url,
        keyring=KEYRING,
        sources=SOURCES,
        line=docker_line(found, url),
        key=key,
    )
    if not planned.actions:
        return planned
    # The repository line names a distribution and its release: a script of this dry run
    # (above all a --fresh one, written for apt.assumed_os) must not put it on another one.
    release = f"{found.id} {found.codename}"
    return replace(
        planned,
        script=(
            f'if [ "$ID $VERSION_CODENAME" != {shlex.quote(release)} ]; then',
            f"  echo \"kube6: this script installs Docker's repository of {release} "
            f"({found.pretty_name}), not of $ID $VERSION_CODENAME: write it again with "
            'kube6 up --dry-run against this host" >&2; exit 1',
            "fi",
        ),
    )


async def read_install(ctx: HostContext) -> apt.PackageFacts:
    return await apt.read_packages(ctx, (PACKAGE,))


def fresh_install(ctx: HostContext) -> apt.PackageFacts:
    return apt.PackageFacts({PACKAGE: None}, frozenset())


def plan_install(ctx: HostContext, facts: apt.PackageFacts) -> StepPlan:
    """containerd.io at the pinned version (apt replaces a distribution `containerd`)."""
    return apt.plan_packages(
        facts, {PACKAGE: CONTAINERD.version}, hold=True, what=f"containerd {CONTAINERD.version}"
    )


@dataclass(frozen=True)
class ConfigFacts:
    file: str | None
    service: probe.ServiceFacts
    registries: tuple[tuple[str, str | None], ...] = ()
    """(path, text on the host) of each rendered registry file (hosts.toml, mirror CAs)."""


def _registry_files(ctx: HostContext) -> list[str]:
    return sorted(p for p in ctx.files if p.startswith(f"{REGISTRY_CONFIG_PATH}/"))


async def read_config(ctx: HostContext) -> ConfigFacts:
    registries = tuple([(p, await probe.read_text(ctx, p)) for p in _registry_files(ctx)])
    return ConfigFacts(
        await probe.read_text(ctx, CONFIG_PATH),
        await probe.read_service(ctx, "containerd"),
        registries,
    )


def fresh_config(ctx: HostContext) -> ConfigFacts:
    return ConfigFacts(
        None, probe.ServiceFacts(True, True), tuple((p, None) for p in _registry_files(ctx))
    )


def plan_config(ctx: HostContext, facts: ConfigFacts) -> StepPlan:
    """The rendered config.toml (version 3, systemd cgroups) and registry mirrors (certs.d);
    a running containerd restarts for a new config.toml (it reads certs.d at every pull)."""
    artifact = files.rendered(ctx, CONFIG)
    if artifact is None:
        return files.missing(ctx, CONFIG)
    on_host = dict(facts.registries)
    actions: list[Action] = []
    for path in _registry_files(ctx):
        wanted = ctx.files[path]
        if on_host.get(path) != wanted.content:
            actions.append(PutFile(path, wanted.content, wanted.mode, why=wanted.description))
    if facts.file != artifact.content:
        actions.append(
            PutFile(CONFIG_PATH, artifact.content, artifact.mode, why="containerd 2.x config")
        )
        if facts.service.active:
            actions += probe.restart(ctx, "containerd", facts.service)
    if not actions:
        mirrored = len([p for p in on_host if p.endswith("/hosts.toml")])
        if mirrored:
            return StepPlan.nothing(
                f"{CONFIG_PATH} and {mirrored} registry mirror(s) in {REGISTRY_CONFIG_PATH} "
                "are the rendered ones"
            )
        return StepPlan.nothing(f"{CONFIG_PATH} is the rendered one")
    return StepPlan.do(*actions)


async def read_service(ctx: HostContext) -> probe.ServiceFacts:
    return await probe.read_service(ctx, "containerd")


def fresh_service(ctx: HostContext) -> probe.ServiceFacts:
    return probe.ServiceFacts(False, False)


def plan_service(ctx: HostContext, facts: probe.ServiceFacts) -> StepPlan:
    """containerd enabled at boot and running now."""
    actions = probe.start(ctx, "containerd", facts)
    return (
        StepPlan.do(*actions) if actions else StepPlan.nothing("containerd is enabled and running")
    )


def crictl_config(ctx: HostContext) -> str:
    header = "# Written by kube6 up: crictl talks to containerd's CRI socket.\n"
    return header + yamlio.dump(
        {"runtime-endpoint": SOCKET, "image-endpoint": SOCKET, "timeout": 10}
    )


async def read_crictl(ctx: HostContext) -> str | None:
    return await probe.read_text(ctx, CRICTL_PATH)


def fresh_crictl(ctx: HostContext) -> str | None:
    return None


def plan_crictl(ctx: HostContext, facts: str | None) -> StepPlan:
    """/etc/crictl.yaml pointed at containerd (crictl otherwise probes several sockets)."""
    wanted = crictl_config(ctx)
    if facts == wanted:
        return StepPlan.nothing(f"{CRICTL_PATH} points at {SOCKET}")
    return StepPlan.do(PutFile(CRICTL_PATH, wanted, 0o644, why="crictl uses containerd"))


STEP: Step[object] = Step(
    "runtime",
    "containerd 2.x from Docker's repository, configured, running; crictl pointed at it.",
    children=(
        Step(
            "repository",
            "Docker's apt repository for containerd.io.",
            plan_repository,
            read_repository,
            fresh_repository,
        ),
        Step(
            "install",
            "containerd.io at the pinned version, held.",
            plan_install,
            read_install,
            fresh_install,
        ),
        Step(
            "config",
            "The rendered /etc/containerd/config.toml.",
            plan_config,
            read_config,
            fresh_config,
        ),
        Step(
            "service", "containerd enabled and running.", plan_service, read_service, fresh_service
        ),
        Step("crictl", "/etc/crictl.yaml for containerd.", plan_crictl, read_crictl, fresh_crictl),
    ),
)
