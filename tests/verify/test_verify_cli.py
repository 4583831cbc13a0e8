"""`kube6 verify` in-process against a fake API server: table, json, exit codes, --watch."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import httpx
import pytest

from kube6 import spec as spec_module
from kube6.cli import run
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.verify import kubeconfig as kubeconfigs
from kube6.verify.outside import PeerCertificate
from kube6.verify.probe_pod import ProbePodError
from tests.verify import fixtures as fx
from tests.verify.test_fetch import KUBECONFIG, server
from tests.verify.worlds import use_world


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no kube6.yaml: the built-in example


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(spec_module.example())


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "admin.conf"
    path.write_text(json.dumps(KUBECONFIG))
    return str(path)


class Cluster:
    """What the fake API server serves; tests change `raw` between rounds."""

    def __init__(self, raw: Mapping[str, list[fx.Raw] | None]) -> None:
        self.raw = raw
        self.rounds = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/nodes":
            self.rounds += 1
            if self.rounds == 2 and hasattr(self, "then"):
                self.raw = self.then
        return server(self.raw, [])(request)


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch, plan: Plan) -> Cluster:
    state = Cluster(fx.healthy(plan))

    def handle(request: httpx.Request) -> httpx.Response:
        # A plain function: lightkube deep-copies its connection parameters, and a bound
        # method would take a copy of `state` along.
        return state.handle(request)

    def client_for(path: Path, **_: Any) -> Any:
        return kubeconfigs.client_for(path, transport=httpx.MockTransport(handle))

    use_world(monkeypatch, client_for=client_for)
    return state


def broken(plan: Plan) -> dict[str, list[fx.Raw] | None]:
    raw = fx.healthy(plan)
    raw["services"].append(fx.service("default", "legacy", "192.0.2.10", families=("IPv4",)))
    return raw  # type: ignore[return-value]


def test_healthy_cluster_exits_0(
    cluster: Cluster, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-outside", "--no-probes"]) == 0
    out, err = capsys.readouterr()
    for name in ("nodes-addresses", "services-ipv6", "calico-ippools", "gateway-ipv6"):
        assert name in out
    assert "all 15 check(s) passed or were skipped" in err


def test_failure_exits_1_with_json(
    cluster: Cluster, kubeconfig: str, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.raw = broken(plan)
    assert (
        run(["verify", "--kubeconfig", kubeconfig, "--no-outside", "--no-probes", "-o", "json"])
        == 1
    )
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["ok"] is False
    assert document["plan"] == plan.digest
    bad = [r for r in document["results"] if r["status"] == "fail"]
    assert [r["name"] for r in bad] == ["services-ipv6"]
    assert "default/legacy: ipFamilies ['IPv4']" in bad[0]["evidence"]
    assert "spec.ipFamilies: [IPv6]" in bad[0]["fix"]
    assert "1 check(s) failed: services-ipv6" in err


def test_watch_until_it_passes(
    cluster: Cluster, kubeconfig: str, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.raw = broken(plan)
    cluster.then = fx.healthy(plan)  # type: ignore[attr-defined]
    argv = ["verify", "--kubeconfig", kubeconfig, "--no-outside", "--no-probes", "-w"]
    argv += ["--interval", "0.1"]
    assert run(argv) == 0
    err = capsys.readouterr().err
    assert "round 1: 1 failing (services-ipv6)" in err
    assert "round 2" not in err
    assert cluster.rounds == 2


def test_watch_gives_up_after_the_timeout(
    cluster: Cluster, kubeconfig: str, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.raw = broken(plan)
    argv = [
        "verify",
        "--kubeconfig",
        kubeconfig,
        "--no-outside",
        "--no-probes",
        "-w",
        "--timeout",
        "0.3",
        "--interval",
        "0.1",
    ]
    assert run(argv) == 1
    assert cluster.rounds >= 2


def test_unreachable_api_server_is_a_failed_check(
    monkeypatch: pytest.MonkeyPatch, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    use_world(
        monkeypatch,
        client_for=lambda path: kubeconfigs.client_for(path, transport=httpx.MockTransport(refuse)),
    )
    assert run(["verify", "--kubeconfig", kubeconfig, "-o", "json"]) == 1
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["name"] == "api-server"
    assert "connection refused" in result["message"]


def test_outside_checks_use_the_gateway_address(
    cluster: Cluster,
    kubeconfig: str,
    plan: Plan,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = IPv6Address(fx.healthy(plan)["gateways"][0]["status"]["addresses"][0]["value"])
    host = plan.addons.dashboard.host
    seen: list[object] = []

    def connect(address: IPv6Address, port: int, name: str | None) -> PeerCertificate:
        seen.append((address, port, name))
        return PeerCertificate(
            "CN=x", "(STAGING) Let's Encrypt", "O=(STAGING) Let's Encrypt", (str(host),)
        )

    use_world(monkeypatch, resolve_aaaa=lambda name: [gateway])
    use_world(monkeypatch, tls_certificate=connect)
    tcp: list[tuple[IPv6Address, int]] = []
    use_world(monkeypatch, tcp_connect=lambda address, port: tcp.append((address, port)))
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-probes", "-o", "json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert names[-4:] == [
        "gateway-https",
        "dashboard-dns",
        "dashboard-certificate",
        "load-balancer-reachable",
    ]
    assert seen[0] == (gateway, 443, host)
    # The healthy cluster's LoadBalancer Service: its address in the range, its TCP port.
    assert tcp == [(plan.load_balancers.cidr[1], 80)]


def test_no_kubeconfig_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["verify", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert "cannot read the kubeconfig" in capsys.readouterr().err


def test_probe_pods_that_do_not_start_are_a_failed_check(
    cluster: Cluster,
    kubeconfig: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    @contextmanager
    def no_pods(*args: Any, **kwargs: Any) -> Iterator[None]:
        raise ProbePodError("probe pod default/kube6-probe-x-0 on node0001 is Pending", fix="f")
        yield

    use_world(monkeypatch, probe_pods=no_pods)
    argv = [
        "verify",
        "--kubeconfig",
        kubeconfig,
        "--no-outside",
        "--probe-image",
        "img",
        "-o",
        "json",
    ]
    assert run(argv) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["name"] for r in results if r["status"] == "fail"] == ["probe-pods"]


def test_probe_netns_and_image_exclude_each_other(
    cluster: Cluster, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", "--kubeconfig", kubeconfig, "--probe-image", "i", "--probe-netns", "n"]
    assert run(argv) == 2
    assert "give one of them" in capsys.readouterr().err


def test_probes_run_by_default_in_pods_of_the_pinned_busybox(
    cluster: Cluster,
    kubeconfig: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    images: list[str] = []

    @contextmanager
    def pods(client: Any, plan: Plan, image: str) -> Iterator[None]:
        images.append(image)
        raise ProbePodError("stop here: the image is what this test is about", fix="f")
        yield

    use_world(monkeypatch, probe_pods=pods)
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-outside", "-o", "json"]) == 1
    assert images == ["docker.io/library/busybox:1.37.0"]
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-outside", "--probe-image", "x"]) == 1
    assert images[-1] == "x"
    capsys.readouterr()
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-outside", "--no-probes"]) == 0
    assert len(images) == 2


def test_probe_pods_the_api_server_refuses_are_a_failed_check(
    cluster: Cluster, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fake API server serves no pod creation: lightkube's error, read for real."""
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-outside", "-o", "json"]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    bad = [r for r in results if r["status"] == "fail"]
    assert [r["name"] for r in bad] == ["probe-pods"]
    assert bad[0]["message"].startswith("cannot create probe pod default/kube6-probe-")
    assert "--no-probes" in bad[0]["fix"]


@pytest.mark.parametrize("where", [["--probe-image", "i"], ["--probe-netns", "n"]])
def test_no_probes_and_a_probe_place_exclude_each_other(
    cluster: Cluster, kubeconfig: str, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["verify", "--kubeconfig", kubeconfig, "--no-probes", *where]) == 2
    err = capsys.readouterr().err
    assert f"--no-probes leaves the probes out, but {where[0]} says where to run them" in err
