"""The only code in kube6 that runs anything: local, SSH and network-namespace executors.

    result = await LocalExecutor().run(["uname", "-r"])

Commands are argv lists; `Command.secrets` are masked in every log and error; a failure raises
`kube6.errors.CommandError` with host, masked command, exit code, stdout and stderr. A non-root
SSH user gets every command through `sudo -n --`; a sudo that wants a password raises
`PrivilegeError` with the fix.
"""

from kube6.execute.base import (
    BaseExecutor,
    ConnectError,
    Executor,
    Outcome,
    PrivilegeError,
    run_on_hosts,
)
from kube6.execute.command import MASK, Command, Result, as_command
from kube6.execute.local import LocalExecutor, NetnsExecutor
from kube6.execute.recording import RecordingExecutor
from kube6.execute.ssh import SshExecutor, SshTarget, keyscan_hint, parse_target

__all__ = [
    "MASK",
    "BaseExecutor",
    "Command",
    "ConnectError",
    "Executor",
    "LocalExecutor",
    "NetnsExecutor",
    "Outcome",
    "PrivilegeError",
    "RecordingExecutor",
    "Result",
    "SshExecutor",
    "SshTarget",
    "as_command",
    "executor_for",
    "keyscan_hint",
    "parse_target",
    "run_on_hosts",
]


def executor_for(
    ssh: str | None,
    *,
    host: str,
    known_hosts: str | None = None,
    identity: str | None = None,
) -> Executor:
    """SSH when a node has an `ssh` target (through sudo unless the user is root), this machine
    otherwise (named after the node). `identity`: the private key file to log in with."""
    if ssh:
        keys = (identity,) if identity is not None else None
        return SshExecutor(ssh, host=host, known_hosts=known_hosts, client_keys=keys)
    return LocalExecutor(host)
