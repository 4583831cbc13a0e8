"""Data-path probes for real, in lab pod namespaces (no kubelet): with and without the NDP proxy.

Each probe runs twice: with this machine's tools (iputils ping, OpenBSD netcat, bind9's
nslookup, iproute2: what netshoot has) and with busybox's applets (what the pinned probe image
has), and both must read the lab alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Callable, Iterator

import pytest

from kube6.execute import Executor, NetnsExecutor, Result
from kube6.lab import INTERNET_HOST, IPV4_ONLY_NAME, NAT64_PREFIX, RESOLVER, Lab, lab_namespaces
from kube6.plan.model import Plan
from kube6.verify.datapath import Targets, run_datapath
from kube6.verify.result import CheckResult, Status, is_skipped
from tests.lab.conftest import lab_env, two_node_plan
from tests.verify.fixtures import ev

pytestmark = pytest.mark.lab

__all__ = ["lab_env", "two_node_plan"]  # fixtures shared with the lab tests


@pytest.fixture(scope="module")
def lab(lab_env: None, two_node_plan: Plan) -> Iterator[Lab]:
    with Lab(two_node_plan) as built:
        yield built
    assert built.lab_id not in lab_namespaces(), "the lab left namespaces behind"


def mesh_routes(lab: Lab) -> None:
    """Route each node's pod block via the other node, as Calico's BGP mesh does.

    Without them a node treats the other node's pods as on-link and solicits them itself; the
    NDP proxy (ndppd 0.2.x) then keeps answering that node instead of the upstream router.
    """
    nodes = ("node0001", "node0002")
    for here, there in (nodes, nodes[::-1]):
        block = lab.layout.pod_blocks[there]
        via = str(lab.node(there).address)
        lab.run(lab.node_ns(here), ("ip", "-6", "route", "replace", str(block), "via", via))


class BusyboxApplets(NetnsExecutor):
    """Runs each probe command as a busybox applet (`busybox ping ...`) in a lab namespace.

    It stands in for the probe pods' image, docker.io/library/busybox:1.37.0, which is busybox
    1.37.0 built with upstream `make defconfig`; the busybox here is Debian's 1.35 with Debian's
    configuration. Same applets and flags, with one difference that shows: Debian builds nc
    without nc-1.10 compatibility, so it refuses `-z` and the probe falls back to `-e true`
    (the image's nc takes `-z`).
    """

    def __init__(self, namespace: str) -> None:
        if shutil.which("busybox") is None:
            pytest.fail("no busybox here: run tests/lab/install-packages.sh as root")
        super().__init__(namespace)
        self.argvs: list[tuple[str, ...]] = []

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        self.argvs.append(argv)
        return await super()._exec(("busybox", *argv), stdin, timeout)


def host_tools(namespace: str) -> NetnsExecutor:
    return NetnsExecutor(namespace)


Tools = Callable[[str], Executor]


def probe(lab: Lab, plan: Plan, tools: Tools = host_tools) -> dict[str, CheckResult]:
    first = lab.pods.get("pod-0-0") or lab.add_pod("node0001")
    other = lab.pods.get("pod-1-0") or lab.add_pod("node0002")
    mesh_routes(lab)
    # The lab's NAT64 prefix is what `kube6 check` would discover and kube6.yaml would name.
    planned = dataclasses.replace(
        plan, dns_settings=dataclasses.replace(plan.dns_settings, nat64_prefix=NAT64_PREFIX)
    )
    targets = Targets(
        node=plan.node("node0001").address,
        other_pod=other.address,
        outside=INTERNET_HOST,
        ipv4_only_name=IPV4_ONLY_NAME,
        ipv4_only_port=80,
        cluster_dns=False,
        resolver=RESOLVER,
    )
    results = asyncio.run(run_datapath(tools(first.namespace), planned, targets))
    return {r.name: r for r in results}


@pytest.mark.parametrize("tools", [host_tools, BusyboxApplets], ids=["host-tools", "busybox"])
def test_probes_fail_clearly_without_the_ndp_proxy_and_pass_with_it(
    lab: Lab, two_node_plan: Plan, tools: Tools
) -> None:
    # The router still knows the pods from an earlier run with the proxy; without the proxy it
    # must solicit them anew (and get no answer).
    lab.run(lab.upstream, ("ip", "-6", "neigh", "flush", "all"))
    made: list[Executor] = []

    def recorded(namespace: str) -> Executor:
        made.append(tools(namespace))
        return made[-1]

    without = probe(lab, two_node_plan, recorded)
    assert without["probe-address"].status is Status.OK
    assert without["pod-to-node"].status is Status.OK
    # Pods on different nodes reach each other through the nodes' routes...
    assert without["pod-to-pod"].status is Status.OK
    # ...but everything that needs the upstream router to find a pod address fails.
    for name in ("pod-to-outside", "pod-to-ipv4-via-nat64"):
        assert without[name].status is Status.FAIL, without[name]
    outside = without["pod-to-outside"]
    assert outside.message == f"an outside address ({INTERNET_HOST}) does not answer ping"
    assert "NDP proxy" in outside.fix
    assert "100% packet loss" in ev(outside)[0]
    nat64 = without["pod-to-ipv4-via-nat64"]
    assert nat64.message == (
        f"resolving {IPV4_ONLY_NAME} through {RESOLVER} failed: the resolver did not answer"
    )

    for node in ("node0001", "node0002"):
        lab.start_ndppd(node)
    try:
        with_proxy = probe(lab, two_node_plan, recorded)
    finally:
        for node in ("node0001", "node0002"):
            lab.stop_ndppd(node)
    assert [n for n, r in with_proxy.items() if r.status is not Status.OK] == [], {
        n: (r.message, r.evidence) for n, r in with_proxy.items()
    }
    assert [n for n, r in with_proxy.items() if is_skipped(r)] == ["dns-kubernetes"]
    if tools is BusyboxApplets:
        ran = {argv for ex in made if isinstance(ex, BusyboxApplets) for argv in ex.argvs}
        assert {argv[0] for argv in ran} == {"ip", "nslookup", "ping", "nc"}
        # Debian's nc refused -z; the connection was made (and passed) with -e true.
        assert any(argv[0] == "nc" and argv[-2:] == ("-e", "true") for argv in ran), ran


@pytest.mark.parametrize("tools", [host_tools, BusyboxApplets], ids=["host-tools", "busybox"])
def test_path_mtu_discovery_passes_and_a_packet_too_big_black_hole_is_caught(
    lab_env: None, two_node_plan: Plan, tools: Tools
) -> None:
    """The internet behind a 1400-byte hop: the pod's full-size echoes draw ICMPv6 Packet Too
    Big from the provider's router and then get through; with Packet Too Big dropped on the
    pod's node, small echoes still pass and the full-size ones are lost: path-mtu fails."""
    with Lab(two_node_plan, internet_mtu=1400) as lab:
        for node in ("node0001", "node0002"):
            lab.start_ndppd(node)
        passing = probe(lab, two_node_plan, tools)
        assert passing["pod-to-outside"].status is Status.OK, passing["pod-to-outside"]
        assert passing["path-mtu"].status is Status.OK, passing["path-mtu"]
        assert "1500-byte packets" in passing["path-mtu"].message
        # The pod learned the path's MTU from the router's Packet Too Big.
        pod = lab.pods["pod-0-0"]
        learned = lab.run(pod.namespace, ("ip", "-6", "route", "get", str(INTERNET_HOST)))
        assert "mtu 1400" in learned.stdout, learned.stdout

        node = lab.node_ns("node0001")
        lab.run(pod.namespace, ("ip", "-6", "route", "flush", "cache"))
        for command in (
            ("add", "table", "ip6", "k6-test"),
            ("add", "chain", "ip6", "k6-test", "forward",
             "{ type filter hook forward priority 0; }"),
            ("add", "rule", "ip6", "k6-test", "forward", "icmpv6", "type", "packet-too-big",
             "drop"),
        ):  # fmt: skip
            lab.run(node, ("nft", *command))
        failing = probe(lab, two_node_plan, tools)
        assert failing["pod-to-outside"].status is Status.OK, failing["pod-to-outside"]
        result = failing["path-mtu"]
        assert result.status is Status.FAIL, result
        assert "Packet Too Big" in result.fix
