"""containerd 2.x configuration (`/etc/containerd/config.toml`, config version 3).

The TOML is written by hand (no TOML writer dependency): every table and value is fixed here,
strings go through `_toml_string`, and a test parses the result with `tomllib`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from kube6 import versions
from kube6.plan.model import Plan
from kube6.render.base import Artifact, header, node_path

CONFIG_PATH = "/etc/containerd/config.toml"
PAUSE_IMAGE = versions.PAUSE.version
"""The sandbox image that kubeadm v1.37.2 pulls (`PauseVersion` in
cmd/kubeadm/app/constants/constants.go of k8s.io/kubernetes v1.37.2; `kubeadm config images
list`). containerd must pin the same tag, or kubelet and kubeadm warn and pull two pause images.
Follows the Kubernetes pin in kube6.versions: update both together."""
REGISTRY_CONFIG_PATH = "/etc/containerd/certs.d"
SNAPSHOTTER = "overlayfs"

_IMAGES = "plugins.'io.containerd.cri.v1.images'"
_RUNTIME = "plugins.'io.containerd.cri.v1.runtime'"


def render(plan: Plan) -> Iterator[Artifact]:
    """The same config.toml for every node.

    Example: `nodes/node0001/etc/containerd/config.toml` for the built-in example.
    """
    content = config_toml(plan)
    for node in plan.nodes:
        yield Artifact(
            path=node_path(node, CONFIG_PATH),
            content=content,
            description="containerd 2.x configuration (version 3, systemd cgroups)",
        )


def config_toml(plan: Plan) -> str:
    """The text of config.toml."""
    what = f"containerd configuration (config version 3, for containerd 2.x) at {CONFIG_PATH}."
    lines = [
        "version = 3",
        "",
        f"[{_IMAGES}]",
        f"  snapshotter = {_toml_string(SNAPSHOTTER)}",
        "",
        # Pinned so that image garbage collection never removes it and every node uses the tag
        # kubeadm expects.
        f"[{_IMAGES}.pinned_images]",
        f"  sandbox = {_toml_string(PAUSE_IMAGE)}",
        "",
        # hosts.toml files under this folder configure mirrors per registry (for example a
        # pull-through mirror for IPv4-only registries such as ghcr.io).
        f"[{_IMAGES}.registry]",
        f"  config_path = {_toml_string(REGISTRY_CONFIG_PATH)}",
        "",
        f"[{_RUNTIME}.containerd.runtimes.runc]",
        f"  runtime_type = {_toml_string('io.containerd.runc.v2')}",
        "",
        # kubelet uses the systemd cgroup driver (and asks the runtime for it); both must agree.
        f"[{_RUNTIME}.containerd.runtimes.runc.options]",
        "  SystemdCgroup = true",
    ]
    return header(plan, what) + "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string. JSON string escapes are a subset of TOML's for printable ASCII."""
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{value!r} is not printable ASCII; containerd values here are paths")
    return json.dumps(value)
