"""Helpers of tests/e2e/build-addons.sh (stdlib only; run with python3).

Subcommands:
  pins REPO_ROOT                   shell assignments: CERT_MANAGER_VERSION, HEADLAMP_VERSION,
                                   TRAEFIK_VERSION
  drop-lego-providers FILE NAME... remove DNS-01 providers from lego's zz_gen_dns_providers.go
  images SPEC_JSON                 build the add-on images SPEC_JSON describes (see image_specs)
  index KIND CACHE ITEMS_JSON      merge this script's entries into CACHE/KIND/index.json
  manifest CACHE ENTRIES_JSONL [full|partial]
                                   merge this script's entries into CACHE/manifest.json

The image archives are written by build-artifacts.sh's code (build_helpers/art.py), so
tests/e2e/artifacts.py loads them alike; only the builder differs.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.e2e.build_helpers import art
from tests.e2e.build_helpers.art import Entry
from tests.e2e.build_helpers.calico import tree

BUILDER = "build-addons.sh"

HEADLAMP_UID = 100
HEADLAMP_GID = 101
"""The user of upstream's image (alpine `adduser -S headlamp`), which the chart's
securityContext names (runAsUser: 100, runAsGroup: 101)."""


def cmd_pins(repo: str) -> None:
    sys.path.insert(0, os.path.join(repo, "src"))
    from kube6 import versions

    print(f"CERT_MANAGER_VERSION={shlex.quote(versions.CERT_MANAGER.version)}")
    print(f"HEADLAMP_VERSION={shlex.quote(versions.HEADLAMP.version)}")
    print(f"TRAEFIK_VERSION={shlex.quote(versions.TRAEFIK.version)}")


def drop_lego_providers(text: str, names: list[str]) -> str:
    """lego's generated provider table without NAMES: their import lines and `case` branches.
    Fails when a name is not found (the table changed shape: look again)."""
    lines, out, i = text.split("\n"), [], 0
    found: set[str] = set()
    while i < len(lines):
        line = lines[i].strip()
        name = next(
            (n for n in names if line == f'"github.com/go-acme/lego/v5/providers/dns/{n}"'), None
        )
        if name:
            found.add(name)
            i += 1
            continue
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        name = next((n for n in names if nxt == f"return {n}.NewDNSProvider()"), None)
        if line.startswith("case ") and name:
            found.add(name + ":case")
            i += 2
            continue
        out.append(lines[i])
        i += 1
    missing = [n for n in names if n not in found or f"{n}:case" not in found]
    if missing:
        raise SystemExit(f"lego providers not found in the table: {missing}")
    return "\n".join(out)


def cmd_drop_lego_providers(path: str, *names: str) -> None:
    p = Path(path)
    p.write_text(drop_lego_providers(p.read_text(encoding="utf-8"), list(names)))


PASSWD = art.PASSWD + f"headlamp:x:{HEADLAMP_UID}:{HEADLAMP_GID}:headlamp:/headlamp:/sbin/nologin\n"
GROUP = art.GROUP + f"headlamp:x:{HEADLAMP_GID}:headlamp\n"


def image_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """SPEC: {"out_dir", "ca_bundle", "refs": {name: ref}, "origins": {name: text},
    "traefik", "headlamp_server", "headlamp_frontend" (a folder, or "" when not built)}."""
    refs, origins = spec["refs"], spec["origins"]
    base = art.base_entries(spec["ca_bundle"])
    headlamp_base = [e for e in base if e.path not in ("/etc/passwd", "/etc/group")] + [
        Entry("/etc/passwd", "file", "text:" + PASSWD, 0o644),
        Entry("/etc/group", "file", "text:" + GROUP, 0o644),
    ]
    uid, gid = HEADLAMP_UID, HEADLAMP_GID
    frontend = (
        [
            Entry(e.path, e.kind, e.source, e.mode, uid=uid, gid=gid)
            for e in tree(Path(spec["headlamp_frontend"]), "/headlamp/frontend")
        ]
        if spec["headlamp_frontend"]
        else [Entry("/headlamp/frontend", "dir", mode=0o755, uid=uid, gid=gid)]
    )
    images = [
        {
            "name": "traefik",
            # traefik's Dockerfile: alpine + ca-certificates + tzdata, /traefik, EXPOSE 80.
            "entries": [*base, Entry("/traefik", "file", spec["traefik"], 0o755)],
            "config": {
                "Entrypoint": ["/traefik"],
                "Env": [art.PATH_ENV],
                "ExposedPorts": {"80/tcp": {}},
                "Volumes": {"/tmp": {}},
            },
        },
        {
            "name": "headlamp",
            # headlamp's Dockerfile: /headlamp/{headlamp-server,frontend,plugins,static-plugins},
            # owned by and run as headlamp, the same entrypoint and port.
            "entries": [
                *headlamp_base,
                Entry("/headlamp", "dir", mode=0o755, uid=uid, gid=gid),
                Entry(
                    "/headlamp/headlamp-server",
                    "file",
                    spec["headlamp_server"],
                    0o755,
                    uid=uid,
                    gid=gid,
                ),
                *frontend,
                Entry("/headlamp/plugins", "dir", mode=0o755, uid=uid, gid=gid),
                Entry("/headlamp/static-plugins", "dir", mode=0o755, uid=uid, gid=gid),
            ],
            "config": {
                "Entrypoint": [
                    "/headlamp/headlamp-server",
                    "-html-static-dir",
                    "/headlamp/frontend",
                    "-plugins-dir",
                    "/headlamp/plugins",
                ],
                "Env": [art.PATH_ENV, "HEADLAMP_STATIC_PLUGINS_DIR=/headlamp/static-plugins"],
                "ExposedPorts": {"4466/tcp": {}},
                "User": "headlamp",
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
    index entries of all of them."""
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


def cmd_index(kind: str, cache: str, items_json: str) -> None:
    """KIND: images | files; this script's entries replace its own earlier ones."""
    root = Path(cache)
    key = "url" if kind in ("files", "apt") else "ref"
    path = root / kind / "index.json"
    with art.locked(root):
        existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        art._write_json(path, art.merge(existing, json.loads(items_json), key))


UNAVAILABLE = [
    {
        "name": "cert-manager images from the cmd/* modules (build-addons.sh re-check)",
        "version": "v1.21.2",
        "tried": "go list -m -versions github.com/cert-manager/cert-manager/cmd/{controller,webhook,"
        "cainjector,acmesolver,startupapicheck} and .../{controller,...}-binary (the module paths "
        "their go.mod files declare): 404 on the Go module proxy; the root module "
        "github.com/cert-manager/cert-manager@v1.21.2 downloads, but its zip leaves the nested "
        "cmd/* modules out (a module zip never holds nested modules), and their `app` packages "
        "(flags, options, controller start-up) live only there",
        "why": "no source of cmd/* at v1.21.2 here: the nested modules' paths "
        "(github.com/cert-manager/cert-manager/controller-binary, ...) do not match their folders "
        "(cmd/controller), so no Go module proxy can serve them; unblocked by a source snapshot of "
        "github.com/cert-manager/cert-manager tag v1.21.2 in ../shared/upstream/src (each cmd/* "
        "module replaces the root module with ../../)",
    },
    {
        "name": "Headlamp's static plugins (/headlamp/static-plugins: prometheus 0.9.0)",
        "version": "0.43.0",
        "tried": "nothing: container/fetch-plugins.sh downloads release archives from github.com",
        "why": "github.com is not reachable; the image has an empty static-plugins folder",
    },
]
"""What the add-ons need that this script cannot build, listed in manifest.json."""


def cmd_manifest(cache: str, entries_jsonl: str, full: str = "full") -> None:
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
        artifacts = art.merge(data.get("artifacts", []), mine, "path", full=full == "full")
        unavailable = art.merge(data.get("unavailable", []), UNAVAILABLE, "name")
        art._write_json(path, {**data, "artifacts": artifacts, "unavailable": unavailable})


COMMANDS: dict[str, Callable[..., None]] = {
    "pins": cmd_pins,
    "drop-lego-providers": cmd_drop_lego_providers,
    "images": cmd_images,
    "index": cmd_index,
    "manifest": cmd_manifest,
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    # art's images, merges and entries name their builder: in this process, this script.
    art.BUILDER = BUILDER
    COMMANDS[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
