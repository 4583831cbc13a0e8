"""`kube6 check` in-process: the built-in example on this machine fails honestly."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from kube6.checks import CHECK_NAMES, ArtifactHost
from kube6.checks.model import UpstreamArtifact
from kube6.cli.app import run
from kube6.components import registry, sources

MIRROR_HOST = "2001:db8:1234:5678::1"
MIRROR = f"http://[{MIRROR_HOST}]:5000"


@pytest.fixture(autouse=True)
def _no_spec_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no kube6.yaml: the built-in example is used
    # One name from /etc/hosts instead of the internet's download hosts: fast and offline.
    monkeypatch.setattr(
        registry, "artifact_hosts", lambda plan: (ArtifactHost("localhost", "a test name"),)
    )
    # The audit's artifacts: one image on that name, and one served by a mirror at an IPv6
    # address (that must print as it is, never as rich's emoji codes).
    listed = (
        UpstreamArtifact("image", "localhost/probe:1", "a test reference", component="test"),
        UpstreamArtifact(
            "image",
            "ghcr.io/x/y:1",
            "a test reference",
            component="test",
            mirror=MIRROR,
        ),
    )
    fixed = tuple(replace(a, fix=sources.mirror_setting(a)) for a in listed)
    monkeypatch.setattr(registry, "artifacts", lambda plan: fixed)


def test_example_fails_honestly_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["check", "--no-connect", "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    names = [r["name"] for r in document["results"]]
    assert names == [n for n in CHECK_NAMES if n != "host-reachable"]
    by = {r["name"]: r for r in document["results"]}
    # The example's node address (documentation prefix) is not on this machine.
    assert by["node-address"]["status"] == "fail"
    assert "2001:db8:1234:5678::1" in by["node-address"]["message"]
    assert by["node-address"]["fix"]
    assert set(by["swap"]) == {"node", "name", "status", "message", "fix", "evidence"}
    assert "failed:" in err
    assert "node0001/node-address" in err
    # localhost has only 127.0.0.1 here: named as unreachable over IPv6, with the fix.
    artifacts = by["artifact-hosts-reachable"]
    if artifacts["status"] == "fail":
        assert "localhost" in artifacts["message"]
        assert "NAT64" in artifacts["fix"]
    # The audit: every artifact with its verdict, and the mirrors setting that would fix it.
    local, mirrored = document["artifacts"]
    assert (local["ref"], local["host"], local["component"]) == (
        "localhost/probe:1",
        "localhost",
        "test",
    )
    assert local["verdict"] == "unreachable"  # 127.0.0.1 only
    assert "- registry: localhost" in local["fix"]
    assert mirrored["host"] == MIRROR_HOST
    assert mirrored["mirror"] == MIRROR
    # An address resolves to itself; --no-connect tests no connection, and says so.
    assert mirrored["verdict"] == "mirror"
    assert "connection not tested" in mirrored["detail"]


def test_ignore_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    run(["check", "--no-connect", "--ignore", "node-address"])
    out, _ = capsys.readouterr()
    assert "node-address" in out
    assert "[--ignore]" in out
    assert "kube6 check: artifacts" in out
    assert MIRROR_HOST in out.split("kube6 check: artifacts")[1]
    assert "- registry: localhost" in out


def test_unknown_ignore_and_node_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "--ignore", "nope"]) == 2
    assert "--ignore takes one of" in capsys.readouterr().err
    assert run(["check", "--node", "node9"]) == 2
    assert "node0001" in capsys.readouterr().err


def test_ssh_node_without_known_host_key_fails_host_reachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "kube6.yaml"
    spec.write_text(
        "prefix: 2001:db8:1234:5678::/64\n"
        "nodes:\n"
        "  - name: node0001\n"
        "    address: 2001:db8:1234:5678::1\n"
        "    ssh: root@localhost:1\n"
    )
    code = run(["check", "--spec", str(spec), "--output", "json", "--known-hosts", "/dev/null"])
    out, _ = capsys.readouterr()
    assert code == 1
    (result,) = json.loads(out)["results"]
    assert result["name"] == "host-reachable"
    assert "cannot connect" in result["message"]
