"""`kube6 up` and `kube6 reset`: converge the hosts (or undo), with a dry run that prints it all."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import IdentityOption, KnownHostsOption, SpecOption, load_spec
from kube6.errors import ExitStatus, UsageError
from kube6.usecases.nodes import SshOptions

if TYPE_CHECKING:
    # The steps (and through them the renderers and checks) load when `up` or `reset` runs.
    from kube6.plan.model import Plan
    from kube6.steps import Report, Step, StepResult

BUILT_IN = "built-in example"


class UpOutput(StrEnum):
    TABLE = "table"
    JSON = "json"
    SH = "sh"


def _progress(result: StepResult) -> None:
    from rich.markup import escape

    from kube6.steps import Status

    style = {
        Status.OK: "green",
        Status.CHANGED: "yellow",
        Status.PLANNED: "cyan",
        Status.FAILED: "bold red",
        Status.BLOCKED: "red",
    }[result.status]
    line = (
        f"{result.host:<16} {result.step:<28} [{style}]{result.status:<8}[/] {result.seconds:6.2f}s"
    )
    if result.status is Status.OK and result.detail:
        # The reason may quote paths and values: "[/etc/...]" would be a rich closing tag.
        line += f"  {escape(result.detail)}"
    stderr.print(line, markup=True, highlight=False)
    if result.status in (Status.FAILED, Status.BLOCKED) and result.detail:
        stderr.print("    " + result.detail.replace("\n", "\n    "), markup=False, highlight=False)


def _emit(
    report: Report,
    output: UpOutput,
    script_dir: Path | None,
    plan: Plan,
    command: str,
    *,
    fresh: bool,
) -> None:
    if output is UpOutput.JSON:
        from kube6.results import SCHEMA_VERSION

        document = {"schema_version": SCHEMA_VERSION, "kind": command, **report.to_json()}
        stdout.print_json(json.dumps(document))
    elif output is UpOutput.SH:
        from kube6.steps import host_script
        from kube6.steps.apt import assumed_release

        scripts = {
            h: host_script(
                report,
                h,
                title=f"cluster {plan.cluster_name}",
                command=command,
                interface=plan.node(h).interface,
                release=assumed_release(plan) if fresh else None,
            )
            for h in report.hosts()
        }
        if script_dir is not None:
            from kube6.cli.outputs import check_file, check_folder, write_file

            check_folder(script_dir, "--script-dir")
            paths = {host: script_dir / f"{host}.sh" for host in scripts}
            for path in paths.values():
                check_file(path, "--script-dir")
            for host, text in scripts.items():
                write_file(paths[host], text, "--script-dir", mode=0o755)
                stdout.print(str(paths[host]))
        else:
            for text in scripts.values():
                stdout.out(text, highlight=False)


def _summary(report: Report) -> None:
    counts: dict[str, int] = {}
    for result in report.results:
        counts[str(result.status)] = counts.get(str(result.status), 0) + 1
    text = ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing selected"
    verdict = (
        "dry run: nothing was changed" if report.dry_run else ("done" if report.ok else "FAILED")
    )
    stderr.print(f"{verdict} ({text})")


def next_steps(plan: Plan) -> list[str]:
    """What an operator does after a successful `kube6 up` (stderr; pure, for tests)."""
    from kube6.components.dashboard.render import NAMESPACE, VIEWER

    first = plan.first_control_plane
    where = f"on {first.name}" if first.ssh else "here"
    lines = [
        "next:",
        "  kube6 verify      # end-to-end: nodes, Services, pods, data path, gateway, certificates",
        f"  kubectl get nodes # {where}: the admin kubeconfig is ~/.kube/config (mode 0600)",
    ]
    if plan.addons.dashboard.enabled:
        url = f"https://{plan.addons.dashboard.host}/" if plan.addons.dashboard.host else ""
        lines += [
            f"  dashboard {url}".rstrip() + " — a read-only login token, valid 1 h:",
            f"    kubectl -n {NAMESPACE} create token {VIEWER} --duration=1h",
        ]
    return lines + _https_steps(plan)


def _https_steps(plan: Plan) -> list[str]:
    """The DNS record the dashboard's name needs, and the certificate: how to check it and
    how to move from Let's Encrypt staging to production."""
    from kube6.components.gateway.address import gateway_address
    from kube6.components.gateway.render import GATEWAY_NAMESPACE

    host = plan.addons.dashboard.host if plan.addons.dashboard.enabled else None
    if not (plan.addons.gateway.enabled and host):
        return []
    lines = [
        "  DNS: the dashboard's name must resolve to the gateway address:",
        f"    {host}. AAAA {gateway_address(plan)}",
    ]
    cert_manager = plan.addons.cert_manager
    if not cert_manager.enabled:
        return lines
    lines += [
        f"  certificate from Let's Encrypt {cert_manager.issuer}, issued once the name resolves:",
        f"    kubectl -n {GATEWAY_NAMESPACE} get certificate    # READY True",
        "    kube6 verify    # dashboard-certificate names its issuer",
    ]
    if cert_manager.issuer == "staging":
        lines += [
            "  staging certificates are not trusted by browsers; once the one above is READY,",
            "  set addons.cert_manager.issuer: production in kube6.yaml and run kube6 up again",
        ]
    return lines


def _one_script_on_stdout(output: UpOutput, script_dir: Path | None, names: list[str]) -> None:
    if output is UpOutput.SH and script_dir is None and len(names) > 1:
        # One script on stdout is piped to `sh` on one host: several hosts' commands must
        # never arrive there together.
        raise UsageError(
            f"--output sh prints one host's script on stdout; this plan has {len(names)} "
            f"nodes ({', '.join(names)})",
            fix="add --script-dir DIR for one file per node, or --node NAME for one of them",
        )


def _run(
    steps: tuple[Step[Any], ...],
    *,
    spec_path: Path | None,
    dry_run: bool,
    fresh: bool,
    only: list[str],
    skip: list[str],
    ignore: list[str],
    nodes: list[str],
    output: UpOutput | None,
    script_dir: Path | None,
    ssh: SshOptions,
) -> int:
    from kube6.checks import validate_ignore
    from kube6.components.registry import RESET_STEPS
    from kube6.plan import make_plan
    from kube6.steps import select
    from kube6.usecases import up as usecase
    from kube6.usecases.nodes import select_nodes

    if output is None:
        output = UpOutput.SH if dry_run else UpOutput.TABLE
    select(steps, only, skip)  # refuse unknown names before reading anything
    validate_ignore(ignore)
    spec, source = load_spec(spec_path)
    plan = make_plan(spec, source=source)
    if source == BUILT_IN:
        if not dry_run:
            raise UsageError(
                "the built-in example's hosts do not exist: kube6 only shows what it would do",
                fix="add --dry-run, or write your own kube6.yaml with `kube6 init`",
            )
        fresh = True
    if output is UpOutput.SH and not dry_run:
        raise UsageError("--output sh prints a dry run", fix="add --dry-run")
    if script_dir is not None:
        from kube6.cli.outputs import check_folder

        check_folder(script_dir, "--script-dir")  # before any host is read
    names = select_nodes(plan, nodes)
    _one_script_on_stdout(output, script_dir, names)
    request = usecase.UpRequest(
        steps=steps,
        nodes=names,
        dry_run=dry_run,
        fresh=fresh,
        only=only,
        skip=skip,
        ignore=ignore,
        ssh=ssh,
    )
    report = usecase.up(plan, request, on_result=_progress)
    _summary(report)
    command = "reset" if steps is RESET_STEPS else "up"
    _emit(report, output, script_dir, plan, command, fresh=fresh)
    if report.ok and report.changed and steps is not RESET_STEPS and output is UpOutput.TABLE:
        stderr.print("\n".join(next_steps(plan)))
    return int(ExitStatus.OK if report.ok else ExitStatus.FAILED)


ONLY = typer.Option([], "--only", help="Run only this step (and its children); repeatable.")
SKIP = typer.Option([], "--skip", help="Skip this step (and its children); repeatable.")
NODE = typer.Option([], "--node", help="Run on this node only; repeatable. Default: every node.")
DRY_RUN = typer.Option(
    False, "--dry-run", help="Read the hosts, print the exact commands per host, change nothing."
)
FRESH = typer.Option(
    False,
    "--fresh",
    help=(
        "With --dry-run: do not contact the hosts; show what a never-touched host needs, taken "
        "to run Ubuntu 24.04 (Debian 12 when a mirrors.apt URL names debian): its "
        "script stops on another release."
    ),
)
OUTPUT = typer.Option(
    None,
    "--output",
    "-o",
    help="table: progress only; json: a summary on stdout; sh: a shell script per host. "
    "Default: sh with --dry-run (the exact commands), table otherwise.",
    show_default=False,
)
SCRIPT_DIR = typer.Option(
    None, "--script-dir", help="With --output sh: write <node>.sh files here, not to stdout."
)


@app.command()
def up(
    spec_path: Path | None = SpecOption,
    dry_run: bool = DRY_RUN,
    fresh: bool = FRESH,
    only: list[str] = ONLY,
    skip: list[str] = SKIP,
    ignore: list[str] = typer.Option(
        [], "--ignore", help="Preflight check that may fail without stopping; repeatable."
    ),
    node: list[str] = NODE,
    output: UpOutput | None = OUTPUT,
    script_dir: Path | None = SCRIPT_DIR,
    known_hosts: Path | None = KnownHostsOption,
    identity: Path | None = IdentityOption,
    list_steps: bool = typer.Option(False, "--list-steps", help="List the step names and exit."),
) -> int:
    """Converge every host into the planned cluster, step by step, idempotently.

    Steps: preflight, host, runtime, packages, routing, firewall, control-plane, join,
    network, addons, verify (see --list-steps). Each reads what it needs on the host and runs
    only what is missing, so a second `up` changes nothing and a failed one resumes. Progress
    goes to stderr; `--output json` prints a summary and `--output sh` the commands as a script.
    """
    from kube6.components.registry import UP_STEPS

    if list_steps:
        _list(UP_STEPS)
        return 0
    return _run(
        UP_STEPS,
        spec_path=spec_path,
        dry_run=dry_run,
        fresh=fresh,
        only=only,
        skip=skip,
        ignore=ignore,
        nodes=node,
        output=output,
        script_dir=script_dir,
        ssh=SshOptions(known_hosts, identity),
    )


@app.command()
def reset(
    spec_path: Path | None = SpecOption,
    dry_run: bool = DRY_RUN,
    fresh: bool = FRESH,
    only: list[str] = ONLY,
    skip: list[str] = SKIP,
    node: list[str] = NODE,
    output: UpOutput | None = OUTPUT,
    script_dir: Path | None = SCRIPT_DIR,
    known_hosts: Path | None = KnownHostsOption,
    identity: Path | None = IdentityOption,
    yes: bool = typer.Option(False, "--yes", help="Really reset (destroys the cluster)."),
) -> int:
    """Undo what `kube6 up` did on the hosts, in reverse order (kubeadm reset, kube6's files,
    the NDP proxy, the firewall table, the sysctls it changed). Packages stay installed; the
    host's own network configuration is left as it was."""
    if not dry_run and not yes:
        raise UsageError(
            "kube6 reset destroys the cluster on the selected nodes",
            fix="look first with --dry-run, then pass --yes",
        )
    from kube6.components.registry import RESET_STEPS

    return _run(
        RESET_STEPS,
        spec_path=spec_path,
        dry_run=dry_run,
        fresh=fresh,
        only=only,
        skip=skip,
        ignore=[],
        nodes=node,
        output=output,
        script_dir=script_dir,
        ssh=SshOptions(known_hosts, identity),
    )


def _list(steps: tuple[Step[Any], ...], prefix: str = "", depth: int = 0) -> None:
    for step in steps:
        name = f"{prefix}{step.name}"
        stdout.print(f"{'  ' * depth}{name:<{32 - 2 * depth}} {step.help}", highlight=False)
        _list(step.children, f"{name}/", depth + 1)
