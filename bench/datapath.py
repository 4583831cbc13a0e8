"""Benchmark: what the IPv6-only data path costs next to the physical baseline and the IPv4 default.

    sudo uv run python bench/datapath.py [--rounds 5] [--seconds 3] [--pings 200] [--json FILE]
    sudo uv run python bench/datapath.py --firewall-parts [--rounds 8] [--pings 300]

Cases, measured side by side in one run (interleaved rounds, rotating order), each to a host on
"the internet" behind the provider's router:

- `baseline`: a lab node itself, nothing of kube6 on it (the physical path: node -> router);
- `kube6`: a pod on a lab node the way kube6 sets it up: the pod's /128 route, ndppd with the
  rendered config (`auto` rule), the rendered host firewall loaded, the MTU as planned;
- `kube6-no-fw`: the same pod path on a node without the firewall (to tell the cost of the
  routing hop from the cost of the firewall's connection tracking);
- `ipv4-node`: a node of the IPv4 topology itself (same shape, IPv4: a control for IPv4 vs IPv6);
- `ipv4-vxlan-nat`: the IPv4 default kube6 replaces: pod -> VXLAN overlay -> node -> masquerade
  -> router, with the MTU that encapsulation forces (1450);
- `ipv6-vxlan`: IPv6 over a VXLAN overlay, no NAT (Calico's `VXLAN` mode on IPv6; MTU 1430).

The two overlay cases run in namespaces of the benchmark's own (`k6-<id>-ov*`) that mirror the
lab's shape: pod namespace, node, a router with a bridge, an internet host. The overlay tunnel
runs between the pod namespace and its node, so every pod case crosses the same number of
namespaces; the overlay cases add encapsulation (and NAT) on top, nothing else.

Throughput: iperf3 (TCP, 1 and 4 streams, pod -> internet). Latency: `ping -i 0.005` round trips,
50th and 99th percentile. MTU: the largest `ping -M do` that passes. Each case is reported as
a ratio to `baseline`; the script says how far `kube6` is from it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import Namespaces, ensure_programs, machine, percentile, require_root, stats

from kube6.components.firewall import render as firewall
from kube6.lab import INTERNET_HOST, Lab
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

PORT = 5201
PACKAGES = {"iperf3": "iperf3", "ping": "iputils-ping", "nft": "nftables", "ndppd": "ndppd"}
SPEC = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": "node0001", "address": "2001:db8:1234:5678::1"},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
        {"name": "node0003", "address": "2001:db8:1234:5678::3", "roles": ["worker"]},
    ],
}
KUBE6_NODE, BASELINE_NODE, BARE_NODE = "node0001", "node0002", "node0003"

# The overlay topology (its own namespaces, documentation ranges only).
OV_INTERNET4 = "198.51.100.10"
OV_INTERNET6 = "2001:db8:ff00:2::10"
VXLAN4_MTU = 1450  # 1500 - 20 (IPv4) - 8 (UDP) - 8 (VXLAN) - 14 (inner Ethernet)
VXLAN6_MTU = 1430  # 1500 - 40 (IPv6) - 8 - 8 - 14
NAT_RULESET = """\
table ip bench_nat {
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 192.0.2.128/26 oifname "eth0" masquerade
\t}
}
"""

Runner = Callable[[str, Sequence[str], float], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    namespace: str
    target: str
    runner: Runner

    @property
    def header_bytes(self) -> int:
        """IP + ICMP header bytes that `ping -s` does not count."""
        return 28 if "." in self.target else 48


@dataclass
class Results:
    single: dict[str, list[float]]
    multi: dict[str, list[float]]
    p50: dict[str, list[float]]
    p99: dict[str, list[float]]
    mtu: dict[str, int]


def three_node_plan() -> Plan:
    return make_plan(from_data(SPEC, source="datapath benchmark"), source="datapath benchmark")


def lab_runner(lab: Lab) -> Runner:
    return lambda ns, argv, timeout: lab.run(ns, argv, check=False, timeout=timeout)


def ns_runner(spaces: Namespaces) -> Runner:
    return lambda ns, argv, timeout: spaces.exec(ns, argv, check=False, timeout=timeout)


def build_kube6(lab: Lab, plan: Plan) -> tuple[str, str]:
    """Pods on the kube6 node and the bare node, ndppd on both, the firewall on the first."""
    kube6_pod = lab.add_pod(KUBE6_NODE)
    bare_pod = lab.add_pod(BARE_NODE)
    for node in (KUBE6_NODE, BARE_NODE):
        lab.start_ndppd(node)  # the rendered config, `auto` for the node's pod block
    ruleset = lab.workdir / f"firewall-{KUBE6_NODE}.nft"
    ruleset.write_text(firewall.ruleset(plan, plan.node(KUBE6_NODE)))
    node_ns = lab.node_ns(KUBE6_NODE)
    lab.run(node_ns, ("nft", "-f", str(ruleset)))
    lab.run(node_ns, ("nft", "list", "table", "ip6", "kube6"))
    lab.start(
        "iperf3",
        lab.internet,
        ("iperf3", "-s", "-p", str(PORT)),
        ready=lambda: lab.listening(lab.internet, PORT),
    )
    for pod in (kube6_pod, bare_pod):
        if not lab.ping(pod.namespace, INTERNET_HOST, deadline=15):
            raise RuntimeError(f"{pod.name} does not reach the internet host through ndppd")
    return kube6_pod.namespace, bare_pod.namespace


def build_overlay(spaces: Namespaces, workdir: Path) -> tuple[str, str]:
    """pod -(VXLAN over IPv4 and IPv6)- node -(masquerade)- router(bridge) - internet."""
    pod, node, up, inet = (spaces.add(r) for r in ("ovpod", "ovnode", "ovup", "ovinet"))
    ip = spaces.ip
    for ns in (node, up):
        spaces.exec(ns, ("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"))
        spaces.exec(ns, ("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"))
    # Underlay between the pod's side and its node (the tunnel endpoints).
    ip(pod, "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p", "netns", node)
    ip(pod, "addr", "add", "192.0.2.66/26", "dev", "ul0")
    ip(pod, "addr", "add", "2001:db8:ff01:1::2/64", "dev", "ul0", "nodad")
    ip(node, "addr", "add", "192.0.2.65/26", "dev", "ul0p")
    ip(node, "addr", "add", "2001:db8:ff01:1::1/64", "dev", "ul0p", "nodad")
    ip(pod, "link", "set", "ul0", "up")
    ip(node, "link", "set", "ul0p", "up")
    for ns, dev, local, remote in ((pod, "ul0", ".66", ".65"), (node, "ul0p", ".65", ".66")):
        ip(ns, "link", "add", "vx4", "type", "vxlan", "id", "4", "local", "192.0.2" + local,
           "remote", "192.0.2" + remote, "dstport", "4789", "dev", dev)  # fmt: skip
        ip(ns, "link", "set", "vx4", "mtu", str(VXLAN4_MTU), "up")
    for ns, dev, local, remote in ((pod, "ul0", "::2", "::1"), (node, "ul0p", "::1", "::2")):
        ip(ns, "link", "add", "vx6", "type", "vxlan", "id", "6",
           "local", "2001:db8:ff01:1" + local, "remote", "2001:db8:ff01:1" + remote,
           "dstport", "4790", "dev", dev)  # fmt: skip
        ip(ns, "link", "set", "vx6", "mtu", str(VXLAN6_MTU), "up")
    ip(pod, "addr", "add", "192.0.2.130/26", "dev", "vx4")
    ip(node, "addr", "add", "192.0.2.129/26", "dev", "vx4")
    ip(pod, "addr", "add", "2001:db8:ff01:2::2/64", "dev", "vx6", "nodad")
    ip(node, "addr", "add", "2001:db8:ff01:2::1/64", "dev", "vx6", "nodad")
    ip(pod, "route", "add", "default", "via", "192.0.2.129", "dev", "vx4")
    ip(pod, "-6", "route", "add", "default", "via", "2001:db8:ff01:2::1", "dev", "vx6")
    # Node <-> router: a bridge port, as in the lab.
    ip(node, "link", "add", "eth0", "type", "veth", "peer", "name", "nd0", "netns", up)
    ip(up, "link", "add", "lan0", "type", "bridge")
    ip(up, "link", "set", "nd0", "master", "lan0", "up")
    ip(up, "addr", "add", "192.0.2.1/26", "dev", "lan0")
    ip(up, "addr", "add", "2001:db8:ff00:1::1/64", "dev", "lan0", "nodad")
    ip(up, "link", "set", "lan0", "up")
    ip(node, "addr", "add", "192.0.2.2/26", "dev", "eth0")
    ip(node, "addr", "add", "2001:db8:ff00:1::2/64", "dev", "eth0", "nodad")
    ip(node, "link", "set", "eth0", "up")
    ip(node, "route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
    ip(node, "-6", "route", "add", "default", "via", "2001:db8:ff00:1::1", "dev", "eth0")
    # Router <-> internet host. The router knows no route to the IPv4 pod range (only NAT
    # gets the pod out); the IPv6 pod range is routed to the node, as BGP would announce it.
    ip(up, "link", "add", "inet0", "type", "veth", "peer", "name", "eth0", "netns", inet)
    ip(up, "addr", "add", "198.51.100.1/24", "dev", "inet0")
    ip(up, "addr", "add", "2001:db8:ff00:2::1/64", "dev", "inet0", "nodad")
    ip(up, "link", "set", "inet0", "up")
    ip(inet, "addr", "add", OV_INTERNET4 + "/24", "dev", "eth0")
    ip(inet, "addr", "add", OV_INTERNET6 + "/64", "dev", "eth0", "nodad")
    ip(inet, "link", "set", "eth0", "up")
    ip(inet, "route", "add", "default", "via", "198.51.100.1", "dev", "eth0")
    ip(inet, "-6", "route", "add", "default", "via", "2001:db8:ff00:2::1", "dev", "eth0")
    ip(up, "-6", "route", "add", "2001:db8:ff01::/48", "via", "2001:db8:ff00:1::2", "dev", "lan0")
    nat = workdir / "overlay-nat.nft"
    nat.write_text(NAT_RULESET)
    spaces.exec(node, ("nft", "-f", str(nat)))
    spaces.start(inet, ("iperf3", "-s", "-p", str(PORT)), workdir / "overlay-iperf3.log")
    for target in (OV_INTERNET4, OV_INTERNET6):
        ok = any(
            spaces.exec(pod, ("ping", "-n", "-c", "1", "-W", "1", target), check=False).returncode
            == 0
            for _ in range(10)
        )
        if not ok:
            raise RuntimeError(f"the overlay pod does not reach {target}")
    return pod, node


def iperf(case: Case, streams: int, seconds: int) -> float:
    """Received TCP throughput in bit/s, `case.namespace` -> `case.target`."""
    omit = 1 if seconds >= 3 else 0
    argv = ("iperf3", "-c", case.target, "-p", str(PORT), "-t", str(seconds), "-O", str(omit),
            "-P", str(streams), "-J")  # fmt: skip
    for _attempt in range(3):  # the server refuses a test while it finishes the previous one
        result = case.runner(case.namespace, argv, seconds + omit + 30)
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError:
            report = {"error": result.stdout + result.stderr}
        if "error" not in report:
            return float(report["end"]["sum_received"]["bits_per_second"])
    raise RuntimeError(f"iperf3 failed for {case.name}: {report['error']}")


RTT = re.compile(r"time=([0-9.]+) ms")


def rtts(case: Case, count: int) -> list[float]:
    """Round-trip times in microseconds of `count` pings, 5 ms apart."""
    argv = ("ping", "-n", "-c", str(count), "-i", "0.005", "-W", "1", case.target)
    result = case.runner(case.namespace, argv, count * 0.05 + 20)
    found = [float(m) * 1000 for m in RTT.findall(result.stdout)]
    if len(found) < count * 0.9:
        raise RuntimeError(f"{case.name}: {len(found)} of {count} pings answered\n{result.stdout}")
    return found


def path_mtu(case: Case) -> int:
    """The largest packet (IP header included) that crosses the path unfragmented."""

    def passes(payload: int) -> bool:
        argv = ("ping", "-n", "-c", "1", "-W", "0.5", "-M", "do", "-s", str(payload), case.target)
        return case.runner(case.namespace, argv, 10).returncode == 0

    # Every link here is a 1500-byte Ethernet (veth, bridge); jumbo frames are out of scope.
    low, high = 1200, 1501 - case.header_bytes
    if not passes(low):
        raise RuntimeError(f"{case.name}: even {low} bytes do not pass")
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if passes(middle) else (low, middle)
    return low + case.header_bytes


def measure(cases: Sequence[Case], rounds: int, seconds: int, pings: int) -> Results:
    names = [c.name for c in cases]
    results = Results(
        single={n: [] for n in names},
        multi={n: [] for n in names},
        p50={n: [] for n in names},
        p99={n: [] for n in names},
        mtu={c.name: path_mtu(c) for c in cases},
    )
    for number in range(rounds):
        # Interleaved and rotated: a noisy minute on this shared machine hits every case.
        order = [*cases[number % len(cases) :], *cases[: number % len(cases)]]
        for case in order:
            results.single[case.name].append(iperf(case, 1, seconds))
            results.multi[case.name].append(iperf(case, 4, seconds))
            times = rtts(case, pings)
            results.p50[case.name].append(percentile(times, 50))
            results.p99[case.name].append(percentile(times, 99))
        print(f"round {number + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def report(cases: Sequence[Case], results: Results, rounds: int) -> dict[str, object]:
    """Print the table and the verdict on kube6's path; return the figures as data."""
    base = cases[0].name
    single = {n: stats(v) for n, v in results.single.items()}
    multi = {n: stats(v) for n, v in results.multi.items()}
    p50 = {n: stats(v) for n, v in results.p50.items()}
    p99 = {n: stats(v) for n, v in results.p99.items()}
    print(f"data path, {rounds} round(s), median (min-max); ratio: median of the per-round")
    print(f"ratios to {base} (each round measures every case, so drift cancels out)")
    print(f"machine: {machine()}")
    print(
        f"{'case':<15} {'mtu':>5} {'1 stream Gbit/s':>20} {'ratio':>6} {'4 streams Gbit/s':>20} "
        f"{'ratio':>6} {'rtt p50 us':>14} {'ratio':>6} {'rtt p99 us':>15}"
    )
    for case in cases:
        n = case.name
        print(
            f"{n:<15} {results.mtu[n]:>5} {single[n].show(2, 1e-9):>20} "
            f"{single[n].paired(single[base]).median:>6.2f} {multi[n].show(2, 1e-9):>20} "
            f"{multi[n].paired(multi[base]).median:>6.2f} {p50[n].show(0):>14} "
            f"{p50[n].paired(p50[base]).median:>6.2f} {p99[n].show(0):>15}"
        )
    for case in cases[1:]:
        print(f"  {case.name}: {case.path}")
    data: dict[str, object] = {
        "machine": machine(),
        "rounds": rounds,
        "cases": {
            c.name: {
                "path": c.path,
                "mtu": results.mtu[c.name],
                "single_bps": single[c.name].samples,
                "multi_bps": multi[c.name].samples,
                "rtt_p50_us": p50[c.name].samples,
                "rtt_p99_us": p99[c.name].samples,
            }
            for c in cases
        },
    }
    if "kube6" in single:
        gaps = {
            "1-stream throughput": single["kube6"].paired(single[base]),
            "4-stream throughput": multi["kube6"].paired(multi[base]),
            "median latency": p50["kube6"].paired(p50[base]),
        }
        for what, ratio in gaps.items():
            below = "throughput" in what
            gap = (1 - ratio.median) if below else (ratio.median - 1)
            flag = "  (> 5%: see bench/README.md)" if gap > 0.05 else ""
            print(
                f"kube6 vs baseline, {what}: {gap * 100:.1f}% "
                f"{'below' if below else 'above'} (per-round ratio {ratio.show(2)}){flag}"
            )
        data["kube6_ratio"] = {what: ratio.samples for what, ratio in gaps.items()}
    return data


CT_ONLY = """\
table ip6 bench_parts {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tct state established,related accept
\t}
}
"""
NO_CT = CT_ONLY.replace("ct state established,related accept", "tcp dport 22 accept")


def firewall_parts(rounds: int, pings: int) -> int:
    """Which part of the firewall costs forwarded pod traffic latency: its rules or conntrack.

    One pod on a node; between rounds the node's namespace gets no table, an input chain
    without `ct`, an input chain with only `ct state established,related accept`, and the
    rendered firewall. Only the input hook is filtered, so forwarded packets never meet the
    rules; any cost is the connection tracking that a `ct` expression turns on in the namespace.
    """
    plan = three_node_plan()
    with Lab(plan) as lab:
        pod = lab.add_pod(BARE_NODE)
        lab.start_ndppd(BARE_NODE)
        if not lab.ping(pod.namespace, INTERNET_HOST, deadline=15):
            raise RuntimeError("the pod does not reach the internet host")
        node = lab.node_ns(BARE_NODE)
        variants = {
            "no table": None,
            "input chain, no ct": NO_CT,
            "input chain, ct state only": CT_ONLY,
            "rendered firewall": firewall.ruleset(plan, plan.node(BARE_NODE)),
        }
        case = Case("pod", "", pod.namespace, str(INTERNET_HOST), lab_runner(lab))
        p50: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, ruleset in variants.items():
                lab.run(node, ("nft", "flush", "ruleset"))
                if ruleset is not None:
                    path = lab.workdir / "parts.nft"
                    path.write_text(ruleset)
                    lab.run(node, ("nft", "-f", str(path)))
                p50[name].append(percentile(rtts(case, pings), 50))
    base = stats(p50["no table"])
    print(f"pod -> internet rtt p50 (us), {rounds} rounds; ratio to no table, per round")
    print(f"machine: {machine()}")
    for name, values in p50.items():
        value = stats(values)
        print(f"{name:<28} {value.show(1):>20} {value.paired(base).median:6.2f}")
    return 0


def measurement_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options of a data-path benchmark: rounds, iperf3 seconds, pings, a JSON file."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3, help="iperf3 duration per test")
    parser.add_argument("--pings", type=int, default=200, help="pings per latency test")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = measurement_parser(__doc__)
    parser.add_argument(
        "--firewall-parts",
        action="store_true",
        help="only measure which part of the firewall costs pod latency (see firewall_parts)",
    )
    args = parser.parse_args(argv)
    require_root("bench/datapath.py")
    ensure_programs(PACKAGES)
    if args.firewall_parts:
        return firewall_parts(args.rounds, args.pings)
    plan = three_node_plan()
    with Lab(plan) as lab, Namespaces(lab.lab_id) as spaces:
        kube6_pod, bare_pod = build_kube6(lab, plan)
        ov_pod, ov_node = build_overlay(spaces, lab.workdir)
        in_lab, in_ov = lab_runner(lab), ns_runner(spaces)
        target = str(INTERNET_HOST)
        cases = [
            Case("baseline", "node -> router -> internet (no pod)",
                 lab.node_ns(BASELINE_NODE), target, in_lab),
            Case("kube6", "pod -> node (/128 route, ndppd, firewall) -> router",
                 kube6_pod, target, in_lab),
            Case("kube6-no-fw", "pod -> node (/128 route, ndppd, no firewall) -> router",
                 bare_pod, target, in_lab),
            Case("ipv4-node", "IPv4 node -> router -> internet (no pod)",
                 ov_node, OV_INTERNET4, in_ov),
            Case("ipv4-vxlan-nat", "IPv4 pod -> VXLAN -> node -> masquerade -> router",
                 ov_pod, OV_INTERNET4, in_ov),
            Case("ipv6-vxlan", "IPv6 pod -> VXLAN -> node -> router (no NAT)",
                 ov_pod, OV_INTERNET6, in_ov),
        ]  # fmt: skip
        results = measure(cases, args.rounds, args.seconds, args.pings)
        data = report(cases, results, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
