"""Every pure object check, on a cluster built as planned and on deliberately broken objects."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from kube6 import net
from kube6 import spec as spec_module
from kube6.components.registry import check_objects
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify.result import CheckResult, Status, evidence, is_skipped
from tests.verify import fixtures as fx
from tests.verify.fixtures import ev

GOLDEN = Path(__file__).parent.parent / "golden"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(spec_module.example())


@pytest.fixture(scope="module")
def multi() -> Plan:
    """Three nodes on three provider links: one pool per node, no node CIDR allocation."""
    return make_plan(spec_module.load(GOLDEN / "own-prefixes-ndp" / "kube6.yaml"))


def results(plan: Plan, raw: Mapping[str, list[fx.Raw] | None]) -> dict[str, CheckResult]:
    found = check_objects(plan, fx.objects(raw))
    by_name = {r.name: r for r in found}
    assert len(by_name) == len(found), "result names must be unique"
    return by_name


def only_failure(plan: Plan, raw: Mapping[str, list[fx.Raw] | None]) -> CheckResult:
    """The single failing result: a broken object must fail its own check and no other."""
    failing = [r for r in results(plan, raw).values() if r.status is Status.FAIL]
    assert len(failing) == 1, [f"{r.name}: {r.message}" for r in failing]
    return failing[0]


# ---- a cluster as planned passes -----------------------------------------------------------


@pytest.mark.parametrize(
    "scenario", ["example", "ha-3cp-5w", "own-prefixes-ndp", "own-prefixes-bgp"]
)
def test_cluster_as_planned_passes(scenario: str) -> None:
    if scenario == "example":
        plan = make_plan(spec_module.example())
    else:
        plan = make_plan(spec_module.load(GOLDEN / scenario / "kube6.yaml"))
    found = results(plan, fx.healthy(plan))
    assert {r.name: r.status for r in found.values() if r.failed} == {}
    assert found["nodes-addresses"].status is Status.OK
    assert found["services-ipv6"].status is Status.OK
    assert found["nodes-pod-cidrs"].status is Status.OK
    assert is_skipped(found["nodes-pod-cidrs"]) is not plan.allocate_node_cidrs


def test_result_names_are_stable(plan: Plan) -> None:
    assert list(results(plan, fx.healthy(plan))) == [
        "nodes-registered",
        "nodes-ready",
        "nodes-addresses",
        "nodes-pod-cidrs",
        "services-ipv6",
        "service-kubernetes",
        "service-kube-dns",
        "calico-ippools",
        "calico-blocks",
        "calico-bgp-sessions",
        "load-balancer-addresses",
        "pod-addresses",
        "system-pods",
        "cert-manager-issuers",
        "gateway-ipv6",
    ]


# ---- nodes ---------------------------------------------------------------------------------


def test_node_with_an_ipv4_internal_ip_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    bad = fx.node("node0001", "192.0.2.7", str(plan.pods.network_address) + "/120")
    result = only_failure(plan, fx.changed(raw, nodes=[bad]))
    assert result.name == "nodes-addresses"
    assert "node0001: IPv4 address(es) InternalIP 192.0.2.7" in ev(result)
    assert f"node0001: InternalIP 192.0.2.7, planned {plan.nodes[0].address}" in ev(result)
    assert "--node-ip" in result.fix
    assert str(plan.nodes[0].address) in result.fix


def test_node_with_an_extra_ipv4_address_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["nodes"][0]["status"]["addresses"].append({"type": "ExternalIP", "address": "198.51.100.3"})
    result = only_failure(plan, raw)
    assert result.name == "nodes-addresses"
    assert ev(result) == ("node0001: IPv4 address(es) ExternalIP 198.51.100.3",)


def test_node_on_another_ipv6_address_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["nodes"][0]["status"]["addresses"][0]["address"] = "2001:db8:1234:5678::99"
    result = only_failure(plan, raw)
    assert result.name == "nodes-addresses"
    assert "InternalIP 2001:db8:1234:5678::99, planned 2001:db8:1234:5678::1" in ev(result)[0]
    assert "IPv4" not in result.fix


def test_missing_and_unknown_nodes(plan: Plan) -> None:
    raw = fx.healthy(plan)
    found = results(plan, fx.changed(raw, nodes=[]))
    assert found["nodes-registered"].status is Status.FAIL
    assert ev(found["nodes-registered"]) == ("node0001: not registered",)
    assert found["nodes-ready"].message == "the cluster has no nodes"
    extra = fx.node("stray", "2001:db8:1234:5678::77", None)
    found = results(plan, fx.changed(raw, nodes=[*raw["nodes"], extra]))
    assert found["nodes-registered"].status is Status.WARN
    assert "stray: registered but not in the plan" in ev(found["nodes-registered"])


def test_node_not_ready_shows_the_kubelet_reason(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["nodes"][0] = fx.node(
        "node0001", str(plan.nodes[0].address), str(plan.pods)[:-4] + "/120", ready=False
    )
    result = only_failure(plan, raw)
    assert result.name == "nodes-ready"
    assert "KubeletNotReady: container runtime network not ready" in ev(result)[0]
    assert "calico-system" in result.fix


def test_node_without_conditions_is_not_ready(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["nodes"][0]["status"]["conditions"] = []
    assert ev(only_failure(plan, raw)) == ("node0001: no Ready condition",)


@pytest.mark.parametrize(
    ("cidr", "problem"),
    [
        ("2001:db8:1234:5678:8:2:0:0/112", "is a /112, planned /120"),
        ("2001:db8:1234:5678:9::/120", "outside the planned pods"),
        ("198.51.100.0/24", "is not IPv6"),
    ],
)
def test_node_pod_cidr_outside_the_plan(plan: Plan, cidr: str, problem: str) -> None:
    raw = fx.healthy(plan)
    raw["nodes"][0]["spec"]["podCIDR"] = cidr
    raw["nodes"][0]["spec"]["podCIDRs"] = [cidr]
    result = only_failure(plan, raw)
    assert result.name == "nodes-pod-cidrs"
    assert problem in ev(result)[0]
    assert f"--node-cidr-mask-size-ipv6={plan.node_mask}" in result.fix


def test_node_without_pod_cidr_when_allocation_is_planned(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["nodes"][0]["spec"] = {}
    result = only_failure(plan, raw)
    assert ev(result) == ("node0001: no podCIDR",)


# ---- services ------------------------------------------------------------------------------


def test_ipv4_service_family_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["services"].append(fx.service("default", "legacy", "192.0.2.10", families=("IPv4",)))
    result = only_failure(plan, raw)
    assert result.name == "services-ipv6"
    assert ev(result) == (
        f"default/legacy: ipFamilies ['IPv4']; clusterIPs 192.0.2.10 outside {plan.services}",
    )
    assert "spec.ipFamilies: [IPv6]" in result.fix
    assert f"--service-cluster-ip-range must be {plan.services}" in result.fix


def test_dual_stack_service_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    svc = fx.service("default", "dual", "2001:db8:1234:5678:8:3:0:33", policy="PreferDualStack")
    raw["services"].append(svc)
    result = only_failure(plan, raw)
    assert ev(result) == ("default/dual: ipFamilyPolicy PreferDualStack",)
    assert "SingleStack" in result.fix


def test_load_balancer_with_an_ipv4_address_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    svc = fx.service(
        "envoy-gateway-system", "envoy-kube6", "2001:db8:1234:5678:8:3:0:c8", kind="LoadBalancer"
    )
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "2001:db8:1234:5678:8:4:0:80"}]}}
    raw["services"].append(svc)
    assert all(not r.failed for r in results(plan, raw).values())
    svc["status"]["loadBalancer"]["ingress"].append({"ip": "198.51.100.80"})
    result = only_failure(plan, raw)
    assert ev(result) == (
        "envoy-gateway-system/envoy-kube6: external address(es) 198.51.100.80 are IPv4",
    )
    assert "IPv6 only" in result.fix


def test_headless_service_has_no_address_to_check(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["services"].append(fx.service("default", "headless", "None"))
    assert all(not r.failed for r in results(plan, raw).values())


def test_kube_dns_on_another_address(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["services"][1] = fx.service("kube-system", "kube-dns", "2001:db8:1234:5678:8:3:0:b")
    result = only_failure(plan, raw)
    assert result.name == "service-kube-dns"
    assert f"planned {plan.dns}" in result.message
    assert f"clusterIP {plan.dns}" in result.fix


def test_missing_kubernetes_service(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["services"] = raw["services"][1:]
    result = only_failure(plan, raw)
    assert result.name == "service-kubernetes"
    assert result.message == "Service default/kubernetes does not exist"


# ---- Calico --------------------------------------------------------------------------------


def test_ipv4_pool_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["ip_pools"].append(fx.ip_pool("default-ipv4-ippool", "192.0.2.0/24", 26, True))
    result = only_failure(plan, raw)
    assert result.name == "calico-ippools"
    assert ev(result) == ("default-ipv4-ippool: cidr 192.0.2.0/24 is not IPv6",)
    assert "kubectl delete ippools.crd.projectcalico.org default-ipv4-ippool" in result.fix


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("vxlanMode", "Always", "vxlanMode Always, planned Never"),
        ("ipipMode", "CrossSubnet", "ipipMode CrossSubnet, planned Never"),
        ("blockSize", 122, "blockSize 122, planned 120"),
        ("natOutgoing", True, "natOutgoing true, planned false"),
        ("disabled", True, "disabled"),
        ("nodeSelector", "has(edge)", "nodeSelector 'has(edge)', planned 'all()'"),
    ],
)
def test_pool_field_differs(plan: Plan, field: str, value: object, problem: str) -> None:
    raw = fx.healthy(plan)
    raw["ip_pools"][0]["spec"][field] = value
    result = only_failure(plan, raw)
    assert result.name == "calico-ippools"
    assert ev(result)[0].split(": ", 2)[2].startswith(problem)


def test_pool_without_block_size_has_calicos_default(plan: Plan) -> None:
    raw = fx.healthy(plan)
    del raw["ip_pools"][0]["spec"]["blockSize"]
    assert "blockSize 122, planned 120" in ev(only_failure(plan, raw))[0]


def test_missing_and_stray_pools(plan: Plan) -> None:
    raw = fx.healthy(plan)
    stray = fx.ip_pool("stray", "fd00:1::/64", 122, True)
    result = only_failure(plan, fx.changed(raw, ip_pools=[stray]))
    assert ev(result) == (
        "stray: fd00:1::/64 is not a planned pool",
        f"planned pool default-ipv6-ippool ({plan.pools[0].cidr}) does not exist",
        f"planned pool kube6-load-balancers ({plan.load_balancers.cidr}) does not exist",
    )
    assert "network/calico-load-balancers" in result.fix  # kube6's pool, not the operator's
    assert "re-install tigera-operator" in result.fix
    # A disabled pool gives out no addresses: it is listed, not failed.
    stray["spec"]["disabled"] = True
    found = results(plan, fx.changed(raw, ip_pools=[*raw["ip_pools"], stray]))
    assert found["calico-ippools"].status is Status.OK


def test_calico_not_installed(plan: Plan) -> None:
    found = results(plan, fx.changed(fx.healthy(plan), ip_pools=None, block_affinities=None))
    for name in ("calico-ippools", "calico-blocks"):
        assert found[name].status is Status.FAIL
        assert "Calico is not installed" in found[name].message
        assert "tigera-operator" in found[name].fix


def test_block_outside_the_pools(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["block_affinities"].append(fx.block_affinity("node0001", "2001:db8:1234:5678:9::/120"))
    raw["block_affinities"].append(fx.block_affinity("node0001", "2001:db8:1234:5678:8:2:0:0/122"))
    result = only_failure(plan, raw)
    assert result.name == "calico-blocks"
    assert ev(result) == (
        "block 2001:db8:1234:5678:9::/120 on node0001: outside every planned pool",
        "block 2001:db8:1234:5678:8:2:0:0/122 on node0001: /122, pool default-ipv6-ippool has "
        "/120 blocks",
    )


def test_released_blocks_are_not_judged(plan: Plan) -> None:
    raw = fx.healthy(plan)
    stale = fx.block_affinity("node0001", "2001:db8:1234:5678:9::/120")
    stale["spec"]["deleted"] = "true"
    raw["block_affinities"].append(stale)
    assert all(not r.failed for r in results(plan, raw).values())


def test_block_of_another_nodes_pool(multi: Plan) -> None:
    raw = fx.healthy(multi)
    raw["block_affinities"][0]["spec"]["node"] = "bravo"
    result = only_failure(multi, raw)
    assert ev(result)[0].endswith("pool kube004-pool-0 serves only alpha")


# ---- BGP sessions (routing bgp) ------------------------------------------------------------


@pytest.fixture(scope="module")
def bgp() -> Plan:
    """Three nodes peering with the router 2001:db8:1234:5678::fffe (routing bgp)."""
    return make_plan(spec_module.load(GOLDEN / "own-prefixes-bgp" / "kube6.yaml"))


def test_bgp_sessions_established_pass(bgp: Plan) -> None:
    result = results(bgp, fx.healthy(bgp))["calico-bgp-sessions"]
    assert result.status is Status.OK, result
    assert not is_skipped(result), result
    assert ev(result) == tuple(
        f"{n.name}: router 2001:db8:1234:5678::fffe Established, 2 mesh peer(s) Established"
        for n in bgp.nodes
    )


def test_bgp_sessions_are_skipped_without_bgp(plan: Plan) -> None:
    result = results(plan, fx.healthy(plan))["calico-bgp-sessions"]
    assert is_skipped(result), result
    assert "routing ndp-proxy runs no BGP" in result.message


def test_a_session_with_the_router_not_established(bgp: Plan) -> None:
    raw = fx.healthy(bgp)
    first = bgp.nodes[0]
    mesh = [str(n.address) for n in bgp.nodes[1:]]
    raw["node_statuses"][0] = fx.node_status(first.name, "2001:db8:1234:5678::fffe", [], "Active")
    raw["node_statuses"][0]["status"]["bgp"]["peersV6"] += fx.node_status(first.name, None, mesh)[
        "status"
    ]["bgp"]["peersV6"]
    result = only_failure(bgp, raw)
    assert result.name == "calico-bgp-sessions"
    assert result.message == "1 of 3 node(s) lack an established BGP session"
    assert ev(result) == (
        f"{first.name}: the session with the router 2001:db8:1234:5678::fffe is Active "
        "(since 09:12:40)",
    )
    assert bgp.bgp is not None
    assert f"remote AS {bgp.bgp.as_number}" in result.fix
    assert "TCP 179" in result.fix
    assert "password" not in result.fix
    # With a password, it may be the wrong one.
    signed = replace(bgp, bgp=replace(bgp.bgp, password_file="/etc/kube6/bgp"))
    assert "the password in bgp.password_file must be the router's" in (
        only_failure(signed, raw).fix
    )


def test_a_mesh_session_down_and_no_router_session(bgp: Plan) -> None:
    raw = fx.healthy(bgp)
    alpha, bravo, _ = bgp.nodes
    raw["node_statuses"][0] = fx.node_status(alpha.name, None, [str(bravo.address)])
    raw["node_statuses"][1] = fx.node_status(
        bravo.name, "2001:db8:1234:5678::fffe", [str(alpha.address)], "Connect"
    )
    raw["node_statuses"][1]["status"]["bgp"]["peersV6"][0]["state"] = "Established"
    result = only_failure(bgp, raw)
    assert ev(result) == (
        f"{alpha.name}: no session with the router 2001:db8:1234:5678::fffe",
        f"{bravo.name}: mesh session(s) not Established: {alpha.address} Connect",
    )
    assert "kube6-upstream" in result.fix
    assert "TCP 179" in result.fix


def test_bird_down_or_no_report_yet(bgp: Plan) -> None:
    raw = fx.healthy(bgp)
    raw["node_statuses"][0]["status"]["agent"]["birdV6"]["state"] = "NotReady"
    # As the API server returns an object calico-node has not reported into yet.
    raw["node_statuses"][1]["status"] = {"lastUpdated": None, "agent": {"birdV4": {}, "birdV6": {}}}
    del raw["node_statuses"][2]
    result = only_failure(bgp, raw)
    alpha, bravo, charlie = (n.name for n in bgp.nodes)
    assert ev(result) == (
        f"{alpha}: BIRD (IPv6) is NotReady",
        f"{bravo}: calico-node has not reported (lastUpdated never)",
        f"{charlie}: no CalicoNodeStatus kube6-bgp-{charlie}",
    )
    assert "apply cluster/calico/bgp.yaml" in result.fix
    assert "logs ds/calico-node" in result.fix


def test_a_node_that_stopped_reporting_is_stale_against_the_others(bgp: Plan) -> None:
    raw = fx.healthy(bgp)
    # Three missed reports are within reason (a busy API server); four are not.
    raw["node_statuses"][1]["status"]["lastUpdated"] = "2026-12-05T09:10:00Z"
    assert results(bgp, raw)["calico-bgp-sessions"].status is Status.OK
    raw["node_statuses"][1]["status"]["lastUpdated"] = "2026-12-05T09:08:59Z"
    result = only_failure(bgp, raw)
    bravo = bgp.nodes[1].name
    assert ev(result) == (
        f"{bravo}: calico-node's last report (lastUpdated 2026-12-05T09:08:59Z) is 241 s older "
        "than another node's: it stopped reporting, its sessions are not known",
    )
    assert f"--field-selector spec.nodeName={bravo}" in result.fix
    # Every report equally old (a skewed clock, or all at once): judged by the sessions alone.
    for status in raw["node_statuses"]:
        status["status"]["lastUpdated"] = "2020-01-01T00:00:00Z"
    assert results(bgp, raw)["calico-bgp-sessions"].status is Status.OK
    # A time without a zone is UTC, an unreadable one is not judged.
    raw["node_statuses"][0]["status"]["lastUpdated"] = "2020-01-01T00:10:00"
    raw["node_statuses"][2]["status"]["lastUpdated"] = "yesterday"
    stale = only_failure(bgp, raw)
    assert [line.split(":")[0] for line in ev(stale)] == [bravo]


def test_bgp_node_statuses_not_installed(bgp: Plan) -> None:
    result = only_failure(bgp, fx.changed(fx.healthy(bgp), node_statuses=None))
    assert result.name == "calico-bgp-sessions"
    assert "caliconodestatuses.crd.projectcalico.org" in result.message


# ---- pods ----------------------------------------------------------------------------------


def test_pod_with_an_ipv4_address_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["pods"].append(fx.pod("default", "v4", "node0001", ("192.0.2.44",)))
    result = only_failure(plan, raw)
    assert result.name == "pod-addresses"
    assert ev(result) == ("default/v4: 192.0.2.44 is not IPv6",)
    assert "remove the IPv4 pool" in result.fix


def test_pod_outside_the_pools_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["pods"].append(fx.pod("default", "stray", "node0001", ("fd00:1::5",)))
    result = only_failure(plan, raw)
    assert ev(result) == ("default/stray: fd00:1::5 is outside the planned pools",)
    assert "kubectl get ippools.crd.projectcalico.org" in result.fix
    assert "delete the pod" in result.fix


def test_pod_from_another_nodes_pool(multi: Plan) -> None:
    raw = fx.healthy(multi)
    wrong = str(multi.pool("kube004-pool-1").cidr.network_address + 9)
    raw["pods"].append(fx.pod("default", "lost", "alpha", (wrong,)))
    result = only_failure(multi, raw)
    assert ev(result) == (
        f"default/lost: {wrong} is in pool kube004-pool-1, but node alpha uses kube004-pool-0",
    )
    assert "kube6.io/pool=kube004-pool-0" in result.fix


def test_host_network_pods_are_only_checked_for_ipv4(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["pods"].append(
        fx.pod("kube-system", "proxy", "node0001", ("2001:db8:1234:5678::1",), host_network=True)
    )
    assert all(not r.failed for r in results(plan, raw).values())
    raw["pods"][-1] = fx.pod("kube-system", "proxy", "node0001", ("192.0.2.1",), host_network=True)
    result = only_failure(plan, raw)
    assert "node-ip" in result.fix


def test_system_pod_not_running(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["pods"].append(
        fx.pod(
            "tigera-operator",
            "tigera-operator-0",
            "node0001",
            ("2001:db8:1234:5678::1",),
            ready=False,
            host_network=True,
        )
    )
    raw["pods"].append(
        fx.pod("kube-system", "job-x", "node0001", (), phase="Succeeded", ready=False)
    )
    raw["pods"].append(
        fx.pod("kube-system", "pending", "node0001", (), phase="Pending", ready=False)
    )
    result = only_failure(plan, raw)
    assert result.name == "system-pods"
    assert ev(result) == (
        "tigera-operator/tigera-operator-0: Running, not ready: main (CrashLoopBackOff)",
        "kube-system/pending: Pending, not ready: main (CrashLoopBackOff)",
    )
    assert "describe pod" in result.fix


def test_no_system_pods_is_a_warning(plan: Plan) -> None:
    raw = fx.healthy(plan)
    found = results(plan, fx.changed(raw, pods=[]))
    assert found["system-pods"].status is Status.WARN


# ---- add-ons -------------------------------------------------------------------------------


def test_issuer_not_ready(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["cluster_issuers"][0] = fx.cluster_issuer(
        "letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory", False
    )
    result = only_failure(plan, raw)
    assert result.name == "cert-manager-issuers"
    assert "ErrRegisterACMEAccount" in ev(result)[0]


def test_issuer_for_the_wrong_environment(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["cluster_issuers"][0]["spec"]["acme"]["server"] = (
        "https://acme-v02.api.letsencrypt.org/directory"
    )
    result = only_failure(plan, raw)
    assert "staging" in result.message
    assert "acme-staging-v02" in result.fix


def test_addons_not_planned_are_skipped(plan: Plan) -> None:
    addons = plan.addons.model_copy(
        update={
            "cert_manager": plan.addons.cert_manager.model_copy(update={"enabled": False}),
            "gateway": plan.addons.gateway.model_copy(update={"enabled": False}),
        }
    )
    bare = dataclasses.replace(plan, addons=addons)
    raw = fx.changed(fx.healthy(plan), cluster_issuers=None, gateways=None)
    found = results(bare, raw)
    assert is_skipped(found["cert-manager-issuers"])
    assert is_skipped(found["gateway-ipv6"])
    # ...and planned but not installed, each is a failure that says what is missing.
    found = results(plan, raw)
    assert "clusterissuers.cert-manager.io" in found["cert-manager-issuers"].message
    assert "gateways.gateway.networking.k8s.io" in found["gateway-ipv6"].message


@pytest.mark.parametrize(
    ("gateway", "problem"),
    [
        (fx.gateway("192.0.2.80"), "address 192.0.2.80 is not IPv6"),
        (
            fx.gateway("2001:db8:1234:5678:8:3:0:c8", programmed=False),
            "Programmed=False (Programmed)",
        ),
    ],
)
def test_gateway_not_on_ipv6(plan: Plan, gateway: fx.Raw, problem: str) -> None:
    raw = fx.changed(fx.healthy(plan), gateways=[gateway])
    result = only_failure(plan, raw)
    assert result.name == "gateway-ipv6"
    assert problem in ev(result)[0]
    # The example's gateway is Traefik (the default): its fix names its status source.
    assert "load-balancer status" in result.fix


def test_kube6_gateway_on_another_address(plan: Plan) -> None:
    """Calico gave the gateway's Service another address than the plan's (or none yet)."""
    raw = fx.changed(fx.healthy(plan), gateways=[fx.gateway("2001:db8:1234:5678:8:4:0:7")])
    result = only_failure(plan, raw)
    assert "not on the planned gateway address 2001:db8:1234:5678:8:4:0:1" in ev(result)[0]
    assert "projectcalico.org/loadBalancerIPs" in result.fix
    # Another Gateway (someone's own) may be anywhere.
    other = fx.gateway("2001:db8:1234:5678:8:4:0:7")
    other["metadata"]["name"] = "theirs"
    raw = fx.changed(fx.healthy(plan), gateways=[*fx.healthy(plan)["gateways"], other])
    assert not results(plan, raw)["gateway-ipv6"].failed


def test_gateway_without_address(plan: Plan) -> None:
    gw = fx.gateway("2001:db8::1")
    gw["status"]["addresses"] = []
    result = only_failure(plan, fx.changed(fx.healthy(plan), gateways=[gw]))
    assert "no address in status" in ev(result)[0]
    assert only_failure(plan, fx.changed(fx.healthy(plan), gateways=[])).message == (
        "there is no Gateway"
    )


def test_evidence_is_capped() -> None:
    assert evidence([str(i) for i in range(25)], limit=3) == "0\n1\n2\n... and 22 more"
    assert evidence(["a"]) == "a"


def test_load_balancer_pool_for_pods_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["ip_pools"][-1]["spec"]["allowedUses"] = ["Workload", "Tunnel"]
    (line,) = ev(only_failure(plan, raw))
    assert line == (
        f"kube6-load-balancers: {plan.load_balancers.cidr}: allowedUses ['Tunnel', 'Workload'], "
        "planned ['LoadBalancer']"
    )


def test_load_balancer_block_on_a_real_node_is_caught(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["block_affinities"][-1]["spec"]["node"] = "node0001"
    (line,) = ev(only_failure(plan, raw))
    assert "the LoadBalancer range's blocks belong to load-balancer" in line


def test_load_balancer_services_get_an_address_in_the_range(plan: Plan) -> None:
    raw = fx.healthy(plan)
    assert results(plan, raw)["load-balancer-addresses"].status is Status.OK
    pending = fx.load_balancer("web", "pending", "2001:db8:1234:5678:8:3:0:66")
    elsewhere = fx.load_balancer(
        "web", "elsewhere", "2001:db8:1234:5678:8:3:0:67", "2001:db8:1234:5678::99"
    )
    other_class = fx.load_balancer("web", "metallb", "2001:db8:1234:5678:8:3:0:68")
    other_class["spec"]["loadBalancerClass"] = "metallb.io/metallb"
    raw["services"] += [pending, elsewhere, other_class]
    result = only_failure(plan, raw)
    assert result.name == "load-balancer-addresses"
    assert result.message == (
        f"2 of 3 LoadBalancer Service(s) have no address in {plan.load_balancers.cidr}"
    )
    assert ev(result)[:2] == (
        "web/pending: no address yet",
        f"web/elsewhere: 2001:db8:1234:5678::99 outside {plan.load_balancers.cidr}",
    )
    assert "calico-kube-controllers" in result.fix
    assert "projectcalico.org/loadBalancerIPs" in result.fix


def test_a_nearly_full_load_balancer_range_warns(plan: Plan) -> None:
    raw = fx.healthy(plan)
    lb = plan.load_balancers.cidr
    raw["services"] = [s for s in raw["services"] if s["spec"]["type"] != "LoadBalancer"]
    raw["services"] += [
        fx.load_balancer("web", f"s{i}", str(net.nth(plan.services, 300 + i)), str(lb[i]))
        for i in range(231)  # 231 of 256: just past 90%
    ]
    result = results(plan, raw)["load-balancer-addresses"]
    assert result.status is Status.WARN
    assert result.message == f"231 of the 256 addresses of {lb} are in use"
    raw["services"].pop()
    assert results(plan, raw)["load-balancer-addresses"].status is Status.OK


def test_no_load_balancer_service_is_skipped(plan: Plan) -> None:
    raw = fx.healthy(plan)
    raw["services"] = [s for s in raw["services"] if s["spec"]["type"] != "LoadBalancer"]
    result = results(plan, raw)["load-balancer-addresses"]
    assert is_skipped(result)
