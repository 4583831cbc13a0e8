"""The real kubeadm (v1.37, built by tests/k8s/build.sh) judges kube6's plans and kubeadm configs.

- `kubeadm config validate` accepts the configs rendered for at least 50 distinct generated plans
  (the golden scenarios are covered by tests/render/test_render_kubeadm_k8s.py);
- `kubeadm init --dry-run` runs every phase to the end with the rendered init.yaml of each golden
  scenario, ignoring by name only the preflight errors listed in IGNORED_PREFLIGHT_ERRORS;
- the planner and kubeadm agree on kubeadm's own rules: both refuse the same broken plans, and
  both accept the boundary values.
"""

from __future__ import annotations

import ipaddress
import subprocess
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv6Network
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kube6 import spec
from kube6.components.kubeadm import render as kubeadm
from kube6.components.registry import render_all
from kube6.errors import PlanError
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.render.base import (
    CA_CERT_HASH,
    CERTIFICATE_KEY,
    JOIN_TOKEN,
    PLACEHOLDERS,
    Artifact,
    fill_placeholders,
)
from tests.conftest import k8s_binary
from tests.plan.test_properties import network_overrides

pytestmark = pytest.mark.k8s

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SCENARIOS = sorted(d.name for d in GOLDEN.iterdir() if (d / "kube6.yaml").is_file())

# What `kube6 up` fills in on the host; any value of the right shape does for validation.
VALUES = {
    JOIN_TOKEN: "abcdef.0123456789abcdef",
    CA_CERT_HASH: "3" * 64,
    CERTIFICATE_KEY: "e" * 64,
}
MIN_DISTINCT_PLANS = 50
WORKERS = 2
"""kubeadm runs at a time: the machine has two cores."""

IGNORED_PREFLIGHT_ERRORS = {
    # This machine has no container runtime, kubelet or init system; a node installs them first.
    "CRI": "no containerd socket on this machine",
    "ContainerRuntimeVersion": "no containerd socket on this machine",
    "SystemVerification": "no kubelet binary to ask for its version",
    "KubeletVersion": "no kubelet binary to ask for its version",
    # kubeadm runs chrooted (--rootfs) into an empty test directory, so that it cannot write
    # outside it: there are no host tools and no /proc in there.
    "FileExisting-cp": "the test chroot has no cp",
    "FileExisting-losetup": "the test chroot has no losetup",
    "FileExisting-mount": "the test chroot has no mount",
    "FileContent--proc-sys-net-ipv6-conf-default-forwarding": "the test chroot has no /proc",
    # kubeadm tries to listen on [advertiseAddress]:2379/2380, and the planned node address is
    # not on this machine, so that reports "in use"; the other ports may be held by other
    # programs on this shared machine. A node's ports are checked by `kube6 check`.
    "Port-2379": "the planned node address is not on this machine",
    "Port-2380": "the planned node address is not on this machine",
    "Port-6443": "this machine's port, not the node's",
    "Port-10250": "this machine's port, not the node's",
    "Port-10257": "this machine's port, not the node's",
    "Port-10259": "this machine's port, not the node's",
    # Resources of the machine that runs the tests, not of a node.
    "NumCPU": "this machine's CPUs, not the node's",
    "Mem": "this machine's memory, not the node's",
    "Swap": "this machine's swap, not the node's",
}


def _validate(kubeadm_bin: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubeadm_bin), "config", "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _filled(artifact: Artifact) -> str:
    return fill_placeholders(
        artifact.content, {m: v for m, v in VALUES.items() if m in artifact.content}
    )


# ---- generated plans -------------------------------------------------------------------------


@st.composite
def small_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs like tests/plan/test_properties.py's (/48-/96, every routing mode, 1-5 control
    planes), with few nodes so that each plan costs a handful of kubeadm runs."""
    length = draw(st.integers(min_value=48, max_value=96))
    high = draw(st.integers(min_value=0, max_value=(1 << (length - 32)) - 1))
    base = (0x20010DB8 << 96) | (high << (128 - length))
    prefix = IPv6Network((base, length))
    control = draw(st.integers(min_value=1, max_value=5))
    count = control + draw(st.integers(min_value=0, max_value=4))
    routing = draw(st.sampled_from(["ndp-proxy", "routed", "bgp"]))
    nodes: list[dict[str, Any]] = [
        {
            "name": f"n{i}",
            "address": str(ipaddress.IPv6Address(base + 1 + i)),
            "roles": ["control-plane", "worker"] if i < control else ["worker"],
        }
        for i in range(count)
    ]
    # Some workers on links of their own (own /64 each): pools per prefix, and then node CIDR
    # allocation is off, another shape of ClusterConfiguration.
    if draw(st.booleans()):
        for i, node in enumerate(nodes[control:]):
            if draw(st.booleans()):
                own = IPv6Network(((0x20010DB8AAAA << 80) | ((i + 1) << 64), 64))
                node["prefix"] = str(own)
                node["address"] = str(own[1])
    data: dict[str, Any] = {
        "cluster": {"name": draw(st.sampled_from(["kube001", "edge", "k6-lab"]))},
        "prefix": str(prefix),
        "routing": routing,
        "nodes": nodes,
    }
    if routing == "bgp":
        data["bgp"] = {"peer": "2001:db8:ffff::1", "peer_as": 65000}
    network = network_overrides(draw, base, length)
    if network:
        data["network"] = network
    return data


def _accepted_plans(at_least: int) -> dict[str, Plan]:
    """Distinct accepted plans (by digest) from generated specs."""
    plans: dict[str, Plan] = {}

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(small_specs())
    def collect(data: dict[str, Any]) -> None:
        if len(plans) >= at_least + 10:
            return
        try:
            plan = make_plan(spec.from_data(data))
        except PlanError:
            return
        if plan.ok:
            plans[plan.digest] = plan

    collect()
    return plans


def test_kubeadm_accepts_the_configs_of_generated_plans(tmp_path: Path) -> None:
    kubeadm_bin = k8s_binary("kubeadm")
    plans = _accepted_plans(MIN_DISTINCT_PLANS)
    assert len(plans) >= MIN_DISTINCT_PLANS, f"only {len(plans)} distinct accepted plans"
    # Both shapes of ClusterConfiguration are among them.
    assert {p.allocate_node_cidrs for p in plans.values()} == {True, False}
    jobs: list[tuple[str, Path]] = []
    for digest, plan in plans.items():
        configs = [
            a for a in render_all(plan) if a.path.endswith((kubeadm.INIT_PATH, kubeadm.JOIN_PATH))
        ]
        assert len(configs) == len(plan.nodes)
        for artifact in configs:
            text = _filled(artifact)
            assert not any(marker in text for marker in PLACEHOLDERS)
            path = tmp_path / f"{digest}-{artifact.path.replace('/', '_')}"
            path.write_text(text)
            jobs.append((f"plan {digest} ({plan.prefix}, {plan.routing}): {artifact.path}", path))

    def run(job: tuple[str, Path]) -> str | None:
        what, path = job
        done = _validate(kubeadm_bin, path)
        if done.returncode != 0 or "unknown field" in done.stderr.lower():
            return f"{what}:\n{done.stdout}{done.stderr}\n{path.read_text()}"
        return None

    with ThreadPoolExecutor(WORKERS) as pool:
        refusals = [r for r in pool.map(run, jobs) if r]
    assert not refusals, f"kubeadm refuses {len(refusals)} of {len(jobs)} configs:\n" + "\n".join(
        refusals[:3]
    )


# ---- planner and kubeadm agree ---------------------------------------------------------------


def _example_with(network: dict[str, Any]) -> Plan:
    data = spec.example().model_dump(mode="json", exclude_none=True)
    data["network"] = network
    return make_plan(spec.from_data(data))


def _render_unchecked(plan: Plan) -> str:
    """The init.yaml of a plan, bypassing render_all's refusal of a failed plan."""
    (init,) = [a for a in kubeadm.render(plan) if a.path.endswith(kubeadm.INIT_PATH)]
    return _filled(init)


P = "2001:db8:1234:5678:8:2::"  # the example's pod range start
S = "2001:db8:1234:5678:8:3::"  # the example's service range start

BROKEN: dict[str, tuple[dict[str, Any], str, str]] = {
    "service range /100 (28 host bits)": (
        {"services": f"{S}/100"},
        "service-prefix-length",
        "serviceSubnet",
    ),
    "service range /125 (no room for the DNS address)": (
        {"services": f"{S}/125"},
        "service-room-for-dns",
        "serviceSubnet",
    ),
    "node mask 18 bits longer than pods": ({"node_mask": 122}, "node-mask-vs-pods", "podSubnet"),
    "pods /100 with node mask /120": (
        {"pods": f"{P}/100", "node_mask": 120},
        "node-mask-vs-pods",
        "podSubnet",
    ),
    "node mask shorter than pods": ({"node_mask": 100}, "node-mask-vs-pods", "podSubnet"),
}

BOUNDARIES: dict[str, dict[str, Any]] = {
    "service range /108": {"services": f"{S}/108"},
    "service range /124 (the DNS address is the 10th of 16)": {"services": f"{S}/124"},
    "node mask exactly 16 bits longer than pods": {"pods": f"{P}/104", "node_mask": 120},
    "node mask equal to pods": {"pods": f"{P}/120", "node_mask": 120},
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_planner_and_kubeadm_refuse_the_same_plan(case: str, tmp_path: Path) -> None:
    network, rule, field = BROKEN[case]
    plan = _example_with(network)
    assert not plan.ok
    assert rule in {f.name for f in plan.failures}, [str(f) for f in plan.failures]
    path = tmp_path / "init.yaml"
    path.write_text(_render_unchecked(plan))
    done = _validate(k8s_binary("kubeadm"), path)
    assert done.returncode != 0, f"kubeadm accepts {case}:\n{path.read_text()}"
    assert f"networking.{field}" in done.stderr, done.stderr


@pytest.mark.parametrize("case", sorted(BOUNDARIES))
def test_planner_and_kubeadm_accept_the_boundary(case: str, tmp_path: Path) -> None:
    plan = _example_with(BOUNDARIES[case])
    assert plan.ok, [str(f) for f in plan.failures]
    path = tmp_path / "init.yaml"
    path.write_text(_render_unchecked(plan))
    done = _validate(k8s_binary("kubeadm"), path)
    assert done.returncode == 0, f"{done.stdout}{done.stderr}"


# ---- kubeadm init --dry-run ------------------------------------------------------------------


def _golden_plan(name: str) -> Plan:
    parsed = spec.parse_text((GOLDEN / name / "kube6.yaml").read_text(), source="kube6.yaml")
    return make_plan(parsed, source="kube6.yaml")


def _init_dry_run(kubeadm_bin: Path, plan: Plan, root: Path) -> subprocess.CompletedProcess[str]:
    (root / "cfg").mkdir(parents=True)
    (root / "cfg" / "init.yaml").write_text(_render_unchecked(plan))
    return subprocess.run(
        [
            str(kubeadm_bin),
            "init",
            "--dry-run",
            # chroot: the dry-run directory and every file kubeadm writes stay in `root`, and
            # with no resolv.conf there, its one lookup (the node name) can only ask ::1.
            "--rootfs",
            str(root),
            "--config",
            "/cfg/init.yaml",
            "--ignore-preflight-errors=" + ",".join(sorted(IGNORED_PREFLIGHT_ERRORS)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _flags(manifest: Path) -> dict[str, str]:
    pod = yaml.safe_load(manifest.read_text())
    flags = {}
    for arg in pod["spec"]["containers"][0]["command"][1:]:
        name, _, value = arg.removeprefix("--").partition("=")
        flags[name] = value
    return flags


def test_kubeadm_init_dry_run_completes_for_every_golden_scenario(tmp_path: Path) -> None:
    kubeadm_bin = k8s_binary("kubeadm")
    plans = {name: _golden_plan(name) for name in SCENARIOS}
    assert plans

    def run(name: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        return name, _init_dry_run(kubeadm_bin, plans[name], tmp_path / name)

    with ThreadPoolExecutor(WORKERS) as pool:
        results = dict(pool.map(run, SCENARIOS))
    for name, done in results.items():
        assert done.returncode == 0, f"{name}: kubeadm init --dry-run failed:\n{done.stderr}"
        assert "initialized successfully" in done.stdout, f"{name}:\n{done.stdout[-2000:]}"
        plan = plans[name]
        (dry,) = (tmp_path / name / "etc" / "kubernetes" / "tmp").glob("kubeadm-init-dryrun*")
        apiserver = _flags(dry / "kube-apiserver.yaml")
        assert apiserver["service-cluster-ip-range"] == str(plan.services)
        assert apiserver["advertise-address"] == str(plan.first_control_plane.address)
        kubelet = yaml.safe_load((dry / "config.yaml").read_text())
        assert kubelet["clusterDNS"] == [str(plan.dns)]
        # The addon phase ran: kube-dns on the planned DNS address.
        assert f"clusterIP: {plan.dns}" in done.stdout, f"{name}: kube-dns not on {plan.dns}"


def test_kubeadm_init_dry_run_fails_on_a_plan_the_planner_refuses(tmp_path: Path) -> None:
    """The dry-run above is not vacuous: the same command with the ignore list fails on a
    config that breaks a kubeadm rule."""
    plan = _example_with({"services": f"{S}/100"})
    assert not plan.ok
    done = _init_dry_run(k8s_binary("kubeadm"), plan, tmp_path / "root")
    assert done.returncode != 0
    assert "networking.serviceSubnet" in done.stderr, done.stderr
