"""preflight: `kube6 check` on each host before anything changes; a failure stops the host
unless its check is ignored by name (`--ignore NAME`, kubeadm's --ignore-preflight-errors).

The checks live in `kube6.checks` (their own issue): `run_checks(executor, plan, node)` returns
results with `name`, `status` (ok/warn/fail), `message` and `fix`. This step only reads.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from kube6.steps.base import HostContext, Step, StepPlan


@dataclass(frozen=True)
class Finding:
    name: str
    status: str
    message: str
    fix: str = ""


@dataclass(frozen=True)
class PreflightFacts:
    available: bool
    findings: tuple[Finding, ...] = ()


def _finding(result: Any) -> Finding:
    status = getattr(result, "status", getattr(result, "level", "fail"))
    return Finding(
        str(getattr(result, "name", "?")),
        str(getattr(status, "value", status)).lower(),
        str(getattr(result, "message", "")),
        str(getattr(result, "fix", "")),
    )


async def read_preflight(ctx: HostContext) -> PreflightFacts:
    try:
        checks = importlib.import_module("kube6.checks")
        run_checks = checks.run_checks
    except (ImportError, AttributeError):
        return PreflightFacts(False)
    results = run_checks(ctx.executor, ctx.plan, ctx.node)
    if inspect.isawaitable(results):
        results = await results
    return PreflightFacts(True, tuple(_finding(r) for r in results))


def fresh_preflight(ctx: HostContext) -> PreflightFacts:
    return PreflightFacts(False)


def plan_preflight(ctx: HostContext, facts: PreflightFacts) -> StepPlan:
    """Stop on a failed check not in `--ignore`; otherwise say how many passed."""
    if ctx.options.fresh:
        return StepPlan.nothing("not run: --fresh does not contact the hosts (run `kube6 check`)")
    if not facts.available:
        return StepPlan.nothing("kube6.checks is not in this build: run `kube6 check` by hand")
    failed = [f for f in facts.findings if f.status == "fail" and f.name not in ctx.options.ignore]
    ignored = [
        f.name for f in facts.findings if f.status == "fail" and f.name in ctx.options.ignore
    ]
    if failed:
        lines = "\n".join(
            f"  [{f.name}] {f.message}" + (f" fix: {f.fix}" if f.fix else "") for f in failed
        )
        return StepPlan.stop(
            f"{len(failed)} preflight check(s) failed on {ctx.node.name}:\n{lines}",
            fix="fix them, or pass --ignore NAME for a check you know does not matter here",
        )
    warned = sum(1 for f in facts.findings if f.status == "warn")
    note = f"; ignored: {', '.join(ignored)}" if ignored else ""
    return StepPlan.nothing(f"{len(facts.findings)} checks passed ({warned} warning(s)){note}")


STEP: Step[PreflightFacts] = Step(
    "preflight",
    "kube6 check on the host; a failed check stops it unless ignored by name.",
    plan_preflight,
    read_preflight,
    fresh_preflight,
)
