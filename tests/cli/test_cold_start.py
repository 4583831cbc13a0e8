"""Cold start: a command imports only what it runs.

Each case starts a fresh interpreter, runs one command through the CLI as `kube6` would, and
reads which modules got imported. Judged by the modules, not by the clock: lightkube and httpx
alone took about a second to import on the test machine, and no timing limit would hold on a
shared 2-core VM.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import json, sys
from kube6.cli import run
code = run(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

# Third-party packages that only `verify`, `check` over SSH and the lab need.
NETWORK_CLIENTS = ("lightkube", "httpx", "httpcore", "h2", "asyncssh", "dns", "cryptography")
# kube6's own machinery that reading a plan does not need.
MACHINERY = (
    "kube6.verify.fetch",
    "kube6.verify.kubeconfig",
    "kube6.usecases.check",
    "kube6.usecases.up",
    "kube6.usecases.verify",
    "kube6.steps",
    "kube6.checks",
    "kube6.render",
    "kube6.lab",
)


def imported(tmp_path: Path, *argv: str) -> set[str]:
    """The modules loaded by `kube6 ARGV` in a new interpreter (in an empty folder, so the
    spec is the built-in example); fails unless the command exits 0."""
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(report), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["code"] == 0, proc.stderr
    return set(result["modules"])


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages or m.startswith(packages))


def test_help_loads_no_command_machinery(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert "kube6.cli.verify_cmd" in modules  # every command was registered
    assert not loaded(modules, NETWORK_CLIENTS)
    assert not loaded(modules, MACHINERY)
    # The spec's pydantic models are only built once a command reads a spec.
    assert not loaded(modules, ("pydantic", "kube6.spec", "kube6.plan"))


@pytest.mark.parametrize("argv", [("plan",), ("plan", "-o", "json"), ("verify", "--help")])
def test_plan_loads_no_network_client(tmp_path: Path, argv: tuple[str, ...]) -> None:
    modules = imported(tmp_path, *argv)
    assert not loaded(modules, NETWORK_CLIENTS)
    assert not loaded(modules, MACHINERY)
    if argv[0] == "plan":
        assert "kube6.plan.planner" in modules  # it did plan


def test_up_dry_run_fresh_loads_no_cluster_client(tmp_path: Path) -> None:
    """The README's first command: steps and renderers load, the Kubernetes client does not."""
    modules = imported(tmp_path, "up", "--dry-run", "--fresh", "--only", "verify")
    assert "kube6.steps.verify" in modules
    assert not loaded(modules, ("lightkube", "httpx", "httpcore", "asyncssh"))
