#!/usr/bin/env bash
# Debian packages that tests/e2e/build-artifacts.sh builds with: apt-ftparchive (apt-utils) for
# the apt repositories, gpg to sign them, gcc and libc6-dev for the static pause binary,
# libseccomp-dev and pkg-config for runc, dpkg-dev for dpkg-deb. Idempotent; needs root only
# when something is missing. (busybox-static and nft's packages are not installed on the host:
# the build downloads their .debs with `apt-get download` and unpacks them into images.)
set -euo pipefail

packages=(apt-utils gnupg gcc libc6-dev libseccomp-dev pkg-config dpkg-dev xz-utils)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-build-deps.sh: missing Debian packages ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
