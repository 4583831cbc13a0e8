"""Fixtures of the k8s tier: the built binaries, and an IPv6-only control plane on ::1.

The control plane is started once per test session from the plan of kube6's built-in example
(`kube6.plan.make_plan(spec.example())`) and shared by every test that asks for it;
`control_plane` (tests/k8s/controlplane.py) stops it at the end, also after failures, and the
work directory is removed. Tests elsewhere can start their own with `control_plane(...)`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kube6 import spec
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.steps.kubectl import ADMIN_CONF
from tests.conftest import k8s_binary
from tests.k8s.controlplane import Binaries, ControlPlane, control_plane
from tests.k8s.upstream import Installed, Upstream, install_crds, load_upstream


@pytest.fixture(scope="session")
def k8s_binaries() -> Binaries:
    """The tier's programs; a missing one fails the test that needs it (never skips)."""
    return Binaries(
        kubeadm=k8s_binary("kubeadm"),
        etcd=k8s_binary("etcd"),
        apiserver=k8s_binary("kube-apiserver"),
        controller_manager=k8s_binary("kube-controller-manager"),
    )


@pytest.fixture(scope="session")
def control_plane_plan() -> Plan:
    plan = make_plan(spec.example())
    assert plan.ok, [str(f) for f in plan.failures]
    return plan


@pytest.fixture(scope="session")
def k8s_control_plane(
    control_plane_plan: Plan, k8s_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager on ::1 for `control_plane_plan`."""
    workdir: Path = tmp_path_factory.mktemp("control-plane")
    try:
        with control_plane(control_plane_plan, workdir, k8s_binaries) as cp:
            yield cp
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def upstream() -> Upstream:
    """The CRDs and charts that tests/k8s/build.sh obtained (its manifest.json)."""
    return load_upstream()


@pytest.fixture(scope="session")
def installed(k8s_control_plane: ControlPlane, upstream: Upstream) -> Installed:
    """The upstream CRDs on the session's control plane, in `kube6 up`'s order."""
    return install_crds(k8s_control_plane, upstream)


@pytest.fixture
def node_root(k8s_control_plane: ControlPlane, tmp_path: Path) -> Path:
    """The stand-in node's file system: only the admin kubeconfig kubeadm init would leave."""
    root = tmp_path / "root"
    admin = root / ADMIN_CONF.lstrip("/")
    admin.parent.mkdir(parents=True)
    shutil.copyfile(k8s_control_plane.kubeconfig, admin)
    admin.chmod(0o600)
    return root
