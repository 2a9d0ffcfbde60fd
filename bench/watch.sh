#!/usr/bin/env bash
# Measures the developer's loop under `cargo leptos watch` and prints, asserting nothing:
#  - the time from `bash scripts/dev.sh --watch` to the shop's first page, and the crates cargo
#    compiled on the way (after `bash scripts/test.sh` there should be none of the shop's
#    dependencies: the test path and cargo-leptos build the same way into the same places);
#  - for 5 edits of the catalog page's heading, the time from saving the file to the open
#    browser showing it (bench/watch-reload.mjs), and their median;
#  - cargo's own time for each of those rebuilds and the one that restores the file.
# The edited file is put back at the end. Needs cargo-leptos (`bash scripts/setup.sh --dev`;
# this script installs it first if it is missing, and that time is not counted) and free ports
# 3000, 3001 and 12111.
# Usage: bash bench/watch.sh [edits, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
edits=${1:-5}

bash scripts/setup.sh --dev >/dev/null
for port in 3000 3001 12111; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use: stop what is running there first" >&2
    exit 1
  fi
done

log=target/watch-bench.log
start=$(date +%s%3N)
# Its own process group, so dev.sh, the stand-in, the mail catcher, cargo-leptos and cargo stop
# together. cargo-leptos runs the server in a group of its own and stops it when it is told to
# stop; whatever still listens on the ports after that is stopped too.
setsid bash scripts/dev.sh --watch >"$log" 2>&1 &
group=$!
stop() {
  kill -- -"$group" 2>/dev/null || true
  for _ in $(seq 1 40); do
    listening=$(ss -ltnpH '( sport = :3000 or sport = :3001 or sport = :12111 )' 2>/dev/null |
      grep -oE 'pid=[0-9]+' | cut -d= -f2 | sort -u)
    [ -z "$listening" ] && return
    sleep 0.25
  done
  echo "stopping what still listens on 3000, 3001 or 12111: $listening" >&2
  kill $listening 2>/dev/null || true
}
trap stop EXIT

until curl -fsS -o /dev/null http://127.0.0.1:3000/ 2>/dev/null; do
  kill -0 "$group" 2>/dev/null || { tail -30 "$log"; echo "dev.sh --watch stopped" >&2; exit 1; }
  sleep 0.5
done
first=$(( $(date +%s%3N) - start ))
compiled=$(grep -oE 'Compiling [a-z0-9_-]+ v[^ ]+' "$log" | awk '{print $2}' | sort | uniq -c |
  awk '{print $2 ($1 > 1 ? " x" $1 : "")}' | paste -sd' ' -) || true
echo "dev.sh --watch to the first page: $(( first / 1000 )).$(( first % 1000 / 100 )) s"
echo "crates compiled on the way: ${compiled:-none}"

# cargo-leptos serves before its file watcher is ready: it first walks the whole tree (target/
# included), which takes seconds with a large target/. An edit made before then is never seen.
for _ in $(seq 1 600); do
  grep -q "ignore list from" "$log" && break
  sleep 0.2
done
sleep 1
lines=$(wc -l <"$log")
node bench/watch-reload.mjs http://127.0.0.1:3000 "$edits"
# cargo's own time for each rebuild after the first page (the edits, then the restore); the rest
# of an edit's time is cargo-leptos noticing the change, restarting the server and the reload.
builds=$(tail -n +"$((lines + 1))" "$log" | grep -E 'Finished `dev` profile' | sed -E 's/.* in //' |
  paste -sd',' - | sed 's/,/, /g') || true
echo "cargo's time per rebuild: ${builds:-none}"
