"""Listing the objects that the checks read, through a lightkube client, and checking them.

    objects = fetch_objects(client_for(find_kubeconfig(None)), registry.custom_kinds(plan))

(`client_for` and `find_kubeconfig` are in `kube6.verify.kubeconfig`, the checks and the kinds
in kube6.components.registry, `verify_objects` that fetches and checks in
kube6.usecases.verify.) Custom resources are listed through lightkube generic resources; a CRD
that the API server does not serve (404) becomes `None`, which the checks report as "not
installed" where the plan expects that component.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from lightkube import ApiError, Client
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.core_v1 import Node, Pod, Service

from kube6.errors import Kube6Error
from kube6.verify.objects import ClusterObjects, CustomKind


class ClusterUnreachableError(Kube6Error):
    """The API server could not be asked (no connection, no permission, bad kubeconfig)."""


def resource(kind: CustomKind) -> Any:
    """The lightkube generic resource of `kind`."""
    make = create_namespaced_resource if kind.namespaced else create_global_resource
    return make(kind.group, kind.version, kind.kind, kind.plural)


def _list(client: Client, res: Any, namespaced: bool) -> list[Any]:
    if namespaced:
        return list(client.list(res, namespace="*"))
    return list(client.list(res))


def _list_custom(client: Client, kind: CustomKind) -> tuple[dict[str, Any], ...] | None:
    try:
        items = _list(client, resource(kind), kind.namespaced)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    return tuple(_plain(item) for item in items)


def _plain(item: Any) -> dict[str, Any]:
    data = item.to_dict() if hasattr(item, "to_dict") else dict(item)
    return dict(data)


def fetch_objects(
    client: Client, kinds: Sequence[CustomKind], *, where: str = "the API server"
) -> ClusterObjects:
    """List the nodes, Services and pods, and the objects of the custom `kinds` (those the
    planned components check: `kube6.components.registry.custom_kinds`).

    Raises ClusterUnreachableError with a fix when the API server cannot be asked; `where` names it
    in that message (e.g. "the API server of /etc/kubernetes/admin.conf").
    """
    try:
        return ClusterObjects(
            nodes=tuple(_list(client, Node, namespaced=False)),
            services=tuple(_list(client, Service, namespaced=True)),
            pods=tuple(_list(client, Pod, namespaced=True)),
            custom={kind.crd: _list_custom(client, kind) for kind in kinds},
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
