"""Calico: tigera-operator Helm values, and the BGP resources of `bgp` routing.

`cluster/calico/values.yaml` is given to `helm install calico projectcalico/tigera-operator`
after the CRD chart (`crd.projectcalico.org.v1`, its own chart since Calico v3.32). Its
`installation:` key is the operator's Installation spec: one IPv6 pool per plan pool, explicit
block size, no encapsulation, no IPv4 at all, the node address taken from the kubelet node IP.

`cluster/calico-load-balancers/pool.yaml` holds the IPPool of the LoadBalancer range
(`allowedUses: [LoadBalancer]`, see `load_balancer_pool` for why it is not in the Installation)
and the IPReservation of the gateway's address in it (`gateway_reservation`).

`cluster/calico/bgp.yaml` (routing `bgp` only): see bgp.py.

`cluster/calico-nodes/felix.yaml` (nodes on several provider links only) turns Felix's cluster
routes off on every node, before the operator starts Felix (see `felix_nodes`).

API version of the Calico resources: `projectcalico.org/v3`, Calico's public API (api.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kube6 import yamlio
from kube6.components.calico.api import CALICO_API, CALICO_CRD_API
from kube6.components.calico.bgp import BGP_PATH, bgp_yaml
from kube6.components.kubeadm.render import KUBE_PROXY_MODE
from kube6.plan.model import LOAD_BALANCER_POOL, Plan, Pool
from kube6.render.base import Artifact, cluster_path, header
from kube6.routing import strategy

VALUES_PATH = cluster_path("calico/values.yaml")
LOAD_BALANCER_PATH = cluster_path("calico-load-balancers/pool.yaml")
FELIX_NODES_PATH = cluster_path("calico-nodes/felix.yaml")

GATEWAY_RESERVATION = "kube6-gateway"
"""The IPReservation that keeps the gateway's LoadBalancer address for it."""


def render(plan: Plan) -> Iterator[Artifact]:
    """Helm values for tigera-operator, and in `bgp` routing the BGP resources.

    Example: `cluster/calico/values.yaml` for the built-in example; a `bgp` plan adds
    `cluster/calico/bgp.yaml`.
    """
    yield Artifact(
        path=VALUES_PATH,
        content=values_yaml(plan),
        description="tigera-operator Helm values (Installation: IPv6 pools, no encapsulation)",
    )
    yield Artifact(
        path=LOAD_BALANCER_PATH,
        content=load_balancer_pool_yaml(plan),
        description=f"Calico IPPool for LoadBalancer Services ({plan.load_balancers.cidr})",
    )
    if plan.bgp is not None:
        yield Artifact(
            path=BGP_PATH,
            content=bgp_yaml(plan),
            description=f"Calico BGP: node mesh, a peering with {plan.bgp.peer}, session status",
        )
    if several_links(plan):
        yield Artifact(
            path=FELIX_NODES_PATH,
            content=felix_nodes_yaml(plan),
            description="Felix on each node: no routes to other nodes' blocks (several links)",
        )


def _links(plan: Plan) -> int:
    return len({node.link_prefix for node in plan.nodes})


def several_links(plan: Plan) -> bool:
    """True when the nodes sit on more than one provider link (`nodes[].prefix`)."""
    return _links(plan) > 1


def felix_nodes(plan: Plan) -> list[dict[str, Any]]:
    """A FelixConfiguration `node.<name>` per node with `programClusterRoutes: Disabled`.

    Felix routes each other node's pod blocks via that node's address as an `onlink` next hop,
    for every node whatever its subnet (pools without encapsulation, clusterRoutingMode
    Felix). Nodes on different provider links are not neighbours: such a route solicits a node
    that is not on the link, and pod traffic between the links is lost (found by the e2e
    tier's routed journey: pods on the worker could not reach the API server). Without those
    routes the node's default route takes the traffic to the provider's router, which delivers
    it as any other packet: through the other link's NDP proxy, the prefix routed to the other
    node, or the routes it learned by BGP. The operator's own setting cannot say this: its
    validation refuses clusterRoutingMode BIRD without BGP, and it owns FelixConfiguration
    `default`; per-node FelixConfigurations take precedence over it. Written with the CRD
    chart's API, before the operator starts Felix, so no wrong route ever exists.
    """
    return [
        {
            "apiVersion": CALICO_CRD_API,
            "kind": "FelixConfiguration",
            "metadata": {"name": f"node.{node.name}"},
            "spec": {"programClusterRoutes": "Disabled"},
        }
        for node in plan.nodes
    ]


def felix_nodes_yaml(plan: Plan) -> str:
    what = (
        "Felix per node: no routes to other nodes' pod blocks, the nodes being on "
        f"{_links(plan)} provider links (the provider's router "
        "carries pod traffic between them)."
    )
    return header(plan, what) + yamlio.dump_all(felix_nodes(plan))


def installation(plan: Plan) -> dict[str, Any]:
    """The operator Installation spec (the `installation:` Helm value) as plain data."""
    network: dict[str, Any] = {
        # BIRD runs only where a router peers with the cluster (routing: bgp). The routes to
        # the other nodes' blocks (pods are routed without encapsulation) are Felix's in every
        # mode (Calico 3.33's clusterRoutingMode), so ndp-proxy and routed clusters run no BGP
        # daemon and open no BGP port between nodes, and a bgp cluster has one route owner.
        "bgp": "Enabled" if strategy(plan.routing).bgp_peering else "Disabled",
        "clusterRoutingMode": "Felix",
        # Calico's nftables dataplane requires kube-proxy in nftables mode, and then the two
        # share one netfilter backend; follow the mode that kubeadm gives kube-proxy.
        "linuxDataplane": "Nftables" if KUBE_PROXY_MODE == "nftables" else "Iptables",
        # The kubelet node IP is the pinned stable address; autodetection by interface could
        # pick a temporary (privacy) address. No nodeAddressAutodetectionV4: without it the
        # operator runs calico-node with IP=none, and, with BGP on, sets CALICO_ROUTER_ID=hash.
        "nodeAddressAutodetectionV6": {"kubernetes": "NodeInternalIP"},
        "ipPools": [_pool(pool) for pool in plan.pools],
    }
    if plan.mtu is not None:
        network["mtu"] = plan.mtu
    return {
        # CalicoOnly: the kubernetes-cni package that kube6 installs already puts the standard
        # plugins (host-local, loopback, portmap, tuning) in /opt/cni/bin, so the operator's
        # third-party-cni-plugins init container would only overwrite them with its own copies.
        "cni": {"type": "Calico", "ipam": {"type": "Calico"}, "installMode": "CalicoOnly"},
        "calicoNetwork": network,
        # The FlexVolume driver only serves Calico's application-layer policy (Dikastes), which
        # kube6 does not use; `None` keeps the pod2daemon init container and a host-writable
        # kubelet plugin folder off every node.
        "flexVolumePath": "None",
    }


OBSERVABILITY_OFF: dict[str, Any] = {"goldmane": {"enabled": False}, "whisker": {"enabled": False}}
"""Chart values that keep Goldmane (flow aggregation) and Whisker (its web UI) off: two more
Deployments and images on a cluster that asked for neither, and a UI showing every flow that
kube6 would otherwise have to put behind a login and a policy. kube6 owns this release's values:
a later `kube6 up` turns them off again if they were switched on by hand."""


def _pool(pool: Pool) -> dict[str, Any]:
    return {
        "name": pool.name,
        "cidr": str(pool.cidr),
        "blockSize": pool.block_size,
        # IPIP (the Installation default) carries IPv4 only; pods are routed natively.
        "encapsulation": "None",
        "natOutgoing": "Enabled" if pool.nat_outgoing else "Disabled",
        "nodeSelector": pool.node_selector,
    }


def load_balancer_pool(plan: Plan) -> dict[str, Any]:
    """The LoadBalancer IPPool: calico-kube-controllers' LoadBalancer controller gives every
    `type: LoadBalancer` Service (no loadBalancerClass, or `calico`) an address from it.

    The operator runs kube-controllers with ENABLED_CONTROLLERS=node,loadbalancer (operator
    release-v1.44, render/kubecontrollers), so the controller is on and assigns to all such
    Services (AssignIPs AllServices, its default then); nothing else to enable. The pool is a
    resource of its own, not one of the Installation's ipPools: the operator refuses an
    Installation with a pool outside kubeadm's podSubnet ("IPPool ... is not within the
    platform's configured pod network CIDR(s)", controller/ippool/defaults.go, found by the e2e
    journey), and leaves pools it does not own alone. Calico's rules for such a pool
    (IPPool CRD validations, the operator's validation.go): LoadBalancer as its only use,
    nodeSelector all(), no encapsulation, BGP export on.
    """
    lb = plan.load_balancers
    return {
        "apiVersion": CALICO_API,
        "kind": "IPPool",
        "metadata": {"name": LOAD_BALANCER_POOL},
        "spec": {
            "cidr": str(lb.cidr),
            "blockSize": lb.block_size,
            "ipipMode": "Never",
            "vxlanMode": "Never",
            # Service addresses are reached by their own global address, never masqueraded.
            "natOutgoing": False,
            "nodeSelector": "all()",
            "allowedUses": ["LoadBalancer"],
        },
    }


def gateway_reservation(plan: Plan) -> dict[str, Any] | None:
    """The IPReservation of the gateway's address (None: the gateway is off).

    Calico's IPAM skips reserved addresses when it picks one for a Service, but gives them
    when a Service asks for them by name (annotation `projectcalico.org/loadBalancerIPs`, as the
    gateway's does): so no other Service takes the gateway's address first, e.g. one created
    while the gateway is being re-installed.
    """
    address = plan.load_balancers.gateway
    if address is None:
        return None
    return {
        "apiVersion": CALICO_API,
        "kind": "IPReservation",
        "metadata": {"name": GATEWAY_RESERVATION},
        "spec": {"reservedCIDRs": [f"{address}/128"]},
    }


def load_balancer_pool_yaml(plan: Plan) -> str:
    lb = plan.load_balancers
    what = "Calico IPPool of the LoadBalancer range: addresses of LoadBalancer Services."
    notes = [
        "#",
        f"# {lb.cidr}: {lb.size} addresses, /{lb.block_size} blocks (affined to Calico's",
        "# virtual node load-balancer). calico-kube-controllers gives each Service of",
        "# type LoadBalancer (no loadBalancerClass, or `calico`) one of them; kube-proxy serves",
        "# the Service's ports on it on every node.",
    ]
    reservation = gateway_reservation(plan)
    if reservation is not None:
        notes += [
            f"# {lb.gateway} is the gateway's: reserved (IPReservation {GATEWAY_RESERVATION}),",
            "# so only a Service that asks for it by name gets it.",
        ]
    notes += ["# Apply once the Calico API server is up: kubectl apply --server-side -f"]
    objects = [load_balancer_pool(plan), *([reservation] if reservation else [])]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(objects)


def values_yaml(plan: Plan) -> str:
    """The tigera-operator values file."""
    what = "tigera-operator Helm values: Calico for an IPv6 single-stack cluster."
    notes = [
        "#",
        "# Install the CRD chart first (crd.projectcalico.org.v1), then this chart with -f.",
        "# The pools cannot be changed through the Installation after the first install.",
    ]
    for pool in plan.pools:
        nodes = "every node" if pool.nodes is None else ", ".join(pool.nodes)
        nat = (
            "NAT66 on: unique-local pods leave the cluster behind the node address"
            if pool.nat_outgoing
            else "no NAT: the pods' global addresses are routed as they are"
        )
        notes.append(f"# pool {pool.name}: {pool.cidr}, /{pool.block_size} blocks, {nodes};")
        notes.append(f"#   {nat}.")
    notes.append(f"# The LoadBalancer pool ({plan.load_balancers.cidr}): not here but in")
    notes.append(f"# {LOAD_BALANCER_PATH} (the operator wants pools inside podSubnet).")
    body = yamlio.dump({"installation": installation(plan), **OBSERVABILITY_OFF})
    return header(plan, what) + "\n".join(notes) + "\n" + body
