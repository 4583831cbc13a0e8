"""Real lab nodes, the pure part: what is built and how nspawn is told to boot it (no root)."""

from __future__ import annotations

import re
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest
import yaml

from kube6.cli.app import run
from kube6.lab import cgroups, node_config, nodes, rootfs
from kube6.lab.commands import setup_commands
from kube6.lab.layout import RESOLVER, NodeLink, layout
from kube6.plan import make_plan
from kube6.spec import from_data

LINK = NodeLink(
    name="node0001",
    namespace="k6-1a2b-node0001",
    address=IPv6Address("2001:db8:1234:5678::1"),
    prefix=IPv6Network("2001:db8:1234:5678::/64"),
    interface="eth0",
    upstream_port="nd0",
    bridge="lan0",
    index=0,
)

TWO = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": "node0001", "address": "2001:db8:1234:5678::1"},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
    ],
}

# This machine's: cgroup v1 controllers, name=systemd v1 and an empty v2 ("hybrid"), the
# launcher in a memory cgroup of the sandbox's own.
PROC_CGROUP = """\
9:name=systemd:/
4:memory:/process_api/e0a5
2:cpu,cpuacct:/
0::/
"""
MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
/dev/vda / ext4 rw,relatime 0 0
"""


@pytest.mark.parametrize("name", list(rootfs.OSES))
def test_the_rootfs_is_a_fresh_server_without_kubernetes(name: str) -> None:
    release = rootfs.node_os(name)
    for needed in ("systemd", "systemd-sysv", "openssh-server", "iproute2", "nftables", "sudo"):
        assert needed in release.packages
    kubernetes = ("kube", "containerd", "runc", "cri-", "crictl", "ndppd", "calico", "helm")
    assert not [p for p in release.packages if p.startswith(kubernetes)]
    assert release.id == name.split("-", maxsplit=1)[0]


def test_each_release_has_its_servers_sources_and_ubuntu_resolves_through_resolved() -> None:
    bookworm, trixie, noble = (
        rootfs.node_os(n) for n in ("debian-12", "debian-13", "ubuntu-24.04")
    )
    assert rootfs.node_os() == bookworm
    assert "deb http://deb.debian.org/debian-security bookworm-security main" in bookworm.sources
    assert "deb http://deb.debian.org/debian trixie-updates main" in trixie.sources
    assert (
        "deb http://security.ubuntu.com/ubuntu noble-security main restricted universe multiverse"
        in noble.sources
    )
    assert not bookworm.resolved
    assert not trixie.resolved
    assert noble.resolved
    # Debian's keyring verifies Debian; Ubuntu's key comes from Debian's ubuntu-keyring.
    assert bookworm.keyring_package is None
    assert bookworm.keyring_file == "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert noble.keyring_package == "ubuntu-keyring"
    # systemd-resolved is a package of its own from Ubuntu 23.04 on, in systemd before.
    jammy = rootfs.node_os("ubuntu-22.04")
    assert jammy.resolved
    assert "systemd-resolved" in noble.packages
    assert "systemd-resolved" not in jammy.packages
    with pytest.raises(
        rootfs.RootfsError, match=re.escape("debian-12, debian-13, ubuntu-22.04, ubuntu-24.04")
    ):
        rootfs.node_os("centos-9")


def test_the_rootfs_is_named_by_what_goes_into_it() -> None:
    key = rootfs.rootfs_key()
    packages = rootfs.node_os().packages
    assert len(key) == 12
    assert key == rootfs.rootfs_key()
    assert rootfs.rootfs_key(packages=(*packages, "vim")) != key
    assert rootfs.rootfs_key(packages=tuple(reversed(packages))) == key
    assert rootfs.rootfs_tarball(Path("/c")) == Path(f"/c/rootfs/debian-12-{key}.tar")
    noble = rootfs.node_os("ubuntu-24.04")
    assert rootfs.rootfs_tarball(Path("/c"), noble) == Path(
        f"/c/rootfs/ubuntu-24.04-{rootfs.rootfs_key(noble)}.tar"
    )
    assert rootfs.rootfs_key(noble) != key


def test_the_cache_and_the_rootfs_come_from_the_environment() -> None:
    assert rootfs.cache_dir({"KUBE6_E2E_CACHE": "/x"}) == Path("/x")
    assert rootfs.cache_dir({}) == Path.home() / ".cache" / "kube6-e2e"
    assert nodes.default_rootfs({"KUBE6_E2E_CACHE": "/x"}) == rootfs.rootfs_tarball(Path("/x"))
    assert nodes.default_rootfs({"KUBE6_E2E_CACHE": "/x"}, "debian-13") == rootfs.rootfs_tarball(
        Path("/x"), rootfs.node_os("debian-13")
    )
    assert nodes.default_rootfs({"KUBE6_LAB_ROOTFS": "/mine.tar"}) == Path("/mine.tar")


def test_mmdebstrap_builds_minbase_plus_the_packages_as_a_tarball() -> None:
    argv = rootfs.mmdebstrap_argv(Path("/out.tar"))
    assert argv[:2] == ("mmdebstrap", "--variant=minbase")
    assert argv[2] == "--include=" + ",".join(sorted(rootfs.node_os().packages))
    assert argv[4:6] == ("bookworm", "/out.tar")
    assert "deb http://deb.debian.org/debian-security bookworm-security main" in argv
    assert not [a for a in argv if a.startswith("--keyring")]
    noble = rootfs.node_os("ubuntu-24.04")
    argv = rootfs.mmdebstrap_argv(Path("/out.tar"), noble, Path("/k/ubuntu.gpg"))
    assert argv[4] == "--keyring=/k/ubuntu.gpg"
    assert argv[6:8] == ("noble", "/out.tar")
    assert "systemd-resolved" in argv[2]


def test_ubuntus_key_is_fetched_by_a_private_apt_from_debian() -> None:
    update, download = rootfs.keyring_argv(Path("/w"), "ubuntu-keyring")
    assert update[0] == download[0] == "apt-get"
    assert update[-1] == "update"
    assert download[-2:] == ("download", "ubuntu-keyring")
    # Nothing of this machine's apt: its own lists, status, sources and cache.
    for option in (
        "SourceList=/w/sources.list",
        "Dir::State::status=/w/status",
        "Dir::Cache=/w/cache",
    ):
        assert [a for a in update if option in a], option
    assert rootfs.archive_keyring(Path("/nonexistent"), rootfs.node_os("debian-13")) is None


def test_nspawn_boots_in_the_nodes_namespace_with_proc_sys_kept_read_only() -> None:
    dirs = node_config.node_dirs(Path("/tmp/kube6-lab-1a2b"), "node0001")
    argv = node_config.nspawn_argv(dirs, LINK)
    assert argv[0] == "systemd-nspawn"
    assert "--boot" in argv
    assert "--network-namespace-path=/run/netns/k6-1a2b-node0001" in argv
    assert "--hostname=node0001" in argv
    assert f"--directory={dirs.root}" in argv
    assert "--bind=/tmp/kube6-lab-1a2b/nodes/node0001/containerd:/var/lib/containerd" in argv
    # The value files, first into the node, then from there over the machine-wide entries.
    assert f"--bind-ro={dirs.sysctl}:/var/lib/kube6-lab/sysctl" in argv
    for key in ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops"):
        target = "/proc/sys/" + key.replace(".", "/")
        assert f"--bind-ro=/var/lib/kube6-lab/sysctl/{key}:{target}" in argv
    assert "--bind-ro=/dev/kmsg" in argv
    assert "--tmpfs=/sys/fs/bpf" in argv  # calico-node's hostPath, the node's own
    assert "--capability=CAP_NET_ADMIN,CAP_SYSLOG,CAP_IPC_LOCK" in argv
    assert "--bind-ro=/lib/modules" not in argv
    assert "--bind-ro=/lib/modules" in node_config.nspawn_argv(dirs, LINK, modules=True)
    # Nothing writable under /proc or /sys comes from a bind, and only /proc/sys/net is
    # writable by nspawn's own choice.
    assert not [a for a in argv if a.startswith("--bind=") and ":/proc" in a]
    assert not [a for a in argv if a.startswith("--bind=") and ":/sys" in a]
    assert node_config.NSPAWN_ENV == {
        "SYSTEMD_SECCOMP": "0",
        "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network",
    }
    assert node_config.KUBELET_SYSCTLS["vm.overcommit_memory"] == "1"
    assert node_config.KUBELET_SYSCTLS["kernel.panic"] == "10"


def test_each_node_has_its_own_writable_layer_in_the_labs_folder() -> None:
    dirs = node_config.node_dirs(Path("/w"), "node0001")
    assert node_config.overlay_argv(Path("/cache/tree"), dirs) == (
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        "lowerdir=/cache/tree,upperdir=/w/nodes/node0001/upper,workdir=/w/nodes/node0001/work",
        "/w/nodes/node0001/root",
    )


def test_the_node_is_configured_as_a_provider_configures_a_new_server() -> None:
    files = node_config.node_files(LINK, "ssh-ed25519 AAAA lab\n", "0" * 32)
    assert files["etc/hostname"] == "node0001\n"
    assert f"nameserver {RESOLVER}\n" in files["etc/resolv.conf"]
    assert "2001:db8:1234:5678::1\tnode0001" in files["etc/hosts"]
    assert files["root/.ssh/authorized_keys"] == "ssh-ed25519 AAAA lab\n"
    assert files["etc/machine-id"] == "0" * 32 + "\n"
    assert node_config.RESOLVED_DROPIN not in files


def test_a_node_with_systemd_resolved_keeps_its_stub_and_learns_the_resolver(
    tmp_path: Path,
) -> None:
    files = node_config.node_files(LINK, "k", "0" * 32, resolved=True)
    assert "etc/resolv.conf" not in files  # the image's link to resolved's stub stays
    assert files[node_config.RESOLVED_DROPIN] == f"[Resolve]\nDNS={RESOLVER}\n"
    (tmp_path / "etc").mkdir()
    assert not node_config.uses_resolved(tmp_path)
    (tmp_path / "etc" / "resolv.conf").symlink_to("../run/systemd/resolve/stub-resolv.conf")
    assert node_config.uses_resolved(tmp_path)
    (tmp_path / "etc" / "resolv.conf").unlink()
    (tmp_path / "etc" / "resolv.conf").write_text("nameserver ::1\n")
    assert not node_config.uses_resolved(tmp_path)


def test_node_cgroups_sit_under_the_launchers_in_every_hierarchy() -> None:
    found = cgroups.cgroup_hierarchies(PROC_CGROUP, MOUNTS)
    by_names = {h.names: h for h in found}
    assert set(by_names) == {"name=systemd", "memory", "cpu,cpuacct", ""}
    name = cgroups.cgroup_name("1a2b", "node0001")
    assert by_names["memory"].node_cgroup(name) == Path(
        "/sys/fs/cgroup/memory/process_api/e0a5/kube6-lab-1a2b-node0001"
    )
    assert by_names[""].node_cgroup(name) == Path("/sys/fs/cgroup/unified/kube6-lab-1a2b-node0001")
    # Only the v1 controllers are remounted writable inside the node (nspawn mounts them
    # read-only); name=systemd and v2 it already gives the node writable.
    assert cgroups.remount_targets(found) == ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct"]
    assert node_config.remount_argv(42, "/sys/fs/cgroup/memory") == (
        "nsenter",
        "--target=42",
        "--mount",
        "mount",
        "-o",
        "remount,bind,rw,nosuid,nodev,noexec",
        "/sys/fs/cgroup/memory",
    )


def test_real_nodes_take_no_lab_pods_or_ndppd(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lab", "up", "--real-nodes", "--pods", "2"]) == 2
    assert "real nodes get their pods and ndppd from `kube6 up`" in capsys.readouterr().err
    assert run(["lab", "up", "--real-nodes", "--ndppd"]) == 2
    assert run(["lab", "up", "--rootfs", "/x.tar"]) == 2
    assert "add --real-nodes" in capsys.readouterr().err
    assert run(["lab", "up", "--real-nodes", "--os", "centos-9"]) == 2
    assert "use one of debian-12, debian-13, ubuntu-22.04, ubuntu-24.04" in capsys.readouterr().err
    assert run(["lab", "rootfs", "--os", "ubuntu"]) == 2


def test_lab_up_os_per_node_names_nodes_of_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "kube6.yaml"
    spec.write_text(yaml.safe_dump(TWO))
    argv = ["lab", "up", "--spec", str(spec), "--real-nodes"]
    assert run([*argv, "--os", "node0009=ubuntu-22.04"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--os 'node0009=ubuntu-22.04' names 'node0009', not a node of kube6.yaml" in err
    assert "name one of node0001, node0002" in err
    assert run([*argv, "--os", "node0002=ubuntu-21.04"]) == 2
    assert "--os 'ubuntu-21.04' is not a release lab nodes run" in capsys.readouterr().err
    assert run([*argv, "--rootfs", "/x.tar", "--os", "node0002=ubuntu-22.04"]) == 2
    assert "the tarball would be every node's" in capsys.readouterr().err


def test_lab_up_help_documents_real_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lab", "up", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--real-nodes" in out
    assert "KUBE6_LAB_ROOTFS" in out


def test_real_nodes_start_with_a_fresh_servers_forwarding_and_accept_ra() -> None:
    plan = make_plan(from_data(TWO), source="two nodes")
    lay = layout(plan, "1a2b")

    def node_sysctls(real_nodes: bool) -> list[str]:
        return [
            " ".join(argv)
            for argv in setup_commands(lay, real_nodes=real_nodes)
            if "sysctl" in argv and argv[3].endswith(("node0001", "node0002"))
        ]

    assert any("forwarding=1" in c for c in node_sysctls(False))
    assert any("accept_ra=2" in c for c in node_sysctls(False))
    # `kube6 up` must set them on a real node, as on a server.
    assert not any("forwarding" in c or "accept_ra" in c for c in node_sysctls(True))
    # The provider's side is the same either way.
    upstream = [c for c in setup_commands(lay, real_nodes=True) if "k6-1a2b-upstream" in c]
    assert upstream == [c for c in setup_commands(lay) if "k6-1a2b-upstream" in c]
