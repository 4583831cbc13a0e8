"""`kube6 verify`: find or fetch a kubeconfig, then check the cluster (once, or until it passes).

Everything verify touches outside this process is in `World`; `real_world()` is the real one,
and tests hand `verify` their own (a fake API server, recorded DNS answers, no probe pods).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, replace
from ipaddress import IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING

from kube6.errors import UsageError
from kube6.verify.defaults import DEFAULT_IPV4_ONLY_NAME, DEFAULT_OUTSIDE, DEFAULT_PROBE_IMAGE

if TYPE_CHECKING:
    from lightkube import Client

    from kube6.execute.base import Executor
    from kube6.plan.model import Plan, PlannedNode
    from kube6.verify.datapath import Targets
    from kube6.verify.kubeconfig import NodeKubeconfig
    from kube6.verify.load_balancers import TcpConnect
    from kube6.verify.outside import Connect, Resolve
    from kube6.verify.probe_pod import ProbePods
    from kube6.verify.result import CheckResult
    from kube6.verify.run import OutsideIO


@dataclass(frozen=True)
class World:
    """What verify uses of the world outside this process."""

    client_for: Callable[[Path], Client]
    """A cluster client from a kubeconfig file."""
    read_node_kubeconfig: Callable[[str, str], str]
    """(ssh target, node name) -> the text of kubeadm's admin.conf on that node."""
    resolve_aaaa: Resolve
    tls_certificate: Connect
    probe_pods: Callable[[Client, Plan, str], AbstractContextManager[ProbePods]]
    """Start the two probe pods (image) and remove them when the block ends."""
    netns_executor: Callable[[str], Executor]
    """An executor in a network namespace of this machine (--probe-netns)."""
    tcp_connect: TcpConnect
    """Open a TCP connection (LoadBalancer Services' ports) or raise OSError."""


def real_world() -> World:
    from kube6.execute import NetnsExecutor
    from kube6.verify import kubeconfig, load_balancers, outside, probe_pod

    return World(
        client_for=kubeconfig.client_for,
        read_node_kubeconfig=_read_node_kubeconfig,
        resolve_aaaa=outside.resolve_aaaa,
        tls_certificate=outside.tls_certificate,
        probe_pods=probe_pod.probe_pods,
        netns_executor=NetnsExecutor,
        tcp_connect=load_balancers.tcp_connect,
    )


def _read_node_kubeconfig(ssh: str, node: str) -> str:
    """kubeadm's admin.conf on `node`, through the executor that `kube6 up` uses for it."""
    from kube6.execute import executor_for
    from kube6.verify.kubeconfig import read_admin_kubeconfig

    return asyncio.run(read_admin_kubeconfig(executor_for(ssh, host=node), node))


@dataclass(frozen=True)
class VerifyRequest:
    kubeconfig: Path | None = None
    """An explicit kubeconfig; else the usual places, else admin.conf fetched (with `fetch`)."""
    fetch: bool = True
    watch: bool = False
    timeout: float = 600.0
    interval: float = 10.0
    outside: bool = True
    """Also check from this machine: gateway HTTPS, dashboard AAAA and certificate, the
    LoadBalancer Services' TCP ports."""
    probes: bool = True
    probe_image: str | None = None
    probe_netns: str | None = None
    probe_outside: IPv6Address = DEFAULT_OUTSIDE
    ipv4_only_name: str = DEFAULT_IPV4_ONLY_NAME


def verify(
    plan: Plan,
    request: VerifyRequest,
    *,
    world: World | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> list[CheckResult]:
    """The results of one round, or with `watch` of the last round. `say` gets progress lines
    (which kubeconfig, failing rounds). A kubeconfig fetched from a node is removed when this
    returns, however it returns."""
    from kube6.verify.datapath import Targets
    from kube6.verify.fetch import ClusterUnreachableError
    from kube6.verify.run import OutsideIO, failing, unreachable, watch

    world = world or real_world()
    io = (
        OutsideIO(world.resolve_aaaa, world.tls_certificate, world.tcp_connect)
        if request.outside
        else None
    )
    targets = Targets(outside=request.probe_outside, ipv4_only_name=request.ipv4_only_name)
    with ExitStack() as stack:
        path, fetched = _kubeconfig(plan, request, world, stack, say)
        client = _client(world, path, fetched)
        where = f"the API server of {fetched.origin if fetched else path}"

        def one_round() -> list[CheckResult]:
            results = verify_round(plan, client, where=where, outside=io)
            return results + _datapath(plan, request, world, client, path, targets)

        if not request.watch:
            try:
                return one_round()
            except ClusterUnreachableError as exc:
                return unreachable(exc)

        def progress(number: int, results: list[CheckResult]) -> None:
            bad = failing(results)
            if bad:
                say(f"round {number}: {len(bad)} failing ({', '.join(r.name for r in bad)})")

        return watch(
            one_round, timeout=request.timeout, interval=request.interval, on_round=progress
        )


def verify_objects(
    plan: Plan, client: Client, *, where: str = "the API server"
) -> list[CheckResult]:
    """Fetch the cluster's objects through `client` and run every object check on them."""
    from kube6.components import registry
    from kube6.verify.fetch import fetch_objects

    return registry.check_objects(
        plan, fetch_objects(client, registry.custom_kinds(plan), where=where)
    )


def verify_round(
    plan: Plan, client: Client, *, where: str = "the API server", outside: OutsideIO | None = None
) -> list[CheckResult]:
    """Fetch and check the cluster's objects, then (with `outside`) check it from here."""
    from kube6.components import registry
    from kube6.components.gateway import served_addresses
    from kube6.verify.fetch import fetch_objects
    from kube6.verify.load_balancers import check_reachable
    from kube6.verify.outside import check_outside

    objects = fetch_objects(client, registry.custom_kinds(plan), where=where)
    results = registry.check_objects(plan, objects)
    if outside is not None:
        results += check_outside(
            plan, served_addresses(objects), resolve=outside.resolve, connect=outside.connect
        )
        results += check_reachable(plan, objects.services, outside.tcp)
    return results


def _datapath(
    plan: Plan,
    request: VerifyRequest,
    world: World,
    client: Client,
    kubeconfig: Path,
    targets: Targets,
) -> list[CheckResult]:
    """The data-path probes: in a namespace of this machine, in two probe pods, or none."""
    from kube6.verify.datapath import run_datapath
    from kube6.verify.probe_pod import ProbePodError
    from kube6.verify.result import failed

    if request.probe_netns is not None:
        lab = replace(targets, node=plan.nodes[0].address, cluster_dns=False)
        return asyncio.run(run_datapath(world.netns_executor(request.probe_netns), plan, lab))
    if not request.probes:
        return []
    image = request.probe_image or DEFAULT_PROBE_IMAGE
    try:
        with world.probe_pods(client, plan, image) as pods:
            executor = pods.executor(kubeconfig)
            return asyncio.run(run_datapath(executor, plan, pods.targets(targets)))
    except ProbePodError as exc:
        return [failed("probe-pods", exc.message, exc.fix)]


def _kubeconfig(
    plan: Plan,
    request: VerifyRequest,
    world: World,
    stack: ExitStack,
    say: Callable[[str], None],
) -> tuple[Path, NodeKubeconfig | None]:
    """A local kubeconfig, else admin.conf of a control-plane node in a private file
    that `stack` removes. Says which one it is."""
    from kube6.verify.kubeconfig import (
        ADMIN_KUBECONFIG,
        local_kubeconfig,
        no_kubeconfig,
        node_kubeconfig,
        private_kubeconfig,
    )

    path = local_kubeconfig(request.kubeconfig)
    if path is not None:
        say(f"kubeconfig: {path}")
        return path, None
    node = plan.first_control_plane
    if not request.fetch:
        raise no_kubeconfig(
            f", and --no-fetch keeps verify from reading {ADMIN_KUBECONFIG} on {node.name}",
            fix=f"pass --kubeconfig PATH, or leave out --no-fetch to read {ADMIN_KUBECONFIG} "
            f"from {node.name} over SSH",
        )
    if node.ssh is None:
        raise no_kubeconfig(
            f"; {node.name}, the first control-plane node, has no ssh: target in the spec, so "
            "it is this machine and there is nothing to fetch from",
            fix=f"pass --kubeconfig PATH; on {node.name} run verify as root ({ADMIN_KUBECONFIG} "
            f"is root-only); or give {node.name} an ssh: target to fetch it from here",
        )
    node, text, passed_over = _read_admin_conf(plan, world)
    fetched = node_kubeconfig(
        text,
        endpoint=plan.control_plane_endpoint,
        origin=f"{ADMIN_KUBECONFIG} on {node.name}",
    )
    path = stack.enter_context(private_kubeconfig(fetched))
    note = f"kubeconfig: {fetched.origin} over SSH (server {fetched.server})"
    if fetched.replaced is not None:
        note += f"; its server {fetched.replaced} works only on the node itself"
    for problem in passed_over:
        note += f"; not from {problem}"
    say(note)
    return path, fetched


def _read_admin_conf(plan: Plan, world: World) -> tuple[PlannedNode, str, list[str]]:
    """admin.conf of the first control-plane node that can be read over SSH, in the plan's
    order: with several control planes verify still runs while one is down (and says so).
    Returns the node, the text, and why each node before it was passed over."""
    from kube6.verify.kubeconfig import KubeconfigFetchError

    errors: list[tuple[PlannedNode, KubeconfigFetchError]] = []
    for node in plan.control_plane_nodes:
        if node.ssh is None:
            continue  # this machine itself, whose own kubeconfig was not found
        try:
            text = world.read_node_kubeconfig(node.ssh, node.name)
        except KubeconfigFetchError as exc:
            errors.append((node, exc))
            continue
        return node, text, [f"{n.name} ({e.message})" for n, e in errors]
    if len(errors) == 1:
        raise errors[0][1]
    raise KubeconfigFetchError(
        "cannot read the admin kubeconfig from any control-plane node: "
        + "; ".join(f"{n.name}: {e.message}" for n, e in errors),
        fix=errors[0][1].fix,
    )


def cluster_client(
    plan: Plan,
    kubeconfig: Path | None,
    fetch: bool,
    world: World,
    stack: ExitStack,
    say: Callable[[str], None],
) -> Client:
    """A client of the plan's cluster, found as verify finds it (a local kubeconfig, else
    admin.conf of a control-plane node over SSH, removed when `stack` closes)."""
    path, fetched = _kubeconfig(
        plan, VerifyRequest(kubeconfig=kubeconfig, fetch=fetch), world, stack, say
    )
    return _client(world, path, fetched)


def _client(world: World, path: Path, fetched: NodeKubeconfig | None) -> Client:
    try:
        return world.client_for(path)
    except UsageError as exc:
        if fetched is None:
            raise
        # Name the node's file, not the temporary copy, and never show a credential.
        raise UsageError(
            fetched.mask(exc.message.replace(str(path), fetched.origin)),
            fix=f"check {fetched.origin}, or pass --kubeconfig PATH with a working copy",
        ) from None
