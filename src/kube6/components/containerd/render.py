"""containerd 2.x configuration (`/etc/containerd/config.toml`, config version 3).

The TOML is written by hand (no TOML writer dependency): every table and value is fixed here,
strings go through `_toml_string`, and a test parses the result with `tomllib`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from kube6 import versions
from kube6.plan.model import Plan
from kube6.render.base import Artifact, NodeFile, header, node_path
from kube6.spec import RegistryMirror

CONFIG = NodeFile("/etc/containerd/config.toml")
CONFIG_PATH = CONFIG.path
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
    registry_files = list(registry_configs(plan))
    for node in plan.nodes:
        yield Artifact(
            path=CONFIG.at(node),
            content=content,
            description="containerd 2.x configuration (version 3, systemd cgroups)",
        )
        for host_path, text, description in registry_files:
            yield Artifact(path=node_path(node, host_path), content=text, description=description)


def list_registry_files(plan: Plan) -> list[str]:
    """The host paths of the registry mirror files of `plan` (the same on every node)."""
    return [path for path, _, _ in registry_configs(plan)]


def registry_dir(registry: str) -> str:
    return f"{REGISTRY_CONFIG_PATH}/{registry}"


def _upstream_server(registry: str) -> str:
    # containerd's own default for Docker Hub (remotes/docker/config): docker.io is not a host.
    return "https://registry-1.docker.io" if registry == "docker.io" else f"https://{registry}"


def _ca_path(registry: str, pem: str) -> str:
    return f"{registry_dir(registry)}/{hashlib.sha256(pem.encode()).hexdigest()[:16]}.crt"


def registry_configs(plan: Plan) -> Iterator[tuple[str, str, str]]:
    """(host path, text, description) of each mirrored registry's hosts.toml and CA files."""
    for mirror in plan.mirrors.registries:
        for endpoint in mirror.endpoints:
            if endpoint.ca is not None:
                yield (
                    _ca_path(mirror.registry, endpoint.ca),
                    endpoint.ca,
                    f"CA of the {mirror.registry} mirror {endpoint.url}",
                )
        yield (
            f"{registry_dir(mirror.registry)}/hosts.toml",
            header(plan, f"containerd registry hosts of {mirror.registry} (mirrors).")
            + hosts_toml(mirror),
            f"containerd hosts.toml: {mirror.registry} pulled through its mirrors",
        )


def hosts_toml(mirror: RegistryMirror) -> str:
    """containerd's hosts.toml for one upstream registry (docs/hosts.md of containerd 2.x).

    Mirrors are tried in order for pulls; with `fallback` the upstream registry comes last
    (containerd's default server), without it the first mirror takes the server's place too,
    so nothing is ever asked of the upstream registry.
    """
    first = mirror.endpoints[0]
    server = _upstream_server(mirror.registry) if mirror.fallback else first.url
    lines = [f"server = {_toml_string(server)}", ""]
    for endpoint in mirror.endpoints:
        lines.append(f"[host.{_toml_string(endpoint.url)}]")
        lines.append('  capabilities = ["pull", "resolve"]')
        if endpoint.ca is not None:
            lines.append(f"  ca = {_toml_string(_ca_path(mirror.registry, endpoint.ca))}")
        if endpoint.override_path:
            lines.append("  override_path = true")
        lines.append("")
    return "\n".join(lines)


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
        *(_restrict_oom(plan)),
        f"[{_RUNTIME}.containerd.runtimes.runc]",
        f"  runtime_type = {_toml_string('io.containerd.runc.v2')}",
        "",
        # kubelet uses the systemd cgroup driver (and asks the runtime for it); both must agree.
        f"[{_RUNTIME}.containerd.runtimes.runc.options]",
        "  SystemdCgroup = true",
    ]
    return header(plan, what) + "\n".join(lines) + "\n"


def _restrict_oom(plan: Plan) -> list[str]:
    if not plan.host.restrict_oom_score_adj:
        return []
    return [
        # kube6.yaml host.restrict_oom_score_adj: the runtime lacks CAP_SYS_RESOURCE (e.g. an
        # unprivileged container host), so pods get an oom_score_adj no lower than containerd's.
        f"[{_RUNTIME}]",
        "  restrict_oom_score_adj = true",
        "",
    ]


def _toml_string(value: str) -> str:
    """A TOML basic string. JSON string escapes are a subset of TOML's for printable ASCII."""
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{value!r} is not printable ASCII; containerd values here are paths")
    return json.dumps(value)
