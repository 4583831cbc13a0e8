"""The registry: every renderer runs, output is sorted, duplicates and failing plans refused."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import pytest

from kube6.components.registry import RENDERERS, render_all
from kube6.errors import PlanError
from kube6.plan.model import Level, Plan, RuleResult
from kube6.render.base import Artifact

NODE_RENDERERS = {"kubeadm", "containerd", "host", "ndppd"}


def test_node_renderers_are_registered() -> None:
    assert set(RENDERERS) >= NODE_RENDERERS


def test_every_renderer_contributes_to_some_scenario(
    golden_plan: Callable[[str], Plan],
) -> None:
    plans = [golden_plan(name) for name in ("example", "ha-3cp-5w", "own-prefixes-bgp")]
    silent = [
        name for name, renderer in RENDERERS.items() if not any(list(renderer(p)) for p in plans)
    ]
    assert not silent, f"renderers that write nothing for any scenario: {silent}"


def test_artifacts_are_sorted_and_unique(scenario_artifacts: list[Artifact]) -> None:
    paths = [a.path for a in scenario_artifacts]
    assert paths == sorted(paths)
    assert len(paths) == len(set(paths))


def test_duplicate_paths_are_refused(golden_plan: Callable[[str], Plan]) -> None:
    def one(plan: Plan) -> Iterable[Artifact]:
        yield Artifact("cluster/same.yaml", "a: 1\n")

    with pytest.raises(ValueError, match=r"'first' and 'second' both write 'cluster/same.yaml'"):
        render_all(golden_plan("example"), {"first": one, "second": one})


@pytest.mark.parametrize("path", ["../x", "/etc/x", "x.yaml", "nodes/a/../../x", "cluster/"])
def test_bad_paths_are_refused(golden_plan: Callable[[str], Plan], path: str) -> None:
    def bad(plan: Plan) -> Iterable[Artifact]:
        yield Artifact(path, "x\n")

    with pytest.raises(ValueError, match="renderer 'bad' produced the path"):
        render_all(golden_plan("example"), {"bad": bad})


def test_a_failing_plan_is_not_rendered(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("example")
    broken = replace(
        plan,
        rules=(*plan.rules, RuleResult("made-up", Level.FAIL, "it does not fit", "fix it")),
    )
    with pytest.raises(PlanError, match="made-up"):
        render_all(broken)
