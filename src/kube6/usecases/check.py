"""`kube6 check`: read every chosen node (read-only) and judge it against the plan."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kube6.usecases.nodes import SshOptions, executors_for, select_nodes

if TYPE_CHECKING:
    from kube6.checks.artifacts import ArtifactVerdict
    from kube6.checks.model import CheckResult
    from kube6.execute.base import Executor
    from kube6.plan.model import Plan


@dataclass(frozen=True)
class CheckRequest:
    nodes: Sequence[str] = ()
    """Check only these nodes; every node when empty."""
    ignore: Sequence[str] = ()
    """Checks whose failure becomes a warning."""
    local: bool = False
    """Run on this machine even for nodes that have an ssh target."""
    ssh: SshOptions = field(default_factory=SshOptions)
    connect: bool = True
    """Try a TCP connection to each download host."""


@dataclass(frozen=True)
class CheckReport:
    results: list[CheckResult]
    """Every check on every chosen node, and those of this machine (no node: the BGP
    password file's mode)."""
    artifacts: list[ArtifactVerdict]
    """Every artifact of the plan judged on every node that could be read."""


def check(
    plan: Plan, request: CheckRequest, *, executors: Mapping[str, Executor] | None = None
) -> CheckReport:
    """Every check on every chosen node, failed or not (the caller decides what a failure
    means), and the artifact audit from the same lookups. `executors` (node name -> executor)
    stand in for the chosen nodes' own."""
    from kube6.checks import run_checks, validate_ignore
    from kube6.checks.artifacts import audit_artifacts, lookup_hosts
    from kube6.checks.runner import gather_facts
    from kube6.components.calico.bgp_password import file_access, password_of
    from kube6.components.registry import artifact_hosts, artifacts

    ignored = validate_ignore(request.ignore)  # refuse a bad --ignore before contacting anything
    password = password_of(plan)  # and an unreadable password file
    names = select_nodes(plan, request.nodes)
    if executors is None:
        executors = executors_for(plan, names, request.ssh, local=request.local)
    hosts = artifact_hosts(plan)
    listed = artifacts(plan)
    lookups = [*hosts, *lookup_hosts(listed)]
    facts = asyncio.run(
        gather_facts(plan, executors, lookups, connect=request.connect, bgp_password=password)
    )
    # What concerns this machine, not a node: the password file's mode.
    found = file_access(plan)
    here = [found] if found is not None else []
    return CheckReport(
        [*here, *run_checks(plan, facts, ignored, hosts=hosts)],
        audit_artifacts(plan, facts, listed),
    )
