"""Preflight checks of each host against the plan: run all of them, then fail once.

results = run_checks(plan, {"node0001": facts}, ignore={"swap"})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from kube6.checks import bgp, link
from kube6.checks.context import Check, Context
from kube6.checks.host import CHECKS as HOST_CHECKS
from kube6.checks.model import ArtifactHost, CheckResult, Status
from kube6.errors import Kube6Error, UsageError
from kube6.execute import PrivilegeError
from kube6.facts import HostFacts
from kube6.plan.model import Plan

HOST_REACHABLE = "host-reachable"
CHECKS: tuple[tuple[str, Check, str], ...] = (*HOST_CHECKS, *link.CHECKS, *bgp.CHECKS)
"""Every host check: name (for --ignore), the pure function, what it checks."""
CHECK_NAMES: tuple[str, ...] = (HOST_REACHABLE, *(name for name, _, _ in CHECKS))
PRIVILEGES = "privileges"
"""Reported only when the SSH user may not become root with `sudo -n`: then nothing else could
be checked and no step could run, so it is not a name that --ignore takes."""

__all__ = [
    "CHECK_NAMES",
    "ArtifactHost",
    "CheckResult",
    "Status",
    "failed",
    "run_checks",
    "validate_ignore",
]


def validate_ignore(names: Iterable[str]) -> frozenset[str]:
    """The --ignore names, or UsageError naming the unknown ones and listing the valid ones."""
    chosen = frozenset(names)
    bad = sorted(chosen - set(CHECK_NAMES))
    if bad:
        raise UsageError(
            f"no check named {', '.join(repr(b) for b in bad)}",
            fix="--ignore takes one of: " + ", ".join(CHECK_NAMES),
        )
    return chosen


def run_checks(
    plan: Plan,
    facts_by_node: Mapping[str, HostFacts | BaseException],
    ignore: Iterable[str] = (),
    *,
    hosts: Sequence[ArtifactHost],
) -> list[CheckResult]:
    """Every check on every node of `facts_by_node`, in plan order, nothing skipped.

    A node whose facts are an exception gets one failure: `privileges` when sudo refused,
    `host-reachable` otherwise. `ignore` downgrades failures of those checks to warnings.
    `hosts` are the artifact hosts to judge (kube6.components.registry.artifact_hosts of the
    plan; the lab points it at its own names).
    """
    ignored = validate_ignore(ignore)
    wanted = tuple(hosts)
    results: list[CheckResult] = []
    for node in plan.nodes:
        if node.name not in facts_by_node:
            continue
        facts = facts_by_node[node.name]
        if isinstance(facts, BaseException):
            found = [_unreachable(facts)]
        else:
            ctx = Context(plan, node, facts, wanted)
            # A check names its findings by its entry in the table (its name written once);
            # one that names them itself keeps its names.
            found = [
                replace(result, name=result.name or name)
                for name, check, _ in CHECKS
                for result in check(ctx)
            ]
        results += [_ignore(replace(r, node=node.name), ignored) for r in found]
    return results


def _ignore(result: CheckResult, ignored: frozenset[str]) -> CheckResult:
    if result.status is Status.FAIL and result.name in ignored:
        return replace(result, grade=Status.WARN, message=f"{result.message} [--ignore]")
    return result


def _unreachable(error: BaseException) -> CheckResult:
    if isinstance(error, PrivilegeError):
        return CheckResult(PRIVILEGES, Status.FAIL, error.message, error.fix)
    if isinstance(error, Kube6Error):
        return CheckResult(HOST_REACHABLE, Status.FAIL, error.message, error.fix)
    return CheckResult(
        HOST_REACHABLE,
        Status.FAIL,
        f"{type(error).__name__}: {error}",
        "run again with --debug and report the traceback",
    )


def failed(results: Iterable[CheckResult]) -> bool:
    return any(r.failed for r in results)
