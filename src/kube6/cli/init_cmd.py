"""`kube6 init`: write a commented kube6.yaml (detected on this host, or from flags)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kube6 import net
from kube6.cli.app import app, stderr
from kube6.errors import SpecError, UsageError
from kube6.modes import RoutingMode

OUT_OPTION = typer.Option(Path("kube6.yaml"), "--output", "-o", "--out", help="File to write.")
FORCE_OPTION = typer.Option(
    False, "--force", help="Update an existing file (its comments and order are kept)."
)
NAME_OPTION = typer.Option("", "--name", help="Cluster name (default kube001).")
PREFIX_OPTION = typer.Option(
    "", "--prefix", help="The provider's prefix, e.g. 2001:db8:1234:5678::/64."
)
NODE_OPTION = typer.Option(
    [],
    "--node",
    help="NAME=ADDRESS[,roles=control-plane+worker][,ssh=root@[ADDR]][,if=eth0]; repeat "
    "for each node. The first node defaults to control-plane+worker, the others to worker.",
)
ROUTING_OPTION = typer.Option(
    None, "--routing", help="ndp-proxy, routed or bgp (default: proposed from the host)."
)
NAT64_PREFIX_OPTION = typer.Option("", "--nat64-prefix", help="NAT64 prefix, e.g. 64:ff9b::/96.")
EMAIL_OPTION = typer.Option("", "--email", help="ACME (Let's Encrypt) account e-mail.")
DASHBOARD_HOST_OPTION = typer.Option("", "--dashboard-host", help="Public dashboard name.")
DETECT_OPTION = typer.Option(
    True,
    "--detect/--no-detect",
    help="Read hostname, uplink, stable address, on-link prefix, resolvers and the DNS64 "
    "prefix from this host (Linux), and listen ~4 s on the uplink for the provider's link "
    "model (on-link or routed) to propose the routing mode. Flags win over what is detected.",
)


@app.command()
def init(
    out: Path = OUT_OPTION,
    force: bool = FORCE_OPTION,
    name: str = NAME_OPTION,
    prefix: str = PREFIX_OPTION,
    node: list[str] = NODE_OPTION,
    routing: RoutingMode | None = ROUTING_OPTION,
    nat64_prefix: str = NAT64_PREFIX_OPTION,
    email: str = EMAIL_OPTION,
    dashboard_host: str = DASHBOARD_HOST_OPTION,
    detect: bool = DETECT_OPTION,
) -> None:
    """Write a commented kube6.yaml.

    On a Linux server, `kube6 init` alone detects this host: its name, the uplink (the
    interface of the default route), the stable global IPv6 address (never a temporary one),
    the on-link prefix, the resolvers and any DNS64 prefix, and proposes a routing mode from
    the provider's link model (it listens on the uplink a few seconds, as `kube6 check` does).
    Anywhere else, give --prefix and --node. An existing file is never overwritten without
    --force, and then only the given values change; its comments stay.
    """
    from kube6 import init as init_core

    try:
        flags = init_core.InitAnswers(
            cluster=name,
            prefix=net.parse_network(prefix) if prefix else None,
            routing=RoutingMode(routing) if routing is not None else None,
            nodes=tuple(
                init_core.parse_node_flag(text, first=index == 0) for index, text in enumerate(node)
            ),
            nat64_prefix=net.parse_network(nat64_prefix) if nat64_prefix else None,
            email=email or None,
            dashboard_host=dashboard_host or None,
        )
    except ValueError as exc:
        raise SpecError([str(exc)], source="command line") from None
    answers = flags
    if detect and not (flags.prefix and flags.nodes) and sys.platform == "linux":
        from kube6.init_detect import detect_local

        answers = init_core.merge(detect_local(), flags)
        for note in answers.notes:
            stderr.print(f"detected: {note}")
        for warning in answers.warnings:
            stderr.print(f"warning: {warning}")
    from kube6.cli.outputs import check_file, write_file

    check_file(out, "--output")
    if out.exists():
        if not force:
            raise UsageError(
                f"{out} exists; kube6 init does not overwrite it",
                fix=f"pass --force to update {out} in place (comments are kept), or -o OTHER",
            )
        # Only what the command line says changes the cluster name (a detected host name
        # must not rename an existing cluster).
        answers = init_core.replace(answers, cluster=flags.cluster)
        from kube6.spec import read_bounded

        with out.open("rb") as stream:
            old = read_bounded(stream, str(out)).decode("utf-8", errors="replace")
        text = init_core.update_text(old, answers)
        write_file(out, text, "--output")
        stderr.print(f"updated {out} (comments kept); next: kube6 plan -f {out}")
        return
    if not answers.cluster:
        answers = init_core.replace(answers, cluster="kube001")
    text = init_core.render_text(answers)
    write_file(out, text, "--output")
    stderr.print(f"wrote {out}; next: kube6 plan -f {out}")
