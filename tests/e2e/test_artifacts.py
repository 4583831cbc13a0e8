"""The e2e tier's artifacts (tests/e2e/build-artifacts.sh) are what kube6 installs, and they work.

Checked for real: the .debs carry the files, versions, dependencies and units of the real
packages and their programs run; apt reads the repositories with the lab key (and refuses them
with another key) and resolves exactly the package versions kube6 asks for; the images load into
the lab registry and come back with the binaries that run; the charts and files are those kube6
fetches. A missing cache FAILS these tests (it never skips them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube6.components import gateway, helm
from kube6.components import kubernetes as packages
from kube6.components.containerd import steps as runtime
from kube6.components.registry import ADDONS_STEP, NETWORK_STEP
from kube6.facts.system import OsRelease
from kube6.lab.rootfs import OSES
from kube6.versions import (
    BUSYBOX,
    CERT_MANAGER,
    CONTAINERD,
    ENVOY_GATEWAY,
    GATEWAY_API,
    HELM,
    KUBERNETES,
    KUBERNETES_MINOR,
    PAUSE,
)
from tests.e2e import artifacts
from tests.e2e.artifacts import MissingArtifactsError, Reference, export

pytestmark = pytest.mark.e2e

K8S = KUBERNETES.version.removeprefix("v")
K8S_REPO = f"pkgs.k8s.io-core-stable-v{KUBERNETES_MINOR}"
DOCKER_REPO = "download.docker.com-linux-debian"
DEBIAN = {
    "bookworm": OsRelease("debian", "12", "Debian GNU/Linux 12 (bookworm)", codename="bookworm"),
    "trixie": OsRelease("debian", "13", "Debian GNU/Linux 13 (trixie)", codename="trixie"),
    "jammy": OsRelease("ubuntu", "22.04", "Ubuntu 22.04 LTS", codename="jammy"),
    "noble": OsRelease("ubuntu", "24.04", "Ubuntu 24.04 LTS", codename="noble"),
}
"""The releases whose Docker repository the lab serves (the Ubuntu one: download.docker.com's
linux/ubuntu, as kube6 asks for it on Ubuntu)."""


@pytest.fixture(scope="module")
def cache() -> Path:
    root = artifacts.cache_root()
    try:
        artifacts.require(root / "manifest.json")
        for kind in ("images", "charts", "files", "apt"):
            artifacts.require(root / kind / "index.json")
    except MissingArtifactsError as e:
        pytest.fail(str(e))
    return root


def mine(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("builder") == "build-artifacts.sh"]


def run(*argv: str | Path, **kw: Any) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, **kw)
    assert done.returncode == 0, f"{argv} failed ({done.returncode}): {done.stderr or done.stdout}"
    return str(done.stdout) + str(done.stderr)


def kubeadm_images(cache: Path) -> list[str]:
    from tests.conftest import k8s_binary

    out = run(
        k8s_binary("kubeadm"),
        "config",
        "images",
        "list",
        "--kubernetes-version",
        KUBERNETES.version,
    )
    return out.split()


# ---------------------------------------------------------------------------------------------
# Manifest and indexes


def test_manifest_names_every_artifact_with_its_origin_and_checksum(cache: Path) -> None:
    entries = mine(artifacts.read_manifest(cache))
    kinds = {e["kind"] for e in entries}
    assert {"deb", "apt-repo", "image", "chart", "file", "tool", "key"} <= kinds, kinds
    for e in entries:
        path = cache / e["path"]
        assert path.exists(), e
        assert e["origin"], e
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert e["sha256"] == digest, f"{path} changed since the manifest was written"


def test_manifest_says_what_could_not_be_built_and_why(cache: Path) -> None:
    data = json.loads((cache / "manifest.json").read_text())
    gaps = mine(data["unavailable"])
    assert {"tried", "why"} <= set(gaps[0]), gaps
    assert any("cert-manager" in g["name"] for g in gaps)


def test_images_are_exactly_what_kubeadm_and_kube6_pull(cache: Path) -> None:
    refs = {e["ref"] for e in artifacts.read_index(cache, "images")}
    wanted = {*kubeadm_images(cache), PAUSE.version, BUSYBOX.version}
    assert wanted <= refs, f"missing: {sorted(wanted - refs)}"
    for e in mine(artifacts.read_index(cache, "images")):
        assert (cache / "images" / e["file"]).is_file(), e
        assert e["origin"], e


def test_charts_and_files_are_what_kube6_fetches(cache: Path) -> None:
    charts = {e["ref"]: e for e in artifacts.read_index(cache, "charts")}
    for release in _helm_releases():
        if release.repo is None and release.chart.startswith("oci://"):
            ref = f"{release.chart}:{release.version}"
            assert ref in charts, f"kube6 installs {ref}; charts/index.json lacks it"
            out = run(_helm(), "show", "chart", cache / "charts" / charts[ref]["file"])
            meta = yaml.safe_load(out)
            assert meta["name"] == release.chart.rsplit("/", 1)[1]
            assert meta["version"] == release.version
    files = {e["url"]: e for e in artifacts.read_index(cache, "files")}
    tarball = helm.helm_tarball("amd64")
    for url in (
        f"https://get.helm.sh/{tarball}",
        f"https://get.helm.sh/{tarball}.sha256sum",
        gateway.gateway_api_url(),
    ):
        assert url in files, f"kube6 downloads {url}; files/index.json lacks it"
        assert (cache / "files" / files[url]["path"]).is_file()


def _helm_releases() -> list[Any]:
    from kube6.steps import cluster

    found = []
    for step in (*ADDONS_STEP.children, *NETWORK_STEP.children):
        plan = step.plan
        closure = getattr(plan, "__closure__", None) or ()
        found += [c.cell_contents for c in closure if isinstance(c.cell_contents, cluster.Release)]
    names = {r.chart for r in found}
    # If kube6's steps change shape, this must not silently check nothing.
    assert {
        "oci://docker.io/envoyproxy/gateway-helm",
        "oci://quay.io/jetstack/charts/cert-manager",
    } <= names
    assert all(
        r.version in (ENVOY_GATEWAY.version, CERT_MANAGER.version)
        for r in found
        if r.chart.startswith("oci://")
    )
    return found


def _helm() -> Path:
    from tests.conftest import k8s_binary

    return k8s_binary("helm")


# ---------------------------------------------------------------------------------------------
# Debian packages


def deb_path(cache: Path, name: str) -> Path:
    if name == "containerd.io":
        pool = cache / "apt" / DOCKER_REPO / "dists" / "bookworm" / "pool" / "stable" / "amd64"
        return artifacts.require(pool / f"containerd.io_{CONTAINERD.version}-1_amd64.deb")
    found = sorted((cache / "apt" / K8S_REPO / "amd64").glob(f"{name}_*_amd64.deb"))
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def deb_fields(deb: Path) -> dict[str, str]:
    out = run("dpkg-deb", "--field", deb)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


@pytest.fixture(scope="module")
def unpacked(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every package unpacked (`dpkg -x`) into one scratch root."""
    root = tmp_path_factory.mktemp("debroot")
    for name in ("kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni", "containerd.io"):
        run("dpkg", "-x", deb_path(cache, name), root)
    return root


@pytest.mark.parametrize(
    ("name", "version", "depends"),
    [
        ("kubelet", f"{K8S}-1.1", "kubernetes-cni (>= 1.2.0), mount, util-linux"),
        ("kubeadm", f"{K8S}-1.1", None),
        ("kubectl", f"{K8S}-1.1", None),
        ("cri-tools", f"{KUBERNETES_MINOR}.0-1.1", None),
        ("kubernetes-cni", None, None),
        ("containerd.io", f"{CONTAINERD.version}-1", "libc6 (>= 2.34), libseccomp2 (>= 2.5.0)"),
    ],
)
def test_package_control_fields(
    cache: Path, name: str, version: str | None, depends: str | None
) -> None:
    fields = deb_fields(deb_path(cache, name))
    assert fields["Package"] == name
    assert fields["Architecture"] == "amd64"
    if version:
        assert fields["Version"] == version
    assert fields.get("Depends") == depends
    if name == "containerd.io":
        for key in ("Provides", "Conflicts", "Replaces"):
            assert fields[key] == "containerd, runc"


def test_package_programs_run_and_report_the_pinned_versions(unpacked: Path) -> None:
    bin_ = unpacked / "usr" / "bin"
    assert run(bin_ / "kubelet", "--version").strip() == f"Kubernetes {KUBERNETES.version}"
    assert run(bin_ / "kubeadm", "version", "-o", "short").strip() == KUBERNETES.version
    assert f"Client Version: {KUBERNETES.version}" in run(bin_ / "kubectl", "version", "--client")
    assert run(bin_ / "crictl", "--version").strip() == f"crictl version v{KUBERNETES_MINOR}.0"
    assert f" v{CONTAINERD.version} " in run(bin_ / "containerd", "--version")
    assert f" v{CONTAINERD.version}" in run(bin_ / "ctr", "--version")
    assert f"v{CONTAINERD.version}" in run(bin_ / "containerd-shim-runc-v2", "-v")
    runc = run(bin_ / "runc", "--version")
    assert re.match(r"runc version 1\.\d+\.\d+\n", runc), runc
    assert "libseccomp: 2." in runc, f"runc was built without seccomp: {runc}"
    plugins = sorted(p.name for p in (unpacked / "opt" / "cni" / "bin").iterdir())
    for plugin in ("bridge", "host-local", "loopback", "portmap", "bandwidth", "tuning"):
        assert plugin in plugins
        about = subprocess.run(
            [unpacked / "opt" / "cni" / "bin" / plugin],
            capture_output=True,
            text=True,
            check=False,
        )
        assert re.search(r"CNI \S+ plugin v\d+\.\d+\.\d+", about.stderr + about.stdout), about


def test_package_units_and_drop_in(unpacked: Path) -> None:
    kubelet = (unpacked / "usr/lib/systemd/system/kubelet.service").read_text()
    assert "ExecStart=/usr/bin/kubelet\n" in kubelet
    dropin = (unpacked / "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf").read_text()
    assert "ExecStart=\n" in dropin
    assert "--config=/var/lib/kubelet/config.yaml" in dropin
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in dropin
    assert "$KUBELET_KUBEADM_ARGS" in dropin
    containerd = (unpacked / "lib/systemd/system/containerd.service").read_text()
    assert "ExecStart=/usr/bin/containerd\n" in containerd
    assert "Delegate=yes" in containerd
    assert (unpacked / "etc/containerd/config.toml").read_text().count(
        'disabled_plugins = ["cri"]'
    ) == 1
    assert (unpacked / "etc/default/kubelet").read_text() == "KUBELET_EXTRA_ARGS=\n"


def test_conffiles_and_maintainer_scripts(cache: Path, tmp_path: Path) -> None:
    for name, conffile, unit in (
        ("kubelet", "/etc/default/kubelet", "kubelet.service"),
        ("containerd.io", "/etc/containerd/config.toml", "containerd.service"),
    ):
        control = tmp_path / name
        run("dpkg-deb", "--control", deb_path(cache, name), control)
        assert (control / "conffiles").read_text().split() == [conffile]
        postinst = (control / "postinst").read_text()
        assert f"systemctl enable {unit}" in postinst
        run("sh", "-n", control / "postinst")


# ---------------------------------------------------------------------------------------------
# apt repositories, read by apt with the lab key


ROOTFS_PACKAGES = {
    "libc6": "2.36-9",
    "libseccomp2": "2.5.4-1",
    "mount": "2.38.1-5",
    "util-linux": "2.38.1-5",
}
"""What a Debian 12 node has of the packages' dependencies outside these repositories."""


class Apt:
    """apt-get/apt-cache with a private configuration: only the given sources, own lists, and
    its own dpkg status (a system holding `installed`), so that the host's packages do not count."""

    def __init__(self, root: Path, lines: list[str], installed: dict[str, str]) -> None:
        self.root = root
        for d in ("lists/partial", "cache/archives/partial", "parts", "prefs", "conf.d"):
            (root / d).mkdir(parents=True, exist_ok=True)
        # apt's defaults, as on a node: none of this machine's apt.conf.d (e.g. DEP-11 targets).
        (root / "apt.conf").write_text(f'Dir::Etc::Parts "{root / "conf.d"}";\n')
        (root / "sources.list").write_text("\n".join(lines) + "\n")
        (root / "status").write_text(
            "".join(
                f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
                "Architecture: amd64\nMaintainer: test\nDescription: test\n\n"
                for name, version in installed.items()
            )
        )
        self.options = [
            f"-o=Dir::Etc::SourceList={root / 'sources.list'}",
            f"-o=Dir::Etc::SourceParts={root / 'parts'}",
            f"-o=Dir::Etc::Preferences={root / 'preferences'}",
            f"-o=Dir::Etc::PreferencesParts={root / 'prefs'}",
            f"-o=Dir::State::Lists={root / 'lists'}",
            f"-o=Dir::State::status={root / 'status'}",
            f"-o=Dir::Cache={root / 'cache'}",
            "-o=APT::Sandbox::User=root",
            "-o=Debug::NoLocking=1",
        ]

    def __call__(
        self, tool: str, *args: str, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, *self.options, *args],
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "LC_ALL": "C", "APT_CONFIG": str(self.root / "apt.conf")},
        )


def mirrored(cache: Path, base: str, line: str, keyring: str, key: Path) -> str:
    """kube6's own sources line with the upstream URL replaced by its mirror under BASE (per
    apt/index.json) and kube6's keyring path by KEY."""
    for repo in artifacts.read_index(cache, "apt"):
        if repo["url"] in line:
            mirror = f"{base}/{repo['path']}" + ("/" if repo["url"].endswith("/") else "")
            assert keyring in line, line
            return line.replace(repo["url"], mirror).replace(keyring, str(key))
    raise AssertionError(f"apt/index.json has no mirror for {line!r}")


def kube6_lines(cache: Path, base: str, key: Path, codename: str) -> list[str]:
    k8s_line = f"deb [signed-by={packages.KEYRING}] {packages.repo_url(KUBERNETES_MINOR)} /"
    return [
        mirrored(cache, base, k8s_line, packages.KEYRING, key),
        mirrored(cache, base, runtime.docker_line(DEBIAN[codename]), runtime.KEYRING, key),
    ]


def fetch_keys(cache: Path, base: str, into: Path) -> list[Path]:
    """The keys where kube6 fetches them (`${url}Release.key`, `.../linux/debian/gpg`), from
    the mirror: what a node trusts is what the lab serves there."""
    import urllib.request

    urls = [
        f"{packages.repo_url(KUBERNETES_MINOR)}Release.key",
        "https://download.docker.com/linux/debian/gpg",
    ]
    keys = []
    for i, url in enumerate(urls):
        repo = next(r for r in artifacts.read_index(cache, "apt") if url.startswith(r["url"]))
        local = url.replace(
            repo["url"], f"{base}/{repo['path']}" + ("/" if repo["url"].endswith("/") else "")
        )
        with urllib.request.urlopen(local, timeout=10) as answer:  # the lab's own HTTP server
            keys.append(into / f"key{i}.asc")
            keys[-1].write_bytes(answer.read())
    return keys


@pytest.mark.parametrize("codename", list(DEBIAN))
def test_apt_reads_the_repositories_with_the_lab_key(
    cache: Path, http_server: str, tmp_path: Path, codename: str
) -> None:
    """Over HTTP, with the keys fetched where kube6 fetches them, through kube6's own lines."""
    k8s_key, docker_key = fetch_keys(cache, http_server, tmp_path)
    lab_key = artifacts.require(cache / "keys" / "lab-apt.asc").read_bytes()
    assert k8s_key.read_bytes() == docker_key.read_bytes() == lab_key
    apt = Apt(tmp_path, kube6_lines(cache, http_server, k8s_key, codename), ROOTFS_PACKAGES)
    update = apt("apt-get", "update")
    assert update.returncode == 0, update.stderr
    assert not re.search(r"^(W|E):", update.stderr, re.MULTILINE), update.stderr
    # The versions kube6's steps install: `kubelet=1.37.2-*` ..., `containerd.io=2.4.2-*`.
    for name, version in [
        *((n, K8S) for n in packages.PACKAGES),
        (runtime.PACKAGE, CONTAINERD.version),
    ]:
        policy = apt("apt-cache", "policy", name)
        assert re.search(rf"Candidate: {re.escape(version)}-", policy.stdout), policy.stdout
    wanted = [f"{n}={K8S}-*" for n in packages.PACKAGES] + [
        f"{runtime.PACKAGE}={CONTAINERD.version}-*"
    ]
    # Installs on a system with the rootfs's packages: these five. Not cri-tools: kubeadm has
    # had no dependencies since 1.32 (kubernetes/release package metadata), so crictl comes
    # only where someone installs it.
    sim = apt("apt-get", "install", "--simulate", *wanted)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    installs = re.findall(r"^Inst (\S+) \((\S+) ", sim.stdout, re.MULTILINE)
    assert dict(installs) == {
        **{n: f"{K8S}-1.1" for n in packages.PACKAGES},
        "kubernetes-cni": deb_fields(deb_path(cache, "kubernetes-cni"))["Version"],
        runtime.PACKAGE: f"{CONTAINERD.version}-1",
    }, sim.stdout
    # On an empty system only those rootfs packages are missing: nothing else is needed.
    bare = Apt(tmp_path / "bare", kube6_lines(cache, http_server, k8s_key, codename), {})
    assert bare("apt-get", "update").returncode == 0
    unmet = bare("apt-get", "install", "--simulate", *wanted)
    assert unmet.returncode != 0
    assert set(re.findall(r"Depends: (\S+)", unmet.stdout)) <= set(ROOTFS_PACKAGES), unmet.stdout


def test_apt_refuses_the_repositories_without_the_lab_key(
    cache: Path, http_server: str, tmp_path: Path
) -> None:
    other = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    assert other.exists()
    apt = Apt(tmp_path, kube6_lines(cache, http_server, other, "bookworm"), ROOTFS_PACKAGES)
    update = apt("apt-get", "update")
    assert "NO_PUBKEY" in update.stderr or "not signed" in update.stderr, update.stderr
    assert K8S not in apt("apt-cache", "policy", "kubelet").stdout


def test_repository_layouts_match_upstream(cache: Path) -> None:
    flat = cache / "apt" / K8S_REPO
    for name in ("InRelease", "Release", "Release.gpg", "Release.key", "Packages", "Packages.gz"):
        assert (flat / name).is_file(), name
    filenames = re.findall(r"^Filename: (\S+)", (flat / "Packages").read_text(), re.MULTILINE)
    assert filenames, "no package in the flat repository"
    assert all(f.startswith("amd64/") for f in filenames), filenames
    docker = cache / "apt" / DOCKER_REPO
    assert (docker / "gpg").read_text() == (cache / "keys" / "lab-apt.asc").read_text()
    release = (docker / "dists" / "bookworm" / "Release").read_text()
    assert "Codename: bookworm" in release
    assert "Components: stable" in release
    packages_ = (docker / "dists/bookworm/stable/binary-amd64/Packages").read_text()
    assert "Filename: dists/bookworm/pool/stable/amd64/containerd.io_" in packages_
    ubuntu = cache / "apt" / "download.docker.com-linux-ubuntu"
    assert (ubuntu / "gpg").read_text() == (docker / "gpg").read_text()
    assert "Codename: noble" in (ubuntu / "dists" / "noble" / "Release").read_text()


@pytest.fixture(scope="module")
def http_server(cache: Path) -> Iterator[str]:
    """The cache's apt/ over HTTP on ::1, as the lab's internet serves it; yields the base URL."""
    import functools
    import socket
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(cache / "apt"))
    server = Server(("::1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://[::1]:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rootfs_status(release: str, into: Path) -> Path:
    """The dpkg status file of `release`'s nodes' rootfs (tests/e2e/build-rootfs.sh)."""
    from kube6.lab import nodes

    tarball = nodes.default_rootfs(os_name=release)
    if not tarball.exists():
        pytest.fail(f"{tarball} is missing: run `sudo bash tests/e2e/build-rootfs.sh`")
    status = into / f"{release}.status"
    status.write_bytes(
        subprocess.run(
            ["tar", "-xOf", str(tarball), "./var/lib/dpkg/status"], capture_output=True, check=True
        ).stdout
    )
    return status


@pytest.mark.parametrize("release", list(OSES))
def test_distribution_mirror_serves_ndppd_to_the_nodes_stock_sources(
    cache: Path, http_server: str, tmp_path: Path, release: str
) -> None:
    """Each release's nodes' own sources lines, host replaced, the archive's own keyring (Ubuntu's
    for Ubuntu): apt updates cleanly (the archive's signatures, by-hash) and installs kube6's
    routing package on that release's rootfs (Ubuntu: from universe)."""
    from kube6.components.ndppd import steps as routing
    from kube6.lab import rootfs

    node = rootfs.node_os(release)
    keyring = rootfs.archive_keyring(rootfs.cache_dir(), node) or Path(node.keyring_file)
    mirrors = {e["url"]: e for e in artifacts.read_index(cache, "apt")}
    lines = []
    for line in node.sources:
        url = line.split()[1]
        assert url in mirrors, f"no mirror of {url} in apt/index.json"
        local = line.replace(url, f"{http_server}/{mirrors[url]['path']}")
        lines.append(local.replace("deb ", f"deb [signed-by={keyring}] ", 1))
    apt = Apt(tmp_path / "apt", lines, {})
    apt.options.append(f"-o=Dir::State::status={rootfs_status(release, tmp_path)}")
    update = apt("apt-get", "update")
    assert update.returncode == 0, update.stderr
    assert not re.search(r"^(W|E):", update.stderr, re.MULTILINE), update.stderr
    sim = apt("apt-get", "install", "--simulate", routing.SERVICE)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    assert re.findall(r"^Inst (\S+)", sim.stdout, re.MULTILINE) == [routing.SERVICE], sim.stdout
    if node.id == "ubuntu":  # kube6's steps ask for Ubuntu's universe (DISTRIBUTION_SECTIONS)
        policy = apt("apt-cache", "policy", routing.SERVICE).stdout
        assert f"{node.suite}/{routing.DISTRIBUTION_SECTIONS['ubuntu']} amd64" in policy, policy
    download = apt("apt-get", "download", routing.SERVICE, cwd=tmp_path)
    assert download.returncode == 0, download.stderr
    assert len(list(tmp_path.glob(f"{routing.SERVICE}_*.deb"))) == 1


# ---------------------------------------------------------------------------------------------
# Images, through the lab registry


@pytest.fixture(scope="module")
def registry(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    disk = tmp_path_factory.mktemp("registry-blobs")
    with artifacts.serve_registry(cache, "[::1]:0", disk) as address:
        artifacts.load_images(cache, address)
        yield address


def crane(cache: Path, *args: str) -> str:
    return run(artifacts.crane(cache), *args)


def config_of(cache: Path, registry: str, ref: str) -> dict[str, Any]:
    image = Reference.parse(ref).at(registry)
    manifest = json.loads(crane(cache, "manifest", "--insecure", image))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    entry = next(e for e in artifacts.read_index(cache, "images") if e["ref"] == ref)
    assert crane(cache, "digest", "--insecure", image).strip() == entry["digest"]
    config: dict[str, Any] = json.loads(crane(cache, "config", "--insecure", image))
    assert config["architecture"] == "amd64"
    assert config["os"] == "linux"
    return config


def test_control_plane_images_run_their_binaries(
    cache: Path, registry: str, tmp_path: Path
) -> None:
    for ref in kubeadm_images(cache):
        name = Reference.parse(ref).repository.split("/")[-1]
        root = export(cache, registry, ref, tmp_path / name)
        config = config_of(cache, registry, ref)["config"]
        if name.startswith("kube-"):
            binary = root / "usr" / "local" / "bin" / name
            assert config["Entrypoint"] == ["/go-runner"]
            assert (root / "go-runner").is_file()
            assert run(binary, "--version").strip() == f"Kubernetes {KUBERNETES.version}"
        elif name == "etcd":
            version = Reference.parse(ref).tag.split("-")[0]
            assert f"etcd Version: {version}" in run(root / "usr/local/bin/etcd", "--version")
        elif name == "coredns":
            assert config["Entrypoint"] == ["/coredns"]
            assert config["User"] == "65532:65532"
            assert f"CoreDNS-{Reference.parse(ref).tag.lstrip('v')}" in run(
                root / "coredns", "-version"
            )
        elif name == "pause":
            assert config["Entrypoint"] == ["/pause"]
            assert config["User"] == "65535:65535"
            assert f"v{Reference.parse(ref).tag}" in run(root / "pause", "-v")
        else:
            pytest.fail(f"kubeadm lists an image this test does not know: {ref}")
        # The kubeadm manifests name the binaries by PATH (`command: [kube-apiserver, ...]`).
        assert any(
            e.startswith("PATH=") and "/usr/local/bin" in e for e in config.get("Env", [])
        ) or name in ("pause",)


def test_kube_proxy_image_has_a_working_nft(cache: Path, registry: str, tmp_path: Path) -> None:
    root = export(
        cache, registry, f"registry.k8s.io/kube-proxy:{KUBERNETES.version}", tmp_path / "kp"
    )
    out = run("chroot", root, "/usr/sbin/nft", "--version")
    assert out.startswith("nftables v1."), out


def test_coredns_binary_may_bind_port_53_as_non_root(cache: Path) -> None:
    """The file capability (cap_net_bind_service+ep) is in the layer, as in upstream's image."""
    entry = next(
        e for e in artifacts.read_index(cache, "images") if "/coredns/coredns:" in e["ref"]
    )
    with tarfile.open(cache / "images" / entry["file"]) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        layer = archive.extractfile(manifest[0]["Layers"][0])
        assert layer is not None
        with tarfile.open(fileobj=layer, mode="r:gz") as tar:
            info = tar.getmember("coredns")
    cap = info.pax_headers["SCHILY.xattr.security.capability"].encode("latin-1")
    assert int.from_bytes(cap[4:8], "little") == 1 << 10  # CAP_NET_BIND_SERVICE permitted
    assert int.from_bytes(cap[0:4], "little") & 1  # effective


def test_busybox_probe_image_has_the_probe_commands(
    cache: Path, registry: str, tmp_path: Path
) -> None:
    root = export(cache, registry, BUSYBOX.version, tmp_path / "bb")
    config = config_of(cache, registry, BUSYBOX.version)["config"]
    assert config["Cmd"] == ["sh"]
    for applet in ("sh", "sleep", "ping", "nc", "nslookup", "ip"):
        assert os.readlink(root / "bin" / applet) == "busybox", applet
    assert run("chroot", root, "/bin/sh", "-c", "echo ok; sleep 0").strip() == "ok"
    # The BusyBox of the pinned tag (Debian's busybox-static of the release that has it).
    assert f"BusyBox v{Reference.parse(BUSYBOX.version).tag} " in run(
        "chroot", root, "/bin/busybox"
    )


def test_charts_push_to_the_registry_and_read_back(
    cache: Path, registry: str, tmp_path: Path
) -> None:
    pushed = artifacts.push_charts(cache, registry, _helm())
    assert pushed, "no OCI chart in charts/index.json"
    ref = f"oci://docker.io/envoyproxy/gateway-helm:{ENVOY_GATEWAY.version}"
    target = f"oci://{registry}/{Reference.parse(ref).path()}"
    env = {**os.environ, "HOME": str(tmp_path)}
    show = [str(_helm()), "show", "chart", target, "--version", ENVOY_GATEWAY.version]
    out = subprocess.run(
        [*show, "--plain-http"], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert yaml.safe_load(out)["version"] == ENVOY_GATEWAY.version


# ---------------------------------------------------------------------------------------------
# Files


def test_helm_tarball_passes_kube6s_checksum_step_and_runs(cache: Path, tmp_path: Path) -> None:
    folder = cache / "files" / "get.helm.sh"
    tarball = helm.helm_tarball("amd64")
    # What kube6's network/helm step runs: `cd DIR && sha256sum -c TARBALL.sha256sum`.
    run("sha256sum", "-c", f"{tarball}.sha256sum", cwd=folder)
    run("tar", "-xzf", folder / tarball, "-C", tmp_path, "--strip-components=1", "linux-amd64/helm")
    version = run(
        tmp_path / "helm",
        "version",
        "--template",
        "{{.Version}}",
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert version.strip() == HELM.version


def test_gateway_api_bundle_is_the_pinned_standard_channel(cache: Path) -> None:
    entry = next(
        e for e in artifacts.read_index(cache, "files") if e["url"] == gateway.gateway_api_url()
    )
    docs = [d for d in yaml.safe_load_all((cache / "files" / entry["path"]).read_text()) if d]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert gateway.GATEWAY_CRD in {c["metadata"]["name"] for c in crds}
    for crd in crds:
        annotations = crd["metadata"]["annotations"]
        assert annotations[gateway.BUNDLE_ANNOTATION] == GATEWAY_API.version
        assert annotations["gateway.networking.k8s.io/channel"] == "standard"


# ---------------------------------------------------------------------------------------------
# The packages on the nodes' own system


@pytest.mark.parametrize("release", list(OSES))
def test_packages_install_on_the_nodes_rootfs(cache: Path, tmp_path: Path, release: str) -> None:
    """`dpkg -i` into each release's real nodes' rootfs (tests/e2e/build-rootfs.sh): the
    dependencies outside these repositories are there, the maintainer scripts run and enable the
    services, and the programs run on the node's libraries (runc with its libseccomp)."""
    from kube6.lab import nodes

    tarball = nodes.default_rootfs(os_name=release)
    if not tarball.exists():
        pytest.fail(f"{tarball} is missing: run `sudo bash tests/e2e/build-rootfs.sh`")
    root = tmp_path / "rootfs"
    root.mkdir()
    run("tar", "--numeric-owner", "-xf", tarball, "-C", root)
    names = ("kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni", "containerd.io")
    # The ndppd of this release, as the distribution mirror resolved it for the release.
    stamp = json.loads((cache / "apt" / ".debian-mirror.json").read_text())
    url = next(u for f, u in stamp["result"]["releases"][release].items() if f.startswith("ndppd_"))
    repo = next(e for e in artifacts.read_index(cache, "apt") if url.startswith(e["url"] + "/"))
    ndppd = [artifacts.require(cache / "apt" / repo["path"] / url.removeprefix(repo["url"] + "/"))]
    run("dpkg", f"--root={root}", "--install", *(deb_path(cache, n) for n in names), ndppd[0])
    for name in (*names, "ndppd"):
        status = run("dpkg", f"--root={root}", "--status", name)
        assert "Status: install ok installed" in status, status
    for unit in ("kubelet.service", "containerd.service"):
        enabled = run("systemctl", f"--root={root}", "is-enabled", unit)
        assert enabled.strip() == "enabled", unit
    assert "libseccomp: 2." in run("chroot", root, "/usr/bin/runc", "--version")
    assert f" v{CONTAINERD.version} " in run("chroot", root, "/usr/bin/containerd", "--version")
    assert (
        run("chroot", root, "/usr/bin/kubelet", "--version").strip()
        == f"Kubernetes {KUBERNETES.version}"
    )
    # kubeadm's drop-in sits beside the unit systemd loads for kubelet.
    wants = root / "etc/systemd/system/multi-user.target.wants/kubelet.service"
    loaded = root / os.readlink(wants).lstrip("/")
    assert (loaded.parent / "kubelet.service.d" / "10-kubeadm.conf").is_file(), loaded


# ---------------------------------------------------------------------------------------------
# The images under the packaged runc


def runc_run(
    runc: str,
    root: Path,
    args: list[str],
    *,
    user: int = 0,
    detach: bool = False,
    seccomp: dict[str, Any] | None = None,
) -> tuple[str, subprocess.CompletedProcess[str]]:
    bundle = root.parent
    config = bundle / "config.json"
    config.unlink(missing_ok=True)
    run(runc, "spec", "--bundle", bundle)
    spec = json.loads(config.read_text())
    spec["root"] = {"path": str(root), "readonly": False}
    spec["process"].update(terminal=False, args=args, user={"uid": user, "gid": user})
    if seccomp:
        spec["linux"]["seccomp"] = seccomp
    config.write_text(json.dumps(spec))
    name = f"kube6-e2e-{os.getpid()}-{root.name}"
    argv = [str(runc), "--root", str(bundle / "state"), "run", "--bundle", str(bundle)]
    try:
        if detach:
            # A detached container keeps the stdio it was given: give it none, or run() waits.
            with (bundle / "detached.log").open("w") as log:
                code = subprocess.run(
                    [*argv, "--detach", name],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    check=False,
                    timeout=60,
                ).returncode
            text = (bundle / "detached.log").read_text()
            return name, subprocess.CompletedProcess(argv, code, "", text)
        done = subprocess.run(
            [*argv, name], capture_output=True, text=True, check=False, timeout=60
        )
    except BaseException:
        # Never leave the container (its processes, its cgroups) behind.
        subprocess.run(
            [runc, "--root", str(bundle / "state"), "delete", "-f", name],
            check=False,
            capture_output=True,
        )
        raise
    return name, done


def test_images_run_under_the_packaged_runc_with_seccomp(
    cache: Path, registry: str, unpacked: Path, tmp_path: Path
) -> None:
    """containerd.io's runc runs the probe image (a seccomp profile applied: runc's libseccomp
    works) and the pause image as its user, detached, until killed."""
    runc = str(unpacked / "usr" / "bin" / "runc")
    deny_mkdir = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    busybox = export(cache, registry, BUSYBOX.version, tmp_path / "bb" / "root")
    name, done = runc_run(
        runc, busybox, ["/bin/sh", "-c", "echo hello; mkdir /tmp/x"], seccomp=deny_mkdir
    )
    try:
        assert done.stdout == "hello\n", done
        assert "Operation not permitted" in done.stderr, done
        assert done.returncode != 0
    finally:
        subprocess.run(
            [runc, "--root", str(busybox.parent / "state"), "delete", "-f", name], check=False
        )
    pause = export(cache, registry, PAUSE.version, tmp_path / "pause" / "root")
    entrypoint = config_of(cache, registry, PAUSE.version)["config"]["Entrypoint"]
    name, done = runc_run(runc, pause, entrypoint, user=65535, detach=True)
    where = [runc, "--root", str(pause.parent / "state")]
    try:
        assert done.returncode == 0, done
        status = json.loads(run(*where, "state", name))
        assert status["status"] == "running", status
        run(*where, "kill", name, "KILL")
    finally:
        subprocess.run([*where, "delete", "-f", name], check=False, capture_output=True)


# ---------------------------------------------------------------------------------------------
# containerd pulls through a registry mirror


@pytest.fixture
def containerd(unpacked: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """containerd.io's containerd with its root, state and socket in TMP_PATH (CRI off: only
    its content store and snapshotter are used); yields (ctr, socket). Killed at the end."""
    sock = tmp_path / "containerd.sock"
    config = tmp_path / "config.toml"
    config.write_text(
        "version = 3\n"
        f'root = "{tmp_path / "root"}"\n'
        f'state = "{tmp_path / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime",'
        ' "io.containerd.cri.v1.images"]\n'
        f'[grpc]\n  address = "{sock}"\n'
        f'[ttrpc]\n  address = "{sock}.ttrpc"\n'
    )
    ctr = unpacked / "usr" / "bin" / "ctr"
    with (tmp_path / "containerd.log").open("w") as log:
        proc = subprocess.Popen(
            [unpacked / "usr" / "bin" / "containerd", "--config", config],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(100):
            if (
                subprocess.run(
                    [ctr, "--address", sock, "version"], capture_output=True, check=False
                ).returncode
                == 0
            ):
                break
            assert proc.poll() is None, (tmp_path / "containerd.log").read_text()
            import time

            time.sleep(0.1)
        yield ctr, sock
    finally:
        proc.kill()
        proc.wait()


def test_containerd_pulls_kube6s_refs_through_a_hosts_toml_mirror(
    cache: Path, registry: str, containerd: tuple[Path, Path], tmp_path: Path
) -> None:
    """The unchanged upstream references resolve through a `hosts.toml` mirror of each upstream
    registry to the lab registry (what kube6's `mirrors` renders for containerd), and arrive
    with the digests of the archives."""
    ctr, sock = containerd
    hosts = tmp_path / "certs.d"
    for upstream in ("registry.k8s.io", "docker.io"):
        (hosts / upstream).mkdir(parents=True)
        (hosts / upstream / "hosts.toml").write_text(
            f'server = "https://{upstream}"\n\n'
            f'[host."http://{registry}"]\n  capabilities = ["pull", "resolve"]\n'
        )
    digests = {e["ref"]: e["digest"] for e in artifacts.read_index(cache, "images")}
    coredns = next(r for r in kubeadm_images(cache) if "/coredns/coredns:" in r)
    kube_proxy = f"registry.k8s.io/kube-proxy:{KUBERNETES.version}"
    for ref in (PAUSE.version, BUSYBOX.version, kube_proxy, coredns):
        pull = subprocess.run(
            [
                ctr,
                "--address",
                sock,
                "images",
                "pull",
                # The client-side pull (the transfer service unpacks only to its configured
                # snapshotters); the resolver and hosts.toml handling are the same.
                "--local",
                "--hosts-dir",
                hosts,
                "--snapshotter",
                "native",
                ref,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert pull.returncode == 0, pull.stderr
    listing = run(ctr, "--address", sock, "images", "ls")
    for ref in (PAUSE.version, BUSYBOX.version, coredns):
        line = next((x for x in listing.splitlines() if x.startswith(f"{ref} ")), "")
        assert digests[ref] in line, listing
    # Unpacked by containerd, /coredns keeps its file capability (non-root CoreDNS binds :53).
    snapshots = tmp_path / "root" / "io.containerd.snapshotter.v1.native" / "snapshots"
    found = list(snapshots.glob("*/coredns"))
    assert len(found) == 1, found
    cap = os.getxattr(found[0], "security.capability")
    assert int.from_bytes(cap[4:8], "little") == 1 << 10
