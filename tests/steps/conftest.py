"""Shared fixtures: the example plan, contexts over RecordingExecutors, fact builders."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from kube6.components.registry import make_contexts
from kube6.execute import RecordingExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import example, parse_text
from kube6.steps import HostContext, RunOptions

T = TypeVar("T")

HA_SPEC = """
cluster: {name: kube002}
prefix: 2001:db8:1234:5678::/64
routing: ndp-proxy
nodes:
  - {name: cp1, address: "2001:db8:1234:5678::11", roles: [control-plane]}
  - {name: cp2, address: "2001:db8:1234:5678::12", roles: [control-plane]}
  - {name: w1, address: "2001:db8:1234:5678::21", roles: [worker]}
  - {name: w2, address: "2001:db8:1234:5678::22", roles: [worker]}
"""


def arun(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def plan() -> Plan:
    return make_plan(example(), source="built-in example")


@pytest.fixture(scope="session")
def ha_plan() -> Plan:
    return make_plan(parse_text(HA_SPEC), source="test")


def context(
    plan: Plan, node: str | None = None, executor: RecordingExecutor | None = None, **options: Any
) -> HostContext:
    """A context for one node over a RecordingExecutor (strict: unscripted commands fail)."""
    name = node or plan.nodes[0].name
    ex = executor or RecordingExecutor(host=name)
    return make_contexts(plan, {name: ex}, RunOptions(**options))[name]
