#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: the cargo tests (unit tests, and integration
# tests that run the real server against Postgres and the Stripe stand-in) and the Playwright
# suite in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
start=$(date +%s)
# Debug builds stay incremental (cargo's default), as `cargo leptos watch` builds them: built
# otherwise, the shop's own crates would all be built again when watching starts.

bash scripts/setup.sh

# Test databases from earlier runs (each test makes its own).
bash scripts/drop-test-databases.sh

echo "==> style: rustfmt, clippy with warnings as errors, .sqlx/ in step with the queries"
cargo fmt --all --check
# The wasm crate is linted for wasm32 (with the hydrate feature), everything else on the host.
cargo clippy --locked --workspace --exclude frontend --all-targets -- -D warnings
if [ ! -f target/.wasm-fallback ]; then
  cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings
fi
bash scripts/sqlx-prepare.sh --check

echo "==> build: the stand-in, the server and the site the browser tests use"
# First the server as `dev.sh --watch` runs it, so that watching after a test run starts at once
# and a change that breaks that build fails here (not where there is no watching: see dev.sh);
# then the one the tests run.
[ -f target/.wasm-fallback ] || bash scripts/build-dylib.sh
cargo build --locked -p stripe-standin -p server-bin
bash scripts/build-site.sh debug

echo "==> mail catcher for the tests' mail, and an S3 server for the S3 storage's"
eval "$(bash scripts/mail-catcher.sh --background)"
eval "$(bash scripts/s3-server.sh --background)"
trap 'kill "$MAIL_CATCHER_PID" "$S3_SERVER_PID" 2>/dev/null || true' EXIT

echo "==> cargo test"
# frontend is the wasm crate: built above for wasm32, never with the server's features.
export TEST_DATABASE_ADMIN_URL=${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo test --locked --workspace --exclude frontend

echo "==> playwright (end2end/)"
(cd end2end && STANDIN_BIN="$ROOT/target/debug/stripe-standin" SERVER_BIN="$ROOT/target/debug/server" npx playwright test)

echo "disk: target/ holds $(du -sh target | cut -f1); $(df -h --output=avail . | tail -1 | tr -d ' ') free"
echo "all tests passed in $(( $(date +%s) - start )) s"
