"""`kube6 lab up`'s choices: the provider's link model (--link) and the nodes' releases (--os),
read into what the lab takes, or a usage error that names the choices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kube6.errors import UsageError

if TYPE_CHECKING:
    from kube6.lab.rootfs import NodeOs
    from kube6.modes import LinkModel


def link_model(value: str | None) -> LinkModel | None:
    from kube6.lab.layout import LAB_LINK_MODELS
    from kube6.modes import LinkModel

    if value is None:
        return None
    if value not in LAB_LINK_MODELS:
        choices = " or ".join(m.value for m in LAB_LINK_MODELS)
        raise UsageError(f"--link {value!r} is not a link model", fix=f"use --link {choices}")
    return LinkModel(value)


def releases(values: list[str], plan_nodes: list[str] | None) -> tuple[NodeOs, dict[str, NodeOs]]:
    """--os: the release of every node (the last plain RELEASE, default debian-12) and those
    of single nodes (NODE=RELEASE), or a usage error; `plan_nodes` checks the node names."""
    default, per_node = release("debian-12"), {}
    for value in values:
        node, _, name = value.rpartition("=")
        if not node:
            default = release(name)
            continue
        if plan_nodes is not None and node not in plan_nodes:
            raise UsageError(
                f"--os {value!r} names {node!r}, not a node of kube6.yaml",
                fix=f"name one of {', '.join(plan_nodes)}",
            )
        per_node[node] = release(name)
    return default, per_node


def release(name: str) -> NodeOs:
    """--os: a release that lab nodes can run, or a usage error naming them."""
    from kube6.lab.rootfs import OSES

    if name not in OSES:
        raise UsageError(
            f"--os {name!r} is not a release lab nodes run", fix=f"use one of {', '.join(OSES)}"
        )
    return OSES[name]
