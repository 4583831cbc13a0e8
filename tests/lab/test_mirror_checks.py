"""`kube6 check` with every artifact source mirrored, against real HTTP servers in the lab.

The mirrors of tests/golden/mirrors-lab (registry on [2001:db8:ffff::10]:5000, apt and files on
[2001:db8:ffff::10]:8080) are served by Python's http.server in the lab's internet namespace;
the lab has no NAT64 and no DNS for any upstream host, like an air-gapped site. The check
resolves the mirrors' literal addresses on the node and connects to each on its own port.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

import pytest

from kube6 import spec
from kube6.checks import Status
from kube6.checks.runner import check_hosts
from kube6.components.registry import artifact_hosts
from kube6.execute import Executor
from kube6.lab import INTERNET_HOST, Lab
from kube6.plan import make_plan
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab

LAB_SPEC = Path(__file__).resolve().parents[1] / "golden" / "mirrors-lab" / "kube6.yaml"
PORTS = (5000, 8080)


def mirrored_plan() -> Plan:
    data = spec.load(LAB_SPEC).model_dump(mode="json")
    data["nodes"] = [{"name": "node0001", "address": "2001:db8:1234:5678::1"}]
    del data["mirrors"]["acme"]  # the lab runs no ACME server (issue 16)
    return make_plan(spec.from_data(data))


def test_check_reaches_every_source_through_the_mirrors(lab_env: None, tmp_path: Path) -> None:
    plan = mirrored_plan()
    assert {h.name for h in artifact_hosts(plan)} == {str(INTERNET_HOST)}
    with Lab(plan, nat64=False) as lab:
        for port in PORTS:
            lab.start(
                f"mirror-{port}",
                lab.internet,
                (
                    sys.executable,
                    "-m",
                    "http.server",
                    "--bind",
                    str(INTERNET_HOST),
                    "--directory",
                    str(tmp_path),
                    str(port),
                ),
                ready=functools.partial(lab.listening, lab.internet, port),
            )
        executors: dict[str, Executor] = {"node0001": lab.executor("node0001")}
        found = {
            r.name: r for r in asyncio.run(check_hosts(plan, executors, hosts=artifact_hosts(plan)))
        }
        result = found["artifact-hosts-reachable"]
        assert result.status is Status.OK, result
        assert "through mirrors:" in result.message
        assert "registry.k8s.io" in result.message
        # resolved on the node and connected on port 8080 (else "connection not tested")
        assert result.evidence.startswith(f"{INTERNET_HOST} port 8080 (mirror of pkgs.k8s.io")
        assert result.evidence.endswith(f"): ipv6 {INTERNET_HOST}")

        lab.stop("mirror-8080")  # the first use of the mirror host is the apt repository
        executors = {"node0001": lab.executor("node0001")}
        found = {
            r.name: r for r in asyncio.run(check_hosts(plan, executors, hosts=artifact_hosts(plan)))
        }
        down = found["artifact-hosts-reachable"]
        assert down.status is Status.FAIL
        assert f"the mirror(s) {INTERNET_HOST}" in down.fix
