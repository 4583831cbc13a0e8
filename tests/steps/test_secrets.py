"""No secret reaches any output: progress (stderr), json, sh, errors; placeholders instead."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kube6.cli.app import run as cli
from kube6.components.kubeadm.join import ca_cert_hash
from kube6.components.registry import UP_STEPS, make_contexts
from kube6.execute import RecordingExecutor
from kube6.execute.command import Result
from kube6.plan.model import Plan
from kube6.render.base import CA_CERT_HASH, CERTIFICATE_KEY, JOIN_TOKEN
from kube6.steps import RunOptions, Status, host_script, run_steps

from .conftest import arun

FAKE_TOKEN = "kube6x.secretsecret0042"
FAKE_KEY = "f" * 60 + "0042"
INIT_TOKEN = "kube6i.initsecretin0042"
INIT_KEY = "e" * 60 + "0042"
TOKEN_SHAPE = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")


def ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.PEM).decode()


@pytest.mark.parametrize("output", ["table", "json", "sh"])
def test_dry_run_of_the_example_prints_no_secret(
    output: str, capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no kube6.yaml: the built-in example
    assert cli(["up", "--dry-run", "--output", output]) == 0
    out, err = capsys.readouterr()
    assert "built-in example" in err
    for text in (out, err):
        assert not TOKEN_SHAPE.search(text)
        assert FAKE_TOKEN not in text
        assert FAKE_KEY not in text
    if output == "sh":
        assert out.startswith("#!/bin/sh\n")
        assert "kubeadm init --config" in out
        assert "nft -f /etc/kube6/firewall.nft" in out
        assert "helm" in out
    if output == "json":
        data = json.loads(out)
        assert data["dry_run"] is True
        assert data["ok"] is True


def test_dry_run_of_a_multi_node_plan_prints_placeholders(ha_plan: Plan) -> None:
    exs = {n.name: RecordingExecutor(host=n.name) for n in ha_plan.nodes}
    contexts = make_contexts(ha_plan, exs, RunOptions(dry_run=True, fresh=True))
    report = arun(run_steps(UP_STEPS, contexts))
    assert report.ok
    assert all(ex.commands == [] for ex in exs.values())  # --fresh: never contacted
    script = host_script(report, "w1")
    assert "token: ${KUBE6_JOIN_TOKEN}" in script
    assert f"sha256:{CA_CERT_HASH}" in script
    assert "kubeadm join --config /etc/kubernetes/kubeadm/join.yaml" in script
    cp2 = host_script(report, "cp2")
    assert f"certificateKey: {CERTIFICATE_KEY}" in cp2
    first = host_script(report, "cp1")
    # init.yaml's token and key are made on the host first, and the script says to fill them.
    assert 'KUBE6_JOIN_TOKEN="$(kubeadm token generate)"' in first
    assert 'KUBE6_CERTIFICATE_KEY="$(kubeadm certs certificate-key)"' in first
    for marker in (JOIN_TOKEN, CERTIFICATE_KEY):  # filled in after the file is written
        assert f'sed -i "s|\\{marker}|{marker}|g" /etc/kubernetes/kubeadm/init.yaml' in first
    assert 'KUBE6_JOIN_TOKEN="$(kubeadm token create --ttl 30m' in first


def test_real_run_keeps_token_and_key_out_of_every_output(ha_plan: Plan) -> None:
    pem = ca_pem()
    exs: dict[str, RecordingExecutor] = {}
    for node in ha_plan.nodes:
        ex = RecordingExecutor(host=node.name, default=Result(0, "", ""))
        ex.reply(("test", "-e", "/etc/kubernetes/kubelet.conf"), exit_code=1)
        ex.reply(("test", "-e", "/etc/kubernetes/admin.conf"), exit_code=1)
        exs[node.name] = ex
    exs["cp1"].files["/etc/kubernetes/pki/ca.crt"] = (pem, 0o644)
    exs["cp1"].reply(("kubeadm", "token", "generate"), stdout=INIT_TOKEN + "\n")
    exs["cp1"].reply(("kubeadm", "certs", "certificate-key"), stdout=INIT_KEY + "\n")
    init_writes: list[tuple[str, int]] = []
    put = exs["cp1"].put

    async def record(path: str, content: str, mode: int = 0o644) -> None:
        if path == "/etc/kubernetes/kubeadm/init.yaml":
            init_writes.append((content, mode))
        await put(path, content, mode)

    exs["cp1"].put = record  # type: ignore[method-assign]
    exs["cp1"].reply(
        ("kubeadm", "token", "create", "--ttl", "30m", "--description", "kube6 up"),
        stdout=FAKE_TOKEN + "\n",
    )
    exs["cp1"].reply(
        ("kubeadm", "init", "phase", "upload-certs", "--upload-certs"),
        stdout=f"[upload-certs] Using certificate key:\n{FAKE_KEY}\n",
    )
    join = ("kubeadm", "join", "--config", "/etc/kubernetes/kubeadm/join.yaml")
    # A failing join that echoes its secrets: the error must not show them.
    exs["w2"].reply(
        join, exit_code=1, stdout=f"token {FAKE_TOKEN} key {FAKE_KEY}", stderr=f"bad {FAKE_TOKEN}"
    )
    contexts = make_contexts(ha_plan, exs, RunOptions(verify=False))
    lines: list[str] = []
    report = arun(
        run_steps(
            UP_STEPS,
            contexts,
            only=["control-plane/init", "join"],
            on_result=lambda r: lines.append(f"{r.host} {r.step} {r.status} {r.detail}"),
        )
    )
    statuses = {(r.host, r.step): r.status for r in report.results}
    assert statuses[("cp1", "control-plane/init")] is Status.CHANGED, lines
    # The init file kubeadm read had the generated token and key (issue 14: it had the markers),
    # 0600; the file left on disk has the markers again.
    (filled, mode), (left, _) = init_writes
    assert f"token: {INIT_TOKEN}" in filled
    assert f"certificateKey: {INIT_KEY}" in filled
    assert "${KUBE6_" not in filled
    assert mode == 0o600
    assert JOIN_TOKEN in left
    assert INIT_TOKEN not in left
    assert INIT_KEY not in left
    init = next(c.argv for c in exs["cp1"].commands if c.argv[:2] == ("kubeadm", "init"))
    assert "--upload-certs" in init
    assert statuses[("cp1", "join/credentials")] is Status.CHANGED, lines
    assert statuses[("cp1", "join/credentials")] is Status.CHANGED
    assert statuses[("cp2", "join/control-plane")] is Status.CHANGED
    assert statuses[("w1", "join/workers")] is Status.CHANGED
    assert statuses[("w2", "join/workers")] is Status.FAILED
    # Positive control: the secrets did reach the hosts, inside the 0600 join file...
    history = [
        c
        for c in exs["cp2"].commands
        if c.argv[:2] == ("kube6-put", "/etc/kubernetes/kubeadm/join.yaml")
    ]
    assert [c.argv[2] for c in history] == ["600", "600"]
    assert contexts["cp2"].state.values[JOIN_TOKEN] == FAKE_TOKEN
    assert contexts["cp2"].state.values[CA_CERT_HASH] == ca_cert_hash(pem)
    # ...which then holds the placeholders again: no token left on disk.
    assert JOIN_TOKEN in exs["cp2"].files["/etc/kubernetes/kubeadm/join.yaml"][0]
    outputs = [
        "\n".join(lines),
        json.dumps(report.to_json()),
        *(host_script(report, h) for h in report.hosts()),
        *(str(c) for ex in exs.values() for c in ex.commands),
    ]
    for text in outputs:
        assert FAKE_TOKEN not in text, text[:2000]
        assert FAKE_KEY not in text, text[:2000]
        assert INIT_TOKEN not in text, text[:2000]
        assert INIT_KEY not in text, text[:2000]
    failure = next(r for r in report.results if r.status is Status.FAILED)
    assert "exit code: 1" in failure.detail
    assert "***" in failure.detail
