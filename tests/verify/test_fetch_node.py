"""`kube6 verify` with no local kubeconfig reads admin.conf from the first control-plane node.

The node is a RecordingExecutor holding the file (it stands in for the SSH connection that
tests/lab/test_verify_fetch.py makes for real); the API server is the fake of test_fetch.py.
`read_admin_kubeconfig` itself also runs against this machine's files through LocalExecutor.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kube6 import spec as spec_module
from kube6.cli import run
from kube6.errors import CommandError
from kube6.execute import ConnectError, Executor, LocalExecutor, RecordingExecutor, Result
from kube6.execute.base import BaseExecutor
from kube6.lab.rooted import RootedExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify import kubeconfig
from kube6.verify.kubeconfig import (
    ADMIN_KUBECONFIG,
    KubeconfigFetchError,
    is_loopback_server,
    node_kubeconfig,
    private_kubeconfig,
    read_admin_kubeconfig,
)
from tests.verify import fixtures as fx
from tests.verify.kubeconfigs import AdminConf, admin_conf, operator_without_kubeconfig
from tests.verify.test_fetch import KUBECONFIG, server
from tests.verify.worlds import use_world

ADMIN = str(ADMIN_KUBECONFIG)
SSH = "root@[2001:db8:1234:5678::1]"
ENDPOINT = "[2001:db8:1234:5678::1]:6443"
SPEC = spec_module.EXAMPLE_YAML.replace(
    "    roles: [control-plane, worker]\n",
    f"    roles: [control-plane, worker]\n    ssh: {SSH}\n",
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(spec_module.from_data(yaml.safe_load(SPEC)))


@pytest.fixture
def conf() -> AdminConf:
    return admin_conf(f"https://{ENDPOINT}")


@pytest.fixture(autouse=True)
def no_local_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine is not a control-plane node and has no kubeconfig: an empty home, no
    $KUBECONFIG, and kubeadm's path (this machine's real /etc) swapped for an absent file."""
    operator_without_kubeconfig(monkeypatch, tmp_path, SPEC)


class Seen:
    """What the stand-ins saw: node reads, and the kubeconfig file the client was built from."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, str]] = []
        self.paths: list[Path] = []
        self.modes: list[int] = []
        self.folder_modes: list[int] = []
        self.contents: list[dict[str, Any]] = []
        self.hosts: list[str] = []


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, plan: Plan) -> Seen:
    state = Seen()
    raw = fx.healthy(plan)

    def handle(request: httpx.Request) -> httpx.Response:
        state.hosts.append(request.url.host)
        return server(raw, [])(request)

    def client_for(path: Path, **_: Any) -> Any:
        state.paths.append(path)
        state.modes.append(stat.S_IMODE(path.stat().st_mode))
        state.folder_modes.append(stat.S_IMODE(path.parent.stat().st_mode))
        state.contents.append(yaml.safe_load(path.read_text()))
        return kubeconfig.client_for(path, transport=httpx.MockTransport(handle))

    use_world(monkeypatch, client_for=client_for)
    return state


def node_with(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, executor: Executor
) -> Callable[[str, str], str]:
    """Make `executor` the first control-plane node that verify reads admin.conf from."""

    def read(ssh: str, node: str) -> str:
        seen.reads.append((ssh, node))
        return asyncio.run(read_admin_kubeconfig(executor, node))

    use_world(monkeypatch, read_node_kubeconfig=read)
    return read


def assert_no_secret(conf: AdminConf, *texts: str) -> None:
    for text in texts:
        for secret in conf.secrets:
            assert secret not in text


def test_reads_admin_conf_from_the_first_control_plane_node(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, conf: AdminConf, capsys: Any
) -> None:
    node = RecordingExecutor(host="node0001", files={ADMIN: conf.text})
    node_with(monkeypatch, seen, node)
    assert run(["verify", "--no-outside", "--no-probes"]) == 0
    out, err = capsys.readouterr()
    assert seen.reads == [(SSH, "node0001")]
    assert node.argvs == [("kube6-get", ADMIN)]
    assert f"kubeconfig: {ADMIN} on node0001 over SSH (server https://{ENDPOINT})" in err
    assert "all 15 check(s) passed or were skipped" in err
    # The copy: private while verify ran, gone afterwards, the server kubeadm wrote kept.
    [path] = seen.paths
    assert seen.modes == [0o600]
    assert seen.folder_modes == [0o700]
    assert not path.exists()
    assert not path.parent.exists()
    assert seen.contents[0]["clusters"][0]["cluster"]["server"] == f"https://{ENDPOINT}"
    assert seen.hosts
    assert set(seen.hosts) == {"2001:db8:1234:5678::1"}
    assert_no_secret(conf, out, err)


def test_json_output_names_no_secret_and_the_copy_goes_on_failure(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, conf: AdminConf, plan: Plan, capsys: Any
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def client_for(path: Path, **_: Any) -> Any:
        seen.paths.append(path)
        return kubeconfig.client_for(path, transport=httpx.MockTransport(refuse))

    use_world(monkeypatch, client_for=client_for)
    node_with(monkeypatch, seen, RecordingExecutor(host="node0001", files={ADMIN: conf.text}))
    assert run(["--debug", "verify", "--no-outside", "-o", "json"]) == 1
    out, err = capsys.readouterr()
    assert f"cannot reach the API server of {ADMIN} on node0001" in out
    assert not seen.paths[0].exists()
    assert_no_secret(conf, out, err)


def test_an_explicit_or_local_kubeconfig_wins(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, tmp_path: Path, capsys: Any
) -> None:
    def must_not_read(ssh: str, node: str) -> str:
        raise AssertionError("verify read the node's admin.conf although a kubeconfig was here")

    use_world(monkeypatch, read_node_kubeconfig=must_not_read)
    local = tmp_path / "config"
    local.write_text(yaml.safe_dump(KUBECONFIG))
    assert run(["verify", "--no-outside", "--no-probes", "--kubeconfig", str(local)]) == 0
    assert f"kubeconfig: {local}\n" in capsys.readouterr().err
    monkeypatch.setenv("KUBECONFIG", str(local))
    assert run(["verify", "--no-outside", "--no-probes"]) == 0
    assert f"kubeconfig: {local}\n" in capsys.readouterr().err
    assert seen.paths == [local, local]
    # An explicit path that cannot be read is an error, not a reason to fetch.
    assert run(["verify", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert "cannot read the kubeconfig" in capsys.readouterr().err


def test_missing_file_says_run_up_first(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, capsys: Any
) -> None:
    node_with(monkeypatch, seen, RecordingExecutor(host="node0001"))
    assert run(["verify", "--no-outside"]) == 2
    err = capsys.readouterr().err
    assert f"{ADMIN} does not exist on node0001: the cluster has not been created" in err
    assert "run `kube6 up` first" in err
    assert "--kubeconfig PATH" in err
    assert seen.paths == []


class Unreachable(RecordingExecutor):
    """Stands in for an SSH connection that fails (the lab test refuses one for real)."""

    async def get(self, path: str) -> str | None:
        raise ConnectError(
            f"cannot connect to {SSH} over SSH: [Errno 111] Connect call failed",
            fix="check that the host is up and that `ssh root@2001:db8:1234:5678::1 true` works "
            "from here",
        )


def test_unreachable_node_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, capsys: Any
) -> None:
    node_with(monkeypatch, seen, Unreachable(host="node0001"))
    assert run(["verify", "--no-outside"]) == 2
    err = capsys.readouterr().err
    assert f"cannot read {ADMIN} on node0001: cannot connect" in err
    assert "`ssh root@2001:db8:1234:5678::1 true` works from here" in err
    assert "or pass --kubeconfig PATH" in err


TWO_CONTROL_PLANES = SPEC.replace(
    "    roles: [control-plane, worker]\n",
    "    roles: [control-plane]\n",
).replace(
    "nodes:\n",
    "nodes:\n  - name: node0000\n    address: 2001:db8:1234:5678::2\n    roles: [control-plane]\n"
    "    ssh: root@[2001:db8:1234:5678::2]\n",
    1,
)


def test_with_a_control_plane_down_the_next_one_gives_the_kubeconfig(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, conf: AdminConf, tmp_path: Path, capsys: Any
) -> None:
    # An HA cluster with its first control plane down: verify must still run (and say which
    # node it passed over), or the operator could not see what is wrong when it matters most.
    (tmp_path / "kube6.yaml").write_text(TWO_CONTROL_PLANES)
    nodes = {
        "node0000": Unreachable(host="node0000"),
        "node0001": RecordingExecutor(host="node0001", files={ADMIN: conf.text}),
    }

    def read(ssh: str, node: str) -> str:
        seen.reads.append((ssh, node))
        return asyncio.run(read_admin_kubeconfig(nodes[node], node))

    use_world(monkeypatch, read_node_kubeconfig=read)
    run(["verify", "--no-outside", "--no-probes"])  # its checks judge the fake API's objects
    err = capsys.readouterr().err
    assert [node for _, node in seen.reads] == ["node0000", "node0001"]
    assert f"kubeconfig: {ADMIN} on node0001 over SSH" in err
    assert f"not from node0000 (cannot read {ADMIN} on node0000: cannot connect" in err
    assert seen.paths, "no client was built"
    # Every one down: one error that names each node.
    nodes["node0001"] = Unreachable(host="node0001")
    assert run(["verify", "--no-outside"]) == 2
    err = capsys.readouterr().err
    assert "cannot read the admin kubeconfig from any control-plane node: node0000: " in err
    assert f"; node0001: cannot read {ADMIN} on node0001" in err
    assert "`ssh root@2001:db8:1234:5678::1 true` works from here" in err
    assert_no_secret(conf, err)


class ReadThroughCat(RecordingExecutor):
    """The executors' own `get` (a `sh -c` around cat), answered by the scripted replies."""

    get = BaseExecutor.get


def test_a_reader_that_fails_is_quoted_without_content(conf: AdminConf) -> None:
    denied = Result(1, conf.text, "cat: /etc/kubernetes/admin.conf: Permission denied")
    node = ReadThroughCat(host="node0001", default=denied)
    with pytest.raises(KubeconfigFetchError) as caught:
        asyncio.run(read_admin_kubeconfig(node, "node0001"))
    assert "cat: /etc/kubernetes/admin.conf: Permission denied" in caught.value.message
    assert "sudo -n" in caught.value.fix
    assert_no_secret(conf, str(caught.value))


def test_reads_through_a_real_executor_under_a_root(tmp_path: Path, conf: AdminConf) -> None:
    root = tmp_path / "nodes"
    target = root / "node0001" / ADMIN.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_text(conf.text)
    node1 = RootedExecutor(LocalExecutor("node0001"), root / "node0001")
    text = asyncio.run(read_admin_kubeconfig(node1, "node0001"))
    assert text == conf.text
    node2 = RootedExecutor(LocalExecutor("node0002"), root / "node0002")
    with pytest.raises(KubeconfigFetchError, match="does not exist on node0002"):
        asyncio.run(read_admin_kubeconfig(node2, "node0002"))


def test_no_fetch_and_no_ssh_target_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, conf: AdminConf, tmp_path: Path, capsys: Any
) -> None:
    node = RecordingExecutor(host="node0001", files={ADMIN: conf.text})
    node_with(monkeypatch, seen, node)
    assert run(["verify", "--no-fetch"]) == 2
    err = capsys.readouterr().err
    assert "no kubeconfig found" in err
    assert "--no-fetch keeps verify from reading" in err
    assert "leave out --no-fetch" in err
    # Without an ssh: target the first control-plane node is this machine.
    (tmp_path / "kube6.yaml").write_text(spec_module.EXAMPLE_YAML)
    assert run(["verify"]) == 2
    err = capsys.readouterr().err
    assert "node0001, the first control-plane node, has no ssh: target" in err
    assert "run verify as root" in err
    assert seen.reads == []
    assert node.commands == []


def test_a_loopback_server_becomes_the_planned_endpoint(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, capsys: Any
) -> None:
    loopback = admin_conf("https://[::1]:6443")
    node_with(monkeypatch, seen, RecordingExecutor(host="node0001", files={ADMIN: loopback.text}))
    assert run(["verify", "--no-outside", "--no-probes"]) == 0
    err = capsys.readouterr().err
    assert f"(server https://{ENDPOINT}); its server https://[::1]:6443 works only" in err
    assert seen.contents[0]["clusters"][0]["cluster"]["server"] == f"https://{ENDPOINT}"
    assert set(seen.hosts) == {"2001:db8:1234:5678::1"}


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("https://[::1]:6443", True),
        ("https://127.0.0.1:6443", True),
        ("https://localhost:6443", True),
        ("https://api.localhost", True),
        ("https://[2001:db8::1]:6443", False),
        ("https://api.example.com:6443", False),
        ("not a url", False),
    ],
)
def test_loopback_servers(url: str, loopback: bool) -> None:
    assert is_loopback_server(url) is loopback


@pytest.mark.parametrize(
    ("mangle", "said"),
    [
        (lambda text: text.replace("clusters:", "clusters: [", 1), "is not valid YAML at line"),
        (lambda text: text.replace("clusters:", "clustrs:", 1), "has no clusters"),
        (lambda text: "<html>no kubeconfig here</html>\n", "has no clusters"),
        (lambda text: text.replace("    server:", "    servr:"), "a cluster has no server"),
    ],
)
def test_a_broken_file_is_refused_without_its_content(
    mangle: Callable[[str], str], said: str, conf: AdminConf
) -> None:
    with pytest.raises(KubeconfigFetchError) as caught:
        node_kubeconfig(mangle(conf.text), endpoint=ENDPOINT, origin=f"{ADMIN} on node0001")
    assert f"{ADMIN} on node0001 " in caught.value.message
    assert said in caught.value.message
    assert "not shown" in caught.value.message
    assert_no_secret(conf, str(caught.value))


def test_an_unusable_certificate_names_the_node_file_and_no_secret(
    monkeypatch: pytest.MonkeyPatch, seen: Seen, conf: AdminConf, capsys: Any
) -> None:
    # A certificate that is no certificate: lightkube fails when it builds the client.
    broken = conf.text.replace(conf.cert_data, conf.key_data)
    node_with(monkeypatch, seen, RecordingExecutor(host="node0001", files={ADMIN: broken}))
    assert run(["verify", "--no-outside"]) == 2
    out, err = capsys.readouterr()
    assert f"cannot use the kubeconfig {ADMIN} on node0001" in err
    assert str(seen.paths[0]) not in err
    assert not seen.paths[0].exists()
    assert_no_secret(conf, out, err)


def test_the_private_copy_goes_on_sigterm(conf: AdminConf) -> None:
    fetched = node_kubeconfig(conf.text, endpoint=ENDPOINT, origin="test")
    before = signal.getsignal(signal.SIGTERM)
    paths: list[Path] = []

    def terminated_meanwhile() -> None:
        with private_kubeconfig(fetched) as path:
            paths.append(path)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM did not end the block")

    with pytest.raises(SystemExit) as caught:
        terminated_meanwhile()
    assert caught.value.code == 128 + signal.SIGTERM
    [path] = paths
    assert not path.exists()
    assert not path.parent.exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_mask_hides_every_form_of_the_key(conf: AdminConf) -> None:
    fetched = node_kubeconfig(conf.text, endpoint=ENDPOINT, origin="test")
    leaked = f"error near {conf.key_data} / {conf.key_pem} / {conf.cert_data}"
    assert_no_secret(conf, fetched.mask(leaked))
    assert conf.key_data not in repr(fetched)


def test_command_error_from_get_carries_no_stdout() -> None:
    # read_admin_kubeconfig relies on this: the executors' `get` never puts what it read
    # into its error.
    node = ReadThroughCat(host="n", default=Result(2, "SECRET-CONTENT", "cat: boom"))
    with pytest.raises(CommandError) as caught:
        asyncio.run(node.get("/etc/kubernetes/admin.conf"))
    assert "SECRET-CONTENT" not in str(caught.value)
