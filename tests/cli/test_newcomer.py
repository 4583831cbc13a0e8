"""Issue 15, defects 3, 4 and 9 and the command-line conventions: output paths are usage
errors that name the path and the reason (nothing half-written), `init --force` applies every
flag or refuses, one rule for nodes without roles, `-o` is `--output` and `-h` is `--help`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube6 import spec as spec_module
from kube6.cli import run

INIT = ["init", "--no-detect", "--prefix", "2001:db8:1234:5678::/64"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _bad_places(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me\n")
    return {
        "under a file": (a_file / "sub" / "x", "a-file is a file, not a folder"),
        # /sys refuses new files even to root: an unwritable place on every machine.
        "unwritable": (Path("/sys/kube6-test/x"), "is not writable"),
    }


@pytest.mark.parametrize("place", ["under a file", "unwritable"])
@pytest.mark.parametrize(
    "command",
    [
        ["render", "-o", "{}"],
        ["schema", "-o", "{}"],
        [*INIT, "--node", "n1=2001:db8:1234:5678::1", "-o", "{}"],
        ["up", "--dry-run", "--fresh", "--script-dir", "{}"],
    ],
    ids=["render", "schema", "init", "up-script-dir"],
)
def test_bad_output_paths_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], place: str
) -> None:
    path, reason = _bad_places(tmp_path)[place]
    argv = [part.replace("{}", str(path)) for part in command]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert str(path) in err
    assert reason in err
    assert (tmp_path / "a-file").read_text() == "keep me\n"
    assert not path.exists()


def test_folder_outputs_refuse_an_existing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a-file"
    target.write_text("keep me\n")
    for argv in (
        ["render", "-o", str(target)],
        ["up", "--dry-run", "--fresh", "--script-dir", str(target)],
    ):
        assert run(argv) == 2
        err = capsys.readouterr().err
        assert f"cannot write into {target}: it is a file, not a folder" in err
        assert target.read_text() == "keep me\n"


def test_file_outputs_refuse_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    assert run(["schema", "-o", str(folder)]) == 2
    assert f"cannot write {folder}: it is a folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []


def test_schema_output_is_written_whole(tmp_path: Path) -> None:
    assert run(["schema", "--output", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["title"] == "kube6.yaml"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_init_force_applies_every_flag(tmp_path: Path) -> None:
    out = tmp_path / "kube6.yaml"
    first = [*INIT, "--node", "n1=2001:db8:1234:5678::1", "--node", "n2=2001:db8:1234:5678::2"]
    assert run([*first, "-o", str(out)]) == 0
    assert (
        run(
            [
                *INIT,
                "--force",
                "-o",
                str(out),
                "--name",
                "prod01",
                "--email",
                "ops@example.com",
                "--dashboard-host",
                "dash.example.com",
                "--node",
                "n2=2001:db8:1234:5678::2,roles=control-plane+worker",
            ]
        )
        == 0
    )
    data = yaml.safe_load(out.read_text())
    assert data["cluster"]["name"] == "prod01"
    assert data["addons"]["cert_manager"]["email"] == "ops@example.com"
    assert data["addons"]["dashboard"]["host"] == "dash.example.com"
    assert [n["roles"] for n in data["nodes"]] == [
        ["control-plane", "worker"],
        ["control-plane", "worker"],
    ]
    spec_module.load(out)


def test_init_force_refuses_a_prefix_that_strands_nodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kube6.yaml"
    first = [*INIT, "--node", "n1=2001:db8:1234:5678::1", "--node", "n2=2001:db8:1234:5678::2"]
    assert run([*first, "-o", str(out)]) == 0
    before = out.read_text()
    argv = ["init", "--no-detect", "--force", "-o", str(out), "--prefix", "2001:db8:9::/64"]
    assert run([*argv, "--node", "n1=2001:db8:9::1"]) == 2
    err = capsys.readouterr().err
    assert "n2 (2001:db8:1234:5678::2) keep addresses outside the new prefix" in err
    assert out.read_text() == before
    # Every node given: the prefix moves with them.
    assert run([*argv, "--node", "n1=2001:db8:9::1", "--node", "n2=2001:db8:9::2"]) == 0
    assert spec_module.load(out).prefix.compressed == "2001:db8:9::/64"


def test_nodes_without_roles_follow_one_rule_in_spec_and_init(tmp_path: Path) -> None:
    nodes = [{"name": f"n{i}", "address": f"2001:db8:1234:5678::{i}"} for i in (1, 2, 3)]
    loaded = spec_module.from_data({"prefix": "2001:db8:1234:5678::/64", "nodes": nodes})
    spec_roles = [[str(r) for r in n.roles] for n in loaded.nodes]
    assert spec_roles == [["control-plane", "worker"], ["worker"], ["worker"]]
    out = tmp_path / "kube6.yaml"
    argv = [*INIT, "-o", str(out)]
    for node in nodes:
        argv += ["--node", f"{node['name']}={node['address']}"]
    assert run(argv) == 0
    assert [n["roles"] for n in yaml.safe_load(out.read_text())["nodes"]] == spec_roles


def test_init_refuses_unknown_roles(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*INIT, "--node", "n1=2001:db8:1234:5678::1,roles=master"]) == 2
    assert "roles='master': write control-plane, worker" in capsys.readouterr().err


def test_dash_h_is_help_and_dash_o_is_output(capsys: pytest.CaptureFixture[str]) -> None:
    from typer.main import get_command

    from kube6.cli.app import app

    run(["--help"])  # loads every command module
    seen = 0

    def walk(command: Any, path: list[str]) -> None:
        nonlocal seen
        assert run([*path, "-h"]) == 0, path
        assert "Usage:" in capsys.readouterr().out
        for param in command.params:
            if "-o" in param.opts:
                assert "--output" in param.opts, (path, param.opts)
                seen += 1
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    assert seen >= 7  # plan, check, verify, up, reset, render, schema, init, lab status


def test_up_takes_identity_and_known_hosts_as_check_does(tmp_path: Path) -> None:
    from kube6.execute import SshExecutor
    from kube6.plan import make_plan
    from kube6.usecases.nodes import SshOptions, executors_for

    plan = make_plan(
        spec_module.from_data(
            {
                "prefix": "2001:db8::/64",
                "nodes": [{"name": "a", "address": "2001:db8::10", "ssh": "root@2001:db8::10"}],
            }
        )
    )
    key, known = tmp_path / "id_ed25519", tmp_path / "known_hosts"
    [executor] = executors_for(plan, ["a"], SshOptions(known, key)).values()
    assert isinstance(executor, SshExecutor)
    options = executor.connect_options()
    assert options["client_keys"] == [str(key)]
    assert options["known_hosts"] == str(known)
    assert executor.target.host == "2001:db8::10"
    for command in ("up", "reset", "check"):
        assert run([command, "--identity", str(key), "--known-hosts", str(known), "-h"]) == 0


def test_tables_wrap_at_80_columns_and_never_cut_addresses_or_rule_names(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from kube6.plan import make_plan

    text = (
        "prefix: 2001:db8:1234:5678::/64\nnodes:\n"
        "  - {name: control-plane-0001, address: '2001:db8:1234:5678:ffff:ffff:ffff:fff1'}\n"
        "  - {name: worker-node-0002, address: '2001:db8:1234:5678:ffff:ffff:ffff:fff2'}\n"
    )
    (tmp_path / "kube6.yaml").write_text(text)
    program = "import sys; from kube6.cli import run; sys.exit(run(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", program, "plan", "-f", "kube6.yaml"],
        env={**os.environ, "COLUMNS": "80"},
        cwd=tmp_path,  # a short source name in the title: a long path is one word, kept whole
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in done.stdout
    plan = make_plan(spec_module.load(tmp_path / "kube6.yaml"))
    for node in plan.nodes:
        assert node.name in done.stdout
        assert str(node.address) in done.stdout
    for rule in plan.rules:
        assert rule.name in done.stdout
