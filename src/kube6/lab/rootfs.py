"""The real nodes' rootfs: a fresh server's image (Debian 12 or 13, Ubuntu 22.04 or 24.04),
built once and cached outside the repo.

mmdebstrap makes it from the release's minbase plus its packages (what a provider's image of
that release has; nothing of Kubernetes: `kube6 up` installs that) into a tarball named by the
release and what went into it, in the e2e artifact cache (`$KUBE6_E2E_CACHE/rootfs`). Nodes
boot from its extracted tree (`rootfs_tree`), extracted once and shared read-only as the lower
layer of every node's overlay (`kube6.lab.nodes`). Building and extracting take the cache's
lock, so parallel labs reuse one build.

Ubuntu's archive is signed by Ubuntu's key, which this Debian machine lacks: it comes from
Debian's own `ubuntu-keyring` package (trixie), which apt verifies with Debian's keyring, so
the chain of trust starts at the machine's debian-archive-keyring (`archive_keyring`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kube6.errors import Kube6Error
from kube6.lab.process import program, run_or_raise

Argv = tuple[str, ...]

SERVER_PACKAGES = (
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
"""On top of minbase, in every release: what a provider's image has. Nothing of Kubernetes."""

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class NodeOs:
    """A release that real nodes can run: where its archive is and what its image carries."""

    name: str
    """`debian-12`, `debian-13`, `ubuntu-22.04`, `ubuntu-24.04`: `kube6 lab up --os`."""
    suite: str
    sources: tuple[str, ...]
    """The apt sources of a fresh server of this release; they stay in the node's /etc/apt."""
    packages: tuple[str, ...]
    keyring_package: str | None = None
    """Debian's package that carries this archive's key (None: Debian's own keyring)."""
    keyring_file: str = DEBIAN_KEYRING
    """The key's file (in the package when keyring_package is set)."""
    resolved: bool = False
    """Whether the image resolves names through systemd-resolved's stub (Ubuntu's do)."""

    @property
    def id(self) -> str:
        """os-release's ID: debian, ubuntu."""
        return self.name.split("-")[0]


def _debian(version: str, suite: str) -> NodeOs:
    mirror, security = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    return NodeOs(
        name=f"debian-{version}",
        suite=suite,
        sources=(
            f"deb {mirror} {suite} main",
            f"deb {mirror} {suite}-updates main",
            f"deb {security} {suite}-security main",
        ),
        packages=SERVER_PACKAGES,
    )


def _ubuntu(version: str, suite: str) -> NodeOs:
    mirror, security = "http://archive.ubuntu.com/ubuntu", "http://security.ubuntu.com/ubuntu"
    components = "main restricted universe multiverse"
    return NodeOs(
        name=f"ubuntu-{version}",
        suite=suite,
        sources=(
            f"deb {mirror} {suite} {components}",
            f"deb {mirror} {suite}-updates {components}",
            f"deb {security} {suite}-security {components}",
        ),
        # Ubuntu's server and cloud images resolve through systemd-resolved's stub
        # (127.0.0.53 in /etc/resolv.conf), which kubelet and CoreDNS must not be handed;
        # a package of its own since 23.04, part of systemd before.
        packages=(
            *SERVER_PACKAGES,
            *(("systemd-resolved",) if version >= "23.04" else ()),
            "ubuntu-keyring",
        ),
        keyring_package="ubuntu-keyring",
        keyring_file="/usr/share/keyrings/ubuntu-archive-keyring.gpg",
        resolved=True,
    )


OSES = {
    release.name: release
    for release in (
        _debian("12", "bookworm"),
        _debian("13", "trixie"),
        _ubuntu("22.04", "jammy"),
        _ubuntu("24.04", "noble"),
    )
}
DEFAULT_OS = "debian-12"
KEYRING_SUITE = "trixie"
"""The Debian release whose archive carries the other distributions' keyrings."""


def node_os(name: str = DEFAULT_OS) -> NodeOs:
    """The release called `name`, or a clear error naming the ones there are."""
    try:
        return OSES[name]
    except KeyError:
        raise RootfsError(
            f"no node image for {name!r}",
            fix=f"choose one of {', '.join(OSES)}",
        ) from None


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


def rootfs_key(release: NodeOs | None = None, packages: Sequence[str] | None = None) -> str:
    """12 hex digits naming a rootfs by what went into it: a new package list, a new tarball."""
    release = release or node_os()
    chosen = release.packages if packages is None else packages
    text = json.dumps(
        {"suite": release.suite, "packages": sorted(chosen), "sources": list(release.sources)}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rootfs_tarball(cache: Path, release: NodeOs | None = None) -> Path:
    """Where the rootfs of `release` is cached: <cache>/rootfs/<os>-<key>.tar."""
    release = release or node_os()
    return cache / "rootfs" / f"{release.name}-{rootfs_key(release)}.tar"


def mmdebstrap_argv(
    output: Path, release: NodeOs | None = None, keyring: Path | None = None
) -> Argv:
    """mmdebstrap: the release's minbase plus its packages, as a tarball (root mode, no
    network of its own needed besides the mirror). `keyring`: the archive's key when it is
    not Debian's (`archive_keyring`)."""
    release = release or node_os()
    return (
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(sorted(release.packages)),
        "--format=tar",
        # apt downloads and verifies as its sandbox user, which cannot read a key in the
        # cache under root's home (0700): a key of the cache is read as root.
        *((f"--keyring={keyring}", '--aptopt=APT::Sandbox::User "root"') if keyring else ()),
        release.suite,
        str(output),
        *release.sources,
    )


def keyring_argv(workdir: Path, package: str) -> tuple[Argv, Argv]:
    """apt-get update and download of Debian's `package` (KEYRING_SUITE) in a private apt
    setup under `workdir`: this machine's own apt configuration and state stay untouched."""
    options = (
        f"-o=Dir::Etc::SourceList={workdir / 'sources.list'}",
        f"-o=Dir::Etc::SourceParts={workdir / 'parts'}",
        f"-o=Dir::Etc::PreferencesParts={workdir / 'prefs'}",
        f"-o=Dir::State::Lists={workdir / 'lists'}",
        f"-o=Dir::State::status={workdir / 'status'}",
        f"-o=Dir::Cache={workdir / 'cache'}",
        "-o=APT::Sandbox::User=root",
        "-o=Debug::NoLocking=1",
    )
    return ("apt-get", *options, "-qq", "update"), ("apt-get", *options, "-qq", "download", package)


def archive_keyring(cache: Path, release: NodeOs) -> Path | None:
    """The key file that verifies `release`'s archive: None for Debian (mmdebstrap and apt use
    the machine's); else extracted, once, from Debian's package that carries it, which apt
    checks against Debian's keyring on the way (cached in <cache>/rootfs/keyrings)."""
    if release.keyring_package is None:
        return None
    folder = cache / "rootfs" / "keyrings" / release.keyring_package
    found = folder / release.keyring_file.lstrip("/")
    with _locked(cache / "rootfs" / ".rootfs.lock"):
        if found.is_file():
            return found
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".tmp.") as tmp:
            work = Path(tmp)
            for sub in ("lists/partial", "cache/archives/partial", "parts", "prefs", "out"):
                (work / sub).mkdir(parents=True)
            (work / "status").write_text("")
            (work / "sources.list").write_text(
                f"deb [signed-by={DEBIAN_KEYRING}] http://deb.debian.org/debian "
                f"{KEYRING_SUITE} main\n"
            )
            update, download = keyring_argv(work, release.keyring_package)
            _run(update, timeout=300)
            run_or_raise(download, RootfsError, timeout=300, cwd=work / "out")
            (deb,) = (work / "out").glob(f"{release.keyring_package}_*.deb")
            _run(("dpkg-deb", "-x", str(deb), str(work / "tree")), timeout=60)
            if not (work / "tree" / release.keyring_file.lstrip("/")).is_file():
                raise RootfsError(f"{deb.name} has no {release.keyring_file}")
            shutil.rmtree(folder, ignore_errors=True)
            (work / "tree").rename(folder)
    return found


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


def build_rootfs(tarball: Path, release: NodeOs | None = None) -> Path:
    """Build the rootfs tarball of `release` with mmdebstrap (about a minute with a near mirror);
    returns it. Takes the cache's lock; another process's finished build is reused."""
    release = release or node_os()
    keyring = archive_keyring(tarball.parent.parent, release)
    with _locked(tarball.parent / ".rootfs.lock"):
        if tarball.exists():
            return tarball
        if not program("mmdebstrap").startswith("/"):
            raise RootfsError("building the nodes' rootfs needs mmdebstrap", fix=MMDEBSTRAP_HINT)
        partial = tarball.with_name(f".{tarball.name}.{os.getpid()}.partial")
        try:
            argv = mmdebstrap_argv(partial, release, keyring)
            _run((program("mmdebstrap"), *argv[1:]), timeout=1800)
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
