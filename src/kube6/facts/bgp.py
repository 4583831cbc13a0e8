"""Does the provider's BGP router accept this node as a neighbour? (routing `bgp`, `kube6 check`)

Before `up`, nothing on the node speaks BGP yet, and a misconfigured router (the node not a
neighbour, another AS expected, TCP 179 filtered) shows only later, as pods that the internet
cannot reach. So `check` opens the session the way calico-node's BIRD will (from the node's
planned address, with the cluster's AS) and stops at the handshake: it sends an OPEN, reads the
router's messages until the router accepts the OPEN (a KEEPALIVE) or rejects it (a
NOTIFICATION) or closes, then ends with a NOTIFICATION Cease (administrative reset: BIRD does
not count a Cease as an error, proto/bgp/packets.c). No route is exchanged, nothing stays; the
router logs one short session attempt. A router that refused the OPEN may refuse connections
for a while (BIRD's `error wait time`, 60 s at first). It is skipped where something already
listens on TCP 179 (calico-node's BIRD runs: a second session from the same address would
disturb the real one; `verify`'s `calico-bgp-sessions` reports that one).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Literal, get_args

from kube6.facts.network import Listener
from kube6.facts.probe import Probe, fact_error

BGP_PORT = 179
OPEN_SECONDS = 5
"""How long the router has to connect and answer the OPEN."""

# Run by `python3 -I -c` on the host (argv: peer, source, AS, router ID, seconds; standard
# input: the TCP MD5 password, empty for none). Only the modules of python3-minimal (a server
# may have no more: no `json`, so it writes its JSON itself); prints one JSON object:
#   {"result": "accepted", "as": N, "hold": N, "id": "a.b.c.d"}         the router's OPEN, then a
#                                                                       KEEPALIVE: ours was taken
#   {"result": "notification", "code": N, "subcode": N, "as": ...}     ours was refused (the
#                                                                       router's OPEN, if sent)
#   {"result": "closed" | "refused" | "timeout" | "unreachable", "detail": TEXT}
SPEAKER = r"""
import socket, struct, sys, time
peer, source, local_as, router_id, seconds = sys.argv[1:6]
local_as, deadline = int(local_as), time.monotonic() + float(seconds)
def message(kind, body):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body
caps = bytes([1, 4, 0, 2, 0, 1]) + bytes([65, 4]) + struct.pack("!I", local_as)
params = bytes([2, len(caps)]) + caps
two_octet = local_as if local_as <= 65535 else 23456
body = struct.pack("!BHH4sB", 4, two_octet, 90, socket.inet_aton(router_id), len(params)) + params
out = {}
def text(v):
    if isinstance(v, int):
        return str(v)
    v = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % "".join(
        c if " " <= c < "\x7f" else "\\u%04x" % ord(c) if ord(c) < 0x10000 else "?" for c in v
    )
def done(result, **more):
    out.update(result=result, **more)
    print("{" + ", ".join("%s: %s" % (text(k), text(v)) for k, v in out.items()) + "}")
    sys.exit(0)
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
try:
    s.bind((source, 0))
except OSError as e:
    done("unreachable", detail="cannot send from %s: %s (see node-address)" % (source, e.strerror))
key = sys.stdin.buffer.read()
if key:
    # struct tcp_md5sig: the peer as a sockaddr_storage, flags, prefix length, key length,
    # ifindex, the key (linux/tcp.h). The kernel signs every segment to that peer with it.
    peer_addr = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 0, 0)
    peer_addr += socket.inet_pton(socket.AF_INET6, peer) + struct.pack("=I", 0)
    md5 = peer_addr.ljust(128, b"\0") + struct.pack("=BBHI", 0, 0, len(key), 0)
    try:
        s.setsockopt(socket.IPPROTO_TCP, 14, md5 + key.ljust(80, b"\0"))
    except OSError as e:
        done("unreachable", detail="cannot sign with TCP MD5 here: %s" % (e.strerror or e))
try:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    s.connect((peer, 179))
except socket.timeout:
    done("timeout", detail="no answer to the TCP connection")
except ConnectionRefusedError:
    done("refused", detail="connection refused")
except OSError as e:
    done("unreachable", detail=e.strerror or str(e))
s.sendall(message(1, body))
buf = b""
def read(n):
    global buf
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            done("timeout", detail="no answer to the OPEN")
        s.settimeout(left)
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            done("timeout", detail="no answer to the OPEN")
        except OSError as e:
            done("closed", detail=e.strerror or str(e))
        if not chunk:
            done("closed", detail="the router closed the connection")
        buf += chunk
    data, buf = buf[:n], buf[n:]
    return data
while True:
    head = read(19)
    length, kind = struct.unpack("!HB", head[16:19])
    data = read(length - 19)
    if kind == 1:
        asn, hold, rid = struct.unpack("!xHH4s", data[:9])
        opt, i = data[10:10 + data[9]], 0
        while i + 2 <= len(opt):
            ptype, plen = opt[i], opt[i + 1]
            if ptype == 2:
                j, cap = 0, opt[i + 2:i + 2 + plen]
                while j + 2 <= len(cap):
                    if cap[j] == 65 and cap[j + 1] == 4:
                        asn = struct.unpack("!I", cap[j + 2:j + 6])[0]
                    j += 2 + cap[j + 1]
            i += 2 + plen
        out.update({"as": asn, "hold": hold, "id": socket.inet_ntoa(rid)})
    elif kind == 3:
        done("notification", code=data[0], subcode=data[1] if len(data) > 1 else 0)
    elif kind == 4:
        s.sendall(message(3, bytes([6, 4])))
        done("accepted")
"""

Outcome = Literal["accepted", "notification", "closed", "refused", "timeout", "unreachable"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True)
class BgpTarget:
    """Whom the node would peer with: the router, from the node's address, as the cluster's AS."""

    peer: IPv6Address
    source: IPv6Address
    local_as: int
    password: str | None = field(default=None, repr=False)
    """The TCP MD5 password the router expects (bgp.password_file), or None."""


@dataclass(frozen=True)
class BgpAnswer:
    """What the router did with the node's OPEN."""

    peer: IPv6Address
    source: IPv6Address
    result: Outcome
    peer_as: int | None = None
    """The AS in the router's OPEN (its 4-octet AS capability when sent)."""
    hold: int | None = None
    router_id: str | None = None
    code: int | None = None
    subcode: int | None = None
    detail: str = ""
    signed: bool = False
    """The handshake was signed with a TCP MD5 password."""


def probe_router_id(node: str) -> IPv4Address:
    """A BGP identifier for the probe's OPEN: a node has no IPv4 address, so one derived from
    its name (never 0.0.0.0, which BGP forbids)."""
    return IPv4Address(zlib.crc32(node.encode()) or 1)


def speaker_argv(
    peer: IPv6Address, source: IPv6Address, local_as: int, router_id: IPv4Address
) -> tuple[str, ...]:
    """python3 first, so that a host without it reads "python3 is not installed"."""
    return (
        "python3",
        "-I",
        "-c",
        SPEAKER,
        str(peer),
        str(source),
        str(local_as),
        str(router_id),
        str(OPEN_SECONDS),
    )


def parse_answer(
    text: str, peer: IPv6Address, source: IPv6Address, signed: bool = False
) -> BgpAnswer:
    try:
        data = json.loads(text)
    except ValueError:
        raise fact_error("the BGP handshake", text, "not JSON") from None
    result = data.get("result") if isinstance(data, dict) else None
    if result not in OUTCOMES:
        raise fact_error("the BGP handshake", text, f"unknown result {result!r}")

    def number(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) else None

    return BgpAnswer(
        peer=peer,
        source=source,
        result=result,
        peer_as=number("as"),
        hold=number("hold"),
        router_id=data.get("id") if isinstance(data.get("id"), str) else None,
        code=number("code"),
        subcode=number("subcode"),
        detail=str(data.get("detail", "")),
        signed=signed,
    )


HANDSHAKE = "bgp handshake"


def handshake_probe(node: str, target: BgpTarget) -> Probe[BgpAnswer]:
    signed = bool(target.password)
    return Probe(
        HANDSHAKE,
        speaker_argv(target.peer, target.source, target.local_as, probe_router_id(node)),
        lambda text: parse_answer(text, target.peer, target.source, signed),
        # Always some standard input, so that the speaker never waits for a terminal's.
        secret_stdin=target.password or "",
    )


def speaks_bgp(listeners: Iterable[Listener]) -> bool:
    """Something on the node already listens on TCP 179 (calico-node's BIRD)."""
    return any(listener.port == BGP_PORT for listener in listeners)


NOTIFICATIONS = {
    (2, 2): "bad peer AS: the router expects another AS from this node",
    (2, 3): "bad BGP identifier",
    (2, 5): "authentication failure: the router wants a TCP MD5 password",
    (2, 6): "unacceptable hold time",
    (2, 7): "unsupported capability",
    (6, 2): "administrative shutdown: the neighbour is disabled on the router",
    (6, 3): "peer de-configured",
    (6, 4): "administrative reset",
    (6, 5): "connection rejected: the router does not accept this neighbour",
}
"""RFC 4271 section 4.5 and RFC 4486 (Cease subcodes): what a router's NOTIFICATION means."""


def notification_text(code: int | None, subcode: int | None) -> str:
    known = NOTIFICATIONS.get((code or 0, subcode or 0))
    return f"NOTIFICATION {code}/{subcode}" + (f" ({known})" if known else "")
