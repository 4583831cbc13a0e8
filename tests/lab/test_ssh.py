"""Remote execution for real: sshd inside two lab nodes, reached over IPv6 from the internet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kube6.execute import SshExecutor, run_on_hosts
from kube6.execute.base import ConnectError, Executor
from kube6.lab import Lab
from kube6.lab.process import in_namespace
from kube6.plan.model import Plan

pytestmark = pytest.mark.lab

PROBES = (
    ("ip", "-6", "-o", "addr", "show", "scope", "global"),
    ("ip", "-6", "route", "show", "default"),
    ("sysctl", "-n", "net.ipv6.conf.all.forwarding"),
    ("cat", "/etc/resolv.conf"),
)


@pytest.fixture(scope="module")
def ssh_lab(lab_env: None, two_node_plan: Plan) -> Iterator[Lab]:
    with Lab(two_node_plan, ssh=True) as lab:
        yield lab


def _ssh(lab: Lab) -> list[Executor]:
    return [lab.ssh_executor(node.name) for node in lab.layout.nodes]


async def _probe(executor: Executor) -> list[tuple[int | None, str]]:
    try:
        results = [await executor.run(argv, check=False) for argv in PROBES]
    finally:
        await executor.close()
    return [(r.exit_code, r.stdout) for r in results]


def test_ssh_in_parallel_gives_what_the_namespaces_give(ssh_lab: Lab) -> None:
    local: list[Executor] = [ssh_lab.executor(node.name) for node in ssh_lab.layout.nodes]
    expected = [o.unwrap() for o in asyncio.run(run_on_hosts(local, _probe))]
    # The SSH client runs where an operator would be: on the internet, outside the /64.
    remote = in_namespace(
        ssh_lab.internet, lambda: asyncio.run(run_on_hosts(_ssh(ssh_lab), _probe))
    )
    assert [o.host for o in remote] == ["node0001", "node0002"]
    assert [o.unwrap() for o in remote] == expected
    # The probes did see the nodes (not this machine).
    assert "2001:db8:1234:5678::1/64" in expected[0][0][1]
    assert "2001:db8:1234:5678::2/64" in expected[1][0][1]


def test_unknown_host_key_is_refused(ssh_lab: Lab) -> None:
    empty = ssh_lab.workdir / "empty_known_hosts"
    empty.write_text("")
    node = ssh_lab.layout.nodes[0]
    executor = SshExecutor(
        f"root@[{node.address}]",
        known_hosts=empty,
        client_keys=(str(ssh_lab.ssh_key),),
        connect_timeout=5,
    )
    with pytest.raises(ConnectError, match="host key"):
        in_namespace(ssh_lab.internet, lambda: asyncio.run(executor.run(("true",))))
