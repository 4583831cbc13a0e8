"""Helpers shared by the benchmarks: statistics, the machine, packages, extra lab namespaces.

Benchmarks are scripts (`uv run python bench/<name>.py`), not tests: they print figures and
ratios measured side by side in one run. Everything that needs root runs inside network
namespaces that the benchmark creates, named like the lab's (`k6-<id>-<role>`, with the id of
the lab they sit next to) so that, if a benchmark is killed before its own cleanup,
`kube6 lab status` lists them under that id and `kube6 lab down <id>` removes them with the lab.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from kube6.lab.commands import confined
from kube6.lab.layout import namespace_name
from kube6.lab.machine import teardown_namespaces
from kube6.lab.process import program


@dataclass(frozen=True)
class Stats:
    """Median and spread (min-max) of one measured quantity over several rounds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def ratio(self, base: Stats) -> float:
        """This median as a multiple of `base`'s median."""
        return self.median / base.median if base.median else float("nan")

    def paired(self, base: Stats) -> Stats:
        """Round-by-round ratios to `base` (measured in the same rounds): drift cancels out."""
        if len(self.samples) != len(base.samples):
            raise ValueError("paired ratios need the same rounds")
        return Stats(tuple(a / b for a, b in zip(self.samples, base.samples, strict=True)))

    def show(self, digits: int = 2, scale: float = 1.0) -> str:
        """`median (low-high)`, each multiplied by `scale`."""
        m, lo, hi = (v * scale for v in (self.median, self.low, self.high))
        return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def stats(samples: Sequence[float]) -> Stats:
    if not samples:
        raise ValueError("no samples: the benchmark measured nothing")
    return Stats(tuple(samples))


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    below = int(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def machine() -> str:
    """One line naming this machine: CPUs, CPU model, kernel."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    python = sys.version.split()[0]
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {python}"


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        sys.exit(f"{what} needs root (it builds network namespaces); run it with sudo")


def ensure_programs(packages: Mapping[str, str]) -> None:
    """Install the Debian package of every program (name -> package) that is missing."""
    missing = sorted({pkg for prog, pkg in packages.items() if not program(prog).startswith("/")})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"missing {', '.join(missing)} and no apt-get to install them: install them")
    print(f"installing {' '.join(missing)} (apt-get)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(argv, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(argv, env=env, check=True)


def run(
    argv: Sequence[str], namespaces: Sequence[str], *, check: bool = True, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run `argv` only if it is confined to `namespaces` (`ip netns exec NS`, `ip -n NS`)."""
    if not confined(argv, namespaces):
        raise RuntimeError(f"refusing to run {list(argv)}: not confined to {list(namespaces)}")
    words = [program(argv[0]), *argv[1:]]
    if words[1:3] == ["netns", "exec"] and len(words) > 4:
        words[4] = program(words[4])
    result = subprocess.run(words, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"failed (exit {result.returncode}): {' '.join(argv)}\n"
            f"{(result.stdout + result.stderr).strip()}"
        )
    return result


@dataclass
class Namespaces:
    """Namespaces of a benchmark's own, next to a lab's (same id); all removed by `close()`."""

    lab_id: str
    names: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, role: str) -> str:
        name = namespace_name(self.lab_id, role)
        self.names.append(name)
        run(("ip", "netns", "add", name), self.names)
        # No DAD: the addresses are unique and DAD would delay every run by a second.
        self.exec(name, ("sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0"))
        self.exec(name, ("sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0"))
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run(("ip", "-n", namespace, *args), self.names)

    def exec(
        self, namespace: str, argv: Sequence[str], *, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        argv = ("ip", "netns", "exec", namespace, *argv)
        return run(argv, self.names, check=check, timeout=timeout)

    def start(self, namespace: str, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """A daemon in `namespace`, killed by `close()`."""
        full = ("ip", "netns", "exec", namespace, *argv)
        if not confined(full, self.names):
            raise RuntimeError(f"refusing to start {list(argv)} outside {self.names}")
        with log.open("ab") as out:
            process = subprocess.Popen(
                [program("ip"), *full[1:4], program(argv[0]), *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(3)
            if process.poll() is None:
                process.kill()
                process.wait(3)
        self.processes.clear()
        teardown_namespaces(self.names)
        self.names.clear()


def wait_for(test: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `test()` until it is true; exit with `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not test():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
