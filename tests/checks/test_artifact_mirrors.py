"""`kube6 check` with mirrors: each artifact source natively, through NAT64, through a mirror,
or not at all; an upstream host is dropped only when every use of it is mirrored."""

from __future__ import annotations

from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

from kube6 import spec
from kube6.checks import CheckResult, Status, run_checks
from kube6.components.registry import artifact_hosts
from kube6.facts import Lookup
from kube6.plan import make_plan
from kube6.plan.model import Plan

from .test_checks import PLAN, healthy


def results(facts: Any, plan: Plan) -> dict[str, CheckResult]:
    """Every check of `plan`'s first node with `facts` and the plan's own artifact hosts."""
    node = plan.nodes[0].name
    return {r.name: r for r in run_checks(plan, {node: facts}, hosts=artifact_hosts(plan))}


LAB = Path(__file__).resolve().parents[1] / "golden" / "mirrors-lab" / "kube6.yaml"
MIRROR = IPv6Address("2001:db8:ffff::10")


def lab(**changes: Any) -> Plan:
    data = spec.load(LAB).model_dump(mode="json")
    data["mirrors"].update(changes)
    return make_plan(spec.from_data(data))


def test_a_fully_mirrored_plan_needs_only_its_mirrors() -> None:
    hosts = {h.name: h for h in artifact_hosts(lab())}
    assert set(hosts) == {"2001:db8:ffff::10", "2001:db8:ffff::20", "2001:db8:ffff::21"}
    mirror = hosts["2001:db8:ffff::10"]
    assert mirror.port == 8080  # the first use (the apt repository) decides the tested port
    for upstream in ("registry.k8s.io", "pkgs.k8s.io", "get.helm.sh", "github.com", "ghcr.io"):
        assert upstream in mirror.mirror_for
    assert hosts["2001:db8:ffff::20"].port == 14000
    assert hosts["2001:db8:ffff::20"].mirror_for == ("letsencrypt staging",)


def test_an_upstream_host_with_an_unmirrored_use_stays() -> None:
    # quay.io serves images (mirrored) and cert-manager's chart (now not mirrored)
    charts = [c for c in spec.load(LAB).model_dump(mode="json")["mirrors"]["charts"]]
    hosts = {
        h.name
        for h in artifact_hosts(lab(charts=[c for c in charts if "quay" not in c["upstream"]]))
    }
    assert "quay.io" in hosts
    assert "registry.k8s.io" not in hosts
    # without mirrors, nothing changes
    plain = {h.name for h in artifact_hosts(PLAN)}
    assert {"registry.k8s.io", "quay.io", "ghcr.io", "get.helm.sh"} <= plain


def _lookups(plan: Plan, *, connect: bool) -> tuple[Lookup, ...]:
    return tuple(
        Lookup(h.name, ipv6=(IPv6Address(h.name),), connect=connect, connect_detail="refused")
        for h in artifact_hosts(plan)
    )


def test_check_reports_the_sources_through_mirrors() -> None:
    plan = lab()
    result = results(healthy(lookups=_lookups(plan, connect=True)), plan)[
        "artifact-hosts-reachable"
    ]
    assert result.status is Status.OK, result.message
    assert "through mirrors:" in result.message
    assert "registry.k8s.io" in result.message
    assert "2001:db8:ffff::10 port 8080 (mirror of pkgs.k8s.io" in result.evidence


def test_an_unreachable_mirror_fails_naming_it() -> None:
    plan = lab()
    result = results(healthy(lookups=_lookups(plan, connect=False)), plan)[
        "artifact-hosts-reachable"
    ]
    assert result.status is Status.FAIL
    assert "IPv6, NAT64 or a mirror" in result.message
    assert "the mirror(s) 2001:db8:ffff::10" in result.fix


def test_cgroup_v1_is_a_warning_when_the_spec_allows_it() -> None:
    allowed = results(healthy(cgroup=1), lab())["cgroup-v2"]
    assert allowed.status is Status.WARN
    assert "host.cgroup_v1" in allowed.message
    refused = results(healthy(cgroup=1), PLAN)["cgroup-v2"]
    assert refused.status is Status.FAIL
    assert "host.cgroup_v1: true" in refused.fix
