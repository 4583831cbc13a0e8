"""How much a no-op `kube6 up` costs: the second run's time as a ratio of the first.

Runs on a lab node (network namespace, needs root): the steps that run for real there
(host/sysctl, routing, firewall; see tests/steps/test_lab_up.py), first on a node that starts
with forwarding off, then again on the converged node, then `kube6 reset`. The second run only
reads facts, so its ratio says what idempotence costs. Prints one line per measurement:

    sudo uv run python bench/up_noop.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from kube6.components.registry import RESET_STEPS, UP_STEPS, make_contexts
from kube6.lab import Lab
from kube6.lab.systemd import namespace_node
from kube6.plan import make_plan
from kube6.spec import example
from kube6.steps import Report, RunOptions, run_steps

ONLY = ("host/sysctl", "routing", "firewall")


def _require(condition: bool, report: Report) -> None:
    if not condition:
        raise SystemExit(
            f"unexpected result, the measurement would mean nothing: {report.to_json()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plan = make_plan(example(), source="built-in example")
    firsts: list[float] = []
    seconds: list[float] = []
    with Lab(plan) as lab, tempfile.TemporaryDirectory(prefix="kube6-bench-") as root:
        node = plan.nodes[0].name
        options = RunOptions()

        def once(steps: object, only: tuple[str, ...]) -> tuple[float, Report]:
            executor = namespace_node(lab.executor(node), f"{root}/{node}")
            contexts = make_contexts(plan, {node: executor}, options)
            start = time.perf_counter()
            report = asyncio.run(run_steps(steps, contexts, only=only))  # type: ignore[arg-type]
            return time.perf_counter() - start, report

        for _ in range(args.rounds):
            for key in ("net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding"):
                lab.sysctl(lab.node_ns(node), key, 0)
            first, report = once(UP_STEPS, ONLY)
            _require(report.ok and report.changed, report)
            second, report = once(UP_STEPS, ONLY)
            _require(report.ok and not report.changed, report)
            firsts.append(first)
            seconds.append(second)
            _, report = once(RESET_STEPS, ())
            _require(report.ok, report)
    first_m, second_m = statistics.median(firsts), statistics.median(seconds)
    print(f"steps: {', '.join(ONLY)} on one lab node, {args.rounds} round(s), median")
    print(f"first up (converging):  {first_m:.3f} s")
    print(f"second up (no-op):      {second_m:.3f} s")
    print(f"ratio second/first:     {second_m / first_m:.2f}")


if __name__ == "__main__":
    main()
