"""Neighbour tables sized from the plan (issue 17 item 3): the formula, the kernel's floor, the
router's share, and the warning above what bench/ndp_scale.py measured ndppd sustaining."""

from __future__ import annotations

from typing import Any

from kube6.modes import Grade
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.plan.neighbours import (
    ENTRIES_PER_POD,
    KERNEL_GC_THRESH,
    NDPPD_SUSTAINED,
    ROUTER_ENTRIES,
)
from kube6.spec import from_data


def plan_of(nodes: int = 1, max_pods: int | None = None, **extra: Any) -> Plan:
    data: dict[str, Any] = {
        "prefix": "2001:db8:1234:5600::/56",
        "nodes": [
            {
                "name": f"n{i}",
                "address": f"2001:db8:1234:5600::{i + 1:x}",
                **({"roles": ["control-plane", "worker"]} if i == 0 else {}),
            }
            for i in range(nodes)
        ],
        **extra,
    }
    if max_pods is not None:
        data["network"] = {"max_pods": max_pods}
    return make_plan(from_data(data))


def capacity(plan: Plan) -> list[Any]:
    return [r for r in plan.rules if r.name == "ndp-proxy-capacity"]


def test_default_cluster_counts_pods_peers_and_router() -> None:
    plan = plan_of(nodes=3)
    entries = ENTRIES_PER_POD * 110 + 2 + ROUTER_ENTRIES  # 3 per pod, 2 peers, the router
    assert plan.neighbours.node_entries == entries == 334
    assert plan.neighbours.gc_thresh == (334, 668, 1336)
    assert plan.neighbours.proxied == 110
    assert plan.neighbours.router_entries == 3 * (110 + 1)
    shown = {c.name: c for c in plan.choices}
    assert shown["neigh.gc_thresh"].value == "334/668/1336"
    assert "3 per pod (maxPods 110), 2 other node(s)" in shown["neigh.gc_thresh"].reason
    assert shown["neigh.router"].value == "333"


def test_small_clusters_never_go_below_the_kernel_defaults() -> None:
    plan = plan_of(max_pods=10)  # 3 * 10 + 0 + 2 = 32 entries
    assert plan.neighbours.node_entries == 32
    assert plan.neighbours.gc_thresh == KERNEL_GC_THRESH == (128, 512, 1024)


def test_large_nodes_raise_every_threshold() -> None:
    plan = plan_of(nodes=2, max_pods=1000)
    entries = 3 * 1000 + 1 + 2
    assert plan.neighbours.gc_thresh == (entries, 2 * entries, 4 * entries)


def test_routed_prefix_has_no_proxy_and_no_router_share() -> None:
    plan = plan_of(routing="routed")
    assert plan.neighbours.proxied == 0
    assert plan.neighbours.router_entries == 0
    assert capacity(plan) == []
    assert "neigh.router" not in {c.name for c in plan.choices}
    assert plan.neighbours.gc_thresh[2] >= 1024  # the node's own table is sized all the same


def test_proxy_capacity_warns_just_above_the_measured_figure() -> None:
    at = plan_of(max_pods=NDPPD_SUSTAINED)
    [finding] = capacity(at)
    assert finding.grade is Grade.OK, finding
    assert f"at most {NDPPD_SUSTAINED} pod addresses" in finding.message
    above = plan_of(max_pods=NDPPD_SUSTAINED + 1)
    [finding] = capacity(above)
    assert finding.grade is Grade.WARN, finding
    assert f"up to {NDPPD_SUSTAINED + 1} pod addresses" in finding.message
    assert f"every one of {NDPPD_SUSTAINED}" in finding.message
    assert "network.max_pods" in finding.fix
    assert above.ok  # a warning, not a refusal
