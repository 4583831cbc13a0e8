"""reset/*: undo in reverse order; only what kube6 wrote or changed."""

from __future__ import annotations

from kube6.plan.model import Plan
from kube6.steps import RESET_STEPS, StepPlan, host, probe, reset
from kube6.steps.base import Services

from .conftest import context


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def test_order_is_the_reverse_of_up() -> None:
    assert [s.name for s in RESET_STEPS] == ["cluster", "firewall", "routing", "runtime", "host"]


def test_cluster(plan: Plan) -> None:
    ctx = context(plan)
    facts = reset.ClusterFacts(
        True, ("/etc/kubernetes/kubeadm", "/etc/cni/net.d/10-calico.conflist")
    )
    assert shown(reset.plan_cluster(ctx, facts)) == [
        "kubeadm reset -f",
        "rm -rf /etc/kubernetes/kubeadm /etc/cni/net.d/10-calico.conflist",
    ]
    tables = reset.cluster_tables(
        "table ip6 kube6\ntable ip6 kube-proxy\ntable ip6 calico\ntable inet filter\n"
    )
    assert tables == (("ip6", "kube-proxy"), ("ip6", "calico"))
    assert shown(reset.plan_cluster(ctx, reset.ClusterFacts(False, (), tables))) == [
        "nft delete table ip6 kube-proxy",
        "nft delete table ip6 calico",
    ]
    assert reset.plan_cluster(ctx, reset.ClusterFacts(False, ())).noop == (
        "no kubeadm state and no kube6 cluster files on this host"
    )


def test_firewall_deletes_only_kube6_table(plan: Plan) -> None:
    ctx = context(plan)
    facts = reset.FirewallFacts(
        True, ("/etc/kube6/firewall.nft", "/etc/systemd/system/kube6-firewall.service"), True
    )
    assert shown(reset.plan_firewall(ctx, facts)) == [
        "systemctl disable kube6-firewall.service",
        "nft delete table ip6 kube6",
        "rm -f /etc/kube6/firewall.nft /etc/systemd/system/kube6-firewall.service",
        "systemctl daemon-reload",
    ]
    assert reset.plan_firewall(ctx, reset.FirewallFacts(False, (), False)).noop is not None


def test_routing(plan: Plan) -> None:
    ctx = context(plan)
    facts = reset.RoutingFacts(probe.ServiceFacts(True, True), True)
    # `disable --now` does not stop a unit generated from a SysV script (Debian's ndppd):
    # found on a lab node, where ndppd kept running after kube6 reset.
    assert shown(reset.plan_routing(ctx, facts)) == [
        "systemctl stop ndppd",
        "systemctl disable ndppd",
        "rm -f /etc/ndppd.conf",
    ]
    lab = context(plan, services=Services.DIRECT, root="/r")
    facts = reset.RoutingFacts(probe.ServiceFacts(True, True, "9"), True)
    assert shown(reset.plan_routing(lab, facts)) == [
        "kill 9",
        "rm -f /r/run/kube6-ndppd.pid",
        "rm -f /r/etc/ndppd.conf",
    ]
    done = reset.RoutingFacts(probe.ServiceFacts(False, False), False)
    assert reset.plan_routing(ctx, done).noop == "ndppd is stopped and /etc/ndppd.conf is gone"


def test_runtime(plan: Plan) -> None:
    ctx = context(plan)
    facts = reset.RuntimeFacts(
        ("/etc/containerd/config.toml", "/etc/crictl.yaml"), probe.ServiceFacts(True, True)
    )
    assert shown(reset.plan_runtime(ctx, facts)) == [
        "rm -f /etc/containerd/config.toml /etc/crictl.yaml",
        "systemctl restart containerd",
    ]


def test_host_restores_the_snapshot_forwarding_first(plan: Plan) -> None:
    ctx = context(plan)
    snapshot = "net.ipv6.conf.eth0.accept_ra = 1\nnet.ipv6.conf.all.forwarding = 0\n"
    fstab = f"{host.SWAP_MARK}/swap.img none swap sw 0 0\n"
    facts = reset.HostFacts(snapshot, (host.SYSCTL_PATH, host.MODULES_PATH), fstab)
    step_plan = reset.plan_host(ctx, facts)
    assert shown(step_plan) == [
        "sysctl -w net.ipv6.conf.all.forwarding=0 net.ipv6.conf.eth0.accept_ra=1",
        "rm -f /etc/sysctl.d/90-kube6.conf /etc/modules-load.d/kube6.conf",
        f"write /etc/fstab (mode 0644, {len(fstab) - len(host.SWAP_MARK)} bytes)",
        "rm -f /var/lib/kube6/sysctl-before.conf",
    ]
    assert reset.plan_host(ctx, reset.HostFacts(None, (), "x\n")).noop == (
        "no kube6 kernel settings are left on this host"
    )
