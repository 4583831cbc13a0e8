"""What `kube6 init` learns from this host: a pure reading of HostFacts, and the local gather
(which also listens on the uplink for the provider's link model, as `kube6 check` does)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from ipaddress import IPv6Address, IPv6Network

from kube6 import net
from kube6.errors import SpecError
from kube6.execute import Executor, LocalExecutor
from kube6.facts.gather import HostFacts, gather
from kube6.facts.link import LISTEN_SECONDS, gather_link
from kube6.facts.link_model import classify
from kube6.facts.network import Address
from kube6.init import InitAnswers, NodeAnswer, propose_routing
from kube6.modes import LinkModel


def answers_from_facts(facts: HostFacts) -> InitAnswers:
    """Pick the uplink, its stable global address and on-link prefix, resolvers and NAT64.

    The uplink is the interface of the default route. Its address is a global (or unique-local)
    one that is neither temporary (privacy), deprecated, tentative nor failed DAD; among those a
    permanent (static) address wins over a SLAAC one, then the lowest address.
    """
    defaults = facts.default_routes
    if not defaults:
        raise SpecError(
            [
                "this host has no default IPv6 route, so kube6 cannot tell its uplink; "
                "give --prefix and --node NAME=ADDRESS (and fix the route: Calico needs one)"
            ],
            source="host detection",
        )
    uplink = sorted(defaults, key=lambda r: r.metric)[0]
    interface = facts.interface(uplink.dev)
    candidates = [a for a in (interface.addresses if interface else ()) if _usable(a)]
    if not candidates:
        raise SpecError(
            [
                f"the uplink {uplink.dev} has no stable global IPv6 address (temporary, "
                "deprecated and link-local ones do not count); give --node NAME=ADDRESS"
            ],
            source="host detection",
        )
    # A global address wins over a unique-local one (fc00::/7 is not reachable from outside).
    chosen = sorted(candidates, key=lambda a: (_ula(a.address), a.dynamic, int(a.address)))[0]
    on_link = [
        r.dst
        for r in facts.routes or ()
        if r.dst is not None and r.on_link and r.dev == uplink.dev and chosen.address in r.dst
    ]
    if on_link:
        prefix: IPv6Network = max(on_link, key=lambda n: n.prefixlen)
    else:
        prefix = IPv6Network((int(chosen.address), chosen.prefixlen), strict=False)
    name = _node_name(facts.uname.hostname if facts.uname else "")
    ipv6_resolvers, ipv4_resolvers = _resolvers(facts)
    resolvers = tuple(ipv6_resolvers)
    warnings = []
    if ipv4_resolvers and not resolvers:
        warnings.append(
            f"this host resolves names through IPv4 only ({', '.join(ipv4_resolvers)}): "
            "CoreDNS would forward there, and IPv6-only pods cannot reach it. Set "
            "dns.resolvers in kube6.yaml to IPv6 resolvers (your provider's, or a DNS64 "
            "service when you need IPv4-only names), e.g. resolvers: [2001:db8::53]"
        )
    nat64 = facts.nat64.prefix if facts.nat64 else None
    scope = (
        "unique-local (ULA): not reachable from the internet" if _ula(chosen.address) else "global"
    )
    notes = [
        f"uplink {uplink.dev} (default route via {uplink.gateway or 'on-link'}, "
        f"proto {uplink.proto})",
        f"address {chosen.address}/{chosen.prefixlen} "
        f"({'SLAAC, stable' if chosen.dynamic else 'static'}, {scope})",
    ]
    found = LinkModel.UNKNOWN
    if facts.link is not None:
        link = classify(facts, uplink.dev, prefix, (chosen.address,))
        found = link.model
        notes.append(f"provider's link: {link.model}: {link.why}")
    routing = propose_routing(prefix, bool(on_link), found)
    if found is LinkModel.UNKNOWN:
        route = "on-link here" if on_link else "not on-link here"
        notes.append(
            f"prefix {prefix} ({route}: {routing}, a guess from this host's own routes; "
            "`kube6 check` tells once the uplink shows the provider's link model)"
        )
    else:
        notes.append(f"prefix {prefix} (routing {routing} fits the provider's link)")
    if nat64:
        notes.append(f"DNS64 synthesizes with {nat64} (RFC 7050, ipv4only.arpa)")
    return InitAnswers(
        cluster="",
        prefix=prefix,
        routing=routing,
        nodes=(NodeAnswer(name, chosen.address, interface=uplink.dev),),
        resolvers=resolvers,
        nat64_prefix=nat64,
        notes=tuple(notes),
        warnings=tuple(warnings),
    )


ULA = IPv6Network("fc00::/7")


def _ula(address: IPv6Address) -> bool:
    return address in ULA


def _usable(address: Address) -> bool:
    return (
        address.scope == "global"
        and not (address.temporary or address.deprecated or address.tentative)
        and not address.dadfailed
        and address.preferred_lft > 0
        and net.describe_kind(address.address) is None
    )


def _node_name(hostname: str) -> str:
    label = re.sub(r"[^a-z0-9-]", "-", hostname.split(".", maxsplit=1)[0].lower()).strip("-")[:63]
    return label.strip("-") or "node0001"


def _resolvers(facts: HostFacts) -> tuple[list[IPv6Address], list[str]]:
    conf = (
        facts.resolved_conf if facts.resolv_conf and facts.resolv_conf.stub else facts.resolv_conf
    )
    return conf.addresses() if conf else ([], [])


def detect_local() -> InitAnswers:
    """Gather this host's facts (read-only) and read the answers from them."""
    return asyncio.run(detect(LocalExecutor("this host")))


async def detect(executor: Executor, listen_seconds: float = LISTEN_SECONDS) -> InitAnswers:
    """Read the host through `executor`, then listen on the uplink it found for the provider's
    link model (kube6.facts.link), and answer from both."""
    facts = await gather(executor, "this host", connect=False)
    first = answers_from_facts(facts)  # raises when there is no uplink or address to use
    node = first.nodes[0]
    if node.interface is None or first.prefix is None:
        return first
    link = await gather_link(executor, node.interface, first.prefix, listen_seconds)
    return answers_from_facts(replace(facts, link=link))
