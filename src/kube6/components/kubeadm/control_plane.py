"""control-plane: `kubeadm init` on the first control-plane node, once; kubeconfig; taint.

kubeadm init runs only when /etc/kubernetes/admin.conf is absent: a second `up` never
re-initialises a cluster. An init that was interrupted (admin.conf written, but kubeadm's
later phases, up to its kube-proxy addon, never ran: seen when `up` was killed with its SSH
session) is finished by running kubeadm init again without its preflight phase, which keeps the
certificates, kubeconfigs and etcd data on disk and creates or updates the rest.

kubeadm prints a join command with a bootstrap token, so its output is never shown
(`--skip-token-print`, and the runner hides the output of secret commands).

On a multi-node plan init.yaml carries a bootstrap token and (several control planes) a
certificate key. The step makes them on the host with kubeadm itself (`kubeadm token
generate`, `kubeadm certs certificate-key`: printed to a pipe, never on a command line), the
runner fills them into the file as it writes it (mode 0600), and once init is done the
placeholder version takes the file's place again, so no secret stays on disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kube6.components.kubeadm.render import INIT, INIT_PATH
from kube6.errors import Kube6Error
from kube6.execute.command import Command
from kube6.render.base import CERTIFICATE_KEY, JOIN_TOKEN, SECRET_MODE
from kube6.steps import files, probe
from kube6.steps.base import Exec, HostContext, PutFile, Step, StepPlan, Targets, run
from kube6.steps.kubectl import ADMIN_CONF, kubectl

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def parse_certificate_key(output: str) -> str:
    """The key from `kubeadm init phase upload-certs --upload-certs` (its last 64-hex word)."""
    found = _HEX64.findall(output)
    if not found:
        raise Kube6Error(
            "kubeadm init phase upload-certs printed no certificate key",
            fix="run it by hand on the first control-plane node and check its output",
        )
    return str(found[-1])


def parse_token(output: str) -> str:
    token = output.strip().splitlines()[-1].strip() if output.strip() else ""
    if not re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token):
        raise Kube6Error(
            "kubeadm did not print a bootstrap token (`kubeadm token create` or `generate`)",
            fix="run `kubeadm token list` on the first control-plane node to see what is wrong",
        )
    return token


@dataclass(frozen=True)
class InitFacts:
    initialised: bool
    """admin.conf exists: kubeadm init has run on this host, at least partly."""
    complete: bool = True
    """The objects of kubeadm init's last phases exist (its ConfigMap, the kube-proxy addon)."""


INIT_DONE = ("configmap/kubeadm-config", "daemonset/kube-proxy")
"""What the end of kubeadm init leaves in kube-system: upload-config's ConfigMap and the
kube-proxy DaemonSet of the addon phase, kubeadm's last."""


async def read_init(ctx: HostContext) -> InitFacts:
    if not await probe.exists(ctx, ADMIN_CONF):
        return InitFacts(False, False)
    found = await probe.exit_code(
        ctx, *kubectl(ctx, "-n", "kube-system", "get", *INIT_DONE, "--request-timeout=30s")
    )
    return InitFacts(True, found == 0)


def fresh_init(ctx: HostContext) -> InitFacts:
    return InitFacts(False)


def _secrets(content: str) -> list[Exec]:
    """The commands that make the bootstrap token and the certificate key that the rendered
    InitConfiguration `content` asks for (their output is captured, never shown)."""
    secrets: list[Exec] = []
    if JOIN_TOKEN in content:
        secrets.append(
            Exec(
                Command(("kubeadm", "token", "generate")),
                why="the bootstrap token that init creates and the other nodes join with",
                capture=JOIN_TOKEN,
                parse=parse_token,
                secret_output=True,
            )
        )
    if CERTIFICATE_KEY in content:
        secrets.append(
            Exec(
                Command(("kubeadm", "certs", "certificate-key")),
                why="the key that encrypts the control-plane certificates for the other masters",
                capture=CERTIFICATE_KEY,
                parse=parse_certificate_key,
                secret_output=True,
            )
        )
    return secrets


def plan_init(ctx: HostContext, facts: InitFacts) -> StepPlan:
    """Put the rendered InitConfiguration and run `kubeadm init --config` (first time only)."""
    if facts.initialised and facts.complete:
        return StepPlan.nothing(
            f"{ADMIN_CONF} exists: the cluster is initialised (kubeadm init never runs twice)"
        )
    artifact = files.rendered(ctx, INIT)
    if artifact is None:
        return StepPlan.stop(
            f"no {INIT_PATH} was rendered for {ctx.node.name}, the first control-plane node",
            fix="this is a kube6 bug: `kube6 render` should write it; please report it",
        )
    secrets = _secrets(artifact.content)
    init = ["kubeadm", "init", "--config", INIT_PATH, "--skip-token-print"]
    why = "create the cluster (control plane, etcd, certificates)"
    if facts.initialised:
        # Preflight refuses a host with manifests, etcd data and a listening API server; every
        # later phase reuses what is on disk and creates or updates the cluster's objects.
        init.append("--skip-phases=preflight")
        why = (
            f"finish the interrupted kubeadm init ({', '.join(INIT_DONE)} missing); "
            "certificates, kubeconfigs and etcd data are kept"
        )
    if CERTIFICATE_KEY in artifact.content:
        # Without --upload-certs kubeadm ignores certificateKey and uploads nothing.
        init.append("--upload-certs")
    if not secrets:
        return StepPlan.do(
            PutFile(INIT_PATH, artifact.content, artifact.mode, why="the cluster's configuration"),
            Exec(
                Command(tuple(init)),
                why=why,
                secret_output=True,
            ),
        )
    return StepPlan.do(
        *secrets,
        PutFile(
            INIT_PATH,
            artifact.content,
            SECRET_MODE,
            why="the cluster's configuration, token and certificate key filled in",
            filled=True,
        ),
        Exec(
            Command(tuple(init)),
            why=why,
            secret_output=True,
        ),
        PutFile(INIT_PATH, artifact.content, SECRET_MODE, why="no token or key left on disk"),
    )


@dataclass(frozen=True)
class Account:
    home: str
    uid: str
    gid: str


@dataclass(frozen=True)
class KubeconfigFacts:
    account: Account
    admin_hash: str | None
    user_hash: str | None


def parse_sha256sum(text: str) -> dict[str, str]:
    """`sha256sum A B` output -> {path: hash} (missing files are simply absent)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, path = line.partition("  ")
        if len(digest) == 64 and path:
            out[path] = digest
    return out


def parse_passwd(line: str) -> Account | None:
    fields = line.strip().split(":")
    return Account(fields[5], fields[2], fields[3]) if len(fields) >= 7 else None


async def _account(ctx: HostContext) -> Account:
    # Under sudo the invoking user is SUDO_USER, not root: that is whose kubeconfig to write.
    sudo_user = (await probe.stdout(ctx, "printenv", "SUDO_USER") or "").strip()
    if sudo_user:
        entry = parse_passwd(await probe.stdout(ctx, "getent", "passwd", sudo_user) or "")
        if entry is not None:
            return entry
    uid = (await probe.stdout(ctx, "id", "-u") or "0").strip()
    gid = (await probe.stdout(ctx, "id", "-g") or "0").strip()
    home = (await probe.stdout(ctx, "printenv", "HOME") or "/root").strip()
    return Account(home, uid, gid)


def user_config(account: Account) -> str:
    return f"{account.home}/.kube/config"


async def read_kubeconfig(ctx: HostContext) -> KubeconfigFacts:
    account = await _account(ctx)
    admin, user = ADMIN_CONF, user_config(account)
    done = await ctx.executor.run(("sha256sum", admin, user), check=False)
    hashes = parse_sha256sum(done.stdout)
    return KubeconfigFacts(account, hashes.get(admin), hashes.get(user))


def fresh_kubeconfig(ctx: HostContext) -> KubeconfigFacts:
    return KubeconfigFacts(Account("/root", "0", "0"), None, None)


def plan_kubeconfig(ctx: HostContext, facts: KubeconfigFacts) -> StepPlan:
    """Copy admin.conf to the invoking user's ~/.kube/config, mode 0600, owned by them.

    The copy happens on the host (`install`): the credentials never travel through kube6.
    """
    target = user_config(facts.account)
    if facts.admin_hash is not None and facts.admin_hash == facts.user_hash:
        return StepPlan.nothing(f"{target} is the cluster admin's kubeconfig")
    owner = ("-o", facts.account.uid, "-g", facts.account.gid)
    return StepPlan.do(
        run("install", "-d", "-m", "0700", *owner, f"{facts.account.home}/.kube"),
        run(
            "install",
            "-m",
            "0600",
            *owner,
            ADMIN_CONF,
            target,
            why="kubectl works for you on this host",
        ),
    )


@dataclass(frozen=True)
class TaintFacts:
    taints: tuple[str, ...]


async def read_taint(ctx: HostContext) -> TaintFacts:
    if not ctx.node.is_worker:
        return TaintFacts(())
    jsonpath = "jsonpath={range .spec.taints[*]}{.key}{'\\n'}{end}"
    text = await probe.stdout(ctx, *kubectl(ctx, "get", "node", ctx.node.name, "-o", jsonpath))
    return TaintFacts(tuple((text or "").split()))


def fresh_taint(ctx: HostContext) -> TaintFacts:
    return TaintFacts(())


def plan_taint(ctx: HostContext, facts: TaintFacts) -> StepPlan:
    """Remove the control-plane taint when this node is also a worker."""
    if not ctx.node.is_worker:
        return StepPlan.nothing(f"{ctx.node.name} is a control plane only: it keeps its taint")
    if CONTROL_PLANE_TAINT not in facts.taints:
        return StepPlan.nothing(f"{ctx.node.name} has no control-plane taint: pods may run on it")
    return StepPlan.do(
        run(
            *kubectl(ctx, "taint", "node", ctx.node.name, f"{CONTROL_PLANE_TAINT}:NoSchedule-"),
            why="the node is also a worker",
        )
    )


STEP: Step[object] = Step(
    "control-plane",
    "kubeadm init on the first control-plane node (once), kubeconfig, taint.",
    children=(
        Step(
            "init",
            "kubeadm init --config with the rendered configuration, when there is no cluster.",
            plan_init,
            read_init,
            fresh_init,
            targets=Targets.FIRST_CONTROL_PLANE,
        ),
        Step(
            "kubeconfig",
            "admin.conf copied to the invoking user's ~/.kube/config (0600).",
            plan_kubeconfig,
            read_kubeconfig,
            fresh_kubeconfig,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
        Step(
            "taint",
            "The control-plane taint removed when the node is also a worker.",
            plan_taint,
            read_taint,
            fresh_taint,
            targets=Targets.FIRST_CONTROL_PLANE,
            needs_cluster=True,
        ),
    ),
)
