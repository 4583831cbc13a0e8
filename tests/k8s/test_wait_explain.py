"""What a failed wait of `up` shows: the nodes' true conditions and taints, read by the real
kubectl from the tier's real API server (kube6.steps.cluster.NODE_STATE)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kube6.steps.cluster import NODE_STATE

from .controlplane import ControlPlane

pytestmark = pytest.mark.k8s

LABEL = "kube6.test/explain=yes"


@pytest.fixture
def pressed_nodes(k8s_control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """Two Nodes: `full` under DiskPressure with kubelet's taint, `fine` only Ready."""
    cp = k8s_control_plane
    conditions = {
        "full": [("MemoryPressure", "False"), ("DiskPressure", "True"), ("Ready", "True")],
        "fine": [("DiskPressure", "False"), ("Ready", "True")],
    }
    try:
        for name, found in conditions.items():
            taints = [{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"}]
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"explain-{name}", "labels": {"kube6.test/explain": "yes"}},
                "spec": {"taints": taints} if name == "full" else {},
            }
            cp.kubectl("create", "-f", "-", stdin=json.dumps(node))
            status = {"status": {"conditions": [{"type": t, "status": s} for t, s in found]}}
            cp.kubectl(
                "patch", "node", f"explain-{name}", "--subresource=status", "--type=merge",
                "-p", json.dumps(status),
            )  # fmt: skip
        yield cp
    finally:
        cp.kubectl("delete", "nodes", "-l", LABEL, "--wait=false", check=False)


def test_the_node_state_names_pressure_and_taints(pressed_nodes: ControlPlane) -> None:
    shown = pressed_nodes.kubectl("get", "nodes", "-l", LABEL, "-o", NODE_STATE)
    fine, full = shown.splitlines()
    # The controller-manager's node lifecycle controller may add taints of its own (not-ready).
    assert fine.startswith("explain-fine: Ready; taints:")
    assert "disk-pressure" not in fine
    assert full.startswith("explain-full: DiskPressure Ready; taints: ")
    assert "node.kubernetes.io/disk-pressure" in full.split("taints: ")[1].split()
