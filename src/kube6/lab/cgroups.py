"""The real nodes' cgroups: one per node in every mounted hierarchy, made, joined and removed
by the lab (the machine runs no systemd that could hand out a scope).

A node's cgroup is `kube6-lab-<id>-<node>` under the launching process's own in each hierarchy,
so the sandbox's limits still apply to it. nspawn and the node are in it from their first
instruction (`joined_argv`: a small step of this module joins, then execs nspawn); teardown
finds a lab's cgroups from the hierarchies' roots by the lab id alone (`lab_cgroups`), also
those of a lab another process built, and removes them with the cgroups the node's systemd and
kubelet made inside.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Argv = tuple[str, ...]

CGROUP_PREFIX = "kube6-lab-"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_name(lab_id: str, node: str) -> str:
    """The node's cgroup in every hierarchy: kube6-lab-<id>-<node>."""
    return f"{CGROUP_PREFIX}{lab_id}-{node}"


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy and this process's cgroup in it."""

    names: str
    """As /proc/self/cgroup names it: "memory", "name=systemd", "" for v2."""
    mountpoint: Path
    cgroup: str

    @property
    def controller(self) -> bool:
        """A v1 hierarchy with resource controllers (nspawn mounts those read-only)."""
        return bool(self.names) and not self.names.startswith("name=")

    def node_cgroup(self, name: str) -> Path:
        """The node's cgroup: under the launcher's own, so the sandbox's limits still apply."""
        return self.mountpoint / self.cgroup.lstrip("/") / name


def cgroup_hierarchies(proc_cgroup: str, mounts: str) -> list[Hierarchy]:
    """Every mounted hierarchy with this process's cgroup in it, from /proc/self/cgroup and
    /proc/self/mounts."""
    v1: list[tuple[set[str], Path]] = []
    v2: Path | None = None
    for line in mounts.splitlines():
        words = line.split()
        if len(words) < 4 or not words[1].startswith(str(CGROUP_ROOT)):
            continue
        if words[2] == "cgroup2":
            v2 = Path(words[1])
        elif words[2] == "cgroup":
            v1.append((set(words[3].split(",")), Path(words[1])))
    found: list[Hierarchy] = []
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        names = {n for n in parts[1].split(",") if n}
        mountpoint = next((m for options, m in v1 if names <= options), None) if names else v2
        if mountpoint is not None:
            found.append(Hierarchy(parts[1], mountpoint, parts[2]))
    return found


def remount_targets(hierarchies: Sequence[Hierarchy]) -> list[str]:
    """The node's read-only cgroup mounts to make writable (nspawn names them as the host)."""
    return [f"/sys/fs/cgroup/{h.mountpoint.name}" for h in hierarchies if h.controller]


def hierarchies() -> list[Hierarchy]:
    return cgroup_hierarchies(
        Path("/proc/self/cgroup").read_text(), Path("/proc/self/mounts").read_text()
    )


def make_cgroups(paths: Sequence[Path]) -> None:
    for path in paths:
        path.mkdir(exist_ok=True)
        if (path.parent / "cpuset.cpus").exists():
            # A new v1 cpuset is empty, and no process may join it until it has cpus and mems.
            for key in ("cpuset.cpus", "cpuset.mems"):
                (path / key).write_text((path.parent / key).read_text())


def join_cgroups(paths: Sequence[Path]) -> None:
    pid = str(os.getpid())
    for path in paths:
        (path / "cgroup.procs").write_text(pid)


def joined_argv(python: str, cgroups: Sequence[Path], argv: Sequence[str]) -> Argv:
    """`argv` started by a small step of this module that first joins `cgroups` (so nspawn and
    the node are in them from their first instruction), then execs."""
    return (
        python,
        "-m",
        "kube6.lab.cgroups",
        *(f"--cgroup={path}" for path in cgroups),
        "--",
        *argv,
    )


def _exec_in_cgroups(args: Sequence[str]) -> None:
    """`python -m kube6.lab.cgroups --cgroup=DIR... -- ARGV...`: join, then exec ARGV."""
    split = list(args).index("--")
    paths = [Path(a.removeprefix("--cgroup=")) for a in args[:split]]
    join_cgroups(paths)
    os.execv(args[split + 1], list(args[split + 1 :]))  # noqa: S606 - an argv, as everywhere


SEARCH_DEPTH = 4


def lab_cgroups(lab_id: str) -> list[Path]:
    """Every node cgroup of lab `lab_id` in every hierarchy, found from the hierarchies' roots
    (a lab built by another process has them under that process's cgroup)."""
    prefix = f"{CGROUP_PREFIX}{lab_id}-"
    found: list[Path] = []
    for mountpoint in {m for _, m in _mount_roots()}:
        with contextlib.suppress(OSError):
            for dirpath, dirnames, _ in os.walk(mountpoint):
                if len(Path(dirpath).relative_to(mountpoint).parts) >= SEARCH_DEPTH:
                    dirnames.clear()  # node cgroups sit under a launcher's, never deep
                for name in list(dirnames):
                    if name.startswith(prefix):
                        found.append(Path(dirpath) / name)
                        dirnames.remove(name)  # not into the node's own tree
                    elif name.startswith(CGROUP_PREFIX):
                        dirnames.remove(name)  # another lab's node
    return found


def _mount_roots() -> list[tuple[str, Path]]:
    roots: list[tuple[str, Path]] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        words = line.split()
        if len(words) > 2 and words[2] in ("cgroup", "cgroup2"):
            roots.append((words[2], Path(words[1])))
    return roots


def cgroup_pids(path: Path) -> set[int]:
    """Every process in the cgroup `path` and below it."""
    pids: set[int] = set()
    for dirpath, _, filenames in os.walk(path):
        if "cgroup.procs" in filenames:
            with contextlib.suppress(OSError):
                text = (Path(dirpath) / "cgroup.procs").read_text()
                pids |= {int(word) for word in text.split()}
    return pids


def remove_cgroup(path: Path) -> None:
    """rmdir a cgroup and the cgroups that the node's systemd and kubelet made in it."""
    for dirpath, _, _ in sorted(os.walk(path), key=lambda w: len(w[0]), reverse=True):
        for _attempt in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)  # the last exiting task is being released


def memory_use(lab_id: str, node: str) -> dict[str, int] | None:
    """What a real node uses now, from its memory cgroup: `usage` (everything charged to it,
    page cache of its images included) and `rss` (anonymous memory: the processes themselves).
    None where the machine mounts no memory controller. Call it from the process that started
    the node: the node's cgroups sit under that process's own."""
    name = cgroup_name(lab_id, node)
    for hierarchy in hierarchies():
        path = hierarchy.node_cgroup(name)
        if "memory" in hierarchy.names.split(","):
            stat = _read_stat(path / "memory.stat")
            usage = int((path / "memory.usage_in_bytes").read_text())
            return {"usage": usage, "rss": stat.get("total_rss", stat.get("rss", 0))}
        if hierarchy.names == "" and (path / "memory.current").exists():
            stat = _read_stat(path / "memory.stat")
            return {"usage": int((path / "memory.current").read_text()), "rss": stat.get("anon", 0)}
    return None


def _read_stat(path: Path) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


if __name__ == "__main__":
    _exec_in_cgroups(sys.argv[1:])
