"""Rendered Kubernetes manifests and upstream charts with kube6's values pass the real API server.

On the session's IPv6-only control plane, the upstream CRDs that tests/k8s/build.sh obtained
(Gateway API, Envoy Gateway, cert-manager, Calico) are installed the way `kube6 up` installs
them, then:

- every rendered manifest under `cluster/` of every golden scenario (Calico resources, network
  policies, ClusterIssuers, Gateway API objects, RBAC, dashboard objects, the CoreDNS ConfigMap)
  passes a server-side apply with dryRun=All and fieldValidation=Strict;
- `helm template` of each upstream chart with kube6's rendered values succeeds, and its output
  passes the same dry-run.

What build.sh could not obtain at the pinned version fails here by name (see
`test_every_pinned_upstream_artifact_was_obtained`), never silently.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError, LoadResourceError
from lightkube.core.resource import NamespacedResource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from kube6 import spec, versions
from kube6.components.calico.policies import policies as kube6_policies
from kube6.components.calico.render import installation as calico_installation
from kube6.components.registry import render_all
from kube6.plan import make_plan
from kube6.render.base import Artifact
from tests.conftest import judged_against, k8s_binary, unverified
from tests.k8s.upstream import CHARTS, PINS, Chart, Installed, Upstream

pytestmark = pytest.mark.k8s

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SCENARIOS = sorted(d.name for d in GOLDEN.iterdir() if (d / "kube6.yaml").is_file())


def _decode(text: str) -> tuple[list[Any], list[str]]:
    """The objects of a YAML stream, and one line for each whose kind the server does not know
    (decoding needs the kind's CRD installed)."""
    objects, unknown = [], []
    for raw in yaml.safe_load_all(text):
        if raw is None:
            continue
        try:
            objects.append(codecs.from_dict(raw))
        except LoadResourceError:
            unknown.append(
                f"{raw.get('kind')} {raw.get('metadata', {}).get('name')}: the API server has "
                f"no kind {raw.get('kind')} in {raw.get('apiVersion')} (no such CRD installed)"
            )
    return objects, unknown


def _ensure_namespace(client: Client, name: str) -> None:
    try:
        client.create(Namespace(metadata=ObjectMeta(name=name)))
    except ApiError as exc:
        if exc.status.code != 409:
            raise


def _dry_run_apply(client: Client, objects: list[Any], default_namespace: str) -> list[str]:
    """Server-side apply every object with dryRun=All; the refusals, one line each."""
    _ensure_namespace(client, default_namespace)
    for obj in objects:
        if obj.kind == "Namespace":
            _ensure_namespace(client, obj.metadata.name)
        elif obj.metadata.namespace:
            _ensure_namespace(client, obj.metadata.namespace)
    refusals = []
    for obj in objects:
        namespace = None
        try:
            if isinstance(obj, NamespacedResource) and not obj.metadata.namespace:  # type: ignore[attr-defined]
                # What `helm install -n NAMESPACE` does with objects that name no namespace.
                obj.metadata.namespace = default_namespace  # type: ignore[attr-defined]
            namespace = obj.metadata.namespace
            client.apply(obj, force=True, dry_run=True)
        except ApiError as exc:
            refusals.append(
                f"{obj.kind} {namespace or ''}/{obj.metadata.name}: {exc.status.message}"
            )
    return refusals


def _needs(objects: list[Any], text: str = "") -> set[str]:
    """The CRD components that these objects' API groups belong to (and those of the objects
    in `text` that could not be decoded)."""
    versions_ = [str(obj.apiVersion) for obj in objects]
    versions_ += [str(d.get("apiVersion", "")) for d in yaml.safe_load_all(text) if d]
    groups = {v.split("/")[0] for v in versions_ if "/" in v}
    owners = {
        "gateway.networking.k8s.io": "gateway-api",
        "gateway.envoyproxy.io": "envoy-gateway",
        "cert-manager.io": "cert-manager",
        "acme.cert-manager.io": "cert-manager",
        "crd.projectcalico.org": "calico",
        "operator.tigera.io": "calico",
        "projectcalico.org": "calico-v3",
    }
    return {owners[g] for g in groups if g in owners}


# ---- rendered manifests ----------------------------------------------------------------------


@cache
def _scenario_artifacts(name: str) -> tuple[Artifact, ...]:
    parsed = spec.parse_text((GOLDEN / name / "kube6.yaml").read_text(), source="kube6.yaml")
    return tuple(render_all(make_plan(parsed, source="kube6.yaml")))


def _manifests(name: str) -> list[Artifact]:
    """Kubernetes objects under cluster/ (Helm values files are for charts, not the API)."""
    return [
        a
        for a in _scenario_artifacts(name)
        if a.path.startswith("cluster/")
        and a.path.endswith(".yaml")
        and not a.path.endswith("/values.yaml")
    ]


MANIFESTS = [(name, a.path) for name in SCENARIOS for a in _manifests(name)]


def test_every_scenario_renders_manifests() -> None:
    for name in SCENARIOS:
        assert [path for n, path in MANIFESTS if n == name], f"{name} renders no manifest"


@pytest.mark.parametrize(("scenario", "path"), MANIFESTS, ids=[f"{n}:{p}" for n, p in MANIFESTS])
def test_rendered_manifest_passes_a_server_side_dry_run(
    scenario: str, path: str, installed: Installed, upstream: Upstream
) -> None:
    (artifact,) = [a for a in _manifests(scenario) if a.path == path]
    objects, unknown = _decode(artifact.content)
    assert objects or unknown, f"{path} holds no object"
    needs = _needs(objects, artifact.content)
    missing = needs - set(installed.crds)
    if missing and all(upstream.unobtainable(n) for n in missing):
        unverified(f"{scenario} {path}", "; ".join(map(upstream.missing, missing)))
    assert not missing, f"{path} cannot be checked: " + "; ".join(map(upstream.missing, missing))
    refusals = unknown + _dry_run_apply(installed.client, objects, "default")
    assert not refusals, f"{scenario} {path}:\n" + "\n".join(refusals) + installed.caveat()
    for need in sorted(needs & set(installed.notes)):
        judged_against(f"{scenario} {path}", installed.notes[need])


# ---- upstream charts with kube6's values -----------------------------------------------------


def _helm_template(chart: Chart, directory: Path, values: Path, home: Path) -> str:
    helm = k8s_binary("helm")
    argv = [
        str(helm),
        "template",
        chart.release,
        str(directory),
        "--namespace",
        chart.namespace,
        "--values",
        str(values),
        "--kube-version",
        versions.KUBERNETES.version,
    ]
    for item in chart.sets:
        argv += ["--set", item]
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, f"helm template {chart.name} failed:\n{done.stderr}"
    return done.stdout


def _chart_output(
    chart: Chart, upstream: Upstream, tmp_path: Path, values_text: str | None = None
) -> tuple[list[Any], list[str], str]:
    """`helm template` of the cached chart with kube6's values (of the built-in example unless
    `values_text`): the objects, the kinds nobody serves, and which upstream it was judged by."""
    if upstream.find("chart", chart.name) is None and upstream.unobtainable(chart.component):
        unverified(f"chart {chart.name}", upstream.missing(chart.component))
    directory, version, note = upstream.accepted("chart", chart.name)
    if values_text is None:
        values_text = _rendered_values(chart.values)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(values_text)
    rendered = _helm_template(chart, directory, values_file, tmp_path / "helm")
    objects, unknown = _decode(rendered)
    assert objects, f"helm template {chart.name} {version} rendered nothing"
    return objects, unknown, note


def _rendered_values(path: str) -> str:
    """The values file at `path` as the built-in example renders it, or else as the first golden
    scenario that renders it does (Envoy Gateway's: the example's gateway is Traefik)."""
    for artifacts in (render_all(make_plan(spec.example())), *map(_scenario_artifacts, SCENARIOS)):
        found = [a.content for a in artifacts if a.path == path]
        if found:
            return found[0]
    raise AssertionError(f"no golden scenario renders {path}")


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_upstream_chart_with_kube6_values_renders_and_passes_a_dry_run(
    name: str, installed: Installed, upstream: Upstream, tmp_path: Path
) -> None:
    chart = CHARTS[name]
    objects, unknown, note = _chart_output(chart, upstream, tmp_path)
    missing = _needs(objects) - set(installed.crds)
    assert not missing, f"chart {chart.name}: " + "; ".join(map(upstream.missing, missing))
    refusals = unknown + _dry_run_apply(installed.client, objects, chart.namespace)
    assert not refusals, (
        f"{chart.name} with {chart.values} ({note}):\n" + "\n".join(refusals) + installed.caveat()
    )
    if not note.endswith(f" {chart.pin}"):
        judged_against(f"chart {chart.name} with {chart.values}", note)


def test_every_pinned_upstream_artifact_was_obtained(upstream: Upstream) -> None:
    """The CRDs and charts above are the pinned versions (or, for Calico, the release branch of
    the pinned minor version, said so by name), or this names each gap.

    Gaps that build.sh recorded as unobtainable (with its reason) are reported as UNVERIFIED;
    any other gap is a failure of the build.
    """
    known = [
        f"{u['name']} {u['pinned_version']}: {u['reason']}"
        for u in upstream.manifest.get("unavailable", [])
    ]
    gaps: list[str] = []
    for kind, name in (
        ("crd", "gateway-api"),
        ("crd", "envoy-gateway"),
        ("crd", "cert-manager"),
        ("crd", "calico"),
        ("crd", "calico-v3"),
        ("chart", "crd.projectcalico.org.v1"),
        *(("chart", c.name) for c in CHARTS.values()),
    ):
        found = upstream.find(kind, name)
        component = CHARTS[name].component if kind == "chart" and name in CHARTS else name
        if upstream.unobtainable(component):
            continue
        stand_in = upstream.stand_in(kind, name)
        if found is None:
            gaps.append(f"{kind} {name}: not in the cache")
        elif stand_in:
            judged_against(f"{kind} {name}", f"verified against {stand_in}")
        elif found[1] != PINS[name]:
            gaps.append(f"{kind} {name}: only {found[1]}, not the pin {PINS[name]}")
    assert not gaps, "upstream artifacts missing or not pinned:\n" + "\n".join(gaps)
    if known:
        unverified("pinned upstream artifacts", " | ".join(known))


def test_the_dry_run_refuses_what_the_api_server_would_not_store(installed: Installed) -> None:
    """The check itself can fail: an unknown field and a wrong type are both refusals."""
    bad = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "broken", "namespace": "default"},
        "spec": {
            "gatewayClassName": "kube6",
            "listeners": [{"name": "http", "port": "eighty", "protocol": "HTTP"}],
            "adresses": [],
        },
    }
    objects, unknown = _decode(yaml.safe_dump(bad))
    assert not unknown
    (refusal,) = _dry_run_apply(installed.client, objects, "default")
    assert "adresses" in refusal or "eighty" in refusal, refusal


# ---- Calico: the Installation the operator chart makes, and refusals ----------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_operator_chart_makes_kube6s_installation(
    scenario: str, installed: Installed, upstream: Upstream, tmp_path: Path
) -> None:
    """The tigera-operator chart turns kube6's values into the Installation `default`: its IPv6
    pools, dataplane and node address autodetection reach the API server as rendered, and the
    server (the operator.tigera.io CRD of Calico's CRD chart, strict) accepts them."""
    (values,) = [a for a in _scenario_artifacts(scenario) if a.path == "cluster/calico/values.yaml"]
    wanted = yaml.safe_load(values.content)["installation"]
    chart = CHARTS["tigera-operator"]
    objects, unknown, note = _chart_output(chart, upstream, tmp_path, values.content)
    assert not unknown, unknown
    (installation,) = [o for o in objects if o.kind == "Installation"]
    _ensure_namespace(installed.client, chart.namespace)
    stored = installed.client.apply(installation, force=True, dry_run=True)
    network = stored.to_dict()["spec"]["calicoNetwork"]
    planned = wanted["calicoNetwork"]
    # What kube6 set, as it set it (the server adds its defaults, e.g. disableBGPExport).
    kept = [
        {k: got.get(k) for k in want}
        for got, want in zip(network["ipPools"], planned["ipPools"], strict=True)
    ]
    assert kept == planned["ipPools"], (network["ipPools"], note)
    assert all(":" in pool["cidr"] for pool in network["ipPools"]), network["ipPools"]
    assert network["linuxDataplane"] == planned["linuxDataplane"] == "Nftables"
    assert network["nodeAddressAutodetectionV6"] == {"kubernetes": "NodeInternalIP"}
    assert "nodeAddressAutodetectionV4" not in network, network
    # BIRD only where a router peers (bgp routing); Felix owns the cluster routes everywhere.
    assert network["bgp"] == planned["bgp"] == ("Enabled" if "bgp" in scenario else "Disabled")
    assert network["clusterRoutingMode"] == planned["clusterRoutingMode"] == "Felix"
    assert network.get("mtu") == planned.get("mtu")
    judged_against(f"{scenario} Installation from chart {chart.name}", note)


def _refusal(installed: Installed, obj: dict[str, Any]) -> str:
    objects, unknown = _decode(yaml.safe_dump(obj))
    assert not unknown, unknown
    refusals = _dry_run_apply(installed.client, objects, "default")
    assert len(refusals) == 1, f"the API server accepted a broken {obj['kind']}: {obj}"
    return refusals[0]


def test_calico_objects_that_calico_would_refuse_are_refused(
    installed: Installed, upstream: Upstream
) -> None:
    """The Calico checks above can fail: kube6's own objects, each broken in one value, are
    refused by the real Calico schemas (projectcalico.org/v3 and operator.tigera.io)."""
    if "calico" not in installed.crds:
        unverified("Calico refusals", upstream.missing("calico"))
    plan = make_plan(spec.example())
    tier, *policies = kube6_policies(plan)
    tier["spec"]["defaultAction"] = "Passs"
    assert "Passs" in _refusal(installed, tier)
    policy = policies[-1]
    policy["spec"]["ingress"][0]["action"] = "Reject"
    assert "Reject" in _refusal(installed, policy)
    installation: dict[str, Any] = {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default"},
        "spec": calico_installation(plan),
    }
    installation["spec"]["calicoNetwork"]["linuxDataplane"] = "Nftable"
    assert "Nftable" in _refusal(installed, installation)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_load_balancer_pool_passes_calicos_own_ippool_rules(
    scenario: str, installed: Installed, upstream: Upstream
) -> None:
    """The LoadBalancer pool as the Calico API server stores it (crd.projectcalico.org/v1, the
    same spec) passes the IPPool CRD's validation rules (CEL: LoadBalancer alone, nodeSelector
    all(), no encapsulation, BGP export on); the same pool pinned to nodes is refused, so the
    rules are in force here. (The v3 object itself passes the generic dry-run above.)"""
    if "calico" not in installed.crds:
        unverified("Calico IPPool rules", upstream.missing("calico"))
    (pool,) = [
        a
        for a in _scenario_artifacts(scenario)
        if a.path == "cluster/calico-load-balancers/pool.yaml"
    ]
    by_kind = {d["kind"]: d for d in yaml.safe_load_all(pool.content)}
    # The gateway's address, reserved from Calico's automatic picks: Calico's own schema too.
    reservation = by_kind.pop("IPReservation")
    reservation["apiVersion"] = "crd.projectcalico.org/v1"
    objects, unknown = _decode(yaml.safe_dump(reservation))
    assert not unknown, unknown
    assert _dry_run_apply(installed.client, objects, "default") == []
    (stored,) = by_kind.values()
    assert stored["spec"]["allowedUses"] == ["LoadBalancer"]
    stored["apiVersion"] = "crd.projectcalico.org/v1"
    objects, unknown = _decode(yaml.safe_dump(stored))
    assert not unknown, unknown
    assert _dry_run_apply(installed.client, objects, "default") == []
    stored["spec"]["nodeSelector"] = 'kube6.io/pool == "x"'
    assert "nodeSelector" in _refusal(installed, stored)
    stand_in = upstream.stand_in("crd", "calico")
    if stand_in:
        judged_against(f"{scenario} LoadBalancer IPPool", f"verified against {stand_in}")
