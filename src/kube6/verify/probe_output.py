"""What the data-path probes' tools print, read (pure): bind9's and busybox's nslookup, iproute2's
`ip -o addr`, and the lines worth quoting from ping and nc. Tested on recorded output of each.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from kube6.execute import Result


def first_line(text: str, contains: str) -> str | None:
    """The first line of `text` that holds `contains`, stripped."""
    return next((line.strip() for line in text.splitlines() if contains in line), None)


@dataclass(frozen=True)
class Lookup:
    """What an `nslookup` printed: its AAAA answers, or why there are none."""

    answers: tuple[IPv6Address, ...] = ()
    error: str | None = None
    """"NXDOMAIN", "no answer", "timeout", or the resolver's own words; None with answers."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """The lines that say what went wrong, as printed."""


_NXDOMAIN = re.compile(r"server can't find .*: (?P<code>[A-Z]+)\s*$")
_UNREACHABLE = re.compile(r"timed out|no servers could be reached|connection refused", re.I)


def parse_nslookup(text: str) -> Lookup:
    """The AAAA answers in `nslookup -type=AAAA` output, from bind9's or busybox's nslookup.

    Both print the server first (`Address: S#53` from bind9, `Address: [S]:53` from busybox),
    then each answer as `Name:` followed by `Address:` lines; an answer through a CNAME adds a
    `canonical name =` line. Only addresses after the first answer line count, so the server's
    own address is never taken for an answer.
    """
    answers: list[IPv6Address] = []
    in_answers = False
    notes: list[str] = []
    code: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Name:") or "canonical name =" in line:
            in_answers = True
            continue
        found = _NXDOMAIN.search(line)
        if found:
            code = found.group("code")
            notes.append(line)
        elif "Can't find" in line or _UNREACHABLE.search(line):
            notes.append(line)
        if not in_answers:
            continue
        words = line.replace("Address:", "Address: ").split()
        if words[:1] == ["Address:"] or "AAAA address" in line:
            try:
                address = ipaddress.ip_address(words[-1])
            except ValueError:
                continue
            if isinstance(address, IPv6Address):
                answers.append(address)
    if answers:
        return Lookup(tuple(answers))
    if code is not None:
        return Lookup(error=code, notes=tuple(notes))
    if any(_UNREACHABLE.search(n) for n in notes):
        return Lookup(error="timeout", notes=tuple(notes))
    return Lookup(error="no answer", notes=tuple(notes))


def parse_global_addresses(stdout: str) -> list[ipaddress.IPv4Address | IPv6Address]:
    """Addresses in `ip -o addr show scope global` output, IPv4 ones included."""
    found: list[ipaddress.IPv4Address | IPv6Address] = []
    for line in stdout.splitlines():
        words = line.split()
        for family in ("inet", "inet6"):
            if family in words and words.index(family) + 1 < len(words):
                text = words[words.index(family) + 1].split("/")[0]
                try:
                    found.append(ipaddress.ip_address(text))
                except ValueError:
                    continue
    return found


def output(result: Result) -> str:
    """stdout and stderr together, stripped: what to quote of a failed probe."""
    return (result.stdout + result.stderr).strip()
