#!/usr/bin/env bash
# Builds the browser half of the shop without cargo-leptos: the hydrate wasm through
# wasm-bindgen (and wasm-opt for release), the stylesheet through sass, and public/ assets, all
# into target/site. Usage: build-site.sh [debug|release]. The server binary must be built the
# same way (plain cargo), since cargo-leptos names the wasm file differently.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mode=${1:-debug}
# A release site lives apart from the debug one, so each server binary gets its own.
site=target/site
[ "$mode" = release ] && site=target/site-release
mkdir -p "$site/pkg"

if [ "$mode" = release ]; then
  cargo build --locked -p frontend --target wasm32-unknown-unknown --profile wasm-release
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  cargo build --locked -p frontend --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name storefront "$wasm"
if [ "$mode" = release ]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    "$site/pkg/storefront_bg.wasm" -o "$site/pkg/storefront_bg.wasm"
fi
sass --no-source-map --style=compressed style/main.scss "$site/pkg/storefront.css"
cp -R public/. "$site/"
echo "site built ($mode): $(du -sh "$site/pkg/storefront_bg.wasm" | cut -f1) wasm"
