#!/usr/bin/env bash
# Runs a local S3-compatible server (moto's, from tools/s3/.venv, which setup.sh installs) for
# the tests of the S3 storage. It answers any bucket name and takes any access key.
#
#   bash scripts/s3-server.sh PORT          in the foreground
#   eval "$(bash scripts/s3-server.sh --background)"
#       on a free port, in the background, once it listens; sets S3_TEST_ENDPOINT and
#       S3_SERVER_PID (test.sh, repeat-tests.sh). Log: target/s3-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { exec tools/s3/.venv/bin/moto_server -H 127.0.0.1 -p "$1"; }

if [ "${1:-}" != "--background" ]; then
  run "${1:?port}"
fi

port=$(python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
(run "$port") >target/s3-server.log 2>&1 &
pid=$!
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 150); do
  listening "$port" && break
  sleep 0.1
done
if ! listening "$port"; then
  cat target/s3-server.log >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi
echo "export S3_TEST_ENDPOINT=http://127.0.0.1:$port S3_SERVER_PID=$pid"
