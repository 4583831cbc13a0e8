"""Verification results are `kube6.results.Finding`, built by its constructors.

`kube6 check` and `kube6 verify` (and the planner's rules) share one result type (name, status,
message, fix, evidence, node), so all print and serialise alike. Evidence here is the observed
values, one per line, capped so that a 5000-node cluster does not print 5000 lines per check.
A check that does not apply (its add-on is not in the plan, its target was not given) is OK
with a message that starts with "skipped: ".
"""

from __future__ import annotations

from collections.abc import Iterable

from kube6 import results
from kube6.modes import Grade as Status
from kube6.results import MAX_EVIDENCE, SKIPPED, Finding, evidence, skipped
from kube6.results import Finding as CheckResult

__all__ = [
    "MAX_EVIDENCE",
    "SKIPPED",
    "CheckResult",
    "Finding",
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

# The constructors of kube6.results under the names verify's checks read best with.
passed = results.ok
warned = results.warn
failed = results.fail


def evidence_lines(result: Finding) -> list[str]:
    return result.evidence.splitlines()


def is_skipped(result: Finding) -> bool:
    return result.skipped


def all_ok(found: Iterable[Finding]) -> bool:
    return not any(r.failed for r in found)
