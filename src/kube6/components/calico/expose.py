"""`kube6 expose`: the policy that opens one Service's pods to the outside on its declared ports.

kube6's default policies (policies.py) deny ingress to pods from outside the cluster's ranges.
A `type: LoadBalancer` (or NodePort) Service does not change that by itself: Calico judges the
packet after kube-proxy's DNAT, as one to the pod's own port, and cannot tell it from one sent
to the pod's global address directly (a Calico ingress rule cannot select a Service's
backends). What kube-proxy does to Cluster-policy traffic makes it worse: a packet that comes in
at another node than the pod's is masqueraded to that node's address, which kube6's policy
trusts, so such a Service answers for some arrivals and not for others.

This is the Service's policy, written from the Service itself: a GlobalNetworkPolicy in the
kube6 tier, before `kube6.external-ingress`, that selects the Service's pods (its selector, in
its namespace) and Passes ingress to the Service's target ports per protocol (numbers or port
names, which Calico resolves per pod), nothing else. Pass hands the decision on to the default
tier, so the users' own NetworkPolicies still apply, as with EXAMPLE_OPEN_PORT, of which this
is the generated form. The host firewall already keeps everything of the LoadBalancer range
but the declared ports out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kube6 import yamlio
from kube6.components.calico.api import CALICO_API
from kube6.components.calico.policies import EXTERNAL_ORDER, TIER
from kube6.errors import UsageError

EXPOSE_ORDER = 500
"""Before kube6.external-ingress (EXTERNAL_ORDER), as the documented open-port example."""
SERVICE_LABELS = ("kube6.io/service-namespace", "kube6.io/service-name")
"""Labels of the policy naming its Service (its name alone could be two Services' names)."""

# Kubernetes' own rules (apimachinery validation): a label key's optional DNS prefix and name,
# a label value, a port name. Values come from the API server; they are checked anyway, since
# they become Calico selector text.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}$")
LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PROTOCOLS = ("TCP", "UDP", "SCTP")


def policy_name(namespace: str, name: str) -> str:
    """`kube6.expose-<namespace>-<name>`: in the kube6 tier, findable by the Service's name."""
    return f"{TIER}.expose-{namespace}-{name}"


def parse_target(target: str) -> tuple[str, str]:
    """`NAMESPACE/NAME` (or `NAME`, in `default`) -> (namespace, name), or a UsageError."""
    namespace, _, name = target.rpartition("/")
    namespace = namespace or "default"
    for what, value in (("namespace", namespace), ("name", name)):
        if not DNS_LABEL.match(value):
            raise UsageError(
                f"{target!r}: the Service's {what} {value!r} is not a Kubernetes name",
                fix="give the Service as NAMESPACE/NAME, e.g. web/shop (`kubectl get svc -A`)",
            )
    return namespace, name


def _label(service: str, key: str, value: object) -> str:
    if not (isinstance(value, str) and LABEL_KEY.match(key) and LABEL_VALUE.match(value)):
        raise UsageError(
            f"Service {service}: selector {key}={value!r} is not a Kubernetes label",
            fix=f"check `kubectl get service -n {service.replace('/', ' ')} -o yaml`",
        )
    return f'{key} == "{value}"'


def _target_port(service: str, port: Mapping[str, Any]) -> int | str:
    """The pod's port behind a Service port: targetPort (a number or a port name), else port."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool) and 1 <= target <= 65535:
        return target
    if isinstance(target, str) and target.isdigit() and 1 <= int(target) <= 65535:
        return int(target)
    if isinstance(target, str) and PORT_NAME.match(target):
        return target
    raise UsageError(
        f"Service {service}: port {port.get('name') or port.get('port')} has no usable target "
        f"port ({target!r})",
        fix="give the Service port a targetPort: a number 1-65535 or a container port's name",
    )


def open_service_policy(service: Mapping[str, Any]) -> dict[str, Any]:
    """The GlobalNetworkPolicy that lets the outside reach `service`'s pods on its target ports.

    `service`: the Service as the API server returns it (a dict). A Service without a selector
    (its endpoints kept by hand) or without ports has no pods to open: a UsageError says so.
    """
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    label = f"{namespace}/{name}"
    selector = spec.get("selector") or {}
    if not selector:
        raise UsageError(
            f"Service {label} has no selector: kube6 cannot tell which pods serve it",
            fix="open its pods with your own policy (see the open-port example in "
            "/etc/kube6/cluster/policies/default.yaml)",
        )
    ports = spec.get("ports") or []
    if not ports:
        raise UsageError(f"Service {label} declares no port", fix="give the Service its ports")
    by_protocol: dict[str, list[int | str]] = {}
    for port in ports:
        protocol = str(port.get("protocol") or "TCP")
        if protocol not in PROTOCOLS:
            raise UsageError(
                f"Service {label}: protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}",
                fix="check the Service's ports",
            )
        target = _target_port(label, port)
        if target not in by_protocol.setdefault(protocol, []):
            by_protocol[protocol].append(target)
    terms = [f'projectcalico.org/namespace == "{namespace}"']
    terms += [_label(label, key, value) for key, value in sorted(selector.items())]
    assert EXPOSE_ORDER < EXTERNAL_ORDER
    return {
        "apiVersion": CALICO_API,
        "kind": "GlobalNetworkPolicy",
        "metadata": {
            "name": policy_name(namespace, name),
            "labels": dict(zip(SERVICE_LABELS, (namespace, name), strict=True)),
        },
        "spec": {
            "tier": TIER,
            "order": EXPOSE_ORDER,
            "selector": " && ".join(terms),
            "types": ["Ingress"],
            "ingress": [
                {"action": "Pass", "protocol": protocol, "destination": {"ports": targets}}
                for protocol, targets in by_protocol.items()
            ],
        },
    }


def policy_yaml(policy: Mapping[str, Any]) -> str:
    """The policy as a YAML document (what `kube6 expose --dry-run` prints)."""
    return yamlio.dump(dict(policy))
