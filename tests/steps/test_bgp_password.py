"""The BGP password (bgp.password_file): read from the operator's file, never rendered or
planned, kept in the Secret that calico-node reads; the step's plan from its facts; the spec's
path rules. The real router signing with it: tests/lab/test_bgp_peer.py; the objects against
the API server: tests/k8s/test_cluster_steps.py."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kube6.components.calico import bgp_password
from kube6.components.calico import render as calico
from kube6.components.calico.bgp import BGP_PATH
from kube6.components.calico.bgp_password import (
    PasswordFacts,
    plan_mesh_password,
    plan_password,
    read_password,
)
from kube6.errors import Kube6Error, SpecError
from kube6.execute import RecordingExecutor
from kube6.execute.command import Result
from kube6.modes import Grade as Status
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data, load
from kube6.steps.base import Exec
from kube6.steps.runner import Report, StepResult
from kube6.steps.runner import Status as StepStatus
from kube6.steps.script import host_script
from kube6.usecases.check import CheckRequest, check

from .conftest import arun, context

PASSWORD = "s3cret|&pass word"
BGP = {"peer": "2001:db8:1234:5678::fffe", "peer_as": 65001}
NODES = [{"name": "one", "address": "2001:db8:1234:5678::1"}]


def bgp_plan(password_file: str | None) -> Plan:
    bgp = {**BGP, **({"password_file": password_file} if password_file else {})}
    data = {"prefix": "2001:db8:1234:5678::/64", "routing": "bgp", "bgp": bgp, "nodes": NODES}
    return make_plan(from_data(data), source="test")


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "bgp-password"
    path.write_text(PASSWORD + "\n")
    return path


def test_the_password_is_the_files_one_line(password_file: Path) -> None:
    assert read_password(str(password_file)) == PASSWORD
    password_file.write_text(PASSWORD)  # no line break at the end
    assert read_password(str(password_file)) == PASSWORD


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read bgp.password_file {path}: No such file or directory"),
        ("", "bgp.password_file {path} is empty"),
        ("\n", "bgp.password_file {path} is empty"),
        ("one\ntwo\n", "bgp.password_file {path} has more than one line"),
        (
            "x" * 81,
            "the password in bgp.password_file {path} is 81 bytes; a TCP MD5 key is at most 80",
        ),
        (b"\xff\xfe", "bgp.password_file {path} is not UTF-8 text"),
        ('say "hi"\n', "the password in bgp.password_file {path} holds a double quote"),
    ],
)
def test_a_bad_password_file_is_refused_with_the_fix(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "bgp-password"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(Kube6Error) as caught:
        read_password(str(path))
    assert caught.value.message.startswith(message.format(path=path)), caught.value.message
    assert f"put the router's BGP password in {path}" in caught.value.fix


def test_a_relative_password_file_is_found_beside_kube6_yaml(tmp_path: Path) -> None:
    spec_file = tmp_path / "site" / "kube6.yaml"
    spec_file.parent.mkdir()
    data = {
        "prefix": "2001:db8:1234:5678::/64",
        "routing": "bgp",
        "bgp": {**BGP, "password_file": "secrets/bgp"},
        "nodes": NODES,
    }
    spec_file.write_text(yaml.safe_dump(data))
    loaded = load(spec_file)
    assert loaded.bgp is not None
    assert loaded.bgp.password_file == str(tmp_path / "site" / "secrets" / "bgp")
    data["bgp"]["password_file"] = "/etc/kube6/bgp"  # type: ignore[index]
    spec_file.write_text(yaml.safe_dump(data))
    absolute = load(spec_file).bgp
    assert absolute is not None
    assert absolute.password_file == "/etc/kube6/bgp"


def test_an_empty_password_file_setting_is_refused() -> None:
    data = {"prefix": "2001:db8:1234:5678::/64", "routing": "bgp", "nodes": NODES}
    with pytest.raises(SpecError, match="password_file is empty"):
        from_data({**data, "bgp": {**BGP, "password_file": " "}})


def test_the_digest_says_whether_there_is_a_password_not_where() -> None:
    # The goldens of bgp specs without one are unchanged (tests/render); the path depends on
    # where kube6 runs, so it changes no rendered file.
    assert bgp_plan(None).digest != bgp_plan("/etc/kube6/bgp").digest
    assert bgp_plan("/etc/kube6/bgp").digest == bgp_plan("site/bgp").digest


def test_the_peer_refers_to_the_secret_and_calico_node_may_read_only_it(
    password_file: Path,
) -> None:
    plan = bgp_plan(str(password_file))
    content = {a.path: a for a in calico.render(plan)}[BGP_PATH].content
    assert PASSWORD not in content
    docs = {d["kind"]: d for d in yaml.safe_load_all(content) if d}
    assert docs["BGPPeer"]["spec"]["password"] == {
        "secretKeyRef": {"name": "kube6-bgp-password", "key": "password"}
    }
    (rule,) = docs["Role"]["rules"]
    assert rule["resources"] == ["secrets"]
    assert rule["resourceNames"] == ["kube6-bgp-mesh-password", "kube6-bgp-password"]
    assert "create" not in rule["verbs"]
    assert "update" not in rule["verbs"]
    assert docs["Role"]["metadata"]["namespace"] == "calico-system"
    assert docs["RoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "calico-node", "namespace": "calico-system"}
    ]
    assert "with the router: the password of bgp.password_file" in content
    # Without a password file: an unsigned peer, and the Role for the mesh's Secret only.
    plain = {a.path: a for a in calico.render(bgp_plan(None))}[BGP_PATH].content
    unsigned = {d["kind"]: d for d in yaml.safe_load_all(plain) if d}
    assert "password" not in unsigned["BGPPeer"]["spec"]
    (rule,) = unsigned["Role"]["rules"]
    assert rule["resourceNames"] == ["kube6-bgp-mesh-password"]
    assert "with the router: unsigned" in plain


def _facts(stored: str | None, password: str | None = PASSWORD) -> PasswordFacts:
    return PasswordFacts(password, None, stored)


def test_the_step_creates_the_secret_from_standard_input(password_file: Path) -> None:
    ctx = context(bgp_plan(str(password_file)))
    planned = plan_password(ctx, _facts(None))
    (create,) = planned.actions
    command = create.command  # type: ignore[union-attr]
    assert command.argv[-5:] == (
        "create",
        "secret",
        "generic",
        "kube6-bgp-password",
        "--from-file=password=/dev/stdin",
    )
    assert command.stdin == PASSWORD
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    assert PASSWORD not in repr(planned)
    assert encoded not in repr(planned)
    assert command.mask(f"got {PASSWORD} / {encoded}") == "got *** / ***"


def test_the_step_does_nothing_when_the_secret_holds_the_password(password_file: Path) -> None:
    ctx = context(bgp_plan(str(password_file)))
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    planned = plan_password(ctx, _facts(encoded))
    assert planned.noop == "the Secret calico-system/kube6-bgp-password holds the password"


def test_a_changed_password_replaces_the_secret(password_file: Path) -> None:
    ctx = context(bgp_plan(str(password_file)))
    planned = plan_password(ctx, _facts(base64.b64encode(b"old").decode()))
    (patch,) = planned.actions
    command = patch.command  # type: ignore[union-attr]
    assert command.argv[-7:] == (
        *("patch", "secret", "kube6-bgp-password"),
        *("--type", "merge", "--patch-file", "/dev/stdin"),
    )
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    assert json.loads(command.stdin or "") == {"data": {"password": encoded}}
    assert PASSWORD not in repr(planned)
    assert encoded not in repr(planned)


def test_a_secret_without_the_password_gets_it_in_place(password_file: Path) -> None:
    ctx = context(bgp_plan(str(password_file)))
    planned = plan_password(ctx, _facts(""))  # the Secret exists, without `password`
    (patch,) = planned.actions
    assert patch.command.argv[-7:-4] == ("patch", "secret", "kube6-bgp-password")  # type: ignore[union-attr]
    assert patch.why == "the Secret has no password"


def test_an_unreadable_file_stops_the_step_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    ctx = context(bgp_plan(str(missing)))
    planned = plan_password(ctx, bgp_password.fresh_facts(ctx))
    assert planned.refuse is not None
    assert str(missing) in planned.refuse
    assert "chmod 600" in planned.fix


def test_the_step_does_not_apply_without_a_password_or_bgp(plan: Plan) -> None:
    assert plan_password(context(plan), _facts(None)).noop == "routing is ndp-proxy, not bgp"
    found = plan_password(context(bgp_plan(None)), _facts(None))
    assert found.noop is not None
    assert "no bgp.password_file" in found.noop


def test_stored_password_reads_kubectls_data() -> None:
    assert bgp_password._stored_password('{"password":"czNjcmV0"}') == "czNjcmV0"
    for text in (None, "", "not json", "[]", '{"other": "x"}'):
        assert bgp_password._stored_password(text) is None


def test_the_mesh_gets_a_random_password_once() -> None:
    ctx = context(bgp_plan(None))
    first, second = (bgp_password.fresh_mesh_facts(ctx) for _ in range(2))
    assert first.generated != second.generated
    for facts in (first, second):
        # What BIRD's configuration and a TCP MD5 key take: short, no double quote.
        assert re.fullmatch(r"[A-Za-z0-9_-]{40}", facts.generated)
        assert facts.generated not in repr(facts)
    planned = plan_mesh_password(ctx, first)
    (create,) = planned.actions
    command = create.command  # type: ignore[union-attr]
    assert command.argv[-5:] == (
        *("create", "secret", "generic", "kube6-bgp-mesh-password"),
        "--from-file=password=/dev/stdin",
    )
    assert command.stdin == first.generated
    assert first.generated not in repr(planned)
    # A Secret with a password is kept, whichever it is: every node reads the same one.
    kept = plan_mesh_password(ctx, replace(first, stored="b3Bhc3M="))
    assert kept.noop == "the Secret calico-system/kube6-bgp-mesh-password holds a password"
    # One without: the password goes in, in place.
    (patch,) = plan_mesh_password(ctx, replace(first, stored="")).actions
    assert patch.command.argv[-7:-4] == ("patch", "secret", "kube6-bgp-mesh-password")  # type: ignore[union-attr]


def test_the_mesh_step_does_not_apply_without_bgp(plan: Plan) -> None:
    ctx = context(plan)
    assert plan_mesh_password(ctx, bgp_password.fresh_mesh_facts(ctx)).noop == (
        "routing is ndp-proxy, not bgp"
    )


@pytest.mark.parametrize(
    ("reply", "stored"),
    [
        (Result(1, "", 'Error from server (NotFound): secrets "kube6-bgp-mesh-password"'), None),
        (Result(0, "", ""), ""),  # a Secret without data
        (Result(0, '{"other":"eA=="}', ""), ""),
        (Result(0, '{"password":"eA=="}', ""), "eA=="),
    ],
)
def test_the_mesh_step_reads_whether_the_secret_holds_a_password(
    reply: Result, stored: str | None
) -> None:
    ex = RecordingExecutor(default=reply)
    ctx = context(bgp_plan(None), executor=ex)
    facts = arun(bgp_password.read_mesh_facts(ctx))
    assert facts.stored == stored
    (argv,) = ex.argvs
    assert argv[-5:] == ("get", "secret", "kube6-bgp-mesh-password", "-o", "jsonpath={.data}")


def test_check_warns_when_others_may_read_the_password_file(password_file: Path) -> None:
    plan = bgp_plan(str(password_file))
    password_file.chmod(0o644)
    found = bgp_password.file_access(plan)
    assert found is not None
    assert (found.name, found.status) == ("bgp-password-file", Status.WARN)
    assert found.message == (
        f"the router's BGP password in {password_file} may be read by others (mode 0644)"
    )
    assert found.fix == f"chmod 600 {password_file}"
    password_file.chmod(0o600)
    fine = bgp_password.file_access(plan)
    assert fine is not None
    assert fine.status is Status.OK
    assert PASSWORD not in repr(found) + repr(fine)
    # No file setting, or a file that cannot be read (read_password refuses that): no finding.
    assert bgp_password.file_access(bgp_plan(None)) is None
    assert bgp_password.file_access(bgp_plan(str(password_file.parent / "none"))) is None


def test_kube6_check_reports_the_password_files_mode_once(password_file: Path) -> None:
    password_file.chmod(0o640)
    plan = bgp_plan(str(password_file))
    # Every probe of the node fails: its own checks say "could not check"; the file's mode
    # is judged here, once, for this machine (no node).
    node = RecordingExecutor(host="one", default=Result(1, "", "no such command"))
    report = check(plan, CheckRequest(connect=False), executors={"one": node})
    found = [r for r in report.results if r.name == "bgp-password-file"]
    assert [(r.node, r.status) for r in found] == [("", Status.WARN)]
    assert "mode 0640" in found[0].message


def _sh(pipeline: str, cwd: Path) -> str:
    """What the dry-run script's pipeline prints, run by the real /bin/sh."""
    done = subprocess.run(
        ["/bin/sh", "-c", pipeline], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.parametrize("stored", [None, "b2xk"])
def test_the_scripts_pipeline_gives_kubectl_what_kube6_gives_it(
    password_file: Path, tmp_path: Path, stored: str | None
) -> None:
    """`up --dry-run -o sh`: the line's pipeline, run by the real /bin/sh on a copy of the
    file (as the script's note asks), prints exactly what kube6 gives kubectl on standard
    input: the password without its line break, or the patch's JSON."""
    node = tmp_path / "node"
    node.mkdir()
    (node / "kube6-bgp-password").write_text(password_file.read_text())  # with its line break
    planned = plan_password(context(bgp_plan(str(password_file))), _facts(stored))
    (action,) = planned.actions
    assert isinstance(action, Exec)
    assert _sh(action.shell_input, node) == action.command.stdin
    result = StepResult(
        "one", "network/calico-bgp-password", StepStatus.CHANGED, 0.0, actions=(action,)
    )
    script = host_script(Report([result], dry_run=True), "one")
    assert f"{action.shell_input} | kubectl " in script


@pytest.mark.parametrize("stored", [None, ""])
def test_the_scripts_mesh_password_is_random_and_fits(tmp_path: Path, stored: str | None) -> None:
    ctx = context(bgp_plan(None))
    facts = replace(bgp_password.fresh_mesh_facts(ctx), stored=stored)
    (action,) = plan_mesh_password(ctx, facts).actions
    assert isinstance(action, Exec)
    first, second = (_sh(action.shell_input, tmp_path) for _ in range(2))
    assert first != second
    if stored is None:
        assert re.fullmatch(r"[A-Za-z0-9]{40}", first)
    else:
        encoded = json.loads(first)["data"]["password"]
        assert re.fullmatch(r"[A-Za-z0-9]{40}", base64.b64decode(encoded).decode())
