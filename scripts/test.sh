#!/usr/bin/env bash
# Install everything the tests need and run them all: lint, types, unit, lab, k8s and e2e tiers.
#
#   bash scripts/test.sh            # what CI runs (.ci/run), as root
#
# Tiers that cannot run here fail loudly. A developer may opt out of one explicitly:
#   KUBE6_SKIP_LAB=1   skip the network-namespace lab (needs root and Debian packages)
#   KUBE6_SKIP_K8S=1   skip the Kubernetes tier (needs Go and the Go module proxy)
#   KUBE6_SKIP_E2E=1   skip the e2e tier (real nodes: rootfs, packages, images, Calico, the
#                      cluster journey); needs root, the lab and the k8s tier's binaries
# CI never sets them, so there every tier runs.
set -euo pipefail
cd "$(dirname "$0")/.."

export UV_PYTHON_DOWNLOADS=never
if [[ -n "${CI:-}" ]]; then
    if [[ -n "${KUBE6_SKIP_LAB:-}" || -n "${KUBE6_SKIP_K8S:-}" || -n "${KUBE6_SKIP_E2E:-}" ]]; then
        echo "error: KUBE6_SKIP_LAB/K8S/E2E are for local runs; CI runs every tier" >&2
        exit 2
    fi
fi

step() { printf '\n== %s ==\n' "$*" >&2; }

step "python packages (uv sync --locked)"
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv sync --locked

if [[ -z "${KUBE6_SKIP_LAB:-}" ]]; then
    step "lab tier: Debian packages"
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: the lab tier needs root (network namespaces, daemons)." >&2
        echo "       run as root, or set KUBE6_SKIP_LAB=1 to skip it on purpose" >&2
        exit 2
    fi
    bash tests/lab/install-packages.sh
else
    echo "WARNING: KUBE6_SKIP_LAB=1: the lab tier is NOT run" >&2
fi

if [[ -z "${KUBE6_SKIP_K8S:-}" ]]; then
    step "k8s tier: upstream Kubernetes programs built from Go modules"
    bash tests/k8s/build.sh
else
    echo "WARNING: KUBE6_SKIP_K8S=1: the k8s tier is NOT run" >&2
fi

if [[ -z "${KUBE6_SKIP_E2E:-}" ]]; then
    if [[ -n "${KUBE6_SKIP_LAB:-}" || -n "${KUBE6_SKIP_K8S:-}" ]]; then
        echo "error: the e2e tier needs the lab (root) and the k8s tier's binaries;" >&2
        echo "       set KUBE6_SKIP_E2E=1 as well to skip it on purpose" >&2
        exit 2
    fi
    step "e2e tier: real nodes' rootfs, packages, images, Calico and add-ons built into ~/.cache/kube6-e2e"
    bash tests/e2e/install-build-deps.sh
    bash tests/e2e/build-rootfs.sh
    bash tests/e2e/build-artifacts.sh
    bash tests/e2e/build-calico.sh
    bash tests/e2e/build-addons.sh
else
    echo "WARNING: KUBE6_SKIP_E2E=1: the e2e tier's artifacts are NOT built" >&2
fi

step "lint (ruff) and types (mypy --strict)"
uv run ruff check .
uv run ruff format --check .
uv run mypy

step "tests (pytest: unit, lab, k8s, e2e)"
# pytest exits 5 when it collected no test: set -e turns that into a failure too.
uv run pytest -p no:cacheprovider "$@"
