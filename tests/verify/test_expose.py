"""`kube6 expose`: the policy built from a Service (pure), and the command against a fake API
server (what it reads and writes, exit codes, refusals)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from kube6.cli import run
from kube6.components.calico import expose
from kube6.components.calico.policies import EXTERNAL_ORDER, TIER
from kube6.errors import UsageError
from kube6.verify import kubeconfig as kubeconfigs
from tests.verify.test_fetch import KUBECONFIG
from tests.verify.worlds import use_world

POLICIES = "/apis/projectcalico.org/v3/globalnetworkpolicies"


def service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "LoadBalancer",
        "selector": {"app": "shop", "app.kubernetes.io/part-of": "web"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": "tls"},
            {"name": "quic", "port": 443, "protocol": "UDP"},
        ],
    }
    base.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": "web", "name": "shop"},
        "spec": base,
    }


def test_the_policy_opens_the_services_pods_on_its_target_ports_only() -> None:
    policy = expose.open_service_policy(service())
    assert policy["metadata"] == {
        "name": "kube6.expose-web-shop",
        "labels": {"kube6.io/service-namespace": "web", "kube6.io/service-name": "shop"},
    }
    spec = policy["spec"]
    assert spec["tier"] == TIER
    assert spec["order"] < EXTERNAL_ORDER, "before kube6.external-ingress denies"
    assert spec["types"] == ["Ingress"]
    assert spec["selector"] == (
        'projectcalico.org/namespace == "web" && app == "shop" && '
        'app.kubernetes.io/part-of == "web"'
    )
    # The pods' ports (after kube-proxy): numbers and port names, grouped by protocol;
    # a port without targetPort is its own port. Pass: the users' NetworkPolicies still apply.
    assert spec["ingress"] == [
        {"action": "Pass", "protocol": "TCP", "destination": {"ports": [8080, "tls"]}},
        {"action": "Pass", "protocol": "UDP", "destination": {"ports": [443]}},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"selector": None}, "has no selector"),
        ({"ports": []}, "declares no port"),
        ({"selector": {"app": 'x" || all() || "'}}, "is not a Kubernetes label"),
        ({"selector": {"bad key": "x"}}, "is not a Kubernetes label"),
        ({"ports": [{"port": 80, "targetPort": "Not_A_Name"}]}, "no usable target port"),
        ({"ports": [{"port": 80, "targetPort": 0}]}, "no usable target port"),
        ({"ports": [{"port": 80, "protocol": "ICMP"}]}, "protocol 'ICMP'"),
    ],
)
def test_services_that_cannot_be_opened_say_why(change: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        expose.open_service_policy(service(**change))
    assert message in caught.value.message
    assert "web/shop" in caught.value.message
    assert caught.value.fix


def test_the_target_is_namespace_slash_name() -> None:
    assert expose.parse_target("web/shop") == ("web", "shop")
    assert expose.parse_target("shop") == ("default", "shop")
    for bad in ("Web/shop", "web/", "web/shop/x", "a b"):
        with pytest.raises(UsageError, match="not a Kubernetes name"):
            expose.parse_target(bad)


class Api:
    """A fake API server: the Service, and what kube6 wrote."""

    def __init__(self) -> None:
        self.services = {("web", "shop"): service()}
        self.written: list[tuple[str, str, Any]] = []
        self.policies: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.startswith("/api/v1/namespaces/"):
            _, _, _, namespace, _, name = path.strip("/").split("/")
            found = self.services.get((namespace, name))
            if found is None:
                return httpx.Response(404, json=_status(404, "services", name))
            return httpx.Response(200, json=found)
        if path.startswith(POLICIES + "/"):
            name = path.rsplit("/", 1)[1]
            body = json.loads(request.content) if request.content else None
            self.written.append((request.method, name, body))
            if request.method == "PATCH":
                self.policies.add(name)
                return httpx.Response(200, json=body)
            if request.method == "DELETE":
                if name not in self.policies:
                    return httpx.Response(404, json=_status(404, "globalnetworkpolicies", name))
                self.policies.discard(name)
                return httpx.Response(200, json=_status(200, "globalnetworkpolicies", name))
        return httpx.Response(500, json=_status(500, "?", path))


def _status(code: int, kind: str, name: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure" if code >= 400 else "Success",
        "message": f"{kind} {name!r} {'not found' if code == 404 else 'status'}",
        "reason": "NotFound" if code == 404 else "",
        "details": {"name": name, "kind": kind},
        "code": code,
    }


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Api:
    monkeypatch.chdir(tmp_path)  # no kube6.yaml: the built-in example
    state = Api()

    def handle(request: httpx.Request) -> httpx.Response:
        return state.handle(request)

    def client_for(path: Path, **_: Any) -> Any:
        return kubeconfigs.client_for(path, transport=httpx.MockTransport(handle))

    use_world(monkeypatch, client_for=client_for)
    (tmp_path / "admin.conf").write_text(json.dumps(KUBECONFIG))
    return state


def test_expose_applies_the_policy_and_remove_deletes_it(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["expose", "web/shop", "--kubeconfig", "admin.conf"]) == 0
    out, err = capsys.readouterr()
    [(method, name, body)] = api.written
    assert (method, name) == ("PATCH", "kube6.expose-web-shop")  # server-side apply
    assert body == expose.open_service_policy(service())
    assert "kube6.expose-web-shop" in out
    assert "destination:" in out
    assert "applied GlobalNetworkPolicy kube6.expose-web-shop" in err
    assert run(["expose", "web/shop", "--kubeconfig", "admin.conf", "--remove"]) == 0
    assert api.written[-1][:2] == ("DELETE", "kube6.expose-web-shop")
    assert "removed" in capsys.readouterr().err
    # Removing again is not an error: nothing was there.
    assert run(["expose", "web/shop", "--kubeconfig", "admin.conf", "--remove"]) == 0
    assert "was not there" in capsys.readouterr().err


def test_dry_run_writes_nothing(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["expose", "web/shop", "--kubeconfig", "admin.conf", "--dry-run"]) == 0
    assert api.written == []
    out, err = capsys.readouterr()
    assert "selector:" in out
    assert "would apply" in err


def test_a_missing_service_is_a_usage_error(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["expose", "web/nothing", "--kubeconfig", "admin.conf"]) == 2
    err = capsys.readouterr().err
    assert "there is no Service web/nothing" in err
    assert "kubectl get services -A" in err
    assert api.written == []
