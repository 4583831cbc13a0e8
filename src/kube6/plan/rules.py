"""The planner's rules: named, pure judgements of the spec (REFUSALS) and of its layout (RULES).

A rule is a function that returns its findings without a name; the table gives each rule its
name, written once, and `judge` stamps it on the findings. A rule that does not apply returns
nothing. REFUSALS judge the spec before any layout exists: one failing means no plan at all
(PlanError); their passes are the plan's first results. RULES then judge the layout in the
order of the table, which is the order `kube6 plan` prints them.

Longer than 400 lines: a table of 32 small rules, each a unit of its own; splitting it would
only scatter the table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from kube6 import net
from kube6.errors import PlanError
from kube6.modes import Grade, LinkModel
from kube6.plan.layout import (
    DNS_INDEX,
    MAX_NODE_MASK_DIFF,
    MIN_BLOCK,
    MIN_SERVICE_PREFIX,
    Layout,
)
from kube6.plan.load_balancers import MIN_LOAD_BALANCER_PREFIX
from kube6.plan.neighbours import NDPPD_SUSTAINED
from kube6.results import Finding
from kube6.routing import strategy
from kube6.spec import ClusterSpec

MIN_POD_ADDRESSES = 16

T = TypeVar("T")
Rule = Callable[[T], list[Finding]]


def ok(message: str) -> Finding:
    return Finding("", Grade.OK, message)


def warn(message: str, fix: str) -> Finding:
    return Finding("", Grade.WARN, message, fix)


def fail(message: str, fix: str) -> Finding:
    return Finding("", Grade.FAIL, message, fix)


def check(passed: bool, ok_message: str, failed: str, fix: str) -> list[Finding]:
    """One finding: OK with `ok_message` when `passed`, else FAIL with `failed` and `fix`."""
    return [ok(ok_message) if passed else fail(failed, fix)]


def judge(table: Sequence[tuple[str, Rule[T]]], subject: T) -> list[Finding]:
    """Every rule of `table` on `subject`, in order, each finding named after its rule."""
    return [replace(found, name=name) for name, rule in table for found in rule(subject)]


def refuse_unplannable(spec: ClusterSpec) -> list[Finding]:
    """The REFUSALS' passes; PlanError with every failure when one fails."""
    findings = judge(REFUSALS, spec)
    failures = [f for f in findings if f.failed]
    if failures:
        raise PlanError(list(failures))
    return findings


# --- refusals: the spec ---------------------------------------------------------------------


def node_names_unique(spec: ClusterSpec) -> list[Finding]:
    names = Counter(n.name for n in spec.nodes)
    dup = sorted(name for name, count in names.items() if count > 1)
    if not dup:
        return []
    return [
        fail(
            f"node name(s) used more than once: {', '.join(dup)}",
            "give every node its own name; kubeadm, kubelet and etcd identify nodes by it",
        )
    ]


def node_addresses_unique(spec: ClusterSpec) -> list[Finding]:
    addresses = Counter(n.address for n in spec.nodes)
    dup = sorted(str(a) for a, count in addresses.items() if count > 1)
    if not dup:
        return []
    return [
        fail(
            f"node address(es) used more than once: {', '.join(dup)}",
            "give every node its own stable global address",
        )
    ]


def control_plane_present(spec: ClusterSpec) -> list[Finding]:
    control_planes = [n.name for n in spec.nodes if n.is_control_plane]
    return check(
        bool(control_planes),
        f"{len(control_planes)} control-plane node(s): {', '.join(control_planes)}",
        f"none of the {len(spec.nodes)} node(s) has the control-plane role",
        "add `roles: [control-plane, worker]` to the first node",
    )


REFUSALS: tuple[tuple[str, Rule[ClusterSpec]], ...] = (
    ("node-names-unique", node_names_unique),
    ("node-addresses-unique", node_addresses_unique),
    ("control-plane-present", control_plane_present),
)


# --- rules: the layout ----------------------------------------------------------------------


def etcd_quorum(layout: Layout) -> list[Finding]:
    count = len(layout.control_planes)
    if count % 2 == 0:
        return [
            warn(
                f"{count} control-plane nodes: an even etcd member count tolerates no "
                f"more failures than {count - 1}",
                "use 1, 3 or 5 control-plane nodes",
            )
        ]
    return [ok(f"{count} etcd member(s) tolerate {count // 2} failure(s)")]


def ranges_disjoint(layout: Layout) -> list[Finding]:
    ranges = layout.ranges
    overlaps = [
        f"{a} and {b}"
        for i, (a, x) in enumerate(ranges)
        for (b, y) in ranges[i + 1 :]
        if x.overlaps(y)
    ]
    return check(
        not overlaps,
        "pod pools, the service range and the LoadBalancer range do not overlap",
        f"overlapping ranges: {'; '.join(overlaps)}",
        "choose network.pods, network.services and network.load_balancers that do not overlap",
    )


def node_address_outside_ranges(layout: Layout) -> list[Finding]:
    nodes = layout.spec.nodes
    inside = [
        f"{n.name} ({n.address}) is inside {label}"
        for n in nodes
        for label, cidr in layout.ranges
        if n.address in cidr
    ]
    return check(
        not inside,
        f"all {len(nodes)} node address(es) lie outside the pod, service and LoadBalancer ranges",
        "; ".join(inside[:5]) + (f" (and {len(inside) - 5} more)" if len(inside) > 5 else ""),
        "move the ranges (network.pods, network.services, network.load_balancers) away from "
        "node addresses",
    )


def node_address_in_prefix(layout: Layout) -> list[Finding]:
    if not strategy(layout.spec.routing).ndp_proxy:
        return []
    off_link = [
        f"{n.name} ({n.address}) is not in its link prefix {layout.link_of[n.name]}"
        for n in layout.spec.nodes
        if n.address not in layout.link_of[n.name]
    ]
    return check(
        not off_link,
        "every node address is on its on-link prefix",
        "; ".join(off_link[:5]),
        "with ndp-proxy the node must sit on the /64 it proxies for: fix the node address "
        "or its `prefix`, or use routing: routed",
    )


def ranges_inside_prefix(layout: Layout) -> list[Finding]:
    if not strategy(layout.spec.routing).ndp_proxy:
        return []
    outside = [
        f"pool {p.name} {p.cidr} is outside its link prefix"
        for p, link in zip(layout.pools, layout.pool_links, strict=True)
        if not p.cidr.subnet_of(link)
    ]
    if not layout.services.subnet_of(layout.services_link):
        outside.append(f"services {layout.services} are outside {layout.services_link}")
    return check(
        not outside,
        "pods and services lie inside the on-link prefix, where the NDP proxy can answer",
        "; ".join(outside),
        "with ndp-proxy, pods and services must be inside the on-link prefix (the provider "
        "sends neighbour solicitations only for it); choose ranges inside it",
    )


def dns_inside_services(layout: Layout) -> list[Finding]:
    dns, services = layout.dns, layout.services
    return check(
        dns in services and dns not in (services.network_address, net.nth(services, 1)),
        f"cluster DNS {dns} is inside {services}",
        f"cluster DNS {dns} is not a usable address of the service range {services}",
        f"leave network.dns unset (kubeadm uses {net.nth(services, DNS_INDEX)})",
    )


def service_prefix_length(layout: Layout) -> list[Finding]:
    s = layout.services.prefixlen
    return check(
        s >= MIN_SERVICE_PREFIX,
        f"services /{s} is within kubeadm's limit of /{MIN_SERVICE_PREFIX} or longer",
        f"services /{s} has {128 - s} host bits; kubeadm allows at most 20 (/108 or longer)",
        "use a /108 to /112 service range (network.services)",
    )


def service_room_for_dns(layout: Layout) -> list[Finding]:
    s = layout.services.prefixlen
    room = (1 << (128 - s)) - 1
    return check(
        room >= DNS_INDEX,
        f"services /{s} has room for the DNS address at index {DNS_INDEX}",
        f"services /{s} has only {room} addresses after the network address; the DNS address "
        f"is number {DNS_INDEX}",
        "use a /124 or shorter service range",
    )


def load_balancer_size(layout: Layout) -> list[Finding]:
    """The LoadBalancer range: /112 (65,536 Services) to /128, as set or planned."""
    network, cidr = layout.spec.network, layout.load_balancers.cidr
    size = network.load_balancer_size
    if network.load_balancers is None and size is not None:
        bad, given = not MIN_LOAD_BALANCER_PREFIX <= size <= 128, f"load_balancer_size {size}"
    else:
        bad, given = cidr.prefixlen < MIN_LOAD_BALANCER_PREFIX, f"load_balancers {cidr}"
    return check(
        not bad,
        f"LoadBalancer range {cidr}: {layout.load_balancers.size} address(es), one per "
        "LoadBalancer Service",
        f"network.{given} is outside /{MIN_LOAD_BALANCER_PREFIX}-/128: each address serves one "
        f"Service, and more than {1 << (128 - MIN_LOAD_BALANCER_PREFIX)} only widens what "
        "answers from outside",
        "use a range of /112 to /128 (network.load_balancer_size: 120 gives 256 addresses), "
        "or leave both unset",
    )


def load_balancers_reachable(layout: Layout) -> list[Finding]:
    """Outside `bgp`, the range must lie in a node's link prefix: that is where traffic comes."""
    why = strategy(layout.spec.routing).load_balancers_via_link
    lb = layout.load_balancers
    if why is None:
        return [ok(f"LoadBalancer range {lb.cidr} is announced by Calico (BGP)")]
    if lb.link is None:
        links = ", ".join(map(str, layout.prefixes))
        return [
            fail(
                f"LoadBalancer range {lb.cidr} lies outside the nodes' prefixes ({links}): "
                f"{why}, so nothing would reach its addresses",
                f"set network.load_balancers inside {layout.services_link}, or leave it unset "
                "(kube6 plans one there)",
            )
        ]
    nodes = [n.name for n in layout.spec.nodes if layout.link_of[n.name] == lb.link]
    if strategy(layout.spec.routing).ndp_proxy:
        # Only workers answer for the range (kube6.plan.planner): they run the Services' pods,
        # the gateway's among them.
        nodes = [n.name for n in layout.spec.nodes if n.name in nodes and n.is_worker]
        if not any(n.is_worker for n in layout.spec.nodes):
            # Nothing runs a Service's pods yet either: a warning, not a wrong plan.
            return [
                warn(
                    f"no worker node: nothing answers for the LoadBalancer range {lb.cidr} "
                    "(only workers do) until a worker joins",
                    "give a node the worker role in kube6.yaml",
                )
            ]
        if not nodes:
            return [
                fail(
                    f"LoadBalancer range {lb.cidr} lies in {lb.link}, which has no worker node: "
                    "only workers answer for the range, so nothing would reach its addresses",
                    f"give a node of {lb.link} the worker role, or set network.load_balancers "
                    "inside a prefix that has workers",
                )
            ]
    return [
        ok(
            f"LoadBalancer range {lb.cidr} lies in {lb.link}, the link of "
            f"{', '.join(nodes[:5])}{' and more' if len(nodes) > 5 else ''}: {why}"
        )
    ]


def gateway_address(layout: Layout) -> list[Finding]:
    """The gateway's address is one of the LoadBalancer range: Calico gives no other."""
    address, cidr = layout.load_balancers.gateway, layout.load_balancers.cidr
    if address is None:
        return []
    return check(
        address in cidr,
        f"the gateway answers at {address}, in the LoadBalancer range {cidr}",
        f"addons.gateway.address {address} is outside the LoadBalancer range {cidr}: Calico "
        "gives a Service only addresses of its pool",
        f"set addons.gateway.address to an address of {cidr} (or leave it unset: address 1)",
    )


def load_balancers_avoid_routers(layout: Layout) -> list[Finding]:
    """No router address in the range: kube6 would answer for it (NDP, BGP) and cut it off.

    Known router addresses: the BGP peer, and each link's Subnet-Router anycast address (the
    prefix with a zero interface part, RFC 4291 2.6.1), which the provider's routers answer.
    """
    cidr = layout.load_balancers.cidr
    routers = [
        (f"the Subnet-Router anycast address of {p}", p.network_address) for p in layout.prefixes
    ]
    if layout.spec.bgp is not None and strategy(layout.spec.routing).bgp_peering:
        routers.append(("the BGP peer", layout.spec.bgp.peer))
    inside = [f"{what} {address}" for what, address in routers if address in cidr]
    return check(
        not inside,
        f"LoadBalancer range {cidr} holds no router address",
        f"LoadBalancer range {cidr} holds {'; '.join(inside)}: the nodes would answer for the "
        "router's own address",
        "move network.load_balancers away from the router's addresses (or leave it unset)",
    )


def node_mask_vs_pods(layout: Layout) -> list[Finding]:
    if not layout.allocate:
        return [ok("node CIDR allocation is off (pools in several prefixes): no node-mask limit")]
    p, node_mask = layout.pods.prefixlen, layout.node_mask
    return check(
        p <= node_mask <= p + MAX_NODE_MASK_DIFF,
        f"node mask /{node_mask} is {node_mask - p} bits longer than pods /{p} (at most 16)",
        f"node mask /{node_mask} with pods /{p}: the difference {node_mask - p} must be "
        f"0 to {MAX_NODE_MASK_DIFF} (kubeadm and kube-controller-manager)",
        f"use a node mask between /{p} and /{min(128, p + MAX_NODE_MASK_DIFF)}",
    )


def block_size_range(layout: Layout) -> list[Finding]:
    block = layout.block_size
    return check(
        MIN_BLOCK <= block <= 128,
        f"Calico block /{block} is within /116-/128",
        f"Calico block /{block} is outside the IPv6 range /116-/128",
        "set network.block_size between 116 and 128 (120 gives 256 addresses per block)",
    )


def block_inside_pool(layout: Layout) -> list[Finding]:
    block = layout.block_size
    too_big = [f"{p.name} {p.cidr}" for p in layout.pools if block < p.cidr.prefixlen]
    return check(
        not too_big,
        f"a /{block} block fits inside every pool",
        f"a /{block} block is larger than pool(s) {', '.join(too_big)}",
        "use a longer block size or a larger pod range",
    )


def blocks_for_nodes(layout: Layout) -> list[Finding]:
    block, pools = layout.block_size, layout.pools

    def blocks(index: int) -> int:
        pool = pools[index]
        return pool.blocks if block >= pool.cidr.prefixlen else 0

    short = [
        f"{pools[i].name} has {blocks(i)} block(s) for {count} node(s)"
        for i, count in sorted(layout.nodes_per_pool.items())
        if block < pools[i].cidr.prefixlen or pools[i].blocks < count
    ]
    per_pool = ", ".join(f"{p.name}: {blocks(i)}" for i, p in enumerate(pools))
    return check(
        not short,
        f"every pool has at least one /{block} block per node ({per_pool})",
        "; ".join(short),
        "use a larger pod range or a longer block size",
    )


def pods_per_node(layout: Layout) -> list[Finding]:
    block = layout.block_size
    per_block = 1 << (128 - block)
    return check(
        per_block >= MIN_POD_ADDRESSES,
        f"a node's first /{block} block holds {per_block} pod addresses",
        f"a /{block} block holds only {per_block} pod address(es) per node (at least "
        f"{MIN_POD_ADDRESSES} are needed for the system pods and some workloads)",
        "the prefix is too small for this many nodes: use a larger prefix or fewer nodes",
    )


def max_pods_per_block(layout: Layout) -> list[Finding]:
    block, max_pods, pools = layout.block_size, layout.max_pods, layout.pools
    per_block = 1 << (128 - block)
    if max_pods <= per_block:
        return [ok(f"maxPods {max_pods} fits in one /{block} ({per_block})")]
    need = math.ceil(max_pods / per_block)
    spare = all(
        block >= pools[i].cidr.prefixlen and pools[i].blocks >= count * need
        for i, count in layout.nodes_per_pool.items()
    )
    if spare:
        return [
            warn(
                f"maxPods {max_pods} exceeds a /{block} block ({per_block} addresses): Calico "
                f"will take {need} blocks per full node",
                "raise the block (a shorter network.block_size) or lower network.max_pods",
            )
        ]
    return [
        fail(
            f"maxPods {max_pods} needs {need} /{block} blocks per node and the pools lack them",
            "lower network.max_pods or use a larger pod range",
        )
    ]


def nat_outgoing(layout: Layout) -> list[Finding]:
    """One finding per pool."""
    findings = []
    for pool in layout.pools:
        ula = net.is_unique_local(pool.cidr)
        if ula and pool.nat_outgoing:
            found = warn(
                f"pool {pool.cidr} is unique-local: pods reach the internet only through NAT66 "
                "(natOutgoing Enabled), and are not reachable from outside",
                "use a global prefix for pods to avoid NAT",
            )
        elif ula:
            found = warn(
                f"pool {pool.cidr} is unique-local with natOutgoing off: pods cannot reach the "
                "internet",
                "set network.nat_outgoing: true, or use a global prefix",
            )
        elif pool.nat_outgoing:
            found = warn(
                f"pool {pool.cidr} is global but natOutgoing is on: pods leave with the node's "
                "address",
                "leave network.nat_outgoing unset: global pods need no NAT",
            )
        else:
            found = ok(f"pool {pool.cidr} is global: natOutgoing Disabled")
        findings.append(found)
    return findings


def ndp_proxy_capacity(layout: Layout) -> list[Finding]:
    """ndppd answers for each node's pods (`auto`); more than bench/ndp_scale.py measured warns.

    The service range's `static` rule is not counted: its answers need no question to the
    target, and the router asks only for the service addresses reached from outside.
    """
    proxied = layout.neighbours.proxied
    if not strategy(layout.spec.routing).ndp_proxy:
        return []
    if proxied > NDPPD_SUSTAINED:
        return [
            warn(
                f"ndppd on a node would answer for up to {proxied} pod addresses (maxPods "
                f"{layout.max_pods}); bench/ndp_scale.py measured it answering every one of "
                f"{NDPPD_SUSTAINED} and no more was measured (ndppd #63: stalls past ~1,000)",
                f"lower network.max_pods to {NDPPD_SUSTAINED} or less, or have the provider "
                "route the prefix to the nodes (routing: routed or bgp)",
            )
        ]
    return [
        ok(
            f"ndppd answers for at most {proxied} pod addresses per node, within the "
            f"{NDPPD_SUSTAINED} bench/ndp_scale.py measured"
        )
    ]


def routed_prefix_per_node(layout: Layout) -> list[Finding]:
    """With a routed prefix, each node should have its own (`nodes[].prefix`).

    A provider routes a prefix to one host. Nodes beside it on the same prefix get their pods'
    traffic from outside through that host (Felix's route onward) while their replies leave
    directly: an asymmetric path that kube6's tests do not run (the e2e routed journey gives
    each node its own /64), so a warning, not a refusal.
    """
    if strategy(layout.spec.routing).link_models != {LinkModel.ROUTED}:
        return []
    crowded = [
        names
        for link in layout.prefixes
        if len(names := [n.name for n in layout.spec.nodes if layout.link_of[n.name] == link]) > 1
    ]
    if not crowded:
        return [ok("every node has a routed prefix of its own")]
    shared = "; ".join(f"{', '.join(names)} share {layout.link_of[names[0]]}" for names in crowded)
    return [
        warn(
            f"{shared}: a provider routes a prefix to one host, so the others' pods are "
            "reached through it and answer directly, an asymmetric path that kube6's tests "
            "have not run",
            "give each node the prefix its provider routes to it (nodes[].prefix, as with a "
            "/64 per server), or use routing: ndp-proxy if the prefix is on-link",
        )
    ]


def api_sources_open(layout: Layout) -> list[Finding]:
    firewall = layout.spec.firewall
    if firewall.enabled and any(p.prefixlen == 0 for p in firewall.api_sources):
        return [
            warn(
                "the API server (6443) accepts connections from everywhere (::/0)",
                "set firewall.api_sources to the prefixes you administer from",
            )
        ]
    return [ok("the API server is reachable only from the listed prefixes")]


def control_plane_endpoint(layout: Layout) -> list[Finding]:
    count = len(layout.control_planes)
    if count == 1 or layout.spec.cluster.control_plane_endpoint is not None:
        return []
    return [
        warn(
            f"{count} control-plane nodes share the endpoint of the first one: "
            "when it is down, nodes lose the API",
            "set cluster.control_plane_endpoint to a DNS name with an AAAA record per "
            "control-plane node",
        )
    ]


def ipv4_only_sources(layout: Layout) -> list[Finding]:
    dashboard = layout.spec.addons.dashboard.enabled
    if layout.dns64 != "off" or not dashboard or layout.ipv4_only_mirrored:
        return []
    return [
        warn(
            "no NAT64: the dashboard image (ghcr.io) and GitHub downloads have no IPv6 address",
            "give dns.nat64_prefix (run `kube6 check` to discover it) or mirror those images",
        )
    ]


def bgp_router_id(layout: Layout) -> list[Finding]:
    bgp = layout.spec.bgp
    if not strategy(layout.spec.routing).bgp_peering or bgp is None:
        return []
    return check(
        bgp.router_id == "hash",
        "Calico derives a distinct router ID per node from its name (hash)",
        f"router_id {bgp.router_id!r} cannot be given to every node: the node mesh needs "
        "a distinct ID per node, and the operator sets CALICO_ROUTER_ID=hash itself when a "
        "node has no IPv4 address",
        "remove bgp.router_id (the default, hash, is right for IPv6-only nodes)",
    )


def host_cgroup_v1(layout: Layout) -> list[Finding]:
    if not layout.spec.host.cgroup_v1:
        return []
    return [
        warn(
            "host.cgroup_v1: kubelet is told to run on cgroup v1 hosts (failCgroupV1: false); "
            "cgroup v1 is deprecated in Kubernetes and gets no new features",
            "boot the hosts with cgroup v2 (systemd.unified_cgroup_hierarchy=1) where they "
            "allow it, then remove host.cgroup_v1",
        )
    ]


def host_oom_score_adj(layout: Layout) -> list[Finding]:
    if not layout.spec.host.restrict_oom_score_adj:
        return []
    return [
        ok(
            "host.restrict_oom_score_adj: containerd keeps pods' oom_score_adj at or above its "
            "own (restrict_oom_score_adj = true), for runtimes without CAP_SYS_RESOURCE"
        )
    ]


def host_min_free_disk(layout: Layout) -> list[Finding]:
    amount = layout.spec.host.min_free_disk
    if amount is None:
        return []
    return [
        ok(
            f"host.min_free_disk: kubelet keeps {amount} free on each node (it deletes unused "
            "images, then evicts pods below it) in place of its shares of the disk"
        )
    ]


def mirrors(layout: Layout) -> list[Finding]:
    spec = layout.spec.mirrors
    if spec == type(spec)():
        return []
    used = [
        what
        for what, on in (
            ("registries", spec.registries),
            ("apt", spec.apt != type(spec.apt)()),
            ("charts", spec.charts),
            ("downloads", spec.downloads),
            ("acme", spec.acme != type(spec.acme)()),
        )
        if on
    ]
    return [
        ok(
            f"artifacts through mirrors ({', '.join(used)}): the same images, packages, charts "
            "and files as from the upstream sources; `kube6 check` tests that nodes reach them"
        )
    ]


def acme_solver(layout: Layout) -> list[Finding]:
    addons = layout.spec.addons
    if not addons.cert_manager.enabled or addons.gateway.enabled:
        return []
    return [
        warn(
            "cert-manager is on but the gateway is off: the Let's Encrypt issuers have no HTTP-01 "
            "solver and will not issue certificates",
            "enable addons.gateway, or disable addons.cert_manager",
        )
    ]


RULES: tuple[tuple[str, Rule[Layout]], ...] = (
    ("etcd-quorum", etcd_quorum),
    ("ranges-disjoint", ranges_disjoint),
    ("node-address-outside-ranges", node_address_outside_ranges),
    ("node-address-in-prefix", node_address_in_prefix),
    ("ranges-inside-prefix", ranges_inside_prefix),
    ("dns-inside-services", dns_inside_services),
    ("service-prefix-length", service_prefix_length),
    ("service-room-for-dns", service_room_for_dns),
    ("load-balancer-size", load_balancer_size),
    ("load-balancers-reachable", load_balancers_reachable),
    ("load-balancers-avoid-routers", load_balancers_avoid_routers),
    ("gateway-address", gateway_address),
    ("node-mask-vs-pods", node_mask_vs_pods),
    ("block-size-range", block_size_range),
    ("block-inside-pool", block_inside_pool),
    ("blocks-for-nodes", blocks_for_nodes),
    ("pods-per-node", pods_per_node),
    ("max-pods-per-block", max_pods_per_block),
    ("nat-outgoing", nat_outgoing),
    ("ndp-proxy-capacity", ndp_proxy_capacity),
    ("routed-prefix-per-node", routed_prefix_per_node),
    ("api-sources-open", api_sources_open),
    ("control-plane-endpoint", control_plane_endpoint),
    ("ipv4-only-sources", ipv4_only_sources),
    ("bgp-router-id", bgp_router_id),
    ("host-cgroup-v1", host_cgroup_v1),
    ("host-oom-score-adj", host_oom_score_adj),
    ("host-min-free-disk", host_min_free_disk),
    ("mirrors", mirrors),
    ("acme-solver", acme_solver),
)
