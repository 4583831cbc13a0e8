"""The error hierarchy and the exit codes; the CLI has one boundary that maps one to the other."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes, the same for every command."""

    OK = 0
    FAILED = 1  # a rule, check or verification failed
    USAGE = 2  # unusable spec or bad command line
    INTERRUPTED = 130


class Kube6Error(Exception):
    """Base of every error that kube6 reports to the user without a traceback."""

    exit_status: ExitStatus = ExitStatus.FAILED

    def __init__(self, message: str, *, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class SpecError(Kube6Error, ValueError):
    """kube6.yaml (or a command-line value) cannot be used; each problem names its path."""

    exit_status = ExitStatus.USAGE

    def __init__(self, problems: list[str], *, source: str = "kube6.yaml") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} is not usable ({len(problems)} problem(s)):\n{lines}")


class UsageError(Kube6Error):
    """A command-line flag or argument is wrong."""

    exit_status = ExitStatus.USAGE


class PlanError(Kube6Error):
    """No address plan exists for this spec; `failures` name the rules that could not be met."""

    def __init__(self, failures: list[object]) -> None:
        self.failures = failures
        lines = "\n".join(f"  - {f}" for f in failures)
        super().__init__(f"no address plan fits this spec:\n{lines}")


class FactError(Kube6Error):
    """A host probe returned output that kube6 cannot read."""


class CommandError(Kube6Error):
    """A command failed on a host; the message has host, command (masked), exit code and output."""

    def __init__(
        self,
        *,
        host: str,
        command: str,
        exit_code: int | None,
        stdout: str,
        stderr: str,
        seen: str = "",
    ) -> None:
        self.host = host
        self.command = command
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.seen = seen

        def indent(text: str) -> str:
            text = text.rstrip()
            return "\n".join("    " + line for line in text.splitlines()) if text else "    (empty)"

        super().__init__(
            f"command failed on {host}\n  command: {command}\n  exit code: {exit_code}\n"
            f"  stdout:\n{indent(stdout)}\n  stderr:\n{indent(stderr)}"
            + (f"\n  seen on the host then:\n{indent(seen)}" if seen else "")
        )


class CheckFailed(Kube6Error):
    """At least one preflight check failed."""


class VerifyFailed(Kube6Error):
    """At least one acceptance check of a running cluster failed."""
