"""The kube6 Gateway's public address, and how its Service asks Calico for it.

One home for what Envoy Gateway's EnvoyProxy (render.py) and Traefik's Service (traefik.py)
share: the plan's gateway address (`Plan.load_balancers.gateway`, an address of the
LoadBalancer range), the Service annotation that asks Calico's LoadBalancer controller for it,
and the externalTrafficPolicy that the routing mode allows (render.py's docstring says why).
"""

from __future__ import annotations

import json
from ipaddress import IPv6Address

from kube6.plan.model import Plan
from kube6.routing import strategy

LOAD_BALANCER_IPS = "projectcalico.org/loadBalancerIPs"
"""The Service annotation that asks Calico's LoadBalancer controller for given addresses (a
JSON list, at most one per family; calico kube-controllers, controllers/loadbalancer)."""


def gateway_address(plan: Plan) -> IPv6Address:
    """The gateway's public address (`Plan.load_balancers.gateway`; the gateway is on)."""
    address = plan.load_balancers.gateway
    if address is None:
        raise ValueError("the gateway is off in this plan: it has no address")
    return address


def service_annotations(plan: Plan) -> dict[str, str]:
    """The annotations of the gateway's Service: its address, asked of Calico."""
    return {LOAD_BALANCER_IPS: json.dumps([str(gateway_address(plan))])}


def traffic_policy(plan: Plan) -> str:
    """The gateway Service's externalTrafficPolicy for the plan's routing (render.py says why)."""
    return "Local" if strategy(plan.routing).keeps_client_address else "Cluster"


def reaches_gateway(plan: Plan) -> str:
    """One line for the rendered notes: where the gateway answers and how traffic gets there."""
    how = strategy(plan.routing)
    policy = traffic_policy(plan)
    kept = (
        "served by the proxy on that node, client addresses kept"
        if policy == "Local"
        else "spread over every proxy, client addresses masqueraded"
    )
    return (
        f"[{gateway_address(plan)}]:80/443, from the LoadBalancer range; it "
        f"comes in at {how.load_balancer_entry} (externalTrafficPolicy {policy}: {kept})"
    )
