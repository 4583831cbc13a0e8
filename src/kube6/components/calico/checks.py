"""Calico's object checks for `kube6 verify`: its IPPools exactly the planned ones, its blocks
inside them (`calico-ippools`, `calico-blocks`), and in `bgp` routing every node's BGP sessions
established (`calico-bgp-sessions`), on the objects verify lists (`kinds`)."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv6Address, IPv6Network

from kube6.components.calico.bgp import BGP_PATH, NODE_STATUS_PERIOD, node_status_name
from kube6.plan.model import LOAD_BALANCER_POOL, Plan, Pool
from kube6.verify.objects import (
    ClusterObjects,
    CustomKind,
    Obj,
    address_of,
    dig,
    join_fixes,
    network_of,
    not_installed,
    obj_name,
)
from kube6.verify.result import CheckResult, failed, passed, skipped

IP_POOL = CustomKind("crd.projectcalico.org", "v1", "IPPool", "ippools", namespaced=False)
BLOCK_AFFINITY = CustomKind(
    "crd.projectcalico.org", "v1", "BlockAffinity", "blockaffinities", namespaced=False
)
NODE_STATUS = CustomKind(
    "crd.projectcalico.org", "v1", "CalicoNodeStatus", "caliconodestatuses", namespaced=False
)
"""Read where Calico stores them (as the pools), so the check works with Calico's API server
down; kube6 writes them through projectcalico.org/v3 (render.node_status)."""
LOAD_BALANCER_NODE = "load-balancer"
"""The virtual node that Calico's IPAM affines LoadBalancer blocks to (v3.VirtualLoadBalancer)."""


def kinds(plan: Plan) -> tuple[CustomKind, ...]:
    """What verify lists for these checks: the node statuses only where BGP runs."""
    base = (IP_POOL, BLOCK_AFFINITY)
    return base if plan.bgp is None else (*base, NODE_STATUS)


NAMESPACES = ("calico-system", "tigera-operator")
"""Where Calico's pods run (verify's `system-pods` expects them Running)."""

CALICO_DEFAULT_IPV6_BLOCK = 122
"""Calico's IPv6 blockSize when an IPPool does not set one."""

_CALICO_FIX = (
    "install Calico as `kube6 up` does: the CRD chart (crd.projectcalico.org.v1), then "
    "tigera-operator with the rendered cluster/calico/values.yaml"
)


_REINSTALL = (
    "the Installation's ipPools cannot change after the first install: re-install "
    "tigera-operator with the rendered cluster/calico/values.yaml"
)


LOAD_BALANCER_USES = ["LoadBalancer"]
WORKLOAD_USES = ("Workload", "Tunnel")
"""Calico's allowedUses of a pool that sets none: what the pod pools carry."""


def planned_pools(plan: Plan) -> list[tuple[Pool, list[str]]]:
    """Every pool the Installation makes, with its allowedUses: the pod pools, then the
    LoadBalancer pool (every node, no NAT, its own block size)."""
    lb = plan.load_balancers
    balancers = Pool(LOAD_BALANCER_POOL, lb.cidr, lb.block_size, nat_outgoing=False, nodes=None)
    return [*((p, list(WORKLOAD_USES)) for p in plan.pools), (balancers, LOAD_BALANCER_USES)]


def check_ip_pools(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`calico-ippools`: exactly the planned pools: IPv6, block size, no encapsulation, NAT,
    and what each is for (pods, or LoadBalancer Services)."""
    name = "calico-ippools"
    pools = objects.of(IP_POOL)
    if pools is None:
        return not_installed(name, "Calico", "ippools.crd.projectcalico.org", _CALICO_FIX)
    uses_of = {p.cidr: uses for p, uses in planned_pools(plan)}
    planned = {p.cidr: p for p, _ in planned_pools(plan)}
    bad: list[str] = []
    fixes: list[str] = []
    found: set[IPv6Network] = set()
    seen: list[str] = []
    for obj in pools:
        net, problem, fix, ok_line = _judge_pool(obj, planned, uses_of)
        if net is not None:
            found.add(net)
        if problem is not None:
            bad.append(problem)
            fixes.append(fix)
        if ok_line is not None:
            seen.append(ok_line)
    for cidr, pool in planned.items():
        if cidr not in found:
            bad.append(f"planned pool {pool.name} ({cidr}) does not exist")
            fixes.append(_fix_for(pool))
    if bad:
        return failed(
            name,
            f"Calico IPPools differ from the plan ({len(bad)} problem(s))",
            join_fixes(fixes),
            bad,
        )
    return passed(name, f"the {len(planned)} Calico IPPool(s) are exactly the plan's", seen)


_LOAD_BALANCER_FIX = (
    "kube6 applies the LoadBalancer pool itself (cluster/calico-load-balancers/pool.yaml, the "
    "step network/calico-load-balancers): run `kube6 up`, or delete the pool first when it "
    "differs (Services keep their addresses until they are re-created)"
)


def _fix_for(pool: Pool) -> str:
    return _LOAD_BALANCER_FIX if pool.name == LOAD_BALANCER_POOL else _REINSTALL


def _judge_pool(
    obj: Obj, planned: dict[IPv6Network, Pool], uses_of: dict[IPv6Network, list[str]]
) -> tuple[IPv6Network | None, str | None, str, str | None]:
    """One IPPool: (the planned pool's CIDR it is, the problem or None, its fix, the line
    that says it is as planned or ignored)."""
    spec = obj.get("spec") or {}
    label = obj_name(obj)
    net = network_of(spec.get("cidr"))
    if not isinstance(net, IPv6Network):
        return (
            None,
            f"{label}: cidr {spec.get('cidr')} is not IPv6",
            f"delete it: `kubectl delete ippools.crd.projectcalico.org {label}`; the "
            "Installation must have no IPv4 pool (see cluster/calico/values.yaml)",
            None,
        )
    pool = planned.get(net)
    if pool is None:
        if spec.get("disabled") is True:
            return None, None, "", f"{label}: {net} (disabled, not planned)"
        return (
            None,
            f"{label}: {net} is not a planned pool",
            f"pods may get addresses from {net}: disable or delete the pool "
            f"(`kubectl delete ippools.crd.projectcalico.org {label}`); planned pools: "
            + ", ".join(str(c) for c in planned),
            None,
        )
    problems = _pool_differences(pool, spec, uses_of[net])
    if not problems:
        return net, None, "", f"{label}: {net} /{pool.block_size} as planned"
    if pool.name == LOAD_BALANCER_POOL:
        fix = _LOAD_BALANCER_FIX
    else:
        fix = (
            "the operator keeps pools as the Installation created them: delete the pool and "
            "let tigera-operator re-create it from the rendered values, or edit it with "
            f"`kubectl edit ippools.crd.projectcalico.org {label}` (pods keep their "
            "addresses until they are re-created)"
        )
    return net, f"{label}: {net}: {'; '.join(problems)}", fix, None


def _pool_differences(pool: Pool, spec: Obj, uses: list[str]) -> list[str]:
    problems: list[str] = []
    found_uses = sorted(spec.get("allowedUses") or WORKLOAD_USES)
    if found_uses != sorted(uses):
        problems.append(f"allowedUses {found_uses}, planned {sorted(uses)}")
    block = spec.get("blockSize", CALICO_DEFAULT_IPV6_BLOCK)
    if block != pool.block_size:
        problems.append(f"blockSize {block}, planned {pool.block_size}")
    for field in ("ipipMode", "vxlanMode"):
        mode = spec.get(field)
        if mode not in (None, "", "Never"):
            problems.append(f"{field} {mode}, planned Never (no encapsulation)")
    nat = bool(spec.get("natOutgoing", False))
    if nat != pool.nat_outgoing:
        problems.append(f"natOutgoing {str(nat).lower()}, planned {str(pool.nat_outgoing).lower()}")
    if spec.get("disabled") is True:
        problems.append("disabled")
    selector = spec.get("nodeSelector") or "all()"
    if selector != pool.node_selector:
        problems.append(f"nodeSelector {selector!r}, planned {pool.node_selector!r}")
    return problems


def check_calico_blocks(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`calico-blocks`: every block affinity inside a planned pool, of its block size, on a
    node that the pool serves."""
    name = "calico-blocks"
    affinities = objects.of(BLOCK_AFFINITY)
    if affinities is None:
        return not_installed(name, "Calico", "blockaffinities.crd.projectcalico.org", _CALICO_FIX)
    bad: list[str] = []
    for obj in affinities:
        spec = obj.get("spec") or {}
        # Calico marks affinities it is releasing (spec.deleted is the string "true").
        if str(spec.get("deleted", "false")).lower() == "true":
            continue
        node = spec.get("node", "?")
        net = network_of(spec.get("cidr"))
        where = f"block {spec.get('cidr')} on {node}"
        if not isinstance(net, IPv6Network):
            bad.append(f"{where}: not an IPv6 block")
            continue
        pool = next((p for p, _ in planned_pools(plan) if net.subnet_of(p.cidr)), None)
        if pool is None:
            bad.append(f"{where}: outside every planned pool")
        elif net.prefixlen != pool.block_size:
            bad.append(f"{where}: /{net.prefixlen}, pool {pool.name} has /{pool.block_size} blocks")
        elif pool.name == LOAD_BALANCER_POOL and node != LOAD_BALANCER_NODE:
            bad.append(f"{where}: the LoadBalancer range's blocks belong to {LOAD_BALANCER_NODE}")
        elif pool.nodes is not None and node not in pool.nodes:
            bad.append(f"{where}: pool {pool.name} serves only {', '.join(pool.nodes)}")
    if bad:
        return failed(
            name,
            f"{len(bad)} Calico block(s) are outside the plan",
            "blocks come from the IPPools: fix `calico-ippools` first, then release the stray "
            "blocks by re-creating the pods that use them (`calicoctl ipam check` lists them)",
            bad,
        )
    return passed(name, f"all {len(affinities)} Calico block(s) are inside the planned pools")


ESTABLISHED = "Established"


def check_bgp_sessions(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`calico-bgp-sessions` (routing `bgp`): on every node, BIRD runs and its sessions with the
    router and with the other nodes (the mesh) are Established, as calico-node last reported
    into kube6's CalicoNodeStatus of the node."""
    name = "calico-bgp-sessions"
    bgp = plan.bgp
    if bgp is None:
        return skipped(name, f"routing {plan.routing} runs no BGP")
    statuses = objects.of(NODE_STATUS)
    if statuses is None:
        return not_installed(name, "Calico", NODE_STATUS.crd, _CALICO_FIX)
    by_name = {obj_name(o): o for o in statuses}
    reported = [_reported(o) for o in by_name.values()]
    newest = max((t for t in reported if t is not None), default=None)
    bad: list[str] = []
    fixes: list[str] = []
    seen: list[str] = []
    for node in plan.nodes:
        status = by_name.get(node_status_name(node.name))
        if status is None:
            bad.append(f"{node.name}: no CalicoNodeStatus {node_status_name(node.name)}")
            fixes.append(f"apply {BGP_PATH} (the step network/calico-bgp of `kube6 up`)")
            continue
        problem, fix, line = _judge_sessions(
            node.name, status, bgp.peer, bgp.as_number, signed=bgp.password_file is not None
        )
        if not problem:
            problem, fix = _stale(node.name, status, newest)
        if problem:
            bad.append(problem)
            fixes.append(fix)
        else:
            seen.append(line)
    if bad:
        return failed(
            name,
            f"{len(bad)} of {len(plan.nodes)} node(s) lack an established BGP session",
            join_fixes(fixes),
            bad,
        )
    return passed(
        name,
        f"every node's sessions with {bgp.peer} and its mesh peers are Established "
        f"(calico-node reports every {NODE_STATUS_PERIOD} s)",
        seen,
    )


STALE_REPORTS = 3
"""Reports a node may miss (NODE_STATUS_PERIOD each) before its last one no longer counts."""


def _reported(status: Obj) -> datetime | None:
    """When calico-node last reported into `status` (its RFC 3339 `lastUpdated`), or None."""
    when = dig(status, "status", "lastUpdated")
    if not isinstance(when, str):
        return None
    try:
        found = datetime.fromisoformat(when)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _stale(node: str, status: Obj, newest: datetime | None) -> tuple[str, str]:
    """A report far older than the newest one of any node: that calico-node stopped reporting
    (its pod is gone or stuck), and the sessions it last saw say nothing about now. Judged
    against the other nodes' reports, not a clock, so that a skewed clock on the machine that
    runs kube6 cannot make every report look old."""
    when = _reported(status)
    if when is None or newest is None:
        return "", ""
    behind = (newest - when).total_seconds()
    if behind <= STALE_REPORTS * NODE_STATUS_PERIOD:
        return "", ""
    return (
        f"{node}: calico-node's last report (lastUpdated {dig(status, 'status', 'lastUpdated')}) "
        f"is {behind:.0f} s older than another node's: it stopped reporting, its sessions "
        "are not known",
        f"is calico-node running there? `kubectl -n calico-system get pods -o wide "
        f"--field-selector spec.nodeName={node}`",
    )


def _judge_sessions(
    node: str, status: Obj, router: IPv6Address, cluster_as: int, *, signed: bool = False
) -> tuple[str, str, str]:
    """One node's CalicoNodeStatus: (the problem or "", its fix, the line that says it is
    fine)."""
    logs = f"`kubectl -n calico-system logs ds/calico-node -c calico-node` (the pod on {node})"
    bird = dig(status, "status", "agent", "birdV6", "state")
    sessions = dig(status, "status", "bgp")
    if not isinstance(sessions, dict) or bird is None:
        when = dig(status, "status", "lastUpdated")
        return (
            f"{node}: calico-node has not reported (lastUpdated {when or 'never'})",
            f"is calico-node running there? {logs}",
            "",
        )
    if bird != "Ready":
        return (
            f"{node}: BIRD (IPv6) is {bird}",
            f"BIRD runs in calico-node when the Installation's bgp is Enabled: {logs}",
            "",
        )
    peers = [p for p in sessions.get("peersV6") or [] if isinstance(p, dict)]
    upstream = [p for p in peers if address_of(p.get("peerIP")) == router]
    if not upstream:
        return (
            f"{node}: no session with the router {router}",
            "the BGPPeer kube6-upstream must exist (`kubectl get bgppeers.projectcalico.org`)",
            "",
        )
    session = upstream[0]
    if session.get("state") != ESTABLISHED:
        return (
            f"{node}: the session with the router {router} is {session.get('state')} "
            f"(since {session.get('since', '?')})",
            f"the router must have each node's address as a neighbour with remote AS "
            f"{cluster_as}, and TCP 179 must be open both ways"
            + (
                "; the password in bgp.password_file must be the router's (`kube6 up` puts it "
                "in the Secret calico-system/kube6-bgp-password; `kube6 check` tries it)"
                if signed
                else ""
            ),
            "",
        )
    mesh = [p for p in peers if p.get("type") == "NodeMesh"]
    down = [f"{p.get('peerIP')} {p.get('state')}" for p in mesh if p.get("state") != ESTABLISHED]
    if down:
        return (
            f"{node}: mesh session(s) not Established: {', '.join(down)}",
            "the nodes peer with each other on TCP 179: kube6's host firewall opens it between "
            "nodes; check a firewall of the provider's; every node signs these sessions with the "
            "password of the Secret calico-system/kube6-bgp-mesh-password (`kube6 up` makes it)",
            "",
        )
    return "", "", f"{node}: router {router} Established, {len(mesh)} mesh peer(s) Established"


CHECKS = (check_ip_pools, check_calico_blocks, check_bgp_sessions)
