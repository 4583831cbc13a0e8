"""Commands and their results: argv tuples whose secrets never reach a log or an error."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

MASK = "***"


@dataclass(frozen=True)
class Command:
    """One program to run: an argv (never a shell string), optional stdin and secrets.

    Every value in `secrets` is replaced by `***` wherever kube6 shows the command or its
    output (str(), repr(), logs, CommandError); only the executor sees the raw argv.
    """

    argv: tuple[str, ...]
    secrets: tuple[str, ...] = field(default=(), repr=False)
    stdin: str | None = field(default=None, repr=False)
    timeout: float | None = None
    """Seconds before the command is killed and reported as failed (exit code None)."""

    def __post_init__(self) -> None:
        argv = tuple(self.argv)
        if not argv:
            raise ValueError("a command needs at least a program name; got an empty argv")
        bad = [a for a in argv if not isinstance(a, str)]
        if bad:
            raise TypeError(f"every argv item must be a string; got {bad!r} in {argv[:1]}")
        if any("\0" in a for a in argv):
            raise ValueError("an argv item contains a NUL byte; no program can receive it")
        object.__setattr__(self, "argv", argv)
        # Longest first, so that a secret containing another is masked whole.
        secrets = tuple(sorted({s for s in self.secrets if s}, key=len, reverse=True))
        object.__setattr__(self, "secrets", secrets)

    def mask(self, text: str) -> str:
        """`text` with every secret of this command replaced by `***`."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    @property
    def display(self) -> str:
        """The command as a shell would read it, secrets masked: safe to print."""
        return self.mask(shlex.join(self.argv))

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"Command({self.display!r})"


def as_command(cmd: Command | Sequence[str]) -> Command:
    """Accept a ready Command or a plain argv list/tuple (a bare string is refused)."""
    if isinstance(cmd, Command):
        return cmd
    if isinstance(cmd, str):
        raise TypeError(
            f"commands are argv lists, not shell strings: write {shlex.split(cmd)!r} "
            f"instead of {cmd!r}"
        )
    return Command(tuple(cmd))


@dataclass(frozen=True)
class Result:
    """What a finished command left: its exit code (None when killed or timed out) and output."""

    exit_code: int | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0
