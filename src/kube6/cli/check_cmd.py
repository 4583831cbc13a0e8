"""`kube6 check`: read-only preflight of every node, local or over SSH; fail once at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import IdentityOption, KnownHostsOption, Output, SpecOption, load_plan
from kube6.cli.tables import show
from kube6.errors import ExitStatus

if TYPE_CHECKING:
    # The checks load when `check` runs: other commands and --help do not pay for them.
    from kube6.checks.artifacts import ArtifactVerdict
    from kube6.checks.model import CheckResult


@app.command()
def check(
    spec_path: Path | None = SpecOption,
    node: list[str] = typer.Option(
        [], "--node", "-n", help="Check only this node (repeatable). Default: every node."
    ),
    ignore: list[str] = typer.Option(
        [], "--ignore", help="Turn a failure of this check into a warning (repeatable)."
    ),
    output: Output = typer.Option(Output.TABLE, "--output", "-o", help="table or json."),
    local: bool = typer.Option(
        False, "--local", help="Run on this machine even for nodes that have an ssh target."
    ),
    known_hosts: Path | None = KnownHostsOption,
    identity: Path | None = IdentityOption,
    connect: bool = typer.Option(
        True,
        "--connect/--no-connect",
        help="Try a TCP connection to each download host, and in bgp routing a BGP handshake "
        "with the router (stopped before any route is exchanged).",
    ),
) -> None:
    """Check every node against the plan: addresses, routes, sysctls, ports, DNS64, downloads,
    the provider's link model, and in bgp routing whether the router accepts each node.

    Read-only. Every check runs on every node; then the exit status is 1 if any failed.
    """
    from kube6.checks import Status
    from kube6.usecases.check import CheckRequest
    from kube6.usecases.check import check as check_nodes
    from kube6.usecases.nodes import SshOptions

    plan = load_plan(spec_path)
    request = CheckRequest(
        nodes=node,
        ignore=ignore,
        local=local,
        ssh=SshOptions(known_hosts, identity),
        connect=connect,
    )
    report = check_nodes(plan, request)
    results = report.results
    if output is Output.JSON:
        from kube6.results import document

        audit = [v.to_json() for v in report.artifacts]
        stdout.print_json(json.dumps(document("check", results, artifacts=audit)))
    else:
        _print(results)
        _print_artifacts(report.artifacts)
    bad = [r for r in results if r.failed]
    if bad:
        names = ", ".join(dict.fromkeys(f"{r.node}/{r.name}" for r in bad))
        stderr.print(f"[bold red]{len(bad)} check(s) failed:[/] {names}", markup=True)
        raise typer.Exit(int(ExitStatus.FAILED))
    warned = sum(r.status is Status.WARN for r in results)
    stderr.print(f"all checks passed ({warned} warning(s))")


def _print(results: list[CheckResult]) -> None:
    from kube6.checks.model import Status

    style = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}
    table = Table(title="kube6 check", title_justify="left", show_lines=True)
    for column in ("node", "check", "status", "message", "fix"):
        table.add_column(column, no_wrap=column in ("node", "check", "status"), overflow="fold")
    for result in results:
        table.add_row(
            result.node or "(this machine)",
            result.name,
            Text(str(result.status), style=style[result.status]),
            result.message,
            result.fix,
        )
    show(stdout, table)


def _print_artifacts(verdicts: list[ArtifactVerdict]) -> None:
    """One row per artifact and verdict (nodes that agree share a row), worst verdicts first;
    then each distinct fix once."""
    from kube6.checks.artifacts import VERDICTS

    style = {"unreachable": "bold red", "nat64": "yellow", "mirror": "green", "ipv6": "green"}
    rows: dict[tuple[str, str, str], list[ArtifactVerdict]] = {}
    for v in sorted(verdicts, key=lambda v: VERDICTS.index(v.verdict)):
        rows.setdefault((v.verdict, v.artifact.shown, v.host), []).append(v)
    every = {v.node for v in verdicts}
    table = Table(title="kube6 check: artifacts", title_justify="left")
    columns = ("verdict", "kind", "artifact", "component", "host")
    for column in (*columns, "nodes") if len(every) > 1 else columns:
        table.add_column(column, no_wrap=column in ("verdict", "kind"), overflow="fold")
    last = ""
    for (verdict, shown, host), group in rows.items():
        if last and verdict != last:
            table.add_section()
        last = verdict
        nodes = {v.node for v in group}
        cells: list[Text | str] = [
            Text(verdict, style=style[verdict]),
            group[0].artifact.kind,
            shown,
            group[0].artifact.component,
            host,
        ]
        if len(every) > 1:
            cells.append("all" if nodes == every else ", ".join(sorted(nodes)))
        table.add_row(*cells)
    show(stdout, table)
    notes = dict.fromkeys(note for v in verdicts for note in v.notes)
    fixes: dict[str, list[str]] = {}
    for v in verdicts:
        if v.fix:
            fixes.setdefault(v.fix, []).append(v.artifact.ref)
    for note in notes:
        stdout.print(f"note: {note}")
    for fix, refs in fixes.items():
        stdout.print(f"fix for {', '.join(dict.fromkeys(refs))}: {fix}")
