"""`kube6 render`: every file that kube6 would install, written into a folder for review."""

from __future__ import annotations

from pathlib import Path

import typer

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import SpecOption, load_plan
from kube6.errors import UsageError

MANIFEST = ".kube6-rendered"
"""Lists the files of the previous render, so that a re-render removes the ones that went away."""


@app.command()
def render(
    out: Path = typer.Option(
        Path("rendered"),
        "--output",
        "-o",
        "--out",
        help="Folder to write into (created if missing).",
    ),
    spec_path: Path | None = SpecOption,
    include_secrets: bool = typer.Option(
        False,
        "--include-secrets",
        help="Also write files that hold secrets (mode 0600). Off by default: keep them out of "
        "review folders and Git.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty folder that kube6 did not render."
    ),
) -> None:
    """Write every file kube6 would install into OUT, for review or GitOps.

    OUT/cluster/ holds cluster-wide manifests and Helm values; OUT/nodes/<node>/ mirrors each
    node's file system (OUT/nodes/node0001/etc/containerd/config.toml goes to
    /etc/containerd/config.toml on node0001). The same spec always gives byte-identical files.
    """
    # Imported here, as in every command: `kube6 --help` loads no command's machinery.
    from kube6.cli.outputs import check_folder
    from kube6.components.registry import render_all
    from kube6.render.writer import write_artifacts

    plan = load_plan(spec_path)
    artifacts = render_all(plan)
    check_folder(out, "--output")
    manifest = out / MANIFEST
    if out.exists() and any(out.iterdir()) and not manifest.exists() and not force:
        raise UsageError(
            f"{out} is not empty and was not written by `kube6 render`",
            fix=f"choose another --output folder, or pass --force to write into {out} anyway",
        )
    previous = set(manifest.read_text().split()) if manifest.exists() else set()
    result = write_artifacts(artifacts, out, include_secrets=include_secrets)
    for stale in sorted(previous - set(result.written)):
        stale_path = out / stale
        if stale_path.is_file() and not stale_path.is_symlink():
            stale_path.unlink()
    manifest.write_text("".join(f"{path}\n" for path in result.written), encoding="utf-8")
    for path in result.written:
        stdout.print(str(out / path))
    stderr.print(
        f"wrote {len(result.written)} file(s) into {out} from plan {plan.digest} ({plan.source})"
    )
    if result.skipped_secrets:
        stderr.print(
            f"left out {len(result.skipped_secrets)} file(s) that hold secrets "
            f"(--include-secrets writes them with mode 0600): " + ", ".join(result.skipped_secrets)
        )
