"""`kube6 up` / `kube6 reset` in-process: flags, refusals, and the scripts they print."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kube6.cli.app import run as cli
from kube6.plan.model import Plan
from kube6.steps.base import Exec

from .conftest import HA_SPEC, context


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no kube6.yaml: the built-in example
    return tmp_path


def test_unknown_step_is_refused_with_the_valid_names(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["up", "--dry-run", "--skip", "hosts"]) == 2
    err = capsys.readouterr().err
    assert "unknown step name(s): 'hosts'" in err
    assert "host/sysctl" in err


def test_unknown_node_is_refused(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["up", "--dry-run", "--node", "node9"]) == 2
    assert "use one of: node0001" in capsys.readouterr().err


def test_the_example_is_only_ever_a_dry_run(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["up"]) == 2
    assert "add --dry-run" in capsys.readouterr().err
    assert cli(["reset"]) == 2
    assert "pass --yes" in capsys.readouterr().err


def test_script_dir_writes_valid_shell_per_host(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "kube6.yaml").write_text(HA_SPEC)
    out = here / "scripts"
    assert cli(["up", "--dry-run", "--fresh", "--output", "sh", "--script-dir", str(out)]) == 0
    scripts = sorted(p.name for p in out.iterdir())
    assert scripts == ["cp1.sh", "cp2.sh", "w1.sh", "w2.sh"]
    for script in out.iterdir():
        assert script.stat().st_mode & 0o111
        syntax = subprocess.run(
            ["sh", "-n", str(script)], capture_output=True, text=True, check=False
        )
        assert syntax.returncode == 0, syntax.stderr
    worker = (out / "w1.sh").read_text()
    assert "kubeadm init" not in worker
    assert "kubeadm join --config /etc/kubernetes/kubeadm/join.yaml" in worker
    err = capsys.readouterr().err
    assert "dry run: nothing was changed" in err


def repository_guard(script: str) -> str:
    """The release guard of a script's runtime/repository section."""
    section = script.split("# --- runtime/repository\n", 1)[1]
    return section.split("\nfi\n", 1)[0] + "\nfi\n"


@pytest.mark.parametrize(
    ("docker_url", "release"),
    [(None, "ubuntu noble"), ("http://[2001:db8::10]/linux/debian", "debian bookworm")],
)
def test_a_fresh_script_stops_on_another_release_than_its_docker_repository(
    here: Path, docker_url: str | None, release: str
) -> None:
    """A --fresh script writes Docker's repository line of the release it assumes (Ubuntu
    24.04, or the one the Docker mirror names): on another it would install another
    distribution's containerd.io, so it stops and says so."""
    spec = yaml.safe_load(HA_SPEC)
    if docker_url:
        key = "http://[2001:db8::10]/gpg"
        spec["mirrors"] = {"apt": {"docker": {"url": docker_url, "key_url": key}}}
    (here / "kube6.yaml").write_text(yaml.safe_dump(spec))
    out = here / "s"
    assert cli(["up", "--dry-run", "--fresh", "--output", "sh", "--script-dir", str(out)]) == 0
    script = (out / "w1.sh").read_text()
    assert f"{release} stable" in script
    guard = repository_guard(script)
    for host, status in ((release, 0), ("debian trixie", 1), ("ubuntu jammy", 1)):
        distro, codename = host.split()
        done = subprocess.run(
            ["sh", "-c", f"ID={distro} VERSION_CODENAME={codename}\n{guard}"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == status, (host, done.stderr)
        if status:
            assert f"installs Docker's repository of {release}" in done.stderr
            assert f"not of {host}" in done.stderr


def test_progress_and_json(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["up", "--dry-run", "--only", "routing", "--output", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    steps = [r["step"] for r in data["hosts"]["node0001"]]
    assert steps == ["routing/install", "routing/config", "routing/service"]
    assert "node0001         routing/install" in captured.err


def test_reset_dry_run_script(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["reset", "--dry-run", "--output", "sh"]) == 0
    out = capsys.readouterr().out
    order = [
        out.index(f"# --- {s}")
        for s in ("cluster", "pod-network", "firewall", "routing", "runtime", "host")
    ]
    assert order == sorted(order)
    assert "kubeadm reset -f" in out
    assert "nft delete table ip6 kube6" in out


def test_list_steps(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["up", "--list-steps"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("preflight ")
    assert "  join/workers" in out


def test_two_nodes_without_ssh_cannot_both_be_this_machine(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "kube6.yaml").write_text(HA_SPEC)
    assert cli(["up", "--dry-run", "-o", "json", "--only", "host"]) == 2
    assert "have no ssh target" in capsys.readouterr().err


def test_script_says_how_to_get_run_time_values(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "kube6.yaml").write_text(HA_SPEC)
    out = here / "s"
    assert cli(["up", "--dry-run", "--fresh", "--output", "sh", "--script-dir", str(out)]) == 0
    first = (out / "cp1.sh").read_text()
    assert (
        'KUBE6_CERTIFICATE_KEY="$(kubeadm init phase upload-certs --upload-certs | tail -n 1)"'
        in first
    )
    assert "openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt" in first
    worker = (out / "w1.sh").read_text()
    for name in ("KUBE6_JOIN_TOKEN", "KUBE6_CA_CERT_HASH"):  # set from cp1's output first
        assert worker.count(f': "${{{name}:?set {name} to the value') == 1


def test_progress_prints_a_reason_with_brackets_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A no-op reason quoting "[/etc/...]" is text, not a rich closing tag (that crashed)."""
    from kube6.cli.up_cmd import _progress
    from kube6.steps import Status
    from kube6.steps.runner import StepResult

    _progress(StepResult("node0001", "host/sysctl", Status.OK, 0.1, "[/etc/sysctl.d] is current"))
    _, err = capsys.readouterr()
    assert "[/etc/sysctl.d] is current" in err


def test_next_steps_after_a_successful_up() -> None:
    from kube6 import spec
    from kube6.cli.up_cmd import next_steps
    from kube6.plan import make_plan

    plan = make_plan(spec.example())
    text = "\n".join(next_steps(plan))
    assert "kube6 verify" in text
    assert "kubectl get nodes # here:" in text  # the example's node has no ssh target
    assert "https://kube001-dashboard.example.com/" in text
    assert "create token kube6-dashboard-viewer --duration=1h" in text
    # Issue 16 item 5: the record to create, the certificate, staging -> production.
    assert "    kube001-dashboard.example.com. AAAA 2001:db8:1234:5678:8:4:0:1" in text
    assert "kubectl -n kube6-gateway get certificate" in text
    assert "set addons.cert_manager.issuer: production in kube6.yaml" in text
    data = spec.example().model_dump(mode="json", exclude_none=True)
    data["nodes"][0]["ssh"] = "root@[2001:db8:1234:5678::1]"
    data["addons"]["dashboard"] = {"enabled": False}
    other = "\n".join(next_steps(make_plan(spec.from_data(data))))
    assert "on node0001:" in other
    assert "create token" not in other
    assert "AAAA" not in other
    data["addons"]["dashboard"] = {"host": "kube001-dashboard.example.com"}
    data["addons"]["cert_manager"]["issuer"] = "production"
    data["nodes"][0]["roles"] = ["control-plane"]
    data["nodes"].append({"name": "node0002", "address": "2001:db8:1234:5678::2"})
    data["nodes"].append({"name": "node0003", "address": "2001:db8:1234:5678::3"})
    third = "\n".join(next_steps(make_plan(spec.from_data(data))))
    # One record: the gateway's address, whatever the workers (no node address).
    assert third.count(" AAAA ") == 1
    assert "kube001-dashboard.example.com. AAAA 2001:db8:1234:5678:8:4:0:1" in third
    assert "Let's Encrypt production" in third
    assert "issuer: production in kube6.yaml" not in third


def test_dry_run_on_a_host_without_a_cluster_plans_verify(plan: Plan) -> None:
    """Issue 15, defect 5: `up --dry-run` on a fresh host refused at verify (no admin.conf)."""
    from kube6.components.registry import VERIFY_STEP as STEP
    from kube6.steps.verify import VerifyFacts

    assert STEP.plan is not None
    facts = VerifyFacts(None, "error: stat /etc/kubernetes/admin.conf: no such file or directory")
    dry = STEP.plan(context(plan, dry_run=True), facts)
    assert dry.refuse is None
    assert any("/readyz" in a.display for a in dry.actions if isinstance(a, Exec))
    assert STEP.fresh is not None
    fresh = STEP.plan(context(plan, dry_run=True, fresh=True), STEP.fresh(context(plan)))
    assert fresh.actions
    # A real run still refuses when the API server is not there.
    assert STEP.plan(context(plan), facts).refuse


def test_verify_read_on_a_host_without_a_cluster_then_planned(plan: Plan) -> None:
    """The facts a fresh host gives (kubectl cannot read admin.conf), read and planned."""
    import asyncio

    from kube6.components.registry import VERIFY_STEP as STEP
    from kube6.components.registry import custom_kinds
    from kube6.execute import RecordingExecutor
    from kube6.steps.verify import read_verify

    ex = RecordingExecutor(host="node0001")
    ex.reply(
        ("kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "--raw", "/readyz"),
        exit_code=1,
        stderr="error: stat /etc/kubernetes/admin.conf: no such file or directory",
    )
    ctx = context(plan, executor=ex, dry_run=True)
    assert STEP.plan is not None
    facts = asyncio.run(read_verify(ctx, custom_kinds(plan)))
    assert facts.objects is None
    planned = STEP.plan(ctx, facts)
    assert planned.refuse is None
    assert planned.actions
