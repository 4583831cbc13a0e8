"""The OpenSSH command line that kube6's fixes tell the operator to try."""

from __future__ import annotations

import pytest

from kube6.execute.ssh import parse_target


@pytest.mark.parametrize(
    ("target", "argv"),
    [
        ("root@[2001:db8::1]", ["ssh", "root@2001:db8::1", "true"]),
        ("root@[2001:db8::1]:2222", ["ssh", "-p", "2222", "root@2001:db8::1", "true"]),
        ("[2001:db8::1]:2222", ["ssh", "-p", "2222", "2001:db8::1", "true"]),
        ("ubuntu@node1.example.com", ["ssh", "ubuntu@node1.example.com", "true"]),
    ],
)
def test_ssh_argv_never_uses_the_host_port_form(target: str, argv: list[str]) -> None:
    # `ssh 'root@[2001:db8::1]:2222'` is not a form OpenSSH accepts.
    assert parse_target(target).ssh_argv("true") == argv
