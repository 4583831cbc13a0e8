"""The Kubernetes packages component (`up` step `packages`): the pkgs.k8s.io repository of
the planned minor; kubelet, kubeadm, kubectl held.

pkgs.k8s.io has one repository per minor version, so the sources line names the minor and an
upgrade to the next minor is a change of this file (which `kube6 up` makes when the plan's minor
changes). The packages are installed at the plan's patch (`1.37.2-*`) and held.
"""

from __future__ import annotations

from kube6 import mirrors
from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use
from kube6.plan.model import Plan
from kube6.steps import apt
from kube6.steps.base import HostContext, Step, StepPlan

KEYRING = f"{apt.KEYRINGS}/kubernetes-apt-keyring.asc"
SOURCES = "/etc/apt/sources.list.d/kubernetes.list"
PACKAGES = ("kubelet", "kubeadm", "kubectl")


def repo_url(minor: str) -> str:
    return f"https://pkgs.k8s.io/core:/stable:/v{minor}/deb/"


async def read_repository(ctx: HostContext) -> apt.RepoFacts:
    return await apt.read_repo(ctx, KEYRING, SOURCES)


def fresh_repository(ctx: HostContext) -> apt.RepoFacts:
    return apt.FRESH_REPO


def plan_repository(ctx: HostContext, facts: apt.RepoFacts) -> StepPlan:
    """Key and sources list of `pkgs.k8s.io/core:/stable:/v<minor>/deb/` (or its mirror)."""
    url = repo_url(ctx.plan.kubernetes_minor)
    key_url, key = f"{url}Release.key", None
    what = f"the Kubernetes {ctx.plan.kubernetes_minor} apt repository"
    mirror = mirrors.apt_repository(ctx.plan.mirrors, "kubernetes")
    if mirror is not None:
        url = mirror.url if mirror.url.endswith("/") else f"{mirror.url}/"
        key_url, key = mirror.key_url or "", mirror.key
        what += f" (mirror {url})"
    return apt.plan_repo(
        ctx,
        facts,
        what=what,
        key_url=key_url,
        keyring=KEYRING,
        sources=SOURCES,
        line=f"deb [signed-by={KEYRING}] {url} /",
        key=key,
    )


async def read_install(ctx: HostContext) -> apt.PackageFacts:
    return await apt.read_packages(ctx, PACKAGES)


def fresh_install(ctx: HostContext) -> apt.PackageFacts:
    return apt.PackageFacts(dict.fromkeys(PACKAGES), frozenset())


def plan_install(ctx: HostContext, facts: apt.PackageFacts) -> StepPlan:
    """kubelet, kubeadm and kubectl at the plan's patch, then `apt-mark hold`."""
    version = ctx.plan.kubernetes_version.removeprefix("v")
    return apt.plan_packages(
        facts,
        dict.fromkeys(PACKAGES, version),
        hold=True,
        what=f"Kubernetes {version} (kubelet, kubeadm, kubectl)",
    )


STEP: Step[object] = Step(
    "packages",
    "kubelet, kubeadm and kubectl from pkgs.k8s.io at the planned version, held.",
    children=(
        Step(
            "repository",
            "The pkgs.k8s.io repository of the planned minor.",
            plan_repository,
            read_repository,
            fresh_repository,
        ),
        Step(
            "install",
            "kubelet, kubeadm, kubectl installed and held.",
            plan_install,
            read_install,
            fresh_install,
        ),
    ),
)


def hosts(plan: Plan) -> list[ArtifactHost]:
    minor = plan.kubernetes_minor
    return [
        ArtifactHost("pkgs.k8s.io", f"apt repository of kubelet/kubeadm/kubectl v{minor}"),
        ArtifactHost("prod-cdn.packages.k8s.io", "where pkgs.k8s.io redirects package downloads"),
    ]


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    packages = ", ".join(PACKAGES)
    return [
        UpstreamArtifact(
            "apt",
            repo_url(plan.kubernetes_minor),
            f"the plan's Kubernetes minor; packages {packages}",
            source="kubernetes",
        )
    ]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [(host, ("apt", "kubernetes")) for host in ("pkgs.k8s.io", "prod-cdn.packages.k8s.io")]


COMPONENT = Component("kubernetes", up=(STEP,), hosts=hosts, uses=uses, artifacts=artifacts)
