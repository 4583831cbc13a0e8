"""`kube6 verify`: acceptance of a running cluster against its plan (exit 1 on any failure)."""

from __future__ import annotations

import json
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
    from kube6.plan.model import Plan
    from kube6.verify.result import CheckResult


KUBECONFIG_OPTION = typer.Option(
    None,
    "--kubeconfig",
    help="Default: $KUBECONFIG, /etc/kubernetes/admin.conf, ~/.kube/config, then "
    "admin.conf of a control-plane node over SSH, the first that answers (see --no-fetch).",
    show_default=False,
)
FETCH_OPTION = typer.Option(
    True,
    "--fetch/--no-fetch",
    help="With no kubeconfig on this machine, read /etc/kubernetes/admin.conf from the "
    "first control-plane node over SSH (its ssh: in the spec; the next one when it cannot "
    "be read) and keep it in a private temporary file for this run only. --no-fetch: never "
    "copy the admin credentials here.",
)
OUTPUT_OPTION = typer.Option(Output.TABLE, "--output", "-o", help="table or json.")
WATCH_OPTION = typer.Option(
    False, "--watch", "-w", help="Re-run until every check passes or --timeout passes."
)
TIMEOUT_OPTION = typer.Option(600.0, "--timeout", min=0, help="Seconds, with --watch.")
INTERVAL_OPTION = typer.Option(10.0, "--interval", min=0.1, help="Seconds between rounds.")
OUTSIDE_OPTION = typer.Option(
    True,
    "--outside/--no-outside",
    help="Also check from this machine: gateway HTTPS, dashboard AAAA and certificate.",
)
PROBES_OPTION = typer.Option(
    True,
    "--probes/--no-probes",
    help="Test the data path from inside the cluster: two short-lived pods on two nodes "
    "(deleted afterwards) check that a pod gets an IPv6 address from a planned pool, "
    "resolves kubernetes.default through the cluster DNS, pings its node, a pod on the "
    "other node and --probe-outside, and reaches --ipv4-only-name through DNS64/NAT64 "
    "(when the plan has NAT64). --no-probes: no pods are created.",
)
PROBE_IMAGE_OPTION = typer.Option(
    None,
    "--probe-image",
    help="Image of the probe pods; it needs ping, nc, nslookup and ip (busybox applets, "
    "or iputils, netcat, bind9 and iproute2 as in netshoot).",
    show_default=DEFAULT_PROBE_IMAGE,
)
PROBE_NETNS_OPTION = typer.Option(
    None,
    "--probe-netns",
    help="Run the probes inside this network namespace of this machine instead of in pods "
    "(a lab pod: no cluster DNS there).",
)
PROBE_OUTSIDE_OPTION = typer.Option(
    str(DEFAULT_OUTSIDE), "--probe-outside", help="Outside IPv6 address the probes ping."
)
IPV4_ONLY_NAME_OPTION = typer.Option(
    DEFAULT_IPV4_ONLY_NAME,
    "--ipv4-only-name",
    help="A name with only A records, reached through DNS64/NAT64 when the plan has NAT64.",
)


@app.command()
def verify(
    spec_path: Path | None = SpecOption,
    kubeconfig: Path | None = KUBECONFIG_OPTION,
    fetch_: bool = FETCH_OPTION,
    output: Output = OUTPUT_OPTION,
    watch_: bool = WATCH_OPTION,
    timeout: float = TIMEOUT_OPTION,
    interval: float = INTERVAL_OPTION,
    outside: bool = OUTSIDE_OPTION,
    probes: bool = PROBES_OPTION,
    probe_image: str | None = PROBE_IMAGE_OPTION,
    probe_netns: str | None = PROBE_NETNS_OPTION,
    probe_outside: str = PROBE_OUTSIDE_OPTION,
    ipv4_only_name: str = IPV4_ONLY_NAME_OPTION,
) -> None:
    """Check a running cluster against the plan: nodes, addresses, Services, Calico (pools,
    blocks, BGP sessions in bgp routing), pods, add-ons, the data path from two probe pods, and
    (from here) the gateway and the dashboard.

    Each check has a stable name, the evidence it saw and a fix. Exit status: 0 when nothing
    failed (warnings allowed), 1 when a check failed, 2 on a bad spec or kubeconfig (or none
    could be read from any control-plane node).
    """
    from kube6.usecases import verify as usecase

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
    request = usecase.VerifyRequest(
        kubeconfig=kubeconfig,
        fetch=fetch_,
        watch=watch_,
        timeout=timeout,
        interval=interval,
        outside=outside,
        probes=probes,
        probe_image=probe_image,
        probe_netns=probe_netns,
        probe_outside=_outside_address(probe_outside),
        ipv4_only_name=ipv4_only_name,
    )
    results = usecase.verify(plan, request, world=usecase.real_world(), say=stderr.print)
    _show(plan, results, output)
    if any(r.failed for r in results):
        raise typer.Exit(int(ExitStatus.FAILED))


def _outside_address(outside: str) -> IPv6Address:
    try:
        return IPv6Address(outside)
    except ValueError:
        raise UsageError(
            f"--probe-outside {outside!r} is not an IPv6 address",
            fix="give an outside address that answers ping, e.g. 2001:4860:4860::8888",
        ) from None


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
