"""How much disk kubelet keeps free on a node, from `host.min_free_disk` or kubelet's defaults.

One home for the numbers that the KubeletConfiguration is rendered with and that `kube6 check`
judges a node's free space by: a node below them reports DiskPressure, takes the
`node.kubernetes.io/disk-pressure` taint, and no new pod is scheduled there, so `up` would
wait for Calico in vain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube6.facts.system import CONTAINERD_ROOT, KUBELET_ROOT
from kube6.spec import Host
from kube6.spec.fields import disk_bytes

SIGNALS = {"nodefs.available": KUBELET_ROOT, "imagefs.available": CONTAINERD_ROOT}
"""kubelet's disk space signals and the directory each one measures the filesystem of."""
DEFAULT_SHARES = {"nodefs.available": 0.10, "imagefs.available": 0.15}
"""kubelet's default hard eviction thresholds for disk space (its evictionHard defaults)."""
KEPT_DEFAULTS = {
    "memory.available": "100Mi",
    "nodefs.inodesFree": "5%",
    "imagefs.inodesFree": "5%",
}
"""kubelet's other evictionHard defaults, written out beside the disk amounts so that setting
some signals never leaves the rest to how a kubelet release merges a partial map."""
INSTALL_ROOM = 3 * 2**30
"""What `up` may add on a node that has no kubelet yet: packages and images (measured on the
e2e gateway cluster, 2026-12-06: 1.15 GiB on its control plane, 0.33 GiB of it packages; the
test asserts it stays below this), with room for apt's downloads, the dashboard and
cert-manager's images, and the pods' first logs."""


@dataclass(frozen=True)
class Threshold:
    """Where kubelet starts to reclaim disk space on one filesystem."""

    floor: int
    """Bytes: below this much free space the node is under DiskPressure."""
    source: str
    """Why that number: the setting, or kubelet's default share."""


def threshold(host: Host, signal: str, capacity: int) -> Threshold:
    """The DiskPressure floor of a filesystem of `capacity` bytes for `signal`."""
    if host.min_free_disk is not None:
        return Threshold(disk_bytes(host.min_free_disk), "host.min_free_disk")
    share = DEFAULT_SHARES[signal]
    return Threshold(int(capacity * share), f"{share:.0%} of the disk, kubelet's default {signal}")


def kubelet_settings(host: Host) -> dict[str, Any]:
    """KubeletConfiguration fields for `host.min_free_disk`; none when it is not set."""
    if host.min_free_disk is None:
        return {}
    amount = host.min_free_disk
    return {
        "evictionHard": {
            **KEPT_DEFAULTS,
            "nodefs.available": amount,
            "imagefs.available": amount,
        },
        # Image GC by share would delete unused images on a disk that is 85% full however
        # many gigabytes stay free; at 100 it is off, and the eviction manager still deletes
        # unused images first when free space falls below the amount.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
    }
