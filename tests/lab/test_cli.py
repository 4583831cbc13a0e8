"""`kube6 lab up|status|down` in-process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kube6.cli.app import run
from kube6.lab import lab_namespaces
from kube6.spec import EXAMPLE_YAML


def test_lab_refuses_to_run_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert run(["lab", "up"]) == 1
    err = capsys.readouterr().err
    assert "needs root" in err
    assert "sudo kube6 lab up" in err


@pytest.mark.lab
def test_up_status_down(lab_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "kube6.yaml"
    spec.write_text(EXAMPLE_YAML)
    before = set(lab_namespaces())
    assert run(["lab", "up", "--spec", str(spec), "--pods", "1"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"lab ([0-9a-f]{4}) is up", out)
    assert match, out
    lab_id = match.group(1)
    try:
        assert lab_id in lab_namespaces()
        assert "ping -c 2 2001:db8:1234:5678:8:2:0:1" in out
        assert run(["lab", "status"]) == 0
        status = capsys.readouterr().out
        assert f"lab {lab_id}: node0001 2001:db8:1234:5678::1" in status
        assert re.search(rf"k6-{lab_id}-node0001: \d+ ndppd", status), status
        assert re.search(rf"k6-{lab_id}-nat64: .*tayga", status), status
        assert run(["lab", "down", "nothex"]) == 1
    finally:
        assert run(["lab", "down", lab_id]) == 0
    assert f"removed lab(s): {lab_id}" in capsys.readouterr().out
    assert lab_id not in lab_namespaces()
    # Only this test's lab is judged: other labs may come and go on a shared machine.
    assert not set(lab_namespaces()) - before
