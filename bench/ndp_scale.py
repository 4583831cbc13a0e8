"""Benchmark: the NDP proxy (ndppd, `auto` rule, kube6's rendered config) in the lab.

    sudo uv run python bench/ndp_scale.py [--samples 5] [--rounds 3] [--sizes 1,100,1000]

1. Time from a new pod's route appearing on its node to the first reply that the `internet`
   host gets from the pod, through the provider's router (which must resolve the pod's address)
   and ndppd. Measured with the rendered config (`route-ttl 1000`, `ttl 1000`) and with ndppd's
   defaults for either or both timers (30,000 ms), because ndppd 0.2.x re-reads the routing
   table only every `route-ttl` ms (a pod's route is invisible to an `auto` rule until the next
   re-read) and caches a miss for `ttl` ms.
2. ndppd with 1, 100, 1,000 and 5,000 pod addresses routed on the node: the router's side sends one
   neighbour solicitation per address (raw ICMPv6 from the upstream namespace, as the
   provider's router would; unanswered ones are sent again after 1 s, three tries, as Linux
   does) and counts the advertisements that come back. Cold: ndppd just started (each answer
   first asks the pod); warm: the same solicitations again while ndppd's cache holds them.
   Reported: answers per second, the time until the last answer, and ndppd's memory (VmRSS).
   (With one address the rate is only the inverse of one answer's latency.) The largest size
   whose every address was answered in every round is the proxy's sustained figure, which
   `kube6 plan` warns above (`kube6.plan.neighbours.NDPPD_SUSTAINED`).
   The kernel's neighbour-table limits (net.ipv6.neigh.default.gc_thresh1/2/3, which kube6
   renders from the plan) cannot be varied here: the IPv6 neighbour table is one table for
   the whole machine, its gc_thresh files exist only in the machine's own namespace (the
   script records that they are absent in the node's namespace), and the machine's settings
   are not the benchmark's to change. ndppd's answers do not depend on them: it answers from
   its own sockets and creates no kernel neighbour entries per proxied address; the
   solicitations come from a raw socket, so the router's kernel creates none either.
3. ndppd's CPU while idle with all those routes, ndppd's default timers vs the rendered ones.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import socket
import struct
import sys
import time
from collections.abc import Sequence
from ipaddress import IPv6Address
from pathlib import Path

from _common import Stats, ensure_programs, machine, require_root, stats

from kube6 import net
from kube6.components.ndppd import render as ndppd_renderer
from kube6.lab import Lab
from kube6.lab.process import in_namespace
from kube6.plan import make_plan
from kube6.spec import example

NODE = "node0001"
PACKAGES = {"ndppd": "ndppd", "ping": "iputils-ping"}
DEFAULT_TTL_MS = 30_000
"""ndppd 0.2.x's default for both timers: it re-reads /proc/net/ipv6_route this often unless
`route-ttl` says otherwise, and caches an answer (or a miss) this long unless `ttl` does."""
DEFAULTS = f"defaults: route-ttl, ttl {DEFAULT_TTL_MS}"
RENDERED = f"route-ttl {ndppd_renderer.ROUTE_TTL_MS} + ttl {ndppd_renderer.TTL_MS} (rendered)"
SCALE_OFFSET = 0x1_0000
"""Scale addresses start here in the pod pool, clear of the node's first block (the pods of 1.)."""
NS_TYPE, NA_TYPE = 135, 136
TRIES, RETRANSMIT_S = 3, 1.0


def ndppd_variants(rendered: str) -> dict[str, tuple[str, float]]:
    """Label -> (config, seconds between route re-reads): ndppd's default timers, each of the
    rendered timers alone, and the rendered config, last (what `--fast-only` keeps)."""
    reread = f"route-ttl {ndppd_renderer.ROUTE_TTL_MS}\n"
    cache = f"    ttl {ndppd_renderer.TTL_MS}\n"
    for line in (reread, cache):
        if line not in rendered:
            raise RuntimeError(f"the rendered ndppd.conf has no {line.strip()!r} line:\n{rendered}")
    # Without the lines ndppd uses its defaults: the config kube6 rendered before.
    no_reread, no_cache = rendered.replace(reread, ""), rendered.replace(cache, "")
    fast, slow = ndppd_renderer.ROUTE_TTL_MS / 1000, DEFAULT_TTL_MS / 1000
    return {
        DEFAULTS: (no_reread.replace(cache, ""), slow),
        f"ttl {ndppd_renderer.TTL_MS} only": (no_reread, slow),
        f"route-ttl {ndppd_renderer.ROUTE_TTL_MS} only": (no_cache, fast),
        RENDERED: (rendered, fast),
    }


# ---- 1. route -> first reply ---------------------------------------------------------------------


def restart_ndppd(lab: Lab, config: str) -> int:
    """(Re)start ndppd on the node with `config`, wait until it has read the routes; its pid."""
    name = f"ndppd-{NODE}"
    log = lab.workdir / f"{name}.log"
    lab.stop_ndppd(NODE)
    # Only what this ndppd writes counts: the log grows by megabytes per round with thousands
    # of sessions (debug lines), so reading it from the offset beats counting in a tail.
    offset = log.stat().st_size if log.exists() else 0
    daemon = lab.start_ndppd(NODE, config)
    end = time.monotonic() + 10
    while not _since(log, offset).count(b"reading routes"):
        if time.monotonic() > end or not daemon.alive():
            raise RuntimeError(f"ndppd did not read the routes:\n{daemon.output()}")
        time.sleep(0.05)
    return daemon.pid


def _since(path: Path, offset: int) -> bytes:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read()


def first_reply(lab: Lab, limit: float) -> float:
    """Seconds from a new pod's route (the last step of attaching it) to the first echo reply."""
    pod = lab.add_pod(NODE)  # the /128 route on the node is the last command
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if lab.ping(lab.internet, pod.address, wait=0.2):
            return time.monotonic() - start
    raise RuntimeError(f"no reply from {pod.address} within {limit:g}s")


# ---- 2. answers per second -----------------------------------------------------------------------


def solicited_node(target: IPv6Address) -> str:
    return str(IPv6Address(int(IPv6Address("ff02::1:ff00:0")) | (int(target) & 0xFFFFFF)))


def solicit(interface: str, mac: str, targets: Sequence[IPv6Address]) -> dict[IPv6Address, float]:
    """Send a neighbour solicitation for each target on `interface`; seconds to each answer.

    Runs in the router's namespace (`in_namespace`). Unanswered targets are solicited again
    every RETRANSMIT_S, TRIES times in all; the clock starts at the first send.
    """
    index = socket.if_nametoindex(interface)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        option = struct.pack("!BB6s", 1, 1, bytes.fromhex(mac.replace(":", "")))
        answered: dict[IPv6Address, float] = {}
        wanted = set(targets)
        start = time.monotonic()
        for attempt in range(TRIES):
            for target in targets:
                if target not in answered:
                    message = struct.pack("!BBHI16s", NS_TYPE, 0, 0, 0, target.packed) + option
                    # The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket.
                    sock.sendto(message, (solicited_node(target), 0, 0, index))
            until = start + (attempt + 1) * RETRANSMIT_S
            while len(answered) < len(wanted) and (left := until - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data = sock.recv(1500)
                except TimeoutError:
                    break
                if len(data) >= 24 and data[0] == NA_TYPE:
                    found = IPv6Address(data[8:24])
                    if found in wanted and found not in answered:
                        answered[found] = time.monotonic() - start
            if len(answered) == len(wanted):
                break
        return answered
    finally:
        sock.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time that process `pid` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def add_addresses(
    lab: Lab, pod_ns: str, host_interface: str, addresses: Sequence[IPv6Address]
) -> None:
    """Give the pod namespace `addresses` and route each /128 to it from the node (ip -batch)."""
    if not addresses:
        return
    pod_batch = lab.workdir / "pod-addresses.batch"
    pod_batch.write_text("".join(f"address add {a}/128 dev eth0 nodad\n" for a in addresses))
    node_batch = lab.workdir / "node-routes.batch"
    node_batch.write_text("".join(f"route add {a}/128 dev {host_interface}\n" for a in addresses))
    lab.run(pod_ns, ("ip", "-batch", str(pod_batch)), timeout=120)
    lab.run(lab.node_ns(NODE), ("ip", "-batch", str(node_batch)), timeout=120)


GC_THRESH = tuple(f"net/ipv6/neigh/default/gc_thresh{i}" for i in (1, 2, 3))


def neighbour_limits(lab: Lab) -> dict[str, object]:
    """The machine's gc_thresh values (read only) and whether the node's namespace has them."""
    machine_values = {
        key.rsplit("/", 1)[1]: int(Path("/proc/sys", key).read_text()) for key in GC_THRESH
    }
    listing = lab.run(lab.node_ns(NODE), ("ls", "/proc/sys/net/ipv6/neigh")).stdout.split()
    return {"machine": machine_values, "in_node_namespace": "default" in listing}


def sustained(scale: dict[int, dict[str, Stats]]) -> int:
    """The largest size whose every address was answered in every round (0: none)."""
    whole = [size for size, row in scale.items() if row["answered"].low == size]
    return max(whole, default=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="new pods per config in part 1")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size in part 2")
    parser.add_argument(
        "--fast-only",
        action="store_true",
        help="part 1 with only the config that answers in seconds (smoke tests)",
    )
    parser.add_argument("--sizes", default="1,100,1000,5000", help="pod address counts (part 2)")
    parser.add_argument("--idle-seconds", type=float, default=20, help="part 3 duration")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    require_root("bench/ndp_scale.py")
    ensure_programs(PACKAGES)
    plan = make_plan(example(), source="built-in example")
    data: dict[str, object] = {"machine": machine()}
    with Lab(plan) as lab:
        rendered = lab.ndppd_config(NODE)
        variants = ndppd_variants(rendered)
        if args.fast_only:
            variants = dict(list(variants.items())[-1:])
        # 1. A long-running ndppd, as on a node: pods appear at any moment of its re-read cycle.
        latency: dict[str, Stats] = {}
        for label, (config, reread_s) in variants.items():
            restart_ndppd(lab, config)
            samples = []
            for _ in range(args.samples):
                # A random moment of ndppd's re-read cycle, or one pod after another would
                # lock onto its phase and always land just after a re-read.
                time.sleep(random.uniform(0, reread_s))
                samples.append(first_reply(lab, 70))
            latency[label] = stats(samples)
        data["route_to_reply_s"] = {k: v.samples for k, v in latency.items()}

        # 2. One pod namespace holding every address (a pod per address would only add
        # namespaces; ndppd sees routes and answers either way).
        link = lab.layout.segments[0]
        mac = json.loads(lab.run(lab.upstream, ("ip", "-j", "link", "show", link.bridge)).stdout)[
            0
        ]["address"]
        pool = plan.pools[0].cidr
        addresses = [net.nth(pool, SCALE_OFFSET + i) for i in range(sizes[-1])]
        holder = lab.add_pod(NODE, address=addresses[0])
        scale: dict[int, dict[str, Stats]] = {}
        have = 1
        for size in sizes:
            add_addresses(lab, holder.namespace, holder.host_interface, addresses[have:size])
            have = max(have, size)
            targets = addresses[:size]
            cold_rate: list[float] = []
            warm_rate: list[float] = []
            cold_last: list[float] = []
            warm_last: list[float] = []
            rss_idle: list[float] = []
            rss_busy: list[float] = []
            answered: list[float] = []
            for _ in range(args.rounds):
                pid = restart_ndppd(lab, rendered)
                rss_idle.append(float(rss_kib(pid)))
                for kind in ("cold", "warm"):
                    got = in_namespace(
                        lab.upstream, functools.partial(solicit, link.bridge, mac, targets)
                    )
                    last = max(got.values(), default=float("nan"))
                    rate = len(got) / last if got else 0.0
                    (cold_rate if kind == "cold" else warm_rate).append(rate)
                    (cold_last if kind == "cold" else warm_last).append(last * 1000)
                    if kind == "cold":
                        answered.append(float(len(got)))
                rss_busy.append(float(rss_kib(pid)))
            scale[size] = {
                "cold_rate": stats(cold_rate),
                "warm_rate": stats(warm_rate),
                "cold_last_ms": stats(cold_last),
                "warm_last_ms": stats(warm_last),
                "answered": stats(answered),
                "rss_idle_kib": stats(rss_idle),
                "rss_busy_kib": stats(rss_busy),
            }
        # 3. What the faster route re-read costs: ndppd's CPU while idle, with every route.
        idle_cpu: dict[str, float] = {}
        for label in (DEFAULTS, RENDERED):
            pid = restart_ndppd(lab, ndppd_variants(rendered)[label][0])
            before = cpu_seconds(pid)
            time.sleep(args.idle_seconds)
            idle_cpu[label] = (cpu_seconds(pid) - before) / args.idle_seconds
        data["idle_cpu_fraction"] = idle_cpu
        data["neighbour_limits"] = neighbour_limits(lab)
    data["sustained"] = sustained(scale)
    print(f"ndppd (NDP proxy, `auto` rule), median (min-max); machine: {machine()}")
    print(f"1. new pod route -> first reply from the internet, {args.samples} pods per config:")
    for label, value in latency.items():
        print(f"   {label:<36} {value.show(2):>22} s")
    print(f"2. one solicitation per pod address, {args.rounds} rounds (ndppd restarted each):")
    print(
        f"   {'addresses':>9} {'answered':>8} {'cold answers/s':>20} {'cold last ms':>20} "
        f"{'warm answers/s':>20} {'warm last ms':>20} {'RSS idle KiB':>20} {'RSS after KiB':>20}"
    )
    for size, row in scale.items():
        print(
            f"   {size:>9} {row['answered'].median:>8.0f} {row['cold_rate'].show(0):>20} "
            f"{row['cold_last_ms'].show(1):>20} {row['warm_rate'].show(0):>20} "
            f"{row['warm_last_ms'].show(1):>20} {row['rss_idle_kib'].show(0):>20} "
            f"{row['rss_busy_kib'].show(0):>20}"
        )
    print(f"   sustained (every address answered in every round): {data['sustained']}")
    limits = data["neighbour_limits"]
    print(f"   neighbour-table limits: {limits} (machine-wide; not varied)")
    print(f"3. ndppd idle for {args.idle_seconds:g} s with {have} routes on the node:")
    for label, fraction in idle_cpu.items():
        print(f"   {label:<36} {fraction * 100:.2f}% of one CPU")
    data["scale"] = {
        str(size): {k: v.samples for k, v in row.items()} for size, row in scale.items()
    }
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
