"""`kube6 trace` in-process, with a scripted node instead of a real one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kube6.cli import run
from kube6.execute import RecordingExecutor, Result
from tests.trace.test_trace import RECORDED


class FakeNode(RecordingExecutor):
    """Every nft call succeeds; each monitor window lasts as long as asked and sees RECORDED."""

    def __init__(self, monitor: Result | None = None, setup: Result | None = None) -> None:
        super().__init__(host="node0001")
        self.monitor = monitor or Result(124, RECORDED, "")
        self.setup = setup or Result(0, "", "")

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        if argv[0] == "timeout":
            await asyncio.sleep(float(argv[1]))
            return self.monitor
        if argv[:2] == ("nft", "-f"):
            return self.setup
        return Result(0, "", "")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> FakeNode:
    fake = FakeNode()
    monkeypatch.setattr("kube6.cli.trace_cmd.executor_for", lambda ssh, host: fake)
    return fake


def test_trace_prints_the_trace_and_removes_its_table(
    node: FakeNode, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["trace", "node0001", "--duration", "0.5"]) == 0
    out, err = capsys.readouterr()
    assert "icmpv6 type echo-request" in out
    table = node.argvs[-1][-1]
    assert node.argvs[0] == ("nft", "-f", "-")
    assert node.argvs[-1] == ("nft", "delete", "table", "ip6", table)
    assert table.startswith("kube6-trace-")
    assert f"2 packet(s) traced; table ip6 {table} removed" in err
    assert "2001:db8:77::2 -> 2001:db8:77::1 echo-request (in v0)" in err


def test_address_and_port_reach_the_rules(node: FakeNode) -> None:
    argv = ["trace", "node0001", "-a", "2001:db8::5", "-p", "53", "--protocol", "udp", "-d", "0.5"]
    assert run(argv) == 0
    script = node.commands[0].stdin or ""
    assert "ip6 daddr 2001:db8::5 udp dport 53 meta nftrace set 1" in script


def test_unknown_node_and_bad_address(node: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["trace", "nosuch"]) == 2
    assert "use one of: node0001" in capsys.readouterr().err
    assert run(["trace", "node0001", "--address", "192.0.2.1"]) == 2
    assert "is not an IPv6 address" in capsys.readouterr().err
    assert node.commands == []


def test_missing_nft_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeNode(setup=Result(127, "", "nft: command not found"))
    monkeypatch.setattr("kube6.cli.trace_cmd.executor_for", lambda ssh, host: fake)
    assert run(["trace", "node0001", "-d", "0.5"]) == 1
    assert "apt-get install -y nftables" in capsys.readouterr().err
    assert [a[0:2] for a in fake.argvs] == [("nft", "-f")]
