"""The Typer app and its single error boundary.

Every command module registers itself on `app`; `run` maps kube6 errors to one red message and an
exit code, and shows a traceback only with --debug.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape

from kube6 import __version__
from kube6.errors import ExitStatus, Kube6Error

app = typer.Typer(
    name="kube6",
    help=(
        "From IPv6-only servers to a secure IPv6 single-stack Kubernetes cluster.\n\n"
        "Typical journey: `kube6 init` writes kube6.yaml; `kube6 plan` explains every address; "
        "`kube6 render -o DIR` writes every file for review; `kube6 check` reads each host; "
        "`kube6 up` converges the cluster; `kube6 verify` proves it works."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _console(*, to_stderr: bool) -> Console:
    # Off a terminal rich assumes 80 columns and shortens IPv6 addresses with an ellipsis;
    # piped output must keep every address whole.
    # markup off: user values such as root@[2001:db8::1] must print as they are; emoji off:
    # rich reads the ":1234:" of 2001:db8:1234:5678:: as an emoji code.
    console = Console(stderr=to_stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = 200  # COLUMNS, when set, is honoured (rich reads it)
    return console


stderr = _console(to_stderr=True)
stdout = _console(to_stderr=False)

_state = {"debug": False}

# Command modules, imported for their side effect of registering on `app`. All of them load for
# every invocation (--help lists them), so each imports its machinery (spec, plan, steps, checks,
# lightkube...) inside its command: tests/cli/test_cold_start.py holds them to that.
COMMAND_MODULES = [
    "kube6.cli.check_cmd",
    "kube6.cli.expose_cmd",
    "kube6.cli.init_cmd",
    "kube6.cli.lab_cmd",
    "kube6.cli.plan_cmds",
    "kube6.cli.render_cmd",
    "kube6.cli.trace_cmd",
    "kube6.cli.up_cmd",
    "kube6.cli.verify_cmd",
]


def _version(value: bool) -> None:
    if value:
        stdout.print(f"kube6 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


def debug_enabled() -> bool:
    return _state["debug"]


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def wants_json(argv: Sequence[str]) -> bool:
    """`-o json`, `--output json`, `--output=json` or `-ojson` on the command line."""
    args = list(argv)
    pairs = zip(args, [*args[1:], ""], strict=True)
    return any(
        (a in ("-o", "--output") and b == "json") or a in ("--output=json", "-ojson")
        for a, b in pairs
    )


def error_document(argv: Sequence[str], exc: Kube6Error) -> dict[str, object]:
    from kube6.results import SCHEMA_VERSION

    command = next((a for a in argv if not a.startswith("-")), "")
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": command,
        "ok": False,
        "error": {"message": exc.message, "fix": exc.fix, "exit_status": int(exc.exit_status)},
        "results": [],
    }


def run(argv: Sequence[str]) -> int:
    """Run the CLI in-process and return the exit code (tests call this directly)."""
    _load_commands()
    _state["debug"] = "--debug" in argv
    try:
        result = app(args=list(argv), prog_name="kube6", standalone_mode=False)
    except Kube6Error as exc:
        if _state["debug"]:
            traceback.print_exc()
        stderr.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        if wants_json(argv):
            # A script that asked for JSON gets a document, also when the command could not
            # start (bad spec, no kubeconfig): the error is in it, as on stderr.
            stdout.print_json(json.dumps(error_document(argv, exc)))
        return int(exc.exit_status)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return int(ExitStatus.INTERRUPTED)
    except typer.Abort:
        return int(ExitStatus.INTERRUPTED)
    except typer.exceptions.TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            stderr.print(f"error: {exc}")
        return int(ExitStatus.USAGE)
    except Exception as exc:  # the boundary: anything else is a bug to report
        if _state["debug"]:
            traceback.print_exc()
        else:
            stderr.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "This is a bug in kube6; run again with --debug for the traceback and report it.",
                markup=True,
            )
        return int(ExitStatus.FAILED)
    return result if isinstance(result, int) else int(ExitStatus.OK)
