"""The planner's rule tables: one name per rule, stamped on every finding it gives."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kube6 import spec as spec_module
from kube6.modes import Grade
from kube6.plan import make_plan
from kube6.plan.rules import REFUSALS, RULES, Rule, judge, ok, warn


def test_every_rule_has_one_distinct_name() -> None:
    names = [name for name, _ in (*REFUSALS, *RULES)]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names), names
    functions = [rule for _, rule in (*REFUSALS, *RULES)]
    assert len(set(functions)) == len(functions), "a function is in the tables twice"


def test_judge_names_each_finding_after_its_rule_in_table_order() -> None:
    table: tuple[tuple[str, Rule[int]], ...] = (
        ("first", lambda n: [ok(f"saw {n}")]),
        ("never", lambda n: []),
        ("second", lambda n: [warn("a", "fix a"), warn("b", "fix b")]),
    )
    found = judge(table, 7)
    assert [(f.name, f.grade, f.message) for f in found] == [
        ("first", Grade.OK, "saw 7"),
        ("second", Grade.WARN, "a"),
        ("second", Grade.WARN, "b"),
    ]


def test_plan_results_follow_the_tables() -> None:
    plan = make_plan(spec_module.example())
    order = [name for name, _ in (*REFUSALS, *RULES)]
    names = [r.name for r in plan.rules]
    assert names[0] == "control-plane-present"
    assert [order.index(n) for n in names] == sorted(order.index(n) for n in names)
    assert all(r.name for r in plan.rules)


def _routed(*nodes: Mapping[str, object]) -> list[str]:
    plan = make_plan(
        spec_module.from_data(
            {"prefix": "2001:db8:1234:5678::/64", "routing": "routed", "nodes": list(nodes)}
        )
    )
    return [
        f"{r.grade}: {r.message} | {r.fix}"
        for r in plan.rules
        if r.name == "routed-prefix-per-node"
    ]


CP: Mapping[str, object] = {
    "name": "cp1",
    "address": "2001:db8:1234:5678::11",
    "roles": ["control-plane"],
}


def test_routed_nodes_sharing_a_prefix_are_warned_and_told_to_name_their_own() -> None:
    shared: Mapping[str, object] = {
        "name": "worker1",
        "address": "2001:db8:1234:5678::12",
        "roles": ["worker"],
    }
    (found,) = _routed(CP, shared)
    assert found.startswith("warn: cp1, worker1 share 2001:db8:1234:5678::/64: a provider")
    assert "asymmetric path" in found
    assert "nodes[].prefix" in found
    own = {**shared, "address": "2001:db8:1234:5679::12", "prefix": "2001:db8:1234:5679::/64"}
    assert _routed(CP, own) == ["ok: every node has a routed prefix of its own | "]
    # Only routed: an on-link /64 shared by every node is what ndp-proxy is for.
    assert not [r for r in make_plan(spec_module.example()).rules if "routed-prefix" in r.name]


def test_plan_lists_min_free_disk_only_when_set() -> None:
    data = {"prefix": "2001:db8:1234:5678::/64", "nodes": [dict(CP)]}
    plain = make_plan(spec_module.from_data(data))
    assert not [r for r in plain.rules if r.name == "host-min-free-disk"]
    shared = make_plan(spec_module.from_data({**data, "host": {"min_free_disk": "10Gi"}}))
    (found,) = [r for r in shared.rules if r.name == "host-min-free-disk"]
    assert found.grade is Grade.OK
    assert "kubelet keeps 10Gi free on each node" in found.message
