"""routing/* (ndppd or nothing) and firewall/* (nft -f, the boot unit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kube6.components.firewall import steps as firewall
from kube6.components.ndppd import steps as routing
from kube6.execute import RecordingExecutor
from kube6.facts.system import OsRelease
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import load, parse_text
from kube6.steps import StepPlan, probe
from kube6.steps.apt import PackageFacts

from .conftest import arun, context

GOLDEN = Path(__file__).parent.parent / "golden"


@pytest.fixture(scope="module")
def bgp_plan() -> Plan:
    return make_plan(load(GOLDEN / "own-prefixes-bgp" / "kube6.yaml"), source="test")


BOOKWORM = OsRelease("debian", "12", "Debian GNU/Linux 12 (bookworm)", codename="bookworm")


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def test_ndppd_install_config_service(plan: Plan) -> None:
    ctx = context(plan)
    fresh = routing.InstallFacts(PackageFacts({"ndppd": None}, frozenset()), BOOKWORM, None)
    assert shown(routing.plan_install(ctx, fresh)) == [
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y ndppd"
    ]
    done = routing.InstallFacts(PackageFacts({"ndppd": "0.2.5-6"}, frozenset()), BOOKWORM, None)
    assert routing.plan_install(ctx, done).noop == "ndppd 0.2.5-6 is installed"
    rendered = ctx.files[routing.CONFIG_PATH].content
    dropin = ctx.files[routing.DROPIN_PATH].content
    assert "Restart=on-failure" in dropin
    running = probe.ServiceFacts(True, True)
    assert shown(routing.plan_config(ctx, routing.ConfigFacts("proxy eth9 {}", running))) == [
        f"write {routing.DROPIN_PATH} (mode 0644, {len(dropin)} bytes)",
        "systemctl daemon-reload",
        f"write /etc/ndppd.conf (mode 0644, {len(rendered)} bytes)",
        "systemctl restart ndppd",
    ]
    assert shown(
        routing.plan_config(ctx, routing.ConfigFacts("proxy eth9 {}", running, dropin))
    ) == [f"write /etc/ndppd.conf (mode 0644, {len(rendered)} bytes)", "systemctl restart ndppd"]
    assert routing.plan_config(ctx, routing.ConfigFacts(rendered, running, dropin)).noop == (
        "/etc/ndppd.conf (and its systemd drop-in) are the rendered ones"
    )
    # Two commands: `enable --now` never starts a SysV-generated unit such as Debian's ndppd.
    assert shown(routing.plan_service(ctx, probe.ServiceFacts(False, False))) == [
        "systemctl enable ndppd",
        "systemctl start ndppd",
    ]
    assert routing.plan_service(ctx, running).noop == "ndppd is enabled and running"


def test_bgp_and_routed_modes_need_nothing_on_the_host(bgp_plan: Plan) -> None:
    ex = RecordingExecutor(host="alpha")  # strict: any probe would fail the test
    ctx = context(bgp_plan, "alpha", executor=ex)
    reason = "routing is bgp: Calico peers with the router, nothing runs on the host for it"
    assert routing.plan_install(ctx, arun(routing.read_install(ctx))).noop == reason
    assert routing.plan_config(ctx, arun(routing.read_config(ctx))).noop == reason
    assert routing.plan_service(ctx, arun(routing.read_service(ctx))).noop == reason
    assert ex.commands == []
    routed = make_plan(
        parse_text(
            "cluster: {name: r1}\nprefix: 2001:db8:1234:5678::/64\nrouting: routed\n"
            "nodes:\n  - {name: n1, address: '2001:db8:1234:5678::1', roles: [control-plane, worker]}\n"
        ),
        source="test",
    )
    assert routing.plan_service(context(routed), probe.ServiceFacts(False, False)).noop == (
        "routing is routed: the provider routes the prefix to the hosts, nothing to proxy"
    )


def test_firewall_rules(plan: Plan) -> None:
    ctx = context(plan)
    artifact = firewall.firewall_file(ctx)
    assert artifact is not None
    assert firewall.host_path(ctx, artifact) == "/etc/kube6/firewall.nft"
    assert firewall.table_of(artifact.content) == ("ip6", "kube6")
    assert shown(firewall.plan_firewall(ctx, firewall.FirewallFacts(None, False))) == [
        f"write /etc/kube6/firewall.nft (mode {artifact.mode:04o}, {len(artifact.content)} bytes)",
        "nft -f /etc/kube6/firewall.nft",
    ]
    # file in place but the table was flushed (e.g. `nft flush ruleset`): load it again
    assert shown(firewall.plan_firewall(ctx, firewall.FirewallFacts(artifact.content, False))) == [
        "nft -f /etc/kube6/firewall.nft"
    ]
    assert firewall.plan_firewall(ctx, firewall.FirewallFacts(artifact.content, True)).noop == (
        "/etc/kube6/firewall.nft is the rendered one and table ip6 kube6 is loaded"
    )


def test_firewall_read_probes_the_table(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply(
        ("nft", "list", "table", "ip6", "kube6"), exit_code=1, stderr="No such file or directory"
    )
    assert arun(firewall.read_firewall(context(plan, executor=ex))) == firewall.FirewallFacts(
        None, False
    )


def test_firewall_boot_unit(plan: Plan) -> None:
    ctx = context(plan)
    unit = firewall.unit_file(ctx)
    assert unit is not None
    assert shown(firewall.plan_boot(ctx, firewall.BootFacts(None, False))) == [
        f"write /etc/systemd/system/kube6-firewall.service (mode 0644, {len(unit.content)} bytes)",
        "systemctl daemon-reload",
        "systemctl enable kube6-firewall.service",
    ]
    assert firewall.plan_boot(ctx, firewall.BootFacts(unit.content, True)).noop == (
        "kube6-firewall.service is installed and enabled"
    )


def test_ndppd_from_a_mirror_of_the_distribution_archive() -> None:
    # A lab node (like an air-gapped server) reaches no Debian archive of its own: apt-get
    # install ndppd found no package. mirrors.apt.distribution gives it one.
    spec = parse_text(
        "prefix: 2001:db8:1234:5678::/64\n"
        "nodes: [{name: node0001, address: '2001:db8:1234:5678::1'}]\n"
        "mirrors: {apt: {distribution: 'http://[2001:db8:ffff::10]:8080/apt/debian'}}\n"
    )
    ctx = context(make_plan(spec, source="test"))
    fresh = routing.InstallFacts(PackageFacts({"ndppd": None}, frozenset()), BOOKWORM, None)
    step = routing.plan_install(ctx, fresh)
    sources = step.actions[0].content  # type: ignore[union-attr]
    assert shown(step) == [
        f"write {routing.MIRROR_SOURCES} (mode 0644, {len(sources)} bytes)",
        "env DEBIAN_FRONTEND=noninteractive apt-get update",
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y ndppd",
    ]
    assert sources.splitlines()[1] == "deb http://[2001:db8:ffff::10]:8080/apt/debian bookworm main"
    placed = routing.InstallFacts(PackageFacts({"ndppd": None}, frozenset()), BOOKWORM, sources)
    assert shown(routing.plan_install(ctx, placed))[0].endswith("apt-get update")


def test_a_fresh_dry_run_installs_ndppd_through_the_archive_mirror_of_its_release() -> None:
    for mirror, line in (
        ("http://[2001:db8::10]/{distro}", "deb http://[2001:db8::10]/ubuntu noble universe"),
        ("http://[2001:db8::10]/debian", "deb http://[2001:db8::10]/debian bookworm main"),
    ):
        spec = parse_text(
            "prefix: 2001:db8:1234:5678::/64\n"
            "nodes: [{name: node0001, address: '2001:db8:1234:5678::1'}]\n"
            f"mirrors: {{apt: {{distribution: '{mirror}'}}}}\n"
        )
        ctx = context(make_plan(spec, source="test"), fresh=True)
        step = routing.plan_install(ctx, routing.fresh_install(ctx))
        assert step.actions[0].content.splitlines()[1] == line  # type: ignore[union-attr]


def test_ndppd_from_one_archive_mirror_for_debian_and_ubuntu_nodes() -> None:
    def install(distribution: str, release: OsRelease) -> StepPlan:
        spec = parse_text(
            "prefix: 2001:db8:1234:5678::/64\n"
            "nodes: [{name: node0001, address: '2001:db8:1234:5678::1'}]\n"
            f"mirrors: {{apt: {{distribution: '{distribution}'}}}}\n"
        )
        ctx = context(make_plan(spec, source="test"))
        fresh = routing.InstallFacts(PackageFacts({"ndppd": None}, frozenset()), release, None)
        return routing.plan_install(ctx, fresh)

    noble = OsRelease("ubuntu", "24.04", "Ubuntu 24.04.3 LTS", codename="noble")
    for release, line in (
        (BOOKWORM, "deb http://[2001:db8::10]/debian bookworm main"),
        (noble, "deb http://[2001:db8::10]/ubuntu noble universe"),
    ):
        step = install("http://[2001:db8::10]/{distro}", release)
        assert step.actions[0].content.splitlines()[1] == line  # type: ignore[union-attr]
    step = install("http://[2001:db8::10]/debian", noble)
    assert step.refuse == (
        "node0001 runs Ubuntu 24.04.3 LTS, but mirrors.apt.distribution "
        "(http://[2001:db8::10]/debian) is debian's"
    )
    assert "'http://[2001:db8::10]/{distro}'" in step.fix
