"""Test-tier policy, shared by every test module.

The lab tier (`@pytest.mark.lab`: root, network namespaces, Debian daemons) and the k8s tier
(`@pytest.mark.k8s`: Kubernetes programs built by tests/k8s/build.sh) run by default and FAIL
when their prerequisites are missing: a missing tier must never look like a pass. A developer
may opt out explicitly with KUBE6_SKIP_LAB=1 / KUBE6_SKIP_K8S=1 (CI never sets them); then the
tier's tests are skipped with the reason, and the run ends with a loud warning.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

OPT_OUT = {"lab": "KUBE6_SKIP_LAB", "k8s": "KUBE6_SKIP_K8S", "e2e": "KUBE6_SKIP_E2E"}


def k8s_cache() -> Path:
    return Path(os.environ.get("KUBE6_K8S_CACHE", Path.home() / ".cache" / "kube6-k8s"))


def k8s_binary(name: str) -> Path:
    """Path of a binary built by tests/k8s/build.sh; fails the test (never skips) when absent."""
    binary = k8s_cache() / "current" / name
    if not os.access(binary, os.X_OK):
        pytest.fail(
            f"{binary} is missing: run `bash tests/k8s/build.sh` (the k8s tier needs Go and the "
            "Go module proxy), or set KUBE6_SKIP_K8S=1 to skip this tier on purpose"
        )
    return binary


UNVERIFIED: list[str] = []


def unverified(what: str, why: str) -> None:
    """Skip a check that cannot be judged here, and say so loudly at the end of the run.

    Only for checks whose verdict depends on an upstream artifact that cannot be obtained on
    this machine (e.g. not served by the Go module proxy at the pinned version). Such a test is
    never counted as passed: it is reported as skipped and listed in a red banner.
    """
    UNVERIFIED.append(f"{what}: {why}")
    pytest.skip(f"UNVERIFIED: {what}: {why}")


STAND_INS: list[str] = []


def judged_against(what: str, note: str) -> None:
    """Record that a passing check was judged against a stand-in for the pinned artifact (e.g.
    "verified against Calico release-v3.33 (2026-08-21)": the release branch of the pin's minor
    version, the newest this machine has). Listed at the end of the run; the check counts as
    passed."""
    line = f"{what}: {note}"
    if line not in STAND_INS:
        STAND_INS.append(line)
    print(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for tier, variable in OPT_OUT.items():
        if not os.environ.get(variable):
            continue
        if os.environ.get("CI"):
            raise pytest.UsageError(f"{variable} is set under CI: every tier must run in CI")
        marker = pytest.mark.skip(reason=f"{variable}=1: the {tier} tier is skipped on purpose")
        for item in items:
            if tier in item.keywords:
                item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [f"{v}=1 ({tier} tier NOT run)" for tier, v in OPT_OUT.items() if os.environ.get(v)]
    if skipped:
        terminalreporter.write_sep("!", "WARNING: " + "; ".join(skipped), red=True, bold=True)
    if STAND_INS:
        terminalreporter.write_sep(
            "-", f"{len(STAND_INS)} check(s) passed against a stand-in for the pinned upstream"
        )
        for line in STAND_INS:
            terminalreporter.write_line(f"  - {line}")
    if UNVERIFIED:
        terminalreporter.write_sep(
            "!", f"UNVERIFIED: {len(UNVERIFIED)} check(s) could not be judged here", red=True
        )
        for line in UNVERIFIED:
            terminalreporter.write_line(f"  - {line}", red=True)
