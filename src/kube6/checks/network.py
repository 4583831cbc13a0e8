"""Host checks of the network: the uplink, the node address, the default route, forwarding, and
whether the prefix is on-link as the routing mode expects.
"""

from __future__ import annotations

from ipaddress import IPv6Network

from kube6.checks.context import Context, fail, ok, unknown, warn
from kube6.checks.model import CheckResult
from kube6.routing import strategy


def _sysctl_fix(*settings: str) -> str:
    return "sysctl -w " + " ".join(settings)


def check_uplink(ctx: Context) -> list[CheckResult]:
    node, facts = ctx.node, ctx.facts
    if facts.interfaces is None:
        return [unknown(facts, "addresses")]
    present = [i.name for i in facts.interfaces]
    interface = facts.interface(node.interface)
    if interface is None:
        defaults = sorted({r.dev for r in facts.default_routes})
        hint = f" (the default route uses {', '.join(defaults)})" if defaults else ""
        return [
            fail(
                f"interface {node.interface!r} of node {node.name} is not on this host{hint}",
                f"set nodes[{node.name}].interface in kube6.yaml to the uplink{hint}",
                f"interfaces: {', '.join(present) or 'none with IPv6'}",
            )
        ]
    if not interface.up:
        return [
            fail(
                f"interface {node.interface} is down",
                f"ip link set {node.interface} up (and fix the network configuration)",
            )
        ]
    return [ok(f"uplink {node.interface} is up", f"mtu {interface.mtu}")]


def check_node_address(ctx: Context) -> list[CheckResult]:
    node, facts = ctx.node, ctx.facts
    if facts.interfaces is None:
        return [unknown(facts, "addresses")]
    stable = [f"{a.address} ({i.name})" for i in facts.interfaces for a in i.addresses if a.stable]
    evidence = "stable global addresses here: " + (", ".join(stable) or "none")
    for interface in facts.interfaces:
        for address in interface.addresses:
            if address.address != node.address:
                continue
            if address.temporary:
                return [
                    fail(
                        f"{node.address} is a temporary (privacy) address: it will change",
                        "choose a stable address for nodes[].address (one of the stable ones "
                        "below), or give the host a static one",
                        evidence,
                    )
                ]
            if address.deprecated or address.dadfailed or address.tentative:
                state = "deprecated" if address.deprecated else "not usable (DAD)"
                return [
                    fail(
                        f"{node.address} is {state} on {interface.name}",
                        "renew the address (check the router advertisements or DHCPv6), or "
                        "choose a stable one for nodes[].address",
                        evidence,
                    )
                ]
            if interface.name != node.interface:
                return [
                    warn(
                        f"{node.address} is on {interface.name}, but the plan's uplink is "
                        f"{node.interface}",
                        f"set nodes[{node.name}].interface: {interface.name} in kube6.yaml",
                        evidence,
                    )
                ]
            note = " (learned by SLAAC/DHCPv6: keep it stable)" if address.dynamic else ""
            return [ok(f"{node.address} is on {interface.name}{note}", evidence)]
    return [
        fail(
            f"node address {node.address} of {node.name} is not on this host",
            f"add it (ip -6 addr add {node.address}/{node.link_prefix.prefixlen} dev "
            f"{node.interface}, and in the network configuration), or correct "
            "nodes[].address in kube6.yaml",
            evidence,
        )
    ]


def check_default_route(ctx: Context) -> list[CheckResult]:
    node, facts = ctx.node, ctx.facts
    if facts.routes is None:
        return [unknown(facts, "routes")]
    defaults = facts.default_routes
    if not defaults:
        return [
            fail(
                "there is no default IPv6 route: Calico and every download need one",
                f"add one (ip -6 route add default via <router> dev {node.interface}) in "
                "the network configuration, or enable router advertisements on the uplink",
                "ip -6 route show default: (empty)",
            )
        ]
    route = min(defaults, key=lambda r: r.metric)
    via = f"via {route.gateway} dev {route.dev} proto {route.proto}"
    if not route.from_ra:
        return [ok(f"default route {via} (configured, not learned)", via)]
    accept_ra = facts.sysctl(route.dev, "accept_ra")
    if accept_ra is None:
        return [unknown(facts, "sysctl")]
    networkd = facts.services.get("systemd-networkd") if facts.services else None
    if accept_ra == 2:
        return [ok(f"default route {via}; accept_ra=2 keeps it with forwarding on", via)]
    if accept_ra == 0 and networkd is not None and networkd.running:
        return [
            ok(
                f"default route {via}; systemd-networkd handles router advertisements itself",
                f"{via}; accept_ra=0; systemd-networkd active",
            )
        ]
    fix = _sysctl_fix(f"net.ipv6.conf.{_key(route.dev)}.accept_ra=2")
    message = (
        f"the default route comes from router advertisements on {route.dev}, and "
        f"accept_ra={accept_ra}: once forwarding is on the kernel ignores them and the route "
        "expires"
    )
    if route.dev == node.interface:
        return [
            warn(
                message + f" (`kube6 up` writes accept_ra=2 for {route.dev} before forwarding)",
                fix,
                f"{via}; accept_ra={accept_ra}",
            )
        ]
    return [
        fail(
            message + f"; the plan's uplink is {node.interface}, so `up` would not fix it",
            f"{fix}; and set nodes[{node.name}].interface: {route.dev} in kube6.yaml",
            f"{via}; accept_ra={accept_ra}",
        )
    ]


def _key(interface: str) -> str:
    # sysctl(8) reads dots as separators; VLAN names such as eth0.100 are written eth0/100.
    return interface.replace(".", "/")


def check_forwarding(ctx: Context) -> list[CheckResult]:
    facts = ctx.facts
    if facts.ipv6_conf is None:
        return [unknown(facts, "sysctl")]
    if not facts.ipv6_conf:
        return [
            fail(
                "the kernel has no IPv6 (no /proc/sys/net/ipv6/conf)",
                "remove ipv6.disable=1 from the kernel command line and reboot",
            )
        ]
    values = {scope: facts.sysctl(scope, "forwarding") for scope in ("all", "default")}
    evidence = ", ".join(f"net.ipv6.conf.{k}.forwarding={v}" for k, v in values.items())
    off = [scope for scope, value in values.items() if value != 1]
    if not off:
        return [ok("IPv6 forwarding is on (all and default)", evidence)]
    return [
        warn(
            f"IPv6 forwarding is off on {' and '.join(off)}; pods and services need it "
            "(`kube6 up` turns it on)",
            _sysctl_fix(*(f"net.ipv6.conf.{scope}.forwarding=1" for scope in off)),
            evidence,
        )
    ]


def _covers(route_dst: IPv6Network | None, prefix: IPv6Network) -> bool:
    return route_dst is not None and prefix.subnet_of(route_dst)


def check_prefix(ctx: Context) -> list[CheckResult]:
    plan, node, facts = ctx.plan, ctx.node, ctx.facts
    if facts.routes is None:
        return [unknown(facts, "routes")]
    prefix = node.link_prefix
    on_link = [r for r in facts.routes if r.on_link and _covers(r.dst, prefix)]
    evidence = (
        "on-link: " + ", ".join(f"{r.dst} dev {r.dev} proto {r.proto}" for r in on_link)
        if on_link
        else "no on-link route covers " + str(prefix)
    )
    # Unnamed, as every finding here: the table names it.
    return strategy(plan.routing).judge_prefix("", node, prefix, on_link, evidence)
