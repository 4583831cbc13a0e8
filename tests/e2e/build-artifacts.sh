#!/usr/bin/env bash
# Build every non-Calico artifact that `kube6 up` installs, at the versions kube6 pins, into the
# shared e2e cache, so that the lab's internet can serve them through kube6's `mirrors` settings
# exactly as the real sources would be used. See tests/e2e/README.md ("Artifacts").
#
#   bash tests/e2e/build-artifacts.sh            # build what is missing, verify what is there
#
# What comes from where (nothing is downloaded but Go modules and Debian packages):
#   - Go programs from their Go modules (Go module proxy); kubeadm, kubectl, kube-apiserver,
#     kube-controller-manager, etcd and helm are taken from the k8s tier's cache
#     (tests/k8s/build.sh, ~/.cache/kube6-k8s), never rebuilt here;
#   - runc's libseccomp, nft (kube-proxy image), busybox (probe image), ca-certificates: Debian;
#   - pause: `gcc -static` of build/pause/linux/pause.c from the k8s.io/kubernetes module zip;
#   - packages (.deb) with the names, versions, files and dependencies of pkgs.k8s.io and
#     download.docker.com, in apt repositories of the same layouts signed with a lab key;
#   - OCI image archives with the exact references kubeadm and kube6 use; charts; helm tarball.
#
# Environment: KUBE6_E2E_CACHE (default ~/.cache/kube6-e2e), KUBE6_K8S_CACHE (the k8s tier's
# cache, default ~/.cache/kube6-k8s), GO, GOPROXY/GOMODCACHE/GOCACHE as usual.
# Needs root only to install missing Debian build packages (install-build-deps.sh).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
HELPERS="$SCRIPT_DIR/build_helpers/art.py"
CACHE=${KUBE6_E2E_CACHE:-$HOME/.cache/kube6-e2e}
K8S_CACHE=${KUBE6_K8S_CACHE:-$HOME/.cache/kube6-k8s}
ME="build-artifacts.sh"

T_START=$(date +%s)
TIMINGS=()

log() { printf '[%s %s] %s\n' "$ME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$ME" "$*" >&2; exit 1; }
# Never end silently: name the command and line that failed.
set -E
trap 'printf "[%s] ERROR: line %s: %s failed\n" "$ME" "$LINENO" "$BASH_COMMAND" >&2' ERR

step() {
  local name=$1 t0
  shift
  t0=$(date +%s)
  log "-- $name"
  "$@"
  TIMINGS+=("$(printf '%-40s %5ss' "$name" "$(($(date +%s) - t0))")")
}

# ---------------------------------------------------------------------------------------------
# Prerequisites.

command -v python3 >/dev/null || die "python3 is required"
bash "$SCRIPT_DIR/install-build-deps.sh" >&2 \
  || die "the Debian build packages are missing; run tests/e2e/install-build-deps.sh as root"

GO=${GO:-$(command -v go || true)}
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
[[ -n "$GO" && -x "$GO" ]] || die "Go is not installed (set GO=/path/to/go)"
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-buildvcs=false"

eval "$(python3 "$HELPERS" pins "$REPO_ROOT")" || die "cannot read the pins from src/kube6/versions.py"
K8S_V=$KUBERNETES_VERSION                       # v1.37.2
K8S_STAGING_V="v0.${K8S_V#v1.}"                 # v0.37.2
K8S_MAJOR=${K8S_V#v}; K8S_MAJOR=${K8S_MAJOR%%.*}
K8S_MINOR=${K8S_V#v*.}; K8S_MINOR=${K8S_MINOR%%.*}
DEB_K8S_V=${K8S_V#v}                            # 1.37.2
HELM_MAJOR=${HELM_VERSION#v}; HELM_MAJOR=${HELM_MAJOR%%.*}
# crane (go-containerregistry) is a build tool of this tier, not something kube6 installs.
CRANE_MODULE=github.com/google/go-containerregistry
CRANE_VERSION=v0.22.1

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
BUILT="$CACHE/build"          # binaries built here: build/<name>-<version>/...
mkdir -p "$BUILT" "$CACHE"/{apt,images,charts,files,bin,keys}

# This script's part of the cache, one run at a time (build-calico.sh has its own lock; the
# shared index files are merged under $CACHE/.index.lock by the helper).
exec 9>"$CACHE/.build-artifacts.lock"
flock -w 7200 9 || die "could not lock $CACHE/.build-artifacts.lock"
find "$BUILT" "$CACHE"/{apt,images,charts,files,bin} -maxdepth 2 -name '.tmp.*' -exec rm -rf {} + 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube6-e2e-art.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ENTRIES="$WORK/entries.jsonl"   # manifest entries, one JSON object a line (helper `entry`)
: >"$ENTRIES"
export KUBE6_E2E_ENTRIES=$ENTRIES

log "cache: $CACHE (k8s tier: $K8S_CACHE); Go $("$GO" env GOVERSION), GOPROXY=$("$GO" env GOPROXY)"

mod_json() { (cd "$WORK" && "$GO" mod download -json "$1@$2") || die "go mod download $1@$2 failed"; }
mod_dir() { mod_json "$1" "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'; }

# Versions kubeadm deploys (its constants), read from the pinned kubeadm itself.
K8S_BIN="$K8S_CACHE/bin"
need_k8s_tier() {
  local f
  for f in "$@"; do
    [[ -x "$K8S_BIN/$f" ]] || die "$K8S_BIN/$f is missing: run tests/k8s/build.sh first (this script reuses the k8s tier's binaries)"
  done
}
need_k8s_tier "kubeadm-$K8S_V"
mapfile -t KUBEADM_IMAGES < <("$K8S_BIN/kubeadm-$K8S_V" config images list --kubernetes-version "$K8S_V" 2>/dev/null)
((${#KUBEADM_IMAGES[@]} >= 7)) || die "kubeadm config images list gave: ${KUBEADM_IMAGES[*]}"
image_tag() { local i; for i in "${KUBEADM_IMAGES[@]}"; do [[ "$i" == *"/$1:"* ]] && { echo "${i##*:}"; return; }; done; die "kubeadm lists no $1 image"; }
COREDNS_TAG=$(image_tag coredns)                # v1.14.6
PAUSE_TAG=$(image_tag pause)                    # 3.10.2
ETCD_TAG=$(image_tag etcd)                      # 3.7.0-0
[[ "registry.k8s.io/pause:$PAUSE_TAG" == "$PAUSE_VERSION" ]] \
  || die "kubeadm wants registry.k8s.io/pause:$PAUSE_TAG but kube6.versions.PAUSE is $PAUSE_VERSION"
[[ "${ETCD_TAG%-*}" == "${ETCD_VERSION#v}" ]] \
  || die "kubeadm deploys etcd $ETCD_TAG but kube6.versions.ETCD is $ETCD_VERSION"

K8S_DIR=$(mod_dir k8s.io/kubernetes "$K8S_V")
# Reproducible files and archives: every time stamp is the pinned Kubernetes tag's commit time.
SOURCE_DATE_EPOCH=$(date -d "$(mod_json k8s.io/kubernetes "$K8S_V" | python3 -c 'import json,sys; print(json.load(open(json.load(sys.stdin)["Info"]))["Time"])')" +%s)
export SOURCE_DATE_EPOCH
CONTAINERD_DIR=$(mod_dir github.com/containerd/containerd/v2 "v$CONTAINERD_VERSION")
# What the pinned Kubernetes and containerd name for the pieces they do not pin in kube6:
#   kubernetes-cni: `cni` in k8s.io/kubernetes build/dependencies.yaml;
#   cri-tools: pkgs.k8s.io's core:/stable:/v1.N repository carries cri-tools v1.N.x (same minor);
#   runc: containerd's script/setup/runc-version (what Docker's containerd.io packages).
CNI_VERSION=$(python3 "$HELPERS" k8s-dependency "$K8S_DIR/build/dependencies.yaml" cni)
CRI_TOOLS_VERSION="$K8S_MAJOR.$K8S_MINOR.0"
RUNC_VERSION=$(tr -d ' \n' <"$CONTAINERD_DIR/script/setup/runc-version"); RUNC_VERSION=${RUNC_VERSION#v}

log "pins: kubernetes=$K8S_V containerd=$CONTAINERD_VERSION runc=$RUNC_VERSION cri-tools=$CRI_TOOLS_VERSION" \
    "kubernetes-cni=$CNI_VERSION coredns=$COREDNS_TAG pause=$PAUSE_TAG etcd=$ETCD_TAG helm=$HELM_VERSION" \
    "gateway-api=$GATEWAY_API_VERSION cert-manager=$CERT_MANAGER_VERSION envoy-gateway=$ENVOY_GATEWAY_VERSION"

# ---------------------------------------------------------------------------------------------
# Go programs. Each lands in $BUILT/<name>-<version>/ with a .ok marker, written last.

# go_build NAME VERSION CGO TAGS LDFLAGS MODULE@VERSION PKG...: build in a throwaway module that
# requires MODULE@VERSION (works for modules with or without replace directives).
go_build() {
  local name=$1 ver=$2 cgo=$3 tags=$4 ld=$5 req=$6
  shift 6
  local dst="$BUILT/$name-$ver" mod="$WORK/mod-$name"
  [[ -f "$dst/.ok" ]] && { log "$name $ver cached"; return 0; }
  rm -rf "$dst" "$mod"; mkdir -p "$mod/out"
  (
    cd "$mod"
    "$GO" mod init kube6.invalid/e2e-build-"$name" >/dev/null 2>&1
    "$GO" mod edit -require="$req"
    log "go build $* ($req)"
    CGO_ENABLED=$cgo GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath ${tags:+-tags "$tags"} \
      -ldflags "$ld" -o "$mod/out/" "$@"
  )
  mv "$mod/out" "$WORK/.out-$name"; mkdir -p "$BUILT/.tmp.$name"
  cp -a "$WORK/.out-$name/." "$BUILT/.tmp.$name/"
  touch "$BUILT/.tmp.$name/.ok"
  mv "$BUILT/.tmp.$name" "$dst"
}

build_kubernetes() {
  # kubelet, kube-scheduler, kube-proxy and kube-log-runner (the images' /go-runner), which the
  # k8s tier does not build, with the same module setup and flags as tests/k8s/build.sh so that
  # the shared GOCACHE is reused.
  local dst="$BUILT/kubernetes-$K8S_V" mod="$WORK/kubernetes" gomod info build_date ld p
  local -a replaces pkgs=(k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler
                          k8s.io/kubernetes/cmd/kube-proxy k8s.io/component-base/logs/kube-log-runner)
  [[ -f "$dst/.ok" ]] && { log "kubernetes $K8S_V (kubelet, kube-scheduler, kube-proxy) cached"; return 0; }
  gomod=$(mod_json k8s.io/kubernetes "$K8S_V" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["GoMod"]); print(d["Info"])')
  info=$(sed -n 2p <<<"$gomod"); gomod=$(sed -n 1p <<<"$gomod")
  build_date=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$info")
  mapfile -t replaces < <("$GO" mod edit -json "$gomod" | python3 "$REPO_ROOT/tests/k8s/build_helpers/helpers.py" k8s-replaces "$K8S_STAGING_V")
  ld="-s -w"
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $p.gitVersion=$K8S_V -X $p.gitMajor=$K8S_MAJOR -X $p.gitMinor=$K8S_MINOR -X $p.buildDate=$build_date"
  done
  rm -rf "$mod"; mkdir -p "$mod/out"
  (
    cd "$mod"
    "$GO" mod init kube6.invalid/k8s-test-tier-build >/dev/null 2>&1
    "$GO" mod edit -go="$("$GO" mod edit -json "$gomod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')"
    "$GO" mod edit -require="k8s.io/kubernetes@$K8S_V" "${replaces[@]}"
    log "go build ${pkgs[*]}"
    CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath -tags selinux,notest,grpcnotrace \
      -ldflags "$ld" -o "$mod/out/" "${pkgs[@]}"
  )
  mkdir -p "$BUILT/.tmp.kubernetes"; cp -a "$mod/out/." "$BUILT/.tmp.kubernetes/"
  touch "$BUILT/.tmp.kubernetes/.ok"; mv "$BUILT/.tmp.kubernetes" "$dst"
}

build_go_programs() {
  step "kubernetes $K8S_V (kubelet, kube-scheduler, kube-proxy)" build_kubernetes
  step "cri-tools v$CRI_TOOLS_VERSION (crictl)" go_build cri-tools "v$CRI_TOOLS_VERSION" 0 "" \
    "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRI_TOOLS_VERSION" \
    "sigs.k8s.io/cri-tools@v$CRI_TOOLS_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
  local p=github.com/containernetworking/plugins
  step "kubernetes-cni v$CNI_VERSION (CNI plugins)" go_build cni-plugins "v$CNI_VERSION" 0 "" \
    "-s -w -X $p/pkg/utils/buildversion.BuildVersion=v$CNI_VERSION" "$p@v$CNI_VERSION" \
    $p/plugins/main/{bridge,dummy,host-device,ipvlan,loopback,macvlan,ptp,tap,vlan} \
    $p/plugins/ipam/{dhcp,host-local,static} $p/plugins/meta/{bandwidth,firewall,portmap,sbr,tuning,vrf}
  p=github.com/containerd/containerd/v2
  step "containerd v$CONTAINERD_VERSION" go_build containerd "v$CONTAINERD_VERSION" 0 "urfave_cli_no_docs" \
    "-s -w -X $p/version.Version=v$CONTAINERD_VERSION -X $p/version.Package=$p" "$p@v$CONTAINERD_VERSION" \
    $p/cmd/containerd $p/cmd/containerd-shim-runc-v2 $p/cmd/ctr
  # runc links Debian's libseccomp dynamically, as in Docker's containerd.io (Depends: libseccomp2).
  step "runc v$RUNC_VERSION" go_build runc "v$RUNC_VERSION" 1 "seccomp urfave_cli_no_docs" \
    "-s -w -X main.version=$RUNC_VERSION" "github.com/opencontainers/runc@v$RUNC_VERSION" \
    github.com/opencontainers/runc
  step "coredns $COREDNS_TAG" go_build coredns "$COREDNS_TAG" 0 "" "-s -w" \
    "github.com/coredns/coredns@$COREDNS_TAG" github.com/coredns/coredns
  step "crane $CRANE_VERSION (tool)" go_build crane "$CRANE_VERSION" 0 "" \
    "-s -w -X $CRANE_MODULE/cmd/crane/cmd.Version=$CRANE_VERSION" "$CRANE_MODULE@$CRANE_VERSION" \
    "$CRANE_MODULE/cmd/crane"
  ln -sfn "../build/crane-$CRANE_VERSION/crane" "$CACHE/bin/crane"
  tool_entries
}

# ---------------------------------------------------------------------------------------------
# Manifest entries and origins.

# origin MODULE VERSION [PATH]: JSON origin of a Go module version (the proxy's .info: time and,
# when the proxy knows it, the commit).
origin() {
  mod_json "$1" "$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
info = json.load(open(d["Info"]))
o = {"module": d["Path"], "version": d["Version"], "time": info.get("Time")}
commit = (info.get("Origin") or {}).get("Hash")
if commit: o["commit"] = commit
if len(sys.argv) > 1 and sys.argv[1]: o["path_in_module"] = sys.argv[1]
print(json.dumps(o))' "${3:-}"
}

# entry KIND NAME VERSION PATH ORIGIN_JSON [NOTE]: one manifest entry (PATH relative to CACHE).
entry() {
  python3 -c 'import json,sys; k,n,v,p,o,note=sys.argv[1:7]; e={"kind":k,"name":n,"version":v,"path":p,"origin":json.loads(o)}
if note: e["note"]=note
print(json.dumps(e, sort_keys=True))' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$ENTRIES"
}

k8s_tier_origin() { # NAME: the k8s tier's manifest entry of a binary, as an origin
  python3 - "$K8S_CACHE/manifest.json" "$1" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
for e in data.get("artifacts", data if isinstance(data, list) else []):
    if e.get("kind") == "binary" and e.get("name") == sys.argv[2]:
        print(json.dumps({**e["origin"], "built_by": "tests/k8s/build.sh", "k8s_tier_path": e["path"]}))
        break
else:
    raise SystemExit(f"no binary {sys.argv[2]} in {sys.argv[1]}")
EOF
}

# Debian packages the images and runc use, as downloaded .debs (never installed on the host).
DEBIAN_DIR="$BUILT/debian"
debian_deb() { # PACKAGE: print the path of its .deb, downloading it once
  local pkg=$1 f
  f=$(compgen -G "$DEBIAN_DIR/${pkg}_*.deb" | head -1 || true)
  if [[ -z "$f" ]]; then
    mkdir -p "$DEBIAN_DIR"
    (cd "$DEBIAN_DIR" && apt-get -o APT::Sandbox::User=root download "$pkg" >&2) || die "apt-get download $pkg failed (run apt-get update?)"
    f=$(compgen -G "$DEBIAN_DIR/${pkg}_*.deb" | head -1)
  fi
  echo "$f"
}
debian_versions() { # PACKAGE...: "name=version, ..." of the downloaded .debs
  local pkg out=()
  for pkg in "$@"; do out+=("$(dpkg-deb -f "$(debian_deb "$pkg")" Version)"); out[-1]="$pkg=${out[-1]}"; done
  local IFS=,; echo "${out[*]}" | sed 's/,/, /g'
}
debian_origin() { # PACKAGE...: JSON origin naming each Debian package and version
  local pkg out=()
  for pkg in "$@"; do
    out+=("$(dpkg-deb -f "$(debian_deb "$pkg")" Package Version | paste -sd' ' | sed 's/^Package: //; s/ Version: /=/')")
  done
  python3 -c 'import json,sys; print(json.dumps({"debian": sys.argv[1], "packages": sys.argv[2:]}))' \
    "$(. /etc/os-release && echo "$ID $VERSION_ID ($VERSION_CODENAME)")" "${out[@]}"
}

# ---------------------------------------------------------------------------------------------
# Packages and apt repositories.

K8S_REPO="pkgs.k8s.io-core-stable-v$K8S_MAJOR.$K8S_MINOR"   # flat: deb URL /
K8S_REPO_URL="https://pkgs.k8s.io/core:/stable:/v$K8S_MAJOR.$K8S_MINOR/deb/"
DOCKER_REPO="download.docker.com-linux-debian"              # dists-style: deb URL CODENAME stable
DOCKER_REPO_URL="https://download.docker.com/linux/debian"
# The Debian releases kube6 supports (runtime.SUPPORTED); the package is the same in each.
DOCKER_CODENAMES=(bookworm trixie)
# And Docker's Ubuntu repository, for the Ubuntu releases kube6 supports (its lab nodes run
# noble): the same .deb (runc's libseccomp and glibc are older in bookworm than in noble).
DOCKER_UBUNTU_REPO="download.docker.com-linux-ubuntu"
DOCKER_UBUNTU_REPO_URL="https://download.docker.com/linux/ubuntu"
DOCKER_UBUNTU_CODENAMES=(jammy noble)
KEYS="$CACHE/keys"

lab_key() {
  local home="$KEYS/gnupg" tmp
  if [[ -s "$KEYS/lab-apt.asc" && -f "$home/.ok" ]]; then return 0; fi
  tmp="$KEYS/.tmp.gnupg"; rm -rf "$tmp"; mkdir -m 0700 -p "$tmp"
  gpg --homedir "$tmp" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "kube6 e2e lab apt repositories <lab-apt@kube6.invalid>" ed25519 sign never
  gpg --homedir "$tmp" --batch --armor --export >"$KEYS/.tmp.lab-apt.asc"
  gpgconf --homedir "$tmp" --kill all 2>/dev/null || true
  touch "$tmp/.ok"; rm -rf "$home"; mv "$tmp" "$home"; mv "$KEYS/.tmp.lab-apt.asc" "$KEYS/lab-apt.asc"
  log "generated the lab apt key $KEYS/lab-apt.asc"
}

sign_release() { # DIR: Release -> InRelease, Release.gpg
  local g=(gpg --homedir "$KEYS/gnupg" --batch --yes --quiet --pinentry-mode loopback --passphrase '')
  "${g[@]}" --clearsign -o "$1/InRelease" "$1/Release"
  "${g[@]}" --armor --detach-sign -o "$1/Release.gpg" "$1/Release"
}

ftp_release() { # DIR SUITE CODENAME COMPONENTS LABEL: apt-ftparchive release into DIR/Release
  local dir=$1
  apt-ftparchive -o APT::FTPArchive::Release::Origin="kube6 e2e lab" \
    -o APT::FTPArchive::Release::Label="$5" -o APT::FTPArchive::Release::Suite="$2" \
    -o APT::FTPArchive::Release::Codename="$3" -o APT::FTPArchive::Release::Architectures=amd64 \
    ${4:+-o APT::FTPArchive::Release::Components="$4"} release "$dir" >"$WORK/Release"
  mv "$WORK/Release" "$dir/Release"
}

packages_index() { # REPO_ROOT DEB_DIR OUT_DIR: Packages, Packages.gz with paths relative to REPO_ROOT
  (cd "$1" && apt-ftparchive packages "$2") >"$3/Packages"
  gzip -9n <"$3/Packages" >"$3/Packages.gz"
}

# inputs_key FILE...: what a repository was made from (so a warm run can tell it is current)
inputs_key() { { sha256sum "$@" | sed "s#  .*/#  #"; gpg --show-keys --with-colons "$KEYS/lab-apt.asc" | grep '^fpr' | head -1; } | sha256sum | cut -d' ' -f1; }

build_debs() {
  local out="$BUILT/debs" k8s_spec ctr_spec kb="$K8S_BIN"
  need_k8s_tier "kubeadm-$K8S_V" "kubectl-$K8S_V"
  k8s_spec=$(python3 -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
    set kubernetes out "$out/k8s" kubernetes_version "$DEB_K8S_V" cri_tools_version "$CRI_TOOLS_VERSION" \
    cni_version "$CNI_VERSION" kubelet "$BUILT/kubernetes-$K8S_V/kubelet" kubeadm "$kb/kubeadm-$K8S_V" \
    kubectl "$kb/kubectl-$K8S_V" crictl "$BUILT/cri-tools-v$CRI_TOOLS_VERSION/crictl" \
    cni_dir "$BUILT/cni-plugins-v$CNI_VERSION")
  ctr_spec=$(python3 -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
    set containerd out "$out/containerd" containerd_version "$CONTAINERD_VERSION" \
    containerd_dir "$BUILT/containerd-v$CONTAINERD_VERSION" runc "$BUILT/runc-v$RUNC_VERSION/runc" \
    containerd_service "$CONTAINERD_DIR/containerd.service" license "$CONTAINERD_DIR/LICENSE")
  python3 "$HELPERS" debs "$k8s_spec" >/dev/null
  python3 "$HELPERS" debs "$ctr_spec" >/dev/null
}

build_k8s_repo() {
  local repo="$CACHE/apt/$K8S_REPO" tmp="$CACHE/apt/.tmp.$K8S_REPO" key
  key=$(inputs_key "$BUILT"/debs/k8s/*.deb)
  if [[ -f "$repo/.inputs" && "$(cat "$repo/.inputs")" == "$key" ]]; then log "$K8S_REPO is current"; return 0; fi
  rm -rf "$tmp"; mkdir -p "$tmp/amd64"
  cp -l "$BUILT"/debs/k8s/*.deb "$tmp/amd64/"
  packages_index "$tmp" amd64 "$tmp"
  ftp_release "$tmp" "" "" "" "kube6 e2e: pkgs.k8s.io core:/stable:/v$K8S_MAJOR.$K8S_MINOR"
  sign_release "$tmp"
  cp "$KEYS/lab-apt.asc" "$tmp/Release.key"   # what kube6 fetches as ${url}Release.key
  echo "$key" >"$tmp/.inputs"
  rm -rf "$repo"; mv "$tmp" "$repo"
  log "apt repository $repo (flat, like $K8S_REPO_URL)"
}

build_docker_repo() { # REPO URL CODENAME...: Docker's layout, the same containerd.io in each
  local name=$1 url=$2; shift 2
  local repo="$CACHE/apt/$name" tmp="$CACHE/apt/.tmp.$name" key c
  key=$(inputs_key "$BUILT"/debs/containerd/*.deb; echo "$*")
  if [[ -f "$repo/.inputs" && "$(cat "$repo/.inputs")" == "$key" ]]; then log "$name is current"; return 0; fi
  rm -rf "$tmp"; mkdir -p "$tmp"
  for c in "$@"; do
    mkdir -p "$tmp/dists/$c/pool/stable/amd64" "$tmp/dists/$c/stable/binary-amd64"
    cp -l "$BUILT"/debs/containerd/*.deb "$tmp/dists/$c/pool/stable/amd64/"
    packages_index "$tmp" "dists/$c/pool/stable/amd64" "$tmp/dists/$c/stable/binary-amd64"
    ftp_release "$tmp/dists/$c" "$c" "$c" stable "kube6 e2e: Docker CE ($c)"
    sign_release "$tmp/dists/$c"
  done
  cp "$KEYS/lab-apt.asc" "$tmp/gpg"           # what kube6 fetches as .../linux/<distribution>/gpg
  echo "$key" >"$tmp/.inputs"
  rm -rf "$repo"; mv "$tmp" "$repo"
  log "apt repository $repo (dists $*, like $url)"
}

apt_entries() {
  local k8s_o ctr_o cri_o cni_o runc_o kb=$K8S_BIN
  k8s_o=$(origin k8s.io/kubernetes "$K8S_V")
  entry deb kubelet "$DEB_K8S_V-1.1" "apt/$K8S_REPO/amd64/kubelet_$DEB_K8S_V-1.1_amd64.deb" "$k8s_o" \
    "cmd/kubelet, CGO off, staging modules @$K8S_STAGING_V, release flags as tests/k8s/build.sh"
  entry deb kubeadm "$DEB_K8S_V-1.1" "apt/$K8S_REPO/amd64/kubeadm_$DEB_K8S_V-1.1_amd64.deb" "$(k8s_tier_origin kubeadm)" \
    "the k8s tier's kubeadm + the kubelet drop-in 10-kubeadm.conf"
  entry deb kubectl "$DEB_K8S_V-1.1" "apt/$K8S_REPO/amd64/kubectl_$DEB_K8S_V-1.1_amd64.deb" "$(k8s_tier_origin kubectl)"
  entry deb cri-tools "$CRI_TOOLS_VERSION-1.1" "apt/$K8S_REPO/amd64/cri-tools_$CRI_TOOLS_VERSION-1.1_amd64.deb" \
    "$(origin sigs.k8s.io/cri-tools "v$CRI_TOOLS_VERSION" cmd/crictl)" \
    "version: the cri-tools minor that matches Kubernetes v$K8S_MAJOR.$K8S_MINOR"
  entry deb kubernetes-cni "$CNI_VERSION-1.1" "apt/$K8S_REPO/amd64/kubernetes-cni_$CNI_VERSION-1.1_amd64.deb" \
    "$(origin github.com/containernetworking/plugins "v$CNI_VERSION" plugins)" \
    "version: 'cni' in k8s.io/kubernetes@$K8S_V build/dependencies.yaml; 18 linux plugins"
  ctr_o=$(origin github.com/containerd/containerd/v2 "v$CONTAINERD_VERSION" "cmd/{containerd,containerd-shim-runc-v2,ctr}")
  runc_o=$(origin github.com/opencontainers/runc "v$RUNC_VERSION")
  entry deb containerd.io "$CONTAINERD_VERSION-1" \
    "apt/$DOCKER_REPO/dists/${DOCKER_CODENAMES[0]}/pool/stable/amd64/containerd.io_$CONTAINERD_VERSION-1_amd64.deb" \
    "$(python3 -c 'import json,sys; print(json.dumps({"containerd": json.loads(sys.argv[1]), "runc": json.loads(sys.argv[2]), "libseccomp": json.loads(sys.argv[3])}))' "$ctr_o" "$runc_o" "$(debian_origin libseccomp-dev)")" \
    "runc v$RUNC_VERSION = containerd's script/setup/runc-version, cgo + seccomp (Debian libseccomp, dynamic); containerd.service from the module; same .deb in ${DOCKER_CODENAMES[*]}"
  entry apt-repo "$K8S_REPO" "v$K8S_MAJOR.$K8S_MINOR" "apt/$K8S_REPO" '{"serves": "'"$K8S_REPO_URL"'", "signed_by": "keys/lab-apt.asc"}'
  entry apt-repo "$DOCKER_REPO" "${DOCKER_CODENAMES[*]}" "apt/$DOCKER_REPO" '{"serves": "'"$DOCKER_REPO_URL"'", "signed_by": "keys/lab-apt.asc"}'
  entry apt-repo "$DOCKER_UBUNTU_REPO" "${DOCKER_UBUNTU_CODENAMES[*]}" "apt/$DOCKER_UBUNTU_REPO" '{"serves": "'"$DOCKER_UBUNTU_REPO_URL"'", "signed_by": "keys/lab-apt.asc"}'
  entry key lab-apt "" "keys/lab-apt.asc" '{"generated": "gpg --quick-gen-key ed25519 (private key in keys/gnupg)"}'
  python3 "$HELPERS" index apt "$CACHE" "$(python3 -c '
import json, sys
k8s_repo, k8s_url, k8s_v, cri, cni, ctr, *dockers = sys.argv[1:]
docker = [
  {"url": d_url, "path": d_repo, "layout": "dists", "suites": codenames.split(), "components": ["stable"],
   "sources_line": f"deb [signed-by=KEYRING] {d_url} CODENAME stable", "key": "gpg",
   "packages": {"containerd.io": f"{ctr}-1"}, "origin": "built by tests/e2e/build-artifacts.sh from Go modules"}
  for d_repo, d_url, codenames in zip(dockers[0::3], dockers[1::3], dockers[2::3])
]
print(json.dumps([
  {"url": k8s_url, "path": k8s_repo, "layout": "flat", "sources_line": f"deb [signed-by=KEYRING] {k8s_url} /",
   "key": "Release.key", "packages": {"kubelet": f"{k8s_v}-1.1", "kubeadm": f"{k8s_v}-1.1", "kubectl": f"{k8s_v}-1.1",
   "cri-tools": f"{cri}-1.1", "kubernetes-cni": f"{cni}-1.1"}, "origin": "built by tests/e2e/build-artifacts.sh from Go modules"},
  *docker,
]))' "$K8S_REPO" "$K8S_REPO_URL" "$DEB_K8S_V" "$CRI_TOOLS_VERSION" "$CNI_VERSION" "$CONTAINERD_VERSION" \
    "$DOCKER_REPO" "$DOCKER_REPO_URL" "${DOCKER_CODENAMES[*]}" \
    "$DOCKER_UBUNTU_REPO" "$DOCKER_UBUNTU_REPO_URL" "${DOCKER_UBUNTU_CODENAMES[*]}")"
}


# A partial mirror of each node release's archive (Debian 12 and 13, Ubuntu 24.04: the
# releases in kube6.lab.rootfs.OSES) for what kube6 up installs from the distribution (ndppd,
# routing/install) on the lab's nodes: their own sources lines, with the archive's signed
# InRelease and index files unchanged, so a node keeps its stock sources and keyring and only
# the host changes. Refreshed when an InRelease is within 2 days of its Valid-Until
# (bookworm-security's is a week), or when the sources, rootfs or packages change.
build_distribution_mirror() {
  local releases packages stamp key tmp="$CACHE/apt/.tmp.debian" d result
  packages=$(cd "$REPO_ROOT" && python3 -c 'import sys; sys.path.insert(0, "src"); from kube6.components.ndppd import steps; print(steps.SERVICE)')
  # Each release: its sources, the key of its archive (Ubuntu's from Debian's ubuntu-keyring,
  # cached by build-rootfs.sh) and the dpkg status of its rootfs (only what the nodes lack is
  # mirrored: apt resolves against it).
  releases=$(cd "$REPO_ROOT" && KUBE6_E2E_CACHE="$CACHE" python3 - "$WORK" <<'EOF'
import json, subprocess, sys
from pathlib import Path
sys.path.insert(0, "src")
from kube6.lab import nodes, rootfs
out = []
for release in rootfs.OSES.values():
    tarball = nodes.default_rootfs({"KUBE6_E2E_CACHE": str(rootfs.cache_dir())}, release.name)
    status = ""
    if tarball.is_file():
        status = f"{sys.argv[1]}/{release.name}.status"
        with open(status, "wb") as f:
            subprocess.run(["tar", "-xOf", str(tarball), "./var/lib/dpkg/status"], stdout=f, check=True)
    keyring = release.keyring_file
    if release.keyring_package:
        keyring = str(rootfs.cache_dir() / "rootfs" / "keyrings" / release.keyring_package / release.keyring_file.lstrip("/"))
        if not Path(keyring).is_file():
            sys.exit(f"no {keyring}: run `sudo bash tests/e2e/build-rootfs.sh` first (it fetches {release.keyring_package})")
    out.append({"name": release.name, "sources": list(release.sources), "keyring": keyring, "status": status})
print(json.dumps(out))
EOF
) || die "the releases' sources, keyrings and rootfs could not be read"
  # What the mirrors are made of: each release's sources and key file, and its rootfs's dpkg
  # status by content (its file is in this run's temporary folder), and the packages.
  key=$(python3 -c 'import hashlib,json,sys
releases = json.loads(sys.argv[1])
for r in releases:
    r["status"] = r["status"] and hashlib.sha256(open(r["status"], "rb").read()).hexdigest()
print(hashlib.sha256(json.dumps([releases, sys.argv[2]], sort_keys=True).encode()).hexdigest())' "$releases" "$packages")
  stamp="$CACHE/apt/.debian-mirror.json"
  if [[ -f "$stamp" ]] && python3 - "$stamp" "$key" <<'EOF'
import json, sys
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
data = json.load(open(sys.argv[1]))
soon = datetime.now(UTC) + timedelta(days=2)
fresh = all(s["valid_until"] is None or parsedate_to_datetime(s["valid_until"]) > soon
            for s in data["result"]["suites"].values())
sys.exit(0 if data["key"] == sys.argv[2] and fresh else 1)
EOF
  then
    log "distribution mirrors are current ($(python3 -c 'import json,sys; print(", ".join(json.load(open(sys.argv[1]))["result"]["packages"]))' "$stamp"))"
  else
    rm -rf "$tmp"; mkdir -p "$tmp"
    result=$(python3 "$HELPERS" distribution-mirror "$tmp" "$releases" "$packages") \
      || die "the distribution mirrors could not be made (the archives through apt)"
    for d in "$tmp"/*/; do
      d=$(basename "$d"); rm -rf "$CACHE/apt/$d"; mv "$tmp/$d" "$CACHE/apt/$d"
    done
    rm -rf "$tmp"
    python3 -c 'import json,sys; json.dump({"key": sys.argv[1], "releases": json.loads(sys.argv[2]), "result": json.loads(sys.argv[3])}, open(sys.argv[4], "w"), indent=2)' \
      "$key" "$releases" "$result" "$stamp"
    log "distribution mirrors: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["packages"])' "$stamp")"
  fi
  python3 - "$stamp" "$releases" >"$WORK/debian-index.json" <<'EOF'
import json, re, sys
data = json.load(open(sys.argv[1]))["result"]
repos = {}
for release in json.loads(sys.argv[2]):
    for line in release["sources"]:
        _deb, url, suite, *components = line.split()
        repo = repos.setdefault(url, {"url": url, "path": re.sub(r"^[a-z]+://", "", url).replace("/", "-"),
            "layout": "dists", "suites": [], "components": components,
            "key": f"the archive's own ({release['keyring'].rsplit('/', 1)[-1]}): the nodes keep their stock keyring",
            "packages": {}, "origin": "the distribution's archive, unchanged (InRelease and indexes byte for byte, pool files of the listed packages only)"})
        repo["suites"].append(suite)
for name, url in data["packages"].items():
    for repo in repos.values():
        if url.startswith(repo["url"] + "/"):
            pkg, version = name.split("_")[:2]
            repo["packages"].setdefault(pkg, version)
print(json.dumps(list(repos.values())))
EOF
  python3 "$HELPERS" index apt "$CACHE" "$(python3 -c 'import json,sys; old=[e for e in json.load(open(sys.argv[1])) if e.get("builder") == "build-artifacts.sh" and "debian.org" not in e["url"] and "ubuntu.com" not in e["url"]]; print(json.dumps(old + json.load(open(sys.argv[2]))))' "$CACHE/apt/index.json" "$WORK/debian-index.json")"
  entry apt-repo distribution-mirrors "$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["result"]["packages"]))' "$stamp")" \
    apt "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"archives": d["result"]["suites"], "packages": d["result"]["packages"]}))' "$stamp")" \
    "partial mirrors of deb.debian.org, archive.ubuntu.com and security.ubuntu.com, signed by the distributions, for kube6's routing/install (ndppd)"
}

build_apt() {
  step "lab apt key" lab_key
  step ".deb packages" build_debs
  step "apt repository $K8S_REPO" build_k8s_repo
  step "apt repository $DOCKER_REPO" build_docker_repo "$DOCKER_REPO" "$DOCKER_REPO_URL" "${DOCKER_CODENAMES[@]}"
  step "apt repository $DOCKER_UBUNTU_REPO" build_docker_repo "$DOCKER_UBUNTU_REPO" "$DOCKER_UBUNTU_REPO_URL" "${DOCKER_UBUNTU_CODENAMES[@]}"
  step "apt entries" apt_entries
  step "distribution mirrors (ndppd)" build_distribution_mirror
}

# ---------------------------------------------------------------------------------------------
# OCI images (amd64), with the exact references kubeadm and kube6 pull.

build_pause() {
  # What build/pause/Makefile does, without its build container: gcc -Os -static.
  local dst="$BUILT/pause-$PAUSE_TAG"
  [[ -x "$dst/pause" ]] && { log "pause $PAUSE_TAG cached"; return 0; }
  mkdir -p "$BUILT/.tmp.pause"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-kube6-e2e" -o "$BUILT/.tmp.pause/pause" \
    "$K8S_DIR/build/pause/linux/pause.c"
  rm -rf "$dst"; mv "$BUILT/.tmp.pause" "$dst"
}

unpack_debs() { # DIR PACKAGE...: unpack Debian packages into DIR (once)
  local dir=$1 pkg; shift
  [[ -f "$dir/.ok" ]] && return 0
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  for pkg in "$@"; do dpkg-deb -x "$(debian_deb "$pkg")" "$dir.tmp"; done
  touch "$dir.tmp/.ok"; rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

# The probe image's busybox: Debian's busybox-static of the release that carries the BusyBox
# version of kube6's pin (docker.io/library/busybox:1.37.0 -> trixie's 1:1.37.0-*), downloaded
# with a private apt configuration (this machine's own sources stay untouched).
BUSYBOX_SUITE=trixie
busybox_deb() {
  local dir="$BUILT/debian-$BUSYBOX_SUITE" f opts
  f=$(compgen -G "$dir/busybox-static_*.deb" | head -1 || true)
  if [[ -z "$f" ]]; then
    mkdir -p "$dir"/apt/{lists/partial,cache/archives/partial,parts,prefs}
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $BUSYBOX_SUITE main" >"$dir/apt/sources.list"
    : >"$dir/apt/status"
    opts=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o "Dir::Etc::SourceParts=$dir/apt/parts"
          -o "Dir::Etc::PreferencesParts=$dir/apt/prefs" -o "Dir::State::Lists=$dir/apt/lists"
          -o "Dir::State::status=$dir/apt/status" -o "Dir::Cache=$dir/apt/cache"
          -o APT::Sandbox::User=root -o Debug::NoLocking=1)
    apt-get "${opts[@]}" -qq update >&2 || die "apt-get update of Debian $BUSYBOX_SUITE failed"
    (cd "$dir" && apt-get "${opts[@]}" -qq download busybox-static >&2) || die "apt-get download busybox-static ($BUSYBOX_SUITE) failed"
    rm -rf "$dir/apt"
    f=$(compgen -G "$dir/busybox-static_*.deb" | head -1)
  fi
  echo "$f"
}

NFT_PACKAGES=(nftables libnftables1 libnftnl11 libmnl0 libjansson4 libxtables12 libgmp10 libedit2 libbsd0 libmd0 libtinfo6 libc6)

build_images() {
  local spec k8s_o bb applets
  need_k8s_tier "kube-apiserver-$K8S_V" "kube-controller-manager-$K8S_V" "etcd-$ETCD_VERSION"
  step "pause $PAUSE_TAG (gcc -static)" build_pause
  unpack_debs "$BUILT/nft-root" "${NFT_PACKAGES[@]}"
  local bb_deb bb_version want=${BUSYBOX_VERSION##*:}
  bb_deb=$(busybox_deb)
  if [[ "$(cat "$BUILT/busybox-root/.ok" 2>/dev/null)" != "$(basename "$bb_deb")" ]]; then
    rm -rf "$BUILT/busybox-root.tmp"; mkdir -p "$BUILT/busybox-root.tmp"
    dpkg-deb -x "$bb_deb" "$BUILT/busybox-root.tmp"
    basename "$bb_deb" >"$BUILT/busybox-root.tmp/.ok"; rm -rf "$BUILT/busybox-root"; mv "$BUILT/busybox-root.tmp" "$BUILT/busybox-root"
  fi
  bb=$(compgen -G "$BUILT/busybox-root/usr/bin/busybox" || compgen -G "$BUILT/busybox-root/bin/busybox")
  bb_version=$("$bb" 2>&1 | sed -n '1s/^BusyBox v\([^ ]*\) .*/\1/p')
  [[ "$bb_version" == "$want" ]] \
    || die "Debian $BUSYBOX_SUITE's busybox-static is BusyBox $bb_version, but kube6 pins $BUSYBOX_VERSION: choose the Debian release that has $want (BUSYBOX_SUITE)"
  applets=$("$bb" --list | paste -sd' ')
  k8s_o="k8s.io/kubernetes@$K8S_V"
  spec=$(python3 - "$@" <<EOF
import json
print(json.dumps({
  "out_dir": "$CACHE/images",
  "ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
  "nft_root": "$BUILT/nft-root",
  "busybox": "$bb",
  "busybox_applets": "$applets",
  "bins": {
    "go-runner": "$BUILT/kubernetes-$K8S_V/kube-log-runner",
    "kube-apiserver": "$K8S_BIN/kube-apiserver-$K8S_V",
    "kube-controller-manager": "$K8S_BIN/kube-controller-manager-$K8S_V",
    "kube-scheduler": "$BUILT/kubernetes-$K8S_V/kube-scheduler",
    "kube-proxy": "$BUILT/kubernetes-$K8S_V/kube-proxy",
    "etcd": "$K8S_BIN/etcd-$ETCD_VERSION",
    "coredns": "$BUILT/coredns-$COREDNS_TAG/coredns",
    "pause": "$BUILT/pause-$PAUSE_TAG/pause",
  },
  "refs": {
    "kube-apiserver": "registry.k8s.io/kube-apiserver:$K8S_V",
    "kube-controller-manager": "registry.k8s.io/kube-controller-manager:$K8S_V",
    "kube-scheduler": "registry.k8s.io/kube-scheduler:$K8S_V",
    "kube-proxy": "registry.k8s.io/kube-proxy:$K8S_V",
    "etcd": "registry.k8s.io/etcd:$ETCD_TAG",
    "coredns": "registry.k8s.io/coredns/coredns:$COREDNS_TAG",
    "pause": "$PAUSE_VERSION",
    "busybox": "$BUSYBOX_VERSION",
  },
  "origins": {
    "kube-apiserver": "$k8s_o cmd/kube-apiserver (tests/k8s/build.sh) + /go-runner (k8s.io/component-base/logs/kube-log-runner@$K8S_STAGING_V)",
    "kube-controller-manager": "$k8s_o cmd/kube-controller-manager (tests/k8s/build.sh) + /go-runner",
    "kube-scheduler": "$k8s_o cmd/kube-scheduler + /go-runner",
    "kube-proxy": "$k8s_o cmd/kube-proxy + /go-runner + /usr/sbin/nft and its libraries from Debian $(. /etc/os-release && echo "$VERSION_CODENAME") ($(debian_versions "${NFT_PACKAGES[@]}"))",
    "etcd": "go.etcd.io/etcd/server/v3@$ETCD_VERSION (tests/k8s/build.sh)",
    "coredns": "github.com/coredns/coredns@$COREDNS_TAG (the version kubeadm $K8S_V deploys), setcap cap_net_bind_service+ep, user 65532",
    "pause": "gcc -static of $k8s_o build/pause/linux/pause.c, user 65535",
    "busybox": "Debian $BUSYBOX_SUITE's $(dpkg-deb -f "$bb_deb" Package Version | paste -sd' ' | sed 's/^Package: //; s/ Version: /=/') (BusyBox $bb_version, static), /bin/busybox + a /bin link per applet",
  },
}))
EOF
)
  log "kubeadm's images: ${KUBEADM_IMAGES[*]}"
  python3 "$HELPERS" images "$spec" >"$WORK/images.json"
  python3 "$HELPERS" index images "$CACHE" "$(cat "$WORK/images.json")"
  python3 - "$WORK/images.json" "${KUBEADM_IMAGES[@]}" <<'EOF'
import json, sys
built = {e["ref"] for e in json.load(open(sys.argv[1]))}
missing = [r for r in sys.argv[2:] if r not in built]
if missing:
    raise SystemExit(f"kubeadm wants images that were not built: {missing}")
EOF
  python3 - "$WORK/images.json" >>"$ENTRIES" <<'EOF'
import json, sys
for e in json.load(open(sys.argv[1])):
    print(json.dumps({"kind": "image", "name": e["ref"], "version": e["ref"].rsplit(":", 1)[1],
                      "path": "images/" + e["file"], "origin": {"text": e["origin"]},
                      "note": "manifest " + e["digest"]}, sort_keys=True))
EOF
}

# ---------------------------------------------------------------------------------------------
# Helm charts kube6 installs (but Calico's and Headlamp's: build-calico.sh), packaged from the
# chart sources the k8s tier took out of the pinned modules.

build_charts() {
  local helm="$K8S_BIN/helm-$HELM_VERSION" name ver ref src tgz items=() home="$WORK/helm-home"
  need_k8s_tier "helm-$HELM_VERSION"
  mkdir -p "$home"
  while read -r name ver ref module; do
    src="$K8S_CACHE/charts/$name-$ver"
    tgz="$CACHE/charts/$name-$ver.tgz"
    [[ -d "$src" ]] || die "$src is missing: run tests/k8s/build.sh first"
    if [[ ! -s "$tgz" ]]; then
      rm -rf "$WORK/chart-out"; mkdir -p "$WORK/chart-out"
      HOME="$home" "$helm" package "$src" --version "$ver" --app-version "$ver" -d "$WORK/chart-out" >/dev/null
      mv "$WORK/chart-out/$name-$ver.tgz" "$CACHE/charts/.tmp.$name.tgz"
      mv "$CACHE/charts/.tmp.$name.tgz" "$tgz"
      log "packaged $tgz"
    fi
    items+=("$ref" "$name-$ver.tgz" "$module@$ver (chart sources via tests/k8s/build.sh, packaged with helm $HELM_VERSION)")
    entry chart "$name" "$ver" "charts/$name-$ver.tgz" "$(origin "$module" "$ver")" "kube6 installs it as $ref"
  done <<EOF
gateway-crds-helm $ENVOY_GATEWAY_VERSION oci://docker.io/envoyproxy/gateway-crds-helm:$ENVOY_GATEWAY_VERSION github.com/envoyproxy/gateway
gateway-helm $ENVOY_GATEWAY_VERSION oci://docker.io/envoyproxy/gateway-helm:$ENVOY_GATEWAY_VERSION github.com/envoyproxy/gateway
cert-manager $CERT_MANAGER_VERSION oci://quay.io/jetstack/charts/cert-manager:$CERT_MANAGER_VERSION github.com/cert-manager/cert-manager
EOF
  python3 "$HELPERS" index charts "$CACHE" "$(python3 -c 'import json,sys; a=sys.argv[1:]; print(json.dumps([{"ref": a[i], "file": a[i+1], "origin": a[i+2]} for i in range(0, len(a), 3)]))' "${items[@]}")"
}

# ---------------------------------------------------------------------------------------------
# Plain downloads kube6 makes: the helm release tarball (+ .sha256sum), the Gateway API bundle.

build_files() {
  local helm="$K8S_BIN/helm-$HELM_VERSION" tarball="helm-$HELM_VERSION-linux-amd64.tar.gz"
  local dir="$CACHE/files/get.helm.sh" helm_dir t gw gw_dir items
  need_k8s_tier "helm-$HELM_VERSION"
  helm_dir=$(mod_dir "helm.sh/helm/v$HELM_MAJOR" "$HELM_VERSION")
  if [[ ! -s "$dir/$tarball.sha256sum" ]]; then
    # The release tarball's layout: linux-amd64/{helm,LICENSE,README.md}.
    t="$WORK/helm-tar/linux-amd64"; mkdir -p "$t" "$dir"
    cp "$helm" "$t/helm"; cp "$helm_dir/LICENSE" "$helm_dir/README.md" "$t/"
    chmod 0755 "$t/helm"; chmod 0644 "$t/LICENSE" "$t/README.md"
    tar -C "$WORK/helm-tar" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
      -cf - linux-amd64 | gzip -9n >"$dir/.tmp.$tarball"
    mv "$dir/.tmp.$tarball" "$dir/$tarball"
    (cd "$dir" && sha256sum "$tarball" >".tmp.sum" && mv .tmp.sum "$tarball.sha256sum")
    log "made $dir/$tarball"
  fi
  gw_dir="$K8S_CACHE/crds/gateway-api-$GATEWAY_API_VERSION"
  [[ -d "$gw_dir" ]] || die "$gw_dir is missing: run tests/k8s/build.sh first"
  gw="$CACHE/files/github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml"
  if [[ ! -s "$gw" ]]; then
    # The release's standard-install.yaml: the standard channel's files, one YAML stream.
    mkdir -p "$(dirname "$gw")"
    python3 - "$gw_dir" "$GATEWAY_API_VERSION" >"$gw.tmp" <<'EOF'
import pathlib, sys
files = sorted(pathlib.Path(sys.argv[1]).glob("*.yaml"))
print(f"# Gateway API {sys.argv[2]} standard channel, built for kube6's e2e tier from the files of sigs.k8s.io/gateway-api@{sys.argv[2]} config/crd/standard")
for f in files:
    text = f.read_text()
    print(f"---\n# Source: config/crd/standard/{f.name}")
    print(text.strip().removeprefix("---").strip())
EOF
    mv "$gw.tmp" "$gw"
    log "made $gw"
  fi
  items=$(python3 -c 'import json,sys; h,hv,gv=sys.argv[1:4]; print(json.dumps([
    {"url": f"https://get.helm.sh/{h}", "path": f"get.helm.sh/{h}", "origin": f"helm.sh/helm/v4@{hv} cmd/helm (tests/k8s/build.sh) in the release tarball layout"},
    {"url": f"https://get.helm.sh/{h}.sha256sum", "path": f"get.helm.sh/{h}.sha256sum", "origin": "sha256sum of the tarball above"},
    {"url": f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{gv}/standard-install.yaml",
     "path": f"github.com/kubernetes-sigs/gateway-api/releases/download/{gv}/standard-install.yaml",
     "origin": f"sigs.k8s.io/gateway-api@{gv} config/crd/standard/*.yaml as one stream"}]))' "$tarball" "$HELM_VERSION" "$GATEWAY_API_VERSION")
  python3 "$HELPERS" index files "$CACHE" "$items"
  entry file helm "$HELM_VERSION" "files/get.helm.sh/$tarball" "$(k8s_tier_origin helm)" "release tarball layout linux-amd64/{helm,LICENSE,README.md}"
  entry file gateway-api "$GATEWAY_API_VERSION" "${gw#"$CACHE"/}" "$(origin sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION" config/crd/standard)" "standard-install.yaml"
}

tool_entries() {
  entry tool crane "$CRANE_VERSION" "build/crane-$CRANE_VERSION/crane" "$(origin "$CRANE_MODULE" "$CRANE_VERSION" cmd/crane)" \
    "bin/crane: \`crane registry serve --address ADDR --disk DIR\` is the lab registry; \`crane push\` loads images"
}

# ---------------------------------------------------------------------------------------------

# Stages (a developer may name some; the default, all of them, is what the e2e tier runs).
STAGES=("$@")
FULL=partial
((${#STAGES[@]})) || { STAGES=(binaries apt images charts files); FULL=full; }
for stage in "${STAGES[@]}"; do
  case $stage in
    binaries) build_go_programs ;;
    apt) build_apt ;;
    images) step images build_images ;;
    charts) step charts build_charts ;;
    files) step files build_files ;;
    *) die "unknown stage $stage" ;;
  esac
done

step "manifest" python3 "$HELPERS" manifest "$CACHE" "$ENTRIES" "$FULL"

log "timings:"
for t in "${TIMINGS[@]}"; do printf '  %s\n' "$t" >&2; done
printf '  %-40s %5ss\n' "total" "$(($(date +%s) - T_START))" >&2
