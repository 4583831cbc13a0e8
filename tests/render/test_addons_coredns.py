"""CoreDNS renderer: only when needed; dns64 without translate_all; explicit forwarders."""

from __future__ import annotations

from collections.abc import Callable

import yaml

from kube6 import spec
from kube6.components.coredns import render as coredns
from kube6.plan.model import Plan

PlanOf = Callable[[str], Plan]

# A network-specific NAT64 prefix inside the documentation range (RFC 6052 allows any /96).
DNS64 = spec.EXAMPLE_YAML + 'dns: {nat64_prefix: "2001:db8:64::/96", dns64: coredns}\n'
RESOLVERS = spec.EXAMPLE_YAML + 'dns: {resolvers: ["2001:db8:53::1", "2001:db8:53::2"]}\n'


def _corefile(plan: Plan) -> str:
    [artifact] = coredns.render(plan)
    assert artifact.path == coredns.CONFIGMAP_PATH
    configmap = yaml.safe_load(artifact.content)
    assert (configmap["kind"], configmap["metadata"]) == (
        "ConfigMap",
        {"name": "coredns", "namespace": "kube-system"},
    )
    corefile = configmap["data"]["Corefile"]
    assert isinstance(corefile, str)
    return corefile


def _directives(corefile: str) -> list[str]:
    return [line.strip() for line in corefile.splitlines()]


def test_nothing_when_kubeadms_default_fits(plan_of: PlanOf) -> None:
    assert list(coredns.render(plan_of(spec.EXAMPLE_YAML))) == []
    # NAT64 known but synthesized by the resolvers already: CoreDNS stays as kubeadm made it.
    text = spec.EXAMPLE_YAML + 'dns: {nat64_prefix: "2001:db8:64::/96", dns64: resolvers}\n'
    assert list(coredns.render(plan_of(text))) == []


def test_dns64_in_coredns(plan_of: PlanOf) -> None:
    corefile = _corefile(plan_of(DNS64))
    lines = _directives(corefile)
    assert "dns64 2001:db8:64::/96" in lines
    assert "translate_all" not in corefile
    assert "forward . /etc/resolv.conf {" in lines


def test_explicit_resolvers(plan_of: PlanOf) -> None:
    lines = _directives(_corefile(plan_of(RESOLVERS)))
    assert "forward . 2001:db8:53::1 2001:db8:53::2 {" in lines
    assert not any(line.startswith("dns64") for line in lines)


def test_keeps_kubeadms_default_block(plan_of: PlanOf) -> None:
    text = DNS64.replace("  name: kube001\n", "  name: kube001\n  dns_domain: k6.test\n")
    corefile = _corefile(plan_of(text))
    lines = _directives(corefile)
    assert lines[0] == ".:53 {"
    assert "kubernetes k6.test in-addr.arpa ip6.arpa {" in lines
    for plugin in ("errors", "ready", "prometheus :9153", "loop", "reload", "loadbalance"):
        assert plugin in lines
    assert corefile.count("{") == corefile.count("}")
