"""What a real lab node is made of: its folders, the files written into it, the argv of mount
and systemd-nspawn (pure; `kube6.lab.nodes` runs them).

What a node gets, and why:
- its own writable copy: an overlay whose lower layer is the cached rootfs (shared, read-only)
  and whose upper layer is in the lab's work directory;
- /var/lib/containerd on a bind mount of a plain directory (containerd's overlay snapshotter
  cannot put an overlay on the node's overlay root);
- its own cgroups in every hierarchy, created by the lab (kube6.lab.cgroups: the machine runs
  no systemd that could hand out a scope), and remounted read-write inside the node only, for
  systemd, kubelet and runc;
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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kube6.lab.layout import RESOLVER, NodeLink

Argv = tuple[str, ...]


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


RESOLVED_DROPIN = "etc/systemd/resolved.conf.d/kube6-lab.conf"
"""Where a node with systemd-resolved learns the lab's resolver (a server learns it from DHCP
or netplan); its /etc/resolv.conf stays the image's link to resolved's stub."""


def node_files(
    link: NodeLink, authorized_key: str, machine_id: str, *, resolved: bool = False
) -> dict[str, str]:
    """Files written into a node's root (relative path -> content), as a provider's image
    configures a new server: hostname, hosts, resolver, the operator's key. `resolved`: the
    image resolves through systemd-resolved (Ubuntu's), which is then told the resolver."""
    if resolved:
        resolver = {RESOLVED_DROPIN: f"[Resolve]\nDNS={RESOLVER}\n"}
    else:
        resolver = {"etc/resolv.conf": f"nameserver {RESOLVER}\noptions timeout:1 attempts:2\n"}
    return {
        "etc/hostname": f"{link.name}\n",
        "etc/hosts": (
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{link.address}\t{link.name}\n"
        ),
        "etc/machine-id": f"{machine_id}\n",
        **resolver,
        "root/.ssh/authorized_keys": authorized_key.strip() + "\n",
    }


def uses_resolved(tree: Path) -> bool:
    """Whether the image at `tree` resolves through systemd-resolved's stub: its
    /etc/resolv.conf is the link that systemd-resolved's package makes."""
    conf = tree / "etc" / "resolv.conf"
    return conf.is_symlink() and os.readlink(conf).endswith("/resolve/stub-resolv.conf")
