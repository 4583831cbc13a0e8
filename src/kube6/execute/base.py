"""The executor interface, the shared run/put/get logic, and running on many hosts at once."""

from __future__ import annotations

import asyncio
import getpass
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from kube6.errors import CommandError, Kube6Error
from kube6.execute import sudo as _sudo
from kube6.execute.command import Command, Result, as_command

log = logging.getLogger("kube6.execute")

T = TypeVar("T")

# Exit code of our own `get` helper when the file does not exist (distinct from cat's 1).
_MISSING = 3
# Writes go to a temporary name first, so a reader never sees half a file.
_PUT_SCRIPT = (
    'umask 077; tmp="$1.kube6-tmp"; cat > "$tmp" && chmod "$2" "$tmp" && mv -f "$tmp" "$1"'
)
_GET_SCRIPT = f'test -e "$1" || exit {_MISSING}; cat -- "$1"'


class ConnectError(Kube6Error):
    """kube6 could not reach a host (SSH refused, unknown host key, no such namespace...)."""


class PrivilegeError(ConnectError):
    """The login user may not become root with `sudo -n` (password required, not a sudoer,
    sudo missing): no command can run as root on that host."""


@runtime_checkable
class Executor(Protocol):
    """Runs commands on one host. The only way kube6 touches a host."""

    host: str
    """A name for messages: the node name, `user@[addr]:port`, or `local`."""

    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        """Run `cmd`; with check=True a non-zero exit raises CommandError (masked)."""
        ...

    async def put(self, path: str, content: str, mode: int = 0o644) -> None:
        """Write `content` to `path` atomically with permissions `mode`."""
        ...

    async def get(self, path: str) -> str | None:
        """The text of `path`, or None when it does not exist."""
        ...

    async def close(self) -> None:
        """Release connections; the executor may be used again afterwards."""
        ...


class BaseExecutor(ABC):
    """run/put/get/close on top of one primitive, `_exec(argv, stdin, timeout)`.

    `sudo=True` prefixes every command with `sudo -n --` (put and get too: they are commands),
    and a refusal by sudo raises PrivilegeError with the fix (see kube6.execute.sudo).
    """

    host: str

    def __init__(self, host: str, *, sudo: bool = False) -> None:
        self.host = host
        self.sudo = sudo

    @abstractmethod
    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result: ...

    async def _use_sudo(self) -> bool:
        """Whether this command goes through sudo (SSH may decide once connected)."""
        return self.sudo

    def login(self) -> str:
        """The user that logs in (and asks sudo), for messages."""
        return getpass.getuser()

    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        command = as_command(cmd)
        sudo = await self._use_sudo()
        argv = _sudo.wrap(command.argv) if sudo else command.argv
        shown = f"sudo -n -- {command.display}" if sudo else command.display
        log.debug("%s: %s", self.host, shown)
        result = await self._exec(argv, command.stdin, command.timeout)
        if sudo:
            result = self._through_sudo(result, command)
        if check and not result.ok:
            raise CommandError(
                host=self.host,
                command=shown,
                exit_code=result.exit_code,
                stdout=command.mask(result.stdout),
                stderr=command.mask(result.stderr),
            )
        return result

    def _through_sudo(self, result: Result, command: Command) -> Result:
        # Raised even with check=False: sudo refused, so the command never ran and its
        # "result" would mislead the caller (a probe would read it as the host's answer).
        refused = _sudo.refusal(result)
        if refused is None:
            return _sudo.normalise(result, command.argv)
        user = self.login()
        if refused == _sudo.MISSING:
            raise PrivilegeError(
                f"{user} on {self.host} is not root and sudo is not installed there",
                fix="install sudo on the host (as root: apt-get install sudo), then "
                + _sudo.fix(user),
            )
        raise PrivilegeError(
            f"{user} on {self.host} may not run commands as root without a password "
            f"(sudo -n said: {command.mask(refused)})",
            fix=_sudo.fix(user),
        )

    async def put(self, path: str, content: str, mode: int = 0o644) -> None:
        _require_absolute(path)
        await self.run(
            Command(("sh", "-c", _PUT_SCRIPT, "kube6-put", path, f"{mode:o}"), stdin=content)
        )

    async def get(self, path: str) -> str | None:
        _require_absolute(path)
        result = await self.run(("sh", "-c", _GET_SCRIPT, "kube6-get", path), check=False)
        if result.exit_code == _MISSING:
            return None
        if not result.ok:
            raise CommandError(
                host=self.host,
                command=f"read {path}",
                exit_code=result.exit_code,
                stdout="",
                stderr=result.stderr,
            )
        return result.stdout

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host!r})"


def _require_absolute(path: str) -> None:
    if not path.startswith("/") or "\0" in path:
        raise ValueError(f"{path!r} is not an absolute path; executors only take absolute paths")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One host's result of `run_on_hosts`: a value, or the error that stopped it."""

    host: str
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value, or re-raise the host's error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


async def run_on_hosts(
    executors: Sequence[Executor],
    fn: Callable[[Executor], Awaitable[T]],
    *,
    limit: int = 8,
) -> list[Outcome[T]]:
    """Run `fn(executor)` for every executor, at most `limit` at once.

    Results come back in the order of `executors`. A failing host does not cancel the others:
    its Outcome carries the error. Cancellation (Ctrl-C) still propagates.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    gate = asyncio.Semaphore(limit)

    async def one(executor: Executor) -> Outcome[T]:
        async with gate:
            try:
                return Outcome(executor.host, value=await fn(executor))
            except Exception as exc:  # reported per host, not lost
                return Outcome(executor.host, error=exc)

    return list(await asyncio.gather(*(one(e) for e in executors)))
