"""`kube6 verify` reads admin.conf from the first control-plane node over real SSH.

The operator's machine is the lab's internet namespace; node0001 runs a real sshd. Namespaces
share this machine's file system, so the node's /etc/kubernetes/admin.conf lives under a
per-node root folder, where the lab's RootedExecutor places every path: the test's stand-in for
`read_node_kubeconfig` reads through it with the lab's SSH key, and is otherwise the real path
(SshExecutor, read_admin_kubeconfig). No API server runs in the lab, so verify must end with
the clear "cannot reach the API server" failure, not a pass.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube6.cli import run
from kube6.execute import SshExecutor
from kube6.execute.base import Executor
from kube6.lab import Lab
from kube6.lab.process import in_namespace
from kube6.lab.rooted import RootedExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data
from kube6.verify import kubeconfig
from kube6.verify.kubeconfig import ADMIN_KUBECONFIG, read_admin_kubeconfig
from tests.verify.kubeconfigs import AdminConf, admin_conf, operator_without_kubeconfig
from tests.verify.worlds import use_world

pytestmark = pytest.mark.lab

NODE = "node0001"
ADDRESS = "2001:db8:1234:5678::1"
SPEC = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": NODE, "address": ADDRESS, "ssh": f"root@[{ADDRESS}]"},
        {"name": "node0002", "address": "2001:db8:1234:5678::2", "roles": ["worker"]},
    ],
}


@pytest.fixture(scope="module")
def ssh_plan() -> Plan:
    return make_plan(from_data(SPEC), source="lab spec with ssh")


@pytest.fixture(scope="module")
def ssh_lab(lab_env: None, ssh_plan: Plan) -> Iterator[Lab]:
    with Lab(ssh_plan, ssh=True) as lab:
        yield lab


@pytest.fixture
def conf() -> AdminConf:
    return admin_conf(f"https://[{ADDRESS}]:6443")


@pytest.fixture
def root(tmp_path: Path, conf: AdminConf) -> str:
    """The nodes' root folders, with kubeadm's admin.conf (0600) on node0001."""
    path = tmp_path / "nodes" / NODE / str(ADMIN_KUBECONFIG).lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_text(conf.text)
    path.chmod(0o600)
    return str(tmp_path / "nodes" / NODE)


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop with kube6.yaml and no kubeconfig (this machine's /root/.kube and /etc are
    swapped for absent paths: the test runs as root on a machine that may have them)."""
    operator_without_kubeconfig(monkeypatch, tmp_path, yaml.safe_dump(SPEC))


def through(monkeypatch: pytest.MonkeyPatch, executor: Executor, root: str) -> list[str]:
    """verify reads the node through `executor` under `root`; returns the SSH targets asked."""
    asked: list[str] = []

    def read(ssh: str, node: str) -> str:
        asked.append(ssh)
        return asyncio.run(read_admin_kubeconfig(RootedExecutor(executor, root), node))

    use_world(monkeypatch, read_node_kubeconfig=read)
    return asked


def test_reads_admin_conf_over_ssh(ssh_lab: Lab, root: str, conf: AdminConf) -> None:
    executor = ssh_lab.ssh_executor(NODE)
    text = in_namespace(
        ssh_lab.internet,
        lambda: asyncio.run(read_admin_kubeconfig(RootedExecutor(executor, root), NODE)),
    )
    assert text == conf.text


def test_verify_fetches_then_cannot_reach_the_api_server(
    ssh_lab: Lab,
    root: str,
    conf: AdminConf,
    operator: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked = through(monkeypatch, ssh_lab.ssh_executor(NODE), root)
    copies: list[tuple[Path, int]] = []
    real_client_for = kubeconfig.client_for

    def client_for(path: Path, **kw: Any) -> Any:
        copies.append((path, stat.S_IMODE(path.stat().st_mode)))
        return real_client_for(path, **kw)  # the real client, to the real (absent) API server

    use_world(monkeypatch, client_for=client_for)
    code = in_namespace(ssh_lab.internet, lambda: run(["verify", "--no-outside", "-o", "json"]))
    out, err = capsys.readouterr()
    assert code == 1, err
    assert asked == [f"root@[{ADDRESS}]"]
    assert (
        f"kubeconfig: {ADMIN_KUBECONFIG} on {NODE} over SSH (server https://[{ADDRESS}]:6443)"
        in err
    )
    [result] = json.loads(out)["results"]
    assert result["name"] == "api-server"
    assert result["status"] == "fail"
    assert result["message"].startswith(
        f"cannot reach the API server of {ADMIN_KUBECONFIG} on {NODE}:"
    )
    [(path, mode)] = copies
    assert mode == 0o600
    assert not path.exists()
    for secret in conf.secrets:
        assert secret not in out
        assert secret not in err


def test_unreachable_node_is_a_clear_error(
    ssh_lab: Lab,
    root: str,
    conf: AdminConf,
    operator: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nothing listens on port 2222 of the node: the connection is refused, for real.
    refused = SshExecutor(
        f"root@[{ADDRESS}]:2222",
        host=NODE,
        known_hosts=ssh_lab.known_hosts,
        client_keys=(str(ssh_lab.ssh_key),),
        connect_timeout=5,
    )
    through(monkeypatch, refused, root)
    code = in_namespace(ssh_lab.internet, lambda: run(["verify", "--no-outside"]))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert f"cannot read {ADMIN_KUBECONFIG} on {NODE}" in err
    assert "cannot connect to" in err
    assert "or pass --kubeconfig PATH" in err
    for secret in conf.secrets:
        assert secret not in out
        assert secret not in err
