"""Helpers of tests/e2e/build-calico.sh (stdlib only; run with python3).

Subcommands:
  pins REPO_ROOT                   shell assignments: CALICO_VERSION (src/kube6/versions.py)
  versions-yml IN OUT VERSION      the operator's config/calico_versions.yml with every Calico
                                   component at VERSION (what upstream's release tooling does)
  images SPEC_JSON                 build the Calico images SPEC_JSON describes (see image_specs)
  index KIND CACHE ITEMS_JSON      merge this script's entries into CACHE/KIND/index.json
  manifest CACHE ENTRIES_JSONL     merge this script's entries into CACHE/manifest.json

The image archives have the layout of build-artifacts.sh's (tests/e2e/build_helpers/art.py: an
OCI image layout in a tar that also carries Docker's manifest.json, one layer, amd64), written
by the same code so that tests/e2e/artifacts.py loads both alike; only the builder differs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script (python3 tests/e2e/build_helpers/calico.py): the repository root on the path,
# for the sibling helper of build-artifacts.sh.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.e2e.build_helpers import art
from tests.e2e.build_helpers.art import Entry

BUILDER = "build-calico.sh"


def cmd_pins(repo: str) -> None:
    sys.path.insert(0, os.path.join(repo, "src"))
    from kube6 import versions

    print(f"CALICO_VERSION={shlex.quote(versions.CALICO.version)}")


def versions_yml(text: str, version: str) -> str:
    """Set `title:` and every component's `version:` to VERSION.

    The file is flat YAML (`components: NAME: version: X`), so a line edit keeps it as it is
    otherwise (registries, image names); it fails when no line was changed."""
    out, changed = [], 0
    for line in text.splitlines():
        m = re.match(r"^(\s*(?:title|version):\s*)(\S+)\s*$", line)
        if m:
            changed += 1
        out.append(f"{m.group(1)}{version}" if m else line)
    if changed < 2:
        raise SystemExit(f"no title/version lines found to set to {version}")
    return "\n".join(out) + "\n"


def cmd_versions_yml(src: str, dst: str, version: str) -> None:
    Path(dst).write_text(versions_yml(Path(src).read_text(encoding="utf-8"), version))


# ---------------------------------------------------------------------------------------------
# Image contents.


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def is_dynamic(path: Path) -> bool:
    """An ELF file with a PT_INTERP program header (needs the dynamic loader)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only (the lab is amd64)
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off : off + 4], "little") == 3:  # PT_INTERP
            return True
    return False


def from_debian(root: Path, paths: list[str]) -> list[Entry]:
    """Files of the unpacked Debian packages in ROOT, each with the shared libraries it loads.

    A path that is a symlink in the packages is kept as a symlink, and its target is taken
    too; scripts are taken as they are (their interpreter must be listed as well)."""
    entries: dict[str, Entry] = {}
    todo = list(paths)
    while todo:
        path = todo.pop()
        if path in entries:
            continue
        src = root / path.lstrip("/")
        if src.is_symlink():
            target = os.readlink(src)
            entries[path] = Entry(path, "symlink", target)
            todo.append(os.path.normpath(os.path.join(os.path.dirname(path), target)))
            continue
        if not src.is_file():
            raise SystemExit(f"{path} is not in the unpacked Debian packages ({root})")
        mode = stat.S_IMODE(src.stat().st_mode)
        if is_elf(src) and is_dynamic(src):
            for e in art.elf_closure(root, path):
                entries.setdefault(e.path, e)
            entries[path] = Entry(path, "file", str(src), mode)
        else:
            entries[path] = Entry(path, "file", str(src), mode)
    return list(entries.values())


def tree(src: Path, dst: str, mode_dirs: int = 0o755) -> list[Entry]:
    """Every file and symlink under SRC, placed under DST in the image (modes kept, owner
    root). Read-only sources are fine: modes are taken from the files, not the folders."""
    out = []
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        path = f"{dst.rstrip('/')}/{rel}"
        if p.is_symlink():
            out.append(Entry(path, "symlink", os.readlink(p)))
        elif p.is_dir():
            out.append(Entry(path, "dir", mode=mode_dirs))
        else:
            executable = p.stat().st_mode & 0o111
            out.append(Entry(path, "file", str(p), 0o755 if executable else 0o644))
    return out


PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SKIP_CTLB_CLEANUP = "FELIX_DebugSkipCTLBCleanup=true"
PASSWD = art.PASSWD + "calico:x:10001:10001:calico:/nonexistent:/sbin/nologin\n"
GROUP = art.GROUP + "calico:x:10001:\n"


def base(ca_bundle: str, license_file: str) -> list[Entry]:
    """What the upstream images' base (calico/base: UBI minimal) gives the Go programs."""
    return [
        Entry("/etc/passwd", "file", "text:" + PASSWD, 0o644),
        Entry("/etc/group", "file", "text:" + GROUP, 0o644),
        Entry("/etc/ssl/certs/ca-certificates.crt", "file", ca_bundle, 0o644),
        # UBI's CA bundle path; Go also finds the Debian one above.
        Entry("/etc/pki/tls/certs/ca-bundle.crt", "symlink", "/etc/ssl/certs/ca-certificates.crt"),
        Entry("/tmp", "dir", mode=0o1777),
        Entry("/licenses/LICENSE", "file", license_file, 0o644),
    ]


# The node image's programs from Debian (what upstream installs from UBI/AlmaLinux packages,
# node/Dockerfile): the shells and tools of the runit scripts (node/filesystem), runit itself,
# and the network tools felix and the startup code run (ip, nft, iptables/ip6tables in both
# backends, ipset, conntrack, kmod for ip6tables-save's module probe, sysctl, pkill, arp).
NODE_DEBIAN = [
    "/bin/sh",
    "/bin/dash",
    "/bin/bash",
    "/usr/bin/which.debianutils",
    *(
        f"/bin/{c}"
        for c in [
            "cat",
            "cp",
            "chmod",
            "chown",
            "date",
            "echo",
            "ln",
            "ls",
            "mkdir",
            "mv",
            "readlink",
            "rm",
            "rmdir",
            "sleep",
            "sync",
            "touch",
            "true",
            "false",
            "uname",
            "mktemp",
            "grep",
            "sed",
        ]
    ),
    *(
        f"/usr/bin/{c}"
        for c in [
            "env",
            "tee",
            "head",
            "tail",
            "cut",
            "tr",
            "sort",
            "wc",
            "id",
            "diff",
            "find",
            "xargs",
        ]
    ),
    *(f"/usr/bin/{c}" for c in ["runsvdir", "runsv", "sv", "svlogd", "chpst"]),
    "/bin/ip",
    "/sbin/tc",
    "/usr/sbin/nft",
    "/usr/sbin/xtables-nft-multi",
    "/usr/sbin/xtables-legacy-multi",
    "/usr/sbin/ipset",
    "/usr/sbin/conntrack",
    "/bin/kmod",
    "/sbin/sysctl",
    "/bin/ps",
    "/usr/bin/pkill",
    "/usr/bin/pgrep",
    "/usr/sbin/arp",
    "/bin/ping",
]

XTABLES = [
    f"{fam}tables{variant}{op}"
    for fam in ("ip", "ip6")
    for variant in ("-nft", "-legacy")
    for op in ("", "-save", "-restore")
]


def node_links() -> list[Entry]:
    """Links that Debian's maintainer scripts (update-alternatives) or upstream's image make."""
    links = [Entry("/usr/bin/which", "symlink", "which.debianutils")]
    for name in XTABLES:
        multi = "xtables-nft-multi" if "-nft" in name else "xtables-legacy-multi"
        links.append(Entry(f"/usr/sbin/{name}", "symlink", multi))
    # Plain iptables is the nft backend, as in upstream's image (iptables-nft from AlmaLinux).
    for fam in ("ip", "ip6"):
        for op in ("", "-save", "-restore"):
            links.append(Entry(f"/usr/sbin/{fam}tables{op}", "symlink", "xtables-nft-multi"))
    for tool in ("modprobe", "lsmod", "insmod", "rmmod"):
        links.append(Entry(f"/sbin/{tool}", "symlink", "/bin/kmod"))
    return links


def image_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """SPEC: {"out_dir", "refs": {name: ref}, "origins": {name: text}, "calico", "mountns",
    "bird_dir", "debian_root", "node_filesystem", "confd_dir" (or ""), "typha_cfg", "license", "ca_bundle",
    "cni_plugins": {name: path}, "install_cni_plugins", "operator"}."""
    refs, origins = spec["refs"], spec["origins"]
    b = base(spec["ca_bundle"], spec["license"])
    calico = spec["calico"]
    fs = Path(spec["node_filesystem"])
    bird = Path(spec["bird_dir"])
    debian = Path(spec["debian_root"])

    node_entries = [
        *b,
        Entry("/usr/bin/calico", "file", calico, 0o755),
        Entry("/bin/mountns", "file", spec["mountns"], 0o755),
        *(Entry(f"/bin/{n}", "file", str(bird / n), 0o755) for n in ("bird", "bird6")),
        *(Entry(f"/bin/{n}", "file", str(bird / n), 0o755) for n in ("birdcl", "birdcl6")),
        *from_debian(debian, NODE_DEBIAN),
        *node_links(),
        # node/filesystem as upstream copies it: etc/ to /etc, sbin/ to /usr/sbin.
        *tree(fs / "etc", "/etc"),
        *tree(fs / "sbin", "/usr/sbin"),
        # confd's BIRD templates (conf.d/*.toml, templates/*.template) where the sources have
        # them (see build-calico.sh: the snapshot lacks them); confd writes config/.
        *(
            [
                *tree(Path(spec["confd_dir"]) / "conf.d", "/etc/calico/confd/conf.d"),
                *tree(Path(spec["confd_dir"]) / "templates", "/etc/calico/confd/templates"),
            ]
            if spec["confd_dir"]
            else []
        ),
        Entry("/etc/calico/confd/config", "dir"),
        Entry("/var/run/calico", "dir"),
        Entry("/var/lib/calico", "dir"),
        Entry("/var/log/calico", "dir"),
    ]
    images = [
        {
            "name": "node",
            "entries": node_entries,
            # node/Dockerfile: ENV SVDIR, CMD ["start_runit"] (found through PATH). Stand-in:
            # this calico binary has no libbpf (UNAVAILABLE below), and felix with the nftables
            # dataplane still removes eBPF connect-time load balancers at start, through libbpf
            # (felix/bpf/nat/connecttime.go): the stub panics. Felix's own switch for skipping
            # that cleanup is set in the image, never by kube6; the cleanup has nothing to
            # remove on a node that never ran the eBPF dataplane.
            "config": {
                "Cmd": ["start_runit"],
                "Env": [PATH_ENV, "SVDIR=/etc/service/enabled", SKIP_CTLB_CLEANUP],
            },
        },
        {
            "name": "calico",
            # docker/calico/Dockerfile: /usr/bin/calico with calicoctl and calico-ipam links,
            # typha.cfg, user 10001. (csi-node-driver-registrar: see tests/e2e/README.md.)
            "entries": [
                *b,
                Entry("/usr/bin/calico", "file", calico, 0o755),
                Entry("/usr/bin/calicoctl", "symlink", "calico"),
                Entry("/usr/bin/calico-ipam", "symlink", "calico"),
                Entry("/etc/calico/typha.cfg", "file", spec["typha_cfg"], 0o644),
            ],
            "config": {
                "Entrypoint": ["/usr/bin/calico"],
                "Env": [PATH_ENV],
                "User": "10001:10001",
            },
        },
        {
            "name": "third-party-cni-plugins",
            # third_party/cni-plugins/Dockerfile: /plugins/* and the staging entrypoint.
            "entries": [
                *b,
                *(
                    Entry(f"/plugins/{name}", "file", path, 0o755)
                    for name, path in sorted(spec["cni_plugins"].items())
                ),
                Entry(
                    "/usr/local/bin/install-cni-plugins", "file", spec["install_cni_plugins"], 0o755
                ),
            ],
            "config": {"Entrypoint": ["/usr/local/bin/install-cni-plugins"], "Env": [PATH_ENV]},
        },
        {
            "name": "operator",
            # tigera/operator build/Dockerfile: /usr/bin/operator, user 10001.
            "entries": [
                *b,
                Entry("/usr/bin/operator", "file", spec["operator"], 0o755),
            ],
            "config": {
                "Entrypoint": ["/usr/bin/operator"],
                "Env": [PATH_ENV],
                "User": "10001:10001",
            },
        },
    ]
    for image in images:
        name = image["name"]
        image["ref"] = refs[name]
        image["origin"] = origins[name]
        image["out"] = str(Path(spec["out_dir"]) / f"{art.slug(refs[name])}.tar")
    return images


def cmd_images(spec_json: str) -> None:
    """Build every image whose archive is missing or was made from other inputs; print the
    index entries of all of them (as build-artifacts.sh's `images`)."""
    done = []
    for image in image_specs(json.loads(spec_json)):
        image["entries"] = [e.__dict__ for e in image["entries"]]
        out = Path(image["out"])
        stamp = out.with_name(f".{out.name}.inputs")
        key = art.inputs_key(image)
        if out.exists() and stamp.exists() and stamp.read_text() == key:
            entry = json.loads(out.with_name(f".{out.name}.entry").read_text())
            print(f"{image['ref']}: cached", file=sys.stderr)
        else:
            entry = art.build_image(image)
            out.with_name(f".{out.name}.entry").write_text(json.dumps(entry))
            stamp.write_text(key)
            print(f"{image['ref']}: built {out}", file=sys.stderr)
        done.append(entry)
    print(json.dumps(done))


# ---------------------------------------------------------------------------------------------
# Shared index files and the manifest, merged under build-artifacts.sh's lock (art.locked): this
# script's entries replace its own earlier ones, every other builder's stay as they are.


def merge(existing: list[dict[str, Any]], mine: list[dict[str, Any]], key: str) -> list[Any]:
    names = {m[key] for m in mine}
    kept = [e for e in existing if e.get(key) not in names and e.get("builder") != BUILDER]
    return sorted([*kept, *[{**m, "builder": BUILDER} for m in mine]], key=lambda e: str(e[key]))


def cmd_index(kind: str, cache: str, items_json: str) -> None:
    """KIND: images | charts | files; ITEMS_JSON: this script's entries (key: ref or url)."""
    root = Path(cache)
    key = "url" if kind in ("files", "apt") else "ref"
    path = root / kind / "index.json"
    with art.locked(root):
        existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        art._write_json(path, merge(existing, json.loads(items_json), key))


UNAVAILABLE = [
    {
        "name": "libbpf and felix's eBPF programs in quay.io/calico/{node,calico} (cgo build)",
        "version": "libbpf v1.6.2 (metadata.mk LIBBPF_VERSION)",
        "tried": "Debian bookworm's libbpf-dev is 1.1.2; upstream clones libbpf v1.6.2 from "
        "github.com (unreachable, not in ../shared/upstream) and compiles felix/bpf-gpl with clang",
        "why": "cmd/calico is built with CGO_ENABLED=0 (libbpf stub): no eBPF dataplane, and the "
        "node image sets FELIX_DebugSkipCTLBCleanup=true so that felix skips the start-up "
        "removal of eBPF connect-time load balancers, which calls libbpf (the stub panics). "
        "Unblocked by github.com/libbpf/libbpf v1.6.2 in ../shared/upstream",
    },
    {
        "name": "quay.io/calico/whisker (Whisker's web UI: nginx and a web app)",
        "version": "v3.33.1",
        "tried": "nothing: not a Go program (npm build of whisker/ and an nginx image)",
        "why": "not built; the operator deploys it only with the chart's `whisker.enabled: true` "
        "(the default): kube6 should render `whisker: {enabled: false}` (tests/e2e/README.md)",
    },
    {
        "name": "confd's BIRD templates in quay.io/calico/node",
        "version": "release-v3.33 6609dea5",
        "tried": "../shared/upstream/src/calico-release-v3.33/confd/etc/calico/confd/{conf.d,"
        "templates}: text files naming symlink targets under node/filesystem/etc/calico/confd, "
        "which the snapshot lacks; the only other copy here, the Go module proxy's "
        "github.com/projectcalico/calico v1.11.0-cni-plugin.0.20250813170300-a0db560f0520 "
        "(master, 2025-08-13), has templates for an older confd (they call getenv, hashToIPv4 "
        "and bgpFilterFunctionName, which 3.33's confd removed) and its own confd does not build "
        "without github.com/projectcalico/api at that commit (not served)",
        "why": "confd renders no bird.cfg/bird6.cfg, so BIRD does not run in calico-node: no BGP "
        "mesh between nodes and no upstream peering until the snapshot includes them",
    },
    {
        "name": "tigera-operator's embedded Istio (1.29.2) and Envoy Gateway (gateway-helm v1.8.3) "
        "charts",
        "version": "operator release-v1.44",
        "tried": "Istio: not on the Go module proxy (no semver tags); gateway-helm: downloaded by "
        "upstream's Makefile from oci://docker.io",
        "why": "replaced by placeholder files: the operator's Istio and GatewayAPI resources fail "
        "to load their chart (kube6 creates neither)",
    },
    {
        "name": "flannel CNI plugin in quay.io/calico/third-party-cni-plugins; "
        "csi-node-driver-registrar in quay.io/calico/calico",
        "version": "v3.33.1",
        "tried": "github.com/flannel-io/cni-plugin@v1.2.0 on the Go module proxy (403); "
        "the registrar: not attempted (CSI is off in the chart's defaults)",
        "why": "flannel is unused with Calico CNI; CSI runs only with kubeletVolumePluginPath set",
    },
]
"""What the operator can deploy for kube6 that this script does not build, in manifest.json."""


def cmd_manifest(cache: str, entries_jsonl: str) -> None:
    root = Path(cache)
    mine = [json.loads(line) for line in Path(entries_jsonl).read_text().splitlines() if line]
    for m in mine:
        path = root / m["path"]
        if path.is_file():
            m["sha256"] = art.sha256_file(path)
        elif not path.exists():
            raise SystemExit(f"manifest entry {m['name']}: {path} does not exist")
    path = root / "manifest.json"
    with art.locked(root):
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        artifacts = merge(data.get("artifacts", []), mine, "path")
        unavailable = merge(data.get("unavailable", []), UNAVAILABLE, "name")
        art._write_json(path, {**data, "artifacts": artifacts, "unavailable": unavailable})


COMMANDS: dict[str, Callable[..., None]] = {
    "pins": cmd_pins,
    "versions-yml": cmd_versions_yml,
    "images": cmd_images,
    "index": cmd_index,
    "manifest": cmd_manifest,
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    # art's images name their builder (history, index entry): in this process, this script.
    art.BUILDER = BUILDER
    COMMANDS[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
