"""Verification results: the preflight checks' `CheckResult`, and helpers to build them.

`kube6 check` and `kube6 verify` share one result type (name, status, message, fix, evidence),
so both print and serialise alike. Evidence here is the observed values, one per line, capped
so that a 5000-node cluster does not print 5000 lines per check. A check that does not apply
(its add-on is not in the plan, its target was not given) is OK with a message that starts
with "skipped: ".
"""

from __future__ import annotations

from collections.abc import Iterable

from kube6.checks.model import CheckResult, Status

__all__ = [
    "MAX_EVIDENCE",
    "SKIPPED",
    "CheckResult",
    "Status",
    "all_ok",
    "evidence",
    "evidence_lines",
    "failed",
    "is_skipped",
    "passed",
    "skipped",
    "warned",
]

MAX_EVIDENCE = 20
"""Evidence lines kept per result."""
SKIPPED = "skipped: "


def evidence(lines: Iterable[str], limit: int = MAX_EVIDENCE) -> str:
    """At most `limit` lines, and a last line that says how many were left out."""
    items = list(lines)
    if len(items) > limit:
        items = [*items[:limit], f"... and {len(items) - limit} more"]
    return "\n".join(items)


def evidence_lines(result: CheckResult) -> list[str]:
    return result.evidence.splitlines()


def passed(name: str, message: str, seen: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, Status.OK, message, evidence=evidence(seen))


def warned(name: str, message: str, fix: str, seen: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, Status.WARN, message, fix, evidence(seen))


def failed(name: str, message: str, fix: str, seen: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, Status.FAIL, message, fix, evidence(seen))


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, Status.OK, SKIPPED + why)


def is_skipped(result: CheckResult) -> bool:
    return result.status is Status.OK and result.message.startswith(SKIPPED)


def all_ok(results: Iterable[CheckResult]) -> bool:
    return not any(r.failed for r in results)
