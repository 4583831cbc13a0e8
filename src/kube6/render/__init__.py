"""Every file kube6 installs, as pure functions of the Plan, behind one registry.

`RENDERERS` maps a stable name to a renderer (`Plan -> Iterable[Artifact]`); `render_all` runs
them all and returns the artifacts sorted by path. Writing them to disk is `render.writer`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from kube6.errors import PlanError
from kube6.plan.model import Plan
from kube6.render import (
    calico,
    cert_manager,
    containerd,
    coredns,
    dashboard,
    firewall,
    gateway,
    host,
    kubeadm,
    ndppd,
    policies,
)
from kube6.render.base import Artifact, Renderer

RENDERERS: dict[str, Renderer] = {
    # Node files: kubeadm configs, container runtime, kernel settings, NDP proxy.
    "kubeadm": kubeadm.render,
    "containerd": containerd.render,
    "host": host.render,
    "ndppd": ndppd.render,
    # ---- add-on renderers (calico, coredns, gateway, cert_manager, dashboard, firewall,
    # ---- policies): one line each below this marker, `"name": module.render,`.
    "calico": calico.render,
    "coredns": coredns.render,
    "gateway": gateway.render,
    "cert_manager": cert_manager.render,
    "dashboard": dashboard.render,
    "firewall": firewall.render,
    "policies": policies.render,
}


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


def check_path(path: str, renderer: str = "?") -> None:
    """Refuse artifact paths that could leave the render folder or that have no known root."""
    parts = PurePosixPath(path).parts
    if (
        not parts
        or path.startswith("/")
        or parts[0] not in ("cluster", "nodes")
        or any(part in ("..", ".", "") for part in path.split("/"))
        or "\\" in path
        or "\x00" in path
    ):
        raise ValueError(
            f"renderer {renderer!r} produced the path {path!r}; artifact paths are relative, "
            "start with cluster/ or nodes/<node>/, and contain no '.', '..' or empty parts"
        )


__all__ = ["RENDERERS", "Artifact", "Renderer", "check_path", "render_all"]
