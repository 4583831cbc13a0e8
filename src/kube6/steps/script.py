"""A dry run as a shell script per host: the modern, readable form of the manual guide.

Each step becomes a commented section with its commands; files are here-documents followed by
`chmod`; values known only at run time stay named placeholders (`${KUBE6_JOIN_TOKEN}`), and the
commands that produce them assign the variable of that name, so an operator can follow the
script by hand. Nothing secret is ever in it: a dry run has no secrets, and any that a real run
learnt are masked.
"""

from __future__ import annotations

import shlex

from kube6.facts.system import OsRelease
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
    # Always a quoted here-document: file headers hold backticks and `$`, which an unquoted
    # one would run. Run-time values are then put in with sed, so `set -u` stops the script
    # when one is not set (instead of writing an empty token).
    folder = action.path.rsplit("/", 1)[0] or "/"
    markers = [p for p in PLACEHOLDERS if p in content] if action.filled else []
    path = shlex.quote(action.path)
    fill = [
        f'sed -i "s|\\{marker}|{marker}|g" {path}'
        for marker in markers  # the values are [a-z0-9.:] (tokens, hex): safe in sed
    ]
    # A file for no other eyes (a token) exists with its mode before anything is in it.
    private = [f"install -m {action.mode:04o} /dev/null {path}"] if not action.mode & 0o077 else []
    return [
        f"mkdir -p {shlex.quote(folder)}",
        *private,
        f"cat > {path} <<'{tag}'",
        content.rstrip("\n"),
        tag,
        *fill,
        f"chmod {action.mode:04o} {path}",
    ]


def _exec_lines(action: Exec) -> list[str]:
    line = action.display
    if action.shell_input:
        line = f"{action.shell_input} | {line}"
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
    lines += list(result.script)
    for action in result.actions:
        if action.why:
            lines.append(f"# {action.why}")
        lines += _heredoc(action) if isinstance(action, PutFile) else _exec_lines(action)
    return [*lines, ""]


ASSUMPTIONS = (
    "Debian 12/13 or Ubuntu 22.04/24.04",
    "amd64 or arm64",
    "no swap",
)
SUPPORTED_RELEASES = '"debian 12"|"debian 13"|"ubuntu 22.04"|"ubuntu 24.04"'


def _guards(interface: str | None, release: OsRelease | None) -> list[str]:
    """Checks of what the script assumes; each stops it with the reason."""
    releases, refusal = SUPPORTED_RELEASES, "is not a supported release"
    if release is not None:
        releases = f'"{release.id} {release.version_id}"'
        refusal = f"is not {release.pretty_name}, which this --fresh script was written for"
    lines = [
        ". /etc/os-release",
        'case "$ID $VERSION_ID" in',
        f"  {releases}) ;;",
        f'  *) echo "kube6: $ID $VERSION_ID {refusal}" >&2; exit 1 ;;',
        "esac",
        'case "$(dpkg --print-architecture)" in',
        "  amd64|arm64) ;;",
        '  *) echo "kube6: $(dpkg --print-architecture) is not supported" >&2; exit 1 ;;',
        "esac",
        'if [ -n "$(swapon --noheadings --show 2>/dev/null)" ]; then',
        '  echo "kube6: swap is on; run swapoff -a and remove it from /etc/fstab" >&2; exit 1',
        "fi",
    ]
    if interface:
        lines += [
            f'if ! ip -6 route show default | grep -q " dev {interface} "; then',
            f'  echo "kube6: the default route is not on {interface}; set interface: in '
            'kube6.yaml" >&2; exit 1',
            "fi",
        ]
    return lines


def host_script(
    report: Report,
    host: str,
    *,
    title: str = "",
    command: str = "up",
    interface: str | None = None,
    release: OsRelease | None = None,
) -> str:
    """The shell script of one host's steps in `report` (ideally a dry run): correct when run
    as written on that host, and stopping early when a value or an assumption is missing.
    `release` is the one release a `--fresh` dry run wrote it for (its hosts were not read:
    the package sources' lines name that release)."""
    body = [line for result in report.for_host(host) for line in _section(result)]
    text = "\n".join(body)
    assigned = [p for p in PLACEHOLDERS if f"{p[2:-1]}=" in text]
    needed = [p for p in PLACEHOLDERS if p in text and p not in assigned]
    assumes = [*ASSUMPTIONS, f"uplink interface {interface}" if interface else ""]
    if release is not None:
        assumes[0] = f"{release.pretty_name} (--fresh: the host was not read)"
    head = [
        "#!/bin/sh",
        f"# kube6 {command} for {host}{(': ' + title) if title else ''}.",
        f"# Written by `kube6 {command} --dry-run --output sh`: the commands kube6 runs, in order.",
        f"# Run it as root on {host} only. It assumes: {', '.join(a for a in assumes if a)};",
        "# the checks below stop it when one does not hold.",
        "set -eu",
        *_guards(interface, release),
    ]
    if needed:
        head.append("# values from the first control-plane node's script (it prints them):")
        head += [
            f': "${{{p[2:-1]}:?set {p[2:-1]} to the value the first control-plane node printed}}"'
            for p in needed
        ]
    tail = []
    if assigned:
        names = " ".join(f"{p[2:-1]}=${p[2:-1]}" for p in assigned)
        tail = [
            "# for the other nodes' scripts (keep it private: the token joins a node):",
            f'echo "export {names}"',
        ]
    return "\n".join([*head, "", *body, *tail]).rstrip("\n") + "\n"
