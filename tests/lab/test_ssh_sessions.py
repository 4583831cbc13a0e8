"""kube6 against the real OpenSSH sshd's MaxSessions: many commands at once over one connection.

The e2e nodes (Debian's sshd, MaxSessions 10) refused `kube6 up` a session now and then while
kube6 held 8: sshd counts a closed session until it has read the packets after it, so a new
one opened right behind a close can be refused. kube6 now retries such a refusal, and learns a
host's lower limit (MaxSessions 2 here) from the first refusal instead of failing.

Each test runs its own sshd on ::1 (a free port), as root, with a throwaway host and user key.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pytest

from kube6.execute import SshExecutor
from kube6.execute.base import ConnectError
from kube6.execute.ssh import MAX_CHANNELS

pytestmark = pytest.mark.lab

COMMANDS = 40


def _free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sshd(lab_env: None, tmp_path: Path) -> Iterator[Callable[[int], SshExecutor]]:
    """Start sshd with the given MaxSessions; returns a root executor for it."""
    started: list[subprocess.Popen[bytes]] = []
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir

    def start(max_sessions: int) -> SshExecutor:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        host_key.write_private_key(str(tmp_path / "host_key"))
        (tmp_path / "host_key").chmod(0o600)
        client_key.write_private_key(str(tmp_path / "id_ed25519"))
        client_key.write_public_key(str(tmp_path / "authorized_keys"))
        port = _free_port()
        config = tmp_path / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress [::1]:{port}",
                    f"HostKey {tmp_path / 'host_key'}",
                    f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}",
                    f"PidFile {tmp_path / 'sshd.pid'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    f"MaxSessions {max_sessions}",
                ]
            )
            + "\n"
        )
        sshd_bin = shutil.which("sshd") or "/usr/sbin/sshd"
        started.append(subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)]))
        line = host_key.export_public_key("openssh").decode().strip()
        (tmp_path / "known_hosts").write_text(f"[::1]:{port} {line}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("::1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        return SshExecutor(
            f"root@[::1]:{port}",
            known_hosts=tmp_path / "known_hosts",
            client_keys=(str(tmp_path / "id_ed25519"),),
            connect_timeout=5,
        )

    try:
        yield start
    finally:
        for process in started:
            process.kill()
            process.wait()


def _many(executor: SshExecutor, count: int) -> list[str]:
    async def go() -> list[str]:
        try:
            # Short commands in a burst: closes and opens interleave on the one connection.
            results = await asyncio.gather(
                *(executor.run(["sh", "-c", f"sleep 0.0{i % 3}; echo {i}"]) for i in range(count))
            )
            return [r.stdout for r in results]
        finally:
            await executor.close()

    return asyncio.run(go())


def test_sshds_default_max_sessions_takes_bursts_of_commands(
    sshd: Callable[[int], SshExecutor],
) -> None:
    assert MAX_CHANNELS < 10
    for _ in range(3):
        assert _many(sshd(10), COMMANDS) == [f"{i}\n" for i in range(COMMANDS)]


def test_a_lower_max_sessions_is_learned_not_fatal(sshd: Callable[[int], SshExecutor]) -> None:
    executor = sshd(2)
    assert _many(executor, COMMANDS) == [f"{i}\n" for i in range(COMMANDS)]
    # What the host refused, kube6 no longer asks for on that connection.
    assert executor._channels.limit <= 2


def test_a_host_that_allows_no_session_is_a_clear_error(
    sshd: Callable[[int], SshExecutor],
) -> None:
    with pytest.raises(ConnectError) as info:
        _many(sshd(0), 1)
    assert "refused a new SSH session" in str(info.value)
    assert "MaxSessions" in (info.value.fix or "")


def test_a_host_allowing_exactly_kube6s_sessions_survives_the_close_race(
    sshd: Callable[[int], SshExecutor],
) -> None:
    """Without the retry this refuses within a few dozen commands (seen every run here)."""
    assert _many(sshd(MAX_CHANNELS), 100) == [f"{i}\n" for i in range(100)]
