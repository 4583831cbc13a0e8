"""join: a fresh token and the CA hash from the first control plane; the other nodes join;
the kubelets' serving certificates are approved (`kube6.components.kubeadm.serving`).

Extra control-plane nodes join one at a time (each adds an etcd member) with a certificate key
from `kubeadm init phase upload-certs`; workers join in parallel. The filled join
configuration exists on the host only while `kubeadm join` runs (mode 0600); afterwards the
rendered file with its placeholders takes its place. Tokens live 30 minutes and never reach a
log: they are run-time secrets, masked in every output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kube6.components.kubeadm import serving
from kube6.components.kubeadm.control_plane import parse_certificate_key, parse_token
from kube6.components.kubeadm.render import JOIN, JOIN_PATH
from kube6.execute.command import Command
from kube6.render.base import CA_CERT_HASH, CERTIFICATE_KEY, JOIN_TOKEN, fill_placeholders
from kube6.steps import files, probe
from kube6.steps.base import Exec, HostContext, PutFile, Step, StepPlan, Targets

KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
CA_CERT = "/etc/kubernetes/pki/ca.crt"
JOIN_TTL = "30m"


def ca_cert_hash(pem: str) -> str:
    """kubeadm's discovery hash: SHA-256 of the CA certificate's SubjectPublicKeyInfo (hex)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_pem_x509_certificate(pem.encode())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


@dataclass(frozen=True)
class CredentialFacts:
    pending: tuple[str, ...]
    """Nodes that have not joined yet."""
    pending_control_planes: bool
    ca_pem: str | None


def _joiners(ctx: HostContext) -> list[str]:
    first = ctx.plan.first_control_plane.name
    return [n.name for n in ctx.plan.nodes if n.name != first]


async def read_credentials(ctx: HostContext) -> CredentialFacts:
    pending = []
    for name in _joiners(ctx):
        executor = ctx.state.executors.get(name)
        if executor is None:
            continue  # not part of this run (--node)
        done = await executor.run(("test", "-e", KUBELET_CONF), check=False)
        if not done.ok:
            pending.append(name)
    return CredentialFacts(
        tuple(pending),
        any(ctx.plan.node(n).is_control_plane for n in pending),
        await probe.read_text(ctx, CA_CERT),
    )


def fresh_credentials(ctx: HostContext) -> CredentialFacts:
    names = tuple(n for n in _joiners(ctx) if n in ctx.state.executors)
    return CredentialFacts(names, any(ctx.plan.node(n).is_control_plane for n in names), None)


def plan_credentials(ctx: HostContext, facts: CredentialFacts) -> StepPlan:
    """`kubeadm token create` (30 min), the CA hash, and a certificate key for control planes."""
    if not facts.pending:
        return StepPlan.nothing("no node is waiting to join")
    actions = [
        Exec(
            Command(("kubeadm", "token", "create", "--ttl", JOIN_TTL, "--description", "kube6 up")),
            why=f"a bootstrap token for {', '.join(facts.pending)}",
            capture=JOIN_TOKEN,
            parse=parse_token,
            secret_output=True,
        )
    ]
    if facts.pending_control_planes:
        actions.append(
            Exec(
                Command(("kubeadm", "init", "phase", "upload-certs", "--upload-certs")),
                why="control planes fetch the cluster certificates with this key (valid 2 hours)",
                capture=CERTIFICATE_KEY,
                parse=parse_certificate_key,
                secret_output=True,
                shell_filter="tail -n 1",
            )
        )
    ca_hash = ca_cert_hash(facts.ca_pem) if facts.ca_pem else CA_CERT_HASH
    note = f"{CA_CERT_HASH[2:-1]}: kube6 computes it from {CA_CERT}; by hand:"
    by_hand = (
        f'{CA_CERT_HASH[2:-1]}="$(openssl x509 -pubkey -noout -in {CA_CERT} '
        "| openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)\"",
    )
    return StepPlan.do(*actions, values={CA_CERT_HASH: ca_hash}, notes=(note,), script=by_hand)


@dataclass(frozen=True)
class JoinFacts:
    joined: bool


async def read_join(ctx: HostContext) -> JoinFacts:
    return JoinFacts(await probe.exists(ctx, KUBELET_CONF))


def fresh_join(ctx: HostContext) -> JoinFacts:
    return JoinFacts(False)


def plan_join(ctx: HostContext, facts: JoinFacts) -> StepPlan:
    """Put the join configuration with the token filled in (0600), `kubeadm join`, then put
    the placeholder version back so no token stays on disk."""
    if facts.joined:
        return StepPlan.nothing(f"{ctx.node.name} has joined ({KUBELET_CONF} exists)")
    artifact = files.rendered(ctx, JOIN)
    if artifact is None:
        return StepPlan.stop(
            f"no {JOIN_PATH} was rendered for {ctx.node.name}",
            fix="this is a kube6 bug: `kube6 render` should write it; please report it",
        )
    markers = [m for m in (JOIN_TOKEN, CA_CERT_HASH, CERTIFICATE_KEY) if m in artifact.content]
    values = {m: ctx.value(m) for m in markers}
    secrets: tuple[str, ...] = ()
    filled = artifact.content
    if not ctx.dry_run:
        filled = fill_placeholders(artifact.content, values)
        secrets = tuple(v for m, v in values.items() if m != CA_CERT_HASH)
    return StepPlan.do(
        PutFile(
            JOIN_PATH,
            filled,
            0o600,
            why="token and CA hash filled in",
            secrets=secrets,
            filled=True,
        ),
        Exec(
            Command(("kubeadm", "join", "--config", JOIN_PATH)),
            why="join the cluster",
            secret_output=True,
        ),
        PutFile(JOIN_PATH, artifact.content, 0o600, why="no token left on disk"),
    )


STEP: Step[object] = Step(
    "join",
    "A fresh token and the CA hash; other control planes join one by one, workers at once.",
    children=(
        Step(
            "credentials",
            "kubeadm token create, the CA hash, a certificate key (when control planes join).",
            plan_credentials,
            read_credentials,
            fresh_credentials,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
            verify=False,
        ),
        Step(
            "control-plane",
            "Extra control-plane nodes join, one at a time.",
            plan_join,
            read_join,
            fresh_join,
            targets=Targets.OTHER_CONTROL_PLANES,
            serial=True,
            needs_cluster=True,
        ),
        Step(
            "workers",
            "Worker nodes join, in parallel.",
            plan_join,
            read_join,
            fresh_join,
            targets=Targets.WORKERS_ONLY,
            needs_cluster=True,
        ),
        Step(
            "serving-certs",
            "The kubelets' serving certificate requests approved when they name only the "
            "node's planned name and address (kubectl logs/exec need them).",
            serving.plan_serving,
            serving.read_serving,
            serving.fresh_serving,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
    ),
)
