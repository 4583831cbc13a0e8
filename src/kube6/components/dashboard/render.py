"""The dashboard: Headlamp Helm values, a least-privilege login, and its route on the gateway.

`cluster/dashboard/values.yaml` goes to `helm install headlamp headlamp/headlamp -n headlamp`
(chart repo https://kubernetes-sigs.github.io/headlamp/). `cluster/dashboard/rbac.yaml` creates
the login ServiceAccount `kube6-dashboard-viewer`, bound to the built-in read-only `view`
ClusterRole (which cannot read Secrets); a cluster-admin login exists only when kube6.yaml sets
`addons.dashboard.admin: true`. No token Secret is rendered: log in with a short-lived token,
`kubectl -n headlamp create token kube6-dashboard-viewer --duration=1h`.
`cluster/dashboard/route.yaml` publishes Headlamp at the dashboard host through the kube6
Gateway (HTTPS), and redirects plain HTTP for that host to HTTPS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kube6 import yamlio
from kube6.components.gateway.render import (
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    HTTP_LISTENER,
    HttpsListener,
)
from kube6.plan.model import Plan
from kube6.render.base import Artifact, cluster_path, header

VALUES_PATH = cluster_path("dashboard/values.yaml")
RBAC_PATH = cluster_path("dashboard/rbac.yaml")
ROUTE_PATH = cluster_path("dashboard/route.yaml")

NAMESPACE = "headlamp"
"""Where Headlamp runs; the Gateway's HTTPS listener for its host admits routes from here only."""
LISTENER = "dashboard"
TLS_SECRET = "kube6-dashboard-tls"  # noqa: S105 - a Secret's name, not a secret
SERVICE_NAME = "headlamp"
"""The chart's Service (fullnameOverride pins it whatever the release is called)."""
SERVICE_PORT = 80
VIEWER = "kube6-dashboard-viewer"
ADMIN = "kube6-dashboard-admin"


def https_listeners(plan: Plan) -> list[HttpsListener]:
    """The Gateway's HTTPS listener for the dashboard host, when the dashboard has one."""
    host = plan.addons.dashboard.host
    if not plan.addons.dashboard.enabled or host is None:
        return []
    return [HttpsListener(LISTENER, host, TLS_SECRET, NAMESPACE)]


def render(plan: Plan) -> Iterator[Artifact]:
    """Headlamp values and login RBAC; the route too when the gateway and a host are set.

    Example: the built-in example yields `cluster/dashboard/values.yaml`, `rbac.yaml` and
    `route.yaml` (host kube001-dashboard.example.com).
    """
    if not plan.addons.dashboard.enabled:
        return
    yield Artifact(
        path=VALUES_PATH,
        content=values_yaml(plan),
        description="Headlamp Helm values (no cluster-admin binding for Headlamp itself)",
    )
    yield Artifact(
        path=RBAC_PATH,
        content=rbac_yaml(plan),
        description="dashboard logins: read-only viewer"
        + (", cluster-admin (addons.dashboard.admin)" if plan.addons.dashboard.admin else ""),
    )
    if plan.addons.gateway.enabled and plan.addons.dashboard.host is not None:
        yield Artifact(
            path=ROUTE_PATH,
            content=route_yaml(plan),
            description=f"HTTPRoute for {plan.addons.dashboard.host} on the kube6 Gateway",
        )


def values(plan: Plan) -> dict[str, Any]:
    """The Headlamp Helm values as plain data."""
    return {
        "fullnameOverride": SERVICE_NAME,
        "config": {"inCluster": True},
        # The chart binds Headlamp's own ServiceAccount to cluster-admin by default. Headlamp
        # acts with the token each user logs in with, so its own account needs no rights.
        "clusterRoleBinding": {"create": False},
        "service": {"type": "ClusterIP", "port": SERVICE_PORT},
        # kube6 renders the route itself (route.yaml), with the gateway's listener names.
        "httpRoute": {"enabled": False},
        "ingress": {"enabled": False},
    }


def values_yaml(plan: Plan) -> str:
    """The Headlamp values file (header, notes, values)."""
    what = f"Headlamp Helm values (namespace {NAMESPACE})."
    notes = [
        "#",
        "# The image is on ghcr.io, which has no IPv6 address: pulling it needs NAT64/DNS64",
        "# (dns.nat64_prefix) or a registry mirror.",
    ]
    if plan.addons.dashboard.host is None or not plan.addons.gateway.enabled:
        notes.append(
            f"# No public host: reach it with `kubectl -n {NAMESPACE} port-forward "
            f"svc/{SERVICE_NAME} 8080:{SERVICE_PORT}`."
        )
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump(values(plan))


def _login(name: str, cluster_role: str) -> list[dict[str, Any]]:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": NAMESPACE},
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": cluster_role,
        },
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
    }
    return [account, binding]


def rbac(plan: Plan) -> list[dict[str, Any]]:
    """Namespace, the viewer login, and the admin login only when the plan asks for it."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        *_login(VIEWER, "view"),
    ]
    if plan.addons.dashboard.admin:
        objects += _login(ADMIN, "cluster-admin")
    return objects


def rbac_yaml(plan: Plan) -> str:
    """The login manifest: namespace, ServiceAccounts, ClusterRoleBindings."""
    what = "Dashboard logins: ServiceAccounts and their ClusterRoleBindings."
    notes = [
        "#",
        f"# {VIEWER}: read-only (ClusterRole view; no Secrets). Log in with a token that",
        f"# expires: kubectl -n {NAMESPACE} create token {VIEWER} --duration=1h",
    ]
    if plan.addons.dashboard.admin:
        notes += [
            f"# WARNING: {ADMIN} is cluster-admin (addons.dashboard.admin: true). Anyone holding",
            "# its token controls the whole cluster; create tokens only when needed, short-lived:",
            f"# kubectl -n {NAMESPACE} create token {ADMIN} --duration=15m",
        ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(rbac(plan))


def routes(plan: Plan) -> list[dict[str, Any]]:
    """The HTTPS route to Headlamp and the HTTP-to-HTTPS redirect for the dashboard host."""
    host = plan.addons.dashboard.host
    if host is None:
        raise ValueError(
            f"plan {plan.digest} has no addons.dashboard.host; the dashboard route needs one"
        )

    def parent(section: str) -> dict[str, Any]:
        return {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": GATEWAY_NAME,
            "namespace": GATEWAY_NAMESPACE,
            "sectionName": section,
        }

    https = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "headlamp", "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [parent(LISTENER)],
            "hostnames": [host],
            "rules": [{"backendRefs": [{"name": SERVICE_NAME, "port": SERVICE_PORT}]}],
        },
    }
    # cert-manager's HTTP-01 solver route matches its exact challenge path, which takes
    # precedence over this catch-all prefix, so certificates are still issued over plain HTTP.
    redirect = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "headlamp-https-redirect", "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [parent(HTTP_LISTENER)],
            "hostnames": [host],
            "rules": [
                {
                    "filters": [
                        {
                            "type": "RequestRedirect",
                            "requestRedirect": {"scheme": "https", "statusCode": 301},
                        }
                    ]
                }
            ],
        },
    }
    return [https, redirect]


def route_yaml(plan: Plan) -> str:
    """The HTTPRoute manifest for the dashboard host."""
    what = f"Dashboard route: https://{plan.addons.dashboard.host}/ through the kube6 Gateway."
    notes = [
        "#",
        f"# Needs an AAAA record for {plan.addons.dashboard.host} pointing at a worker address",
        "# (see cluster/gateway/gateway.yaml).",
    ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(routes(plan))
