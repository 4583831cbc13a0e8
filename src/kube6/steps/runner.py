"""The runner: steps in order, hosts in parallel, facts re-read before every step.

    report = await run_steps(UP_STEPS, contexts, only=("host",), on_result=print)

For each step the runner picks its hosts (every node, the first control plane, ...), reads the
facts on each, plans, and executes the actions (or, in a dry run, only records them). A failure
stops that host; hosts that do not depend on it go on, and steps that need the cluster are
blocked when the first control plane failed.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kube6.errors import CommandError, Kube6Error, UsageError
from kube6.render.base import PLACEHOLDERS, fill_placeholders
from kube6.steps.base import (
    Exec,
    HostContext,
    Leaf,
    PutFile,
    Step,
    StepPlan,
    all_names,
    leaves,
)


class Status(StrEnum):
    OK = "ok"
    """Converged already: nothing to do (the reason says why)."""
    CHANGED = "changed"
    PLANNED = "planned"
    """Dry run: these actions would run."""
    FAILED = "failed"
    BLOCKED = "blocked"
    """Not run: a step it depends on failed on another host."""


@dataclass(frozen=True)
class StepResult:
    host: str
    step: str
    status: Status
    seconds: float
    detail: str = ""
    """The no-op reason, the failure (masked), or why the step was blocked."""
    actions: tuple[Exec | PutFile, ...] = ()
    notes: tuple[str, ...] = ()
    script: tuple[str, ...] = ()
    """StepPlan.script: by-hand lines for the dry-run script."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "host": self.host,
            "step": self.step,
            "status": str(self.status),
            "seconds": round(self.seconds, 3),
        }
        if self.detail:
            data["detail"] = self.detail
        if self.actions:
            data["actions"] = [a.display for a in self.actions]
        return data


@dataclass
class Report:
    """Every host × step result of one run, in the order they finished per step."""

    results: list[StepResult] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not any(r.status in (Status.FAILED, Status.BLOCKED) for r in self.results)

    @property
    def changed(self) -> bool:
        return any(r.status is Status.CHANGED for r in self.results)

    def for_host(self, host: str) -> list[StepResult]:
        return [r for r in self.results if r.host == host]

    def hosts(self) -> list[str]:
        return list(dict.fromkeys(r.host for r in self.results))

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "ok": self.ok,
            "changed": self.changed,
            "hosts": {h: [r.to_json() for r in self.for_host(h)] for h in self.hosts()},
        }


def select(
    steps: tuple[Step[Any], ...], only: Iterable[str] = (), skip: Iterable[str] = ()
) -> list[Leaf]:
    """The leaves to run: all, or those under an `only` name, minus those under a `skip` name.

    A name selects itself and its children (`host` selects `host/sysctl`...). Unknown names are
    refused with the list of valid ones; skip wins over only (kubeadm's precedence).
    """
    known = all_names(steps)
    only, skip = list(only), list(skip)
    bad = [n for n in [*only, *skip] if n not in known]
    if bad:
        raise UsageError(
            f"unknown step name(s): {', '.join(repr(b) for b in bad)}",
            fix="use one of: " + ", ".join(known),
        )

    def under(name: str, chosen: list[str]) -> bool:
        return any(name == c or name.startswith(f"{c}/") for c in chosen)

    return [
        leaf
        for leaf in leaves(steps)
        if (not only or under(leaf.name, only)) and not under(leaf.name, skip)
    ]


OnResult = Callable[[StepResult], None]


async def run_steps(
    steps: tuple[Step[Any], ...],
    contexts: Mapping[str, HostContext],
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    on_result: OnResult | None = None,
) -> Report:
    """Run the selected steps on the hosts in `contexts` (node name -> context).

    Raises UsageError for unknown step names before anything runs. Never raises for a host's
    failure: it is a FAILED result, and that host runs no further step.
    """
    chosen = select(steps, only, skip)
    if not contexts:
        raise UsageError("no hosts to run on", fix="check the node names given with --node")
    any_ctx = next(iter(contexts.values()))
    plan, state = any_ctx.plan, any_ctx.state
    report = Report(dry_run=state.options.dry_run)
    failed: set[str] = set()
    first_cp = plan.first_control_plane.name

    def emit(result: StepResult) -> None:
        report.results.append(result)
        if result.status is Status.FAILED:
            failed.add(result.host)
        if on_result is not None:
            on_result(result)

    for leaf in chosen:
        hosts = [h for h in leaf.step.targets.nodes(plan) if h in contexts and h not in failed]
        if not hosts:
            continue
        if leaf.step.needs_cluster and first_cp in failed:
            for host in hosts:
                emit(
                    StepResult(
                        host,
                        leaf.name,
                        Status.BLOCKED,
                        0.0,
                        f"the cluster is not there: a step failed on {first_cp}",
                    )
                )
            continue
        if leaf.step.serial:
            for host in hosts:
                emit(await run_leaf(leaf, contexts[host]))
        else:
            for result in await asyncio.gather(*(run_leaf(leaf, contexts[h]) for h in hosts)):
                emit(result)
    return report


async def _facts(leaf: Leaf, ctx: HostContext) -> Any:
    step = leaf.step
    if ctx.options.fresh:
        return step.fresh(ctx) if step.fresh is not None else None
    return await step.read(ctx) if step.read is not None else None


def _plan(leaf: Leaf, ctx: HostContext, facts: Any) -> StepPlan:
    assert leaf.step.plan is not None  # leaves always have one (Step.__post_init__)
    return leaf.step.plan(ctx, facts)


async def run_leaf(leaf: Leaf, ctx: HostContext) -> StepResult:
    """Read, plan and (unless dry run) apply one step on one host; never raises."""
    host, state = ctx.node.name, ctx.state
    start = time.monotonic()

    def result(
        status: Status, detail: str = "", actions: tuple[Exec | PutFile, ...] = ()
    ) -> StepResult:
        return StepResult(
            host, leaf.name, status, time.monotonic() - start, state.mask(detail), actions
        )

    try:
        step_plan = _plan(leaf, ctx, await _facts(leaf, ctx))
        if step_plan.refuse is not None:
            fix = f"\n  fix: {step_plan.fix}" if step_plan.fix else ""
            return result(Status.FAILED, step_plan.refuse + fix)
        if step_plan.noop is not None:
            return result(Status.OK, step_plan.noop)
        _learn(state, step_plan.values, dry_run=ctx.dry_run)
        if ctx.dry_run:
            for action in step_plan.actions:
                if isinstance(action, Exec) and action.capture:
                    state.values.setdefault(action.capture, action.capture)
            planned = result(Status.PLANNED, "", step_plan.actions)
            return replace(planned, notes=step_plan.notes, script=step_plan.script)
        for action in step_plan.actions:
            await _apply(action, ctx)
        if leaf.step.verify and ctx.options.verify:
            again = _plan(leaf, ctx, await _facts(leaf, ctx))
            if again.noop is None:
                left = "; ".join(a.display for a in again.actions) or str(again.refuse)
                return result(
                    Status.FAILED,
                    f"step ran but the host did not converge; it still needs: {left}",
                    step_plan.actions,
                )
        return result(Status.CHANGED, "", step_plan.actions)
    except Kube6Error as exc:  # a CommandError too: its message has the command and output
        return result(Status.FAILED, str(exc))
    except Exception as exc:  # a host's failure is a result, never a crash of the whole run
        return result(Status.FAILED, f"{type(exc).__name__}: {exc}")


def _learn(state: Any, values: Mapping[str, str], *, dry_run: bool) -> None:
    for marker, value in values.items():
        if value != marker:
            state.values[marker] = value
        elif dry_run:
            state.values.setdefault(marker, marker)


EXPLAINED = 4000
"""Characters of an `explain` command's output kept in the error (its end)."""


async def _apply(action: Exec | PutFile, ctx: HostContext) -> None:
    state = ctx.state
    if isinstance(action, PutFile):
        path = action.path
        content = action.content
        if action.filled:
            # Values captured earlier in this same step (init's token) exist only now.
            markers = [m for m in PLACEHOLDERS if m in content]
            if markers:
                content = fill_placeholders(content, {m: ctx.value(m) for m in markers})
        # mkdir -p leaves existing folders' modes alone (install -d would reset them).
        await ctx.executor.run(("mkdir", "-p", path.rsplit("/", 1)[0] or "/"))
        await ctx.executor.put(path, content, action.mode)
        return
    try:
        done = await ctx.executor.run(action.command)
    except CommandError as exc:
        seen = state.mask(await _explain(action, ctx))
        if action.secret_output:
            exc = CommandError(
                host=exc.host,
                command=exc.command,
                exit_code=exc.exit_code,
                stdout="(not shown: it may hold secrets)",
                stderr=state.mask(exc.stderr),
                seen=seen,
            )
        else:
            exc = CommandError(
                host=exc.host,
                command=state.mask(exc.command),
                exit_code=exc.exit_code,
                stdout=state.mask(exc.stdout),
                stderr=state.mask(exc.stderr),
                seen=seen,
            )
        raise exc from None
    if action.capture:
        value = action.parse(done.stdout) if action.parse else done.stdout.strip()
        state.values[action.capture] = value
        if action.secret_output:
            state.secrets.add(value)


async def _explain(action: Exec, ctx: HostContext) -> str:
    """The output of the action's `explain` commands, each under its command line; a command
    that fails there says so and is not an error of its own (the host may be the trouble)."""
    parts = []
    for command in action.explain:
        try:
            done = await ctx.executor.run(command, check=False)
        except Kube6Error as exc:
            parts.append(f"$ {command.display}\n(could not run: {exc.message.splitlines()[0]})")
            continue
        output = (done.stdout.strip() or done.stderr.strip() or "(no output)")[-EXPLAINED:]
        parts.append(f"$ {command.display}\n" + textwrap.indent(output, "  "))
    return "\n".join(parts)
