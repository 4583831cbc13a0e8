"""The kube6 command line: one Typer app, one error boundary.

Data goes to stdout, diagnostics to stderr.
"""

from __future__ import annotations

import sys

from kube6.cli.app import app, run

__all__ = ["app", "main", "run"]


def main() -> None:
    sys.exit(run(sys.argv[1:]))
