"""Mirrors and host settings in the rendered files: containerd hosts.toml per registry, the
runtime's restrict_oom_score_adj, kubelet's failCgroupV1, the ACME directories of the issuers."""

from __future__ import annotations

import base64
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube6 import spec
from kube6.components.cert_manager.render import ACME_SERVERS, issuers
from kube6.components.containerd import render as containerd
from kube6.components.kubeadm.render import init_documents, join_document
from kube6.components.registry import render_all
from kube6.plan import make_plan
from kube6.plan.model import Plan


def _spec(**changes: Any) -> Plan:
    data: dict[str, Any] = {
        "prefix": "2001:db8:1234:5678::/64",
        "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
    }
    data.update(changes)
    return make_plan(spec.from_data(data))


def _files(plan: Plan) -> dict[str, str]:
    return {a.path: a.content for a in render_all(plan)}


def test_lab_registries_render_hosts_toml_that_containerd_reads(
    golden_plan: Callable[[str], Plan],
) -> None:
    files = _files(golden_plan("mirrors-lab"))
    for node in ("cp1", "w1"):
        for registry in ("registry.k8s.io", "docker.io", "quay.io", "ghcr.io"):
            text = files[f"nodes/{node}/etc/containerd/certs.d/{registry}/hosts.toml"]
            hosts = tomllib.loads(text)
            # fallback: false -> the upstream registry is never asked, the mirror is the server
            assert hosts["server"] == "http://[2001:db8:ffff::10]:5000"
            assert hosts["host"]["http://[2001:db8:ffff::10]:5000"]["capabilities"] == [
                "pull",
                "resolve",
            ]
    config = tomllib.loads(files["nodes/w1/etc/containerd/config.toml"])
    cri = config["plugins"]
    assert (
        cri["io.containerd.cri.v1.images"]["registry"]["config_path"] == "/etc/containerd/certs.d"
    )
    assert cri["io.containerd.cri.v1.runtime"]["restrict_oom_score_adj"] is True


def test_fallback_keeps_the_upstream_server_and_a_ca_is_written_beside() -> None:
    lab = spec.load(Path(__file__).resolve().parents[1] / "golden/mirrors-lab/kube6.yaml")
    ca = lab.mirrors.acme.staging.ca if lab.mirrors.acme.staging else None
    assert ca is not None
    plan = _spec(
        mirrors={
            "registries": [
                {
                    "registry": "docker.io",
                    "endpoints": [
                        {"url": "https://cache.example.com", "ca": ca},
                        {"url": "http://[2001:db8::5]:5000/v2/proxy", "override_path": True},
                    ],
                }
            ]
        }
    )
    files = _files(plan)
    hosts = tomllib.loads(files["nodes/node0001/etc/containerd/certs.d/docker.io/hosts.toml"])
    assert hosts["server"] == "https://registry-1.docker.io"  # containerd's name for Docker Hub
    assert list(hosts["host"]) == [
        "https://cache.example.com",
        "http://[2001:db8::5]:5000/v2/proxy",
    ]
    ca_path = hosts["host"]["https://cache.example.com"]["ca"]
    assert ca_path.startswith("/etc/containerd/certs.d/docker.io/")
    assert files[f"nodes/node0001{ca_path}"] == ca
    assert hosts["host"]["http://[2001:db8::5]:5000/v2/proxy"]["override_path"] is True


def test_min_free_disk_sets_kubelets_eviction_amounts_and_keeps_its_other_defaults() -> None:
    # kubeadm uploads init's KubeletConfiguration (kube-system/kubelet-config): joining nodes'
    # kubelets read the same one.
    plan = _spec(host={"min_free_disk": "10Gi"})
    kubelet = init_documents(plan)[2]
    assert kubelet["evictionHard"] == {
        "memory.available": "100Mi",
        "nodefs.available": "10Gi",
        "nodefs.inodesFree": "5%",
        "imagefs.available": "10Gi",
        "imagefs.inodesFree": "5%",
    }
    assert (kubelet["imageGCHighThresholdPercent"], kubelet["imageGCLowThresholdPercent"]) == (
        100,
        99,
    )


def test_without_mirrors_or_host_settings_nothing_changes() -> None:
    plan = _spec()
    files = _files(plan)
    assert not [p for p in files if "/certs.d/" in p]
    config = tomllib.loads(files["nodes/node0001/etc/containerd/config.toml"])
    assert "restrict_oom_score_adj" not in config["plugins"]["io.containerd.cri.v1.runtime"]
    kubelet = init_documents(plan)[2]
    assert "failCgroupV1" not in kubelet
    assert "evictionHard" not in kubelet
    assert "imageGCHighThresholdPercent" not in kubelet
    assert kubelet["serverTLSBootstrap"] is True
    assert [i["spec"]["acme"]["server"] for i in issuers(plan)] == [
        ACME_SERVERS["staging"],
        ACME_SERVERS["production"],
    ]


def test_host_cgroup_v1_reaches_the_kubelet_configuration() -> None:
    plan = _spec(host={"cgroup_v1": True})
    init, _cluster, kubelet, _proxy = init_documents(plan)
    assert kubelet["kind"] == "KubeletConfiguration"
    assert kubelet["failCgroupV1"] is False
    # Found on the lab's real nodes: kubeadm init stops at its SystemVerification preflight
    # ("cgroups v1 support is deprecated ... You must also explicitly skip this validation")
    # even with failCgroupV1: false, and kubeadm join the same.
    assert init["nodeRegistration"]["ignorePreflightErrors"] == ["SystemVerification"]
    for node in plan.nodes:
        join = join_document(plan, node)
        assert join["nodeRegistration"]["ignorePreflightErrors"] == ["SystemVerification"]
    plain = _spec()
    assert "ignorePreflightErrors" not in init_documents(plain)[0]["nodeRegistration"]


def test_acme_directories_replace_lets_encrypt_with_their_ca(
    golden_plan: Callable[[str], Plan],
) -> None:
    plan = golden_plan("mirrors-lab")
    lab = plan.mirrors.acme
    assert lab.staging is not None
    assert lab.production is not None
    staging, production = issuers(plan)
    assert staging["spec"]["acme"]["server"] == lab.staging.url
    assert production["spec"]["acme"]["server"] == lab.production.url
    assert base64.b64decode(staging["spec"]["acme"]["caBundle"]).decode() == lab.staging.ca
    text = _files(plan)["cluster/cert-manager/issuers.yaml"]
    assert f"letsencrypt-staging uses {lab.staging.url}" in text
    assert len(list(yaml.safe_load_all(text))) == 2


def test_toml_strings_refuse_what_is_not_printable_ascii() -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        containerd._toml_string("a\nb")
