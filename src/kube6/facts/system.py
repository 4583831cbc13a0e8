"""Probes of the operating system: release, kernel, modules, swap, disk space, cgroups, packages,
services."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from kube6.facts.probe import Probe, fact_error


@dataclass(frozen=True)
class OsRelease:
    id: str
    version_id: str
    pretty_name: str
    codename: str = ""
    id_like: tuple[str, ...] = ()


def parse_os_release(text: str) -> OsRelease:
    """/etc/os-release (os-release(5): KEY=value, values optionally shell-quoted)."""
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z0-9_]+", key):
            raise fact_error("/etc/os-release", text, f"line {number} is not KEY=value")
        try:
            words = shlex.split(raw)
        except ValueError:
            raise fact_error("/etc/os-release", text, f"line {number} has broken quoting") from None
        values[key] = " ".join(words)
    if "ID" not in values:
        raise fact_error("/etc/os-release", text, "there is no ID= line")
    return OsRelease(
        id=values["ID"],
        version_id=values.get("VERSION_ID", ""),
        pretty_name=values.get("PRETTY_NAME", values["ID"]),
        codename=values.get("VERSION_CODENAME", ""),
        id_like=tuple(values.get("ID_LIKE", "").split()),
    )


@dataclass(frozen=True)
class Uname:
    hostname: str
    kernel: str
    machine: str

    @property
    def kernel_version(self) -> tuple[int, ...]:
        """(6, 8, 0) from `6.8.0-45-generic`."""
        match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", self.kernel)
        if not match:
            return ()
        return tuple(int(g) for g in match.groups() if g is not None)


def parse_uname(text: str) -> Uname:
    """`uname -nrm`: node name, kernel release, machine, in that order on one line."""
    words = text.split()
    if len(words) != 3:
        raise fact_error("`uname -nrm`", text, "expected three words: host, kernel, machine")
    return Uname(*words)


def parse_modules(text: str) -> frozenset[str]:
    """Loaded or built-in modules, from the sections that MODULES_SCRIPT prints.

    Names are normalised with `_` (the kernel treats `-` and `_` alike in module names).
    Built-in code shows in `/sys/module` only when it has parameters, and a container hides
    `/sys/module` and `/lib/modules`: the kernel's build configuration (`CONFIG_...=y`, for the
    modules in KCONFIG_MODULES) and `/proc/filesystems` (a filesystem is its module) count too.
    """
    names: set[str] = set()
    section = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("== "):
            section = line[3:]
            continue
        if not line:
            continue
        if section == "proc":
            name = line.split()[0]
        elif section == "sys":
            name = line
        elif section == "builtin":
            name = line.rsplit("/", 1)[-1].removesuffix(".ko")
        elif section == "config":
            symbol, _, value = line.removeprefix("CONFIG_").partition("=")
            if value != "y" or symbol not in KCONFIG_MODULES:
                continue
            name = KCONFIG_MODULES[symbol]
        elif section == "fs":
            name = line.split()[-1]
        else:
            raise fact_error("the module list", text, "a line comes before any section marker")
        names.add(name.replace("-", "_"))
    if not section:
        raise fact_error("the module list", text, "no section markers")
    return frozenset(names)


WANTED_MODULES: tuple[tuple[str, str], ...] = (
    ("overlay", "containerd's overlayfs snapshotter stores image layers with it."),
    ("nf_tables", "kube-proxy (nftables mode) and kube6's host firewall use it."),
)
"""The modules kube6 wants, each with its reason: `kube6 check` looks for them, `kube6 up` loads
them at boot (kube6.components.host). br_netfilter is left out on purpose: Calico
routes each pod through its own veth, no Linux bridge carries pod traffic, and kubeadm stopped
checking bridge-nf-call-* in 1.30."""

KCONFIG_MODULES = {
    "OVERLAY_FS": "overlay",
    "NF_TABLES": "nf_tables",
    "BRIDGE_NETFILTER": "br_netfilter",
}
"""Kernel configuration symbols of the modules kube6 wants, when built in (`=y`)."""

# /proc/modules lists loadable modules only; /sys/module and modules.builtin add the built-in
# ones (a kernel without module support has no /proc/modules at all). In a container (e.g.
# systemd-nspawn) /sys/module and /lib/modules are absent; the kernel's configuration
# (/proc/config.gz, or Debian's and Ubuntu's /boot/config-RELEASE) and /proc/filesystems still
# say what is built in.
MODULES_SCRIPT = (
    "echo '== proc'; cat /proc/modules 2>/dev/null; "
    "echo '== sys'; ls -1 /sys/module 2>/dev/null; "
    "echo '== builtin'; cat \"/lib/modules/$(uname -r)/modules.builtin\" 2>/dev/null; "
    "echo '== config'; { zcat /proc/config.gz 2>/dev/null || "
    "cat \"/boot/config-$(uname -r)\" 2>/dev/null; } | grep '^CONFIG_.*=y$'; "
    "echo '== fs'; cat /proc/filesystems 2>/dev/null; true"
)


@dataclass(frozen=True)
class Swap:
    device: str
    kind: str
    size_kib: int


def parse_swaps(text: str) -> tuple[Swap, ...]:
    """/proc/swaps: a header line, then one line per active swap area."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Filename"):
        raise fact_error("/proc/swaps", text, "the header line is missing")
    swaps = []
    for line in lines[1:]:
        words = line.split()
        if not words:
            continue
        if len(words) < 3 or not words[2].isdigit():
            raise fact_error("/proc/swaps", text, f"cannot read the line {line!r}")
        swaps.append(Swap(words[0].replace("\\040", " "), words[1], int(words[2])))
    return tuple(swaps)


KUBELET_ROOT = "/var/lib/kubelet"
"""kubelet's nodefs: volumes, logs and emptyDirs (its --root-dir)."""
CONTAINERD_ROOT = "/var/lib/containerd"
"""kubelet's imagefs: containerd's root, image layers and container filesystems."""
DISK_PATHS = (KUBELET_ROOT, CONTAINERD_ROOT, "/var/lib")
"""Where kubelet's filesystems live; before the first install only /var/lib exists, and a
path's filesystem is that of its nearest probed ancestor."""


@dataclass(frozen=True)
class Filesystem:
    """`stat -f` of one path: the sizes kubelet's eviction signals are computed from."""

    path: str
    fs_id: str
    size: int
    """Bytes in the filesystem."""
    available: int
    """Bytes free for unprivileged use (statvfs f_bavail), what kubelet counts as available."""


def parse_disks(text: str) -> tuple[Filesystem, ...]:
    """`stat -f -c '%n %i %S %b %a' PATH...`: path, filesystem id, block size, blocks, blocks
    available, one line per path that exists (a missing one is an error on stderr)."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        path, *numbers = line.rsplit(maxsplit=4)
        if len(numbers) != 4 or not all(re.fullmatch(r"[0-9]{1,20}", n) for n in numbers[1:]):
            raise fact_error("`stat -f`", text, f"cannot read the line {line!r}")
        fs_id, block, blocks, available = numbers
        found.append(Filesystem(path, fs_id, int(block) * int(blocks), int(block) * int(available)))
    if not found:
        raise fact_error("`stat -f`", text, f"none of {', '.join(DISK_PATHS)} was read")
    return tuple(found)


def filesystem_of(disks: tuple[Filesystem, ...], path: str) -> Filesystem | None:
    """The filesystem that holds `path`: its own line, else that of /var/lib."""
    by_path = {fs.path: fs for fs in disks}
    return by_path.get(path) or by_path.get(DISK_PATHS[-1])


def parse_cgroup(text: str) -> int:
    """`stat -fc %T /sys/fs/cgroup`: cgroup2fs is v2; tmpfs is v1 or hybrid."""
    kind = text.strip()
    if kind == "cgroup2fs":
        return 2
    if kind in {"tmpfs", "cgroupfs"}:
        return 1
    raise fact_error("the cgroup file system type", text, "expected cgroup2fs or tmpfs")


PACKAGES_FORMAT = "${db:Status-Abbrev}\\t${Package}\\t${Version}\\n"
"""Status, name and version of each package (`dpkg-query -W -f PACKAGES_FORMAT [PKG...]`): the
host checks read every package, the steps the ones they install."""


def installed(status: str) -> bool:
    """Whether a dpkg status abbreviation (desired action, package status, error flag) says
    installed: its second letter is `i` (`ii`, and `hi` for a package held by `apt-mark hold`,
    as kube6 leaves kubelet, kubeadm, kubectl and containerd.io); `rc` (removed, its
    configuration left) and `un` are not."""
    return status.strip()[1:2] == "i"


def parse_packages(text: str) -> Mapping[str, str]:
    """`dpkg-query -W -f PACKAGES_FORMAT`: installed packages -> version.

    Installed as `installed` says (`ii`, or `hi` for a held package)."""
    packages: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise fact_error("the package list", text, f"cannot read the line {line!r}")
        status, name, version = parts
        if installed(status):
            packages[name.split(":")[0]] = version
    return packages


@dataclass(frozen=True)
class Service:
    unit: str
    load: str
    """loaded, not-found, masked..."""
    active: str
    """active, inactive, failed, activating..."""
    enabled: str
    """enabled, disabled, static, masked, or empty when the unit does not exist."""

    @property
    def exists(self) -> bool:
        return self.load not in {"not-found", ""}

    @property
    def running(self) -> bool:
        return self.active == "active"


SERVICE_PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState")


def parse_services(text: str) -> Mapping[str, Service]:
    """`systemctl show -p Id -p LoadState -p ActiveState -p UnitFileState UNIT...`:
    one block of KEY=value lines per unit, blocks separated by blank lines."""
    services: dict[str, Service] = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        if not block.strip():
            continue
        values = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if not sep:
                raise fact_error("systemctl show", text, f"cannot read the line {line!r}")
            values[key.strip()] = value.strip()
        if "Id" not in values or "ActiveState" not in values:
            raise fact_error("systemctl show", text, "a block has no Id= or ActiveState=")
        unit = values["Id"]
        services[unit.removesuffix(".service")] = Service(
            unit,
            values.get("LoadState", ""),
            values["ActiveState"],
            values.get("UnitFileState", ""),
        )
    return services


SERVICES = (
    "containerd",
    "kubelet",
    "ndppd",
    "systemd-resolved",
    "systemd-networkd",
    "NetworkManager",
    "ufw",
    "firewalld",
    "docker",
)
"""Services whose state matters: the cluster's own, and those that fight over the same things
(network managers over accept_ra, other firewalls over nftables, Docker over containerd)."""

OS_RELEASE = Probe("os", ("cat", "/etc/os-release"), parse_os_release)
UNAME = Probe("uname", ("uname", "-nrm"), parse_uname)
MODULES = Probe("modules", ("sh", "-c", MODULES_SCRIPT), parse_modules)
SWAPS = Probe("swap", ("cat", "/proc/swaps"), parse_swaps)
DISKS = Probe(
    "disk", ("stat", "-f", "-c", "%n %i %S %b %a", *DISK_PATHS), parse_disks, frozenset({0, 1})
)
CGROUP = Probe("cgroup", ("stat", "-fc", "%T", "/sys/fs/cgroup"), parse_cgroup)
PACKAGES = Probe("packages", ("dpkg-query", "-W", "-f", PACKAGES_FORMAT), parse_packages)
SERVICES_PROBE = Probe(
    "services",
    (
        "systemctl",
        "show",
        "--no-pager",
        *(f"--property={p}" for p in SERVICE_PROPERTIES),
        *(f"{s}.service" for s in SERVICES),
    ),
    parse_services,
)
