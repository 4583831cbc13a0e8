"""host/sysctl, host/modules, host/swap: recorded facts in, exact commands out."""

from __future__ import annotations

from pathlib import Path

from kube6.components.host import steps as host
from kube6.components.host.steps import ModulesFacts, SwapFacts, SysctlFacts
from kube6.execute import RecordingExecutor
from kube6.plan.model import Plan
from kube6.steps import Exec, PutFile, StepPlan

from .conftest import arun, context

KEYS = (  # in the order of the rendered file: accept_ra before forwarding
    "net.ipv6.conf.eth0.accept_ra",
    "net.ipv6.conf.all.forwarding",
    "net.ipv6.conf.default.forwarding",
)
CONVERGED = dict(zip(KEYS, ("2", "1", "1"), strict=True))
GC = tuple(f"net.ipv6.neigh.default.gc_thresh{i}" for i in (1, 2, 3))
"""Marked `-` in the file: absent from a lab node's or container's namespace (the facts above),
present on a real host."""
KERNEL_DEFAULTS = dict(zip(GC, ("128", "512", "1024"), strict=True))


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def test_sysctl_fresh_host_with_ra_route_sets_accept_ra_first(plan: Plan) -> None:
    ctx = context(plan)
    rendered = ctx.files[host.SYSCTL_PATH].content
    facts = SysctlFacts(None, dict(zip(KEYS, ("1", "0", "0"), strict=True)), True, None)
    assert shown(host.plan_sysctl(ctx, facts)) == [
        'sh -c \'f=$1; shift; mkdir -p "${f%/*}" && sysctl -e "$@" >> "$f"\' kube6-snapshot '
        "/var/lib/kube6/sysctl-before.conf " + " ".join(KEYS),
        "sysctl -w net.ipv6.conf.eth0.accept_ra=2",
        f"write /etc/sysctl.d/90-kube6.conf (mode 0644, {len(rendered)} bytes)",
        "sysctl -e -p /etc/sysctl.d/90-kube6.conf",
    ]


def test_sysctl_real_host_saves_and_sets_the_neighbour_limits(plan: Plan) -> None:
    ctx = context(plan)
    rendered = ctx.files[host.SYSCTL_PATH].content
    live = {**dict(zip(KEYS, ("1", "0", "0"), strict=True)), **KERNEL_DEFAULTS}
    actions = shown(host.plan_sysctl(ctx, SysctlFacts(None, live, False, None)))
    assert actions[0].endswith("/var/lib/kube6/sysctl-before.conf " + " ".join(KEYS + GC))
    assert actions[-1] == "sysctl -e -p /etc/sysctl.d/90-kube6.conf"
    wanted = host.parse_sysctl_conf(rendered)
    low, soft, hard = plan.neighbours.gc_thresh
    assert [wanted[k] for k in GC] == [str(low), str(soft), str(hard)]
    assert host.optional_keys(rendered) == frozenset(GC)


def test_sysctl_older_snapshot_gets_only_the_new_keys(plan: Plan) -> None:
    """A host upped by a kube6 that did not set the neighbour limits: its snapshot holds the
    forwarding keys' old values (kept) and gets the limits' current ones added, for reset."""
    ctx = context(plan)
    old = "".join(f"{k} = {v}\n" for k, v in zip(KEYS, ("1", "0", "0"), strict=True))
    facts = SysctlFacts("older file", {**CONVERGED, **KERNEL_DEFAULTS}, False, old)
    actions = shown(host.plan_sysctl(ctx, facts))
    assert actions[0].endswith("/var/lib/kube6/sysctl-before.conf " + " ".join(GC))
    assert "sysctl -e -p /etc/sysctl.d/90-kube6.conf" in actions


def test_sysctl_static_route_needs_no_early_accept_ra_and_keeps_snapshot(plan: Plan) -> None:
    ctx = context(plan)
    facts = SysctlFacts(None, {**CONVERGED, KEYS[0]: "0"}, False, f"{KEYS[0]} = 1\n")
    assert shown(host.plan_sysctl(ctx, facts))[1:] == ["sysctl -e -p /etc/sysctl.d/90-kube6.conf"]
    assert shown(host.plan_sysctl(ctx, facts))[0].startswith("write /etc/sysctl.d/90-kube6.conf")


def test_sysctl_file_only_differs(plan: Plan) -> None:
    ctx = context(plan)
    actions = host.plan_sysctl(ctx, SysctlFacts("old", CONVERGED, True, None)).actions
    assert [type(a) for a in actions] == [PutFile]


def test_sysctl_converged(plan: Plan) -> None:
    """In a lab node's namespace the neighbour limits do not exist: 3 settings, converged."""
    ctx = context(plan)
    facts = SysctlFacts(ctx.files[host.SYSCTL_PATH].content, CONVERGED, True, "x")
    assert host.plan_sysctl(ctx, facts).noop == (
        "/etc/sysctl.d/90-kube6.conf is in place and its 3 settings are live"
    )
    low, soft, hard = plan.neighbours.gc_thresh
    real = {**CONVERGED, **dict(zip(GC, map(str, (low, soft, hard)), strict=True))}
    facts = SysctlFacts(ctx.files[host.SYSCTL_PATH].content, real, True, "x")
    assert host.plan_sysctl(ctx, facts).noop == (
        "/etc/sysctl.d/90-kube6.conf is in place and its 6 settings are live"
    )
    # A real host whose limits drifted back to the kernel's: set again.
    drifted = SysctlFacts(facts.file, {**real, **KERNEL_DEFAULTS}, True, "x")
    assert shown(host.plan_sysctl(ctx, drifted))[-1] == "sysctl -e -p /etc/sysctl.d/90-kube6.conf"


def test_sysctl_read_probes(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply(
        ("sysctl", "-e", *KEYS, *GC), stdout="".join(f"{k} = {v}\n" for k, v in CONVERGED.items())
    )
    ex.reply(
        ("ip", "-6", "route", "show", "default", "dev", "eth0"),
        stdout="default via fe80::1 proto ra metric 1024 expires 1795sec hoplimit 64 pref medium\n",
    )
    facts = arun(host.read_sysctl(context(plan, executor=ex)))
    assert facts == SysctlFacts(None, CONVERGED, True, None)


def test_sysctl_parsers() -> None:
    assert (
        host.parse_default_route_from_ra("default via fe80::1 dev eth0 proto static metric 1\n")
        is False
    )
    assert (
        host.parse_default_route_from_ra("default via fe80::1 dev eth0 proto ra metric 1024\n")
        is True
    )
    assert host.parse_sysctl_conf("# c\n; c\n-net.a = 1\nnet.b=2\n") == {"net.a": "1", "net.b": "2"}
    assert host.restore_order({"net.x.accept_ra": "1", "net.all.forwarding": "0"}) == [
        ("net.all.forwarding", "0"),
        ("net.x.accept_ra", "1"),
    ]


def test_modules(plan: Plan) -> None:
    ctx = context(plan)
    rendered = ctx.files[host.MODULES_PATH].content
    assert shown(host.plan_modules(ctx, ModulesFacts(None, frozenset({"overlay"})))) == [
        f"write /etc/modules-load.d/kube6.conf (mode 0644, {len(rendered)} bytes)",
        "modprobe nf_tables",
    ]
    converged = ModulesFacts(rendered, frozenset({"overlay", "nf_tables"}))
    assert host.plan_modules(ctx, converged).noop == (
        "/etc/modules-load.d/kube6.conf is in place and overlay, nf_tables are loaded"
    )


def test_modules_read_counts_builtin_ones(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply(
        host.MODULES_PROBE,
        stdout="== proc\n== sys\n== builtin\nkernel/net/netfilter/nf_tables.ko\n== config\n== fs\n",
    )
    facts = arun(host.read_modules(context(plan, executor=ex)))
    assert facts.loaded == frozenset({"nf_tables"})


def test_modules_built_in_on_a_kernel_without_loadable_modules_need_no_modprobe(
    plan: Plan,
) -> None:
    # Recorded in a lab node (systemd-nspawn) on a kernel built without module support: no
    # /proc/modules, /sys/module or /lib/modules, so `modprobe overlay` fails there ("Module
    # overlay not found"); /proc/config.gz and /proc/filesystems show both built in.
    recorded = (Path(__file__).parents[1] / "facts" / "data" / "modules-lab-node.txt").read_text()
    ex = RecordingExecutor(host="node0001")
    ex.reply(host.MODULES_PROBE, stdout=recorded)
    ctx = context(plan, executor=ex)
    facts = arun(host.read_modules(ctx))
    assert facts.loaded == frozenset({"overlay", "nf_tables"})
    rendered = ctx.files[host.MODULES_PATH].content
    assert shown(host.plan_modules(ctx, facts)) == [
        f"write /etc/modules-load.d/kube6.conf (mode 0644, {len(rendered)} bytes)"
    ]


FSTAB = "UUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n# /old none swap sw 0 0\n"


def test_swap_on_is_turned_off_now_and_at_boot(plan: Plan) -> None:
    ctx = context(plan)
    facts = SwapFacts("Filename Type Size Used Priority\n/swap.img file 1 0 -2\n", FSTAB)
    step_plan = host.plan_swap(ctx, facts)
    assert shown(step_plan)[0] == "swapoff -a"
    put = step_plan.actions[1]
    assert isinstance(put, PutFile)
    assert put.path == "/etc/fstab"
    assert put.content == (
        "UUID=1 / ext4 defaults 0 1\n#kube6-swap-off# /swap.img none swap sw 0 0\n"
        "# /old none swap sw 0 0\n"
    )
    assert isinstance(step_plan.actions[0], Exec)


def test_swap_converged(plan: Plan) -> None:
    facts = SwapFacts("Filename Type Size Used Priority\n", host.fstab_without_swap(FSTAB))
    assert host.plan_swap(context(plan), facts).noop == "no swap in use and none in /etc/fstab"
