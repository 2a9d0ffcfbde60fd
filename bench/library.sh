#!/usr/bin/env bash
# Measures what a buyer does after paying, and prints the figures, each beside the previous
# run's (nothing here asserts a time):
#  - `/library` and `/account` of a shopper with 500 orders, under wrk (32 connections);
#  - a 50 MB download through the signed link: MB/s for one and for four at once, and the
#    server's memory before and at its highest during them (a download streams, so it should
#    not grow with the file);
#  - sign-in under load: argon2id at one hash per core, so the rate and the wait it makes, one
#    sign-in alone, and how the catalog page answers while 32 sign-ins run.
# A release server on a database of its own. The figures of the last run are kept in
# bench/last-library.tsv (commit it with RESULTS.md).
# Usage: bash bench/library.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
secs=${1:-10}
bash scripts/setup.sh >/dev/null

echo "==> release builds"
cargo build --locked --release -p server-bin -p stripe-standin

db=sf_bench_library
admin=postgres://postgres@127.0.0.1:5432
psql "$admin/postgres" -qc "drop database if exists $db with (force)" -qc "create database $db"
sql() { psql "$admin/$db" -qtA -v ON_ERROR_STOP=1 -c "$1"; }
port=3910
standin_port=3911
base=http://127.0.0.1:$port
files=target/bench-library-files
work=$(mktemp -d)
rm -rf "$files"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work" "$files"
}
trap cleanup EXIT
target/release/stripe-standin --port $standin_port >/dev/null 2>&1 & pids+=($!)
DATABASE_URL=$admin/$db \
STRIPE_SECRET_KEY=sk_test_bench STRIPE_PUBLISHABLE_KEY=pk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench \
STRIPE_API_BASE=http://127.0.0.1:$standin_port/ STRIPE_JS_URL=http://127.0.0.1:$standin_port/v3/ \
LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=target/site RUST_LOG=warn \
ACCOUNT_ATTEMPTS_PER_MINUTE=1000000 STORAGE_DIR="$files" BACKGROUND_JOBS=false \
DOWNLOAD_SIGNING_KEY=bench-download-signing-key-0123456789abcdef \
  target/release/server >/tmp/sf-bench-library.log 2>&1 & pids+=($!)
server_pid=${pids[1]}
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.2; done

previous=bench/last-library.tsv
current=$(mktemp)
source bench/figures.sh
rss() { local kb; kb=$(ps -o rss= -p "$server_pid" || echo 0); echo $(( kb / 1024 )); }
wrk_figures() { # LABEL WRK-OUTPUT
  if echo "$2" | grep -qE "Non-2xx|Socket errors"; then
    echo "$2" | grep -E "Non-2xx|Socket errors" >&2
  fi
  figure "$1 req/s" "$(echo "$2" | awk '/Requests\/sec/ { printf "%d", $2 }')" req/s
  figure "$1 p50" "$(echo "$2" | awk '$1 == "50%" { print $2 }' | ms)" ms
  figure "$1 p99" "$(echo "$2" | awk '$1 == "99%" { print $2 }' | ms)" ms
}

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -srm)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
echo

# A verified shopper, signed in (the cookie jar is theirs).
email=bench-buyer@example.com
password='a bench passphrase'
jar=$work/cookies
curl -fs -o /dev/null -d "email=$email" --data-urlencode "password=$password" "$base/api/sign_up"
sql "update app_user set email_verified_at = now() where email = '$email'"
curl -fs -o /dev/null -c "$jar" -d "email=$email" --data-urlencode "password=$password" "$base/api/sign_in"
cookie=$(awk '$6 ~ /sf_session/ { print $6 "=" $7 }' "$jar")
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }

# 500 paid orders of the demo products, each with its grant, over the last year.
sql "
with made as (
  insert into customer_order (public_id, product_id, email, amount_minor, currency, status, paid_at,
                              created_at, user_id, payment_intent_id)
  select 'ord_' || (select string_agg(substr('abcdefghijkmnpqrstuvwxyz23456789', 1 + floor(random() * 32)::int, 1), '')
                    from generate_series(1, 26) where n > 0),
         p.id, u.email, p.price_minor, p.currency, 'paid', now() - n * interval '17 hours',
         now() - n * interval '17 hours', u.id, 'pi_bench_' || n
  from generate_series(1, 500) n
  cross join app_user u
  join lateral (select * from product where price_minor > 0 and kind <> 'credits'
                order by id offset n % 3 limit 1) p on true
  returning id, product_id, email
)
insert into entitlement (order_id, product_id, email) select id, product_id, email from made"
[ "$(sql "select count(*) from entitlement")" = 500 ] || { echo "seeding failed" >&2; exit 1; }

for path in /library /account; do
  curl -fs -H "Cookie: $cookie" "$base$path" | grep -q "Signed in as\|library-item" \
    || { echo "$path did not render for the shopper" >&2; exit 1; }
  wrk_figures "500 orders: wrk -t1 -c32 $path" \
    "$(wrk -t1 -c32 -d"${secs}s" --latency -H "Cookie: $cookie" "$base$path")"
done

# A 50 MB file the shopper owns.
big=$work/big.bin
head -c 50000000 /dev/urandom >"$big"
sha=$(sha256sum "$big" | cut -d' ' -f1)
mkdir -p "$files/sha256"
cp "$big" "$files/sha256/$sha"
order=$(sql "
with p as (
  insert into product (slug, title, description, kind, price_minor, currency)
  values ('bench-archive', 'Bench archive', '50 MB of noise', 'download', 900, 'usd') returning id
), f as (
  insert into product_file (product_id, object_key, filename, content_type, size_bytes)
  select id, 'sha256/$sha', 'archive.bin', 'application/octet-stream', 50000000 from p
), o as (
  insert into customer_order (public_id, product_id, email, amount_minor, currency, status, paid_at, user_id, payment_intent_id)
  select 'ord_bbbbbbbbbbbbbbbbbbbbbbbbbb', p.id, u.email, 900, 'usd', 'paid', now(), u.id, 'pi_bench_download'
  from p cross join app_user u returning id, product_id, email
)
insert into entitlement (order_id, product_id, email) select id, product_id, email from o returning order_id" >/dev/null
echo ord_bbbbbbbbbbbbbbbbbbbbbbbbbb)
signed_link() {
  curl -fs -o /dev/null -w '%{redirect_url}' -H "Cookie: $cookie" "$base/library/$order/download"
}
peak=$work/peak
sample_rss() { local top=0 now; while :; do now=$(rss); [ "$now" -gt "$top" ] && { top=$now; echo "$top" >"$peak"; }; sleep 0.05; done; }
figure "server RSS before the downloads" "$(rss)" MiB
rss >"$peak"
sample_rss & sampler=$!
link=$(signed_link)
one=$(curl -fs -o "$work/got" -w '%{speed_download}' "$link")
cmp -s "$big" "$work/got" || { echo "the download differs from the file" >&2; exit 1; }
figure "one 50 MB download" "$(awk -v b="$one" 'BEGIN { printf "%d", b / 1e6 }')" MB/s
start=$(date +%s.%N)
downloads=()
for _ in 1 2 3 4; do curl -fs -o /dev/null "$(signed_link)" & downloads+=($!); done
for d in "${downloads[@]}"; do wait "$d"; done
end=$(date +%s.%N)
figure "four 50 MB downloads at once, together" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%d", 200 / (e - s) }')" MB/s
kill "$sampler" 2>/dev/null || true
figure "server RSS at its highest during the downloads" "$(cat "$peak")" MiB

# Sign-in under load: the right password (each makes a session) and a wrong one.
cat >"$work/right.lua" <<LUA
wrk.method = "POST"
wrk.body = "email=$email&password=a+bench+passphrase"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
sed 's/a+bench+passphrase/not+the+passphrase/' "$work/right.lua" >"$work/wrong.lua"
wrk_figures "sign-in, right password, wrk -t1 -c8 /api/sign_in" \
  "$(wrk -t1 -c8 -d"${secs}s" --latency -s "$work/right.lua" "$base/api/sign_in")"
wrong=$(wrk -t1 -c8 -d"${secs}s" --latency -s "$work/wrong.lua" "$base/api/sign_in")
# A wrong password answers 400 by design: those are the expected answers here.
wrk_figures "sign-in, wrong password, wrk -t1 -c8 /api/sign_in" "$(echo "$wrong" | grep -v Non-2xx)"

# One sign-in alone (the hash's cost as a shopper feels it), then the catalog page while 32
# sign-ins are under way.
times=$(for _ in $(seq 20); do
  curl -fs -o /dev/null -w '%{time_total}\n' -d "email=$email" --data-urlencode "password=$password" "$base/api/sign_in"
done | sort -n)
figure "one sign-in alone, median of 20" "$(echo "$times" | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] * 1000 }')" ms
wrk -t1 -c32 -d"$((secs + 2))s" -s "$work/right.lua" "$base/api/sign_in" >/dev/null &
signins=$!
sleep 1
wrk_figures "/ while 32 sign-ins run, wrk -t1 -c4 /" "$(wrk -t1 -c4 -d"${secs}s" --latency "$base/")"
wait "$signins"
wrk_figures "/ alone, wrk -t1 -c4 /" "$(wrk -t1 -c4 -d"${secs}s" --latency "$base/")"

mv "$current" "$previous"
