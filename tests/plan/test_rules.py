"""The planner's rule tables: one name per rule, stamped on every finding it gives."""

from __future__ import annotations

import re

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
