"""What a component contributes, as one record the registry assembles (`Component`).

A component (containerd, Calico, the gateway, ...) owns its constants, its renderers, its `up`
and `reset` steps, the hosts its artifacts come from (what `kube6 check` resolves) and its
object checks for `kube6 verify`. The toolkits it builds on stay where they were: `render.base`
(Artifact, header), `steps.base`/`steps.cluster` (Step, helm and manifest steps), `verify.result`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kube6.checks.model import ArtifactHost, UpstreamArtifact
from kube6.plan.model import Plan
from kube6.render.base import Renderer

__all__ = [
    "ArtifactHost",
    "Component",
    "ObjectCheck",
    "UpstreamArtifact",
    "Use",
    "host_port",
    "no_hosts",
    "no_uses",
]

if TYPE_CHECKING:
    from kube6.results import Finding
    from kube6.steps.base import Step
    from kube6.verify.objects import ClusterObjects, CustomKind

Use = tuple[str, str]
"""How an upstream host is used, for mirrors: ("registry", name), ("apt", repo), ("download",
URL prefix) or ("chart", repository URL or OCI reference). A host is mirrored when every use is."""


def no_hosts(plan: Plan) -> Sequence[ArtifactHost]:
    return ()


def no_uses(plan: Plan) -> Sequence[tuple[str, Use]]:
    return ()


def no_artifacts(plan: Plan) -> Sequence[UpstreamArtifact]:
    return ()


ObjectCheck = Callable[[Plan, "ClusterObjects"], "Finding"]
"""One `kube6 verify` object check: the plan and the listed cluster objects in, a result out."""


@dataclass(frozen=True)
class Component:
    """Everything one component contributes; `kube6.components.registry` assembles them."""

    name: str
    renderers: Mapping[str, Renderer] = field(default_factory=dict)
    """Stable renderer name -> renderer (`kube6 render` runs them all)."""
    up: tuple[Step[Any], ...] = ()
    """Its `kube6 up` steps, in order (the registry places them in the pipeline)."""
    reset: tuple[Step[Any], ...] = ()
    """Its `kube6 reset` steps (the registry runs components' resets in reverse `up` order)."""
    hosts: Callable[[Plan], Sequence[ArtifactHost]] = no_hosts
    """The upstream hosts its artifacts come from in this plan."""
    uses: Callable[[Plan], Sequence[tuple[str, Use]]] = no_uses
    """(host, use) for each of its artifacts that a mirror can serve (components/sources.py)."""
    mirror_hosts: Callable[[Plan], Sequence[ArtifactHost]] = no_hosts
    """Hosts that the spec's mirrors put in place of a service, listed after every upstream
    host (the ACME directories of cert-manager's issuers)."""
    artifacts: Callable[[Plan], Sequence[UpstreamArtifact]] = no_artifacts
    """Every image, chart, apt repository and download it fetches in this plan (`kube6 check`'s
    artifact audit), each with where its reference comes from."""
    object_checks: tuple[ObjectCheck, ...] = ()
    """Its `kube6 verify` object checks."""
    kinds: Callable[[Plan], Sequence[CustomKind]] = lambda plan: ()
    """The custom resource kinds that verify lists for its checks in this plan."""
    namespaces: Callable[[Plan], Sequence[str]] = lambda plan: ()
    """Namespaces whose pods must all be Running once it is installed (verify's system pods)."""


def host_port(url: str) -> tuple[str, int]:
    """The host name and TCP port of `url` (80 or 443 by its scheme when it names none)."""
    parts = urlsplit(url)
    port = parts.port or (80 if parts.scheme == "http" else 443)
    return (parts.hostname or url), port
