"""A control plane for a plan whose nodes sit on links of their own (one pool per prefix).

There, kube6 turns node CIDR allocation off (node.spec.podCIDR would mean nothing; Calico IPAM
hands out addresses from each node's pool). The real controller-manager, started with what
the plan says, must then leave nodes without a podCIDR, and the API server still allocates
Services from the planned range.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Service

from kube6 import spec
from kube6.plan import make_plan
from kube6.plan.model import Plan
from tests.k8s.controlplane import Binaries, ControlPlane, control_plane

pytestmark = pytest.mark.k8s

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SETTLE = 5.0
"""Seconds to give the controller-manager to (wrongly) allocate after a node appears."""


@pytest.fixture(scope="module")
def own_prefixes_plan() -> Plan:
    text = (GOLDEN / "own-prefixes-ndp" / "kube6.yaml").read_text()
    plan = make_plan(spec.parse_text(text, source="kube6.yaml"), source="kube6.yaml")
    assert plan.ok, [str(f) for f in plan.failures]
    assert not plan.allocate_node_cidrs
    assert len(plan.pools) > 1
    return plan


@pytest.fixture(scope="module")
def own_prefixes_control_plane(
    own_prefixes_plan: Plan, k8s_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    workdir = tmp_path_factory.mktemp("own-prefixes-control-plane")
    try:
        with control_plane(own_prefixes_plan, workdir, k8s_binaries) as cp:
            yield cp
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_nodes_get_no_pod_cidr_when_the_plan_turns_allocation_off(
    own_prefixes_control_plane: ControlPlane,
) -> None:
    cp = own_prefixes_control_plane
    client = cp.client()
    names = [n.name for n in cp.plan.nodes]
    for name in names:
        client.create(Node(metadata=ObjectMeta(name=name)))
    time.sleep(SETTLE)
    cp.assert_running()
    for name in names:
        node = client.get(Node, name)
        assert node.spec is not None
        assert not node.spec.podCIDRs, f"{name} got {node.spec.podCIDRs}"


def test_services_still_come_from_the_planned_range(
    own_prefixes_control_plane: ControlPlane,
) -> None:
    cp = own_prefixes_control_plane
    svc = cp.client().create(
        Service(
            metadata=ObjectMeta(name="probe", namespace="default"),
            spec=ServiceSpec(ports=[ServicePort(port=443)]),
        )
    )
    assert svc.spec is not None
    (address,) = svc.spec.clusterIPs or []
    assert ip_address(address) in cp.plan.services
    kubernetes = cp.client().get(Service, "kubernetes", namespace="default")
    assert kubernetes.spec is not None
    assert ip_address(kubernetes.spec.clusterIP or "") == cp.plan.api
