"""Pure checks of a running cluster's objects against the Plan: objects in, results out.

The objects are what the API server returned: lightkube models for core kinds (Node, Service,
Pod) and plain dicts for custom resources (Calico IPPool and BlockAffinity, cert-manager
ClusterIssuer, Gateway API Gateway: `CustomKind`s that their components name). `None` for a
custom-resource list means its CRD is not installed. Nothing here talks to a cluster;
`kube6.verify.fetch` does that. Here: the objects and the readers that every check uses;
Kubernetes' own checks are in `kube6.verify.kubernetes`, each component owns the checks of its
objects, and `kube6.components.registry.check_objects` runs them all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

from kube6.verify.result import CheckResult, failed

if TYPE_CHECKING:
    # Only annotations: `kube6 up` builds empty ClusterObjects without importing lightkube.
    from lightkube.resources.core_v1 import Node, Pod, Service

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class CustomKind:
    """A custom resource kind that verify lists for the component that installs it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def crd(self) -> str:
        """The CRD's name (`ippools.crd.projectcalico.org`), as kubectl takes it."""
        return f"{self.plural}.{self.group}"


@dataclass(frozen=True)
class ClusterObjects:
    """Everything the object checks read, as fetched."""

    nodes: tuple[Node, ...] = ()
    services: tuple[Service, ...] = ()
    pods: tuple[Pod, ...] = ()
    custom: Mapping[str, tuple[Obj, ...] | None] = field(default_factory=dict)
    """Custom objects by CRD name (`CustomKind.crd`), for the kinds the planned components
    check. None: that CRD is not installed."""

    def of(self, kind: CustomKind) -> tuple[Obj, ...] | None:
        """The listed objects of `kind`; None when its CRD is not installed (or not listed)."""
        return self.custom.get(kind.crd)


# ---- small readers -------------------------------------------------------------------------


def address_of(text: object) -> IPv4Address | IPv6Address | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def network_of(text: object) -> ipaddress.IPv4Network | IPv6Network | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def dig(obj: Obj | None, *keys: str) -> Any:
    """obj[k1][k2]... or None when any level is missing."""
    value: Any = obj
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def obj_name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{namespace}/{name}" if namespace else str(name)


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in dig(obj, "status", "conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def describe_condition(cond: Obj | None, kind: str) -> str:
    if cond is None:
        return f"{kind} condition missing"
    text = f"{kind}={cond.get('status')}"
    why = ": ".join(str(cond[k]) for k in ("reason", "message") if cond.get(k))
    return f"{text} ({why})" if why else text


def join_fixes(fixes: Iterable[str]) -> str:
    return "; also: ".join(dict.fromkeys(f for f in fixes if f))


def not_installed(name: str, what: str, crd: str, fix: str) -> CheckResult:
    return failed(
        name,
        f"{what} is not installed: the API server does not serve {crd}",
        fix,
        [f"{crd}: not found"],
    )
