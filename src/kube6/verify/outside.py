"""Checks from outside the cluster, run where `kube6 verify` runs: what a visitor would see.

The gateway answers TLS on its IPv6 address; the dashboard host name resolves (AAAA) to that
address and presents a certificate from the planned Let's Encrypt issuer. Name resolution and
TLS connections are injected (`resolve`, `connect`), so the checks are tested without a network.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address

from kube6.plan.model import Plan
from kube6.verify.result import CheckResult, failed, passed, skipped

HTTPS_PORT = 443
ISSUER_ORGANIZATIONS = {
    "staging": "(STAGING) Let's Encrypt",
    "production": "Let's Encrypt",
}
"""The organisation in the issuer name of each Let's Encrypt environment's intermediates."""


@dataclass(frozen=True)
class PeerCertificate:
    """What the checks read from the certificate that a TLS server presented."""

    subject: str
    issuer_organization: str
    issuer: str
    names: tuple[str, ...]
    """DNS names in the subject alternative names."""


Resolve = Callable[[str], list[IPv6Address]]
"""Host name -> its AAAA addresses ([] when it has none)."""
Connect = Callable[[IPv6Address, int, str | None], PeerCertificate]
"""(address, port, server name) -> the presented certificate; raises OSError on failure."""


def check_outside(
    plan: Plan,
    gateway_addresses: Sequence[IPv6Address],
    *,
    resolve: Resolve,
    connect: Connect,
) -> list[CheckResult]:
    """`gateway-https`, `dashboard-dns`, `dashboard-certificate` (each skipped when the plan
    has no such add-on)."""
    results = [_gateway_https(plan, gateway_addresses, connect)]
    host = plan.addons.dashboard.host
    if not (plan.addons.gateway.enabled and plan.addons.dashboard.enabled and host):
        why = "the plan has no dashboard host behind the gateway"
        return [*results, skipped("dashboard-dns", why), skipped("dashboard-certificate", why)]
    dns_result, target = _dashboard_dns(host, gateway_addresses, resolve)
    results.append(dns_result)
    results.append(_dashboard_certificate(plan, host, target, connect))
    return results


def _gateway_https(plan: Plan, addresses: Sequence[IPv6Address], connect: Connect) -> CheckResult:
    name = "gateway-https"
    if not plan.addons.gateway.enabled:
        return skipped(name, "the gateway is not in the plan")
    if not addresses:
        return failed(
            name,
            "no gateway address to connect to",
            "the Gateway has no IPv6 address in its status: see the `gateway-ipv6` result",
        )
    seen: list[str] = []
    for address in addresses:
        try:
            cert = connect(address, HTTPS_PORT, plan.addons.dashboard.host)
        except OSError as exc:
            seen.append(f"[{address}]:{HTTPS_PORT}: {exc}")
            continue
        seen.append(f"[{address}]:{HTTPS_PORT}: TLS from {cert.subject} (issuer {cert.issuer})")
        return passed(name, f"the gateway answers HTTPS on [{address}]:{HTTPS_PORT}", seen)
    return failed(
        name,
        f"the gateway does not answer HTTPS on {len(addresses)} address(es)",
        f"from here, TCP {HTTPS_PORT} to the gateway must be open: the host firewall's "
        "gateway_ports, the provider's firewall, and (ndp-proxy routing) the NDP proxy "
        "answering for the gateway's address; the gateway's pods and Service: "
        "`kubectl -n traefik get pods,svc` (Envoy Gateway: `-n envoy-gateway-system`)",
        seen,
    )


def _dashboard_dns(
    host: str, addresses: Sequence[IPv6Address], resolve: Resolve
) -> tuple[CheckResult, IPv6Address | None]:
    name = "dashboard-dns"
    try:
        answers = resolve(host)
    except OSError as exc:
        return (
            failed(name, f"cannot resolve {host}: {exc}", "check this machine's resolver"),
            None,
        )
    seen = [f"AAAA {host}: {', '.join(map(str, answers)) or 'none'}"]
    wanted = ", ".join(map(str, addresses)) or "the gateway's address"
    if not answers:
        return (
            failed(
                name,
                f"{host} has no AAAA record",
                f"at your DNS provider, add an AAAA record {host} -> {wanted}",
                seen,
            ),
            None,
        )
    hit = next((a for a in answers if a in addresses), None)
    if hit is None:
        return (
            failed(
                name,
                f"{host} resolves to {', '.join(map(str, answers))}, not to the gateway",
                f"change the AAAA record of {host} to {wanted}",
                seen,
            ),
            None,
        )
    return passed(name, f"{host} resolves to the gateway ({hit})", seen), hit


def _dashboard_certificate(
    plan: Plan, host: str, target: IPv6Address | None, connect: Connect
) -> CheckResult:
    name = "dashboard-certificate"
    if not plan.addons.cert_manager.enabled:
        return skipped(name, "cert-manager is not in the plan: the certificate is your own")
    if target is None:
        return skipped(name, f"{host} does not resolve to the gateway (see `dashboard-dns`)")
    expected = ISSUER_ORGANIZATIONS[plan.addons.cert_manager.issuer]
    try:
        cert = connect(target, HTTPS_PORT, host)
    except OSError as exc:
        return failed(
            name,
            f"no TLS connection to {host} at [{target}]:{HTTPS_PORT}: {exc}",
            "see the `gateway-https` result",
        )
    seen = [
        f"subject {cert.subject}",
        f"issuer {cert.issuer}",
        f"names {', '.join(cert.names) or 'none'}",
    ]
    if cert.issuer_organization != expected:
        return failed(
            name,
            f"{host} presents a certificate issued by {cert.issuer_organization or cert.issuer!r}, "
            f"not by {expected}",
            "cert-manager has not issued it yet (or failed): `kubectl get certificate -A`, "
            "`kubectl describe certificaterequest -A` and the `cert-manager-issuers` result; "
            "the HTTP-01 challenge needs port 80 reachable on the gateway over IPv6",
            seen,
        )
    if not _covers(cert.names, host):
        return failed(
            name,
            f"the certificate does not name {host}",
            "the Gateway's dashboard listener must use the certificate issued for this host",
            seen,
        )
    return passed(name, f"{host} presents a certificate from {expected}", seen)


def _covers(names: Sequence[str], host: str) -> bool:
    host = host.lower().rstrip(".")
    for pattern in (n.lower().rstrip(".") for n in names):
        if pattern == host:
            return True
        if pattern.startswith("*.") and host.split(".", 1)[-1] == pattern[2:]:
            return True
    return False


# ---- the real resolver and TLS client -----------------------------------------------------


def resolve_aaaa(host: str) -> list[IPv6Address]:
    """The AAAA records of `host` through this machine's resolver (dnspython)."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(host, "AAAA", lifetime=5)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise OSError(str(exc)) from exc
    return [IPv6Address(record.address) for record in answer]


def tls_certificate(
    address: IPv6Address, port: int, server_name: str | None, timeout: float = 5.0
) -> PeerCertificate:
    """Connect with TLS and return the presented certificate, without judging it.

    Verification is off on purpose: a Let's Encrypt staging certificate is untrusted by design,
    and the check compares the issuer with the plan itself.
    """
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((str(address), port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise OSError(f"[{address}]:{port} presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    organization = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        names = tuple(san.value.get_values_for_type(x509.DNSName))  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = ()
    return PeerCertificate(
        subject=cert.subject.rfc4514_string(),
        issuer_organization=str(organization[0].value) if organization else "",
        issuer=cert.issuer.rfc4514_string(),
        names=names,
    )
