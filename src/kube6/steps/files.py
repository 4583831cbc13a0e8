"""How a step gets the file its component rendered for this node (`rendered`), and the refusal
when there is none (`missing`): a step never installs nothing in silence because a file it
expected was not rendered."""

from __future__ import annotations

from kube6.render.base import Artifact, NodeFile
from kube6.steps.base import Action, HostContext, StepPlan, run


def rendered(ctx: HostContext, file: NodeFile) -> Artifact | None:
    """The artifact rendered for this node at `file`'s host path, or None."""
    return ctx.files.get(file.path)


def missing(ctx: HostContext, file: NodeFile) -> StepPlan:
    """The refusal of a step whose file was not rendered for this node."""
    return StepPlan.stop(
        f"no {file.path} was rendered for {ctx.node.name}",
        "run the steps with the files of `kube6 render` for this plan (make_contexts renders "
        "them); a renderer that left this node out is a bug in kube6",
    )


def remove(ctx: HostContext, *paths: str, why: str = "") -> Action:
    """`rm -f` of host files (under the run's root)."""
    return run("rm", "-f", *paths, why=why)
