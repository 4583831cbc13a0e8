"""What tests/k8s/build.sh obtained from upstream, and installing its CRDs the way `kube6 up` does.

Shared by the tier's tests through the session fixtures `upstream` and `installed`
(tests/k8s/conftest.py): the CRDs are installed once per session on the shared control plane.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import load_in_cluster_generic_resources
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from kube6 import versions
from tests.conftest import k8s_cache
from tests.k8s.controlplane import ControlPlane

ESTABLISHED_TIMEOUT = 60.0


@dataclass(frozen=True)
class Chart:
    """An upstream chart as `kube6 up` installs it: release, namespace, kube6's values file."""

    name: str
    """Name of the chart in build.sh's cache (charts/<name>-<version>)."""
    component: str
    """Name of the pin in kube6.versions and in the manifest's `unavailable` list."""
    pin: str
    release: str
    namespace: str
    values: str
    sets: tuple[str, ...] = ()


CHARTS = {
    "tigera-operator": Chart(
        "tigera-operator",
        "calico",
        versions.CALICO.version,
        "calico",
        "tigera-operator",
        "cluster/calico/values.yaml",
    ),
    "cert-manager": Chart(
        "cert-manager",
        "cert-manager",
        versions.CERT_MANAGER.version,
        "cert-manager",
        "cert-manager",
        "cluster/cert-manager/values.yaml",
        ("crds.enabled=true",),  # as kube6 up installs it
    ),
    "gateway-helm": Chart(
        "gateway-helm",
        "envoy-gateway",
        versions.ENVOY_GATEWAY.version,
        "envoy-gateway",
        "envoy-gateway-system",
        "cluster/gateway/values.yaml",
    ),
    "headlamp": Chart(
        "headlamp",
        "headlamp",
        versions.HEADLAMP.version,
        "headlamp",
        "headlamp",
        "cluster/dashboard/values.yaml",
    ),
}

PINS = {
    "gateway-api": versions.GATEWAY_API.version,
    "cert-manager": versions.CERT_MANAGER.version,
    "envoy-gateway": versions.ENVOY_GATEWAY.version,
    "calico": versions.CALICO.version,
    "calico-v3": versions.CALICO.version,
    "tigera-operator": versions.CALICO.version,
    "crd.projectcalico.org.v1": versions.CALICO.version,
    "projectcalico.org.v3": versions.CALICO.version,
    "gateway-helm": versions.ENVOY_GATEWAY.version,
    "headlamp": versions.HEADLAMP.version,
}

SAME_SOURCE = {
    "calico-v3": "calico",
    "crd.projectcalico.org.v1": "calico",
    "projectcalico.org.v3": "calico",
    "tigera-operator": "calico",
}
"""Components that come with another one (build.sh records only that one as unavailable)."""


# ---- what build.sh obtained ------------------------------------------------------------------


@dataclass(frozen=True)
class Upstream:
    cache: Path
    manifest: dict[str, Any]

    def find(self, kind: str, name: str) -> tuple[Path, str] | None:
        """(directory, version) of a CRD set or chart in the cache, the pinned one first."""
        found = [a for a in self.manifest["artifacts"] if a["kind"] == kind and a["name"] == name]
        found.sort(key=lambda a: a["version"] != PINS.get(name))
        if not found:
            return None
        return self.cache / found[0]["path"], str(found[0]["version"])

    def stand_in(self, kind: str, name: str) -> str | None:
        """For an artifact taken from the release branch of the pin's minor version instead of
        the pinned tag (the upstream snapshot has no newer one): what it is, e.g. "Calico
        release-v3.33 (2026-08-21)". None when the cache has the pin itself (or nothing)."""
        found = [a for a in self.manifest["artifacts"] if a["kind"] == kind and a["name"] == name]
        if not found or found[0]["version"] == PINS.get(name):
            return None
        origin = found[0].get("origin", {})
        pin = PINS.get(name, "")
        minor = ".".join(pin.split(".")[:2])
        if not origin.get("copied_from") or origin.get("ref") != f"release-{minor}":
            return None
        project = str(origin["repository"]).rsplit("/", 1)[-1].capitalize()
        return f"{project} {origin['ref']} ({origin['date']})"

    def accepted(self, kind: str, name: str) -> tuple[Path, str, str]:
        """(directory, version, note) of the pinned artifact or of its same-minor stand-in; the
        note says which it is ("verified against Calico release-v3.33 (2026-08-21)")."""
        found = self.find(kind, name)
        if found is None:
            pytest.fail(f"{kind} {name}: " + self.missing(name))
        directory, version = found
        if version == PINS.get(name):
            return directory, version, f"verified against {name} {version}"
        stand_in = self.stand_in(kind, name)
        if stand_in is None:
            pytest.fail(f"{kind} {name}: the cache has {version}, not the pin {PINS.get(name)}")
        return directory, version, f"verified against {stand_in}"

    def unobtainable(self, name: str) -> bool:
        """build.sh recorded that the pinned version cannot be obtained here (with a reason)."""
        name = SAME_SOURCE.get(name, name)
        return any(u["name"] == name for u in self.manifest.get("unavailable", []))

    def missing(self, name: str) -> str:
        source = SAME_SOURCE.get(name, name)
        why = [u for u in self.manifest.get("unavailable", []) if u["name"] == source]
        reason = f": {why[0]['reason']}" if why else ""
        return (
            f"{name} {PINS.get(name, '')} is not in {self.cache} (tests/k8s/build.sh could not "
            f"obtain it{reason})"
        )


def load_upstream() -> Upstream:
    cache = k8s_cache()
    path = cache / "manifest.json"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: run `bash tests/k8s/build.sh` (it fetches the upstream CRDs "
            "and charts), or set KUBE6_SKIP_K8S=1 to skip this tier on purpose"
        )
    return Upstream(cache, json.loads(path.read_text()))


# ---- installing CRDs -------------------------------------------------------------------------


def _documents(paths: list[Path]) -> list[Any]:
    objects: list[Any] = []
    for path in sorted(paths):
        objects.extend(codecs.load_all_yaml(path.read_text()))
    return objects


def _crd_name(obj: Any) -> str:
    return str(obj.metadata.name)


def _wait_established(client: Client, names: list[str]) -> None:
    deadline = time.monotonic() + ESTABLISHED_TIMEOUT
    for name in names:
        while True:
            crd = client.get(CustomResourceDefinition, name)
            conditions = crd.status.conditions if crd.status else None
            if any(c.type == "Established" and c.status == "True" for c in conditions or []):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"CRD {name} not Established after {ESTABLISHED_TIMEOUT:.0f}s")
            time.sleep(0.2)


@dataclass(frozen=True)
class Installed:
    client: Client
    """Writes with fieldValidation=Strict."""
    crds: dict[str, str]
    """Component -> version of the CRDs that were installed."""

    notes: dict[str, str]
    """Component -> "verified against ..." for CRDs that are a stand-in for the pin."""

    def caveat(self) -> str:
        """A note on every CRD set that is not the pinned version (a fallback of build.sh)."""
        return "".join(
            f"\nNOTE: the {name} CRDs are {version}, NOT the pin {PINS[name]}"
            for name, version in self.crds.items()
            if version != PINS[name] and name not in self.notes
        )


def install_crds(k8s_control_plane: ControlPlane, upstream: Upstream) -> Installed:
    """The upstream CRDs, applied in `kube6 up`'s order; the versions that were used."""
    admin = k8s_control_plane.client(field_manager="kube6")
    crds: dict[str, str] = {}

    # Everything is created first and waited for once: the API server then works on all the
    # CRDs together, which is much faster on a busy machine than one component at a time.
    started = time.monotonic()
    names: list[str] = []
    notes: dict[str, str] = {}
    # calico: Calico's CRD chart (crd.projectcalico.org, operator.tigera.io), as
    # `network/calico-crds` installs it. calico-v3: projectcalico.org/v3 as CRDs, standing in for
    # the Calico API server that serves this group in a cluster (it runs as pods; none run here):
    # the same Go types, generated into these schemas by Calico's own build.
    for component in ("gateway-api", "envoy-gateway", "cert-manager", "calico", "calico-v3"):
        found = upstream.find("crd", component)
        if found is None:
            continue
        directory, version = found
        stand_in = upstream.stand_in("crd", component)
        if stand_in:
            notes[component] = f"verified against {stand_in}"
        # Envoy Gateway: its own CRDs (generated/); the Gateway API ones come from gateway-api.
        root = directory / "generated" if component == "envoy-gateway" else directory
        files = root.rglob("*.yaml") if component == "calico" else root.glob("*.yaml")
        for obj in _documents(list(files)):
            if getattr(obj, "kind", None) == "CustomResourceDefinition":
                names.append(_crd_name(obj))
            try:
                # create, not apply: server-side apply of CRDs this size costs seconds each.
                admin.create(obj)
            except ApiError as exc:
                if exc.status.code != 409:
                    raise
                admin.apply(obj, force=True)
        crds[component] = version
    _wait_established(admin, names)
    print(f"{len(names)} CRDs established in {time.monotonic() - started:.1f}s")
    # Custom resources can be decoded only once their CRDs are known to lightkube.
    load_in_cluster_generic_resources(admin)
    return Installed(k8s_control_plane.client(field_manager="kube6", strict=True), crds, notes)
