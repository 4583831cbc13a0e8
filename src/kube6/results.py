"""Finding: the one result type of planner rules, host checks and verification.

`kube6 plan`, `kube6 check` and `kube6 verify` judge different things (the address plan, a
host, a running cluster) but report alike: a stable name (what `--ignore` takes), a grade, a
message with the numbers, a fix, the evidence seen, and the node it concerns. One type gives one
JSON shape (`to_json`) and one set of constructors, so a reader or a script learns it once.
Every JSON document kube6 prints carries SCHEMA_VERSION (`document`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kube6.modes import Grade

SCHEMA_VERSION = 1
"""Version of the JSON documents (`-o json`); raised when a field changes meaning or goes."""

MAX_EVIDENCE = 20
"""Evidence lines kept per finding (a 5000-node cluster must not print 5000 lines per check)."""
SKIPPED = "skipped: "
"""A check that does not apply (its add-on is not in the plan) is OK with this message prefix."""


@dataclass(frozen=True)
class Finding:
    """One judgement: `name` is stable, `fix` is a command or an edit to make."""

    name: str
    grade: Grade
    message: str
    fix: str = ""
    evidence: str = ""
    """What was seen that led to this grade (addresses, values, output), one item a line."""
    node: str = ""
    """The node it concerns; empty for the cluster or the plan as a whole."""

    @property
    def status(self) -> Grade:
        """The grade (the name checks and verify have always used)."""
        return self.grade

    @property
    def failed(self) -> bool:
        return self.grade is Grade.FAIL

    @property
    def ok(self) -> bool:
        """Not failed (a warning is ok)."""
        return self.grade is not Grade.FAIL

    @property
    def skipped(self) -> bool:
        return self.grade is Grade.OK and self.message.startswith(SKIPPED)

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape of a result, in plan, check and verify documents alike."""
        return {
            "name": self.name,
            "status": str(self.grade),
            "message": self.message,
            "fix": self.fix,
            "evidence": self.evidence,
            "node": self.node,
        }

    def to_dict(self) -> dict[str, Any]:
        return self.to_json()

    def __str__(self) -> str:
        text = f"[{self.name}] {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix and self.grade is not Grade.OK else text


def listed(findings: Iterable[Finding]) -> str:
    """Findings as indented `[name] message` lines, each with its fix below (a refusal's text)."""
    return "\n".join(
        f"  [{f.name}] {f.message}" + (f"\n      fix: {f.fix}" if f.fix else "") for f in findings
    )


def evidence(lines: Iterable[str], limit: int = MAX_EVIDENCE) -> str:
    """At most `limit` lines, and a last line that says how many were left out."""
    items = list(lines)
    if len(items) > limit:
        items = [*items[:limit], f"... and {len(items) - limit} more"]
    return "\n".join(items)


def ok(name: str, message: str, seen: Iterable[str] | str = (), *, node: str = "") -> Finding:
    return Finding(name, Grade.OK, message, "", _seen(seen), node)


def warn(
    name: str, message: str, fix: str = "", seen: Iterable[str] | str = (), *, node: str = ""
) -> Finding:
    return Finding(name, Grade.WARN, message, fix, _seen(seen), node)


def fail(
    name: str, message: str, fix: str, seen: Iterable[str] | str = (), *, node: str = ""
) -> Finding:
    return Finding(name, Grade.FAIL, message, fix, _seen(seen), node)


def skipped(name: str, why: str, *, node: str = "") -> Finding:
    return Finding(name, Grade.OK, SKIPPED + why, node=node)


def _seen(seen: Iterable[str] | str) -> str:
    return seen if isinstance(seen, str) else evidence(seen)


def document(kind: str, findings: Iterable[Finding], **fields: Any) -> dict[str, Any]:
    """A JSON document of `kind` ("plan", "check", "verify"): schema_version, ok, results."""
    results = list(findings)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "ok": not any(r.failed for r in results),
        **fields,
        "results": [r.to_json() for r in results],
    }
