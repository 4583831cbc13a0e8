"""The namespace lab's stand-in for systemd: `systemctl` on a node that has no init system.

A namespace node is a network namespace on this machine, not a booted host: nothing there could
answer `systemctl`, and the machine's own systemd (if any) must not manage the lab's daemons.
kube6's steps manage services with systemctl, as on every real host; the lab's executor for a
namespace node (`namespace_node`) answers those commands itself:

- a daemon the lab can run without an init system (DAEMONS: ndppd) starts daemonised with a
  pid file, is active while that pid lives, and stops by it;
- `enable` and `disable` make and remove the link systemd would make in
  /etc/systemd/system/multi-user.target.wants/ (a unit kube6 wrote, such as the firewall's
  boot unit, is only enabled: nothing boots a namespace);
- `daemon-reload` has nothing to reload.

Every path is a host path and goes through the inner executor, which places it under the node's
own folder (`RootedExecutor`). Any other systemctl command, or a unit the node does not have,
fails as systemctl would (exit 1 and a message), so a step that needs more of systemd shows up
in the lab tier instead of passing unseen. Real nodes (`kube6.lab.nodes`) run real systemd.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kube6.errors import CommandError
from kube6.execute.base import Executor
from kube6.execute.command import Command, Result, as_command
from kube6.lab.rooted import RootedExecutor


@dataclass(frozen=True)
class Daemon:
    """How the lab runs a service without an init system: `argv` forks and writes `pidfile`."""

    argv: tuple[str, ...]
    pidfile: str


DAEMONS = {
    "ndppd": Daemon(
        ("ndppd", "-d", "-c", "/etc/ndppd.conf", "-p", "/run/kube6-ndppd.pid"),
        "/run/kube6-ndppd.pid",
    ),
}
UNITS = "/etc/systemd/system/"
WANTS = UNITS + "multi-user.target.wants/"

# A daemon writes its pid file after it forked; the step's next facts must see it.
_WAIT_FOR_FILE = 'for i in $(seq 50); do test -s "$1" && exit 0; sleep 0.1; done; exit 1'
_OK = Result(0, "", "")


def unit_of(name: str) -> str:
    """`ndppd` -> `ndppd.service` (systemctl's own completion of a bare name)."""
    return name if "." in name else f"{name}.service"


class NoSystemdExecutor:
    """`inner` with `systemctl` answered by the lab (see the module's docstring)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.host = inner.host

    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        command = as_command(cmd)
        if command.argv[0] != "systemctl":
            return await self.inner.run(command, check=check)
        result = await self.systemctl(*command.argv[1:])
        if check and not result.ok:
            raise CommandError(
                host=self.host,
                command=f"{command.display} (the lab's stand-in for systemd)",
                exit_code=result.exit_code,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return result

    async def systemctl(self, *args: str) -> Result:
        words = [a for a in args if a != "--quiet"]
        if words == ["daemon-reload"]:
            return _OK
        if len(words) != 2:
            return _refused(f"the lab runs `systemctl {' '.join(args)}` nowhere")
        verb, unit = words[0], unit_of(words[1])
        if not await self._known(unit):
            return Result(1, "", f"Unit {unit} could not be found (lab node {self.host}).\n")
        handler = {
            "is-enabled": self._is_enabled,
            "is-active": self._is_active,
            "enable": self._enable,
            "disable": self._disable,
            "start": self._start,
            "stop": self._stop,
            "restart": self._restart,
        }.get(verb)
        if handler is None:
            return _refused(f"the lab's stand-in for systemd has no `systemctl {verb}`")
        return await handler(unit)

    async def _known(self, unit: str) -> bool:
        """A daemon the lab can run, or a unit file kube6 wrote on this node."""
        return unit.removesuffix(".service") in DAEMONS or (
            await self.inner.get(UNITS + unit) is not None
        )

    async def _pid(self, unit: str) -> str | None:
        """The pid of the unit's running daemon, or None."""
        daemon = DAEMONS.get(unit.removesuffix(".service"))
        if daemon is None:
            return None
        pid = (await self.inner.get(daemon.pidfile) or "").strip()
        if not pid.isdigit():
            return None
        return pid if (await self.inner.run(("kill", "-0", pid), check=False)).ok else None

    async def _is_enabled(self, unit: str) -> Result:
        if await self.inner.get(WANTS + unit) is not None:
            return Result(0, "enabled\n", "")
        return Result(1, "disabled\n", "")

    async def _is_active(self, unit: str) -> Result:
        if await self._pid(unit):
            return Result(0, "active\n", "")
        return Result(3, "inactive\n", "")

    async def _enable(self, unit: str) -> Result:
        await self.inner.run(("mkdir", "-p", WANTS))
        await self.inner.put(WANTS + unit, f"{unit} starts at boot (the lab's stand-in)\n")
        return _OK

    async def _disable(self, unit: str) -> Result:
        return await self.inner.run(("rm", "-f", WANTS + unit), check=False)

    async def _start(self, unit: str) -> Result:
        daemon = DAEMONS.get(unit.removesuffix(".service"))
        if daemon is None:
            return _refused(f"the lab cannot run {unit} without an init system")
        if await self._pid(unit):
            return _OK
        await self.inner.run(("mkdir", "-p", daemon.pidfile.rsplit("/", 1)[0]))
        started = await self.inner.run(daemon.argv, check=False)
        if not started.ok:
            return started
        wait = ("sh", "-c", _WAIT_FOR_FILE, "kube6-wait", daemon.pidfile)
        return await self.inner.run(wait, check=False)

    async def _stop(self, unit: str) -> Result:
        pid = await self._pid(unit)
        daemon = DAEMONS.get(unit.removesuffix(".service"))
        if pid is not None:
            await self.inner.run(("kill", pid))
        if daemon is not None:
            await self.inner.run(("rm", "-f", daemon.pidfile))
        return _OK

    async def _restart(self, unit: str) -> Result:
        await self._stop(unit)
        return await self._start(unit)

    async def put(self, path: str, content: str, mode: int = 0o644) -> None:
        await self.inner.put(path, content, mode)

    async def get(self, path: str) -> str | None:
        return await self.inner.get(path)

    async def close(self) -> None:
        await self.inner.close()

    def __repr__(self) -> str:
        return f"NoSystemdExecutor({self.inner!r})"


def _refused(message: str) -> Result:
    return Result(1, "", message + "\n")


def namespace_node(inner: Executor, root: str | Path) -> NoSystemdExecutor:
    """The executor kube6 runs steps through on a namespace node: its files under `root`
    (RootedExecutor), systemctl answered by the lab."""
    return NoSystemdExecutor(RootedExecutor(inner, root))
