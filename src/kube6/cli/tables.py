"""Tables that never cut a value: when one does not fit the width (a terminal's, or COLUMNS
when piped), it is printed as records instead, one row per block, prose wrapped at word
boundaries and addresses, prefixes and rule names kept whole."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.table import Table
from rich.text import Text


def show(console: Console, table: Table) -> None:
    """Print `table`, or its rows as records when its narrowest form is wider than the console."""
    needed = table.__rich_measure__(console, console.options).minimum
    if needed <= console.width:
        console.print(table)
        return
    title = str(table.title or "")
    for line in _wrap(title, console.width) if title else []:
        console.print(line)
    headers = [str(column.header) for column in table.columns]
    cells = [list(column.cells) for column in table.columns]
    label = max((len(h) for h in headers[1:]), default=0) + 2
    for row in range(table.row_count):
        values = [_plain(column[row]) for column in cells]
        console.print(f"- {values[0]}")
        for header, value in zip(headers[1:], values[1:], strict=True):
            if not value:
                continue
            lines = _wrap(value, console.width - label - 4)
            console.print(f"    {header + ':':<{label}}{lines[0]}")
            for line in lines[1:]:
                console.print(f"    {'':<{label}}{line}")


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _wrap(value: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in value.splitlines() or [""]:
        # Long words (an address, a prefix, a rule name) stay whole, even past the width.
        lines += textwrap.wrap(
            paragraph, max(width, 20), break_long_words=False, break_on_hyphens=False
        ) or [""]
    return lines
