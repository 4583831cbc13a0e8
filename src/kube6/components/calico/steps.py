"""Calico's `up` steps, in the `network` phase: its CRD chart, Felix's per-node settings when
the nodes are on several links, then tigera-operator with the rendered values, the BGP
resources in `bgp` routing (`INSTALL`); once the nodes are Ready, the operator's statuses
Available, the LoadBalancer range's IPPool and kube6's default network policies
(`READY_AND_POLICIES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.components.calico import bgp_password, bgp_sessions
from kube6.components.calico.api import CALICO_API_SERVICE
from kube6.components.calico.render import several_links
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets
from kube6.steps.kubectl import kubectl
from kube6.steps.verify import parse_items
from kube6.versions import CALICO

CALICO_REPO = "https://docs.tigera.io/calico/charts"


def _several_links(ctx: HostContext) -> str | None:
    if several_links(ctx.plan):
        return None
    return "the nodes share one provider link: Felix routes between them"


CALICO_STATUSES = ("calico", "apiserver")
"""The operator's TigeraStatus objects for what kube6 installs: Calico itself (calico-node,
typha, kube-controllers) and the Calico API server (projectcalico.org/v3)."""
CALICO_NAMESPACE = "calico-system"
CALICO_WORKLOADS = (
    "daemonset/calico-node",
    "deployment/calico-typha",
    "deployment/calico-kube-controllers",
    "deployment/calico-apiserver",
)
"""What the operator runs in calico-system for kube6's Installation (Calico 3.33)."""


@dataclass(frozen=True)
class CalicoReadiness:
    available: frozenset[str]
    """The TigeraStatus objects that are Available."""
    settling: frozenset[str]
    """CALICO_WORKLOADS not rolled out yet: missing, or with a replica not updated or ready."""


def parse_available(text: str | None) -> frozenset[str]:
    """Names of the TigeraStatus objects that are Available, from `kubectl get -o json`."""
    return frozenset(
        item["metadata"]["name"]
        for item in parse_items(text) or ()
        if any(
            c.get("type") == "Available" and c.get("status") == "True"
            for c in (item.get("status") or {}).get("conditions") or []
        )
    )


def parse_settling(text: str | None) -> frozenset[str]:
    """CALICO_WORKLOADS that are not rolled out, from `kubectl get daemonsets,deployments -o
    json` (all of them when it could not be read)."""
    done = set()
    for item in parse_items(text) or ():
        kind, spec, status = item.get("kind"), item.get("spec") or {}, item.get("status") or {}
        if (item.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0):
            continue  # the controller has not looked at the latest change yet
        if kind == "DaemonSet":
            want = status.get("desiredNumberScheduled", 0)
            counts = ("updatedNumberScheduled", "numberReady", "numberAvailable")
        elif kind == "Deployment":
            want = spec.get("replicas", 1)
            counts = ("updatedReplicas", "readyReplicas", "availableReplicas")
        else:
            continue
        if all(status.get(count, 0) >= want for count in counts):
            done.add(f"{kind.lower()}/{item['metadata']['name']}")
    return frozenset(CALICO_WORKLOADS) - done


async def read_calico_ready(ctx: HostContext) -> CalicoReadiness:
    statuses = await probe.stdout(ctx, *kubectl(ctx, "get", "tigerastatus", "-o", "json"))
    workloads = await probe.stdout(
        ctx,
        *kubectl(ctx, "-n", CALICO_NAMESPACE, "get", "daemonsets,deployments", "-o", "json"),
    )
    return CalicoReadiness(parse_available(statuses), parse_settling(workloads))


def fresh_calico_ready(ctx: HostContext) -> CalicoReadiness:
    return CalicoReadiness(frozenset(), frozenset(CALICO_WORKLOADS))


def plan_calico_ready(ctx: HostContext, found: CalicoReadiness) -> StepPlan:
    """Wait until the operator reports Calico and its API server Available, and every Calico
    workload has rolled out.

    Nodes turn Ready as soon as calico-node has written the CNI configuration, a minute or more
    before felix, typha and kube-controllers pass their readiness checks; without this wait the
    verify step that follows would judge a cluster that is still starting. The operator says
    Available once one replica of each is: with three nodes or more it runs a second Typha,
    which was still starting when verify looked (found by the HA e2e test), hence the
    rollouts."""
    if set(CALICO_STATUSES) <= found.available and not found.settling:
        return StepPlan.nothing(
            "the operator reports "
            + ", ".join(CALICO_STATUSES)
            + " Available, and "
            + ", ".join(CALICO_WORKLOADS)
            + " are rolled out"
        )
    return StepPlan.do(
        cluster.wait(
            ctx,
            "wait",
            "--for=create",
            "--for=condition=Available",
            *(f"tigerastatus/{name}" for name in CALICO_STATUSES),
            why="calico-node, typha, kube-controllers and the Calico API server ready",
        ),
        *(
            cluster.wait(
                ctx,
                "-n",
                CALICO_NAMESPACE,
                "rollout",
                "status",
                workload,
                why="every replica ready, not only the first",
            )
            for workload in CALICO_WORKLOADS
        ),
    )


INSTALL: tuple[Step[Any], ...] = (
    cluster.chart_crds_step(
        "calico-crds",
        "Calico's CRD chart (the operator chart has none since v3.32), applied server-side: "
        "too large for a Helm release.",
        cluster.Release(
            "calico-crds",
            "crd.projectcalico.org.v1",
            CALICO.version,
            "tigera-operator",
            repo=CALICO_REPO,
        ),
    ),
    cluster.manifests_step(
        "calico-felix-nodes",
        "Felix without cluster routes on each node (nodes on several provider links), before "
        "the operator starts Felix.",
        cluster.under("calico-nodes"),
        _several_links,
    ),
    cluster.helm_step(
        "calico",
        "tigera-operator with the rendered Installation values.",
        cluster.Release(
            "calico",
            "tigera-operator",
            CALICO.version,
            "tigera-operator",
            repo=CALICO_REPO,
            values="calico/values.yaml",
        ),
    ),
    cluster.manifests_step(
        "calico-bgp",
        "Calico BGP peering resources (bgp mode).",
        cluster.under("calico"),
        bgp_password.unless_bgp,
        api_service=CALICO_API_SERVICE,
    ),
    bgp_password.STEP,
    bgp_password.MESH_STEP,
)
"""Calico installed: its CRDs, Felix's per-node settings, tigera-operator with the rendered
values, the BGP resources and the Secrets of the BGP passwords (the router's, the mesh's)."""

READY_AND_POLICIES: tuple[Step[Any], ...] = (
    Step(
        "calico-ready",
        "Calico and its API server Available (the operator's TigeraStatus).",
        plan_calico_ready,
        read_calico_ready,
        fresh_calico_ready,
        targets=Targets.FIRST_CONTROL_PLANE,
        needs_cluster=True,
    ),
    bgp_sessions.STEP,
    cluster.manifests_step(
        "calico-load-balancers",
        "The IPPool of the LoadBalancer range (calico-kube-controllers assigns from it).",
        cluster.under("calico-load-balancers"),
        api_service=CALICO_API_SERVICE,
    ),
    cluster.manifests_step(
        "policies",
        "kube6's default network policies (pods closed to the outside but the gateway).",
        cluster.under("policies"),
        api_service=CALICO_API_SERVICE,
    ),
)
"""Once the nodes are Ready: Calico Available, its BGP sessions up (bgp), the LoadBalancer pool,
then kube6's default network policies."""
