"""Host firewall renderer: what each node admits, idempotent loading, injection guards.

The unit tests read the rendered text. The lab tests (root, nft) check the syntax with
`nft -c`, load the ruleset twice into a fresh network namespace, and send real traffic through
kube6's network-namespace lab.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

from kube6 import spec
from kube6.components.firewall import render as firewall
from kube6.lab import INTERNET_HOST, Lab, missing_programs
from kube6.plan.model import Plan

PlanOf = Callable[[str], Plan]
GoldenPlan = Callable[[str], Plan]

BGP_SPEC = """\
prefix: 2001:db8:1234:5678::/64
routing: bgp
bgp: {peer: "2001:db8:1234:5678::fffe", peer_as: 65001}
nodes:
  - {name: one, address: "2001:db8:1234:5678::1"}
addons: {gateway: {enabled: false}}
firewall: {ssh_port: 2222, api_sources: ["2001:db8:ff00::/40", "2001:db8:ff10::/48"]}
"""


def _ruleset(plan: Plan, node: str) -> str:
    return firewall.ruleset(plan, plan.node(node))


def _rules(text: str) -> list[str]:
    """The statements of the input chain, comments and blank lines dropped."""
    body = text.split("chain input {", 1)[1].split("chain forward {", 1)[0]
    return [
        line.strip()
        for line in body.splitlines()
        if line.strip() and not line.strip().startswith("#") and line.strip() != "}"
    ]


def _set(text: str, name: str) -> list[str]:
    block = text.split(f"set {name} {{", 1)[1].split("}", 1)[0]
    for line in block.splitlines():
        if "elements = {" in line:
            return [e.strip() for e in line.split("{", 1)[1].split(",")]
    return []


def _accepts(text: str, port: str) -> list[str]:
    return [r for r in _rules(text) if f"dport {port} " in r and "accept" in r]


def test_one_ruleset_and_unit_per_node(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("ha-3cp-5w")
    paths = {a.path for a in firewall.render(plan)}
    for node in plan.nodes:
        assert f"nodes/{node.name}{firewall.RULESET_PATH}" in paths
        assert f"nodes/{node.name}{firewall.UNIT_PATH}" in paths
    assert len(paths) == 2 * len(plan.nodes)


def test_loading_replaces_the_table_atomically(plan_of: PlanOf) -> None:
    text = _ruleset(plan_of(spec.EXAMPLE_YAML), "node0001")
    statements = [line for line in text.splitlines() if line and not line.startswith("#")]
    # Declare (no-op if present), delete, define: one transaction, one copy, whatever was there.
    assert statements[:3] == ["table ip6 kube6", "delete table ip6 kube6", "table ip6 kube6 {"]
    assert text.startswith("#!/usr/sbin/nft -f\n")
    assert "flush ruleset" not in text
    assert "type filter hook input priority filter; policy drop;" in _rules(text)
    # Forwarded traffic is left to Calico's policies, but what is still addressed to the
    # LoadBalancer range after kube-proxy's DNAT (prerouting): no Service declares it.
    forward = text.split("chain forward {", 1)[1].split("}", 1)[0]
    assert [line.strip() for line in forward.strip().splitlines()] == [
        "type filter hook forward priority filter; policy accept;",
        'ip6 daddr @load_balancers drop comment "LoadBalancer range: undeclared"',
    ]
    assert _set(text, "load_balancers") == ["2001:db8:1234:5678:8:4::/120"]


def test_example_admits_only_what_it_must(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    text = _ruleset(plan, "node0001")
    rules = _rules(text)
    assert rules[1] == "ct state established,related accept"
    assert 'iif "lo" accept' in rules
    assert _accepts(text, "22") == ['tcp dport 22 ip6 saddr @ssh_sources accept comment "SSH"']
    assert _set(text, "ssh_sources") == ["::/0"]
    assert _set(text, "api_sources") == ["::/0"]
    assert _accepts(text, "2379-2380") == [
        'tcp dport 2379-2380 ip6 saddr @control_plane accept comment "etcd"'
    ]
    assert {r.split(" saddr ")[1].split()[0] for r in _accepts(text, "10250")} == {
        "@nodes",
        "@pods",
    }
    assert 'tcp dport { 80, 443 } accept comment "gateway"' in rules
    # Every port rule names its sources, except the gateway's, which is public on purpose.
    public = [r for r in rules if "dport" in r and "saddr" not in r]
    assert public == ['tcp dport { 80, 443 } accept comment "gateway"']
    assert _set(text, "pods") == [str(p.cidr) for p in plan.pools]


def test_icmpv6_follows_rfc4890(plan_of: PlanOf) -> None:
    rules = _rules(_ruleset(plan_of(spec.EXAMPLE_YAML), "node0001"))
    nd = next(r for r in rules if "nd-neighbor-solicit" in r)
    for kind in ("nd-router-solicit", "nd-router-advert", "nd-neighbor-advert"):
        assert kind in nd
    assert "ip6 hoplimit 255" in nd, "neighbour discovery only from the link itself"
    errors = next(r for r in rules if "packet-too-big" in r)
    for kind in ("destination-unreachable", "time-exceeded", "parameter-problem", "echo-request"):
        assert kind in errors
    mld = next(r for r in rules if "mld-listener-query" in r)
    assert mld.startswith("ip6 saddr fe80::/10")
    # Neighbour discovery must be accepted before anything that drops.
    assert rules.index(nd) < rules.index("ct state invalid drop")


def test_workers_and_control_plane_differ(golden_plan: GoldenPlan) -> None:
    plan = golden_plan("ha-3cp-5w")
    control, worker = _ruleset(plan, "cp1"), _ruleset(plan, "worker1")
    assert _accepts(worker, "6443") == []
    assert _accepts(worker, "2379-2380") == []
    assert "api_sources" not in worker
    assert len(_accepts(control, "6443")) == 3
    assert _set(control, "api_sources") == ["2001:db8:ffff::/48"]
    assert _set(control, "ssh_sources") == ["2001:db8:ffff::/48"]

    # Sets of merged intervals: exactly the node addresses, however they are written.
    def covered(name: str) -> set[IPv6Address]:
        return {a for n in _set(control, name) for a in IPv6Network(n)}

    assert covered("nodes") == {n.address for n in plan.nodes}
    assert covered("control_plane") == {n.address for n in plan.nodes if n.is_control_plane}
    # The gateway's ports only where Envoy runs (workers).
    assert "gateway" not in control
    assert "gateway" in worker
    # Pods keep reaching the API server even though api_sources is narrowed.
    assert "tcp dport 6443 ip6 saddr @pods accept" in _rules(control)
    # No BGP daemon outside routing: bgp, so no BGP port either.
    assert not _accepts(control, "179")
    assert not _accepts(worker, "179")


def test_bgp_peer_ssh_port_and_merged_sources(plan_of: PlanOf) -> None:
    text = _ruleset(plan_of(BGP_SPEC), "one")
    assert (
        'tcp dport 179 ip6 saddr 2001:db8:1234:5678::fffe accept comment "BGP upstream"'
        in _rules(text)
    )
    assert 'tcp dport 179 ip6 saddr @nodes accept comment "BGP mesh"' in _rules(text)
    assert _accepts(text, "2222")
    assert not _accepts(text, "22")
    # 2001:db8:ff10::/48 lies inside 2001:db8:ff00::/40: an nft interval set refuses overlaps.
    assert _set(text, "api_sources") == ["2001:db8:ff00::/40"]
    assert "gateway" not in text


def test_no_bgp_peer_rule_outside_bgp_mode(plan_of: PlanOf) -> None:
    assert "BGP upstream" not in _ruleset(plan_of(spec.EXAMPLE_YAML), "node0001")


def test_firewall_off_renders_nothing(plan_of: PlanOf) -> None:
    assert list(firewall.render(plan_of(spec.EXAMPLE_YAML + "firewall: {enabled: false}\n"))) == []


def test_unit_loads_the_ruleset_and_survives_nftables_service(plan_of: PlanOf) -> None:
    unit = firewall.unit_file(plan_of(spec.EXAMPLE_YAML))
    lines = unit.splitlines()
    assert f"ExecStart=/usr/sbin/nft -f {firewall.RULESET_PATH}" in lines
    assert "After=nftables.service" in lines
    assert "PartOf=nftables.service" in lines
    assert "WantedBy=sysinit.target" in lines


@pytest.mark.parametrize(
    "bad",
    [
        "2001:db8::1 } accept; flush ruleset #",
        "::1\nchain evil",
        1,
        None,
    ],
)
def test_values_that_are_not_typed_addresses_are_refused(plan_of: PlanOf, bad: object) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    node = plan.nodes[0]
    hostile = dataclasses.replace(node, address=bad)  # type: ignore[arg-type]
    hostile_plan = dataclasses.replace(plan, nodes=(hostile,))
    with pytest.raises(TypeError, match="firewall: expected an IPv6Address"):
        firewall.ruleset(hostile_plan, hostile)


@pytest.mark.parametrize("port", [0, 65536, True, "22; accept", 22.0])
def test_ports_must_be_port_numbers(plan_of: PlanOf, port: object) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    hostile = dataclasses.replace(
        plan,
        firewall=dataclasses.replace(plan.firewall, ssh_port=port),  # type: ignore[arg-type]
    )
    with pytest.raises(TypeError, match="port number"):
        firewall.ruleset(hostile, plan.nodes[0])


def test_a_hostile_source_name_cannot_end_the_header_comment(plan_of: PlanOf) -> None:
    plan = dataclasses.replace(plan_of(spec.EXAMPLE_YAML), source="x.yaml\nflush ruleset")
    with pytest.raises(ValueError, match="not a plain comment block"):
        firewall.ruleset(plan, plan.nodes[0])


def test_node_names_must_be_labels(plan_of: PlanOf) -> None:
    plan = plan_of(spec.EXAMPLE_YAML)
    node = dataclasses.replace(plan.nodes[0], name='x"\n}\nchain evil {')
    with pytest.raises(TypeError, match="DNS-1123"):
        firewall.ruleset(dataclasses.replace(plan, nodes=(node,)), node)


# ---- lab: the kernel's view ----------------------------------------------------------------


@pytest.fixture
def root_with_nft() -> None:
    """Root and nft are required; skipped only on explicit request (like tests/lab)."""
    if os.environ.get("KUBE6_SKIP_LAB") == "1":
        pytest.skip("KUBE6_SKIP_LAB=1: nftables lab tests were explicitly NOT run")
    if os.geteuid() != 0:
        pytest.fail("nftables lab tests need root; run as root or set KUBE6_SKIP_LAB=1")
    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.fail("nftables lab tests need nft and unshare: apt-get install nftables util-linux")


def _in_fresh_netns(script: str, *files: Path) -> subprocess.CompletedProcess[str]:
    # A network namespace of its own for this process only: nothing touches the host's rules.
    argv = ["unshare", "--net", "--", sys.executable, "-c", script, *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


LOAD_TWICE = """\
import subprocess, sys
path = sys.argv[1]
subprocess.run(["nft", "-c", "-f", path], check=True)
for _ in range(2):
    subprocess.run(["nft", "-f", path], check=True)
print(subprocess.run(["nft", "list", "tables"], check=True, capture_output=True, text=True).stdout)
print("----")
print(subprocess.run(["nft", "list", "chain", "ip6", "kube6", "input"], check=True,
                     capture_output=True, text=True).stdout)
"""


@pytest.mark.lab
def test_rulesets_pass_nft_and_load_twice_as_one_table(
    root_with_nft: None, golden_plan: GoldenPlan, scenario: str, tmp_path: Path
) -> None:
    plan = golden_plan(scenario)
    for node in plan.nodes:
        path = tmp_path / f"{node.name}.nft"
        path.write_text(firewall.ruleset(plan, node))
        result = _in_fresh_netns(LOAD_TWICE, path)
        assert result.returncode == 0, f"{scenario}/{node.name}: {result.stderr}"
        tables, chain = result.stdout.split("----\n", 1)
        assert tables.split() == ["table", "ip6", "kube6"], result.stdout
        assert chain.count("chain input {") == 1
        assert "policy drop" in chain
        # The kernel holds the rules once, not twice.
        assert chain.count('comment "SSH"') == 1


TWO_NODES = """\
prefix: 2001:db8:1234:5678::/64
nodes:
  - {name: node0001, address: "2001:db8:1234:5678::1"}
  - {name: node0002, address: "2001:db8:1234:5678::2", roles: [worker]}
firewall: {ssh_sources: ["2001:db8:ffff::/48"]}
"""


@pytest.fixture
def firewalled_lab(root_with_nft: None, plan_of: PlanOf, tmp_path: Path) -> Iterator[Lab]:
    missing = missing_programs()
    if missing:
        pytest.fail(f"the lab needs {', '.join(missing)}: run tests/lab/install-packages.sh")
    plan = plan_of(TWO_NODES)
    with Lab(plan, nat64=False) as lab:
        ports = ("22", "80", "2379", "6443", "10250", "8080")
        for node in plan.nodes:
            path = tmp_path / f"{node.name}.nft"
            path.write_text(firewall.ruleset(plan, node))
            lab.run(lab.node_ns(node.name), ("nft", "-f", str(path)))
            lab.run(lab.node_ns(node.name), ("nft", "-f", str(path)))
            args = [a for p in ports for a in ("--port", p)]
            namespace = lab.node_ns(node.name)
            lab.start(
                f"listener-{node.name}",
                namespace,
                (sys.executable, "-m", "kube6.lab.listener", *args),
                ready=functools.partial(lab.listening, namespace, 8080),
            )
        yield lab


@pytest.mark.lab
def test_traffic_through_the_firewall(firewalled_lab: Lab, plan_of: PlanOf) -> None:
    lab = firewalled_lab
    plan = plan_of(TWO_NODES)
    first, second = plan.nodes
    internet = lab.internet
    assert str(INTERNET_HOST).startswith("2001:db8:ffff:")  # inside ssh_sources
    # From the internet: SSH (from ssh_sources), the API server (api_sources ::/0) and ping;
    # not etcd, not the kubelet, not an unexposed port.
    assert lab.ping(internet, first.address, deadline=10), "ping (and ND) must keep working"
    assert lab.connect(internet, first.address, 22)
    assert lab.connect(internet, first.address, 6443)
    for port in (2379, 10250, 8080):
        assert not lab.connect(internet, first.address, port, wait=1), port
    # Between nodes: the kubelet is reachable; etcd only from control-plane nodes.
    assert lab.connect(lab.node_ns(second.name), first.address, 10250)
    assert lab.connect(lab.node_ns(first.name), second.address, 10250)
    assert not lab.connect(lab.node_ns(second.name), first.address, 2379, wait=1)
    assert lab.connect(lab.node_ns(second.name), first.address, 6443)
    # The gateway's ports on the worker (host-network case).
    assert lab.connect(internet, second.address, 80)
    # One table, even though every node loaded its ruleset twice.
    listed = lab.run(lab.node_ns(first.name), ("nft", "list", "tables")).stdout.split("\n")
    assert [t for t in listed if "kube6" in t] == ["table ip6 kube6"]


def test_guard_accepts_the_real_types() -> None:
    assert firewall._address(IPv6Address("2001:db8::1")) == "2001:db8::1"
