#!/usr/bin/env bash
# Builds the executable as `scripts/dev.sh --watch` runs it: with server-bin's `dylib` feature,
# which takes every dependency from one shared library (server-dylib), so that the link after a
# page edit reads only the pages and the executable.
#
# Cargo builds that library with Rust's standard library as a shared library too when it is
# the executable's dependency, but with a copy of it inside when it is built as a package of
# its own (`cargo build -p server-dylib`; it is kept out of the workspace so that
# `--workspace` does not), and the executable cannot link against such a copy.
# Cargo sees no difference between the two, so a copy is removed here and built again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

for lib in target/debug/deps/libserver_dylib.so; do
  if [ -f "$lib" ] && ! readelf -d "$lib" | grep -q 'NEEDED.*libstd-'; then
    rm -f "$lib" target/debug/libserver_dylib.so
  fi
done
cargo build --locked -p server-bin --features dylib "$@"
