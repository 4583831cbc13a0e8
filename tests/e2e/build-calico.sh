#!/usr/bin/env bash
# Build, from the sources in ../shared/upstream/src (calico-release-v3.33, operator-release-v1.44,
# bird), everything the tigera-operator runs for kube6's Calico into the shared e2e cache: the
# tigera-operator image, calico-node (the combined calico binary with felix and confd, BIRD and
# bird6, runit and node/filesystem's start scripts and services), the combined calico/calico image
# (CNI install, typha, kube-controllers, apiserver, goldmane, whisker-backend, calicoctl),
# third-party-cni-plugins, and the tigera-operator and CRD charts. See tests/e2e/README.md
# ("Calico").
#
#   bash tests/e2e/build-calico.sh        # build what is missing, verify what is there
#
# The images carry the references the operator requests: the operator is built with its
# generated component versions set to the pinned Calico version (kube6.versions.CALICO), as
# upstream's release build does, from the release-v3.33 snapshot; see the manifest's notes.
#
# Environment: KUBE6_E2E_CACHE (default ~/.cache/kube6-e2e), KUBE6_K8S_CACHE (the k8s tier's
# cache, for helm), KUBE6_UPSTREAM (default ../shared/upstream beside the checkout), GO,
# GOPROXY/GOMODCACHE/GOCACHE as usual. Needs root only to install missing Debian build packages.
set -euo pipefail
# The whole script is one block, read before it runs: editing it during a run cannot change it.
{

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
HELPERS="$SCRIPT_DIR/build_helpers/calico.py"
CACHE=${KUBE6_E2E_CACHE:-$HOME/.cache/kube6-e2e}
K8S_CACHE=${KUBE6_K8S_CACHE:-$HOME/.cache/kube6-k8s}
UPSTREAM=${KUBE6_UPSTREAM:-$REPO_ROOT/../shared/upstream}
ME="build-calico.sh"

T_START=$(date +%s)
TIMINGS=()

log() { printf '[%s %s] %s\n' "$ME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$ME" "$*" >&2; exit 1; }

step() {
  local name=$1 t0
  shift
  t0=$(date +%s)
  log "-- $name"
  "$@"
  TIMINGS+=("$(printf '%-44s %5ss' "$name" "$(($(date +%s) - t0))")")
}

# ---------------------------------------------------------------------------------------------
# Sources (read-only; provenance from ../shared/upstream/README.md) and pins.

CALICO_SRC="$UPSTREAM/src/calico-release-v3.33"
CALICO_COMMIT=6609dea54713df1f84a77d8a7cecf25dff86fa5f      # branch release-v3.33, 2026-08-21
OPERATOR_SRC="$UPSTREAM/src/operator-release-v1.44"
OPERATOR_COMMIT=b0c1cc5c6c615457d046b9b0dbee189d5414acdf    # branch release-v1.44, 2026-08-19
BIRD_SRC="$UPSTREAM/src/bird"
BIRD_COMMIT=1e2ff99db42b8f037a51f7a8f7b946a542d96bd1        # v0.3.3-208-g1e2ff99d, 2024-01-03
CHARTS_SRC="$UPSTREAM/calico-release-v3.33/charts"           # symlinks resolved
for d in "$CALICO_SRC/cmd/calico" "$OPERATOR_SRC/cmd" "$BIRD_SRC/configure.ac" "$CHARTS_SRC/tigera-operator"; do
  [[ -e "$d" ]] || die "$d is missing: the upstream sources are expected in $UPSTREAM (KUBE6_UPSTREAM)"
done

# confd's BIRD templates. Upstream keeps them in confd/etc/calico/confd/{conf.d,templates} (the
# node image's /etc/calico/confd); in the snapshot both are symlinks, stored as small text files,
# to node/filesystem/etc/calico/confd/..., which the snapshot does not have. Without them confd
# renders no bird.cfg/bird6.cfg and BIRD does not start (no BGP mesh, no upstream peering). Taken
# from whichever of the two places holds real folders; else the image goes without, and the
# manifest and the tests say so.
CONFD_DIR=""
for d in "$CALICO_SRC/confd/etc/calico/confd" "$CALICO_SRC/node/filesystem/etc/calico/confd"; do
  if [[ -d "$d/conf.d" && -d "$d/templates" ]]; then CONFD_DIR=$d; break; fi
done
# Without them: kube6's stand-in (tests/e2e/calico-confd/README.md), so that BIRD runs in the
# bgp journey; the manifest keeps Calico's own templates `unavailable` and the image says which.
CONFD_STAND_IN="$SCRIPT_DIR/calico-confd"

command -v python3 >/dev/null || die "python3 is required"
eval "$(python3 "$HELPERS" pins "$REPO_ROOT")" || die "cannot read the Calico pin from src/kube6/versions.py"
# The operator tag that the packaged tigera-operator chart names (tigeraOperator.version). The
# snapshot's chart says `master`; upstream's release tooling writes the operator release of that
# Calico release there, which cannot be known from the sources here. v1.44.0 = the first release
# of the operator branch that Calico release-v3.33 names (metadata.mk OPERATOR_BRANCH).
OPERATOR_TAG=${KUBE6_E2E_OPERATOR_TAG:-v1.44.0}
HELM_VERSION=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from kube6.versions import HELM; print(HELM.version)' "$REPO_ROOT/src")

# Debian build packages: autoconf, flex, bison, gcc, make for BIRD; gcc, libc6-dev for the cgo
# mountns helper; apt for `apt-get download` of the node image's tools.
BUILD_DEBS=(autoconf flex bison gcc make libc6-dev dpkg-dev)
missing=()
for p in "${BUILD_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

GO=${GO:-$(command -v go || true)}
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
[[ -n "$GO" && -x "$GO" ]] || die "Go is not installed (set GO=/path/to/go)"
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-buildvcs=false"
GO_VERSION=$("$GO" env GOVERSION)

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
BUILT="$CACHE/build/calico"   # this script's intermediate files
mkdir -p "$BUILT" "$CACHE"/{images,charts,files,bin}

exec 9>"$CACHE/.build-calico.lock"
flock -w 7200 9 || die "could not lock $CACHE/.build-calico.lock"
find "$BUILT" -maxdepth 1 -name '.partial.*' -exec rm -rf {} + 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube6-e2e-calico.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ENTRIES="$WORK/entries.jsonl"
: >"$ENTRIES"

# Time stamps of everything written: the Calico snapshot's commit time (README: 2026-08-21).
SOURCE_DATE_EPOCH=$(date -d 2026-08-21T00:00:00Z +%s)
export SOURCE_DATE_EPOCH
BUILD_DATE=2026-08-21T00:00:00Z

log "cache: $CACHE; Calico pin $CALICO_VERSION, operator tag $OPERATOR_TAG; $GO_VERSION, GOPROXY=$("$GO" env GOPROXY)"

# done_dir DIR KEY: true when DIR was built from KEY (its .ok holds the key).
done_dir() { [[ -f "$1/.ok" && "$(cat "$1/.ok")" == "$2" ]]; }
# publish TMP DIR KEY: move a finished build into place, key last.
publish() { echo "$3" >"$1/.ok"; rm -rf "$2"; mv "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# Go programs.

CALICO_LDFLAGS="-s -w -X github.com/projectcalico/calico/pkg/buildinfo.Version=$CALICO_VERSION \
-X github.com/projectcalico/calico/pkg/buildinfo.GitRevision=$CALICO_COMMIT \
-X github.com/projectcalico/calico/pkg/buildinfo.BuildDate=$BUILD_DATE"

build_calico() {
  # The combined binary (cmd/calico: felix, confd, node startup, CNI plugin and IPAM, typha,
  # kube-controllers, apiserver, goldmane, whisker-backend, calicoctl, flexvol, csi) without cgo:
  # kube6 runs the nftables dataplane, and only the eBPF dataplane needs the cgo/libbpf parts.
  # mountns (node image) is cgo by design (a constructor before the Go runtime starts); it links
  # nothing but libc. install-cni-plugins is third_party/cni-plugins' staging entrypoint.
  local dst="$BUILT/calico-$CALICO_VERSION" tmp="$BUILT/.partial.calico" key
  key="$CALICO_COMMIT $GO_VERSION $CALICO_LDFLAGS"
  done_dir "$dst" "$key" && { log "calico $CALICO_VERSION cached"; return 0; }
  rm -rf "$tmp"; mkdir -p "$tmp"
  (
    cd "$CALICO_SRC"
    log "go build ./cmd/calico (CGO_ENABLED=0)"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$CALICO_LDFLAGS" -o "$tmp/calico" ./cmd/calico
    log "go build ./node/cmd/mountns (cgo)"
    CGO_ENABLED=1 "$GO" build -trimpath -ldflags "-s -w" -o "$tmp/mountns" ./node/cmd/mountns
    log "go build ./third_party/cni-plugins/cmd/install"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$tmp/install-cni-plugins" ./third_party/cni-plugins/cmd/install
  )
  publish "$tmp" "$dst" "$key"
}

# The upstream CNI plugins of third-party-cni-plugins: upstream builds host-local, portmap,
# loopback and tuning from its fork projectcalico/containernetworking-plugins at a commit
# (metadata.mk CNI_VERSION) that is not on the Go module proxy; built here from
# github.com/containernetworking/plugins at the version Calico's go.mod requires.
cni_plugins_version() { awk '$1 == "github.com/containernetworking/plugins" {print $2}' "$CALICO_SRC/go.mod"; }
build_cni_plugins() {
  local ver dst tmp="$BUILT/.partial.cni-plugins" mod="$WORK/cni-mod" p=github.com/containernetworking/plugins key
  ver=$(cni_plugins_version)
  [[ -n "$ver" ]] || die "no github.com/containernetworking/plugins in $CALICO_SRC/go.mod"
  dst="$BUILT/cni-plugins-$ver"
  key="$ver $GO_VERSION"
  done_dir "$dst" "$key" && { log "CNI plugins $ver cached"; return 0; }
  rm -rf "$tmp" "$mod"; mkdir -p "$tmp" "$mod"
  (
    cd "$mod"
    "$GO" mod init kube6.invalid/e2e-calico-cni >/dev/null 2>&1
    "$GO" mod edit -require="$p@$ver"
    log "go build $p@$ver host-local portmap loopback tuning"
    CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath \
      -ldflags "-s -w -X $p/pkg/utils/buildversion.BuildVersion=$ver" -o "$tmp/" \
      $p/plugins/ipam/host-local $p/plugins/meta/portmap $p/plugins/main/loopback $p/plugins/meta/tuning
  )
  publish "$tmp" "$dst" "$key"
}

OPERATOR_LDFLAGS="-s -w -X github.com/tigera/operator/version.VERSION=$OPERATOR_TAG"
build_operator() {
  # Upstream's release sets the Calico component versions by regenerating
  # pkg/components/calico.go from config/calico_versions.yml (hack/gen-versions; the snapshot
  # says `release-v3.33` everywhere). The same here in a copy of the tree, with every Calico
  # component at the pinned version; then `go build ./cmd` with the operator's version ldflag.
  local dst="$BUILT/operator-$OPERATOR_TAG-calico-$CALICO_VERSION" tmp="$BUILT/.partial.operator" src key
  key="$OPERATOR_COMMIT $CALICO_VERSION $GO_VERSION $OPERATOR_LDFLAGS crds-$CALICO_COMMIT"
  done_dir "$dst" "$key" && { log "tigera-operator $OPERATOR_TAG (Calico $CALICO_VERSION) cached"; return 0; }
  rm -rf "$tmp"; mkdir -p "$tmp"
  src="$tmp/src"
  cp -r "$OPERATOR_SRC" "$src"; chmod -R u+w "$src"
  python3 "$HELPERS" versions-yml "$OPERATOR_SRC/config/calico_versions.yml" "$src/config/calico_versions.yml" "$CALICO_VERSION"
  (
    cd "$src"
    log "hack/gen-versions -os-versions=config/calico_versions.yml (Calico components at $CALICO_VERSION)"
    CGO_ENABLED=0 "$GO" run ./hack/gen-versions -os-versions=config/calico_versions.yml >"$tmp/calico.go"
    mv "$tmp/calico.go" pkg/components/calico.go
    grep -q "Version:   \"$CALICO_VERSION\"" pkg/components/calico.go || die "gen-versions did not set $CALICO_VERSION"
    ! grep -q 'release-v3.33' pkg/components/calico.go || die "pkg/components/calico.go still names release-v3.33"
    # gen-versions-calico also runs update-calico-crds: the CRDs and admission policies that the
    # operator embeds and installs (-manage-crds, -bootstrap-crds) come from the Calico release
    # it deploys. Same here from the Calico snapshot, so that the operator and the CRD chart
    # kube6 applies carry the same CRDs (the operator snapshot's copies are two days older).
    log "update-calico-crds from the Calico snapshot ${CALICO_COMMIT:0:12}"
    rm -rf pkg/imports/crds/calico pkg/imports/admission/calico
    mkdir -p pkg/imports/crds/calico/{v1.crd.projectcalico.org,v3.projectcalico.org,policy.networking.k8s.io} \
      pkg/imports/admission/calico
    cp "$CALICO_SRC"/libcalico-go/config/crd/* pkg/imports/crds/calico/v1.crd.projectcalico.org/
    cp "$CALICO_SRC"/api/config/crd/* pkg/imports/crds/calico/v3.projectcalico.org/
    mv pkg/imports/crds/calico/v1.crd.projectcalico.org/policy.networking.k8s.io_* \
      pkg/imports/crds/calico/policy.networking.k8s.io/ 2>/dev/null || true
    cp "$CALICO_SRC"/api/admission/* pkg/imports/admission/calico/
    # The Istio charts (base, istiod, cni, ztunnel 1.29.2, from istio-release.storage.googleapis
    # .com) and Envoy Gateway's gateway-helm v1.8.3 (oci://docker.io) that upstream's Makefile
    # downloads for go:embed are not reachable here (Istio's tags are not on the Go module
    # proxy). Each is replaced by a file saying so: the operator loads them only for an Istio or
    # GatewayAPI resource (kube6 creates neither), and then reports that it cannot load the chart.
    local f
    for f in pkg/render/istio/{base,istiod,cni,ztunnel}.tgz pkg/render/gatewayapi/gateway-helm.tgz; do
      [[ -e "$f" ]] || echo "not bundled: kube6's e2e build of tigera-operator has no network for $f (tests/e2e/README.md)" >"$f"
    done
    log "go build ./cmd (operator $OPERATOR_TAG)"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$OPERATOR_LDFLAGS" -o "$tmp/operator" ./cmd
  )
  cp "$src/pkg/components/calico.go" "$tmp/components-calico.go"   # the record of what was set
  rm -rf "$src"
  publish "$tmp" "$dst" "$key"
}

# ---------------------------------------------------------------------------------------------
# BIRD, as src/bird's create_binaries.sh builds it (Calico's bird image): autoreconf, then per
# address family configure with bfd/bgp/pipe/static, pthreads, no client, runstatedir
# /var/run/calico, make, and the static relink of bird and birdcl.

build_bird() {
  local dst="$BUILT/bird-${BIRD_COMMIT:0:12}" tmp="$BUILT/.partial.bird" src key gcc_v
  gcc_v=$(gcc -dumpfullversion)
  key="$BIRD_COMMIT gcc-$gcc_v"
  done_dir "$dst" "$key" && { log "BIRD ${BIRD_COMMIT:0:12} cached"; return 0; }
  rm -rf "$tmp"; mkdir -p "$tmp"
  src="$tmp/src"
  cp -r "$BIRD_SRC" "$src"; chmod -R u+w "$src"
  (cd "$src" && autoreconf >&2)
  local fam opts
  for fam in 6 4; do
    if [[ $fam == 6 ]]; then opts=(--enable-ipv6=yes --with-sysconfig=linux-v6); else opts=(--with-sysconfig=linux); fi
    mkdir -p "$tmp/obj$fam"
    (
      cd "$tmp/obj$fam"
      log "BIRD IPv$fam: configure; make"
      "$src/configure" --with-protocols="bfd bgp pipe static" --enable-client=no --enable-pthreads=yes \
        --runstatedir=/var/run/calico "${opts[@]}" >"$tmp/configure$fam.log" 2>&1 \
        || { tail -20 "$tmp/configure$fam.log" >&2; die "BIRD configure failed"; }
      make -j2 >"$tmp/make$fam.log" 2>&1 || { tail -20 "$tmp/make$fam.log" >&2; die "BIRD make failed"; }
      rm -f bird birdcl
      make CC="gcc --static" bird birdcl >>"$tmp/make$fam.log" 2>&1 || { tail -20 "$tmp/make$fam.log" >&2; die "BIRD static link failed"; }
    )
  done
  cp "$tmp/obj6/bird" "$tmp/bird6"; cp "$tmp/obj6/birdcl" "$tmp/birdcl6"
  cp "$tmp/obj4/bird" "$tmp/bird"; cp "$tmp/obj4/birdcl" "$tmp/birdcl"
  strip "$tmp"/bird{,6} "$tmp"/birdcl{,6}
  rm -rf "$src" "$tmp/obj4" "$tmp/obj6"
  publish "$tmp" "$dst" "$key"
}

# ---------------------------------------------------------------------------------------------
# Debian packages of the node image's tools, downloaded (`apt-get download`, never installed on
# the host) with their dependency closure and unpacked; the image takes only the listed programs
# and the libraries they load (build_helpers/calico.py NODE_DEBIAN).

NODE_PACKAGES=(bash dash coreutils debianutils grep sed findutils diffutils runit iproute2 nftables
               iptables ipset conntrack kmod procps net-tools iputils-ping)
DEBIAN_ROOT="$BUILT/debian-root"
debian_closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${NODE_PACKAGES[@]}" 2>/dev/null \
    | grep -v '^[ <]' | sort -u
}
build_debian_root() {
  local key pkgs tmp="$BUILT/.partial.debian-root" dl="$BUILT/debian-debs"
  mapfile -t pkgs < <(debian_closure)
  ((${#pkgs[@]} > 10)) || die "apt-cache found no packages for ${NODE_PACKAGES[*]} (run apt-get update?)"
  # The key: each package with the version apt would download now (one apt-cache call).
  key=$(apt-cache policy "${pkgs[@]}" | awk '/^[^ ]/ {sub(":$", "", $1); p=$1} /Candidate:/ {print p"="$2}' | paste -sd' ')
  done_dir "$DEBIAN_ROOT" "$key" && { log "Debian tools for the node image cached (${#pkgs[@]} packages)"; return 0; }
  mkdir -p "$dl"
  log "apt-get download ${#pkgs[@]} packages (closure of ${NODE_PACKAGES[*]})"
  (cd "$dl" && apt-get download -q "${pkgs[@]}" >"$WORK/apt-download.log" 2>&1) \
    || { cat "$WORK/apt-download.log" >&2; die "apt-get download failed (run apt-get update?)"; }
  rm -rf "$tmp"; mkdir -p "$tmp"
  local p f
  for p in "${pkgs[@]}"; do
    f=$(compgen -G "$dl/${p}_*.deb" | head -1 || true)
    [[ -n "$f" ]] || die "no .deb for $p in $dl"
    dpkg-deb -x "$f" "$tmp"
  done
  printf '%s\n' "$key" | tr ' ' '\n' >"$tmp/.packages"
  publish "$tmp" "$DEBIAN_ROOT" "$key"
}

# ---------------------------------------------------------------------------------------------
# Images.

img_ref() { echo "quay.io/$1:$2"; }
REF_NODE=$(img_ref calico/node "$CALICO_VERSION")
REF_CALICO=$(img_ref calico/calico "$CALICO_VERSION")
REF_CNI_PLUGINS=$(img_ref calico/third-party-cni-plugins "$CALICO_VERSION")
REF_OPERATOR=$(img_ref tigera/operator "$OPERATOR_TAG")

build_images() {
  local cni_ver op_dir spec debs
  cni_ver=$(cni_plugins_version)
  op_dir="$BUILT/operator-$OPERATOR_TAG-calico-$CALICO_VERSION"
  debs=$(paste -sd' ' "$DEBIAN_ROOT/.packages")
  local confd_note="confd templates from ${CONFD_DIR#"$UPSTREAM/"}" confd_dir=$CONFD_DIR
  if [[ -z "$CONFD_DIR" ]]; then
    confd_dir=$CONFD_STAND_IN
    confd_note="STAND-IN confd BIRD templates (kube6's tests/e2e/calico-confd): the snapshot lacks Calico's own (confd/etc/calico/confd/{conf.d,templates}, symlinks to node/filesystem/etc/calico/confd, not in ../shared/upstream); Calico's confd renders kube6's stand-in from its own BGP data"
  fi
  local snap="Calico release-v3.33 snapshot $CALICO_COMMIT (2026-08-21), served as $CALICO_VERSION because kube6 pins $CALICO_VERSION"
  spec=$(python3 - <<EOF
import json
print(json.dumps({
  "out_dir": "$CACHE/images",
  "ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
  "license": "$CALICO_SRC/LICENSE.md",
  "calico": "$BUILT/calico-$CALICO_VERSION/calico",
  "mountns": "$BUILT/calico-$CALICO_VERSION/mountns",
  "install_cni_plugins": "$BUILT/calico-$CALICO_VERSION/install-cni-plugins",
  "cni_plugins": {n: "$BUILT/cni-plugins-$cni_ver/" + n for n in ("host-local", "portmap", "loopback", "tuning")},
  "bird_dir": "$BUILT/bird-${BIRD_COMMIT:0:12}",
  "debian_root": "$DEBIAN_ROOT",
  "node_filesystem": "$CALICO_SRC/node/filesystem",
  "confd_dir": "$confd_dir",
  "typha_cfg": "$CALICO_SRC/docker/calico/typha.cfg",
  "operator": "$op_dir/operator",
  "refs": {"node": "$REF_NODE", "calico": "$REF_CALICO", "third-party-cni-plugins": "$REF_CNI_PLUGINS", "operator": "$REF_OPERATOR"},
  "origins": {
    "node": "$snap: cmd/calico (CGO off) as /usr/bin/calico, node/cmd/mountns, BIRD/bird6/birdcl(6) from projectcalico/bird $BIRD_COMMIT (static), node/filesystem (runit services, start_runit, rc.local), tools from Debian ($debs); $confd_note",
    "calico": "$snap: cmd/calico (CGO off) as /usr/bin/calico (+ calicoctl, calico-ipam links), docker/calico/typha.cfg; no csi-node-driver-registrar",
    "third-party-cni-plugins": "$snap: third_party/cni-plugins/cmd/install + host-local, portmap, loopback, tuning from github.com/containernetworking/plugins@$cni_ver (upstream uses its fork at a commit not on the Go module proxy; no flannel)",
    "operator": "github.com/tigera/operator release-v1.44 snapshot $OPERATOR_COMMIT (2026-08-19), pkg/components/calico.go regenerated with every Calico component at $CALICO_VERSION, version.VERSION=$OPERATOR_TAG",
  },
}))
EOF
)
  python3 "$HELPERS" images "$spec" >"$WORK/images.json"
  python3 "$HELPERS" index images "$CACHE" "$(cat "$WORK/images.json")"
  python3 - "$WORK/images.json" >>"$ENTRIES" <<'EOF'
import json, sys
for e in json.load(open(sys.argv[1])):
    print(json.dumps({"kind": "image", "name": e["ref"], "version": e["ref"].rsplit(":", 1)[1],
                      "path": "images/" + e["file"], "origin": {"text": e["origin"]},
                      "note": "manifest " + e["digest"]}, sort_keys=True))
EOF
}

# ---------------------------------------------------------------------------------------------
# Charts: the tigera-operator chart and the two CRD charts of the snapshot, packaged as upstream's
# release does (values: every `version:` = the operator tag, every `tag:` = the Calico version;
# chart version and appVersion = the Calico version), plus a Helm repository index for a mirror of
# https://docs.tigera.io/calico/charts (kube6: `helm ... --repo https://docs.tigera.io/calico/charts`).

CHART_REPO_URL="https://docs.tigera.io/calico/charts"
CHART_REPO_DIR="files/docs.tigera.io/calico/charts"
build_charts() {
  local helm="$K8S_CACHE/bin/helm-$HELM_VERSION" name tgz items=() home="$WORK/helm-home" stage repo
  [[ -x "$helm" ]] || die "$helm is missing: run tests/k8s/build.sh first (helm is built there)"
  mkdir -p "$home"
  repo="$CACHE/$CHART_REPO_DIR"
  for name in tigera-operator crd.projectcalico.org.v1 projectcalico.org.v3; do
    tgz="$CACHE/charts/$name-$CALICO_VERSION.tgz"
    if [[ ! -s "$tgz" || ! -f "$CACHE/charts/.$name-$CALICO_VERSION.key" \
          || "$(cat "$CACHE/charts/.$name-$CALICO_VERSION.key")" != "$CALICO_COMMIT $OPERATOR_TAG" ]]; then
      stage="$WORK/chart-$name"; rm -rf "$stage" "$WORK/chart-out"; mkdir -p "$WORK/chart-out"
      cp -rL "$CHARTS_SRC/$name" "$stage"; chmod -R u+w "$stage"
      if [[ $name == tigera-operator ]]; then
        sed -i "s/version: .*/version: $OPERATOR_TAG/g; s/tag: .*/tag: $CALICO_VERSION/g" "$stage/values.yaml"
      fi
      HOME="$home" "$helm" package "$stage" --version "$CALICO_VERSION" --app-version "$CALICO_VERSION" -d "$WORK/chart-out" >/dev/null
      mv "$WORK/chart-out/$name-$CALICO_VERSION.tgz" "$CACHE/charts/.partial.$name.tgz"
      mv "$CACHE/charts/.partial.$name.tgz" "$tgz"
      echo "$CALICO_COMMIT $OPERATOR_TAG" >"$CACHE/charts/.$name-$CALICO_VERSION.key"
      log "packaged $tgz"
    fi
    items+=("$name")
    entry chart "$name" "$CALICO_VERSION" "charts/$name-$CALICO_VERSION.tgz" \
      "{\"source\": \"github.com/projectcalico/calico charts/$name (symlinks resolved, ../shared/upstream)\", \"commit\": \"$CALICO_COMMIT\", \"branch\": \"release-v3.33\", \"date\": \"2026-08-21\"}" \
      "chart of the release-v3.33 snapshot packaged as $CALICO_VERSION (kube6's pin)$([[ $name == tigera-operator ]] && echo "; values tigeraOperator.version=$OPERATOR_TAG, calicoctl.tag=$CALICO_VERSION")"
  done
  # The Helm repository (index.yaml with relative chart URLs, so any mirror host serves it).
  rm -rf "$WORK/repo"; mkdir -p "$WORK/repo" "$repo"
  for name in "${items[@]}"; do cp "$CACHE/charts/$name-$CALICO_VERSION.tgz" "$WORK/repo/"; done
  HOME="$home" "$helm" repo index "$WORK/repo" >/dev/null
  # helm stamps `generated:` and each `created:` with the time; pin them for a stable index.
  sed -i -E "s/^(\s*)(created|generated): .*/\1\2: \"$BUILD_DATE\"/" "$WORK/repo/index.yaml"
  for name in "${items[@]}"; do cp "$WORK/repo/$name-$CALICO_VERSION.tgz" "$repo/.partial.$name.tgz"; mv "$repo/.partial.$name.tgz" "$repo/$name-$CALICO_VERSION.tgz"; done
  cp "$WORK/repo/index.yaml" "$repo/.partial.index.yaml"; mv "$repo/.partial.index.yaml" "$repo/index.yaml"
  python3 "$HELPERS" index charts "$CACHE" "$(python3 -c '
import json, sys
url, repo_dir, ver, commit, op = sys.argv[1:6]
print(json.dumps([{"ref": f"{url}/{n}:{ver}", "repo": url, "chart": n, "version": ver, "file": f"{n}-{ver}.tgz",
  "repo_index": f"{repo_dir}/index.yaml",
  "origin": f"github.com/projectcalico/calico release-v3.33 {commit} charts/{n}, packaged as {ver}" + (f" (tigeraOperator.version {op})" if n == "tigera-operator" else "")}
  for n in sys.argv[6:]]))' "$CHART_REPO_URL" "$CHART_REPO_DIR" "$CALICO_VERSION" "$CALICO_COMMIT" "$OPERATOR_TAG" "${items[@]}")"
  python3 "$HELPERS" index files "$CACHE" "$(python3 -c '
import json, sys
url, repo_dir, ver = sys.argv[1:4]
files = ["index.yaml"] + [f"{n}-{ver}.tgz" for n in sys.argv[4:]]
base = repo_dir.removeprefix("files/")
print(json.dumps([{"url": f"{url}/{f}", "path": f"{base}/{f}",
  "origin": "helm repo index of charts/ (relative URLs)" if f == "index.yaml" else f"charts/{f}"} for f in files]))' \
    "$CHART_REPO_URL" "$CHART_REPO_DIR" "$CALICO_VERSION" "${items[@]}")"
  entry helm-repo calico-charts "$CALICO_VERSION" "$CHART_REPO_DIR/index.yaml" "{\"serves\": \"$CHART_REPO_URL\"}" \
    "a Helm repository of the three charts above, for a mirror of $CHART_REPO_URL"
}

# entry KIND NAME VERSION PATH ORIGIN_JSON [NOTE]: one manifest entry (PATH relative to CACHE).
entry() {
  python3 -c 'import json,sys; k,n,v,p,o,note=sys.argv[1:7]; e={"kind":k,"name":n,"version":v,"path":p,"origin":json.loads(o)}
if note: e["note"]=note
print(json.dumps(e, sort_keys=True))' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$ENTRIES"
}

binary_entries() {
  local cv cni_ver
  cni_ver=$(cni_plugins_version)
  cv="{\"source\": \"github.com/projectcalico/calico\", \"branch\": \"release-v3.33\", \"commit\": \"$CALICO_COMMIT\", \"date\": \"2026-08-21\", \"go\": \"$GO_VERSION\"}"
  entry binary calico "$CALICO_VERSION" "build/calico/calico-$CALICO_VERSION/calico" "$cv" \
    "cmd/calico, CGO_ENABLED=0 (no eBPF dataplane); buildinfo Version=$CALICO_VERSION (the pin it is served as), GitRevision=$CALICO_COMMIT: built from the release-v3.33 snapshot, NOT from the v3.33.1 tag"
  entry binary mountns "$CALICO_VERSION" "build/calico/calico-$CALICO_VERSION/mountns" "$cv" "node/cmd/mountns (cgo, libc only)"
  entry binary install-cni-plugins "$CALICO_VERSION" "build/calico/calico-$CALICO_VERSION/install-cni-plugins" "$cv" "third_party/cni-plugins/cmd/install"
  entry binary cni-plugins "$cni_ver" "build/calico/cni-plugins-$cni_ver" \
    "{\"module\": \"github.com/containernetworking/plugins\", \"version\": \"$cni_ver\"}" \
    "host-local, portmap, loopback, tuning; the version Calico's go.mod requires (upstream: its fork at commit 9ffe547c, not on the Go module proxy)"
  entry binary bird "${BIRD_COMMIT:0:12}" "build/calico/bird-${BIRD_COMMIT:0:12}" \
    "{\"source\": \"github.com/projectcalico/bird\", \"commit\": \"$BIRD_COMMIT\", \"describe\": \"v0.3.3-208-g1e2ff99d\", \"date\": \"2024-01-03\", \"gcc\": \"$(gcc -dumpfullversion)\"}" \
    "bird, bird6, birdcl, birdcl6 (static, as create_binaries.sh); Calico 3.33 names v0.3.3-211-g9111ec3c, 3 commits later, not available here"
  entry binary tigera-operator "$OPERATOR_TAG" "build/calico/operator-$OPERATOR_TAG-calico-$CALICO_VERSION/operator" \
    "{\"source\": \"github.com/tigera/operator\", \"branch\": \"release-v1.44\", \"commit\": \"$OPERATOR_COMMIT\", \"date\": \"2026-08-19\", \"go\": \"$GO_VERSION\"}" \
    "pkg/components/calico.go regenerated by hack/gen-versions with every Calico component at $CALICO_VERSION (the snapshot says release-v3.33); embedded CRDs and admission policies from the Calico snapshot (update-calico-crds); -X version.VERSION=$OPERATOR_TAG; the generated file is kept beside it"
  entry debian node-image-tools "" "build/calico/debian-root/.packages" \
    "{\"debian\": \"$(. /etc/os-release && echo "$ID $VERSION_ID ($VERSION_CODENAME)")\", \"packages\": \"$(paste -sd' ' "$DEBIAN_ROOT/.packages")\"}" \
    "apt-get download + dpkg-deb -x; the node image takes only the listed programs and their libraries"
}

ensure_crane() {
  # crane is a tool of this tier (tests: crane export/push); build-artifacts.sh builds it into
  # bin/ too. Build it here only when it is absent, under a lock both scripts could share.
  [[ -x "$CACHE/bin/crane" ]] && { log "bin/crane present"; return 0; }
  exec 8>"$CACHE/bin/.crane.lock"; flock -w 1800 8
  if [[ ! -x "$CACHE/bin/crane" ]]; then
    local m=github.com/google/go-containerregistry v=v0.22.1 mod="$WORK/crane-mod" dst="$BUILT/crane-v0.22.1"
    mkdir -p "$mod"
    (cd "$mod" && "$GO" mod init kube6.invalid/e2e-calico-crane >/dev/null 2>&1 && "$GO" mod edit -require="$m@$v" \
      && CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath -ldflags "-s -w -X $m/cmd/crane/cmd.Version=$v" -o "$dst.tmp/" $m/cmd/crane)
    rm -rf "$dst"; mv "$dst.tmp" "$dst"
    ln -sfn "../build/calico/crane-v0.22.1/crane" "$CACHE/bin/crane"
    log "built bin/crane ($m@$v)"
  fi
  exec 8>&-
}

# ---------------------------------------------------------------------------------------------

step "crane (tool)" ensure_crane
step "Debian tools of the node image" build_debian_root
step "BIRD ${BIRD_COMMIT:0:12}" build_bird
step "CNI plugins $(cni_plugins_version)" build_cni_plugins
step "calico $CALICO_VERSION (cmd/calico, mountns, install-cni-plugins)" build_calico
step "tigera-operator $OPERATOR_TAG" build_operator
step "images" build_images
step "charts" build_charts
binary_entries
step "manifest" python3 "$HELPERS" manifest "$CACHE" "$ENTRIES"

log "built (in $CACHE):"
python3 - "$CACHE/images/index.json" >&2 <<'EOF'
import json, sys
for e in json.load(open(sys.argv[1])):
    if e.get("builder") == "build-calico.sh":
        print(f"  {e['ref']:<50} images/{e['file']}")
EOF
log "timings:"
for t in "${TIMINGS[@]}"; do printf '  %s\n' "$t" >&2; done
printf '  %-44s %5ss\n' "total" "$(($(date +%s) - T_START))" >&2
exit 0
}
