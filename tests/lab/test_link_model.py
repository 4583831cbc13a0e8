"""`kube6 check` and `kube6 init` find the provider's link model in the lab: real routers in
network namespaces, one putting the /64 on-link and one routing it to the first node, with the
lab's internet host knocking on an unassigned address every second (as scanners do)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from kube6.checks import CheckResult, Status
from kube6.checks.link import NAME
from kube6.checks.runner import check_hosts
from kube6.execute import Executor
from kube6.facts.link import gather_link
from kube6.init_detect import detect
from kube6.lab import Lab
from kube6.lab.process import SBIN, in_namespace, program
from kube6.modes import LinkModel as LabLink
from kube6.modes import RoutingMode
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.results import document
from kube6.spec import from_data
from tests.lab.conftest import TWO_NODES

pytestmark = pytest.mark.lab

UNASSIGNED = "2001:db8:1234:5678::5ca1:ab1e"  # the lab's noise address (layout.NOISE_OFFSET)


def plan_for(routing: RoutingMode) -> Plan:
    return make_plan(from_data({**TWO_NODES, "routing": str(routing)}), source="link lab")


def link_model(lab: Lab, plan: Plan) -> dict[str, CheckResult]:
    """`check`'s link-model of every node (both listen at once, as check always does)."""
    executors: dict[str, Executor] = {n.name: lab.executor(n.name) for n in plan.nodes}
    results = asyncio.run(check_hosts(plan, executors, hosts=(), connect=False))
    return {r.node: r for r in results if r.name == NAME}


@pytest.fixture(scope="module")
def on_link_lab(lab_env: None) -> Iterator[Lab]:
    with Lab(plan_for(RoutingMode.NDP_PROXY), link=LabLink.ON_LINK, noise=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def routed_lab(lab_env: None) -> Iterator[Lab]:
    with Lab(plan_for(RoutingMode.ROUTED), link=LabLink.ROUTED, noise=True) as lab:
        yield lab


def test_an_on_link_provider_is_found_and_ndp_proxy_fits(on_link_lab: Lab) -> None:
    found = link_model(on_link_lab, plan_for(RoutingMode.NDP_PROXY))
    for node in ("node0001", "node0002"):
        result = found[node]
        assert result.status is Status.OK, result
        assert result.message.startswith("on-link: the router solicited"), result
        assert UNASSIGNED in result.message
        assert "routing ndp-proxy fits" in result.message
        assert result.evidence.splitlines()[0] == "model: on-link"
        assert "seen: the router fe80::1 " in result.evidence


def test_an_on_link_provider_with_routing_routed_warns_with_the_fix(on_link_lab: Lab) -> None:
    result = link_model(on_link_lab, plan_for(RoutingMode.ROUTED))["node0001"]
    assert result.status is Status.WARN, result
    assert result.message.startswith("on-link: ")
    assert "unreachable from outside" in result.message
    assert result.fix == "set routing: ndp-proxy in kube6.yaml"


def test_a_routed_provider_is_found_and_routed_fits(routed_lab: Lab) -> None:
    found = link_model(routed_lab, plan_for(RoutingMode.ROUTED))
    first = found["node0001"]  # the lab routes the prefix to the first node on the link
    assert first.status is Status.OK, first
    assert first.message.startswith("routed: a packet for "), first
    assert UNASSIGNED in first.message
    assert "routing routed fits" in first.message
    # node0002 gets nothing of the prefix and hears only node0001 (not the router) solicit
    # the address: it cannot tell, and says so instead of guessing.
    second = found["node0002"]
    assert second.status is Status.OK, second
    assert second.message.startswith("unknown: "), second
    assert "not the default gateway" in second.evidence


def test_a_routed_provider_with_routing_ndp_proxy_warns_with_the_fix(routed_lab: Lab) -> None:
    plan = plan_for(RoutingMode.NDP_PROXY)
    result = link_model(routed_lab, plan)["node0001"]
    assert result.status is Status.WARN, result
    assert result.fix == "set routing: routed in kube6.yaml"
    # `check -o json` carries the model and its evidence.
    doc: dict[str, Any] = json.loads(json.dumps(document("check", [result])))
    (entry,) = doc["results"]
    assert entry["name"] == NAME
    assert entry["evidence"].startswith("model: routed\nseen: ")
    assert f"for {UNASSIGNED} arrived at this host's MAC" in entry["evidence"]


def test_nothing_knocking_is_unknown_not_a_guess(lab_env: None) -> None:
    # The same routed provider without the scanner: nothing on the wire decides it.
    plan = plan_for(RoutingMode.ROUTED)
    with Lab(plan, link=LabLink.ROUTED, noise=False) as lab:
        result = link_model(lab, plan)["node0001"]
    assert result.status is Status.OK, result
    assert result.message.startswith("unknown: nothing seen decides it"), result
    assert "nobody knocked" in result.evidence


@pytest.mark.parametrize(
    ("lab_name", "routing"),
    [("on_link_lab", RoutingMode.NDP_PROXY), ("routed_lab", RoutingMode.ROUTED)],
)
def test_init_proposes_the_mode_that_fits(
    request: pytest.FixtureRequest, lab_name: str, routing: RoutingMode
) -> None:
    lab: Lab = request.getfixturevalue(lab_name)
    answers = asyncio.run(detect(lab.executor("node0001")))
    assert answers.routing is routing, answers.notes
    assert any(n.startswith("provider's link: ") for n in answers.notes), answers.notes
    assert str(answers.prefix) == "2001:db8:1234:5678::/64"


RADVD = """interface {bridge} {{
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    prefix {prefix} {{ AdvOnLink {on_link}; AdvAutonomous off; }};
}};
"""


def _radvd(lab: Lab, on_link: bool) -> None:
    """radvd on the provider's router, advertising the node link's prefix (L=`on_link`)."""
    if shutil.which("radvd", path=SBIN) is None or shutil.which("rdisc6") is None:
        pytest.fail("radvd and rdisc6 are needed: run tests/lab/install-packages.sh as root")
    seg = lab.layout.segments[0]
    conf = lab.workdir / "radvd.conf"
    conf.write_text(
        RADVD.format(bridge=seg.bridge, prefix=seg.prefix, on_link="on" if on_link else "off")
    )
    lab.start(
        "radvd",
        lab.layout.upstream,
        (
            program("radvd"),
            "-n",
            "-C",
            str(conf),
            "-p",
            str(lab.workdir / "radvd.pid"),
            "-m",
            "stderr",
        ),
    )


@pytest.mark.parametrize("on_link", [True, False])
def test_the_routers_advertisement_tells(lab_env: None, on_link: bool) -> None:
    # No scanner: only the router's advertisement (received, asked by rdisc6, and the route
    # the kernel made from it) can tell.
    plan = plan_for(RoutingMode.ROUTED)
    with Lab(plan, link=LabLink.ON_LINK, noise=False) as lab:
        _radvd(lab, on_link)
        result = link_model(lab, plan)["node0001"]
    evidence = result.evidence
    # radvd speaks from the bridge's own link-local; the gateway fe80::1 has the same MAC.
    assert "seen: router advertisement from fe80::" in evidence
    assert ": 2001:db8:1234:5678::/64 L=" in evidence
    if on_link:
        assert result.status is Status.WARN, result
        assert result.message.startswith("on-link: the router advertises"), result
        assert result.fix == "set routing: ndp-proxy in kube6.yaml"
        assert "L=1 A=0" in evidence
    else:
        assert result.status is Status.OK, result
        assert "L=0 (not on-link): a hint of routed" in result.message, result
        assert "L=0 A=0" in evidence


def test_over_ssh_the_same_as_in_the_namespace(lab_env: None) -> None:
    # The listener (a python3 script in one argv item) through real sshd, run from the lab's
    # internet as an operator would: quoting, sudo-less root, the same verdict.
    plan = plan_for(RoutingMode.NDP_PROXY)
    with Lab(plan, link=LabLink.ROUTED, noise=True, ssh=True) as lab:
        executors: dict[str, Executor] = {n.name: lab.ssh_executor(n.name) for n in plan.nodes}
        results = in_namespace(
            lab.internet,
            lambda: asyncio.run(check_hosts(plan, executors, hosts=(), connect=False)),
        )
        # The listener itself, over the SSH session it reports on: the session's own packets
        # (to the node's address) are left out, the scanner's are there.
        node = plan.nodes[0]
        raw = in_namespace(
            lab.internet,
            lambda: asyncio.run(
                gather_link(lab.ssh_executor(node.name), node.interface, node.link_prefix)
            ),
        )
    assert raw.listen is not None, raw.unknown
    assert raw.listen.packets > 0
    destinations = {str(d.destination) for d in raw.listen.deliveries}
    assert destinations == {UNASSIGNED}, raw.listen
    found = {r.node: r for r in results if r.name == NAME}
    assert found["node0001"].status is Status.WARN, found["node0001"]
    assert found["node0001"].message.startswith("routed: a packet for "), found["node0001"]
    assert found["node0001"].fix == "set routing: routed in kube6.yaml"
    assert found["node0002"].message.startswith("unknown: "), found["node0002"]
