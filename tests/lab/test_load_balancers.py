"""LoadBalancer addresses on an on-link /64, for real: ndppd with the rendered config answers
the provider's router for the range on every worker (both nodes here are workers), and the rendered host firewall lets a
Service's declared port through and nothing else of the range.

The one stand-in: kube-proxy. What it does for a LoadBalancer Service's address (a DNAT of the
declared port to a pod, in prerouting) is written here as one nft rule in the node's
namespace, since kube-proxy needs a cluster behind it; the e2e journey runs the real one with
Calico's real LoadBalancer controller. ndppd, nft, the router and the pod are real.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from ipaddress import IPv6Address

import pytest

from kube6.components.firewall import render as firewall
from kube6.lab import Lab
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab

POD_PORT = 8080
SERVICE_PORT = 80
OTHER_PORT = 81


@pytest.fixture
def lab(lab_env: None, two_node_plan: Plan) -> Iterator[Lab]:
    with Lab(two_node_plan) as lab:
        yield lab


def _resolved_at(lab: Lab, address: IPv6Address) -> str | None:
    """Make the router resolve `address` afresh; the MAC it learned (None: nobody answered)."""
    lab.run(lab.upstream, ("ip", "-6", "neigh", "flush", "to", str(address)), check=False)
    lab.ping(lab.internet, address, wait=1)  # nothing holds it: only the resolution matters
    return lab.neighbour_mac(lab.upstream, address)


def test_every_worker_of_the_link_answers_for_the_range(lab: Lab, two_node_plan: Plan) -> None:
    lb = two_node_plan.load_balancers.cidr
    for node in two_node_plan.nodes:
        assert node.is_worker, node
        assert any(r.cidr == lb and r.method == "static" for r in node.ndp_rules), node
    address = lb[7]  # an address Calico would give a Service
    assert _resolved_at(lab, address) is None, "nobody may answer before ndppd runs"
    # node0002 has no service-range rule: only the LoadBalancer rule can make it answer.
    lab.start_ndppd("node0002")
    assert _resolved_at(lab, address) == lab.mac(lab.node_ns("node0002"), "eth0")
    lab.stop_ndppd("node0002")
    lab.start_ndppd("node0001")
    assert _resolved_at(lab, address) == lab.mac(lab.node_ns("node0001"), "eth0")
    # Outside the range (and outside pods and services): still nobody.
    outside = IPv6Address(int(lb.broadcast_address) + 1)
    assert not any(outside in r.cidr for r in two_node_plan.node("node0001").ndp_rules)
    assert _resolved_at(lab, outside) is None


def _forwarded_by(lab: Lab, node: str, address: IPv6Address) -> bool:
    """Whether `node` tried to pass a packet for `address` on (it solicited its link for it:
    the /64 is on-link there, so a packet it forwards for the range ends in neighbour
    discovery that nobody answers; a routed prefix would send it back to the router)."""
    return lab.neighbour(lab.node_ns(node), address) is not None


def test_a_services_declared_port_gets_in_and_nothing_else_of_the_range(
    lab: Lab, two_node_plan: Plan
) -> None:
    plan = two_node_plan
    lb = plan.load_balancers.cidr
    assigned, unassigned = lb[7], lb[8]
    node = lab.node_ns("node0001")
    pod = lab.add_pod("node0001")
    lab.start(
        "pod-listener",
        pod.namespace,
        (sys.executable, "-m", "kube6.lab.listener", "--port", str(POD_PORT)),
        ready=lambda: lab.listening(pod.namespace, POD_PORT),
    )
    lab.start_ndppd("node0001")
    # kube-proxy's part (the stand-in): the Service's declared port on its address -> the pod.
    kube_proxy = lab.workdir / "kube-proxy-standin.nft"
    kube_proxy.write_text(
        "table ip6 standin {\n"
        "  chain prerouting {\n"
        "    type nat hook prerouting priority dstnat; policy accept;\n"
        f"    ip6 daddr {assigned} tcp dport {SERVICE_PORT} dnat to [{pod.address}]:{POD_PORT}\n"
        "  }\n"
        "}\n"
    )
    lab.run(node, ("nft", "-f", str(kube_proxy)))

    # Without kube6's firewall, a port that no Service declares is not DNATed: the node
    # forwards the packet on, as any packet for its link's prefix (here: it solicits the link
    # for the address; with a routed prefix it would go back to the router, and round again).
    assert not lab.connect(lab.internet, assigned, OTHER_PORT, wait=1)
    assert _forwarded_by(lab, "node0001", assigned)
    lab.run(node, ("ip", "-6", "neigh", "flush", "to", str(assigned)), check=False)
    assert not _forwarded_by(lab, "node0001", assigned)

    # With the rendered firewall: the declared port reaches the pod ...
    ruleset = lab.workdir / "firewall.nft"
    ruleset.write_text(firewall.ruleset(plan, plan.node("node0001")))
    lab.run(node, ("nft", "-f", str(ruleset)))
    assert lab.connect(lab.internet, assigned, SERVICE_PORT)
    # ... and another port of that address, or an address no Service has, stops at the node.
    for address, port in ((assigned, OTHER_PORT), (unassigned, SERVICE_PORT)):
        assert not lab.connect(lab.internet, address, port, wait=1)
        assert not _forwarded_by(lab, "node0001", address), f"[{address}]:{port} went on"
    # The router did deliver them to the node (it resolved the range there, by ndppd).
    assert lab.neighbour_mac(lab.upstream, unassigned) == lab.mac(node, "eth0")
