"""Traefik Proxy as the kube6 Gateway's implementation (`addons.gateway.controller: traefik`).

kube6 writes Traefik's Kubernetes objects itself, from Traefik's documentation and source
(github.com/traefik/traefik/v3 at the pinned tag, pkg/provider/kubernetes/gateway), not from a
chart: `cluster/gateway/traefik.yaml` holds the Namespace `traefik`, a ServiceAccount, the
ClusterRole its Gateway API provider needs, a DaemonSet and a Service.

How Traefik's Gateway API provider works, and what kube6 sets because of it:

- It serves the Gateways whose GatewayClass has controllerName `traefik.io/gateway-controller`.
  A Gateway listener is matched to the entry point whose address ends in `:<listener port>`,
  so the entry points listen on the listener ports themselves: `[::]:80` (web) and `[::]:443`
  (websecure). The pods bind them as a non-root user with the namespaced, Kubernetes-"safe"
  sysctl `net.ipv4.ip_unprivileged_port_start` (it governs IPv6 sockets too) set to 80: no
  capability, no host network.
- It reads Services, EndpointSlices, Secrets (TLS certificates of HTTPS listeners), ConfigMaps
  and Namespaces through informers (list, watch; every namespace: routes may live anywhere)
  and writes the status of GatewayClasses, Gateways and routes (update); nothing else.
- It never assigns the Gateway's `spec.addresses`: its Gateway status addresses come from a
  Service named in its static configuration (`statusAddress.service`), copied from that
  Service's `status.loadBalancer.ingress`.

How the internet reaches it (as with Envoy Gateway, see render.py): Traefik runs as a DaemonSet
on the workers; its Service (single-stack IPv6, type LoadBalancer, no load-balancer class, no
NodePorts) asks Calico's LoadBalancer controller for the plan's gateway address, and kube-proxy
hands that address's ports 80 and 443 to a Traefik pod (externalTrafficPolicy as the routing
mode allows: Local keeps the client's address). Calico writes the address into the Service's
`status.loadBalancer.ingress`, which Traefik copies into the Gateway's status.
"""

from __future__ import annotations

import textwrap
from typing import Any

from kube6 import yamlio
from kube6.components.gateway import address
from kube6.plan.model import Plan
from kube6.render.base import Artifact, cluster_path, header
from kube6.versions import TRAEFIK

CONTROLLER = "traefik"
"""The value of `addons.gateway.controller` that selects Traefik."""
MANIFEST_PATH = cluster_path("gateway/traefik.yaml")
NAMESPACE = "traefik"
NAME = "traefik"
"""The ServiceAccount, ClusterRole(Binding), DaemonSet and Service are all called this."""
CONTROLLER_NAME = "traefik.io/gateway-controller"
"""Fixed in Traefik's source (pkg/provider/kubernetes/gateway/kubernetes.go)."""
IMAGE = f"docker.io/library/traefik:{TRAEFIK.version}"
LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/part-of": "kube6"}
ENTRY_POINTS = {"web": 80, "websecure": 443}
"""Traefik entry point -> port, one per Gateway listener port."""
PING_PORT = 8080
"""The `traefik` entry point: /ping only (readiness, liveness); never opened to the outside."""
UNPRIVILEGED_PORT_START = "80"
"""Ports from 80 up may be bound without CAP_NET_BIND_SERVICE inside the pod's namespace."""
USER = 65532
"""A non-root user and group with no entry in the image: Traefik needs none."""


def chosen(plan: Plan) -> bool:
    """True when the gateway is on and Traefik is its implementation."""
    return plan.addons.gateway.enabled and plan.addons.gateway.controller == CONTROLLER


def selector() -> str:
    """Calico selector of the Traefik pods (the network policy that opens them to the outside)."""
    return (
        f'projectcalico.org/namespace == "{NAMESPACE}" && '
        f'app.kubernetes.io/name == "{LABELS["app.kubernetes.io/name"]}"'
    )


def gateway_class(name: str) -> dict[str, Any]:
    """The GatewayClass `name` handled by Traefik (it takes no parameters)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": CONTROLLER_NAME},
    }


def args() -> list[str]:
    """Traefik's static configuration, as command-line flags (its CLI reference)."""
    return [
        # No calls home: the cluster may have no route to IPv4-only hosts.
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        *(f"--entryPoints.{name}.address=[::]:{port}" for name, port in ENTRY_POINTS.items()),
        f"--entryPoints.traefik.address=[::]:{PING_PORT}",
        "--ping=true",
        "--providers.kubernetesgateway=true",
        f"--providers.kubernetesgateway.statusAddress.service.name={NAME}",
        f"--providers.kubernetesgateway.statusAddress.service.namespace={NAMESPACE}",
        "--log.level=INFO",
    ]


def _meta(name: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def cluster_role() -> dict[str, Any]:
    """What Traefik's Gateway API provider reads (informers: list, watch) and writes (status)."""
    routes = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(NAME, namespaced=False),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["namespaces", "services", "secrets", "configmaps"],
                "verbs": ["list", "watch"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["list", "watch"],
            },
            {
                "apiGroups": ["gateway.networking.k8s.io"],
                "resources": [*routes, "referencegrants", "backendtlspolicies"],
                "verbs": ["list", "watch"],
            },
            {
                "apiGroups": ["gateway.networking.k8s.io"],
                "resources": [f"{r}/status" for r in [*routes, "backendtlspolicies"]],
                "verbs": ["update"],
            },
        ],
    }


def daemon_set() -> dict[str, Any]:
    """One Traefik pod per schedulable worker, unprivileged, on the IPv6 entry points."""
    ports = [
        {"name": name, "containerPort": port, "protocol": "TCP"}
        for name, port in ENTRY_POINTS.items()
    ]
    ports.append({"name": "ping", "containerPort": PING_PORT, "protocol": "TCP"})
    probe = {"httpGet": {"path": "/ping", "port": "ping"}, "periodSeconds": 10}
    container = {
        "name": "traefik",
        "image": IMAGE,
        "args": args(),
        "ports": ports,
        "readinessProbe": {**probe, "failureThreshold": 1},
        "livenessProbe": {**probe, "failureThreshold": 3, "initialDelaySeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # The image declares /tmp a volume; Traefik writes nothing else.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(NAME),
        "spec": {
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER,
                        "runAsGroup": USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                        "sysctls": [
                            {
                                "name": "net.ipv4.ip_unprivileged_port_start",
                                "value": UNPRIVILEGED_PORT_START,
                            }
                        ],
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def service(plan: Plan) -> dict[str, Any]:
    """The Service that takes the gateway address's ports 80 and 443 to Traefik's pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**_meta(NAME), "annotations": address.service_annotations(plan)},
        "spec": {
            # No load-balancer class: Calico's LoadBalancer controller serves it.
            "type": "LoadBalancer",
            "allocateLoadBalancerNodePorts": False,
            "externalTrafficPolicy": address.traffic_policy(plan),
            "ipFamilies": ["IPv6"],
            "ipFamilyPolicy": "SingleStack",
            "selector": dict(LABELS),
            "ports": [
                {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
                for name, port in ENTRY_POINTS.items()
            ],
        },
    }


def manifest(plan: Plan) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount, RBAC, DaemonSet and Service, in the order they must apply."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME)},
        cluster_role(),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(NAME, namespaced=False),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": NAME,
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
        daemon_set(),
        service(plan),
    ]


def manifest_yaml(plan: Plan) -> str:
    """`cluster/gateway/traefik.yaml`: `kubectl apply --server-side -f traefik.yaml`."""
    what = f"Traefik Proxy {TRAEFIK.version}, the kube6 Gateway's implementation (IPv6)."
    workers = ", ".join(n.name for n in plan.workers) or "none yet"
    text = (
        "Written by kube6 from Traefik's documentation and source (no chart). One Traefik pod "
        f"per worker ({workers}), entry points on [::]:80 and [::]:443 (the Gateway's listener "
        "ports; the pods may bind them through the namespaced sysctl "
        f"net.ipv4.ip_unprivileged_port_start={UNPRIVILEGED_PORT_START}), /ping on "
        f"[::]:{PING_PORT} for the kubelet. The Service is reached at "
        f"{address.reaches_gateway(plan)}; Calico writes the address into its "
        "status.loadBalancer.ingress, which Traefik reports as the Gateway's address."
    )
    notes = ["#", *(f"# {line}" for line in textwrap.wrap(text, width=90))]
    body = yamlio.dump_all(manifest(plan))
    return header(plan, what) + "\n".join(notes) + "\n" + body


def artifacts(plan: Plan) -> list[Artifact]:
    """Traefik's manifest, when Traefik is the gateway's implementation."""
    if not chosen(plan):
        return []
    return [
        Artifact(
            path=MANIFEST_PATH,
            content=manifest_yaml(plan),
            description=f"Traefik Proxy {TRAEFIK.version} (DaemonSet, Service, RBAC)",
        )
    ]
