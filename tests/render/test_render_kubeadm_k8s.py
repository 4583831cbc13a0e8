"""The rendered kubeadm configs, filled as `up` fills them, pass the real `kubeadm config
validate` of the pinned Kubernetes (built by tests/k8s/build.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from tests.conftest import k8s_binary

from kube6 import versions
from kube6.components.containerd import render as containerd
from kube6.plan.model import Plan
from kube6.render.base import (
    CA_CERT_HASH,
    CERTIFICATE_KEY,
    JOIN_TOKEN,
    PLACEHOLDERS,
    Artifact,
    fill_placeholders,
)

pytestmark = pytest.mark.k8s

VALUES = {
    JOIN_TOKEN: "abcdef.0123456789abcdef",
    CA_CERT_HASH: "3" * 64,
    CERTIFICATE_KEY: "e" * 64,
}


def _kubeadm() -> Path:
    # Fails (never skips) when the k8s tier was not built; see tests/conftest.py.
    return k8s_binary("kubeadm")


def test_kubeadm_config_validate(
    scenario: str, scenario_artifacts: list[Artifact], tmp_path: Path
) -> None:
    kubeadm = _kubeadm()
    configs = [a for a in scenario_artifacts if "/etc/kubernetes/kubeadm/" in a.path]
    assert configs
    for artifact in configs:
        needed = {m: v for m, v in VALUES.items() if m in artifact.content}
        filled = fill_placeholders(artifact.content, needed)
        assert not any(marker in filled for marker in PLACEHOLDERS)
        path = tmp_path / artifact.path.replace("/", "_")
        path.write_text(filled)
        done = subprocess.run(
            [str(kubeadm), "config", "validate", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (
            f"{scenario}: kubeadm rejects {artifact.path}:\n{done.stdout}\n{done.stderr}"
        )
        # kubeadm warns about unknown fields instead of failing; treat that as a failure.
        assert "unknown field" not in done.stderr.lower(), done.stderr


def test_unfilled_placeholders_are_rejected_by_kubeadm(
    scenario_artifacts: list[Artifact], tmp_path: Path
) -> None:
    """The markers are not valid values: a forgotten fill fails loudly, never half-works."""
    kubeadm = _kubeadm()
    joins = [a for a in scenario_artifacts if a.path.endswith("kubeadm/join.yaml")]
    if not joins:
        pytest.skip("this scenario has a single node, so no join.yaml")
    path = tmp_path / "join.yaml"
    path.write_text(joins[0].content)
    done = subprocess.run(
        [str(kubeadm), "config", "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0


def test_containerd_pins_the_pause_image_kubeadm_wants() -> None:
    kubeadm = _kubeadm()
    done = subprocess.run(
        [
            str(kubeadm),
            "config",
            "images",
            "list",
            "--kubernetes-version",
            versions.KUBERNETES.version,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pause = [line for line in done.stdout.split() if "/pause:" in line]
    assert pause == [containerd.PAUSE_IMAGE], done.stdout


def _dry_run_manifest(
    kubeadm: Path, init_yaml: str, root: Path, phase: list[str], manifest: str
) -> dict[str, str]:
    """Run a kubeadm init phase with --dry-run, chrooted (--rootfs) into `root` so that nothing
    is written outside it, and return the component's flags from the manifest it writes."""
    (root / "cfg").mkdir(parents=True)
    (root / "cfg" / "init.yaml").write_text(init_yaml)
    argv = [str(kubeadm), "init", "phase", *phase, "--rootfs", str(root)]
    subprocess.run(
        [*argv, "--config", "/cfg/init.yaml", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (path,) = (root / "etc" / "kubernetes" / "tmp").glob(f"kubeadm-init-dryrun*/{manifest}")
    pod = yaml.safe_load(path.read_text())
    flags = {}
    for arg in pod["spec"]["containers"][0]["command"][1:]:
        name, _, value = arg.removeprefix("--").partition("=")
        flags[name] = value
    return flags


def _filled_init(artifacts: list[Artifact]) -> tuple[str, str]:
    (init,) = [a for a in artifacts if a.path.endswith("kubeadm/init.yaml")]
    needed = {m: v for m, v in VALUES.items() if m in init.content}
    return init.path.split("/")[1], fill_placeholders(init.content, needed)


def test_etcd_name_and_addresses_come_from_the_node(
    scenario_plan: Plan, scenario_artifacts: list[Artifact], tmp_path: Path
) -> None:
    """The guide's bug: etcd --name differed from the name in --initial-cluster."""
    kubeadm = _kubeadm()
    name, text = _filled_init(scenario_artifacts)
    address = scenario_plan.node(name).address
    flags = _dry_run_manifest(kubeadm, text, tmp_path, ["etcd", "local"], "etcd.yaml")
    assert flags["name"] == name
    assert flags["initial-cluster"] == f"{name}=https://[{address}]:2380"
    assert flags["listen-client-urls"] == f"https://[::1]:2379,https://[{address}]:2379"
    assert flags["listen-peer-urls"] == f"https://[{address}]:2380"


def test_controller_manager_flags(
    scenario_plan: Plan, scenario_artifacts: list[Artifact], tmp_path: Path
) -> None:
    kubeadm = _kubeadm()
    _, text = _filled_init(scenario_artifacts)
    flags = _dry_run_manifest(
        kubeadm,
        text,
        tmp_path,
        ["control-plane", "controller-manager"],
        "kube-controller-manager.yaml",
    )
    assert flags["cluster-cidr"] == str(scenario_plan.pods)
    assert flags["service-cluster-ip-range"] == str(scenario_plan.services)
    if scenario_plan.allocate_node_cidrs:
        assert flags["allocate-node-cidrs"] == "true"
        assert flags["node-cidr-mask-size-ipv6"] == str(scenario_plan.node_mask)
    else:
        assert flags["allocate-node-cidrs"] == "false"
