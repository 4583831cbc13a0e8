"""A non-root SSH user with the real sshd and the real sudo: commands, put and get run as root.

Each test makes a throwaway system user (`kube6-sudo-<random>`) with a key of its own in
~/.ssh/authorized_keys (the lab's sshd reads that file for users other than root), and removes
the user, its home and its sudoers drop-in afterwards, even when the test fails.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import stat
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncssh
import pytest

from kube6.checks.model import Status
from kube6.checks.runner import check_hosts
from kube6.errors import CommandError
from kube6.execute import Command, Executor, PrivilegeError, SshExecutor
from kube6.lab import Lab
from kube6.lab.process import in_namespace
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab

T = TypeVar("T")
SUDOERS_D = Path("/etc/sudoers.d")


@pytest.fixture(scope="module")
def ssh_lab(lab_env: None, two_node_plan: Plan) -> Iterator[Lab]:
    with Lab(two_node_plan, ssh=True) as lab:
        yield lab


@dataclass(frozen=True)
class User:
    name: str
    key: Path
    """The private key that the lab's sshd accepts for this user."""


@pytest.fixture
def user(lab_env: None, tmp_path: Path) -> Iterator[User]:
    """A system user that may log in by key (password `*`: no password, yet not locked)."""
    name = f"kube6-sudo-{secrets.token_hex(3)}"
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(tmp_path / "id_ed25519"))
    try:
        subprocess.run(
            ["useradd", "--system", "--create-home", "--shell", "/bin/sh", "--password", "*", name],
            check=True,
            capture_output=True,
        )
        account = pwd.getpwnam(name)
        ssh_dir = Path(account.pw_dir) / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_bytes(key.export_public_key("openssh"))
        for path in (ssh_dir, ssh_dir / "authorized_keys"):
            os.chown(path, account.pw_uid, account.pw_gid)
        yield User(name, tmp_path / "id_ed25519")
    finally:
        (SUDOERS_D / name).unlink(missing_ok=True)
        home = Path("/home") / name
        subprocess.run(("userdel", "--force", "--remove", name), check=False, capture_output=True)
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
        assert not home.exists(), f"{home} was left behind"


def allow(user: str) -> None:
    """Passwordless sudo for `user`, checked by visudo like an operator would."""
    dropin = SUDOERS_D / user
    dropin.write_text(f"{user} ALL=(ALL) NOPASSWD:ALL\n")
    dropin.chmod(0o440)
    subprocess.run(("visudo", "-cf", str(dropin)), check=True, capture_output=True)


def executor(lab: Lab, user: User, *, sudo: bool | None = None) -> SshExecutor:
    node = lab.layout.nodes[0]
    return SshExecutor(
        f"{user.name}@[{node.address}]",
        host=node.name,
        known_hosts=lab.known_hosts,
        client_keys=(str(user.key),),
        connect_timeout=5,
        sudo=sudo,
    )


def over_ssh(lab: Lab, ex: Executor, work: Callable[[Executor], Awaitable[T]]) -> T:
    """`work(ex)` from the lab's internet, where an operator would be; closes `ex`."""

    async def go() -> T:
        try:
            return await work(ex)
        finally:
            await ex.close()

    return in_namespace(lab.internet, lambda: asyncio.run(go()))


def test_commands_put_and_get_run_as_root_through_sudo(ssh_lab: Lab, user: User) -> None:
    allow(user.name)
    ex = executor(ssh_lab, user)
    assert ex.sudo  # chosen from the user name alone
    folder = ssh_lab.workdir / f"sudo-{user.name}"  # in the lab's 0700 root-owned work directory
    path = str(folder / "secret.conf")

    async def work(ex: Executor) -> tuple[str, str, str | None, str | None, int | None]:
        uid = (await ex.run(["id", "-u"])).stdout
        who = (await ex.run(["printenv", "SUDO_USER"])).stdout
        await ex.run(["mkdir", "-p", str(folder)])
        await ex.put(path, "token: abc\n", 0o600)
        missing = await ex.get(str(folder / "none"))
        absent = (await ex.run(["kube6-no-such-program"], check=False)).exit_code
        return uid, who, await ex.get(path), missing, absent

    uid, who, back, missing, absent = over_ssh(ssh_lab, ex, work)
    assert (uid, who) == ("0\n", f"{user.name}\n")
    written = os.stat(path)
    assert (written.st_uid, stat.S_IMODE(written.st_mode)) == (0, 0o600)
    assert back == "token: abc\n"
    assert missing is None
    assert absent == 127  # sudo's "command not found" (exit 1) reads as the shell's


def test_without_sudo_the_same_user_is_not_root(ssh_lab: Lab, user: User) -> None:
    # The control: the login really is the unprivileged user, so root came from sudo above.
    allow(user.name)
    path = str(ssh_lab.workdir / f"plain-{user.name}.conf")

    async def work(ex: Executor) -> str:
        uid = (await ex.run(["id", "-u"])).stdout
        with pytest.raises(CommandError):
            await ex.put(path, "x\n", 0o600)
        return uid

    uid = over_ssh(ssh_lab, executor(ssh_lab, user, sudo=False), work)
    assert uid.strip() == str(pwd.getpwnam(user.name).pw_uid)
    assert not Path(path).exists()


def test_failures_under_sudo_stay_masked(ssh_lab: Lab, user: User) -> None:
    allow(user.name)
    leaky = Command(("sh", "-c", "echo tok-51x >&2; echo tok-51x; exit 3"), secrets=("tok-51x",))

    async def work(ex: Executor) -> CommandError:
        with pytest.raises(CommandError) as info:
            await ex.run(leaky)
        return info.value

    error = over_ssh(ssh_lab, executor(ssh_lab, user), work)
    assert error.exit_code == 3
    assert error.command.startswith("sudo -n -- sh -c")
    assert "tok-51x" not in str(error)


def test_sudo_without_nopasswd_is_a_clear_error(ssh_lab: Lab, user: User) -> None:
    async def work(ex: Executor) -> PrivilegeError:
        with pytest.raises(PrivilegeError) as info:
            await ex.run(["id", "-u"], check=False)
        return info.value

    error = over_ssh(ssh_lab, executor(ssh_lab, user), work)
    assert (
        f"{user.name} on node0001 may not run commands as root without a password" in error.message
    )
    assert "a password is required" in error.message
    assert f"echo '{user.name} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/kube6" in error.fix
    assert "root@" in error.fix


def test_kube6_check_fails_privileges_first(ssh_lab: Lab, user: User) -> None:
    ex = executor(ssh_lab, user)
    results = in_namespace(
        ssh_lab.internet,
        lambda: asyncio.run(check_hosts(ssh_lab.plan, {"node0001": ex}, hosts=(), connect=False)),
    )
    assert [(r.node, r.name, r.status) for r in results] == [
        ("node0001", "privileges", Status.FAIL)
    ]
    assert "NOPASSWD:ALL" in results[0].fix
