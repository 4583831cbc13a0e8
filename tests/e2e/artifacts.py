"""The shared e2e artifact cache (tests/e2e/README.md): what it holds, and how the lab's registry
gets its images and charts.

`tests/e2e/build-artifacts.sh` (and `build-calico.sh`) fill the cache; this module only reads it.
The lab's registry is go-containerregistry's `crane registry serve`, built into the cache's
`bin/`: it keeps blobs on disk (`--disk`) but manifests in memory, so the images are pushed into
it each time it starts; with the blobs already on disk that takes seconds.

    with serve_registry(cache, "[::1]:0", tmp / "blobs") as registry:
        load_images(cache, registry)          # registry.k8s.io/pause:3.10.2 -> REGISTRY/pause:3.10.2
        push_charts(cache, registry, helm)    # oci://docker.io/envoyproxy/gateway-helm:v1.9.1 -> ...
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Layout = Literal["same-path", "host-prefix"]
"""How an upstream reference maps into one lab registry: `same-path` keeps the repository path
(registry.k8s.io/coredns/coredns -> REGISTRY/coredns/coredns), what a containerd `hosts.toml`
mirror of that registry asks for; `host-prefix` keeps the upstream host as the first path
element (REGISTRY/registry.k8s.io/coredns/coredns), for one registry that mirrors several
upstreams whose paths could collide (a mirror with `override_path`)."""


class MissingArtifactsError(RuntimeError):
    """The cache lacks something: the message says what and which build script makes it."""


def cache_root() -> Path:
    return Path(os.environ.get("KUBE6_E2E_CACHE", Path.home() / ".cache" / "kube6-e2e"))


BUILD_HINT = (
    "run `bash tests/e2e/build-artifacts.sh` (needs Go, the Go module proxy, Debian packages and "
    "the k8s tier's cache from `bash tests/k8s/build.sh`)"
)


def require(path: Path) -> Path:
    if not path.exists():
        raise MissingArtifactsError(f"{path} is missing: {BUILD_HINT}")
    return path


def read_index(cache: Path, kind: str) -> list[dict[str, Any]]:
    """`kind`/index.json (images, charts, files, apt): a list of entries."""
    entries: list[dict[str, Any]] = json.loads(
        require(cache / kind / "index.json").read_text(encoding="utf-8")
    )
    return entries


def read_manifest(cache: Path) -> list[dict[str, Any]]:
    data = json.loads(require(cache / "manifest.json").read_text(encoding="utf-8"))
    artifacts: list[dict[str, Any]] = data["artifacts"]
    return artifacts


@dataclass(frozen=True)
class Reference:
    """An image or chart reference split as a registry sees it."""

    registry: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, ref: str) -> Reference:
        match = re.fullmatch(r"(?:oci://)?([^/]+)/(.+):([^:/]+)", ref)
        if not match:
            raise ValueError(f"not a full reference with registry and tag: {ref!r}")
        return cls(*match.groups())

    def path(self, layout: Layout = "same-path") -> str:
        """The repository path in a lab registry (see `Layout`)."""
        return self.repository if layout == "same-path" else f"{self.registry}/{self.repository}"

    def at(self, registry: str, layout: Layout = "same-path") -> str:
        """This reference in the lab registry REGISTRY: `REGISTRY/path:tag`."""
        return f"{registry}/{self.path(layout)}:{self.tag}"


def crane(cache: Path) -> Path:
    return require(cache / "bin" / "crane")


def export(cache: Path, registry: str, ref: str, into: Path) -> Path:
    """Unpack image `ref`, as served by `registry`, into the folder `into` (crane export)."""
    into.mkdir(parents=True, exist_ok=True)
    image = Reference.parse(ref).at(registry)
    proc = subprocess.Popen(
        [str(crane(cache)), "export", "--insecure", image, "-"], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        tar.extractall(into, filter="fully_trusted")
    if proc.wait() != 0:
        raise RuntimeError(f"crane export {image} failed ({proc.returncode})")
    return into


@contextmanager
def serve_registry(cache: Path, address: str, disk: Path) -> Iterator[str]:
    """Run `crane registry serve --address ADDRESS --disk DISK`; yield its `host:port`.

    ADDRESS may end in `:0` (a free port is chosen). The registry speaks plain HTTP. It is
    stopped (SIGKILL to the process we started) on every exit path.
    """
    disk.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(crane(cache)), "registry", "serve", "--address", address, "--disk", str(disk)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            port = _wait_port(proc, log)
            host = address.rsplit(":", 1)[0]
            yield f"{host}:{port}"
        finally:
            proc.kill()
            proc.wait()


def _wait_port(proc: subprocess.Popen[bytes], log: Any, timeout: float = 20) -> int:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read().decode(errors="replace")
        match = re.search(r"serving on port (\d+)", text)
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"crane registry serve exited ({proc.returncode}): {text.strip()}")
        time.sleep(0.05)
    raise RuntimeError("crane registry serve did not say its port within 20 s")


def load_images(
    cache: Path, registry: str, *, layout: Layout = "same-path", refs: list[str] | None = None
) -> list[str]:
    """Push every image of images/index.json (or only `refs`) to REGISTRY (plain HTTP); return
    the pushed references. Blobs the registry has already are not sent again.

    The archive is unpacked and pushed as an OCI layout, so the registry serves the image's own
    manifest (same digest as in the index); pushed as a `docker save` tarball, crane would
    rewrite it with Docker media types."""
    pushed = []
    for image in read_index(cache, "images"):
        if refs is not None and image["ref"] not in refs:
            continue
        target = Reference.parse(image["ref"]).at(registry, layout)
        tarball = require(cache / "images" / image["file"])
        with tempfile.TemporaryDirectory(prefix="kube6-image-") as tmp:
            with tarfile.open(tarball) as archive:
                archive.extractall(tmp, filter="data")
            source = tmp if (Path(tmp) / "oci-layout").exists() else str(tarball)
            done = subprocess.run(
                [str(crane(cache)), "push", "--insecure", source, target],
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"crane push {tarball} {target} failed: {done.stderr.strip()}")
        pushed.append(target)
    return pushed


def push_charts(
    cache: Path, registry: str, helm: Path, *, layout: Layout = "same-path"
) -> list[str]:
    """`helm push` every OCI chart of charts/index.json to REGISTRY (plain HTTP)."""
    pushed = []
    with tempfile.TemporaryDirectory(prefix="kube6-helm-") as home:
        env = {**os.environ, "HOME": home, "HELM_CONFIG_HOME": home, "HELM_CACHE_HOME": home}
        for chart in read_index(cache, "charts"):
            if not chart["ref"].startswith("oci://"):
                continue
            ref = Reference.parse(chart["ref"])
            folder = ref.path(layout).rsplit("/", 1)[0]
            subprocess.run(
                [
                    str(helm),
                    "push",
                    str(require(cache / "charts" / chart["file"])),
                    f"oci://{registry}/{folder}",
                    "--plain-http",
                ],
                check=True,
                capture_output=True,
                env=env,
            )
            pushed.append(f"oci://{registry}/{ref.path(layout)}:{ref.tag}")
    return pushed
