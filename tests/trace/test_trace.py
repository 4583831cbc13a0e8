"""kube6 trace: the commands it builds, and that it removes exactly its table in every case."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from ipaddress import IPv6Address
from typing import Any, TypeVar

import pytest

from kube6.errors import CommandError
from kube6.execute import Command, RecordingExecutor, Result
from kube6.trace import (
    TraceCleanupError,
    TraceFilter,
    TraceReport,
    packets,
    parse_trace,
    run_trace,
    trace_session,
)

T = TypeVar("T")

# Recorded from `nft monitor trace` in a test namespace (ping from a peer, answered locally).
RECORDED = """\
trace id 5805d812 ip6 kube6-trace-t1 pre packet: iif "v0" ether saddr 1e:b4:4c:e1:4e:20 ether daddr 6a:cc:f6:b0:e2:dc ip6 saddr 2001:db8:77::2 ip6 daddr 2001:db8:77::1 ip6 dscp cs0 ip6 ecn not-ect ip6 hoplimit 64 ip6 flowlabel 1016209 ip6 length 64 icmpv6 type echo-request icmpv6 code no-route icmpv6 parameter-problem 873332737 @th,64,96 0xb204096b000000006c1c0900 
trace id 5805d812 ip6 kube6-trace-t1 pre rule icmpv6 type { echo-request, echo-reply } meta nftrace set 1 comment "kube6 trace t1" (verdict continue)
trace id 5805d812 ip6 kube6-trace-t1 pre policy accept 
trace id 93de3175 ip6 kube6-trace-t1 out packet: oif "v0" ip6 saddr 2001:db8:77::1 ip6 daddr 2001:db8:77::2 ip6 dscp cs0 ip6 ecn not-ect ip6 hoplimit 64 ip6 flowlabel 880286 ip6 length 64 icmpv6 type echo-reply icmpv6 code no-route icmpv6 parameter-problem 873332737 @th,64,96 0xb204096b000000006c1c0900 
trace id 93de3175 ip6 kube6-trace-t1 out rule icmpv6 type { echo-request, echo-reply } meta nftrace set 1 comment "kube6 trace t1" (verdict continue)
trace id 93de3175 ip6 kube6-trace-t1 out policy accept 
trace id 93de3175 ip6 filter output rule ip6 daddr 2001:db8:77::2 drop (verdict drop)
"""  # noqa: W291

TABLE = "kube6-trace-abcd"
SETUP = ("nft", "-f", "-")
CLEANUP = ("nft", "delete", "table", "ip6", TABLE)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Clock:
    """Time that moves only when a monitor window has run."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def monitor_argv(seconds: float) -> tuple[str, ...]:
    return ("timeout", f"{seconds:g}", "setpriv", "--pdeathsig", "KILL", "nft", "monitor", "trace")


# ---- the commands --------------------------------------------------------------------------


def test_default_traces_icmpv6_echo_in_its_own_table() -> None:
    session = trace_session(TraceFilter(), token="abcd")
    assert session.table == TABLE
    assert session.setup.argv == SETUP
    assert session.setup.stdin == (
        "create table ip6 kube6-trace-abcd\n"
        "add chain ip6 kube6-trace-abcd pre { type filter hook prerouting priority -350; "
        "policy accept; }\n"
        "add chain ip6 kube6-trace-abcd out { type filter hook output priority -350; "
        "policy accept; }\n"
        "add rule ip6 kube6-trace-abcd pre icmpv6 type { echo-request, echo-reply } "
        'meta nftrace set 1 comment "kube6 trace abcd"\n'
        "add rule ip6 kube6-trace-abcd out icmpv6 type { echo-request, echo-reply } "
        'meta nftrace set 1 comment "kube6 trace abcd"\n'
    )
    # Removal names the table, never a position in a chain.
    assert session.cleanup.argv == CLEANUP


@pytest.mark.parametrize(
    ("flt", "matches"),
    [
        (
            TraceFilter(IPv6Address("2001:db8::5"), 443),
            ["ip6 daddr 2001:db8::5 tcp dport 443", "ip6 saddr 2001:db8::5 tcp sport 443"],
        ),
        (
            TraceFilter(IPv6Address("2001:db8::5")),
            ["ip6 daddr 2001:db8::5", "ip6 saddr 2001:db8::5"],
        ),
        (TraceFilter(port=53, protocol="udp"), ["udp dport 53", "udp sport 53"]),
    ],
)
def test_address_and_port_filters(flt: TraceFilter, matches: list[str]) -> None:
    assert flt.matches() == matches
    script = trace_session(flt, token="abcd").setup.stdin or ""
    for match in matches:
        assert f"pre {match} meta nftrace set 1" in script
        assert f"out {match} meta nftrace set 1" in script


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="outside 1-65535"):
        TraceFilter(port=70000)
    with pytest.raises(ValueError, match="hex digits"):
        trace_session(TraceFilter(), token="x; flush ruleset")


def test_random_tokens_differ() -> None:
    assert trace_session(TraceFilter()).table != trace_session(TraceFilter()).table


# ---- running it, and cleaning up -----------------------------------------------------------


def executor(clock: Clock, monitor: Any) -> RecordingExecutor:
    ex = RecordingExecutor(host="node0001")
    ex.reply(SETUP)
    ex.reply(CLEANUP)

    def window(command: Command) -> Result:
        clock.now += float(command.argv[1])
        return monitor(command) if callable(monitor) else monitor  # type: ignore[no-any-return]

    for seconds in (2, 1):
        ex.replies[monitor_argv(seconds)] = window
    return ex


def test_reads_windows_until_the_duration_and_removes_the_table() -> None:
    clock = Clock()
    ex = executor(clock, Result(124, RECORDED, ""))
    seen: list[str] = []
    report = run(
        run_trace(
            ex,
            trace_session(TraceFilter(), "abcd"),
            duration=5,
            window=2,
            on_output=seen.append,
            clock=clock,
        )
    )
    assert ex.argvs == [SETUP, monitor_argv(2), monitor_argv(2), monitor_argv(1), CLEANUP]
    assert report.removed
    assert seen == [RECORDED] * 3
    assert [p.fields["icmpv6"] for p in report.packets][:2] == ["echo-request", "echo-reply"]


def test_monitor_failure_still_removes_the_table() -> None:
    clock = Clock()
    ex = executor(clock, Result(1, "", "Error: Operation not permitted"))
    with pytest.raises(CommandError) as caught:
        run(run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=5, clock=clock))
    assert "Operation not permitted" in str(caught.value)
    assert ex.argvs[-1] == CLEANUP
    assert ex.argvs.count(CLEANUP) == 1


def test_monitor_killed_by_a_signal_stops_the_trace() -> None:
    clock = Clock()
    ex = executor(clock, Result(None, RECORDED, "killed by signal 2"))
    report = run(run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=5, clock=clock))
    assert ex.argvs == [SETUP, monitor_argv(2), CLEANUP]
    assert report.removed
    assert len(report.packets) == 2


def test_ctrl_c_while_tracing_removes_the_table() -> None:
    def interrupt(command: Command) -> Result:
        raise KeyboardInterrupt

    clock = Clock()
    ex = executor(clock, interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=5, clock=clock))
    assert ex.argvs == [SETUP, monitor_argv(2), CLEANUP]


def test_cancellation_while_tracing_removes_the_table() -> None:
    async def scenario() -> RecordingExecutor:
        clock = Clock()
        ex = executor(clock, Result(124, "", ""))
        blocked = asyncio.Event()

        async def slow_run(cmd: Any, *, check: bool = True) -> Result:
            if tuple(cmd.argv) == monitor_argv(2):
                blocked.set()
                await asyncio.sleep(60)
            return await RecordingExecutor.run(ex, cmd, check=check)

        ex.run = slow_run  # type: ignore[method-assign]
        task = asyncio.create_task(
            run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=5, clock=clock)
        )
        await blocked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return ex

    ex = run(scenario())
    assert ex.argvs[-1] == CLEANUP


def test_ctrl_c_during_setup_removes_the_table_if_it_exists() -> None:
    def interrupt(command: Command) -> Result:
        raise KeyboardInterrupt

    ex = RecordingExecutor(host="node0001")
    ex.replies[SETUP] = interrupt
    ex.reply(CLEANUP, exit_code=1, stderr="Error: No such file or directory")
    with pytest.raises(KeyboardInterrupt):
        run(run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=5))
    assert ex.argvs == [SETUP, CLEANUP]


def test_refused_setup_added_nothing_and_removes_nothing() -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply(SETUP, exit_code=1, stderr="Error: Could not process rule: File exists")
    with pytest.raises(CommandError, match="File exists"):
        run(run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=5))
    # Deleting here could remove a table that someone else created under the same name.
    assert ex.argvs == [SETUP]


def test_failed_removal_says_what_to_run() -> None:
    clock = Clock()
    ex = executor(clock, Result(124, "", ""))
    ex.reply(CLEANUP, exit_code=1, stderr="Error: Device or resource busy")
    with pytest.raises(TraceCleanupError) as caught:
        run(run_trace(ex, trace_session(TraceFilter(), "abcd"), duration=1, clock=clock))
    assert caught.value.fix == "run on node0001: nft delete table ip6 kube6-trace-abcd"


# ---- reading the trace ---------------------------------------------------------------------


def test_parse_recorded_trace() -> None:
    events = parse_trace(RECORDED + "some other line\n")
    assert len(events) == 7
    assert events[0].kind == "packet"
    assert events[2].kind == "policy"
    found = packets(events)
    assert [p.id for p in found] == ["5805d812", "93de3175"]
    request, reply = found
    assert request.summary() == (
        "2001:db8:77::2 -> 2001:db8:77::1 echo-request (in v0): "
        "ip6 kube6-trace-t1 pre: policy accept"
    )
    assert reply.summary() == (
        "2001:db8:77::1 -> 2001:db8:77::2 echo-reply (out v0): "
        "ip6 kube6-trace-t1 out: policy accept, ip6 filter output: rule -> drop"
    )


def test_empty_report() -> None:
    report = TraceReport("kube6-trace-abcd")
    assert report.packets == []
    assert report.text == ""
