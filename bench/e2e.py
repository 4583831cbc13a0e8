"""Benchmark: `kube6 up` on real nodes: wall time to a verified cluster, where it goes, what kube6
adds to plain kubeadm, and the memory a node uses.

    sudo uv run python bench/e2e.py [--nodes 2 3] [--json FILE]

Needs the e2e cache (`tests/e2e/build-*.sh`, see tests/e2e/README.md): each run builds a lab of
real nodes (systemd-nspawn, 1 control plane + N-1 workers, `ndp-proxy` on the lab's /64) whose
internet serves the cache through kube6's `mirrors`, exactly as the e2e journey does. Per node
count, in one run:

- `up`: the wall time of `kube6 up` from bare nodes to its verify step passing, and each step's
  time (the slowest host's: hosts run a step side by side, the next step waits for all);
- kube6's kubeadm part: its `control-plane/*` and `join/*` steps (facts, kubeadm, kubeconfig,
  taint, credentials, serving certificates), against **plain kubeadm** on the same nodes right
  after: `kubeadm reset -f` everywhere, then `kubeadm init --config` with the same rendered
  init.yaml, `kubeadm token create --print-join-command`, and `kubeadm join --config` with the
  same rendered join.yaml on every worker at once (what an operator types by hand). The ratio
  is kube6's overhead for what it adds around kubeadm;
- memory per node (its memory cgroup) once `up` passed: `usage` (page cache of the images
  included) and `rss` (the processes).

A cluster is built twice per node count (kube6, then plain kubeadm), so one run of `--nodes 2 3`
takes about 10-15 minutes on a 2-core machine; the figures are single rounds (a cluster build
is the unit), so run it on a quiet machine and read the ratios.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from _common import machine, require_root

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the e2e tier's world (tests/e2e/world.py) serves the cache

from tests.e2e.artifacts import cache_root  # noqa: E402
from tests.e2e.world import serve  # noqa: E402

from kube6.components.kubeadm.render import INIT_PATH, JOIN_PATH  # noqa: E402
from kube6.components.registry import render_all  # noqa: E402
from kube6.lab import Lab, cgroups, nodes  # noqa: E402
from kube6.lab.layout import NAT64_PREFIX  # noqa: E402
from kube6.plan import make_plan  # noqa: E402
from kube6.plan.model import Plan  # noqa: E402
from kube6.render.base import (  # noqa: E402
    CA_CERT_HASH,
    JOIN_TOKEN,
    fill_placeholders,
)
from kube6.spec import from_data  # noqa: E402
from kube6.steps.kubectl import ADMIN_CONF  # noqa: E402

PREFIX = "2001:db8:1234:5678::"
KUBEADM_PARTS = ("control-plane/", "join/")
CLEAN_SLATE = (
    "kubeadm reset -f >/dev/null 2>&1; crictl rmp --all --force >/dev/null 2>&1; "
    'for i in $(seq 90); do ss -Hltn | grep -Eq ":(6443|2379|10250) " || exit 0; sleep 1; done; '
    'echo "the old control plane still listens" >&2; exit 1'
)
"""kubeadm reset, then every pod sandbox removed and the old control plane's ports free: kubeadm
reset alone left the old API server answering on 6443 (seen: the next init's token request got
the old CA)."""
DIAGNOSE = (
    "sha256sum /etc/kubernetes/pki/ca.crt; grep -c certificate-authority-data "
    "/etc/kubernetes/admin.conf; crictl ps -a 2>/dev/null | grep -E 'apiserver|etcd'; "
    "ss -Hltnp | grep -E ':(6443|2379) '; true"
)
"""What the control plane looks like when plain kubeadm fails (printed with the failure)."""
JOIN_COMMAND = re.compile(r"--token\s+(\S+).*--discovery-token-ca-cert-hash\s+(\S+)", re.S)


def spec_data(count: int) -> dict[str, Any]:
    """1 control plane and count-1 workers, add-ons off, the lab hosts' settings (as the
    journey: tests/e2e/test_journey.py)."""
    names = ["cp1", *(f"worker{i}" for i in range(1, count))]
    return {
        "prefix": f"{PREFIX}/64",
        "routing": "ndp-proxy",
        "nodes": [
            {
                "name": name,
                "address": f"{PREFIX}{0x11 + i:x}",
                "roles": ["control-plane"] if i == 0 else ["worker"],
                "ssh": f"root@[{PREFIX}{0x11 + i:x}]",
            }
            for i, name in enumerate(names)
        ],
        "dns": {"nat64_prefix": str(NAT64_PREFIX)},
        "addons": {
            "gateway": {"enabled": False},
            "cert_manager": {"enabled": False},
            "dashboard": {"enabled": False},
        },
        "host": {"cgroup_v1": True, "restrict_oom_score_adj": True},
    }


def step_times(report: Mapping[str, Any]) -> dict[str, float]:
    """Each step's time in an `up -o json` report: the slowest host's."""
    times: dict[str, float] = {}
    for rows in report["hosts"].values():
        for row in rows:
            times[row["step"]] = max(times.get(row["step"], 0.0), float(row["seconds"]))
    return times


def kubeadm_part(times: Mapping[str, float]) -> float:
    """kube6's time around and in kubeadm: its control-plane and join steps."""
    return sum(t for step, t in times.items() if step.startswith(KUBEADM_PARTS))


def join_values(print_join_command: str) -> dict[str, str]:
    """The token and CA hash from `kubeadm token create --print-join-command`."""
    found = JOIN_COMMAND.search(print_join_command)
    if found is None:
        raise ValueError(f"no token and CA hash in: {print_join_command!r}")
    return {JOIN_TOKEN: found.group(1), CA_CERT_HASH: found.group(2)}


class Cluster:
    """A lab of real nodes with the world served, and the operator's commands in its internet."""

    def __init__(self, count: int, workdir: Path) -> None:
        data = spec_data(count)
        self.plan: Plan = make_plan(from_data(data), source="bench")
        self.lab = Lab(self.plan, real_nodes=True, rootfs=nodes.default_rootfs())
        self.lab.up()
        world = serve(self.lab, cache_root())
        self.spec = workdir / f"kube6-{count}.yaml"
        self.spec.write_text(yaml.safe_dump({**data, "mirrors": world.mirrors()}))

    def kube6(self, *args: str) -> subprocess.CompletedProcess[str]:
        program = Path(sys.executable).with_name("kube6")
        return subprocess.run(
            ["ip", "netns", "exec", self.lab.internet, "env", f"HOME={self.lab.operator_home}",
             str(program), *args, "--spec", str(self.spec)],
            capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip

    def ssh(self, node: str, *argv: str, stdin: str | None = None) -> str:
        lab = self.lab
        done = subprocess.run(
            ["ip", "netns", "exec", lab.internet, "ssh", "-i", str(lab.ssh_key),
             "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "BatchMode=yes",
             f"root@{self.plan.node(node).address}", shlex.join(argv)],
            input=stdin, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{node}: {shlex.join(argv)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def down(self) -> None:
        self.lab.down()


def measure_up(cluster: Cluster) -> dict[str, Any]:
    started = time.monotonic()
    done = cluster.kube6("up", "-o", "json")
    wall = time.monotonic() - started
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"kube6 up printed no report:\n{done.stderr[-3000:]}") from None
    rows = [r for rows in report["hosts"].values() for r in rows]
    broken = [r for r in rows if r["status"] not in ("ok", "changed")]
    if done.returncode != 0 or broken:
        raise RuntimeError(
            f"kube6 up failed: {json.dumps(broken, indent=1)}\n{done.stderr[-2000:]}"
        )
    times = step_times(report)
    return {"wall": wall, "steps": times, "kubeadm_part": kubeadm_part(times)}


def measure_memory(cluster: Cluster) -> dict[str, dict[str, int] | None]:
    return {n.name: cgroups.memory_use(cluster.lab.lab_id, n.name) for n in cluster.plan.nodes}


def measure_plain_kubeadm(cluster: Cluster) -> dict[str, float]:
    """kubeadm init and join by hand on the same nodes, with kube6's rendered configs."""
    plan = cluster.plan
    cp = plan.first_control_plane.name
    workers = [n.name for n in plan.nodes if n.name != cp]
    files = {a.path: a.content for a in render_all(plan)}
    with ThreadPoolExecutor(len(plan.nodes)) as pool:
        list(pool.map(lambda n: cluster.ssh(n.name, "sh", "-c", CLEAN_SLATE), plan.nodes))
    token = cluster.ssh(cp, "kubeadm", "token", "generate").strip()
    init = fill_placeholders(files[f"nodes/{cp}{INIT_PATH}"], {JOIN_TOKEN: token})
    cluster.ssh(cp, "tee", "/root/bench-init.yaml", stdin=init)
    started = time.monotonic()
    cluster.ssh(cp, "kubeadm", "init", "--config", "/root/bench-init.yaml", "--skip-token-print")
    # --kubeconfig: without it kubeadm prefers ~/.kube/config, which kube6 wrote for the cluster
    # that kubeadm reset just removed (seen: "certificate signed by unknown authority").
    values = join_values(
        cluster.ssh(
            cp, "kubeadm", "token", "create", "--print-join-command", "--kubeconfig", ADMIN_CONF
        )
    )
    initialized = time.monotonic()

    def join(worker: str) -> None:
        text = fill_placeholders(files[f"nodes/{worker}{JOIN_PATH}"], values)
        cluster.ssh(worker, "tee", "/root/bench-join.yaml", stdin=text)
        cluster.ssh(worker, "kubeadm", "join", "--config", "/root/bench-join.yaml")

    with ThreadPoolExecutor(max(1, len(workers))) as pool:
        list(pool.map(join, workers))
    joined = time.monotonic()
    return {"init": initialized - started, "join": joined - initialized, "total": joined - started}


def run(counts: Sequence[int], workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "runs": {}}
    for count in counts:
        cluster = Cluster(count, workdir)
        try:
            up = measure_up(cluster)
            memory = measure_memory(cluster)
            print(f"{count} nodes: up {up['wall']:.0f} s, kubeadm part {up['kubeadm_part']:.1f} s")
            try:
                plain: dict[str, Any] = measure_plain_kubeadm(cluster)
            except RuntimeError as error:
                # Reported, never hidden: the other figures of this run still stand.
                cp = cluster.plan.first_control_plane.name
                seen = cluster.ssh(cp, "sh", "-c", DIAGNOSE)
                plain = {"failed": f"{error}\n{seen}"}
        finally:
            cluster.down()
        results["runs"][str(count)] = {
            "up": up,
            "memory": memory,
            "plain_kubeadm": plain,
            "overhead": up["kubeadm_part"] / plain["total"] if "total" in plain else None,
        }
        show(count, results["runs"][str(count)])
    return results


def show(count: int, run: Mapping[str, Any]) -> None:
    up, plain = run["up"], run["plain_kubeadm"]
    print(f"\n{count} nodes: kube6 up to verify passing {up['wall']:.0f} s")
    slow = sorted(up["steps"].items(), key=lambda kv: -kv[1])[:8]
    print("  slowest steps: " + ", ".join(f"{s} {t:.1f} s" for s, t in slow))
    if "failed" in plain:
        print(f"  plain kubeadm FAILED (no ratio): {plain['failed']}")
    else:
        print(
            f"  kubeadm part: kube6 {up['kubeadm_part']:.1f} s, plain kubeadm "
            f"{plain['total']:.1f} s (init {plain['init']:.1f}, join {plain['join']:.1f}): "
            f"ratio {run['overhead']:.2f}"
        )
    for name, use in run["memory"].items():
        if use is None:
            print(f"  {name}: memory not measurable (no memory cgroup controller)")
        else:
            print(
                f"  {name}: memory {use['usage'] / 2**20:.0f} MiB, rss {use['rss'] / 2**20:.0f} MiB"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 3], help="node counts")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"), help="for the spec files")
    args = parser.parse_args(argv)
    require_root("real nodes and network namespaces")
    if any(n < 2 for n in args.nodes):
        parser.error("--nodes: a cluster here has one control plane and at least one worker (2+)")
    results = run(args.nodes, args.workdir)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
