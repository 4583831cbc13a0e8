"""The provider's link model of a node's prefix, read from its facts (pure; issue 17 item 2).

The host's own routes cannot tell (a /64 on eth0 is "proto kernel" whether the provider
routes it or puts it on the link); the wire can (kube6.facts.link). `classify` weighs the
evidence, strongest first:

1. the default gateway solicited an address of the prefix that no node has: the router
   resolves the prefix by NDP -> `on-link`;
2. a packet for such an address arrived at this host's MAC: the router sends the prefix here
   -> `routed`;
3. the router advertises the prefix with L=1 (a received RA, rdisc6, or the on-link route
   with a lifetime that the kernel made from one) -> `on-link`;
4. otherwise `unknown`, with hints (an RA with L=0, a /128 address) and what was missing.

`kube6 check` judges the spec's routing mode by it (kube6.checks.link); `kube6 init` proposes
a mode from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from kube6.facts.gather import HostFacts
from kube6.facts.link import Listen, RaPrefix
from kube6.modes import LinkModel


@dataclass(frozen=True)
class Classification:
    """The provider's link model as seen from one node, with what decided it."""

    model: LinkModel
    why: str
    """One clause: what decided the model (or why nothing did)."""
    seen: tuple[str, ...]
    """Every piece of evidence, one a line."""
    missing: tuple[str, ...]
    """What could not be seen or did not happen (for `unknown`: how to find out)."""
    listened: bool = True
    """The listener ran: an `unknown` then means nothing knocked, not that nothing could."""

    @property
    def evidence(self) -> tuple[str, ...]:
        return (
            f"model: {self.model}",
            *(f"seen: {line}" for line in self.seen),
            *(f"missing: {line}" for line in self.missing),
        )


def classify(
    facts: HostFacts,
    interface: str,
    prefix: IPv6Network,
    nodes: Iterable[IPv6Address],
    claimed: Sequence[IPv6Network] = (),
) -> Classification:
    """The link model of `prefix` on `interface` from `facts` (pure). `nodes` are the plan's
    node addresses: the router resolves those in every model."""
    seen: list[str] = []
    missing: list[str] = []
    local = {a.address for i in facts.interfaces or () for a in i.addresses if a.address in prefix}
    known = set(nodes) | local
    on_link_ra = _host_config(facts, interface, prefix, seen, missing)
    from_router = _router(facts, interface, seen, missing)
    link = facts.link
    advertised: list[RaPrefix] = list(link.rdisc6 or ()) if link else []
    asked: list[str] = []
    delivered: list[str] = []
    if link is None:
        missing.append("the uplink was not listened on")
    else:
        missing += [f"{what}: {why}" for what, why in link.unknown]
    listen = link.listen if link else None
    if listen is not None:
        # Whether anything came, not how much: the count follows the operator's own SSH
        # session, and the evidence of two runs on one host should read alike.
        traffic = "IPv6 traffic received" if listen.packets else "no IPv6 packet at all"
        seen.append(
            f"listened {listen.seconds:g} s on {listen.interface} ({listen.mac}): {traffic}"
        )
        missing += [f"listener: {note}" for note in listen.notes]
        advertised += listen.advertised
        asked, delivered = _traffic(listen, prefix, known, claimed, from_router, seen)
        if not asked and not delivered:
            missing.append(
                f"no solicitation from the router and no packet for an address of {prefix} "
                f"that no node has, in {listen.seconds:g} s (nobody knocked: ping one, e.g. "
                f"{_example(prefix, known)}, from outside while `kube6 check` runs)"
            )
    # The listener and rdisc6 often see the same advertisement: show it once.
    relevant = list(dict.fromkeys(ra for ra in advertised if ra.prefix.overlaps(prefix)))
    seen += [
        f"router advertisement from {ra.router}: {ra.prefix} "
        f"L={int(ra.on_link)} A={int(ra.autonomous)}"
        for ra in relevant
    ]
    if not relevant and not on_link_ra:
        missing.append("no router advertisement for the prefix")
    model, why = _decide(prefix, asked, delivered, relevant, on_link_ra, facts)
    return Classification(model, why, tuple(seen), tuple(missing), listen is not None)


def _decide(
    prefix: IPv6Network,
    asked: Sequence[str],
    delivered: Sequence[str],
    advertised: Sequence[RaPrefix],
    on_link_ra: bool,
    facts: HostFacts,
) -> tuple[LinkModel, str]:
    """The strongest evidence wins: what the router did, then what it advertises."""
    if asked:
        return LinkModel.ON_LINK, (
            f"the router solicited {asked[0]}, an address of {prefix} that no node has: "
            "it resolves every address of the prefix by NDP"
        )
    if delivered:
        return LinkModel.ROUTED, (
            f"a packet for {delivered[0]}, an address of {prefix} that no node has, arrived "
            "at this host's MAC: the router sends the prefix here"
        )
    on_link = [ra for ra in advertised if ra.on_link and prefix.subnet_of(ra.prefix)]
    if on_link or on_link_ra:
        source = f"from {on_link[0].router}" if on_link else "(the kernel's route from its RA)"
        return LinkModel.ON_LINK, f"the router advertises {prefix} on-link (L=1) {source}"
    hints = []
    if any(not ra.on_link for ra in advertised):
        hints.append("the router advertises the prefix with L=0 (not on-link): a hint of routed")
    addresses = [a for i in facts.interfaces or () for a in i.addresses if a.address in prefix]
    if any(a.prefixlen == 128 for a in addresses):
        hints.append("the address is a /128: a hint of routed")
    return LinkModel.UNKNOWN, "nothing seen decides it" + (
        f" ({'; '.join(hints)})" if hints else ""
    )


def _host_config(
    facts: HostFacts, interface: str, prefix: IPv6Network, seen: list[str], missing: list[str]
) -> bool:
    """Show the host's addresses and on-link routes of the prefix (what the host was told);
    True when the kernel holds an on-link route for it learned from an RA (L=1)."""
    on_link_ra = False
    for iface in facts.interfaces or ():
        for a in iface.addresses:
            if a.address in prefix and a.scope == "global":
                how = "SLAAC/DHCPv6" if a.dynamic else "static"
                seen.append(f"address {a.address}/{a.prefixlen} on {iface.name} ({how})")
    if facts.routes is None:
        missing.append(f"routes: {facts.why_unknown('routes')}")
    for route in facts.routes or ():
        if not (route.on_link and route.dst is not None and prefix.subnet_of(route.dst)):
            continue
        if (route.from_ra or route.expires is not None) and route.dev == interface:
            # A prefix route with a lifetime comes from an RA's prefix option with L=1 (the
            # kernel marks it proto kernel or ra, depending on the version).
            on_link_ra = True
            seen.append(
                f"route {route.dst} dev {route.dev} proto {route.proto} expires "
                f"{route.expires}s: learned from the router's advertisement (L=1: on-link)"
            )
        else:
            seen.append(
                f"route {route.dst} dev {route.dev} proto {route.proto}: this host's own "
                "configuration (says nothing of the router)"
            )
    return on_link_ra


def _router(
    facts: HostFacts, interface: str, seen: list[str], missing: list[str]
) -> Callable[[IPv6Address, str], bool]:
    """Who the router is: the default gateway on the uplink, by address or by its MAC."""
    gateways = {r.gateway for r in facts.default_routes if r.dev == interface and r.gateway}
    neighbours = (facts.link.neighbours if facts.link else None) or ()
    macs = {n.address: n.mac for n in neighbours if n.mac}
    if gateways:
        shown = ", ".join(f"{g} ({macs.get(g, 'MAC unknown')})" for g in sorted(gateways))
        seen.append(f"default gateway on {interface}: {shown}")
    else:
        missing.append(f"no default route via a gateway on {interface}: the router is unknown")
    gateway_macs = {macs[g] for g in gateways if g in macs}

    def from_router(address: IPv6Address, mac: str) -> bool:
        return address in gateways or mac in gateway_macs

    return from_router


def _traffic(
    listen: Listen,
    prefix: IPv6Network,
    known: set[IPv6Address],
    claimed: Sequence[IPv6Network],
    from_router: Callable[[IPv6Address, str], bool],
    seen: list[str],
) -> tuple[list[str], list[str]]:
    """(addresses the router solicited, addresses delivered here), both of the prefix and held
    by no node; every solicitation and delivery goes into `seen`."""
    asked: list[str] = []
    delivered: list[str] = []
    for ns in listen.solicitations:
        if ns.target not in prefix or ns.target in known:
            continue
        who = f"{ns.source} ({ns.source_mac})"
        if from_router(ns.source, ns.source_mac):
            asked.append(str(ns.target))
            seen.append(f"the router {who} solicited {ns.target} ({ns.count}x)")
        else:
            seen.append(
                f"{who} solicited {ns.target} ({ns.count}x): not the default gateway, so it "
                "says only that that host sees the prefix on its link"
            )
    for packet in listen.deliveries:
        target = packet.destination
        if target in known or any(target in r for r in claimed):
            continue
        delivered.append(str(target))
        seen.append(
            f"{packet.count} packet(s) from {packet.source} ({packet.source_mac}) for {target} "
            "arrived at this host's MAC"
        )
    return asked, delivered


def _example(prefix: IPv6Network, known: set[IPv6Address]) -> IPv6Address:
    candidate = IPv6Address(int(prefix.network_address) + 0x5CA1AB1E % prefix.num_addresses)
    while candidate in known:
        candidate = IPv6Address(int(candidate) - 1)
    return candidate
