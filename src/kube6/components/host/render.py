"""Kernel settings of each node: sysctl.d (IPv6 forwarding, RAs) and modules-load.d."""

from __future__ import annotations

from collections.abc import Iterator

from kube6.facts.system import WANTED_MODULES
from kube6.plan.model import Plan, PlannedNode
from kube6.render.base import Artifact, NodeFile, header

SYSCTL = NodeFile("/etc/sysctl.d/90-kube6.conf")
MODULES_LOAD = NodeFile("/etc/modules-load.d/kube6.conf")
GC_THRESH = "net.ipv6.neigh.default.gc_thresh"
"""The neighbour-table limits, numbered 1 to 3 (kube6.plan.neighbours.neighbour_sizes)."""


def render(plan: Plan) -> Iterator[Artifact]:
    """Per node: `/etc/sysctl.d/90-kube6.conf` and `/etc/modules-load.d/kube6.conf`.

    Example: `nodes/node0001/etc/sysctl.d/90-kube6.conf` for the built-in example.
    """
    modules = modules_conf(plan)
    for node in plan.nodes:
        yield Artifact(
            path=SYSCTL.at(node),
            content=sysctl_conf(plan, node),
            description=f"IPv6 forwarding, router advertisements on {node.interface}, "
            "neighbour-table sizes",
        )
        yield Artifact(
            path=MODULES_LOAD.at(node),
            content=modules,
            description="kernel modules loaded at boot",
        )


def sysctl_conf(plan: Plan, node: PlannedNode) -> str:
    """The sysctl.d file of `node` (its uplink interface is part of one key)."""
    what = f"Kernel settings of {node.name} for an IPv6 single-stack Kubernetes node."
    lines = [
        "#",
        f"# With forwarding on, the kernel ignores router advertisements on {node.interface}",
        "# unless accept_ra is 2; a host that learns its default route (or address) by SLAAC",
        "# would lose it when the advertised lifetime runs out, and Calico needs a default route.",
        "# It comes first: `sysctl --system` applies lines in order, so the route is safe before",
        "# forwarding goes on. (systemd-networkd, as used by netplan, handles RAs itself and",
        "# resets this value on the interfaces it manages; check `ip -6 route show default`.)",
        f"{_key(node.interface, 'accept_ra')} = 2",
        "#",
        "# Pods and services are routed through this host: forward IPv6 on every interface,",
        "# including those created later (calico veths get `default`). kubeadm's preflight",
        "# checks net.ipv6.conf.default.forwarding.",
        "net.ipv6.conf.all.forwarding = 1",
        "net.ipv6.conf.default.forwarding = 1",
    ]
    low, soft, hard = plan.neighbours.gc_thresh
    lines += [
        "#",
        f"# Neighbour table sized from the plan: up to {plan.neighbours.node_entries} entries "
        "(3 per pod, the other",
        "# nodes on the link, the router). gc_thresh1 = that (nothing is collected below it),",
        "# 2 = twice (stale entries of replaced pods), 3 = four times (the hard limit).",
        "# The table is one for the whole machine: the files exist only in the host's own",
        "# network namespace, so `-` lets a container or a lab node without them go on.",
        f"-{GC_THRESH}1 = {low}",
        f"-{GC_THRESH}2 = {soft}",
        f"-{GC_THRESH}3 = {hard}",
    ]
    if node.ndp_rules:
        lines += [
            "#",
            "# proxy_ndp stays off: ndppd answers neighbour solicitations from its own sockets",
            "# and does not use the kernel's per-address proxy table.",
        ]
    return header(plan, what) + "\n".join(lines) + "\n"


def modules_conf(plan: Plan) -> str:
    """The modules-load.d file, the same on every node."""
    what = "Kernel modules that kube6 needs at boot."
    lines = ["#", "# br_netfilter is not needed: Calico routes pods over veths, not a bridge."]
    for module, why in WANTED_MODULES:
        lines.append(f"# {why}")
        lines.append(module)
    return header(plan, what) + "\n".join(lines) + "\n"


def _key(interface: str, setting: str) -> str:
    # sysctl.d(5): with `/` as separator, dots inside a name (VLAN `eth0.100`) stay literal.
    if "." in interface:
        return f"net/ipv6/conf/{interface}/{setting}"
    return f"net.ipv6.conf.{interface}.{setting}"
