"""What every renderer shares: the Artifact type, the file header and the placeholders."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kube6 import __version__
from kube6.errors import Kube6Error
from kube6.plan.model import Plan, PlannedNode

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


@dataclass(frozen=True)
class Artifact:
    """One rendered file.

    `path` is relative to the render folder: `cluster/...` for cluster-wide manifests and Helm
    values, `nodes/<node>/<absolute host path>` for files that `up` installs on a node (the path
    after the node name is where the file goes on the host).
    """

    path: str
    content: str
    mode: int = PUBLIC_MODE
    description: str = ""
    secret: bool = False
    """The content itself is a secret (a filled join token, a kubeconfig): `render` leaves it
    out unless --include-secrets. A file that only *will* hold one once `up` fills its markers
    has mode 0600 but is not secret as rendered, so people can review it."""


Renderer = Callable[[Plan], Iterable[Artifact]]


def header(plan: Plan, what: str, comment: str = "#") -> str:
    """The first lines of every file: who wrote it, from which plan, and what it is."""
    lines = [
        f"Written by kube6 {__version__} from plan {plan.digest} ({plan.source}, "
        f"cluster {plan.cluster_name}).",
        f"{what}",
        "Do not edit: change kube6.yaml and run `kube6 render` again.",
    ]
    return "".join(f"{comment} {line}\n" for line in lines)


def node_path(node: PlannedNode, host_path: str) -> str:
    """Render-folder path of a file that goes to `host_path` on `node`."""
    return f"nodes/{node.name}{host_path}"


@dataclass(frozen=True)
class NodeFile:
    """A file that a component renders for a node and its `up` step installs at `path` on the
    host: the one declaration that the renderer (`at`) and the step (`steps.files.rendered`)
    share, so the two cannot name different files."""

    path: str
    """Where the file goes on the host (`/etc/ndppd.conf`)."""

    def at(self, node: PlannedNode) -> str:
        """Its render-folder path for `node` (`nodes/node0001/etc/ndppd.conf`)."""
        return node_path(node, self.path)


def cluster_path(relative: str) -> str:
    return f"cluster/{relative}"


# Values known only when `up` runs. Renderers write these markers; `up` substitutes them on the
# host, and dry runs print them as they are, so no secret appears before it exists.
JOIN_TOKEN = "${KUBE6_JOIN_TOKEN}"
CA_CERT_HASH = "${KUBE6_CA_CERT_HASH}"
CERTIFICATE_KEY = "${KUBE6_CERTIFICATE_KEY}"
PLACEHOLDERS = (JOIN_TOKEN, CA_CERT_HASH, CERTIFICATE_KEY)


class PlaceholderError(Kube6Error):
    """A value for a rendered placeholder is missing or has the wrong shape."""


_HEX64 = re.compile(r"[0-9a-f]{64}")
_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    JOIN_TOKEN: (
        re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}"),
        "a bootstrap token: 6 and 16 characters of [a-z0-9] joined by a dot, as printed by "
        "`kubeadm token generate`",
    ),
    CA_CERT_HASH: (
        _HEX64,
        "64 lowercase hex digits: the SHA-256 of the cluster CA's public key (the part after "
        "`sha256:` in `kubeadm token create --print-join-command`)",
    ),
    CERTIFICATE_KEY: (
        _HEX64,
        "64 lowercase hex digits, as printed by `kubeadm certs certificate-key`",
    ),
}


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace the deploy-time markers in rendered `text` with real values.

    `values` maps markers (`render.base.JOIN_TOKEN`, `CA_CERT_HASH`, `CERTIFICATE_KEY`) to
    values. Every marker that occurs in `text` must be given and every value must have the
    shape kubeadm accepts; values are never quoted in errors, because they are secrets.

    The runner fills the files it writes with them, the join step its JoinConfiguration.
    Example: `fill_placeholders(join_yaml, {JOIN_TOKEN: "abcdef.0123456789abcdef",
    CA_CERT_HASH: "<64 hex>"})`.
    """
    unknown = sorted(set(values) - set(_FORMATS))
    if unknown:
        raise PlaceholderError(
            f"unknown placeholder(s) {', '.join(unknown)}",
            fix=f"use the markers of kube6.render.base: {', '.join(PLACEHOLDERS)}",
        )
    missing = [m for m in PLACEHOLDERS if m in text and m not in values]
    if missing:
        raise PlaceholderError(
            f"the text still needs a value for {', '.join(missing)}",
            fix="pass a value for every marker that occurs in the rendered file",
        )
    for marker, given in values.items():
        value = given.removeprefix("sha256:") if marker == CA_CERT_HASH else given
        pattern, shape = _FORMATS[marker]
        if not pattern.fullmatch(value):
            raise PlaceholderError(
                f"the value for {marker} ({len(value)} characters) is not {shape}",
                fix="pass the value exactly as kubeadm prints it",
            )
        text = text.replace(marker, value)
    return text
