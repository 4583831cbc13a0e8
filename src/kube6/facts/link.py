"""What the provider's router does with the node's prefix, seen from the node (issue 17 item 2).

The host's routes say only what the host was told (a /64 on eth0 is "proto kernel" whether the
provider routes the /64 or puts it on the link). What the router does shows on the wire:

- an on-link router resolves every address of the prefix by neighbour solicitation, so a
  solicitation from it for an address no node has (a scanner's, or a pod's) proves `on-link`;
- a routing router sends packets for any address of the prefix to the node's MAC: a packet that
  arrives for an address nothing here has proves `routed`;
- a router advertisement's prefix information says on-link (L=1) or not (L=0).

`listen_probe` listens on the uplink for a few seconds and reports those packets, aggregated;
`rdisc6_probe` asks the routers for an advertisement when ndisc6's `rdisc6` is installed. Both
are read-only: the listener is a packet socket that receives and never sends (it asks the
interface for all multicast while it is open, as tcpdump asks for more, so that solicitations
for addresses this host has not joined reach it; the kernel drops that request when the socket
closes), rdisc6 sends one router solicitation. Parsers are pure and tested on recorded output.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import TypeVar

from kube6.errors import FactError
from kube6.execute import Executor
from kube6.facts.probe import Probe, fact_error

T = TypeVar("T")

LISTEN_SECONDS = 4.0
"""Long enough for a router's solicitation retries (1 s apart) or a scanner's next knock."""
MAX_KEYS = 64
"""Distinct (kind, source, address) lines the listener reports: a busy link stays one screen."""

# Run by `python3 -I -c` on the host (argv: interface, seconds, prefix). Only the standard
# library; prints one line per distinct event at the end, so the output is bounded. Lines:
#   listen IFNAME MAC SECONDS            first, once the socket is open
#   note TEXT                            something that limits what can be seen
#   ns SRC_MAC SRC TARGET COUNT          neighbour solicitations received
#   host SRC_MAC SRC DST COUNT           packets to this host's MAC for an address of PREFIX
#   ra SRC_MAC SRC PREFIX/LEN L A COUNT  prefix information of router advertisements
#   done PACKETS                         last: IPv6 packets received in the window
LISTENER = r"""
import select, socket, struct, sys, time
name, seconds, prefix = sys.argv[1], float(sys.argv[2]), sys.argv[3]
net, _, plen = prefix.partition("/")
want, plen = socket.inet_pton(socket.AF_INET6, net), int(plen)
def inside(a):
    n, r = divmod(plen, 8)
    return a[:n] == want[:n] and (r == 0 or (a[n] ^ want[n]) >> (8 - r) == 0)
def ip(b):
    return socket.inet_ntop(socket.AF_INET6, b)
def mac(b):
    return ":".join("%02x" % c for c in b) or "-"
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
s.bind((name, 0))
try:  # PACKET_ADD_MEMBERSHIP, PACKET_MR_ALLMULTI: undone when the socket closes
    s.setsockopt(263, 1, struct.pack("iHH8s", socket.if_nametoindex(name), 2, 0, b""))
except OSError as e:
    print("note all-multicast refused (%s): solicitations for others may be filtered" % e)
own = open("/sys/class/net/%s/address" % name).read().strip()
# This host's own addresses: their traffic (SSH sessions...) says nothing and would crowd
# the bounded report.
local = {bytes.fromhex(line.split()[0]) for line in open("/proc/net/if_inet6")}
print("listen", name, own, seconds, flush=True)
seen, total, end = {}, 0, time.monotonic() + seconds
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    if not select.select([s], [], [], left)[0]:
        continue
    data, addr = s.recvfrom(65535)
    if addr[2] == 4 or len(data) < 40 or data[0] >> 4 != 6:
        continue  # our own packets, or not IPv6
    total += 1
    src, dst, nh = data[8:24], data[24:40], data[6]
    keys = []
    if nh == 58 and len(data) >= 64 and data[40] == 135 and data[48:64] not in local:
        keys.append(("ns", mac(addr[4]), ip(src), ip(data[48:64])))
    elif nh == 58 and len(data) >= 56 and data[40] == 134:
        at = 56
        while at + 8 <= len(data) and data[at + 1]:
            size = data[at + 1] * 8
            if data[at] == 3 and size == 32 and at + 32 <= len(data):
                o = data[at : at + 32]
                keys.append(("ra", mac(addr[4]), ip(src), "%s/%d" % (ip(o[16:32]), o[2]),
                             "L=%d" % (o[3] >> 7), "A=%d" % (o[3] >> 6 & 1)))
            at += size
    if addr[2] == 0 and inside(dst) and dst not in local:
        keys.append(("host", mac(addr[4]), ip(src), ip(dst)))
    for key in keys:
        if key in seen or len(seen) < %(max_keys)d:
            seen[key] = seen.get(key, 0) + 1
for key, count in seen.items():
    print(*key, count)
print("done", total)
""".replace("%(max_keys)d", str(MAX_KEYS))


def listen_argv(
    interface: str, prefix: IPv6Network, seconds: float = LISTEN_SECONDS
) -> tuple[str, ...]:
    """python3 first, so that a host without it reads "python3 is not installed"; the script
    ends itself after `seconds`, and the probe's timeout (gather.PROBE_TIMEOUT) bounds it too."""
    return ("python3", "-I", "-c", LISTENER, interface, str(seconds), str(prefix))


@dataclass(frozen=True)
class Solicitation:
    """A neighbour solicitation received: `source` asked who has `target`."""

    source: IPv6Address
    source_mac: str
    target: IPv6Address
    count: int


@dataclass(frozen=True)
class Delivery:
    """Packets sent to this host's MAC for `destination`, an address of the node's prefix."""

    source: IPv6Address
    source_mac: str
    destination: IPv6Address
    count: int


@dataclass(frozen=True)
class RaPrefix:
    """A prefix information option of a router advertisement (RFC 4861 4.6.2)."""

    router: IPv6Address
    prefix: IPv6Network
    on_link: bool
    """The L flag: the router says the prefix is on the link."""
    autonomous: bool
    """The A flag: hosts may form addresses in it (SLAAC)."""


@dataclass(frozen=True)
class Listen:
    """What the listener saw on `interface` in `seconds`."""

    interface: str
    mac: str
    seconds: float
    packets: int
    solicitations: tuple[Solicitation, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    advertised: tuple[RaPrefix, ...] = ()
    notes: tuple[str, ...] = ()


_MAC = re.compile(r"^([0-9a-f]{2}(:[0-9a-f]{2})*|-)$")


def parse_listen(text: str) -> Listen:
    """The listener's output (see LISTENER): raises FactError on lines it cannot read."""
    what = "the link listener's output"
    head: tuple[str, str, float] | None = None
    packets: int | None = None
    solicitations: list[Solicitation] = []
    deliveries: list[Delivery] = []
    advertised: list[RaPrefix] = []
    notes: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        kind = words[0]
        try:
            if kind == "note":
                notes.append(line.partition(" ")[2].strip())
            elif kind == "listen" and len(words) == 4 and head is None:
                head = (words[1], _mac(words[2]), float(words[3]))
            elif kind == "ns" and len(words) == 5:
                solicitations.append(
                    Solicitation(
                        IPv6Address(words[2]), _mac(words[1]), IPv6Address(words[3]), int(words[4])
                    )
                )
            elif kind == "host" and len(words) == 5:
                deliveries.append(
                    Delivery(
                        IPv6Address(words[2]), _mac(words[1]), IPv6Address(words[3]), int(words[4])
                    )
                )
            elif kind == "ra" and len(words) == 7:
                advertised.append(
                    RaPrefix(
                        IPv6Address(words[2]),
                        IPv6Network(words[3], strict=False),
                        _flag(words[4], "L"),
                        _flag(words[5], "A"),
                    )
                )
            elif kind == "done" and len(words) == 2:
                packets = int(words[1])
            else:
                raise ValueError("unexpected line")
        except ValueError as exc:
            raise fact_error(what, text, f"cannot read the line {line!r} ({exc})") from None
    if head is None or packets is None:
        missing = "the `listen` line" if head is None else "the `done` line"
        raise fact_error(what, text, f"{missing} is missing (the listener did not finish)")
    interface, mac, seconds = head
    return Listen(
        interface=interface,
        mac=mac,
        seconds=seconds,
        packets=packets,
        solicitations=tuple(solicitations),
        deliveries=tuple(deliveries),
        advertised=tuple(advertised),
        notes=tuple(notes),
    )


def _mac(text: str) -> str:
    if not _MAC.match(text):
        raise ValueError(f"{text!r} is not a MAC address")
    return text


def _flag(text: str, name: str) -> bool:
    if text not in (f"{name}=0", f"{name}=1"):
        raise ValueError(f"{text!r} is not {name}=0 or {name}=1")
    return text.endswith("1")


def listen_probe(
    interface: str, prefix: IPv6Network, seconds: float = LISTEN_SECONDS
) -> Probe[Listen]:
    return Probe("link listen", listen_argv(interface, prefix, seconds), parse_listen)


# --- rdisc6 (ndisc6) --------------------------------------------------------------------------

RDISC6_WAIT_MS = 1000
RDISC6_TRIES = 2


def rdisc6_argv(interface: str) -> tuple[str, ...]:
    """One router solicitation (retried once), numeric, up to 1 s for an answer each."""
    return ("rdisc6", "-n", "-1", "-w", str(RDISC6_WAIT_MS), "-r", str(RDISC6_TRIES), interface)


_RDISC6_PREFIX = re.compile(r"^\s*Prefix\s*:\s*(?P<prefix>\S+)\s*$")
_RDISC6_FLAG = re.compile(
    r"^\s*(?P<name>On-link|Autonomous address conf\.)\s*:\s*(?P<v>Yes|No)\s*$"
)
_RDISC6_FROM = re.compile(r"^\s*from\s+(?P<router>\S+)\s*$")


def parse_rdisc6(text: str) -> tuple[RaPrefix, ...]:
    """`rdisc6 -n -1 IF`: the advertised prefixes with their L and A flags; () when no router
    answered ("Timed out.")."""
    found: list[RaPrefix] = []
    current: dict[str, str] = {}
    pending: list[dict[str, str]] = []

    def close() -> None:
        if current:
            pending.append(dict(current))
            current.clear()

    for line in text.splitlines():
        if match := _RDISC6_PREFIX.match(line):
            close()
            current["prefix"] = match.group("prefix")
        elif (match := _RDISC6_FLAG.match(line)) and current:
            key = "L" if match.group("name") == "On-link" else "A"
            current[key] = match.group("v")
        elif match := _RDISC6_FROM.match(line):
            close()
            try:
                router = IPv6Address(match.group("router").split("%", 1)[0])
                for item in pending:
                    found.append(
                        RaPrefix(
                            router,
                            IPv6Network(item["prefix"], strict=False),
                            item.get("L") == "Yes",
                            item.get("A") == "Yes",
                        )
                    )
            except ValueError as exc:
                raise fact_error("`rdisc6` output", text, str(exc)) from None
            pending.clear()
    if pending or current:
        raise fact_error("`rdisc6` output", text, "a prefix without the router's `from` line")
    return tuple(found)


def rdisc6_probe(interface: str) -> Probe[tuple[RaPrefix, ...]]:
    # rdisc6 exits 2 when no router answered: an answer too (none), not a failure.
    return Probe("rdisc6", rdisc6_argv(interface), parse_rdisc6, ok_codes=frozenset({0, 2}))


@dataclass(frozen=True)
class Neighbour:
    address: IPv6Address
    mac: str | None
    """None while unresolved (INCOMPLETE, FAILED)."""


def parse_neighbours(text: str) -> tuple[Neighbour, ...]:
    """`ip -j -6 neigh show dev IF`: who is who on the link (the gateway's MAC tells the
    router's solicitations from another host's)."""
    what = "`ip -j -6 neigh show`"
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise fact_error(what, text, f"not JSON ({exc.msg})") from None
    if not isinstance(data, list):
        raise fact_error(what, text, "expected a JSON list of neighbours")
    found = []
    for entry in data:
        try:
            mac = entry.get("lladdr")
            found.append(
                Neighbour(IPv6Address(entry["dst"].split("%", 1)[0]), _mac(mac) if mac else None)
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise fact_error(what, text, f"a neighbour entry is incomplete ({exc!r})") from None
    return tuple(found)


def neighbours_probe(interface: str) -> Probe[tuple[Neighbour, ...]]:
    return Probe(
        "neighbours", ("ip", "-j", "-6", "neigh", "show", "dev", interface), parse_neighbours
    )


@dataclass(frozen=True)
class LinkFacts:
    """The wire's view of the uplink. None means not seen; `unknown` says why."""

    interface: str
    prefix: IPv6Network
    listen: Listen | None = None
    rdisc6: tuple[RaPrefix, ...] | None = None
    neighbours: tuple[Neighbour, ...] | None = None
    unknown: tuple[tuple[str, str], ...] = ()
    """(what, why) for each source that could not be read: a missing tool is evidence too."""


async def gather_link(
    executor: Executor, interface: str, prefix: IPv6Network, seconds: float = LISTEN_SECONDS
) -> LinkFacts:
    """Listen on `interface` and ask for a router advertisement, at the same time (the listen
    bounds the time). A source that cannot run is recorded in `unknown`, never raised."""
    unknown: list[tuple[str, str]] = []

    async def listening() -> Listen | None:
        return await _attempt(executor, listen_probe(interface, prefix, seconds), unknown)

    task = asyncio.create_task(listening())
    advertised = await _attempt(executor, rdisc6_probe(interface), unknown)
    listen = await task
    # After the listen: the router's entry is fresh once it has solicited or forwarded.
    neighbours = await _attempt(executor, neighbours_probe(interface), unknown)
    return LinkFacts(interface, prefix, listen, advertised, neighbours, tuple(unknown))


async def _attempt(executor: Executor, probe: Probe[T], unknown: list[tuple[str, str]]) -> T | None:
    from kube6.facts.gather import run_probe  # gather imports this module

    try:
        return await run_probe(executor, probe)
    except FactError as exc:
        unknown.append((probe.name, exc.message))
        return None
