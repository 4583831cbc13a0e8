"""`verify_objects` against a real IPv6-only kube-apiserver on ::1 (the k8s tier).

A control plane of its own (not the session's shared one: this module installs CRDs and
objects): a node and a pod shaped as planned pass every object check; an IPv6 Service that asks
for dual stack, a node with an IPv4 InternalIP and a pod outside the pools are each caught by
their own check with the right fix. The API server itself refuses IPv4 Services, so the broken
Service is the dual-stack one that it does accept.

Calico, cert-manager and Gateway API are stood in for by minimal CRDs of the same group, kind
and scope (any fields accepted): verify lists them as generic resources, which is what is under
test here; the upstream CRDs are the render tests' business.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace, Node, Pod, Service
from lightkube.types import PatchType

from kube6 import net
from kube6.plan.model import Plan
from kube6.usecases.verify import verify_objects
from kube6.verify.fetch import resource
from kube6.verify.objects import CustomKind
from kube6.verify.result import CheckResult, Status
from tests.k8s.conftest import control_plane_plan, k8s_binaries
from tests.k8s.controlplane import Binaries, ControlPlane, control_plane
from tests.verify import fixtures as fx

pytestmark = pytest.mark.k8s

__all__ = ["control_plane_plan", "k8s_binaries"]  # fixtures shared with the k8s tier

WAIT = 90.0


def _decode(kind: Any, obj: dict[str, Any]) -> Any:
    return kind.from_dict(obj)


def _until(what: str, probe: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:g} s")
        time.sleep(0.5)


def _stand_in_crd(kind: CustomKind) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        # Groups under k8s.io are protected: the API server wants this annotation.
        "metadata": {
            "name": kind.crd,
            "annotations": {"api-approved.kubernetes.io": "unapproved, kube6 test stand-in"},
        },
        "spec": {
            "group": kind.group,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "names": {
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
            },
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def _established(client: Client, kind: CustomKind) -> bool:
    crd = client.get(CustomResourceDefinition, kind.crd)
    conditions = crd.status.conditions if crd.status else None
    return any(c.type == "Established" and c.status == "True" for c in conditions or [])


@pytest.fixture(scope="module")
def cluster(
    control_plane_plan: Plan, k8s_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane with the stand-in CRDs and every object of a cluster as planned."""
    workdir: Path = tmp_path_factory.mktemp("verify-control-plane")
    try:
        with control_plane(control_plane_plan, workdir, k8s_binaries) as cp:
            _shape_as_planned(cp.client(), control_plane_plan)
            yield cp
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _shape_as_planned(client: Client, plan: Plan) -> None:
    kinds = tuple(fx.KINDS.values())
    for kind in kinds:
        client.create(_decode(CustomResourceDefinition, _stand_in_crd(kind)))
    for kind in kinds:
        _until(f"CRD {kind.crd} established", lambda k=kind: _established(client, k))
    raw = fx.healthy(plan)
    for namespace in {g["metadata"]["namespace"] for g in raw["gateways"]}:
        client.create(Namespace(metadata=ObjectMeta(name=namespace)))
    for key, kind in fx.KINDS.items():
        make = resource(kind)
        for obj in raw[key]:
            if kind.namespaced:
                client.create(make(obj), namespace=obj["metadata"]["namespace"])
            else:
                client.create(make(obj))
    # kubeadm's CoreDNS add-on would create kube-dns on the planned DNS address.
    client.create(_decode(Service, fx.service("kube-system", "kube-dns", str(plan.dns))))
    node = plan.nodes[0]
    _add_node(client, node.name, str(node.address))
    # The controller-manager (nodeipam) gives the node its pod CIDR from the planned range.
    _until(
        f"a podCIDR for {node.name}",
        lambda: (n := client.get(Node, node.name)).spec is not None and n.spec.podCIDRs,
    )
    pool = plan.pools[0]
    _add_pod(client, "web", node.name, str(net.nth(pool.cidr, 2)))


def _add_node(client: Client, name: str, address: str) -> None:
    """A node as kubelet registers it: then its status (a subresource) as kubelet reports it."""
    raw = fx.node(name, address)
    client.create(_decode(Node, {"metadata": raw["metadata"], "spec": {}}))
    client.patch(Node.Status, name, {"status": raw["status"]}, patch_type=PatchType.MERGE)


def _add_pod(client: Client, name: str, node: str, address: str) -> None:
    """A pod bound to `node` whose status says `address`, as a kubelet would report it."""
    raw = fx.pod("default", name, node, (address,))
    spec = {"nodeName": node, "containers": raw["spec"]["containers"]}
    client.create(_decode(Pod, {"metadata": raw["metadata"], "spec": spec}), namespace="default")
    status = {k: raw["status"][k] for k in ("phase", "podIP", "podIPs")}
    client.patch(
        Pod.Status, name, {"status": status}, namespace="default", patch_type=PatchType.MERGE
    )


def _results(cp: ControlPlane) -> dict[str, CheckResult]:
    return {r.name: r for r in verify_objects(cp.plan, cp.client(), where="the test API server")}


def _failures(cp: ControlPlane) -> dict[str, CheckResult]:
    return {n: r for n, r in _results(cp).items() if r.status is Status.FAIL}


def test_a_cluster_shaped_as_planned_passes(cluster: ControlPlane) -> None:
    found = _results(cluster)
    assert {n: (r.message, r.evidence) for n, r in found.items() if r.failed} == {}
    assert found["nodes-pod-cidrs"].status is Status.OK
    assert "2001:db8:1234:5678:8:2:" in found["nodes-pod-cidrs"].evidence
    assert found["service-kubernetes"].message.endswith(f"is on {cluster.plan.api}")
    # No kubelet, so no system pods: a warning, not a failure.
    assert found["system-pods"].status is Status.WARN


def test_dual_stack_service_is_caught(cluster: ControlPlane) -> None:
    client = cluster.client()
    raw = fx.service("default", "dual", "2001:db8:1234:5678:8:3:0:77", policy="PreferDualStack")
    del raw["spec"]["clusterIPs"], raw["spec"]["ipFamilies"]
    client.create(_decode(Service, raw))
    try:
        failures = _failures(cluster)
        assert list(failures) == ["services-ipv6"]
        assert "default/dual: ipFamilyPolicy PreferDualStack" in failures["services-ipv6"].evidence
        assert "SingleStack" in failures["services-ipv6"].fix
    finally:
        client.delete(Service, "dual", namespace="default")


def test_node_with_an_ipv4_internal_ip_is_caught(cluster: ControlPlane) -> None:
    client = cluster.client()
    _add_node(client, "node-v4", "192.0.2.7")
    try:
        found = _results(cluster)
        failures = {n for n, r in found.items() if r.failed}
        assert failures == {"nodes-addresses"}
        assert "node-v4: IPv4 address(es) InternalIP 192.0.2.7" in found["nodes-addresses"].evidence
        assert "--node-ip" in found["nodes-addresses"].fix
        assert found["nodes-registered"].status is Status.WARN
    finally:
        client.delete(Node, "node-v4")


def test_pod_outside_the_pools_is_caught(cluster: ControlPlane) -> None:
    client = cluster.client()
    _add_pod(client, "stray", cluster.plan.nodes[0].name, "fd00::5")
    try:
        failures = _failures(cluster)
        assert list(failures) == ["pod-addresses"]
        assert failures["pod-addresses"].evidence == (
            "default/stray: fd00::5 is outside the planned pools"
        )
        assert "delete the pod" in failures["pod-addresses"].fix
    finally:
        client.delete(Pod, "stray", namespace="default", grace_period=0)


def test_an_ipv4_service_cannot_even_be_created(cluster: ControlPlane) -> None:
    raw = fx.service("default", "legacy", "192.0.2.10", families=("IPv4",))
    with pytest.raises(ApiError):
        cluster.client().create(_decode(Service, raw))
