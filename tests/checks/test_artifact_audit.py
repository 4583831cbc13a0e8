"""The artifact audit of `kube6 check`: every image, chart, apt repository and download of the
plan, declared by its component, with the mirrors applied, judged per node from its lookups."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

import pytest

from kube6 import spec, yamlio
from kube6.checks.artifacts import DOCKER_HUB_LIMIT, NAT64_ONLY, audit_artifacts, judge_artifact
from kube6.checks.model import ARTIFACT_KINDS, UpstreamArtifact
from kube6.components import registry
from kube6.components.registry import COMPONENTS, artifacts
from kube6.facts import Lookup
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.versions import CALICO, CERT_MANAGER, HEADLAMP, KUBERNETES_PATCHES

from .test_checks import PLAN, healthy

LAB = Path(__file__).resolve().parents[1] / "golden" / "mirrors-lab" / "kube6.yaml"
NAT64 = (IPv6Network("64:ff9b::/96"),)


def plan_of(**changes: Any) -> Plan:
    data = spec.example().model_dump(mode="json")
    data.update(changes)
    return make_plan(spec.from_data(data))


def by_ref(plan: Plan) -> dict[str, UpstreamArtifact]:
    return {a.ref: a for a in artifacts(plan)}


def test_every_component_that_downloads_declares_its_artifacts_on_its_own_hosts() -> None:
    for plan in (PLAN, make_plan(spec.load(LAB))):
        listed = artifacts(plan)
        assert {a.kind for a in listed} == set(ARTIFACT_KINDS)
        for component in COMPONENTS:
            own = [a for a in listed if a.component == component.name]
            hosts = {h.name for h in component.hosts(plan)}
            assert bool(own) == bool(hosts), component.name
            for a in own:  # each artifact comes from a host its component names
                assert a.upstream_host in hosts or a.registry in hosts, (component.name, a)
                assert a.origin


def test_the_references_follow_the_pins_and_the_plan() -> None:
    older = plan_of(cluster={"name": "c1", "kubernetes": "1.36"})
    refs = by_ref(older)
    patch = KUBERNETES_PATCHES["1.36"]
    assert f"registry.k8s.io/kube-apiserver:{patch}" in refs
    assert "https://pkgs.k8s.io/core:/stable:/v1.36/deb/" in refs
    assert refs[f"quay.io/calico/node:{CALICO.version}"].component == "calico"
    assert f"quay.io/jetstack/cert-manager-webhook:{CERT_MANAGER.version}" in refs
    assert f"ghcr.io/headlamp-k8s/headlamp:v{HEADLAMP.version}" in refs
    charts = {a.ref: a for a in artifacts(PLAN) if a.kind == "chart"}
    assert charts["headlamp"].version == HEADLAMP.version
    assert charts["headlamp"].upstream_host == "kubernetes-sigs.github.io"


def test_add_ons_that_are_off_download_nothing_and_envoy_replaces_traefik() -> None:
    bare = plan_of(addons={"gateway": {"enabled": False}, "dashboard": {"enabled": False}})
    components = {a.component for a in artifacts(bare)}
    assert not {"gateway", "dashboard"} & components
    assert not any(a.registry == "ghcr.io" for a in artifacts(bare))
    envoy = plan_of(addons={"gateway": {"controller": "envoy-gateway"}})
    gateway = [a for a in artifacts(envoy) if a.component == "gateway"]
    assert any(a.ref.startswith("oci://docker.io/envoyproxy/") for a in gateway)
    assert not any("traefik" in a.ref for a in gateway)


def test_the_mirrors_of_the_spec_serve_the_artifacts_they_cover() -> None:
    plan = make_plan(spec.load(LAB))
    mirrored_registries = {m.registry: m.endpoints[0].url for m in plan.mirrors.registries}
    for a in artifacts(plan):
        if a.kind == "image":
            assert a.mirror == mirrored_registries.get(a.registry, ""), a
        elif a.kind in ("chart", "apt"):
            assert a.mirror.startswith(("oci://[2001:db8:ffff::10]", "http://[2001:db8:ffff::10]"))
    for a in (a for a in artifacts(plan) if a.kind == "download"):
        covering = [d for d in plan.mirrors.downloads if a.ref.startswith(d.upstream)]
        assert bool(a.mirror) == bool(covering), a
        assert a.mirror.endswith(a.ref.rsplit("/", 1)[-1])
    assert all(not a.mirror for a in artifacts(PLAN))


def test_each_suggested_mirror_setting_is_valid_and_mirrors_its_artifact() -> None:
    """The fix, pasted into kube6.yaml, makes the artifact come from the mirror."""
    base = spec.example().model_dump(mode="json")
    for a in artifacts(PLAN):
        snippet = yamlio.load_user_yaml(a.fix, source=a.ref)
        assert set(snippet) == {"mirrors"}, a.fix
        fixed = make_plan(spec.from_data({**base, "mirrors": snippet["mirrors"]}))
        after = {(b.kind, b.ref): b for b in artifacts(fixed)}[(a.kind, a.ref)]
        assert after.mirror.startswith(("https://mirror.example.net", "oci://mirror.example.net"))


def lookup(name: str, *addresses: str) -> Lookup:
    v6 = tuple(IPv6Address(x) for x in addresses if ":" in x)
    v4 = tuple(IPv4Address(x) for x in addresses if ":" not in x)
    return Lookup(name, ipv6=v6, ipv4=v4, connect=True if v6 else None)


def test_verdicts_native_nat64_mirrored_unreachable() -> None:
    refs = by_ref(PLAN)
    quay = refs[f"quay.io/calico/node:{CALICO.version}"]
    ghcr = refs[f"ghcr.io/headlamp-k8s/headlamp:v{HEADLAMP.version}"]
    native = judge_artifact(quay, lookup("quay.io", "2001:db8:ffff::10"), NAT64, "n1")
    assert (native.verdict, native.fix, native.notes) == ("ipv6", "", ())
    synthesized = judge_artifact(ghcr, lookup("ghcr.io", "64:ff9b::c633:640a"), NAT64, "n1")
    assert synthesized.verdict == "nat64"
    assert synthesized.notes == (NAT64_ONLY,)
    assert "- registry: ghcr.io" in synthesized.fix  # how to stop depending on NAT64
    unreachable = judge_artifact(ghcr, lookup("ghcr.io", "198.51.100.10"), NAT64, "n1")
    assert unreachable.verdict == "unreachable"
    assert "IPv4 only (198.51.100.10)" in unreachable.detail
    assert "registries:\n    - registry: ghcr.io\n" in unreachable.fix
    assert "DNS64 and NAT64" in unreachable.fix
    mirrored = replace(ghcr, mirror="http://[2001:db8:ffff::10]:5000")
    through = judge_artifact(
        mirrored, lookup("2001:db8:ffff::10", "2001:db8:ffff::10"), NAT64, "n1"
    )
    assert (through.verdict, through.host) == ("mirror", "2001:db8:ffff::10")
    gone = judge_artifact(mirrored, None, NAT64, "n1")
    assert gone.verdict == "unreachable"
    assert "the mirror http://[2001:db8:ffff::10]:5000" in gone.fix


def test_unmirrored_docker_hub_images_name_the_shared_pull_limit() -> None:
    busybox = next(a for a in artifacts(PLAN) if a.component == "verify")
    assert busybox.upstream_host == "registry-1.docker.io"
    found = judge_artifact(busybox, lookup("registry-1.docker.io", "2001:db8::1"), NAT64, "n1")
    assert found.verdict == "ipv6"
    assert DOCKER_HUB_LIMIT in found.notes
    assert "- registry: docker.io" in found.fix
    mirrored = replace(busybox, mirror="http://[2001:db8:ffff::10]:5000")
    through = judge_artifact(
        mirrored, lookup("2001:db8:ffff::10", "2001:db8:ffff::10"), NAT64, "n1"
    )
    assert through.notes == ()


def test_the_audit_judges_each_node_whose_facts_were_read() -> None:
    listed = artifacts(PLAN)
    facts = healthy(lookups=())
    verdicts = audit_artifacts(PLAN, {"node0001": facts}, listed)
    assert [v.artifact for v in verdicts] == list(listed)
    assert {v.verdict for v in verdicts} == {"unreachable"}  # nothing was looked up
    assert all(v.detail == "not looked up" for v in verdicts)
    assert audit_artifacts(PLAN, {"node0001": OSError("no route")}, listed) == []
    document = verdicts[0].to_json()
    assert document["ref"] == listed[0].ref
    assert {"node", "component", "kind", "host", "verdict", "fix", "origin"} <= set(document)


@pytest.mark.parametrize("name", [c.name for c in registry.COMPONENTS])
def test_no_component_lists_an_artifact_twice(name: str) -> None:
    own = [(a.kind, a.ref) for a in artifacts(PLAN) if a.component == name]
    assert len(own) == len(set(own))
