"""Every check, passing and failing, on hand-built facts for the built-in example plan."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import Any

import pytest

from kube6.checks import CHECK_NAMES, ArtifactHost, Status, run_checks, validate_ignore
from kube6.checks.model import CheckResult
from kube6.components.registry import artifact_hosts
from kube6.errors import UsageError
from kube6.execute import ConnectError
from kube6.facts import (
    Address,
    HostFacts,
    Interface,
    Listener,
    Lookup,
    OsRelease,
    Route,
    Service,
    Swap,
    discover_nat64,
)
from kube6.facts import dns as facts_dns
from kube6.facts import network as facts_network
from kube6.facts import system as facts_system
from kube6.facts.dns import ResolvConf
from kube6.facts.link import LinkFacts, Listen
from kube6.facts.probe import Probe
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import example, from_data

NODE_ADDR = IPv6Address("2001:db8:1234:5678::1")
PREFIX = IPv6Network("2001:db8:1234:5678::/64")
NAT64 = IPv6Network("64:ff9b::/96")
GIB = 2**30
HOSTS = (ArtifactHost("v6.example", "an IPv6 host"), ArtifactHost("v4.example", "an IPv4 host"))


def plan_from(**changes: Any) -> Plan:
    data: dict[str, Any] = {
        "prefix": str(PREFIX),
        "nodes": [{"name": "node0001", "address": str(NODE_ADDR)}],
    }
    data.update(changes)
    return make_plan(from_data(data))


PLAN = make_plan(example())


def addr(text: str, **flags: Any) -> Address:
    return Address(IPv6Address(text), 64, flags.pop("scope", "global"), **flags)


def healthy(**changes: Any) -> HostFacts:
    facts = HostFacts(
        host="node0001",
        node="node0001",
        os=OsRelease("ubuntu", "24.04", "Ubuntu 24.04.3 LTS", "noble"),
        interfaces=(
            Interface("lo", 1, True, 65536, (addr("::1", scope="host"),)),
            Interface("eth0", 2, True, 1500, (addr(str(NODE_ADDR)), addr("fe80::1", scope="link"))),
        ),
        routes=(
            Route(PREFIX, "eth0", proto="kernel", metric=256),
            Route(IPv6Network("fe80::/64"), "eth0", proto="kernel"),
            Route(None, "eth0", IPv6Address("fe80::1"), proto="static", metric=1024),
        ),
        ipv6_conf={
            "all": {"forwarding": 1, "accept_ra": 1},
            "default": {"forwarding": 1, "accept_ra": 1},
            "eth0": {"forwarding": 1, "accept_ra": 2},
        },
        modules=frozenset({"overlay", "nf_tables"}),
        swaps=(),
        disks=(facts_system.Filesystem("/var/lib", "1a", 100 * GIB, 60 * GIB),),
        cgroup=2,
        listeners=(Listener("::", 22), Listener("127.0.0.53", 53)),
        packages={"iproute2": "6.1.0-3"},
        services={},
        resolv_conf=ResolvConf(("2001:db8::53",)),
        nat64=discover_nat64(Lookup("ipv4only.arpa", ipv6=(IPv6Address("64:ff9b::c000:aa"),))),
        lookups=(
            Lookup("v6.example", ipv6=(IPv6Address("2001:db8:ffff::10"),), connect=True),
            Lookup("v4.example", ipv6=(IPv6Address("64:ff9b::c633:640a"),), connect=True),
        ),
        # Listened on the uplink, nothing knocked: the link model is unknown, and that is fine.
        link=LinkFacts("eth0", PREFIX, listen=Listen("eth0", "52:54:00:12:34:56", 4.0, 0)),
    )
    return replace(facts, **changes)


def results(facts: HostFacts, plan: Plan = PLAN, **kwargs: Any) -> dict[str, CheckResult]:
    kwargs.setdefault("hosts", HOSTS)
    found = run_checks(plan, {"node0001": facts}, **kwargs)
    assert len({r.name for r in found}) == len(found)
    return {r.name: r for r in found}


def one(name: str, facts: HostFacts, plan: Plan = PLAN) -> CheckResult:
    return results(facts, plan)[name]


def test_a_healthy_host_passes_everything() -> None:
    found = results(healthy())
    assert {n: r.status for n, r in found.items() if r.status is not Status.OK} == {}
    assert set(found) == set(CHECK_NAMES) - {"host-reachable"}
    assert all(r.node == "node0001" for r in found.values())


def test_unknown_facts_warn_with_the_reason() -> None:
    facts = HostFacts(host="n", node="node0001", unknown={"addresses": "ip is not installed"})
    found = results(facts)
    assert found["node-address"].status is Status.WARN
    assert "ip is not installed" in found["node-address"].message
    # Nothing can pass on facts that are all unknown (what does not apply is skipped); what
    # fails says why.
    assert {r.status for r in found.values() if not r.skipped} <= {Status.WARN, Status.FAIL}
    assert found["bgp-peer"].message == "skipped: routing ndp-proxy runs no BGP"
    assert found["artifact-hosts-reachable"].status is Status.FAIL


def test_every_unknown_fact_is_reported_with_its_reason() -> None:
    """Checks look a fact's reason up by the probe's own name (a 'resolv_conf' for the probe
    'resolv.conf' once hid a probe that failed over SSH behind '(not gathered)')."""
    names = {
        value.name
        for module in (facts_dns, facts_network, facts_system)
        for value in vars(module).values()
        if isinstance(value, Probe)
    }
    facts = HostFacts(
        host="n",
        node="node0001",
        unknown={name: f"probe {name} failed" for name in names | {"lookup ipv4only.arpa"}},
    )
    unread = [r for r in results(facts).values() if "could not be read" in r.message]
    assert unread
    assert [r.message for r in unread if "not gathered" in r.message] == []


# --- os, uplink, node address ---------------------------------------------------------------


def test_os() -> None:
    assert one("os-supported", healthy()).status is Status.OK
    centos = healthy(os=OsRelease("centos", "9", "CentOS Stream 9"))
    assert one("os-supported", centos).status is Status.WARN


def test_apt_mirrors_of_another_distribution_fail_with_the_distro_fix() -> None:
    assert one("apt-mirrors-distribution", healthy()).skipped  # none set
    key = "http://[2001:db8::10]/gpg"
    for url, status in (
        ("http://[2001:db8::10]/linux/debian", Status.FAIL),
        ("http://[2001:db8::10]/linux/ubuntu", Status.OK),
        ("http://[2001:db8::10]/linux/{distro}", Status.OK),
    ):
        plan = plan_from(mirrors={"apt": {"docker": {"url": url, "key_url": key}}})
        found = one("apt-mirrors-distribution", healthy(), plan)
        assert found.status is status, url
    assert "mirrors.apt.docker.url (http://[2001:db8::10]/linux/debian) is debian's" in (
        found_for("http://[2001:db8::10]/linux/debian").message
    )
    plan = plan_from(mirrors={"apt": {"distribution": "http://[2001:db8::10]/{distro}"}})
    found = one("apt-mirrors-distribution", healthy(), plan)
    assert found.status is Status.OK
    assert "mirrors.apt.distribution: http://[2001:db8::10]/ubuntu" in found.evidence


def found_for(docker_url: str) -> CheckResult:
    plan = plan_from(
        mirrors={"apt": {"docker": {"url": docker_url, "key_url": "http://[2001:db8::10]/k"}}}
    )
    return one("apt-mirrors-distribution", healthy(), plan)


def test_uplink_missing_or_down() -> None:
    interfaces = (Interface("ens3", 2, True, 1500, (addr(str(NODE_ADDR)),)),)
    routes = (Route(None, "ens3", IPv6Address("fe80::1"), proto="static"),)
    result = one("uplink-interface", healthy(interfaces=interfaces, routes=routes))
    assert result.status is Status.FAIL
    assert "eth0" in result.message
    assert "ens3" in result.message
    assert "interface" in result.fix
    down = (Interface("eth0", 2, False, 1500, (addr(str(NODE_ADDR)),)),)
    assert "ip link set eth0 up" in one("uplink-interface", healthy(interfaces=down)).fix


@pytest.mark.parametrize(
    ("flags", "word"),
    [({"temporary": True}, "temporary"), ({"deprecated": True}, "deprecated")],
)
def test_node_address_temporary_or_deprecated_fails(flags: dict[str, bool], word: str) -> None:
    interfaces = (
        Interface(
            "eth0",
            2,
            True,
            1500,
            (addr(str(NODE_ADDR), **flags), addr("2001:db8:1234:5678::5")),
        ),
    )
    result = one("node-address", healthy(interfaces=interfaces))
    assert result.status is Status.FAIL
    assert word in result.message
    assert "2001:db8:1234:5678::5 (eth0)" in result.evidence


def test_node_address_missing_fails_with_the_command() -> None:
    interfaces = (Interface("eth0", 2, True, 1500, (addr("2001:db8:1234:5678::7"),)),)
    result = one("node-address", healthy(interfaces=interfaces))
    assert result.status is Status.FAIL
    assert "ip -6 addr add 2001:db8:1234:5678::1/64 dev eth0" in result.fix
    assert "2001:db8:1234:5678::7" in result.evidence


def test_node_address_on_another_interface_warns() -> None:
    interfaces = (
        Interface("eth0", 2, True, 1500, ()),
        Interface("eth1", 3, True, 1500, (addr(str(NODE_ADDR)),)),
    )
    result = one("node-address", healthy(interfaces=interfaces))
    assert result.status is Status.WARN
    assert "interface: eth1" in result.fix


def test_no_ipv6_at_all() -> None:
    found = results(healthy(interfaces=(), routes=(), ipv6_conf={}))
    assert found["node-address"].status is Status.FAIL
    assert found["default-route"].status is Status.FAIL
    assert found["forwarding"].status is Status.FAIL
    assert "ipv6.disable" in found["forwarding"].fix


# --- default route and accept_ra ------------------------------------------------------------


def ra_routes(dev: str = "eth0") -> tuple[Route, ...]:
    return (Route(PREFIX, dev, proto="kernel"), Route(None, dev, IPv6Address("fe80::1"), "ra"))


def test_default_route_missing() -> None:
    result = one("default-route", healthy(routes=(Route(PREFIX, "eth0", proto="kernel"),)))
    assert result.status is Status.FAIL
    assert "ip -6 route add default" in result.fix


def test_default_route_from_ra_with_accept_ra_2_is_fine() -> None:
    assert one("default-route", healthy(routes=ra_routes())).status is Status.OK


def test_default_route_from_ra_on_the_uplink_with_accept_ra_1_warns_with_the_sysctl() -> None:
    conf = {"all": {"forwarding": 1}, "default": {"forwarding": 1}, "eth0": {"accept_ra": 1}}
    result = one("default-route", healthy(routes=ra_routes(), ipv6_conf=conf))
    assert result.status is Status.WARN
    assert result.fix == "sysctl -w net.ipv6.conf.eth0.accept_ra=2"


def test_default_route_from_ra_on_another_interface_fails() -> None:
    conf = {"all": {"forwarding": 1}, "default": {"forwarding": 1}, "eth0.100": {"accept_ra": 1}}
    result = one("default-route", healthy(routes=ra_routes("eth0.100"), ipv6_conf=conf))
    assert result.status is Status.FAIL
    assert result.fix.startswith("sysctl -w net.ipv6.conf.eth0/100.accept_ra=2")
    assert "interface: eth0.100" in result.fix


def test_default_route_from_networkd_with_accept_ra_0() -> None:
    conf = {"all": {"forwarding": 1}, "default": {"forwarding": 1}, "eth0": {"accept_ra": 0}}
    networkd = {"systemd-networkd": Service("systemd-networkd.service", "loaded", "active", "")}
    facts = healthy(routes=ra_routes(), ipv6_conf=conf, services=networkd)
    assert one("default-route", facts).status is Status.OK
    assert one("default-route", replace(facts, services={})).status is Status.WARN


# --- forwarding, modules, swap, cgroup, ports -----------------------------------------------


def test_forwarding_off_warns_with_the_fix() -> None:
    conf = {"all": {"forwarding": 0}, "default": {"forwarding": 1}, "eth0": {"accept_ra": 2}}
    result = one("forwarding", healthy(ipv6_conf=conf))
    assert result.status is Status.WARN
    assert result.fix == "sysctl -w net.ipv6.conf.all.forwarding=1"


def test_modules() -> None:
    result = one("kernel-modules", healthy(modules=frozenset({"overlay"})))
    assert result.status is Status.WARN
    assert result.fix == "modprobe -a nf_tables"


def test_swap() -> None:
    result = one("swap", healthy(swaps=(Swap("/swap.img", "file", 1024),)))
    assert result.status is Status.WARN
    assert "swapoff -a" in result.fix


def disks(*found: tuple[str, str, int, float]) -> tuple[facts_system.Filesystem, ...]:
    return tuple(
        facts_system.Filesystem(path, fs, size * GIB, int(free * GIB))
        for path, fs, size, free in found
    )


def test_disk_below_kubelets_default_floor_fails_with_the_setting_as_a_fix() -> None:
    # The machine the e2e tier first hung on: a large disk, 15.1% free, 3 GiB to install.
    result = one("disk-space", healthy(disks=disks(("/var/lib", "1a", 252, 38.1))))
    assert result.status is Status.FAIL
    assert "below 37.8 GiB (15% of the disk, kubelet's default imagefs.available)" in result.message
    assert "the install may add up to 3.0 GiB" in result.message
    assert "host.min_free_disk" in result.fix
    # Already below the floor: the node is under DiskPressure now.
    below = one("disk-space", healthy(disks=disks(("/var/lib", "1a", 252, 30))))
    assert below.status is Status.FAIL
    assert "it is below that already" in below.message


def test_disk_room_to_install_counts_only_before_kubelet_is_there() -> None:
    tight = healthy(disks=disks(("/var/lib", "1a", 100, 16)))
    assert one("disk-space", tight).status is Status.FAIL
    installed = replace(tight, packages={"kubelet": "1.37.2-1.1"})
    assert one("disk-space", installed).status is Status.OK


def test_min_free_disk_replaces_kubelets_shares() -> None:
    plan = plan_from(host={"min_free_disk": "2Gi"})
    big = healthy(disks=disks(("/var/lib", "1a", 252, 20)))
    result = one("disk-space", big, plan)
    assert result.status is Status.OK
    assert "below 2.0 GiB (host.min_free_disk)" in result.evidence
    small = healthy(disks=disks(("/var/lib", "1a", 252, 4.5)))
    assert one("disk-space", small, plan).status is Status.FAIL


def test_disk_judges_containerd_on_its_own_filesystem() -> None:
    # kubelet's root has plenty; containerd's own small disk is below its 15% floor.
    found = healthy(
        disks=disks(
            ("/var/lib/kubelet", "1a", 100, 50),
            ("/var/lib/containerd", "2b", 20, 2),
            ("/var/lib", "1a", 100, 50),
        )
    )
    result = one("disk-space", found)
    assert result.status is Status.FAIL
    assert result.message.startswith("/var/lib/containerd has 2.0 GiB free")
    assert len(result.evidence.splitlines()) == 2
    unread = one("disk-space", healthy(disks=None, unknown={"disk": "stat is not installed"}))
    assert unread.status is Status.WARN
    assert "stat is not installed" in unread.message


def test_cgroup_v1_fails() -> None:
    result = one("cgroup-v2", healthy(cgroup=1))
    assert result.status is Status.FAIL
    assert "systemd.unified_cgroup_hierarchy=1" in result.fix


def test_ports_held_by_this_nodes_own_cluster_pass() -> None:
    # A second `kube6 up` (or one resuming after a failure) meets its own cluster's listeners.
    own = {"kubeadm": "1.37.2-1.1", "kubelet": "1.37.2-1.1", "kubectl": "1.37.2-1.1"}
    taken = healthy(listeners=(Listener("*", 6443),), packages=own)
    result = one("ports-free", taken)
    assert result.status is Status.OK
    assert "this node's Kubernetes" in result.message
    older = healthy(listeners=(Listener("*", 6443),), packages={**own, "kubelet": "1.36.4-1.1"})
    assert one("ports-free", older).status is Status.FAIL


def test_ports_on_control_plane_and_worker() -> None:
    taken = healthy(listeners=(Listener("*", 6443), Listener("::1", 2379)))
    result = one("ports-free", taken)
    assert result.status is Status.FAIL
    assert "6443 (kube-apiserver)" in result.message
    assert "2379 (etcd clients)" in result.message
    assert "sport = :2379" in result.fix
    worker_plan = plan_from(
        nodes=[
            {"name": "node0001", "address": str(NODE_ADDR), "roles": ["worker"]},
            {"name": "cp", "address": "2001:db8:1234:5678::2", "roles": ["control-plane"]},
        ]
    )
    assert one("ports-free", taken, worker_plan).status is Status.OK
    kubelet = healthy(listeners=(Listener("::", 10250),))
    assert one("ports-free", kubelet, worker_plan).status is Status.FAIL


# --- prefix on-link vs routing mode ---------------------------------------------------------


def test_prefix_on_link_with_ndp_proxy_is_right() -> None:
    assert one("prefix-on-link", healthy()).status is Status.OK


def test_prefix_on_link_covered_by_a_shorter_route() -> None:
    routes = (Route(IPv6Network("2001:db8:1234::/48"), "eth0", proto="kernel"),)
    assert one("prefix-on-link", healthy(routes=routes)).status is Status.OK


def test_prefix_not_on_link_with_ndp_proxy_suggests_routed() -> None:
    routes = (Route(None, "eth0", IPv6Address("fe80::1"), "static"),)
    result = one("prefix-on-link", healthy(routes=routes))
    assert result.status is Status.WARN
    assert "routing: routed" in result.fix


def test_prefix_on_link_in_routed_mode_leaves_the_verdict_to_the_link_model() -> None:
    """A routed /64 is configured on-link on the host too (Hetzner): the host's route alone
    says nothing of the provider; link-model judges what the wire shows."""
    result = one("prefix-on-link", healthy(), plan_from(routing="routed"))
    assert result.status is Status.OK
    assert "link-model" in result.message
    routes = (Route(None, "eth0", IPv6Address("fe80::1"), "static"),)
    assert one("prefix-on-link", healthy(routes=routes), plan_from(routing="routed")).status is (
        Status.OK
    )


def test_prefix_on_link_on_the_wrong_interface_fails() -> None:
    routes = (Route(PREFIX, "eth1", proto="kernel"), Route(None, "eth0", IPv6Address("fe80::1")))
    result = one("prefix-on-link", healthy(routes=routes))
    assert result.status is Status.FAIL
    assert "interface: eth1" in result.fix


# --- DNS64 and download hosts ---------------------------------------------------------------


def test_dns64_present_absent_and_disagreeing() -> None:
    present = one("dns64", healthy())
    assert present.status is Status.OK
    assert "64:ff9b::/96" in present.message
    a_only = discover_nat64(Lookup("ipv4only.arpa", ipv4=(IPv4Address("192.0.0.170"),)))
    absent = one("dns64", healthy(nat64=a_only))
    assert absent.status is Status.OK
    assert "no DNS64" in absent.message
    other = plan_from(dns={"nat64_prefix": "2001:db8:64::/96"})
    assert one("dns64", healthy(), other).status is Status.WARN
    relies = plan_from(dns={"nat64_prefix": "64:ff9b::/96", "dns64": "resolvers"})
    assert one("dns64", healthy(nat64=a_only), relies).status is Status.FAIL
    nothing = discover_nat64(Lookup("ipv4only.arpa", error="no such name"))
    assert one("dns64", healthy(nat64=nothing)).status is Status.WARN


def test_artifact_hosts_direct_and_via_nat64() -> None:
    result = one("artifact-hosts-reachable", healthy())
    assert result.status is Status.OK
    assert "1 over IPv6" in result.message
    assert "through NAT64: v4.example" in result.message


def test_artifact_host_ipv4_only_without_dns64_fails_naming_it() -> None:
    lookups = (
        Lookup("v6.example", ipv6=(IPv6Address("2001:db8:ffff::10"),)),
        Lookup("v4.example", ipv4=(IPv4Address("198.51.100.10"),)),
    )
    a_only = discover_nat64(Lookup("ipv4only.arpa", ipv4=(IPv4Address("192.0.0.170"),)))
    result = one("artifact-hosts-reachable", healthy(lookups=lookups, nat64=a_only))
    assert result.status is Status.FAIL
    assert "v4.example: IPv4 only (198.51.100.10)" in result.message
    assert "v6.example" not in result.message
    assert "NAT64" in result.fix
    assert "v4.example: an IPv4 host" in result.evidence


def test_artifact_host_that_resolves_but_does_not_connect_fails() -> None:
    lookups = (
        Lookup("v6.example", ipv6=(IPv6Address("2001:db8:ffff::10"),)),
        Lookup(
            "v4.example",
            ipv6=(IPv6Address("64:ff9b::c633:640a"),),
            connect=False,
            connect_detail="TCP [64:ff9b::c633:640a]:443: timed out",
        ),
    )
    result = one("artifact-hosts-reachable", healthy(lookups=lookups))
    assert result.status is Status.FAIL
    assert "timed out" in result.message


def test_artifact_host_not_looked_up_or_unknown_name() -> None:
    lookups = (Lookup("v6.example", error="no such name (no AAAA and no A record)"),)
    result = one("artifact-hosts-reachable", healthy(lookups=lookups))
    assert result.status is Status.FAIL
    assert "v6.example: no such name" in result.message
    assert "v4.example: not looked up" in result.message


def test_artifact_hosts_follow_the_plan() -> None:
    names = [h.name for h in artifact_hosts(PLAN)]
    assert len(names) == len(set(names))
    for needed in ("pkgs.k8s.io", "registry.k8s.io", "quay.io", "ghcr.io", "github.com"):
        assert needed in names
    bare = plan_from(
        addons={
            "gateway": {"enabled": False},
            "cert_manager": {"enabled": False},
            "dashboard": {"enabled": False},
        }
    )
    bare_names = [h.name for h in artifact_hosts(bare)]
    assert "ghcr.io" not in bare_names
    assert "github.com" not in bare_names
    assert "registry.k8s.io" in bare_names
    quay = next(h for h in artifact_hosts(PLAN) if h.name == "quay.io")
    assert "cert-manager" in quay.reason


# --- run_checks -----------------------------------------------------------------------------


def test_ignore_downgrades_a_failure_and_refuses_unknown_names() -> None:
    found = results(healthy(cgroup=1), ignore={"cgroup-v2"})
    assert found["cgroup-v2"].status is Status.WARN
    assert "--ignore" in found["cgroup-v2"].message
    with pytest.raises(UsageError) as info:
        validate_ignore(["cgroup", "swap"])
    assert "'cgroup'" in str(info.value)
    assert "cgroup-v2" in info.value.fix


def test_unreachable_node_fails_once_and_others_are_still_checked() -> None:
    two = plan_from(
        nodes=[
            {"name": "node0001", "address": str(NODE_ADDR)},
            {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
        ]
    )
    error = ConnectError("cannot connect to root@[2001:db8::2]", fix="check the host")
    found = run_checks(two, {"node0001": healthy(), "node0002": error}, hosts=HOSTS)
    reach = [r for r in found if r.node == "node0002"]
    assert [(r.name, r.status) for r in reach] == [("host-reachable", Status.FAIL)]
    assert reach[0].fix == "check the host"
    assert [r.node for r in found].count("node0001") == len(CHECK_NAMES) - 1


# --- services and packages ------------------------------------------------------------------


def test_active_firewall_conflicts_with_kube6s() -> None:
    ufw = {"ufw": Service("ufw.service", "loaded", "active", "enabled")}
    result = one("conflicting-services", healthy(services=ufw))
    assert result.status is Status.WARN
    assert result.fix.startswith("systemctl disable --now ufw")
    no_firewall = plan_from(firewall={"enabled": False})
    assert one("conflicting-services", healthy(services=ufw), no_firewall).status is Status.OK
    inactive = {"ufw": Service("ufw.service", "loaded", "inactive", "disabled")}
    assert one("conflicting-services", healthy(services=inactive)).status is Status.OK


def test_kubernetes_packages() -> None:
    assert one("kubernetes-packages", healthy(packages={})).status is Status.OK
    minor = PLAN.kubernetes_minor
    same = healthy(packages={"kubeadm": f"{minor}.2-1.1", "kubelet": f"{minor}.2-1.1"})
    assert one("kubernetes-packages", same).status is Status.OK
    old = healthy(packages={"kubeadm": "1.30.4-1.1", "containerd.io": "2.4.2-1"})
    result = one("kubernetes-packages", old)
    assert result.status is Status.WARN
    assert "kubeadm 1.30.4-1.1" in result.message
