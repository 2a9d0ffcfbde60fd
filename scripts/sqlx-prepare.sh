#!/usr/bin/env bash
# Keeps .sqlx/ (the query metadata that lets `sqlx::query!` build without a database) in step
# with the queries and migrations. Run it after changing a query or adding a migration and
# commit what changes; `--check` (run by test.sh) fails when .sqlx/ is stale instead.
# It works on a database of its own, migrated from migrations/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
db=sf_sqlx_prepare
admin=postgres://postgres@127.0.0.1:5432
psql "$admin/postgres" -qc "drop database if exists $db with (force)" -qc "create database $db"
export DATABASE_URL="$admin/$db"
cargo sqlx migrate run --source migrations >/dev/null
# The job queue (underway) checks its own queries against the same database, so its tables
# must be there too: its migrations, from the version Cargo.lock names.
cargo fetch --locked >/dev/null
version=$(awk '/^name = "underway"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
underway=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"underway-$version" | head -1)
for migration in "$underway"/migrations/*.sql; do
  psql "$DATABASE_URL" -q -1 -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
done
# The wasm crate is not built for the host; every other crate and target is checked.
cargo sqlx prepare --workspace "$@" -- --workspace --all-targets --exclude frontend
psql "$admin/postgres" -qc "drop database if exists $db with (force)"
