"""CheckResult: one finding about one node, with the evidence and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.modes import Grade

Status = Grade


@dataclass(frozen=True)
class CheckResult:
    """`name` is stable (it is what --ignore takes); `fix` is a command or an edit to make."""

    name: str
    status: Status
    message: str
    fix: str = ""
    evidence: str = ""
    """What was seen on the host that led to this result (addresses, values, output)."""
    node: str = ""

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "name": self.name,
            "status": str(self.status),
            "message": self.message,
            "fix": self.fix,
            "evidence": self.evidence,
        }


def ok(name: str, message: str, evidence: str = "") -> CheckResult:
    return CheckResult(name, Status.OK, message, evidence=evidence)


def warn(name: str, message: str, fix: str = "", evidence: str = "") -> CheckResult:
    return CheckResult(name, Status.WARN, message, fix, evidence)


def fail(name: str, message: str, fix: str, evidence: str = "") -> CheckResult:
    return CheckResult(name, Status.FAIL, message, fix, evidence)
