"""The guide's key lesson, for real: an on-link /64 needs the NDP proxy for pod addresses."""

from __future__ import annotations

import sys
import time
from ipaddress import IPv6Address

import pytest

from kube6 import net
from kube6.components.ndppd import render as ndppd_renderer
from kube6.lab import Lab
from kube6.modes import LinkModel
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

pytestmark = pytest.mark.lab

ANSWERED = {"REACHABLE", "STALE", "DELAY", "PROBE"}
UNANSWERED = {"INCOMPLETE", "FAILED", None}
POD_PORT = 8080


def test_ndppd_runs_the_rendered_config(fresh_lab: Lab, plan: Plan) -> None:
    rendered = [
        a.content for a in ndppd_renderer.render(plan) if a.path.startswith("nodes/node0001/")
    ]
    assert rendered, "kube6.components.ndppd.render rendered nothing for node0001"
    assert fresh_lab.ndppd_config("node0001") == rendered[0]
    daemon = fresh_lab.start_ndppd("node0001")
    assert daemon.alive(), daemon.output()
    assert "error" not in daemon.output().lower(), daemon.output()


def test_pod_is_unreachable_until_the_node_proxies_ndp(fresh_lab: Lab, plan: Plan) -> None:
    lab = fresh_lab
    pod = lab.add_pod("node0001")
    lab.start(
        "pod-listener",
        pod.namespace,
        (sys.executable, "-m", "kube6.lab.listener", "--port", str(POD_PORT)),
        ready=lambda: lab.listening(pod.namespace, POD_PORT),
    )
    node = lab.node_ns("node0001")
    # The pod is wired correctly: its node reaches it.
    assert lab.ping(node, pod.address)

    # The provider's router asks the link who has the pod's address; nobody answers.
    assert not lab.ping(lab.internet, pod.address)
    assert not lab.connect(lab.internet, pod.address, POD_PORT, wait=1)
    assert lab.neighbour(lab.upstream, pod.address) in UNANSWERED

    lab.start_ndppd("node0001")
    assert lab.ping(lab.internet, pod.address, deadline=8)
    assert lab.connect(lab.internet, pod.address, POD_PORT)
    assert lab.neighbour(lab.upstream, pod.address) in ANSWERED
    # And the pod reaches the internet (the replies come back the same way).
    assert lab.ping(pod.namespace, "2001:db8:ffff::10")


def test_service_range_is_answered_and_other_addresses_are_not(fresh_lab: Lab, plan: Plan) -> None:
    lab = fresh_lab
    node = lab.node_ns("node0001")
    lab.start_ndppd("node0001")
    # A service address that the node holds (as kube-proxy's dummy addresses would be).
    lab.run(node, ("ip", "-6", "addr", "add", f"{plan.dns}/128", "dev", "lo"))
    assert lab.ping(lab.internet, plan.dns, deadline=8)
    assert lab.neighbour(lab.upstream, plan.dns) in ANSWERED

    # Another service address: the node holds nothing there, but the static rule answers.
    lab.ping(lab.internet, plan.api, wait=1)
    assert lab.neighbour(lab.upstream, plan.api) in ANSWERED

    # Outside both rules (in the /64, but neither pods nor services): nobody answers.
    outside = net.nth(plan.prefix, 0x9_0000_0000_0001)
    assert not any(outside in rule.cidr for rule in plan.node("node0001").ndp_rules)
    assert not lab.ping(lab.internet, outside, wait=1)
    assert lab.neighbour(lab.upstream, outside) in UNANSWERED

    # Inside the pod range but routed to no pod on this node: `auto` does not answer.
    unrouted = IPv6Address(int(plan.pools[0].cidr.broadcast_address) - 1)
    assert not lab.ping(lab.internet, unrouted, wait=1)
    assert lab.neighbour(lab.upstream, unrouted) in UNANSWERED


def test_two_nodes_each_answer_for_their_own_pods(lab_env: None, two_node_plan: Plan) -> None:
    with Lab(two_node_plan) as lab:
        first, second = lab.add_pod("node0001"), lab.add_pod("node0002")
        lab.start_ndppd("node0001")
        lab.start_ndppd("node0002")
        assert lab.ping(lab.internet, first.address, deadline=8)
        assert lab.ping(lab.internet, second.address, deadline=8)
        # The router learned each pod at its own node: `auto` answers only for routed pods.
        mac1 = lab.mac(lab.node_ns("node0001"), "eth0")
        mac2 = lab.mac(lab.node_ns("node0002"), "eth0")
        assert lab.neighbour_mac(lab.upstream, first.address) == mac1
        assert lab.neighbour_mac(lab.upstream, second.address) == mac2
        # Pod to pod across nodes goes through the provider's router, like any traffic.
        assert lab.ping(first.namespace, second.address, deadline=4)
        # Only node0001 has the static service rule: it alone answers for services.
        lab.ping(lab.internet, two_node_plan.api, wait=1)
        assert lab.neighbour_mac(lab.upstream, two_node_plan.api) == mac1


ROUTED_TWO_LINKS = {
    "prefix": "2001:db8:1234:5678::/64",
    "routing": "routed",
    "nodes": [
        {"name": "node0001", "address": "2001:db8:1234:5678::1"},
        {
            "name": "node0002",
            "address": "2001:db8:aaaa:bbbb::2",
            "prefix": "2001:db8:aaaa:bbbb::/64",
            "roles": ["worker"],
        },
    ],
}


def test_a_routed_prefix_reaches_pods_without_a_proxy(lab_env: None) -> None:
    """The other link model: the provider routes each node's prefix to it (Hetzner's servers).
    No ndppd runs, the router never solicits a pod, and pods on two links reach each other and
    the internet through the router."""
    plan = make_plan(from_data(ROUTED_TWO_LINKS), source="routed lab")
    with Lab(plan) as lab:
        assert lab.layout.link is LinkModel.ROUTED
        first, second = lab.add_pod("node0001"), lab.add_pod("node0002")
        assert lab.ping(lab.internet, first.address, deadline=4)
        assert lab.ping(lab.internet, second.address, deadline=4)
        assert lab.neighbour(lab.upstream, first.address) is None
        assert lab.neighbour(lab.upstream, second.address) is None
        # The router resolved only the nodes themselves.
        assert lab.neighbour(lab.upstream, lab.node("node0001").address) in ANSWERED
        assert lab.ping(first.namespace, second.address, deadline=4)
        assert lab.ping(second.namespace, "2001:db8:ffff::10")


@pytest.mark.parametrize("model", [LinkModel.ON_LINK, LinkModel.ROUTED])
def test_the_internets_noise_shows_the_link_model(lab_env: None, model: LinkModel) -> None:
    """What `kube6 check` reads: the scanner's packets to an unassigned address make an on-link
    router solicit it on the link (the node sees the solicitation; nobody answers), while a
    routed provider hands them to the node (which then solicits its own link, in vain)."""
    plan = make_plan(from_data({**ROUTED_TWO_LINKS, "nodes": ROUTED_TWO_LINKS["nodes"][:1]}))
    with Lab(plan, link=model, noise=True) as lab:
        (segment,) = lab.layout.segments
        assert segment.unassigned is not None
        node = lab.node_ns("node0001")
        deadline = time.monotonic() + 5
        seen = None
        while time.monotonic() < deadline and seen is None:
            at = lab.upstream if model is LinkModel.ON_LINK else node
            seen = lab.neighbour(at, segment.unassigned)
            time.sleep(0.2)
        assert seen in UNANSWERED - {None}, (model, seen)
        other = node if model is LinkModel.ON_LINK else lab.upstream
        assert lab.neighbour(other, segment.unassigned) is None
