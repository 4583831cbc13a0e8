"""Pure IPv6 helpers on `ipaddress` types: parsing with messages that say what to do, carving."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv6Address, IPv6Network

GUA = IPv6Network("2000::/3")
ULA = IPv6Network("fc00::/7")


def describe_kind(address: ipaddress.IPv4Address | IPv6Address) -> str | None:
    """Why an address cannot be a cluster address, or None when it can be (GUA or ULA)."""
    if isinstance(address, ipaddress.IPv4Address):
        return "an IPv4 address"
    kinds = (
        (bool(address.scope_id), "a scoped (zone) address"),
        (address.ipv4_mapped is not None, "an IPv4-mapped address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "the loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (
            address not in GUA and address not in ULA,
            "not a global (2000::/3) or unique-local (fc00::/7) address",
        ),
    )
    return next((why for matches, why in kinds if matches), None)


def parse_address(text: str) -> IPv6Address:
    """Parse a usable cluster address, e.g. `parse_address("2001:db8::1")`.

    Raises ValueError with the bad input quoted and the reason it is refused.
    """
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv6 address") from None
    kind = describe_kind(address)
    if kind is not None:
        raise ValueError(
            f"{text!r} is {kind}; kube6 needs a global or unique-local IPv6 address "
            "(see `ip -6 addr show scope global`)"
        )
    assert isinstance(address, IPv6Address)
    return address


def parse_network(text: str, *, any_scope: bool = False) -> IPv6Network:
    """Parse a prefix such as `2001:db8:1234:5678::/64`; host bits are an error, not rounded."""
    text = text.strip()
    if "/" not in text:
        raise ValueError(f"{text!r} has no prefix length; write it as e.g. '{text}/64'")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IPv6 prefix: {exc}") from None
    if network.version == 4:
        raise ValueError(f"{text!r} is an IPv4 prefix; kube6 builds IPv6 single-stack clusters")
    assert isinstance(network, IPv6Network)
    if _has_host_bits(text):
        raise ValueError(f"{text!r} has host bits set; did you mean '{network}'?")
    if not any_scope:
        kind = describe_kind(network.network_address)
        if kind is not None:
            raise ValueError(
                f"{text!r} is {kind.replace('address', 'prefix')}; kube6 needs a global "
                "(2000::/3) or unique-local (fc00::/7) prefix"
            )
    return network


def _has_host_bits(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return True
    return False


def is_unique_local(network: IPv6Network) -> bool:
    return network.subnet_of(ULA)


def nth(network: IPv6Network, index: int) -> IPv6Address:
    """The address `index` positions after the network address (0 is the network address)."""
    return IPv6Address(int(network.network_address) + index)


def subnet_at(network: IPv6Network, new_prefix: int, index: int) -> IPv6Network:
    """The `index`-th subnet of length `new_prefix` inside `network`, without enumerating."""
    if new_prefix < network.prefixlen:
        raise ValueError(f"/{new_prefix} does not fit inside {network}")
    size = 1 << (128 - new_prefix)
    base = int(network.network_address) + index * size
    subnet = IPv6Network((base, new_prefix))
    if not subnet.subnet_of(network):
        raise ValueError(f"subnet {index} of length /{new_prefix} is outside {network}")
    return subnet


def offset_network(base: IPv6Network, offset: int, prefixlen: int) -> IPv6Network:
    """The /`prefixlen` network at `offset` (an integer) inside `base`."""
    return IPv6Network((int(base.network_address) + offset, prefixlen))


def supernet_of(networks: list[IPv6Network]) -> IPv6Network:
    """The smallest single prefix that covers every network in `networks`."""
    first = networks[0]
    lo = min(int(n.network_address) for n in networks)
    hi = max(int(n.broadcast_address) for n in networks)
    length = first.prefixlen
    while length > 0:
        candidate = IPv6Network((lo, length), strict=False)
        if int(candidate.network_address) <= lo and int(candidate.broadcast_address) >= hi:
            return candidate
        length -= 1
    return IPv6Network("::/0")


def bracket(address: IPv6Address | str, port: int | None = None) -> str:
    """`[2001:db8::1]:6443` as URLs and host:port values need it."""
    return f"[{address}]:{port}" if port is not None else f"[{address}]"
