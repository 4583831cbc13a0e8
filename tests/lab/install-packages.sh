#!/usr/bin/env bash
# Installs the Debian packages that the network-namespace lab (tests/lab, kube6.lab) runs:
# ndppd (NDP proxy), tayga (NAT64), unbound (DNS64 resolver and the lab's authoritative names),
# openssh-server/-client (remote execution), sudo (non-root SSH users), busybox (its applets
# stand in for the pinned busybox probe image of `kube6 verify`), radvd and ndisc6 (router
# advertisements for `kube6 check`'s link model), bird2 (the provider's BGP router for
# `kube6 check`'s bgp-peer), and the tools the tests drive.
# Idempotent: does nothing when every package is already installed. Needs root.
set -euo pipefail

packages=(
  ndppd tayga unbound openssh-server openssh-client iproute2 iputils-ping nftables
  dnsutils netcat-openbsd procps sudo busybox radvd ndisc6 bird2
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-packages.sh: run as root (apt-get install needs it)" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "lab packages already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# policy-rc.d keeps the packages' own services from starting on the host: the lab starts every
# daemon itself, inside its namespaces, and the host must not get a second resolver or proxy.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
trap 'if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi' EXIT
apt-get install -y --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
