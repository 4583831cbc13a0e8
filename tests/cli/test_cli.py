"""The CLI in-process: exit codes, stdout/stderr split, the built-in example, init and render."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kube6.cli import run


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_plan_uses_the_builtin_example_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", "--output", "json"]) == 0
    out, err = capsys.readouterr()
    assert "built-in example" in err
    document = json.loads(out)
    assert document["prefix"] == "2001:db8:1234:5678::/64"
    assert document["routing"] == "ndp-proxy"
    assert document["pods"]["cidr"] == "2001:db8:1234:5678:8:2::/104"
    assert document["pods"]["node_mask"] == 120
    assert document["pods"]["block_size"] == 120
    assert document["pods"]["nat_outgoing"] is False
    assert document["pods"]["pools"] == [
        {
            "name": "default-ipv6-ippool",
            "cidr": "2001:db8:1234:5678:8:2::/104",
            "block_size": 120,
            "blocks": 65536,
            "nat_outgoing": False,
            "nodes": "all",
            "node_selector": "all()",
        }
    ]
    assert document["services"]["cidr"] == "2001:db8:1234:5678:8:3::/112"
    assert document["services"]["dns"] == "2001:db8:1234:5678:8:3:0:a"
    assert document["services"]["api"] == "2001:db8:1234:5678:8:3:0:1"
    assert document["load_balancers"] == {
        "cidr": "2001:db8:1234:5678:8:4::/120",
        "size": 256,
        "block_size": 120,
        "link_prefix": "2001:db8:1234:5678::/64",
        "gateway": "2001:db8:1234:5678:8:4:0:1",
    }
    assert document["nodes"][0]["name"] == "node0001"
    assert document["nodes"][0]["address"] == "2001:db8:1234:5678::1"
    assert document["nodes"][0]["roles"] == ["control-plane", "worker"]
    shape = {"name", "status", "message", "fix", "evidence", "node"}
    assert all(set(rule) == shape for rule in document["rules"])
    assert document["schema_version"] == 1


def test_plan_table_shows_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan"]) == 0
    out, _ = capsys.readouterr()
    assert "2001:db8:1234:5678:8:2::/104" in out
    assert "node-mask-vs-pods" in out
    (row,) = [line for line in out.splitlines() if "load balancers" in line]
    assert "2001:db8:1234:5678:8:4::/120" in row
    assert "256 addresses" in row
    assert "load-balancers-reachable" in out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_table_shows_the_bgp_peer_and_the_password_file_not_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "bgp-password", "NeverShown\n")
    spec = write(
        tmp_path / "kube6.yaml",
        "prefix: 2001:db8:1:2::/64\nrouting: bgp\n"
        "bgp: {peer: '2001:db8:1:2::fffe', peer_as: 65001, password_file: bgp-password}\n"
        "nodes: [{name: a, address: '2001:db8:1:2::1'}]\n",
    )
    assert run(["plan", "--spec", str(spec)]) == 0
    out, _ = capsys.readouterr()
    # The last row of the ranges, as a table or as records (tables.py): its words in order.
    start = out.index("BGP peer")
    words = " ".join(out[start : out.index("\nnodes", start)].replace("│", " ").split())
    assert "2001:db8:1:2::fffe" in words
    assert "AS 65001; the cluster is AS 64512; signed with the password of " in words
    assert f"{tmp_path / 'bgp-password'} (TCP MD5)" in words
    # The node mesh, signed with the password `up` generates.
    mesh = words[words.index("node mesh") :]
    assert "every node" in mesh
    assert "AS 64512; signed with a random password" in mesh
    assert "NeverShown" not in out


def test_plan_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(
        tmp_path / "broken.yaml",
        "prefix: 2001:db8:1:2::/64\nnetwork: {services: '2001:db8:1:2:9::/96'}\n"
        "nodes: [{name: a, address: '2001:db8:1:2::1'}]\n",
    )
    assert run(["plan", "-f", str(broken)]) == 1
    assert "service-prefix-length" in capsys.readouterr().err
    unusable = write(tmp_path / "bad.yaml", "prefix: 10.0.0.0/8\nnodes: []\n")
    assert run(["plan", "-f", str(unusable)]) == 2
    err = capsys.readouterr().err
    assert "'10.0.0.0/8' is an IPv4 prefix" in err
    assert "Traceback" not in err
    assert run(["plan", "--no-such-flag"]) == 2
    syntax = write(tmp_path / "syntax.yaml", "prefix: [unclosed\n")
    assert run(["plan", "-f", str(syntax)]) == 2
    assert "YAML syntax error at line" in capsys.readouterr().err


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert "prefix" in schema["required"]
    assert "nodes" in schema["properties"]


def test_init_writes_a_commented_spec_that_plans(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        [
            "init",
            "--no-detect",
            "--prefix",
            "2001:db8:1:2::/64",
            "--node",
            "node0001=2001:db8:1:2::1",
            "--node",
            "node0002=2001:db8:1:2::2,roles=worker",
        ]
    )
    assert code == 0
    text = Path("kube6.yaml").read_text()
    assert text.count("#") > 10
    assert run(["plan", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in document["nodes"]] == ["node0001", "node0002"]
    assert document["nodes"][1]["roles"] == ["worker"]


def test_init_never_overwrites_and_keeps_comments(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["init", "--no-detect", "--prefix", "2001:db8:1:2::/64", "--node", "n1=2001:db8:1:2::1"]
    assert run(args) == 0
    spec = Path("kube6.yaml")
    spec.write_text(spec.read_text() + "# my own note\n")
    before = spec.read_text()
    assert run(args) == 2
    assert "exists" in capsys.readouterr().err
    assert spec.read_text() == before
    assert (
        run(
            [
                "init",
                "--no-detect",
                "--force",
                "--prefix",
                "2001:db8:1:3::/64",
                "--node",
                "n1=2001:db8:1:3::1",
            ]
        )
        == 0
    )
    after = spec.read_text()
    assert "# my own note" in after
    assert "prefix: 2001:db8:1:3::/64" in after
    assert "2001:db8:1:3::1" in after


def test_init_refuses_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init", "--no-detect", "--prefix", "2001:db8::/64", "--node", "n1"]) == 2
    assert "write NAME=ADDRESS" in capsys.readouterr().err
    assert run(["init", "--no-detect", "--prefix", "2001:db8::/64", "--node", "n1=fe80::1"]) == 2
    assert "link-local" in capsys.readouterr().err


def test_render_writes_files_deterministically(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render", "--out", "a"]) == 0
    assert run(["render", "--out", "b"]) == 0
    files_a = sorted(p.relative_to("a") for p in Path("a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to("b") for p in Path("b").rglob("*") if p.is_file())
    assert files_a == files_b
    assert any(str(p).endswith("init.yaml") for p in files_a)
    for relative in files_a:
        assert (Path("a") / relative).read_bytes() == (Path("b") / relative).read_bytes()
        if relative.suffix == ".yaml":
            list(yaml.safe_load_all((Path("a") / relative).read_text()))


def test_render_refuses_a_foreign_folder(capsys: pytest.CaptureFixture[str]) -> None:
    Path("mine").mkdir()
    Path("mine/notes.txt").write_text("x")
    assert run(["render", "--out", "mine"]) == 2
    assert "was not written by `kube6 render`" in capsys.readouterr().err


def test_render_refuses_a_failing_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(
        tmp_path / "broken.yaml",
        "prefix: 2001:db8:1:2::/64\nnetwork: {node_mask: 124}\n"
        "nodes: [{name: a, address: '2001:db8:1:2::1'}]\n",
    )
    assert run(["render", "-f", str(broken), "--out", "x"]) == 1
    assert "node-mask-vs-pods" in capsys.readouterr().err
    assert not os.path.exists("x")


def test_debug_shows_traceback_only_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", "-f", "missing.yaml"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert run(["--debug", "plan", "-f", "missing.yaml"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_addresses_print_whole(capsys: pytest.CaptureFixture[str]) -> None:
    """rich would read ":1234:" in this URL as an emoji code (it printed 2001:db8🔢5678)."""
    from kube6.cli.app import stderr, stdout

    url = "https://[2001:db8:1234:5678::1]:6443"
    stdout.print(f"server {url}")
    stderr.print(f"server {url}")
    out, err = capsys.readouterr()
    assert url in out
    assert url in err


def test_lab_state_file_torn_down_meanwhile_reads_as_empty(tmp_path: Path) -> None:
    """`lab status` races `lab down` of another process: a vanished or half-written state."""
    from kube6.cli.lab_cmd import _state

    assert _state(tmp_path / "gone.json") == {}
    assert _state(write(tmp_path / "half.json", '{"nodes": {')) == {}
    assert _state(write(tmp_path / "list.json", "[]")) == {}
    assert _state(write(tmp_path / "ok.json", '{"nodes": {"a": "2001:db8::1"}}')) == {
        "nodes": {"a": "2001:db8::1"}
    }
