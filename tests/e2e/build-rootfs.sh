#!/usr/bin/env bash
# Builds the Debian 12 rootfs that the lab's real nodes boot (`kube6 lab up --real-nodes`,
# tests/e2e), unless it is cached: ${KUBE6_E2E_CACHE:-~/.cache/kube6-e2e}/rootfs/
# debian-12-<key>.tar, <key> naming its package list (kube6.lab.rootfs.PACKAGES: what a
# provider's fresh Debian server has, nothing of Kubernetes). mmdebstrap fetches the packages
# from deb.debian.org. Also installs what real nodes need on this machine (systemd-container,
# mmdebstrap), and records the tarball in the cache's manifest.json.
#
#   sudo bash tests/e2e/build-rootfs.sh      # ~1-2 min cold, ~1 s warm
#
# Idempotent; the build itself holds the cache's rootfs lock (rootfs/.rootfs.lock), so
# parallel runs build it once.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "build-rootfs.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap builds as root; nspawn needs root)"

CACHE=${KUBE6_E2E_CACHE:-$HOME/.cache/kube6-e2e}
export KUBE6_E2E_CACHE=$CACHE
mkdir -p "$CACHE/rootfs"

packages=(mmdebstrap systemd-container)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

start=$SECONDS
info=$(uv run --quiet kube6 lab rootfs --output json)

# The cache's manifest (shared with build-artifacts.sh and build-calico.sh): only this
# script's entry is replaced, under the cache's index lock.
uv run --quiet python - "$CACHE" "$info" <<'PY'
import fcntl, hashlib, json, os, sys
from pathlib import Path

cache, info = Path(sys.argv[1]), json.loads(sys.argv[2])
tarball = Path(info["path"])
digest = hashlib.sha256()
with tarball.open("rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
entry = {
    "name": "rootfs",
    "path": str(tarball.relative_to(cache)),
    "version": f"debian-12 {info['key']}",
    "origin": "mmdebstrap --variant=minbase " + " ".join(info["packages"]) + " from "
    + "; ".join(info["sources"]),
    "sha256": digest.hexdigest(),
    "builder": "build-rootfs.sh",
}
with (cache / ".index.lock").open("a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    path = cache / "manifest.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    kept = [
        a for a in data.get("artifacts", [])
        if a.get("builder") != entry["builder"] and a.get("path") != entry["path"]
    ]
    data["artifacts"] = sorted([*kept, entry], key=lambda a: str(a["path"]))
    tmp = path.with_name(f".tmp.manifest.json.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.rename(path)
PY

state=$(uv run --quiet python -c 'import json,sys; print("built" if json.loads(sys.argv[1])["built"] else "cached")' "$info")
path=$(uv run --quiet python -c 'import json,sys; print(json.loads(sys.argv[1])["path"])' "$info")
echo "rootfs: $state $path ($(du -h "$path" | cut -f1), $((SECONDS - start)) s) from Debian bookworm by mmdebstrap"
