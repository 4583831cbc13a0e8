"""kubeadm configs: taints, node-ip, extraArgs lists, one node name everywhere, CA-pinned join."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import yaml

from kube6.components.kubeadm import render as kubeadm
from kube6.plan.model import Plan
from kube6.render.base import (
    CA_CERT_HASH,
    CERTIFICATE_KEY,
    JOIN_TOKEN,
    PLACEHOLDERS,
    SECRET_MODE,
    Artifact,
    PlaceholderError,
    fill_placeholders,
)

TOKEN = "abcdef.0123456789abcdef"
HASH = "0" * 63 + "f"
KEY = "a" * 64
MARKER = re.compile(r"\$\{KUBE6_[A-Z_]+\}")

TWO_NODES = """\
prefix: 2001:db8:1234:5678::/64
nodes:
  - {name: boss, address: "2001:db8:1234:5678::1", roles: [control-plane]}
  - {name: helper, address: "2001:db8:1234:5678::2", roles: [worker]}
"""


def _docs(artifact: Artifact) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(artifact.content) if d is not None]


def _kubeadm_files(artifacts: list[Artifact]) -> dict[str, list[dict[str, Any]]]:
    """Node name -> kubeadm documents of that node."""
    found = {}
    for artifact in artifacts:
        if artifact.path.endswith(("kubeadm/init.yaml", "kubeadm/join.yaml")):
            found[artifact.path.split("/")[1]] = _docs(artifact)
    return found


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def test_every_node_has_exactly_one_kubeadm_file(
    scenario_plan: Plan, scenario_artifacts: list[Artifact]
) -> None:
    files = _kubeadm_files(scenario_artifacts)
    assert sorted(files) == sorted(n.name for n in scenario_plan.nodes)
    first = scenario_plan.first_control_plane.name
    for name, docs in files.items():
        kinds = [d["kind"] for d in docs]
        if name == first:
            assert kinds == [
                "InitConfiguration",
                "ClusterConfiguration",
                "KubeletConfiguration",
                "KubeProxyConfiguration",
            ]
        else:
            assert kinds == ["JoinConfiguration"]
        assert all(d["apiVersion"].startswith(("kubeadm.k8s.io/v1beta4", "kube")) for d in docs)


def test_node_identity_is_consistent(
    scenario_plan: Plan, scenario_artifacts: list[Artifact]
) -> None:
    """nodeRegistration.name is the node name; node-ip and advertiseAddress its address."""
    for name, docs in _kubeadm_files(scenario_artifacts).items():
        node = scenario_plan.node(name)
        top = docs[0]
        registration = top["nodeRegistration"]
        assert registration["name"] == node.name
        assert registration["criSocket"] == "unix:///run/containerd/containerd.sock"
        args = {a["name"]: a["value"] for a in registration["kubeletExtraArgs"]}
        assert args["node-ip"] == str(node.address)
        if node.labels:
            assert args["node-labels"] == ",".join(f"{k}={v}" for k, v in node.labels)
        else:
            assert "node-labels" not in args
        endpoint = (
            top.get("localAPIEndpoint")
            if top["kind"] == "InitConfiguration"
            else top.get("controlPlane", {}).get("localAPIEndpoint")
        )
        if node.is_control_plane:
            assert endpoint == {"advertiseAddress": str(node.address), "bindPort": 6443}
        else:
            assert endpoint is None


def test_no_second_source_of_node_names(scenario_artifacts: list[Artifact]) -> None:
    """etcd gets its member name from nodeRegistration.name only (the guide's initial-cluster
    mismatch), and nothing pins etcd's addresses in the shared ClusterConfiguration."""
    for docs in _kubeadm_files(scenario_artifacts).values():
        for doc in docs:
            for path, value in _walk(doc):
                if path.endswith(".name") and "nodeRegistration" not in path:
                    assert "extraargs" in path.lower() or "bootstrapTokens" in path, path
                if path.lower().endswith("extraargs") and "etcd" in path:
                    names = {arg["name"] for arg in value}
                    forbidden = {
                        "name",
                        "initial-cluster",
                        "initial-advertise-peer-urls",
                        "listen-client-urls",
                        "listen-peer-urls",
                        "advertise-client-urls",
                    }
                    assert not names & forbidden, f"{path} sets {names & forbidden}"
            if doc["kind"] == "ClusterConfiguration":
                assert set(doc["etcd"]["local"]) <= {"dataDir", "extraArgs"}


def test_extra_args_are_name_value_lists(scenario_artifacts: list[Artifact]) -> None:
    seen = 0
    for docs in _kubeadm_files(scenario_artifacts).values():
        for doc in docs:
            for path, value in _walk(doc):
                if path.lower().endswith("extraargs"):
                    seen += 1
                    assert isinstance(value, list), f"{path} is {type(value).__name__}"
                    for arg in value:
                        assert set(arg) == {"name", "value"}, f"{path}: {arg}"
                        assert isinstance(arg["value"], str), f"{path}: {arg} value not a string"
    assert seen, "no extraArgs at all"


def test_taints(plan_of: Callable[[str], Plan], golden_plan: Callable[[str], Plan]) -> None:
    taint = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]

    def taints(plan: Plan) -> dict[str, Any]:
        files = _kubeadm_files(list(kubeadm.render(plan)))
        return {name: docs[0]["nodeRegistration"]["taints"] for name, docs in files.items()}

    # A control plane that is also a worker: no taint, so nothing has to remove it later.
    assert taints(golden_plan("example")) == {"node0001": []}
    assert taints(plan_of(TWO_NODES)) == {"boss": taint, "helper": []}
    ha = taints(golden_plan("ha-3cp-5w"))
    assert {name: t for name, t in ha.items() if name.startswith("cp")} == {
        "cp1": taint,
        "cp2": taint,
        "cp3": taint,
    }
    assert all(t == [] for name, t in ha.items() if name.startswith("worker"))


def test_cluster_configuration(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("ha-3cp-5w")
    docs = kubeadm.init_documents(plan)
    cluster = _kind(docs, "ClusterConfiguration")
    assert cluster["kubernetesVersion"] == plan.kubernetes_version
    assert cluster["clusterName"] == plan.cluster_name
    assert cluster["controlPlaneEndpoint"] == plan.control_plane_endpoint
    assert cluster["networking"] == {
        "podSubnet": str(plan.pods),
        "serviceSubnet": str(plan.services),
        "dnsDomain": plan.dns_domain,
    }
    sans = cluster["apiServer"]["certSANs"]
    assert sans == [*(str(n.address) for n in plan.control_plane_nodes), str(plan.api)]
    assert cluster["controllerManager"]["extraArgs"] == [
        {"name": "node-cidr-mask-size-ipv6", "value": str(plan.node_mask)}
    ]
    kubelet = _kind(docs, "KubeletConfiguration")
    assert kubelet["cgroupDriver"] == "systemd"
    assert kubelet["clusterDNS"] == [str(plan.dns)]
    assert kubelet["maxPods"] == plan.max_pods
    assert kubelet["serverTLSBootstrap"] is True
    assert kubelet["failSwapOn"] is True
    proxy = _kind(docs, "KubeProxyConfiguration")
    assert proxy == {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "nftables",
        "clusterCIDR": str(plan.pods),
    }


def test_pools_in_several_prefixes_turn_node_cidrs_off(
    golden_plan: Callable[[str], Plan],
) -> None:
    plan = golden_plan("own-prefixes-ndp")
    assert not plan.allocate_node_cidrs
    docs = kubeadm.init_documents(plan)
    assert _kind(docs, "ClusterConfiguration")["controllerManager"]["extraArgs"] == [
        {"name": "allocate-node-cidrs", "value": "false"}
    ]
    proxy = _kind(docs, "KubeProxyConfiguration")
    assert proxy["detectLocalMode"] == "InterfaceNamePrefix"
    assert proxy["detectLocal"] == {"interfaceNamePrefix": "cali"}


def test_join_is_pinned_to_the_ca(scenario_plan: Plan, scenario_artifacts: list[Artifact]) -> None:
    for artifact in scenario_artifacts:
        assert "unsafeSkipCAVerification" not in artifact.content, artifact.path
        assert "unsafe-skip-ca-verification" not in artifact.content, artifact.path
    for name, docs in _kubeadm_files(scenario_artifacts).items():
        if docs[0]["kind"] != "JoinConfiguration":
            continue
        discovery = docs[0]["discovery"]
        assert set(discovery) == {"bootstrapToken"}
        token = discovery["bootstrapToken"]
        assert token == {
            "apiServerEndpoint": kubeadm.api_server_endpoint(scenario_plan),
            "token": JOIN_TOKEN,
            "caCertHashes": [f"sha256:{CA_CERT_HASH}"],
        }
        node = scenario_plan.node(name)
        if node.is_control_plane:
            assert docs[0]["controlPlane"]["certificateKey"] == CERTIFICATE_KEY
        else:
            assert "controlPlane" not in docs[0]


def test_files_that_will_hold_secrets_are_0600(scenario_artifacts: list[Artifact]) -> None:
    for artifact in scenario_artifacts:
        if any(marker in artifact.content for marker in PLACEHOLDERS):
            assert artifact.mode == SECRET_MODE, artifact.path
        if artifact.path.endswith("join.yaml"):
            assert artifact.mode == SECRET_MODE, artifact.path


def test_single_node_init_has_no_token_or_key(golden_plan: Callable[[str], Plan]) -> None:
    init = kubeadm.init_documents(golden_plan("example"))[0]
    assert "bootstrapTokens" not in init
    assert "certificateKey" not in init


def test_ha_init_carries_token_and_certificate_key(golden_plan: Callable[[str], Plan]) -> None:
    init = kubeadm.init_documents(golden_plan("ha-3cp-5w"))[0]
    assert [t["token"] for t in init["bootstrapTokens"]] == [JOIN_TOKEN]
    assert init["certificateKey"] == CERTIFICATE_KEY
    worker_only = kubeadm.init_documents(golden_plan("own-prefixes-ndp"))[0]
    assert "certificateKey" not in worker_only  # one control-plane node: nothing to upload


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("[2001:db8::1]:6443", "[2001:db8::1]:6443"),
        ("[2001:db8::1]", "[2001:db8::1]:6443"),
        ("api.example.com", "api.example.com:6443"),
        ("api.example.com:443", "api.example.com:443"),
        ("2001:db8::1", "[2001:db8::1]:6443"),
    ],
)
def test_api_server_endpoint_always_has_a_port(
    golden_plan: Callable[[str], Plan], endpoint: str, expected: str
) -> None:
    plan = replace(golden_plan("example"), control_plane_endpoint=endpoint)
    assert kubeadm.api_server_endpoint(plan) == expected


# ---- fill_placeholders ------------------------------------------------------------------


def _join_text(golden_plan: Callable[[str], Plan], node: str) -> str:
    plan = golden_plan("ha-3cp-5w")
    (artifact,) = [a for a in kubeadm.render(plan) if f"/{node}/" in a.path]
    return artifact.content


def test_fill_placeholders_gives_values_kubeadm_accepts(
    golden_plan: Callable[[str], Plan],
) -> None:
    text = _join_text(golden_plan, "cp2")
    filled = fill_placeholders(
        text, {JOIN_TOKEN: TOKEN, CA_CERT_HASH: f"sha256:{HASH}", CERTIFICATE_KEY: KEY}
    )
    assert not MARKER.search(filled)
    (join,) = _docs(Artifact("x.yaml", filled))
    bootstrap = join["discovery"]["bootstrapToken"]
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", bootstrap["token"])
    assert bootstrap["caCertHashes"] == [f"sha256:{HASH}"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", bootstrap["caCertHashes"][0])
    assert join["controlPlane"]["certificateKey"] == KEY


def test_fill_placeholders_refuses_missing_values(golden_plan: Callable[[str], Plan]) -> None:
    text = _join_text(golden_plan, "cp2")
    with pytest.raises(PlaceholderError, match=re.escape(CERTIFICATE_KEY)):
        fill_placeholders(text, {JOIN_TOKEN: TOKEN, CA_CERT_HASH: HASH})


@pytest.mark.parametrize(
    ("marker", "bad"),
    [
        (JOIN_TOKEN, "ABCDEF.0123456789abcdef"),
        (JOIN_TOKEN, "abcdef.0123456789abcdef\nunsafeSkipCAVerification: true"),
        (JOIN_TOKEN, "abcdef0123456789abcdef"),
        (CA_CERT_HASH, "sha256:" + "g" * 64),
        (CA_CERT_HASH, "0" * 63),
        (CERTIFICATE_KEY, "a" * 65),
    ],
)
def test_fill_placeholders_refuses_bad_values_without_echoing_them(
    golden_plan: Callable[[str], Plan], marker: str, bad: str
) -> None:
    text = _join_text(golden_plan, "cp2")
    values = {JOIN_TOKEN: TOKEN, CA_CERT_HASH: HASH, CERTIFICATE_KEY: KEY, marker: bad}
    with pytest.raises(PlaceholderError) as caught:
        fill_placeholders(text, values)
    assert marker in str(caught.value)
    assert bad not in str(caught.value)


def test_marker_pattern_matches_every_placeholder() -> None:
    assert all(MARKER.fullmatch(m) for m in PLACEHOLDERS)


def test_fill_placeholders_refuses_unknown_markers() -> None:
    with pytest.raises(PlaceholderError, match="unknown placeholder"):
        fill_placeholders("token: x", {"${KUBE6_TOKEN}": TOKEN})


def test_worker_join_needs_no_certificate_key(golden_plan: Callable[[str], Plan]) -> None:
    text = _join_text(golden_plan, "worker1")
    filled = fill_placeholders(text, {JOIN_TOKEN: TOKEN, CA_CERT_HASH: HASH})
    assert not MARKER.search(filled)


def test_no_comment_only_documents(scenario_artifacts: list[Artifact]) -> None:
    """kubeadm splits files on `---` lines and refuses a piece without kind/apiVersion, such as
    the header comments followed by a leading separator (found with the real kubeadm)."""
    for artifact in scenario_artifacts:
        if "/etc/kubernetes/kubeadm/" not in artifact.path:
            continue
        pieces = re.split(r"(?m)^---\s*$", artifact.content)
        for piece in pieces:
            content = [
                line for line in piece.splitlines() if line.strip() and not line.startswith("#")
            ]
            assert content, f"{artifact.path} has a document with only comments"
