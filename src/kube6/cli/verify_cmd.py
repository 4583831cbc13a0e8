"""`kube6 verify`: acceptance of a running cluster against its plan (exit 1 on any failure)."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from ipaddress import IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import Output, SpecOption, load_plan
from kube6.cli.tables import show
from kube6.errors import ExitStatus, UsageError
from kube6.verify.defaults import DEFAULT_IPV4_ONLY_NAME, DEFAULT_OUTSIDE, DEFAULT_PROBE_IMAGE

if TYPE_CHECKING:
    from lightkube import Client

    from kube6.plan.model import Plan
    from kube6.verify.datapath import Targets
    from kube6.verify.kubeconfig import NodeKubeconfig
    from kube6.verify.outside import PeerCertificate
    from kube6.verify.probe_pod import ProbePods
    from kube6.verify.result import CheckResult

# The verify modules load when `verify` runs: lightkube and httpx take about a second to import,
# which no other command should pay. The five functions below are this module's own names so
# that tests can stand in for the cluster, the nodes and the network here.


def client_for(path: Path) -> Client:
    from kube6.verify import kubeconfig

    return kubeconfig.client_for(path)


def read_node_kubeconfig(ssh: str, node: str) -> str:
    """kubeadm's admin.conf on `node`, through the executor that `kube6 up` uses for it."""
    import asyncio

    from kube6.execute import executor_for
    from kube6.verify import kubeconfig

    return asyncio.run(kubeconfig.read_admin_kubeconfig(executor_for(ssh, host=node), node))


def resolve_aaaa(host: str) -> list[IPv6Address]:
    from kube6.verify import outside

    return outside.resolve_aaaa(host)


def tls_certificate(address: IPv6Address, port: int, server_name: str | None) -> PeerCertificate:
    from kube6.verify import outside

    return outside.tls_certificate(address, port, server_name)


def probe_pods(client: Client, plan: Plan, image: str) -> AbstractContextManager[ProbePods]:
    from kube6.verify import probe_pod

    return probe_pod.probe_pods(client, plan, image)


@app.command()
def verify(
    spec_path: Path | None = SpecOption,
    kubeconfig: Path | None = typer.Option(
        None,
        "--kubeconfig",
        help="Default: $KUBECONFIG, /etc/kubernetes/admin.conf, ~/.kube/config, then "
        "admin.conf of the first control-plane node over SSH (see --no-fetch).",
        show_default=False,
    ),
    fetch_: bool = typer.Option(
        True,
        "--fetch/--no-fetch",
        help="With no kubeconfig on this machine, read /etc/kubernetes/admin.conf from the "
        "first control-plane node over SSH (its ssh: in the spec) and keep it in a private "
        "temporary file for this run only. --no-fetch: never copy the admin credentials here.",
    ),
    output: Output = typer.Option(Output.TABLE, "--output", "-o", help="table or json."),
    watch_: bool = typer.Option(
        False, "--watch", "-w", help="Re-run until every check passes or --timeout passes."
    ),
    timeout: float = typer.Option(600.0, "--timeout", min=0, help="Seconds, with --watch."),
    interval: float = typer.Option(10.0, "--interval", min=0.1, help="Seconds between rounds."),
    outside: bool = typer.Option(
        True,
        "--outside/--no-outside",
        help="Also check from this machine: gateway HTTPS, dashboard AAAA and certificate.",
    ),
    probes: bool = typer.Option(
        True,
        "--probes/--no-probes",
        help="Test the data path from inside the cluster: two short-lived pods on two nodes "
        "(deleted afterwards) check that a pod gets an IPv6 address from a planned pool, "
        "resolves kubernetes.default through the cluster DNS, pings its node, a pod on the "
        "other node and --probe-outside, and reaches --ipv4-only-name through DNS64/NAT64 "
        "(when the plan has NAT64). --no-probes: no pods are created.",
    ),
    probe_image: str | None = typer.Option(
        None,
        "--probe-image",
        help="Image of the probe pods; it needs ping, nc, nslookup and ip (busybox applets, "
        "or iputils, netcat, bind9 and iproute2 as in netshoot).",
        show_default=DEFAULT_PROBE_IMAGE,
    ),
    probe_netns: str | None = typer.Option(
        None,
        "--probe-netns",
        help="Run the probes inside this network namespace of this machine instead of in pods "
        "(a lab pod: no cluster DNS there).",
    ),
    probe_outside: str = typer.Option(
        str(DEFAULT_OUTSIDE), "--probe-outside", help="Outside IPv6 address the probes ping."
    ),
    ipv4_only_name: str = typer.Option(
        DEFAULT_IPV4_ONLY_NAME,
        "--ipv4-only-name",
        help="A name with only A records, reached through DNS64/NAT64 when the plan has NAT64.",
    ),
) -> None:
    """Check a running cluster against the plan: nodes, addresses, Services, Calico, pods,
    add-ons, the data path from two probe pods, and (from here) the gateway and the dashboard.

    Each check has a stable name, the evidence it saw and a fix. Exit status: 0 when nothing
    failed (warnings allowed), 1 when a check failed, 2 on a bad spec or kubeconfig (or none
    could be read from the first control-plane node).
    """
    import asyncio

    from kube6.execute import NetnsExecutor
    from kube6.verify.datapath import run_datapath
    from kube6.verify.fetch import ClusterUnreachableError
    from kube6.verify.result import all_ok
    from kube6.verify.run import OutsideIO, failing, unreachable, verify_round, watch

    plan = load_plan(spec_path)
    if probe_netns is not None and probe_image is not None:
        raise UsageError(
            "--probe-netns and --probe-image both say where the probes run",
            fix="give one of them: --probe-image in a cluster, --probe-netns in the lab",
        )
    if not probes and (probe_netns or probe_image):
        given = "--probe-netns" if probe_netns else "--probe-image"
        raise UsageError(
            f"--no-probes leaves the probes out, but {given} says where to run them",
            fix=f"drop --no-probes to run the probes, or drop {given}",
        )
    io = OutsideIO(resolve_aaaa, tls_certificate) if outside else None
    targets = _targets(probe_outside, ipv4_only_name)
    # The stack removes a kubeconfig fetched from a node when verify ends, however it ends.
    with ExitStack() as stack:
        path, fetched = _kubeconfig(plan, kubeconfig, fetch_, stack)
        client = _client(path, fetched)
        where = f"the API server of {fetched.origin if fetched else path}"

        def one_round() -> list[CheckResult]:
            results = verify_round(plan, client, where=where, outside=io)
            if probe_netns is not None:
                lab = replace(targets, node=plan.nodes[0].address, cluster_dns=False)
                results += asyncio.run(run_datapath(NetnsExecutor(probe_netns), plan, lab))
            elif probes:
                image = probe_image or DEFAULT_PROBE_IMAGE
                results += _probe_in_pods(plan, client, path, image, targets)
            return results

        if watch_:

            def progress(number: int, results: list[CheckResult]) -> None:
                bad = failing(results)
                if bad:
                    stderr.print(
                        f"round {number}: {len(bad)} failing ({', '.join(r.name for r in bad)})"
                    )

            results = watch(one_round, timeout=timeout, interval=interval, on_round=progress)
        else:
            try:
                results = one_round()
            except ClusterUnreachableError as exc:
                results = unreachable(exc)
    _show(plan, results, output)
    if not all_ok(results):
        raise typer.Exit(int(ExitStatus.FAILED))


def _kubeconfig(
    plan: Plan, explicit: Path | None, fetch: bool, stack: ExitStack
) -> tuple[Path, NodeKubeconfig | None]:
    """A local kubeconfig, else admin.conf of the first control-plane node in a private file
    that `stack` removes. Says on stderr which one it is."""
    from kube6.verify.kubeconfig import (
        ADMIN_KUBECONFIG,
        local_kubeconfig,
        no_kubeconfig,
        node_kubeconfig,
        private_kubeconfig,
    )

    path = local_kubeconfig(explicit)
    if path is not None:
        stderr.print(f"kubeconfig: {path}")
        return path, None
    node = plan.first_control_plane
    if not fetch:
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
    text = read_node_kubeconfig(node.ssh, node.name)
    fetched = node_kubeconfig(
        text,
        endpoint=plan.control_plane_endpoint,
        origin=f"{ADMIN_KUBECONFIG} on {node.name}",
    )
    path = stack.enter_context(private_kubeconfig(fetched))
    note = f"kubeconfig: {fetched.origin} over SSH (server {fetched.server})"
    if fetched.replaced is not None:
        note += f"; its server {fetched.replaced} works only on the node itself"
    stderr.print(note)
    return path, fetched


def _client(path: Path, fetched: NodeKubeconfig | None) -> Client:
    try:
        return client_for(path)
    except UsageError as exc:
        if fetched is None:
            raise
        # Name the node's file, not the temporary copy, and never show a credential.
        raise UsageError(
            fetched.mask(exc.message.replace(str(path), fetched.origin)),
            fix=f"check {fetched.origin}, or pass --kubeconfig PATH with a working copy",
        ) from None


def _targets(outside: str, ipv4_only_name: str) -> Targets:
    from kube6.verify.datapath import Targets

    try:
        outside_address = IPv6Address(outside)
    except ValueError:
        raise UsageError(
            f"--probe-outside {outside!r} is not an IPv6 address",
            fix="give an outside address that answers ping, e.g. 2001:4860:4860::8888",
        ) from None
    return Targets(outside=outside_address, ipv4_only_name=ipv4_only_name)


def _probe_in_pods(
    plan: Plan, client: Client, kubeconfig: Path, image: str, base: Targets
) -> list[CheckResult]:
    import asyncio

    from kube6.verify.datapath import run_datapath
    from kube6.verify.probe_pod import ProbePodError
    from kube6.verify.result import failed

    try:
        with probe_pods(client, plan, image) as pods:
            executor = pods.executor(kubeconfig)
            return asyncio.run(run_datapath(executor, plan, pods.targets(base)))
    except ProbePodError as exc:
        return [failed("probe-pods", exc.message, exc.fix)]


def _show(plan: Plan, results: list[CheckResult], output: Output) -> None:
    from kube6.verify.result import Status, evidence_lines, is_skipped
    from kube6.verify.run import failing

    style = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}
    if output is Output.JSON:
        from kube6.results import document

        stdout.print_json(json.dumps(document("verify", results, plan=plan.digest)))
    else:
        table = Table(title=f"kube6 verify: {plan.cluster_name}", title_justify="left")
        for column in ("check", "status", "result", "fix"):
            table.add_column(column, no_wrap=column in ("check", "status"), overflow="fold")
        for r in results:
            detail = r.message
            if r.status in (Status.FAIL, Status.WARN):
                detail += "".join(f"\n  {line}" for line in evidence_lines(r))
            status = (
                Text("skip", style="dim")
                if is_skipped(r)
                else Text(str(r.status), style=style[r.status])
            )
            table.add_row(
                r.name,
                status,
                detail,
                r.fix if r.status in (Status.FAIL, Status.WARN) else "",
            )
        show(stdout, table)
    bad = failing(results)
    if bad:
        stderr.print(
            f"[bold red]{len(bad)} check(s) failed:[/] " + ", ".join(r.name for r in bad),
            markup=True,
        )
    else:
        stderr.print(f"all {len(results)} check(s) passed or were skipped")
