"""Calico renderer: operator values (pools, dataplane, autodetection) and the BGP resources."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Network
from typing import Any

import pytest
import yaml

from kube6 import spec
from kube6.components.calico import bgp as calico_bgp
from kube6.components.calico import render as calico
from kube6.components.kubeadm import render as kubeadm
from kube6.plan.model import Plan
from kube6.render.base import Artifact

PlanOf = Callable[[str], Plan]

BGP_SPEC = """\
cluster: {name: kube010}
prefix: 2001:db8:1234:5678::/64
routing: bgp
bgp: {peer: "2001:db8:1234:5678::fffe", peer_as: 65001, as_number: 64600}
nodes:
  - {name: one, address: "2001:db8:1234:5678::1", roles: [control-plane, worker]}
  - {name: two, address: "2001:db8:1234:5678::2", roles: [worker]}
"""


def _files(plan: Plan) -> dict[str, Artifact]:
    return {a.path: a for a in calico.render(plan)}


def _values(plan: Plan) -> dict[str, Any]:
    data = yaml.safe_load(_files(plan)[calico.VALUES_PATH].content)
    assert isinstance(data, dict)
    return data


def test_values_keep_components_kube6_does_not_use_off(plan_of: PlanOf) -> None:
    values = _values(plan_of(spec.EXAMPLE_YAML))
    assert values["goldmane"] == {"enabled": False}
    assert values["whisker"] == {"enabled": False}


def test_example_values_describe_an_ipv6_only_routed_pool(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    installation = _values(plan)["installation"]
    network = installation["calicoNetwork"]
    # Only Calico's own CNI binaries: the standard plugins come with kubernetes-cni.
    assert installation["cni"] == {
        "type": "Calico",
        "ipam": {"type": "Calico"},
        "installMode": "CalicoOnly",
    }
    assert installation["flexVolumePath"] == "None"
    # ndp-proxy: no BGP daemon at all; Felix programs the routes to other nodes' blocks.
    assert network["bgp"] == "Disabled"
    assert network["clusterRoutingMode"] == "Felix"
    assert network["nodeAddressAutodetectionV6"] == {"kubernetes": "NodeInternalIP"}
    # No IPv4 autodetection: the operator then sets IP=none and CALICO_ROUTER_ID=hash.
    assert "nodeAddressAutodetectionV4" not in network
    assert "mtu" not in network
    [pool] = network["ipPools"]
    [planned] = plan.pools
    # The LoadBalancer pool is a resource of its own (the operator refuses Installation pools
    # outside kubeadm's podSubnet), applied once the Calico API server is up; as Calico wants
    # it: LoadBalancer its only use, every node, no encapsulation, the plan's range, one block.
    [balancers, reservation] = yaml.safe_load_all(_files(plan)[calico.LOAD_BALANCER_PATH].content)
    # The gateway's address, kept from Calico's automatic picks (it is asked for by name).
    assert reservation == {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPReservation",
        "metadata": {"name": "kube6-gateway"},
        "spec": {"reservedCIDRs": ["2001:db8:1234:5678:8:4:0:1/128"]},
    }
    assert balancers == {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": "kube6-load-balancers"},
        "spec": {
            "cidr": "2001:db8:1234:5678:8:4::/120",
            "blockSize": 120,
            "ipipMode": "Never",
            "vxlanMode": "Never",
            "natOutgoing": False,
            "nodeSelector": "all()",
            "allowedUses": ["LoadBalancer"],
        },
    }
    assert pool == {
        "name": planned.name,
        "cidr": str(planned.cidr),
        "blockSize": plan.block_size,
        "encapsulation": "None",
        "natOutgoing": "Disabled",
        "nodeSelector": "all()",
    }
    assert IPv6Network(pool["cidr"]).subnet_of(plan.pods)
    assert set(_files(plan)) == {calico.VALUES_PATH, calico.LOAD_BALANCER_PATH}, (
        "no BGP resources outside routing: bgp"
    )


def test_dataplane_matches_the_kube_proxy_mode(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    init = next(a for a in kubeadm.render(plan) if a.path.endswith("init.yaml"))
    proxy = next(
        d for d in yaml.safe_load_all(init.content) if d["kind"] == "KubeProxyConfiguration"
    )
    dataplane = _values(plan)["installation"]["calicoNetwork"]["linuxDataplane"]
    # Calico's Nftables dataplane works only with kube-proxy in nftables mode.
    assert (dataplane, proxy["mode"]) in {("Nftables", "nftables"), ("Iptables", "iptables")}
    assert dataplane == "Nftables"


def test_unique_local_pods_get_nat66(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML.replace("2001:db8:1234:5678", "fd12:3456:789a:1"))
    [pool] = _values(plan)["installation"]["calicoNetwork"]["ipPools"]
    assert pool["natOutgoing"] == "Enabled"
    balancers, _ = yaml.safe_load_all(_files(plan)[calico.LOAD_BALANCER_PATH].content)
    assert balancers["spec"]["natOutgoing"] is False  # a Service's own address, never NAT66
    assert "NAT66 on" in _files(plan)[calico.VALUES_PATH].content


def test_mtu_is_written_only_when_set(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML + "network: {mtu: 1420}\n")
    assert _values(plan)["installation"]["calicoNetwork"]["mtu"] == 1420


def test_own_prefix_nodes_get_one_pinned_pool_each(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("own-prefixes-ndp")
    pools = _values(plan)["installation"]["calicoNetwork"]["ipPools"]
    assert len(pools) == len(plan.nodes) == 3
    for node in plan.nodes:
        [pool] = [p for p in pools if p["name"] == node.pool]
        assert pool["nodeSelector"] == f'kube6.io/pool == "{node.pool}"'
        assert IPv6Network(pool["cidr"]).subnet_of(node.link_prefix)
        assert pool["encapsulation"] == "None"


def test_bgp_resources(plan_of: PlanOf) -> None:
    plan = plan_of(BGP_SPEC)
    files = _files(plan)
    assert set(files) == {calico.VALUES_PATH, calico_bgp.BGP_PATH, calico.LOAD_BALANCER_PATH}
    network = _values(plan)["installation"]["calicoNetwork"]
    # BIRD peers with the router; the cluster routes stay Felix's, as in every mode.
    assert (network["bgp"], network["clusterRoutingMode"]) == ("Enabled", "Felix")
    docs = list(yaml.safe_load_all(files[calico_bgp.BGP_PATH].content))
    statuses = ["CalicoNodeStatus"] * len(plan.nodes)
    access = ["Role", "RoleBinding"]
    kinds = ["BGPConfiguration", "BGPFilter", "BGPPeer", *access, *statuses]
    assert [d["kind"] for d in docs] == kinds
    assert {d["apiVersion"] for d in docs[:3] + docs[5:]} == {"projectcalico.org/v3"}
    configuration, own_routes, peer, _, _, *node_statuses = docs
    assert configuration["metadata"]["name"] == "default"
    assert configuration["spec"]["asNumber"] == 64600
    assert configuration["spec"]["nodeToNodeMeshEnabled"] is True
    # The mesh is signed with the password of the Secret that `up` generates.
    assert configuration["spec"]["nodeMeshPassword"] == {
        "secretKeyRef": {"name": "kube6-bgp-mesh-password", "key": "password"}
    }
    assert configuration["spec"]["serviceLoadBalancerAggregation"] == "Enabled"
    assert configuration["spec"]["serviceClusterIPs"] == [{"cidr": str(plan.services)}]
    assert configuration["spec"]["serviceLoadBalancerIPs"] == [
        {"cidr": str(plan.load_balancers.cidr)}
    ]
    # Each node tells the router only its own routes: none it learned from the mesh (BIRD
    # passes those on to an eBGP peer otherwise, a Local Service's address included).
    assert peer["spec"] == {
        "peerIP": "2001:db8:1234:5678::fffe",
        "asNumber": 65001,
        "filters": ["kube6-own-routes"],
    }
    assert own_routes["metadata"]["name"] == "kube6-own-routes"
    assert own_routes["spec"] == {"exportV6": [{"action": "Reject", "source": "RemotePeers"}]}
    # One status report per node, which verify's calico-bgp-sessions reads.
    assert [(d["metadata"]["name"], d["spec"]["node"]) for d in node_statuses] == [
        (f"kube6-bgp-{n.name}", n.name) for n in plan.nodes
    ]
    assert {tuple(d["spec"]["classes"]) for d in node_statuses} == {("Agent", "BGP")}
    assert "CALICO_ROUTER_ID=hash" in files[calico_bgp.BGP_PATH].content


def test_a_fixed_router_id_is_explained_not_silently_dropped(plan_of: PlanOf) -> None:
    text = BGP_SPEC.replace("as_number: 64600}", "as_number: 64600, router_id: 192.0.2.7}")
    content = _files(plan_of(text))[calico_bgp.BGP_PATH].content
    # The operator cannot pin one ID; the file says so and names the hash the nodes use.
    assert "192.0.2.7" in content
    assert "CALICO_ROUTER_ID=hash" in content


def test_bgp_resources_refuse_a_plan_without_bgp(plan_of: PlanOf) -> None:
    with pytest.raises(ValueError, match="routing: bgp"):
        calico_bgp.bgp_resources(plan_of(spec.EXAMPLE_YAML))


def test_no_reservation_without_the_gateway(plan_of: PlanOf) -> None:
    text = spec.EXAMPLE_YAML.replace("gateway: {enabled: true}", "gateway: {enabled: false}")
    assert text != spec.EXAMPLE_YAML
    plan = plan_of(text)
    assert plan.load_balancers.gateway is None
    kinds = [d["kind"] for d in yaml.safe_load_all(_files(plan)[calico.LOAD_BALANCER_PATH].content)]
    assert kinds == ["IPPool"]
