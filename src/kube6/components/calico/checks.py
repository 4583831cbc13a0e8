"""Calico's object checks for `kube6 verify`: its IPPools exactly the planned ones, its blocks
inside them (`calico-ippools`, `calico-blocks`), on the objects verify lists (`KINDS`)."""

from __future__ import annotations

from ipaddress import IPv6Network

from kube6.plan.model import Plan, Pool
from kube6.verify.objects import (
    ClusterObjects,
    CustomKind,
    Obj,
    join_fixes,
    network_of,
    not_installed,
    obj_name,
)
from kube6.verify.result import CheckResult, failed, passed

IP_POOL = CustomKind("crd.projectcalico.org", "v1", "IPPool", "ippools", namespaced=False)
BLOCK_AFFINITY = CustomKind(
    "crd.projectcalico.org", "v1", "BlockAffinity", "blockaffinities", namespaced=False
)
KINDS = (IP_POOL, BLOCK_AFFINITY)
"""What verify lists for these checks."""

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


def check_ip_pools(plan: Plan, objects: ClusterObjects) -> CheckResult:
    """`calico-ippools`: exactly the planned pools: IPv6, block size, no encapsulation, NAT."""
    name = "calico-ippools"
    pools = objects.of(IP_POOL)
    if pools is None:
        return not_installed(name, "Calico", "ippools.crd.projectcalico.org", _CALICO_FIX)
    planned = {p.cidr: p for p in plan.pools}
    bad: list[str] = []
    fixes: list[str] = []
    found: set[IPv6Network] = set()
    seen: list[str] = []
    for obj in pools:
        spec = obj.get("spec") or {}
        label = obj_name(obj)
        net = network_of(spec.get("cidr"))
        if not isinstance(net, IPv6Network):
            bad.append(f"{label}: cidr {spec.get('cidr')} is not IPv6")
            fixes.append(
                f"delete it: `kubectl delete ippools.crd.projectcalico.org {label}`; the "
                "Installation must have no IPv4 pool (see cluster/calico/values.yaml)"
            )
            continue
        pool = planned.get(net)
        if pool is None:
            if spec.get("disabled") is True:
                seen.append(f"{label}: {net} (disabled, not planned)")
                continue
            bad.append(f"{label}: {net} is not a planned pool")
            fixes.append(
                f"pods may get addresses from {net}: disable or delete the pool "
                f"(`kubectl delete ippools.crd.projectcalico.org {label}`); planned pools: "
                + ", ".join(str(p.cidr) for p in plan.pools)
            )
            continue
        found.add(net)
        problems = _pool_differences(pool, spec)
        if problems:
            bad.append(f"{label}: {net}: {'; '.join(problems)}")
            fixes.append(
                "the operator keeps pools as the Installation created them: delete the pool and "
                "let tigera-operator re-create it from the rendered values, or edit it with "
                "`kubectl edit ippools.crd.projectcalico.org " + label + "` (pods keep their "
                "addresses until they are re-created)"
            )
        else:
            seen.append(f"{label}: {net} /{pool.block_size} as planned")
    missing = [
        f"planned pool {p.name} ({c}) does not exist" for c, p in planned.items() if c not in found
    ]
    bad += missing
    fixes += [_REINSTALL] * len(missing)
    if bad:
        return failed(
            name,
            f"Calico IPPools differ from the plan ({len(bad)} problem(s))",
            join_fixes(fixes),
            bad,
        )
    return passed(name, f"the {len(planned)} Calico IPPool(s) are exactly the plan's", seen)


def _pool_differences(pool: Pool, spec: Obj) -> list[str]:
    problems: list[str] = []
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
        pool = next((p for p in plan.pools if net.subnet_of(p.cidr)), None)
        if pool is None:
            bad.append(f"{where}: outside every planned pool")
        elif net.prefixlen != pool.block_size:
            bad.append(f"{where}: /{net.prefixlen}, pool {pool.name} has /{pool.block_size} blocks")
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


CHECKS = (check_ip_pools, check_calico_blocks)
