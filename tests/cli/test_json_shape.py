"""Issue 15 conventions: one JSON result shape for plan rules, check and verify (built from
kube6.results.Finding), schema_version in every document, failures included; `verify -o json`
prints a document even when it cannot start; an SSH target written as ssh takes it works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kube6 import spec as spec_module
from kube6.checks.model import CheckResult
from kube6.cli import run
from kube6.errors import SpecError
from kube6.execute.ssh import parse_target
from kube6.plan.model import RuleResult
from kube6.results import SCHEMA_VERSION, Finding
from kube6.verify.result import CheckResult as VerifyResult

SHAPE = {"name", "status", "message", "fix", "evidence", "node"}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_rules_checks_and_verify_share_one_result_type() -> None:
    assert RuleResult is Finding
    assert CheckResult is Finding
    assert VerifyResult is Finding


def test_plan_document_has_the_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["rules"]
    assert all(set(rule) == SHAPE for rule in document["rules"])


def test_plan_failure_document_has_the_shape(capsys: pytest.CaptureFixture[str]) -> None:
    Path("kube6.yaml").write_text(
        "prefix: 2001:db8::/64\nnodes: [{name: a, address: '2001:db8::1', roles: [worker]}]\n"
    )
    assert run(["plan", "-o", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["ok"] is False
    assert all(set(rule) == SHAPE for rule in document["rules"])
    assert "control-plane-present" in [r["name"] for r in document["rules"]]


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "-o", "json"],
        ["check", "--output", "json"],
        ["verify", "-o", "json", "--no-fetch"],
        ["up", "--dry-run", "-o", "json"],
    ],
)
def test_an_unusable_spec_still_gives_a_document(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    Path("kube6.yaml").write_text("prefix: 2001:db8::/64\nnodes: []\nfirewall: {ssh_port: true}\n")
    assert run([*argv, "-f", "kube6.yaml"]) == 2
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["kind"] == argv[0]
    assert document["ok"] is False
    assert "ssh_port: must be a whole number" in document["error"]["message"]
    assert "ssh_port" in err


def test_verify_that_cannot_start_prints_a_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    assert run(["verify", "-o", "json", "--no-fetch", "--kubeconfig", str(missing)]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["ok"] is False
    assert str(missing) in document["error"]["message"]
    assert document["error"]["fix"]


def test_check_document_has_the_shape(capsys: pytest.CaptureFixture[str]) -> None:
    # A node this machine cannot reach: the check result says so, in the one shape.
    Path("kube6.yaml").write_text(
        "prefix: 2001:db8::/64\nnodes: [{name: a, address: '2001:db8::1', "
        "ssh: 'root@[2001:db8::1]'}]\n"
    )
    run(["check", "-o", "json", "--no-connect"])
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["results"]
    assert all(set(r) == SHAPE for r in document["results"])
    assert {r["node"] for r in document["results"]} == {"a"}


@pytest.mark.parametrize("target", ["root@2001:db8::10", "2001:db8::10", "root@[2001:db8::10]:22"])
def test_ssh_target_as_ssh_takes_it(target: str) -> None:
    data = {"prefix": "2001:db8::/64", "nodes": [{"name": "a", "address": "2001:db8::10"}]}
    data["nodes"][0]["ssh"] = target  # type: ignore[index]
    loaded = spec_module.from_data(data)
    assert parse_target(loaded.nodes[0].ssh or "").host == "2001:db8::10"


@pytest.mark.parametrize("target", ["root@2001:db8::zz", "Root;x@2001:db8::1", "root@fe80::1"])
def test_bad_bare_ssh_targets_are_refused(target: str) -> None:
    data = {"prefix": "2001:db8::/64", "nodes": [{"name": "a", "address": "2001:db8::10"}]}
    data["nodes"][0]["ssh"] = target  # type: ignore[index]
    with pytest.raises(SpecError, match=r"nodes\[0\]\.ssh"):
        spec_module.from_data(data)
