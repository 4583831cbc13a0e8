"""`kube6 plan` and `kube6 schema`: read-only views of the spec and its address plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import Output, SpecOption, load_spec
from kube6.cli.tables import show
from kube6.errors import ExitStatus, PlanError

if TYPE_CHECKING:
    # The planner loads when a command runs (see kube6.cli.common).
    from kube6.plan.model import Plan, RuleResult


@app.command()
def plan(
    spec_path: Path | None = SpecOption,
    output: Output = typer.Option(Output.TABLE, "--output", "-o", help="table or json."),
) -> None:
    """Show the address plan: every range, size and choice, and every rule it satisfies.

    Exit status: 0 when every rule holds, 1 when a rule fails, 2 when the spec is unusable.
    """
    from kube6.plan import make_plan
    from kube6.plan.document import as_document
    from kube6.plan.model import RuleResult

    spec, source = load_spec(spec_path)
    try:
        result = make_plan(spec, source=source)
    except PlanError as exc:
        failures = [f for f in exc.failures if isinstance(f, RuleResult)]
        if output is Output.JSON:
            from kube6.results import SCHEMA_VERSION

            document = {
                "schema_version": SCHEMA_VERSION,
                "kind": "plan",
                "ok": False,
                "rules": [f.to_json() for f in failures],
            }
            stdout.print_json(json.dumps(document))
        else:
            _print_rules(failures)
        stderr.print(f"[bold red]no plan:[/] {len(failures)} rule(s) cannot be met", markup=True)
        raise typer.Exit(int(ExitStatus.FAILED)) from None
    if output is Output.JSON:
        stdout.print_json(json.dumps(as_document(result)))
    else:
        _print_plan(result)
    if not result.ok:
        stderr.print(
            f"[bold red]{len(result.failures)} rule(s) failed:[/] "
            + ", ".join(r.name for r in result.failures),
            markup=True,
        )
        raise typer.Exit(int(ExitStatus.FAILED))


def _summary(result: Plan) -> Table:
    """The ranges of the plan, each with its size or capacity."""
    summary = Table(
        title=f"kube6 plan for {result.cluster_name} ({result.source})", title_justify="left"
    )
    summary.add_column("range", overflow="fold")
    summary.add_column("value", no_wrap=True)  # an address or prefix is never cut
    summary.add_column("size / capacity", overflow="fold")
    summary.add_row("prefix", str(result.prefix), f"routing: {result.routing}")
    for pool in result.pools:
        who = "all nodes" if pool.nodes is None else ", ".join(pool.nodes)
        blocks = pool.blocks if pool.block_size >= pool.cidr.prefixlen else 0
        summary.add_row(
            f"pods ({pool.name})",
            str(pool.cidr),
            f"{blocks} blocks of /{pool.block_size}; natOutgoing "
            f"{'on' if pool.nat_outgoing else 'off'}; {who}",
        )
    if len(result.pools) > 1:
        summary.add_row("pods (kubeadm podSubnet)", str(result.pods), "covers every pool")
    summary.add_row(
        "node mask",
        f"/{result.node_mask}",
        f"maxPods {result.max_pods}; node CIDR allocation "
        f"{'on' if result.allocate_node_cidrs else 'off'}",
    )
    summary.add_row(
        "services", str(result.services), f"{1 << (128 - result.services.prefixlen)} addresses"
    )
    summary.add_row("  kubernetes API service", str(result.api), "address 1")
    summary.add_row("  cluster DNS", str(result.dns), "")
    lb = result.load_balancers
    summary.add_row(
        "load balancers",
        str(lb.cidr),
        f"{lb.size} addresses (LoadBalancer Services); Calico pool, /{lb.block_size} blocks",
    )
    if lb.gateway is not None:
        summary.add_row("  gateway", str(lb.gateway), "the gateway's AAAA records point here")
    summary.add_row("control-plane endpoint", result.control_plane_endpoint, "")
    if result.bgp is not None:
        bgp = result.bgp
        signed = (
            f"signed with the password of {bgp.password_file} (TCP MD5)"
            if bgp.password_file is not None
            else "no password"
        )
        summary.add_row(
            "BGP peer",
            str(bgp.peer),
            f"AS {bgp.peer_as}; the cluster is AS {bgp.as_number}; {signed}",
        )
        summary.add_row(
            "  node mesh",
            "every node",
            f"AS {bgp.as_number}; signed with a random password (`up` makes it, TCP MD5)",
        )
    return summary


def _print_plan(result: Plan) -> None:
    show(stdout, _summary(result))

    nodes = Table(title="nodes", title_justify="left")
    for column in ("name", "address", "roles", "link prefix", "pool", "NDP proxy"):
        whole = column in ("name", "address", "link prefix")
        nodes.add_column(column, no_wrap=whole, overflow="fold")
    shown = result.nodes if len(result.nodes) <= 50 else result.nodes[:50]
    for node in shown:
        nodes.add_row(
            node.name,
            str(node.address),
            ", ".join(map(str, node.roles)),
            str(node.link_prefix),
            node.pool,
            "; ".join(f"{r.cidr} {r.method}" for r in node.ndp_rules) or "-",
        )
    if len(result.nodes) > 50:
        nodes.add_row(f"... {len(result.nodes) - 50} more", "", "", "", "", "")
    show(stdout, nodes)

    choices = Table(title="choices", title_justify="left")
    for column in ("value", "chosen", "from", "why"):
        choices.add_column(column, no_wrap=column in ("value", "chosen"), overflow="fold")
    for choice in result.choices:
        choices.add_row(choice.name, choice.value, choice.source, choice.reason)
    show(stdout, choices)
    _print_rules(result.rules)


def _print_rules(rules: tuple[RuleResult, ...] | list[RuleResult]) -> None:
    from kube6.plan.model import Level

    level_style = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}
    table = Table(title="rules", title_justify="left")
    for column in ("rule", "status", "detail", "fix"):
        # The rule name is what --ignore takes: whole, never cut; the prose wraps.
        table.add_column(column, no_wrap=column in ("rule", "status"), overflow="fold")
    for rule in rules:
        table.add_row(
            rule.name,
            Text(str(rule.grade), style=level_style[rule.grade]),
            rule.message,
            rule.fix if rule.grade is not Level.OK else "",
        )
    show(stdout, table)


@app.command()
def schema(
    out: Path | None = typer.Option(
        None, "--output", "-o", "--out", help="Write to this file instead of stdout."
    ),
) -> None:
    """Print the JSON Schema of kube6.yaml (for editor completion and validation)."""
    from kube6 import spec as spec_module

    text = json.dumps(spec_module.json_schema(), indent=2, sort_keys=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        from kube6.cli.outputs import write_file

        write_file(out, text, "--output")
        stderr.print(f"wrote {out}")
