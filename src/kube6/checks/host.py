"""The host checks' table (CHECKS): every preflight check with its name (for --ignore) and
what it checks. The checks themselves are pure functions of (plan, node, facts), by subject:
the system (kube6.checks.system), the network (kube6.checks.network), the resolvers and DNS64
(kube6.checks.dns), and the artifact hosts (kube6.checks.artifacts).

A check returns its findings without a name: the table names it, once (see
kube6.checks.context).
"""

from __future__ import annotations

from kube6.checks.artifacts import check_artifact_hosts
from kube6.checks.context import Check
from kube6.checks.dns import check_dns64, check_resolvers
from kube6.checks.network import (
    check_default_route,
    check_forwarding,
    check_node_address,
    check_prefix,
    check_uplink,
)
from kube6.checks.system import (
    check_apt_mirrors,
    check_cgroup,
    check_disk,
    check_modules,
    check_os,
    check_packages,
    check_ports,
    check_services,
    check_swap,
)

CHECKS: tuple[tuple[str, Check, str], ...] = (
    ("os-supported", check_os, "a Debian or Ubuntu release that kube6 is tested on"),
    (
        "apt-mirrors-distribution",
        check_apt_mirrors,
        "the apt mirrors of Docker's repository and the archive serve this distribution",
    ),
    ("uplink-interface", check_uplink, "the plan's uplink interface exists and is up"),
    ("node-address", check_node_address, "the node address is on the host, stable"),
    ("default-route", check_default_route, "a default IPv6 route that survives forwarding"),
    ("forwarding", check_forwarding, "IPv6 forwarding on all and default"),
    ("kernel-modules", check_modules, "the kernel modules that containerd and nftables need"),
    ("swap", check_swap, "no active swap"),
    ("disk-space", check_disk, "free space above kubelet's DiskPressure floor, room to install"),
    ("cgroup-v2", check_cgroup, "the unified cgroup hierarchy"),
    ("ports-free", check_ports, "the control-plane and kubelet ports are free"),
    ("prefix-on-link", check_prefix, "the prefix is on-link (ndp-proxy) or routed"),
    ("resolvers-ipv6", check_resolvers, "CoreDNS has IPv6 resolvers to forward to"),
    ("dns64", check_dns64, "DNS64 in the host's resolvers, and its prefix"),
    ("conflicting-services", check_services, "no other host firewall fighting kube6's"),
    (
        "kubernetes-packages",
        check_packages,
        "kubeadm/kubelet/kubectl absent or at the plan's minor",
    ),
    (
        "artifact-hosts-reachable",
        check_artifact_hosts,
        "every download host resolves to IPv6, directly or through NAT64",
    ),
)
