#!/usr/bin/env bash
# A soak (not part of the test command): mixed traffic at a steady rate for ten minutes against
# a release server, with the stand-in delivering the webhooks (bench/chaos/src/soak.rs). Prints a
# line a minute, then the end figures beside the previous run's; fails if a check fails (a 5xx,
# a payment not settled once, memory moved more than 10% after the first minute).
# Usage: bash bench/soak.sh [minutes, default 10] [page views/s, default 100] [checkouts/s, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null
# The same crates as bench/run.sh builds, so one after the other rebuilds nothing (with a
# different set, some dependency features differ and much is built again).
cargo build --locked --release -p server-bin -p stripe-standin -p chaos
[ -f target/site-release/pkg/asset-name ] || bash scripts/build-site.sh release
minutes=${1:-10}
out=$(target/release/chaos soak --minutes "$minutes" --pages "${2:-100}" --checkouts "${3:-10}" 2>&1 | tee /dev/stderr) || true

previous=bench/last-soak.tsv
current=$(mktemp)
source bench/figures.sh
echo
summary=$(echo "$out" | grep '^soak:')
figure "soak: minutes" "$minutes" min
figure "soak: payments" "$(echo "$summary" | sed -nE 's/^soak: ([0-9]+) payments.*/\1/p')" ""
figure "soak: page views, p99 of the worst minute" "$(echo "$out" | sed -nE 's/^minute.*page views \(p50 [0-9.]+ ms, p99 ([0-9.]+) ms\).*/\1/p' | sort -n | tail -1)" ms
figure "soak: server RSS after the first minute" "$(echo "$summary" | sed -nE 's/.*RSS ([0-9]+) MiB after the first minute.*/\1/p')" MiB
figure "soak: server RSS at the end" "$(echo "$summary" | sed -nE 's/.*, ([0-9]+) MiB at the end.*/\1/p')" MiB
figure "soak: 5xx" "$(echo "$summary" | sed -nE 's/.*; ([0-9]+) 5xx.*/\1/p')" ""
mv "$current" "$previous"
echo "$out" | grep -q "^OK" || { echo "the soak failed its check" >&2; exit 1; }
