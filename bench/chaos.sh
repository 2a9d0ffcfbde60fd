#!/usr/bin/env bash
# The fault and load suite (too slow for every CI run): builds the release server and site,
# then runs bench/chaos against them. Each run prints its figures and ends with a check that
# every paid order was fulfilled exactly once; a failed check exits non-zero.
# Usage: bash bench/chaos.sh [load|pg-restart|sigkill|all, default all] [chaos options]
#   e.g. bash bench/chaos.sh load --events 2000 --copies 1
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null
cargo build --locked --release -p server-bin -p chaos
[ -f target/site-release/pkg/storefront.wasm ] || bash scripts/build-site.sh release
run=${1:-all}
shift || true
target/release/chaos "$run" "$@"
