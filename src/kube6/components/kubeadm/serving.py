"""join/serving-certs: approve the kubelets' serving certificate requests, and only those.

kube6's KubeletConfiguration sets `serverTLSBootstrap: true`: each kubelet asks the cluster CA
for its serving certificate (signer `kubernetes.io/kubelet-serving`) instead of signing one
itself, so the API server can check whom it talks to on port 10250 (`kubectl logs/exec`,
metrics). Kubernetes approves no such request by itself (only client certificates are
auto-approved): without this step every `kubectl logs/exec` fails with a TLS error.

A request is approved only when all of this holds, and it is otherwise left pending with the
reason in the step's output (the checks of kubelet-csr-approver and of the kubelet's own
serving-certificate request; never blanket approval):

- signer `kubernetes.io/kubelet-serving`, requested by `system:node:<name>` in group
  `system:nodes`, where `<name>` is a node of the plan;
- the request's subject is `CN=system:node:<name>, O=system:nodes`;
- its usages are server auth and digital signature (key encipherment allowed);
- its DNS names are at most the node's name, its IP addresses at most the node's planned
  address, and it names at least one of them.

The kubelet renews its serving certificate before it expires (after most of the CA's signing
duration, a year by default) with a new request: `kube6 up` approves it on its next run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from kube6.plan.model import Plan
from kube6.steps.base import HostContext, StepPlan, run
from kube6.steps.kubectl import kubectl

SIGNER = "kubernetes.io/kubelet-serving"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
SERVING_CERT = "/var/lib/kubelet/pki/kubelet-server-current.pem"
"""Where the kubelet keeps its issued serving certificate (a link to the current one)."""
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
ALLOWED_USAGES = frozenset({"digital signature", "server auth", "key encipherment"})
REQUIRED_USAGES = frozenset({"digital signature", "server auth"})
WAIT_SECONDS = 120.0
"""How long to wait for a joining kubelet's request (it asks seconds after it starts)."""
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class ServingRequest:
    """One kubelet-serving CertificateSigningRequest, as read from the API."""

    name: str
    username: str
    groups: tuple[str, ...]
    usages: tuple[str, ...]
    state: str
    """`pending`, `approved` or `denied` (a failed request counts as denied)."""
    subject_cn: str | None
    subject_o: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    error: str | None = None
    """Why the request itself could not be read (not PEM, not a CSR)."""


def _state(status: dict[str, Any]) -> str:
    conditions = status.get("conditions") or []
    types = {str(c.get("type")) for c in conditions if isinstance(c, dict)}
    if types & {"Denied", "Failed"}:
        return "denied"
    if "Approved" in types:
        return "approved"
    return "pending"


def _decode(request: str) -> tuple[str | None, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(CN, O values, DNS names, IP addresses) of a base64 PEM certificate request."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    csr = x509.load_pem_x509_csr(base64.b64decode(request, validate=True))
    cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (str(cns[0].value) if cns else None, tuple(str(o.value) for o in orgs), (), ())
    dns = tuple(san.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    other = [n for n in san if not isinstance(n, x509.DNSName | x509.IPAddress)]
    if other:
        # An e-mail or URI name has no place in a kubelet's serving certificate.
        dns += tuple(f"<{type(n).__name__}>" for n in other)
    return (str(cns[0].value) if cns else None, tuple(str(o.value) for o in orgs), dns, ips)


def parse_requests(text: str | None) -> tuple[ServingRequest, ...]:
    """The kubelet-serving requests in `kubectl get csr -o json` (others are not ours)."""
    if not text:
        return ()
    try:
        items = json.loads(text).get("items", [])
    except (ValueError, AttributeError):
        return ()
    out = []
    for item in items:
        spec = item.get("spec") or {}
        if spec.get("signerName") != SIGNER:
            continue
        error = None
        cn: str | None = None
        orgs: tuple[str, ...] = ()
        dns: tuple[str, ...] = ()
        ips: tuple[str, ...] = ()
        try:
            cn, orgs, dns, ips = _decode(str(spec.get("request", "")))
        except ValueError as exc:
            error = f"its request is not a PEM certificate request ({exc})"
        out.append(
            ServingRequest(
                name=str((item.get("metadata") or {}).get("name", "")),
                username=str(spec.get("username", "")),
                groups=tuple(spec.get("groups") or ()),
                usages=tuple(spec.get("usages") or ()),
                state=_state(item.get("status") or {}),
                subject_cn=cn,
                subject_o=orgs,
                dns_names=dns,
                ip_addresses=ips,
                error=error,
            )
        )
    return tuple(out)


def judge(request: ServingRequest, plan: Plan) -> str | None:
    """None when `request` is a planned node's own serving request, else why it is not."""
    if request.error:
        return request.error
    if not request.username.startswith(NODE_PREFIX):
        return f"requested by {request.username!r}, not by a node (system:node:<name>)"
    name = request.username.removeprefix(NODE_PREFIX)
    node = next((n for n in plan.nodes if n.name == name), None)
    if node is None:
        return f"requested by node {name!r}, which is not in the plan"
    if NODES_GROUP not in request.groups:
        return f"the requester is not in group {NODES_GROUP}"
    if request.subject_cn != request.username or request.subject_o != (NODES_GROUP,):
        return (
            f"its subject is CN={request.subject_cn}, O={','.join(request.subject_o)}; "
            f"a kubelet asks for CN={request.username}, O={NODES_GROUP}"
        )
    usages = set(request.usages)
    if not usages >= REQUIRED_USAGES or not usages <= ALLOWED_USAGES:
        return f"its usages {sorted(usages)} are not those of a serving certificate"
    if not request.dns_names and not request.ip_addresses:
        return "it names no DNS name and no IP address"
    stray_names = [d for d in request.dns_names if d != node.name]
    if stray_names:
        return f"it names {', '.join(stray_names)}; node {name} is only {node.name!r}"
    stray_ips = []
    for text in request.ip_addresses:
        try:
            if ip_address(text) != node.address:
                stray_ips.append(text)
        except ValueError:
            stray_ips.append(text)
    if stray_ips:
        return (
            f"it names the address(es) {', '.join(stray_ips)}; node {name}'s planned "
            f"address is {node.address}"
        )
    return None


@dataclass(frozen=True)
class ServingFacts:
    requests: tuple[ServingRequest, ...]
    without_certificate: tuple[str, ...]
    """Nodes of this run that have joined and whose kubelet has no serving certificate yet."""


async def _read_once(ctx: HostContext) -> ServingFacts:
    missing = []
    for name, executor in ctx.state.executors.items():
        # A node that has not joined has no kubelet to ask: that is join's failure, not ours.
        joined = ("test", "-e", KUBELET_CONF)
        have = ("test", "-e", SERVING_CERT)
        if (await executor.run(joined, check=False)).ok and not (
            await executor.run(have, check=False)
        ).ok:
            missing.append(name)
    listed = await ctx.executor.run(kubectl(ctx, "get", "csr", "-o", "json"), check=False)
    requests = parse_requests(listed.stdout if listed.ok else None)
    return ServingFacts(requests, tuple(n.name for n in ctx.plan.nodes if n.name in missing))


def _settled(facts: ServingFacts) -> bool:
    """Every node without a certificate has a request waiting (or nothing is missing)."""
    waiting = {r.username for r in facts.requests if r.state == "pending"}
    return all(f"{NODE_PREFIX}{n}" in waiting for n in facts.without_certificate)


async def read_serving(ctx: HostContext) -> ServingFacts:
    """The requests and the nodes without a certificate; waits (up to WAIT_SECONDS) for the
    request of a kubelet that has just joined, or for the certificate of an approved one."""
    deadline = time.monotonic() + WAIT_SECONDS
    facts = await _read_once(ctx)
    while not ctx.dry_run and not _settled(facts) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        facts = await _read_once(ctx)
    return facts


def fresh_serving(ctx: HostContext) -> ServingFacts:
    names = tuple(n.name for n in ctx.plan.nodes if n.name in ctx.state.executors)
    return ServingFacts((), names)


def plan_serving(ctx: HostContext, facts: ServingFacts) -> StepPlan:
    """Approve the pending kubelet-serving requests that `judge` finds are the nodes' own."""
    pending = [r for r in facts.requests if r.state == "pending"]
    verdicts = [(r, judge(r, ctx.plan)) for r in pending]
    approve = sorted(r.name for r, why in verdicts if why is None)
    refused = tuple(f"left pending: {r.name}: {why}" for r, why in verdicts if why is not None)
    if approve:
        return StepPlan.do(
            run(
                *kubectl(ctx, "certificate", "approve", *approve),
                why="the kubelets' serving certificates, for kubectl logs/exec",
            ),
            notes=refused,
        )
    if not facts.without_certificate:
        reason = "every kubelet has its serving certificate"
        return StepPlan.nothing("; ".join((reason, *refused)))
    nodes = ", ".join(facts.without_certificate)
    if ctx.dry_run:
        return StepPlan.do(
            run(
                *kubectl(ctx, "get", "csr"),
                why=f"kube6 approves the kubelet-serving requests of {nodes} that name only "
                "the node's planned name and address",
            ),
            notes=(
                "by hand: kubectl certificate approve <name> for each such request "
                f"(signer {SIGNER}, requestor system:node:<node>)",
            ),
        )
    return StepPlan.stop(
        f"the kubelet on {nodes} has no serving certificate and no acceptable request for one"
        + (f" ({'; '.join(refused)})" if refused else ""),
        fix=f"check `journalctl -u kubelet` on {nodes} and `kubectl get csr`; "
        "then run `kube6 up` again",
    )
