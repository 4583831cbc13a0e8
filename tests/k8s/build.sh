#!/usr/bin/env bash
# Build (or reuse) the upstream programs and fetch the upstream CRDs/charts of the k8s test tier.
#
# Everything comes from published Go modules through the Go module proxy; nothing else is
# downloaded. What the proxy cannot serve at its pin (Calico 3.33's charts, the Headlamp chart) is
# copied from the read-only upstream snapshot ../shared/upstream (see its README: provenance),
# never into the repository. Versions are read from src/kube6/versions.py. Results go to a
# cache outside the repository (default ~/.cache/kube6-k8s, override with KUBE6_K8S_CACHE):
#
#   $CACHE/bin/<name>-<version>            binaries (kubeadm, kube-apiserver, kube-controller-manager,
#                                          kubectl, etcd, helm, kwok)
#   $CACHE/current/<name>                  symlinks to the pinned binaries
#   $CACHE/crds/<component>-<version>/     upstream CRD files
#   $CACHE/charts/<chart>-<version>/       upstream Helm chart sources, ready for `helm template`
#   $CACHE/manifest.json                   every artifact with path, version and origin
#
# A second run with a warm cache only verifies what exists. See tests/k8s/README.md.
#
# Environment: KUBE6_K8S_CACHE (cache dir), GO (go binary), GOPROXY/GOMODCACHE/GOCACHE (as usual),
# KUBE6_SHARED_UPSTREAM (the upstream snapshot, default ../shared/upstream beside the checkout).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
HELPERS="$SCRIPT_DIR/build_helpers/helpers.py"
CACHE=${KUBE6_K8S_CACHE:-$HOME/.cache/kube6-k8s}

T_START=$(date +%s)
TIMINGS=()

log() { printf '[build.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[build.sh] ERROR: %s\n' "$*" >&2; exit 1; }

# step NAME CMD...: run a step and record how long it took.
step() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s)
  log "-- $name"
  "$@"
  t1=$(date +%s)
  TIMINGS+=("$(printf '%-34s %5ss' "$name" "$((t1 - t0))")")
}

# ---------------------------------------------------------------------------------------------
# Prerequisites: python3, Go >= the version kubernetes needs, a module proxy.

command -v python3 >/dev/null || die "python3 is required (to read src/kube6/versions.py)"

GO=${GO:-$(command -v go || true)}
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
[[ -n "$GO" && -x "$GO" ]] || die "Go is not installed (looked for 'go' in PATH and /usr/local/go/bin/go; set GO=/path/to/go)"
GO_VERSION=$("$GO" env GOVERSION) || die "'$GO env GOVERSION' failed"

# Never download toolchains, never pick up a go.work, build static binaries without a C compiler.
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOFLAGS="-buildvcs=false"

eval "$(python3 "$HELPERS" pins "$REPO_ROOT")" || die "cannot read pins from $REPO_ROOT/src/kube6/versions.py"

K8S_V=$KUBERNETES_VERSION                 # v1.37.2
K8S_STAGING_V="v0.${K8S_V#v1.}"           # v0.37.2: tag of the k8s.io/* staging modules
K8S_MAJOR=${K8S_V#v}; K8S_MAJOR=${K8S_MAJOR%%.*}
K8S_MINOR=${K8S_V#v*.}; K8S_MINOR=${K8S_MINOR%%.*}
HELM_MAJOR=${HELM_VERSION#v}; HELM_MAJOR=${HELM_MAJOR%%.*}
HELM_MODULE="helm.sh/helm/v${HELM_MAJOR}"
ETCD_MAJOR=${ETCD_VERSION#v}; ETCD_MAJOR=${ETCD_MAJOR%%.*}
ETCD_MODULE="go.etcd.io/etcd/server/v${ETCD_MAJOR}"

# Calico v3.x tags are not valid Go module versions for github.com/projectcalico/calico (its
# go.mod has no /v3 suffix) and the proxy answers 403 for Headlamp: both come from the upstream
# snapshot beside the checkout, whose README records where each folder came from.
SHARED_UPSTREAM=${KUBE6_SHARED_UPSTREAM:-$REPO_ROOT/../shared/upstream}
if [[ -d "$SHARED_UPSTREAM" ]]; then SHARED_UPSTREAM=$(cd "$SHARED_UPSTREAM" && pwd); fi

mkdir -p "$CACHE"/{bin,current,crds,charts}
CACHE=$(cd "$CACHE" && pwd)

# One build at a time per cache.
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.lock"
  flock -w 7200 9 || die "could not lock $CACHE/.lock"
fi
# Leftovers of an interrupted run.
find "$CACHE/bin" "$CACHE/crds" "$CACHE/charts" -maxdepth 1 -name '.tmp.*' -exec rm -rf {} + 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube6-k8s-build.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ENTRIES="$WORK/entries.tsv"
: >"$ENTRIES"

log "Go: $GO ($GO_VERSION), GOPROXY=$("$GO" env GOPROXY), GOMODCACHE=$("$GO" env GOMODCACHE)"
log "cache: $CACHE"
log "pins: kubernetes=$K8S_V etcd=$ETCD_VERSION helm=$HELM_VERSION kwok=$KWOK_VERSION" \
    "gateway-api=$GATEWAY_API_VERSION cert-manager=$CERT_MANAGER_VERSION" \
    "envoy-gateway=$ENVOY_GATEWAY_VERSION calico=$CALICO_VERSION headlamp=$HEADLAMP_VERSION"

# Kubernetes go.mod says `go 1.26.0`; older toolchains cannot build it and we never download one.
go_minor=${GO_VERSION#go1.}; go_minor=${go_minor%%.*}
[[ "$GO_VERSION" == go1.* && "$go_minor" =~ ^[0-9]+$ && "$go_minor" -ge 26 ]] \
  || die "Go >= 1.26 is required, found $GO_VERSION ($GO)"

PROXY_OK=""
# Called before the first thing that may need the network: fail clearly when the proxy is not
# usable. Module versions already in GOMODCACHE resolve offline, so a warm cache needs no proxy.
ensure_proxy() {
  [[ -n "$PROXY_OK" ]] && return 0
  local proxy err
  proxy=$("$GO" env GOPROXY)
  [[ "$proxy" != "off" ]] || die "GOPROXY=off: the Go module proxy is needed to fetch missing modules"
  if ! err=$(cd "$WORK" && timeout 180 "$GO" mod download "k8s.io/kubernetes@$K8S_V" 2>&1); then
    die "the Go module proxy is not usable (GOPROXY=$proxy): 'go mod download k8s.io/kubernetes@$K8S_V' failed: ${err:-timeout}"
  fi
  PROXY_OK=1
}

# mod_dir MODULE VERSION: download a module (if needed) and print its extracted directory.
mod_dir() {
  local json
  ensure_proxy
  json=$(cd "$WORK" && "$GO" mod download -json "$1@$2") || die "go mod download $1@$2 failed"
  printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

# entry kind name version path origin_module origin_version origin_path [note [commit date copied_from]]
#   (the last three for files copied from the upstream snapshot: origin_module is then the
#   repository and origin_version the branch or tag)
entry() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" \
    "${8:-}" "${9:-}" "${10:-}" "${11:-}" >>"$ENTRIES"
}

# ---------------------------------------------------------------------------------------------
# Binaries.

# version_ok NAME PATH: does the binary run and report the pinned version?
version_ok() {
  local name=$1 bin=$2 out
  [[ -x "$bin" ]] || return 1
  case $name in
    kubeadm)
      out=$("$bin" version -o short 2>&1) || return 1
      [[ "$out" == "$K8S_V" ]] ;;
    kube-apiserver|kube-controller-manager)
      out=$("$bin" --version 2>&1) || return 1
      [[ "$out" == "Kubernetes $K8S_V" ]] ;;
    kubectl)
      out=$("$bin" version --client 2>&1) || return 1
      grep -qx "Client Version: $K8S_V" <<<"$out" ;;
    etcd)
      out=$("$bin" --version 2>&1) || return 1
      grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$out" ;;
    helm)
      out=$(HOME="$WORK" "$bin" version --template '{{.Version}}' 2>&1) || return 1
      [[ "$out" == "$HELM_VERSION" ]] ;;
    kwok)
      out=$("$bin" --version 2>&1) || return 1
      grep -q "$KWOK_VERSION" <<<"$out" ;;
    *) return 1 ;;
  esac
}

version_of() {
  case $1 in
    kubeadm|kube-apiserver|kube-controller-manager|kubectl) echo "$K8S_V" ;;
    etcd) echo "$ETCD_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
  esac
}

# install_bin NAME BUILT_FILE: verify, then move into the cache atomically.
install_bin() {
  local name=$1 src=$2 ver dst tmp
  ver=$(version_of "$name")
  dst="$CACHE/bin/$name-$ver"
  version_ok "$name" "$src" || die "freshly built $name does not report version $ver: $("$src" --version 2>&1 | head -3)"
  tmp="$CACHE/bin/.tmp.$name.$$"
  cp "$src" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$dst"
  log "installed $dst"
}

# need NAME...: print the names whose cached binary is missing or broken.
need() {
  local name
  for name in "$@"; do
    version_ok "$name" "$CACHE/bin/$name-$(version_of "$name")" || echo "$name"
  done
}

build_kubernetes() {
  local -a names pkgs replaces
  mapfile -t names < <(need kubeadm kube-apiserver kube-controller-manager kubectl)
  if ((${#names[@]} == 0)); then log "kubernetes $K8S_V binaries cached"; return 0; fi
  ensure_proxy
  local gomod info build_date mod="$WORK/kubernetes" out="$WORK/kubernetes/out"
  gomod=$(cd "$WORK" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_V" \
            | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["GoMod"]); print(d["Info"])')
  info=$(sed -n 2p <<<"$gomod"); gomod=$(sed -n 1p <<<"$gomod")
  # Reproducible build date: the commit time of the tag, as recorded by the proxy.
  build_date=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$info")
  mapfile -t replaces < <("$GO" mod edit -json "$gomod" | python3 "$HELPERS" k8s-replaces "$K8S_STAGING_V")
  log "k8s.io/kubernetes@$K8S_V: ${#replaces[@]} staging modules replaced by @$K8S_STAGING_V"
  mkdir -p "$mod" "$out"
  (
    cd "$mod"
    "$GO" mod init kube6.invalid/k8s-test-tier-build >/dev/null 2>&1
    "$GO" mod edit -go="$("$GO" mod edit -json "$gomod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')"
    "$GO" mod edit -require="k8s.io/kubernetes@$K8S_V" "${replaces[@]}"
    for n in "${names[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$n"); done
    # Same flags as kubernetes' hack/lib/golang.sh + hack/lib/version.sh for a release build
    # (static, -trimpath, -s -w, tags selinux,notest,grpcnotrace, version stamped).
    local ld="-s -w"
    for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      ld+=" -X $p.gitVersion=$K8S_V -X $p.gitMajor=$K8S_MAJOR -X $p.gitMinor=$K8S_MINOR"
      ld+=" -X $p.buildDate=$build_date"   # gitCommit/gitTreeState: unknown without git
    done
    log "go build ${pkgs[*]}"
    GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath -tags selinux,notest,grpcnotrace \
      -ldflags "$ld" -o "$out/" "${pkgs[@]}"
  )
  for n in "${names[@]}"; do install_bin "$n" "$out/$n"; done
}

build_etcd() {
  if [[ -z "$(need etcd)" ]]; then log "etcd $ETCD_VERSION cached"; return 0; fi
  ensure_proxy
  # go.etcd.io/etcd/server/v3 holds etcd's main package (server/main.go, what etcd's own build
  # script builds) but its go.mod has replace directives, so `go install @version` refuses it.
  local mod="$WORK/etcd"
  mkdir -p "$mod"
  (
    cd "$mod"
    "$GO" mod init kube6.invalid/etcd-build >/dev/null 2>&1
    "$GO" mod edit -require="$ETCD_MODULE@$ETCD_VERSION"
    GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath -ldflags "-s -w" -o "$mod/etcd" "$ETCD_MODULE"
  )
  install_bin etcd "$mod/etcd"
}

# go_install NAME PKG VERSION LDFLAGS: for modules without replace directives.
go_install() {
  local name=$1 pkg=$2 ver=$3 ld=$4 gobin="$WORK/gobin-$1"
  if [[ -z "$(need "$name")" ]]; then log "$name $ver cached"; return 0; fi
  ensure_proxy
  mkdir -p "$gobin"
  (cd "$WORK" && GOBIN="$gobin" "$GO" install -trimpath -ldflags "-s -w $ld" "$pkg@$ver")
  install_bin "$name" "$gobin/$name"
}

link_current() {
  local name ver
  for name in kubeadm kube-apiserver kube-controller-manager kubectl etcd helm kwok; do
    ver=$(version_of "$name")
    ln -sfn "../bin/$name-$ver" "$CACHE/current/$name"
  done
}

bin_entries() {
  local n
  for n in kubeadm kube-apiserver kube-controller-manager kubectl; do
    entry binary "$n" "$K8S_V" "bin/$n-$K8S_V" k8s.io/kubernetes "$K8S_V" "cmd/$n" \
      "staging modules k8s.io/*@$K8S_STAGING_V; go build -trimpath -tags selinux,notest,grpcnotrace"
  done
  entry binary etcd "$ETCD_VERSION" "bin/etcd-$ETCD_VERSION" "$ETCD_MODULE" "$ETCD_VERSION" "." \
    "main package of the server module (as etcd's build script builds it)"
  entry binary helm "$HELM_VERSION" "bin/helm-$HELM_VERSION" "$HELM_MODULE" "$HELM_VERSION" "cmd/helm"
  entry binary kwok "$KWOK_VERSION" "bin/kwok-$KWOK_VERSION" sigs.k8s.io/kwok "$KWOK_VERSION" "cmd/kwok"
}

# ---------------------------------------------------------------------------------------------
# CRDs and charts, copied out of module zips (GOMODCACHE) into the cache.

# fetch_tree KIND NAME VERSION MODULE MODVERSION SUBDIR [GLOB] [NOTE]
#   copy MODULE@MODVERSION/SUBDIR (or only SUBDIR/GLOB) to $CACHE/KIND/NAME-VERSION, unless there.
#   A function named fixup_<KIND>_<NAME> (dashes -> underscores) is run on the copy, if defined.
fetch_tree() {
  local kind=$1 name=$2 ver=$3 module=$4 modver=$5 sub=$6 glob=${7:-} note=${8:-}
  local rel="$kind/$name-$ver" dst="$CACHE/$kind/$name-$ver" tmp src fix
  entry "${kind%s}" "$name" "$ver" "$rel" "$module" "$modver" "$sub${glob:+/$glob}" "$note"
  [[ -d "$dst" ]] && return 0
  src="$(mod_dir "$module" "$modver")/$sub"
  [[ -d "$src" ]] || die "$module@$modver has no directory $sub"
  tmp="$CACHE/$kind/.tmp.$name.$$"
  rm -rf "$tmp"
  if [[ -n "$glob" ]]; then
    mkdir -p "$tmp"
    compgen -G "$src/$glob" >/dev/null || die "$module@$modver: nothing matches $sub/$glob"
    cp "$src"/$glob "$tmp/"
  else
    cp -r "$src" "$tmp"
  fi
  chmod -R u+w "$tmp"            # module cache files are read-only
  fix="fixup_${kind}_${name//-/_}"
  if declare -F "$fix" >/dev/null; then "$fix" "$tmp"; fi
  mv "$tmp" "$dst"
  log "fetched $dst"
}

fixup_charts_cert_manager() {
  # Chart.yaml has `version: v0.0.0` / `appVersion: v0.0.0`, set by cert-manager's release tool;
  # appVersion is the image tag of every cert-manager image.
  python3 "$HELPERS" set-chart-version "$1" "$CERT_MANAGER_VERSION" "$CERT_MANAGER_VERSION"
}

fixup_charts_gateway_helm() {
  # Envoy Gateway's release renders values.yaml from values.tmpl.yaml with envsubst and packages
  # the chart with --version/--app-version = the tag; do the same.
  python3 "$HELPERS" subst "$1/values.tmpl.yaml" "$1/values.yaml" \
    "GatewayImage=docker.io/envoyproxy/gateway:$ENVOY_GATEWAY_VERSION" \
    "GatewayImagePullPolicy=IfNotPresent"
  rm -f "$1/values.tmpl.yaml"
  python3 "$HELPERS" set-chart-version "$1" "$ENVOY_GATEWAY_VERSION" "$ENVOY_GATEWAY_VERSION"
}

fixup_charts_gateway_crds_helm() {
  python3 "$HELPERS" set-chart-version "$1" "$ENVOY_GATEWAY_VERSION" "$ENVOY_GATEWAY_VERSION"
}

fixup_charts_headlamp() {
  # Chart.yaml at the v0.43.0 tag still says 0.42.0 (upstream bumps the chart after tagging);
  # appVersion is the image tag the chart deploys, so it is set to the pin, as the published
  # 0.43.0 chart has it.
  python3 "$HELPERS" set-chart-version "$1" "$HEADLAMP_VERSION" "$HEADLAMP_VERSION"
}

# shared_entry KIND NAME LABEL REL FOLDER SUBDIR NOTE
#   record $CACHE/REL, taken from $SHARED_UPSTREAM/FOLDER/SUBDIR, with its origin (repository,
#   ref, commit, date) as the snapshot's README states it for that folder.
shared_entry() {
  local kind=$1 name=$2 label=$3 rel=$4 folder=$5 sub=$6 note=$7 origin repo ref commit date
  origin=$(python3 "$HELPERS" shared-origin "$SHARED_UPSTREAM/README.md" "$folder/$sub") \
    || die "$SHARED_UPSTREAM/README.md does not say where $folder/$sub comes from"
  IFS=$'\t' read -r repo ref commit date <<<"$origin"
  entry "$kind" "$name" "$label" "$rel" "$repo" "$ref" "$sub" "$note" "$commit" "$date" \
    "$SHARED_UPSTREAM/$folder/$sub"
}

# fetch_shared KIND NAME LABEL FOLDER SUBDIR NOTE
#   copy $SHARED_UPSTREAM/FOLDER/SUBDIR to $CACHE/KIND/NAME-LABEL (unless there) and record it.
fetch_shared() {
  local kind=$1 name=$2 label=$3 folder=$4 sub=$5 note=$6
  local rel="$kind/$name-$label" dst="$CACHE/$kind/$name-$label" src="$SHARED_UPSTREAM/$folder/$sub"
  local tmp fix
  [[ -d "$src" ]] || die "$src is missing from the upstream snapshot"
  shared_entry "${kind%s}" "$name" "$label" "$rel" "$folder" "$sub" "$note"
  [[ -d "$dst" ]] && return 0
  tmp="$CACHE/$kind/.tmp.$name.$$"
  rm -rf "$tmp"
  cp -r "$src" "$tmp"
  chmod -R u+w "$tmp"            # the snapshot is read-only
  fix="fixup_${kind}_${name//[-.]/_}"
  if declare -F "$fix" >/dev/null; then "$fix" "$tmp"; fi
  mv "$tmp" "$dst"
  log "copied $dst from $src"
}

fetch_crds_and_charts() {
  fetch_tree crds gateway-api "$GATEWAY_API_VERSION" sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION" \
    config/crd/standard '*.yaml' \
    "standard channel; gateway.networking.k8s.io_vap_safeupgrades.yaml is a ValidatingAdmissionPolicy(+Binding), not a CRD"

  fetch_tree crds cert-manager "$CERT_MANAGER_VERSION" github.com/cert-manager/cert-manager \
    "$CERT_MANAGER_VERSION" deploy/crds '*.yaml' \
    "CRD sources; the chart (crds.enabled=true) renders the same CRDs with labels"
  fetch_tree charts cert-manager "$CERT_MANAGER_VERSION" github.com/cert-manager/cert-manager \
    "$CERT_MANAGER_VERSION" deploy/charts/cert-manager "" \
    "Chart.yaml version/appVersion set to $CERT_MANAGER_VERSION (upstream: v0.0.0 placeholders)"

  fetch_tree crds envoy-gateway "$ENVOY_GATEWAY_VERSION" github.com/envoyproxy/gateway \
    "$ENVOY_GATEWAY_VERSION" charts/gateway-helm/charts/crds/crds "" \
    "generated/: gateway.envoyproxy.io CRDs; gatewayapi-crds.yaml: the Gateway API CRDs Envoy Gateway bundles (its own gateway-api version, experimental channel)"
  fetch_tree charts gateway-helm "$ENVOY_GATEWAY_VERSION" github.com/envoyproxy/gateway \
    "$ENVOY_GATEWAY_VERSION" charts/gateway-helm "" \
    "values.yaml rendered from values.tmpl.yaml (GatewayImage=docker.io/envoyproxy/gateway:$ENVOY_GATEWAY_VERSION); Chart.yaml version/appVersion set; includes subchart charts/crds (crds.enabled)"
  fetch_tree charts gateway-crds-helm "$ENVOY_GATEWAY_VERSION" github.com/envoyproxy/gateway \
    "$ENVOY_GATEWAY_VERSION" charts/gateway-crds-helm "" "Chart.yaml version/appVersion set"

  # Calico and Headlamp: not on the Go proxy (403, or no valid module version); from the snapshot.
  if [[ -f "$SHARED_UPSTREAM/README.md" ]]; then
    local c="calico-release-v3.33" label="release-v3.33"
    local n="NOT the tag $CALICO_VERSION: branch release-v3.33 of 2026-08-21, before v3.33.0 (same minor); Chart.yaml says v0.0 (upstream sets the version when it packages)"
    fetch_shared charts crd.projectcalico.org.v1 "$label" "$c" charts/crd.projectcalico.org.v1 \
      "$n; the CRD chart kube6 installs (crd.projectcalico.org + operator.tigera.io)"
    fetch_shared charts projectcalico.org.v3 "$label" "$c" charts/projectcalico.org.v3 \
      "$n; projectcalico.org/v3 as CRDs (the schemas the Calico API server serves)"
    fetch_shared charts tigera-operator "$label" "$c" charts/tigera-operator "$n"
    shared_entry crd calico "$label" "charts/crd.projectcalico.org.v1-$label/templates" "$c" \
      charts/crd.projectcalico.org.v1/templates \
      "$n; the CRD files of the crd.projectcalico.org.v1 chart above (no templating in them)"
    shared_entry crd calico-v3 "$label" "charts/projectcalico.org.v3-$label/templates/calico" "$c" \
      charts/projectcalico.org.v3/templates/calico \
      "$n; the projectcalico.org/v3 CRDs of the projectcalico.org.v3 chart above"
    fetch_shared charts headlamp "$HEADLAMP_VERSION" headlamp-0.43.0 charts/headlamp \
      "tag v0.43.0; Chart.yaml version/appVersion set to $HEADLAMP_VERSION (the tag's Chart.yaml says 0.42.0)"
  else
    entry unavailable calico "$CALICO_VERSION" "" \
      "github.com/projectcalico/calico@$CALICO_VERSION, @master, @release-v3.33, @<commit>; github.com/projectcalico/api; github.com/tigera/operator; $SHARED_UPSTREAM" "" "" \
      "v3.x tags are not valid versions of module github.com/projectcalico/calico (go.mod without /v3), the proxy answers 403 for the other queries, and the upstream snapshot $SHARED_UPSTREAM is missing"
    entry unavailable headlamp "$HEADLAMP_VERSION" "" \
      "github.com/kubernetes-sigs/headlamp, github.com/kubernetes-sigs/headlamp/backend, github.com/headlamp-k8s/headlamp; $SHARED_UPSTREAM" "" "" \
      "403 from the proxy for all of them, and the upstream snapshot $SHARED_UPSTREAM is missing"
  fi
}

# ---------------------------------------------------------------------------------------------
# Sanity checks (also on a warm cache; they take a few seconds).

check_all() {
  local c="$CACHE/current" chart
  log "kubeadm version -o short: $("$c/kubeadm" version -o short)"
  log "kube-apiserver --version: $("$c/kube-apiserver" --version)"
  log "kube-controller-manager --version: $("$c/kube-controller-manager" --version)"
  log "kubectl version --client: $("$c/kubectl" version --client | head -1)"
  log "etcd --version: $("$c/etcd" --version | tr '\n' ' ')"
  log "helm version: $(HOME="$WORK" "$c/helm" version --short)"
  log "kwok --version: $("$c/kwok" --version)"
  for chart in "$CACHE"/charts/*/; do
    HOME="$WORK" "$c/helm" template kube6-check "$chart" >/dev/null \
      || die "helm template $chart failed"
    log "helm template ok: $chart"
  done
}

# ---------------------------------------------------------------------------------------------

step "kubernetes ($K8S_V)" build_kubernetes
step "etcd ($ETCD_VERSION)" build_etcd
step "helm ($HELM_VERSION)" go_install helm "$HELM_MODULE/cmd/helm" "$HELM_VERSION" \
  "-X $HELM_MODULE/internal/version.version=$HELM_VERSION"
step "kwok ($KWOK_VERSION)" go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
link_current
bin_entries
step "crds and charts" fetch_crds_and_charts
step "manifest" python3 "$HELPERS" manifest "$CACHE" "$ENTRIES" "$CACHE/manifest.json"
step "sanity checks" check_all

log "timings:"
for t in "${TIMINGS[@]}"; do printf '  %s\n' "$t" >&2; done
printf '  %-34s %5ss\n' "total" "$(($(date +%s) - T_START))" >&2
log "done: binaries in $CACHE/current, manifest $CACHE/manifest.json"
if [[ ! -f "$SHARED_UPSTREAM/README.md" ]]; then
  log "WARNING: Calico $CALICO_VERSION and Headlamp $HEADLAMP_VERSION are not obtainable (not on the Go proxy, no $SHARED_UPSTREAM); see manifest 'unavailable'"
fi
