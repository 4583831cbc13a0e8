"""kube6.yaml -> ClusterSpec: strict, frozen models; every field documented for `kube6 schema`.

Unknown keys are errors that name the path and the nearest valid key. Values that later end up in
commands, files or firewall rules are validated here so that no spec value can inject a shell
word, a YAML key or an nftables statement.

Longer than 400 lines: one model per section of kube6.yaml, each field with the docstring that
`kube6 schema` and the docs show, and the error wording that turns pydantic's into the user's.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from enum import StrEnum
from ipaddress import IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kube6 import net
from kube6.errors import SpecError
from kube6.modes import RoutingMode
from kube6.spec.addons import Addons
from kube6.spec.fields import DISK_SIZE, Address, Bool, Int, Str, disk_size, shorten
from kube6.spec.fields import StrictModel as _Strict
from kube6.spec.fields import as_text as _text
from kube6.spec.fields import pattern as _pattern
from kube6.versions import KUBERNETES_MINOR, SUPPORTED_MINORS

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
INTERFACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$")
SSH_TARGET = re.compile(
    r"^(?:(?P<user>[a-z_][a-z0-9_-]{0,31})@)?"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]{0,252})))"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)
DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")


def _network(value: object) -> IPv6Network:
    if isinstance(value, IPv6Network):
        return value
    return net.parse_network(_text(value, "an IPv6 prefix"))


def _source_network(value: object) -> IPv6Network:
    if isinstance(value, IPv6Network):
        return value
    return net.parse_network(_text(value, "an IPv6 prefix"), any_scope=True)


NAT64_LENGTHS = (32, 40, 48, 56, 64, 96)  # RFC 6052 section 2.2
NAT64_SPECIAL = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))  # RFC 6052, 8215


def _nat64_network(value: object) -> IPv6Network:
    if isinstance(value, IPv6Network):
        network = value
    else:
        network = net.parse_network(_text(value, "an IPv6 prefix"), any_scope=True)
    if network.prefixlen not in NAT64_LENGTHS:
        raise ValueError(
            f"'{network}' is not a NAT64 prefix: RFC 6052 allows the lengths "
            f"{', '.join(f'/{n}' for n in NAT64_LENGTHS)} (usually /96, e.g. 64:ff9b::/96)"
        )
    if not any(network.subnet_of(special) for special in NAT64_SPECIAL):
        kind = net.describe_kind(network.network_address)
        if kind is not None:
            raise ValueError(
                f"'{network}' is {kind.replace('address', 'prefix')}; a NAT64 "
                "prefix is 64:ff9b::/96, 64:ff9b:1::/48 or one of your global prefixes"
            )
    return network


Prefix = Annotated[
    IPv6Network,
    BeforeValidator(_network),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["2001:db8:1234:5678::/64"]}),
]
SourcePrefix = Annotated[
    IPv6Network,
    BeforeValidator(_source_network),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["::/0", "2001:db8:ffff::/48"]}),
]
Nat64Prefix = Annotated[
    IPv6Network,
    BeforeValidator(_nat64_network),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["64:ff9b::/96"]}),
]
DnsLabel = Annotated[
    str,
    BeforeValidator(_pattern(DNS1123_LABEL, "a DNS-1123 label", "node0001")),
    WithJsonSchema({"type": "string", "pattern": DNS1123_LABEL.pattern, "maxLength": 63}),
]


class Role(StrEnum):
    CONTROL_PLANE = "control-plane"
    WORKER = "worker"


class HasRoles:
    """`is_control_plane` and `is_worker` of a node in the spec and of a planned node."""

    if TYPE_CHECKING:
        roles: tuple[Role, ...]

    @property
    def is_control_plane(self) -> bool:
        return Role.CONTROL_PLANE in self.roles

    @property
    def is_worker(self) -> bool:
        return Role.WORKER in self.roles


class Cluster(_Strict):
    name: DnsLabel = "kube001"
    """Cluster name: a DNS-1123 label, used in kubeconfig contexts and file headers."""
    kubernetes: Str = Field(
        default=KUBERNETES_MINOR,
        json_schema_extra={"enum": list(SUPPORTED_MINORS), "examples": [KUBERNETES_MINOR]},
    )
    """Kubernetes minor version, quoted ("1.37"): one of the minors kube6 supports; kube6 installs
    its pinned patch release of that minor."""
    dns_domain: Str = Field(default="cluster.local", pattern=DOMAIN.pattern, max_length=253)
    """Cluster DNS domain (kubeadm networking.dnsDomain)."""
    control_plane_endpoint: Str | None = Field(
        default=None, pattern=r"^([a-z0-9.-]{1,253}|\[[0-9a-fA-F:]+\])(:[0-9]{1,5})?$"
    )
    """API endpoint that nodes and users reach: a DNS name or `[address]`, optional `:port`.
    Default: the first control-plane node, `[address]:6443`. Use a DNS name for several
    control-plane nodes."""

    @field_validator("kubernetes")
    @classmethod
    def _kubernetes(cls, value: str) -> str:
        if value not in SUPPORTED_MINORS:
            raise ValueError(
                f"Kubernetes {shorten(value)} is not a minor kube6 supports; write one of "
                f"{', '.join(repr(m) for m in SUPPORTED_MINORS)} (quoted, e.g. "
                f'kubernetes: "{KUBERNETES_MINOR}")'
            )
        return value


class Node(_Strict, HasRoles):
    name: DnsLabel
    """Node name (DNS-1123 label); the same name is used by kubeadm, kubelet, etcd and Calico."""
    address: Address
    """The node's stable global IPv6 address (not a temporary/privacy address): kubelet node-ip,
    API advertise address, etcd peer address."""
    roles: tuple[Role, ...] = (Role.CONTROL_PLANE, Role.WORKER)
    """control-plane, worker, or both. Left out: the first node in `nodes` is control-plane
    and worker (a single node runs workloads too), every other node is a worker; `init`
    writes the same."""
    ssh: Str | None = None
    """How kube6 reaches the node: `user@host`, `user@2001:db8::1`, `user@[2001:db8::1]:22`.
    Omit to run locally."""
    prefix: Prefix | None = None
    """The node's own on-link prefix when it sits on another provider link than `prefix`;
    the node then gets its own pod pool inside it."""
    interface: Str | None = Field(default=None, pattern=INTERFACE_NAME.pattern)
    """Uplink interface (`ip -6 route show default`); `init` detects it. Default `eth0`."""

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if not roles:
            raise ValueError("a node needs at least one role: control-plane, worker or both")
        if len(set(roles)) != len(roles):
            raise ValueError(f"roles repeat a value: {[str(r) for r in roles]}")
        return roles

    @field_validator("ssh")
    @classmethod
    def _ssh(cls, target: str | None) -> str | None:
        if target is None:
            return None
        user, at, rest = target.rpartition("@")
        if not rest.startswith("[") and rest.count(":") > 1:
            # root@2001:db8::10, as ssh takes it: the whole part after @ is the address (a
            # port then needs the brackets).
            net.parse_address(rest)
            if at and not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", user):
                raise ValueError(f"{shorten(user)} in {shorten(target)} is not a user name")
            return target
        match = SSH_TARGET.match(target)
        if not match:
            raise ValueError(
                f"{target!r} is not an SSH target; write user@host, user@[2001:db8::1] or "
                "user@[2001:db8::1]:2222"
            )
        if match.group("v6"):
            net.parse_address(match.group("v6"))
        port = match.group("port")
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValueError(f"SSH port {port} in {target!r} is outside 1-65535")
        return target


def default_roles(index: int) -> tuple[str, ...]:
    """The roles of the node at `index` of `nodes` when it gives none: the first node is
    control-plane + worker, every other node a worker (spec and `init` share this rule)."""
    return ("control-plane", "worker") if index == 0 else ("worker",)


ROUTER_ID = re.compile(r"^(hash|([0-9]{1,3}\.){3}[0-9]{1,3})$")


class Bgp(_Strict):
    peer: Address
    """The provider's (or your) router to peer with over IPv6."""
    peer_as: Int = Field(ge=1, le=4294967295)
    """The router's AS number."""
    as_number: Int = Field(default=64512, ge=1, le=4294967295)
    """The cluster's AS number (Calico BGPConfiguration asNumber)."""
    router_id: Str = "hash"
    """BGP router ID: `hash` (Calico derives a unique ID per node, needed without IPv4) or a
    dotted-quad 32-bit identifier that is not 0.0.0.0."""
    password_file: Str | None = None
    """A file holding the TCP MD5 password (RFC 2385) that the router expects on its BGP
    sessions, for providers that require one (Vultr does). Read where kube6 runs, relative to
    kube6.yaml's folder; its one line, at most 80 bytes. The password never enters the plan or
    the rendered files: `up` keeps it in the Secret calico-system/kube6-bgp-password, `check`
    signs its handshake with it."""

    @field_validator("password_file")
    @classmethod
    def _password_file(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                "password_file is empty; give the path of a file that holds the password, "
                "or leave the field out for a router without one"
            )
        return value

    @field_validator("router_id")
    @classmethod
    def _router_id(cls, value: str) -> str:
        if not ROUTER_ID.match(value):
            raise ValueError(
                f"router_id {value!r} is not a BGP identifier; use 'hash' or a dotted quad "
                "such as 192.0.2.1"
            )
        if value != "hash":
            octets = [int(o) for o in value.split(".")]
            if any(o > 255 for o in octets) or octets == [0, 0, 0, 0]:
                raise ValueError(
                    f"router_id {value!r} is not a valid BGP identifier (RFC 6286: a non-zero "
                    "32-bit value, octets 0-255); use 'hash'"
                )
        return value


class Network(_Strict):
    """Overrides of planned values; leave a field out to let `kube6 plan` choose it."""

    pods: Prefix | None = None
    """Pod range (kubeadm podSubnet and the Calico pool). Default: `P:8:2::/104` in a /64."""
    services: Prefix | None = None
    """Service range (kubeadm serviceSubnet, /108 or longer). Default: `P:8:3::/112`."""
    node_mask: Int | None = Field(default=None, ge=64, le=128)
    """Per-node pod CIDR length (controller-manager node-cidr-mask-size-ipv6)."""
    block_size: Int | None = Field(default=None, ge=0, le=128)
    """Calico IPv6 block size (116-128)."""
    dns: Address | None = None
    """Cluster DNS address; default and usual: the 10th address of the service range."""
    max_pods: Int | None = Field(default=None, ge=1, le=65536)
    """kubelet maxPods. Default: 110, or fewer when blocks are small."""
    nat_outgoing: Bool | None = None
    """Masquerade pod traffic leaving the cluster. Default: off for global pods, on for ULA."""
    mtu: Int | None = Field(default=None, ge=1280, le=65535)
    """Pod interface MTU; default: Calico detects it (no encapsulation, so the uplink's)."""
    load_balancers: Prefix | None = None
    """LoadBalancer range: the addresses Calico gives `type: LoadBalancer` Services (an IP pool
    with allowedUses LoadBalancer). Default: `P:8:4::/120` in a /64 (256 addresses)."""
    load_balancer_size: Int | None = Field(default=None, ge=64, le=128)
    """Prefix length of the planned LoadBalancer range when `load_balancers` is not set
    (112-128; default 120: 256 addresses)."""


class Dns(_Strict):
    resolvers: tuple[Address, ...] = ()
    """IPv6 resolvers that CoreDNS forwards to. Empty: the node's /etc/resolv.conf."""
    nat64_prefix: Nat64Prefix | None = None
    """The NAT64 prefix that reaches IPv4 (RFC 6052), e.g. 64:ff9b::/96; `init` discovers it."""
    dns64: Literal["resolvers", "coredns", "off"] | None = None
    """Who synthesizes AAAA records for IPv4-only names: the resolvers already do (`resolvers`),
    CoreDNS's dns64 plugin (`coredns`, needs nat64_prefix), or nobody (`off`). Default:
    `resolvers` when nat64_prefix is set, else `off`."""

    @model_validator(mode="after")
    def _dns64_needs_prefix(self) -> Dns:
        if self.dns64 == "coredns" and self.nat64_prefix is None:
            raise ValueError("dns64: coredns needs nat64_prefix (the prefix your NAT64 serves)")
        return self


class Firewall(_Strict):
    enabled: Bool = True
    """Install kube6's host firewall (an nftables table of its own)."""
    api_sources: tuple[SourcePrefix, ...] = (IPv6Network("::/0"),)
    """Prefixes allowed to reach the API server (6443). Default: everywhere (plan warns)."""
    ssh_port: Int = Field(default=22, ge=1, le=65535)
    """SSH port that stays open."""
    ssh_sources: tuple[SourcePrefix, ...] = (IPv6Network("::/0"),)
    """Prefixes allowed to reach SSH."""


_URL_CHAR = r"""[^\s"'`$\\]"""
"""No space, quote, backquote, dollar or backslash: URLs end up in files and argv."""
URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?"
    rf"(/{_URL_CHAR}*)?$"
)
REGISTRY_HOST = re.compile(
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(:[0-9]{1,5})?$"
)
CHART_SOURCE = rf"^(https?|oci)://{_URL_CHAR}+$"
PEM_CERTIFICATE = re.compile(
    r"^(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?)+$"
)
PGP_KEY = re.compile(
    r"^-----BEGIN PGP PUBLIC KEY BLOCK-----\n[A-Za-z0-9+/=:\n .()-]+"
    r"-----END PGP PUBLIC KEY BLOCK-----\n?$"
)


def _url(value: object) -> str:
    text = _text(value, "a URL")
    match = URL.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not an http(s) URL without spaces or quotes "
            "(for example 'http://[2001:db8:ffff::10]:8080/apt/kubernetes/')"
        )
    if match.group("host").startswith("["):
        net.parse_address(match.group("host")[1:-1])
    return text


def _pem(value: object) -> str:
    text = _text(value, "PEM certificates").strip() + "\n"
    if not PEM_CERTIFICATE.match(text):
        raise ValueError(
            "is not PEM text: paste one or more '-----BEGIN CERTIFICATE-----' blocks "
            "(for example with `ca: |` and the file's lines indented below it)"
        )
    return text


def _pgp(value: object) -> str:
    text = _text(value, "an ASCII-armoured key").strip() + "\n"
    if not PGP_KEY.match(text):
        raise ValueError(
            "is not an ASCII-armoured OpenPGP public key: paste the '-----BEGIN PGP PUBLIC KEY "
            "BLOCK-----' text (`gpg --armor --export KEYID`)"
        )
    return text


Url = Annotated[
    str,
    BeforeValidator(_url),
    WithJsonSchema({"type": "string", "examples": ["http://[2001:db8:ffff::10]:5000"]}),
]
CaBundle = Annotated[
    str,
    BeforeValidator(_pem),
    WithJsonSchema({"type": "string", "description": "PEM certificates (one or more)"}),
]
PgpKey = Annotated[
    str,
    BeforeValidator(_pgp),
    WithJsonSchema({"type": "string", "description": "ASCII-armoured OpenPGP public key"}),
]
DiskSize = Annotated[
    str,
    BeforeValidator(disk_size),
    WithJsonSchema({"type": "string", "pattern": DISK_SIZE.pattern, "examples": ["10Gi"]}),
]
RegistryHost = Annotated[
    str,
    BeforeValidator(_pattern(REGISTRY_HOST, "a registry host name", "registry.k8s.io")),
    WithJsonSchema({"type": "string", "pattern": REGISTRY_HOST.pattern}),
]


class RegistryEndpoint(_Strict):
    url: Url
    """The mirror, `http(s)://host[:port]`; it serves the registry API (`/v2/...`) with the
    same repository names as the upstream registry (a pull-through cache or a copy)."""
    ca: CaBundle | None = None
    """PEM CA certificate(s) that signed an https mirror's certificate (private CA)."""
    override_path: Bool = False
    """The URL's path replaces `/v2` (containerd's override_path, e.g. Harbor proxy projects)."""


class RegistryMirror(_Strict):
    registry: RegistryHost
    """The upstream registry whose images are pulled through the mirrors: `registry.k8s.io`,
    `docker.io`, `quay.io`, `ghcr.io`... Image references stay the upstream ones."""
    endpoints: tuple[RegistryEndpoint, ...] = Field(min_length=1)
    """Mirrors tried in order (containerd hosts.toml)."""
    fallback: Bool = True
    """Fall back to the upstream registry when no mirror answers; false for air-gapped sites."""


class AptMirror(_Strict):
    url: Url
    """The repository in place of the upstream one, with the same layout (for Kubernetes the
    flat `.../core:/stable:/v1.37/deb/` one; for Docker `.../linux/debian` with dists/)."""
    key_url: Url | None = None
    """Where its signing key is fetched (ASCII-armoured). Give this or `key`."""
    key: PgpKey | None = None
    """The signing key itself, ASCII-armoured (`gpg --armor --export`); nothing is fetched."""

    @model_validator(mode="after")
    def _one_key(self) -> AptMirror:
        if (self.key_url is None) == (self.key is None):
            raise ValueError("give the repository's signing key as key_url or as key (one)")
        return self


DISTRO = "{distro}"
"""The placeholder of the host's distribution in apt mirror URLs (kube6.mirrors.for_distro)."""


class AptMirrors(_Strict):
    kubernetes: AptMirror | None = None
    """In place of pkgs.k8s.io (kubeadm, kubelet, kubectl, cri-tools, kubernetes-cni)."""
    docker: AptMirror | None = None
    """In place of download.docker.com (containerd.io), whose path names the distribution
    (`.../linux/debian`, `.../linux/ubuntu`): write `{distro}` there (`.../linux/{distro}`) and
    each host gets its own distribution's, so Debian and Ubuntu nodes can share the setting."""
    distribution: Url | None = None
    """A mirror of the host distribution's own archive (of `http://deb.debian.org/debian` on
    Debian, `http://archive.ubuntu.com/ubuntu` on Ubuntu), same layout and signatures: kube6
    installs the distribution's ndppd from it (ndp-proxy mode) with a sources list of its own.
    The host's distribution keyring verifies it; for hosts whose own sources are unreachable.
    `{distro}` in its path stands for the host's distribution (`http://mirror.example/{distro}`)
    for clusters of Debian and Ubuntu nodes."""

    @model_validator(mode="after")
    def _distro_placeholders(self) -> AptMirrors:
        named = {
            "docker.url": self.docker and self.docker.url,
            "docker.key_url": self.docker and self.docker.key_url,
            "distribution": self.distribution,
        }
        for where, url in named.items():  # (the Url type refuses braces in a host name)
            if not url:
                continue
            rest = url.replace(DISTRO, "")
            if "{" in rest or "}" in rest:
                raise ValueError(
                    f"{where}: {url!r} has braces other than {DISTRO}, the only placeholder "
                    "(the host's distribution): write the URL without them"
                )
        kubernetes = self.kubernetes
        for url in (kubernetes.url, kubernetes.key_url) if kubernetes else ():
            if url and ("{" in url or "}" in url):
                raise ValueError(
                    f"kubernetes: {url!r} has braces, but pkgs.k8s.io serves the same "
                    f"packages to every distribution: its mirror takes no {DISTRO}; write the "
                    "URL without them"
                )
        return self


class ChartMirror(_Strict):
    upstream: Str = Field(min_length=1, max_length=512, pattern=CHART_SOURCE)
    """A chart repository URL (`https://docs.tigera.io/calico/charts`) or an OCI chart
    reference prefix (`oci://quay.io/jetstack/charts`), as kube6 uses it."""
    mirror: Str = Field(min_length=1, max_length=512, pattern=CHART_SOURCE)
    """What to use instead: another repository URL or an OCI prefix
    (`oci://[2001:db8:ffff::10]:5000/charts`); charts keep their names and versions."""
    ca: CaBundle | None = None
    """PEM CA of an https mirror with a private CA (helm --ca-file)."""
    plain_http: Bool = False
    """The OCI mirror speaks plain HTTP (helm --plain-http)."""


class DownloadMirror(_Strict):
    upstream: Url
    """A URL prefix of a download kube6 makes (`https://get.helm.sh/`,
    `https://github.com/kubernetes-sigs/gateway-api/releases/download/`)."""
    mirror: Url
    """The prefix that replaces it; the rest of the URL (file names, versions) stays."""


class AcmeDirectory(_Strict):
    url: Url
    """The ACME directory URL (RFC 8555), e.g. a private CA's or a test server's."""
    ca: CaBundle | None = None
    """PEM CA that signed the ACME server's own TLS certificate (cert-manager caBundle)."""


class AcmeDirectories(_Strict):
    staging: AcmeDirectory | None = None
    """In place of Let's Encrypt staging (issuer letsencrypt-staging)."""
    production: AcmeDirectory | None = None
    """In place of Let's Encrypt production (issuer letsencrypt-production)."""


class Mirrors(_Strict):
    """Where kube6 gets what it installs when the upstream sources are not reachable (ghcr.io
    and github.com have no IPv6 address; Docker Hub limits pulls per /64; air-gapped sites).
    kube6 installs the same packages, images, charts and files as from the real sources."""

    registries: tuple[RegistryMirror, ...] = ()
    """Container registry mirrors, per upstream registry (containerd hosts.toml)."""
    apt: AptMirrors = AptMirrors()
    """apt repositories in place of pkgs.k8s.io and download.docker.com."""
    charts: tuple[ChartMirror, ...] = ()
    """Helm chart sources: upstream repository or OCI prefix -> mirror."""
    downloads: tuple[DownloadMirror, ...] = ()
    """Binary downloads: upstream URL prefix -> mirror prefix (helm, Gateway API bundle)."""
    acme: AcmeDirectories = AcmeDirectories()
    """ACME directories for cert-manager's ClusterIssuers in place of Let's Encrypt."""

    @field_validator("registries")
    @classmethod
    def _one_entry_per_registry(
        cls, mirrors: tuple[RegistryMirror, ...]
    ) -> tuple[RegistryMirror, ...]:
        names = [m.registry for m in mirrors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"registry {', '.join(twice)} is listed twice; list its endpoints once"
            )
        return mirrors


class Host(_Strict):
    """Settings for hosts that differ from a plain server: containers (LXC, systemd-nspawn,
    some VPS types), older distributions, disks shared with other data. All off by default."""

    cgroup_v1: Bool = False
    """Let kubelet run on a cgroup v1 host (KubeletConfiguration failCgroupV1: false). cgroup v1
    is deprecated in Kubernetes and unsupported from 1.35 on by default; use only where the
    host cannot boot with cgroup v2 (old kernels, container hosts with a v1 hierarchy)."""
    restrict_oom_score_adj: Bool = False
    """containerd clamps pods' oom_score_adj to its own (restrict_oom_score_adj = true), for
    hosts where the runtime lacks CAP_SYS_RESOURCE (unprivileged containers): without it pod
    sandboxes fail to start with an oom_score_adj permission error."""
    min_free_disk: DiskSize | None = None
    """Disk space kubelet keeps free (e.g. `10Gi`), in place of its default shares of the disk:
    it evicts pods below 10% free (nodefs) or 15% (imagefs, /var/lib/containerd) and deletes
    unused images above 85% use. On a large disk that holds other data those shares are
    gigabytes that are never free (the node reports DiskPressure and no pod is scheduled);
    set this to keep an amount free instead. kubelet then deletes unused images only when less
    is free (image GC by share is off)."""


class ClusterSpec(_Strict):
    """kube6.yaml: the whole desired cluster."""

    cluster: Cluster = Cluster()
    prefix: Prefix
    """What the provider gave you: an on-link /64, a routed /64, /56 or /48."""
    routing: RoutingMode = RoutingMode.NDP_PROXY
    """How pod and service addresses reach the nodes: `ndp-proxy` (the provider puts the prefix
    on-link), `routed` (the provider routes it to the host), `bgp` (Calico peers)."""
    bgp: Bgp | None = None
    """BGP peering; required when routing is bgp."""
    nodes: tuple[Node, ...] = Field(min_length=1)
    """The servers. The first control-plane node runs `kubeadm init`."""
    network: Network = Network()
    dns: Dns = Dns()
    addons: Addons = Addons()
    firewall: Firewall = Firewall()
    mirrors: Mirrors = Mirrors()
    """Mirrors of the artifact sources (registries, apt, charts, downloads, ACME)."""
    host: Host = Host()
    """Settings for unusual hosts (containers, cgroup v1); all off by default."""

    @model_validator(mode="before")
    @classmethod
    def _default_roles(cls, data: Any) -> Any:
        # One rule for a node without roles, shared with `init` (default_roles): two such
        # nodes must not become two control planes (an even etcd quorum).
        if not isinstance(data, Mapping) or not isinstance(data.get("nodes"), list | tuple):
            return data
        nodes = [
            {**node, "roles": list(default_roles(index))}
            if isinstance(node, Mapping) and "roles" not in node
            else node
            for index, node in enumerate(data["nodes"])
        ]
        return {**data, "nodes": nodes}

    @model_validator(mode="after")
    def _bgp_section(self) -> ClusterSpec:
        if self.routing is RoutingMode.BGP and self.bgp is None:
            raise ValueError(
                "routing: bgp needs a bgp section: bgp: {peer: <router IPv6>, peer_as: <AS>}"
            )
        return self


EXAMPLE_YAML = """\
# The built-in example: one node in the documentation prefix.
cluster:
  name: kube001
  kubernetes: "1.37"
prefix: 2001:db8:1234:5678::/64
routing: ndp-proxy
nodes:
  - name: node0001
    address: 2001:db8:1234:5678::1
    roles: [control-plane, worker]
addons:
  gateway: {enabled: true}
  cert_manager: {email: admin@example.com, issuer: staging}
  dashboard: {host: kube001-dashboard.example.com}
"""


def example() -> ClusterSpec:
    """The built-in example (EXAMPLE_YAML: prefix 2001:db8:1234:5678::/64, node0001 at ::1)."""
    return parse_text(EXAMPLE_YAML, source="built-in example")


def load(path: Path) -> ClusterSpec:
    """Read and validate kube6.yaml (`-` is standard input); every problem is reported."""
    source = "standard input" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            raw = read_bounded(sys.stdin.buffer, source)
        else:
            with path.open("rb") as stream:
                raw = read_bounded(stream, source)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SpecError([f"{path} does not exist; run `kube6 init` to write one"]) from None
    except IsADirectoryError:
        raise SpecError([f"{path} is a directory; give the kube6.yaml file in it"]) from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            [f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"], source=source
        ) from None
    except OSError as exc:
        raise SpecError([f"cannot read {path}: {exc.strerror or exc}"], source=source) from None
    return with_paths_from(parse_text(text, source=source), path)


def with_paths_from(spec: ClusterSpec, path: Path) -> ClusterSpec:
    """The spec with its relative file paths (bgp.password_file) made relative to the folder
    of the kube6.yaml at `path`, as an operator reads them (standard input: the current one)."""
    bgp = spec.bgp
    if bgp is None or bgp.password_file is None or str(path) == "-":
        return spec
    found = Path(bgp.password_file).expanduser()
    if found.is_absolute():
        return spec
    moved = bgp.model_copy(update={"password_file": str(path.parent / found)})
    return spec.model_copy(update={"bgp": moved})


MAX_SPEC_BYTES = 1 << 20


def read_bounded(stream: BinaryIO, source: str, limit: int = MAX_SPEC_BYTES) -> bytes:
    """At most `limit` bytes, or SpecError: the read itself is bounded, because the size of a
    device or pipe (`-f /dev/zero`, `-f -`) is 0 until it is read."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise SpecError(
            [f"the input is larger than {limit} bytes (1 MiB); a kube6.yaml is far smaller"],
            source=source,
        )
    return data


def parse_text(text: str, *, source: str = "kube6.yaml") -> ClusterSpec:
    """Parse YAML text into a ClusterSpec, or raise SpecError listing every problem."""
    from kube6 import yamlio  # ruamel is only needed when a file is read

    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            [f"the file is {len(text)} bytes; a kube6.yaml is at most 1 MiB"], source=source
        )
    data = yamlio.load_user_yaml(text, source=source)
    if data is None:
        raise SpecError(["the file is empty; run `kube6 init` to write one"], source=source)
    if not isinstance(data, Mapping):
        raise SpecError(
            [
                "the top level must be a mapping of keys (prefix:, nodes:, ...), "
                f"got {type(data).__name__}"
            ],
            source=source,
        )
    return from_data(data, source=source)


def from_data(data: Mapping[str, Any], *, source: str = "kube6.yaml") -> ClusterSpec:
    try:
        return ClusterSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(exc), source=source) from None
    except RecursionError:
        raise SpecError(["the document is nested too deeply"], source=source) from None


MAX_PROBLEMS = 50  # a file of 100,000 wrong keys gets a readable answer, quickly


def _problems(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    errors = exc.errors(include_url=False)
    item_errors = {
        e["loc"][:1] for e in errors if len(e["loc"]) > 2 and isinstance(e["loc"][1], int)
    }
    for error in errors:
        if len(problems) == MAX_PROBLEMS:
            problems.append(f"... and {len(errors) - MAX_PROBLEMS} more problem(s)")
            break
        if error["type"] == "too_short" and error["loc"][:1] in item_errors:
            continue  # the items themselves are reported; "too short" would only confuse
        loc = error["loc"]
        path = _path(loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}{_suggest(loc)}"
            path = _path(loc[:-1]) or "(top level)"
        elif error["type"] == "missing":
            message = "is required"
        elif error["type"] == "model_type" or error["type"] == "model_attributes_type":
            message = f"must be a mapping of keys (key: value), got {shorten(error.get('input'))}"
        else:
            message = _plain(error) or message
        problems.append(f"{path}: {message}" if path else message)
    return problems


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, float):
        return f"the decimal number {value!r}"
    if isinstance(value, str):
        return f"the text {shorten(value)} (quoted)"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return shorten(value)


PATTERN_EXAMPLES = {
    "dns_domain": "a DNS domain (e.g. cluster.local)",
    "control_plane_endpoint": "a DNS name or [address], optional :port "
    "(e.g. api.example.com:6443 or [2001:db8::1]:6443)",
    "interface": "an interface name (e.g. eth0, enp1s0)",
    "upstream": "a chart repository URL or OCI prefix (e.g. oci://quay.io/jetstack/charts)",
    "mirror": "a chart repository URL or OCI prefix (e.g. oci://[2001:db8::10]:5000/charts)",
}
"""What a field written with a `pattern` expects, said with an example instead of the regex."""


def _plain(error: Any) -> str | None:
    """The validator's wording ("Input should be a valid integer") in the user's terms: what is
    expected, an example, and what was given (shortened)."""
    kind = error["type"]
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number without quotes (e.g. 22), got {_kind(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false (unquoted), got {_kind(given)}"
    if kind in ("string_type", "string_sub_type"):
        return f"must be text (quote it), got {_kind(given)}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, e.g. [a, b] or one '- item' per line, got {_kind(given)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low = ctx.get("ge", ctx.get("gt"))
        high = ctx.get("le", ctx.get("lt"))
        if low is not None:
            return f"must be at least {low}, got {shorten(given)}"
        return f"must be at most {high}, got {shorten(given)}"
    if kind == "string_pattern_mismatch":
        example = PATTERN_EXAMPLES.get(str(error["loc"][-1]))
        if example:
            return f"{shorten(given)} is not {example}"
        return f"{shorten(given)} does not have the expected form (see `kube6 schema`)"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters: {shorten(given)}"
    if kind == "too_short":
        return "must not be empty; give at least one item"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"must be one of {expected}; got {shorten(given)}"
    if kind == "dict_type":
        return f"must be a mapping of keys (key: value), got {_kind(given)}"
    return None


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _suggest(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = ClusterSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return ""
        inner = _model_of(field.annotation)
        if inner is None:
            return ""
        model = inner
    valid = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; valid keys here: {', '.join(valid)}"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def json_schema() -> dict[str, Any]:
    """JSON Schema of kube6.yaml, for editors (`kube6 schema > kube6.schema.json`)."""
    schema = ClusterSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "kube6.yaml"
    return schema
