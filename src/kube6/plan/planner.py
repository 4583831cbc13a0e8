"""The planner: ClusterSpec -> Plan, a pure function with named rules.

`make_plan` refuses a spec that no plan fits (`rules.REFUSALS`), lays the cluster out
(`layout.make_layout`: every address and size, and where each came from), judges the layout
(`rules.RULES`) and assembles the Plan that renderers, checks, steps and verify read.
"""

from __future__ import annotations

import hashlib
import json

from kube6.plan.layout import Layout, make_layout
from kube6.plan.model import (
    POOL_LABEL,
    BgpPlan,
    Choice,
    DnsPlan,
    FirewallPlan,
    NdpRule,
    Plan,
    PlannedNode,
)
from kube6.plan.rules import RULES, judge, refuse_unplannable
from kube6.routing import strategy
from kube6.spec import ClusterSpec
from kube6.versions import KUBERNETES_PATCHES

DEFAULT_INTERFACE = "eth0"


DIGESTED_ADDONS = ("gateway", "cert_manager", "dashboard")
"""The add-ons whose sections every spec digest has covered, set or not."""


def spec_digest(spec: ClusterSpec) -> str:
    data = spec.model_dump(mode="json")
    # Sections added later leave the digest of a spec that does not use them unchanged, so
    # rendered files (and their headers) do not change on an upgrade that changes nothing:
    # `mirrors`, `host`, the LoadBalancer range's settings, and each add-on's section after
    # the first three.
    for section in ("mirrors", "host"):
        if getattr(spec, section) == type(getattr(spec, section))():
            data.pop(section)
    # host.min_free_disk came after host's first settings.
    if "host" in data and spec.host.min_free_disk is None:
        data["host"].pop("min_free_disk")
    # The LoadBalancer range came later too: a spec that does not set it keeps its digest.
    for field in ("load_balancers", "load_balancer_size"):
        if getattr(spec.network, field) is None:
            data["network"].pop(field)
    # And the BGP password's file, whose path is not the cluster's (it depends on where kube6
    # runs): only whether there is one.
    if spec.bgp is not None:
        if spec.bgp.password_file is None:
            data["bgp"].pop("password_file")
        else:
            data["bgp"]["password_file"] = True
    for name, settings in spec.addons:
        if name not in DIGESTED_ADDONS and settings == type(settings)():
            data["addons"].pop(name)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def make_plan(spec: ClusterSpec, *, source: str = "kube6.yaml") -> Plan:
    """Plan every address of the cluster; rules that fail are in `Plan.rules`.

    Raises PlanError when no plan can be made at all (no control-plane node, duplicate names or
    addresses, a prefix too small for any layout).
    """
    passed = refuse_unplannable(spec)
    choices: list[Choice] = []
    layout = make_layout(spec, choices)
    rules = (*passed, *judge(RULES, layout))
    version = _kubernetes_version(spec.cluster.kubernetes, choices)
    bgp = _bgp(layout)
    return Plan(
        cluster_name=spec.cluster.name,
        kubernetes_minor=spec.cluster.kubernetes,
        kubernetes_version=version,
        dns_domain=spec.cluster.dns_domain,
        prefix=spec.prefix,
        routing=spec.routing,
        pods=layout.pods,
        allocate_node_cidrs=layout.allocate,
        node_mask=layout.node_mask,
        block_size=layout.block_size,
        max_pods=layout.max_pods,
        nat_outgoing=any(p.nat_outgoing for p in layout.pools),
        pools=layout.pools,
        services=layout.services,
        load_balancers=layout.load_balancers,
        dns=layout.dns,
        api=layout.api,
        control_plane_endpoint=layout.endpoint,
        nodes=_plan_nodes(layout),
        mtu=spec.network.mtu,
        bgp=bgp,
        dns_settings=DnsPlan(spec.dns.resolvers, spec.dns.nat64_prefix, layout.dns64),
        addons=spec.addons,
        firewall=FirewallPlan(
            enabled=spec.firewall.enabled,
            ssh_port=spec.firewall.ssh_port,
            ssh_sources=spec.firewall.ssh_sources,
            api_sources=spec.firewall.api_sources,
            gateway_ports=(80, 443) if spec.addons.gateway.enabled else (),
            bgp_peer=bgp.peer if bgp else None,
        ),
        neighbours=layout.neighbours,
        rules=rules,
        choices=tuple(choices),
        digest=spec_digest(spec),
        source=source,
        mirrors=spec.mirrors,
        host=spec.host,
    )


def _bgp(layout: Layout) -> BgpPlan | None:
    bgp = layout.spec.bgp
    if not strategy(layout.spec.routing).bgp_peering or bgp is None:
        return None
    return BgpPlan(
        peer=bgp.peer,
        peer_as=bgp.peer_as,
        as_number=bgp.as_number,
        router_id=bgp.router_id,
        advertise=(*(p.cidr for p in layout.pools), layout.services, layout.load_balancers.cidr),
        password_file=bgp.password_file,
    )


def _plan_nodes(layout: Layout) -> tuple[PlannedNode, ...]:
    spec, link_of, pools = layout.spec, layout.link_of, layout.pools
    several = len(pools) > 1
    planned = []
    services_link = link_of[layout.services_node.name]
    for node in spec.nodes:
        pool = pools[layout.prefixes.index(link_of[node.name])]
        ndp: list[NdpRule] = []
        if strategy(spec.routing).ndp_proxy:
            ndp.append(NdpRule(pool.cidr, "auto", "pods that this node routes"))
            if link_of[node.name] == services_link and node.is_control_plane:
                # Every control plane of the link answers (kube-proxy serves the range on any
                # node), so the range outlives the first one: with three control planes, the
                # cluster survives the loss of one, and so do its Service addresses.
                ndp.append(
                    NdpRule(
                        layout.services,
                        "static",
                        "the service range (answered by every control-plane node of this link)",
                    )
                )
            if link_of[node.name] == layout.load_balancers.link and node.is_worker:
                # Every worker of the link answers, so the range stays reachable while one is
                # down. Workers only: they run the Services' pods, so a Service that keeps
                # client addresses (externalTrafficPolicy Local, as the gateway's) has a pod
                # where its traffic comes in; a control plane without one would drop it.
                ndp.append(
                    NdpRule(
                        layout.load_balancers.cidr,
                        "static",
                        "the LoadBalancer range (answered by every worker of this link)",
                    )
                )
        planned.append(
            PlannedNode(
                name=node.name,
                address=node.address,
                roles=node.roles,
                ssh=node.ssh,
                link_prefix=link_of[node.name],
                interface=node.interface or DEFAULT_INTERFACE,
                pool=pool.name,
                ndp_rules=tuple(ndp),
                labels=((POOL_LABEL, pool.name),) if several else (),
            )
        )
    return tuple(planned)


def _kubernetes_version(minor: str, choices: list[Choice]) -> str:
    # The spec admits only supported minors, each with its pinned patch: a `.0` is never
    # invented (a .0 may lack fixes the pinned patch carries, and may not read our configs).
    version = KUBERNETES_PATCHES[minor]
    choices.append(
        Choice("kubernetes_version", version, "derived", "the pinned patch of this minor")
    )
    return version
