"""Host checks report `kube6.results.Finding` (here under its historical name CheckResult);
the artifact hosts are handed to them as data (ArtifactHost)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from kube6.modes import Grade
from kube6.results import Finding, fail, ok, warn

__all__ = [
    "ARTIFACT_KINDS",
    "ArtifactHost",
    "CheckResult",
    "Status",
    "UpstreamArtifact",
    "fail",
    "ok",
    "warn",
]

Status = Grade
CheckResult = Finding


@dataclass(frozen=True)
class ArtifactHost:
    """One host that `kube6 up` downloads from, with the reason; `kube6 check` resolves it.
    The components name them, kube6.components.registry.artifact_hosts assembles them."""

    name: str
    reason: str
    port: int = 443
    """The TCP port `check` connects to (a mirror may serve on another)."""
    mirror_for: tuple[str, ...] = ()
    """The upstream hosts this mirror stands in for (empty: an upstream host)."""


ARTIFACT_KINDS = ("image", "chart", "apt", "download")


@dataclass(frozen=True)
class UpstreamArtifact:
    """One image, chart, package repository or download that `kube6 up` fetches for the plan.
    A component declares it (kind, ref, origin); kube6.components.registry.artifacts stamps
    the component and the mirror that serves it, and `kube6 check` judges it per node."""

    kind: str
    """One of ARTIFACT_KINDS."""
    ref: str
    """As kube6 uses it: an image reference, a chart (name, or an `oci://` reference), an apt
    repository URL, a download URL."""
    origin: str
    """Where the reference comes from (a pin of kube6.versions, a rendered value, an upstream
    default), so a reader can tell a pin from a derived name."""
    version: str = ""
    """A chart's version (images and URLs carry theirs in `ref`)."""
    source: str = ""
    """A chart's repository URL (empty for `oci://`), or an apt repository's `mirrors.apt` key."""
    component: str = ""
    mirror: str = ""
    """The mirror URL that serves it in this plan (kube6.yaml `mirrors`); empty: upstream."""
    fix: str = ""
    """The kube6.yaml `mirrors` snippet that would serve it from a mirror."""

    @property
    def upstream_host(self) -> str:
        """The host the nodes contact for it without a mirror (Docker Hub's registry API for a
        docker.io image)."""
        if self.kind == "image":
            host = self.registry
            return "registry-1.docker.io" if host == "docker.io" else host
        where = self.source if self.kind == "chart" and self.source else self.ref
        return urlsplit(where).hostname or where

    @property
    def registry(self) -> str:
        """An image's registry (`docker.io` for a name without one); empty for the rest."""
        if self.kind != "image":
            return ""
        first = self.ref.split("/", 1)[0]
        has_registry = "/" in self.ref and ("." in first or ":" in first or first == "localhost")
        return first if has_registry else "docker.io"

    @property
    def shown(self) -> str:
        version = f" {self.version}" if self.version else ""
        repo = f" (repository {self.source})" if self.kind == "chart" and self.source else ""
        return f"{self.ref}{version}{repo}"
