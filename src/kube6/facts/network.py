"""Probes of the IPv6 network: addresses, routes, per-interface sysctls, listening ports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_address
from typing import Any

from kube6.facts.probe import Probe, fact_error

FOREVER = 4294967295  # iproute2's "forever" lifetime


@dataclass(frozen=True)
class Address:
    """One IPv6 address on an interface, with the kernel's flags."""

    address: IPv6Address
    prefixlen: int
    scope: str
    temporary: bool = False
    """An RFC 8981 privacy address: it changes, so it cannot be a node address."""
    deprecated: bool = False
    """Preferred lifetime over: still valid, no longer used for new connections."""
    tentative: bool = False
    dadfailed: bool = False
    dynamic: bool = False
    """Learned from router advertisements (SLAAC) or DHCPv6, with a finite lifetime."""
    valid_lft: int = FOREVER
    preferred_lft: int = FOREVER

    @property
    def network(self) -> IPv6Network:
        return IPv6Network((self.address, self.prefixlen), strict=False)

    @property
    def stable(self) -> bool:
        """Usable as a node address: global, not temporary, deprecated or failed."""
        return self.scope == "global" and not (
            self.temporary or self.deprecated or self.dadfailed or self.tentative
        )


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    up: bool
    mtu: int
    addresses: tuple[Address, ...]
    """Lowest address first: the kernel's order follows when each address was added, so it
    changes as SLAAC and DHCPv6 renew them."""

    @property
    def global_addresses(self) -> tuple[Address, ...]:
        return tuple(a for a in self.addresses if a.scope == "global")


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fact_error(what, text, f"not JSON ({exc.msg} at character {exc.pos})") from None
    except RecursionError:
        raise fact_error(what, text, "JSON nested too deeply") from None


def parse_addresses(text: str) -> tuple[Interface, ...]:
    """`ip -j -6 addr show`: interfaces with their IPv6 addresses (none on an IPv4-only host)."""
    what = "`ip -j -6 addr show`"
    data = _json(text, what) if text.strip() else []
    if not isinstance(data, list):
        raise fact_error(what, text, "expected a JSON list of interfaces")
    interfaces = []
    for entry in data:
        if entry == {}:
            continue  # iproute2 before 5.x prints {} for each interface that -6 filtered out
        try:
            addresses = sorted(
                (
                    Address(
                        address=IPv6Address(info["local"]),
                        prefixlen=int(info["prefixlen"]),
                        scope=str(info.get("scope", "global")),
                        temporary=bool(info.get("temporary", False)),
                        deprecated=bool(info.get("deprecated", False))
                        or info.get("preferred_life_time") == 0,
                        tentative=bool(info.get("tentative", False)),
                        dadfailed=bool(info.get("dadfailed", False)),
                        dynamic=bool(info.get("dynamic", False)),
                        valid_lft=int(info.get("valid_life_time", FOREVER)),
                        preferred_lft=int(info.get("preferred_life_time", FOREVER)),
                    )
                    for info in entry.get("addr_info", [])
                    if info.get("family", "inet6") == "inet6"
                ),
                key=lambda a: (a.address, a.prefixlen),
            )
            flags = entry.get("flags", [])
            interfaces.append(
                Interface(
                    name=str(entry["ifname"]),
                    index=int(entry.get("ifindex", 0)),
                    up="UP" in flags,
                    mtu=int(entry.get("mtu", 0)),
                    addresses=tuple(addresses),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise fact_error(what, text, f"an interface entry is incomplete ({exc!r})") from None
    return tuple(interfaces)


@dataclass(frozen=True)
class Route:
    """One IPv6 route of the main table. `dst` None is the default route."""

    dst: IPv6Network | None
    dev: str
    gateway: IPv6Address | None = None
    proto: str = "boot"
    """kernel (on-link, from an address), ra (router advertisement), static, boot (added by
    hand or by ifupdown), dhcp, ..."""
    metric: int = 0
    expires: int | None = None
    kind: str = "unicast"

    @property
    def is_default(self) -> bool:
        return self.dst is None

    @property
    def on_link(self) -> bool:
        """A prefix reached without a router (not link-local): what the provider put on-link."""
        return (
            self.dst is not None
            and self.gateway is None
            and self.kind == "unicast"
            and not self.dst.is_link_local
            and not self.dst.is_multicast
            and self.dst.prefixlen < 128
        )

    @property
    def from_ra(self) -> bool:
        return self.proto == "ra"


def parse_routes(text: str) -> tuple[Route, ...]:
    """`ip -j -6 route show table main`. iproute2 leaves out `protocol` when it is `boot`."""
    what = "`ip -j -6 route show`"
    data = _json(text, what) if text.strip() else []
    if not isinstance(data, list):
        raise fact_error(what, text, "expected a JSON list of routes")
    routes = []
    for entry in data:
        try:
            dst_text = str(entry["dst"])
            if dst_text == "default":
                dst = None
            else:
                dst = IPv6Network(dst_text if "/" in dst_text else f"{dst_text}/128")
            gateway = entry.get("gateway")
            routes.append(
                Route(
                    dst=dst,
                    dev=str(entry.get("dev", "")),
                    gateway=IPv6Address(gateway) if gateway else None,
                    proto=str(entry.get("protocol", "boot")),
                    metric=int(entry.get("metric", 0)),
                    expires=int(entry["expires"]) if "expires" in entry else None,
                    kind=str(entry.get("type", "unicast")),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise fact_error(what, text, f"a route entry is incomplete ({exc!r})") from None
    return tuple(routes)


SYSCTL_KEYS = ("forwarding", "accept_ra", "proxy_ndp", "disable_ipv6")
SYSCTL_DIR = "/proc/sys/net/ipv6/conf/"


def parse_ipv6_conf(text: str) -> Mapping[str, Mapping[str, int]]:
    """`grep -r -H . /proc/sys/net/ipv6/conf --include=KEY...`: interface -> {key: value}.

    `all` and `default` appear as interfaces. Empty output means no IPv6 in the kernel.
    """
    conf: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        path, sep, value = line.rpartition(":")
        if not sep or not path.startswith(SYSCTL_DIR):
            raise fact_error(SYSCTL_DIR, text, f"cannot read the line {line!r}")
        interface, _, key = path.removeprefix(SYSCTL_DIR).rpartition("/")
        try:
            conf.setdefault(interface, {})[key] = int(value.strip())
        except ValueError:
            raise fact_error(SYSCTL_DIR, text, f"{path} is not a number: {value!r}") from None
    return conf


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket: `address` is `*`, `0.0.0.0`, `::` or a specific address."""

    address: str
    port: int

    @property
    def wildcard(self) -> bool:
        return self.address in {"*", "0.0.0.0", "::"}  # noqa: S104 - reading, not binding

    @property
    def loopback_only(self) -> bool:
        try:
            return ip_address(self.address).is_loopback
        except ValueError:
            return False


def parse_listeners(text: str) -> tuple[Listener, ...]:
    """`ss -Hltn`: State Recv-Q Send-Q Local:Port Peer:Port per line (no header)."""
    listeners = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if len(words) < 5 or words[0] != "LISTEN":
            raise fact_error("`ss -Hltn`", text, f"cannot read the line {line!r}")
        local = words[3]
        host, sep, port = local.rpartition(":")
        if not sep or not port.isdigit():
            raise fact_error("`ss -Hltn`", text, f"no port in {local!r}")
        host = host.split("%", 1)[0]  # [::1]%lo: the interface a socket is bound to
        if host.startswith("["):
            host = host[1:].split("]", 1)[0]
        listeners.append(Listener(host, int(port)))
    return tuple(listeners)


ADDRESSES = Probe("addresses", ("ip", "-j", "-6", "addr", "show"), parse_addresses)
ROUTES = Probe("routes", ("ip", "-j", "-6", "route", "show", "table", "main"), parse_routes)
IPV6_CONF = Probe(
    "sysctl",
    ("grep", "-r", "-H", ".", SYSCTL_DIR.rstrip("/"), *(f"--include={k}" for k in SYSCTL_KEYS)),
    parse_ipv6_conf,
    # grep exits 2 when a file cannot be read (some per-interface files are write-only on
    # some kernels) yet prints the rest; 1 when nothing matched (no IPv6 at all).
    ok_codes=frozenset({0, 1, 2}),
)
LISTENERS = Probe("listeners", ("ss", "-Hltn"), parse_listeners)
