"""Name resolution on the host: resolvers, name lookups, and NAT64 prefix discovery (RFC 7050).

Lookups go through the host's own resolver library (`getent ahostsv6`, glibc), so they see
exactly what containerd, apt and kubelet will see there: /etc/hosts, systemd-resolved, the
DNS64 of the provider, or the lab's resolv.conf under `ip netns exec`. `ahostsv6` asks for AAAA
and, when a name has none, returns its A records as IPv4-mapped addresses (::ffff:a.b.c.d):
one command tells "IPv6", "IPv4 only" and "no such name" apart.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network

from kube6.facts.probe import Probe, fact_error


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...]
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def addresses(self) -> tuple[list[IPv6Address], list[str]]:
        """(IPv6 resolvers that pods can reach, the IPv4 ones as written). Zone indexes are
        dropped; loopback, link-local and other special addresses are left out of both."""
        from kube6 import net

        ipv6: list[IPv6Address] = []
        ipv4: list[str] = []
        for text in self.nameservers:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                continue
            if isinstance(address, IPv6Address):
                if net.describe_kind(address) is None:
                    ipv6.append(address)
            elif not (address.is_loopback or address.is_link_local):
                ipv4.append(text)
        return ipv6, ipv4

    @property
    def stub(self) -> bool:
        """Only systemd-resolved's local stub: the real servers are in its own file."""
        return bool(self.nameservers) and all(
            ns in {"127.0.0.53", "127.0.0.54"} for ns in self.nameservers
        )


def parse_resolv_conf(text: str) -> ResolvConf:
    """resolv.conf(5): nameserver, search/domain and options lines; comments with # or ;."""
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0][0] in "#;":
            continue
        if words[0] == "nameserver" and len(words) >= 2:
            address = words[1].split("%", 1)[0]
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise fact_error("resolv.conf", text, f"{words[1]!r} is not an address") from None
            nameservers.append(words[1])
        elif words[0] in {"search", "domain"}:
            search = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return ResolvConf(tuple(nameservers), tuple(search), tuple(options))


@dataclass(frozen=True)
class Lookup:
    """What the host's resolver says about one name."""

    name: str
    ipv6: tuple[IPv6Address, ...] = ()
    """AAAA answers, lowest first: real ones, or synthesized by a DNS64 (inside its NAT64
    prefix)."""
    ipv4: tuple[IPv4Address, ...] = ()
    """A answers, lowest first, reported only when there is no AAAA (glibc maps them into
    ::ffff:0:0/96)."""
    error: str = ""
    """Why nothing came back (`no such name`, a resolver failure)."""
    connect: bool | None = None
    """TCP connection to the first (lowest) IPv6 answer: True/False, None when not tried."""
    connect_detail: str = ""

    @property
    def resolved(self) -> bool:
        return bool(self.ipv6 or self.ipv4)


def parse_getent(name: str, text: str) -> Lookup:
    """`getent ahostsv6 NAME` (exit 0): `ADDRESS SOCKTYPE [CANONNAME]` lines.

    The answers are sorted: resolvers rotate round-robin records, and two runs of `kube6 check`
    must print (and connect to) the same addresses.
    """
    ipv6: set[IPv6Address] = set()
    ipv4: set[IPv4Address] = set()
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        try:
            address = IPv6Address(words[0].split("%", 1)[0])
        except ValueError:
            raise fact_error(
                f"`getent ahostsv6 {name}`", text, f"{words[0]!r} is not an address"
            ) from None
        mapped = address.ipv4_mapped
        if mapped is not None:
            ipv4.add(mapped)
        else:
            ipv6.add(address)
    return Lookup(name, tuple(sorted(ipv6)), tuple(sorted(ipv4)))


def lookup_probe(name: str) -> Probe[Lookup]:
    """Resolve `name` through the host's resolver. Exit 2 from getent is "no such name"."""

    def parse(text: str) -> Lookup:
        if not text.strip():
            return Lookup(name, error="no such name (no AAAA and no A record)")
        return parse_getent(name, text)

    return Probe(f"lookup {name}", ("getent", "ahostsv6", name), parse, frozenset({0, 2}))


CONNECT_SCRIPT = 'exec 3<>"/dev/tcp/$1/$2"'
"""bash opens a TCP connection for the redirection; exit 0 means the handshake completed."""


def connect_argv(address: IPv6Address, port: int, timeout: int) -> tuple[str, ...]:
    """A TCP connect test that needs only coreutils and bash (present on Debian and Ubuntu)."""
    return ("timeout", str(timeout), "bash", "-c", CONNECT_SCRIPT, "kube6", str(address), str(port))


IPV4ONLY_ARPA = "ipv4only.arpa"
WELL_KNOWN_IPV4 = (IPv4Address("192.0.0.170"), IPv4Address("192.0.0.171"))
"""The A records of ipv4only.arpa (RFC 7050 section 2.2, RFC 8880)."""

# RFC 6052 section 2.2: where the 32 IPv4 bits sit for each prefix length (byte offsets in the
# IPv6 address; byte 8, bits 64-71, is always zero and skipped).
_EMBEDDING: dict[int, tuple[int, ...]] = {
    96: (12, 13, 14, 15),
    64: (9, 10, 11, 12),
    56: (7, 9, 10, 11),
    48: (6, 7, 9, 10),
    40: (5, 6, 7, 9),
    32: (4, 5, 6, 7),
}


def extract_ipv4(address: IPv6Address, prefixlen: int) -> IPv4Address:
    """The IPv4 address embedded in `address` with a NAT64 prefix of length `prefixlen`."""
    data = address.packed
    return IPv4Address(bytes(data[i] for i in _EMBEDDING[prefixlen]))


def nat64_prefixes(addresses: tuple[IPv6Address, ...]) -> tuple[IPv6Network, ...]:
    """NAT64 prefixes from the synthesized AAAA answers for ipv4only.arpa (RFC 7050 3.1).

    For each answer, try the RFC 6052 lengths from /96 down and keep the first at which a
    well-known address of ipv4only.arpa appears, with byte 8 zero as RFC 6052 requires.
    Sorted by address, then length, whatever order the answers came in: the first is the one
    `kube6 init` proposes.
    """
    found: list[IPv6Network] = []
    for address in addresses:
        if address.ipv4_mapped is not None:
            continue
        for length in _EMBEDDING:
            if length < 96 and address.packed[8] != 0:
                continue
            if extract_ipv4(address, length) not in WELL_KNOWN_IPV4:
                continue
            prefix = IPv6Network((int(address) >> (128 - length) << (128 - length), length))
            if prefix not in found:
                found.append(prefix)
            break
    return tuple(sorted(found, key=lambda p: (p.network_address, p.prefixlen)))


@dataclass(frozen=True)
class Nat64:
    """RFC 7050 discovery on the host: prefixes found, or why none."""

    prefixes: tuple[IPv6Network, ...]
    lookup: Lookup

    @property
    def dns64(self) -> bool:
        """The host's resolvers synthesize AAAA records (a DNS64 is in the path)."""
        return bool(self.prefixes)

    @property
    def prefix(self) -> IPv6Network | None:
        return self.prefixes[0] if self.prefixes else None


def discover_nat64(lookup: Lookup) -> Nat64:
    """Pure: the NAT64 prefix(es) that a lookup of ipv4only.arpa reveals."""
    return Nat64(nat64_prefixes(lookup.ipv6), lookup)


RESOLV_CONF = Probe("resolv.conf", ("cat", "/etc/resolv.conf"), parse_resolv_conf)
RESOLVED_CONF_PATH = "/run/systemd/resolve/resolv.conf"
"""systemd-resolved's list of the real upstream servers (present only when it runs)."""
