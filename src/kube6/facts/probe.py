"""A probe: one read-only argv and the pure function that reads its output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kube6.errors import FactError

T = TypeVar("T")

EXCERPT = 160


@dataclass(frozen=True)
class Probe(Generic[T]):
    """`argv` runs on the host (it changes nothing); `parse(stdout)` is pure and raises
    FactError on output it cannot read. Exit codes in `ok_codes` count as an answer."""

    name: str
    argv: tuple[str, ...]
    parse: Callable[[str], T]
    ok_codes: frozenset[int] = frozenset({0})
    secret_stdin: str | None = field(default=None, repr=False)
    """Given on standard input and masked in every output (a password: never in argv, which
    every user of the host can read)."""


def excerpt(text: str) -> str:
    """The start of `text`, for error messages about output that could not be read."""
    text = text.strip()
    if not text:
        return "(empty output)"
    return repr(text[:EXCERPT] + ("..." if len(text) > EXCERPT else ""))


def fact_error(what: str, text: str, why: str) -> FactError:
    return FactError(
        f"cannot read {what}: {why}; output starts {excerpt(text)}",
        fix="run the command on the host by hand; if its output looks different there, "
        "report it with the output attached",
    )
