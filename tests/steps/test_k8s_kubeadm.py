"""control-plane/init and join drive the real kubeadm (built by tests/k8s/build.sh) in dry-run.

The steps run unchanged through an executor that stands in for a node: files go under a
temporary root, and `kubeadm` is the tier's binary with `--rootfs ROOT --dry-run
--ignore-preflight-errors=all` added (chrooted, so it writes nothing outside ROOT; preflight is
ignored because this machine is not a node: no kubelet, no container runtime). The join
configuration that the join step writes, token and CA hash filled in, must pass the real
`kubeadm config validate`, and `kubeadm join --dry-run` must accept it (worker and control plane).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from kube6.components.registry import UP_STEPS, make_contexts
from kube6.execute import LocalExecutor
from kube6.execute.command import Command, Result, as_command
from kube6.plan.model import Plan
from kube6.render.base import CA_CERT_HASH, CERTIFICATE_KEY, JOIN_TOKEN
from kube6.steps import RunOptions, Status, run_steps
from tests.conftest import k8s_binary

pytestmark = pytest.mark.k8s


class NodeStandIn(LocalExecutor):
    """This machine playing a node: files under `root`, kubeadm chrooted there in dry-run."""

    def __init__(self, host: str, root: Path, kubeadm: Path) -> None:
        super().__init__(host)
        self.root, self.kubeadm = root, kubeadm

    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        command = as_command(cmd)
        argv = command.argv
        if argv[0] == "kubeadm" and argv[1] in ("init", "join"):
            extra = ("--rootfs", str(self.root), "--dry-run", "--ignore-preflight-errors=all")
            command = Command((str(self.kubeadm), *argv[1:], *extra), secrets=command.secrets)
        elif argv[0] == "kubeadm":
            command = Command((str(self.kubeadm), *argv[1:]), secrets=command.secrets)
        elif argv[0] in ("mkdir", "test"):
            command = Command((*argv[:-1], f"{self.root}{argv[-1]}"))
        return await super().run(command, check=check)

    async def put(self, path: str, content: str, mode: int = 0o644) -> None:
        await super().put(f"{self.root}{path}", content, mode)

    async def get(self, path: str) -> str | None:
        return await super().get(f"{self.root}{path}")


def test_init_step_runs_kubeadm_init_dry_run(plan: Plan, tmp_path: Path) -> None:
    kubeadm = k8s_binary("kubeadm")
    node = plan.first_control_plane.name
    ex = NodeStandIn(node, tmp_path, kubeadm)
    contexts = make_contexts(plan, {node: ex}, RunOptions(verify=False))
    report = asyncio.run(run_steps(UP_STEPS, contexts, only=["control-plane/init"]))
    (result,) = report.results
    assert result.status is Status.CHANGED, result.detail
    assert (tmp_path / "etc/kubernetes/kubeadm/init.yaml").exists()
    # --dry-run wrote its manifests to a temporary folder inside the root, nothing in place.
    assert not (tmp_path / "etc/kubernetes/admin.conf").exists()
    assert list((tmp_path / "etc/kubernetes/tmp").glob("kubeadm-init-dryrun*/kube-apiserver.yaml"))


def test_init_step_of_a_multi_node_plan_passes_the_real_kubeadm(
    ha_plan: Plan, tmp_path: Path
) -> None:
    """Issue 14: on several nodes init.yaml reached kubeadm with `${KUBE6_JOIN_TOKEN}` and
    `${KUBE6_CERTIFICATE_KEY}` unfilled, and kubeadm refused it. The step runs unchanged here:
    the real `kubeadm token generate` and `kubeadm certs certificate-key` make the values and
    the real `kubeadm init --upload-certs --dry-run` reads the file the step wrote."""
    kubeadm = k8s_binary("kubeadm")
    ex = NodeStandIn("cp1", tmp_path, kubeadm)
    written: list[str] = []
    original = ex.put

    async def keep(path: str, content: str, mode: int = 0o644) -> None:
        written.append(content)
        await original(path, content, mode)

    ex.put = keep  # type: ignore[method-assign]
    contexts = make_contexts(ha_plan, {"cp1": ex}, RunOptions(verify=False))
    report = asyncio.run(run_steps(UP_STEPS, contexts, only=["control-plane/init"]))
    (result,) = report.results
    assert result.status is Status.CHANGED, result.detail
    filled, left = written
    assert "${KUBE6_" not in filled
    token = contexts["cp1"].state.values[JOIN_TOKEN]
    assert f"token: {token}" in filled
    assert token not in left
    assert JOIN_TOKEN in left
    assert oct((tmp_path / "etc/kubernetes/kubeadm/init.yaml").stat().st_mode & 0o777) == "0o600"
    assert list((tmp_path / "etc/kubernetes/tmp").glob("kubeadm-init-dryrun*/kube-apiserver.yaml"))


@pytest.mark.parametrize("node", ["w1", "cp2"])
def test_join_step_runs_kubeadm_join_dry_run(ha_plan: Plan, tmp_path: Path, node: str) -> None:
    """The join step, token and CA hash filled in, through `kubeadm join --dry-run`.

    kubeadm's dry run answers discovery with a fake cluster-info; for a token ID it has no
    signature for, it swaps in its own dry-run token and CA hash (cmd/kubeadm/app/discovery/
    token), so the phases after discovery run against our JoinConfiguration.
    """
    kubeadm = k8s_binary("kubeadm")
    ex = NodeStandIn(node, tmp_path, kubeadm)
    contexts = make_contexts(ha_plan, {node: ex}, RunOptions(verify=False))
    contexts[node].state.values.update(
        {JOIN_TOKEN: "kube6t.0123456789abcdef", CA_CERT_HASH: "3" * 64, CERTIFICATE_KEY: "e" * 64}
    )
    report = asyncio.run(run_steps(UP_STEPS, contexts, only=["join"]))
    (result,) = report.results
    assert result.status is Status.CHANGED, result.detail
    # the file left behind holds the placeholders again, not the token
    left = (tmp_path / "etc/kubernetes/kubeadm/join.yaml").read_text()
    assert JOIN_TOKEN in left
    assert "kube6t.0123456789abcdef" not in left


def test_join_step_writes_a_config_kubeadm_accepts(ha_plan: Plan, tmp_path: Path) -> None:
    import subprocess

    kubeadm = k8s_binary("kubeadm")
    ex = NodeStandIn("w1", tmp_path, kubeadm)
    contexts = make_contexts(ha_plan, {"w1": ex}, RunOptions(verify=False))
    contexts["w1"].state.values.update(
        {JOIN_TOKEN: "abcdef.0123456789abcdef", CA_CERT_HASH: "3" * 64}
    )
    written: list[str] = []
    original = ex.put

    async def keep(path: str, content: str, mode: int = 0o644) -> None:
        written.append(content)
        await original(path, content, mode)

    ex.put = keep  # type: ignore[method-assign]
    asyncio.run(run_steps(UP_STEPS, contexts, only=["join/workers"]))
    filled = written[0]
    assert "abcdef.0123456789abcdef" in filled
    path = tmp_path / "filled-join.yaml"
    path.write_text(filled)
    done = subprocess.run(
        [str(kubeadm), "config", "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
