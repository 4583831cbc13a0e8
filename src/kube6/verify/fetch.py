"""The thin shell around the object checks: find the kubeconfig, list the objects, check them.

    results = verify_objects(plan, client_for(find_kubeconfig(None)))

Custom resources are listed through lightkube generic resources; a CRD that the API server does
not serve (404) becomes `None`, which the checks report as "not installed" where the plan
expects that component.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from lightkube import ApiError, Client, ConfigError, KubeConfig
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.core_v1 import Node, Pod, Service

from kube6.errors import Kube6Error, UsageError
from kube6.plan.model import Plan
from kube6.verify.objects import ClusterObjects, check_objects
from kube6.verify.result import CheckResult

ADMIN_KUBECONFIG = Path("/etc/kubernetes/admin.conf")
"""What kubeadm writes on the first control-plane node (and `kube6 up` uses)."""
USER_KUBECONFIG = Path("~/.kube/config")


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


def kubeconfig_candidates(env: Mapping[str, str], home: Path) -> list[Path]:
    """Where to look, in order: $KUBECONFIG (each entry), kubeadm's admin.conf, ~/.kube/config."""
    found = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [*found, ADMIN_KUBECONFIG, home / ".kube" / "config"]


def find_kubeconfig(
    explicit: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    readable: Callable[[Path], bool] = lambda p: os.access(p, os.R_OK),
) -> Path:
    """The kubeconfig to use: `explicit` (must be readable), else the first readable candidate."""
    if explicit is not None:
        if not readable(explicit):
            raise UsageError(
                f"cannot read the kubeconfig {explicit}",
                fix="check the path and its permissions (kubeadm's admin.conf is root-only: "
                "run as root, or copy it to ~/.kube/config with mode 0600)",
            )
        return explicit
    candidates = kubeconfig_candidates(
        os.environ if env is None else env, Path.home() if home is None else home
    )
    for path in candidates:
        if readable(path):
            return path
    raise UsageError(
        "no kubeconfig found (looked at " + ", ".join(str(p) for p in candidates) + ")",
        fix="pass --kubeconfig PATH; on the first control-plane node kubeadm wrote "
        f"{ADMIN_KUBECONFIG} (readable by root only)",
    )


def client_for(path: Path, *, transport: httpx.BaseTransport | None = None) -> Client:
    """A lightkube client from the kubeconfig at `path` (its current context)."""
    try:
        config = KubeConfig.from_file(path)
    except (ConfigError, OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(
            f"cannot use the kubeconfig {path}: {exc}",
            fix="point --kubeconfig at the file that `kubeadm init` wrote "
            f"({ADMIN_KUBECONFIG}) or a copy of it",
        ) from None
    # trust_env=False: an HTTP(S)_PROXY meant for the internet must not carry API traffic.
    return Client(config=config, trust_env=False, field_manager="kube6", transport=transport)


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
                _list_custom(client, CLUSTER_ISSUER) if plan.addons.cert_manager else None
            ),
            gateways=_list_custom(client, GATEWAY) if plan.addons.gateway else None,
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
