"""A dry run as a shell script per host: the modern, readable form of the manual guide.

Each step becomes a commented section with its commands; files are here-documents followed by
`chmod`; values known only at run time stay named placeholders (`${KUBE6_JOIN_TOKEN}`), and the
commands that produce them assign the variable of that name, so an operator can follow the
script by hand. Nothing secret is ever in it: a dry run has no secrets, and any that a real run
learnt are masked.
"""

from __future__ import annotations

import shlex

from kube6.render.base import PLACEHOLDERS
from kube6.steps.base import Exec, PutFile
from kube6.steps.runner import Report, Status, StepResult


def _heredoc(action: PutFile) -> list[str]:
    content = action.shown_content
    if not content.endswith("\n"):
        content += "\n"
    tag = "KUBE6_EOF"
    while tag in content:
        tag += "_"
    # Placeholders expand when the operator has set them, if nothing else in the file would.
    expand = any(p in content for p in PLACEHOLDERS) and not any(
        c in content.replace("${KUBE6_", "") for c in "$`\\"
    )
    opener = tag if expand else f"'{tag}'"
    folder = action.path.rsplit("/", 1)[0] or "/"
    markers = [p for p in PLACEHOLDERS if p in content]
    fill = []
    if markers and action.filled and not expand:
        named = ", ".join(markers)
        fill = [f"# fill in {named} (values from the first control-plane node)"]
    return [
        *fill,
        f"mkdir -p {shlex.quote(folder)}",
        f"cat > {shlex.quote(action.path)} <<{opener}",
        content.rstrip("\n"),
        tag,
        f"chmod {action.mode:04o} {shlex.quote(action.path)}",
    ]


def _exec_lines(action: Exec) -> list[str]:
    line = action.display
    if action.capture:
        variable = action.capture.removeprefix("${").removesuffix("}")
        pipe = f" | {action.shell_filter}" if action.shell_filter else ""
        line = f'{variable}="$({line}{pipe})"'
    return [line]


def _section(result: StepResult) -> list[str]:
    lines = [f"# --- {result.step}"]
    if result.status is Status.OK:
        return [*lines, f"# nothing to do: {result.detail}", ""]
    if result.status in (Status.FAILED, Status.BLOCKED):
        detail = result.detail.replace("\n", "\n# ")
        return [*lines, f"# {result.status}: {detail}", ""]
    lines += [f"# {note}" for note in result.notes]
    for action in result.actions:
        if action.why:
            lines.append(f"# {action.why}")
        lines += _heredoc(action) if isinstance(action, PutFile) else _exec_lines(action)
    return [*lines, ""]


def host_script(report: Report, host: str, *, title: str = "", command: str = "up") -> str:
    """The shell script of one host's steps in `report` (ideally a dry run)."""
    head = [
        "#!/bin/sh",
        f"# kube6 {command} for {host}{(': ' + title) if title else ''}.",
        f"# Written by `kube6 {command} --dry-run --output sh`: the commands kube6 runs, in order.",
        "# Values known only at run time are ${KUBE6_...} placeholders, set by the commands",
        "# that produce them (on the first control-plane node); copy them to the other nodes.",
        "set -eu",
        "",
    ]
    body = [line for result in report.for_host(host) for line in _section(result)]
    return "\n".join(head + body).rstrip("\n") + "\n"
