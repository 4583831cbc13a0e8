"""Benchmark: the pod path on real Calico, next to the node's own path (issue 18 item 2).

    sudo uv run python bench/calico_path.py [--rounds 5] [--seconds 3] [--pings 200] [--json FILE]

Needs the e2e cache (`tests/e2e/build-*.sh`, see tests/e2e/README.md). Builds what the e2e
journey builds: two real nodes (systemd-nspawn, 1 control plane + 1 worker, `ndp-proxy` on the
lab's /64) and `kube6 up` with Calico's nftables dataplane as kube6 renders it; then one pod on
each node (busybox, the image `verify` probes with). Cases, measured side by side in one run
(interleaved rounds, rotating order, `bench/datapath.py`'s measurements):

- `node`: the worker itself -> router -> the lab's internet host (the baseline);
- `kube6`: a pod on that worker -> Calico's veth, the node's routes, ndppd, the node's firewall
  and Calico's nftables rules -> router -> the internet host;
- `node-node`: the worker -> the control-plane node over their link (the cross-node baseline);
- `pod-pod`: the worker's pod -> the control-plane node's pod (Calico's routes, no
  encapsulation), reported against `node-node`.

The pods' network namespaces are entered from this machine (`nsenter -n` into each pod's
sandbox process), so iperf3 and ping are this machine's programs on the real pod interfaces,
routes and nftables rules; nothing is installed in the pods. The host firewall (policy drop)
gets one rule for the benchmark's port on the control-plane node (iperf3's server there), the
way an operator would open a test port; Calico's default policies already trust pod-to-pod.

One cluster build (~2-3 minutes) plus the rounds; run it on a quiet machine and read the ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import ensure_programs, require_root, stats
from datapath import PACKAGES, PORT, Case, Runner, measure, measurement_parser, report

from e2e import Cluster, measure_up
from kube6.lab import INTERNET_HOST
from kube6.steps.kubectl import ADMIN_CONF

CONTROL_PLANE, WORKER = "cp1", "worker1"
IMAGE = "docker.io/library/busybox:1.37.0"
Completed = subprocess.CompletedProcess[str]
PODS = {"bench-worker": WORKER, "bench-cp": CONTROL_PLANE}


def pod_manifest(name: str, node: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "kube6-bench"}},
        "spec": {
            "nodeName": node,
            # The control plane keeps kubeadm's NoSchedule taint; the benchmark's pod may stay.
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "sleep", "image": IMAGE, "command": ["sleep", "86400"]}],
        },
    }


def start_pods(cluster: Cluster) -> dict[str, str]:
    """One pod per node, Ready; their addresses by pod name."""
    kubectl = ("kubectl", "--kubeconfig", ADMIN_CONF)
    manifest = {"apiVersion": "v1", "kind": "List",
                "items": [pod_manifest(name, node) for name, node in PODS.items()]}  # fmt: skip
    cluster.ssh(CONTROL_PLANE, *kubectl, "apply", "-f", "-", stdin=json.dumps(manifest))
    cluster.ssh(CONTROL_PLANE, *kubectl, "wait", "--for=condition=Ready", "pod",
                "-l", "app=kube6-bench", "--timeout=300s")  # fmt: skip
    return {
        name: cluster.ssh(
            CONTROL_PLANE, *kubectl, "get", "pod", name, "-o", "jsonpath={.status.podIP}"
        ).strip()
        for name in PODS
    }


def sandbox_pid(address: str) -> int:
    """This machine's PID of the pod sandbox process (`pause`) whose namespace holds `address`."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "pause":
                continue
        except OSError:
            continue  # the process ended while we looked
        pid = int(comm.parent.name)
        shown = subprocess.run(
            ("nsenter", "-t", str(pid), "-n", "ip", "-6", "-o", "addr", "show", "scope", "global"),
            capture_output=True, text=True, check=False, timeout=10,
        )  # fmt: skip
        if f" {address}/" in shown.stdout:
            return pid
    raise RuntimeError(f"no pod sandbox on this machine has {address}")


def pod_runner() -> Runner:
    """Runs argv in a pod's network namespace; the case's `namespace` is `pid:<PID>`."""

    def run(namespace: str, argv: Sequence[str], timeout: float) -> Completed:
        pid = namespace.removeprefix("pid:")
        return subprocess.run(
            ("nsenter", "-t", pid, "-n", *argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def listen(argv_prefix: Sequence[str], what: str) -> subprocess.Popen[bytes]:
    """An iperf3 server (in a node's or a pod's namespace), up before the first client."""
    server = subprocess.Popen([*argv_prefix, "iperf3", "-s", "-p", str(PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        shown = subprocess.run([*argv_prefix, "ss", "-Hltn"], capture_output=True, text=True,
                               check=False, timeout=10)  # fmt: skip
        if f":{PORT} " in shown.stdout:
            return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"iperf3 does not listen in {what}")


def run(rounds: int, seconds: int, pings: int, workdir: Path) -> dict[str, object]:
    cluster = Cluster(2, workdir)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        up = measure_up(cluster)
        print(f"kube6 up: {up['wall']:.0f} s", file=sys.stderr, flush=True)
        addresses = start_pods(cluster)
        worker_pod, cp_pod = (sandbox_pid(addresses[name]) for name in PODS)
        lab = cluster.lab
        in_lab: Runner = lambda ns, argv, timeout: lab.run(ns, argv, check=False, timeout=timeout)  # noqa: E731
        cp_ns = lab.node_ns(CONTROL_PLANE)
        # The benchmark's port through the control plane's host firewall (policy drop).
        lab.run(cp_ns, ("nft", "insert", "rule", "ip6", "kube6", "input", "tcp", "dport",
                        str(PORT), "accept"))  # fmt: skip
        servers += [
            listen(("ip", "netns", "exec", lab.internet), "the internet host"),
            listen(("ip", "netns", "exec", cp_ns), CONTROL_PLANE),
            listen(("nsenter", "-t", str(cp_pod), "-n"), "the control plane's pod"),
        ]
        cp_address = str(cluster.plan.node(CONTROL_PLANE).address)
        internet = str(INTERNET_HOST)
        worker_ns = lab.node_ns(WORKER)
        cases = [
            Case("node", "worker -> router -> internet (no pod)", worker_ns, internet, in_lab),
            Case("kube6", "pod -> Calico veth, node routes, ndppd, firewall -> router",
                 f"pid:{worker_pod}", internet, pod_runner()),
            Case("node-node", "worker -> control-plane node (their link)",
                 worker_ns, cp_address, in_lab),
            Case("pod-pod", "worker's pod -> control-plane node's pod (Calico routes)",
                 f"pid:{worker_pod}", addresses["bench-cp"], pod_runner()),
        ]  # fmt: skip
        results = measure(cases, rounds, seconds, pings)
        data = report(cases, results, rounds)
        cross = {
            "1-stream throughput": results.single,
            "4-stream throughput": results.multi,
            "median latency": results.p50,
        }
        pod_pod: dict[str, tuple[float, ...]] = {}
        for what, series in cross.items():
            ratio = stats(series["pod-pod"]).paired(stats(series["node-node"]))
            print(f"pod-pod vs node-node, {what}: per-round ratio {ratio.show(2)}")
            pod_pod[what] = ratio.samples
        data["pod_pod_ratio"] = pod_pod
        data["up_seconds"] = up["wall"]
        return data
    finally:
        for server in servers:
            server.kill()
            server.wait()
        cluster.down()


def main(argv: Sequence[str] | None = None) -> int:
    args = measurement_parser(__doc__).parse_args(argv)
    require_root("bench/calico_path.py")
    ensure_programs({**PACKAGES, "nsenter": "util-linux"})
    with tempfile.TemporaryDirectory(prefix="kube6-bench-calico-") as workdir:
        data = run(args.rounds, args.seconds, args.pings, Path(workdir))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
