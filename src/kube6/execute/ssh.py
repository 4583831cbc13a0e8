"""Run commands on a remote host over SSH (asyncssh), IPv6 literals included.

asyncssh reads ~/.ssh/config, the agent (SSH_AUTH_SOCK), the default key files and
~/.ssh/known_hosts on its own; kube6 only adds the target parsing, host-key messages that say
what to do, and the one place where an argv becomes a string: SSH carries a command line.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shlex
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kube6.execute.base import BaseExecutor, ConnectError
from kube6.execute.command import Result
from kube6.execute.sudo import needs_sudo

# sshd's default MaxSessions is 10: stay below it on one connection.
MAX_CHANNELS = 8
# A refused session is tried again this many times while none of ours is open (sshd frees a
# closed session only after it has read the next packets, so a refusal right after a close is
# a race, not a limit); each wait doubles, from the first.
OPEN_RETRIES = 6
FIRST_RETRY_WAIT = 0.05

_USER = r"(?P<user>[A-Za-z_][A-Za-z0-9_.-]{0,31})"
_TARGET = re.compile(
    rf"^(?:{_USER}@)?(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^@\[\]:]+))(?::(?P<port>[0-9]{{1,5}}))?$"
)
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")


@dataclass(frozen=True)
class SshTarget:
    """`user@host:port` taken apart; user and port may be left to ~/.ssh/config."""

    host: str
    user: str | None = None
    port: int | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"

    def ssh_argv(self, *command: str) -> list[str]:
        """The OpenSSH command line for this target (which takes no `host:port` form)."""
        port = ["-p", str(self.port)] if self.port is not None else []
        user = f"{self.user}@" if self.user else ""
        return ["ssh", *port, f"{user}{self.host}", *command]


def parse_target(text: str) -> SshTarget:
    """Parse `host`, `user@host`, `user@host:2222`, `user@[2001:db8::1]`, `[2001:db8::1]:2222`.

    A bare IPv6 address without brackets (`root@2001:db8::1`) is accepted when the whole part
    after `@` is an address; a port then needs the brackets.
    """
    text = text.strip()
    user, _, rest = text.rpartition("@") if "@" in text else ("", "", text)
    if rest and not rest.startswith("[") and rest.count(":") > 1:
        try:
            address = ipaddress.IPv6Address(rest)
        except ValueError:
            pass
        else:
            if user and not re.fullmatch(_USER, user):
                raise ValueError(f"{user!r} in {text!r} is not a user name")
            return SshTarget(str(address), user or None, None)
    match = _TARGET.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not an SSH target; write host, user@host, user@host:2222, "
            "user@[2001:db8::1] or user@[2001:db8::1]:2222"
        )
    host = match.group("host")
    if match.group("v6") is not None:
        try:
            host = str(ipaddress.IPv6Address(match.group("v6")))
        except ValueError:
            raise ValueError(f"[{match.group('v6')}] in {text!r} is not an IPv6 address") from None
    elif not _HOSTNAME.match(host):
        raise ValueError(f"{host!r} in {text!r} is not a host name or address")
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} in {text!r} is outside 1-65535")
    return SshTarget(host, match.group("user"), int(port) if port is not None else None)


def keyscan_hint(target: SshTarget, known_hosts: str | None = None) -> str:
    """The command that adds the host key, to run after checking the fingerprint."""
    port = ["-p", str(target.port)] if target.port not in (None, 22) else []
    file = known_hosts or "~/.ssh/known_hosts"
    scan = shlex.join(["ssh-keyscan", *port, target.host])
    return (
        f"{scan} >> {file}  (then compare `ssh-keygen -lf {file}` with the fingerprint that "
        "the host's console shows: `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`)"
    )


class SshExecutor(BaseExecutor):
    """A remote host over SSH. Host keys are checked against known_hosts, always.

    One connection per executor, opened on first use and reused; `close()` ends it.
    `sudo=None` (the default) runs every command through `sudo -n` when the user that logged
    in is not root: the target's user, or the one ~/.ssh/config chose.
    """

    def __init__(
        self,
        target: str | SshTarget,
        *,
        host: str | None = None,
        known_hosts: str | Path | None = None,
        client_keys: tuple[str, ...] | None = None,
        connect_timeout: float = 15.0,
        sudo: bool | None = None,
    ) -> None:
        self.target = target if isinstance(target, SshTarget) else parse_target(target)
        # Decided now when the target names the user; otherwise once connected (the user
        # then comes from ~/.ssh/config or is the local one).
        self._sudo_decided = sudo is not None or self.target.user is not None
        decided = needs_sudo(self.target.user) if sudo is None else sudo
        super().__init__(host or str(self.target), sudo=decided)
        self._user: str | None = None
        self.known_hosts = str(known_hosts) if known_hosts is not None else None
        self.client_keys = client_keys
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._channels = _ChannelGate(MAX_CHANNELS)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for asyncssh.connect; only what the user set, the rest is asyncssh's
        defaults (~/.ssh/config, agent, key files, ~/.ssh/known_hosts)."""
        options: dict[str, Any] = {"connect_timeout": self.connect_timeout}
        if self.target.user:
            options["username"] = self.target.user
        if self.target.port is not None:
            options["port"] = self.target.port
        if self.known_hosts is not None:
            options["known_hosts"] = self.known_hosts
        if self.client_keys is not None:
            options["client_keys"] = list(self.client_keys)
        return options

    async def _connection(self) -> Any:
        import asyncssh

        async with self._lock:
            if self._conn is not None:
                return self._conn
            try:
                self._conn = await asyncssh.connect(self.target.host, **self.connect_options())
            except asyncssh.HostKeyNotVerifiable as exc:
                raise ConnectError(
                    f"the SSH host key of {self.target} is not known or does not match "
                    f"({exc.reason})",
                    fix="if the host is new, add its key: "
                    + keyscan_hint(self.target, self.known_hosts)
                    + "; if the key changed unexpectedly, find out why before going on",
                ) from None
            except asyncssh.PermissionDenied as exc:
                raise ConnectError(
                    f"SSH to {self.target} was refused: {exc.reason}",
                    fix="load a key into your agent (ssh-add) or name one in ~/.ssh/config, and "
                    "put its public half in the host's ~/.ssh/authorized_keys",
                ) from None
            except (OSError, asyncssh.Error, TimeoutError) as exc:
                raise ConnectError(
                    f"cannot connect to {self.target} over SSH: {exc}",
                    fix="check that the host is up and that "
                    f"`{shlex.join(self.target.ssh_argv('true'))}` works from here",
                ) from None
            return self._conn

    async def _use_sudo(self) -> bool:
        if not self._sudo_decided:
            conn = await self._connection()
            self._user = conn.get_extra_info("username")
            self.sudo = needs_sudo(self._user)
            self._sudo_decided = True
        return self.sudo

    def login(self) -> str:
        return self.target.user or self._user or "the SSH user"

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        import asyncssh

        conn = await self._connection()
        # The only place where kube6 turns an argv into a string: the remote shell splits it
        # back into exactly these words.
        line = shlex.join(("env", "LC_ALL=C", *argv))
        # No input means an empty stdin (as locally), not a channel left open that a reading
        # command would wait on forever.
        feed: dict[str, Any] = {"input": stdin} if stdin else {"stdin": asyncssh.DEVNULL}
        refused_alone = 0
        while True:
            await self._channels.acquire()
            try:
                done = await conn.run(line, check=False, timeout=timeout, **feed)
                break
            except asyncssh.TimeoutError as exc:
                err = _text(exc.stderr)
                return Result(None, _text(exc.stdout), f"{err}\nkilled after {timeout} s")
            except asyncssh.ChannelOpenError as exc:
                # The command never started, so opening the session again is safe. With others
                # open, the gate now waits for one of them (the limit only shrinks, so this
                # ends); alone, only a few waits that double.
                if self._channels.refused():
                    if refused_alone == OPEN_RETRIES:
                        raise ConnectError(
                            f"{self.target} refused a new SSH session: {exc.reason} (tried "
                            f"{OPEN_RETRIES + 1} times while no other session of kube6 was open)",
                            fix="raise MaxSessions in the host's sshd_config (0 allows none; "
                            "OpenSSH's default is 10)",
                        ) from None
                    await asyncio.sleep(FIRST_RETRY_WAIT * 2**refused_alone)
                    refused_alone += 1
            finally:
                self._channels.release()
        code = done.exit_status
        out, err = _text(done.stdout), _text(done.stderr)
        if code is None or code < 0:
            signal = done.exit_signal[0] if done.exit_signal else "unknown"
            return Result(None, out, f"{err}\nkilled by signal {signal}")
        return Result(code, out, err)

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()


class _ChannelGate:
    """How many sessions kube6 opens at once on one connection: MAX_CHANNELS, lowered to what
    the host allows when it refuses one (its MaxSessions may be below sshd's default).

    A semaphore whose limit can shrink; a released slot goes to the longest waiter.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.open < self.limit and not self._waiters:
            self.open += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just before the cancel
            raise

    def release(self) -> None:
        self.open -= 1
        while self._waiters and self.open < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.open += 1
                waiter.set_result(None)

    def refused(self) -> bool:
        """The host refused the session this slot was for: from now on no more at once than
        the others open now. True when no other was open (then it is not our count)."""
        others = self.open - 1
        if others > 0:
            self.limit = min(self.limit, others)
        return others == 0


def _text(data: object) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return str(data)
