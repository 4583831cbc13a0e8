"""control-plane/* and join/*: kubeadm init once, kubeconfig, taint; token, CA hash, joins."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from kube6.components.kubeadm import control_plane, join
from kube6.components.kubeadm.control_plane import Account, InitFacts, KubeconfigFacts, TaintFacts
from kube6.components.kubeadm.render import INIT_PATH
from kube6.errors import Kube6Error
from kube6.execute import RecordingExecutor
from kube6.plan.model import Plan
from kube6.render.base import CA_CERT_HASH, CERTIFICATE_KEY, JOIN_TOKEN
from kube6.steps import StepPlan
from kube6.steps.base import Exec, PutFile

from .conftest import arun, context
from .test_secrets import ca_pem


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def test_init_runs_once(plan: Plan) -> None:
    ctx = context(plan)
    step_plan = control_plane.plan_init(ctx, InitFacts(False))
    init = ctx.files[INIT_PATH]
    assert shown(step_plan) == [
        f"write /etc/kubernetes/kubeadm/init.yaml (mode {init.mode:04o}, {len(init.content)} bytes)",
        "kubeadm init --config /etc/kubernetes/kubeadm/init.yaml --skip-token-print",
    ]
    run = step_plan.actions[1]
    assert isinstance(run, Exec)
    assert run.secret_output  # kubeadm init's output would carry the bootstrap token
    assert control_plane.plan_init(ctx, InitFacts(True)).noop == (
        "/etc/kubernetes/admin.conf exists: the cluster is initialised (kubeadm init never runs twice)"
    )


def test_an_interrupted_init_is_finished_not_restarted(plan: Plan) -> None:
    """Found by the e2e journey: `up` killed during kubeadm init left admin.conf without the
    kubeadm-config ConfigMap, the control-plane label or kube-proxy, and the next `up` took the
    cluster for initialised. kubeadm init runs again without its preflight phase."""
    ctx = context(plan)
    step_plan = control_plane.plan_init(ctx, InitFacts(True, complete=False))
    assert shown(step_plan)[-1] == (
        "kubeadm init --config /etc/kubernetes/kubeadm/init.yaml --skip-token-print "
        "--skip-phases=preflight"
    )
    run = step_plan.actions[-1]
    assert isinstance(run, Exec)
    assert "finish the interrupted kubeadm init" in run.why
    assert run.secret_output


def test_init_of_a_multi_node_plan_makes_its_token_and_key_on_the_host(ha_plan: Plan) -> None:
    """Issue 14: init.yaml went to kubeadm with `${KUBE6_JOIN_TOKEN}` unfilled."""
    ctx = context(ha_plan, "cp1")
    step_plan = control_plane.plan_init(ctx, InitFacts(False))
    assert shown(step_plan) == [
        "kubeadm token generate",
        "kubeadm certs certificate-key",
        f"write {INIT_PATH} (mode 0600, {len(ctx.files[INIT_PATH].content)} bytes)",
        f"kubeadm init --config {INIT_PATH} --skip-token-print --upload-certs",
        f"write {INIT_PATH} (mode 0600, {len(ctx.files[INIT_PATH].content)} bytes)",
    ]
    token, key, filled, _init, restore = step_plan.actions
    assert isinstance(token, Exec)
    assert isinstance(key, Exec)
    assert (token.capture, key.capture) == (JOIN_TOKEN, CERTIFICATE_KEY)
    assert token.secret_output
    assert key.secret_output
    assert isinstance(filled, PutFile)
    assert filled.filled
    assert isinstance(restore, PutFile)
    assert not restore.filled
    assert JOIN_TOKEN in restore.content
    # secrets travel through stdout, never through argv
    assert all(
        "${" not in " ".join(a.command.argv) for a in step_plan.actions if isinstance(a, Exec)
    )


def test_init_step_writes_init_yaml_filled(ha_plan: Plan) -> None:
    from kube6.components.registry import UP_STEPS, make_contexts
    from kube6.steps import RunOptions, run_steps

    token, key = "abcdef.0123456789abcdef", "c" * 64
    ex = RecordingExecutor(host="cp1", default=None)
    ex.reply(("test", "-e", "/etc/kubernetes/admin.conf"), exit_code=1)
    ex.reply(("kubeadm", "token", "generate"), stdout=token + "\n")
    ex.reply(("kubeadm", "certs", "certificate-key"), stdout=key + "\n")
    ex.reply(("mkdir", "-p", "/etc/kubernetes/kubeadm"))
    ex.reply(("kubeadm", "init", "--config", INIT_PATH, "--skip-token-print", "--upload-certs"))
    seen: list[str] = []
    put = ex.put

    async def record(path: str, content: str, mode: int = 0o644) -> None:
        seen.append(content)
        await put(path, content, mode)

    ex.put = record  # type: ignore[method-assign]
    contexts = make_contexts(ha_plan, {"cp1": ex}, RunOptions(verify=False))
    report = arun(run_steps(UP_STEPS, contexts, only=["control-plane/init"]))
    assert report.ok, report.results
    assert f"token: {token}" in seen[0]
    assert f"certificateKey: {key}" in seen[0]
    assert "${KUBE6_" not in seen[0]
    assert ex.files[INIT_PATH] == (ctx_content := seen[1], 0o600)
    assert JOIN_TOKEN in ctx_content


def test_init_refuses_a_token_kubeadm_did_not_print(ha_plan: Plan) -> None:
    from kube6.components.registry import UP_STEPS, make_contexts
    from kube6.steps import RunOptions, Status, run_steps

    ex = RecordingExecutor(host="cp1")
    ex.reply(("test", "-e", "/etc/kubernetes/admin.conf"), exit_code=1)
    ex.reply(("kubeadm", "token", "generate"), stdout="\n")
    contexts = make_contexts(ha_plan, {"cp1": ex}, RunOptions(verify=False))
    (result,) = arun(run_steps(UP_STEPS, contexts, only=["control-plane/init"])).results
    assert result.status is Status.FAILED
    assert "did not print a bootstrap token" in result.detail
    assert not any(c.argv[:2] == ("kubeadm", "init") for c in ex.commands)


def test_kubeconfig_for_the_invoking_user(plan: Plan) -> None:
    ctx = context(plan)
    facts = KubeconfigFacts(Account("/home/ops", "1000", "1000"), "a" * 64, None)
    assert shown(control_plane.plan_kubeconfig(ctx, facts)) == [
        "install -d -m 0700 -o 1000 -g 1000 /home/ops/.kube",
        "install -m 0600 -o 1000 -g 1000 /etc/kubernetes/admin.conf /home/ops/.kube/config",
    ]
    same = KubeconfigFacts(Account("/home/ops", "1000", "1000"), "a" * 64, "a" * 64)
    assert control_plane.plan_kubeconfig(ctx, same).noop == (
        "/home/ops/.kube/config is the cluster admin's kubeconfig"
    )


def test_kubeconfig_read_follows_sudo(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply(("printenv", "SUDO_USER"), stdout="ops\n")
    ex.reply(("getent", "passwd", "ops"), stdout="ops:x:1000:1001:Ops:/home/ops:/bin/bash\n")
    ex.reply(
        ("sha256sum", "/etc/kubernetes/admin.conf", "/home/ops/.kube/config"),
        exit_code=1,
        stdout=f"{'b' * 64}  /etc/kubernetes/admin.conf\n",
        stderr="sha256sum: /home/ops/.kube/config: No such file or directory\n",
    )
    facts = arun(control_plane.read_kubeconfig(context(plan, executor=ex)))
    assert facts == KubeconfigFacts(Account("/home/ops", "1000", "1001"), "b" * 64, None)


def test_taint_removed_only_on_workers(plan: Plan, ha_plan: Plan) -> None:
    ctx = context(plan)
    tainted = TaintFacts(("node-role.kubernetes.io/control-plane",))
    assert shown(control_plane.plan_taint(ctx, tainted)) == [
        "kubectl --kubeconfig /etc/kubernetes/admin.conf taint node node0001 "
        "node-role.kubernetes.io/control-plane:NoSchedule-"
    ]
    assert control_plane.plan_taint(ctx, TaintFacts(())).noop == (
        "node0001 has no control-plane taint: pods may run on it"
    )
    assert control_plane.plan_taint(context(ha_plan, "cp1"), tainted).noop == (
        "cp1 is a control plane only: it keeps its taint"
    )


def test_ca_cert_hash_is_the_spki_sha256() -> None:
    pem = ca_pem()
    der = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout"],
        input=pem,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=der.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert join.ca_cert_hash(pem) == hashlib.sha256(spki).hexdigest()


def test_parsers_of_kubeadm_output() -> None:
    assert control_plane.parse_token("abcdef.0123456789abcdef\n") == "abcdef.0123456789abcdef"
    with pytest.raises(Kube6Error):
        control_plane.parse_token("error: cluster unreachable")
    key = "0123456789abcdef" * 4
    text = f"[upload-certs] Storing the certificates in Secret\n[upload-certs] Using certificate key:\n{key}\n"
    assert control_plane.parse_certificate_key(text) == key
    with pytest.raises(Kube6Error):
        control_plane.parse_certificate_key("nothing")


def test_credentials(ha_plan: Plan) -> None:
    pem = ca_pem()
    ctx = context(ha_plan, "cp1")
    step_plan = join.plan_credentials(ctx, join.CredentialFacts(("cp2", "w1"), True, pem))
    assert shown(step_plan) == [
        "kubeadm token create --ttl 30m --description 'kube6 up'",
        "kubeadm init phase upload-certs --upload-certs",
    ]
    assert [a.capture for a in step_plan.actions if isinstance(a, Exec)] == [
        JOIN_TOKEN,
        CERTIFICATE_KEY,
    ]
    assert all(isinstance(a, Exec) and a.secret_output for a in step_plan.actions)
    assert step_plan.values == {CA_CERT_HASH: join.ca_cert_hash(pem)}
    workers_only = join.plan_credentials(ctx, join.CredentialFacts(("w1",), False, pem))
    assert shown(workers_only) == ["kubeadm token create --ttl 30m --description 'kube6 up'"]
    assert (
        join.plan_credentials(ctx, join.CredentialFacts((), False, pem)).noop
        == "no node is waiting to join"
    )


def test_join_fills_the_config_and_leaves_no_token(ha_plan: Plan) -> None:
    ctx = context(ha_plan, "w1")
    token, ca = "abcdef.0123456789abcdef", "c" * 64
    ctx.state.values.update({JOIN_TOKEN: token, CA_CERT_HASH: ca})
    step_plan = join.plan_join(ctx, join.JoinFacts(False))
    first, run, last = step_plan.actions
    assert isinstance(first, PutFile)
    assert isinstance(last, PutFile)
    assert first.mode == 0o600
    assert f"token: {token}" in first.content
    assert f"sha256:{ca}" in first.content
    assert token not in first.shown_content
    assert run.display == "kubeadm join --config /etc/kubernetes/kubeadm/join.yaml"
    assert JOIN_TOKEN in last.content
    assert (
        join.plan_join(ctx, join.JoinFacts(True)).noop
        == "w1 has joined (/etc/kubernetes/kubelet.conf exists)"
    )


def test_join_without_credentials_says_which_step_is_missing(ha_plan: Plan) -> None:
    with pytest.raises(Kube6Error, match="join/credentials"):
        join.plan_join(context(ha_plan, "w2"), join.JoinFacts(False))


def test_credentials_read_asks_every_other_node(ha_plan: Plan) -> None:
    from kube6.components.registry import make_contexts
    from kube6.steps import RunOptions

    exs = {n.name: RecordingExecutor(host=n.name) for n in ha_plan.nodes}
    for name, ex in exs.items():
        ex.reply(("test", "-e", "/etc/kubernetes/kubelet.conf"), exit_code=0 if name == "w2" else 1)
    contexts = make_contexts(ha_plan, exs, RunOptions())
    facts = arun(join.read_credentials(contexts["cp1"]))
    assert facts == join.CredentialFacts(("cp2", "w1"), True, None)
