"""Benchmark: plan + render at 50, 500 and 5,000 nodes, side by side in one run.

    uv run python bench/plan_render.py [--rounds 5]

Prints the median and spread of each size and the ratio to the 50-node run. The cost must grow
linearly: the 5,000-node run may take at most 120x the 50-node run (100x the nodes); the script
exits 1 when it does not.
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import sys
import time
from typing import Any

from kube6 import spec as spec_module
from kube6.components.registry import render_all
from kube6.plan import make_plan

SIZES = (50, 500, 5000)
LIMIT = 120.0


def spec_for(count: int) -> spec_module.ClusterSpec:
    base = int(ipaddress.IPv6Address("2001:db8:1234:5678::"))
    nodes: list[dict[str, Any]] = [
        {
            "name": f"node{i:04d}",
            "address": str(ipaddress.IPv6Address(base + 1 + i)),
            "roles": ["control-plane", "worker"] if i < 3 else ["worker"],
        }
        for i in range(count)
    ]
    return spec_module.from_data(
        {
            "prefix": "2001:db8:1234:5678::/64",
            "nodes": nodes,
            "cluster": {"control_plane_endpoint": "api.example.com:6443"},
        }
    )


def once(spec: spec_module.ClusterSpec) -> tuple[float, int]:
    start = time.perf_counter()
    artifacts = render_all(make_plan(spec))
    return time.perf_counter() - start, len(artifacts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    specs = {size: spec_for(size) for size in SIZES}
    once(specs[SIZES[0]])  # warm imports and caches before measuring
    timings: dict[int, list[float]] = {size: [] for size in SIZES}
    files: dict[int, int] = {}
    for _ in range(args.rounds):  # interleaved rounds: machine noise hits every size alike
        for size in SIZES:
            seconds, files[size] = once(specs[size])
            timings[size].append(seconds)
    base = statistics.median(timings[SIZES[0]])
    print(f"plan + render, {args.rounds} rounds, median (min-max)")
    print(f"{'nodes':>6} {'files':>7} {'median s':>10} {'spread s':>17} {'ratio':>7}")
    for size in SIZES:
        median = statistics.median(timings[size])
        spread = f"{min(timings[size]):.4f}-{max(timings[size]):.4f}"
        print(f"{size:>6} {files[size]:>7} {median:>10.4f} {spread:>17} {median / base:>6.1f}x")
    ratio = statistics.median(timings[SIZES[-1]]) / base
    verdict = "linear" if ratio <= LIMIT else "SUPERLINEAR"
    print(f"5000/50 = {ratio:.1f}x for 100x the nodes (limit {LIMIT:.0f}x): {verdict}")
    return 0 if ratio <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
