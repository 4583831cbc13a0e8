"""The `addons` section of kube6.yaml: one model per cluster add-on, and `Addons` holding them.

This is the one place outside its component (kube6.components.<add-on>) that an add-on adds
itself to: the spec sits below the planner and the components in kube6's layers, so its
section cannot live in the component package (importing that would import the planner and
the steps). The plan carries this section as it is (`Plan.addons`); the add-on's component
reads its own settings from there.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from kube6.spec.fields import EMAIL, Address, Bool, DnsName, Str, StrictModel


class Gateway(StrictModel):
    enabled: Bool = True
    """Install Gateway API CRDs and a gateway controller with IPv6 listeners."""
    controller: Literal["envoy-gateway", "traefik"] = "traefik"
    """The implementation: `envoy-gateway` (Envoy Gateway's charts, Envoy as the proxy) or
    `traefik` (Traefik Proxy, whose objects kube6 writes itself). Both are reachable over IPv6;
    switching on a running cluster: delete GatewayClass `kube6` first (its controller is
    immutable)."""
    address: Address | None = None
    """The gateway's public address, where the AAAA records of its host names point: an
    address of the LoadBalancer range (`network.load_balancers`) that the gateway's Service
    asks Calico for. Default: the range's address 1 (e.g. 2001:db8:1234:5678:8:4::1); set it to
    keep the address when the range moves."""


class CertManager(StrictModel):
    enabled: Bool = True
    """Install cert-manager and Let's Encrypt ClusterIssuers."""
    email: Str | None = None
    """ACME account e-mail (optional; Let's Encrypt no longer sends expiry mail)."""
    issuer: Literal["staging", "production"] = "staging"
    """Which Let's Encrypt issuer the gateway uses; start with staging, switch when it works."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address (e.g. admin@example.com)")
        return value


class Dashboard(StrictModel):
    enabled: Bool = True
    """Install Headlamp, the Kubernetes SIG UI dashboard."""
    host: DnsName | None = None
    """Public host name of the dashboard behind the gateway (needs an AAAA record)."""
    admin: Bool = False
    """Give the dashboard login cluster-admin instead of read-only. Not recommended."""


class Addons(StrictModel):
    gateway: Gateway = Gateway()
    cert_manager: CertManager = CertManager()
    dashboard: Dashboard = Dashboard()
