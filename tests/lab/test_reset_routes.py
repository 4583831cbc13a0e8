"""`kube6 reset`'s pod-network step on real routes: the kernel's own `ip` in a lab node's
namespace, with the routes a bgp node keeps after calico-node stopped (BIRD's kernel protocol
runs with `persist`, Felix leaves its own too)."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import pytest

from kube6.components.calico import reset as calico_reset
from kube6.components.registry import make_contexts
from kube6.lab import Lab
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data
from kube6.steps import RunOptions
from kube6.steps.base import Exec

pytestmark = pytest.mark.lab

BIRD = [
    # A blackhole (a static route of BIRD's that no filter kept from the kernel) ...
    ("blackhole", "2001:db8:1234:5678:8:3::/112"),
    # ... a range learned from two mesh peers (a multipath route) ...
    (
        "2001:db8:1234:5678:8:4::/120",
        *("nexthop", "via", "2001:db8:1234:5678::21", "dev", "eth0"),
        *("nexthop", "via", "2001:db8:1234:5678::22", "dev", "eth0"),
    ),
    # ... and a Local Service's address learned from one.
    ("2001:db8:1234:5678:8:4:0:7/128", "via", "2001:db8:1234:5678::21", "dev", "eth0"),
]
FELIX = [("blackhole", "2001:db8:1234:5678:8:2:2e:d200/120")]
KEPT = ("2001:db8:77::/64", "via", "2001:db8:1234:5678::21", "dev", "eth0")
"""A route of the operator's own (proto static): reset never touches it."""


def _plan(routing: str) -> Plan:
    data: dict[str, Any] = {
        "prefix": "2001:db8:1234:5678::/64",
        "routing": routing,
        "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
    }
    if routing == "bgp":
        data["bgp"] = {"peer": "2001:db8:1234:5678::fffe", "peer_as": 65001}
    return make_plan(from_data(data), source=f"reset {routing}")


def _prefix_at(route: tuple[str, ...]) -> int:
    return 1 if route[0] == "blackhole" else 0


def _routes(namespace: str, proto: str) -> str:
    done = subprocess.run(
        ["ip", "-n", namespace, "-6", "route", "show", "proto", proto],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("routing", ["bgp", "ndp-proxy"])
def test_reset_removes_birds_routes_only_where_calico_ran_bird(
    lab_env: None, plan: Plan, routing: str
) -> None:
    with Lab(plan) as lab:
        node = lab.node_ns("node0001")
        for proto, routes in (("12", BIRD), ("80", FELIX), ("static", [KEPT])):
            for route in routes:
                at = _prefix_at(route) + 1  # `proto` before any nexthop
                argv = [*route[:at], "proto", proto, *route[at:]]
                subprocess.run(["ip", "-n", node, "-6", "route", "add", *argv], check=True)
        assert _routes(node, "12").count("nexthop") == 2
        ctx = make_contexts(_plan(routing), {"node0001": lab.executor("node0001")}, RunOptions())[
            "node0001"
        ]
        facts = asyncio.run(calico_reset.read_pod_network(ctx))
        # Nothing but routes to remove here (the lab's namespaces are not containerd's).
        assert (facts.links, facts.namespaces) == ((), ())
        planned = calico_reset.plan_pod_network(ctx, facts)
        for action in planned.actions:
            assert isinstance(action, Exec)
            assert action.command.argv[:4] == ("ip", "-6", "route", "delete")
            asyncio.run(ctx.executor.run(action.command))
        assert _routes(node, "80") == ""
        assert KEPT[0] in _routes(node, "static")
        left = _routes(node, "12")
        if routing == "bgp":
            assert left == "", left
            again = asyncio.run(calico_reset.read_pod_network(ctx))
            assert calico_reset.plan_pod_network(ctx, again).noop
        else:
            # Not calico-node's: a BIRD of the operator's own may own them.
            # (`ip` shows a /128 as the bare address.)
            assert all(route[_prefix_at(route)].removesuffix("/128") in left for route in BIRD)
