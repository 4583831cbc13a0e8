"""Read-only probes that steps use to gather their facts: files, programs, packages, services.

Every probe is an argv (or a file read) run through the host's executor plus a pure parser, so
steps stay "facts in, commands out" and the parsers are tested on recorded output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kube6.facts.system import PACKAGES_FORMAT, parse_packages
from kube6.steps.base import Exec, HostContext, run


async def read_text(ctx: HostContext, host_path: str) -> str | None:
    """The text of a file kube6 manages, or None when absent."""
    return await ctx.executor.get(host_path)


async def exit_code(ctx: HostContext, *argv: str) -> int | None:
    return (await ctx.executor.run(argv, check=False)).exit_code


async def stdout(ctx: HostContext, *argv: str) -> str | None:
    """stdout of a probe, or None when it exited non-zero."""
    done = await ctx.executor.run(argv, check=False)
    return done.stdout if done.ok else None


async def exists(ctx: HostContext, host_path: str) -> bool:
    return await exit_code(ctx, "test", "-e", host_path) == 0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def package_version(ctx: HostContext, package: str) -> str | None:
    """The installed version of `package`, or None (not installed, or only its configuration)."""
    text = await stdout(ctx, "dpkg-query", "-W", "-f", PACKAGES_FORMAT, package)
    return parse_packages(text or "").get(package)


@dataclass(frozen=True)
class ServiceFacts:
    """Whether a systemd unit starts at boot and runs now."""

    enabled: bool
    active: bool


async def read_service(ctx: HostContext, name: str) -> ServiceFacts:
    """Probe a systemd unit: `systemctl is-enabled` and `systemctl is-active`."""
    enabled = await stdout(ctx, "systemctl", "is-enabled", name)
    active = await exit_code(ctx, "systemctl", "is-active", "--quiet", name)
    return ServiceFacts(enabled=(enabled or "").strip() == "enabled", active=active == 0)


def start(ctx: HostContext, name: str, facts: ServiceFacts) -> list[Exec]:
    """Actions that make `name` enabled and running (none when it is)."""
    # Two commands, not `enable --now`, for the reason given in `stop`: for a SysV-generated
    # unit the `--now` start never happens (seen on a lab node: ndppd stayed stopped when
    # `up` ran again after `kube6 reset`).
    actions = []
    if not facts.enabled:
        actions.append(run("systemctl", "enable", name, why=f"start {name} at boot"))
    if not facts.active:
        actions.append(run("systemctl", "start", name, why=f"start {name} now"))
    return actions


def restart(ctx: HostContext, name: str, facts: ServiceFacts) -> list[Exec]:
    """Actions that make a running `name` re-read its configuration (or start it)."""
    if facts.active:
        return [run("systemctl", "restart", name, why=f"{name} reads its new configuration")]
    return start(ctx, name, facts)


def stop(ctx: HostContext, name: str, facts: ServiceFacts) -> list[Exec]:
    """Actions that stop `name` and keep it from starting at boot (none when it is stopped)."""
    if not (facts.enabled or facts.active):
        return []
    # Two commands, not `disable --now`: for a unit generated from a SysV init script
    # (Debian's ndppd) systemctl hands `disable` to systemd-sysv-install and the `--now`
    # stop never happens (seen on a lab node: ndppd kept running after kube6 reset).
    return [
        run("systemctl", "stop", name, why=f"stop {name} now"),
        run("systemctl", "disable", name, why=f"keep {name} from starting at boot"),
    ]
