#!/usr/bin/env bash
# Installs everything the shop and its tests need on a fresh machine of this kind (Debian,
# rustup, Node, a local Postgres). Idempotent: each step checks first, so a second run takes
# seconds. `--dev` also installs cargo-leptos for `cargo leptos watch` (about 20 minutes once).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
# sqlx-cli matches the sqlx crate in Cargo.lock; it checks that .sqlx/ is up to date.
SQLX_CLI_VERSION=0.8.6
CARGO_LEPTOS_VERSION=0.3.10
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Chromium for Playwright (never Playwright's own browser download), wrk and brotli for bench/.
apt_install chromium wrk brotli ca-certificates

# The wasm target. rustup can hang on this network; give it a bounded time and say what to do.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  if ! timeout 300 rustup target add wasm32-unknown-unknown; then
    echo "rustup could not add the wasm32 target; falling back to Debian's rustc-web" >&2
    apt_install rustc-web cargo-web rust-web-src lld
    mkdir -p target && echo "WASM_FALLBACK=debian" > target/.wasm-fallback
  fi
fi

# wasm-bindgen's CLI must match the wasm-bindgen crate exactly (pinned in Cargo.toml).
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 minutes, once)"
  # --locked is not used: its lock names a webpki-roots release the registry here lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet
fi

# sqlx-cli, for `cargo sqlx prepare` (refreshing .sqlx/ after a query changes) and its --check
# in the test command. Built in target/tools, like cargo-leptos, so an interrupted build resumes.
if ! cargo sqlx --version 2>/dev/null | grep -q " $SQLX_CLI_VERSION\$"; then
  step "cargo install sqlx-cli $SQLX_CLI_VERSION (about 5 minutes, once)"
  cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --locked --no-default-features \
    --features rustls,postgres --target-dir target/tools --quiet
fi

# cargo-leptos, for `cargo leptos watch`. Built in target/tools, which is kept, so an install
# that was interrupted picks up where it stopped.
if [ "$DEV" = 1 ] && ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --target-dir target/tools --quiet \
    || cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --target-dir target/tools --quiet
fi

# Node packages: the build tools (sass, wasm-opt) and Playwright's test runner.
npm_ci() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    step "npm ci in $dir"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci tools
npm_ci end2end

# An S3-compatible server for the S3 storage's tests (moto, from PyPI), in a virtualenv of its
# own. Debian's python3-venv is needed where Python has no venv module.
if [ ! -f tools/s3/.venv/.installed ] || [ tools/s3/requirements.txt -nt tools/s3/.venv/.installed ]; then
  step "pip install tools/s3 (moto's S3 server)"
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  rm -rf tools/s3/.venv
  python3 -m venv tools/s3/.venv
  tools/s3/.venv/bin/pip install --quiet --disable-pip-version-check -r tools/s3/requirements.txt
  touch tools/s3/.venv/.installed
fi

# Postgres is started before every session on this kind of machine; start it if it stopped.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  step "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi

echo "setup: done"
