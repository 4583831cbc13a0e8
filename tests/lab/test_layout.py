"""The lab's layout and configs are pure: checked here without root (no `lab` marker)."""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

from kube6.lab import configs
from kube6.lab.commands import confined, mesh_commands, pod_commands, setup_commands, tayga_commands
from kube6.lab.layout import (
    CALICO_GATEWAY,
    NAMESPACE,
    Layout,
    lab_id_of,
    layout,
    namespace_name,
    pod,
)
from kube6.modes import LinkModel
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

DOC_V6 = IPv6Network("2001:db8::/32")


def test_every_command_stays_inside_the_labs_namespaces(two_node_plan: Plan) -> None:
    lay = layout(two_node_plan, "1a2b")
    pods = [pod(lay, "node0001", 0), pod(lay, "node0002", 0)]
    namespaces = [*lay.namespaces, *(p.namespace for p in pods)]
    commands = [
        *setup_commands(lay),
        *tayga_commands(lay),
        *(c for p in pods for c in pod_commands(lay, p)),
        *mesh_commands(lay, "node0001"),
    ]
    assert commands
    for argv in commands:
        assert confined(argv, namespaces), argv
        # A link is only ever created inside a namespace (`ip -n NS link add`).
        if "add" in argv and "link" in argv:
            assert argv[:2] == ("ip", "-n"), argv


@pytest.mark.parametrize(
    "argv",
    [
        ("ip", "link", "add", "a", "type", "veth"),
        ("ip", "-6", "route", "add", "default", "via", "fe80::1"),
        ("sysctl", "-w", "net.ipv6.conf.all.forwarding=1"),
        ("ip", "netns", "exec", "other", "sysctl", "-w", "x=1"),
        ("ip", "-n", "other", "link", "del", "eth0"),
        ("ip", "netns", "del", "other"),
        ("ip",),
    ],
)
def test_confined_refuses_anything_else(argv: tuple[str, ...]) -> None:
    assert not confined(argv, ["k6-1a2b-upstream"])


def test_only_documentation_addresses(two_node_plan: Plan) -> None:
    lay = layout(two_node_plan, "1a2b")
    text = " ".join(" ".join(c) for c in setup_commands(lay))
    for word in text.replace("/", " ").split():
        if ":" in word and word.count(":") >= 2 and not word.startswith("net."):
            address = IPv6Address(word)
            assert address in DOC_V6 or address.is_link_local, word
        elif word.count(".") == 3 and word.replace(".", "").isdigit():
            assert word.startswith(("192.0.2.", "198.51.100.")), word


def test_names_and_ids() -> None:
    assert namespace_name("1a2b", "node0001") == "k6-1a2b-node0001"
    assert lab_id_of("k6-1a2b-node0001") == "1a2b"
    assert lab_id_of("k6-1a2b-") is None
    assert lab_id_of("cni-1a2b-node") is None
    with pytest.raises(ValueError, match="4 lowercase hex"):
        namespace_name("XYZ", "upstream")
    with pytest.raises(ValueError, match="cannot be part"):
        namespace_name("1a2b", "Bad_Role")
    assert NAMESPACE.match(namespace_name("ffff", "pod-0-0"))


def test_pods_get_addresses_from_their_nodes_blocks(two_node_plan: Plan) -> None:
    lay = layout(two_node_plan, "1a2b")
    first, second = pod(lay, "node0001", 0), pod(lay, "node0002", 0)
    pool = two_node_plan.pools[0]
    assert first.address in pool.cidr
    assert second.address in pool.cidr
    assert lay.pod_blocks["node0001"] != lay.pod_blocks["node0002"]
    assert first.address in lay.pod_blocks["node0001"]
    assert len(first.host_interface) <= 15
    assert first.host_interface.startswith("cali")
    cmds = pod_commands(lay, first)
    node_ns = lay.node("node0001").namespace
    assert (
        "ip",
        "-n",
        node_ns,
        "-6",
        "route",
        "add",
        f"{first.address}/128",
        "dev",
        first.host_interface,
    ) in cmds
    assert any(str(CALICO_GATEWAY) in c and "default" in c for c in cmds)


def test_router_address_avoids_every_planned_range(two_node_plan: Plan) -> None:
    lay = layout(two_node_plan, "1a2b")
    (segment,) = lay.segments
    assert segment.router in two_node_plan.prefix
    assert segment.router not in two_node_plan.services
    assert all(segment.router not in p.cidr for p in two_node_plan.pools)
    assert segment.router not in {n.address for n in two_node_plan.nodes}


def test_nodes_on_two_provider_links_get_two_segments() -> None:
    plan = make_plan(
        from_data(
            {
                "prefix": "2001:db8:1234:5678::/64",
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
        )
    )
    lay = layout(plan, "1a2b")
    assert [s.prefix for s in lay.segments] == [n.link_prefix for n in plan.nodes]
    assert lay.node("node0002").bridge == "lan1"
    with pytest.raises(KeyError, match="node0003"):
        lay.node("node0003")


def test_unbound_configs(tmp_path: Path) -> None:
    auth = configs.unbound_authoritative(
        {**configs.default_records(), "ghcr.io": ("198.51.100.10",)}, workdir=tmp_path
    )
    assert 'local-data: "v4only.lab.example. 60 IN A 198.51.100.10"' in auth
    assert 'local-data: "ipv4only.arpa. 60 IN A 192.0.0.170"' in auth
    assert 'local-zone: "ghcr.io." static' in auth
    assert "interface: ::1@5353" in auth
    with_dns64 = configs.unbound_resolver(dns64=True, workdir=tmp_path)
    assert 'module-config: "dns64 iterator"' in with_dns64
    assert "dns64-prefix: 2001:db8:64::/96" in with_dns64
    without = configs.unbound_resolver(dns64=False, workdir=tmp_path)
    assert "dns64" not in without
    with pytest.raises(ValueError, match="not a DNS name"):
        configs.unbound_authoritative({'bad"name': ("192.0.2.1",)}, workdir=tmp_path)


def test_mesh_routes_send_a_nodes_block_via_its_address(two_node_plan: Plan) -> None:
    lay = layout(two_node_plan, "1a2b")
    (route,) = mesh_commands(lay, "node0002")
    assert route[:3] == ("ip", "-n", lay.node("node0001").namespace)
    block = lay.pod_blocks["node0002"]
    assert (str(block), "via", "2001:db8:1234:5678::2") == route[6:9]


ROUTED_SPEC = {
    "prefix": "2001:db8:1234:5678::/64",
    "routing": "routed",
    "nodes": [
        {"name": "cp1", "address": "2001:db8:1234:5678::11", "roles": ["control-plane"]},
        {"name": "worker1", "address": "2001:db8:1234:5678::12", "roles": ["worker"]},
        {
            "name": "worker2",
            "address": "2001:db8:aaaa:bbbb::2",
            "prefix": "2001:db8:aaaa:bbbb::/64",
            "roles": ["worker"],
        },
    ],
}


def test_the_link_model_follows_the_routing_mode_unless_chosen(two_node_plan: Plan) -> None:
    assert layout(two_node_plan, "1a2b").link is LinkModel.ON_LINK
    routed = make_plan(from_data(ROUTED_SPEC))
    assert layout(routed, "1a2b").link is LinkModel.ROUTED
    assert layout(routed, "1a2b", LinkModel.ON_LINK).link is LinkModel.ON_LINK
    assert {s.link for s in layout(two_node_plan, "1a2b", LinkModel.ROUTED).segments} == {
        LinkModel.ROUTED
    }


def test_a_routed_link_resolves_only_the_nodes_and_routes_the_prefix_to_the_first() -> None:
    plan = make_plan(from_data(ROUTED_SPEC))
    lay = layout(plan, "1a2b")
    cmds = setup_commands(lay)
    up = lay.upstream
    first, second = lay.segments
    # No address of the prefix on the router: it never solicits the prefix's other addresses.
    on_router = [
        IPv6Address(c[5].split("/")[0]) for c in cmds if c[2] == up and c[3:5] == ("addr", "add")
    ]
    assert not [a for a in on_router if a in first.prefix or a in second.prefix], on_router
    assert ("ip", "-n", up, "addr", "add", "fe80::1/64", "dev", "lan0", "nodad") in cmds
    for address in ("2001:db8:1234:5678::11", "2001:db8:1234:5678::12"):
        assert ("ip", "-n", up, "-6", "route", "add", f"{address}/128", "dev", "lan0") in cmds
    assert first.routed_to == IPv6Address("2001:db8:1234:5678::11")
    assert (
        "ip",
        "-n",
        up,
        "-6",
        "route",
        "add",
        "2001:db8:1234:5678::/64",
        "via",
        "2001:db8:1234:5678::11",
        "dev",
        "lan0",
    ) in cmds
    assert second.routed_to == IPv6Address("2001:db8:aaaa:bbbb::2")
    assert confined_all(lay)


def test_an_on_link_segment_puts_the_prefix_on_the_router(two_node_plan: Plan) -> None:
    lay = layout(two_node_plan, "1a2b")
    (segment,) = lay.segments
    assert segment.routed_to is None
    cmds = setup_commands(lay)
    address = f"{segment.router}/{segment.prefix.prefixlen}"
    assert ("ip", "-n", lay.upstream, "addr", "add", address, "dev", "lan0", "nodad") in cmds
    assert not any("via" in c and c[2] == lay.upstream and "lan0" in c for c in cmds)


def test_the_noise_address_is_unassigned(two_node_plan: Plan) -> None:
    for plan in (two_node_plan, make_plan(from_data(ROUTED_SPEC))):
        for segment in layout(plan, "1a2b").segments:
            noise = segment.unassigned
            assert noise is not None
            assert noise in segment.prefix
            assert noise not in {n.address for n in plan.nodes}
            assert noise not in plan.services
            assert all(noise not in p.cidr for p in plan.pools)


def confined_all(lay: Layout) -> bool:
    return all(confined(c, lay.namespaces) for c in setup_commands(lay))


def test_the_internet_can_sit_behind_a_smaller_mtu_hop(two_node_plan: Plan) -> None:
    assert not any("mtu" in c for c in setup_commands(layout(two_node_plan, "1a2b")))
    lay = layout(two_node_plan, "1a2b", internet_mtu=1400)
    cmds = setup_commands(lay)
    assert ("ip", "-n", lay.internet, "link", "set", "eth0", "mtu", "1400") in cmds
    assert ("ip", "-n", lay.upstream, "link", "set", "inet0", "mtu", "1400") in cmds
    for wrong in (1279, 1501):
        with pytest.raises(ValueError, match=f"internet MTU {wrong} is outside 1280-1500"):
            layout(two_node_plan, "1a2b", internet_mtu=wrong)
