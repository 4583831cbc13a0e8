"""`cluster/calico/bgp.yaml` (routing `bgp` only): the BGPConfiguration, the BGPFilter that keeps
each node's announcements to the router its own, the BGPPeer (the router), the Role that lets
calico-node read the passwords' Secrets, and a CalicoNodeStatus per node (calico-node writes its
BGP sessions there; `up` waits for them and verify reads them).
"""

from __future__ import annotations

from typing import Any

from kube6 import yamlio
from kube6.components.calico import bgp_password
from kube6.components.calico.api import CALICO_API
from kube6.plan.model import Plan
from kube6.render.base import cluster_path, header

BGP_PATH = cluster_path("calico/bgp.yaml")

OWN_ROUTES_FILTER = "kube6-own-routes"
"""The BGPFilter on the router's BGPPeer: no route learned from another peer goes to it."""

NODE_STATUS_PERIOD = 60
"""Seconds between calico-node's reports into a CalicoNodeStatus (it reports at once when the
object appears): a status write per node a minute stays cheap on large clusters."""


def node_status_name(node: str) -> str:
    """The CalicoNodeStatus that kube6 keeps for `node` (routing `bgp`)."""
    return f"kube6-bgp-{node}"


def node_status(node: str) -> dict[str, Any]:
    """A CalicoNodeStatus for `node`: calico-node fills its status with BIRD's state and each
    BGP session's (what `calicoctl node status` shows on the node), so that `verify` and
    `kubectl get caliconodestatus -o yaml` see every node's sessions from one place. (The
    operator grants calico-node `update` on caliconodestatuses/status for this: operator
    release-v1.44, pkg/render/node.go.)"""
    return {
        "apiVersion": CALICO_API,
        "kind": "CalicoNodeStatus",
        "metadata": {"name": node_status_name(node)},
        "spec": {
            "node": node,
            "classes": ["Agent", "BGP"],
            "updatePeriodSeconds": NODE_STATUS_PERIOD,
        },
    }


def bgp_resources(plan: Plan) -> list[dict[str, Any]]:
    """BGPConfiguration `default`, the BGPPeer of the plan and a CalicoNodeStatus per node
    (routing `bgp`)."""
    bgp = plan.bgp
    if bgp is None:
        raise ValueError(
            f"plan {plan.digest} has routing {plan.routing} and no BGP section; "
            "BGP resources exist only for routing: bgp"
        )
    configuration = {
        "apiVersion": CALICO_API,
        "kind": "BGPConfiguration",
        "metadata": {"name": "default"},
        "spec": {
            "logSeverityScreen": "Info",
            "asNumber": bgp.as_number,
            # Nodes still exchange their pod blocks among themselves (no encapsulation),
            # signed with the mesh's own password (a Secret `kube6 up` generates).
            "nodeToNodeMeshEnabled": True,
            "nodeMeshPassword": bgp_password.mesh_password(),
            # Advertising the service range lets the provider's router reach ClusterIPs
            # through the nodes; the default network policies decide who may connect.
            "serviceClusterIPs": [{"cidr": str(plan.services)}],
            # The LoadBalancer range: each node announces the whole range, and the address
            # of a Service with externalTrafficPolicy Local only where it has an endpoint.
            "serviceLoadBalancerIPs": [{"cidr": str(plan.load_balancers.cidr)}],
            # Calico 3.33's default, written out: the range as one route, not an address
            # per Service (Disabled), which would grow the router's table with every Service.
            "serviceLoadBalancerAggregation": "Enabled",
        },
    }
    peer: dict[str, Any] = {
        "apiVersion": CALICO_API,
        "kind": "BGPPeer",
        "metadata": {"name": "kube6-upstream"},
        "spec": {
            # No node or nodeSelector: every node peers with the router.
            "peerIP": str(bgp.peer),
            "asNumber": bgp.peer_as,
            "filters": [OWN_ROUTES_FILTER],
        },
    }
    # Each node tells the router only its own routes. BIRD passes on to an eBGP peer what it
    # learned from the mesh, unless told not to: another node's blocks through this one (an
    # extra hop), and a Local Service's address from a node without its endpoint, where
    # kube-proxy drops the traffic.
    own_routes = {
        "apiVersion": CALICO_API,
        "kind": "BGPFilter",
        "metadata": {"name": OWN_ROUTES_FILTER},
        "spec": {"exportV6": [{"action": "Reject", "source": "RemotePeers"}]},
    }
    router_signed = bgp.password_file is not None
    if router_signed:
        peer["spec"]["password"] = bgp_password.peer_password()
    access = bgp_password.secret_access(router_signed=router_signed)
    statuses = (node_status(node.name) for node in plan.nodes)
    return [configuration, own_routes, peer, *access, *statuses]


def bgp_yaml(plan: Plan) -> str:
    """The BGP manifest: `kubectl apply --server-side -f bgp.yaml` once the CRDs exist."""
    assert plan.bgp is not None
    what = "Calico BGP for routing: bgp (node mesh, upstream peer, advertised services)."
    if plan.bgp.router_id == "hash":
        router_id = [
            "# Router ID: BGP needs a 32-bit ID and these nodes have no IPv4 address. The",
            "# operator runs calico-node with CALICO_ROUTER_ID=hash whenever only IPv6 is",
            "# autodetected and BGP is enabled (values.yaml), so each node derives a unique ID",
            "# from a hash of its name. Nothing to set here.",
        ]
    else:
        router_id = [
            f"# Router ID: the spec asks for {plan.bgp.router_id}. An operator install has no",
            "# field for a fixed ID: calico-node runs with CALICO_ROUTER_ID=hash (derived per",
            "# node from its name), and one fixed ID shared by several nodes would break the",
            "# mesh. Tell your router to expect the hashed IDs (see `birdcl show status`).",
        ]
    namespace, mesh = bgp_password.NAMESPACE, bgp_password.MESH_SECRET_NAME
    router = bgp_password.SECRET_NAME
    notes = [
        "#",
        f"# Cluster AS {plan.bgp.as_number} peers with {plan.bgp.peer} (AS {plan.bgp.peer_as})",
        f"# and advertises the pod blocks, the service range {plan.services} and the",
        f"# LoadBalancer range {plan.load_balancers.cidr}, each node only its own routes",
        f"# ({OWN_ROUTES_FILTER}: nothing it learned from the other nodes).",
        *router_id,
        "# Sessions signed with TCP MD5 (never a password in this file; the Role below lets",
        "# calico-node read the Secrets that `kube6 up` creates):",
        f"# - between the nodes: a random password in {namespace}/{mesh}",
        "#   (generated once; for a new one, delete that Secret and run `kube6 up` again),",
        *(
            [f"# - with the router: the password of bgp.password_file, in {namespace}/{router}."]
            if plan.bgp.password_file is not None
            else ["# - with the router: unsigned (no bgp.password_file)."]
        ),
        "# Each node's BGP sessions: `kubectl get caliconodestatus kube6-bgp-NODE -o yaml`",
        f"# (calico-node reports every {NODE_STATUS_PERIOD} s; `kube6 verify` reads them).",
        f"# apiVersion {CALICO_API}: Calico's public API (served by the Calico API server).",
    ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(bgp_resources(plan))
