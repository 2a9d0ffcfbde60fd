#!/usr/bin/env bash
# Drops the databases that test runs make (each server test and each Playwright worker makes its
# own: sf_test_*, sf_e2e_*), or with a prefix given, only those whose name starts with it.
# Safe to run at any time no test using them is running.
set -euo pipefail
if [ -n "${1:-}" ]; then
  pattern="datname like '${1//_/\\_}%'"
else
  pattern="datname like 'sf\_test\_%' or datname like 'sf\_e2e\_%'"
fi
psql -h 127.0.0.1 -U postgres -tAc "select datname from pg_database where $pattern" |
  while read -r db; do [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -qc "drop database if exists \"$db\" with (force)"; done
