"""Real lab nodes: a Debian host booted by systemd-nspawn in the lab node's namespace, reached
over SSH like a server, that changes nothing of the machine and leaves nothing behind.

    sudo bash tests/e2e/build-rootfs.sh        # once: the Debian rootfs (cached)
    sudo uv run pytest tests/e2e/test_nodes.py

Needs root and the rootfs; without them these tests FAIL (KUBE6_SKIP_LAB=1 skips them on
purpose, as every lab test).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kube6.cli.app import run
from kube6.lab import Lab, LabError, cgroups, down, lab_namespaces, node_config, nodes
from kube6.lab.layout import IPV4_ONLY_NAME, NAT64_PREFIX
from kube6.lab.process import in_namespace
from kube6.lab.rootfs import DEFAULT_OS, OSES, RootfsError, node_os
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

pytestmark = [pytest.mark.lab, pytest.mark.e2e]

ADDRESS = "2001:db8:1234:5678::1"
ONE_NODE = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [{"name": "node0001", "address": ADDRESS, "ssh": f"root@[{ADDRESS}]"}],
}
# Machine-wide entries that kubelet or systemd would set: a node must change none of them.
MACHINE_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "kernel/pid_max",
    "fs/inotify/max_user_instances",
)


def machine_sysctls() -> dict[str, str]:
    return {key: Path("/proc/sys", key).read_text().strip() for key in MACHINE_SYSCTLS}


@pytest.fixture(scope="module")
def rootfs(lab_env: None) -> Path:
    """The cached rootfs tarball; the tests fail (never skip) without it."""
    tarball = nodes.default_rootfs()
    if not tarball.is_file():
        pytest.fail(
            f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh` "
            "(mmdebstrap from deb.debian.org, ~2 min), or set KUBE6_LAB_ROOTFS"
        )
    if nodes.missing_programs():
        pytest.fail(f"real nodes need {nodes.missing_programs()}: {nodes.NODES_HINT}")
    return tarball


@pytest.fixture(scope="module")
def one_node() -> Plan:
    return make_plan(from_data(ONE_NODE), source="one real node")


@pytest.fixture(scope="module")
def before() -> dict[str, str]:
    return machine_sysctls()


@pytest.fixture(scope="module")
def real_lab(rootfs: Path, one_node: Plan, before: dict[str, str]) -> Iterator[Lab]:
    started = time.monotonic()
    with Lab(one_node, real_nodes=True, rootfs=rootfs) as lab:
        print(f"\nreal node booted (lab up) in {time.monotonic() - started:.1f} s")
        yield lab
    assert lab.lab_id not in lab_namespaces()
    assert machine_sysctls() == before


def _ssh(lab: Lab, *argv: str) -> tuple[int | None, str]:
    executor = lab.ssh_executor("node0001")

    async def run() -> tuple[int | None, str]:
        try:
            result = await executor.run(argv, check=False)
        finally:
            await executor.close()
        return result.exit_code, result.stdout + result.stderr

    # The operator sits on the lab's internet, outside the node's /64.
    return in_namespace(lab.internet, lambda: asyncio.run(run()))


def test_the_node_boots_systemd(real_lab: Lab) -> None:
    _code, state = _ssh(real_lab, "systemctl", "is-system-running", "--wait")
    _, failed = _ssh(real_lab, "systemctl", "--failed", "--no-legend", "--plain")
    # "degraded" is accepted only with its reason in the report: the failed units.
    assert state.strip() in ("running", "degraded"), state
    print(f"\nsystemctl is-system-running: {state.strip()}; failed units: {failed.strip() or '-'}")
    assert state.strip() == "running" or failed.strip(), "degraded without a failed unit"
    _, pid1 = _ssh(real_lab, "cat", "/proc/1/comm")
    assert pid1.strip() == "systemd"


def test_ssh_reaches_the_node_itself_with_its_planned_address(real_lab: Lab) -> None:
    code, out = _ssh(real_lab, "hostname")
    assert (code, out.strip()) == (0, "node0001")
    _, addresses = _ssh(
        real_lab, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"
    )
    assert f"{ADDRESS}/64" in addresses
    _, resolv = _ssh(real_lab, "cat", "/etc/resolv.conf")
    assert "nameserver 2001:db8:ffff:64::53" in resolv
    # The node's own files, not the machine's: nothing of Kubernetes, its own host key.
    code, _ = _ssh(real_lab, "test", "-e", "/usr/bin/kubelet")
    assert code == 1
    _, key = _ssh(real_lab, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
    assert key.split()[1] in real_lab.known_hosts.read_text()
    assert key.split()[1] not in Path("/etc/ssh/ssh_host_ed25519_key.pub").read_text()


def test_proc_sys_is_read_only_outside_net(real_lab: Lab, before: dict[str, str]) -> None:
    for key in ("vm/overcommit_memory", "kernel/panic", "vm/swappiness", "kernel/pid_max"):
        code, out = _ssh(real_lab, "sh", "-c", f"cat /proc/sys/{key} > /proc/sys/{key}")
        assert code != 0, f"/proc/sys/{key} is writable in the node"
        assert "Read-only file system" in out, out
    # kubelet finds its values and has nothing to write; the machine keeps its own.
    _, overcommit = _ssh(real_lab, "cat", "/proc/sys/vm/overcommit_memory")
    assert overcommit.strip() == node_config.KUBELET_SYSCTLS["vm.overcommit_memory"]
    # Per network namespace: the node's own to set.
    code, out = _ssh(real_lab, "sysctl", "-w", "net.ipv6.conf.eth0.accept_ra=2")
    assert code == 0, out
    assert machine_sysctls() == before


CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_SYSLOG = 12, 16, 17, 25, 34


def test_root_in_the_node_has_a_servers_powers_but_none_over_the_machine(real_lab: Lab) -> None:
    _, status = _ssh(real_lab, "grep", "CapBnd", "/proc/self/status")
    bounding = int(status.split()[1], 16)
    for cap in (CAP_NET_ADMIN, CAP_SYSLOG):
        assert bounding & (1 << cap), f"capability {cap} missing"
    for cap in (CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME):
        assert not bounding & (1 << cap), f"capability {cap} would act on the machine"
    # Routes, links and nftables of its own namespace (ndppd, Calico, kube-proxy need them).
    script = "ip link add k6a type veth peer name k6b && ip link del k6a && nft list ruleset"
    code, out = _ssh(real_lab, "sh", "-c", script)
    assert code == 0, out
    # kubelet's OOM watcher opens /dev/kmsg (the machine restricts it to CAP_SYSLOG).
    code, out = _ssh(real_lab, "sh", "-c", "exec 3</dev/kmsg")
    assert code == 0, out
    code, out = _ssh(real_lab, "date", "-s", "@0")
    assert code != 0, "the node set the machine's clock"


def test_cgroups_are_the_nodes_own_and_writable_inside_it(real_lab: Lab) -> None:
    code, out = _ssh(
        real_lab,
        "sh",
        "-c",
        "mkdir /sys/fs/cgroup/memory/probe && rmdir /sys/fs/cgroup/memory/probe",
    )
    assert code == 0, out
    found = cgroups.lab_cgroups(real_lab.lab_id)
    assert found
    assert all(p.name == f"kube6-lab-{real_lab.lab_id}-node0001" for p in found)
    leader = real_lab.real["node0001"].leader
    assert any(leader in cgroups.cgroup_pids(p) for p in found)


def test_kube6_check_runs_over_ssh(real_lab: Lab, tmp_path: Path) -> None:
    spec = tmp_path / "kube6.yaml"
    spec.write_text(json.dumps(ONE_NODE))
    kube6 = Path(sys.executable).with_name("kube6")
    result = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            real_lab.internet,
            "env",
            f"HOME={real_lab.operator_home}",
            str(kube6),
            "check",
            "--spec",
            str(spec),
            "--output",
            "json",
            "--no-connect",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    document = json.loads(result.stdout)
    results = {r["name"]: r for r in document["results"]}
    # Facts only the node has: the planned address on its uplink, the route to the provider's
    # router, the lab's DNS64 resolver.
    for name in ("node-address", "default-route", "dns64", "os-supported", "ports-free"):
        assert results[name]["status"] == "ok", results[name]
    assert ADDRESS in results["node-address"]["message"]


def test_the_labs_own_executor_runs_inside_the_node(real_lab: Lab) -> None:
    executor = real_lab.executor("node0001")
    result = asyncio.run(executor.run(("cat", "/etc/hostname")))
    assert result.stdout.strip() == "node0001"
    assert Path("/etc/hostname").read_text().strip() != "node0001"


def test_lab_up_real_nodes_status_and_down_as_a_user_runs_them(
    rootfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "kube6.yaml"
    spec.write_text(json.dumps(ONE_NODE))
    assert run(["lab", "up", "--spec", str(spec), "--real-nodes", "--rootfs", str(rootfs)]) == 0
    out = capsys.readouterr().out
    match = re.search(r"lab ([0-9a-f]{4}) is up", out)
    assert match, out
    lab_id = match.group(1)
    try:
        assert f"real node node0001: {ADDRESS}" in out
        assert f"env HOME=/tmp/kube6-lab-{lab_id}/home kube6 check --spec {spec}" in out
        assert run(["lab", "status"]) == 0
        status = capsys.readouterr().out
        assert re.search(rf"k6-{lab_id}-node0001: .*systemd.*sshd", status), status
    finally:
        assert run(["lab", "down", lab_id]) == 0
    assert f"removed lab(s): {lab_id}" in capsys.readouterr().out
    assert not cgroups.lab_cgroups(lab_id)
    assert lab_id not in lab_namespaces()


TWO_NODES = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": "node0001", "address": ADDRESS},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
    ],
}


def test_two_nodes_boot_together_on_one_provider_link(rootfs: Path) -> None:
    plan = make_plan(from_data(TWO_NODES), source="two real nodes")
    started = time.monotonic()
    with Lab(plan, real_nodes=True, rootfs=rootfs) as lab:
        print(f"\ntwo real nodes booted (lab up) in {time.monotonic() - started:.1f} s")
        second = lab.ssh_executor("node0002")

        async def probe() -> list[str]:
            try:
                argvs = (
                    ("hostname",),
                    ("ping", "-6", "-c", "1", "-W", "3", ADDRESS),
                    ("sysctl", "-n", "net.ipv6.conf.all.forwarding"),
                )
                return [(await second.run(argv)).stdout.strip() for argv in argvs]
            finally:
                await second.close()

        hostname, ping, forwarding = in_namespace(lab.internet, lambda: asyncio.run(probe()))
        assert hostname == "node0002"
        assert "1 received" in ping
        # A fresh server's value: turning forwarding on is `kube6 up`'s job.
        assert forwarding == "0"
        started = time.monotonic()
    print(f"two real nodes torn down in {time.monotonic() - started:.2f} s")
    _assert_gone(lab)


def test_a_failure_halfway_through_boot_leaves_nothing(
    rootfs: Path, one_node: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = Lab(one_node, real_nodes=True, rootfs=rootfs)

    def stuck(node: nodes.RealNode, timeout: float) -> str:
        assert node.alive()
        assert cgroups.lab_cgroups(lab.lab_id)
        raise nodes.NodeError("the node did not boot (made up by the test)")

    monkeypatch.setattr(nodes, "wait_booted", stuck)
    with pytest.raises(nodes.NodeError, match="made up by the test"):
        lab.up()
    _assert_gone(lab)


def test_down_by_id_removes_a_lab_left_running(
    rootfs: Path, one_node: Plan, before: dict[str, str]
) -> None:
    lab = Lab(one_node, real_nodes=True, rootfs=rootfs).up()  # as `kube6 lab up` leaves it
    try:
        assert machine_sysctls() == before
        started = time.monotonic()
        assert down(lab.lab_id) is True
        print(f"\nreal node teardown (lab down) in {time.monotonic() - started:.2f} s")
        for real in lab.real.values():
            real.process.wait(5)  # nspawn is our child: reap it
        _assert_gone(lab)
        assert machine_sysctls() == before
    finally:
        lab.down()


def test_a_lab_without_the_rootfs_says_how_to_build_it(one_node: Plan, tmp_path: Path) -> None:
    lab = Lab(one_node, real_nodes=True, rootfs=tmp_path / "missing.tar")
    with pytest.raises(RootfsError, match=r"build-rootfs\.sh"):
        lab.up()
    assert not lab.workdir.exists()


def test_real_nodes_refuse_the_labs_own_ndp_proxy(rootfs: Path, one_node: Plan) -> None:
    with pytest.raises(LabError, match="their own NDP proxy"):
        Lab(one_node, real_nodes=True, rootfs=rootfs, ndppd=True).up()


def _assert_gone(lab: Lab) -> None:
    assert lab.lab_id not in lab_namespaces()
    assert not cgroups.lab_cgroups(lab.lab_id), "node cgroups left"
    assert not nodes.lab_mounts(lab.workdir), "node mounts left"
    assert not lab.workdir.exists()
    nspawns = subprocess.run(
        ["pgrep", "-f", f"--machine=k6-{lab.lab_id}-"], capture_output=True, check=False
    )
    assert nspawns.stdout == b"", "systemd-nspawn left running"
    for real in lab.real.values():
        assert not os.path.exists(f"/proc/{real.leader}")


@pytest.mark.parametrize("release", [r for r in OSES if r != DEFAULT_OS])
def test_every_supported_release_boots_as_a_server_and_resolves_through_the_lab(
    lab_env: None, one_node: Plan, release: str
) -> None:
    """Debian 13 and Ubuntu 22.04 and 24.04 nodes (`--os`), as the default Debian 12 above: systemd runs,
    the node is that release, and names resolve through the lab's DNS64 resolver; Ubuntu's
    through systemd-resolved's stub, as on its server images."""
    tarball = nodes.default_rootfs(os_name=release)
    if not tarball.is_file():
        pytest.fail(f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh`")
    with Lab(one_node, real_nodes=True, rootfs=tarball) as lab:
        _code, state = _ssh(lab, "systemctl", "is-system-running", "--wait")
        _, failed = _ssh(lab, "systemctl", "--failed", "--no-legend", "--plain")
        assert state.strip() == "running", f"{state.strip()}: {failed}"
        _, os_release = _ssh(lab, "cat", "/etc/os-release")
        name, version = release.split("-")
        assert f"ID={name}\n" in os_release
        assert f'VERSION_ID="{version}"' in os_release
        _, resolv = _ssh(lab, "cat", "/etc/resolv.conf")
        _, target = _ssh(lab, "readlink", "/etc/resolv.conf")
        if node_os(release).resolved:
            assert target.strip() == "../run/systemd/resolve/stub-resolv.conf"
            assert "nameserver 127.0.0.53" in resolv
            _, upstream = _ssh(lab, "cat", "/run/systemd/resolve/resolv.conf")
            assert "nameserver 2001:db8:ffff:64::53" in upstream, upstream
        else:
            assert "nameserver 2001:db8:ffff:64::53" in resolv
        # DNS64 through whatever the node resolves with: the IPv4-only host's synthesized AAAA.
        code, found = _ssh(lab, "getent", "ahostsv6", IPV4_ONLY_NAME)
        assert code == 0, found
        assert found.startswith(str(NAT64_PREFIX.network_address).rstrip(":")), found
