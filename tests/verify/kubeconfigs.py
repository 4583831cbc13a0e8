"""An admin.conf shaped as kubeadm writes it: a real CA, a client certificate and its key.

The certificates are real (lightkube loads them when it builds a client), so a test that reads
one through kube6 exercises the same code as a real cluster's file; the key material is what
tests search the output for to prove that no credential is ever printed.
"""

from __future__ import annotations

import base64
import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class AdminConf:
    text: str
    key_data: str
    """base64 of the client key PEM, as in `client-key-data`."""
    cert_data: str
    key_pem: str

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in any output: the key in every form, the client cert data."""
        body = "".join(line for line in self.key_pem.splitlines() if "-----" not in line)
        return (self.key_data, self.cert_data, self.key_pem, body[:40], body[-40:])


def _name(common_name: str, org: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attributes)


@functools.cache
def _material() -> tuple[str, str, str]:
    """(CA cert PEM, client cert PEM, client key PEM), made once per test session."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("kubernetes")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kubernetes-admin", "kubeadm:cluster-admins"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return ca.public_bytes(pem).decode(), cert.public_bytes(pem).decode(), key_pem.decode()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def admin_conf(server: str, cluster: str = "kube001") -> AdminConf:
    """The admin.conf that `kubeadm init` writes for `server` (an https:// URL)."""
    ca, cert, key = _material()
    user = f"kubernetes-admin@{cluster}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {"name": cluster, "cluster": {"certificate-authority-data": _b64(ca), "server": server}}
        ],
        "contexts": [{"name": user, "context": {"cluster": cluster, "user": "kubernetes-admin"}}],
        "current-context": user,
        "users": [
            {
                "name": "kubernetes-admin",
                "user": {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)},
            }
        ],
    }
    return AdminConf(yaml.safe_dump(document), _b64(key), _b64(cert), key)


def operator_without_kubeconfig(
    monkeypatch: pytest.MonkeyPatch, folder: Path, spec_text: str
) -> None:
    """Play a laptop with `spec_text` as kube6.yaml in `folder` and no kubeconfig anywhere: an
    empty home, no $KUBECONFIG, and kubeadm's path (this machine's real /etc, which the tests
    may see as root) swapped for an absent file."""
    from kube6.verify import kubeconfig

    monkeypatch.chdir(folder)
    (folder / "kube6.yaml").write_text(spec_text)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(folder / "home"))
    real = kubeconfig.kubeconfig_candidates
    admin = kubeconfig.ADMIN_KUBECONFIG

    def candidates(env: Mapping[str, str], home: Path) -> list[Path]:
        absent = folder / "no-etc-kubernetes-admin.conf"
        return [absent if p == admin else p for p in real(env, home)]

    monkeypatch.setattr(kubeconfig, "kubeconfig_candidates", candidates)
