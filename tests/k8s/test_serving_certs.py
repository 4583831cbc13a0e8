"""join/serving-certs against the tier's real API server (issue 14: nothing approved the
kubelets' serving certificate requests, so `kubectl logs/exec` failed on every cluster).

The requests are created as the kubelet creates them: by `system:node:<name>` in group
`system:nodes` (kubectl impersonation; the API server's Node authorizer admits them as it
admits a kubelet's), signer `kubernetes.io/kubelet-serving`. The step runs unchanged on a
stand-in of the first control-plane node (this machine, files under a temporary root by the
lab's RootedExecutor, the tier's kubectl) and must approve the node's own request and leave the others pending.
Issuing the certificate is the controller-manager's csrsigning controller, which kubeadm
configures with the cluster CA; the tier does not run it, so the test stops at the approval.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kube6.components.kubeadm.serving import KUBELET_CONF, SIGNER
from kube6.components.registry import UP_STEPS, make_contexts
from kube6.lab.rooted import RootedExecutor
from kube6.steps import RunOptions, Status, run_steps
from kube6.steps.kubectl import ADMIN_CONF
from tests.conftest import k8s_binary
from tests.k8s.controlplane import ControlPlane, TierNode
from tests.steps.test_serving import csr_pem

pytestmark = pytest.mark.k8s


def _request_as_node(
    cp: ControlPlane, name: str, node: str, dns: list[str], ips: list[str]
) -> None:
    pem = csr_pem(f"system:node:{node}", ["system:nodes"], dns, ips)
    manifest = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "signerName": SIGNER,
            "request": base64.b64encode(pem.encode()).decode(),
            "usages": ["digital signature", "server auth"],
        },
    }
    cp.kubectl(
        "--as",
        f"system:node:{node}",
        "--as-group",
        "system:nodes",
        "create",
        "-f",
        "-",
        stdin=json.dumps(manifest),
    )


def test_only_the_planned_nodes_own_serving_request_is_approved(
    k8s_control_plane: ControlPlane, tmp_path: Path
) -> None:
    cp = k8s_control_plane
    node = cp.plan.first_control_plane
    root = tmp_path / "root"
    admin = root / ADMIN_CONF.lstrip("/")
    admin.parent.mkdir(parents=True)
    shutil.copyfile(cp.kubeconfig, admin)
    (root / KUBELET_CONF.lstrip("/")).write_text("joined\n")  # no serving certificate yet
    names = ["kube6-own", "kube6-extra-ip", "kube6-stranger"]
    try:
        _request_as_node(cp, names[0], node.name, [node.name], [str(node.address)])
        _request_as_node(cp, names[1], node.name, [node.name], [str(node.address), "2001:db8::66"])
        _request_as_node(cp, names[2], "stranger", ["stranger"], ["2001:db8::77"])
        # What the API server recorded is what a kubelet's request carries.
        recorded = json.loads(cp.kubectl("get", "csr", names[0], "-o", "json"))["spec"]
        assert recorded["username"] == f"system:node:{node.name}"
        assert "system:nodes" in recorded["groups"]

        executor = RootedExecutor(TierNode(node.name), root)
        options = RunOptions(verify=False)
        contexts = make_contexts(cp.plan, {node.name: executor}, options)
        report = asyncio.run(run_steps(UP_STEPS, contexts, only=["join/serving-certs"]))
        (result,) = report.results
        assert result.status is Status.CHANGED, result.detail
        assert [a.display.split()[-3:] for a in result.actions] == [
            ["certificate", "approve", names[0]]
        ]

        def conditions(name: str) -> list[str]:
            status = json.loads(cp.kubectl("get", "csr", name, "-o", "json"))["status"]
            return [c["type"] for c in status.get("conditions", [])]

        assert conditions(names[0]) == ["Approved"]
        assert conditions(names[1]) == []
        assert conditions(names[2]) == []
    finally:
        subprocess.run(
            [
                str(k8s_binary("kubectl")),
                "--kubeconfig",
                str(cp.kubeconfig),
                "delete",
                "csr",
                "--ignore-not-found",
                *names,
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
