"""gather(): run every probe on one host (concurrently) and freeze the answers in HostFacts.

A probe that cannot run (program missing, permission, unreadable output) leaves its fact as
None and says why in `HostFacts.unknown`; checks then report "unknown" instead of crashing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Network
from typing import Any, TypeVar

from kube6.errors import CommandError, FactError
from kube6.execute import Command, Executor
from kube6.facts import bgp, dns, link, network, system
from kube6.facts.bgp import BgpAnswer, BgpTarget
from kube6.facts.dns import Lookup, Nat64, ResolvConf
from kube6.facts.link import LinkFacts
from kube6.facts.network import Interface, Listener, Route
from kube6.facts.probe import Probe
from kube6.facts.system import Filesystem, OsRelease, Service, Swap, Uname

T = TypeVar("T")

PROBE_CONCURRENCY = 6
"""Commands in flight per host: well below sshd's default MaxSessions of 10 (a session the
client has closed still counts on the server for a moment: 8 at once was refused on real
Debian nodes, `open failed`, while a stream of short probes ran)."""
LINK_SESSIONS = 2
"""What the uplink listen holds for seconds beside the probes (the listener and rdisc6): taken
from PROBE_CONCURRENCY, so that a host never sees more than that many sessions."""
PROBE_TIMEOUT = 20.0
CONNECT_TIMEOUT = 5
CONNECT_PORT = 443


@dataclass(frozen=True)
class HostFacts:
    """A read-only snapshot of one host. None means unknown; `unknown` says why."""

    host: str
    node: str
    os: OsRelease | None = None
    uname: Uname | None = None
    interfaces: tuple[Interface, ...] | None = None
    routes: tuple[Route, ...] | None = None
    ipv6_conf: Mapping[str, Mapping[str, int]] | None = None
    modules: frozenset[str] | None = None
    swaps: tuple[Swap, ...] | None = None
    disks: tuple[Filesystem, ...] | None = None
    """The filesystems of kubelet's and containerd's roots (kube6.facts.system.DISK_PATHS)."""
    cgroup: int | None = None
    listeners: tuple[Listener, ...] | None = None
    resolv_conf: ResolvConf | None = None
    resolved_conf: ResolvConf | None = None
    """systemd-resolved's upstream servers; None when the file is absent (or unknown)."""
    packages: Mapping[str, str] | None = None
    services: Mapping[str, Service] | None = None
    nat64: Nat64 | None = None
    lookups: tuple[Lookup, ...] = ()
    link: LinkFacts | None = None
    """What the uplink's wire showed (kube6.facts.link); None when not listened."""
    bgp: BgpAnswer | None = None
    """What the BGP router did with the node's OPEN (kube6.facts.bgp); None when not tried."""
    unknown: Mapping[str, str] = field(default_factory=dict)
    """fact name -> why it could not be read."""

    def why_unknown(self, fact: str) -> str:
        return self.unknown.get(fact, "not gathered")

    def sysctl(self, interface: str, key: str) -> int | None:
        """net.ipv6.conf.<interface>.<key>, or None when unknown or absent."""
        if self.ipv6_conf is None:
            return None
        return self.ipv6_conf.get(interface, {}).get(key)

    def interface(self, name: str) -> Interface | None:
        for interface in self.interfaces or ():
            if interface.name == name:
                return interface
        return None

    @property
    def default_routes(self) -> tuple[Route, ...]:
        return tuple(r for r in self.routes or () if r.is_default)

    def lookup(self, name: str) -> Lookup | None:
        for item in self.lookups:
            if item.name == name:
                return item
        return None


async def run_probe(executor: Executor, probe: Probe[T]) -> T:
    """Run one probe; raises FactError (never CommandError) when there is no usable answer."""
    try:
        secret = probe.secret_stdin
        command = Command(
            probe.argv,
            stdin=secret,
            secrets=(secret,) if secret else (),
            timeout=PROBE_TIMEOUT,
        )
        result = await executor.run(command, check=False)
    except CommandError as exc:  # a connector may raise instead of returning a code
        raise FactError(f"{probe.name}: {exc.message}") from None
    if result.exit_code == 127:
        raise FactError(f"{probe.argv[0]} is not installed on {executor.host}")
    if result.exit_code not in probe.ok_codes:
        first = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[0]
        raise FactError(f"`{probe.argv[0]}` exited with code {result.exit_code}: {first}")
    return probe.parse(result.stdout)


async def gather(
    executor: Executor,
    node: str,
    *,
    lookups: Sequence[str] = (),
    connect: bool = True,
    connect_port: int = CONNECT_PORT,
    ports: Mapping[str, int] | None = None,
    uplink: tuple[str, IPv6Network] | None = None,
    listen_seconds: float = link.LISTEN_SECONDS,
    bgp_peer: BgpTarget | None = None,
) -> HostFacts:
    """Read every fact of one host through `executor` (probes run concurrently).

    `lookups` are names to resolve on the host (the artifact hosts of the plan, see
    kube6.components.registry.artifact_hosts); with `connect`, the first IPv6 answer of each is
    tried with a TCP connection to `connect_port` (or the name's port in `ports`: a mirror may
    serve on another port). With `uplink` (interface, the node's link prefix) it listens
    there for `listen_seconds` meanwhile, for what the provider's router does with the prefix
    (kube6.facts.link). With `bgp_peer` (and `connect`), it opens a BGP handshake with the
    router once the listeners show that nothing on the host speaks BGP yet (kube6.facts.bgp).
    Connection failures (ConnectError) propagate: a host that cannot be reached has no facts.
    """
    gate = asyncio.Semaphore(PROBE_CONCURRENCY - (LINK_SESSIONS if uplink is not None else 0))
    unknown: dict[str, str] = {}

    async def fact(name: str, work: Callable[[], Awaitable[Any]]) -> Any:
        # `work` is a factory: no coroutine exists until the gate lets it run, so none is
        # left un-awaited when another probe's failure (ConnectError) ends the gathering.
        async with gate:
            try:
                return await work()
            except FactError as exc:
                unknown[name] = exc.message
                return None

    async def probe(p: Probe[Any]) -> Any:
        return await fact(p.name, lambda: run_probe(executor, p))

    async def resolved_conf() -> ResolvConf | None:
        text = await executor.get(dns.RESOLVED_CONF_PATH)
        return None if text is None else dns.parse_resolv_conf(text)

    async def resolve(name: str) -> Lookup:
        found: Lookup | None = await fact(
            f"lookup {name}", lambda: run_probe(executor, dns.lookup_probe(name))
        )
        if found is None:
            return Lookup(name, error=unknown[f"lookup {name}"])
        # ipv4only.arpa names no server: its addresses are only there to be synthesized.
        if connect and found.ipv6 and name != dns.IPV4ONLY_ARPA:
            async with gate:
                found = await _connect(executor, found, (ports or {}).get(name, connect_port))
        return found

    probes = (
        system.OS_RELEASE,
        network.ADDRESSES,
        network.ROUTES,
        network.IPV6_CONF,
        system.MODULES,
        system.SWAPS,
        system.DISKS,
        system.CGROUP,
        network.LISTENERS,
        dns.RESOLV_CONF,
        system.PACKAGES,
        system.SERVICES_PROBE,
    )
    names = [dns.IPV4ONLY_ARPA, *(n for n in dict.fromkeys(lookups) if n != dns.IPV4ONLY_ARPA)]
    # One probe alone first: it opens the connection, so an unreachable host fails once, fast.
    values: dict[str, Any] = {"uname": await probe(system.UNAME)}
    try:
        async with asyncio.TaskGroup() as group:
            tasks = {p.name: group.create_task(probe(p)) for p in probes}
            resolved_task = group.create_task(
                fact("resolved.conf", lambda: _guard(resolved_conf()))
            )
            lookup_tasks = [group.create_task(resolve(n)) for n in names]
            # Not behind the gate: it mostly waits, and must not hold up the other probes.
            link_task = (
                group.create_task(link.gather_link(executor, *uplink, listen_seconds))
                if uplink is not None
                else None
            )
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None
    values.update({name: task.result() for name, task in tasks.items()})
    resolved = resolved_task.result()
    found = [task.result() for task in lookup_tasks]
    arpa, *others = found
    handshake: BgpAnswer | None = None
    if bgp_peer is not None and connect:
        if values["listeners"] is None:
            unknown[bgp.HANDSHAKE] = "not tried: the listeners could not be read"
        elif not bgp.speaks_bgp(values["listeners"]):
            handshake = await probe(bgp.handshake_probe(node, bgp_peer))
    return HostFacts(
        host=executor.host,
        node=node,
        os=values["os"],
        uname=values["uname"],
        interfaces=values["addresses"],
        routes=values["routes"],
        ipv6_conf=values["sysctl"],
        modules=values["modules"],
        swaps=values["swap"],
        disks=values["disk"],
        cgroup=values["cgroup"],
        listeners=values["listeners"],
        resolv_conf=values["resolv.conf"],
        resolved_conf=resolved,
        packages=values["packages"],
        services=values["services"],
        nat64=None if f"lookup {dns.IPV4ONLY_ARPA}" in unknown else dns.discover_nat64(arpa),
        lookups=tuple(others),
        link=link_task.result() if link_task is not None else None,
        bgp=handshake,
        unknown=dict(unknown),
    )


async def _guard(work: Awaitable[T]) -> T:
    try:
        return await work
    except CommandError as exc:
        raise FactError(exc.message.splitlines()[0]) from None


async def _connect(executor: Executor, found: Lookup, port: int) -> Lookup:
    address = found.ipv6[0]
    argv = dns.connect_argv(address, port, CONNECT_TIMEOUT)
    result = await executor.run(Command(argv, timeout=CONNECT_TIMEOUT + 5), check=False)
    if result.ok:
        return replace(found, connect=True, connect_detail=f"TCP [{address}]:{port} connected")
    if result.exit_code == 127:
        return replace(found, connect_detail="not tried: bash or timeout is missing")
    reason = (
        "timed out"
        if result.exit_code in (124, None)
        else (result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    )
    return replace(found, connect=False, connect_detail=f"TCP [{address}]:{port}: {reason}")
