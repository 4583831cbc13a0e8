"""LocalExecutor for real, masking, error layout, and run_on_hosts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kube6.errors import CommandError
from kube6.execute import (
    Command,
    ConnectError,
    Executor,
    LocalExecutor,
    NetnsExecutor,
    RecordingExecutor,
    Result,
    as_command,
    run_on_hosts,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_true_and_output() -> None:
    ex = LocalExecutor()
    assert run(ex.run(["true"])) == Result(0, "", "")
    result = run(ex.run(["sh", "-c", "echo out; echo err >&2; exit 0"]))
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_argv_is_not_split_by_a_shell() -> None:
    # A word with spaces and shell syntax arrives as one argument, untouched.
    word = "a b; rm -rf / $(id) 'q'"
    result = run(LocalExecutor().run(["printf", "%s", word]))
    assert result.stdout == word


def test_false_raises_with_host_command_code_and_output() -> None:
    ex = LocalExecutor("node0001")
    with pytest.raises(CommandError) as info:
        run(ex.run(["sh", "-c", "echo partial; echo broken >&2; exit 3"]))
    err = info.value
    assert (err.host, err.exit_code) == ("node0001", 3)
    assert err.command == "sh -c 'echo partial; echo broken >&2; exit 3'"
    text = str(err)
    assert "command failed on node0001" in text
    assert "exit code: 3" in text
    assert "    partial" in text
    assert "    broken" in text


def test_check_false_returns_the_failure() -> None:
    result = run(LocalExecutor().run(["false"], check=False))
    assert result.exit_code == 1
    assert not result.ok


def test_missing_program_is_exit_127_not_a_traceback() -> None:
    result = run(LocalExecutor().run(["kube6-no-such-program-x"], check=False))
    assert result.exit_code == 127
    assert "command not found" in result.stderr


def test_stdin_is_passed() -> None:
    result = run(LocalExecutor().run(Command(("cat",), stdin="hello\n")))
    assert result.stdout == "hello\n"


def test_timeout_kills_and_reports() -> None:
    ex = LocalExecutor()
    with pytest.raises(CommandError) as info:
        run(ex.run(Command(("sleep", "5"), timeout=0.2)))
    assert info.value.exit_code is None
    assert "killed after 0.2 s" in str(info.value)


def test_secrets_are_masked_in_str_repr_and_errors() -> None:
    token = "abcdef.0123456789abcdef"
    cmd = Command(("sh", "-c", f"echo {token}; echo {token} >&2; exit 1"), secrets=(token,))
    assert token not in str(cmd)
    assert token not in repr(cmd)
    assert "***" in str(cmd)
    with pytest.raises(CommandError) as info:
        run(LocalExecutor().run(cmd))
    text = str(info.value)
    assert token not in text
    assert token not in info.value.stdout + info.value.stderr + info.value.command
    assert text.count("***") == 4  # twice in the command, once in each stream


def test_longer_secret_is_masked_whole() -> None:
    cmd = Command(("x", "secret-long"), secrets=("secret", "secret-long", ""))
    assert cmd.display == "x ***"


def test_shell_strings_and_empty_argv_are_refused() -> None:
    with pytest.raises(TypeError, match="argv lists"):
        as_command("rm -rf /tmp/x")
    with pytest.raises(ValueError, match="empty argv"):
        Command(())
    with pytest.raises(TypeError):
        Command(("ls", 3))  # type: ignore[arg-type]


def test_put_and_get(tmp_path: Path) -> None:
    ex = LocalExecutor()
    target = tmp_path / "dir with space" / "f.conf"
    target.parent.mkdir()
    run(ex.put(str(target), "secret: 1\n", 0o600))
    assert target.read_text() == "secret: 1\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert run(ex.get(str(target))) == "secret: 1\n"
    assert run(ex.get(str(tmp_path / "missing"))) is None
    assert not list(target.parent.glob("*.kube6-tmp"))


def test_get_of_unreadable_path_raises(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="read"):
        run(LocalExecutor().get(str(tmp_path)))  # a directory: exists, cannot be cat


def test_relative_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        run(LocalExecutor().put("etc/x", ""))


def test_executors_satisfy_the_protocol() -> None:
    assert isinstance(LocalExecutor(), Executor)
    assert isinstance(RecordingExecutor(), Executor)
    assert isinstance(NetnsExecutor("k6-x"), Executor)


def test_netns_executor_prefix_and_missing_namespace() -> None:
    ex = NetnsExecutor("kube6-test-does-not-exist")
    assert ex.host == "kube6-test-does-not-exist"
    with pytest.raises(ConnectError, match="does not exist"):
        run(ex.run(["true"]))
    with pytest.raises(ValueError, match="not a network namespace"):
        NetnsExecutor("../etc")


def test_sudo_prefix() -> None:
    ex = RecordingExecutor(default=Result(0, "", ""))
    ex.sudo = True
    run(ex.run(["id"]))
    assert ex.argvs == [("id",)]  # recorded as asked; the prefix is added below the record


def test_recording_executor_scripts_and_refuses_unscripted() -> None:
    ex = RecordingExecutor({("uname", "-r"): Result(0, "6.8.0\n", "")}, host="n1")
    assert run(ex.run(["uname", "-r"])).stdout == "6.8.0\n"
    with pytest.raises(AssertionError, match="no reply scripted"):
        run(ex.run(["ls"]))
    assert ex.argvs == [("uname", "-r"), ("ls",)]
    run(ex.put("/etc/x", "y", 0o600))
    assert ex.files["/etc/x"] == ("y", 0o600)
    assert run(ex.get("/etc/x")) == "y"
    assert run(ex.get("/etc/none")) is None


class _Probe(RecordingExecutor):
    """Counts how many hosts are inside `fn` at the same time."""

    active = 0
    peak = 0


async def _measure(ex: Executor) -> str:
    _Probe.active += 1
    _Probe.peak = max(_Probe.peak, _Probe.active)
    # Several yields so every runnable task gets a turn before this one leaves.
    for _ in range(5):
        await asyncio.sleep(0)
    _Probe.active -= 1
    if ex.host == "h3":
        raise RuntimeError("h3 broke")
    return ex.host.upper()


def test_run_on_hosts_caps_concurrency_keeps_order_and_isolates_failures() -> None:
    hosts = [_Probe(host=f"h{i}") for i in range(10)]
    _Probe.active = _Probe.peak = 0
    outcomes = run(run_on_hosts(hosts, _measure, limit=3))
    assert _Probe.peak == 3
    assert [o.host for o in outcomes] == [f"h{i}" for i in range(10)]
    assert [o.value for o in outcomes if o.ok] == [f"H{i}" for i in range(10) if i != 3]
    failed = [o for o in outcomes if not o.ok]
    assert [o.host for o in failed] == ["h3"]
    with pytest.raises(RuntimeError, match="h3 broke"):
        failed[0].unwrap()


def test_run_on_hosts_without_cap_runs_all_at_once() -> None:
    hosts = [_Probe(host=f"h{i}") for i in range(6)]
    _Probe.active = _Probe.peak = 0
    run(run_on_hosts(hosts, _measure, limit=100))
    assert _Probe.peak == 6
    with pytest.raises(ValueError, match="limit"):
        run(run_on_hosts(hosts, _measure, limit=0))


def test_timeout_kills_the_commands_children_too(tmp_path: Path) -> None:
    """`sh -c 'sleep & sleep'` leaves a grandchild holding stdout: without a process-group kill,
    the executor would wait for it long after the timeout, and it would outlive kube6."""
    marker = tmp_path / "alive"
    script = f"(sleep 2; touch {marker}) & sleep 30"

    async def go() -> float:
        start = time.monotonic()
        result = await LocalExecutor().run(Command(("sh", "-c", script), timeout=0.5), check=False)
        assert result.exit_code is None
        return time.monotonic() - start

    assert asyncio.run(go()) < 5
    time.sleep(2.5)
    assert not marker.exists(), "the background child survived the timeout"


def test_a_cancellation_that_lands_as_the_command_ends_is_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C cancels kube6's task; when it lands in the very step in which the command ends
    # (`kube6 trace`'s setup returning as the test's SIGINT arrives), Python 3.11's wait_for
    # returned the command's result and dropped the cancellation: the trace then read on for
    # its whole duration. The cancellation must reach the caller's next await.
    outer: list[asyncio.Task[Any]] = []

    class Ended:
        pid = 0
        returncode = 0

        async def communicate(self, data: bytes | None = None) -> tuple[bytes, bytes]:
            outer[0].cancel()  # the signal handler's cancel, as the command ends
            return b"done", b""

    async def spawn(*argv: str, **kwargs: Any) -> Ended:
        return Ended()

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn)

    async def caller() -> str:
        await LocalExecutor().run(Command(("true",), timeout=30))
        await asyncio.sleep(0)  # the next await: where the cancellation must arrive
        return "went on"

    async def main() -> None:
        task = asyncio.create_task(caller())
        outer.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
