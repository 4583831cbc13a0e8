"""Helpers of tests/e2e/build-artifacts.sh (stdlib only; run with python3).

Subcommands:
  pins REPO_ROOT                   shell assignments for the pins in src/kube6/versions.py
  k8s-dependency FILE NAME         the version of NAME in k8s.io/kubernetes build/dependencies.yaml
  debs SPEC_JSON                   build the .deb packages that SPEC_JSON describes (see build_debs)
  image SPEC_JSON                  build one OCI image archive (see build_image)
  images SPEC_JSON                 build the images of kubeadm and kube6 (see image_specs)
  index KIND CACHE ITEMS_JSON      merge this script's entries into CACHE/KIND/index.json
  distribution-mirror OUT RELEASES PKGS
                                   a partial mirror of each release's archive (Debian's,
                                   Ubuntu's; see build_distribution_mirror)
  manifest CACHE ENTRIES_JSONL [full|partial]
                                   merge this script's entries into CACHE/manifest.json

Everything written is reproducible: file times are SOURCE_DATE_EPOCH (the pinned Kubernetes
tag's commit time, set by the build script), owners root, archives without their own times.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BUILDER = "build-artifacts.sh"
"""Every index and manifest entry this script writes says so (`builder`), so that two build
scripts (this one and build-calico.sh) can share the files: each replaces only its own entries."""

PINS = (
    "KUBERNETES",
    "CONTAINERD",
    "ETCD",
    "HELM",
    "GATEWAY_API",
    "CERT_MANAGER",
    "ENVOY_GATEWAY",
    "PAUSE",
    "BUSYBOX",
)


def epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def cmd_pins(repo: str) -> None:
    sys.path.insert(0, os.path.join(repo, "src"))
    from kube6 import versions

    for attr in PINS:
        pin = getattr(versions, attr)
        print(f"{attr}_VERSION={shlex.quote(pin.version)}")


def k8s_dependency(text: str, name: str) -> str:
    """`version:` of the `- name: "NAME"` entry of build/dependencies.yaml (a flat, stable format)."""
    match = re.search(
        r'^\s*- name: "' + re.escape(name) + r'"\s*\n\s*version: "?([^"\s]+)"?', text, re.MULTILINE
    )
    if not match:
        raise SystemExit(f"no dependency named {name!r} in build/dependencies.yaml")
    return match.group(1)


def cmd_k8s_dependency(path: str, name: str) -> None:
    print(k8s_dependency(Path(path).read_text(encoding="utf-8"), name))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Debian packages.


@dataclass
class Deb:
    """One binary package: control fields, files, conffiles, maintainer scripts."""

    name: str
    version: str
    fields: dict[str, str]
    files: list[tuple[str, Path | str, int]] = field(default_factory=list)
    """(path in the package, source file or text content, mode)."""
    conffiles: list[str] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version}_amd64.deb"


def _write(dst: Path, source: Path | str, mode: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copyfile(source, dst)
    else:
        dst.write_text(source, encoding="utf-8")
    os.chmod(dst, mode)


def build_deb(deb: Deb, out_dir: Path) -> Path:
    """dpkg-deb --build of a staging tree; deterministic (times, owners, order)."""
    with tempfile.TemporaryDirectory(prefix=f"deb-{deb.name}-") as tmp:
        root = Path(tmp) / "root"
        for path, source, mode in deb.files:
            _write(root / path.lstrip("/"), source, mode)
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        control = {
            "Package": deb.name,
            "Version": deb.version,
            "Architecture": "amd64",
            **deb.fields,
            "Installed-Size": str((size + 1023) // 1024),
        }
        description = control.pop("Description")
        lines = [f"{k}: {v}" for k, v in control.items() if v]
        lines.append(f"Description: {description}")
        meta = root / "DEBIAN"
        _write(meta / "control", "\n".join(lines) + "\n", 0o644)
        if deb.conffiles:
            _write(meta / "conffiles", "".join(f"{c}\n" for c in deb.conffiles), 0o644)
        for name, text in deb.scripts.items():
            _write(meta / name, text, 0o755)
        for p in [root, *root.rglob("*")]:
            if p.is_dir():
                os.chmod(p, 0o755)
            os.utime(p, (epoch(), epoch()), follow_symlinks=False)
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / deb.filename
        tmp_out = out_dir / f".tmp.{deb.filename}"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(tmp_out)],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch())},
        )
        tmp_out.rename(out)
        return out


def systemd_scripts(unit: str, *, start: bool) -> dict[str, str]:
    """Maintainer scripts that enable (and start) a unit, as debhelper's do for the real packages:
    enabled also where systemd is not running (an image build, a chroot), started only where it
    runs."""
    now = f"    systemctl restart {unit} >/dev/null 2>&1 || true\n" if start else ""
    return {
        "postinst": (
            "#!/bin/sh\nset -e\n"
            'if [ "$1" = "configure" ]; then\n'
            "    if command -v deb-systemd-helper >/dev/null 2>&1; then\n"
            f"        deb-systemd-helper enable {unit} >/dev/null 2>&1 || true\n"
            "    elif command -v systemctl >/dev/null 2>&1; then\n"
            f"        systemctl enable {unit} >/dev/null 2>&1 || true\n"
            "    fi\n"
            "fi\n"
            'if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then\n'
            "    systemctl daemon-reload >/dev/null 2>&1 || true\n"
            f"{now}"
            "fi\nexit 0\n"
        ),
        "prerm": (
            "#!/bin/sh\nset -e\n"
            'if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then\n'
            f"    systemctl stop {unit} >/dev/null 2>&1 || true\n"
            "fi\nexit 0\n"
        ),
        "postrm": (
            "#!/bin/sh\nset -e\n"
            'if [ "$1" = "purge" ]; then\n'
            "    if command -v deb-systemd-helper >/dev/null 2>&1; then\n"
            f"        deb-systemd-helper purge {unit} >/dev/null 2>&1 || true\n"
            "    elif command -v systemctl >/dev/null 2>&1; then\n"
            f"        systemctl disable {unit} >/dev/null 2>&1 || true\n"
            "    fi\n"
            "fi\n"
            "if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi\n"
            "exit 0\n"
        ),
    }


# Units and drop-ins, written from the documented behaviour of the real packages (their
# settings, paths and variables; see tests/e2e/README.md), not copied from them.
KUBELET_SERVICE = """\
# kubelet.service as pkgs.k8s.io's kubelet package installs it (built for kube6's e2e tier).
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN = """\
# The kubelet flags that kubeadm's package adds (built for kube6's e2e tier): the kubeconfig
# files and config that `kubeadm init/join` write, the flags file kubeadm generates, and
# KUBELET_EXTRA_ARGS from /etc/default/kubelet as the administrator's last resort.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

CONTAINERD_CONFIG = """\
# /etc/containerd/config.toml as Docker's containerd.io package installs it (built for kube6's
# e2e tier): the CRI plugin is disabled, because the package serves Docker; a Kubernetes node
# must replace this file (kube6's runtime/config step does).
disabled_plugins = ["cri"]
"""

K8S_FIELDS = {
    "Maintainer": "Kubernetes Authors <dev@kubernetes.io>",
    "Priority": "optional",
    "Homepage": "https://kubernetes.io",
}


def k8s_debs(spec: dict[str, Any]) -> list[Deb]:
    """kubeadm, kubelet, kubectl, cri-tools, kubernetes-cni as pkgs.k8s.io ships them.

    Dependencies as kubernetes/release's package metadata says for these versions: kubelet
    needs kubernetes-cni (>= 1.2.0), mount, util-linux and recommends iptables; kubeadm
    (>= 1.32), kubectl, cri-tools and kubernetes-cni need nothing. Revision `-1.1` (OBS).
    """
    k8s, rev = spec["kubernetes_version"], "1.1"
    cni_dir = Path(spec["cni_dir"])
    cni: list[tuple[str, Path | str, int]] = [
        (f"/opt/cni/bin/{p.name}", p, 0o755)
        for p in sorted(cni_dir.iterdir())
        if p.is_file() and not p.name.startswith(".")
    ]
    return [
        Deb(
            "kubelet",
            f"{k8s}-{rev}",
            {
                **K8S_FIELDS,
                "Section": "net",
                "Depends": "kubernetes-cni (>= 1.2.0), mount, util-linux",
                "Recommends": "iptables (>= 1.8.4)",
                "Description": "Node agent for Kubernetes clusters",
            },
            [
                ("/usr/bin/kubelet", Path(spec["kubelet"]), 0o755),
                ("/usr/lib/systemd/system/kubelet.service", KUBELET_SERVICE, 0o644),
                ("/var/lib/kubelet/.kubelet-keep", "", 0o644),
                ("/etc/kubernetes/manifests/.kubelet-keep", "", 0o644),
                ("/etc/default/kubelet", "KUBELET_EXTRA_ARGS=\n", 0o644),
            ],
            conffiles=["/etc/default/kubelet"],
            scripts=systemd_scripts("kubelet.service", start=True),
        ),
        Deb(
            "kubeadm",
            f"{k8s}-{rev}",
            {
                **K8S_FIELDS,
                "Section": "admin",
                "Description": "Command-line utility for administering a Kubernetes cluster",
            },
            [
                ("/usr/bin/kubeadm", Path(spec["kubeadm"]), 0o755),
                (
                    "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
                    KUBEADM_DROPIN,
                    0o644,
                ),
            ],
        ),
        Deb(
            "kubectl",
            f"{k8s}-{rev}",
            {
                **K8S_FIELDS,
                "Section": "utils",
                "Description": "Command-line utility for interacting with a Kubernetes cluster",
            },
            [("/usr/bin/kubectl", Path(spec["kubectl"]), 0o755)],
        ),
        Deb(
            "cri-tools",
            f"{spec['cri_tools_version']}-{rev}",
            {
                **K8S_FIELDS,
                "Section": "admin",
                "Description": "Command-line utility for interacting with a container runtime",
            },
            [("/usr/bin/crictl", Path(spec["crictl"]), 0o755)],
        ),
        Deb(
            "kubernetes-cni",
            f"{spec['cni_version']}-{rev}",
            {
                **K8S_FIELDS,
                "Section": "net",
                "Description": "Binaries required to provision kubernetes container networking",
            },
            cni,
        ),
    ]


def containerd_deb(spec: dict[str, Any]) -> Deb:
    """containerd.io as download.docker.com ships it: containerd, its shim, ctr and runc."""
    built = Path(spec["containerd_dir"])
    unit = Path(spec["containerd_service"]).read_text(encoding="utf-8")
    # Docker's packaging installs the binaries in /usr/bin and points the upstream unit there.
    unit = unit.replace("/usr/local/bin/containerd", "/usr/bin/containerd")
    return Deb(
        "containerd.io",
        f"{spec['containerd_version']}-1",
        {
            "Maintainer": "Containerd team <help@containerd.io>",
            "Depends": "libc6 (>= 2.34), libseccomp2 (>= 2.5.0)",
            "Conflicts": "containerd, runc",
            "Replaces": "containerd, runc",
            "Provides": "containerd, runc",
            "Section": "devel",
            "Priority": "optional",
            "Homepage": "https://containerd.io",
            "Description": "An open and reliable container runtime",
        },
        [
            ("/usr/bin/containerd", built / "containerd", 0o755),
            ("/usr/bin/containerd-shim-runc-v2", built / "containerd-shim-runc-v2", 0o755),
            ("/usr/bin/ctr", built / "ctr", 0o755),
            ("/usr/bin/runc", Path(spec["runc"]), 0o755),
            ("/lib/systemd/system/containerd.service", unit, 0o644),
            ("/etc/containerd/config.toml", CONTAINERD_CONFIG, 0o644),
            ("/usr/share/doc/containerd.io/copyright", Path(spec["license"]), 0o644),
        ],
        conffiles=["/etc/containerd/config.toml"],
        scripts=systemd_scripts("containerd.service", start=True),
    )


def deb_inputs_key(deb: Deb) -> str:
    """What a package is made of: fields, scripts, texts, and each source file's size and time."""
    h = hashlib.sha256(
        json.dumps(
            [deb.name, deb.version, deb.fields, deb.conffiles, deb.scripts, epoch()]
        ).encode()
    )
    for path, source, mode in deb.files:
        if isinstance(source, Path):
            st = source.stat()
            h.update(f"{path}:{mode}:{source}:{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(f"{path}:{mode}:{source}".encode())
    return h.hexdigest()


def cmd_debs(spec_json: str) -> None:
    """SPEC_JSON: {"out": dir, "set": "kubernetes"|"containerd", ...paths and versions}.

    A package whose inputs did not change is kept; packages of other versions are removed, so
    that OUT holds exactly this set."""
    spec = json.loads(spec_json)
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    debs = k8s_debs(spec) if spec["set"] == "kubernetes" else [containerd_deb(spec)]
    for deb in debs:
        path, stamp = out / deb.filename, out / f".{deb.filename}.inputs"
        key = deb_inputs_key(deb)
        if not (path.exists() and stamp.exists() and stamp.read_text() == key):
            build_deb(deb, out)
            stamp.write_text(key)
            print(f"built {path}", file=sys.stderr)
        print(path)
    wanted = {d.filename for d in debs}
    for old in out.glob("*.deb"):
        if old.name not in wanted:
            old.unlink()


# ---------------------------------------------------------------------------------------------
# OCI images: one layer, written as an OCI image layout in a tar that also carries Docker's
# manifest.json, like `docker save` of Docker 25+. `crane push FILE REF`, `ctr images import`
# and `docker load` all read it.

CAP_NET_BIND_SERVICE = 10


def file_capability(*caps: int) -> str:
    """security.capability xattr value (VFS_CAP_REVISION_2, effective) for `setcap CAPS+ep`."""
    permitted = sum(1 << c for c in caps)
    raw = (
        (0x02000000 | 0x000001).to_bytes(4, "little")
        + permitted.to_bytes(4, "little")
        + bytes(4)
        + bytes(8)
    )
    return raw.decode("latin-1")


@dataclass
class Entry:
    path: str
    kind: str  # "file" | "dir" | "symlink"
    source: str = ""  # file: source path (or "text:" + content); symlink: target
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


def _layer(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen: set[str] = set()
        for e in sorted(entries, key=lambda e: e.path):
            name = e.path.strip("/")
            parts = name.split("/")
            for i in range(1, len(parts)):  # parent directories first, each once
                parent = "/".join(parts[:i])
                if parent not in seen:
                    seen.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch()
                    tar.addfile(info)
            if name in seen:
                continue
            seen.add(name)
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = epoch(), e.mode, e.uid, e.gid
            if e.xattrs:
                info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in e.xattrs.items()}
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif e.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, e.source
                tar.addfile(info)
            else:
                data = (
                    e.source[5:].encode()
                    if e.source.startswith("text:")
                    else Path(e.source).read_bytes()
                )
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest, len(data)


def build_image(spec: dict[str, Any]) -> dict[str, Any]:
    """SPEC: {"ref", "out", "entries": [Entry fields], "config": {Entrypoint, Cmd, Env, User...},
    "origin"}. Writes the archive atomically; returns the index entry."""
    entries = [Entry(**e) for e in spec["entries"]]
    layer = _layer(entries)
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=6) as f:
        f.write(layer)
    blobs: dict[str, bytes] = {}
    layer_digest, layer_size = _blob(blobs, gz.getvalue())
    created = f"{datetime.fromtimestamp(epoch(), tz=UTC):%Y-%m-%dT%H:%M:%SZ}"
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": spec["config"],
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created": created, "created_by": f"kube6 e2e {BUILDER}: {spec['origin']}"}],
    }
    config_digest, config_size = _blob(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    ref = spec["ref"]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": ref,
                    "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1],
                },
            }
        ],
    }
    docker = [
        {
            "Config": f"blobs/sha256/{config_digest[7:]}",
            "RepoTags": [ref],
            "Layers": [f"blobs/sha256/{layer_digest[7:]}"],
        }
    ]
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
        "manifest.json": json.dumps(docker).encode(),
        **{f"blobs/sha256/{d[7:]}": data for d, data in blobs.items()},
    }
    out = Path(spec["out"])
    tmp = out.with_name(f".tmp.{out.name}")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch()
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, epoch()
            tar.addfile(info, io.BytesIO(data))
    tmp.rename(out)
    return {
        "ref": ref,
        "file": out.name,
        "origin": spec["origin"],
        "digest": manifest_digest,
        "builder": BUILDER,
    }


def cmd_image(spec_json: str) -> None:
    print(json.dumps(build_image(json.loads(spec_json))))


# The images kubeadm and kube6 run, each the static binary plus what it needs, laid out like the
# upstream image (paths, entrypoint, user) so that kubeadm's manifests run them unchanged.

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"


def base_entries(ca_bundle: str) -> list[Entry]:
    """What the distroless static base of the upstream images gives a Go program."""
    return [
        Entry("/etc/passwd", "file", "text:" + PASSWD, 0o644),
        Entry("/etc/group", "file", "text:" + GROUP, 0o644),
        Entry("/etc/nsswitch.conf", "file", "text:hosts: files dns\n", 0o644),
        Entry("/etc/ssl/certs/ca-certificates.crt", "file", ca_bundle, 0o644),
        Entry("/tmp", "dir", mode=0o1777),
        Entry("/root", "dir", mode=0o700),
        Entry("/home/nonroot", "dir", mode=0o700, uid=65532, gid=65532),
    ]


def elf_closure(root: Path, binary: str) -> list[Entry]:
    """BINARY (a path in ROOT, the unpacked Debian packages) and the shared libraries it loads,
    resolved inside ROOT by the dynamic loader (`ldd` with ROOT's library directories)."""
    libdirs = [root / "lib/x86_64-linux-gnu", root / "usr/lib/x86_64-linux-gnu"]
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(map(str, libdirs))}
    out = subprocess.run(
        ["ldd", str(root / binary.lstrip("/"))], env=env, capture_output=True, text=True, check=True
    ).stdout
    entries = [Entry(binary, "file", str(root / binary.lstrip("/")), 0o755)]
    missing = []
    for raw in out.splitlines():
        line = raw.strip()
        if "=> not found" in line:
            missing.append(line.split()[0])
        elif "=>" in line:
            path = Path(line.split("=>")[1].split("(")[0].strip())
            if not path.is_relative_to(root):
                missing.append(f"{line} (outside {root})")
                continue
            entries.append(
                Entry("/" + str(path.relative_to(root)), "file", str(path.resolve()), 0o644)
            )
        elif line.startswith("/lib64/ld-linux"):
            loader = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
            entries.append(Entry(loader, "file", str((root / loader.lstrip("/")).resolve()), 0o755))
            entries.append(Entry("/lib64/ld-linux-x86-64.so.2", "symlink", loader))
    if missing:
        raise SystemExit(f"{binary}: libraries not in the unpacked packages: {missing}")
    return entries


def image_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """SPEC: {"out_dir", "refs": {name: ref}, "bins": {name: path}, "origins": {name: text},
    "ca_bundle", "nft_root", "busybox", "busybox_applets"}."""
    bins, refs, origins = spec["bins"], spec["refs"], spec["origins"]
    base = base_entries(spec["ca_bundle"])
    runner = Entry("/go-runner", "file", bins["go-runner"], 0o755)

    def control_plane(name: str, extra: list[Entry] | None = None) -> dict[str, Any]:
        binary = Entry(f"/usr/local/bin/{name}", "file", bins[name], 0o755)
        return {
            "name": name,
            "entries": [*base, runner, binary, *(extra or [])],
            "config": {"Entrypoint": ["/go-runner"], "Env": [PATH_ENV]},
        }

    nft = elf_closure(Path(spec["nft_root"]), "/usr/sbin/nft")
    applets = [
        Entry(f"/bin/{a}", "symlink", "busybox")
        for a in spec["busybox_applets"].split()
        if a != "busybox"
    ]
    images = [
        control_plane("kube-apiserver"),
        control_plane("kube-controller-manager"),
        control_plane("kube-scheduler"),
        # kube-proxy's nftables mode runs `nft` (sigs.k8s.io/knftables).
        control_plane("kube-proxy", nft),
        {
            "name": "etcd",
            "entries": [*base, Entry("/usr/local/bin/etcd", "file", bins["etcd"], 0o755)],
            "config": {"Entrypoint": ["/usr/local/bin/etcd"], "Env": [PATH_ENV]},
        },
        {
            "name": "coredns",
            # As upstream's image: non-root, with the file capability to bind port 53.
            "entries": [
                *base,
                Entry(
                    "/coredns",
                    "file",
                    bins["coredns"],
                    0o755,
                    xattrs={"security.capability": file_capability(CAP_NET_BIND_SERVICE)},
                ),
            ],
            "config": {"Entrypoint": ["/coredns"], "Env": [PATH_ENV], "User": "65532:65532"},
        },
        {
            "name": "pause",
            "entries": [Entry("/pause", "file", bins["pause"], 0o755)],
            "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        },
        {
            "name": "busybox",
            "entries": [
                Entry("/bin/busybox", "file", spec["busybox"], 0o755),
                *applets,
                Entry("/etc/passwd", "file", "text:" + PASSWD, 0o644),
                Entry("/etc/group", "file", "text:" + GROUP, 0o644),
                Entry("/tmp", "dir", mode=0o1777),
                Entry("/root", "dir", mode=0o700),
            ],
            "config": {"Cmd": ["sh"], "Env": [PATH_ENV]},
        },
    ]
    for image in images:
        name = image["name"]
        image["ref"] = refs[name]
        image["origin"] = origins[name]
        image["out"] = str(Path(spec["out_dir"]) / f"{slug(refs[name])}.tar")
    return images


def slug(ref: str) -> str:
    """registry.k8s.io/coredns/coredns:v1.14.6 -> registry.k8s.io_coredns_coredns_v1.14.6"""
    return re.sub(r"[^A-Za-z0-9._-]", "_", ref)


def inputs_key(image: dict[str, Any]) -> str:
    """What an image is made of: its spec and the size and time of each source file."""
    h = hashlib.sha256(json.dumps(image, sort_keys=True).encode())
    for e in image["entries"]:
        if e["kind"] == "file" and not e["source"].startswith("text:"):
            st = os.stat(e["source"])
            h.update(f"{e['source']}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(str(epoch()).encode())
    return h.hexdigest()


def cmd_images(spec_json: str) -> None:
    """Build every image whose archive is missing or was made from other inputs; print the
    index entries of all of them."""
    done = []
    for image in image_specs(json.loads(spec_json)):
        image["entries"] = [e.__dict__ for e in image["entries"]]
        out = Path(image["out"])
        stamp = out.with_name(f".{out.name}.inputs")
        key = inputs_key(image)
        if out.exists() and stamp.exists() and stamp.read_text() == key:
            entry = json.loads(out.with_name(f".{out.name}.entry").read_text())
            print(f"{image['ref']}: cached", file=sys.stderr)
        else:
            entry = build_image(image)
            out.with_name(f".{out.name}.entry").write_text(json.dumps(entry))
            stamp.write_text(key)
            print(f"{image['ref']}: built {out}", file=sys.stderr)
        done.append(entry)
    print(json.dumps(done))


# ---------------------------------------------------------------------------------------------
# Shared index files: merged under one lock, only this script's entries replaced.


@contextmanager
def locked(cache: Path) -> Iterator[None]:
    with (cache / ".index.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".tmp.{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.rename(path)


def merge(
    existing: list[dict[str, Any]], mine: list[dict[str, Any]], key: str, *, full: bool = True
) -> list[Any]:
    """Entries of other builders stay, unless they name one of mine (then mine wins); this
    builder's older entries go, all of them after a full run, else those that `mine` renews."""
    names = {m[key] for m in mine}
    kept = [
        e
        for e in existing
        if e.get(key) not in names and not (full and e.get("builder") == BUILDER)
    ]
    return sorted([*kept, *[{**m, "builder": BUILDER} for m in mine]], key=lambda e: str(e[key]))


def cmd_index(kind: str, cache: str, items_json: str) -> None:
    """KIND: images | charts | files | apt; ITEMS_JSON: a list of entries (key: ref or url)."""
    root = Path(cache)
    key = "url" if kind in ("files", "apt") else "ref"
    path = root / kind / "index.json"
    with locked(root):
        existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        _write_json(path, merge(existing, json.loads(items_json), key))


UNAVAILABLE = [
    {
        "name": "cert-manager images (controller, webhook, cainjector, acmesolver, startupapicheck)",
        "version": "v1.21.2",
        "tried": "github.com/cert-manager/cert-manager/cmd/{controller,webhook,cainjector,"
        "acmesolver,startupapicheck}@v1.21.2 on the Go module proxy",
        "why": "404 Not Found: the commands are nested modules the proxy does not serve, and the "
        "root module's zip leaves them out; kube6's cert-manager add-on cannot run in the lab",
    },
    {
        "name": "docker.io/envoyproxy/envoy (the Envoy proxy the gateway add-on runs)",
        "version": "the one Envoy Gateway v1.9.1 names",
        "tried": "nothing: C++ built with Bazel, not a Go module",
        "why": "cannot be built on this machine; kube6's gateway add-on cannot serve traffic in the "
        "lab, so Envoy Gateway's own controller image is not built either",
    },
]
"""What kube6 up can install that this script cannot build, listed in manifest.json."""


def cmd_manifest(cache: str, entries_jsonl: str, full: str = "full") -> None:
    root = Path(cache)
    mine = [json.loads(line) for line in Path(entries_jsonl).read_text().splitlines() if line]
    for m in mine:
        path = root / m["path"]
        if path.is_file():
            m["sha256"] = sha256_file(path)
        elif not path.exists():
            raise SystemExit(f"manifest entry {m['name']}: {path} does not exist")
    path = root / "manifest.json"
    with locked(root):
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        artifacts = merge(data.get("artifacts", []), mine, "path", full=full == "full")
        unavailable = merge(data.get("unavailable", []), UNAVAILABLE, "name")
        _write_json(path, {**data, "artifacts": artifacts, "unavailable": unavailable})


# ---------------------------------------------------------------------------------------------
# A partial mirror of Debian's own archive: the suites a node's sources name, with Debian's
# signed InRelease and the index files apt fetches, byte for byte, plus the pool files of the
# packages kube6 installs from Debian (ndppd) and what they need beyond the node's rootfs. A node
# keeps its stock sources and keyring; only the host name changes. All downloads go through apt
# (`apt-helper download-file`, `apt-get --print-uris`) and are checked against the hashes of
# the InRelease, which is checked against Debian's keyring.

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
INDEX_FILES = ("binary-amd64/Packages", "i18n/Translation-en")
COMPRESSIONS = (".xz", ".bz2", ".gz")


def parse_sources(lines: list[str]) -> list[tuple[str, str, list[str]]]:
    """`deb URL SUITE COMPONENT...` lines -> (url, suite, components)."""
    found = []
    for line in lines:
        parts = line.split()
        if not parts or parts[0] != "deb" or parts[1].startswith("["):
            raise SystemExit(
                f"unsupported sources line {line!r} (want: deb URL SUITE COMPONENT...)"
            )
        found.append((parts[1].rstrip("/"), parts[2], parts[3:]))
    return found


def mirror_dir_name(url: str) -> str:
    """http://deb.debian.org/debian-security -> deb.debian.org-debian-security"""
    return re.sub(r"^[a-z]+://", "", url).rstrip("/").replace("/", "-")


def release_hashes(text: str) -> dict[str, tuple[str, int]]:
    """The SHA256 section of a Release/InRelease: path -> (hash, size)."""
    hashes: dict[str, tuple[str, int]] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("SHA256:"):
            inside = True
        elif inside and line.startswith(" "):
            digest, size, path = line.split()
            hashes[path] = (digest, int(size))
        elif inside:
            inside = False
    return hashes


def apt_download(url: str, dest: Path, digest: str | None = None) -> None:
    """apt's own downloader; DIGEST (`SHA256:hex`, or a bare SHA-256) is checked by apt."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "/usr/lib/apt/apt-helper",
        "-o=APT::Sandbox::User=root",
        "download-file",
        url,
        str(dest),
    ]
    if digest:
        argv.append(digest if ":" in digest else f"SHA256:{digest}")
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        os.link(src, dst)


def build_debian_mirror(
    out: Path,
    sources: list[str],
    packages: list[str],
    status: Path | None,
    work: Path,
    keyring: str = DEBIAN_KEYRING,
) -> dict[str, Any]:
    """Write the mirror trees under OUT/<host-path>/; return what was mirrored. `keyring`
    verifies the archive (Debian's; Ubuntu's for Ubuntu's archive)."""
    mirrored: dict[str, Any] = {"suites": {}, "packages": {}}
    for url, suite, components in parse_sources(sources):
        base = out / mirror_dir_name(url)
        dists = base / "dists" / suite
        apt_download(f"{url}/dists/{suite}/InRelease", dists / "InRelease")
        subprocess.run(
            ["gpgv", "--keyring", keyring, str(dists / "InRelease")],
            check=True,
            capture_output=True,
        )
        text = (dists / "InRelease").read_text(encoding="utf-8")
        hashes = release_hashes(text)
        for component in components:
            for index in INDEX_FILES:
                path = next(
                    (
                        f"{component}/{index}{c}"
                        for c in COMPRESSIONS
                        if f"{component}/{index}{c}" in hashes
                    ),
                    None,
                )
                if path is None:
                    raise SystemExit(f"{url} {suite}: InRelease lists no {component}/{index}.*")
                digest, _size = hashes[path]
                apt_download(f"{url}/dists/{suite}/{path}", dists / path, digest)
                # Acquire-By-Hash: apt asks for the file by its hash.
                _link(dists / path, dists / Path(path).parent / "by-hash" / "SHA256" / digest)
        valid = re.search(r"^Valid-Until: (.+)$", text, re.MULTILINE)
        mirrored["suites"][f"{url} {suite}"] = {
            "date": re.search(r"^Date: (.+)$", text, re.MULTILINE).group(1),  # type: ignore[union-attr]
            "valid_until": valid.group(1) if valid else None,
        }
    # Which pool files: apt itself resolves the packages against the mirror just written
    # (file: URIs, Debian's keyring) and a system holding the node's rootfs.
    lists = work / "lists"
    for d in (lists / "partial", work / "cache/archives/partial", work / "parts", work / "prefs"):
        d.mkdir(parents=True, exist_ok=True)
    local = [
        f"deb [signed-by={keyring}] file:{out / mirror_dir_name(u)} {suite} {' '.join(c)}"
        for u, suite, c in parse_sources(sources)
    ]
    (work / "sources.list").write_text("\n".join(local) + "\n")
    empty = work / "status"
    empty.write_text("")
    # apt's defaults, as on a node: none of this machine's apt.conf.d (e.g. appstream's DEP-11).
    (work / "conf.d").mkdir()
    (work / "apt.conf").write_text(f'Dir::Etc::Parts "{work / "conf.d"}";\n')
    options = [
        f"-o=Dir::Etc::SourceList={work / 'sources.list'}",
        f"-o=Dir::Etc::SourceParts={work / 'parts'}",
        f"-o=Dir::Etc::PreferencesParts={work / 'prefs'}",
        f"-o=Dir::State::Lists={lists}",
        f"-o=Dir::State::status={status or empty}",
        f"-o=Dir::Cache={work / 'cache'}",
        "-o=APT::Sandbox::User=root",
        "-o=Debug::NoLocking=1",
    ]
    env = {**os.environ, "LC_ALL": "C", "APT_CONFIG": str(work / "apt.conf")}
    update = subprocess.run(
        ["apt-get", *options, "update"], capture_output=True, text=True, check=False, env=env
    )
    if update.returncode != 0 or re.search(r"^(W|E):", update.stderr, re.MULTILINE):
        raise SystemExit(f"apt cannot read the Debian mirror just written:\n{update.stderr}")
    uris = subprocess.run(
        ["apt-get", *options, "install", "--print-uris", "-qq", *packages],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    for line in uris.splitlines():
        match = re.match(r"'file:(/\S+)' (\S+) (\d+) (\S+:[0-9a-f]+)", line)
        if not match:
            continue
        local_path = Path(match.group(1))
        repo = local_path.relative_to(out).parts[0]
        url = next(u for u, _s, _c in parse_sources(sources) if mirror_dir_name(u) == repo)
        rel = local_path.relative_to(out / repo)
        apt_download(f"{url}/{rel}", local_path, match.group(4))
        mirrored["packages"][match.group(2)] = f"{url}/{rel}"
    missing = [p for p in packages if not any(f.startswith(f"{p}_") for f in mirrored["packages"])]
    if missing:
        raise SystemExit(f"apt resolved no package file for {missing}: {uris}")
    return mirrored


def build_distribution_mirror(
    out: Path, releases: list[dict[str, Any]], packages: list[str], work: Path
) -> dict[str, Any]:
    """One partial mirror tree per archive host under OUT for every release ({"name",
    "sources", "keyring", "status"}): releases of one archive (Debian 12 and 13) share its
    tree, each with its own suites and pool files."""
    mirrored: dict[str, Any] = {"suites": {}, "packages": {}, "releases": {}}
    for release in releases:
        found = build_debian_mirror(
            out,
            release["sources"],
            packages,
            Path(release["status"]) if release["status"] else None,
            work / release["name"],
            release["keyring"],
        )
        mirrored["suites"].update(found["suites"])
        mirrored["packages"].update(found["packages"])
        mirrored["releases"][release["name"]] = found["packages"]
    return mirrored


def cmd_distribution_mirror(out: str, releases_json: str, packages: str) -> None:
    """OUT RELEASES_JSON (each release's sources lines, keyring and the dpkg status file of its
    nodes' rootfs, or '' for an empty system) PACKAGES (comma list)."""
    with tempfile.TemporaryDirectory(prefix="kube6-distribution-mirror-") as work:
        for release in json.loads(releases_json):
            (Path(work) / release["name"]).mkdir()
        result = build_distribution_mirror(
            Path(out), json.loads(releases_json), packages.split(","), Path(work)
        )
    print(json.dumps(result, sort_keys=True))


COMMANDS: dict[str, Callable[..., None]] = {
    "pins": cmd_pins,
    "k8s-dependency": cmd_k8s_dependency,
    "debs": cmd_debs,
    "image": cmd_image,
    "images": cmd_images,
    "index": cmd_index,
    "manifest": cmd_manifest,
    "distribution-mirror": cmd_distribution_mirror,
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    COMMANDS[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
