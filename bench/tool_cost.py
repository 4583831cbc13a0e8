"""Benchmark: what kube6 itself costs: cold start, `check` over SSH on 1 vs 4 nodes, plan+render.

    sudo uv run python bench/tool_cost.py [--rounds 7] [--check-rounds 5] [--skip-lab]

1. Cold start, each a fresh process, interleaved rounds: `python -c pass` (the floor),
   `kube6 --help` and `kube6 plan` (built-in example), as ratios to the floor.
2. `kube6 check` (`check_hosts`, the code behind the command) over SSH from the lab's
   `internet` namespace to 1 and to 4 lab nodes (sshd in each node's namespace), alternating;
   once through the lab's sshd (whose bash sources this machine's root ~/.bashrc for every
   command) and once through a clean one (see `start_clean_sshd`). Nodes are checked in
   parallel, so 4 nodes must take well under 4x one node: the script exits 1 when the clean
   ratio is 3x or more (the lab's 4 nodes share this machine's CPUs) or when on average fewer
   than 3 of the 4 nodes were in progress at once. Needs root; `--skip-lab` leaves it out.
3. Plan + render at 50/500/5,000 nodes (bench/plan_render.py's measurement, in this process):
   the cost must grow linearly (5,000 nodes at most 120x 50 nodes).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import Stats, machine, require_root, stats
from plan_render import LIMIT, SIZES, once, spec_for

from kube6.checks import ArtifactHost
from kube6.checks.runner import check_hosts
from kube6.execute import Executor, SshExecutor
from kube6.lab import IPV6_NAME, Lab
from kube6.lab.process import in_namespace, program
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

CHECK_LIMIT = 3.0
"""`check` on 4 nodes may take at most this multiple of 1 node (serial would be 4x). Not 2x:
the 4 lab nodes share this machine's CPUs, and a check is CPU work on the node's side."""
OVERLAP_MIN = 3.0
"""On average at least this many of the 4 nodes must be worked on at once (serial: 1)."""
HOSTS = (ArtifactHost(IPV6_NAME, "the lab's IPv6 host"),)
"""The download hosts to look up and connect to: the lab's own (the real ones are not there)."""


def kube6_program() -> list[str]:
    """The `kube6` console script of this environment."""
    script = Path(sys.executable).parent / "kube6"
    if not script.exists():
        raise SystemExit(f"no {script}: run `uv sync` first")
    return [str(script)]


def cold_start(rounds: int) -> dict[str, Stats]:
    """Seconds for each command to start and exit, fresh process each time."""
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "kube6 --help": [*kube6_program(), "--help"],
        "kube6 plan": [*kube6_program(), "plan"],
    }
    env = {**os.environ, "COLUMNS": "100"}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the page cache: cold start of the process, not disk
        subprocess.run(argv, capture_output=True, check=True, env=env)
    for _ in range(rounds):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, env=env)
            times[name].append(time.perf_counter() - start)
    return {name: stats(values) for name, values in times.items()}


def four_node_plan() -> Plan:
    nodes = [
        {
            "name": f"node000{i}",
            "address": f"2001:db8:1234:5678::{i}",
            **({} if i == 1 else {"roles": ["worker"]}),
        }
        for i in range(1, 5)
    ]
    spec = from_data({"prefix": "2001:db8:1234:5678::/64", "nodes": nodes}, source="tool_cost")
    return make_plan(spec, source="tool_cost benchmark")


CLEAN_PORT = 2222


def start_clean_sshd(lab: Lab, plan: Plan) -> Path:
    """A second sshd per node on CLEAN_PORT whose sessions skip the login user's ~/.bashrc.

    bash sources ~/.bashrc for every command that sshd runs (it detects sshd by SSH_CLIENT)
    unless SHLVL says it is nested. The lab logs in as this machine's root, whose .bashrc may
    be slow (here: `pyenv init`, about 0.3 s a command); a server's root usually has none. The
    lab's own sshd stays as it is; its host keys and authorized keys are reused.
    """
    keys = lab.workdir / "ssh"
    known: list[str] = []
    for node in lab.layout.nodes:
        conf = keys / f"sshd-{node.name}.conf"
        text = conf.read_text().replace(
            f"ListenAddress [{node.address}]:22", f"ListenAddress [{node.address}]:{CLEAN_PORT}"
        )
        text = text.replace(f"sshd-{node.name}.pid", f"sshd-clean-{node.name}.pid")
        clean = keys / f"sshd-clean-{node.name}.conf"
        clean.write_text(text + "SetEnv SHLVL=1\n")
        public = (keys / f"host-{node.name}.pub").read_text().split()
        known.append(f"[{node.address}]:{CLEAN_PORT} {public[0]} {public[1]}")
        lab.start(
            f"sshd-clean-{node.name}",
            node.namespace,
            (program("sshd"), "-D", "-e", "-f", str(clean)),
            ready=functools.partial(lab.listening, node.namespace, CLEAN_PORT),
        )
    path = keys / "known_hosts_clean"
    path.write_text("\n".join(known) + "\n")
    return path


def check_over_ssh(rounds: int) -> dict[str, Stats]:
    """Seconds for `check_hosts` over SSH on the first 1 and the first 4 nodes of a lab,
    through the lab's sshd (root's .bashrc runs) and through a clean one."""
    plan = four_node_plan()
    keys: dict[str, list[float]] = {}
    overlap: dict[str, list[float]] = {}
    with Lab(plan, ssh=True) as lab:
        clean_known = start_clean_sshd(lab, plan)

        def executor(name: str, clean: bool) -> Executor:
            if not clean:
                return lab.ssh_executor(name)
            return SshExecutor(
                f"root@[{plan.node(name).address}]:{CLEAN_PORT}",
                host=name,
                known_hosts=clean_known,
                client_keys=(str(lab.ssh_key),),
                connect_timeout=5,
            )

        def run(count: int, clean: bool) -> float:
            executors = {n.name: executor(n.name, clean) for n in plan.nodes[:count]}
            spans = {name: _timed(e) for name, e in executors.items()}
            start = time.perf_counter()
            results = asyncio.run(check_hosts(plan, executors, hosts=HOSTS))
            elapsed = time.perf_counter() - start
            unreachable = [r for r in results if r.name == "host-reachable"]
            checked = {r.node for r in results}
            if unreachable or len(checked) < count:
                raise SystemExit(f"check did not reach every node: {unreachable or results}")
            # How many nodes were being worked on at once, on average: the sum of each node's
            # busy time (first command sent to last answer) over the wall time. Serial: 1.
            busy = sum(max(e for _, e in s) - min(b for b, _ in s) for s in spans.values())
            overlap.setdefault(f"{count} {'clean' if clean else 'bashrc'}", []).append(
                busy / elapsed
            )
            return elapsed

        for clean in (False, True):  # first SSH handshakes, imports
            in_namespace(lab.internet, functools.partial(run, 1, clean))
        for _ in range(rounds):
            for clean in (True, False):
                for count in (1, 4):
                    key = f"{count} {'clean' if clean else 'bashrc'}"
                    elapsed = in_namespace(lab.internet, functools.partial(run, count, clean))
                    keys.setdefault(key, []).append(elapsed)
    return {key: stats(values) for key, values in keys.items()} | {
        f"{key} overlap": stats(values[-rounds:]) for key, values in overlap.items()
    }


def _timed(executor: Executor) -> list[tuple[float, float]]:
    """Record (start, end) of every command that `executor` runs, in the returned list."""
    spans: list[tuple[float, float]] = []
    original = executor.run

    async def run(*args: Any, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            spans.append((begin, time.perf_counter()))

    executor.run = run  # type: ignore[method-assign]
    return spans


def plan_render(rounds: int, sizes: Sequence[int]) -> dict[int, Stats]:
    specs = {size: spec_for(size) for size in sizes}
    once(specs[sizes[0]])
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            times[size].append(once(specs[size])[0])
    return {size: stats(values) for size, values in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="cold-start and plan rounds")
    parser.add_argument("--check-rounds", type=int, default=5)
    parser.add_argument("--skip-lab", action="store_true", help="leave out `check` over SSH")
    parser.add_argument(
        "--plan-sizes", default=",".join(map(str, SIZES)), help="node counts for plan + render"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not args.skip_lab:
        require_root("the `check` part of bench/tool_cost.py (or use --skip-lab)")
    ok = True
    print(f"kube6's own cost, median (min-max) seconds; machine: {machine()}")

    starts = cold_start(args.rounds)
    floor = starts["python -c pass"]
    print(f"1. cold start, {args.rounds} rounds:")
    for name, value in starts.items():
        print(f"   {name:<16} {value.show(3):>22}  {value.paired(floor).median:5.1f}x")
    data: dict[str, object] = {
        "machine": machine(),
        "cold_start_s": {k: v.samples for k, v in starts.items()},
    }

    if not args.skip_lab:
        checks = check_over_ssh(args.check_rounds)
        print(f"2. check over SSH from the internet namespace, {args.check_rounds} rounds:")
        for shell, what in (("clean", "clean login"), ("bashrc", "root's .bashrc")):
            one, four = checks[f"1 {shell}"], checks[f"4 {shell}"]
            ratio = four.paired(one)
            at_once = checks[f"4 {shell} overlap"].show(1)
            print(
                f"   {what:<15} 1 node {one.show(2)} s, 4 nodes {four.show(2)} s: "
                f"{ratio.show(2)}x; nodes in progress at once: {at_once}"
            )
        ratio = checks["4 clean"].paired(checks["1 clean"])
        together = checks["4 clean overlap"].median
        parallel = ratio.median < CHECK_LIMIT and together >= OVERLAP_MIN
        ok &= parallel
        verdict = "parallel" if parallel else "NOT PARALLEL ENOUGH"
        print(
            f"   clean: 4 nodes / 1 node = {ratio.median:.2f}x (limit {CHECK_LIMIT:g}x), "
            f"{together:.1f} nodes at once (at least {OVERLAP_MIN:g}): {verdict}"
        )
        data["check_s"] = {k: v.samples for k, v in checks.items()}

    counts = sorted(int(n) for n in args.plan_sizes.split(","))
    sizes = plan_render(args.rounds, counts)
    base = sizes[counts[0]]
    print(f"3. plan + render, {args.rounds} rounds:")
    for size, value in sizes.items():
        print(f"   {size:>5} nodes      {value.show(4):>22}  {value.ratio(base):6.1f}x")
    growth = sizes[counts[-1]].ratio(base)
    # plan_render.py's limit (120x for 100x the nodes), scaled to the sizes measured here.
    limit = LIMIT / (SIZES[-1] / SIZES[0]) * (counts[-1] / counts[0])
    linear = growth <= limit
    ok &= linear
    print(
        f"   {counts[-1]}/{counts[0]} = {growth:.1f}x for {counts[-1] / counts[0]:g}x the nodes "
        f"(limit {limit:g}x): {'linear' if linear else 'SUPERLINEAR'}"
    )
    data["plan_render_s"] = {str(k): v.samples for k, v in sizes.items()}
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
