#!/usr/bin/env bash
# Drops the databases that test runs make (each server test and each Playwright worker makes its
# own: sf_test_*, sf_e2e_*). Safe to run at any time no test is running.
set -euo pipefail
psql -h 127.0.0.1 -U postgres -tAc \
  "select datname from pg_database where datname like 'sf\_test\_%' or datname like 'sf\_e2e\_%'" |
  while read -r db; do [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -qc "drop database if exists \"$db\" with (force)"; done
