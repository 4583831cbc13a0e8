"""Getting a kubeconfig: a local one, or kubeadm's admin.conf read from the first control plane.

    client = client_for(find_kubeconfig(None))

With no kubeconfig on this machine, `read_admin_kubeconfig` reads kubeadm's admin.conf from the
first control-plane node through its executor, `node_kubeconfig` checks it (loopback servers
become the planned endpoint) and `private_kubeconfig` keeps it in a 0600 file for the run only.
The file holds the cluster admin's client key: no message here ever quotes its content.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from lightkube import Client, ConfigError, KubeConfig

from kube6.errors import CommandError, UsageError
from kube6.execute import MASK, ConnectError, Executor

ADMIN_KUBECONFIG = Path("/etc/kubernetes/admin.conf")
"""What kubeadm writes on the first control-plane node (and `kube6 up` uses)."""


def kubeconfig_candidates(env: Mapping[str, str], home: Path) -> list[Path]:
    """Where to look, in order: $KUBECONFIG (each entry), kubeadm's admin.conf, ~/.kube/config."""
    found = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [*found, ADMIN_KUBECONFIG, home / ".kube" / "config"]


def local_kubeconfig(
    explicit: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    readable: Callable[[Path], bool] = lambda p: os.access(p, os.R_OK),
) -> Path | None:
    """`explicit` (must be readable), else the first readable candidate, else None."""
    if explicit is not None:
        if not readable(explicit):
            raise UsageError(
                f"cannot read the kubeconfig {explicit}",
                fix="check the path and its permissions (kubeadm's admin.conf is root-only: "
                "run as root, or copy it to ~/.kube/config with mode 0600)",
            )
        return explicit
    candidates = kubeconfig_candidates(
        os.environ if env is None else env, Path.home() if home is None else home
    )
    return next((path for path in candidates if readable(path)), None)


def no_kubeconfig(
    why: str = "",
    fix: str = "",
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> UsageError:
    """The error for "no kubeconfig anywhere", naming every place looked at; `why` and `fix`
    add what the caller knows (e.g. that the first control-plane node has no SSH target)."""
    candidates = kubeconfig_candidates(
        os.environ if env is None else env, Path.home() if home is None else home
    )
    looked = ", ".join(str(p) for p in candidates)
    return UsageError(
        f"no kubeconfig found (looked at {looked}){why}",
        fix=fix
        or "pass --kubeconfig PATH; on the first control-plane node kubeadm wrote "
        f"{ADMIN_KUBECONFIG} (readable by root only)",
    )


def find_kubeconfig(
    explicit: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    readable: Callable[[Path], bool] = lambda p: os.access(p, os.R_OK),
) -> Path:
    """The kubeconfig to use: `explicit` (must be readable), else the first readable candidate."""
    found = local_kubeconfig(explicit, env=env, home=home, readable=readable)
    if found is None:
        raise no_kubeconfig(env=env, home=home)
    return found


class KubeconfigFetchError(UsageError):
    """admin.conf could not be read from a control-plane node, or is not a kubeconfig."""


# The user fields of a kubeconfig that are credentials (kubeadm's admin.conf has the first two).
_SECRET_FIELDS = ("client-key-data", "client-certificate-data", "token", "password")


async def read_admin_kubeconfig(executor: Executor, node: str) -> str:
    """The text of kubeadm's admin.conf on `node`, read through its executor (closed after).

    Raises KubeconfigFetchError with a fix when the node cannot be reached or the file is not
    there; never with the file's content.
    """
    path = str(ADMIN_KUBECONFIG)
    instead = "or pass --kubeconfig PATH with a copy of that file"
    try:
        text = await executor.get(path)
    except ConnectError as exc:
        raise KubeconfigFetchError(
            f"cannot read {path} on {node}: {exc.message}",
            fix=f"{exc.fix}; {instead}" if exc.fix else instead,
        ) from None
    except CommandError as exc:
        # `get` puts only the reader's stderr in the error (cat's "Permission denied" and the
        # like), never what it read.
        said = exc.stderr.strip() or f"exit code {exc.exit_code}"
        raise KubeconfigFetchError(
            f"cannot read {path} on {node}: {said}",
            fix="log in as root or as a user that may run `sudo -n` (ssh: in kube6.yaml); "
            + instead,
        ) from None
    finally:
        await executor.close()
    if text is None:
        raise KubeconfigFetchError(
            f"{path} does not exist on {node}: the cluster has not been created there",
            fix=f"run `kube6 up` first (kubeadm init writes it), {instead}",
        )
    return text


@dataclass(frozen=True)
class NodeKubeconfig:
    """admin.conf as read from a node: its content, where it came from, and what to hide."""

    data: dict[str, Any] = field(repr=False)
    origin: str
    """Where it came from, for messages: `/etc/kubernetes/admin.conf on node0001`."""
    server: str
    """The API server of its current context (after `node_kubeconfig` replaced a loopback)."""
    replaced: str | None
    """The loopback server that `server` replaced, if any."""
    secrets: tuple[str, ...] = field(repr=False)

    def mask(self, text: str) -> str:
        """`text` with every credential of this kubeconfig replaced by `***`."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def is_loopback_server(server: str) -> bool:
    """Whether `server` (a URL) names this machine: reachable on the node, not from here."""
    host = urlsplit(server).hostname
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def node_kubeconfig(text: str, *, endpoint: str, origin: str) -> NodeKubeconfig:
    """Check that `text` is a kubeconfig and point loopback servers at `endpoint` (host:port).

    kube6 renders controlPlaneEndpoint, so kubeadm writes the planned endpoint as `server:`; a
    file written otherwise may name https://[::1]:6443, which only works on the node itself.
    Errors name the line but never quote the content: it holds the admin's private key.
    """
    not_kubeconfig = "its content is not shown: it holds the cluster admin's credentials"
    fix = (
        "look at the file on the node (`sudo kubeadm kubeconfig user` or `kubeadm init phase "
        "kubeconfig admin` write a new one), or pass --kubeconfig PATH"
    )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise KubeconfigFetchError(
            f"{origin} is not valid YAML{line} ({not_kubeconfig})", fix=fix
        ) from None
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, list) or not clusters:
        raise KubeconfigFetchError(
            f"{origin} is not a kubeconfig: it has no clusters ({not_kubeconfig})", fix=fix
        )
    replaced: dict[str, str] = {}
    for entry in clusters:
        cluster = entry.get("cluster") if isinstance(entry, dict) else None
        server = cluster.get("server") if isinstance(cluster, dict) else None
        if not isinstance(cluster, dict) or not isinstance(server, str):
            raise KubeconfigFetchError(
                f"{origin} is not a kubeconfig: a cluster has no server ({not_kubeconfig})",
                fix=fix,
            )
        if is_loopback_server(server):
            cluster["server"] = f"https://{endpoint}"
            replaced[cluster["server"]] = server
    current = _current_server(data, clusters)
    return NodeKubeconfig(
        data=data,
        origin=origin,
        server=current,
        replaced=replaced.get(current),
        secrets=_secrets(data),
    )


def _current_server(data: dict[str, Any], clusters: list[dict[str, Any]]) -> str:
    contexts = data.get("contexts")
    by_name = {c.get("name"): c.get("context") for c in contexts or () if isinstance(c, dict)}
    context = by_name.get(data.get("current-context"))
    name = context.get("cluster") if isinstance(context, dict) else None
    for entry in clusters:
        if entry.get("name") == name:
            return str(entry["cluster"]["server"])
    return str(clusters[0]["cluster"]["server"])


def _secrets(data: dict[str, Any]) -> tuple[str, ...]:
    found: set[str] = set()
    for entry in data.get("users") or ():
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for key in _SECRET_FIELDS:
            value = user.get(key)
            if isinstance(value, str) and value:
                found.add(value)
                found.update(_decoded(value) if key.endswith("-data") else ())
    # Longest first, so that a secret containing another is masked whole.
    return tuple(sorted(found, key=len, reverse=True))


def _decoded(value: str) -> tuple[str, ...]:
    """The PEM text inside a `*-data` field and its base64 body lines, masked as well."""
    try:
        pem = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return (pem, *body)


@contextmanager
def private_kubeconfig(kubeconfig: NodeKubeconfig) -> Iterator[Path]:
    """`kubeconfig` in a file only this user can read (0600 in a 0700 folder), for the block.

    The file goes when the block ends, by return, error, Ctrl-C, or (in the main thread)
    SIGTERM or SIGHUP, which become a normal exit here so that the cleanup runs.
    """
    folder = Path(tempfile.mkdtemp(prefix="kube6-kubeconfig-"))
    restore: dict[signal.Signals, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for caught in (signal.SIGTERM, signal.SIGHUP):
                restore[caught] = signal.signal(caught, _exit_on_signal)
        path = folder / "config"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(kubeconfig.data, out)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for caught, handler in restore.items():
            signal.signal(caught, handler if handler is not None else signal.SIG_DFL)


def _exit_on_signal(number: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + number)


def client_for(path: Path, *, transport: httpx.BaseTransport | None = None) -> Client:
    """A lightkube client from the kubeconfig at `path` (its current context)."""
    try:
        config = KubeConfig.from_file(path)
        # trust_env=False: an HTTP(S)_PROXY meant for the internet must not carry API traffic.
        # The client loads the certificates now: a broken one is an ssl.SSLError (an OSError).
        return Client(config=config, trust_env=False, field_manager="kube6", transport=transport)
    except (ConfigError, OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(
            f"cannot use the kubeconfig {path}: {exc}",
            fix="point --kubeconfig at the file that `kubeadm init` wrote "
            f"({ADMIN_KUBECONFIG}) or a copy of it",
        ) from None
