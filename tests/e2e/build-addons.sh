#!/usr/bin/env bash
# Build the add-ons' programs and images (issue 16) into the shared e2e cache, for the lab's
# internet and registries. See tests/e2e/README.md ("Add-ons").
#
#   bash tests/e2e/build-addons.sh        # build what is missing, verify what is there
#   bash tests/e2e/build-addons.sh pebble # only some stages: pebble traefik headlamp images cert-manager
#
# What comes from where (nothing is downloaded but Go modules and npm packages):
#   - Pebble (Let's Encrypt's ACME test server): github.com/letsencrypt/pebble/v2, as bin/pebble;
#     the lab's internet host runs it twice ("staging", "production"): each start makes its own
#     root, so the two directories chain to different roots;
#   - Traefik Proxy: github.com/traefik/traefik/v3 at kube6's pin (v3.7.x), as the image
#     docker.io/library/traefik:<tag> (the official image's reference); see build_traefik for
#     what differs from upstream's build and why;
#   - Headlamp: ../shared/upstream/src/headlamp-v0.43.0, backend with Go, frontend with npm (the
#     npm registry), as ghcr.io/headlamp-k8s/headlamp:v<pin> (the image the published chart
#     <pin> runs);
#   - cert-manager's images: NOT buildable here (build_helpers/addons.py UNAVAILABLE says why);
#     this script re-checks the Go module proxy each run and says what it found.
#
# Environment: KUBE6_E2E_CACHE (default ~/.cache/kube6-e2e), KUBE6_UPSTREAM (default
# ../shared/upstream beside the checkout), KUBE6_E2E_HEADLAMP_FRONTEND=0 to leave the frontend
# out (the image then serves the API only), GO, NPM, GOPROXY/GOMODCACHE/GOCACHE as usual.
set -euo pipefail
# The whole script is one block, read before it runs: editing it during a run cannot change it.
{

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
HELPERS="$SCRIPT_DIR/build_helpers/addons.py"
CACHE=${KUBE6_E2E_CACHE:-$HOME/.cache/kube6-e2e}
UPSTREAM=${KUBE6_UPSTREAM:-$REPO_ROOT/../shared/upstream}
ME="build-addons.sh"

T_START=$(date +%s)
TIMINGS=()

log() { printf '[%s %s] %s\n' "$ME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$ME" "$*" >&2; exit 1; }
set -E
trap 'printf "[%s] ERROR: line %s: %s failed\n" "$ME" "$LINENO" "$BASH_COMMAND" >&2' ERR

step() {
  local name=$1 t0
  shift
  t0=$(date +%s)
  log "-- $name"
  "$@"
  TIMINGS+=("$(printf '%-44s %5ss' "$name" "$(($(date +%s) - t0))")")
}

# ---------------------------------------------------------------------------------------------
# Pins and sources.

PEBBLE_MODULE=github.com/letsencrypt/pebble/v2
PEBBLE_VERSION=v2.10.3
TRAEFIK_MODULE=github.com/traefik/traefik/v3
TRAEFIK_MINOR=v3.7                      # issue 16: Traefik Proxy v3.7 (the patch: versions.py)
HEADLAMP_SRC="$UPSTREAM/src/headlamp-v0.43.0"
HEADLAMP_COMMIT=2ca733d234a5eca4159ccd28279c0f8787fbb6e3     # tag v0.43.0, 2026-06-16
HEADLAMP_FRONTEND=${KUBE6_E2E_HEADLAMP_FRONTEND:-1}

command -v python3 >/dev/null || die "python3 is required"
eval "$(python3 "$HELPERS" pins "$REPO_ROOT")" || die "cannot read the pins from src/kube6/versions.py"
[[ -d "$HEADLAMP_SRC/backend" && -f "$HEADLAMP_SRC/frontend/package-lock.json" ]] \
  || die "$HEADLAMP_SRC is missing: the upstream sources are expected in $UPSTREAM (KUBE6_UPSTREAM)"
[[ "$HEADLAMP_SRC" == *"-v$HEADLAMP_VERSION" ]] \
  || die "kube6 pins Headlamp $HEADLAMP_VERSION but the sources are $HEADLAMP_SRC"

GO=${GO:-$(command -v go || true)}
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
[[ -n "$GO" && -x "$GO" ]] || die "Go is not installed (set GO=/path/to/go)"
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-buildvcs=false"
GO_VERSION=$("$GO" env GOVERSION)
NPM=${NPM:-$(command -v npm || true)}

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
BUILT="$CACHE/build/addons"   # this script's intermediate files
mkdir -p "$BUILT" "$CACHE"/{images,bin}

exec 9>"$CACHE/.build-addons.lock"
flock -w 7200 9 || die "could not lock $CACHE/.build-addons.lock"
find "$BUILT" -maxdepth 1 -name '.partial.*' -exec rm -rf {} + 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube6-e2e-addons.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ENTRIES="$WORK/entries.jsonl"
: >"$ENTRIES"

# Heavy builds share 2 cores with other work: run them at a lower priority.
NICE=(nice -n 10)

mod_json() { (cd "$WORK" && "$GO" mod download -json "$1@$2") || die "go mod download $1@$2 failed"; }
mod_field() { mod_json "$1" "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"; }
mod_time() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$(mod_field "$1" "$2" Info)"; }

# kube6's pin (versions.py TRAEFIK, read with the other pins): the image kube6 pulls. Say so
# when the module proxy serves a newer v3.7 patch (move the pin there, not this script).
[[ "$TRAEFIK_VERSION" == "$TRAEFIK_MINOR".* ]] \
  || die "kube6 pins Traefik $TRAEFIK_VERSION, not a $TRAEFIK_MINOR patch (issue 16: v3.7)"
TRAEFIK_NEWEST=$(cd "$WORK" && "$GO" list -m -versions "$TRAEFIK_MODULE" | tr ' ' '\n' \
  | grep -E "^${TRAEFIK_MINOR//./\\.}\.[0-9]+$" | sort -V | tail -1)
[[ -n "$TRAEFIK_NEWEST" ]] || die "the Go module proxy serves no $TRAEFIK_MODULE $TRAEFIK_MINOR.x"
[[ "$TRAEFIK_NEWEST" == "$TRAEFIK_VERSION" ]] \
  || log "note: the module proxy serves Traefik $TRAEFIK_NEWEST, newer than the pin $TRAEFIK_VERSION"

log "cache: $CACHE; pebble $PEBBLE_VERSION, traefik $TRAEFIK_VERSION, headlamp $HEADLAMP_VERSION" \
    "(frontend: $([[ $HEADLAMP_FRONTEND == 1 ]] && echo yes || echo NO)), cert-manager $CERT_MANAGER_VERSION; $GO_VERSION"

# done_dir DIR KEY: true when DIR was built from KEY (its .ok holds the key).
done_dir() { [[ -f "$1/.ok" && "$(cat "$1/.ok")" == "$2" ]]; }
# publish TMP DIR KEY: move a finished build into place, key last.
publish() { echo "$3" >"$1/.ok"; rm -rf "$2"; mv "$1" "$2"; }

# entry KIND NAME VERSION PATH ORIGIN_JSON [NOTE]: one manifest entry (PATH relative to CACHE).
entry() {
  python3 -c 'import json,sys; k,n,v,p,o,note=sys.argv[1:7]; e={"kind":k,"name":n,"version":v,"path":p,"origin":json.loads(o)}
if note: e["note"]=note
print(json.dumps(e, sort_keys=True))' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$ENTRIES"
}

# ---------------------------------------------------------------------------------------------
# Pebble: `go install` of cmd/pebble at the tag, with the version the release sets.

build_pebble() {
  local dst="$BUILT/pebble-$PEBBLE_VERSION" tmp="$BUILT/.partial.pebble" key
  key="$PEBBLE_VERSION $GO_VERSION"
  if ! done_dir "$dst" "$key"; then
    rm -rf "$tmp"; mkdir -p "$tmp"
    log "go install $PEBBLE_MODULE/cmd/pebble@$PEBBLE_VERSION"
    GOBIN="$tmp" CGO_ENABLED=0 "${NICE[@]}" "$GO" install -trimpath \
      -ldflags "-s -w -X main.version=$PEBBLE_VERSION" "$PEBBLE_MODULE/cmd/pebble@$PEBBLE_VERSION"
    publish "$tmp" "$dst" "$key"
  else
    log "pebble $PEBBLE_VERSION cached"
  fi
  "$dst/pebble" -version | grep -qF "$PEBBLE_VERSION" || die "$dst/pebble -version does not say $PEBBLE_VERSION"
  ln -sfn "../build/addons/pebble-$PEBBLE_VERSION/pebble" "$CACHE/bin/pebble"
  entry binary pebble "$PEBBLE_VERSION" "build/addons/pebble-$PEBBLE_VERSION/pebble" \
    "{\"module\": \"$PEBBLE_MODULE\", \"version\": \"$PEBBLE_VERSION\", \"time\": \"$(mod_time "$PEBBLE_MODULE" "$PEBBLE_VERSION")\", \"go\": \"$GO_VERSION\"}" \
    "bin/pebble: cmd/pebble, CGO off, -X main.version; run it with your own TLS key pair for its listeners (tests/e2e/README.md, Add-ons)"
}

# ---------------------------------------------------------------------------------------------
# Traefik: upstream's `make binary` (CGO off, version ldflags) from a copy of the module, with
# three differences, each forced by what this machine's Go module proxy serves:
#   1. pkg/config/dynamic/ext is a nested module (github.com/traefik/traefik/dynamic/ext, replaced
#      by ./pkg/config/dynamic/ext in go.mod): the module zip leaves it out and no proxy can
#      serve it (its path does not match its folder). It is Traefik's extension point; the open
#      source tree's types are empty, and Traefik uses exactly two of them (dynamic.HTTP and
#      dynamic.Router embed ext.HTTP and ext.Router): written here as two empty structs.
#   2. lego's DNS-01 providers whose SDK versions the proxy refuses (403) are left out of lego's
#      provider table (a copy of lego): Traefik's own ACME client cannot use them. kube6 gets
#      certificates from cert-manager, not from Traefik's ACME resolvers.
#   3. github.com/abbot/go-http-auth is replaced (as upstream does) by Traefik's fork
#      github.com/containous/go-http-auth, at the fork's commit of Traefik v3.6 (a37a7636,
#      2020-03-24): v3.7's pseudo-version (b975dcaa, 2026-08-04) is refused (403). It serves the
#      basicAuth and digestAuth middlewares, which kube6 does not use.

LEGO_DROP=(edgedns huaweicloud oraclecloud sakuracloud ucloud yandexcloud)
HTTP_AUTH_FORK=github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e

build_traefik() {
  local dst="$BUILT/traefik-$TRAEFIK_VERSION" tmp="$BUILT/.partial.traefik" src lego key dir
  local lego_v date ld p=github.com/traefik/traefik/v3/pkg/version
  date=$(mod_time "$TRAEFIK_MODULE" "$TRAEFIK_VERSION")
  # Codename: the Makefile's default at that tag.
  dir=$(mod_field "$TRAEFIK_MODULE" "$TRAEFIK_VERSION" Dir)
  local codename
  codename=$(sed -n 's/^CODENAME ?= *//p' "$dir/Makefile")
  ld="-s -w -X $p.Version=$TRAEFIK_VERSION -X $p.Codename=$codename -X $p.BuildDate=$date"
  key="$TRAEFIK_VERSION $GO_VERSION $ld ${LEGO_DROP[*]} $HTTP_AUTH_FORK"
  if done_dir "$dst" "$key"; then log "traefik $TRAEFIK_VERSION cached"; return 0; fi
  rm -rf "$tmp"; mkdir -p "$tmp"
  src="$tmp/src"; lego="$tmp/lego"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  mkdir -p "$src/pkg/config/dynamic/ext"
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' >"$src/pkg/config/dynamic/ext/go.mod"
  cat >"$src/pkg/config/dynamic/ext/ext.go" <<'EOF'
// Package ext: Traefik's extension point of the dynamic configuration, empty in the open
// source build (kube6's e2e build: the nested module is not in Traefik's module zip).
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
EOF
  lego_v=$(cd "$src" && "$GO" list -m -f '{{.Version}}' github.com/go-acme/lego/v5)
  cp -r "$(mod_field github.com/go-acme/lego/v5 "$lego_v" Dir)" "$lego"; chmod -R u+w "$lego"
  python3 "$HELPERS" drop-lego-providers "$lego/providers/dns/zz_gen_dns_providers.go" "${LEGO_DROP[@]}"
  (
    cd "$src"
    "$GO" mod edit -replace "github.com/go-acme/lego/v5=$lego" -replace "github.com/abbot/go-http-auth=$HTTP_AUTH_FORK"
    log "go build ./cmd/traefik ($TRAEFIK_VERSION, lego $lego_v without ${LEGO_DROP[*]})"
    CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" "${NICE[@]}" "$GO" build -trimpath -ldflags "$ld" -o "$tmp/traefik" ./cmd/traefik
  )
  rm -rf "$src" "$lego"
  "$tmp/traefik" version | grep -q "Version: *$TRAEFIK_VERSION$" || die "the built traefik does not say $TRAEFIK_VERSION"
  echo "$lego_v" >"$tmp/lego-version"
  publish "$tmp" "$dst" "$key"
}

# ---------------------------------------------------------------------------------------------
# Headlamp: what its Dockerfile does, without the build containers: `go build ./cmd/` of the
# backend; `npm ci --only=prod` then `npm run build` of the frontend (make-env.js wants ../app
# and git, which the snapshot lacks: the same .env is written here from the tag's values).

build_headlamp_backend() {
  local dst="$BUILT/headlamp-$HEADLAMP_VERSION-backend" tmp="$BUILT/.partial.headlamp-backend" key ld
  local p=github.com/kubernetes-sigs/headlamp/backend/pkg/kubeconfig
  ld="-s -w -X $p.Version=$HEADLAMP_VERSION -X '$p.AppName=Headlamp'"
  key="$HEADLAMP_COMMIT $GO_VERSION $ld"
  if done_dir "$dst" "$key"; then log "headlamp backend cached"; return 0; fi
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp -r "$HEADLAMP_SRC/backend" "$tmp/src"; chmod -R u+w "$tmp/src"
  (
    cd "$tmp/src"
    log "go build ./cmd/ (Headlamp backend)"
    CGO_ENABLED=0 "${NICE[@]}" "$GO" build -trimpath -ldflags "$ld" -o "$tmp/headlamp-server" ./cmd/
  )
  rm -rf "$tmp/src"
  publish "$tmp" "$dst" "$key"
}

build_headlamp_frontend() {
  local dst="$BUILT/headlamp-$HEADLAMP_VERSION-frontend" tmp="$BUILT/.partial.headlamp-frontend" key
  [[ -n "$NPM" ]] || die "npm is not installed (Headlamp's frontend); set KUBE6_E2E_HEADLAMP_FRONTEND=0 to build the image without it"
  key="$HEADLAMP_COMMIT node-$(node --version) npm-$("$NPM" --version)"
  if done_dir "$dst" "$key"; then log "headlamp frontend cached"; return 0; fi
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp -r "$HEADLAMP_SRC/frontend" "$tmp/src"; chmod -R u+w "$tmp/src"
  cat >"$tmp/src/.env" <<EOF
REACT_APP_HEADLAMP_VERSION=$HEADLAMP_VERSION
REACT_APP_HEADLAMP_GIT_VERSION=$HEADLAMP_COMMIT
REACT_APP_HEADLAMP_PRODUCT_NAME=Headlamp
REACT_APP_ENABLE_REACT_QUERY_DEVTOOLS=false
REACT_APP_HEADLAMP_SIDEBAR_DEFAULT_OPEN=true
EOF
  (
    cd "$tmp/src"
    log "npm ci --omit=dev (Headlamp frontend; the npm registry)"
    "${NICE[@]}" "$NPM" ci --omit=dev --no-audit --no-fund >"$tmp/npm-ci.log" 2>&1 \
      || { tail -30 "$tmp/npm-ci.log" >&2; die "npm ci of Headlamp's frontend failed"; }
    # package.json's build script without its prebuild (make-env.js: the .env above).
    log "vite build (Headlamp frontend)"
    PUBLIC_URL=./ NODE_OPTIONS=--max-old-space-size=8096 "${NICE[@]}" ./node_modules/.bin/vite build >"$tmp/vite.log" 2>&1 \
      || { tail -30 "$tmp/vite.log" >&2; die "vite build of Headlamp's frontend failed"; }
    rm -f build/frontend/index.baseUrl.html
  )
  [[ -f "$tmp/src/build/index.html" ]] || die "the frontend build has no index.html"
  mv "$tmp/src/build" "$tmp/build"
  rm -rf "$tmp/src"
  publish "$tmp" "$dst" "$key"
}

# ---------------------------------------------------------------------------------------------
# cert-manager: re-check what the proxy serves (see build_helpers/addons.py UNAVAILABLE).

check_cert_manager() {
  local c found=()
  for c in controller webhook cainjector acmesolver startupapicheck; do
    for m in "github.com/cert-manager/cert-manager/cmd/$c" "github.com/cert-manager/cert-manager/$c-binary"; do
      if (cd "$WORK" && GOPROXY=$("$GO" env GOPROXY | sed 's/,direct$//') "$GO" list -m "$m@$CERT_MANAGER_VERSION") >/dev/null 2>&1; then
        found+=("$m")
      fi
    done
  done
  if ((${#found[@]})); then
    log "NOTE: the Go module proxy now serves ${found[*]} @$CERT_MANAGER_VERSION: cert-manager's images can be built (update this script)"
  else
    log "cert-manager $CERT_MANAGER_VERSION: the cmd/* modules are still not on the Go module proxy (not built; manifest.json 'unavailable')"
  fi
}

# ---------------------------------------------------------------------------------------------
# Images.

REF_TRAEFIK="docker.io/library/traefik:$TRAEFIK_VERSION"
REF_HEADLAMP="ghcr.io/headlamp-k8s/headlamp:v$HEADLAMP_VERSION"

build_images() {
  local spec frontend="" fe_note
  if [[ $HEADLAMP_FRONTEND == 1 ]]; then
    frontend="$BUILT/headlamp-$HEADLAMP_VERSION-frontend/build"
    fe_note="frontend/ built with npm ci --omit=dev + vite build (node $(node --version))"
  else
    fe_note="NO frontend (KUBE6_E2E_HEADLAMP_FRONTEND=0): the image serves Headlamp's API only"
  fi
  spec=$(python3 - <<EOF
import json
print(json.dumps({
  "out_dir": "$CACHE/images",
  "ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
  "traefik": "$BUILT/traefik-$TRAEFIK_VERSION/traefik",
  "headlamp_server": "$BUILT/headlamp-$HEADLAMP_VERSION-backend/headlamp-server",
  "headlamp_frontend": "$frontend",
  "refs": {"traefik": "$REF_TRAEFIK", "headlamp": "$REF_HEADLAMP"},
  "origins": {
    "traefik": "$TRAEFIK_MODULE@$TRAEFIK_VERSION cmd/traefik (CGO off, version ldflags as make binary), web UI: the module's placeholder webui/static (no dashboard UI); ext module recreated empty, lego $(cat "$BUILT/traefik-$TRAEFIK_VERSION/lego-version" 2>/dev/null) without DNS providers ${LEGO_DROP[*]}, go-http-auth fork at a37a7636 (tests/e2e/build-addons.sh)",
    "headlamp": "github.com/kubernetes-sigs/headlamp v$HEADLAMP_VERSION ($HEADLAMP_COMMIT, ../shared/upstream/src): backend/cmd (CGO off); $fe_note; no static plugins (github.com downloads)",
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
  entry binary traefik "$TRAEFIK_VERSION" "build/addons/traefik-$TRAEFIK_VERSION/traefik" \
    "{\"module\": \"$TRAEFIK_MODULE\", \"version\": \"$TRAEFIK_VERSION\", \"time\": \"$(mod_time "$TRAEFIK_MODULE" "$TRAEFIK_VERSION")\", \"go\": \"$GO_VERSION\"}" \
    "see build_traefik in tests/e2e/build-addons.sh for the three differences from upstream's build"
  entry binary headlamp-server "$HEADLAMP_VERSION" "build/addons/headlamp-$HEADLAMP_VERSION-backend/headlamp-server" \
    "{\"source\": \"github.com/kubernetes-sigs/headlamp\", \"tag\": \"v$HEADLAMP_VERSION\", \"commit\": \"$HEADLAMP_COMMIT\", \"go\": \"$GO_VERSION\"}"
}

# ---------------------------------------------------------------------------------------------

# Stages (a developer may name some; the default, all of them, is what the e2e tier runs).
STAGES=("$@")
FULL=partial
((${#STAGES[@]})) || { STAGES=(pebble traefik headlamp images cert-manager); FULL=full; }
for stage in "${STAGES[@]}"; do
  case $stage in
    pebble) step "pebble $PEBBLE_VERSION" build_pebble ;;
    traefik) step "traefik $TRAEFIK_VERSION" build_traefik ;;
    headlamp)
      step "headlamp $HEADLAMP_VERSION backend" build_headlamp_backend
      if [[ $HEADLAMP_FRONTEND == 1 ]]; then
        step "headlamp $HEADLAMP_VERSION frontend (npm)" build_headlamp_frontend
      else
        log "WARNING: KUBE6_E2E_HEADLAMP_FRONTEND=0: Headlamp's image has no frontend"
      fi ;;
    images) step "images" build_images ;;
    cert-manager) step "cert-manager $CERT_MANAGER_VERSION (re-check)" check_cert_manager ;;
    *) die "unknown stage $stage (pebble traefik headlamp images cert-manager)" ;;
  esac
done
step "manifest" python3 "$HELPERS" manifest "$CACHE" "$ENTRIES" "$FULL"

log "built (in $CACHE):"
printf '  %-50s %s\n' "bin/pebble" "$PEBBLE_MODULE@$PEBBLE_VERSION" >&2
python3 - "$CACHE/images/index.json" >&2 <<'EOF'
import json, os, sys
for e in json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else []:
    if e.get("builder") == "build-addons.sh":
        print(f"  {e['ref']:<50} images/{e['file']}")
EOF
log "timings:"
for t in "${TIMINGS[@]}"; do printf '  %s\n' "$t" >&2; done
printf '  %-44s %5ss\n' "total" "$(($(date +%s) - T_START))" >&2
exit 0
}
