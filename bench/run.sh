#!/usr/bin/env bash
# Measures the shop and prints the figures (nothing here asserts a time):
#  - requests/s and latency percentiles of `/` and a product page under wrk (32 connections),
#    a release server with the database behind it;
#  - the release wasm bundle's raw, gzip and brotli sizes.
# Usage: bash bench/run.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
secs=${1:-10}
bash scripts/setup.sh >/dev/null

echo "==> release builds"
cargo build --locked --release -p server -p stripe-standin
bash scripts/build-site.sh release

db=sf_bench
psql -h 127.0.0.1 -U postgres -qc "drop database if exists $db with (force)"
psql -h 127.0.0.1 -U postgres -qc "create database $db"
port=3900
standin_port=3901
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
target/release/stripe-standin --port $standin_port >/dev/null 2>&1 & pids+=($!)
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db \
STRIPE_SECRET_KEY=sk_test_bench STRIPE_PUBLISHABLE_KEY=pk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench \
STRIPE_API_BASE=http://127.0.0.1:$standin_port/ STRIPE_JS_URL=http://127.0.0.1:$standin_port/v3/ \
LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=target/site-release RUST_LOG=warn \
  target/release/server >/tmp/sf-bench-server.log 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -srm)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
for path in / /products/tokyo-night-presets; do
  curl -fs "http://127.0.0.1:$port$path" >/dev/null
  echo
  echo "--- wrk -t2 -c32 -d${secs}s --latency http://127.0.0.1:$port$path"
  wrk -t2 -c32 -d"${secs}s" --latency "http://127.0.0.1:$port$path" |
    grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors"
done
rss_kb=$(ps -o rss= -p "${pids[1]}" | tr -d ' ')
echo
echo "server RSS after the runs: $((rss_kb / 1024)) MiB"

wasm=target/site-release/pkg/storefront_bg.wasm
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
br=$(brotli -q 11 -c "$wasm" | wc -c)
echo
echo "release wasm bundle: raw $((raw / 1024)) KiB, gzip $((gz / 1024)) KiB, brotli $((br / 1024)) KiB"
