"""The Plan as a stable JSON document (`kube6 plan --output json`)."""

from __future__ import annotations

from typing import Any

from kube6.plan.model import Plan
from kube6.results import SCHEMA_VERSION


def as_document(plan: Plan) -> dict[str, Any]:
    """A plain-data view of the plan; keys are stable across releases (schema_version)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "plan",
        "cluster": plan.cluster_name,
        "source": plan.source,
        "digest": plan.digest,
        "kubernetes": plan.kubernetes_version,
        "prefix": str(plan.prefix),
        "routing": str(plan.routing),
        "pods": {
            "cidr": str(plan.pods),
            "node_mask": plan.node_mask,
            "allocate_node_cidrs": plan.allocate_node_cidrs,
            "block_size": plan.block_size,
            "max_pods": plan.max_pods,
            "nat_outgoing": plan.nat_outgoing,
            "pools": [
                {
                    "name": pool.name,
                    "cidr": str(pool.cidr),
                    "block_size": pool.block_size,
                    "blocks": pool.blocks if pool.block_size >= pool.cidr.prefixlen else 0,
                    "nat_outgoing": pool.nat_outgoing,
                    "nodes": list(pool.nodes) if pool.nodes is not None else "all",
                    "node_selector": pool.node_selector,
                }
                for pool in plan.pools
            ],
        },
        "services": {
            "cidr": str(plan.services),
            "dns": str(plan.dns),
            "api": str(plan.api),
            "size": 1 << (128 - plan.services.prefixlen),
        },
        "load_balancers": {
            "cidr": str(plan.load_balancers.cidr),
            "size": plan.load_balancers.size,
            "block_size": plan.load_balancers.block_size,
            "link_prefix": str(plan.load_balancers.link) if plan.load_balancers.link else None,
            "gateway": str(plan.load_balancers.gateway) if plan.load_balancers.gateway else None,
        },
        "control_plane_endpoint": plan.control_plane_endpoint,
        "nodes": [
            {
                "name": node.name,
                "address": str(node.address),
                "roles": [str(r) for r in node.roles],
                "link_prefix": str(node.link_prefix),
                "interface": node.interface,
                "pool": node.pool,
                "ssh": node.ssh,
                "ndp_proxy": [
                    {"cidr": str(rule.cidr), "method": rule.method} for rule in node.ndp_rules
                ],
            }
            for node in plan.nodes
        ],
        "dns64": {
            "mode": plan.dns_settings.dns64,
            "nat64_prefix": str(plan.dns_settings.nat64_prefix)
            if plan.dns_settings.nat64_prefix
            else None,
        },
        "bgp": None
        if plan.bgp is None
        else {
            "peer": str(plan.bgp.peer),
            "peer_as": plan.bgp.peer_as,
            "as_number": plan.bgp.as_number,
            "router_id": plan.bgp.router_id,
            "advertise": [str(c) for c in plan.bgp.advertise],
            # Only where it is set: the path, never the password.
            **(
                {"password_file": plan.bgp.password_file}
                if plan.bgp.password_file is not None
                else {}
            ),
        },
        "choices": [
            {"name": c.name, "value": c.value, "source": c.source, "reason": c.reason}
            for c in plan.choices
        ],
        "rules": [r.to_json() for r in plan.rules],
        "ok": plan.ok,
    }
