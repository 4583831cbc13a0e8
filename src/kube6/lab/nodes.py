"""Real nodes for the lab: Debian hosts booted by systemd-nspawn inside the nodes' namespaces.

    kube6 lab up --real-nodes        # each plan node is a Debian 12 host with systemd and sshd

A real node is what a fresh cloud server is: a Debian rootfs made by mmdebstrap (systemd, sshd,
apt, iproute2, nftables...; nothing of Kubernetes: `kube6 up` installs that), booted with
systemd as PID 1 by systemd-nspawn in the lab node's network namespace, so it has the lab's
address on its uplink, the provider's router on its link and the lab's resolver. kube6 reaches
it over SSH exactly as it reaches a server: root, with the lab's key.

The top of this module is pure (package list, cache paths, the argv of mmdebstrap, mount and
systemd-nspawn, the files written into a node); `boot()` and `teardown()` run them.

Longer than 400 lines: building, booting and tearing down a node share their paths and argv
lists, and each step says why it is there (the list below).

What a node gets, and why:
- its own writable copy: an overlay whose lower layer is the cached rootfs (shared, read-only)
  and whose upper layer is in the lab's work directory;
- /var/lib/containerd on a bind mount of a plain directory (containerd's overlay snapshotter
  cannot put an overlay on the node's overlay root);
- its own cgroups in every hierarchy, created here (the machine runs no systemd that could hand
  out a scope), and remounted read-write inside the node only, for systemd, kubelet and runc;
- /proc/sys read-only except /proc/sys/net, which is per network namespace. kubelet and
  systemd-sysctl would otherwise set vm.overcommit_memory, kernel.panic... for the whole
  machine: read-only files with the values kubelet expects are bound over those entries, so
  kubelet finds them set and writes nothing;
- SYSTEMD_SECCOMP=0: nspawn's seccomp filter makes the node's systemd fail with "unable to join
  session keyring" in this kind of sandbox;
- /dev/kmsg read-only (kubelet's OOM watcher reads it), /lib/modules read-only when the machine
  has it (nodes share the machine's kernel); an empty /sys/fs/bpf of its own (calico-node's
  hostPath);
- CAP_NET_ADMIN, CAP_SYSLOG and CAP_IPC_LOCK besides nspawn's default capabilities (see
  CAPABILITIES).

Teardown is SIGKILL to the node's PID 1: the kernel then kills every process of the node's PID
namespace at once (SIGTERM would make systemd wait up to 90 s for pods that ignore it). Then
the node's cgroups and mounts are removed. `teardown()` finds all of that from the lab id alone,
so `kube6 lab down ID` cleans a lab that another (maybe killed) process built.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kube6.errors import Kube6Error
from kube6.execute.local import LocalExecutor
from kube6.lab.layout import RESOLVER, NodeLink

Argv = tuple[str, ...]

# ---- the rootfs ------------------------------------------------------------------------------

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
SOURCES = (
    f"deb {MIRROR} {SUITE} main",
    f"deb {MIRROR} {SUITE}-updates main",
    f"deb {SECURITY} {SUITE}-security main",
)
"""The apt sources of a fresh Debian 12 server; they stay in the node's /etc/apt."""
PACKAGES = (
    "apt",
    "ca-certificates",
    "curl",
    "dbus",
    "gnupg",
    "iproute2",
    "iptables",
    "iputils-ping",
    "kmod",
    "less",
    "libpam-systemd",
    "netbase",
    "nftables",
    "openssh-server",
    "procps",
    # Cloud images carry python3 (cloud-init is Python); `kube6 check` runs its uplink
    # listener with it (kube6.facts.link), and tells on-link from routed by what it hears.
    "python3-minimal",
    "sudo",
    "systemd",
    "systemd-sysv",
)
"""On top of Debian's minbase: what a provider's Debian 12 image has. Nothing of Kubernetes."""

CACHE_ENV = "KUBE6_E2E_CACHE"
ROOTFS_ENV = "KUBE6_LAB_ROOTFS"
"""A rootfs tarball to boot instead of the cached one built from PACKAGES."""


class NodeError(Kube6Error):
    """A real lab node could not be built, booted or removed."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$KUBE6_E2E_CACHE`, default ~/.cache/kube6-e2e: the e2e artifact cache (rootfs/ in it)."""
    env = os.environ if environ is None else environ
    value = env.get(CACHE_ENV)
    return Path(value) if value else Path.home() / ".cache" / "kube6-e2e"


def rootfs_key(
    suite: str = SUITE, packages: Sequence[str] = PACKAGES, sources: Sequence[str] = SOURCES
) -> str:
    """12 hex digits naming a rootfs by what went into it: a new package list, a new tarball."""
    text = json.dumps({"suite": suite, "packages": sorted(packages), "sources": list(sources)})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rootfs_tarball(cache: Path, key: str | None = None) -> Path:
    """Where the rootfs built from PACKAGES is cached: <cache>/rootfs/debian-12-<key>.tar."""
    return cache / "rootfs" / f"debian-12-{key or rootfs_key()}.tar"


def default_rootfs(environ: Mapping[str, str] | None = None) -> Path:
    """The rootfs tarball real nodes boot: `$KUBE6_LAB_ROOTFS`, else the cached build of
    PACKAGES in `cache_dir()`."""
    env = os.environ if environ is None else environ
    chosen = env.get(ROOTFS_ENV)
    return Path(chosen) if chosen else rootfs_tarball(cache_dir(env))


def mmdebstrap_argv(output: Path, packages: Sequence[str] = PACKAGES) -> Argv:
    """mmdebstrap: Debian's minbase plus `packages`, as a tarball (root mode, no network of
    its own needed besides the mirror)."""
    return (
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(sorted(packages)),
        "--format=tar",
        SUITE,
        str(output),
        *SOURCES,
    )


def extract_argv(tarball: Path, target: Path) -> Argv:
    """GNU tar keeping owners, modes, device nodes and the file capabilities (ping's) as
    mmdebstrap stored them."""
    return (
        "tar",
        "--extract",
        "--numeric-owner",
        "--preserve-permissions",
        "--xattrs",
        "--xattrs-include=*",
        f"--file={tarball}",
        f"--directory={target}",
    )


def tree_of(tarball: Path) -> Path:
    """The extracted rootfs that nodes use as their lower layer: next to the tarball, named by
    the tarball's name, size and modification time (a rebuilt tarball gets a new tree)."""
    stat = tarball.stat()
    stamp = hashlib.sha256(f"{tarball.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return tarball.parent / f"{tarball.name.removesuffix('.tar')}.tree-{stamp.hexdigest()[:8]}"


# ---- one node: pure ---------------------------------------------------------------------------

KUBELET_SYSCTLS = {
    "vm.overcommit_memory": "1",
    "vm.panic_on_oom": "0",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "kernel.keys.root_maxkeys": "1000000",
    "kernel.keys.root_maxbytes": "25000000",
}
"""What kubelet sets at start unless it finds these values (its setupKernelTunables); each is
machine-wide, so a node sees a read-only file holding the value instead of the real entry."""

SYSCTL_DIR = "/var/lib/kube6-lab/sysctl"
"""Where the value files appear inside the node. nspawn binds sources onto /proc after it has
entered the node's root, so the files are first bound here, then from here over /proc/sys."""

CGROUP_PREFIX = "kube6-lab-"
CGROUP_ROOT = Path("/sys/fs/cgroup")

CAPABILITIES = ("CAP_NET_ADMIN", "CAP_SYSLOG", "CAP_IPC_LOCK")
"""Added to nspawn's default set, which a server's root has and a node needs: NET_ADMIN for
routes, nftables, ndppd and Calico in the node's own namespace (nspawn grants it only with a
network namespace of its own making); SYSLOG to open /dev/kmsg (kubelet's OOM watcher; the
machine has kernel.dmesg_restrict=1); IPC_LOCK for programs that lock memory (etcd, some
pods). Machine-wide ones stay out: SYS_MODULE, SYS_TIME, SYS_RAWIO, SYS_RESOURCE."""

NSPAWN_ENV = {
    "SYSTEMD_SECCOMP": "0",
    # Only /proc/sys/net writable in the node: it is per network namespace.
    "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network",
}


@dataclass(frozen=True)
class NodeDirs:
    """A node's folders in the lab's work directory."""

    base: Path
    upper: Path
    work: Path
    root: Path
    containerd: Path
    sysctl: Path
    log: Path


def node_dirs(workdir: Path, node: str) -> NodeDirs:
    base = workdir / "nodes" / node
    return NodeDirs(
        base=base,
        upper=base / "upper",
        work=base / "work",
        root=base / "root",
        containerd=base / "containerd",
        sysctl=base / "sysctl",
        log=base / "nspawn.log",
    )


def cgroup_name(lab_id: str, node: str) -> str:
    """The node's cgroup in every hierarchy: kube6-lab-<id>-<node>."""
    return f"{CGROUP_PREFIX}{lab_id}-{node}"


def overlay_argv(lower: Path, dirs: NodeDirs) -> Argv:
    options = f"lowerdir={lower},upperdir={dirs.upper},workdir={dirs.work}"
    return ("mount", "-t", "overlay", "overlay", "-o", options, str(dirs.root))


def nspawn_argv(
    dirs: NodeDirs,
    link: NodeLink,
    *,
    sysctls: Mapping[str, str] = KUBELET_SYSCTLS,
    modules: bool = False,
) -> Argv:
    """systemd-nspawn booting the node's root with systemd in the lab node's namespace."""
    binds = [
        f"--bind={dirs.containerd}:/var/lib/containerd",
        f"--bind-ro={dirs.sysctl}:{SYSCTL_DIR}",
        *(f"--bind-ro={SYSCTL_DIR}/{key}:/proc/sys/{key.replace('.', '/')}" for key in sysctls),
        "--bind-ro=/dev/kmsg",
        # calico-node mounts /sys/fs/bpf as a hostPath of type Directory (for its BPF
        # programs and, with the nftables dataplane, its init container's bpffs mount); nspawn's
        # /sys has no such folder. An empty one of the node's own, never the machine's.
        "--tmpfs=/sys/fs/bpf",
    ]
    if modules:
        binds.append("--bind-ro=/lib/modules")
    return (
        "systemd-nspawn",
        "--quiet",
        "--boot",
        f"--directory={dirs.root}",
        f"--machine={link.namespace}",
        f"--hostname={link.name}",
        # No systemd on the machine to register with: the lab made the cgroups itself.
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path=/run/netns/{link.namespace}",
        f"--capability={','.join(CAPABILITIES)}",
        *binds,
        # The node keeps the files the lab wrote (resolv.conf to the lab's resolver).
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=pipe",
    )


def remount_argv(pid: int, mountpoint: str) -> Argv:
    """Make one cgroup hierarchy writable in the node's own mount namespace: nspawn mounts the
    v1 controllers read-only, and kubelet, runc and the node's systemd create cgroups there.
    The node's cgroup namespace shows only its own subtree, and the host's mounts stay as
    they are."""
    return (
        "nsenter",
        f"--target={pid}",
        "--mount",
        "mount",
        "-o",
        "remount,bind,rw,nosuid,nodev,noexec",
        mountpoint,
    )


def node_files(link: NodeLink, authorized_key: str, machine_id: str) -> dict[str, str]:
    """Files written into a node's root (relative path -> content), as a provider's image
    configures a new server: hostname, hosts, resolver, the operator's key."""
    return {
        "etc/hostname": f"{link.name}\n",
        "etc/hosts": (
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{link.address}\t{link.name}\n"
        ),
        "etc/machine-id": f"{machine_id}\n",
        "etc/resolv.conf": f"nameserver {RESOLVER}\noptions timeout:1 attempts:2\n",
        "root/.ssh/authorized_keys": authorized_key.strip() + "\n",
    }


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


# ---- one node: running it ---------------------------------------------------------------------


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
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise NodeError(
            f"command failed (exit {result.returncode}): {' '.join(argv)}\n"
            f"{(result.stdout + result.stderr).strip()}"
        )
    return result


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def missing_programs() -> list[str]:
    """Programs that real nodes need and this machine lacks."""
    from kube6.lab.core import program

    return [p for p in ("systemd-nspawn", "nsenter", "mount") if not program(p).startswith("/")]


NODES_HINT = "install them: apt-get install systemd-container mmdebstrap (Debian/Ubuntu)"


def build_rootfs(tarball: Path) -> Path:
    """Build the rootfs tarball with mmdebstrap (about a minute with a near mirror); returns it.
    Takes the cache's lock; another process's finished build is reused."""
    from kube6.lab.core import program

    with _locked(tarball.parent / ".rootfs.lock"):
        if tarball.exists():
            return tarball
        if not program("mmdebstrap").startswith("/"):
            raise NodeError("building the nodes' rootfs needs mmdebstrap", fix=NODES_HINT)
        partial = tarball.with_name(f".{tarball.name}.{os.getpid()}.partial")
        try:
            _run((program("mmdebstrap"), *mmdebstrap_argv(partial)[1:]), timeout=1800)
            partial.rename(tarball)
        finally:
            partial.unlink(missing_ok=True)
    return tarball


def rootfs_tree(tarball: Path) -> Path:
    """The extracted tree of `tarball` (extracted once, under the cache's lock)."""
    if not tarball.is_file():
        raise NodeError(
            f"no rootfs tarball at {tarball}",
            fix="build it: `bash tests/e2e/build-rootfs.sh`, or `sudo kube6 lab up --real-nodes` "
            f"(builds it when {ROOTFS_ENV} is unset)",
        )
    tree = tree_of(tarball)
    with _locked(tarball.parent / ".rootfs.lock"):
        if (tree / ".complete").exists():
            return tree
        partial = tree.with_name(tree.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            _run(extract_argv(tarball, partial), timeout=600)
            (partial / ".complete").write_text(f"{tarball}\n")
            partial.rename(tree)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return tree


def _hierarchies() -> list[Hierarchy]:
    return cgroup_hierarchies(
        Path("/proc/self/cgroup").read_text(), Path("/proc/self/mounts").read_text()
    )


def _make_cgroups(paths: Sequence[Path]) -> None:
    for path in paths:
        path.mkdir(exist_ok=True)
        if (path.parent / "cpuset.cpus").exists():
            # A new v1 cpuset is empty, and no process may join it until it has cpus and mems.
            for key in ("cpuset.cpus", "cpuset.mems"):
                (path / key).write_text((path.parent / key).read_text())


def _join_cgroups(paths: Sequence[Path]) -> None:
    pid = str(os.getpid())
    for path in paths:
        (path / "cgroup.procs").write_text(pid)


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
    from kube6.lab.core import program

    dirs = node_dirs(workdir, link.name)
    for path in (dirs.upper, dirs.work, dirs.root, dirs.containerd, dirs.sysctl):
        path.mkdir(parents=True, exist_ok=True)
    _run(overlay_argv(tree, dirs))
    for relative, content in node_files(link, authorized_key, secrets.token_hex(16)).items():
        path = dirs.root / relative
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
    hierarchies = _hierarchies()
    cgroups = [h.node_cgroup(cgroup_name(lab_id, link.name)) for h in hierarchies]
    _make_cgroups(cgroups)
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
    remounts = remount_targets(hierarchies)
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


def joined_argv(python: str, cgroups: Sequence[Path], argv: Sequence[str]) -> Argv:
    """`argv` started by a small step of this module that first joins `cgroups` (so nspawn and
    the node are in them from their first instruction), then execs."""
    return (
        python,
        "-m",
        "kube6.lab.nodes",
        *(f"--cgroup={path}" for path in cgroups),
        "--",
        *argv,
    )


def _exec_in_cgroups(args: Sequence[str]) -> None:
    """`python -m kube6.lab.nodes --cgroup=DIR... -- ARGV...`: join, then exec ARGV."""
    split = list(args).index("--")
    paths = [Path(a.removeprefix("--cgroup=")) for a in args[:split]]
    _join_cgroups(paths)
    os.execv(args[split + 1], list(args[split + 1 :]))  # noqa: S606 - an argv, as everywhere


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
    for pids in node_leaders(lab_id).values():
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # nspawn exits by itself once its node is gone; a node that never got a PID 1 (a failure
    # halfway through boot) leaves nspawn to be killed too.
    left = _wait_empty(cgroups, 3.0)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    left = _wait_empty(cgroups, timeout)
    if left:
        raise NodeError(
            f"processes {sorted(left)} of lab {lab_id}'s nodes survived SIGKILL",
            fix=f"look at them: `ps -o pid,stat,cmd -p {','.join(map(str, sorted(left)))}`",
        )
    for path in cgroups:
        _remove_cgroup(path)
    for mountpoint in lab_mounts(workdir):
        done = subprocess.run(["umount", str(mountpoint)], capture_output=True, check=False)
        if done.returncode != 0:
            # Busy (a shell of the user's in it): detach now, the kernel frees it later.
            subprocess.run(["umount", "--lazy", str(mountpoint)], capture_output=True, check=False)


def _wait_empty(cgroups: Sequence[Path], timeout: float) -> set[int]:
    """Wait until no live process is left in `cgroups`; returns those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid for path in cgroups for pid in cgroup_pids(path) if _alive(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _remove_cgroup(path: Path) -> None:
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


if __name__ == "__main__":
    _exec_in_cgroups(sys.argv[1:])


def memory_use(lab_id: str, node: str) -> dict[str, int] | None:
    """What a real node uses now, from its memory cgroup: `usage` (everything charged to it,
    page cache of its images included) and `rss` (anonymous memory: the processes themselves).
    None where the machine mounts no memory controller. Call it from the process that started
    the node: the node's cgroups sit under that process's own."""
    name = cgroup_name(lab_id, node)
    for hierarchy in _hierarchies():
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
