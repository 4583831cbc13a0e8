"""Neighbour tables sized from the plan (issue 17 item 3): what fills a node's IPv6 neighbour
table and the provider's router's, and how many addresses one NDP proxy answers for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from ipaddress import IPv6Network

from kube6.plan.model import Choice, Neighbours
from kube6.routing import strategy
from kube6.spec import ClusterSpec

KERNEL_GC_THRESH = (128, 512, 1024)
"""The kernel's defaults for net.ipv6.neigh.default.gc_thresh1/2/3: kube6 never renders less."""
ENTRIES_PER_POD = 3
"""A pod's global and link-local addresses on its cali* interface in the node's table, and the
pod's own entry for its gateway: the IPv6 neighbour table is one table for the whole machine
(its gc_thresh files exist only in the host's namespace), so pods' namespaces count too."""
ROUTER_ENTRIES = 2
"""The default router, by its link-local address (RA) and by its global one."""
LOAD_BALANCER_ADDRESSES = 0
"""Hook for issue 17 item 1: the LoadBalancer range (answered by ndppd in ndp-proxy mode,
resolved by the provider's router). There is none yet; its size goes here when it exists."""
NDPPD_SUSTAINED = 1000
"""Proxied addresses one ndppd answered, every one, in every round of every run of
bench/ndp_scale.py on 2026-12-04 (bench/README.md, row "1,000 / 1,500 / 2,000 / 5,000 pod
addresses solicited at once"): 1,500 and 2,000 were missed in some rounds, 5,000 in all; so
`kube6 plan` warns above it."""


def neighbour_sizes(
    spec: ClusterSpec,
    link_of: Mapping[str, IPv6Network],
    max_pods: int,
    choices: list[Choice],
) -> Neighbours:
    """What fills the neighbour tables, and the gc_thresh values that hold it.

    A node's table (one for the whole machine, every namespace counts) holds at most
    ENTRIES_PER_POD * maxPods for its pods (their global and link-local addresses on the cali*
    interfaces, and each pod's entry for its gateway), one entry per other node on its link
    (Calico routes a peer's pods via the peer's address), and the default router
    (ROUTER_ENTRIES). Service addresses add nothing there: kube-proxy turns them into pod
    addresses, which are already counted. ndppd answers from its own sockets and puts no entry
    in the kernel's table per proxied address.

    gc_thresh1 (below it nothing is collected) = those entries; gc_thresh2 (above it stale
    entries go after 5 s) = twice that, for the stale entries of replaced pods; gc_thresh3 (the
    hard limit: no new entry above it) = four times, for incomplete entries and bursts. None is
    ever below the kernel's defaults (KERNEL_GC_THRESH).

    In ndp-proxy mode the provider's router resolves every node and pod address of the link
    (nodes on the link * (maxPods + 1)), plus each service (and, with issue 17 item 1, LoadBalancer)
    address reached from outside: its table is not kube6's to size, so the plan shows it.
    """
    links = Counter(link_of.values())
    peers = max(links.values()) - 1
    entries = ENTRIES_PER_POD * max_pods + peers + ROUTER_ENTRIES
    low, soft, hard = KERNEL_GC_THRESH
    thresholds = (max(low, entries), max(soft, 2 * entries), max(hard, 4 * entries))
    choices.append(
        Choice(
            "neigh.gc_thresh",
            "/".join(map(str, thresholds)),
            "derived",
            f"a node's neighbour table holds up to {entries}: {ENTRIES_PER_POD} per pod "
            f"(maxPods {max_pods}), {peers} other node(s) on its link, {ROUTER_ENTRIES} for "
            "the router; gc_thresh1 = that, 2 = twice, 3 = four times, never below the "
            "kernel's 128/512/1024",
        )
    )
    proxy = strategy(spec.routing).ndp_proxy
    proxied = max_pods + LOAD_BALANCER_ADDRESSES if proxy else 0
    on_link = max(links.values())
    router = on_link * (max_pods + 1) + LOAD_BALANCER_ADDRESSES if proxy else 0
    if proxy:
        choices.append(
            Choice(
                "neigh.router",
                str(router),
                "derived",
                f"the provider's router resolves every node and pod address of the link "
                f"({on_link} node(s) x (maxPods {max_pods} + 1)), plus each service "
                "address reached from outside; its neighbour table must hold them",
            )
        )
    return Neighbours(entries, thresholds, proxied, router)
