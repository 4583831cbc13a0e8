"""kubectl on a control-plane host with the cluster admin's kubeconfig: what every cluster-wide
step (helm and manifest steps, the add-ons, verify) runs its commands with."""

from __future__ import annotations

from kube6.steps.base import HostContext

ADMIN_CONF = "/etc/kubernetes/admin.conf"
"""The cluster admin's kubeconfig, which `kubeadm init` writes on the first control plane."""


def kubectl(ctx: HostContext, *args: str) -> tuple[str, ...]:
    """kubectl on this host with the cluster admin's kubeconfig."""
    return ("kubectl", "--kubeconfig", ADMIN_CONF, *args)
