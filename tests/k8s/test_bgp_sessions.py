"""`calico-bgp-sessions` on CalicoNodeStatus objects that Calico's own CRD accepted (the k8s tier).

The unit tests (tests/verify/test_objects.py) judge the check on fixture dicts shaped as
calico-node writes them; here those dicts go through the real kube-apiserver and Calico's
crd.projectcalico.org/v1 schema (created, then their status written through the status
subresource as calico-node does), and verify's fetch lists them back: a field the schema does
not know, or a shape the fetch does not return, fails here. calico-node itself (BIRD and its
status reporter) does not run in this tier, nor in the e2e one (docs/STATUS.md: no BIRD
templates): what fills the status for real is UNVERIFIED.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lightkube import Client
from lightkube.types import PatchType

from kube6 import spec
from kube6.components.calico.checks import NODE_STATUS, check_bgp_sessions
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify.fetch import fetch_objects, resource
from kube6.verify.result import Status
from tests.conftest import judged_against, unverified
from tests.k8s.upstream import Installed, Upstream
from tests.verify import fixtures as fx

pytestmark = pytest.mark.k8s

ROUTER = "2001:db8:1234:5678::fffe"


@pytest.fixture
def bgp_plan() -> Plan:
    data = spec.example().model_dump(mode="json", exclude_none=True)
    data["routing"] = "bgp"
    data["bgp"] = {"peer": ROUTER, "peer_as": 65001}
    plan = make_plan(spec.from_data(data))
    assert plan.ok, plan.failures
    return plan


@pytest.fixture
def statuses(installed: Installed, upstream: Upstream) -> Iterator[Client]:
    """The admin client; every CalicoNodeStatus written through it is deleted afterwards."""
    if "calico" not in installed.crds:
        unverified("CalicoNodeStatus against Calico's CRD", upstream.missing("calico"))
    client = installed.client
    yield client
    for obj in client.list(resource(NODE_STATUS)):
        client.delete(resource(NODE_STATUS), obj.metadata.name)


def _write(client: Client, raw: dict[str, Any]) -> None:
    """Create the object, then write its status as calico-node does (the status subresource)."""
    kind = resource(NODE_STATUS)
    client.create(kind({k: raw[k] for k in ("apiVersion", "kind", "metadata", "spec")}))
    client.patch(
        kind.Status, raw["metadata"]["name"], {"status": raw["status"]}, patch_type=PatchType.MERGE
    )


def test_the_check_reads_statuses_as_calicos_crd_keeps_them(
    statuses: Client, bgp_plan: Plan, installed: Installed
) -> None:
    for raw in fx.healthy(bgp_plan)["node_statuses"]:
        _write(statuses, raw)
    result = check_bgp_sessions(bgp_plan, fetch_objects(statuses, [NODE_STATUS]))
    assert result.status is Status.OK, (result.message, result.evidence)
    assert f"router {ROUTER} Established" in result.evidence

    node = bgp_plan.nodes[0].name
    statuses.patch(
        resource(NODE_STATUS).Status,
        f"kube6-bgp-{node}",
        {"status": fx.node_status(node, ROUTER, [], "Active")["status"]},
        patch_type=PatchType.MERGE,
    )
    result = check_bgp_sessions(bgp_plan, fetch_objects(statuses, [NODE_STATUS]))
    assert result.status is Status.FAIL, result
    assert f"{node}: the session with the router {ROUTER} is Active" in result.evidence
    if "calico" in installed.notes:
        judged_against("CalicoNodeStatus fixtures", installed.notes["calico"])
