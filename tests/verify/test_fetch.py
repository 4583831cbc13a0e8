"""The fetch layer against a fake API server (httpx MockTransport): lists, 404 CRDs, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from kube6 import spec as spec_module
from kube6.components.registry import custom_kinds
from kube6.errors import UsageError
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.usecases.verify import verify_objects
from kube6.verify.fetch import ClusterUnreachableError, fetch_objects
from kube6.verify.kubeconfig import ADMIN_KUBECONFIG, client_for, find_kubeconfig
from kube6.verify.result import Status
from tests.verify import fixtures as fx

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://[2001:db8::1]:6443"}}],
    "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
    "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "ctx",
}

PATHS = {
    "/api/v1/nodes": "nodes",
    "/api/v1/services": "services",
    "/api/v1/pods": "pods",
    "/apis/crd.projectcalico.org/v1/ippools": "ip_pools",
    "/apis/crd.projectcalico.org/v1/blockaffinities": "block_affinities",
    "/apis/cert-manager.io/v1/clusterissuers": "cluster_issuers",
    "/apis/gateway.networking.k8s.io/v1/gateways": "gateways",
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(spec_module.example())


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(json.dumps(KUBECONFIG))
    return path


def server(
    raw: Mapping[str, list[fx.Raw] | None], seen: list[str]
) -> Callable[[httpx.Request], httpx.Response]:
    """An API server that serves `raw`; a kind that is None answers 404 like a missing CRD."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        key = PATHS.get(request.url.path)
        items = raw.get(key) if key else None
        if items is None:
            status = {
                "kind": "Status",
                "status": "Failure",
                "code": 404,
                "reason": "NotFound",
                "message": "the server could not find the requested resource",
            }
            return httpx.Response(404, json=status)
        body: dict[str, Any] = {
            "kind": "List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "7"},
            "items": items,
        }
        return httpx.Response(200, json=body)

    return handle


def test_lists_every_kind_and_checks_it(plan: Plan, kubeconfig: Path) -> None:
    seen: list[str] = []
    transport = httpx.MockTransport(server(fx.healthy(plan), seen))
    results = verify_objects(plan, client_for(kubeconfig, transport=transport))
    assert sorted(seen) == sorted(PATHS)
    assert all(not r.failed for r in results), [(r.name, r.message) for r in results if r.failed]


def test_missing_crds_become_not_installed(plan: Plan, kubeconfig: Path) -> None:
    raw = fx.changed(fx.healthy(plan), ip_pools=None, gateways=None)
    transport = httpx.MockTransport(server(raw, []))
    objects = fetch_objects(client_for(kubeconfig, transport=transport), custom_kinds(plan))
    assert objects.of(fx.KINDS["ip_pools"]) is None
    assert objects.of(fx.KINDS["gateways"]) is None
    assert objects.of(fx.KINDS["block_affinities"]) is not None
    results = {r.name: r for r in verify_objects(plan, client_for(kubeconfig, transport=transport))}
    assert results["calico-ippools"].status is Status.FAIL
    assert "ippools.crd.projectcalico.org" in results["calico-ippools"].message


def test_forbidden_says_which_permission(plan: Plan, kubeconfig: Path) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"kind": "Status", "code": 403, "message": "forbidden"})

    client = client_for(kubeconfig, transport=httpx.MockTransport(handle))
    with pytest.raises(ClusterUnreachableError) as caught:
        fetch_objects(client, custom_kinds(plan), where="the API server of test")
    assert "the API server of test refused to list objects (403): forbidden" in str(caught.value)
    assert "ClusterRole" in caught.value.fix


def test_unreachable_server(plan: Plan, kubeconfig: Path) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = client_for(kubeconfig, transport=httpx.MockTransport(handle))
    with pytest.raises(ClusterUnreachableError) as caught:
        fetch_objects(client, custom_kinds(plan))
    assert "cannot reach the API server: connection refused" in str(caught.value)
    assert "6443" in caught.value.fix


def test_kubeconfig_order(tmp_path: Path) -> None:
    env_a, env_b = tmp_path / "a", tmp_path / "b"
    home = tmp_path / "home"
    readable = {env_b, ADMIN_KUBECONFIG, home / ".kube" / "config"}
    env = {"KUBECONFIG": f"{env_a}:{env_b}"}
    assert find_kubeconfig(None, env=env, home=home, readable=readable.__contains__) == env_b
    assert find_kubeconfig(None, env={}, home=home, readable=readable.__contains__) == (
        ADMIN_KUBECONFIG
    )
    readable.discard(ADMIN_KUBECONFIG)
    assert find_kubeconfig(None, env={}, home=home, readable=readable.__contains__) == (
        home / ".kube" / "config"
    )
    with pytest.raises(UsageError) as caught:
        find_kubeconfig(None, env={}, home=home, readable=lambda p: False)
    assert "--kubeconfig" in caught.value.fix
    with pytest.raises(UsageError, match="cannot read the kubeconfig"):
        find_kubeconfig(tmp_path / "nope", env={}, home=home)


def test_bad_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: [")
    with pytest.raises(UsageError, match="cannot use the kubeconfig"):
        client_for(path)
