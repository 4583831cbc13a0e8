"""Building blocks of the cluster-wide steps (network, add-ons), run on the first control plane.

`helm_step` installs or upgrades one Helm release at a pinned chart version (`--wait` is the
readiness check); `manifests_step` applies rendered manifests with server-side apply, and is
converged when `kubectl diff --server-side` finds nothing. Rendered cluster files are put under
/etc/kube6/cluster/ on the first control-plane node before use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from kube6 import mirrors
from kube6.execute import Command
from kube6.render.base import Artifact
from kube6.steps import probe
from kube6.steps.base import Action, Exec, HostContext, PutFile, Step, StepPlan, Targets, run
from kube6.steps.kubectl import ADMIN_CONF, kubectl

CLUSTER_DIR = "/etc/kube6/cluster"
HELM = "/usr/local/bin/helm"
WAIT = "10m"
WAIT_SECONDS = 700
EXPLAIN_SECONDS = 30
"""A waiting command's own time limit: kubectl's WAIT and a little more, so kubectl says why."""


NODE_STATE = (
    "jsonpath={range .items[*]}{.metadata.name}{': '}"
    "{.status.conditions[?(@.status=='True')].type}"
    "{'; taints: '}{.spec.taints[*].key}{'\\n'}{end}"
)
"""Each node's true conditions (Ready, or DiskPressure, MemoryPressure, PIDPressure) and its
taints' keys on one line: why pods are not scheduled, or not started, at a glance. A filter,
not a `range` over the conditions: kubectl's jsonpath fails such a range on a node with one
true condition ("not in range, nothing to end")."""


def wait(ctx: HostContext, *args: str, why: str) -> Exec:
    """`kubectl <args> --timeout=WAIT` (`wait`, `rollout status`) with the admin kubeconfig;
    when it fails, the nodes' conditions and the pods that are not running go with the error."""
    waiting = run(*kubectl(ctx, *args, f"--timeout={WAIT}"), why=why, timeout=WAIT_SECONDS)
    return replace(waiting, explain=explain_waits(ctx))


def explain_waits(ctx: HostContext) -> tuple[Command, ...]:
    """What a wait for pods that failed was up against: the nodes' conditions and taints,
    and the pods that are not running."""
    return (
        Command(kubectl(ctx, "get", "nodes", "-o", NODE_STATE), timeout=EXPLAIN_SECONDS),
        Command(
            kubectl(ctx, "get", "pods", "-A", "--field-selector=status.phase!=Running"),
            timeout=EXPLAIN_SECONDS,
        ),
    )


Applies = Callable[[HostContext], str | None]
"""Returns why the step does not apply to this plan, or None when it does."""


def always(ctx: HostContext) -> str | None:
    return None


def host_file(relative: str) -> str:
    return f"{CLUSTER_DIR}/{relative}"


def helm(ctx: HostContext, *args: str) -> tuple[str, ...]:
    return (HELM, "--kubeconfig", ADMIN_CONF, *args)


@dataclass(frozen=True)
class Release:
    """One Helm release at a pinned chart version."""

    name: str
    chart: str
    version: str
    namespace: str
    repo: str | None = None
    values: str | None = None
    """Rendered values file, relative to cluster/ (`calico/values.yaml`); optional."""
    sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseFacts:
    status: str | None
    chart_version: str | None
    values_file: str | None


def parse_helm_status(text: str | None) -> tuple[str | None, str | None]:
    """(status, chart version) from `helm get metadata NAME -o json`, or (None, None).

    Not `helm status -o json`: helm 4 leaves the chart out of it."""
    if not text:
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    status, version = data.get("status"), data.get("version")
    return (
        status if isinstance(status, str) else None,
        version if isinstance(version, str) else None,
    )


def _values(ctx: HostContext, release: Release) -> Artifact | None:
    return ctx.cluster_files.get(release.values) if release.values else None


def _chart_source_args(ctx: HostContext, release: Release) -> tuple[list[Action], list[str]]:
    """Where helm takes `release`'s chart from (upstream or its mirror): the chart argument
    with its --repo/--ca-file/flags, and the action that writes the mirror's CA when it has one."""
    source = mirrors.chart_source(ctx.plan.mirrors, release.chart, release.repo)
    actions: list[Action] = []
    args = [source.chart]
    if source.repo:
        args += ["--repo", source.repo]
    if source.ca is not None:
        path = mirrors.ca_file(source.ca)
        actions.append(PutFile(path, source.ca, 0o644, why="the chart mirror's CA"))
        args += ["--ca-file", path]
    return actions, [*args, *source.flags]


def helm_step(
    name: str, help: str, release: Release, applies: Applies = always
) -> Step[ReleaseFacts]:
    """A step that keeps `release` installed at its version with the rendered values."""

    async def read(ctx: HostContext) -> ReleaseFacts:
        if applies(ctx):
            return ReleaseFacts(None, None, None)
        text = await probe.stdout(
            ctx,
            *helm(ctx, "get", "metadata", release.name, "-n", release.namespace, "-o", "json"),
        )
        status, version = parse_helm_status(text)
        values = _values(ctx, release)
        on_host = (
            await probe.read_text(ctx, host_file(values.path.removeprefix("cluster/")))
            if values
            else None
        )
        return ReleaseFacts(status, version, on_host)

    def fresh(ctx: HostContext) -> ReleaseFacts:
        return ReleaseFacts(None, None, None)

    def plan(ctx: HostContext, facts: ReleaseFacts) -> StepPlan:
        reason = applies(ctx)
        if reason:
            return StepPlan.nothing(reason)
        values = _values(ctx, release)
        same_values = values is None or facts.values_file == values.content
        same_version = (facts.chart_version or "").lstrip("v") == release.version.lstrip("v")
        if facts.status == "deployed" and same_version and same_values:
            return StepPlan.nothing(f"Helm release {release.name} {release.version} is deployed")
        actions: list[Action] = []
        ca_actions, chart_args = _chart_source_args(ctx, release)
        actions += ca_actions
        args = ["upgrade", "--install", release.name, *chart_args]
        args += [
            "--version",
            release.version,
            "--namespace",
            release.namespace,
            "--create-namespace",
        ]
        if values is not None:
            path = host_file(values.path.removeprefix("cluster/"))
            actions.append(PutFile(path, values.content, values.mode, why="the rendered values"))
            args += ["--values", path]
        for item in release.sets:
            args += ["--set", item]
        args += ["--wait", "--timeout", WAIT]
        why = f"{release.chart} {release.version}, ready"
        installing = run(*helm(ctx, *args), why=why, timeout=900)
        actions.append(replace(installing, explain=explain_waits(ctx)))
        return StepPlan.do(*actions)

    return Step(
        name, help, plan, read, fresh, targets=Targets.FIRST_CONTROL_PLANE, needs_cluster=True
    )


@dataclass(frozen=True)
class ChartCrdsFacts:
    current: bool
    """The chart's templates at this version are on the host and applied unchanged."""


def chart_crds_step(
    name: str, help: str, release: Release, applies: Applies = always
) -> Step[ChartCrdsFacts]:
    """A step that applies a CRD-only chart's templates server-side, not as a Helm release.

    Helm keeps each release in one Secret, and Kubernetes caps a Secret at 1 MiB: a chart of
    large CRDs (Calico's crd.projectcalico.org.v1 holds the 1.5 MB Installation CRD) fails with
    `Secret "sh.helm.release.v1..." is invalid: data: Too long`. Its templates are rendered with
    `helm template` into a folder of their own and applied with server-side apply (client-side
    apply fails too: its last-applied annotation is capped at 256 KiB). `--force-conflicts`
    takes the fields over from an earlier Helm release of the same chart.
    """
    folder = host_file(f"charts/{release.name}-{release.version}")
    apply = ("--server-side", "--field-manager", "kube6", "--force-conflicts", "-R", "-f")

    async def read(ctx: HostContext) -> ChartCrdsFacts:
        if applies(ctx) or not await probe.exists(ctx, folder):
            return ChartCrdsFacts(False)
        differs = await probe.exit_code(ctx, *kubectl(ctx, "diff", *apply, folder))
        return ChartCrdsFacts(differs == 0)

    def fresh(ctx: HostContext) -> ChartCrdsFacts:
        return ChartCrdsFacts(False)

    def plan(ctx: HostContext, facts: ChartCrdsFacts) -> StepPlan:
        reason = applies(ctx)
        if reason:
            return StepPlan.nothing(reason)
        if facts.current:
            return StepPlan.nothing(f"{release.chart} {release.version} is applied, unchanged")
        actions: list[Action] = [run("rm", "-rf", folder)]
        ca_actions, chart_args = _chart_source_args(ctx, release)
        actions += ca_actions
        args = ["template", release.name, *chart_args]
        args += ["--version", release.version, "--namespace", release.namespace]
        actions += [
            run(*helm(ctx, *args, "--output-dir", folder), why="the CRDs, as files"),
            run(
                *kubectl(ctx, "apply", *apply, folder),
                why=f"{release.chart} {release.version}",
                timeout=300,
            ),
        ]
        return StepPlan.do(*actions)

    return Step(
        name, help, plan, read, fresh, targets=Targets.FIRST_CONTROL_PLANE, needs_cluster=True
    )


@dataclass(frozen=True)
class ManifestFacts:
    current: frozenset[str]
    """Rendered files (relative to cluster/) that are on the host and applied unchanged."""


async def _applied(
    ctx: HostContext, chosen: list[Artifact], diff: tuple[str, ...]
) -> ManifestFacts:
    """The `chosen` manifests whose installed file is the rendered one and that the cluster
    holds unchanged (`kubectl diff` finds nothing)."""
    current = set()
    for artifact in chosen:
        relative = artifact.path.removeprefix("cluster/")
        path = host_file(relative)
        if await probe.read_text(ctx, path) != artifact.content:
            continue
        differs = await probe.exit_code(ctx, *kubectl(ctx, *diff, "-f", path))
        if differs == 0:
            current.add(relative)
    return ManifestFacts(frozenset(current))


def _apply_plan(
    ctx: HostContext,
    chosen: list[Artifact],
    facts: ManifestFacts,
    apply: tuple[str, ...],
    api_service: str | None,
) -> StepPlan:
    """Install and apply the `chosen` manifests the cluster does not hold yet, after waiting
    for `api_service` when one serves them."""
    if not chosen:
        return StepPlan.nothing("no manifests were rendered for it")
    todo = [a for a in chosen if a.path.removeprefix("cluster/") not in facts.current]
    if not todo:
        return StepPlan.nothing(f"{len(chosen)} manifest file(s) applied and unchanged")
    actions: list[Action] = []
    if api_service:
        # Created by an operator some time after its install (tigera-operator makes the
        # Calico API server's once calico-node runs): `--for=condition` alone fails at once
        # on an object that does not exist yet.
        actions.append(
            wait(
                ctx,
                *("wait", "--for=create", "--for=condition=Available"),
                f"apiservice/{api_service}",
                why=f"the API that serves these objects ({api_service}) is up",
            )
        )
    for artifact in todo:
        path = host_file(artifact.path.removeprefix("cluster/"))
        actions += [
            PutFile(path, artifact.content, artifact.mode, why=artifact.description),
            run(*kubectl(ctx, *apply, "-f", path)),
        ]
    return StepPlan.do(*actions)


def manifests_step(
    name: str,
    help: str,
    select: Callable[[HostContext], list[Artifact]],
    applies: Applies = always,
    *,
    take_over: bool = False,
    api_service: str | None = None,
) -> Step[ManifestFacts]:
    """A step that applies the selected rendered manifests (server-side, field manager kube6).

    `take_over`: the objects exist already, made by another tool (kubeadm's CoreDNS ConfigMap),
    and kube6 takes the fields it sets from it (`--force-conflicts`); without it such a
    conflict fails the step, so that kube6 never silently overrides someone else's object.
    `api_service`: the APIService (`v3.projectcalico.org`) that serves these objects; the step
    waits until it is Available before applying (an aggregated API server runs as pods).
    """
    apply: tuple[str, ...] = ("apply", "--server-side", "--field-manager", "kube6")
    diff: tuple[str, ...] = ("diff", "--server-side", "--field-manager", "kube6")
    if take_over:
        apply, diff = (*apply, "--force-conflicts"), (*diff, "--force-conflicts")

    async def read(ctx: HostContext) -> ManifestFacts:
        return await _applied(ctx, select(ctx) if not applies(ctx) else [], diff)

    def fresh(ctx: HostContext) -> ManifestFacts:
        return ManifestFacts(frozenset())

    def plan(ctx: HostContext, facts: ManifestFacts) -> StepPlan:
        reason = applies(ctx)
        if reason:
            return StepPlan.nothing(reason)
        return _apply_plan(ctx, select(ctx), facts, apply, api_service)

    return Step(
        name, help, plan, read, fresh, targets=Targets.FIRST_CONTROL_PLANE, needs_cluster=True
    )


def under(
    *folders: str, exclude: tuple[str, ...] = ("values.yaml",)
) -> Callable[[HostContext], list[Artifact]]:
    """Rendered cluster files in any of `folders` (cluster/<folder>/...), Helm values aside."""

    def select(ctx: HostContext) -> list[Artifact]:
        return [
            a
            for rel, a in sorted(ctx.cluster_files.items())
            if rel.split("/", 1)[0] in folders
            and rel.rsplit("/", 1)[-1] not in exclude
            and rel.endswith((".yaml", ".yml"))
        ]

    return select
