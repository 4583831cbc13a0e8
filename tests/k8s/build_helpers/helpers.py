"""Small helpers for tests/k8s/build.sh (stdlib only; run with python3).

Subcommands:
  pins REPO_ROOT                       print shell assignments for the pins in src/kube6/versions.py
  k8s-replaces STAGING_VERSION         read `go mod edit -json` of k8s.io/kubernetes on stdin and print
                                       one `-replace=MOD=MOD@STAGING_VERSION` per staging module
  set-chart-version CHART VER APPVER   set `version:` and `appVersion:` in CHART/Chart.yaml
  subst TEMPLATE OUT KEY=VALUE...      replace ${KEY} in TEMPLATE, write OUT; fail if a ${...} is left
  manifest CACHE ENTRIES_TSV OUT       write the manifest JSON from the tab-separated entries
  shared-origin README PATH            print repository, ref, commit and date (tab-separated) of
                                       PATH in the upstream snapshot, from its README's table
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable

# Pins the k8s tier uses: shell variable prefix -> attribute of kube6.versions.
PINS = {
    "KUBERNETES": "KUBERNETES",
    "ETCD": "ETCD",
    "HELM": "HELM",
    "KWOK": "KWOK",
    "GATEWAY_API": "GATEWAY_API",
    "CERT_MANAGER": "CERT_MANAGER",
    "ENVOY_GATEWAY": "ENVOY_GATEWAY",
    "CALICO": "CALICO",
    "HEADLAMP": "HEADLAMP",
}


def cmd_pins(repo: str) -> None:
    sys.path.insert(0, os.path.join(repo, "src"))
    from kube6 import versions

    for var, attr in PINS.items():
        pin = getattr(versions, attr)
        print(f"{var}_VERSION={shlex.quote(pin.version)}")


def cmd_k8s_replaces(staging_version: str) -> None:
    mod = json.load(sys.stdin)
    required = {r["Path"] for r in mod.get("Require") or []}
    out = []
    for rep in mod.get("Replace") or []:
        old = rep["Old"]["Path"]
        new = rep["New"]["Path"]
        # Staging modules are replaced by a local directory ./staging/src/k8s.io/<name>.
        if not new.startswith("./staging/") and not new.startswith("staging/"):
            continue
        if old not in required:
            # e.g. k8s.io/sample-controller: replaced but not required, so not in the build graph
            # (and not necessarily published at STAGING_VERSION).
            continue
        out.append(f"-replace={old}={old}@{staging_version}")
    if not out:
        sys.exit("no staging replace directives found in k8s.io/kubernetes go.mod")
    print("\n".join(out))


def cmd_set_chart_version(chart: str, version: str, app_version: str) -> None:
    path = os.path.join(chart, "Chart.yaml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for key, val in (("version", version), ("appVersion", app_version)):
        text, n = re.subn(rf"(?m)^{key}:.*$", f'{key}: "{val}"', text, count=1)
        if n != 1:  # e.g. tigera-operator has no appVersion
            text = text.rstrip("\n") + f'\n{key}: "{val}"\n'
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def cmd_subst(template: str, out: str, *pairs: str) -> None:
    values = dict(p.split("=", 1) for p in pairs)
    with open(template, encoding="utf-8") as f:
        text = f.read()

    def repl(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            sys.exit(f"{template}: no value for ${{{key}}}")
        return values[key]

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", repl, text)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_manifest(cache: str, entries_tsv: str, out: str) -> None:
    fields = [
        "kind",
        "name",
        "version",
        "path",
        "origin_module",
        "origin_version",
        "origin_path",
        "note",
        "origin_commit",
        "origin_date",
        "copied_from",
    ]
    artifacts, unavailable = [], []
    with open(entries_tsv, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line:
                continue
            row = dict(zip(fields, line.split("\t"), strict=False))
            if row["kind"] == "unavailable":
                unavailable.append(
                    {
                        "name": row["name"],
                        "pinned_version": row["version"],
                        "tried": row["origin_module"],
                        "reason": row["note"],
                    }
                )
                continue
            origin: dict[str, str] = {
                "module": row["origin_module"],
                "version": row["origin_version"],
                "path_in_module": row["origin_path"],
            }
            if row.get("copied_from"):
                # Not a Go module: a folder of the upstream snapshot (../shared/upstream).
                origin = {
                    "repository": row["origin_module"],
                    "ref": row["origin_version"],
                    "commit": row["origin_commit"],
                    "date": row["origin_date"],
                    "path_in_repository": row["origin_path"],
                    "copied_from": row["copied_from"],
                }
            entry = {
                "kind": row["kind"],
                "name": row["name"],
                "version": row["version"],
                "path": row["path"],
                "origin": origin,
            }
            if row.get("note"):
                entry["note"] = row["note"]
            full = os.path.join(cache, row["path"])
            if os.path.isfile(full):
                entry["sha256"] = _sha256(full)
            elif os.path.isdir(full):
                entry["files"] = sorted(
                    os.path.relpath(os.path.join(d, n), full)
                    for d, _, names in os.walk(full)
                    for n in names
                )
            artifacts.append(entry)
    doc = {
        "generated_by": "tests/k8s/build.sh",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cache": os.path.abspath(cache),
        "artifacts": artifacts,
        "unavailable": unavailable,
    }
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, out)


def cmd_shared_origin(readme: str, path: str) -> None:
    """The README's table row whose folder holds `path`: | `folder` | what | source | ref | commit | date |.

    `source` is `github.com/OWNER/REPO ...` or `same repo ...`/`same` (the row above's); `ref`
    is `branch X` or `tag X` (or `same`).
    """
    rows: list[tuple[str, str, str, str, str]] = []
    last = ("", "", "", "")
    with open(readme, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 6 or not cells[0].startswith("`"):
                continue
            folder = cells[0].strip("`")
            repo = re.search(r"github\.com/[\w.-]+/[\w.-]+", cells[2])
            ref = re.search(r"(?:branch|tag) `([^`]+)`", cells[3])
            commit = re.search(r"\b[0-9a-f]{40}\b", cells[4])
            date = re.search(r"\d{4}-\d{2}-\d{2}", cells[5])
            current = (
                repo.group(0) if repo else last[0],
                ref.group(1) if ref else last[1],
                commit.group(0) if commit else last[2],
                date.group(0) if date else last[3],
            )
            if not all(current):
                sys.exit(f"{readme}: cannot read the origin of {folder!r} from: {line.strip()}")
            last = current
            rows.append((folder.rstrip("/"), *current))
    for folder, *origin in sorted(rows, key=lambda r: -len(r[0])):
        if path == folder or path.startswith(folder + "/"):
            print("\t".join(origin))
            return
    sys.exit(f"{readme}: no row for {path}")


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    commands: dict[str, Callable[..., None]] = {
        "pins": cmd_pins,
        "k8s-replaces": cmd_k8s_replaces,
        "set-chart-version": cmd_set_chart_version,
        "subst": cmd_subst,
        "manifest": cmd_manifest,
        "shared-origin": cmd_shared_origin,
    }
    commands[cmd](*args)


if __name__ == "__main__":
    main(sys.argv[1:])
