"""`kube6 trace`: netfilter packet tracing on a node that always leaves the rule set as it was.

The guide added ip6tables TRACE rules and removed them by line number, which deletes the wrong
rule as soon as anything else changed the chain. kube6 instead creates its own nftables table,
`ip6 kube6-trace-<token>`, in one atomic batch (`nft -f -`, starting with `create table`, which
fails rather than adopt a table that exists), marks the matching packets with `meta nftrace set
1` in two chains hooked before conntrack (prerouting for what arrives, output for what the node
sends), reads `nft monitor trace`, and finally deletes that table and nothing else, also after
an error, a timeout or Ctrl-C.

Reading happens in windows of a few seconds (`timeout N setpriv --pdeathsig KILL nft monitor
trace`) because an executor returns a command's output when it ends; `timeout` on the node also
guarantees that the monitor stops there even when the connection to it breaks. Packets in the
few milliseconds between two windows are not shown.

    session = trace_session(TraceFilter(), token="a1b2c3")
    report = await run_trace(executor, session, duration=10)
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Literal

from kube6.errors import CommandError, Kube6Error
from kube6.execute import Command, Executor

FAMILY = "ip6"
TABLE_PREFIX = "kube6-trace-"
PRIORITY = -350
"""Before conntrack (-200) and the raw table (-300): every packet is marked before any verdict."""
TOKEN = re.compile(r"^[0-9a-f]{4,16}$")
MISSING_TABLE = ("No such file or directory", "does not exist")
"""What `nft delete table` says when there is no such table."""


class TraceCleanupError(Kube6Error):
    """kube6 could not delete its own trace table; the message has the command to run."""


@dataclass(frozen=True)
class TraceFilter:
    """What to trace: ICMPv6 echo by default, or traffic to and from an address and/or port."""

    address: IPv6Address | None = None
    port: int | None = None
    protocol: Literal["tcp", "udp"] = "tcp"

    def __post_init__(self) -> None:
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is outside 1-65535")

    def matches(self) -> list[str]:
        """nft match expressions, one per rule: each direction of the traced traffic."""
        if self.address is None and self.port is None:
            return ["icmpv6 type { echo-request, echo-reply }"]
        rules: list[str] = []
        for addr_key, port_key in (("daddr", "dport"), ("saddr", "sport")):
            parts: list[str] = []
            if self.address is not None:
                parts.append(f"ip6 {addr_key} {self.address}")
            if self.port is not None:
                parts.append(f"{self.protocol} {port_key} {self.port}")
            rules.append(" ".join(parts))
        # An address alone gives the same expression twice only if it were symmetrical; it
        # never is (daddr vs saddr), so the two rules are distinct.
        return rules

    def describe(self) -> str:
        if self.address is None and self.port is None:
            return "ICMPv6 echo request and reply"
        what = f"{self.protocol} port {self.port}" if self.port is not None else "all traffic"
        return f"{what} to and from {self.address}" if self.address is not None else what


@dataclass(frozen=True)
class TraceSession:
    """Everything one trace runs, built before anything runs: setup, monitor and cleanup."""

    table: str
    setup: Command
    cleanup: Command
    filter: TraceFilter
    comment: str

    def monitor(self, seconds: float) -> Command:
        """One reading window: `timeout` ends nft on the node after `seconds`.

        `setpriv --pdeathsig KILL` ties nft to `timeout`: when kube6 kills the window early
        (Ctrl-C), `timeout` dies and nft must not live on as an orphan holding the monitor.
        """
        argv = ("timeout", f"{seconds:g}", "setpriv", "--pdeathsig", "KILL", "nft", "monitor")
        return Command((*argv, "trace"), timeout=seconds + 15)


def trace_session(flt: TraceFilter, token: str | None = None) -> TraceSession:
    """The commands of one trace, with a random table name unless `token` is given."""
    token = token if token is not None else secrets.token_hex(4)
    if not TOKEN.match(token):
        raise ValueError(f"trace token {token!r} must be 4-16 lowercase hex digits")
    table = f"{TABLE_PREFIX}{token}"
    comment = f"kube6 trace {token}"
    lines = [f"create table {FAMILY} {table}"]
    for chain, hook in (("pre", "prerouting"), ("out", "output")):
        lines.append(
            f"add chain {FAMILY} {table} {chain} "
            f"{{ type filter hook {hook} priority {PRIORITY}; policy accept; }}"
        )
    for chain in ("pre", "out"):
        for match in flt.matches():
            lines.append(
                f'add rule {FAMILY} {table} {chain} {match} meta nftrace set 1 comment "{comment}"'
            )
    # One batch: nft applies all of it or none of it.
    setup = Command(("nft", "-f", "-"), stdin="\n".join(lines) + "\n", timeout=30)
    cleanup = Command(("nft", "delete", "table", FAMILY, table), timeout=30)
    return TraceSession(table=table, setup=setup, cleanup=cleanup, filter=flt, comment=comment)


# ---- reading the trace ---------------------------------------------------------------------

_LINE = re.compile(
    r"^trace id (?P<id>[0-9a-f]+) (?P<family>\S+) (?P<table>\S+) (?P<chain>\S+) "
    r"(?P<kind>packet:|rule|verdict|policy|unknown)\s*(?P<detail>.*?)\s*$"
)


@dataclass(frozen=True)
class TraceEvent:
    """One line of `nft monitor trace`."""

    id: str
    family: str
    table: str
    chain: str
    kind: str
    detail: str


def parse_trace(text: str) -> list[TraceEvent]:
    """The events in `nft monitor trace` output; lines that are not trace events are skipped."""
    events: list[TraceEvent] = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            events.append(
                TraceEvent(
                    id=match["id"],
                    family=match["family"],
                    table=match["table"],
                    chain=match["chain"],
                    kind=match["kind"].rstrip(":"),
                    detail=match["detail"],
                )
            )
    return events


_FIELDS = {
    "iif": re.compile(r'\biif "([^"]+)"'),
    "oif": re.compile(r'\boif "([^"]+)"'),
    "src": re.compile(r"\bip6 saddr (\S+)"),
    "dst": re.compile(r"\bip6 daddr (\S+)"),
    "icmpv6": re.compile(r"\bicmpv6 type (\S+)"),
    "sport": re.compile(r"\b(?:tcp|udp) sport (\d+)"),
    "dport": re.compile(r"\b(?:tcp|udp) dport (\d+)"),
}


@dataclass(frozen=True)
class TracedPacket:
    """One traced packet: what it was and the verdicts it met on its way through the node."""

    id: str
    fields: dict[str, str] = field(hash=False)
    path: tuple[str, ...]

    def summary(self) -> str:
        f = self.fields
        where = f"in {f['iif']}" if "iif" in f else f"out {f.get('oif', '?')}"
        what = f.get("icmpv6") or "/".join(x for x in (f.get("sport", ""), f.get("dport", "")) if x)
        return f"{f.get('src', '?')} -> {f.get('dst', '?')} {what} ({where}): " + ", ".join(
            self.path
        )


def packets(events: list[TraceEvent]) -> list[TracedPacket]:
    """Group events by trace id into packets, in the order they were first seen."""
    order: dict[str, list[TraceEvent]] = {}
    for event in events:
        order.setdefault(event.id, []).append(event)
    found: list[TracedPacket] = []
    for trace_id, group in order.items():
        fields: dict[str, str] = {}
        path: list[str] = []
        for event in group:
            if event.kind == "packet" and not fields:
                fields = {
                    k: m.group(1) for k, rx in _FIELDS.items() if (m := rx.search(event.detail))
                }
            elif event.kind in ("verdict", "policy"):
                path.append(
                    f"{event.family} {event.table} {event.chain}: {event.kind} {event.detail}"
                )
            elif event.kind == "rule" and "(verdict " in event.detail:
                verdict = event.detail.rsplit("(verdict ", 1)[1].rstrip(")")
                if verdict != "continue":
                    path.append(f"{event.family} {event.table} {event.chain}: rule -> {verdict}")
        found.append(TracedPacket(trace_id, fields, tuple(path)))
    return found


# ---- running it ----------------------------------------------------------------------------


@dataclass
class TraceReport:
    """What a trace saw, and whether its table is gone again."""

    table: str
    output: list[str] = field(default_factory=list)
    removed: bool = False

    @property
    def text(self) -> str:
        return "".join(self.output)

    @property
    def packets(self) -> list[TracedPacket]:
        return packets(parse_trace(self.text))


def _missing_table(result_text: str) -> bool:
    return any(marker in result_text for marker in MISSING_TABLE)


async def run_trace(
    executor: Executor,
    session: TraceSession,
    *,
    duration: float,
    window: float = 2.0,
    on_output: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TraceReport:
    """Add the trace table, read the trace for `duration` seconds, remove the table.

    The table is removed in every case (error, timeout, KeyboardInterrupt, cancellation); if
    that fails, TraceCleanupError says which command to run on the node. `on_output` receives
    each window's output as it arrives.
    """
    if duration <= 0 or window <= 0:
        raise ValueError(f"duration and window must be positive, got {duration} and {window}")
    report = TraceReport(session.table)
    # None: we do not know whether the table exists (interrupted while nft ran).
    added: bool | None = None
    try:
        try:
            await executor.run(session.setup)
        except Exception:
            # nft refused the batch (it is atomic: nothing was added) or never ran.
            added = False
            raise
        added = True
        deadline = clock() + duration
        while (left := deadline - clock()) > 0:
            result = await executor.run(session.monitor(min(window, left)), check=False)
            if result.stdout:
                report.output.append(result.stdout)
                if on_output is not None:
                    on_output(result.stdout)
            if result.exit_code is None:
                # Killed by a signal: Ctrl-C in a terminal reaches nft on this machine too,
                # sometimes before it reaches kube6. Stop reading; the table goes either way.
                break
            # 124: `timeout` ended nft, which is how every window ends.
            if result.exit_code not in (0, 124):
                raise CommandError(
                    host=executor.host,
                    command=session.monitor(window).display,
                    exit_code=result.exit_code,
                    stdout=result.stdout,
                    stderr=result.stderr,
                )
    finally:
        if added is not False:
            report.removed = await _remove(executor, session, must_exist=added is True)
    return report


async def _remove(executor: Executor, session: TraceSession, *, must_exist: bool) -> bool:
    try:
        result = await executor.run(session.cleanup, check=False)
    except Exception as exc:
        raise TraceCleanupError(
            f"could not remove the trace table {session.table} on {executor.host}: {exc}",
            fix=f"run on {executor.host}: {session.cleanup.display}",
        ) from exc
    if result.ok:
        return True
    if not must_exist and _missing_table(result.stderr):
        return False
    raise TraceCleanupError(
        f"could not remove the trace table {session.table} on {executor.host} "
        f"(exit {result.exit_code}): {result.stderr.strip()}",
        fix=f"run on {executor.host}: {session.cleanup.display}",
    )
