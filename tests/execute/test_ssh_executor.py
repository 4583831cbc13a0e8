"""SshExecutor: target parsing, options, and a real SSH session against an in-process server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh
import pytest

from kube6.errors import CommandError
from kube6.execute import (
    Command,
    ConnectError,
    SshExecutor,
    SshTarget,
    executor_for,
    keyscan_hint,
    parse_target,
)
from kube6.execute.local import LocalExecutor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host", SshTarget("host")),
        ("root@host.example.com", SshTarget("host.example.com", "root")),
        ("ubuntu@host:2222", SshTarget("host", "ubuntu", 2222)),
        ("root@[2001:db8::1]", SshTarget("2001:db8::1", "root")),
        ("root@[2001:DB8:0::1]:2222", SshTarget("2001:db8::1", "root", 2222)),
        ("[2001:db8::1]:22", SshTarget("2001:db8::1", None, 22)),
        ("root@2001:db8::1", SshTarget("2001:db8::1", "root")),
        ("2001:db8::1", SshTarget("2001:db8::1")),
        ("deploy.bot@[::1]", SshTarget("::1", "deploy.bot")),
    ],
)
def test_parse_target(text: str, expected: SshTarget) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root@[2001:db8::zz]", "not an IPv6 address"),
        ("root@[2001:db8::1]:70000", "outside 1-65535"),
        ("root@host:0", "outside 1-65535"),
        ("root@2001:db8::1:2222:x", "not an SSH target"),
        ("", "not an SSH target"),
        ("root@-host", "not a host name"),
        ("a b@host", "not an SSH target"),
    ],
)
def test_parse_target_errors_quote_the_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(text)


def test_target_str_round_trips() -> None:
    for text in ("root@[2001:db8::1]:2222", "host", "u@h:22", "[::1]"):
        assert str(parse_target(text)) == text


def test_connect_options_leave_defaults_to_asyncssh() -> None:
    # No username/port/known_hosts: asyncssh then reads ~/.ssh/config and ~/.ssh/known_hosts.
    assert SshExecutor("[2001:db8::1]").connect_options() == {"connect_timeout": 15.0}
    ex = SshExecutor("root@[2001:db8::1]:2222", known_hosts="/tmp/kh", host="node0001")
    assert ex.host == "node0001"
    assert ex.connect_options() == {
        "connect_timeout": 15.0,
        "username": "root",
        "port": 2222,
        "known_hosts": "/tmp/kh",
    }


def test_keyscan_hint() -> None:
    hint = keyscan_hint(parse_target("root@[2001:db8::1]:2222"))
    assert hint.startswith("ssh-keyscan -p 2222 2001:db8::1 >> ~/.ssh/known_hosts")
    assert "-p" not in keyscan_hint(parse_target("root@[2001:db8::1]:22"))


def test_executor_for() -> None:
    assert isinstance(executor_for(None, host="n1"), LocalExecutor)
    ssh = executor_for("root@[2001:db8::1]", host="n1")
    assert isinstance(ssh, SshExecutor)
    assert ssh.host == "n1"


# --- a real SSH session: an asyncssh server on ::1 that runs commands with /bin/sh ---------


async def _shell(process: asyncssh.SSHServerProcess[bytes]) -> None:
    data = await process.stdin.read()
    proc = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        process.command or "true",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(data)
    process.stdout.write(out)
    process.stderr.write(err)
    process.exit(proc.returncode or 0)


class _Server:
    def __init__(self, tmp: Path) -> None:
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = tmp / "id_ed25519"
        client_key.write_private_key(str(self.client_key_path))
        self.authorized = tmp / "authorized_keys"
        client_key.write_public_key(str(self.authorized))
        self.known_hosts = tmp / "known_hosts"
        self.port = 0

    def trust(self) -> None:
        line = self.host_key.export_public_key("openssh").decode().strip()
        self.known_hosts.write_text(f"[::1]:{self.port} {line}\n")


Body = Callable[[_Server], Awaitable[None]]
Process = Callable[[asyncssh.SSHServerProcess[bytes]], Awaitable[None]]


def with_server(
    tmp_path: Path, body: Body, *, process_factory: Process = _shell, trusted: bool = False
) -> None:
    """Run `body` against a fresh server on ::1 (no pytest-asyncio: one event loop per test).

    `process_factory` plays the host's side of each command; `trusted`: its host key is in
    known_hosts already (else known_hosts is empty, as on a first connection).
    """

    async def go() -> None:
        server = _Server(tmp_path)
        acceptor = await asyncssh.listen(
            "::1",
            0,
            server_host_keys=[server.host_key],
            authorized_client_keys=str(server.authorized),
            process_factory=process_factory,
            encoding=None,
        )
        server.port = acceptor.sockets[0].getsockname()[1]
        if trusted:
            server.trust()
        else:
            server.known_hosts.write_text("")
        try:
            await body(server)
        finally:
            acceptor.close()
            await acceptor.wait_closed()

    asyncio.run(go())


def _client(server: _Server, key: Path | None = None) -> SshExecutor:
    # sudo=False: this server runs commands as the test's own user, whatever the login name
    # (tests/execute/test_sudo.py and tests/lab/test_sudo.py cover the sudo path).
    return SshExecutor(
        f"kube6@[::1]:{server.port}",
        known_hosts=server.known_hosts,
        client_keys=(str(key or server.client_key_path),),
        connect_timeout=5,
        sudo=False,
    )


def test_real_session_runs_argv_exactly(tmp_path: Path) -> None:
    async def body(server: _Server) -> None:
        server.trust()
        ex = _client(server)
        try:
            word = 'it\'s a b; $(id) "q"'
            result = await ex.run(["printf", "%s", word])
            assert result.stdout == word
            assert (await ex.run(Command(("cat",), stdin="in\n"))).stdout == "in\n"
            with pytest.raises(CommandError) as info:
                await ex.run(
                    Command(("sh", "-c", "echo tok-123 >&2; exit 4"), secrets=("tok-123",))
                )
            assert info.value.exit_code == 4
            assert "tok-123" not in str(info.value)
            assert info.value.host == f"kube6@[::1]:{server.port}"
            # More commands at once than sshd's MaxSessions, over one connection.
            results = await asyncio.gather(*(ex.run(["echo", str(i)]) for i in range(12)))
            assert [r.stdout for r in results] == [f"{i}\n" for i in range(12)]
            path = str(tmp_path / "put.conf")
            await ex.put(path, "x=1\n", 0o600)
            assert await ex.get(path) == "x=1\n"
            assert os.stat(path).st_mode & 0o777 == 0o600
            os.unlink(path)
            assert await ex.get(path) is None
        finally:
            await ex.close()

    with_server(tmp_path, body)


def test_unknown_host_key_is_refused_with_the_keyscan_fix(tmp_path: Path) -> None:
    async def body(server: _Server) -> None:
        with pytest.raises(ConnectError) as info:
            await _client(server).run(["true"])
        text = str(info.value)
        assert f"ssh-keyscan -p {server.port} ::1 >> {server.known_hosts}" in text
        assert "is not known" in text

    with_server(tmp_path, body)


def test_wrong_client_key_is_refused(tmp_path: Path) -> None:
    async def body(server: _Server) -> None:
        server.trust()
        key = tmp_path / "other"
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
        with pytest.raises(ConnectError, match="refused"):
            await _client(server, key).run(["true"])

    with_server(tmp_path, body)


def test_connection_refused() -> None:
    ex = SshExecutor("kube6@[::1]:1", known_hosts="/dev/null", connect_timeout=2)
    with pytest.raises(ConnectError, match="cannot connect"):
        asyncio.run(ex.run(["true"]))
