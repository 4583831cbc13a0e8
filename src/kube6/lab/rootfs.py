"""The real nodes' rootfs: a Debian 12 server's image, built once and cached outside the repo.

mmdebstrap makes it from Debian's minbase plus PACKAGES (what a provider's Debian image has;
nothing of Kubernetes: `kube6 up` installs that) into a tarball named by what went into it,
in the e2e artifact cache (`$KUBE6_E2E_CACHE/rootfs`). Nodes boot from its extracted tree
(`rootfs_tree`), extracted once and shared read-only as the lower layer of every node's
overlay (`kube6.lab.nodes`). Building and extracting take the cache's lock, so parallel labs
reuse one build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from kube6.errors import Kube6Error
from kube6.lab.process import program, run_or_raise

Argv = tuple[str, ...]

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


class RootfsError(Kube6Error):
    """The nodes' rootfs could not be found, built or extracted."""


MMDEBSTRAP_HINT = "install it: apt-get install mmdebstrap (Debian/Ubuntu)"


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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(argv: Sequence[str], *, timeout: float) -> None:
    run_or_raise(argv, RootfsError, timeout=timeout)


def build_rootfs(tarball: Path) -> Path:
    """Build the rootfs tarball with mmdebstrap (about a minute with a near mirror); returns it.
    Takes the cache's lock; another process's finished build is reused."""
    with _locked(tarball.parent / ".rootfs.lock"):
        if tarball.exists():
            return tarball
        if not program("mmdebstrap").startswith("/"):
            raise RootfsError("building the nodes' rootfs needs mmdebstrap", fix=MMDEBSTRAP_HINT)
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
        raise RootfsError(
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
