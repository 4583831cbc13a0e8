"""cert-manager: Helm values with Gateway API support, and the Let's Encrypt ClusterIssuers.

`cluster/cert-manager/values.yaml` goes to `helm install cert-manager
oci://quay.io/jetstack/charts/cert-manager -n cert-manager --create-namespace` (install the
Gateway API CRDs first: cert-manager only watches Gateways if the CRDs exist when it starts).
`cluster/cert-manager/issuers.yaml` holds `letsencrypt-staging` and `letsencrypt-production`;
the Gateway names the one that kube6.yaml chose (kube6.components.gateway.render).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, Literal

from kube6 import mirrors, yamlio
from kube6.components.gateway.render import (
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    HTTP_LISTENER,
    issuer_name,
)
from kube6.plan.model import Plan
from kube6.render.base import Artifact, cluster_path, header

VALUES_PATH = cluster_path("cert-manager/values.yaml")
ISSUERS_PATH = cluster_path("cert-manager/issuers.yaml")

ACME_SERVERS: dict[Literal["staging", "production"], str] = {
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "production": "https://acme-v02.api.letsencrypt.org/directory",
}
"""Let's Encrypt ACME directories (https://letsencrypt.org/docs/staging-environment/)."""


def render(plan: Plan) -> Iterator[Artifact]:
    """cert-manager values and issuers, when the cert-manager add-on is on.

    Example: `cluster/cert-manager/values.yaml` and `cluster/cert-manager/issuers.yaml` for the
    built-in example.
    """
    if not plan.addons.cert_manager.enabled:
        return
    yield Artifact(
        path=VALUES_PATH,
        content=values_yaml(plan),
        description="cert-manager Helm values (CRDs, Gateway API support)",
    )
    yield Artifact(
        path=ISSUERS_PATH,
        content=issuers_yaml(plan),
        description="Let's Encrypt ClusterIssuers (staging and production)",
    )


def values(plan: Plan) -> dict[str, Any]:
    """The cert-manager Helm values as plain data."""
    return {
        "crds": {"enabled": True},
        "config": {
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "enableGatewayAPI": True,
        },
    }


def values_yaml(plan: Plan) -> str:
    """The cert-manager values file (header, notes, values)."""
    what = "cert-manager Helm values (namespace cert-manager)."
    notes = [
        "#",
        "# crds.enabled installs the CRDs with the chart (crds.keep, the default, keeps them on",
        "# uninstall); enableGatewayAPI makes cert-manager issue certificates for Gateway",
        "# listeners annotated with cert-manager.io/cluster-issuer.",
    ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump(values(plan))


def cluster_issuer(plan: Plan, which: Literal["staging", "production"]) -> dict[str, Any]:
    """One ACME ClusterIssuer answering HTTP-01 challenges through the kube6 Gateway."""
    name = f"letsencrypt-{which}"
    directory = mirrors.acme_directory(plan.mirrors, which)
    acme: dict[str, Any] = {"server": directory.url if directory else ACME_SERVERS[which]}
    if directory is not None and directory.ca is not None:
        # The ACME server's own TLS certificate is from a private CA (kube6.yaml mirrors.acme).
        acme["caBundle"] = base64.b64encode(directory.ca.encode()).decode()
    if plan.addons.cert_manager.email is not None:
        acme["email"] = plan.addons.cert_manager.email
    acme["privateKeySecretRef"] = {"name": f"{name}-account-key"}
    acme["solvers"] = [
        {
            "http01": {
                "gatewayHTTPRoute": {
                    "parentRefs": [
                        {
                            "group": "gateway.networking.k8s.io",
                            "kind": "Gateway",
                            "name": GATEWAY_NAME,
                            "namespace": GATEWAY_NAMESPACE,
                            "sectionName": HTTP_LISTENER,
                        }
                    ]
                }
            }
        }
    ]
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {"acme": acme},
    }


def issuers(plan: Plan) -> list[dict[str, Any]]:
    """Both issuers, staging first."""
    return [cluster_issuer(plan, "staging"), cluster_issuer(plan, "production")]


def _directory_notes(plan: Plan) -> list[str]:
    notes = []
    for which in ("staging", "production"):
        directory = mirrors.acme_directory(plan.mirrors, which)
        if directory is not None:
            notes.append(f"# letsencrypt-{which} uses {directory.url} (kube6.yaml mirrors.acme).")
    return notes


def issuers_yaml(plan: Plan) -> str:
    """The ClusterIssuers manifest, applied once cert-manager's CRDs exist."""
    what = "Let's Encrypt ClusterIssuers answering HTTP-01 through the kube6 Gateway."
    notes = [
        "#",
        f"# In use: {issuer_name(plan)} (kube6.yaml addons.cert_manager.issuer). Start with",
        "# staging, whose certificates browsers do not trust but whose rate limits are generous;",
        "# switch to production once a staging certificate has been issued.",
        *_directory_notes(plan),
        "# Let's Encrypt validates over IPv6 when the name has an AAAA record: port 80 of the",
        "# gateway addresses must be reachable from the internet",
        f"# (Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME}, listener {HTTP_LISTENER}).",
    ]
    if not plan.addons.gateway.enabled:
        notes.append(
            "# WARNING: the gateway add-on is off, so the Gateway these solvers use does not exist;"
        )
        notes.append("# give the issuers a solver of your own (e.g. an ingress or DNS-01).")
    if plan.addons.cert_manager.email is None:
        notes.append("# No account e-mail: Let's Encrypt no longer sends expiry mail anyway.")
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(issuers(plan))
