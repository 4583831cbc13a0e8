"""kube6 trace for real, inside two network namespaces that this test creates (root, nft)."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kube6.cli import run
from kube6.execute import NetnsExecutor
from kube6.lab import INTERNET_HOST, Lab
from kube6.plan.model import Plan
from kube6.trace import TraceFilter, run_trace, trace_session
from tests.lab.conftest import lab_env, plan

pytestmark = pytest.mark.lab

__all__ = ["lab_env", "plan"]  # fixtures shared with the lab tests

NODE_ADDRESS = "2001:db8:77::1"
PEER_ADDRESS = "2001:db8:77::2"
# Someone else's rules on the node: the trace must leave them exactly as they were.
EXISTING = """\
table ip6 filter {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 22 accept comment "ssh"
    }
}
"""


def sh(*argv: str, stdin: str | None = None) -> str:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def trace_env() -> None:
    """Like the lab: fail loudly unless root and nft are here; skip only when told to."""
    if os.environ.get("KUBE6_SKIP_LAB") == "1":
        pytest.skip("KUBE6_SKIP_LAB=1: network-namespace lab tests were explicitly NOT run")
    if os.geteuid() != 0:
        pytest.fail("trace lab tests create network namespaces: run them as root")
    if shutil.which("nft") is None:
        pytest.fail("trace lab tests need nft: apt-get install -y nftables")


@pytest.fixture
def namespaces(trace_env: None) -> Iterator[tuple[str, str]]:
    token = secrets.token_hex(2)
    node, peer = f"k6tr-{token}-node", f"k6tr-{token}-peer"
    try:
        sh("ip", "netns", "add", node)
        sh("ip", "netns", "add", peer)
        sh(
            "ip",
            "-n",
            node,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            peer,
        )
        for ns, address in ((node, NODE_ADDRESS), (peer, PEER_ADDRESS)):
            sh("ip", "-n", ns, "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", node, "nft", "-f", "-", stdin=EXISTING)
        yield node, peer
    finally:
        for ns in (node, peer):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_trace_shows_echo_request_and_reply_and_leaves_the_ruleset(
    namespaces: tuple[str, str],
) -> None:
    node, peer = namespaces
    before = sh("ip", "netns", "exec", node, "nft", "list", "ruleset")
    assert "ssh" in before

    async def scenario() -> list[str]:
        session = trace_session(TraceFilter())
        trace = asyncio.create_task(run_trace(NetnsExecutor(node), session, duration=3, window=1))
        await asyncio.sleep(0.5)
        ping = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            peer,
            "ping",
            "-n",
            "-c",
            "8",
            "-i",
            "0.25",
            NODE_ADDRESS,
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert await ping.wait() == 0
        report = await trace
        assert report.removed
        return [p.summary() for p in report.packets]

    summaries = asyncio.run(scenario())
    requests = [s for s in summaries if "echo-request" in s]
    replies = [s for s in summaries if "echo-reply" in s]
    assert requests, summaries
    assert replies, summaries
    assert requests[0].startswith(f"{PEER_ADDRESS} -> {NODE_ADDRESS} echo-request (in eth0)")
    assert replies[0].startswith(f"{NODE_ADDRESS} -> {PEER_ADDRESS} echo-reply (out eth0)")
    assert sh("ip", "netns", "exec", node, "nft", "list", "ruleset") == before


def test_interrupted_trace_leaves_the_ruleset(namespaces: tuple[str, str]) -> None:
    node, _ = namespaces
    before = sh("ip", "netns", "exec", node, "nft", "list", "ruleset")

    async def scenario() -> None:
        session = trace_session(TraceFilter(port=443))
        task = asyncio.create_task(run_trace(NetnsExecutor(node), session, duration=30))
        for _ in range(100):  # until the table is there
            await asyncio.sleep(0.05)
            if session.table in sh("ip", "netns", "exec", node, "nft", "list", "tables"):
                break
        else:
            pytest.fail("the trace table never appeared")
        task.cancel()  # what Ctrl-C does to asyncio.run's main task
        with pytest.raises(asyncio.CancelledError):
            await task
        # The executor killed the cancelled `nft monitor`; let its transport close while the
        # loop still runs, not in a finaliser after asyncio.run closed the loop.
        await asyncio.sleep(0.2)
        gc.collect()

    asyncio.run(scenario())
    assert sh("ip", "netns", "exec", node, "nft", "list", "ruleset") == before
    # No `nft monitor` outlives the trace in the namespace.
    assert sh("ip", "netns", "pids", node).split() == []


def test_kube6_trace_on_a_lab_node(
    lab_env: None, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI on the lab's node0001: pings from the lab's internet host, as the guide did."""
    with Lab(plan) as lab:
        node = lab.node_ns("node0001")
        address = plan.node("node0001").address
        before = sh("ip", "netns", "exec", node, "nft", "list", "ruleset")
        # Pings for longer than the trace runs: the CLI's start-up time varies with the load.
        ping = ("ping", "-n", "-q", "-i", "0.25", "-w", "10", str(address))
        pinger = threading.Thread(target=lambda: lab.run(lab.internet, ping, check=False))
        pinger.start()
        try:
            assert run(["trace", "node0001", "--netns", node, "--duration", "5"]) == 0
        finally:
            pinger.join()
        after = sh("ip", "netns", "exec", node, "nft", "list", "ruleset")
    out, err = capsys.readouterr()
    assert "icmpv6 type echo-request" in out, err
    assert "icmpv6 type echo-reply" in out
    assert f"{INTERNET_HOST} -> {address} echo-request (in eth0)" in err
    assert f"{address} -> {INTERNET_HOST} echo-reply (out eth0)" in err
    assert after == before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_the_cli_and_remove_the_table(
    namespaces: tuple[str, str], sig: signal.Signals
) -> None:
    node, _ = namespaces
    before = sh("ip", "netns", "exec", node, "nft", "list", "ruleset")
    kube6 = Path(sys.executable).parent / "kube6"
    argv = [str(kube6), "trace", "node0001", "--netns", node, "--duration", "60"]
    # Its own process group, as a shell gives a foreground job: SIGINT goes to every process
    # in it (nft monitor included), as Ctrl-C does.
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as cli:
        deadline = time.monotonic() + 30
        while "kube6-trace-" not in sh("ip", "netns", "exec", node, "nft", "list", "tables"):
            assert cli.poll() is None, cli.communicate()
            assert time.monotonic() < deadline, "the trace table never appeared"
            time.sleep(0.1)
        if sig is signal.SIGINT:
            os.killpg(cli.pid, sig)
        else:
            cli.send_signal(sig)
        _, err = cli.communicate(timeout=30)
    assert cli.returncode == 130, err
    assert "stopped; table ip6 kube6-trace-" in err
    assert sh("ip", "netns", "exec", node, "nft", "list", "ruleset") == before
    assert sh("ip", "netns", "pids", node).split() == []
