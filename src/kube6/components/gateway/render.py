"""The gateway: Envoy Gateway Helm values and the kube6 Gateway with IPv6 listeners.

This module's notes are Envoy Gateway's (`addons.gateway.controller: envoy-gateway`); with
`traefik`, `cluster/gateway/traefik.yaml` replaces the values and the EnvoyProxy (see
`kube6.components.gateway.traefik`), and the GatewayClass names Traefik's controller. The
Gateway itself is the same for both.

`cluster/gateway/values.yaml` goes to `helm install eg oci://docker.io/envoyproxy/gateway-helm
-n envoy-gateway-system` (the chart also installs the Gateway API CRDs).
`cluster/gateway/gateway.yaml` holds the EnvoyProxy, the GatewayClass `kube6` and the Gateway
`kube6` in namespace `kube6-gateway`.

How the internet reaches the gateway (bare metal, IPv6 only, no load-balancer controller):
Envoy runs as a DaemonSet, so every schedulable worker has a proxy, and the Gateway's
`spec.addresses` are the workers' node addresses, which Envoy Gateway copies into the Envoy
Service's `externalIPs`. kube-proxy then sends `[worker]:80` and `[worker]:443` to the Envoy
pod on that same worker (`externalTrafficPolicy: Local`, which also keeps the client's address
for logs and for the network policies). The Service is of type LoadBalancer only because Envoy
Gateway copies addresses into externalIPs for LoadBalancer and NodePort Services; it allocates
no NodePorts, and its load-balancer class is kube6's own (`kube6.io/node-addresses`), so
Calico's LoadBalancer controller, which serves Services without a class, leaves it alone.
DNS for the public host names gets AAAA records for one or more worker addresses. Nothing runs
on the host network, no privileged port is bound, and no extra daemon answers NDP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from kube6 import yamlio
from kube6.components.gateway import traefik
from kube6.plan.model import Plan
from kube6.render.base import Artifact, Renderer, cluster_path, header

VALUES_PATH = cluster_path("gateway/values.yaml")
MANIFEST_PATH = cluster_path("gateway/gateway.yaml")

CONTROLLER_NAMESPACE = "envoy-gateway-system"
"""Where the Envoy Gateway chart is installed; Envoy proxies run there too."""
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
GATEWAY_CLASS = "kube6"
GATEWAY_NAME = "kube6"
GATEWAY_NAMESPACE = "kube6-gateway"
ENVOY_PROXY_NAME = "kube6-ipv6"
HTTP_LISTENER = "http"
HTTP_PORT = 80
HTTPS_PORT = 443

PRIVILEGED_PORT_SHIFT = 10000
"""Envoy Gateway serves a listener on a port below 1024 at that port + 10000 inside the pod, so
Envoy needs no CAP_NET_BIND_SERVICE (EnvoyProxy `useListenerPortAsContainerPort`, default off)."""


def container_port(listener_port: int) -> int:
    """The port that Envoy listens on inside its pod for a Gateway listener port.

    Example: `container_port(443) == 10443`; network policies must name this port, since
    they see traffic after kube-proxy's DNAT to the pod.
    """
    return listener_port + PRIVILEGED_PORT_SHIFT if listener_port < 1024 else listener_port


def proxy_port(plan: Plan, listener_port: int) -> int:
    """The pod port behind a Gateway listener port for the plan's implementation: Envoy's
    shifted port, or the port itself (Traefik binds the listener ports).

    Example: 443 -> 10443 with Envoy Gateway, 443 with Traefik."""
    return listener_port if traefik.chosen(plan) else container_port(listener_port)


def proxy_selector(plan: Plan) -> str:
    """Calico selector of the pods that serve the kube6 Gateway (Envoy's or Traefik's)."""
    if traefik.chosen(plan):
        return traefik.selector()
    return (
        f'projectcalico.org/namespace == "{CONTROLLER_NAMESPACE}" && '
        f'gateway.envoyproxy.io/owning-gateway-namespace == "{GATEWAY_NAMESPACE}" && '
        f'gateway.envoyproxy.io/owning-gateway-name == "{GATEWAY_NAME}"'
    )


def proxy_name(plan: Plan) -> str:
    """The gateway's proxy, for messages: `Envoy` or `Traefik`."""
    return "Traefik" if traefik.chosen(plan) else "Envoy"


def issuer_name(plan: Plan) -> str:
    """The ClusterIssuer the gateway asks cert-manager to use, e.g. `letsencrypt-staging`."""
    return f"letsencrypt-{plan.addons.cert_manager.issuer}"


def gateway_addresses(plan: Plan) -> list[IPv6Address]:
    """The node addresses that answer for the gateway: every worker's (see module docstring)."""
    return [node.address for node in plan.workers]


@dataclass(frozen=True)
class HttpsListener:
    """An HTTPS listener that another component asks of the kube6 Gateway for its host name
    (the dashboard's): TLS terminated with the certificate in `tls_secret` (in the Gateway's
    namespace), and only routes from `namespace` may attach."""

    name: str
    hostname: str
    tls_secret: str
    namespace: str


Listeners = Callable[[Plan], Sequence[HttpsListener]]
"""The HTTPS listeners that the other components ask of the Gateway in a plan."""


def renderer(listeners: Listeners) -> Renderer:
    """The gateway renderer, with the HTTPS listeners that other components contribute
    (`kube6.components.registry` passes them)."""

    def render_gateway(plan: Plan) -> Iterator[Artifact]:
        return render(plan, listeners(plan))

    return render_gateway


def render(plan: Plan, https: Sequence[HttpsListener] = ()) -> Iterator[Artifact]:
    """Envoy Gateway values and the Gateway manifest, when the gateway add-on is on.

    Example: `cluster/gateway/values.yaml` and `cluster/gateway/gateway.yaml` for the built-in
    example.
    """
    if not plan.addons.gateway.enabled:
        return
    if traefik.chosen(plan):
        yield from traefik.artifacts(plan)
    else:
        yield Artifact(
            path=VALUES_PATH,
            content=values_yaml(plan),
            description="Envoy Gateway Helm values",
        )
    yield Artifact(
        path=MANIFEST_PATH,
        content=manifest_yaml(plan, https),
        description=f"Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} with IPv6 listeners",
    )


def values(plan: Plan) -> dict[str, Any]:
    """The Envoy Gateway Helm values as plain data (kept minimal: the chart defaults fit)."""
    return {
        # The chart's bundled CRDs are off: the Gateway API CRDs come from their own pinned
        # release (the chart bundles an older, experimental-channel copy) and Envoy Gateway's
        # own CRDs from its gateway-crds-helm chart, which `helm upgrade` keeps current (a
        # chart's crds/ folder is only ever installed, never upgraded).
        "crds": {"enabled": False},
        "config": {"envoyGateway": {"gateway": {"controllerName": CONTROLLER_NAME}}},
        # The chart writes this domain into the controller's service addresses.
        "kubernetesClusterDomain": plan.dns_domain,
    }


def values_yaml(plan: Plan) -> str:
    """The Envoy Gateway values file (header, notes, values)."""
    what = "Envoy Gateway Helm values (gateway-helm chart, namespace envoy-gateway-system)."
    notes = [
        "#",
        "# The IPv6 listeners and the way the gateway is exposed are set per GatewayClass in",
        "# gateway.yaml (EnvoyProxy ipFamily: IPv6), not here. CRDs are installed apart:",
        "# the Gateway API standard channel at kube6's pin, Envoy Gateway's own from the",
        "# gateway-crds-helm chart (crds.envoyGateway.enabled=true).",
    ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump(values(plan))


def envoy_proxy() -> dict[str, Any]:
    """The EnvoyProxy that every Gateway of class `kube6` uses."""
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyProxy",
        "metadata": {"name": ENVOY_PROXY_NAME, "namespace": CONTROLLER_NAMESPACE},
        "spec": {
            # Envoy Gateway listens on IPv4 unless told otherwise; this cluster has no IPv4.
            "ipFamily": "IPv6",
            "provider": {
                "type": "Kubernetes",
                "kubernetes": {
                    # One proxy per schedulable node, so each worker address has a local proxy.
                    "envoyDaemonSet": {},
                    "envoyService": {
                        "type": "LoadBalancer",
                        # kube6's own class, as Traefik's Service: Calico's LoadBalancer
                        # controller serves Services without a class, and this one's
                        # addresses are the workers' own (externalIPs).
                        "loadBalancerClass": traefik.LOAD_BALANCER_CLASS,
                        "allocateLoadBalancerNodePorts": False,
                        "externalTrafficPolicy": "Local",
                    },
                },
            },
        },
    }


def gateway_class() -> dict[str, Any]:
    """The GatewayClass `kube6`, pointing at the IPv6 EnvoyProxy."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": GATEWAY_CLASS},
        "spec": {
            "controllerName": CONTROLLER_NAME,
            "parametersRef": {
                "group": "gateway.envoyproxy.io",
                "kind": "EnvoyProxy",
                "name": ENVOY_PROXY_NAME,
                "namespace": CONTROLLER_NAMESPACE,
            },
        },
    }


def gateway(plan: Plan, https: Sequence[HttpsListener] = ()) -> dict[str, Any]:
    """The Gateway `kube6`: HTTP on 80 for every namespace, HTTPS for each of `https`."""
    listeners: list[dict[str, Any]] = [
        {
            "name": HTTP_LISTENER,
            "protocol": "HTTP",
            "port": HTTP_PORT,
            # All namespaces: cert-manager answers ACME HTTP-01 challenges with an HTTPRoute in
            # the namespace of each Certificate, and applications attach their own routes.
            "allowedRoutes": {"namespaces": {"from": "All"}},
        }
    ]
    for listener in https:
        listeners.append(
            {
                "name": listener.name,
                "protocol": "HTTPS",
                "port": HTTPS_PORT,
                "hostname": listener.hostname,
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [{"kind": "Secret", "name": listener.tls_secret}],
                },
                # Only the asking component's namespace may serve this host name.
                "allowedRoutes": {
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchLabels": {"kubernetes.io/metadata.name": listener.namespace}
                        },
                    }
                },
            }
        )
    metadata: dict[str, Any] = {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE}
    if plan.addons.cert_manager.enabled:
        # cert-manager's gateway-shim issues a Certificate for every HTTPS listener that has a
        # hostname and a certificateRef, from this issuer.
        metadata["annotations"] = {"cert-manager.io/cluster-issuer": issuer_name(plan)}
    addresses = gateway_addresses(plan)
    for address in addresses:
        assert isinstance(address, IPv6Address), address
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": metadata,
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "addresses": [{"type": "IPAddress", "value": str(a)} for a in addresses],
            "listeners": listeners,
        },
    }


def manifest(plan: Plan, https: Sequence[HttpsListener] = ()) -> list[dict[str, Any]]:
    """Namespace, EnvoyProxy (Envoy Gateway only), GatewayClass and Gateway, in the order
    they must be applied."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": GATEWAY_NAMESPACE},
    }
    if traefik.chosen(plan):
        return [namespace, traefik.gateway_class(GATEWAY_CLASS), gateway(plan, https)]
    return [namespace, envoy_proxy(), gateway_class(), gateway(plan, https)]


def manifest_yaml(plan: Plan, https: Sequence[HttpsListener] = ()) -> str:
    """The gateway manifest: `kubectl apply --server-side -f gateway.yaml` after the chart."""
    workers = ", ".join(f"{n.name} [{n.address}]" for n in plan.workers)
    if traefik.chosen(plan):
        what = f"Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} (Traefik Proxy, IPv6 listeners)."
        notes = [
            "#",
            f"# Reached at port {HTTP_PORT}/{HTTPS_PORT} of every worker: {workers}.",
            "# Traefik runs as a DaemonSet (traefik.yaml) and these addresses are its Service's",
            "# externalIPs, so kube-proxy hands each worker's traffic to its local Traefik pod",
            "# (externalTrafficPolicy Local keeps client addresses). Traefik does not read",
            "# spec.addresses; they say where the Gateway answers. Publish AAAA records for the",
            "# host names that point at one or more of these addresses.",
        ]
    else:
        what = f"Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} (Envoy Gateway, IPv6 listeners)."
        notes = [
            "#",
            f"# Reached at port {HTTP_PORT}/{HTTPS_PORT} of every worker: {workers}.",
            "# Envoy runs as a DaemonSet and the Gateway addresses become the Envoy Service's",
            "# externalIPs, so kube-proxy hands each worker's traffic to its local Envoy pod",
            "# (externalTrafficPolicy Local keeps client addresses). Publish AAAA records for the",
            "# host names that point at one or more of these addresses.",
        ]
    for listener in https:
        if plan.addons.cert_manager.enabled:
            notes += [
                f"# {listener.hostname}: certificate from {issuer_name(plan)}",
                f"# (cert-manager), in the Secret {GATEWAY_NAMESPACE}/{listener.tls_secret}.",
            ]
        else:
            notes += [
                f"# {listener.hostname}: cert-manager is off; put a TLS certificate",
                f"# in the Secret {GATEWAY_NAMESPACE}/{listener.tls_secret} yourself.",
            ]
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump_all(manifest(plan, https))
