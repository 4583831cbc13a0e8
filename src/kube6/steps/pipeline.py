"""The `kube6 up` pipeline in order, and the per-host contexts that a run needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube6.execute.base import Executor
from kube6.plan.model import Plan
from kube6.render import render_all
from kube6.render.base import Artifact
from kube6.steps import (
    addons,
    control_plane,
    firewall,
    host,
    join,
    network,
    packages,
    preflight,
    routing,
    runtime,
    verify,
)
from kube6.steps.base import HostContext, RunOptions, RunState, Step

UP_STEPS: tuple[Step[Any], ...] = (
    preflight.STEP,
    host.STEP,
    runtime.STEP,
    packages.STEP,
    routing.STEP,
    firewall.STEP,
    control_plane.STEP,
    join.STEP,
    network.STEP,
    addons.STEP,
    verify.STEP,
)
"""Every step of `kube6 up`, in the order they run (kubeadm-style phases, nestable)."""


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
