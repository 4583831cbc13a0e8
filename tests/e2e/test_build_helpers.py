"""Pure parts of the e2e artifact build (tests/e2e/build_helpers/art.py, tests/e2e/artifacts.py):
the index merge two build scripts share, references, the file capability, the pins."""

from __future__ import annotations

from pathlib import Path

import pytest

from kube6 import versions
from tests.e2e.artifacts import Reference
from tests.e2e.build_helpers import art

REPO = Path(__file__).resolve().parents[2]


def test_merge_replaces_only_this_builders_entries() -> None:
    theirs = {"ref": "quay.io/tigera/operator:v1.44.0", "builder": "build-calico.sh"}
    old_mine = {"ref": "registry.k8s.io/pause:3.10", "builder": art.BUILDER}
    stale_other = {"ref": "registry.k8s.io/pause:3.10.2", "builder": "someone-else"}
    new = [{"ref": "registry.k8s.io/pause:3.10.2", "file": "p.tar"}]
    merged = art.merge([theirs, old_mine, stale_other], new, "ref")
    assert merged == [theirs, {**new[0], "builder": art.BUILDER}]
    partial = art.merge([theirs, old_mine], new, "ref", full=False)
    assert old_mine in partial
    assert theirs in partial


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag"),
    [
        ("registry.k8s.io/pause:3.10.2", "registry.k8s.io", "pause", "3.10.2"),
        (
            "registry.k8s.io/coredns/coredns:v1.14.6",
            "registry.k8s.io",
            "coredns/coredns",
            "v1.14.6",
        ),
        ("docker.io/library/busybox:1.37.0", "docker.io", "library/busybox", "1.37.0"),
        (
            "oci://quay.io/jetstack/charts/cert-manager:v1.21.2",
            "quay.io",
            "jetstack/charts/cert-manager",
            "v1.21.2",
        ),
        ("[::1]:5000/pause:3.10.2", "[::1]:5000", "pause", "3.10.2"),
    ],
)
def test_reference_parse(ref: str, registry: str, repository: str, tag: str) -> None:
    parsed = Reference.parse(ref)
    assert (parsed.registry, parsed.repository, parsed.tag) == (registry, repository, tag)
    assert parsed.path("same-path") == repository
    assert parsed.path("host-prefix") == f"{registry}/{repository}"
    assert parsed.at("[::1]:5000") == f"[::1]:5000/{repository}:{tag}"


def test_reference_without_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="registry and tag"):
        Reference.parse("registry.k8s.io/pause")


def test_slug_keeps_references_apart() -> None:
    assert (
        art.slug("registry.k8s.io/coredns/coredns:v1.14.6")
        == "registry.k8s.io_coredns_coredns_v1.14.6"
    )
    assert art.slug("registry.k8s.io/pause:3.10.2") != art.slug("registry.k8s.io/pause:3.10.1")


def test_file_capability_is_setcap_net_bind_service_ep() -> None:
    # What `setcap cap_net_bind_service=+ep` writes (VFS_CAP_REVISION_2, 20 bytes).
    raw = art.file_capability(art.CAP_NET_BIND_SERVICE).encode("latin-1")
    assert raw == bytes.fromhex("0100000200040000000000000000000000000000")


def test_k8s_dependency_reads_build_dependencies_yaml() -> None:
    text = 'dependencies:\n  - name: "cni"\n    version: 1.9.1\n    refPaths:\n  - name: "crictl"\n    version: 1.36.0\n'
    assert art.k8s_dependency(text, "cni") == "1.9.1"
    assert art.k8s_dependency(text, "crictl") == "1.36.0"
    with pytest.raises(SystemExit, match="etcd"):
        art.k8s_dependency(text, "etcd")


def test_pins_are_read_from_kube6_versions(capsys: pytest.CaptureFixture[str]) -> None:
    art.cmd_pins(str(REPO))
    out = capsys.readouterr().out
    assert f"KUBERNETES_VERSION={versions.KUBERNETES.version}\n" in out
    assert f"CONTAINERD_VERSION={versions.CONTAINERD.version}\n" in out
    assert f"PAUSE_VERSION={versions.PAUSE.version}\n" in out


def test_build_deb_makes_a_package_that_dpkg_reads(tmp_path: Path) -> None:
    import subprocess

    program = tmp_path / "hello"
    program.write_text("#!/bin/sh\necho hello\n")
    deb = art.Deb(
        "kube6-hello",
        "1.0-1",
        {"Maintainer": "kube6 tests <t@kube6.invalid>", "Depends": "", "Description": "test"},
        [("/usr/bin/hello", program, 0o755), ("/etc/hello.conf", "x=1\n", 0o644)],
        conffiles=["/etc/hello.conf"],
        scripts=art.systemd_scripts("hello.service", start=True),
    )
    out = art.build_deb(deb, tmp_path / "out")
    assert out.name == "kube6-hello_1.0-1_amd64.deb"
    info = subprocess.run(["dpkg-deb", "--info", out], capture_output=True, text=True, check=True)
    assert " Package: kube6-hello\n" in info.stdout
    assert " Version: 1.0-1\n" in info.stdout
    assert "Depends" not in info.stdout  # empty fields are left out
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", out, root], check=True)
    assert (root / "usr/bin/hello").stat().st_mode & 0o777 == 0o755
    listing = subprocess.run(["dpkg-deb", "-c", out], capture_output=True, text=True, check=True)
    assert "root/root" in listing.stdout
    # Same inputs, same bytes: the build is reproducible.
    again = art.build_deb(deb, tmp_path / "again")
    assert again.read_bytes() == out.read_bytes()


def test_build_image_writes_an_oci_layout_with_docker_manifest(tmp_path: Path) -> None:
    import json
    import tarfile

    program = tmp_path / "prog"
    program.write_bytes(b"\x7fELF-not-really")
    entry = art.build_image(
        {
            "ref": "registry.k8s.io/pause:3.10.2",
            "out": str(tmp_path / "pause.tar"),
            "entries": [
                {"path": "/pause", "kind": "file", "source": str(program), "mode": 0o755},
                {"path": "/bin/sh", "kind": "symlink", "source": "busybox"},
                {"path": "/tmp", "kind": "dir", "mode": 0o1777},
            ],
            "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
            "origin": "test",
        }
    )
    assert entry["ref"] == "registry.k8s.io/pause:3.10.2"
    with tarfile.open(tmp_path / "pause.tar") as tar:
        names = set(tar.getnames())
        assert {"oci-layout", "index.json", "manifest.json"} <= names
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        described = index["manifests"][0]
        assert described["digest"] == entry["digest"]
        assert described["annotations"]["io.containerd.image.name"] == entry["ref"]
        manifest = json.load(tar.extractfile("blobs/sha256/" + entry["digest"][7:]))  # type: ignore[arg-type]
        docker = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert docker[0]["RepoTags"] == [entry["ref"]]
        assert docker[0]["Layers"] == ["blobs/sha256/" + manifest["layers"][0]["digest"][7:]]
        config = json.load(tar.extractfile(docker[0]["Config"]))  # type: ignore[arg-type]
        assert config["config"]["Entrypoint"] == ["/pause"]
        layer = tar.extractfile(docker[0]["Layers"][0])
        assert layer is not None
        with tarfile.open(fileobj=layer, mode="r:gz") as files:
            members = {m.name: m for m in files.getmembers()}
    assert members["pause"].mode == 0o755
    assert members["bin/sh"].linkname == "busybox"
    assert members["bin"].isdir()
    assert members["tmp"].mode == 0o1777


def test_debian_mirror_pure_parts() -> None:
    sources = [
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian-security/ bookworm-security main contrib",
    ]
    assert art.parse_sources(sources) == [
        ("http://deb.debian.org/debian", "bookworm", ["main"]),
        ("http://deb.debian.org/debian-security", "bookworm-security", ["main", "contrib"]),
    ]
    assert (
        art.mirror_dir_name("http://deb.debian.org/debian-security")
        == "deb.debian.org-debian-security"
    )
    with pytest.raises(SystemExit, match="unsupported"):
        art.parse_sources(["deb [arch=amd64] http://x/debian bookworm main"])
    release = (
        "Suite: oldstable\nMD5Sum:\n 0123 10 main/binary-amd64/Packages\nSHA256:\n"
        " aa11 10 main/binary-amd64/Packages\n bb22 5 main/binary-amd64/Packages.xz\n"
        "Acquire-By-Hash: yes\n"
    )
    assert art.release_hashes(release) == {
        "main/binary-amd64/Packages": ("aa11", 10),
        "main/binary-amd64/Packages.xz": ("bb22", 5),
    }


def test_drop_lego_providers_removes_imports_and_cases() -> None:
    from tests.e2e.build_helpers import addons

    text = (
        "import (\n"
        '\t"github.com/go-acme/lego/v5/providers/dns/edgedns"\n'
        '\t"github.com/go-acme/lego/v5/providers/dns/exec"\n'
        ")\n"
        "\tswitch name {\n"
        '\tcase "edgedns", "fastdns":\n'
        "\t\treturn edgedns.NewDNSProvider()\n"
        '\tcase "exec":\n'
        "\t\treturn exec.NewDNSProvider()\n"
    )
    out = addons.drop_lego_providers(text, ["edgedns"])
    assert "edgedns" not in out
    assert "exec.NewDNSProvider()" in out
    assert '"github.com/go-acme/lego/v5/providers/dns/exec"' in out
    with pytest.raises(SystemExit, match="ucloud"):
        addons.drop_lego_providers(text, ["ucloud"])
