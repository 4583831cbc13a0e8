"""API-shaped objects of a cluster built as planned, and helpers to break them.

Each builder returns the dict that the API server would send (the fields verify reads, plus
the usual neighbours), so fixtures read like `kubectl get -o json` output.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lightkube.resources.core_v1 import Node, Pod, Service

from kube6 import net
from kube6.components import cert_manager
from kube6.components import gateway as gateway_component
from kube6.components.calico import checks as calico_checks
from kube6.components.cert_manager.render import ACME_SERVERS
from kube6.plan.model import LOAD_BALANCER_POOL, Plan
from kube6.verify.objects import ClusterObjects
from kube6.verify.result import CheckResult, evidence_lines

Raw = dict[str, Any]


def node(name: str, address: str, pod_cidr: str | None = None, ready: bool = True) -> Raw:
    spec: Raw = {"providerID": f"kube6://{name}"}
    if pod_cidr is not None:
        spec |= {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeletReady" if ready else "KubeletNotReady",
                    "message": "kubelet is posting ready status"
                    if ready
                    else "container runtime network not ready: cni plugin not initialized",
                }
            ],
        },
    }


def service(
    namespace: str,
    name: str,
    cluster_ip: str,
    *,
    families: tuple[str, ...] = ("IPv6",),
    policy: str = "SingleStack",
    kind: str = "ClusterIP",
) -> Raw:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "type": kind,
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": list(families),
            "ipFamilyPolicy": policy,
            "ports": [{"port": 443, "protocol": "TCP"}],
        },
    }


def pod(
    namespace: str,
    name: str,
    node_name: str,
    ips: tuple[str, ...],
    *,
    phase: str = "Running",
    ready: bool = True,
    host_network: bool = False,
) -> Raw:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "nodeName": node_name,
            "hostNetwork": host_network,
            "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}],
        },
        "status": {
            "phase": phase,
            "podIP": ips[0] if ips else None,
            "podIPs": [{"ip": ip} for ip in ips],
            "containerStatuses": [
                {
                    "name": "main",
                    "ready": ready,
                    "restartCount": 0,
                    "image": "registry.k8s.io/pause:3.10",
                    "imageID": "",
                    "state": {"running": {}}
                    if ready
                    else {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }


def load_balancer(namespace: str, name: str, cluster_ip: str, *ingress: str) -> Raw:
    """A `type: LoadBalancer` Service with `ingress` addresses in its status (none: pending)."""
    svc = service(namespace, name, cluster_ip, kind="LoadBalancer")
    svc["spec"]["ports"] = [{"port": 80, "protocol": "TCP", "nodePort": 31080}]
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}}
    return svc


def ip_pool(
    name: str,
    cidr: str,
    block: int,
    nat: bool,
    selector: str = "all()",
    uses: list[str] | None = None,
) -> Raw:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {
            "cidr": cidr,
            "blockSize": block,
            "ipipMode": "Never",
            "vxlanMode": "Never",
            "natOutgoing": nat,
            "nodeSelector": selector,
            "allowedUses": uses or ["Workload", "Tunnel"],
        },
    }


def block_affinity(node_name: str, cidr: str) -> Raw:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "BlockAffinity",
        "metadata": {"name": f"{node_name}-{cidr.replace(':', '-').replace('/', '-')}"},
        "spec": {"cidr": cidr, "node": node_name, "state": "confirmed", "deleted": "false"},
    }


def node_status(
    node_name: str, router: str | None, mesh: list[str], state: str = "Established"
) -> Raw:
    """kube6's CalicoNodeStatus of `node_name` as calico-node fills it (v1 storage, classes
    Agent and BGP): BIRD Ready, a session with `router` (None: no such session) and one with
    each `mesh` peer, all in `state`."""
    peers = [{"peerIP": ip, "type": "NodeMesh", "state": state, "since": "09:12:44"} for ip in mesh]
    if router is not None:
        peers.insert(
            0, {"peerIP": router, "type": "GlobalPeer", "state": state, "since": "09:12:40"}
        )
    established = len(peers) if state == "Established" else 0
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "CalicoNodeStatus",
        "metadata": {"name": f"kube6-bgp-{node_name}"},
        "spec": {"node": node_name, "classes": ["Agent", "BGP"], "updatePeriodSeconds": 60},
        "status": {
            "lastUpdated": "2026-12-05T09:13:00Z",
            "agent": {
                "birdV4": {},
                "birdV6": {
                    "state": "Ready",
                    "version": "v0.3.3+birdv1.6.8",
                    "routerID": "10.244.7.1",
                    "lastBootTime": "2026-12-05 09:12:30",
                    "lastReconfigurationTime": "2026-12-05 09:12:31",
                },
            },
            "bgp": {
                "numberEstablishedV4": 0,
                "numberNotEstablishedV4": 0,
                "numberEstablishedV6": established,
                "numberNotEstablishedV6": len(peers) - established,
                "peersV6": peers,
            },
            "routes": {},
        },
    }


def cluster_issuer(name: str, server: str, ready: bool = True) -> Raw:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {
            "acme": {
                "server": server,
                "email": "admin@example.com",
                "privateKeySecretRef": {"name": name},
            }
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "ACMEAccountRegistered" if ready else "ErrRegisterACMEAccount",
                    "message": "The ACME account was registered with the ACME server"
                    if ready
                    else "Failed to register ACME account: dial tcp: connect: network unreachable",
                }
            ]
        },
    }


def gateway(address: str, programmed: bool = True) -> Raw:
    cond = {
        "type": "Programmed",
        "status": "True" if programmed else "False",
        "reason": "Programmed",
    }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"namespace": "kube6-gateway", "name": "kube6"},
        "spec": {
            "gatewayClassName": "kube6",
            "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS"}],
        },
        "status": {
            "addresses": [{"type": "IPAddress", "value": address}],
            "conditions": [cond],
            "listeners": [{"name": "https", "attachedRoutes": 1, "conditions": [cond]}],
        },
    }


def healthy(plan: Plan) -> dict[str, list[Raw]]:
    """Every object of a cluster that is exactly as planned, by kind."""
    nodes, affinities, pods = [], [], []
    lb = plan.load_balancers
    for index, planned in enumerate(plan.nodes):
        cidr = net.subnet_at(plan.pods, plan.node_mask, index) if plan.allocate_node_cidrs else None
        nodes.append(node(planned.name, str(planned.address), str(cidr) if cidr else None))
        pool = plan.pool(planned.pool)
        block = net.subnet_at(pool.cidr, pool.block_size, index % pool.blocks)
        affinities.append(block_affinity(planned.name, str(block)))
        pods.append(
            pod(
                "calico-system",
                f"calico-node-{index}",
                planned.name,
                (str(planned.address),),
                host_network=True,
            )
        )
        pods.append(pod("default", f"web-{index}", planned.name, (str(net.nth(block, 2)),)))
        if index == 0:
            pods.append(pod("kube-system", "coredns-0", planned.name, (str(net.nth(block, 1)),)))
    services = [
        service("default", "kubernetes", str(plan.api)),
        service("kube-system", "kube-dns", str(plan.dns)),
        service("default", "web", str(net.nth(plan.services, 100))),
        load_balancer(
            "default", "shop", str(net.nth(plan.services, 101)), str(net.nth(lb.cidr, 1))
        ),
        {  # ExternalName Services have no address and no family: not checked
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"namespace": "default", "name": "outside"},
            "spec": {"type": "ExternalName", "externalName": "example.com"},
        },
    ]
    return {
        "nodes": nodes,
        "services": services,
        "pods": pods,
        "ip_pools": [
            *(
                ip_pool(p.name, str(p.cidr), p.block_size, p.nat_outgoing, p.node_selector)
                for p in plan.pools
            ),
            ip_pool(LOAD_BALANCER_POOL, str(lb.cidr), lb.block_size, False, uses=["LoadBalancer"]),
        ],
        # Calico's IPAM affines LoadBalancer blocks to its virtual node `load-balancer`.
        "block_affinities": [
            *affinities,
            block_affinity("load-balancer", str(net.subnet_at(lb.cidr, lb.block_size, 0))),
        ],
        "cluster_issuers": [
            cluster_issuer(
                f"letsencrypt-{plan.addons.cert_manager.issuer}",
                ACME_SERVERS[plan.addons.cert_manager.issuer],
            )
        ],
        "node_statuses": [
            node_status(
                n.name,
                str(plan.bgp.peer),
                [str(other.address) for other in plan.nodes if other is not n],
            )
            for n in plan.nodes
        ]
        if plan.bgp is not None
        else [],
        "gateways": [gateway(str(plan.load_balancers.gateway))]
        if plan.addons.gateway.enabled
        else [],
    }


KINDS = {
    "ip_pools": calico_checks.IP_POOL,
    "block_affinities": calico_checks.BLOCK_AFFINITY,
    "node_statuses": calico_checks.NODE_STATUS,
    "cluster_issuers": cert_manager.CLUSTER_ISSUER,
    "gateways": gateway_component.GATEWAY,
}
"""The raw lists' keys here -> the custom kinds their components check."""


def objects(raw: Mapping[str, list[Raw] | None]) -> ClusterObjects:
    """ClusterObjects from raw dicts, core kinds decoded into lightkube models as fetch does."""

    def crd(key: str) -> tuple[Raw, ...] | None:
        value = raw.get(key)
        return None if value is None else tuple(value)

    return ClusterObjects(
        nodes=tuple(_decode(Node, o) for o in raw.get("nodes") or []),
        services=tuple(_decode(Service, o) for o in raw.get("services") or []),
        pods=tuple(_decode(Pod, o) for o in raw.get("pods") or []),
        custom={kind.crd: crd(key) for key, kind in KINDS.items() if key in raw},
    )


def _decode(kind: Any, obj: Raw) -> Any:
    # lightkube's from_dict is untyped; the models are what fetch gets from the API server.
    return kind.from_dict(obj)


def changed(raw: dict[str, list[Raw]], **kinds: list[Raw] | None) -> dict[str, list[Raw] | None]:
    """A deep copy of `raw` with some kinds replaced (None: that CRD is not installed)."""
    copied: dict[str, list[Raw] | None] = copy.deepcopy(dict(raw))
    copied.update(kinds)
    return copied


def ev(result: CheckResult) -> tuple[str, ...]:
    """The evidence lines of a result."""
    return tuple(evidence_lines(result))
