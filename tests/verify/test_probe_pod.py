"""Probe pods: the manifest, kubectl exec, and deletion after success, failure and Ctrl-C."""

from __future__ import annotations

import asyncio
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import pytest
from lightkube.resources.core_v1 import Pod

from kube6 import spec as spec_module
from kube6.execute import RecordingExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify.probe_pod import (
    KubectlExec,
    ProbePodError,
    probe_manifest,
    probe_nodes,
    probe_pods,
)
from kube6.versions import BUSYBOX
from tests.verify import fixtures as fx

GOLDEN = Path(__file__).parent.parent / "golden"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(spec_module.load(GOLDEN / "ha-3cp-5w" / "kube6.yaml"))


class FakeApi:
    """Enough of lightkube.Client: pods start Pending, then run with the next address."""

    def __init__(self, final: str = "Running", polls_until_final: int = 2) -> None:
        self.final = final
        self.polls_until_final = polls_until_final
        self.pods: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.deleted: list[str] = []

    def create(self, obj: Pod) -> None:
        assert obj.metadata is not None
        assert obj.metadata.name
        assert obj.spec is not None
        self.pods[obj.metadata.name] = {
            "node": obj.spec.nodeName,
            "image": obj.spec.containers[0].image,
        }
        self.polls[obj.metadata.name] = 0

    def get(self, kind: Any, name: str, namespace: str) -> Pod:
        assert namespace == "default"
        self.polls[name] += 1
        node = self.pods[name]["node"]
        index = len([p for p in self.pods if p < name])
        if self.polls[name] < self.polls_until_final:
            raw = fx.pod("default", name, node, (), phase="Pending", ready=False)
        else:
            ip = f"2001:db8:1234:5678:8:2:{index}:5"
            raw = fx.pod("default", name, node, (ip,), phase=self.final, ready=True)
        return fx._decode(Pod, raw)  # type: ignore[no-any-return]

    def delete(self, kind: Any, name: str, namespace: str, grace_period: int) -> None:
        assert grace_period == 0
        self.deleted.append(name)


def as_client(api: FakeApi) -> Any:
    return api


def test_manifest_is_pinned_and_minimal() -> None:
    manifest = probe_manifest("kube6-probe-x-0", "worker1", "example.org/netshoot:1")
    spec = manifest["spec"]
    assert spec["nodeName"] == "worker1"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["automountServiceAccountToken"] is False
    caps = spec["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"drop": ["ALL"], "add": ["NET_RAW"]}


def test_two_workers_are_chosen(plan: Plan) -> None:
    assert probe_nodes(plan) == ["worker1", "worker2"]
    assert probe_nodes(make_plan(spec_module.example())) == ["node0001"]


def test_pods_run_and_are_deleted(plan: Plan) -> None:
    api = FakeApi()
    with probe_pods(as_client(api), plan, "img", sleep=lambda s: None) as pods:
        names = [p[0] for p in pods.pods]
        assert [p[1] for p in pods.pods] == ["worker1", "worker2"]
        targets = pods.targets()
        assert targets.node == plan.node("worker1").address
        assert targets.other_pod == IPv6Address("2001:db8:1234:5678:8:2:1:5")
        assert api.deleted == []
    assert api.deleted == names


def test_the_pinned_busybox_is_the_default_image(plan: Plan) -> None:
    api = FakeApi()
    with probe_pods(as_client(api), plan, sleep=lambda s: None):
        assert {p["image"] for p in api.pods.values()} == {BUSYBOX.version}
    assert BUSYBOX.version == "docker.io/library/busybox:1.37.0"


def test_failed_pod_is_reported_and_deleted(plan: Plan) -> None:
    api = FakeApi(final="Failed")
    with (
        pytest.raises(ProbePodError, match="is Failed") as caught,
        probe_pods(as_client(api), plan, "img", sleep=lambda s: None),
    ):
        pytest.fail("must not get here")
    assert "describe pod" in caught.value.fix
    assert len(api.deleted) == 2


def test_timeout_and_ctrl_c_delete_the_pods(plan: Plan) -> None:
    api = FakeApi(polls_until_final=10**6)
    ticks = iter(range(1000))
    with pytest.raises(ProbePodError, match="after 5 s"):  # noqa: SIM117
        with probe_pods(
            as_client(api),
            plan,
            "img",
            timeout=5,
            sleep=lambda s: None,
            clock=lambda: float(next(ticks)),
        ):
            pass
    assert len(api.deleted) == 2

    api = FakeApi()
    with pytest.raises(KeyboardInterrupt):  # noqa: SIM117
        with probe_pods(as_client(api), plan, "img", sleep=lambda s: None):
            raise KeyboardInterrupt
    assert len(api.deleted) == 2


def test_kubectl_exec_prefix() -> None:
    local = RecordingExecutor(default=None)
    argv = ("kubectl", "--kubeconfig", "/k", "exec", "-n", "default", "p0", "--", "ip", "-o", "a")
    local.reply(argv, "out")
    ex = KubectlExec("p0", Path("/k"), local=local)
    result = asyncio.run(ex.run(["ip", "-o", "a"], check=False))
    assert (result.exit_code, result.stdout) == (0, "out")
    assert ex.host == "pod default/p0"
