"""check_hosts: gather on several executors at once, then check; one bad host fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kube6.checks import ArtifactHost, Status
from kube6.checks.runner import check_hosts
from kube6.execute import Command, ConnectError, RecordingExecutor, Result
from kube6.plan import make_plan
from kube6.spec import from_data

PLAN = make_plan(
    from_data(
        {
            "prefix": "2001:db8:1234:5678::/64",
            "nodes": [
                {"name": "node0001", "address": "2001:db8:1234:5678::1"},
                {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
            ],
        }
    )
)


class Unreachable(RecordingExecutor):
    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        raise ConnectError("cannot connect to root@[2001:db8:1234:5678::2]", fix="is it up?")


class Closing(RecordingExecutor):
    closed = False

    async def close(self) -> None:
        self.closed = True


def test_one_unreachable_host_does_not_stop_the_other() -> None:
    # Every probe answers "command not found": facts unknown, checks warn and fail with reasons.
    good = Closing(host="node0001", default=Result(127, "", "not found"))
    bad = Unreachable(host="node0002")
    results = asyncio.run(
        check_hosts(
            PLAN,
            {"node0001": good, "node0002": bad},
            hosts=(ArtifactHost("lab.example", "lab"),),
        )
    )
    assert good.closed
    nodes = [r.node for r in results]
    assert nodes == sorted(nodes)  # plan order
    second = [r for r in results if r.node == "node0002"]
    assert [(r.name, r.status) for r in second] == [("host-reachable", Status.FAIL)]
    first = {r.name: r for r in results if r.node == "node0001"}
    assert "is not installed" in first["node-address"].message
    assert "lab.example" in first["artifact-hosts-reachable"].message
    assert ("getent", "ahostsv6", "lab.example") in good.argvs
