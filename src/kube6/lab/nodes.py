"""Real nodes for the lab: Debian or Ubuntu hosts booted by systemd-nspawn inside the nodes'
namespaces.

    kube6 lab up --real-nodes                    # each plan node a Debian 12 host (systemd, sshd)
    kube6 lab up --real-nodes --os ubuntu-24.04  # or debian-13, ubuntu-22.04 (lab.rootfs)

A real node is what a fresh cloud server is: the release's image made by mmdebstrap (systemd,
sshd, apt, iproute2, nftables...; nothing of Kubernetes: `kube6 up` installs that;
kube6.lab.rootfs builds and caches it), booted with systemd as PID 1 by systemd-nspawn in the
lab node's network namespace, so it has the lab's address on its uplink, the provider's router
on its link and the lab's resolver. kube6 reaches
it over SSH exactly as it reaches a server: root, with the lab's key.

What a node is made of (its folders, the argv of mount and systemd-nspawn, the files written
into it, and why each is there) is pure, in kube6.lab.node_config; `start()`, `ready()` and
`teardown()` here run it. The nodes' cgroups (made, joined, found again and removed) are
kube6.lab.cgroups.

Teardown is SIGKILL to the node's PID 1: the kernel then kills every process of the node's PID
namespace at once (SIGTERM would make systemd wait up to 90 s for pods that ignore it). Then
the node's cgroups and mounts are removed. `teardown()` finds all of that from the lab id alone,
so `kube6 lab down ID` cleans a lab that another (maybe killed) process built.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kube6.errors import Kube6Error
from kube6.execute.local import LocalExecutor
from kube6.lab.cgroups import (
    cgroup_name,
    cgroup_pids,
    hierarchies,
    joined_argv,
    lab_cgroups,
    make_cgroups,
    remount_targets,
    remove_cgroup,
)
from kube6.lab.layout import NodeLink
from kube6.lab.node_config import (
    KUBELET_SYSCTLS,
    NSPAWN_ENV,
    NodeDirs,
    node_dirs,
    node_files,
    nspawn_argv,
    overlay_argv,
    remount_argv,
    uses_resolved,
)
from kube6.lab.process import alive, program, run_or_raise
from kube6.lab.rootfs import DEFAULT_OS, ROOTFS_ENV, cache_dir, node_os, rootfs_tarball

Argv = tuple[str, ...]


def default_rootfs(environ: Mapping[str, str] | None = None, os_name: str = DEFAULT_OS) -> Path:
    """The rootfs tarball real nodes boot: `$KUBE6_LAB_ROOTFS`, else the cached build of the
    release `os_name` in `cache_dir()` (kube6.lab.rootfs)."""
    env = os.environ if environ is None else environ
    chosen = env.get(ROOTFS_ENV)
    return Path(chosen) if chosen else rootfs_tarball(cache_dir(env), node_os(os_name))


class NodeError(Kube6Error):
    """A real lab node could not be built, booted or removed."""


# ---- one node ----------------------------------------------------------------------------------


@dataclass
class RealNode:
    """A booted node: nspawn's process and the node's PID 1 as the machine sees it."""

    name: str
    namespace: str
    process: subprocess.Popen[bytes]
    leader: int
    dirs: NodeDirs
    cgroups: list[Path]
    remounts: list[str]

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self, limit: int = 4000) -> str:
        try:
            return self.dirs.log.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def enter_argv(self, *argv: str) -> Argv:
        """Run `argv` inside the node (all its namespaces, its root), as `machinectl shell`
        would on a machine with systemd."""
        return ("nsenter", f"--target={self.leader}", "--all", *argv)


class NodeExecutor(LocalExecutor):
    """kube6's executor for a real node without SSH: commands run inside the node (its root,
    its namespaces), for tests that look at a node from the machine."""

    def __init__(self, leader: int, *, host: str) -> None:
        super().__init__(host)
        self.leader = leader

    def _prefix(self) -> tuple[str, ...]:
        return ("nsenter", f"--target={self.leader}", "--all")


def _run(argv: Sequence[str], *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return run_or_raise(argv, NodeError, timeout=timeout)


NODES_HINT = "install them: apt-get install systemd-container mmdebstrap (Debian/Ubuntu)"


def missing_programs() -> list[str]:
    """Programs that real nodes need and this machine lacks."""
    return [p for p in ("systemd-nspawn", "nsenter", "mount") if not program(p).startswith("/")]


def _leader(nspawn: int, timeout: float) -> int:
    """nspawn's child that is the node's PID 1 (NSpid ends with 1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _descendants(nspawn):
            if _nspid(pid)[-1:] == [1] and len(_nspid(pid)) > 1:
                return pid
        time.sleep(0.05)
    raise NodeError(f"systemd-nspawn (pid {nspawn}) started no node within {timeout:g}s")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                found += [int(c) for c in children]
                queue += [int(c) for c in children]
    return found


def _nspid(pid: int) -> list[int]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return []
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return [int(word) for word in line.split()[1:]]
    return []


def start(lab_id: str, workdir: Path, link: NodeLink, tree: Path, authorized_key: str) -> RealNode:
    """Prepare the node's root over `tree` and start systemd-nspawn in the node's cgroups.
    The caller keeps the returned node and tears down (`teardown`) whatever happens next."""
    dirs = node_dirs(workdir, link.name)
    for path in (dirs.upper, dirs.work, dirs.root, dirs.containerd, dirs.sysctl):
        path.mkdir(parents=True, exist_ok=True)
    _run(overlay_argv(tree, dirs))
    files = node_files(link, authorized_key, secrets.token_hex(16), resolved=uses_resolved(tree))
    for relative, content in files.items():
        path = dirs.root / relative
        # Only root's .ssh is private: a folder such as /etc/systemd/resolved.conf.d must stay
        # readable for the daemons that read it as their own users.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if ".ssh" in relative else 0o755)
        if path.is_symlink():
            path.unlink()
        path.write_text(content)
    # The image's host keys are the same in every node built from it: each node gets its own,
    # as a server does on its first boot.
    for old in (dirs.root / "etc" / "ssh").glob("ssh_host_*"):
        old.unlink()
    _run((program("ssh-keygen"), "-A", "-f", str(dirs.root)))
    for key, value in KUBELET_SYSCTLS.items():
        (dirs.sysctl / key).write_text(value + "\n")
    found = hierarchies()
    cgroups = [h.node_cgroup(cgroup_name(lab_id, link.name)) for h in found]
    make_cgroups(cgroups)
    argv = nspawn_argv(dirs, link, modules=Path("/lib/modules").is_dir())
    with dirs.log.open("ab") as out:
        process = subprocess.Popen(
            joined_argv(sys.executable, cgroups, (program(argv[0]), *argv[1:])),
            env={**os.environ, **NSPAWN_ENV},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    remounts = remount_targets(found)
    return RealNode(link.name, link.namespace, process, 0, dirs, cgroups, remounts)


def ready(node: RealNode, timeout: float = 120.0) -> None:
    """Wait for the node's PID 1, make its cgroups writable inside it, wait for its boot."""
    try:
        node.leader = _leader(node.process.pid, timeout=30)
    except NodeError:
        raise NodeError(f"node {node.name} did not start:\n{node.output()}") from None
    for mountpoint in node.remounts:
        _remount(node, mountpoint)
    state = wait_booted(node, timeout)
    if state not in ("running", "degraded"):
        raise NodeError(f"node {node.name} did not boot: systemd says {state!r}\n{node.output()}")


def _remount(node: RealNode, mountpoint: str, timeout: float = 20.0) -> None:
    """Make one cgroup hierarchy writable inside the node. nspawn mounts the hierarchies in the
    node's mount namespace a moment after its PID 1 exists: on a loaded machine the mount point
    may not be there yet (seen: `mount point does not exist`), so wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _run(remount_argv(node.leader, mountpoint))
            return
        except NodeError as error:
            if "does not exist" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_booted(node: RealNode, timeout: float) -> str:
    """Wait until the node's systemd has finished its boot; returns is-system-running's word."""
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        if not node.alive():
            raise NodeError(f"node {node.name} stopped while booting:\n{node.output()}")
        result = subprocess.run(
            node.enter_argv("systemctl", "is-system-running"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        state = result.stdout.strip() or "unknown"
        if state not in ("initializing", "starting", "unknown", "offline"):
            return state
        time.sleep(0.2)
    raise NodeError(f"node {node.name} was still {state!r} after {timeout:g}s:\n{node.output()}")


# ---- teardown ---------------------------------------------------------------------------------


def power_off(node: RealNode, *, timeout: float = 10.0) -> None:
    """Cut the node's power: SIGKILL to its PID 1, no shutdown, as a server that dies. nspawn
    exits by itself; the node's cgroups and mounts stay for `teardown`."""
    _kill(node.cgroups, [node.leader], f"node {node.name}", timeout)
    with contextlib.suppress(subprocess.SubprocessError):
        node.process.wait(5)  # reap nspawn, the lab's child


def node_leaders(lab_id: str) -> dict[Path, list[int]]:
    """Per node cgroup of the lab: the processes in it that are a node's PID 1."""
    return {
        path: [p for p in sorted(cgroup_pids(path)) if _nspid(p)[-1:] == [1] and len(_nspid(p)) > 1]
        for path in lab_cgroups(lab_id)
    }


def lab_mounts(workdir: Path) -> list[Path]:
    """Mount points under `workdir` in this mount namespace, deepest first."""
    prefix = str(workdir).rstrip("/") + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        if target.startswith(prefix):
            found.append(Path(target))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def teardown(lab_id: str, workdir: Path, *, timeout: float = 10.0) -> None:
    """Remove every real node of lab `lab_id`: SIGKILL each node's PID 1, then whatever is left
    in its cgroups (nspawn itself), remove the cgroups, unmount its folders. Idempotent."""
    cgroups = lab_cgroups(lab_id)
    leaders = [pid for pids in node_leaders(lab_id).values() for pid in pids]
    _kill(cgroups, leaders, f"lab {lab_id}'s nodes", timeout)
    for path in cgroups:
        remove_cgroup(path)
    for mountpoint in lab_mounts(workdir):
        done = subprocess.run(["umount", str(mountpoint)], capture_output=True, check=False)
        if done.returncode != 0:
            # Busy (a shell of the user's in it): detach now, the kernel frees it later.
            subprocess.run(["umount", "--lazy", str(mountpoint)], capture_output=True, check=False)


def _kill(cgroups: Sequence[Path], leaders: Sequence[int], what: str, timeout: float) -> None:
    """SIGKILL the nodes' PID 1s (`leaders`), then whatever is left in `cgroups`: nspawn exits
    by itself once its node is gone, but a node that never got a PID 1 (a failure halfway
    through boot) leaves nspawn to be killed too."""
    for pid in leaders:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in _wait_empty(cgroups, 3.0):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    left = _wait_empty(cgroups, timeout)
    if left:
        raise NodeError(
            f"processes {sorted(left)} of {what} survived SIGKILL",
            fix=f"look at them: `ps -o pid,stat,cmd -p {','.join(map(str, sorted(left)))}`",
        )


def _wait_empty(cgroups: Sequence[Path], timeout: float) -> set[int]:
    """Wait until no live process is left in `cgroups`; returns those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid for path in cgroups for pid in cgroup_pids(path) if alive(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)
