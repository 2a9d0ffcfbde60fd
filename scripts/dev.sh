#!/usr/bin/env bash
# Sets up this machine and runs the shop on its embedded defaults at http://127.0.0.1:3000:
# the local Postgres (database `storefront`), the Stripe stand-in on :12111 with webhooks to
# the shop, and the demo catalog. `--watch` runs `cargo leptos watch` instead (live reload).
# cargo-leptos takes about 20 minutes to build: without `--watch`, a first run builds it in the
# background (at low priority) once the shop is up, so `--watch` is ready next time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

watch=0
[ "${1:-}" = "--watch" ] && watch=1
bash scripts/setup.sh
# cargo-leptos builds wasm with rustup's wasm32 target; where setup could not fetch it (and fell
# back to Debian's rustc-web, which only scripts/build-site.sh uses), there is no watching.
wasm_fallback=0
[ -f target/.wasm-fallback ] && wasm_fallback=1
if [ "$watch" = 1 ]; then
  if [ "$wasm_fallback" = 1 ]; then
    echo "cargo leptos watch needs rustup's wasm32 target, which this machine could not fetch" >&2
    echo "(setup.sh fell back to Debian's rustc-web); run \`bash scripts/dev.sh\` instead." >&2
    exit 1
  fi
  bash scripts/setup.sh --dev
fi

# Embedded defaults; anything already set in the environment or .env wins.
[ -f .env ] && set -a && source .env && set +a
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/storefront}
export STRIPE_SECRET_KEY=${STRIPE_SECRET_KEY:-sk_test_standin_local}
export STRIPE_PUBLISHABLE_KEY=${STRIPE_PUBLISHABLE_KEY:-pk_test_standin_local}
export STRIPE_WEBHOOK_SECRET=${STRIPE_WEBHOOK_SECRET:-whsec_standin_local}
export STRIPE_API_BASE=${STRIPE_API_BASE-http://127.0.0.1:12111/}
export STRIPE_JS_URL=${STRIPE_JS_URL-http://127.0.0.1:12111/v3/}
export RUST_LOG=${RUST_LOG:-info}
# Mail goes to the local catcher (its inbox: http://127.0.0.1:1080) unless SMTP_URL says otherwise.
catch_mail=0
[ -z "${SMTP_URL:-}" ] && catch_mail=1
export SMTP_URL=${SMTP_URL:-smtp://127.0.0.1:1025}

db=${DATABASE_URL##*/}
psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -qc "create database \"$db\""

pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The stand-in and the server are built in one cargo command, as scripts/test.sh builds them:
# cargo unifies dependency features per command, so this reuses the test run's build. (Built
# alone, the stand-in's dependencies would unify differently and build again from scratch.)
cargo build --locked -p stripe-standin -p server-bin
if [ -n "$STRIPE_API_BASE" ]; then
  target/debug/stripe-standin --port 12111 \
    --webhook-url http://127.0.0.1:3000/webhooks/stripe --webhook-secret "$STRIPE_WEBHOOK_SECRET" &
  pids+=($!)
fi

if [ "$catch_mail" = 1 ] && ! (exec 3<>/dev/tcp/127.0.0.1/1025) 2>/dev/null; then
  bash scripts/mail-catcher.sh 1025 1080 >target/mail-catcher.log 2>&1 &
  pids+=($!)
  echo "mail: http://127.0.0.1:1080"
fi

if [ "$watch" = 1 ]; then
  # Built the way scripts/test.sh and build-site.sh build (same target directories, features,
  # profile and environment; see .cargo/config.toml and [[workspace.metadata.leptos]]), so after
  # a test run this finds the server and the wasm crate fresh and only links the site. The
  # server takes its dependencies from one shared library (scripts/build-dylib.sh), and its
  # port is held open across cargo-leptos's restarts (scripts/hold-port.py), so a reload waits
  # for the new server instead of being refused.
  bash scripts/build-dylib.sh
  python3 scripts/hold-port.py "${LEPTOS_SITE_ADDR:-127.0.0.1:3000}" \
    cargo leptos watch --bin-features dylib
else
  bash scripts/build-site.sh debug
  if [ "$wasm_fallback" = 0 ] && ! cargo leptos --version >/dev/null 2>&1; then
    echo "building cargo-leptos in the background for \`dev.sh --watch\` (log: target/cargo-leptos-install.log)"
    # Its own process group, so stopping the shop stops the whole build; the next run resumes it.
    setsid nice -n 15 bash scripts/setup.sh --dev >target/cargo-leptos-install.log 2>&1 &
    pids+=(-$!)
  fi
  echo "storefront: http://127.0.0.1:3000"
  target/debug/server
fi
