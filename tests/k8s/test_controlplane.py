"""The IPv6-only control plane started from kube6's plan hands out what the plan says.

Real kube-apiserver and kube-controller-manager (built by tests/k8s/build.sh) decide here: the
`kubernetes` Service address, Service addresses and node pod CIDRs all come from the planned
ranges, or these tests fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network, ip_address, ip_network

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import Container, PodSpec, ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.conftest import k8s_binary
from tests.k8s.controlplane import LOOPBACK, ControlPlane, delete_if_present, kwok, listening

pytestmark = pytest.mark.k8s

NODE_COUNT = 200
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
NODE_LABEL = "kube6.io/k8s-tier"
ALLOCATION_TIMEOUT = 120.0


def test_every_component_listens_on_loopback_only(k8s_control_plane: ControlPlane) -> None:
    sockets = listening(list(k8s_control_plane.pids.values()))
    assert sockets, f"no listening socket found for {k8s_control_plane.pids}"
    for pid, local in sockets:
        host = local.rsplit(":", 1)[0].strip("[]")
        assert host == LOOPBACK, f"pid {pid} ({k8s_control_plane.pids}) listens on {local}"
    ports = {int(local.rsplit(":", 1)[1]) for _, local in sockets}
    assert {k8s_control_plane.api_port, k8s_control_plane.etcd_port} <= ports


def test_kubernetes_service_is_on_the_planned_api_address(
    k8s_control_plane: ControlPlane,
) -> None:
    plan = k8s_control_plane.plan
    svc = k8s_control_plane.client().get(Service, "kubernetes", namespace="default")
    assert svc.spec is not None
    assert IPv6Address(svc.spec.clusterIP) == plan.api
    assert svc.spec.ipFamilies == ["IPv6"]
    assert svc.spec.ipFamilyPolicy == "SingleStack"


def test_the_kubernetes_endpoints_are_the_planned_control_plane_address(
    k8s_control_plane: ControlPlane,
) -> None:
    plan = k8s_control_plane.plan
    client = k8s_control_plane.client()
    slices = list(
        client.list(
            EndpointSlice,
            namespace="default",
            labels={"kubernetes.io/service-name": "kubernetes"},
        )
    )
    assert [s.addressType for s in slices] == ["IPv6"]
    addresses = [a for s in slices for e in s.endpoints or [] for a in e.addresses]
    assert addresses == [str(plan.first_control_plane.address)]


def test_the_planned_dns_address_can_be_kube_dns(k8s_control_plane: ControlPlane) -> None:
    """What kubeadm's CoreDNS add-on does: kube-dns on plan.dns, accepted by the allocator."""
    plan = k8s_control_plane.plan
    client = k8s_control_plane.client()
    created = client.create(
        Service(
            metadata=ObjectMeta(name="kube-dns", namespace="kube-system"),
            spec=ServiceSpec(
                clusterIP=str(plan.dns),
                ports=[ServicePort(name="dns", port=53, protocol="UDP")],
                selector={"k8s-app": "kube-dns"},
            ),
        )
    )
    try:
        assert created.spec is not None
        assert created.spec.clusterIPs == [str(plan.dns)]
    finally:
        client.delete(Service, "kube-dns", namespace="kube-system")


def test_a_new_service_gets_a_single_stack_ipv6_address_in_the_planned_range(
    k8s_control_plane: ControlPlane,
) -> None:
    plan = k8s_control_plane.plan
    client = k8s_control_plane.client()
    created = client.create(
        Service(
            metadata=ObjectMeta(name="kube6-probe", namespace="default"),
            spec=ServiceSpec(ports=[ServicePort(port=80)], selector={"app": "kube6-probe"}),
        )
    )
    try:
        assert created.spec is not None
        (address,) = created.spec.clusterIPs or []
        assert ip_address(address) in plan.services
        assert ip_address(address) != plan.api
        assert created.spec.ipFamilies == ["IPv6"]
        assert created.spec.ipFamilyPolicy == "SingleStack"
    finally:
        client.delete(Service, "kube6-probe", namespace="default")


def test_the_api_server_refuses_ipv4_services(k8s_control_plane: ControlPlane) -> None:
    """Single-stack IPv6 for real: asking for IPv4 is an error, not a silent fallback."""
    client = k8s_control_plane.client()
    with pytest.raises(ApiError) as refused:
        client.create(
            Service(
                metadata=ObjectMeta(name="kube6-ipv4", namespace="default"),
                spec=ServiceSpec(ports=[ServicePort(port=80)], ipFamilies=["IPv4"]),
            )
        )
    assert refused.value.status.code == 422, refused.value.status


@pytest.fixture
def fake_nodes(k8s_control_plane: ControlPlane) -> Iterator[list[str]]:
    """NODE_COUNT Node objects as kwok wants them, deleted afterwards."""
    client = k8s_control_plane.client()
    names = [f"kwok-{i:04d}" for i in range(NODE_COUNT)]
    key, value = KWOK_ANNOTATION
    try:
        for name in names:
            client.create(
                Node(
                    metadata=ObjectMeta(
                        name=name,
                        annotations={key: value},
                        labels={NODE_LABEL: "fake", "type": "kwok"},
                    )
                )
            )
        yield names
    finally:
        for name in names:
            delete_if_present(client, Node, name)


def _allocated(cp: ControlPlane, count: int) -> list[Node]:
    client = cp.client()
    deadline = time.monotonic() + ALLOCATION_TIMEOUT
    while True:
        nodes = list(client.list(Node, labels={NODE_LABEL: "fake"}))
        if len(nodes) == count and all(n.spec and n.spec.podCIDRs for n in nodes):
            return nodes
        cp.assert_running()
        if time.monotonic() > deadline:
            missing = [
                n.metadata.name if n.metadata else "?"
                for n in nodes
                if not (n.spec and n.spec.podCIDRs)
            ]
            pytest.fail(
                f"after {ALLOCATION_TIMEOUT:.0f}s {len(missing)} of {count} nodes have no "
                f"podCIDR (first: {missing[:5]}):\n{cp.logs()}"
            )
        time.sleep(0.5)


def test_nodes_get_distinct_pod_cidrs_of_the_planned_mask_inside_the_pod_range(
    k8s_control_plane: ControlPlane, fake_nodes: list[str]
) -> None:
    plan = k8s_control_plane.plan
    assert plan.allocate_node_cidrs
    nodes = _allocated(k8s_control_plane, len(fake_nodes))
    cidrs: list[IPv6Network] = []
    for node in nodes:
        assert node.spec is not None
        assert node.spec.podCIDRs
        assert len(node.spec.podCIDRs) == 1, node.spec.podCIDRs
        cidr = ip_network(node.spec.podCIDRs[0])
        assert isinstance(cidr, IPv6Network)
        assert cidr.subnet_of(plan.pods), f"{node.metadata}: {cidr} outside {plan.pods}"
        assert cidr.prefixlen == plan.node_mask
        assert node.spec.podCIDR == node.spec.podCIDRs[0]
        cidrs.append(cidr)
    assert len(set(cidrs)) == len(cidrs)
    for a in cidrs:
        assert not a.overlaps(plan.services)


def _ready(node: Node) -> bool:
    conditions = node.status.conditions if node.status else None
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])


def test_kwok_runs_the_nodes_and_their_pods_get_addresses_from_their_pod_cidrs(
    k8s_control_plane: ControlPlane, fake_nodes: list[str]
) -> None:
    """kwok plays the kubelet of the fake nodes: Ready, IPv6 node address, pod addresses."""
    binary = k8s_binary("kwok")
    cp = k8s_control_plane
    plan = cp.plan
    client = cp.client()
    nodes = {n.metadata.name: n for n in _allocated(cp, len(fake_nodes)) if n.metadata}
    sample = fake_nodes[:: len(fake_nodes) // 10]
    key, value = KWOK_ANNOTATION
    with kwok(cp, binary, f"{key}={value}"):
        for name in sample:
            client.create(
                Pod(
                    metadata=ObjectMeta(name=f"web-{name}", namespace="default"),
                    spec=PodSpec(
                        nodeName=name,
                        containers=[Container(name="web", image="registry.invalid/web:1")],
                    ),
                )
            )
        deadline = time.monotonic() + ALLOCATION_TIMEOUT
        while True:
            listed = list(client.list(Node, labels={NODE_LABEL: "fake"}))
            pods = {
                p.spec.nodeName: p
                for p in client.list(Pod, namespace="default")
                if p.spec and p.status and p.status.podIPs
            }
            if all(_ready(n) for n in listed) and set(sample) <= set(pods):
                break
            cp.assert_running()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"kwok: {sum(map(_ready, listed))}/{len(listed)} nodes Ready, "
                    f"{len(pods)}/{len(sample)} pods with addresses:\n{cp.logs()}"
                )
            time.sleep(1)
    try:
        for node in listed:
            assert node.status is not None
            addresses = [a.address for a in node.status.addresses or [] if a.type.endswith("IP")]
            assert addresses == [str(plan.first_control_plane.address)], node.status.addresses
        for name in sample:
            pod = pods[name]
            assert pod.status is not None
            (ip,) = [p.ip for p in pod.status.podIPs or []]
            cidr = ip_network(nodes[name].spec.podCIDRs[0])  # type: ignore[union-attr,index]
            assert ip_address(ip) in cidr, f"pod on {name}: {ip} outside its node's {cidr}"
            assert ip_address(ip) in plan.pods
    finally:
        for name in sample:
            client.delete(Pod, f"web-{name}", namespace="default", grace_period=0)
