"""Where commands write (`render -o DIR`, `schema -o FILE`, `init -o FILE`, `up --script-dir`).

A bad output path is a usage error (exit 2) that names the path and the reason, found before
anything is written: an existing file where a folder is wanted (or the reverse), a path under a
file, a place this user cannot write. Single files are written whole or not at all.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kube6.errors import UsageError


def _existing_ancestor(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path("/")


def _probe_writable(folder: Path, path: Path, flag: str) -> None:
    # os.access answers for the real uid and lies for root on read-only file systems: try it.
    probe = folder / f".kube6-probe-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {folder} is not writable ({exc.strerror or exc})",
            fix=f"choose a {flag} path in a folder you can write, e.g. {flag} ./{path.name}",
        ) from None
    os.close(fd)
    probe.unlink()


def _check_parents(path: Path, flag: str) -> Path:
    """The nearest existing ancestor of `path`'s folder, which must be a folder we can write."""
    ancestor = _existing_ancestor(path.parent if path.parent != path else path)
    if not ancestor.is_dir():
        raise UsageError(
            f"cannot write {path}: {ancestor} is a file, not a folder",
            fix=f"choose a {flag} path that is not under the file {ancestor}",
        )
    return ancestor


def check_folder(path: Path, flag: str) -> None:
    """`path` is, or can become, a folder this user writes into; else UsageError (exit 2)."""
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"cannot write into {path}: it is a file, not a folder",
            fix=f"give {flag} a folder (it is created if missing), e.g. {flag} ./{path.name}-out",
        )
    if path.is_dir():
        _probe_writable(path, path, flag)
        return
    ancestor = _check_parents(path, flag)
    _probe_writable(ancestor, path, flag)


def check_file(path: Path, flag: str) -> None:
    """`path` names a file this user can create or replace; else UsageError (exit 2)."""
    if path.is_dir():
        raise UsageError(
            f"cannot write {path}: it is a folder",
            fix=f"give {flag} a file name, e.g. {flag} {path / 'kube6.yaml'}",
        )
    ancestor = _check_parents(path, flag)
    _probe_writable(path.parent if path.parent.is_dir() else ancestor, path, flag)


def write_file(path: Path, text: str, flag: str, *, mode: int = 0o644) -> None:
    """Write `text` to `path` whole (a temporary file moved into place) or raise UsageError."""
    check_file(path, flag)
    if path.is_file():
        mode = path.stat().st_mode & 0o777  # an updated file keeps its mode
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {path}: {exc.strerror or exc}",
            fix=f"choose another {flag} path",
        ) from None
