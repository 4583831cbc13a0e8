"""The lab cleans up after itself: no namespace, process, file or host change is left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kube6.lab import Lab, LabError, down, lab_namespaces
from kube6.lab.machine import NETNS_ETC, namespace_pids
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab


def _host_network() -> tuple[str, str, str]:
    """The machine's own links, IPv6 routes and addresses (read only)."""

    def read(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    links = "\n".join(
        sorted(line.split(":")[1].strip() for line in read("ip", "-o", "link").splitlines())
    )
    return links, read("ip", "-6", "route"), read("ip", "-6", "-o", "addr")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_down_leaves_nothing_behind(lab_env: None, plan: Plan) -> None:
    before = _host_network()
    lab = Lab(plan, ssh=True, ndppd=True)
    with lab:
        lab.add_pod("node0001")
        namespaces = lab.namespaces
        pids = [d.pid for d in lab.daemons.values()]
        assert {"tayga", "unbound-resolver", "ndppd-node0001", "sshd-node0001"} <= set(lab.daemons)
        assert all(_alive(pid) for pid in pids)
        assert set(lab_namespaces()[lab.lab_id]) == set(namespaces)
        assert (NETNS_ETC / lab.node_ns("node0001") / "resolv.conf").exists()
        # The host saw none of this.
        assert _host_network() == before
    assert lab.lab_id not in lab_namespaces()
    assert not any(_alive(pid) for pid in pids)
    assert not lab.workdir.exists()
    assert not any((NETNS_ETC / ns).exists() for ns in namespaces)
    assert _host_network() == before


def test_failure_during_up_tears_down_what_was_built(
    lab_env: None, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = Lab(plan)

    def broken() -> None:
        assert lab.lab_id in lab_namespaces()  # the namespaces exist by now
        raise LabError("tayga broke")

    monkeypatch.setattr(lab, "_start_tayga", broken)
    with pytest.raises(LabError, match="tayga broke"):
        lab.up()
    assert lab.lab_id not in lab_namespaces()
    assert not lab.workdir.exists()


def test_down_by_id_finds_a_lab_that_was_left_running(lab_env: None, plan: Plan) -> None:
    lab = Lab(plan).up()  # as `kube6 lab up` does: no context manager, daemons outlive us
    pids = [d.pid for d in lab.daemons.values()]
    namespaces = lab.namespaces
    try:
        assert down(lab.lab_id) is True
        assert down(lab.lab_id) is False  # nothing of it is left
        assert lab.lab_id not in lab_namespaces()
        for daemon in lab.daemons.values():
            daemon.process.wait(5)  # reap our own children: they were killed by pid
        assert not any(_alive(pid) for pid in pids)
        assert not any(namespace_pids(ns) for ns in namespaces)
        assert not Path(lab.workdir).exists()
    finally:
        lab.down()


def test_refuses_commands_outside_its_namespaces(lab_env: None, plan: Plan) -> None:
    with Lab(plan) as lab:
        with pytest.raises(LabError, match="not confined"):
            lab._run(("ip", "link", "add", "x", "type", "dummy"))
        with pytest.raises(LabError, match="not confined"):
            lab.run("k6-ffff-elsewhere", ("true",))


def test_a_taken_id_is_refused_when_chosen_and_avoided_when_not(lab_env: None, plan: Plan) -> None:
    with Lab(plan) as first:
        with pytest.raises(LabError, match="already exists"):
            Lab(plan, lab_id=first.lab_id).up()
        assert first.lab_id in lab_namespaces()  # the refused lab removed nothing
        second = Lab(plan)
        second._use_id(first.lab_id)  # as if another process had just taken this id
        with second:
            assert second.lab_id != first.lab_id
            assert second.lab_id in lab_namespaces()
