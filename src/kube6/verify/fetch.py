"""Listing the objects that the checks read, through a lightkube client, and checking them.

    results = verify_objects(plan, client_for(find_kubeconfig(None)))

(`client_for` and `find_kubeconfig` are in `kube6.verify.kubeconfig`.) Custom resources are
listed through lightkube generic resources; a CRD that the API server does not serve (404)
becomes `None`, which the checks report as "not installed" where the plan expects that component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from lightkube import ApiError, Client
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.core_v1 import Node, Pod, Service

from kube6.errors import Kube6Error
from kube6.plan.model import Plan
from kube6.verify.objects import ClusterObjects, check_objects
from kube6.verify.result import CheckResult


class ClusterUnreachableError(Kube6Error):
    """The API server could not be asked (no connection, no permission, bad kubeconfig)."""


@dataclass(frozen=True)
class CustomKind:
    """A custom resource kind that verify lists, and the component that installs it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def crd(self) -> str:
        return f"{self.plural}.{self.group}"

    def resource(self) -> Any:
        make = create_namespaced_resource if self.namespaced else create_global_resource
        return make(self.group, self.version, self.kind, self.plural)


IP_POOL = CustomKind("crd.projectcalico.org", "v1", "IPPool", "ippools", namespaced=False)
BLOCK_AFFINITY = CustomKind(
    "crd.projectcalico.org", "v1", "BlockAffinity", "blockaffinities", namespaced=False
)
CLUSTER_ISSUER = CustomKind(
    "cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", namespaced=False
)
GATEWAY = CustomKind("gateway.networking.k8s.io", "v1", "Gateway", "gateways", namespaced=True)


def _list(client: Client, res: Any, namespaced: bool) -> list[Any]:
    if namespaced:
        return list(client.list(res, namespace="*"))
    return list(client.list(res))


def _list_custom(client: Client, kind: CustomKind) -> tuple[dict[str, Any], ...] | None:
    try:
        items = _list(client, kind.resource(), kind.namespaced)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    return tuple(_plain(item) for item in items)


def _plain(item: Any) -> dict[str, Any]:
    data = item.to_dict() if hasattr(item, "to_dict") else dict(item)
    return dict(data)


def fetch_objects(client: Client, plan: Plan, *, where: str = "the API server") -> ClusterObjects:
    """List every object that the checks read (add-on kinds only when the plan has them).

    Raises ClusterUnreachableError with a fix when the API server cannot be asked; `where` names it
    in that message (e.g. "the API server of /etc/kubernetes/admin.conf").
    """
    try:
        return ClusterObjects(
            nodes=tuple(_list(client, Node, namespaced=False)),
            services=tuple(_list(client, Service, namespaced=True)),
            pods=tuple(_list(client, Pod, namespaced=True)),
            ip_pools=_list_custom(client, IP_POOL),
            block_affinities=_list_custom(client, BLOCK_AFFINITY),
            cluster_issuers=(
                _list_custom(client, CLUSTER_ISSUER) if plan.addons.cert_manager.enabled else None
            ),
            gateways=_list_custom(client, GATEWAY) if plan.addons.gateway.enabled else None,
        )
    except ApiError as exc:
        code = exc.status.code
        fix = (
            "the kubeconfig's user may not list cluster objects: use kubeadm's admin.conf or "
            "grant it a ClusterRole with get/list on nodes, services, pods and the CRDs"
            if code in (401, 403)
            else "check the API server: `kubectl get --raw /readyz?verbose`"
        )
        raise ClusterUnreachableError(
            f"{where} refused to list objects ({code}): {exc.status.message}",
            fix=fix,
        ) from None
    except httpx.HTTPError as exc:
        raise ClusterUnreachableError(
            f"cannot reach {where}: {exc}",
            fix="is the control plane up (`systemctl status kubelet`, `crictl ps` on the node) "
            "and the server in the kubeconfig reachable from here over IPv6 (port 6443 open "
            "in the firewall's api_sources)?",
        ) from None


def verify_objects(
    plan: Plan, client: Client, *, where: str = "the API server"
) -> list[CheckResult]:
    """Fetch the cluster's objects through `client` and check them against `plan`."""
    return check_objects(plan, fetch_objects(client, plan, where=where))
