"""The runner: order, --only/--skip, failures stop one host only, dry runs change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from kube6.components.registry import make_contexts
from kube6.errors import UsageError
from kube6.execute import RecordingExecutor
from kube6.execute.command import Result
from kube6.plan.model import Plan
from kube6.steps import (
    HostContext,
    RunOptions,
    Status,
    Step,
    StepPlan,
    Targets,
    run_steps,
    select,
)
from kube6.steps.base import PutFile, run

from .conftest import arun

calls: list[tuple[str, str]] = []


def recording_step(
    name: str, *, fail_on: str = "", targets: Targets = Targets.EACH, **kw: Any
) -> Step[Any]:
    """A step whose facts are 'has the marker file' and whose action writes it."""
    marker = f"/tmp/kube6-test/{name}"

    async def read(ctx: HostContext) -> bool:
        calls.append((ctx.node.name, f"read {name}"))
        return await ctx.executor.get(marker) is not None

    def plan(ctx: HostContext, done: bool) -> StepPlan:
        if done:
            return StepPlan.nothing(f"{name} done")
        argv = ("false",) if ctx.node.name == fail_on else ("true", name)
        return StepPlan.do(run(*argv), PutFile(marker, "x"))

    return Step(name, f"test step {name}", plan, read, lambda ctx: False, targets=targets, **kw)


def executors(plan: Plan) -> dict[str, RecordingExecutor]:
    out = {}
    for node in plan.nodes:
        # mkdir -p before every file put succeeds; anything else must be scripted below.
        ex = RecordingExecutor(host=node.name, default=Result(0, "", ""))
        ex.reply(("false",), exit_code=1, stderr="boom")
        ex.replies[("true",)] = Result(0, "", "")
        out[node.name] = ex
    for ex in out.values():
        for name in ("a", "b", "c", "cluster"):
            ex.reply(("true", name))
    return out


STEPS: tuple[Step[Any], ...] = (
    recording_step("a"),
    Step("group", "a group", children=(recording_step("b"), recording_step("c"))),
    recording_step("cluster", targets=Targets.FIRST_CONTROL_PLANE, needs_cluster=True),
)


def test_select_only_skip_and_unknown_names() -> None:
    assert [leaf.name for leaf in select(STEPS)] == ["a", "group/b", "group/c", "cluster"]
    assert [leaf.name for leaf in select(STEPS, only=["group"])] == ["group/b", "group/c"]
    assert [leaf.name for leaf in select(STEPS, only=["group"], skip=["group/c"])] == ["group/b"]
    with pytest.raises(UsageError) as err:
        select(STEPS, skip=["group/x"])
    assert "'group/x'" in str(err.value)
    assert "group/b" in str(err.value.fix)


def test_steps_run_in_order_and_second_run_is_all_ok(ha_plan: Plan) -> None:
    exs = executors(ha_plan)
    contexts = make_contexts(ha_plan, exs, RunOptions(), artifacts=[])
    first = arun(run_steps(STEPS, contexts))
    assert first.ok
    assert [r.step for r in first.for_host("w1")] == ["a", "group/b", "group/c"]
    assert [r.step for r in first.for_host("cp1")] == ["a", "group/b", "group/c", "cluster"]
    assert {r.status for r in first.results} == {Status.CHANGED}
    # facts are re-read before each step on each host, and once more to verify it converged
    assert [c for c in exs["w1"].argvs if c[0] == "kube6-get"][:2] == [
        ("kube6-get", "/tmp/kube6-test/a"),
        ("kube6-get", "/tmp/kube6-test/a"),
    ]
    second = arun(run_steps(STEPS, make_contexts(ha_plan, exs, RunOptions(), artifacts=[])))
    assert {r.status for r in second.results} == {Status.OK}
    assert not second.changed


def test_failure_stops_that_host_only(ha_plan: Plan) -> None:
    steps: tuple[Step[Any], ...] = (
        recording_step("a", fail_on="w1"),
        Step("group", "g", children=(recording_step("b"),)),
    )
    exs = executors(ha_plan)
    report = arun(run_steps(steps, make_contexts(ha_plan, exs, RunOptions(), artifacts=[])))
    assert not report.ok
    w1 = report.for_host("w1")
    assert [(r.step, r.status) for r in w1] == [("a", Status.FAILED)]
    assert "exit code: 1" in w1[0].detail
    assert "boom" in w1[0].detail
    assert [(r.step, r.status) for r in report.for_host("w2")] == [
        ("a", Status.CHANGED),
        ("group/b", Status.CHANGED),
    ]


def test_cluster_steps_blocked_when_first_control_plane_failed(ha_plan: Plan) -> None:
    steps = (
        recording_step("a", fail_on="cp1"),
        recording_step("cluster", targets=Targets.FIRST_CONTROL_PLANE, needs_cluster=True),
        recording_step("j", targets=Targets.WORKERS_ONLY, needs_cluster=True),
    )
    exs = executors(ha_plan)
    for ex in exs.values():
        ex.reply(("true", "j"))
    report = arun(run_steps(steps, make_contexts(ha_plan, exs, RunOptions(), artifacts=[])))
    statuses = {(r.host, r.step): r.status for r in report.results}
    assert statuses[("cp1", "a")] is Status.FAILED
    assert ("cp1", "cluster") not in statuses  # the failed host runs nothing more
    assert statuses[("w1", "j")] is Status.BLOCKED
    assert statuses[("w2", "j")] is Status.BLOCKED


def test_dry_run_runs_no_action(ha_plan: Plan) -> None:
    exs = executors(ha_plan)
    report = arun(
        run_steps(STEPS, make_contexts(ha_plan, exs, RunOptions(dry_run=True), artifacts=[]))
    )
    assert {r.status for r in report.results} == {Status.PLANNED}
    for ex in exs.values():
        assert all(argv[0] == "kube6-get" for argv in ex.argvs), ex.argvs
        assert ex.files == {}
    planned = report.for_host("cp1")[0]
    assert [a.display for a in planned.actions] == [
        "true a",
        "write /tmp/kube6-test/a (mode 0644, 1 bytes)",
    ]


def test_step_that_does_not_converge_fails(ha_plan: Plan) -> None:
    async def read(ctx: HostContext) -> bool:
        return False

    def plan(ctx: HostContext, facts: bool) -> StepPlan:
        return StepPlan.do(run("true", "a"))

    steps = (Step("stuck", "never converges", plan, read),)
    report = arun(
        run_steps(
            steps,
            make_contexts(ha_plan, executors(ha_plan), RunOptions(), artifacts=[]),
            only=["stuck"],
        )
    )
    assert all(r.status is Status.FAILED for r in report.results)
    assert "did not converge" in report.results[0].detail
    assert "true a" in report.results[0].detail


def test_a_failed_command_carries_what_its_explain_commands_saw(ha_plan: Plan) -> None:
    from kube6.execute import Command
    from kube6.steps.base import Exec

    explained = Exec(
        Command(("kubectl", "wait", "pods")),
        explain=(Command(("kubectl", "get", "nodes")), Command(("kubectl", "get", "pods"))),
    )

    def plan(ctx: HostContext, facts: bool) -> StepPlan:
        return StepPlan.do(explained)

    step = Step("wait", "a wait that times out", plan, lambda ctx: _false(), lambda ctx: False)
    exs = executors(ha_plan)
    for ex in exs.values():
        ex.reply(("kubectl", "wait", "pods"), exit_code=1, stderr="timed out waiting")
        ex.reply(("kubectl", "get", "nodes"), stdout="cp1: DiskPressure Ready; taints: x\n")
        ex.reply(("kubectl", "get", "pods"), exit_code=1, stderr="connection refused")
    report = arun(run_steps((step,), make_contexts(ha_plan, exs, RunOptions(), artifacts=[])))
    detail = report.results[0].detail
    assert "timed out waiting" in detail
    assert "seen on the host then:" in detail
    assert "    $ kubectl get nodes\n      cp1: DiskPressure Ready; taints: x" in detail
    # An explain command that fails shows what it said, and the error stays the wait's.
    assert "    $ kubectl get pods\n      connection refused" in detail
    assert "exit code: 1" in detail


async def _false() -> bool:
    return False
