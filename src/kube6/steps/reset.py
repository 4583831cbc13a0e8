"""kube6 reset: undo what `kube6 up` did, in reverse order, per host.

cluster (`kubeadm reset -f`, kube6's kubeadm and cluster files, Calico's CNI config), pod network
(pods' Calico interfaces and network namespaces that no CNI DEL removed), firewall
(the table, its file and unit), routing (ndppd stopped and disabled, its config removed), runtime
(kube6's containerd and crictl config), host (sysctls restored from the snapshot `up` saved,
kube6's sysctl.d and modules-load.d files removed, fstab swap lines restored).

Packages stay installed (kubelet, kubeadm, kubectl, containerd.io, ndppd) and so do their apt
repositories: removing software is `apt-get purge`'s job, and the operator's decision. The
host's own network configuration is never touched: only values kube6 recorded are restored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kube6.components.containerd import steps as runtime
from kube6.components.firewall import steps as firewall
from kube6.components.host import steps as host
from kube6.components.kubeadm.join import KUBELET_CONF
from kube6.components.ndppd import steps as routing
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, PutFile, Services, Step, StepPlan, run
from kube6.steps.cluster import CLUSTER_DIR
from kube6.steps.kubectl import ADMIN_CONF

KUBEADM_DIR = "/etc/kubernetes/kubeadm"
CALICO_CNI = ("/etc/cni/net.d/10-calico.conflist", "/etc/cni/net.d/calico-kubeconfig")


def _rm(ctx: HostContext, *paths: str, why: str = "") -> Action:
    return run("rm", "-f", *(ctx.path(p) for p in paths), why=why)


@dataclass(frozen=True)
class ClusterFacts:
    kubeadm_state: bool
    """admin.conf or kubelet.conf exists: kubeadm set this host up."""
    leftovers: tuple[str, ...]
    """kube6 files still there (kubeadm configs, cluster files, Calico's CNI config)."""
    tables: tuple[tuple[str, str], ...] = ()
    """nftables tables that the cluster's kube-proxy and Calico left (kubeadm reset keeps them)."""


def cluster_tables(nft_list_tables: str) -> tuple[tuple[str, str], ...]:
    """(family, name) of kube-proxy's and Calico's tables in `nft list tables` output."""
    found = []
    for line in nft_list_tables.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            family, name = parts[1], parts[2]
            if name == "kube-proxy" or name.startswith("calico"):
                found.append((family, name))
    return tuple(found)


async def read_cluster(ctx: HostContext) -> ClusterFacts:
    state = await probe.exists(ctx, ADMIN_CONF) or await probe.exists(ctx, KUBELET_CONF)
    paths = (KUBEADM_DIR, CLUSTER_DIR, *CALICO_CNI)
    left = tuple([p for p in paths if await probe.exists(ctx, p)])
    tables = cluster_tables(await probe.stdout(ctx, "nft", "list", "tables") or "")
    return ClusterFacts(state, left, tables)


def fresh_cluster(ctx: HostContext) -> ClusterFacts:
    return ClusterFacts(True, (KUBEADM_DIR, CLUSTER_DIR, *CALICO_CNI), (("ip6", "kube-proxy"),))


def plan_cluster(ctx: HostContext, facts: ClusterFacts) -> StepPlan:
    """`kubeadm reset -f` when kubeadm set the host up; remove kube6's cluster files."""
    if not facts.kubeadm_state and not facts.leftovers and not facts.tables:
        return StepPlan.nothing("no kubeadm state and no kube6 cluster files on this host")
    actions: list[Action] = []
    if facts.kubeadm_state:
        actions.append(
            run("kubeadm", "reset", "-f", why="stop kubelet, remove etcd data, certificates")
        )
    if facts.leftovers:
        actions.append(
            run("rm", "-rf", *(ctx.path(p) for p in facts.leftovers), why="kube6's files")
        )
    actions += [
        run("nft", "delete", "table", family, name, why="left by the cluster's dataplane")
        for family, name in facts.tables
    ]
    return StepPlan.do(*actions)


CALICO_LINK = re.compile(r"^cali[0-9a-f]{11}$")
"""The host side of a pod's veth pair as Calico's CNI plugin names it (`cali` + 11 hex)."""
CNI_NETNS = re.compile(r"^cni-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
"""A pod sandbox's network namespace as containerd names it under /var/run/netns."""


FELIX_ROUTE_PROTO = "80"
"""The routing protocol number Felix marks its routes with (dataplanedefs.DefaultRouteProto): the
routes to other nodes' blocks and the blackhole of the node's own blocks."""
_ROUTE_TYPES = frozenset({"blackhole", "unreachable", "prohibit", "throw"})


@dataclass(frozen=True)
class PodNetworkFacts:
    links: tuple[str, ...]
    """Calico pod interfaces still on the host."""
    namespaces: tuple[str, ...]
    """Pod sandbox network namespaces still mounted."""
    routes: tuple[tuple[str, ...], ...] = ()
    """Felix's routes still in the table: (type, prefix) or (prefix,)."""


def pod_links(ip_link: str) -> tuple[str, ...]:
    """Calico pod interface names in `ip -o link show` output (`12: cali…@if3: <…> …`)."""
    names = (
        line.split(":", 2)[1].strip().split("@")[0] for line in ip_link.splitlines() if ":" in line
    )
    return tuple(sorted(n for n in names if CALICO_LINK.match(n)))


def pod_namespaces(ip_netns: str) -> tuple[str, ...]:
    """containerd's pod namespaces in `ip netns list` output (`cni-<uuid> (id: 0)`)."""
    names = (line.split()[0] for line in ip_netns.splitlines() if line.strip())
    return tuple(sorted(n for n in names if CNI_NETNS.match(n)))


def felix_routes(ip_route: str) -> tuple[tuple[str, ...], ...]:
    """`ip -6 route show proto 80` lines as what deletes them: (type, prefix) or (prefix,)."""
    found: list[tuple[str, ...]] = []
    for line in ip_route.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] in _ROUTE_TYPES and len(words) > 1:
            found.append((words[0], words[1]))
        else:
            found.append((words[0],))
    return tuple(found)


async def read_pod_network(ctx: HostContext) -> PodNetworkFacts:
    routes = await probe.stdout(ctx, "ip", "-6", "route", "show", "proto", FELIX_ROUTE_PROTO)
    return PodNetworkFacts(
        pod_links(await probe.stdout(ctx, "ip", "-o", "link", "show") or ""),
        pod_namespaces(await probe.stdout(ctx, "ip", "netns", "list") or ""),
        felix_routes(routes or ""),
    )


def fresh_pod_network(ctx: HostContext) -> PodNetworkFacts:
    return PodNetworkFacts((), ())


def plan_pod_network(ctx: HostContext, facts: PodNetworkFacts) -> StepPlan:
    """Delete pods' Calico interfaces (their routes go with them), sandbox namespaces and
    Felix's routes.

    kubeadm reset removes the pods through the runtime, whose CNI DEL asks the API server to
    release each address; on the last control plane the API server is already gone, so the
    teardown fails and the interfaces, routes and namespaces stay behind. Felix's routes to the
    blocks of the nodes stay on every node: nothing removes them once calico-node is gone."""
    if not (facts.links or facts.namespaces or facts.routes):
        return StepPlan.nothing(
            "no pod interfaces, pod network namespaces or Felix routes are left"
        )
    why = "left by pods whose network teardown failed (no API server for Calico's CNI DEL)"
    felix = "Felix's route (calico-node no longer runs to remove it)"
    return StepPlan.do(
        *(run("ip", "link", "delete", name, why=why) for name in facts.links),
        *(run("ip", "netns", "delete", name, why=why) for name in facts.namespaces),
        *(
            run("ip", "-6", "route", "delete", *route, "proto", FELIX_ROUTE_PROTO, why=felix)
            for route in facts.routes
        ),
    )


@dataclass(frozen=True)
class FirewallFacts:
    loaded: bool
    files: tuple[str, ...]
    enabled: bool


async def read_firewall(ctx: HostContext) -> FirewallFacts:
    rules, unit = firewall.firewall_file(ctx), firewall.unit_file(ctx)
    loaded, enabled, files = False, False, []
    if rules is not None:
        family, name = firewall.table_of(rules.content)
        loaded = await probe.exit_code(ctx, "nft", "list", "table", family, name) == 0
        path = firewall.host_path(ctx, rules)
        if await probe.exists(ctx, path):
            files.append(path)
    if unit is not None and await probe.exists(ctx, firewall.UNIT_SUFFIX):
        files.append(firewall.UNIT_SUFFIX)
        if ctx.options.services is Services.SYSTEMD:
            name = unit.path.rsplit("/", 1)[-1]
            enabled = (
                await probe.stdout(ctx, "systemctl", "is-enabled", name) or ""
            ).strip() == "enabled"
    return FirewallFacts(loaded, tuple(files), enabled)


def fresh_firewall(ctx: HostContext) -> FirewallFacts:
    rules, unit = firewall.firewall_file(ctx), firewall.unit_file(ctx)
    files = [firewall.host_path(ctx, rules)] if rules else []
    files += [firewall.UNIT_SUFFIX] if unit else []
    return FirewallFacts(rules is not None, tuple(files), unit is not None)


def plan_firewall(ctx: HostContext, facts: FirewallFacts) -> StepPlan:
    """Disable the unit, delete kube6's table (only it: other tables stay), remove the files."""
    if not (facts.loaded or facts.files or facts.enabled):
        return StepPlan.nothing("kube6's firewall table is not loaded and its files are gone")
    actions: list[Action] = []
    unit = firewall.unit_file(ctx)
    if facts.enabled and unit is not None:
        actions.append(run("systemctl", "disable", unit.path.rsplit("/", 1)[-1]))
    rules = firewall.firewall_file(ctx)
    if facts.loaded and rules is not None:
        family, name = firewall.table_of(rules.content)
        actions.append(run("nft", "delete", "table", family, name, why="kube6's table only"))
    if facts.files:
        actions.append(_rm(ctx, *facts.files))
        if firewall.UNIT_SUFFIX in facts.files and ctx.options.services is Services.SYSTEMD:
            actions.append(run("systemctl", "daemon-reload"))
    return StepPlan.do(*actions)


@dataclass(frozen=True)
class RoutingFacts:
    service: probe.ServiceFacts
    config: bool
    dropin: bool = False


async def read_routing(ctx: HostContext) -> RoutingFacts:
    return RoutingFacts(
        await probe.read_service(ctx, routing.SERVICE),
        await probe.exists(ctx, routing.CONFIG_PATH),
        ctx.options.services is Services.SYSTEMD and await probe.exists(ctx, routing.DROPIN_PATH),
    )


def fresh_routing(ctx: HostContext) -> RoutingFacts:
    present = bool(ctx.node.ndp_rules)
    return RoutingFacts(probe.ServiceFacts(present, present, None), present)


def plan_routing(ctx: HostContext, facts: RoutingFacts) -> StepPlan:
    """Stop and disable ndppd, remove /etc/ndppd.conf (only where kube6 ran it)."""
    reason = routing.not_needed(ctx)
    if reason:
        return StepPlan.nothing(reason)
    actions: list[Action] = [*probe.stop(ctx, routing.SERVICE, facts.service)]
    if facts.config:
        actions.append(_rm(ctx, routing.CONFIG_PATH, why="kube6's NDP proxy rules"))
    if facts.dropin:
        actions += [
            _rm(ctx, routing.DROPIN_PATH, why="kube6's restart policy for ndppd"),
            run("systemctl", "daemon-reload"),
        ]
    if not actions:
        return StepPlan.nothing("ndppd is stopped and /etc/ndppd.conf is gone")
    return StepPlan.do(*actions)


@dataclass(frozen=True)
class RuntimeFacts:
    files: tuple[str, ...]
    service: probe.ServiceFacts


async def read_runtime(ctx: HostContext) -> RuntimeFacts:
    files = tuple(
        [p for p in (runtime.CONFIG_PATH, runtime.CRICTL_PATH) if await probe.exists(ctx, p)]
    )
    service = probe.ServiceFacts(False, False)
    if runtime.CONFIG_PATH in files and ctx.options.services is Services.SYSTEMD:
        service = await probe.read_service(ctx, "containerd")
    return RuntimeFacts(files, service)


def fresh_runtime(ctx: HostContext) -> RuntimeFacts:
    return RuntimeFacts((runtime.CONFIG_PATH, runtime.CRICTL_PATH), probe.ServiceFacts(True, True))


def plan_runtime(ctx: HostContext, facts: RuntimeFacts) -> StepPlan:
    """Remove kube6's containerd and crictl config; a running containerd restarts on defaults."""
    if not facts.files:
        return StepPlan.nothing("kube6's containerd and crictl configuration are gone")
    actions: list[Action] = [_rm(ctx, *facts.files, why="kube6's runtime configuration")]
    if runtime.CONFIG_PATH in facts.files and facts.service.active:
        actions.append(run("systemctl", "restart", "containerd", why="back to its defaults"))
    return StepPlan.do(*actions)


@dataclass(frozen=True)
class HostFacts:
    snapshot: str | None
    files: tuple[str, ...]
    fstab: str | None


async def read_host(ctx: HostContext) -> HostFacts:
    paths = (host.SYSCTL_PATH, host.MODULES_PATH)
    return HostFacts(
        await probe.read_text(ctx, host.SNAPSHOT_PATH),
        tuple([p for p in paths if await probe.exists(ctx, p)]),
        await probe.read_text(ctx, host.FSTAB),
    )


def fresh_host(ctx: HostContext) -> HostFacts:
    return HostFacts(None, (host.SYSCTL_PATH, host.MODULES_PATH), None)


def restore_fstab(text: str) -> str:
    return "".join(line.removeprefix(host.SWAP_MARK) for line in text.splitlines(keepends=True))


def plan_host(ctx: HostContext, facts: HostFacts) -> StepPlan:
    """Restore the sysctls kube6 changed (forwarding first), remove its files, restore fstab."""
    actions: list[Action] = []
    before = host.parse_sysctl_conf(facts.snapshot or "")
    if before:
        settings = [f"{k}={v}" for k, v in host.restore_order(before)]
        actions.append(run("sysctl", "-w", *settings, why="the values from before kube6 up"))
    if facts.files:
        actions.append(_rm(ctx, *facts.files, why="kube6's kernel settings at boot"))
    if facts.fstab is not None and host.SWAP_MARK in facts.fstab:
        actions.append(PutFile(host.FSTAB, restore_fstab(facts.fstab), 0o644, why="swap at boot"))
    if facts.snapshot is not None:
        actions.append(_rm(ctx, host.SNAPSHOT_PATH, why="restored"))
    if not actions:
        return StepPlan.nothing("no kube6 kernel settings are left on this host")
    return StepPlan.do(*actions)


RESET_STEPS: tuple[Step[Any], ...] = (
    Step("cluster", "kubeadm reset -f; kube6's kubeadm and cluster files; Calico's CNI config.",
         plan_cluster, read_cluster, fresh_cluster),
    Step("pod-network", "Pods' Calico interfaces and sandbox network namespaces removed.",
         plan_pod_network, read_pod_network, fresh_pod_network),
    Step("firewall", "kube6's nftables table, file and boot unit removed.",
         plan_firewall, read_firewall, fresh_firewall),
    Step("routing", "ndppd stopped and disabled, /etc/ndppd.conf removed.",
         plan_routing, read_routing, fresh_routing),
    Step("runtime", "kube6's containerd and crictl configuration removed.",
         plan_runtime, read_runtime, fresh_runtime),
    Step("host", "sysctls restored from the snapshot; kube6's sysctl.d/modules-load.d removed.",
         plan_host, read_host, fresh_host),
)  # fmt: skip
