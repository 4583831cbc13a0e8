"""reset/*: undo in reverse order; only what kube6 wrote or changed."""

from __future__ import annotations

from kube6.components.calico import reset as calico_reset
from kube6.components.containerd import reset as containerd_reset
from kube6.components.firewall import reset as firewall_reset
from kube6.components.host import reset as host_reset
from kube6.components.host import steps as host
from kube6.components.kubeadm import reset as kubeadm_reset
from kube6.components.ndppd import reset as ndppd_reset
from kube6.components.registry import RESET_STEPS
from kube6.execute import RecordingExecutor
from kube6.execute.command import Result
from kube6.plan.model import Plan
from kube6.steps import StepPlan, probe

from .conftest import arun, context


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def test_order_is_the_reverse_of_up() -> None:
    assert [s.name for s in RESET_STEPS] == [
        "cluster",
        "pod-network",
        "firewall",
        "routing",
        "runtime",
        "host",
    ]


def test_pod_network_leftovers(plan: Plan) -> None:
    """`ip -o link show` and `ip netns list` as a node shows them after `kubeadm reset`."""
    links = (
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT\\ ...\n"
        "2: host0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\\ ...\n"
        "7: cali4c1d4f7a2b9@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue\\ ...\n"
        "8: calico-custom: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN\\ ...\n"
    )
    namespaces = (
        "cni-0f5b1a52-6c37-8f54-3d5e-0b1d2c3e4f5a (id: 1)\n"
        "cni-3b3c2a10-9e8d-7c6b-5a49-382716059fab (id: 0)\n"
        "blue\n"
    )
    facts = calico_reset.PodNetworkFacts(
        calico_reset.pod_links(links), calico_reset.pod_namespaces(namespaces)
    )
    assert facts.links == ("cali4c1d4f7a2b9",), "only Calico's own pod interface names"
    assert facts.namespaces == (
        "cni-0f5b1a52-6c37-8f54-3d5e-0b1d2c3e4f5a",
        "cni-3b3c2a10-9e8d-7c6b-5a49-382716059fab",
    ), "only containerd's pod namespaces"
    assert shown(calico_reset.plan_pod_network(context(plan), facts)) == [
        "ip link delete cali4c1d4f7a2b9",
        "ip netns delete cni-0f5b1a52-6c37-8f54-3d5e-0b1d2c3e4f5a",
        "ip netns delete cni-3b3c2a10-9e8d-7c6b-5a49-382716059fab",
    ]
    assert calico_reset.plan_pod_network(context(plan), calico_reset.PodNetworkFacts((), ())).noop
    routes = calico_reset.routes_of(
        "blackhole 2001:db8:1234:5678:8:2:2e:d200/120 dev lo metric 1024 pref medium\n"
        "2001:db8:1234:5678:8:2:6a:a600/120 via 2001:db8:1234:5678::12 dev eth0 metric 1024 "
        "onlink pref medium\n"
    )
    assert shown(
        calico_reset.plan_pod_network(context(plan), calico_reset.PodNetworkFacts((), (), routes))
    ) == [
        "ip -6 route delete blackhole 2001:db8:1234:5678:8:2:2e:d200/120 proto 80",
        "ip -6 route delete 2001:db8:1234:5678:8:2:6a:a600/120 proto 80",
    ]


def test_cluster(plan: Plan) -> None:
    ctx = context(plan)
    facts = kubeadm_reset.ClusterFacts(
        True, ("/etc/kubernetes/kubeadm", "/etc/cni/net.d/10-calico.conflist")
    )
    assert shown(kubeadm_reset.plan_cluster(ctx, facts)) == [
        "kubeadm reset -f",
        "rm -rf /etc/kubernetes/kubeadm /etc/cni/net.d/10-calico.conflist",
    ]
    tables = kubeadm_reset.cluster_tables(
        "table ip6 kube6\ntable ip6 kube-proxy\ntable ip6 calico\ntable inet filter\n"
    )
    assert tables == (("ip6", "kube-proxy"), ("ip6", "calico"))
    assert shown(
        kubeadm_reset.plan_cluster(ctx, kubeadm_reset.ClusterFacts(False, (), tables))
    ) == [
        "nft delete table ip6 kube-proxy",
        "nft delete table ip6 calico",
    ]
    assert kubeadm_reset.plan_cluster(ctx, kubeadm_reset.ClusterFacts(False, ())).noop == (
        "no kubeadm state and no kube6 cluster files on this host"
    )


def test_firewall_deletes_only_kube6_table(plan: Plan) -> None:
    ctx = context(plan)
    facts = firewall_reset.FirewallFacts(
        True, ("/etc/kube6/firewall.nft", "/etc/systemd/system/kube6-firewall.service"), True
    )
    assert shown(firewall_reset.plan_firewall(ctx, facts)) == [
        "systemctl disable kube6-firewall.service",
        "nft delete table ip6 kube6",
        "rm -f /etc/kube6/firewall.nft /etc/systemd/system/kube6-firewall.service",
        "systemctl daemon-reload",
    ]
    assert (
        firewall_reset.plan_firewall(ctx, firewall_reset.FirewallFacts(False, (), False)).noop
        is not None
    )


def test_routing(plan: Plan) -> None:
    ctx = context(plan)
    facts = ndppd_reset.RoutingFacts(probe.ServiceFacts(True, True), True)
    # `disable --now` does not stop a unit generated from a SysV script (Debian's ndppd):
    # found on a lab node, where ndppd kept running after kube6 reset.
    assert shown(ndppd_reset.plan_routing(ctx, facts)) == [
        "systemctl stop ndppd",
        "systemctl disable ndppd",
        "rm -f /etc/ndppd.conf",
    ]
    done = ndppd_reset.RoutingFacts(probe.ServiceFacts(False, False), False)
    assert (
        ndppd_reset.plan_routing(ctx, done).noop == "ndppd is stopped and /etc/ndppd.conf is gone"
    )


def test_runtime(plan: Plan) -> None:
    ctx = context(plan)
    facts = containerd_reset.RuntimeFacts(
        ("/etc/containerd/config.toml", "/etc/crictl.yaml"), probe.ServiceFacts(True, True)
    )
    assert shown(containerd_reset.plan_runtime(ctx, facts)) == [
        "rm -f /etc/containerd/config.toml /etc/crictl.yaml",
        "systemctl restart containerd",
    ]


def test_host_restores_the_snapshot_forwarding_first(plan: Plan) -> None:
    ctx = context(plan)
    snapshot = "net.ipv6.conf.eth0.accept_ra = 1\nnet.ipv6.conf.all.forwarding = 0\n"
    fstab = f"{host.SWAP_MARK}/swap.img none swap sw 0 0\n"
    facts = host_reset.HostFacts(snapshot, (host.SYSCTL_PATH, host.MODULES_PATH), fstab)
    step_plan = host_reset.plan_host(ctx, facts)
    assert shown(step_plan) == [
        "sysctl -w net.ipv6.conf.all.forwarding=0 net.ipv6.conf.eth0.accept_ra=1",
        "rm -f /etc/sysctl.d/90-kube6.conf /etc/modules-load.d/kube6.conf",
        f"write /etc/fstab (mode 0644, {len(fstab) - len(host.SWAP_MARK)} bytes)",
        "rm -f /var/lib/kube6/sysctl-before.conf",
    ]
    assert host_reset.plan_host(ctx, host_reset.HostFacts(None, (), "x\n")).noop == (
        "no kube6 kernel settings are left on this host"
    )


BIRD_ROUTES = (
    "blackhole 2001:db8:1234:5678:8:3::/112 dev lo metric 1024 pref medium\n"
    "2001:db8:1234:5678:8:4::/120 metric 1024 pref medium\n"
    "\tnexthop via 2001:db8:1234:5678::12 dev eth0 weight 1 \n"
    "\tnexthop via 2001:db8:1234:5678::13 dev eth0 weight 1 \n"
)
"""`ip -6 route show proto 12` as a bgp node could show it after calico-node stopped: a
blackhole, and a range learned from two mesh peers (a multipath route)."""


def test_bgp_nodes_lose_the_routes_calico_nodes_bird_left() -> None:
    from kube6.plan import make_plan
    from kube6.spec import from_data

    data = {
        "prefix": "2001:db8:1234:5678::/64",
        "routing": "bgp",
        "bgp": {"peer": "2001:db8:1234:5678::fffe", "peer_as": 65001},
        "nodes": [{"name": "one", "address": "2001:db8:1234:5678::11"}],
    }
    bgp_plan = make_plan(from_data(data), source="test")
    routes = calico_reset.routes_of(BIRD_ROUTES)
    # One delete per route: a multipath route's nexthop lines are not routes of their own.
    assert routes == (
        ("blackhole", "2001:db8:1234:5678:8:3::/112"),
        ("2001:db8:1234:5678:8:4::/120",),
    )
    facts = calico_reset.PodNetworkFacts((), (), (), routes)
    assert shown(calico_reset.plan_pod_network(context(bgp_plan), facts)) == [
        "ip -6 route delete blackhole 2001:db8:1234:5678:8:3::/112 proto 12",
        "ip -6 route delete 2001:db8:1234:5678:8:4::/120 proto 12",
    ]
    # Read only in bgp routing: elsewhere BIRD's protocol number may be a BIRD of the operator's.
    ex = RecordingExecutor(host="one", default=Result(0, "", ""))
    ex.reply(("ip", "-6", "route", "show", "proto", "12"), BIRD_ROUTES)
    read = arun(calico_reset.read_pod_network(context(bgp_plan, executor=ex)))
    assert read.bird_routes == routes
    other = RecordingExecutor(host="node0001", default=Result(0, "", ""))
    ndp = make_plan(from_data({**data, "routing": "ndp-proxy", "bgp": None}), source="test")
    assert not arun(calico_reset.read_pod_network(context(ndp, executor=other))).bird_routes
    assert ("ip", "-6", "route", "show", "proto", "12") not in other.argvs
