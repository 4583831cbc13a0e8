"""The add-ons' artifacts (tests/e2e/build-addons.sh) work for real (issue 16 groundwork).

- Pebble, as the lab's internet host will run it: two instances ("staging", "production") on
  loopback, each serving an ACME directory over HTTPS with a lab TLS key pair, and each with
  its own issuing root (Pebble makes one at every start);
- the Traefik and Headlamp images load into a lab registry under the references kube6's charts
  pull, come back out, and their programs run: Traefik routes an HTTP request by host name to a
  backend on loopback, Headlamp's backend serves the built frontend and its API;
- what cannot be built (cert-manager's images) is named in manifest.json with the reason.

A missing cache FAILS these tests (it never skips them).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube6.components.gateway import traefik
from kube6.versions import CERT_MANAGER, HEADLAMP, TRAEFIK
from tests.e2e import artifacts
from tests.e2e.artifacts import MissingArtifactsError

pytestmark = pytest.mark.e2e

BUILDER = "build-addons.sh"
UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream"
HEADLAMP_REF = f"ghcr.io/headlamp-k8s/headlamp:v{HEADLAMP.version}"


@pytest.fixture(scope="module")
def cache() -> Path:
    root = artifacts.cache_root()
    try:
        artifacts.require(root / "manifest.json")
        artifacts.require(root / "images" / "index.json")
        artifacts.require(root / "bin" / "pebble")
    except MissingArtifactsError as e:
        pytest.fail(f"{e} (add-ons: `bash tests/e2e/build-addons.sh`)")
    return root


def mine(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("builder") == BUILDER]


def free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        port: int = s.getsockname()[1]
        return port


def run(*argv: str | Path, **kw: Any) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, **kw)
    assert done.returncode == 0, f"{argv} failed ({done.returncode}): {done.stderr or done.stdout}"
    return str(done.stdout) + str(done.stderr)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, **kw: Any) -> None:
    """Until URL answers at all (any HTTP status), or fail with the program's log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited ({proc.returncode}): {log.read_text()}"
        try:
            urllib.request.urlopen(url, timeout=2, **kw).close()
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within 30 s: {log.read_text()}")


class Program:
    """A program we started; SIGKILL and wait on every exit path."""

    def __init__(self, argv: list[str | Path], log: Path, **kw: Any) -> None:
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(a) for a in argv], stdout=out, stderr=subprocess.STDOUT, **kw
            )

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


# ---------------------------------------------------------------------------------------------
# Manifest and index


def test_images_carry_the_references_kube6s_charts_pull(cache: Path) -> None:
    images = {e["ref"]: e for e in mine(artifacts.read_index(cache, "images"))}
    # Headlamp: the chart's image is {registry}/{repository}:v{appVersion}; kube6 installs the
    # published chart at its pin, whose appVersion is the pin.
    values = yaml.safe_load(
        (UPSTREAM / "headlamp-0.43.0" / "charts" / "headlamp" / "values.yaml").read_text()
    )
    chart_image = f"{values['image']['registry']}/{values['image']['repository']}"
    assert f"{chart_image}:v{HEADLAMP.version}" == HEADLAMP_REF
    assert HEADLAMP_REF in images, sorted(images)
    traefik = [r for r in images if r.startswith("docker.io/library/traefik:v3.7.")]
    assert len(traefik) == 1, sorted(images)
    for e in images.values():
        assert (cache / "images" / e["file"]).is_file(), e
        assert e["origin"], e
        assert e["digest"].startswith("sha256:"), e


def test_manifest_names_the_addon_artifacts_and_what_cannot_be_built(cache: Path) -> None:
    data = json.loads((cache / "manifest.json").read_text())
    entries = mine(data["artifacts"])
    names = {e["name"] for e in entries}
    assert {"pebble", "traefik", "headlamp-server", HEADLAMP_REF} <= names, names
    for e in entries:
        assert e["origin"], e
        assert (cache / e["path"]).exists(), e
    gaps = mine(data["unavailable"])
    cert_manager = [g for g in gaps if g["name"].startswith("cert-manager")]
    assert len(cert_manager) == 1, gaps
    assert cert_manager[0]["version"] == CERT_MANAGER.version
    assert "404" in cert_manager[0]["tried"]
    assert "tag" in cert_manager[0]["why"]


# ---------------------------------------------------------------------------------------------
# Pebble: "staging" and "production" over HTTPS, different roots


def lab_tls(tmp: Path) -> tuple[Path, Path, Path]:
    """A lab CA and a server key pair for [::1] and localhost (the internet host would get its
    own address and names): what a user of a private ACME server gives cert-manager as the
    directory's CA. Returns (ca, cert, key)."""
    ca, ca_key, key, csr, cert = (
        tmp / n for n in ("ca.pem", "ca.key", "srv.key", "srv.csr", "srv.pem")
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1",
        "-subj", "/CN=kube6 e2e lab ACME TLS CA", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = tmp / "ext.cnf"
    ext.write_text("subjectAltName=IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "1", "-extfile", ext)  # fmt: skip
    return ca, cert, key


@pytest.fixture
def pebbles(cache: Path, tmp_path: Path) -> Iterator[dict[str, tuple[str, str, ssl.SSLContext]]]:
    """Two Pebbles on [::1]; yields {name: (directory URL, management URL, TLS context)}."""
    ca, cert, key = lab_tls(tmp_path)
    context = ssl.create_default_context(cafile=str(ca))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    started: list[Program] = []
    found: dict[str, tuple[str, str, ssl.SSLContext]] = {}
    try:
        for name in ("staging", "production"):
            port, mgmt = free_port(), free_port()
            config = tmp_path / f"pebble-{name}.json"
            config.write_text(
                json.dumps(
                    {
                        "pebble": {
                            "listenAddress": f"[::1]:{port}",
                            "managementListenAddress": f"[::1]:{mgmt}",
                            "certificate": str(cert),
                            "privateKey": str(key),
                            "httpPort": 80,
                            "tlsPort": 443,
                            "ocspResponderURL": "",
                            "externalAccountBindingRequired": False,
                        }
                    }
                )
            )
            prog = Program(
                [cache / "bin" / "pebble", "-config", config, "-dnsserver", "[::1]:53"],
                tmp_path / f"pebble-{name}.log",
                env=env,
            )
            started.append(prog)
            directory = f"https://[::1]:{port}/dir"
            wait_http(directory, prog.proc, prog.log, context=context)
            found[name] = (directory, f"https://[::1]:{mgmt}", context)
        yield found
    finally:
        for prog in started:
            prog.__exit__()


def test_pebble_version_is_the_built_tag(cache: Path) -> None:
    entry = next(e for e in mine(artifacts.read_manifest(cache)) if e["name"] == "pebble")
    assert (
        run(cache / "bin" / "pebble", "-version").strip() == f"Pebble version: {entry['version']}"
    )


def test_two_pebbles_serve_acme_directories_over_https_with_different_roots(
    pebbles: dict[str, tuple[str, str, ssl.SSLContext]],
) -> None:
    roots = {}
    for name, (directory, management, context) in pebbles.items():
        with urllib.request.urlopen(directory, context=context, timeout=10) as r:
            d = json.load(r)
        assert {"newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"} <= set(d), d
        assert all(d[k].startswith(directory.rsplit("/", 1)[0]) for k in ("newNonce", "newOrder"))
        head = urllib.request.Request(d["newNonce"], method="HEAD")
        with urllib.request.urlopen(head, context=context, timeout=10) as r:
            assert r.headers["Replay-Nonce"], dict(r.headers)
        with urllib.request.urlopen(f"{management}/roots/0", context=context, timeout=10) as r:
            roots[name] = r.read().decode()
        assert roots[name].startswith("-----BEGIN CERTIFICATE-----"), roots[name]
    assert roots["staging"] != roots["production"]
    # Without the lab CA, the directory is refused: cert-manager needs it (the issuer's caBundle).
    directory = pebbles["staging"][0]
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(directory, context=ssl.create_default_context(), timeout=10)


# ---------------------------------------------------------------------------------------------
# The images: through a lab registry, then their programs run


@pytest.fixture(scope="module")
def exported(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each add-on image pushed to a lab registry on [::1] and exported back: ref -> root."""
    tmp = tmp_path_factory.mktemp("addon-images")
    refs = [e["ref"] for e in mine(artifacts.read_index(cache, "images"))]
    assert refs, "build-addons.sh built no image"
    out = {}
    with artifacts.serve_registry(cache, "[::1]:0", tmp / "blobs") as registry:
        pushed = artifacts.load_images(cache, registry, refs=refs)
        assert len(pushed) == len(refs), pushed
        for i, ref in enumerate(refs):
            out[ref] = artifacts.export(cache, registry, ref, tmp / f"root{i}")
    return out


def image_config(cache: Path, ref: str) -> dict[str, Any]:
    """The OCI config of image REF, read from its archive in the cache."""
    entry = next(e for e in artifacts.read_index(cache, "images") if e["ref"] == ref)
    with tarfile.open(cache / "images" / entry["file"]) as tar:

        def blob(digest: str) -> dict[str, Any]:
            f = tar.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}")
            assert f is not None
            data: dict[str, Any] = json.load(f)
            return data

        manifest = blob(entry["digest"])
        return blob(manifest["config"]["digest"])


def traefik_ref(cache: Path) -> str:
    refs: list[str] = [
        e["ref"] for e in mine(artifacts.read_index(cache, "images")) if "/traefik:" in e["ref"]
    ]
    assert len(refs) == 1, refs
    return refs[0]


def test_the_traefik_image_is_the_one_kube6_runs(cache: Path) -> None:
    """build-addons.sh builds Traefik at kube6's pin: the reference the rendered DaemonSet pulls."""
    assert traefik_ref(cache) == traefik.IMAGE == f"docker.io/library/traefik:{TRAEFIK.version}"


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"backend saw {self.headers['Host']} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def test_traefik_image_runs_and_routes_by_host_name(
    cache: Path, exported: dict[str, Path], tmp_path: Path
) -> None:
    ref = traefik_ref(cache)
    root = exported[ref]
    binary = root / "traefik"
    tag = ref.rsplit(":", 1)[1]
    assert f"Version:      {tag}" in run(binary, "version")
    backend = Server6(("::1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_port()
    dynamic = tmp_path / "dynamic.yaml"
    dynamic.write_text(
        yaml.safe_dump(
            {
                "http": {
                    "routers": {
                        "app": {
                            "rule": "Host(`app.example.com`)",
                            "service": "app",
                            "entryPoints": ["web"],
                        }
                    },
                    "services": {
                        "app": {
                            "loadBalancer": {
                                "servers": [{"url": f"http://[::1]:{backend.server_port}"}]
                            }
                        }
                    },
                }
            }
        )
    )
    argv: list[str | Path] = [
        binary,
        f"--entryPoints.web.address=[::1]:{port}",
        f"--providers.file.filename={dynamic}",
        "--ping=true",
        "--ping.entryPoint=web",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
    ]
    try:
        with Program(argv, tmp_path / "traefik.log") as prog:
            wait_http(f"http://[::1]:{port}/ping", prog.proc, prog.log)
            url = f"http://[::1]:{port}/hello"
            deadline = time.monotonic() + 20
            while True:  # the file provider's routers arrive a moment after the entry point
                req = urllib.request.Request(url, headers={"Host": "app.example.com"})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        assert r.read().decode() == "backend saw app.example.com /hello"
                    break
                except urllib.error.HTTPError as e:
                    assert e.code == 404, prog.log.read_text()
                    assert time.monotonic() < deadline, prog.log.read_text()
                    time.sleep(0.2)
            other = urllib.request.Request(url, headers={"Host": "other.example.com"})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(other, timeout=5)
            assert refused.value.code == 404
    finally:
        backend.shutdown()


def test_headlamp_image_serves_its_frontend_and_api(
    cache: Path, exported: dict[str, Path], tmp_path: Path
) -> None:
    root = exported[HEADLAMP_REF]
    entrypoint = image_config(cache, HEADLAMP_REF)["config"]["Entrypoint"]
    assert entrypoint[0] == "/headlamp/headlamp-server", entrypoint
    # The image's own entrypoint, with its paths under the exported root.
    argv: list[str | Path] = [str(root) + a if a.startswith("/headlamp") else a for a in entrypoint]
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "lab", "cluster": {"server": "https://[::1]:1"}}],
                "users": [{"name": "viewer", "user": {"token": "x"}}],
                "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "viewer"}}],
                "current-context": "lab",
            }
        )
    )
    argv += ["-listen-addr", "::1", "-port", str(port), "-kubeconfig", kubeconfig]
    env = {**os.environ, "HOME": str(tmp_path), "HEADLAMP_STATIC_PLUGINS_DIR": str(tmp_path / "sp")}
    with Program(argv, tmp_path / "headlamp.log", env=env) as prog:
        base = f"http://[::1]:{port}"
        wait_http(f"{base}/config", prog.proc, prog.log)
        with urllib.request.urlopen(f"{base}/config", timeout=10) as r:
            api = json.load(r)
        assert [c["name"] for c in api["clusters"]] == ["lab"], api
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:
            page = r.read().decode()
        assert "<title>Headlamp</title>" in page, page[:500]
        # The built application: the page's entry script, served from the image's frontend/.
        scripts = re.findall(r'src="\.?/(assets/index-[^"]+\.js)"', page)
        assert len(scripts) == 1, page
        with urllib.request.urlopen(f"{base}/{scripts[0]}", timeout=30) as r:
            assert "javascript" in r.headers["Content-Type"], dict(r.headers)
            assert len(r.read()) > 1_000_000
