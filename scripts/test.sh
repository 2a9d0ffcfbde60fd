#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: the cargo tests (unit and integration, against
# Postgres and the Stripe stand-in) and the Playwright suite in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
start=$(date +%s)

bash scripts/setup.sh

echo "==> cargo build (binaries the browser tests start)"
cargo build --locked -p stripe-standin

echo "==> cargo test"
cargo test --locked --workspace

echo "==> playwright (end2end/)"
(cd end2end && STANDIN_BIN="$ROOT/target/debug/stripe-standin" npx playwright test)

echo "all tests passed in $(( $(date +%s) - start )) s"
