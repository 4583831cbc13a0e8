"""`kube6 trace NODE`: watch packets go through a node's netfilter hooks, then clean up."""

from __future__ import annotations

import signal
from enum import StrEnum
from ipaddress import IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import SpecOption, load_plan
from kube6.errors import CommandError, Kube6Error, UsageError

if TYPE_CHECKING:
    from kube6.execute import Executor
    from kube6.plan.model import Plan, PlannedNode
    from kube6.trace import TraceReport

NOT_FOUND = 127


def executor_for(ssh: str | None, *, host: str) -> Executor:
    # Loaded when `trace` runs (asyncio and the executors); a name of this module so that tests
    # can stand in for the node here.
    from kube6 import execute

    return execute.executor_for(ssh, host=host)


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


NODE_OPTION = typer.Argument(..., help="The node to trace on (a name from kube6.yaml).")
ADDRESS_OPTION = typer.Option(
    None, "--address", "-a", help="Trace traffic to and from this IPv6 address."
)
PORT_OPTION = typer.Option(
    None, "--port", "-p", min=1, max=65535, help="Trace this port (both directions)."
)
PROTOCOL_OPTION = typer.Option(Protocol.TCP, "--protocol", help="tcp or udp, with --port.")
DURATION_OPTION = typer.Option(30.0, "--duration", "-d", min=0.5, help="Seconds to trace.")
NETNS_OPTION = typer.Option(
    None, "--netns", help="Run inside this network namespace of this machine (the lab)."
)


@app.command()
def trace(
    node: str = NODE_OPTION,
    address: str | None = ADDRESS_OPTION,
    port: int | None = PORT_OPTION,
    protocol: Protocol = PROTOCOL_OPTION,
    duration: float = DURATION_OPTION,
    netns: str | None = NETNS_OPTION,
    spec_path: Path | None = SpecOption,
) -> None:
    """Trace ICMPv6 echo (or an address/port) through NODE's netfilter, then remove the rules.

    kube6 adds its own nftables table (ip6 kube6-trace-<random>) that marks matching packets
    for tracing, prints `nft monitor trace` as it comes, and deletes exactly that table at the
    end, after Ctrl-C and after errors too. Run a ping or curl from elsewhere meanwhile.
    """
    import asyncio

    from kube6.execute import NetnsExecutor
    from kube6.trace import TraceFilter, run_trace, trace_session

    plan = load_plan(spec_path)
    planned, target = _node_and_target(plan, node, address)
    flt = TraceFilter(target, port, "udp" if protocol is Protocol.UDP else "tcp")
    executor: Executor = (
        NetnsExecutor(netns, host=node) if netns else executor_for(planned.ssh, host=node)
    )
    session = trace_session(flt)
    stderr.print(
        f"tracing {flt.describe()} on {node} for {duration:g} s (table ip6 {session.table}); "
        "Ctrl-C stops, the table is removed either way"
    )

    def show(text: str) -> None:
        stdout.print(text.rstrip("\n"), highlight=False)

    async def traced() -> TraceReport:
        # SIGTERM and SIGHUP (a closed terminal) stop the trace the way Ctrl-C does, so that the
        # table is removed then too.
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await run_trace(executor, session, duration=duration, on_output=show)
        finally:
            await executor.close()

    try:
        report = asyncio.run(traced())
    except CommandError as exc:
        if exc.exit_code == NOT_FOUND:
            raise Kube6Error(
                f"nft (or timeout/setpriv) is not installed on {node}",
                fix="install it on the node: apt-get install -y nftables",
            ) from None
        raise
    except (KeyboardInterrupt, asyncio.CancelledError):
        stderr.print(f"stopped; table ip6 {session.table} removed")
        raise KeyboardInterrupt from None
    _summary(report, session.table)


def _node_and_target(
    plan: Plan, node: str, address: str | None
) -> tuple[PlannedNode, IPv6Address | None]:
    """The planned node named `node` and the --address to trace, or UsageError."""
    try:
        planned = plan.node(node)
    except KeyError:
        names = ", ".join(n.name for n in plan.nodes[:20])
        raise UsageError(
            f"{node!r} is not a node of {plan.cluster_name} ({plan.source})",
            fix=f"use one of: {names}",
        ) from None
    try:
        target = IPv6Address(address) if address is not None else None
    except ValueError:
        raise UsageError(
            f"--address {address!r} is not an IPv6 address",
            fix="give one address, e.g. --address 2001:db8::10",
        ) from None
    return planned, target


def _summary(report: TraceReport, table: str) -> None:
    found = report.packets
    stderr.print(
        f"{len(found)} packet(s) traced; table ip6 {table} removed"
        + (":" if found else " (nothing matched: is traffic flowing to this node?)")
    )
    for packet in found:
        stderr.print("  " + packet.summary(), highlight=False)
