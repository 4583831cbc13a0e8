"""kubeadm configs: `init.yaml` for the first control-plane node, `join.yaml` for every other node.

Both use `kubeadm.k8s.io/v1beta4` (the only kubeadm config API that 1.37 reads), with extraArgs
as name/value lists. Values that exist only once the cluster runs (join token, CA hash,
certificate key) are written as the markers of `render.base`; `up` fills them with
`fill_placeholders` right before it copies the file to the host.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kube6 import disk_pressure, yamlio
from kube6.plan.model import API_PORT, Plan, PlannedNode
from kube6.render.base import (
    CA_CERT_HASH,
    CERTIFICATE_KEY,
    JOIN_TOKEN,
    PLACEHOLDERS,
    PUBLIC_MODE,
    SECRET_MODE,
    Artifact,
    NodeFile,
    header,
)

KUBEADM_API = "kubeadm.k8s.io/v1beta4"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBE_PROXY_API = "kubeproxy.config.k8s.io/v1alpha1"
CRI_SOCKET = "unix:///run/containerd/containerd.sock"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
INIT = NodeFile("/etc/kubernetes/kubeadm/init.yaml")
JOIN = NodeFile("/etc/kubernetes/kubeadm/join.yaml")
INIT_PATH, JOIN_PATH = INIT.path, JOIN.path
ETCD_DATA_DIR = "/var/lib/etcd"
KUBE_PROXY_MODE = "nftables"
"""GA since Kubernetes 1.33; iptables is still the default, ipvs is deprecated since 1.35."""
CALICO_INTERFACE_PREFIX = "cali"
"""Calico names every pod's host-side veth `cali<hash>`."""
BOOTSTRAP_TOKEN_TTL = "24h0m0s"  # noqa: S105 - a duration, not a secret
BOOTSTRAP_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"  # noqa: S105

_INIT_NOTES = (
    "etcd: kubeadm derives --name and --initial-cluster from nodeRegistration.name and the",
    "listen URLs from localAPIEndpoint.advertiseAddress (the node address and ::1). kube6 sets",
    "none of them in etcd.local.extraArgs: ClusterConfiguration is shared by every control-plane",
    "node, so a name or address there would be wrong on all but one of them.",
)
_JOIN_NOTES = (
    "The ${KUBE6_...} markers are filled by `kube6 up` on the host. Discovery is pinned to the",
    "SHA-256 of the cluster CA's public key: the node trusts no other API server.",
)


def render(plan: Plan) -> Iterator[Artifact]:
    """`init.yaml` for the first control-plane node and `join.yaml` for every other node.

    Example: for the built-in example, one artifact
    `nodes/node0001/etc/kubernetes/kubeadm/init.yaml`.
    """
    first = plan.first_control_plane
    for node in plan.nodes:
        if node.name == first.name:
            yield _init_artifact(plan, node)
        else:
            yield _join_artifact(plan, node)


def init_documents(plan: Plan) -> list[dict[str, Any]]:
    """InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration."""
    node = plan.first_control_plane
    init: dict[str, Any] = {"apiVersion": KUBEADM_API, "kind": "InitConfiguration"}
    if len(plan.nodes) > 1:
        # The token other nodes join with is chosen by `up` before init, so that every join.yaml
        # can be filled as soon as the CA exists.
        init["bootstrapTokens"] = [
            {
                "token": JOIN_TOKEN,
                "description": f"kube6: nodes joining cluster {plan.cluster_name}",
                "ttl": BOOTSTRAP_TOKEN_TTL,
                "usages": ["signing", "authentication"],
                "groups": [BOOTSTRAP_TOKEN_GROUP],
            }
        ]
    if len(plan.control_plane_nodes) > 1:
        # `kubeadm init --upload-certs` encrypts the control-plane certificates with this key.
        init["certificateKey"] = CERTIFICATE_KEY
    init["localAPIEndpoint"] = _api_endpoint(node)
    init["nodeRegistration"] = _node_registration(plan, node)
    return [init, _cluster_configuration(plan), _kubelet_configuration(plan), _kube_proxy(plan)]


def join_document(plan: Plan, node: PlannedNode) -> dict[str, Any]:
    """JoinConfiguration of `node`: CA-pinned token discovery, plus controlPlane for masters."""
    join: dict[str, Any] = {
        "apiVersion": KUBEADM_API,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": api_server_endpoint(plan),
                "token": JOIN_TOKEN,
                "caCertHashes": [f"sha256:{CA_CERT_HASH}"],
            }
        },
        "nodeRegistration": _node_registration(plan, node),
    }
    if node.is_control_plane:
        join["controlPlane"] = {
            "localAPIEndpoint": _api_endpoint(node),
            "certificateKey": CERTIFICATE_KEY,
        }
    return join


def api_server_endpoint(plan: Plan) -> str:
    """The control-plane endpoint as `host:port` (kubeadm's discovery requires the port)."""
    endpoint = plan.control_plane_endpoint
    if endpoint.startswith("["):
        return endpoint if "]:" in endpoint else f"{endpoint}:{API_PORT}"
    if ":" in endpoint:
        # A bare IPv6 literal (no brackets) or `name:port`.
        if endpoint.count(":") > 1:
            return f"[{endpoint}]:{API_PORT}"
        return endpoint
    return f"{endpoint}:{API_PORT}"


def _init_artifact(plan: Plan, node: PlannedNode) -> Artifact:
    what = f"kubeadm init configuration of {node.name} (kubeadm init --config {INIT_PATH})."
    documents = yamlio.dump_all(init_documents(plan))
    # kubeadm splits on `---` and refuses the comment-only "document" that a leading separator
    # after the header would create; separators between documents stay.
    documents = documents.removeprefix("---\n")
    content = header(plan, what) + _notes(_INIT_NOTES) + documents
    # With a bootstrap token inside, the filled file is a secret.
    secret = any(marker in content for marker in PLACEHOLDERS)
    return Artifact(
        path=INIT.at(node),
        content=content,
        mode=SECRET_MODE if secret else PUBLIC_MODE,
        description=what,
    )


def _join_artifact(plan: Plan, node: PlannedNode) -> Artifact:
    role = "control-plane node" if node.is_control_plane else "worker"
    what = f"kubeadm join configuration of {role} {node.name} (kubeadm join --config {JOIN_PATH})."
    content = header(plan, what) + _notes(_JOIN_NOTES) + yamlio.dump(join_document(plan, node))
    return Artifact(path=JOIN.at(node), content=content, mode=SECRET_MODE, description=what)


def _notes(lines: tuple[str, ...]) -> str:
    return "#\n" + "".join(f"# {line}\n" for line in lines)


def _api_endpoint(node: PlannedNode) -> dict[str, Any]:
    return {"advertiseAddress": str(node.address), "bindPort": API_PORT}


def _node_registration(plan: Plan, node: PlannedNode) -> dict[str, Any]:
    kubelet_args = [{"name": "node-ip", "value": str(node.address)}]
    if node.labels:
        labels = ",".join(f"{key}={value}" for key, value in node.labels)
        kubelet_args.append({"name": "node-labels", "value": labels})
    # Taints are always explicit: a control-plane node that is also a worker gets none, so no
    # later "untaint" step is needed; a worker gets none either way.
    taints: list[dict[str, str]] = []
    if not node.is_worker:
        taints.append({"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"})
    registration: dict[str, Any] = {
        "name": node.name,
        "criSocket": CRI_SOCKET,
        "taints": taints,
        "kubeletExtraArgs": kubelet_args,
    }
    if plan.host.cgroup_v1:
        # kubeadm's SystemVerification refuses cgroup v1 even with the kubelet's failCgroupV1:
        # false ("You must also explicitly skip this validation"), in init and in join.
        registration["ignorePreflightErrors"] = ["SystemVerification"]
    return registration


def _cluster_configuration(plan: Plan) -> dict[str, Any]:
    sans: list[str] = []
    for address in [*(n.address for n in plan.control_plane_nodes), plan.api]:
        if str(address) not in sans:
            sans.append(str(address))
    if plan.allocate_node_cidrs:
        controller_args = [{"name": "node-cidr-mask-size-ipv6", "value": str(plan.node_mask)}]
    else:
        # Pools in several prefixes: no single cluster CIDR can be cut into node CIDRs, and
        # Calico IPAM ignores node.spec.podCIDR anyway.
        controller_args = [{"name": "allocate-node-cidrs", "value": "false"}]
    return {
        "apiVersion": KUBEADM_API,
        "kind": "ClusterConfiguration",
        "clusterName": plan.cluster_name,
        "kubernetesVersion": plan.kubernetes_version,
        "controlPlaneEndpoint": plan.control_plane_endpoint,
        "networking": {
            "podSubnet": str(plan.pods),
            "serviceSubnet": str(plan.services),
            "dnsDomain": plan.dns_domain,
        },
        "apiServer": {"certSANs": sans},
        "controllerManager": {"extraArgs": controller_args},
        "etcd": {"local": {"dataDir": ETCD_DATA_DIR}},
    }


def _kubelet_configuration(plan: Plan) -> dict[str, Any]:
    config: dict[str, Any] = {
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        "clusterDNS": [str(plan.dns)],
        "clusterDomain": plan.dns_domain,
        "maxPods": plan.max_pods,
        # The kubelets' serving certificates come from the cluster CA; join/serving-certs
        # approves each node's own request (kube6.components.kubeadm.serving).
        "serverTLSBootstrap": True,
        "failSwapOn": True,
    }
    if plan.host.cgroup_v1:
        # kube6.yaml host.cgroup_v1: kubelet refuses cgroup v1 hosts unless told otherwise.
        config["failCgroupV1"] = False
    return {**config, **disk_pressure.kubelet_settings(plan.host)}


def _kube_proxy(plan: Plan) -> dict[str, Any]:
    proxy: dict[str, Any] = {
        "apiVersion": KUBE_PROXY_API,
        "kind": "KubeProxyConfiguration",
        "mode": KUBE_PROXY_MODE,
        "clusterCIDR": str(plan.pods),
    }
    if not plan.allocate_node_cidrs:
        # The covering prefix of several pools also covers addresses that are not pods, so
        # "local traffic" is recognised by Calico's interface names instead.
        proxy["detectLocalMode"] = "InterfaceNamePrefix"
        proxy["detectLocal"] = {"interfaceNamePrefix": CALICO_INTERFACE_PREFIX}
    return proxy
