"""The lab's provider router as a BGP speaker (routing `bgp`): BIRD 2 on the upstream router.

Every node of the plan is its neighbour, in the cluster's AS, with the password of
`bgp.password_file` when the spec has one (TCP MD5, as Vultr's routers); what a node announces
(its pod blocks, the service and LoadBalancer ranges) goes into the router's kernel table, so
the internet reaches them through that node; nothing is announced back. The router's address
on the node link must be the spec's `bgp.peer`.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from kube6.errors import Kube6Error
from kube6.lab.layout import Layout
from kube6.plan.model import Plan

ROUTER_ID = "192.0.2.254"
"""The router's BGP identifier (a documentation address: BGP IDs are 32-bit)."""


def peer_address(layout: Layout) -> IPv6Address:
    """The router's address on the node link: what `bgp.peer` must be in a lab's spec."""
    return layout.segments[0].router


def bird_config(plan: Plan, layout: Layout, password: str | None) -> str:
    """BIRD 2's configuration of the router for `plan`; `password` as bgp_password.read_password
    gives it (no double quote)."""
    bgp = plan.bgp
    if bgp is None:
        raise Kube6Error(
            f"the lab's BGP router needs a plan with routing bgp; this one has {plan.routing}",
            fix="set routing: bgp and a bgp: section in kube6.yaml",
        )
    routers = {seg.router for seg in layout.segments}
    if len(layout.segments) != 1 or bgp.peer not in routers:
        raise Kube6Error(
            f"bgp.peer {bgp.peer} is not the lab router's address on the node link "
            f"({', '.join(str(r) for r in sorted(routers))})",
            fix=f"set bgp.peer: {peer_address(layout)} in kube6.yaml (the lab's router; all nodes "
            "on one link), or run the lab without its BGP router (`kube6 lab up --no-bgp-router`)",
        )
    signed = f'\n  password "{password}";' if password else ""
    lines = [
        "# kube6 lab: the provider's BGP router. Every node is a neighbour; their routes go",
        "# into this router's kernel table; nothing is announced back.",
        f"router id {ROUTER_ID};",
        "log stderr all;",
        "protocol device { scan time 2; }",
        "protocol kernel {",
        "  ipv6 { import none; export all; };",
        "  merge paths yes;  # a range announced by several nodes: one route via each",
        "}",
    ]
    for node in plan.nodes:
        lines += [
            f"protocol bgp node_{node.name.replace('-', '_')} {{",
            f"  local {bgp.peer} as {bgp.peer_as};",
            f"  neighbor {node.address} as {bgp.as_number};{signed}",
            "  connect retry time 5;",
            "  error wait time 1, 5;",
            "  ipv6 { import all; export none; };",
            "}",
        ]
    return "\n".join(lines) + "\n"
