"""The world in a box for the journey: the lab's internet host serves the e2e cache.

On the lab's internet host (`k6-ID-internet`, 2001:db8:ffff::10), outside the cluster's /64 and
reached by the nodes through the lab's upstream router as any server on the internet would be:

- a static HTTP server (Python's, threaded) for the cache's `apt/`, `files/`, `charts/` and
  `keys/` on port 8080 (the lab's own listener holds 80 and 443);
- one `crane registry serve` per upstream registry (registry.k8s.io, quay.io, docker.io, ghcr.io)
  with
  every image of `images/index.json` pushed under its unchanged path, which is what a containerd
  `hosts.toml` mirror of that registry asks for (`same-path` layout).

The daemons are the lab's (`Lab.start`): `Lab.down()` and `kube6 lab down ID` stop them. The
registries keep their blobs in `$KUBE6_E2E_CACHE/journey-registry/<registry>` so that a warm
start only pushes manifests (crane keeps those in memory).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from kube6 import mirrors
from kube6.lab import Lab
from kube6.lab.layout import INTERNET_HOST
from kube6.lab.process import in_namespace
from kube6.lab.rootfs import OSES, NodeOs, node_os

from .artifacts import Reference, crane, load_images, read_index, require

LAB_HOST = {"cgroup_v1": True, "restrict_oom_score_adj": True, "min_free_disk": "2Gi"}
"""kube6.yaml `host` for the lab's nodes (tests/e2e/README.md): a cgroup v1 hybrid hierarchy,
no CAP_SYS_RESOURCE, and this machine's disk under every node. kubelet's default shares of that
disk (15% free) are gigabytes a busy CI machine may not have while the nodes need far less: a
node under DiskPressure schedules no pod and `up` waited for Calico until the test timed out."""
HTTP_PORT = 8080
REGISTRY_PORTS = {"registry.k8s.io": 5000, "quay.io": 5001, "docker.io": 5002, "ghcr.io": 5003}
"""One lab registry per upstream registry that kube6's images come from (ghcr.io: Headlamp's
image, tests/e2e/build-addons.sh)."""


@dataclass(frozen=True)
class World:
    """What the internet host serves, as URLs the nodes use."""

    cache: Path
    http: str
    """Base URL of the static server (the cache's root), ending in `/`."""
    registries: dict[str, str] = field(default_factory=dict)
    """Upstream registry -> the lab registry's `host:port`."""
    images: tuple[str, ...] = ()
    """Every pushed reference, as kube6 names it upstream."""

    def url(self, path: str) -> str:
        """The URL of `path` under the cache's root (e.g. `apt/pkgs.k8s.io-core-stable-v1.37/`)."""
        return self.http + path.lstrip("/")

    def apt(self, upstream: str) -> str:
        """The mirror URL of the apt repository at `upstream` (apt/index.json)."""
        for repo in read_index(self.cache, "apt"):
            if repo["url"].rstrip("/") == upstream.rstrip("/"):
                return self.url(f"apt/{repo['path']}/")
        raise KeyError(f"no apt repository for {upstream} in {self.cache}/apt/index.json")

    def mirrors(self, *releases: NodeOs) -> dict[str, Any]:
        """kube6.yaml's `mirrors` section pointing at this world for nodes of `releases`
        (default Debian 12), exactly as a user of an air-gapped site would write it (no
        fallback to the upstream registries): Docker's repository per node's distribution
        (`{distro}`), and the distribution's archive (for ndppd): its own path when the nodes
        share one distribution, `apt/archive-{distro}` when they do not."""
        release = releases[0] if releases else node_os()
        shared = len({r.id for r in releases}) <= 1
        key = self.url("keys/lab-apt.asc")
        # Docker's repository through mirrors.apt.docker's {distro}, as a site with Debian and
        # Ubuntu nodes would write it: the node's own distribution is put in per host.
        docker = self.apt(f"https://download.docker.com/linux/{release.id}").rstrip("/")
        docker = docker.removesuffix(release.id) + mirrors.DISTRO
        archive = release.sources[0].split()[1]
        distribution = (
            self.apt(archive).rstrip("/") if shared else self.url(f"apt/{ARCHIVE}{mirrors.DISTRO}")
        )
        return {
            "registries": [
                {
                    "registry": upstream,
                    "endpoints": [{"url": f"http://{address}"}],
                    "fallback": False,
                }
                for upstream, address in self.registries.items()
            ],
            "apt": {
                "kubernetes": {"url": self.apt(KUBERNETES_APT), "key_url": key},
                "docker": {"url": docker, "key_url": key},
                "distribution": distribution,
            },
            "charts": [{"upstream": CALICO_CHARTS, "mirror": self.url(CALICO_CHARTS_PATH)}],
            "downloads": [
                {"upstream": "https://get.helm.sh/", "mirror": self.url("files/get.helm.sh/")}
            ],
        }


KUBERNETES_APT = "https://pkgs.k8s.io/core:/stable:/v1.37/deb/"
CALICO_CHARTS = "https://docs.tigera.io/calico/charts"
CALICO_CHARTS_PATH = "files/docs.tigera.io/calico/charts"


ARCHIVE = "archive-"
"""`apt/archive-<distribution>`: each distribution's archive under a name that one mirror URL
with `{distro}` reaches (`.../apt/archive-{distro}`), as a site would serve them."""
SERVED = ("apt", "files", "charts", "keys")


def site(lab: Lab, cache: Path) -> Path:
    """What the HTTP server serves: the cache's folders, linked from the lab's work directory,
    with each distribution's archive also at `apt/archive-<distribution>` (the cache keeps
    them under their upstream hosts' names, deb.debian.org-debian and archive.ubuntu.com-
    ubuntu). Nothing is added to the cache itself."""
    root = lab.workdir / "world"
    root.mkdir()
    for folder in SERVED:
        (root / folder).mkdir()
        for entry in (cache / folder).iterdir():
            (root / folder / entry.name).symlink_to(entry)
    paths = {repo["url"].rstrip("/"): repo["path"] for repo in read_index(cache, "apt")}
    for release in OSES.values():
        archive = paths.get(release.sources[0].split()[1].rstrip("/"))
        alias = root / "apt" / f"{ARCHIVE}{release.id}"
        if archive is not None and not alias.exists():
            alias.symlink_to(cache / "apt" / archive)
    return root


def serve(lab: Lab, cache: Path) -> World:
    """Start the HTTP server and the registries in `lab`'s internet host; push the images."""
    host = str(INTERNET_HOST)
    for folder in (*SERVED, "images"):
        require(cache / folder)
    lab.start(
        "cache-http",
        lab.internet,
        (
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            host,
            "--directory",
            str(site(lab, cache)),
            str(HTTP_PORT),
        ),
        ready=lambda: lab.listening(lab.internet, HTTP_PORT),
    )
    by_registry: dict[str, list[str]] = {}
    for image in read_index(cache, "images"):
        by_registry.setdefault(Reference.parse(image["ref"]).registry, []).append(image["ref"])
    unknown = set(by_registry) - set(REGISTRY_PORTS)
    if unknown:
        raise RuntimeError(f"images from registries the world does not serve: {sorted(unknown)}")
    registries: dict[str, str] = {}
    pushed: list[str] = []
    for upstream, port in REGISTRY_PORTS.items():
        disk = cache / "journey-registry" / upstream
        disk.mkdir(parents=True, exist_ok=True)
        address = f"[{host}]:{port}"
        lab.start(
            f"registry-{upstream}",
            lab.internet,
            (str(crane(cache)), "registry", "serve", "--address", address, "--disk", str(disk)),
            ready=partial(lab.listening, lab.internet, port),
        )
        registries[upstream] = address
        refs = by_registry.get(upstream, [])
        if refs:
            # crane pushes from the internet host itself (its address is only routed in the lab).
            in_namespace(lab.internet, partial(load_images, cache, address, refs=refs))
            pushed += refs
    return World(cache, f"http://[{host}]:{HTTP_PORT}/", registries, tuple(pushed))
