"""The gateway: Envoy Gateway Helm values and the kube6 Gateway with IPv6 listeners.

This module's notes are Envoy Gateway's (`addons.gateway.controller: envoy-gateway`); with
`traefik`, `cluster/gateway/traefik.yaml` replaces the values and the EnvoyProxy (see
`kube6.components.gateway.traefik`), and the GatewayClass names Traefik's controller. The
Gateway itself is the same for both.

`cluster/gateway/values.yaml` goes to `helm install eg oci://docker.io/envoyproxy/gateway-helm
-n envoy-gateway-system` (the chart also installs the Gateway API CRDs).
`cluster/gateway/gateway.yaml` holds the EnvoyProxy, the GatewayClass `kube6` and the Gateway
`kube6` in namespace `kube6-gateway`.

How the internet reaches the gateway (bare metal, IPv6 only, no load-balancer product): the
proxies (Envoy, or Traefik) run as a DaemonSet, one per worker, behind a Service of type
LoadBalancer that asks Calico's LoadBalancer controller for the plan's gateway address, an
address of the LoadBalancer range (address 1 unless `addons.gateway.address` says otherwise;
annotation `projectcalico.org/loadBalancerIPs`; an IPReservation keeps Calico from giving it
to another Service). The routing mode brings the address to the nodes as any LoadBalancer
address (ndp-proxy: every worker's NDP proxy answers for the range; bgp: Calico announces it;
routed: inside the routed prefix), and kube-proxy hands its ports 80 and 443 to a proxy pod.
Where the traffic comes in at a worker (ndp-proxy, bgp), the Service keeps it on that worker's
own proxy (`externalTrafficPolicy: Local`), which keeps the client's address for logs and
policies; routed, it comes in at whichever node the provider routes to, so it is spread over
all (Cluster). DNS for the public host names gets one AAAA record, the gateway address, which
stays put while workers come and go. Nothing runs on the host network, no privileged port is
bound, and no extra daemon answers NDP.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kube6 import yamlio
from kube6.components.gateway import traefik
from kube6.components.gateway.address import (
    LOAD_BALANCER_IPS,
    gateway_address,
    reaches_gateway,
    service_annotations,
    traffic_policy,
)
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


def envoy_proxy(plan: Plan) -> dict[str, Any]:
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
                        # No load-balancer class: Calico's LoadBalancer controller serves it
                        # and gives it the planned gateway address (the annotation).
                        "type": "LoadBalancer",
                        "annotations": service_annotations(plan),
                        "allocateLoadBalancerNodePorts": False,
                        "externalTrafficPolicy": traffic_policy(plan),
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
    # No spec.addresses: Envoy Gateway would copy them into the Service's externalIPs. The
    # address is the Service's, from Calico; both controllers report it in the status.
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": metadata,
        "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": listeners},
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
    return [namespace, envoy_proxy(plan), gateway_class(), gateway(plan, https)]


def manifest_yaml(plan: Plan, https: Sequence[HttpsListener] = ()) -> str:
    """The gateway manifest: `kubectl apply --server-side -f gateway.yaml` after the chart."""
    if traefik.chosen(plan):
        what = f"Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} (Traefik Proxy, IPv6 listeners)."
        proxies = "Traefik runs as a DaemonSet (traefik.yaml); its Service"
    else:
        what = f"Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} (Envoy Gateway, IPv6 listeners)."
        proxies = "Envoy runs as a DaemonSet; its Service (the EnvoyProxy below)"
    text = (
        f"Reached at {reaches_gateway(plan)}. {proxies} asks Calico for the address "
        f"({LOAD_BALANCER_IPS}). Publish an AAAA record {gateway_address(plan)} for each host name."
    )
    notes = ["#", *(f"# {line}" for line in textwrap.wrap(text, width=90))]
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
