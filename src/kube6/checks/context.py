"""What every host check reads (Context), and the constructors of what it finds.

A check is a pure function of the Context that returns its findings without a name: the table
(kube6.checks.host.CHECKS) gives each check its name, written once, and `run_checks` stamps it
on the findings. Each finding says what the check saw (evidence) and how to fix it; a fact that
could not be read gives a warning that says why (`unknown`), never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kube6 import results
from kube6.checks.model import ArtifactHost, CheckResult
from kube6.facts import HostFacts
from kube6.plan.model import Plan, PlannedNode


@dataclass(frozen=True)
class Context:
    """What every check reads."""

    plan: Plan
    node: PlannedNode
    facts: HostFacts
    artifact_hosts: tuple[ArtifactHost, ...]


Check = Callable[[Context], Sequence[CheckResult]]


def ok(message: str, seen: Iterable[str] | str = ()) -> CheckResult:
    return results.ok("", message, seen)


def warn(message: str, fix: str = "", seen: Iterable[str] | str = ()) -> CheckResult:
    return results.warn("", message, fix, seen)


def fail(message: str, fix: str, seen: Iterable[str] | str = ()) -> CheckResult:
    return results.fail("", message, fix, seen)


def unknown(facts: HostFacts, fact: str) -> CheckResult:
    """The warning of a check whose `fact` could not be read, with the reason."""
    return warn(
        f"could not check: {fact} could not be read ({facts.why_unknown(fact)})",
        "run the probe by hand on the host (kube6 --debug check shows the commands)",
    )
