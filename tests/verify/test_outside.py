"""From-outside checks with injected DNS and TLS, and the real TLS reader against ::1."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from ipaddress import IPv6Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kube6 import spec as spec_module
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify.outside import PeerCertificate, check_outside, tls_certificate
from kube6.verify.result import CheckResult, Status, is_skipped
from tests.verify.fixtures import ev

GATEWAY = IPv6Address("2001:db8:1234:5678:8:3:0:c8")
HOST = "kube001-dashboard.example.com"
STAGING = PeerCertificate(
    subject=f"CN={HOST}",
    issuer_organization="(STAGING) Let's Encrypt",
    issuer="CN=(STAGING) Counterfeit Cashew R10,O=(STAGING) Let's Encrypt,C=US",
    names=(HOST,),
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(spec_module.example())  # staging issuer, dashboard at HOST


def run(
    plan: Plan,
    answers: list[IPv6Address] | None = None,
    cert: PeerCertificate | None = STAGING,
    addresses: list[IPv6Address] | None = None,
) -> dict[str, CheckResult]:
    calls: list[tuple[IPv6Address, int, str | None]] = []

    def resolve(host: str) -> list[IPv6Address]:
        assert host == HOST
        return [GATEWAY] if answers is None else answers

    def connect(address: IPv6Address, port: int, name: str | None) -> PeerCertificate:
        calls.append((address, port, name))
        if cert is None:
            raise ConnectionRefusedError(111, "Connection refused")
        return cert

    found = check_outside(
        plan, [GATEWAY] if addresses is None else addresses, resolve=resolve, connect=connect
    )
    assert all(call[1] == 443 for call in calls)
    return {r.name: r for r in found}


def test_all_good(plan: Plan) -> None:
    found = run(plan)
    assert {n: r.status for n, r in found.items()} == {
        "gateway-https": Status.OK,
        "dashboard-dns": Status.OK,
        "dashboard-certificate": Status.OK,
    }
    assert found["dashboard-certificate"].message == (
        f"{HOST} presents a certificate from (STAGING) Let's Encrypt"
    )


def test_no_aaaa_record(plan: Plan) -> None:
    found = run(plan, answers=[])
    assert found["dashboard-dns"].status is Status.FAIL
    assert (
        found["dashboard-dns"].fix
        == f"at your DNS provider, add an AAAA record {HOST} -> {GATEWAY}"
    )
    assert is_skipped(found["dashboard-certificate"])


def test_aaaa_record_elsewhere(plan: Plan) -> None:
    found = run(plan, answers=[IPv6Address("2001:db8::dead")])
    assert (
        found["dashboard-dns"].message == f"{HOST} resolves to 2001:db8::dead, not to the gateway"
    )


def test_gateway_refuses(plan: Plan) -> None:
    found = run(plan, cert=None)
    assert found["gateway-https"].status is Status.FAIL
    assert "Connection refused" in ev(found["gateway-https"])[0]
    assert "gateway_ports" in found["gateway-https"].fix
    assert found["dashboard-certificate"].status is Status.FAIL


def test_certificate_from_another_issuer(plan: Plan) -> None:
    fake = PeerCertificate("CN=envoy", "", "CN=envoy-gateway", ())
    found = run(plan, cert=fake)
    result = found["dashboard-certificate"]
    assert result.status is Status.FAIL
    assert "not by (STAGING) Let's Encrypt" in result.message
    assert "kubectl get certificate -A" in result.fix
    # Production certificates on a staging plan are also not what was planned.
    prod = PeerCertificate(f"CN={HOST}", "Let's Encrypt", "CN=R10,O=Let's Encrypt", (HOST,))
    assert run(plan, cert=prod)["dashboard-certificate"].status is Status.FAIL


def test_certificate_for_another_name(plan: Plan) -> None:
    other = PeerCertificate(
        "CN=x", "(STAGING) Let's Encrypt", "O=(STAGING) Let's Encrypt", ("other.example.com",)
    )
    assert run(plan, cert=other)["dashboard-certificate"].message == (
        f"the certificate does not name {HOST}"
    )
    wildcard = PeerCertificate(
        "CN=x", "(STAGING) Let's Encrypt", "O=(STAGING) Let's Encrypt", ("*.example.com",)
    )
    assert run(plan, cert=wildcard)["dashboard-certificate"].status is Status.OK


def test_no_gateway_address(plan: Plan) -> None:
    found = run(plan, addresses=[])
    assert found["gateway-https"].status is Status.FAIL
    assert "gateway-ipv6" in found["gateway-https"].fix


# ---- the real TLS reader -------------------------------------------------------------------


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "(STAGING) Let's Encrypt"),
            x509.NameAttribute(NameOID.COMMON_NAME, "(STAGING) Test Issuer"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[int]:
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.bind(("::1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(5)


def test_tls_certificate_reads_a_real_handshake(tls_server: int) -> None:
    cert = tls_certificate(IPv6Address("::1"), tls_server, HOST)
    assert cert.issuer_organization == "(STAGING) Let's Encrypt"
    assert cert.names == (HOST,)
    assert cert.subject == f"CN={HOST}"


def test_tls_certificate_refused() -> None:
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(ConnectionRefusedError):
            tls_certificate(IPv6Address("::1"), port, HOST, timeout=2)
