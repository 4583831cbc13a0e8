"""The registry: every component in `up` order, and what kube6 assembles from them.

- `RENDERERS` and `render_all` (`kube6 render`; `up` installs exactly these files),
- `UP_STEPS` (`kube6 up`) and `RESET_STEPS` (`kube6 reset`), and `make_contexts` for a run,
- `artifacts` for `kube6 check`'s audit: every image, chart, apt repository and download of
  the plan, each component's own declaration, with the mirrors applied,
- `artifact_hosts` for `kube6 check` and the preflight step: the components' hosts with the
  mirrors applied (kube6.components.sources); kube6.checks.artifacts judges them,
- `check_objects`, `custom_kinds` and `namespaces` for `kube6 verify` (on kube6.verify.objects).

A new component is a module under kube6.components and one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kube6.components import (
    calico,
    cert_manager,
    containerd,
    coredns,
    dashboard,
    firewall,
    gateway,
    helm,
    host,
    kubeadm,
    kubernetes,
    ndppd,
    sources,
)
from kube6.components.base import ArtifactHost, Component, UpstreamArtifact, Use
from kube6.errors import PlanError
from kube6.execute.base import Executor
from kube6.plan.model import Plan
from kube6.render import check_path
from kube6.render.base import Artifact, Renderer
from kube6.steps import preflight
from kube6.steps import verify as verify_steps
from kube6.steps.base import HostContext, RunOptions, RunState, Step
from kube6.verify.kubernetes import cluster_checks
from kube6.verify.objects import ClusterObjects, CustomKind
from kube6.verify.pods import pod_checks
from kube6.verify.result import CheckResult
from kube6.versions import BUSYBOX

ADD_ONS: tuple[Component, ...] = (
    gateway.component(dashboard.render.https_listeners),
    cert_manager.COMPONENT,
    dashboard.COMPONENT,
)
"""The cluster add-ons, in the order `up` installs them (the `addons` step)."""


COMPONENTS: tuple[Component, ...] = (
    kubernetes.COMPONENT,
    containerd.COMPONENT,
    kubeadm.COMPONENT,
    helm.COMPONENT,
    calico.COMPONENT,
    *ADD_ONS,
    host.COMPONENT,
    ndppd.COMPONENT,
    coredns.COMPONENT,
    firewall.COMPONENT,
)
"""Every component, in the order `kube6 check` lists the hosts they come from; `UP_STEPS` says
the order `up` runs them in."""

RENDERERS: dict[str, Renderer] = {
    name: renderer for c in COMPONENTS for name, renderer in c.renderers.items()
}
"""Stable renderer name -> renderer, for every component."""


def check_objects(plan: Plan, objects: ClusterObjects) -> list[CheckResult]:
    """Every `kube6 verify` object check, in a fixed order: Kubernetes' nodes and Services, the
    components' checks (Calico's pools and blocks), the pods, then the add-ons' by name."""
    base = [
        check(plan, objects) for c in COMPONENTS if c not in ADD_ONS for check in c.object_checks
    ]
    add_ons = [check(plan, objects) for c in ADD_ONS for check in c.object_checks]
    return [
        *cluster_checks(plan, objects),
        *base,
        *pod_checks(plan, objects, namespaces(plan)),
        *sorted(add_ons, key=lambda r: r.name),
    ]


def custom_kinds(plan: Plan) -> list[CustomKind]:
    """The custom resource kinds that the planned components' checks read."""
    return [kind for c in COMPONENTS for kind in c.kinds(plan)]


def namespaces(plan: Plan) -> list[str]:
    """The namespaces of the planned components whose pods must all be Running."""
    return [ns for c in COMPONENTS for ns in c.namespaces(plan)]


def upstream_hosts(plan: Plan) -> list[ArtifactHost]:
    """Every component's upstream artifact hosts in this plan, in component order."""
    return [h for c in COMPONENTS for h in c.hosts(plan)]


def mirror_hosts(plan: Plan) -> list[ArtifactHost]:
    """The hosts that the spec's mirrors put in place of a service (after the upstream ones)."""
    return [h for c in COMPONENTS for h in c.mirror_hosts(plan)]


def uses(plan: Plan, host: str) -> list[Use]:
    """How the components use `host` (for mirrors: a host is mirrored when every use is)."""
    return [use for c in COMPONENTS for name, use in c.uses(plan) if name == host]


def artifact_hosts(plan: Plan) -> tuple[ArtifactHost, ...]:
    """Every host that the plan's components are fetched from (by the nodes, during `up`), the
    mirrors applied: what `kube6 check` resolves (kube6.checks.artifacts judges them)."""
    return sources.apply_mirrors(
        plan, upstream_hosts(plan) + mirror_hosts(plan), lambda host: uses(plan, host)
    )


VERIFY_ARTIFACTS = (
    UpstreamArtifact(
        "image",
        BUSYBOX.version,
        "pin kube6.versions.BUSYBOX: the probe pods of `kube6 verify` (the last step of `up`)",
        component="verify",
    ),
)


def artifacts(plan: Plan) -> tuple[UpstreamArtifact, ...]:
    """Every image, chart, apt repository and download that `up` fetches for this plan, in
    component order, each with its component, the mirror that serves it (kube6.yaml
    `mirrors`) and the `mirrors` setting that would."""
    declared = [replace(a, component=c.name) for c in COMPONENTS for a in c.artifacts(plan)] + list(
        VERIFY_ARTIFACTS
    )
    return tuple(
        replace(a, mirror=sources.artifact_mirror(plan, a), fix=sources.mirror_setting(a))
        for a in declared
    )


NETWORK_STEP: Step[object] = Step(
    "network",
    "helm; Calico (CRDs, tigera-operator with the rendered values); nodes Ready, CoreDNS up.",
    children=(
        *helm.COMPONENT.up,
        *calico.steps.INSTALL,
        *coredns.COMPONENT.up,
        *calico.steps.READY_AND_POLICIES,
    ),
)
"""helm, Calico, CoreDNS; the nodes Ready; Calico Available and its policies applied."""

ADDONS_STEP: Step[object] = Step(
    "addons",
    "Gateway API CRDs and the gateway (Traefik or Envoy Gateway), cert-manager and "
    "ClusterIssuers, Headlamp; each ready.",
    children=tuple(step for c in ADD_ONS for step in c.up),
)

VERIFY_STEP = verify_steps.verify_step(check_objects, custom_kinds)
"""`kube6 verify`'s object checks, the last step of `up`."""

UP_STEPS: tuple[Step[Any], ...] = (
    preflight.preflight_step(artifact_hosts),
    *host.COMPONENT.up,
    *containerd.COMPONENT.up,
    *kubernetes.COMPONENT.up,
    *ndppd.COMPONENT.up,
    *firewall.COMPONENT.up,
    *kubeadm.COMPONENT.up,
    NETWORK_STEP,
    ADDONS_STEP,
    VERIFY_STEP,
)
"""Every step of `kube6 up`, in the order they run (kubeadm-style phases, nestable)."""


RESET_STEPS: tuple[Step[Any], ...] = (
    *kubeadm.reset.RESET,
    *calico.reset.RESET,
    *firewall.reset.RESET,
    *ndppd.reset.RESET,
    *containerd.reset.RESET,
    *host.reset.RESET,
)
"""Every step of `kube6 reset`: what `up` did, undone in reverse order, per host. Packages
stay installed and so do their apt repositories (removing software is `apt-get purge`'s job,
and the operator's decision); the host's own network configuration is never touched, only
values kube6 recorded are restored."""


def render_all(plan: Plan, renderers: Mapping[str, Renderer] | None = None) -> list[Artifact]:
    """Run every renderer on `plan` and return all artifacts sorted by path.

    Refuses a plan whose rules fail (a PlanError naming them), since its files would not work,
    and refuses two artifacts with the same path or a path that is not a plain relative path
    under `cluster/` or `nodes/` (a ValueError naming the renderers involved).

    Example: `[a.path for a in render_all(make_plan(example()))][0]` is
    `"cluster/..."` or `"nodes/node0001/..."`, whichever sorts first.
    """
    if not plan.ok:
        raise PlanError(list(plan.failures))
    chosen = RENDERERS if renderers is None else renderers
    owner: dict[str, str] = {}
    artifacts: list[Artifact] = []
    for name, renderer in chosen.items():
        for artifact in renderer(plan):
            check_path(artifact.path, name)
            if artifact.path in owner:
                raise ValueError(
                    f"renderers {owner[artifact.path]!r} and {name!r} both write "
                    f"{artifact.path!r}; each file must have exactly one renderer"
                )
            owner[artifact.path] = name
            artifacts.append(artifact)
    return sorted(artifacts, key=lambda a: a.path)


def make_contexts(
    plan: Plan,
    executors: Mapping[str, Executor],
    options: RunOptions,
    artifacts: list[Artifact] | None = None,
) -> dict[str, HostContext]:
    """One HostContext per node in `executors` (node name -> executor), sharing one RunState.

    `artifacts` defaults to `render_all(plan)`: the files `up` installs are exactly the ones
    `kube6 render` writes.
    """
    unknown = sorted(set(executors) - {n.name for n in plan.nodes})
    if unknown:
        raise ValueError(f"no node(s) named {', '.join(unknown)} in the plan")
    files = render_all(plan) if artifacts is None else artifacts
    state = RunState(options, executors=dict(executors))
    cluster_files = {
        a.path.removeprefix("cluster/"): a for a in files if a.path.startswith("cluster/")
    }
    contexts = {}
    for node in plan.nodes:
        if node.name not in executors:
            continue
        prefix = f"nodes/{node.name}"
        node_files = {
            a.path.removeprefix(prefix): a for a in files if a.path.startswith(f"{prefix}/")
        }
        contexts[node.name] = HostContext(
            plan, node, executors[node.name], node_files, cluster_files, state
        )
    return contexts


__all__ = [
    "ADDONS_STEP",
    "COMPONENTS",
    "NETWORK_STEP",
    "RENDERERS",
    "RESET_STEPS",
    "UP_STEPS",
    "VERIFY_STEP",
    "artifact_hosts",
    "artifacts",
    "check_objects",
    "custom_kinds",
    "make_contexts",
    "render_all",
]
