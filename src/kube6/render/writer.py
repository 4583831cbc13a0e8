"""Write rendered artifacts into a folder: the only part of `render` that touches the disk."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kube6.errors import Kube6Error
from kube6.render import check_path
from kube6.render.base import Artifact


class WriteError(Kube6Error):
    """An artifact cannot be written where it should go."""


@dataclass(frozen=True)
class WriteResult:
    """What `write_artifacts` did: files written and secret files left out (paths as given)."""

    written: tuple[str, ...]
    skipped_secrets: tuple[str, ...]


def write_artifacts(
    artifacts: Iterable[Artifact], out_dir: Path, *, include_secrets: bool
) -> WriteResult:
    """Write each artifact to `out_dir/<artifact.path>` with its mode.

    Secret artifacts (`Artifact.secret`: the content itself is a secret; a 0600 file that will
    only hold one once `up` fills it is not) are left out unless `include_secrets`; the result
    lists them.
    Each file is created with its final mode (never briefly wider) and moved into place, so a
    reader never sees half a file. A path that would resolve outside `out_dir` (through `..` or
    a symbolic link inside it) is refused with a WriteError.

    Example: `write_artifacts(render_all(plan), Path("out"), include_secrets=False).written`.
    """
    root = out_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    skipped: list[str] = []
    for artifact in artifacts:
        if artifact.secret and not include_secrets:
            skipped.append(artifact.path)
            continue
        _write_one(root, artifact)
        written.append(artifact.path)
    return WriteResult(tuple(written), tuple(skipped))


def _write_one(root: Path, artifact: Artifact) -> None:
    try:
        check_path(artifact.path)
    except ValueError as exc:
        raise WriteError(str(exc)) from None
    target = root / artifact.path
    target.parent.mkdir(parents=True, exist_ok=True)
    # Resolve after creating the folders: a symlink planted anywhere on the way is seen here.
    if not target.parent.resolve().is_relative_to(root):
        raise WriteError(
            f"{artifact.path!r} would be written to {target.parent.resolve()}, outside {root}",
            fix=f"remove the symbolic link under {root} or choose an empty --out folder",
        )
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise WriteError(
            f"{target} exists and is not a regular file; kube6 does not write through it",
            fix=f"remove {target} or choose an empty --out folder",
        )
    temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, artifact.mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            # O_CREAT applied the umask; set the exact mode. A secret file is never wider than
            # 0600 at any moment, since it was created with at most that.
            os.fchmod(handle.fileno(), artifact.mode)
            handle.write(artifact.content)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
