"""join/serving-certs: only a planned node's own kubelet-serving request is approved (issue 14).

The requests are real PEM certificate requests made with `cryptography`, shaped as the kubelet
makes them (k8s.io/kubernetes pkg/kubelet/certificate: CN=system:node:<name>, O=system:nodes,
SANs from the node's addresses), and one wrong thing at a time.
"""

from __future__ import annotations

import base64
import json
from ipaddress import ip_address
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from kube6.components.kubeadm import serving
from kube6.components.kubeadm.serving import ServingFacts, judge, parse_requests, plan_serving
from kube6.execute import RecordingExecutor
from kube6.plan.model import Plan

from .conftest import arun, context

NODE_USAGES = ["digital signature", "server auth"]


def csr_pem(cn: str, orgs: list[str], dns: list[str], ips: list[str], *, email: str = "") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    subject = x509.Name([*names, x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ip_address(i)) for i in ips]
    if email:
        sans.append(x509.RFC822Name(email))
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM).decode()


def csr_item(
    name: str,
    node: str,
    *,
    dns: list[str] | None = None,
    ips: list[str] | None = None,
    username: str | None = None,
    groups: list[str] | None = None,
    usages: list[str] | None = None,
    cn: str | None = None,
    orgs: list[str] | None = None,
    conditions: list[str] = (),  # type: ignore[assignment]
    signer: str = serving.SIGNER,
    email: str = "",
    request: str | None = None,
) -> dict[str, Any]:
    pem = csr_pem(
        cn if cn is not None else f"system:node:{node}",
        orgs if orgs is not None else ["system:nodes"],
        dns if dns is not None else [node],
        ips if ips is not None else [],
        email=email,
    )
    return {
        "metadata": {"name": name},
        "spec": {
            "signerName": signer,
            "username": username or f"system:node:{node}",
            "groups": groups if groups is not None else ["system:nodes", "system:authenticated"],
            "usages": usages if usages is not None else NODE_USAGES,
            "request": request if request is not None else base64.b64encode(pem.encode()).decode(),
        },
        "status": {"conditions": [{"type": c, "status": "True"} for c in conditions]},
    }


def listing(*items: dict[str, Any]) -> str:
    return json.dumps({"kind": "CertificateSigningRequestList", "items": list(items)})


def test_the_nodes_own_request_is_approved(ha_plan: Plan) -> None:
    (request,) = parse_requests(listing(csr_item("csr-a", "w1", ips=["2001:db8:1234:5678::21"])))
    assert request.dns_names == ("w1",)
    assert request.ip_addresses == ("2001:db8:1234:5678::21",)
    assert judge(request, ha_plan) is None
    # the same address written another way is the same address
    (same,) = parse_requests(
        listing(csr_item("csr-b", "w1", dns=[], ips=["2001:db8:1234:5678:0:0:0:21"]))
    )
    assert judge(same, ha_plan) is None


WRONG = {
    "another node's address": (
        dict(node="w1", ips=["2001:db8:1234:5678::22"]),
        "planned address is 2001:db8:1234:5678::21",
    ),
    "an extra address": (
        dict(node="w1", ips=["2001:db8:1234:5678::21", "2001:db8::66"]),
        "2001:db8::66",
    ),
    "an extra name": (dict(node="w1", dns=["w1", "api.example.com"]), "api.example.com"),
    "an e-mail name": (dict(node="w1", email="a@example.com"), "RFC822Name"),
    "a node not in the plan": (dict(node="intruder"), "'intruder', which is not in the plan"),
    "a user, not a node": (dict(node="w1", username="alice"), "'alice', not by a node"),
    "no system:nodes group": (dict(node="w1", groups=["system:authenticated"]), "not in group"),
    "another subject": (dict(node="w1", cn="system:node:cp1"), "CN=system:node:cp1"),
    "no organisation": (dict(node="w1", orgs=[]), "O=;"),
    "client usage": (dict(node="w1", usages=["digital signature", "client auth"]), "usages"),
    "no name at all": (dict(node="w1", dns=[], ips=[]), "no DNS name and no IP address"),
    "not a request": (dict(node="w1", request="bm90IGEgY3Ny"), "not a PEM certificate request"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_request_that_is_not_the_nodes_own_is_left_pending(ha_plan: Plan, case: str) -> None:
    kwargs, expected = WRONG[case]
    (request,) = parse_requests(listing(csr_item("csr-x", **kwargs)))  # type: ignore[arg-type]
    why = judge(request, ha_plan)
    assert why is not None
    assert expected in why


def test_other_signers_are_not_ours() -> None:
    client = csr_item("client", "w1", signer="kubernetes.io/kube-apiserver-client-kubelet")
    assert parse_requests(listing(client)) == ()
    assert parse_requests("not json") == ()
    assert parse_requests(None) == ()


def test_plan_approves_the_good_and_says_why_the_others_wait(ha_plan: Plan) -> None:
    requests = parse_requests(
        listing(
            csr_item("csr-w1", "w1", ips=["2001:db8:1234:5678::21"]),
            csr_item("csr-w2", "w2", ips=["2001:db8:1234:5678::22"]),
            csr_item("csr-bad", "w2", ips=["2001:db8::66"]),
            csr_item("csr-old", "w1", conditions=["Approved"]),
            csr_item("csr-denied", "w1", conditions=["Denied"]),
        )
    )
    step_plan = plan_serving(context(ha_plan, "cp1"), ServingFacts(requests, ("w1", "w2")))
    (action,) = step_plan.actions
    assert action.display == (
        "kubectl --kubeconfig /etc/kubernetes/admin.conf certificate approve csr-w1 csr-w2"
    )
    (note,) = step_plan.notes
    assert note.startswith("left pending: csr-bad: it names the address(es) 2001:db8::66")


def test_plan_is_done_when_every_kubelet_has_its_certificate(ha_plan: Plan) -> None:
    bad = parse_requests(listing(csr_item("csr-bad", "intruder")))
    step_plan = plan_serving(context(ha_plan, "cp1"), ServingFacts(bad, ()))
    assert step_plan.noop is not None
    assert step_plan.noop.startswith("every kubelet has its serving certificate")
    assert "csr-bad" in step_plan.noop


def test_plan_stops_when_a_kubelet_has_nothing_acceptable(ha_plan: Plan) -> None:
    bad = parse_requests(listing(csr_item("csr-bad", "w1", ips=["2001:db8::66"])))
    step_plan = plan_serving(context(ha_plan, "cp1"), ServingFacts(bad, ("w1",)))
    assert step_plan.refuse is not None
    assert "w1 has no serving certificate" in step_plan.refuse
    assert "2001:db8::66" in step_plan.refuse
    assert "journalctl -u kubelet" in step_plan.fix


def test_dry_run_shows_what_would_be_approved(ha_plan: Plan) -> None:
    ctx = context(ha_plan, "cp1", dry_run=True, fresh=True)
    step_plan = plan_serving(ctx, serving.fresh_serving(ctx))
    (action,) = step_plan.actions
    assert action.display == "kubectl --kubeconfig /etc/kubernetes/admin.conf get csr"
    assert "cp1" in action.why


def test_read_finds_joined_nodes_without_a_certificate(ha_plan: Plan) -> None:
    pki = serving.SERVING_CERT
    cp1 = RecordingExecutor(host="cp1")
    cp1.reply(("test", "-e", serving.KUBELET_CONF))
    cp1.reply(("test", "-e", pki))
    w1 = RecordingExecutor(host="w1")
    w1.reply(("test", "-e", serving.KUBELET_CONF))
    w1.reply(("test", "-e", pki), exit_code=1)
    w2 = RecordingExecutor(host="w2")  # has not joined: not waited for
    w2.reply(("test", "-e", serving.KUBELET_CONF), exit_code=1)
    cp1.reply(
        ("kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "csr", "-o", "json"),
        stdout=listing(csr_item("csr-w1", "w1", ips=["2001:db8:1234:5678::21"])),
    )
    from kube6.components.registry import make_contexts
    from kube6.steps import RunOptions

    ctx = make_contexts(ha_plan, {"cp1": cp1, "w1": w1, "w2": w2}, RunOptions())["cp1"]
    facts = arun(serving.read_serving(ctx))
    assert facts.without_certificate == ("w1",)
    assert [r.name for r in facts.requests] == ["csr-w1"]
    assert plan_serving(ctx, facts).actions[0].display.endswith("certificate approve csr-w1")
