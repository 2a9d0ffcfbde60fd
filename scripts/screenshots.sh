#!/usr/bin/env bash
# Screenshots of the home, product, order and error pages at 375 px and 1280 px, light and dark,
# taken in headless Chromium from a shop of their own (its own database and Stripe stand-in).
# They land in end2end/screenshots/out/ (not committed) for anyone to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/setup.sh
cargo build --locked -p stripe-standin -p server-bin
bash scripts/build-site.sh debug

rm -rf end2end/screenshots/out
(cd end2end && SCREENSHOTS=1 STANDIN_BIN="$ROOT/target/debug/stripe-standin" \
  SERVER_BIN="$ROOT/target/debug/server" npx playwright test --project screenshots)
echo "screenshots: $(ls end2end/screenshots/out | wc -l) files in end2end/screenshots/out/"
