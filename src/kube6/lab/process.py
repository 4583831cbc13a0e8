"""Running things for the lab: its programs, daemons it started, code inside a namespace.

Every program runs by its absolute path (also from the sbin directories a user's PATH may
lack); `Daemon` is a process the lab started in one of its namespaces, in a session of its own;
`in_namespace` runs Python code (an SSH client, kube6 itself) from inside a lab namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from kube6.errors import Kube6Error
from kube6.lab.layout import lab_id_of

T = TypeVar("T")

REQUIRED_PROGRAMS = (
    "ip",
    "sysctl",
    "ss",
    "ping",
    "nc",
    "dig",
    "ndppd",
    "tayga",
    "unbound",
    "sshd",
    "ssh-keygen",
)
INSTALL_HINT = "run `tests/lab/install-packages.sh` as root (Debian/Ubuntu packages)"


class LabError(Kube6Error):
    """The lab could not be built or a lab command failed."""


def program(name: str) -> str:
    """The absolute path of `name`, also in the sbin directories that a user's PATH may lack."""
    if name.startswith("/"):
        return name
    return shutil.which(name) or shutil.which(name, path=SBIN) or name


SBIN = "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"


def missing_programs() -> list[str]:
    """Programs the lab runs that are not installed."""
    return [p for p in REQUIRED_PROGRAMS if not program(p).startswith("/")]


def require_root() -> None:
    """Raise a LabError that says how to run the lab unless this process is root."""
    if os.geteuid() != 0:
        raise LabError(
            "the lab creates network namespaces and runs daemons in them, which needs root",
            fix="run it as root (e.g. `sudo kube6 lab up`), on a machine you may experiment on",
        )


@dataclass
class Daemon:
    """A daemon the lab started inside one of its namespaces."""

    name: str
    namespace: str
    argv: tuple[str, ...]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self, limit: int = 4000) -> str:
        """The end of the daemon's stdout and stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def stop(self, timeout: float = 3.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def wait_for(ready: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


CLONE_NEWNET = 0x40000000


def in_namespace(namespace: str, fn: Callable[[], T]) -> T:
    """Call `fn()` in a thread that has entered `namespace`, and return its result.

    Only that thread changes namespace (setns(2) with CLONE_NEWNET acts per thread), so the
    sockets that `fn` opens, e.g. an SSH client's, live inside the lab; the rest of the process
    stays where it was. The thread ends with `fn`.
    """
    import ctypes
    import threading

    if lab_id_of(namespace) is None:
        raise LabError(f"{namespace!r} is not a lab namespace (k6-<id>-<role>)")
    outcome: dict[str, Any] = {}

    def target() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                outcome["error"] = LabError(f"setns into {namespace}: {os.strerror(errno)}")
                return
        finally:
            os.close(fd)
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def absolute(argv: Sequence[str]) -> list[str]:
    """`ip netns exec NS prog ...` and `ip ...` with absolute program paths."""
    words = [program(argv[0]), *argv[1:]]
    if len(words) > 4 and words[1:3] == ["netns", "exec"]:
        words[4] = program(words[4])
    return words


def keygen(path: Path) -> None:
    subprocess.run(
        [
            program("ssh-keygen"),
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "kube6-lab",
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
    )


def run_or_raise(
    argv: Sequence[str], error: type[Kube6Error], *, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `argv` (in `cwd`); raise `error` with the command and its output when it exits
    non-zero."""
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )
    if result.returncode != 0:
        raise error(
            f"command failed (exit {result.returncode}): {' '.join(argv)}\n"
            f"{(result.stdout + result.stderr).strip()}"
        )
    return result


def alive(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie has: its parent, maybe us,
    reaps it later)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
