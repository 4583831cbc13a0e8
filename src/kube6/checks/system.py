"""Host checks of the system: the release, kernel modules, swap, cgroups, and what is already
installed or running (another firewall, Kubernetes packages, listeners on the cluster's ports).
"""

from __future__ import annotations

import re
import shlex

from kube6 import disk_pressure, mirrors
from kube6.checks.context import Context, fail, ok, unknown, warn
from kube6.checks.model import CheckResult
from kube6.facts.system import WANTED_MODULES, Filesystem, filesystem_of

SUPPORTED_OS = {"debian": ("12", "13"), "ubuntu": ("22.04", "24.04")}


def check_os(ctx: Context) -> list[CheckResult]:
    os = ctx.facts.os
    if os is None:
        return [unknown(ctx.facts, "os")]
    versions = SUPPORTED_OS.get(os.id)
    evidence = f"{os.pretty_name} (ID={os.id}, VERSION_ID={os.version_id})"
    if versions is None or os.version_id not in versions:
        supported = ", ".join(f"{k} {'/'.join(v)}" for k, v in SUPPORTED_OS.items())
        return [
            warn(
                f"{os.pretty_name} is not one of the releases kube6 is tested on ({supported})",
                "use a supported release, or go on knowing that package names may differ",
                evidence,
            )
        ]
    return [ok(f"{os.pretty_name} is supported", evidence)]


def check_apt_mirrors(ctx: Context) -> list[CheckResult]:
    """Docker's repository and the distribution's archive differ per distribution: a mirror
    URL that names another distribution than the host's cannot serve it."""
    apt, os = ctx.plan.mirrors.apt, ctx.facts.os
    settings = {
        "mirrors.apt.docker.url": apt.docker.url if apt.docker else None,
        "mirrors.apt.distribution": apt.distribution,
    }
    if not any(settings.values()):
        return [ok("skipped: no apt mirror of a distribution's repository is set")]
    if os is None:
        return [unknown(ctx.facts, "os")]
    given = {s: mirrors.for_distro(url, os.id) for s, url in settings.items() if url}
    wrong = [mirrors.wrong_distro(setting, url, os.id) for setting, url in given.items()]
    found = [
        fail(f"{what}, but the host runs {os.pretty_name}", fix, f"ID={os.id}")
        for what, fix in filter(None, wrong)
    ]
    return found or [
        ok(
            f"the apt mirrors serve {os.id}",
            [f"{setting}: {url}" for setting, url in given.items()],
        )
    ]


def check_modules(ctx: Context) -> list[CheckResult]:
    facts = ctx.facts
    if facts.modules is None:
        return [unknown(facts, "modules")]
    missing = [m for m, _ in WANTED_MODULES if m not in facts.modules]
    wanted = ", ".join(m for m, _ in WANTED_MODULES)
    if not missing:
        return [ok(f"loaded or built in: {wanted}")]
    return [
        warn(
            f"not loaded: {', '.join(missing)} (`kube6 up` loads them and lists them in "
            "/etc/modules-load.d)",
            shlex.join(["modprobe", "-a", *missing]),
            f"needed: {wanted}",
        )
    ]


def check_swap(ctx: Context) -> list[CheckResult]:
    facts = ctx.facts
    if facts.swaps is None:
        return [unknown(facts, "swap")]
    if not facts.swaps:
        return [ok("no swap is active")]
    devices = ", ".join(s.device for s in facts.swaps)
    return [
        warn(
            f"swap is active ({devices}); kubelet refuses to start with swap on "
            "(`kube6 up` turns it off and comments it out of /etc/fstab)",
            "swapoff -a, and remove the swap line from /etc/fstab",
            devices,
        )
    ]


def check_disk(ctx: Context) -> list[CheckResult]:
    """Free space above kubelet's DiskPressure floor, with room for the install on a node
    without kubelet: below it no pod is scheduled there and `up` would wait for Calico in vain.
    Each filesystem is judged once (kubelet's and containerd's roots usually share one)."""
    facts = ctx.facts
    if facts.disks is None:
        return [unknown(facts, "disk")]
    installing = facts.packages is not None and "kubelet" not in facts.packages
    room = disk_pressure.INSTALL_ROOM if installing else 0
    judged: dict[str, tuple[Filesystem, disk_pressure.Threshold]] = {}
    for signal, path in disk_pressure.SIGNALS.items():
        fs = filesystem_of(facts.disks, path)
        if fs is None:
            return [unknown(facts, "disk")]
        floor = disk_pressure.threshold(ctx.plan.host, signal, fs.size)
        if fs.fs_id not in judged or floor.floor > judged[fs.fs_id][1].floor:
            judged[fs.fs_id] = (fs, floor)
    seen = [
        f"{fs.path}: {_gib(fs.available)} free of {_gib(fs.size)}; kubelet reports "
        f"DiskPressure below {_gib(floor.floor)} ({floor.source})"
        for fs, floor in judged.values()
    ]
    short = [(fs, floor) for fs, floor in judged.values() if fs.available < floor.floor + room]
    if not short:
        spare = f", with {_gib(room)} to spare for the install" if room else ""
        return [ok(f"free space is above kubelet's DiskPressure floor{spare}", seen)]
    fs, floor = short[0]
    why = (
        "it is below that already"
        if fs.available < floor.floor
        else f"the install may add up to {_gib(room)}"
    )
    return [
        fail(
            f"{fs.path} has {_gib(fs.available)} free and kubelet reports DiskPressure below "
            f"{_gib(floor.floor)} ({floor.source}); {why}: no pod would be scheduled on this "
            "node (`up` would wait for Calico until it gives up)",
            f"free space on {fs.path}, or, on a large disk that also holds other data, set "
            "host.min_free_disk (e.g. 10Gi): kubelet then keeps that amount free, not a share",
            seen,
        )
    ]


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"


def check_cgroup(ctx: Context) -> list[CheckResult]:
    facts = ctx.facts
    if facts.cgroup is None:
        return [unknown(facts, "cgroup")]
    if facts.cgroup == 2:
        return [ok("cgroup v2 (unified hierarchy)", "/sys/fs/cgroup is cgroup2fs")]
    if ctx.plan.host.cgroup_v1:
        return [
            warn(
                "cgroup v1 or hybrid, allowed by host.cgroup_v1 in kube6.yaml (kubelet runs with "
                "failCgroupV1: false); cgroup v1 is deprecated and gets no new Kubernetes features",
                "boot with systemd.unified_cgroup_hierarchy=1 when the host allows it, then drop "
                "host.cgroup_v1",
                "/sys/fs/cgroup is not cgroup2fs",
            )
        ]
    return [
        fail(
            "cgroup v1 or hybrid: kubelet 1.35 and later refuse to start on cgroup v1",
            "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line (or use "
            "Ubuntu 22.04+/Debian 11+, where v2 is the default), then reboot; a host that cannot "
            "(a container host with a v1 hierarchy) sets host.cgroup_v1: true in kube6.yaml",
            "/sys/fs/cgroup is not cgroup2fs",
        )
    ]


FIREWALLS = ("firewalld", "ufw")

KUBE_PACKAGES = ("kubeadm", "kubelet", "kubectl")


def check_services(ctx: Context) -> list[CheckResult]:
    plan, facts = ctx.plan, ctx.facts
    if facts.services is None:
        return [unknown(facts, "services")]
    active = [s for s in FIREWALLS if (svc := facts.services.get(s)) and svc.running]
    if active and plan.firewall.enabled:
        units = " ".join(active)
        return [
            warn(
                f"{', '.join(active)} is active: its rules and kube6's nftables table would "
                "both filter traffic, and the stricter one wins",
                f"systemctl disable --now {units}, or set firewall.enabled: false in kube6.yaml",
                f"active: {units}",
            )
        ]
    return [ok("no other host firewall is active")]


def check_packages(ctx: Context) -> list[CheckResult]:
    plan, facts = ctx.plan, ctx.facts
    if facts.packages is None:
        return [unknown(facts, "packages")]
    installed = {p: facts.packages[p] for p in KUBE_PACKAGES if p in facts.packages}
    if not installed:
        return [ok("kubeadm, kubelet and kubectl are not installed yet")]
    evidence = ", ".join(f"{p} {v}" for p, v in installed.items())
    foreign = {p: v for p, v in installed.items() if _kubernetes_minor(v) is None}
    if foreign:
        # e.g. Google Cloud SDK's kubectl, 1:528.0.0-0: not a Kubernetes release to upgrade.
        listed = ", ".join(f"{p} {v}" for p, v in foreign.items())
        return [
            warn(
                f"{listed}: not a Kubernetes release version (another vendor's package); "
                "kube6 installs kubeadm, kubelet and kubectl from pkgs.k8s.io",
                f"remove it first (apt-get remove {' '.join(foreign)}) so that apt installs "
                "the Kubernetes packages",
                evidence,
            )
        ]
    other = {p: v for p, v in installed.items() if _kubernetes_minor(v) != plan.kubernetes_minor}
    if other:
        return [
            warn(
                f"installed at another minor than the plan's {plan.kubernetes_minor}: "
                f"{', '.join(f'{p} {v}' for p, v in other.items())}",
                "upgrade the cluster one minor at a time (kubeadm upgrade), or set "
                "cluster.kubernetes in kube6.yaml to the installed minor",
                evidence,
            )
        ]
    return [ok(f"installed at the planned minor: {evidence}", evidence)]


KUBERNETES_DEB = re.compile(r"^(?P<minor>1\.[0-9]{1,3})\.[0-9]{1,3}-[0-9A-Za-z.+~]+$")
"""pkgs.k8s.io's Debian versions: 1.37.2-1.1 (no epoch)."""


def _kubernetes_minor(version: str) -> str | None:
    """ "1.37" of "1.37.2-1.1"; None for another scheme (an epoch, a vendor's numbering)."""
    match = KUBERNETES_DEB.match(version)
    return match.group("minor") if match else None


CONTROL_PLANE_PORTS = {
    6443: "kube-apiserver",
    2379: "etcd clients",
    2380: "etcd peers",
    10250: "kubelet",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
}

WORKER_PORTS = {10250: "kubelet"}


def check_ports(ctx: Context) -> list[CheckResult]:
    node, facts = ctx.node, ctx.facts
    if facts.listeners is None:
        return [unknown(facts, "listeners")]
    wanted = dict(WORKER_PORTS)
    if node.is_control_plane:
        wanted.update(CONTROL_PLANE_PORTS)
    taken = [
        f"{port} ({what}) by a listener on {listener.address}"
        for port, what in sorted(wanted.items())
        for listener in facts.listeners
        if listener.port == port
    ]
    ports = ", ".join(str(p) for p in sorted(wanted))
    if not taken:
        return [ok(f"ports {ports} are free")]
    if _cluster_installed(ctx):
        # kubeadm, kubelet and kubectl at the plan's minor: the listeners are this node's own
        # cluster (a second `kube6 up`, or one resuming after a failure), not a stranger's.
        return [
            ok(
                f"ports {ports}: in use by this node's Kubernetes at the plan's minor "
                "(`kube6 up` continues it)",
                "; ".join(taken),
            )
        ]
    first = next(p for p in sorted(wanted) if any(x.port == p for x in facts.listeners))
    return [
        fail(
            "in use: " + "; ".join(taken) + " (a cluster already here? then `kube6 reset` first)",
            f"find the program with `ss -ltnp 'sport = :{first}'` and stop it",
            f"needed: {ports}",
        )
    ]


def _cluster_installed(ctx: Context) -> bool:
    packages = ctx.facts.packages or {}
    return all(
        (packages.get(p) or "").startswith(f"{ctx.plan.kubernetes_minor}.") for p in KUBE_PACKAGES
    )
