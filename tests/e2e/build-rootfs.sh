#!/usr/bin/env bash
# Builds the rootfs tarballs that the lab's real nodes boot (`kube6 lab up --real-nodes --os`,
# tests/e2e), one per release in kube6.lab.rootfs.OSES (Debian 12, Debian 13, Ubuntu 24.04),
# unless cached: ${KUBE6_E2E_CACHE:-~/.cache/kube6-e2e}/rootfs/<os>-<key>.tar, <key> naming
# its sources and package list (what a provider's fresh server of that release has, nothing of
# Kubernetes). mmdebstrap fetches the packages from deb.debian.org and archive.ubuntu.com
# (Ubuntu's key from Debian's ubuntu-keyring package). Also installs what real nodes need on
# this machine (systemd-container, mmdebstrap), and records each tarball in the cache's
# manifest.json.
#
#   sudo bash tests/e2e/build-rootfs.sh      # ~20-60 s a release cold, ~1 s warm
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

releases=$(uv run --quiet python -c 'from kube6.lab.rootfs import OSES; print(" ".join(OSES))')
for release in $releases; do
start=$SECONDS
info=$(uv run --quiet kube6 lab rootfs --os "$release" --output json)

# The cache's manifest (shared with build-artifacts.sh and build-calico.sh): only this
# release's entry is replaced, under the cache's index lock.
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
    "name": f"rootfs {info['os']}",
    "path": str(tarball.relative_to(cache)),
    "version": f"{info['os']} {info['key']}",
    "origin": "mmdebstrap --variant=minbase " + " ".join(info["packages"]) + " from "
    + "; ".join(info["sources"]) + f" (verified by {info['keyring']})",
    "sha256": digest.hexdigest(),
    "builder": "build-rootfs.sh",
}
with (cache / ".index.lock").open("a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    path = cache / "manifest.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    # This release's earlier entry (and the single entry of builds before releases) goes.
    kept = [
        a for a in data.get("artifacts", [])
        if not (a.get("builder") == entry["builder"] and a.get("name") in (entry["name"], "rootfs"))
        and a.get("path") != entry["path"]
    ]
    data["artifacts"] = sorted([*kept, entry], key=lambda a: str(a["path"]))
    tmp = path.with_name(f".tmp.manifest.json.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.rename(path)
PY

state=$(uv run --quiet python -c 'import json,sys; print("built" if json.loads(sys.argv[1])["built"] else "cached")' "$info")
path=$(uv run --quiet python -c 'import json,sys; print(json.loads(sys.argv[1])["path"])' "$info")
echo "rootfs $release: $state $path ($(du -h "$path" | cut -f1), $((SECONDS - start)) s) by mmdebstrap"
done
