"""The renderers' toolkit: the Artifact type (`render.base`), artifact path rules, the writer.

Every file kube6 installs is rendered by its component (kube6.components); the registry,
`kube6.components.registry`, runs them all (`render_all`). Writing the files to disk is
`render.writer`'s job.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from kube6.render.base import Artifact, Renderer


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


__all__ = ["Artifact", "Renderer", "check_path"]
