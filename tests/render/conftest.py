"""Shared fixtures of the renderer tests: the golden scenarios, their plans and artifacts.

A scenario is a folder `tests/golden/<name>/` with the spec `kube6.yaml` and the expected output
under `out/`. Any test that takes a `scenario` argument runs once per scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from kube6 import spec
from kube6.components.registry import render_all
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.render.base import Artifact

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def scenario_names() -> list[str]:
    return sorted(d.name for d in GOLDEN.iterdir() if (d / "kube6.yaml").is_file())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" in metafunc.fixturenames:
        metafunc.parametrize("scenario", scenario_names())


@cache
def _plan(scenario: str) -> Plan:
    # A fixed source name: the header of every file names it, and goldens must not depend on
    # where the repository is checked out.
    parsed = spec.parse_text((GOLDEN / scenario / "kube6.yaml").read_text(), source="kube6.yaml")
    return make_plan(parsed, source="kube6.yaml")


@pytest.fixture
def scenario_plan(scenario: str) -> Plan:
    return _plan(scenario)


@pytest.fixture
def scenario_artifacts(scenario: str) -> list[Artifact]:
    return render_all(_plan(scenario))


@pytest.fixture
def plan_of() -> Callable[[str], Plan]:
    """Build a plan from YAML text (for unit tests of specific semantics)."""

    def build(text: str) -> Plan:
        return make_plan(spec.parse_text(text, source="kube6.yaml"), source="kube6.yaml")

    return build


@pytest.fixture
def golden_plan() -> Callable[[str], Plan]:
    """The plan of a named golden scenario."""
    return _plan
