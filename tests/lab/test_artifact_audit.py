"""`kube6 check`'s artifact audit against a lab node: the lab's unbound (with DNS64) serves the
real artifact hosts' names the way the test sets them, tayga does NAT64, and each artifact gets
the verdict its host earns: over IPv6, only through NAT64, through a mirror, or unreachable."""

from __future__ import annotations

import pytest

from kube6 import spec
from kube6.checks.artifacts import DOCKER_HUB_LIMIT, NAT64_ONLY, ArtifactVerdict
from kube6.components.registry import artifacts
from kube6.execute import Executor
from kube6.lab import INTERNET_HOST, IPV4_HOST, Lab
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.usecases.check import CheckRequest, check

pytestmark = pytest.mark.lab

MIRROR = f"http://[{INTERNET_HOST}]:5000"
IPV4_ONLY = {"ghcr.io", "github.com"}
"""Served IPv4-only, as the real ones are (no AAAA): reachable only through DNS64 and NAT64."""
MISSING = "get.helm.sh"
"""Left out of the lab's DNS: unreachable."""


def quay_mirrored() -> Plan:
    data = spec.example().model_dump(mode="json")
    data["mirrors"] = {"registries": [{"registry": "quay.io", "endpoints": [{"url": MIRROR}]}]}
    return make_plan(spec.from_data(data))


def records(plan: Plan) -> dict[str, tuple[str]]:
    hosts = {a.upstream_host for a in artifacts(plan) if not a.mirror} - {MISSING}
    return {h: (str(IPV4_HOST) if h in IPV4_ONLY else str(INTERNET_HOST),) for h in hosts}


@pytest.fixture(scope="module")
def audit(lab_env: None) -> list[ArtifactVerdict]:
    plan = quay_mirrored()
    with Lab(plan, records=records(plan)) as lab:
        executors: dict[str, Executor] = {"node0001": lab.executor("node0001")}
        # Resolution only: the verdicts' paths are the addresses; connecting through NAT64 is
        # proven by tests/lab/test_checks.py with the lab's own names.
        report = check(plan, CheckRequest(connect=False), executors=executors)
    return report.artifacts


def test_every_artifact_is_judged_once_on_the_node(audit: list[ArtifactVerdict]) -> None:
    listed = artifacts(quay_mirrored())
    assert [v.artifact for v in audit] == list(listed)
    assert {v.node for v in audit} == {"node0001"}
    assert {v.verdict for v in audit} == {"ipv6", "nat64", "mirror", "unreachable"}


def test_native_ipv6_hosts(audit: list[ArtifactVerdict]) -> None:
    native = [v for v in audit if v.artifact.upstream_host == "registry.k8s.io"]
    assert native
    assert all(v.verdict == "ipv6" for v in native), native
    assert all(str(INTERNET_HOST) in v.detail and not v.fix for v in native)


def test_ipv4_only_hosts_only_through_nat64(audit: list[ArtifactVerdict]) -> None:
    through = [v for v in audit if v.artifact.upstream_host in IPV4_ONLY]
    assert {v.artifact.upstream_host for v in through} == IPV4_ONLY  # Headlamp, Gateway API
    for v in through:
        assert v.verdict == "nat64", v
        assert "2001:db8:64::" in v.detail  # synthesized by the lab's DNS64 in its prefix
        assert NAT64_ONLY in v.notes
    headlamp = next(v for v in through if v.artifact.registry == "ghcr.io")
    assert "mirrors:\n  registries:\n    - registry: ghcr.io\n" in headlamp.fix


def test_mirrored_registry(audit: list[ArtifactVerdict]) -> None:
    quay = [v for v in audit if v.artifact.registry == "quay.io"]
    assert quay
    assert all(v.verdict == "mirror" for v in quay), quay
    assert all(v.host == str(INTERNET_HOST) and v.artifact.mirror == MIRROR for v in quay)


def test_unreachable_download_names_the_mirror_setting(audit: list[ArtifactVerdict]) -> None:
    (helm,) = [v for v in audit if v.artifact.upstream_host == MISSING]
    assert helm.verdict == "unreachable"
    assert f"mirrors:\n  downloads:\n    - upstream: https://{MISSING}/\n" in helm.fix
    assert "DNS64 and NAT64" in helm.fix


def test_docker_hub_images_name_the_shared_pull_limit(audit: list[ArtifactVerdict]) -> None:
    docker = [v for v in audit if v.artifact.registry == "docker.io"]
    assert docker
    assert all(v.verdict == "ipv6" for v in docker)
    assert all(DOCKER_HUB_LIMIT in v.notes and "- registry: docker.io" in v.fix for v in docker)
