#!/usr/bin/env bash
# Measures the shop and prints the figures, each beside the previous run's (nothing here
# asserts a time):
#  - requests/s and latency percentiles of `/healthz` (the machine's reference), the catalog
#    (200 products, 24 to a page: `/` and `/?page=5`) and a product page under wrk (32
#    connections), a release server with the database behind it, for a visitor without a
#    session;
#  - server memory (RSS) at rest and after the load;
#  - static assets: the stylesheet (brotli, precompressed) and the wasm bundle's 304 answers;
#  - webhook throughput: signed events fulfilled durably per second, delivery latency, the
#    statements and commits behind each event, and the machine's own insert ceiling (pgbench);
#    then the same sent at a fixed 2,000 a second, with the latency that rate meets;
#  - the seller's overview and orders list with 200,000 orders;
#  - two servers on one database: a price change seen across them, a server killed mid-run;
#  - a first visit on a slow phone (4x CPU, a mobile network) and where its time goes;
#  - time from page load to a usable payment form in headless Chromium;
#  - the release wasm bundle's raw, gzip and brotli sizes.
# The figures of the last run are kept in bench/last-run.tsv (commit it with RESULTS.md).
# Usage: bash bench/run.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
secs=${1:-10}
bash scripts/setup.sh >/dev/null

echo "==> release builds"
cargo build --locked --release -p server-bin -p stripe-standin -p chaos
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
server_env=(DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db
  STRIPE_SECRET_KEY=sk_test_bench STRIPE_PUBLISHABLE_KEY=pk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench
  STRIPE_API_BASE=http://127.0.0.1:$standin_port/ STRIPE_JS_URL=http://127.0.0.1:$standin_port/v3/
  LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=target/site-release RUST_LOG=warn)
env "${server_env[@]}" target/release/server >/tmp/sf-bench-server.log 2>&1 & pids+=($!)
server_pid=${pids[1]}
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
# A catalog of 200: the demo's five and 195 more, shown 24 to a page.
psql -h 127.0.0.1 -U postgres -d $db -qc "insert into product (slug, title, description, kind, price_minor, currency, published)
  select 'bench-' || n, 'Bench product ' || n, 'A product for the *benchmark*, number ' || n || '.',
         'membership', 500 + n, 'usd', true
  from generate_series(1, 195) n"
# Measure the catalog as it is served once settled: wait until `/` comes from the kept copy
# (after the insert's catalog_changed has reached the server and one visit has rendered it).
for _ in $(seq 1 100); do
  curl -fs -o /dev/null -D - "http://127.0.0.1:$port/" | grep -qi '^x-page-cache: hit' && break
  sleep 0.1
done

# "At rest" once the start's own work is done: the new products copied to Stripe (the stand-in).
for _ in $(seq 1 100); do
  [ "$(psql -h 127.0.0.1 -U postgres -d $db -Atc "select count(*) from product where stripe_synced_version < version")" = 0 ] && break
  sleep 0.2
done
sleep 1

previous=bench/last-run.tsv
current=$(mktemp)
source bench/figures.sh

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -srm)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
echo
figure "server RSS at rest" "$(( $(ps -o rss= -p "$server_pid") / 1024 ))" MiB

# wrk gets one thread: on two cores, every cycle it does not use goes to the server.
# `/healthz` first, as the machine's reference: it does no work, so the figures below are best
# compared with it when two runs were made on different machines.
for path in /healthz / "/?page=5" /products/tokyo-night-presets; do
  curl -fs "http://127.0.0.1:$port$path" >/dev/null
  out=$(wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:$port$path")
  if echo "$out" | grep -qE "Non-2xx|Socket errors"; then
    echo "$out" | grep -E "Non-2xx|Socket errors" >&2
  fi
  figure "wrk -t1 -c32 $path req/s" "$(echo "$out" | awk '/Requests\/sec/ { printf "%d", $2 }')" req/s
  figure "wrk -t1 -c32 $path p50" "$(echo "$out" | awk '$1 == "50%" { print $2 }' | ms)" ms
  figure "wrk -t1 -c32 $path p99" "$(echo "$out" | awk '$1 == "99%" { print $2 }' | ms)" ms
done
# What a browser gets: the same kept page, gzipped (deflated once, each copy's fresh nonce put
# in between; see server/src/page_cache.rs). Chromium's own Accept-Encoding.
out=$(wrk -t1 -c32 -d"${secs}s" --latency -H "Accept-Encoding: gzip, deflate, br, zstd" "http://127.0.0.1:$port/")
figure "wrk -t1 -c32 / (as a browser asks, gzip) req/s" "$(echo "$out" | awk '/Requests\/sec/ { printf "%d", $2 }')" req/s
figure "wrk -t1 -c32 / (as a browser asks, gzip) p99" "$(echo "$out" | awk '$1 == "99%" { print $2 }' | ms)" ms
figure "server RSS after the page load" "$(( $(ps -o rss= -p "$server_pid") / 1024 ))" MiB

# Static assets, served from their directory with the copies build-site.sh compressed: the
# stylesheet as a browser asks for it (brotli), and the wasm bundle's 304 to a browser that has it.
assets=$(cat target/site-release/pkg/asset-name)
css="http://127.0.0.1:$port/pkg/$assets.css"
wasm_url="http://127.0.0.1:$port/pkg/$assets.wasm"
since=$(curl -fsI "$wasm_url" | tr -d '\r' | awk -F': ' 'tolower($1) == "last-modified" { print $2 }')
for run in "stylesheet (brotli)|$css|Accept-Encoding: br" "wasm 304|$wasm_url|If-Modified-Since: $since"; do
  IFS='|' read -r label url hdr <<<"$run"
  out=$(wrk -t1 -c32 -d"${secs}s" --latency -H "$hdr" "$url")
  if echo "$out" | grep -qE "Socket errors"; then echo "$out" | grep -E "Socket errors" >&2; fi
  figure "wrk -t1 -c32 $label req/s" "$(echo "$out" | awk '/Requests\/sec/ { printf "%d", $2 }')" req/s
  figure "wrk -t1 -c32 $label p99" "$(echo "$out" | awk '$1 == "99%" { print $2 }' | ms)" ms
done

# The seller's pages with 200,000 orders behind them (six months of a busy shop), signed in as
# the admin: the overview (sales of the last 30 days, what needs a person) and the orders list.
# Four connections: a seller's tabs, not a crowd.
psql -h 127.0.0.1 -U postgres -d $db -qc "insert into customer_order
    (public_id, product_id, email, amount_minor, currency, status, payment_intent_id, paid_at,
     created_at, updated_at)
  select 'ord_' || lpad(translate(n::text, '0123456789', 'abcdefghij'), 26, 'z'), (select min(id) from product), 'buyer' || (n % 20000) || '@example.com',
         1000, 'usd', case when n % 10 = 0 then 'canceled'::order_status else 'paid' end,
         'pi_bench_' || n,
         case when n % 10 <> 0 then now() - (200000 - n) * interval '78 seconds' end,
         now() - (200000 - n) * interval '78 seconds', now() - (200000 - n) * interval '78 seconds'
  from generate_series(1, 200000) n"
psql -h 127.0.0.1 -U postgres -d $db -qc "analyze customer_order"
admin_email=bench-admin@example.com
echo "bench-admin-password" | env "${server_env[@]}" target/release/server admin create-user $admin_email --password-stdin >/dev/null
session=$(curl -fs -o /dev/null -D - -d "email=$admin_email&password=bench-admin-password" \
  "http://127.0.0.1:$port/api/sign_in" | tr -d '\r' | sed -nE 's/^[Ss]et-[Cc]ookie: (sf_session=[^;]*).*/\1/p')
for check in "/admin|Sales" "/admin/orders|ord_zzzz"; do
  path=${check%%|*}
  curl -fs -H "Cookie: $session" "http://127.0.0.1:$port$path" | grep -q "${check#*|}" \
    || { echo "$path did not show the signed-in admin what it should" >&2; exit 1; }
  out=$(wrk -t1 -c4 -d"${secs}s" --latency -H "Cookie: $session" "http://127.0.0.1:$port$path")
  if echo "$out" | grep -qE "Non-2xx|Socket errors"; then
    echo "$out" | grep -E "Non-2xx|Socket errors" >&2
  fi
  figure "admin $path with 200,000 orders (wrk -c4) req/s" "$(echo "$out" | awk '/Requests\/sec/ { printf "%d", $2 }')" req/s
  figure "admin $path with 200,000 orders p99" "$(echo "$out" | awk '$1 == "99%" { print $2 }' | ms)" ms
done

node bench/interactive.mjs "http://127.0.0.1:$port" 15 | while IFS= read -r line; do
  label=${line%%:*}
  figure "$label, median" "$(echo "$line" | sed -E 's/.*median ([0-9]+) ms.*/\1/')" ms
  figure "$label, slowest" "$(echo "$line" | sed -E 's/.*slowest ([0-9]+) ms.*/\1/')" ms
done

# Webhooks: distinct signed events, each fulfilled durably, 32 in flight (a server and database
# of their own; see bench/chaos).
# Its output is kept even when it fails (under `set -e` a failing substitution would end the
# script with nothing printed).
webhooks=$(target/release/chaos load --events 2000 --copies 1 --concurrency 32 2>&1) || true
echo "$webhooks" | grep -q "^OK" || { echo "$webhooks"; echo "the webhook run failed its check" >&2; exit 1; }
# The run delivers the refunds first and then every payment; the figures are the payments' (its
# last delivery and latency lines).
figure "webhook: signed events fulfilled/s (32 in flight)" "$(echo "$webhooks" | sed -nE 's/.* ([0-9]+) distinct events\/s.*/\1/p' | tail -1)" ev/s
figure "webhook: delivery p50" "$(echo "$webhooks" | sed -nE 's/.*p50 ([0-9.]+) ms.*/\1/p' | tail -1)" ms
figure "webhook: delivery p99" "$(echo "$webhooks" | sed -nE 's/.*p99 ([0-9.]+) ms.*/\1/p' | tail -1)" ms
figure "webhook: server RSS after 2,000 events" "$(echo "$webhooks" | sed -nE 's/server RSS after the run: ([0-9]+) MiB/\1/p')" MiB
figure "webhook: statements per event (all the shop sent)" "$(echo "$webhooks" | sed -nE 's/^round trips .*: ([0-9.]+) statements and.*/\1/p')" ""
figure "webhook: commits per event (all the shop made)" "$(echo "$webhooks" | sed -nE 's/^round trips .* and ([0-9.]+) commits per event.*/\1/p')" ""
echo "$webhooks" | sed -n '/^round trips/,/^check:/p' | grep '/event' | head -8
for clients in 1 32; do
  figure "pgbench one-row insert ceiling, $clients clients" "$(echo "$webhooks" | sed -nE "s/^insert ceiling .*, $clients clients\): ([0-9]+)\/s.*/\1/p")" tx/s
done

# The same at a fixed rate, as webhooks arrive after a sale: 2,000 a second (item 1's target)
# whether or not earlier ones were answered, each delivery's latency counted from when it was
# due, so a server that falls behind shows it here rather than by slowing the sender (with 32
# in flight the latency above is mostly the queue the closed loop builds: 32 / rate on average).
paced=$(target/release/chaos load --events 6000 --copies 1 --concurrency 64 --rate 2000 2>&1) || true
echo "$paced" | grep -q "^OK" || { echo "$paced"; echo "the paced webhook run failed its check" >&2; exit 1; }
figure "webhook at 2,000/s offered: fulfilled/s" "$(echo "$paced" | sed -nE 's/.* ([0-9]+) distinct events\/s.*/\1/p' | tail -1)" ev/s
figure "webhook at 2,000/s offered: p50" "$(echo "$paced" | sed -nE 's/.*p50 ([0-9.]+) ms.*/\1/p' | tail -1)" ms
figure "webhook at 2,000/s offered: p99" "$(echo "$paced" | sed -nE 's/.*p99 ([0-9.]+) ms.*/\1/p' | tail -1)" ms
figure "webhook at 2,000/s offered: slowest" "$(echo "$paced" | sed -nE 's/^latency of answered .*max ([0-9.]+) ms$/\1/p' | tail -1)" ms
figure "webhook at 2,000/s offered: write-ahead log per event" "$(echo "$paced" | sed -nE 's/^write-ahead log while .*: ([0-9.]+) KiB per event.*/\1/p')" KiB
# Where its slowest answers were, by when they were due (to lay beside Postgres's log).
echo "$paced" | sed -n '/^delivered 6000/,$p' | awk '/^slowest moments/ { on = 1; print; next } on && /^  / { print; next } { on = 0 }'

# Two servers on one database (bench/chaos/src/two_servers.rs): 1,000 events x 3 to either at
# random, one server SIGKILLed mid-run, a price change timed across them, background work once.
two=$(target/release/chaos two-servers --events 1000 --copies 3 --concurrency 32 2>&1) || true
echo "$two" | grep -q "^OK" || { echo "$two"; echo "the two-server run failed its check" >&2; exit 1; }
echo "$two" | grep -E "^(background work|answered 2xx|right after)"
figure "two servers: price change seen on the other server" "$(echo "$two" | sed -nE 's/.*product page ([0-9]+) ms later.*/\1/p')" ms
figure "two servers: distinct events/s, one killed mid-run (its share retried)" "$(echo "$two" | sed -nE 's/.* ([0-9]+) distinct events\/s.*/\1/p' | tail -1)" ev/s

# A first visit on a slow phone (4x CPU, Lighthouse's mobile network), and where its time goes.
slow=$(node bench/slow-phone.mjs "http://127.0.0.1:$port" 7)
echo "$slow" | tail -n +2
figure "slow phone: page load to usable payment form, median" "$(echo "$slow" | sed -nE '1s/.*median ([0-9]+) ms.*/\1/p')" ms
figure "slow phone: page load to usable payment form, slowest" "$(echo "$slow" | sed -nE '1s/.*slowest ([0-9]+) ms.*/\1/p')" ms

wasm=target/site-release/pkg/$assets.wasm
# Sizes in KB of 1,000 bytes, the unit the targets are written in.
figure "release wasm raw" "$(( $(stat -c %s "$wasm") / 1000 ))" KB
figure "release wasm gzip -9" "$(( $(gzip -9 -c "$wasm" | wc -c) / 1000 ))" KB
figure "release wasm brotli -q 11" "$(( $(brotli -q 11 -c "$wasm" | wc -c) / 1000 ))" KB

mv "$current" "$previous"
