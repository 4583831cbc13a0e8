"""`kube6 lab up|status|down` in-process."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kube6.cli.app import run
from kube6.lab import Lab, lab_namespaces, machine
from kube6.lab.machine import workdir_of
from kube6.plan.model import Plan
from kube6.spec import EXAMPLE_YAML


def test_lab_refuses_to_run_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert run(["lab", "up"]) == 1
    err = capsys.readouterr().err
    assert "needs root" in err
    assert "sudo kube6 lab up" in err


@pytest.mark.lab
def test_up_status_down(lab_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "kube6.yaml"
    spec.write_text(EXAMPLE_YAML)
    assert run(["lab", "up", "--spec", str(spec), "--pods", "1"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"lab ([0-9a-f]{4}) is up", out)
    assert match, out
    lab_id = match.group(1)
    try:
        assert lab_id in lab_namespaces()
        assert "ping -c 2 2001:db8:1234:5678:8:2:0:1" in out
        assert run(["lab", "status"]) == 0
        status = capsys.readouterr().out
        assert f"lab {lab_id}: node0001 2001:db8:1234:5678::1" in status
        assert re.search(rf"k6-{lab_id}-node0001: \d+ ndppd", status), status
        assert re.search(rf"k6-{lab_id}-nat64: .*tayga", status), status
        assert run(["lab", "down", "nothex"]) == 2
        assert "'nothex' is not a lab id" in capsys.readouterr().err
        assert lab_id in lab_namespaces()  # a bad id removes nothing
    finally:
        assert run(["lab", "down", lab_id]) == 0
    assert f"removed lab(s): {lab_id}" in capsys.readouterr().out
    # Only this test's lab is judged: other sessions' labs come and go on a shared machine (a
    # check that no lab appeared meanwhile failed when one did).
    assert lab_id not in lab_namespaces()


def test_down_takes_an_id_or_all_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lab", "down", "1a2b", "--all"]) == 2
    err = capsys.readouterr().err
    assert "both a lab id (1a2b) and --all" in err
    assert "give one lab id, --abandoned or --all alone" in err


def test_down_with_a_bad_id_is_a_usage_error_even_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert run(["lab", "down", "nothex"]) == 2
    err = capsys.readouterr().err
    assert "'nothex' is not a lab id (4 hex digits)" in err
    assert "kube6 lab status" in err
    assert "needs root" not in err


def test_up_with_an_unknown_link_model_is_a_usage_error_before_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert run(["lab", "up", "--link", "unknown"]) == 2
    err = capsys.readouterr().err
    assert "--link 'unknown' is not a link model" in err
    assert "use --link on-link or routed" in err
    assert "needs root" not in err
    assert run(["lab", "up", "--internet-mtu", "1000"]) == 2


def _unused_id() -> str:
    while True:
        candidate = secrets.token_hex(2)
        if candidate not in machine.lab_ids():
            return candidate


@pytest.mark.lab
def test_down_without_an_id_refuses_and_lists_the_labs(
    lab_env: None, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    with Lab(plan) as lab:
        daemons = [d.process for d in lab.daemons.values()]
        assert run(["lab", "down"]) == 2
        err = capsys.readouterr().err
        assert "needs the id of the lab to remove" in err
        assert re.search(rf"labs on this machine: .*\b{lab.lab_id}\b", err), err
        assert "kube6 lab down --all" in err
        # Nothing was removed.
        assert set(lab_namespaces()[lab.lab_id]) == set(lab.namespaces)
        assert lab.workdir.exists()
        assert all(p.poll() is None for p in daemons)
    absent = _unused_id()
    assert run(["lab", "down", absent]) == 0
    assert f"no lab {absent} on this machine" in capsys.readouterr().err


@pytest.mark.lab
def test_down_all_removes_every_lab(
    lab_env: None, plan: Plan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = Lab(plan).up()  # left running, as `kube6 lab up` leaves it
    leftover = _unused_id()
    workdir_of(leftover).mkdir()  # what a killed run leaves when its namespaces are gone
    try:
        mine = sorted([lab.lab_id, leftover])
        assert set(mine) <= set(machine.lab_ids())  # found for real, by namespace and by folder
        # Stands in for a machine on which these are the only labs: other sessions' test runs
        # share this one, and a real --all would remove their labs under them.
        monkeypatch.setattr(machine, "lab_ids", lambda: mine)
        assert run(["lab", "down", "--all"]) == 0
        assert f"removed lab(s): {', '.join(mine)}" in capsys.readouterr().out
        for daemon in lab.daemons.values():
            daemon.process.wait(5)  # killed by pid; reap our own children
        assert lab.lab_id not in lab_namespaces()
        assert not lab.workdir.exists()
        assert not workdir_of(leftover).exists()
    finally:
        lab.down()
        shutil.rmtree(workdir_of(leftover), ignore_errors=True)


@pytest.mark.lab
def test_status_lists_a_leftover_folder(lab_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    leftover = _unused_id()
    workdir_of(leftover).mkdir()  # what a killed run leaves when its namespaces are gone
    try:
        assert run(["lab", "status"]) == 0
        out = capsys.readouterr().out
        assert f"lab {leftover}: leftover folder, no namespaces" in out, out
        assert f"`kube6 lab down {leftover}` removes it" in out
        assert f"k6-{leftover}-" not in out
    finally:
        shutil.rmtree(workdir_of(leftover), ignore_errors=True)
    assert run(["lab", "status"]) == 0
    assert f"lab {leftover}" not in capsys.readouterr().out


BGP_SPEC = EXAMPLE_YAML.replace("routing: ndp-proxy", "routing: bgp")


@pytest.mark.lab
def test_a_bgp_spec_gets_a_lab_router_that_speaks_bgp(
    lab_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`kube6 lab up` for routing bgp: the router runs BIRD at bgp.peer (which must be its
    address: the refusal names it); `--bgp-router` on another routing mode is refused."""
    assert "routing: ndp-proxy" in EXAMPLE_YAML
    spec = tmp_path / "kube6.yaml"
    spec.write_text(EXAMPLE_YAML)
    assert run(["lab", "up", "--spec", str(spec), "--bgp-router"]) == 2
    assert "--bgp-router with routing ndp-proxy" in capsys.readouterr().err
    spec.write_text(BGP_SPEC + "bgp: {peer: '2001:db8:1234:5678::fe', peer_as: 65001}\n")
    assert run(["lab", "up", "--spec", str(spec), "--pods", "0"]) == 1
    err = capsys.readouterr().err
    found = re.search(r"set bgp.peer: (\S+) in kube6.yaml", err)
    assert found, err
    assert "--no-bgp-router" in err
    spec.write_text(BGP_SPEC + f"bgp: {{peer: '{found.group(1)}', peer_as: 65001}}\n")
    assert run(["lab", "up", "--spec", str(spec), "--pods", "0"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"lab ([0-9a-f]{4}) is up", out)
    assert match, out
    lab_id = match.group(1)
    try:
        assert f"BGP router {found.group(1)} (AS 65001)" in out
        shown = re.search(r"ip netns exec (\S+) birdc -s (\S+) show protocols", out)
        assert shown, out
        protocols = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                shown.group(1),
                "birdc",
                "-s",
                shown.group(2),
                "show",
                "protocols",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "node_node0001" in protocols, protocols
    finally:
        assert run(["lab", "down", lab_id]) == 0


@pytest.mark.lab
def test_down_abandoned_removes_only_what_killed_runs_left(
    lab_env: None, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lab in use (processes in its namespaces) stays; a killed run's namespaces without a
    process and its quiet folder go; a folder written a moment ago stays (a lab being built)."""
    killed, building = _unused_id(), _unused_id()
    with Lab(plan) as lab:
        namespace = f"k6-{killed}-cp1"
        subprocess.run(["ip", "netns", "add", namespace], check=True, timeout=30)
        try:
            workdir_of(killed).mkdir()
            (workdir_of(killed) / "state.json").write_text("{}")
            an_hour_ago = time.time() - 3600
            for path in (workdir_of(killed) / "state.json", workdir_of(killed)):
                os.utime(path, (an_hour_ago, an_hour_ago))
            workdir_of(building).mkdir()
            # Old enough by the clock, but the running lab has processes: it is never taken.
            os.utime(lab.workdir, (an_hour_ago, an_hour_ago))
            found = machine.abandoned_labs()
            assert killed in found
            assert building not in found
            assert lab.lab_id not in found
            assert run(["lab", "down", "--abandoned"]) == 0
            assert killed in capsys.readouterr().out
            assert killed not in lab_namespaces()
            assert not workdir_of(killed).exists()
            assert workdir_of(building).exists()
            assert set(lab_namespaces()[lab.lab_id]) == set(lab.namespaces)
            assert all(d.process.poll() is None for d in lab.daemons.values())
        finally:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
            for lab_id in (killed, building):
                shutil.rmtree(workdir_of(lab_id), ignore_errors=True)
    assert run(["lab", "down", "--abandoned", "--all"]) == 2
    assert "both --all and --abandoned" in capsys.readouterr().err
