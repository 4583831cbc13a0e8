"""Lab fixtures: root and the Debian packages are required, never silently skipped.

    sudo bash tests/lab/install-packages.sh     # once: ndppd tayga unbound openssh-server ...
    sudo uv run pytest tests/lab -q             # about two minutes

Set KUBE6_SKIP_LAB=1 to skip every lab test explicitly (the reason is printed in the summary).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kube6.lab import Lab, lab_namespaces, machine, missing_programs
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import example, from_data

TWO_NODES = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": "node0001", "address": "2001:db8:1234:5678::1"},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
    ],
}


@pytest.fixture(scope="session")
def lab_env() -> None:
    """Fail loudly unless the lab can run here (root, packages); skip only when told to."""
    if os.environ.get("KUBE6_SKIP_LAB") == "1":
        pytest.skip("KUBE6_SKIP_LAB=1: network-namespace lab tests were explicitly NOT run")
    if os.geteuid() != 0:
        pytest.fail(
            "lab tests need root (network namespaces); run them as root, or set "
            "KUBE6_SKIP_LAB=1 to skip them explicitly"
        )
    missing = missing_programs()
    if missing:
        pytest.fail(
            f"lab tests need {', '.join(missing)}: run tests/lab/install-packages.sh as root "
            "(or set KUBE6_SKIP_LAB=1 to skip them explicitly)"
        )
    # What killed runs left (a real-node lab keeps gigabytes in /tmp) goes first: a CI machine
    # whose disk filled that way put the next run's nodes under DiskPressure.
    removed = machine.down_abandoned()
    if removed:
        print(f"\nremoved labs that killed runs left: {', '.join(removed)}")


@pytest.fixture(scope="session")
def plan() -> Plan:
    return make_plan(example(), source="built-in example")


@pytest.fixture(scope="session")
def two_node_plan() -> Plan:
    return make_plan(from_data(TWO_NODES), source="two-node lab")


@pytest.fixture
def fresh_lab(lab_env: None, plan: Plan) -> Iterator[Lab]:
    """A lab of the built-in example for one test (to break or to change)."""
    with Lab(plan) as lab:
        yield lab
    assert lab.lab_id not in lab_namespaces(), "the lab left namespaces behind"


@pytest.fixture(scope="module")
def shared_lab(lab_env: None, plan: Plan) -> Iterator[Lab]:
    """A lab shared by the tests of one module that only look at it."""
    with Lab(plan) as lab:
        yield lab
    assert lab.lab_id not in lab_namespaces(), "the lab left namespaces behind"
