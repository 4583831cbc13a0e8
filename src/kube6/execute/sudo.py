"""Root through `sudo -n` for non-root logins: the prefix, and sudo's refusals told apart from
the command's own failures (pure; BaseExecutor applies it).

`-n` because a password prompt would hang a non-interactive session: sudo then fails at once
with "a password is required", which becomes a PrivilegeError that says how to fix it.
"""

from __future__ import annotations

import re

from kube6.execute.command import Result

PREFIX = ("sudo", "-n", "--")
MISSING = "sudo: command not found"
"""What `refusal` returns when sudo itself is not installed."""

# sudo's own refusals (C locale, which the executors set and sudo keeps); the command never ran.
_REFUSED = re.compile(
    r"^sudo: (a password is required|a terminal is required.*)$"
    r"|^(?:Sorry, )?user \S+ (?:is not allowed to execute|may not run sudo).*$"
    r"|^\S+ is not in the sudoers file.*$",
    re.MULTILINE,
)
# `sudo` itself missing, as the remote `env` or the local executor report it (quotes vary).
_MISSING = re.compile(
    r"(?:^|[\s'‘\"])sudo['’\"]?: (?:command not found|No such file or directory)", re.MULTILINE
)


def needs_sudo(user: str | None) -> bool:
    """True for a login user that is known and not root (None: not known, so not assumed)."""
    return user is not None and user != "root"


def wrap(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`argv` run as root: `sudo -n -- argv...` (still an argv, never a shell string)."""
    return (*PREFIX, *argv)


def fix(user: str) -> str:
    """What to do when `user` may not sudo without a password."""
    return (
        f"give {user} passwordless sudo (as root on the host): echo '{user} ALL=(ALL) "
        f"NOPASSWD:ALL' > /etc/sudoers.d/kube6 && chmod 0440 /etc/sudoers.d/kube6; "
        "or use root@ in the node's ssh target"
    )


def refusal(result: Result) -> str | None:
    """sudo's refusal line when sudo did not run the command, else None.

    Only exit code 1 with one of sudo's own lines counts, so a command that fails on its own
    (whatever it prints) is never mistaken for a refusal.
    """
    if result.exit_code in (126, 127):
        found = _MISSING.search(result.stderr)
        return MISSING if found else None
    if result.exit_code != 1:
        return None
    found = _REFUSED.search(result.stderr)
    return found.group(0).strip() if found else None


def normalise(result: Result, argv: tuple[str, ...]) -> Result:
    """sudo reports a missing program with exit code 1; give it the shell's 127, which is what
    every caller (the fact probes, the steps) reads as "not installed"."""
    if result.exit_code == 1 and f"sudo: {argv[0]}: command not found" in result.stderr:
        return Result(127, result.stdout, result.stderr)
    return result
