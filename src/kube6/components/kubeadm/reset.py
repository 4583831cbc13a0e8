"""kubeadm's `reset` step (`cluster`): `kubeadm reset -f`, kube6's kubeadm and cluster files,
Calico's CNI configuration, and the nftables tables that kube-proxy and Calico left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.components.kubeadm.join import KUBELET_CONF
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, Step, StepPlan, run
from kube6.steps.cluster import CLUSTER_DIR
from kube6.steps.kubectl import ADMIN_CONF

KUBEADM_DIR = "/etc/kubernetes/kubeadm"
CALICO_CNI = ("/etc/cni/net.d/10-calico.conflist", "/etc/cni/net.d/calico-kubeconfig")


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
        actions.append(run("rm", "-rf", *facts.leftovers, why="kube6's files"))
    actions += [
        run("nft", "delete", "table", family, name, why="left by the cluster's dataplane")
        for family, name in facts.tables
    ]
    return StepPlan.do(*actions)


RESET: tuple[Step[Any], ...] = (
    Step(
        "cluster",
        "kubeadm reset -f; kube6's kubeadm and cluster files; Calico's CNI config.",
        plan_cluster,
        read_cluster,
        fresh_cluster,
    ),
)
