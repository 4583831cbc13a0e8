"""Read-only probes that steps use to gather their facts: files, programs, packages, services.

Every probe is an argv (or a file read) run through the host's executor plus a pure parser, so
steps stay "facts in, commands out" and the parsers are tested on recorded output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kube6.facts.system import PACKAGES_FORMAT, parse_packages
from kube6.steps.base import Exec, HostContext, Services, run


async def read_text(ctx: HostContext, host_path: str) -> str | None:
    """The text of a file kube6 manages (under the run's root), or None when absent."""
    return await ctx.executor.get(ctx.path(host_path))


async def exit_code(ctx: HostContext, *argv: str) -> int | None:
    return (await ctx.executor.run(argv, check=False)).exit_code


async def stdout(ctx: HostContext, *argv: str) -> str | None:
    """stdout of a probe, or None when it exited non-zero."""
    done = await ctx.executor.run(argv, check=False)
    return done.stdout if done.ok else None


async def exists(ctx: HostContext, host_path: str) -> bool:
    return await exit_code(ctx, "test", "-e", ctx.path(host_path)) == 0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def package_version(ctx: HostContext, package: str) -> str | None:
    """The installed version of `package`, or None (not installed, or only its configuration)."""
    text = await stdout(ctx, "dpkg-query", "-W", "-f", PACKAGES_FORMAT, package)
    return parse_packages(text or "").get(package)


@dataclass(frozen=True)
class ServiceFacts:
    """Whether a daemon starts at boot and runs now (in `direct` mode: its pid file's pid)."""

    enabled: bool
    active: bool
    pid: str | None = None


DIRECT_DAEMONS = {
    # The lab has no init system: ndppd runs daemonised with a pid file under the node's root.
    "ndppd": (
        ("ndppd", "-d", "-c", "/etc/ndppd.conf", "-p", "/run/kube6-ndppd.pid"),
        "/run/kube6-ndppd.pid",
    ),
}


def _direct(ctx: HostContext, name: str) -> tuple[tuple[str, ...], str]:
    if name not in DIRECT_DAEMONS:
        raise ValueError(f"{name} cannot run without systemd; only {', '.join(DIRECT_DAEMONS)} can")
    argv, pidfile = DIRECT_DAEMONS[name]
    # Paths in the argv are host paths: place them under the run's root.
    return tuple(ctx.path(a) if a.startswith("/") else a for a in argv), ctx.path(pidfile)


async def read_service(ctx: HostContext, name: str) -> ServiceFacts:
    """Probe a systemd unit (`systemctl is-enabled/is-active`) or a direct daemon's pid file."""
    if ctx.options.services is Services.SYSTEMD:
        enabled = await stdout(ctx, "systemctl", "is-enabled", name)
        active = await exit_code(ctx, "systemctl", "is-active", "--quiet", name)
        return ServiceFacts(enabled=(enabled or "").strip() == "enabled", active=active == 0)
    _, pidfile = _direct(ctx, name)
    text = await ctx.executor.get(pidfile)
    pid = (text or "").strip()
    if not pid.isdigit():
        return ServiceFacts(False, False)
    alive = await exit_code(ctx, "kill", "-0", pid) == 0
    return ServiceFacts(alive, alive, pid if alive else None)


def start(ctx: HostContext, name: str, facts: ServiceFacts) -> list[Exec]:
    """Actions that make `name` enabled and running (none when it is)."""
    if ctx.options.services is Services.SYSTEMD:
        if facts.enabled and facts.active:
            return []
        # Two commands, not `enable --now`, for the reason given in `stop`: for a SysV-generated
        # unit the `--now` start never happens (seen on a lab node: ndppd stayed stopped when
        # `up` ran again after `kube6 reset`).
        actions = []
        if not facts.enabled:
            actions.append(run("systemctl", "enable", name, why=f"start {name} at boot"))
        if not facts.active:
            actions.append(run("systemctl", "start", name, why=f"start {name} now"))
        return actions
    if facts.active:
        return []
    return _direct_start(ctx, name, f"start {name} (no init system here)")


# A daemon writes its pid file after it forked; the next step's facts must see it.
_WAIT_FOR_FILE = 'for i in $(seq 50); do test -s "$1" && exit 0; sleep 0.1; done; exit 1'


def _direct_start(ctx: HostContext, name: str, why: str) -> list[Exec]:
    argv, pidfile = _direct(ctx, name)
    return [
        run("mkdir", "-p", pidfile.rsplit("/", 1)[0]),
        run(*argv, why=why),
        run("sh", "-c", _WAIT_FOR_FILE, "kube6-wait", pidfile, why=f"{name} is up"),
    ]


def restart(ctx: HostContext, name: str, facts: ServiceFacts) -> list[Exec]:
    """Actions that make a running `name` re-read its configuration (or start it)."""
    if ctx.options.services is Services.SYSTEMD:
        if facts.active:
            return [run("systemctl", "restart", name, why=f"{name} reads its new configuration")]
        return start(ctx, name, facts)
    _, pidfile = _direct(ctx, name)
    stop = (
        [run("kill", facts.pid, why=f"stop {name}"), run("rm", "-f", pidfile)] if facts.pid else []
    )
    return [*stop, *_direct_start(ctx, name, f"start {name} with its new configuration")]


def stop(ctx: HostContext, name: str, facts: ServiceFacts) -> list[Exec]:
    """Actions that stop `name` and keep it from starting at boot (none when it is stopped)."""
    if ctx.options.services is Services.SYSTEMD:
        if not (facts.enabled or facts.active):
            return []
        # Two commands, not `disable --now`: for a unit generated from a SysV init script
        # (Debian's ndppd) systemctl hands `disable` to systemd-sysv-install and the `--now`
        # stop never happens (seen on a lab node: ndppd kept running after kube6 reset).
        return [
            run("systemctl", "stop", name, why=f"stop {name} now"),
            run("systemctl", "disable", name, why=f"keep {name} from starting at boot"),
        ]
    if not facts.pid:
        return []
    _, pidfile = _direct(ctx, name)
    return [
        run("kill", facts.pid, why=f"stop {name}"),
        run("rm", "-f", pidfile, why="its pid file"),
    ]
