"""Host checks report `kube6.results.Finding` (here under its historical name CheckResult);
the artifact hosts are handed to them as data (ArtifactHost)."""

from __future__ import annotations

from dataclasses import dataclass

from kube6.modes import Grade
from kube6.results import Finding, fail, ok, warn

__all__ = ["ArtifactHost", "CheckResult", "Status", "fail", "ok", "warn"]

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
