"""Issue 15, defect 8: detection says what it found in plain terms.

A unique-local address is not called "stable global" (and a global one wins); an IPv4-only
resolver is warned about by `init` and failed by `check` with the fix (CoreDNS would forward to
a server IPv6-only pods cannot reach); a kubectl with another vendor's version scheme is not
read as a Kubernetes minor.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv6Address, IPv6Network

from kube6.checks import Status, run_checks
from kube6.facts import Address, HostFacts, Interface, Route
from kube6.facts.dns import ResolvConf
from kube6.facts.system import Uname
from kube6.init import render_text
from kube6.init_detect import answers_from_facts
from kube6.plan import make_plan
from kube6.spec import from_data
from tests.checks.test_checks import HOSTS, healthy

PLAN = make_plan(
    from_data(
        {
            "prefix": "2001:db8:1234:5678::/64",
            "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
        }
    )
)


def host(*addresses: str, resolvers: tuple[str, ...] = ("2001:db8::53",)) -> HostFacts:
    return HostFacts(
        host="h",
        node="h",
        uname=Uname("web-01", "6.8.0", "x86_64"),
        interfaces=(
            Interface(
                "eth0",
                2,
                True,
                1500,
                tuple(Address(IPv6Address(a), 64, "global") for a in addresses),
            ),
        ),
        routes=(
            *(
                Route(IPv6Network(f"{a}/64", strict=False), "eth0", proto="kernel")
                for a in addresses
            ),
            Route(None, "eth0", IPv6Address("fe80::1"), proto="ra", metric=1024),
        ),
        resolv_conf=ResolvConf(resolvers),
    )


def test_a_unique_local_address_is_not_called_stable_global() -> None:
    answers = answers_from_facts(host("fd12:3456:789a::10"))
    text = render_text(answers)
    assert "fd12:3456:789a::10      # unique-local (ULA)" in text
    assert "stable global" not in text
    assert any("unique-local (ULA): not reachable from the internet" in n for n in answers.notes)


def test_a_global_address_wins_over_a_unique_local_one() -> None:
    answers = answers_from_facts(host("fd12:3456:789a::10", "2001:db8:1234:5678::10"))
    assert str(answers.nodes[0].address) == "2001:db8:1234:5678::10"
    assert "stable global address" in render_text(answers)


def test_init_warns_about_ipv4_only_resolvers() -> None:
    answers = answers_from_facts(
        host("2001:db8:1234:5678::10", resolvers=("192.0.2.53", "198.51.100.53"))
    )
    assert answers.resolvers == ()
    [warning] = answers.warnings
    assert "IPv4 only (192.0.2.53, 198.51.100.53)" in warning
    assert "dns.resolvers" in warning
    assert "# WARNING: this host resolves names through IPv4 only" in render_text(answers)


def _check(facts: HostFacts, name: str, plan: object = PLAN) -> object:
    found = run_checks(plan, {"node0001": facts}, hosts=HOSTS)  # type: ignore[arg-type]
    return next(r for r in found if r.name == name)


def test_check_fails_ipv4_only_resolvers_with_the_fix() -> None:
    facts = healthy(resolv_conf=ResolvConf(("192.0.2.53",)))
    result = _check(facts, "resolvers-ipv6")
    assert result.status is Status.FAIL  # type: ignore[attr-defined]
    assert "IPv4 only (192.0.2.53)" in result.message  # type: ignore[attr-defined]
    assert "dns.resolvers" in result.fix  # type: ignore[attr-defined]
    # With dns.resolvers set, the host's own resolvers do not matter.
    plan = make_plan(
        from_data(
            {
                "prefix": "2001:db8:1234:5678::/64",
                "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
                "dns": {"resolvers": ["2001:db8::53"]},
            }
        )
    )
    assert _check(facts, "resolvers-ipv6", plan).status is Status.OK  # type: ignore[attr-defined]
    # systemd-resolved's stub: its upstream servers count.
    stub = replace(
        facts,
        resolv_conf=ResolvConf(("127.0.0.53",)),
        resolved_conf=ResolvConf(("2001:db8::53",)),
    )
    assert _check(stub, "resolvers-ipv6").status is Status.OK  # type: ignore[attr-defined]


def test_a_foreign_kubectl_version_is_not_a_kubernetes_minor() -> None:
    facts = healthy(packages={"kubectl": "1:528.0.0-0"})
    result = _check(facts, "kubernetes-packages")
    assert "not a Kubernetes release version" in result.message  # type: ignore[attr-defined]
    assert "kubeadm upgrade" not in result.fix  # type: ignore[attr-defined]
    assert "apt-get remove kubectl" in result.fix  # type: ignore[attr-defined]
    older = _check(healthy(packages={"kubeadm": "1.36.4-1.1"}), "kubernetes-packages")
    assert "kubeadm upgrade" in older.fix  # type: ignore[attr-defined]
