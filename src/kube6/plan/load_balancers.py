"""The LoadBalancer range: where it goes in the prefix, how large, and its Calico block.

It defaults to a /120 (256 addresses): a cluster has a few LoadBalancer Services (one per
exposed application; the gateway gathers most behind one), each address reached from outside
costs an entry in the provider router's neighbour table on an on-link prefix, a /120 is one
Calico block (as a node's pods are), and it fits the tight layouts too. Its place follows the
layout of `kube6.plan.layout`: `P:8:4::/120` in a /64, the fourth /64 of a /56 or /48, the
second quarter of a longer prefix. The rules (`load-balancer-size`, `load-balancers-reachable`,
`load-balancers-avoid-routers`, and the overlap rules) judge it.
"""

from __future__ import annotations

from ipaddress import IPv6Network

from kube6 import net
from kube6.plan.model import Choice, LoadBalancers
from kube6.spec import Network

DEFAULT_LOAD_BALANCER_SIZE = 120
MIN_LOAD_BALANCER_PREFIX = 112
"""65,536 LoadBalancer addresses, each a Service of its own: more is a mistake, not a need."""
MIN_BLOCK, MAX_BLOCK = 116, 128
"""Calico's IPv6 block sizes (kube6.plan.layout.MIN_BLOCK; layout imports this module)."""


def default_load_balancers(prefix: IPv6Network, length: int) -> IPv6Network:
    """The default LoadBalancer range of `length` inside `prefix` (the module docstring)."""
    if prefix.prefixlen == 63:
        return default_load_balancers(net.subnet_at(prefix, 64, 0), length)
    if prefix.prefixlen == 64:
        return net.offset_network(prefix, (0x8 << 48) | (0x4 << 32), length)
    if prefix.prefixlen < 64:
        return net.subnet_at(net.subnet_at(prefix, 64, 3), length, 0)
    quarter = prefix.prefixlen + 2
    return net.subnet_at(net.subnet_at(prefix, quarter, 1), max(length, quarter), 0)


def plan_load_balancers(
    network: Network,
    prefixes: tuple[IPv6Network, ...],
    services_link: IPv6Network,
    choices: list[Choice],
    where: str,
) -> LoadBalancers:
    """The LoadBalancer range (set, or planned beside the services), its block and link."""
    if network.load_balancers is not None:
        cidr = network.load_balancers
        choices.append(Choice("load_balancers", str(cidr), "set", "network.load_balancers"))
    else:
        length = network.load_balancer_size or DEFAULT_LOAD_BALANCER_SIZE
        if not MIN_LOAD_BALANCER_PREFIX <= length <= 128:
            # The load-balancer-size rule refuses it with the number; plan the default meanwhile.
            length = DEFAULT_LOAD_BALANCER_SIZE
        cidr = default_load_balancers(services_link, length)
        size = (
            "network.load_balancer_size"
            if network.load_balancer_size
            else f"{1 << (128 - DEFAULT_LOAD_BALANCER_SIZE)} addresses, one per LoadBalancer "
            "Service: room for many, and few entries in the provider router's neighbour table"
        )
        choices.append(
            Choice(
                "load_balancers",
                str(cidr),
                "default",
                f"{where}; {size}",
            )
        )
    # One block when the range allows it: Calico's IPv6 blocks are /116 to /128.
    block = min(MAX_BLOCK, max(MIN_BLOCK, cidr.prefixlen))
    link = next((p for p in prefixes if cidr.subnet_of(p)), None)
    return LoadBalancers(cidr=cidr, block_size=block, link=link)
