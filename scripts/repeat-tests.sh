#!/usr/bin/env bash
# Runs the server's tests (server/bin/tests, and the unit tests of server and server-bin) and
# the Playwright suite N times in a row, default 50, and prints how many runs of each failed. A
# failing run's output is kept in target/repeat/. A flaky test is a bug: this is how to find
# one. Not part of test.sh (about a minute a run).
#
# The binaries, the site and the browser specs are copied first, so editing or rebuilding while
# it runs does not change what is being repeated.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
runs=${1:-50}
# Databases of its own, so tests run beside it (and their clean-up) do not meet these.
export TEST_DATABASE_PREFIX=sf_repeat_
# The binaries run without cargo, so the environment .cargo/config.toml gives `cargo test` is set
# here.
export LEPTOS_OUTPUT_NAME=storefront LEPTOS_WATCH=true SQLX_OFFLINE=true
export TEST_DATABASE_ADMIN_URL=${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

bash scripts/setup.sh >/dev/null
# One SMTP catcher for every run's mail (each test mails addresses of its own).
eval "$(bash scripts/mail-catcher.sh --background)"
eval "$(bash scripts/s3-server.sh --background)"
trap 'kill "$MAIL_CATCHER_PID" "$S3_SERVER_PID" 2>/dev/null || true' EXIT
echo "==> build"
cargo build --locked -p stripe-standin -p server-bin
bash scripts/build-site.sh debug
out=target/repeat
rm -rf "$out" && mkdir -p "$out/bin"
cargo test --locked -p server -p server-bin --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' >"$out/test-binaries"
while read -r bin; do cp "$bin" "$out/bin/"; done <"$out/test-binaries"
mkdir -p "$out/exe"
cp target/debug/server target/debug/stripe-standin "$out/exe/"
cp -r target/site "$out/site"
# The browser specs too, with the runner they use, so editing them does not change the runs.
mkdir -p "$out/end2end" "$out/stripe-standin"
cp -r end2end/tests end2end/playwright.config.ts end2end/package.json "$out/end2end/"
cp -r stripe-standin/browser "$out/stripe-standin/"
ln -s "$ROOT/end2end/node_modules" "$out/end2end/node_modules"

server_failed=0
e2e_failed=0
start=$(date +%s)
for i in $(seq 1 "$runs"); do
  bash scripts/drop-test-databases.sh "$TEST_DATABASE_PREFIX"
  server_ok=yes
  for bin in "$out"/bin/*; do
    if ! "$bin" >>"$out/server-$i.log" 2>&1; then server_ok=no; fi
  done
  if [ $server_ok = yes ]; then rm -f "$out/server-$i.log"; else server_failed=$((server_failed + 1)); fi
  e2e_ok=yes
  if ! (cd "$out/end2end" && REPO_ROOT="$ROOT" LEPTOS_SITE_ROOT="$ROOT/$out/site" STANDIN_BIN="$ROOT/$out/exe/stripe-standin" \
    SERVER_BIN="$ROOT/$out/exe/server" npx playwright test --output "$ROOT/$out/playwright-results" \
    >"$ROOT/$out/playwright-$i.log" 2>&1); then
    e2e_ok=no
    e2e_failed=$((e2e_failed + 1))
  else
    rm -f "$out/playwright-$i.log"
  fi
  printf 'run %d/%d: server tests %s, Playwright %s (%d s so far)\n' \
    "$i" "$runs" "$([ $server_ok = yes ] && echo passed || echo FAILED)" \
    "$([ $e2e_ok = yes ] && echo passed || echo FAILED)" "$(($(date +%s) - start))"
done
bash scripts/drop-test-databases.sh "$TEST_DATABASE_PREFIX"
echo "repeat: $runs runs in $(($(date +%s) - start)) s; server tests failed in $server_failed, Playwright in $e2e_failed"
[ $server_failed -eq 0 ] && [ $e2e_failed -eq 0 ]
