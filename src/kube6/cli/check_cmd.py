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
        True, "--connect/--no-connect", help="Try a TCP connection to each download host."
    ),
) -> None:
    """Check every node against the plan: addresses, routes, sysctls, ports, DNS64, downloads.

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
    results = check_nodes(plan, request)
    if output is Output.JSON:
        from kube6.results import document

        stdout.print_json(json.dumps(document("check", results)))
    else:
        _print(results)
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
            result.node,
            result.name,
            Text(str(result.status), style=style[result.status]),
            result.message,
            result.fix,
        )
    show(stdout, table)
