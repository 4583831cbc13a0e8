"""gather(): recorded replies through a RecordingExecutor, a real local run, a namespace run."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

import pytest

from kube6.execute import Command, LocalExecutor, NetnsExecutor, RecordingExecutor, Result
from kube6.facts import Probe, gather
from kube6.facts import network as net_probes
from kube6.facts import system as sys_probes
from kube6.facts.dns import RESOLV_CONF, connect_argv, lookup_probe

DATA = Path(__file__).parent / "data"


def ok(name: str) -> Result:
    return Result(0, (DATA / name).read_text(), "")


def recorded_host() -> RecordingExecutor:
    ex = RecordingExecutor(host="node0001")
    replies: dict[Probe[Any], Result] = {
        sys_probes.OS_RELEASE: ok("os-release-ubuntu2404.txt"),
        sys_probes.UNAME: Result(0, "node0001 6.8.0-45-generic x86_64\n", ""),
        net_probes.ADDRESSES: ok("ip-addr-multi.json"),
        net_probes.ROUTES: ok("ip-route-ra.json"),
        net_probes.IPV6_CONF: ok("sysctl-netns.txt"),
        sys_probes.MODULES: Result(0, "== proc\noverlay 1 0 - Live 0x0\n== sys\n== builtin\n", ""),
        sys_probes.SWAPS: ok("proc-swaps-one.txt"),
        # Before the first install only /var/lib exists: stat says so on stderr, exit code 1.
        sys_probes.DISKS: Result(
            1, (DATA / "stat-f-fresh.txt").read_text(), "stat: cannot read file system ..."
        ),
        sys_probes.CGROUP: Result(0, "cgroup2fs\n", ""),
        net_probes.LISTENERS: ok("ss-listening.txt"),
        RESOLV_CONF: ok("resolv-resolved-stub.txt"),
        sys_probes.PACKAGES: ok("dpkg-mixed.txt"),
        sys_probes.SERVICES_PROBE: ok("systemctl-show.txt"),
        lookup_probe("ipv4only.arpa"): ok("getent-dns64.txt"),
        lookup_probe("ghcr.io"): Result(0, "64:ff9b::8c52:7422 STREAM ghcr.io\n", ""),
        lookup_probe("quay.io"): Result(0, "2600:1f18:483:cf00::1 STREAM quay.io\n", ""),
        lookup_probe("nowhere.example"): Result(2, "", ""),
    }
    for probe, result in replies.items():
        ex.replies[probe.argv] = result
    ex.files["/run/systemd/resolve/resolv.conf"] = (
        (DATA / "resolv-resolved-upstream.txt").read_text(),
        0o644,
    )
    return ex


def test_gather_from_recorded_outputs() -> None:
    ex = recorded_host()
    ex.reply(connect_argv(IPv6Address("64:ff9b::8c52:7422"), 443, 5))
    ex.reply(
        connect_argv(IPv6Address("2600:1f18:483:cf00::1"), 443, 5),
        exit_code=124,
    )
    facts = asyncio.run(
        gather(ex, "node0001", lookups=["ghcr.io", "quay.io", "nowhere.example", "ghcr.io"])
    )
    assert facts.unknown == {}
    assert facts.host == facts.node == "node0001"
    assert facts.os is not None
    assert facts.os.id == "ubuntu"
    assert facts.cgroup == 2
    assert facts.disks == (
        sys_probes.Filesystem("/var/lib", "aad79a65adc1a142", 66053021 * 4096, 14256874 * 4096),
    )
    assert facts.sysctl("uplink0", "accept_ra") == 2
    assert facts.sysctl("nope", "accept_ra") is None
    assert [r.dev for r in facts.default_routes] == ["uplink0"]
    assert facts.resolved_conf is not None
    assert not facts.resolved_conf.stub
    assert facts.nat64 is not None
    assert facts.nat64.prefix == IPv6Network("64:ff9b::/96")
    assert [x.name for x in facts.lookups] == ["ghcr.io", "quay.io", "nowhere.example"]
    ghcr, quay, nowhere = facts.lookups
    assert ghcr.connect is True
    assert quay.connect is False
    assert "timed out" in quay.connect_detail
    assert nowhere.error
    assert nowhere.connect is None


def test_missing_tools_and_broken_output_make_facts_unknown_not_crashes() -> None:
    ex = recorded_host()
    ex.reply(net_probes.LISTENERS.argv, exit_code=127, stderr="ss: command not found")
    ex.reply(sys_probes.SERVICES_PROBE.argv, exit_code=1, stderr="System has not been booted")
    ex.reply(net_probes.ADDRESSES.argv, stdout='[{"ifname": "eth0", "addr_info": [')
    facts = asyncio.run(gather(ex, "node0001", connect=False))
    assert facts.listeners is None
    assert "ss is not installed" in facts.why_unknown("listeners")
    assert facts.services is None
    assert "System has not been booted" in facts.why_unknown("services")
    assert facts.interfaces is None
    assert "not JSON" in facts.why_unknown("addresses")
    assert facts.routes is not None  # the others are still read


def test_gather_this_machine_for_real() -> None:
    facts = asyncio.run(gather(LocalExecutor("here"), "node0001", connect=False))
    # Whatever this machine is, these can always be read on a Linux host with iproute2.
    assert facts.uname is not None
    assert facts.interfaces is not None
    assert facts.routes is not None
    assert facts.swaps is not None
    assert facts.disks is not None
    assert sys_probes.filesystem_of(facts.disks, sys_probes.CONTAINERD_ROOT) is not None
    assert "lookup ipv4only.arpa" not in facts.unknown or facts.nat64 is None


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"k6g-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.lab
def test_gather_inside_a_network_namespace(namespace: str) -> None:
    def ip(*args: str) -> None:
        subprocess.run(["ip", "-n", namespace, *args], check=True)

    ip("link", "add", "up0", "type", "veth", "peer", "name", "up1")
    ip("link", "set", "up0", "up")
    ip("link", "set", "up1", "up")
    ip("addr", "add", "2001:db8:1234:5678::1/64", "dev", "up0", "nodad")
    ip("-6", "route", "add", "default", "via", "fe80::1", "dev", "up0", "proto", "ra")
    ex = NetnsExecutor(namespace, host="node0001")
    asyncio.run(ex.run(Command(("sysctl", "-qw", "net.ipv6.conf.up0.accept_ra=2"))))
    facts = asyncio.run(gather(ex, "node0001", connect=False))
    assert facts.host == "node0001"
    up0 = facts.interface("up0")
    assert up0 is not None
    assert [str(a.address) for a in up0.addresses if a.stable] == ["2001:db8:1234:5678::1"]
    (default,) = facts.default_routes
    assert default.from_ra
    assert facts.sysctl("up0", "accept_ra") == 2
    assert facts.listeners == ()
