"""Data-path probes: commands run where a pod's network is, with a pure reading of their output.

Each probe is an argv (`ping`, `nc`, `nslookup`, `ip`) and a function of its Result. The
commands and flags are those that busybox has as applets and that iputils ping, OpenBSD netcat,
bind9's nslookup and iproute2 accept too, so the probes run in the pinned busybox image and in
images with the full tools (netshoot). Where they run is the executor's business: `kubectl exec`
into a short-lived probe pod in a real cluster, or `ip netns exec` into a pod namespace in the
lab, where no kubelet exists. What the tools print is read in kube6.verify.probe_output.

    results = await run_datapath(executor, plan, Targets(node=..., other_pod=..., outside=...))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from kube6.execute import Command, Executor, Result
from kube6.plan.model import Plan
from kube6.routing import strategy
from kube6.verify.defaults import DEFAULT_IPV4_ONLY_NAME, DEFAULT_OUTSIDE
from kube6.verify.probe_output import first_line, output, parse_global_addresses, parse_nslookup
from kube6.verify.result import CheckResult, failed, passed, skipped

Interpret = Callable[[Result], CheckResult]


@dataclass(frozen=True)
class Probe:
    """One data-path check: the command to run in the probe's network, and how to read it."""

    name: str
    command: Command
    interpret: Interpret
    attempts: int = 1
    """Runs of `command` until one succeeds; the last run is the one read when none does."""
    fallback: Command | None = None
    """Run instead when the tool refuses a flag of `command` (a smaller build of it)."""


@dataclass(frozen=True)
class Targets:
    """What the probes aim at. A None target skips its probe (and says so)."""

    node: IPv6Address | None = None
    """A node address (pod -> node)."""
    other_pod: IPv6Address | None = None
    """A pod on another node (pod -> pod across nodes)."""
    outside: IPv6Address | None = DEFAULT_OUTSIDE
    ipv4_only_name: str | None = DEFAULT_IPV4_ONLY_NAME
    ipv4_only_port: int = 443
    cluster_dns: bool = True
    """Resolve kubernetes.default through the cluster DNS (no CoreDNS in the lab)."""
    resolver: IPv6Address | None = None
    """Resolver for the IPv4-only name; None: the probe's own resolv.conf."""


PING_ATTEMPTS = 4
PING_WAIT = 2
"""Seconds each echo request waits for its reply (`-W`)."""
PING_HEADERS = 48
"""IPv6 (40) and ICMPv6 echo (8) headers: a packet of N bytes is `ping -s N-48`."""
DEFAULT_POD_MTU = 1500
"""A pod interface's MTU when the plan sets none: Calico takes the node's uplink's, without
encapsulation (1500 on nearly every provider)."""


def ping_probe(
    name: str, target: IPv6Address, what: str, fix: str, *, size: int | None = None
) -> Probe:
    """One ICMPv6 echo to `target`, up to PING_ATTEMPTS times; passes at the first reply.

    The first packets to a new pod are often lost while neighbour discovery (or the NDP proxy)
    resolves its address, so one lost echo is not a failure. The retries are the probe's own:
    iputils ping keeps sending until `-c` replies or `-w` end, busybox ping stops after `-c`
    requests, and `-c 1 -W 2` means the same to both. `size`: the whole IPv6 packet's size in
    bytes (`-s` is the payload: 48 bytes less, the IPv6 and ICMPv6 headers); the message
    names it.
    """
    argv: tuple[str, ...] = ("ping", "-n", "-c", "1", "-W", str(PING_WAIT))
    if size is not None:
        argv += ("-s", str(size - PING_HEADERS))
    argv += (str(target),)
    sized = "" if size is None else f" with {size}-byte packets"

    def interpret(result: Result) -> CheckResult:
        stats = first_line(result.stdout, "packets transmitted") or output(result)[-200:]
        if result.ok:
            return passed(name, f"{what} ({target}) answers ping{sized}", [stats])
        tries = f"{PING_ATTEMPTS} echo requests, {PING_WAIT} s each"
        return failed(
            name,
            f"{what} ({target}) does not answer ping{sized}",
            fix,
            [stats or "no output", tries],
        )

    return Probe(name, Command(argv, timeout=PING_WAIT + 10), interpret, attempts=PING_ATTEMPTS)


def tcp_probe(name: str, target: IPv6Address, port: int, what: str, fix: str) -> Probe:
    """A TCP connection to `[target]:port`, closed at once.

    `nc -z` (OpenBSD netcat, and busybox with its default nc-1.10 compatibility, as in the
    official image). Busybox builds without it (Debian's) refuse `-z`; they connect with
    `-e true` instead, which runs `true` on the connection as soon as it is open.
    """
    argv = ("nc", "-z", "-n", "-w", "3", str(target), str(port))
    small = ("nc", "-w", "3", str(target), str(port), "-e", "true")

    def interpret(result: Result) -> CheckResult:
        where = f"[{target}]:{port}"
        if result.ok:
            return passed(name, f"{what} accepts TCP on {where}")
        return failed(
            name, f"{what}: no TCP connection to {where}", fix, [output(result) or "no output"]
        )

    return Probe(name, Command(argv, timeout=15), interpret, fallback=Command(small, timeout=15))


def dns_probe(
    name: str,
    fqdn: str,
    *,
    server: IPv6Address | None,
    expect: IPv6Address | None = None,
    within: IPv6Network | None = None,
    fix: str,
) -> Probe:
    """Resolve `fqdn` (AAAA); pass when `expect` is an answer, or an answer is inside `within`."""
    # A final dot: the pod's search domains (ndots:5) would first try fqdn.<namespace>.svc...
    absolute = fqdn if fqdn.endswith(".") else f"{fqdn}."
    at = (str(server),) if server is not None else ()
    argv = ("nslookup", "-type=AAAA", "-timeout=2", "-retry=2", absolute, *at)
    via = f" through {server}" if server is not None else ""

    def interpret(result: Result) -> CheckResult:
        lookup = parse_nslookup(result.stdout + "\n" + result.stderr)
        answers = list(lookup.answers)
        seen = [f"AAAA {fqdn}{via}: {', '.join(map(str, answers)) or 'no answer'}"]
        if lookup.error == "NXDOMAIN":
            return failed(name, f"{fqdn} does not exist (NXDOMAIN){via}", fix, list(lookup.notes))
        if lookup.error == "no answer":
            return failed(name, f"{fqdn} has no AAAA answer{via}", fix, seen)
        if lookup.error is not None:
            problem = "the resolver did not answer" if lookup.error == "timeout" else lookup.error
            return failed(
                name,
                f"resolving {fqdn}{via} failed: {problem}",
                fix,
                list(lookup.notes) or [output(result) or "no output"],
            )
        if expect is not None and expect not in answers:
            return failed(name, f"{fqdn} resolves to {answers[0]}, expected {expect}", fix, seen)
        if within is not None and not any(a in within for a in answers):
            return failed(name, f"no AAAA answer for {fqdn} is inside {within}", fix, seen)
        return passed(name, f"{fqdn} resolves{via} to {', '.join(map(str, answers))}", seen)

    return Probe(name, Command(argv, timeout=15), interpret)


def address_probe(plan: Plan) -> Probe:
    """`probe-address`: the probe's own global addresses are IPv6 and inside a planned pool."""
    name = "probe-address"
    argv = ("ip", "-o", "addr", "show", "scope", "global")

    def interpret(result: Result) -> CheckResult:
        addresses = parse_global_addresses(result.stdout)
        if not result.ok or not addresses:
            return failed(
                name,
                "the probe has no global address",
                "the CNI gave the pod no IPv6 address: `kubectl describe pod` of the probe, and "
                "the calico-node logs on its node",
                [output(result) or "no output"],
            )
        bad = [
            a
            for a in addresses
            if not (isinstance(a, IPv6Address) and any(a in p.cidr for p in plan.pools))
        ]
        seen = [str(a) for a in addresses]
        if bad:
            return failed(
                name,
                f"the probe has address(es) outside the planned pools: {', '.join(map(str, bad))}",
                "see the `pod-addresses` and `calico-ippools` results",
                seen,
            )
        return passed(name, "the probe's address is inside a planned pool", seen)

    return Probe(name, Command(argv, timeout=15), interpret)


def probes(plan: Plan, targets: Targets) -> tuple[list[Probe], list[CheckResult]]:
    """The probes to run for `targets`, and a skipped result for each one left out."""
    todo: list[Probe] = [address_probe(plan)]
    skips: list[CheckResult] = []
    if targets.cluster_dns:
        todo.append(
            dns_probe(
                "dns-kubernetes",
                f"kubernetes.default.svc.{plan.dns_domain}",
                server=plan.dns,
                expect=plan.api,
                fix="CoreDNS must run (`kubectl -n kube-system get pods -l k8s-app=kube-dns`) "
                f"and kube-proxy must route its Service address {plan.dns}; the pod's "
                f"resolv.conf must name {plan.dns} (kubelet clusterDNS)",
            )
        )
    else:
        skips.append(skipped("dns-kubernetes", "no cluster DNS where the probe runs"))
    if targets.node is not None:
        todo.append(
            ping_probe(
                "pod-to-node",
                targets.node,
                "the node",
                "Calico routes each pod through a cali* interface on its node (`ip -6 route` "
                "there); the host firewall must accept ICMPv6 from the pods",
            )
        )
    else:
        skips.append(skipped("pod-to-node", "no node address given"))
    if targets.other_pod is not None:
        todo.append(
            ping_probe(
                "pod-to-pod",
                targets.other_pod,
                "a pod on another node",
                "each node must have a route to the other node's block, which Felix programs "
                "(`ip -6 route` on both nodes shows the block via the other node's address; "
                "calico-node must be ready there); network policies must allow it",
            )
        )
    else:
        skips.append(skipped("pod-to-pod", "no pod on another node to reach"))
    if targets.outside is not None:
        todo.append(
            ping_probe(
                "pod-to-outside",
                targets.outside,
                "an outside address",
                strategy(plan.routing).outside_fix(plan),
            )
        )
        todo.append(path_mtu_probe(plan, targets.outside))
    else:
        skips.append(skipped("pod-to-outside", "no outside address given"))
        skips.append(skipped("path-mtu", "no outside address given"))
    return todo, skips


def path_mtu_probe(plan: Plan, outside: IPv6Address) -> Probe:
    """Full-size packets from the pod to `outside`.

    A hop with a smaller MTU on the way (a tunnel, a provider's link) drops them and answers
    with ICMPv6 Packet Too Big; IPv6 routers never fragment. Only when that message reaches
    the pod does its kernel learn the path's MTU and send smaller packets, so the first echo is
    lost and a later one answered. A firewall or policy that drops Packet Too Big leaves small
    packets working and large ones lost for ever: TLS handshakes, image pulls and uploads
    stall while ping works. Where the whole path carries full-size packets the probe passes
    too, and says only that.
    """
    size = plan.mtu or DEFAULT_POD_MTU
    return ping_probe(
        "path-mtu",
        outside,
        "an outside address",
        "ICMPv6 Packet Too Big (type 2) must reach the pods from any hop: the host firewall "
        "(`nft list ruleset`, forward path) and network policies must let it in; it belongs "
        "to a connection the pod opened (conntrack related). If the pods' MTU is larger than "
        f"the node's uplink, set network.mtu in kube6.yaml (now {size})",
        size=size,
    )


_REFUSED_FLAG = re.compile(r"invalid option|unrecognized option|unknown option", re.I)


def refuses_a_flag(result: Result) -> bool:
    """Whether the tool stopped at its argv (GNU/busybox/musl getopt wording), not the network."""
    return not result.ok and bool(_REFUSED_FLAG.search(result.stdout + result.stderr))


async def _run(executor: Executor, probe: Probe) -> Result:
    for _ in range(probe.attempts):
        result = await executor.run(probe.command, check=False)
        if result.ok:
            break
    if probe.fallback is not None and refuses_a_flag(result):
        result = await executor.run(probe.fallback, check=False)
    return result


async def run_probe(executor: Executor, probe: Probe) -> CheckResult:
    """Run one probe through `executor` (with its retries and fallback) and read its result."""
    return probe.interpret(await _run(executor, probe))


async def _nat64(executor: Executor, plan: Plan, targets: Targets) -> CheckResult:
    name = "pod-to-ipv4-via-nat64"
    prefix = plan.dns_settings.nat64_prefix
    if prefix is None:
        return skipped(name, "the plan expects no NAT64")
    if targets.ipv4_only_name is None:
        return skipped(name, "no IPv4-only name given")
    fix = (
        f"the resolver must synthesize AAAA records in {prefix} (DNS64: "
        f"{plan.dns_settings.dns64}) and a NAT64 gateway must route {prefix}"
    )
    lookup = dns_probe(
        name, targets.ipv4_only_name, server=targets.resolver, within=prefix, fix=fix
    )
    result = await _run(executor, lookup)
    found = lookup.interpret(result)
    if found.failed:
        return found
    synthesized = next(a for a in parse_nslookup(result.stdout).answers if a in prefix)
    connect = tcp_probe(
        name,
        synthesized,
        targets.ipv4_only_port,
        f"{targets.ipv4_only_name} through NAT64",
        f"DNS64 works ({synthesized}) but the NAT64 gateway does not pass the traffic: check "
        f"that it routes {prefix} and has IPv4 connectivity",
    )
    return await run_probe(executor, connect)


async def run_datapath(executor: Executor, plan: Plan, targets: Targets) -> list[CheckResult]:
    """Every data-path check from the probe's network, in a fixed order."""
    todo, skips = probes(plan, targets)
    results = [await run_probe(executor, probe) for probe in todo]
    results.append(await _nat64(executor, plan, targets))
    order = [
        "probe-address",
        "dns-kubernetes",
        "pod-to-node",
        "pod-to-pod",
        "pod-to-outside",
        "path-mtu",
        "pod-to-ipv4-via-nat64",
    ]
    return sorted([*results, *skips], key=lambda r: order.index(r.name))
