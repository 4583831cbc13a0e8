"""sudo for non-root logins: the prefix, put/get through it, refusals and their fix, masking.

The real sudo over the real sshd is in tests/lab/test_sudo.py; here `_Raw` stands in for a
host (it answers `_exec` from a function and records the argv exactly as it would be sent).
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from kube6.checks import run_checks
from kube6.checks.model import Status
from kube6.errors import CommandError
from kube6.execute import (
    BaseExecutor,
    Command,
    LocalExecutor,
    PrivilegeError,
    Result,
    SshExecutor,
    executor_for,
)
from kube6.execute import sudo as sudo_mod
from kube6.plan import make_plan
from kube6.spec import example
from tests.execute.test_ssh_executor import _Server, with_server

T = TypeVar("T")
OK = Result(0, "", "")
PASSWORD = Result(1, "", "sudo: a password is required\n")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class _Raw(BaseExecutor):
    """A host that answers every command with `answer(argv, stdin)` and keeps what was sent."""

    def __init__(self, answer: Callable[[tuple[str, ...], str | None], Result] | Result) -> None:
        super().__init__("node0001", sudo=True)
        self.answer = answer
        self.sent: list[tuple[tuple[str, ...], str | None]] = []

    def login(self) -> str:
        return "ubuntu"

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        self.sent.append((argv, stdin))
        return self.answer(argv, stdin) if callable(self.answer) else self.answer


# --- who gets sudo --------------------------------------------------------------------------


def test_non_root_ssh_users_get_sudo_root_and_local_do_not() -> None:
    ubuntu = executor_for("ubuntu@[2001:db8::1]", host="n1")
    assert isinstance(ubuntu, SshExecutor)
    assert ubuntu.sudo is True
    root = executor_for("root@[2001:db8::1]:2222", host="n1")
    assert isinstance(root, SshExecutor)
    assert root.sudo is False
    local = executor_for(None, host="n1")
    assert isinstance(local, LocalExecutor)
    assert local.sudo is False
    # An explicit choice wins over the user name.
    assert SshExecutor("ubuntu@[2001:db8::1]", sudo=False).sudo is False


def test_the_prefix_is_an_argv_not_a_shell_string() -> None:
    ex = _Raw(OK)
    word = "a b; $(id)"
    run(ex.run(["printf", "%s", word]))
    assert ex.sent == [(("sudo", "-n", "--", "printf", "%s", word), None)]
    ex.sudo = False
    run(ex.run(["id", "-u"]))
    assert ex.sent[-1] == (("id", "-u"), None)


def test_put_and_get_go_through_sudo() -> None:
    files: dict[str, str] = {}

    def host(argv: tuple[str, ...], stdin: str | None) -> Result:
        assert argv[:3] == sudo_mod.PREFIX, argv
        _, _, _, sh, dash_c, _script, name, path, *mode = argv
        assert (sh, dash_c) == ("sh", "-c")
        if name == "kube6-put":
            assert mode == ["600"]
            files[path] = stdin or ""
            return OK
        if path not in files:
            return Result(3, "", "")  # the get helper's "no such file"
        return Result(0, files[path], "")

    ex = _Raw(host)
    run(ex.put("/etc/kubernetes/secret.conf", "token: x\n", 0o600))
    assert files == {"/etc/kubernetes/secret.conf": "token: x\n"}
    assert run(ex.get("/etc/kubernetes/secret.conf")) == "token: x\n"
    assert run(ex.get("/etc/none")) is None
    assert [argv[6] for argv, _ in ex.sent] == ["kube6-put", "kube6-get", "kube6-get"]


# --- refusals -------------------------------------------------------------------------------


def test_password_required_says_whom_to_give_passwordless_sudo() -> None:
    ex = _Raw(PASSWORD)
    for check in (True, False):  # the command never ran: check=False must not hide that
        with pytest.raises(PrivilegeError) as info:
            run(ex.run(["id", "-u"], check=check))
    error = info.value
    assert "ubuntu on node0001 may not run commands as root without a password" in error.message
    assert "a password is required" in error.message
    assert "echo 'ubuntu ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/kube6" in error.fix
    assert "root@" in error.fix


def test_put_is_refused_the_same_way() -> None:
    with pytest.raises(PrivilegeError, match="without a password"):
        run(_Raw(PASSWORD).put("/etc/x", "y"))


def test_a_refusal_naming_the_command_is_masked() -> None:
    refused = Result(
        1,
        "",
        "sudo: unable to resolve host node0001: Name or service not known\n"
        "Sorry, user ubuntu is not allowed to execute '/usr/bin/kubeadm --token s3cr.et' as "
        "root on node0001.\n",
    )
    with pytest.raises(PrivilegeError) as info:
        run(_Raw(refused).run(Command(("kubeadm", "--token", "s3cr.et"), secrets=("s3cr.et",))))
    assert "s3cr.et" not in str(info.value)
    assert "is not allowed to execute '/usr/bin/kubeadm --token ***'" in str(info.value)


def test_sudo_missing_on_the_host() -> None:
    for stderr in ("env: ‘sudo’: No such file or directory\n", "sudo: command not found"):
        with pytest.raises(PrivilegeError) as info:
            run(_Raw(Result(127, "", stderr)).run(["true"]))
        assert "sudo is not installed" in info.value.message
        assert "apt-get install sudo" in info.value.fix


@pytest.mark.parametrize(
    "result",
    [
        Result(1, "", "grep: no match\n"),
        # The command's own failures, even when they mention sudo, are not refusals.
        Result(2, "", "sudo: a password is required\n"),
        Result(1, "sudo: a password is required\n", ""),
        Result(1, "", "sudo: unable to resolve host node0001: Name or service not known\n"),
        Result(127, "", "sh: 1: kubeadm: not found\n"),
    ],
)
def test_the_commands_own_failures_stay_command_errors(result: Result) -> None:
    ex = _Raw(result)
    assert run(ex.run(["x"], check=False)) == result
    with pytest.raises(CommandError) as info:
        run(ex.run(Command(("x", "tok-9"), secrets=("tok-9",))))
    assert info.value.command == "sudo -n -- x ***"


def test_a_missing_program_under_sudo_is_127_as_without() -> None:
    ex = _Raw(Result(1, "", "sudo: kubeadm: command not found\n"))
    assert run(ex.run(["kubeadm", "version"], check=False)).exit_code == 127
    # Another program's "not found" in the output is the command's business.
    ex = _Raw(Result(1, "", "sudo: helm: command not found\n"))
    assert run(ex.run(["kubeadm", "version"], check=False)).exit_code == 1


def test_kube6_check_reports_privileges_with_the_fix() -> None:
    plan = make_plan(example(), source="built-in example")
    error = PrivilegeError("ubuntu on node0001 may not ...", fix=sudo_mod.fix("ubuntu"))
    (result,) = run_checks(plan, {"node0001": error}, hosts=())
    assert (result.name, result.status, result.node) == ("privileges", Status.FAIL, "node0001")
    assert "NOPASSWD:ALL" in result.fix


# --- over a real SSH channel (asyncssh server; a fake sudo that always wants a password) ----


def _serve(tmp: Path, body: Callable[[_Server, list[str]], Coroutine[Any, Any, None]]) -> None:
    lines: list[str] = []

    async def sudo_wants_a_password(process: asyncssh.SSHServerProcess[bytes]) -> None:
        lines.append(process.command or "")
        process.stderr.write(b"sudo: a password is required\n")
        process.exit(1)

    async def with_lines(server: _Server) -> None:
        await body(server, lines)

    with_server(tmp, with_lines, process_factory=sudo_wants_a_password, trusted=True)


def test_ssh_sends_sudo_and_reports_the_refusal(tmp_path: Path) -> None:
    async def body(server: _Server, lines: list[str]) -> None:
        ex = SshExecutor(
            f"ubuntu@[::1]:{server.port}",
            host="node0001",
            known_hosts=server.known_hosts,
            client_keys=(str(server.client_key_path),),
            connect_timeout=5,
        )
        try:
            with pytest.raises(PrivilegeError) as info:
                await ex.run(["id", "-u"], check=False)
        finally:
            await ex.close()
        assert lines == ["env LC_ALL=C sudo -n -- id -u"]
        assert info.value.message.startswith("ubuntu on node0001 may not run commands as root")

    _serve(tmp_path, body)


def test_ssh_without_a_user_decides_once_connected(tmp_path: Path) -> None:
    # No user in the target: asyncssh logs in as ~/.ssh/config's user or the local one.
    async def body(server: _Server, lines: list[str]) -> None:
        ex = SshExecutor(
            f"[::1]:{server.port}",
            known_hosts=server.known_hosts,
            client_keys=(str(server.client_key_path),),
            connect_timeout=5,
        )
        try:
            await ex.run(["true"], check=False)
        except PrivilegeError:
            pass
        finally:
            await ex.close()
        user = getpass.getuser()
        assert ex.sudo is (user != "root")
        assert lines == ["env LC_ALL=C " + ("sudo -n -- true" if ex.sudo else "true")]

    _serve(tmp_path, body)
