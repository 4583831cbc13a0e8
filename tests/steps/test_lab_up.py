"""`up` and `reset` for real on network-namespace nodes (needs root; `pytest -m lab`).

What runs for real: host/sysctl, routing (config + ndppd), firewall/rules, on node0001 through
NetnsExecutor and on node0002 over SSH (asyncssh from the lab's internet namespace to sshd in
the node). What stands in for a real host: namespaces share this machine's file system, so
every file kube6 writes goes under a per-node root folder, and there is no systemd, so the
lab's executor answers `systemctl` itself: ndppd runs as a daemon with a pid file, `enable`
makes the link systemd would make (`kube6.lab.systemd.namespace_node`). The steps are the
ones a real host runs, unchanged. Kernel-global steps (host/modules, host/swap) and package
steps (apt) are not run here: their unit tests in this folder are the truth for them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kube6.components.registry import RESET_STEPS, UP_STEPS, make_contexts
from kube6.execute.base import Executor
from kube6.facts import gather
from kube6.lab import Lab, lab_namespaces, missing_programs
from kube6.lab.process import in_namespace
from kube6.lab.systemd import namespace_node
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data
from kube6.steps import Report, RunOptions, Status, run_steps

pytestmark = pytest.mark.lab

ONLY = ("host/sysctl", "routing", "firewall")
FORWARDING = ("net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding")
TWO_NODES = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": "node0001", "address": "2001:db8:1234:5678::1"},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
    ],
}


@pytest.fixture(scope="module")
def lab_plan() -> Plan:
    return make_plan(from_data(TWO_NODES), source="two-node lab")


@pytest.fixture(scope="module")
def lab(lab_plan: Plan) -> Iterator[Lab]:
    if os.environ.get("KUBE6_SKIP_LAB") == "1":
        pytest.skip("KUBE6_SKIP_LAB=1: network-namespace lab tests were explicitly NOT run")
    if os.geteuid() != 0:
        pytest.fail("lab tests need root; run as root or set KUBE6_SKIP_LAB=1 to skip them")
    missing = missing_programs()
    if missing:
        pytest.fail(f"lab tests need {', '.join(missing)}: run tests/lab/install-packages.sh")
    with Lab(lab_plan, ssh=True) as built:
        # A starting state that `up` must change and `reset` must bring back.
        for node in built.layout.nodes:
            for key in FORWARDING:
                built.sysctl(node.namespace, key, 0)
        yield built
    assert built.lab_id not in lab_namespaces(), "the lab left namespaces behind"


def executors(lab: Lab) -> dict[str, Executor]:
    return {"node0001": lab.executor("node0001"), "node0002": lab.ssh_executor("node0002")}


def run(lab: Lab, plan: Plan, steps: Any, root: Path, **kw: Any) -> Report:
    """One run of `steps` on both nodes, from the lab's internet namespace (for SSH)."""

    async def go() -> Report:
        exs = {name: namespace_node(ex, root / name) for name, ex in executors(lab).items()}
        options = RunOptions(**kw)
        try:
            return await run_steps(steps, make_contexts(plan, exs, options), only=kw_only(steps))
        finally:
            for ex in exs.values():
                await ex.close()

    return in_namespace(lab.internet, lambda: asyncio.run(go()))


def kw_only(steps: Any) -> tuple[str, ...]:
    return ONLY if steps is UP_STEPS else ()


def snapshot(lab: Lab, root: Path) -> dict[str, Any]:
    """What up may change and reset must restore: kernel settings, routes, tables, daemons, files."""

    async def facts(name: str) -> Any:
        ex = lab.executor(name)
        return await gather(ex, name, connect=False)

    out: dict[str, Any] = {}
    for node in lab.layout.nodes:
        hf = asyncio.run(facts(node.name))
        ns = node.namespace
        tables = subprocess.run(
            ["ip", "netns", "exec", ns, "nft", "list", "tables"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        pids = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, check=True
        ).stdout.split()
        daemons = sorted(
            Path(f"/proc/{p}/comm").read_text().strip() for p in pids if Path(f"/proc/{p}").exists()
        )
        out[node.name] = {
            "ipv6_conf": hf.ipv6_conf,
            "routes": hf.routes,
            "default": hf.default_routes,
            "interfaces": hf.interfaces,
            "tables": tables,
            "ndppd": daemons.count("ndppd"),
        }
    out["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return out


def test_up_twice_then_reset(lab: Lab, lab_plan: Plan, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    before = snapshot(lab, root)
    assert before["node0001"]["default"], "the lab node needs a default route to start with"

    first = run(lab, lab_plan, UP_STEPS, root)
    assert first.ok, [
        (r.host, r.step, r.detail) for r in first.results if r.status is Status.FAILED
    ]
    assert {(r.host, r.step) for r in first.results if r.status is Status.CHANGED} >= {
        ("node0001", "host/sysctl"),
        ("node0002", "host/sysctl"),
        ("node0001", "routing/config"),
        ("node0002", "routing/config"),
        ("node0001", "firewall/rules"),
        ("node0002", "firewall/rules"),
    }
    during = snapshot(lab, root)
    for node in ("node0001", "node0002"):
        conf = during[node]["ipv6_conf"]
        assert conf["all"]["forwarding"] == 1
        assert conf["eth0"]["accept_ra"] == 2
        assert "table ip6 kube6" in during[node]["tables"]
        assert during[node]["ndppd"] == 1
        assert during[node]["default"] == before[node]["default"]  # the default route survived
    assert "node0002/etc/ndppd.conf" in during["files"]
    assert "node0002/var/lib/kube6/sysctl-before.conf" in during["files"]

    second = run(lab, lab_plan, UP_STEPS, root)
    assert second.ok
    assert not second.changed
    assert {r.status for r in second.results} == {Status.OK}
    assert snapshot(lab, root) == during

    undo = run(lab, lab_plan, RESET_STEPS, root)
    assert undo.ok, [r for r in undo.results if r.status is Status.FAILED]
    after = snapshot(lab, root)
    assert after == before
    again = run(lab, lab_plan, RESET_STEPS, root)
    assert {r.status for r in again.results} == {Status.OK}


def test_dry_run_on_real_nodes_changes_nothing(lab: Lab, lab_plan: Plan, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    before = snapshot(lab, root)
    report = run(lab, lab_plan, UP_STEPS, root, dry_run=True)
    assert report.ok
    assert Status.PLANNED in {r.status for r in report.results}
    assert snapshot(lab, root) == before
