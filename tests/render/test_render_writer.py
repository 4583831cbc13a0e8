"""render.writer: modes set at creation, secrets left out unless asked, nothing outside out_dir."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kube6.components.registry import render_all
from kube6.plan.model import Plan
from kube6.render.base import PUBLIC_MODE, SECRET_MODE, Artifact
from kube6.render.writer import WriteError, write_artifacts


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_modes_are_exact_whatever_the_umask(
    tmp_path: Path, golden_plan: Callable[[str], Plan], umask: Callable[[int], None], mask: int
) -> None:
    artifacts = render_all(golden_plan("ha-3cp-5w"))
    umask(mask)
    result = write_artifacts(artifacts, tmp_path, include_secrets=True)
    assert result.skipped_secrets == ()
    assert sorted(result.written) == sorted(a.path for a in artifacts)
    secrets = [a for a in artifacts if a.mode == SECRET_MODE]
    assert any(a.path.endswith("join.yaml") for a in secrets)
    for artifact in artifacts:
        path = tmp_path / artifact.path
        assert path.read_text() == artifact.content
        assert _mode(path) == artifact.mode, f"{artifact.path}: {oct(_mode(path))}"
    for artifact in secrets:
        assert _mode(tmp_path / artifact.path) == SECRET_MODE


def test_secret_files_are_created_with_0600(
    tmp_path: Path, golden_plan: Callable[[str], Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mode is part of the open() that creates the file, not a chmod afterwards."""
    created: dict[str, int] = {}
    real_open = os.open

    def recording_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            created[Path(path).name] = mode
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    artifacts = render_all(golden_plan("ha-3cp-5w"))
    write_artifacts(artifacts, tmp_path, include_secrets=True)
    join_modes = {mode for name, mode in created.items() if ".join.yaml." in name}
    assert join_modes == {SECRET_MODE}


def test_secrets_are_skipped_unless_asked(
    tmp_path: Path, golden_plan: Callable[[str], Plan]
) -> None:
    rendered = render_all(golden_plan("ha-3cp-5w"))
    # As rendered, join files hold markers, not secrets; filled ones (what `up` puts on hosts,
    # or a future --include-secrets export) are secret.
    assert not any(a.secret for a in rendered)
    artifacts = [
        dataclasses.replace(a, secret=True) if a.path.endswith("join.yaml") else a for a in rendered
    ]
    result = write_artifacts(artifacts, tmp_path, include_secrets=False)
    secret_paths = sorted(a.path for a in artifacts if a.secret)
    assert secret_paths
    assert sorted(result.skipped_secrets) == secret_paths
    for path in secret_paths:
        assert not (tmp_path / path).exists()
    for path in result.written:
        assert (tmp_path / path).is_file()


def test_overwriting_replaces_a_wider_mode(tmp_path: Path) -> None:
    target = tmp_path / "nodes/n1/etc/kubernetes/kubeadm/join.yaml"
    target.parent.mkdir(parents=True)
    target.write_text("old")
    target.chmod(0o666)
    artifact = Artifact("nodes/n1/etc/kubernetes/kubeadm/join.yaml", "new\n", SECRET_MODE)
    write_artifacts([artifact], tmp_path, include_secrets=True)
    assert target.read_text() == "new\n"
    assert _mode(target) == SECRET_MODE
    assert [p.name for p in target.parent.iterdir()] == ["join.yaml"]  # no temporary left


@pytest.mark.parametrize(
    "path",
    ["../escape.yaml", "nodes/../../escape.yaml", "/etc/passwd", "elsewhere/x.yaml", "nodes//x"],
)
def test_paths_outside_the_folder_are_refused(tmp_path: Path, path: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(WriteError, match="artifact paths are relative"):
        write_artifacts([Artifact(path, "x\n")], out, include_secrets=True)
    assert not (tmp_path / "escape.yaml").exists()


def test_symlinks_inside_the_folder_are_not_followed_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    out.mkdir()
    (out / "nodes").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WriteError, match="outside"):
        write_artifacts([Artifact("nodes/n1/x.conf", "x\n")], out, include_secrets=True)
    assert list(outside.rglob("*.conf")) == []


def test_an_existing_symlink_file_is_not_written_through(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "cluster").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (out / "cluster" / "x.yaml").symlink_to(victim)
    with pytest.raises(WriteError, match="not a regular file"):
        write_artifacts([Artifact("cluster/x.yaml", "x\n")], out, include_secrets=True)
    assert victim.read_text() == "keep"


def test_public_files_default_to_0644(tmp_path: Path, umask: Callable[[int], None]) -> None:
    umask(0o077)
    write_artifacts([Artifact("cluster/a.yaml", "a: b\n")], tmp_path, include_secrets=False)
    assert _mode(tmp_path / "cluster/a.yaml") == PUBLIC_MODE
