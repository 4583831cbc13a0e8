"""Default network policies: pods are not reachable from outside the cluster, except the gateway.

`cluster/policies/default.yaml` holds a Calico Tier `kube6` and GlobalNetworkPolicies in it.

API group: `projectcalico.org/v3`, for every Calico resource kube6 writes (these, and the BGP
resources of render.py), never `crd.projectcalico.org/v1`. Read from Calico 3.33's own
files (release-v3.33, tigera-operator release-v1.44):
- `crd.projectcalico.org/v1` is Calico's storage, not its API: libcalico-go keeps a v3 object's
  metadata in a `projectcalico.org/metadata` annotation of the v1 object and converts UIDs and
  owner references on every read (libcalico-go/lib/backend/k8s/resources/resources.go). An
  object written there directly skips the Calico API server's defaulting and validation and
  the `projectcalico.org/tier` label that tier RBAC relies on.
- Users and calicoctl read `projectcalico.org/v3` in every mode: through the Calico API server
  when the datastore is the v1 CRDs (what the operator chart's documented install gives, and
  the chart turns `apiServer` on by default), or as native CRDs.
- Upgrades: 3.33 moves clusters from v1 storage to native v3 CRDs (kube-controllers'
  DatastoreMigration: the APIService `v3.projectcalico.org` is cut over, then the v1 CRDs are
  deleted), and the operator picks v3 CRDs by itself on a new cluster that has none
  (operator pkg/apis/version.go). Manifests in v3 keep applying before and after; v1 ones stop.
kube6 still installs the `crd.projectcalico.org.v1` CRD chart (the chart README's install path;
native v3 CRDs are the newer, opt-in one), so its Calico objects go through the Calico API
server: the steps wait for the `v3.projectcalico.org` APIService before applying them.

Design. Calico evaluates tiers in order; inside a tier, the first rule that matches decides
(Allow, Deny, or Pass = go on to the next tier). A tier that selects a pod but has no matching
rule denies. The default tier (order 1,000,000) holds Kubernetes NetworkPolicies, and a pod
that no policy selects there is open. Putting the kube6 policies in the default tier would make
every pod "selected", i.e. default-deny for all traffic no rule allows, and would change the
meaning of the users' NetworkPolicies; a Tier of its own avoids both:

1. `kube6.gateway` (gateway on): ingress to the proxy pods of the kube6 Gateway (Envoy's or
   Traefik's) on their listener ports (the container ports behind 80/443) from anywhere: Pass.
2. `kube6.external-ingress`, every pod (never host endpoints): ingress from outside the
   cluster's own ranges (pod pools, service range, node addresses): Deny; the rest: Pass.

Pass hands the decision to the default tier, so pod-to-pod traffic and the users' own
NetworkPolicies behave exactly as without kube6. Egress is not selected at all. Host-network
pods (API server, etcd, calico-node, kube-proxy) are not Calico workload endpoints, so none of
this applies to them; the API server reaches webhooks and aggregated API servers in pods from
its node address, which is inside the cluster's ranges. The tier's order (100,000) puts it
after Calico's admin tier (ClusterNetworkPolicy, order 1,000), so cluster admins can still
override, and before the default tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kube6 import yamlio
from kube6.components.calico.api import CALICO_API, CALICO_API_SERVICE
from kube6.components.gateway.render import proxy_name, proxy_port, proxy_selector
from kube6.plan.model import Plan
from kube6.render.base import Artifact, cluster_path, header

POLICIES_PATH = cluster_path("policies/default.yaml")

TIER = "kube6"
TIER_ORDER = 100000
GATEWAY_POLICY = f"{TIER}.gateway"
GATEWAY_ORDER = 100
EXTERNAL_POLICY = f"{TIER}.external-ingress"
EXTERNAL_ORDER = 1000
"""Users' own exceptions go in between (see EXAMPLE_OPEN_PORT)."""

WORKLOADS = "has(projectcalico.org/namespace)"
"""Calico selector of every pod (workload endpoint) and of nothing else."""

EXAMPLE_OPEN_PORT = """\
# How to open a port of a workload to the internet (here TCP 8080 of the pods labelled
# app=shop in namespace web): Pass that traffic in the kube6 tier before kube6.external-ingress
# (lower order), so the default tier and your NetworkPolicies decide as usual:
#
#   apiVersion: projectcalico.org/v3
#   kind: GlobalNetworkPolicy
#   metadata:
#     name: kube6.open-web-shop          # "<tier>." + a name of your own
#   spec:
#     tier: kube6
#     order: 500                       # below kube6.external-ingress (1000)
#     selector: app == "shop" && projectcalico.org/namespace == "web"
#     types: [Ingress]
#     ingress:
#       - action: Pass
#         protocol: TCP
#         destination:
#           ports: [8080]
#
# The port is the pod's (container) port: kube-proxy has already translated Service ports.
# A LoadBalancer (or NodePort) Service needs this for its pods too: Calico judges a packet
# before kube-proxy masquerades it, so without it only the pods on another node than the one
# the packet reached would answer (seen on real nodes); the host firewall already lets the
# Service's declared ports in and nothing else of the LoadBalancer range.
# `kube6 expose NAMESPACE/SERVICE` writes this policy for a Service from the Service itself
# (its selector, its target ports); `kube6 expose NAMESPACE/SERVICE --remove` deletes it.
"""


def trusted_sources(plan: Plan) -> list[str]:
    """The cluster's own ranges, from which pods may always be reached."""
    nets: list[str] = []
    for pool in plan.pools:
        assert isinstance(pool.cidr, IPv6Network), pool.cidr
        nets.append(str(pool.cidr))
    assert isinstance(plan.services, IPv6Network), plan.services
    nets.append(str(plan.services))
    for node in sorted(plan.nodes, key=lambda n: int(n.address)):
        assert isinstance(node.address, IPv6Address), node.address
        nets.append(f"{node.address}/128")
    return nets


def render(plan: Plan) -> Iterator[Artifact]:
    """`cluster/policies/default.yaml`: the kube6 tier and its policies.

    Example: the built-in example yields the file with the gateway policy (gateway on).
    """
    yield Artifact(
        path=POLICIES_PATH,
        content=policies_yaml(plan),
        description="Calico policies: no ingress to pods from outside the cluster but the gateway",
    )


def policies(plan: Plan) -> list[dict[str, Any]]:
    """The Tier and the GlobalNetworkPolicies as plain data, in apply order."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": CALICO_API,
            "kind": "Tier",
            "metadata": {"name": TIER},
            # Pass when no kube6 rule matched: the tier must never deny on its own.
            "spec": {"order": TIER_ORDER, "defaultAction": "Pass"},
        }
    ]
    if plan.addons.gateway.enabled:
        ports = sorted({proxy_port(plan, p) for p in plan.firewall.gateway_ports})
        objects.append(
            {
                "apiVersion": CALICO_API,
                "kind": "GlobalNetworkPolicy",
                "metadata": {"name": GATEWAY_POLICY},
                "spec": {
                    "tier": TIER,
                    "order": GATEWAY_ORDER,
                    "selector": proxy_selector(plan),
                    "types": ["Ingress"],
                    "ingress": [
                        {
                            "action": "Pass",
                            "protocol": "TCP",
                            "destination": {"ports": ports},
                        }
                    ],
                },
            }
        )
    objects.append(
        {
            "apiVersion": CALICO_API,
            "kind": "GlobalNetworkPolicy",
            "metadata": {"name": EXTERNAL_POLICY},
            "spec": {
                "tier": TIER,
                "order": EXTERNAL_ORDER,
                # Pods only: every workload endpoint carries its namespace label, host endpoints
                # (if someone enables them) do not, so host traffic is never caught here.
                "selector": WORKLOADS,
                "types": ["Ingress"],
                "ingress": [
                    {"action": "Deny", "source": {"notNets": trusted_sources(plan)}},
                    {"action": "Pass"},
                ],
            },
        }
    )
    return objects


def policies_yaml(plan: Plan) -> str:
    """The policy manifest, with the design summary and the open-a-port example."""
    what = "Default network policies: pods unreachable from outside the cluster, but the gateway."
    notes = [
        "#",
        f"# Tier {TIER} (order {TIER_ORDER}, before the default tier of NetworkPolicies):",
    ]
    if plan.addons.gateway.enabled:
        ports = ", ".join(
            f"{p}->{proxy_port(plan, p)}" for p in sorted(set(plan.firewall.gateway_ports))
        )
        notes += [
            f"#   {GATEWAY_POLICY}: the kube6 Gateway's {proxy_name(plan)} pods accept TCP from "
            "anywhere",
            f"#   (listener port -> pod port: {ports}).",
        ]
    notes += [
        f"#   {EXTERNAL_POLICY}: any other ingress from outside the cluster's ranges is denied;",
        "#   traffic from pods, services and nodes passes on to the default tier unchanged.",
        "# Egress is not touched. Apply once the Calico API server is up",
        f"# (kubectl wait --for=condition=Available apiservice/{CALICO_API_SERVICE}):",
        "# kubectl apply --server-side -f",
        "#",
        EXAMPLE_OPEN_PORT.rstrip("\n"),
    ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(policies(plan))
