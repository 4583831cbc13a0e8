"""network: helm (pinned), Calico (CRD chart, then tigera-operator with the rendered values),
Calico BGP resources and CoreDNS changes where rendered; then every node Ready and CoreDNS up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kube6 import mirrors
from kube6.render.calico import CALICO_API_SERVICE
from kube6.routing import strategy
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets, run
from kube6.steps.kubectl import kubectl
from kube6.versions import CALICO, HELM

CALICO_REPO = "https://docs.tigera.io/calico/charts"
HELM_DIR = "/var/lib/kube6/helm"


def helm_tarball(arch: str) -> str:
    return f"helm-{HELM.version}-linux-{arch}.tar.gz"


@dataclass(frozen=True)
class HelmFacts:
    version: str | None
    arch: str


async def read_helm(ctx: HostContext) -> HelmFacts:
    version = await probe.stdout(ctx, cluster.HELM, "version", "--template", "{{.Version}}")
    arch = await probe.stdout(ctx, "dpkg", "--print-architecture")
    return HelmFacts((version or "").strip() or None, (arch or "amd64").strip())


def fresh_helm(ctx: HostContext) -> HelmFacts:
    return HelmFacts(None, "amd64")


def plan_helm(ctx: HostContext, facts: HelmFacts) -> StepPlan:
    """helm at the pinned version in /usr/local/bin, checked against its published SHA-256."""
    if facts.version == HELM.version:
        return StepPlan.nothing(f"helm {HELM.version} is installed")
    tarball = helm_tarball(facts.arch)
    url = mirrors.download_url(ctx.plan.mirrors, f"https://get.helm.sh/{tarball}")
    folder = ctx.path(HELM_DIR)
    return StepPlan.do(
        run("install", "-d", "-m", "0755", folder),
        run(
            "curl",
            "-fsSL",
            "--retry",
            "3",
            "-o",
            f"{folder}/{tarball}",
            url,
            why=f"helm {HELM.version}",
        ),
        run(
            "curl",
            "-fsSL",
            "--retry",
            "3",
            "-o",
            f"{folder}/{tarball}.sha256sum",
            f"{url}.sha256sum",
        ),
        # sha256sum -c resolves the file name in the checksum file from the working directory.
        run(
            "sh",
            "-c",
            'cd "$1" && sha256sum -c "$2"',
            "kube6-verify",
            folder,
            f"{tarball}.sha256sum",
            why="refuse a tarball that does not match its published checksum",
        ),
        run(
            "tar",
            "-xzf",
            f"{folder}/{tarball}",
            "-C",
            ctx.path("/usr/local/bin"),
            "--strip-components=1",
            f"linux-{facts.arch}/helm",
        ),
    )


def _bgp(ctx: HostContext) -> str | None:
    if strategy(ctx.plan.routing).bgp_peering:
        return None
    return f"routing is {ctx.plan.routing}, not bgp"


def _dns64(ctx: HostContext) -> str | None:
    if ctx.plan.dns_settings.coredns_dns64:
        return None
    return f"CoreDNS keeps its defaults (DNS64: {ctx.plan.dns_settings.dns64})"


@dataclass(frozen=True)
class ReadyFacts:
    ready: frozenset[str]
    coredns_available: int


def parse_ready_nodes(text: str | None) -> frozenset[str]:
    """Names of Ready nodes from `kubectl get nodes -o json`."""
    if not text:
        return frozenset()
    try:
        items = json.loads(text).get("items", [])
    except ValueError:
        return frozenset()
    ready = set()
    for item in items:
        for cond in (item.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                ready.add(item["metadata"]["name"])
    return frozenset(ready)


async def read_ready(ctx: HostContext) -> ReadyFacts:
    nodes = await probe.stdout(ctx, *kubectl(ctx, "get", "nodes", "-o", "json"))
    available = await probe.stdout(
        ctx,
        *kubectl(
            ctx,
            "-n",
            "kube-system",
            "get",
            "deployment",
            "coredns",
            "-o",
            "jsonpath={.status.availableReplicas}",
        ),
    )
    count = (available or "").strip()
    return ReadyFacts(parse_ready_nodes(nodes), int(count) if count.isdigit() else 0)


def fresh_ready(ctx: HostContext) -> ReadyFacts:
    return ReadyFacts(frozenset(), 0)


def plan_ready(ctx: HostContext, facts: ReadyFacts) -> StepPlan:
    """Wait until every node of the plan is Ready and CoreDNS has an available replica."""
    wanted = {n.name for n in ctx.plan.nodes}
    if wanted <= facts.ready and facts.coredns_available > 0:
        return StepPlan.nothing(f"{len(wanted)} node(s) Ready, CoreDNS available")
    return StepPlan.do(
        run(
            *kubectl(
                ctx, "wait", "--for=condition=Ready", "node", "--all", f"--timeout={cluster.WAIT}"
            ),
            why="Calico brings the node network up",
            timeout=700,
        ),
        run(
            *kubectl(
                ctx,
                "-n",
                "kube-system",
                "rollout",
                "status",
                "deployment/coredns",
                f"--timeout={cluster.WAIT}",
            ),
            why="cluster DNS answers",
            timeout=700,
        ),
    )


CALICO_STATUSES = ("calico", "apiserver")
"""The operator's TigeraStatus objects for what kube6 installs: Calico itself (calico-node,
typha, kube-controllers) and the Calico API server (projectcalico.org/v3)."""


def parse_available(text: str | None) -> frozenset[str]:
    """Names of the TigeraStatus objects that are Available, from `kubectl get -o json`."""
    if not text:
        return frozenset()
    try:
        items = json.loads(text).get("items", [])
    except ValueError:
        return frozenset()
    return frozenset(
        item["metadata"]["name"]
        for item in items
        if any(
            c.get("type") == "Available" and c.get("status") == "True"
            for c in (item.get("status") or {}).get("conditions") or []
        )
    )


async def read_calico_ready(ctx: HostContext) -> frozenset[str]:
    return parse_available(
        await probe.stdout(ctx, *kubectl(ctx, "get", "tigerastatus", "-o", "json"))
    )


def fresh_calico_ready(ctx: HostContext) -> frozenset[str]:
    return frozenset()


def plan_calico_ready(ctx: HostContext, available: frozenset[str]) -> StepPlan:
    """Wait until the operator reports Calico and its API server Available.

    Nodes turn Ready as soon as calico-node has written the CNI configuration, a minute or more
    before felix, typha and kube-controllers pass their readiness checks; without this wait the
    verify step that follows would judge a cluster that is still starting."""
    if set(CALICO_STATUSES) <= available:
        return StepPlan.nothing("the operator reports " + ", ".join(CALICO_STATUSES) + " Available")
    return StepPlan.do(
        run(
            *kubectl(
                ctx,
                "wait",
                "--for=create",
                "--for=condition=Available",
                *(f"tigerastatus/{name}" for name in CALICO_STATUSES),
                f"--timeout={cluster.WAIT}",
            ),
            why="calico-node, typha, kube-controllers and the Calico API server ready",
            timeout=700,
        )
    )


STEP: Step[object] = Step(
    "network",
    "helm; Calico (CRDs, tigera-operator with the rendered values); nodes Ready, CoreDNS up.",
    children=(
        Step(
            "helm",
            f"helm {HELM.version} in /usr/local/bin.",
            plan_helm,
            read_helm,
            fresh_helm,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
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
            _bgp,
            api_service=CALICO_API_SERVICE,
        ),
        cluster.manifests_step(
            "coredns",
            "CoreDNS with DNS64, when the resolvers lack it.",
            cluster.under("coredns"),
            _dns64,
            take_over=True,  # kubeadm created the ConfigMap; kube6 replaces its Corefile
        ),
        Step(
            "ready",
            "Every node Ready and CoreDNS available.",
            plan_ready,
            read_ready,
            fresh_ready,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
        Step(
            "calico-ready",
            "Calico and its API server Available (the operator's TigeraStatus).",
            plan_calico_ready,
            read_calico_ready,
            fresh_calico_ready,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
        cluster.manifests_step(
            "policies",
            "kube6's default network policies (pods closed to the outside but the gateway).",
            cluster.under("policies"),
            api_service=CALICO_API_SERVICE,
        ),
    ),
)
