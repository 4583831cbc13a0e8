"""Run commands on this machine (asyncio subprocess, no shell) or inside a network namespace."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from kube6.execute.base import BaseExecutor, ConnectError
from kube6.execute.command import Result

NETNS_DIR = "/run/netns"


class LocalExecutor(BaseExecutor):
    """This machine. Commands run as the current user (or through `sudo -n` with sudo=True)."""

    def __init__(self, host: str = "local", *, sudo: bool = False) -> None:
        super().__init__(host, sudo=sudo)

    def _prefix(self) -> tuple[str, ...]:
        return ()

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        full = (*self._prefix(), *argv)
        try:
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                # C locale: the parsers read English, unlocalised output.
                env={**os.environ, "LC_ALL": "C"},
                # Its own process group: a timeout or cancellation kills the command and
                # everything it started (`timeout`, `sh -c`, `ip netns exec` leave children).
                start_new_session=True,
            )
        except FileNotFoundError:
            # The shell convention, so callers treat "no such program" the same on every host.
            return Result(127, "", f"{full[0]}: command not found")
        except PermissionError as exc:
            return Result(126, "", f"{full[0]}: {exc.strerror}")
        data = stdin.encode() if stdin is not None else None
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result and drops
            # a cancellation (Ctrl-C) that lands in the step in which the command ends.
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate(data)
        except TimeoutError:
            _kill_group(proc)
            out, err = await proc.communicate()
            message = err.decode(errors="replace") + f"\nkilled after {timeout} s"
            return Result(None, out.decode(errors="replace"), message)
        except asyncio.CancelledError:
            _kill_group(proc)
            raise
        code = proc.returncode
        text_out, text_err = out.decode(errors="replace"), err.decode(errors="replace")
        if code is not None and code < 0:
            return Result(None, text_out, f"{text_err}\nkilled by signal {-code}")
        return Result(code, text_out, text_err)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group's id is the command's pid
    except PermissionError:  # a setuid program left the group: kill what we can
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    except ProcessLookupError:
        pass


class NetnsExecutor(LocalExecutor):
    """Inside the named network namespace of this machine (`ip netns exec NS argv...`).

    `ip netns exec` also bind-mounts /etc/netns/NS/* over /etc, so a lab namespace can have
    its own resolv.conf and hosts files.
    """

    def __init__(self, namespace: str, *, host: str | None = None) -> None:
        if not namespace or "/" in namespace or namespace in {".", ".."}:
            raise ValueError(f"{namespace!r} is not a network namespace name")
        super().__init__(host or namespace)
        self.namespace = namespace

    def _prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.namespace)

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        if not os.path.exists(os.path.join(NETNS_DIR, self.namespace)):
            raise ConnectError(
                f"network namespace {self.namespace!r} does not exist",
                fix="create it first (the lab does: `kube6 lab up`), or list them: ip netns list",
            )
        return await super()._exec(argv, stdin, timeout)
