"""Choosing nodes and reaching them: shared by `check`, `up` and `reset`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kube6.errors import UsageError

if TYPE_CHECKING:
    from kube6.execute.base import Executor
    from kube6.plan.model import Plan


@dataclass(frozen=True)
class SshOptions:
    """--known-hosts and --identity."""

    known_hosts: Path | None = None
    identity: Path | None = None


def select_nodes(plan: Plan, names: Sequence[str]) -> list[str]:
    """The named nodes (every node when none is named), in plan order; UsageError for a name
    the plan does not have."""
    known = [n.name for n in plan.nodes]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"no node named {', '.join(repr(n) for n in unknown)} in the plan",
            fix="use one of: " + ", ".join(known),
        )
    return [n for n in known if not names or n in names]


def refuse_several_local(plan: Plan, names: Sequence[str]) -> None:
    """Changing hosts: at most one node may be this machine (no ssh target)."""
    local = [n for n in names if not plan.node(n).ssh]
    if len(local) > 1:
        raise UsageError(
            f"nodes {', '.join(local)} have no ssh target, so each would be this machine",
            fix="give every node but (at most) this one an `ssh:` target in kube6.yaml, "
            "or run with --node for the one node that is this machine",
        )


def executors_for(
    plan: Plan, names: Sequence[str], ssh: SshOptions, *, local: bool = False
) -> dict[str, Executor]:
    """An executor per node: SSH to its target, or this machine (every node with `local`)."""
    from kube6.execute import executor_for

    known = str(ssh.known_hosts) if ssh.known_hosts is not None else None
    key = str(ssh.identity) if ssh.identity is not None else None
    return {
        n: executor_for(
            None if local else plan.node(n).ssh, host=n, known_hosts=known, identity=key
        )
        for n in names
    }
