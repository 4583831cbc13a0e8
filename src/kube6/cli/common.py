"""Pieces that several commands share: finding the spec, the plan, and output formats."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kube6.cli.app import stderr

if TYPE_CHECKING:
    # Every command module imports this one; the spec and planner (pydantic) load only when a
    # command reads a spec, so that `kube6 --help` does not pay for them.
    from kube6.plan.model import Plan
    from kube6.spec import ClusterSpec

DEFAULT_SPEC = Path("kube6.yaml")

SpecOption = typer.Option(
    None,
    "--spec",
    "-f",
    help="The cluster spec. Default: ./kube6.yaml, or the built-in example when there is none.",
    show_default=False,
)


KnownHostsOption = typer.Option(
    None, "--known-hosts", help="SSH known_hosts file. Default: ~/.ssh/known_hosts."
)
IdentityOption = typer.Option(
    None,
    "--identity",
    "-i",
    help="SSH private key file to log in with (as ssh -i). Default: the agent and ~/.ssh keys.",
)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


def load_spec(path: Path | None) -> tuple[ClusterSpec, str]:
    """The spec from `path`, ./kube6.yaml, or the built-in example (said on stderr)."""
    from kube6 import spec as spec_module

    if path is not None:
        return spec_module.load(path), str(path)
    if DEFAULT_SPEC.exists():
        return spec_module.load(DEFAULT_SPEC), str(DEFAULT_SPEC)
    stderr.print(
        "note: no kube6.yaml here; using the built-in example "
        "(prefix 2001:db8:1234:5678::/64, node0001 at ::1). Run `kube6 init` to write your own."
    )
    return spec_module.example(), "built-in example"


def load_plan(path: Path | None) -> Plan:
    from kube6.plan import make_plan

    spec, source = load_spec(path)
    return make_plan(spec, source=source)
