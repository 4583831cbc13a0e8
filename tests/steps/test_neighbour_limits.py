"""The neighbour-table limits (issue 17 item 3) through up and reset: saved before they change,
set with the rest, and restored by `kube6 reset` like every other setting kube6 changed."""

from __future__ import annotations

from kube6.components.host import reset as host_reset
from kube6.components.host import steps as host
from kube6.components.host.steps import SysctlFacts
from kube6.plan.model import Plan
from kube6.steps import Exec

from .conftest import context

GC = tuple(f"net.ipv6.neigh.default.gc_thresh{i}" for i in (1, 2, 3))
BEFORE = {
    "net.ipv6.conf.eth0.accept_ra": "1",
    "net.ipv6.conf.all.forwarding": "0",
    "net.ipv6.conf.default.forwarding": "0",
    **dict(zip(GC, ("128", "512", "1024"), strict=True)),
}


def test_up_saves_the_limits_and_reset_restores_them(plan: Plan) -> None:
    ctx = context(plan)
    actions = host.plan_sysctl(ctx, SysctlFacts(None, BEFORE, False, None)).actions
    [snapshot] = [a for a in actions if isinstance(a, Exec) and "kube6-snapshot" in a.display]
    saved = snapshot.display.split("/var/lib/kube6/sysctl-before.conf ", 1)[1].split()
    assert set(GC) <= set(saved)
    # What `sysctl -e KEY...` wrote into the snapshot on that host, read back by reset.
    text = "".join(f"{k} = {BEFORE[k]}\n" for k in saved)
    step_plan = host_reset.plan_host(ctx, host_reset.HostFacts(text, (), None))
    restore = step_plan.actions[0].display
    assert restore.startswith("sysctl -w net.ipv6.conf.all.forwarding=0 ")
    for key in GC:
        assert f"{key}={BEFORE[key]}" in restore.split()
