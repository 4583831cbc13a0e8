"""addons/traefik and addons/gateway-ready: facts in, commands out (Traefik as the gateway).

The parsers read what `kubectl get -o json` prints; the JSON below has the fields that
Kubernetes 1.37 and Traefik v3.7 write (DaemonSet status, Service load-balancer status,
Gateway conditions with observedGeneration).
"""

from __future__ import annotations

import json

from kube6 import spec
from kube6.components import gateway
from kube6.components.gateway import traefik, traefik_steps
from kube6.components.gateway.traefik_steps import ReadyFacts
from kube6.components.registry import ADDONS_STEP
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.steps.cluster import ManifestFacts, ReleaseFacts
from kube6.verify.objects import ClusterObjects

from .conftest import HA_SPEC, context

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
WORKERS = ("2001:db8:1234:5678::21", "2001:db8:1234:5678::22")


def traefik_plan() -> Plan:
    text = HA_SPEC + "addons:\n  gateway: {controller: traefik}\n"
    return make_plan(spec.parse_text(text), source="test")


def leaf(name: str) -> object:
    return next(c for c in ADDONS_STEP.children if c.name == name)


def daemon_set(ready: int, desired: int = 2, generation: int = 1) -> str:
    return json.dumps(
        {
            "metadata": {"generation": 2},
            "status": {
                "observedGeneration": generation,
                "desiredNumberScheduled": desired,
                "updatedNumberScheduled": desired,
                "numberReady": ready,
            },
        }
    )


def gateway_json(programmed: str, generation: int, addresses: tuple[str, ...]) -> str:
    return json.dumps(
        {
            "metadata": {"generation": 3},
            "status": {
                "addresses": [{"type": "IPAddress", "value": a} for a in addresses],
                "conditions": [
                    {"type": "Accepted", "status": "True", "observedGeneration": 3},
                    {"type": "Programmed", "status": programmed, "observedGeneration": generation},
                ],
            },
        }
    )


def test_parsers() -> None:
    assert traefik_steps.parse_rolled_out(daemon_set(2, generation=2))
    assert not traefik_steps.parse_rolled_out(daemon_set(1, generation=2))
    assert not traefik_steps.parse_rolled_out(daemon_set(2, generation=1)), "an old generation"
    assert not traefik_steps.parse_rolled_out(daemon_set(0, desired=0, generation=2)), "no pod"
    assert not traefik_steps.parse_rolled_out(None)
    assert traefik_steps.parse_gateway(gateway_json("True", 3, WORKERS)) == (True, WORKERS)
    assert traefik_steps.parse_gateway(gateway_json("True", 2, ())) == (False, ())
    assert traefik_steps.parse_gateway(gateway_json("False", 3, ())) == (False, ())
    assert traefik_steps.parse_gateway("Error from server (NotFound)") == (False, ())
    service = {"status": {"loadBalancer": {"ingress": [{"ip": WORKERS[0], "ipMode": "VIP"}]}}}
    assert traefik_steps.parse_ingress(json.dumps(service)) == (WORKERS[0],)
    assert traefik_steps.parse_ingress(json.dumps({"status": {"loadBalancer": {}}})) == ()


def test_ready_waits_for_calicos_address_then_for_traefik_and_the_gateway() -> None:
    plan = traefik_plan()
    ctx = context(plan)
    gateway = str(plan.load_balancers.gateway)
    assert gateway == "2001:db8:1234:5678:8:4:0:1"
    step_plan = traefik_steps.plan_ready(ctx, traefik_steps.fresh_ready(ctx))
    assert [a.display for a in step_plan.actions] == [
        f"{KUBECTL} wait '--for=jsonpath={{.status.loadBalancer.ingress[0].ip}}={gateway}' "
        "service/traefik -n traefik --timeout=10m",
        f"{KUBECTL} rollout status daemonset/traefik -n traefik --timeout=10m",
        f"{KUBECTL} wait --for=condition=Programmed gateway/kube6 -n kube6-gateway --timeout=10m",
        f"{KUBECTL} wait '--for=jsonpath={{.status.addresses[0].value}}={gateway}' "
        "gateway/kube6 -n kube6-gateway --timeout=10m",
    ]
    # kube6 writes no status: Calico's LoadBalancer controller does.
    assert "patch" not in " ".join(a.display for a in step_plan.actions)
    done = ReadyFacts((gateway,), True, (True, (gateway,)))
    assert traefik_steps.plan_ready(ctx, done).noop
    # The Gateway programmed but on another address (the old node addresses): wait again.
    assert traefik_steps.plan_ready(ctx, ReadyFacts((gateway,), True, (True, WORKERS))).actions
    assert traefik_steps.plan_ready(ctx, ReadyFacts(WORKERS, True, (True, (gateway,)))).actions


def test_envoy_gateways_steps_stand_aside_for_traefik() -> None:
    ctx = context(traefik_plan())
    assert leaf("envoy-gateway").plan(ctx, ReleaseFacts(None, None, None)).noop  # type: ignore[attr-defined]
    assert leaf("envoy-gateway-crds").plan(ctx, ReleaseFacts(None, None, None)).noop  # type: ignore[attr-defined]
    install = leaf("traefik").plan(ctx, ManifestFacts(frozenset()))  # type: ignore[attr-defined]
    shown = [a.display for a in install.actions]
    assert shown[1] == (
        f"{KUBECTL} apply --server-side --field-manager kube6 -f "
        "/etc/kube6/cluster/gateway/traefik.yaml"
    )
    assert len(shown) == 2, "traefik.yaml only"
    applied = leaf("gateway").plan(ctx, ManifestFacts(frozenset()))  # type: ignore[attr-defined]
    assert [a.display for a in applied.actions][1].endswith(
        "/etc/kube6/cluster/gateway/gateway.yaml"
    )
    assert len(applied.actions) == 2, "gateway.yaml only: traefik.yaml has its own step"
    names = [c.name for c in ADDONS_STEP.children]
    assert names.index("traefik") < names.index("gateway") < names.index("gateway-ready")


def envoy_plan() -> Plan:
    text = HA_SPEC + "addons:\n  gateway: {controller: envoy-gateway}\n"
    return make_plan(spec.parse_text(text), source="test")


def test_traefiks_steps_stand_aside_for_envoy_gateway() -> None:
    ctx = context(envoy_plan())
    assert "not traefik" in str(leaf("traefik").plan(ctx, ManifestFacts(frozenset())).noop)  # type: ignore[attr-defined]
    assert traefik_steps.plan_ready(ctx, traefik_steps.fresh_ready(ctx)).noop


def test_verify_expects_traefiks_pods_and_says_how_to_fix_its_gateway() -> None:
    plan = traefik_plan()
    assert tuple(gateway.namespaces(plan)) == (traefik.NAMESPACE,)
    unprogrammed = {
        "metadata": {"name": "kube6", "namespace": "kube6-gateway"},
        "status": {"conditions": [{"type": "Programmed", "status": "False", "reason": "Pending"}]},
    }
    result = gateway.check_gateways(
        plan, ClusterObjects(custom={gateway.GATEWAY.crd: (unprogrammed,)})
    )
    assert result.status == "fail"
    assert "kube6 up" in (result.fix or "")
    assert "traefik" in (result.fix or "")
    hosts = [h.reason for h in gateway.hosts(plan)]
    assert any("Traefik Proxy v3.7.13" in r for r in hosts), hosts
    assert not any(use[0] == "chart" for _, use in gateway.uses(plan))
    # Envoy Gateway's fix stays its own.
    envoy = gateway.check_gateways(
        envoy_plan(), ClusterObjects(custom={gateway.GATEWAY_CRD: (unprogrammed,)})
    )
    assert "ipFamily" in (envoy.fix or "")
    assert tuple(gateway.namespaces(envoy_plan())) == ("envoy-gateway-system",)


def test_ready_waits_for_nothing_without_a_worker() -> None:
    """A DaemonSet on no worker runs no pod: `up` does not wait 10 minutes for it (verify's
    gateway-ipv6 then fails on the Gateway, with its fix)."""
    text = """
cluster: {name: nw001}
prefix: 2001:db8:1234:5678::/64
routing: ndp-proxy
nodes:
  - {name: cp1, address: "2001:db8:1234:5678::11", roles: [control-plane]}
addons:
  gateway: {controller: traefik}
"""
    ctx = context(make_plan(spec.parse_text(text), source="test"))
    step_plan = traefik_steps.plan_ready(ctx, traefik_steps.fresh_ready(ctx))
    assert "no worker node" in str(step_plan.noop)
