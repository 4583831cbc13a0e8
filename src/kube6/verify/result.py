"""The outcome of one verification: a stable name, a status, what was seen and how to fix it.

Same shape as the preflight checks' `CheckResult(name, status, message, fix, evidence)`, so
that `check` and `verify` print and serialise alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_EVIDENCE = 20
"""Evidence lines kept per result; a 5000-node cluster must not print 5000 lines per check."""


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a status, not a password)
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    """One named result. `evidence` holds the observed values that led to it."""

    name: str
    status: Status
    message: str
    fix: str = ""
    evidence: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAIL

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`--output json`)."""
        return {
            "name": self.name,
            "status": str(self.status),
            "ok": self.ok,
            "message": self.message,
            "fix": self.fix,
            "evidence": list(self.evidence),
        }


def evidence(lines: Iterable[str], limit: int = MAX_EVIDENCE) -> tuple[str, ...]:
    """At most `limit` lines, and a last line that says how many were left out."""
    items = list(lines)
    if len(items) <= limit:
        return tuple(items)
    return (*items[:limit], f"... and {len(items) - limit} more")


def passed(name: str, message: str, seen: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, Status.PASS, message, evidence=evidence(seen))


def failed(name: str, message: str, fix: str, seen: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, Status.FAIL, message, fix, evidence(seen))


def skipped(name: str, message: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, message)


def all_ok(results: Iterable[CheckResult]) -> bool:
    return all(r.ok for r in results)
