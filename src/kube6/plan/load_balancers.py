"""The LoadBalancer range: where it goes in the prefix, how large, and its Calico block.

It defaults to a /120 (256 addresses): a cluster has a few LoadBalancer Services (one per
exposed application; the gateway gathers most behind one), each address reached from outside
costs an entry in the provider router's neighbour table on an on-link prefix, a /120 is one
Calico block (as a node's pods are), and it fits the tight layouts too. Its place follows the
layout of `kube6.plan.layout`: `P:8:4::/120` in a /64, the fourth /64 of a /56 or /48, the
second quarter of a longer prefix. The rules (`load-balancer-size`, `load-balancers-reachable`,
`load-balancers-avoid-routers`, and the overlap rules) judge it.

The kube6 Gateway takes one address of the range (address 1 unless `addons.gateway.address`
says otherwise; the rule `gateway-address` holds it inside the range).
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from kube6 import net
from kube6.plan.model import Choice, LoadBalancers
from kube6.spec import Network
from kube6.spec.addons import Gateway

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


def default_gateway_address(cidr: IPv6Network) -> IPv6Address:
    """The gateway's address in the range `cidr`: its address 1, easy to tell and to type
    (`P:8:4::1`), or the only address of a /128."""
    return cidr[1] if cidr.num_addresses > 1 else cidr[0]


def plan_gateway_address(
    gateway: Gateway, cidr: IPv6Network, choices: list[Choice]
) -> IPv6Address | None:
    """The address the gateway's Service asks for (set, or address 1 of the range)."""
    if not gateway.enabled:
        return None
    if gateway.address is not None:
        choices.append(
            Choice("gateway_address", str(gateway.address), "set", "addons.gateway.address")
        )
        return gateway.address
    address = default_gateway_address(cidr)
    choices.append(
        Choice(
            "gateway_address",
            str(address),
            "default",
            f"address 1 of the LoadBalancer range {cidr}: the gateway's Service asks Calico "
            "for it, so the gateway's AAAA records stay put while nodes come and go",
        )
    )
    return address


def plan_load_balancers(
    network: Network,
    gateway: Gateway,
    prefixes: tuple[IPv6Network, ...],
    services_link: IPv6Network,
    choices: list[Choice],
    where: str,
) -> LoadBalancers:
    """The LoadBalancer range (set, or planned beside the services), its block, its link and
    the gateway's address in it."""
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
    return LoadBalancers(
        cidr=cidr,
        block_size=block,
        link=link,
        gateway=plan_gateway_address(gateway, cidr, choices),
    )
