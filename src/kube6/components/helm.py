"""The helm component: the helm binary at kube6's pin, that installs the charts (Calico, the
add-ons); its `up` step runs first in the `network` phase."""

from __future__ import annotations

from dataclasses import dataclass

from kube6 import mirrors
from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use
from kube6.plan.model import Plan
from kube6.steps import cluster, probe
from kube6.steps.base import HostContext, Step, StepPlan, Targets, download, run
from kube6.versions import HELM

DOWNLOADS = "https://get.helm.sh/"
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
    url = mirrors.download_url(ctx.plan.mirrors, f"{DOWNLOADS}{tarball}")
    folder = HELM_DIR
    return StepPlan.do(
        run("install", "-d", "-m", "0755", folder),
        download(url, f"{folder}/{tarball}", why=f"helm {HELM.version}"),
        download(f"{url}.sha256sum", f"{folder}/{tarball}.sha256sum"),
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
            "/usr/local/bin",
            "--strip-components=1",
            f"linux-{facts.arch}/helm",
        ),
    )


STEP: Step[HelmFacts] = Step(
    "helm",
    f"helm {HELM.version} in /usr/local/bin.",
    plan_helm,
    read_helm,
    fresh_helm,
    targets=Targets.FIRST_CONTROL_PLANE,
    needs_cluster=True,
)


def hosts(plan: Plan) -> list[ArtifactHost]:
    return [ArtifactHost("get.helm.sh", f"the helm {HELM.version} binary")]


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    url = DOWNLOADS + helm_tarball("<arch>")
    return [UpstreamArtifact("download", url, "pin kube6.versions.HELM; <arch> is the host's")]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [("get.helm.sh", ("download", DOWNLOADS))]


COMPONENT = Component("helm", up=(STEP,), hosts=hosts, uses=uses, artifacts=artifacts)
