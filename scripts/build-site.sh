#!/usr/bin/env bash
# Builds the browser half of the shop without cargo-leptos: the hydrate wasm through
# wasm-bindgen (and wasm-opt for release), the stylesheet through sass, and public/ assets, all
# into target/site. Usage: build-site.sh [debug|release]. The files are named as cargo-leptos
# names them, so either can build the site a server uses.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mode=${1:-debug}
# A release site lives apart from the debug one, so each server binary gets its own.
site=target/site
[ "$mode" = release ] && site=target/site-release
mkdir -p "$site/pkg"
wasm_cargo_tail=()

# target/front is where cargo-leptos builds the wasm crate (apart from the server, so that the
# two builds it runs side by side do not wait on each other): built here the same way, with
# the same environment, `cargo leptos watch` finds it fresh.
wasm_target=target/front
wasm_cargo=(env CARGO_TARGET_DIR="$wasm_target" cargo)
# The wasm32 standard library normally comes from rustup. Where rustup could not fetch it,
# setup.sh installed Debian's rustc-web, cargo-web and rust-web-src instead, and std is built
# from source (-Zbuild-std, allowed on a stable compiler by RUSTC_BOOTSTRAP) in a target
# directory of its own, since that compiler differs from rustup's.
if [ -f target/.wasm-fallback ]; then
  wasm_target=target/wasm-debian
  wasm_cargo=(env RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$wasm_target" /usr/bin/cargo)
  # Debian's rustc links wasm with rust-lld (package rust-web-llvm) when it is there, and
  # otherwise with wasm-ld from the lld package.
  if ! command -v rust-lld >/dev/null; then
    wasm_cargo=(env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld "${wasm_cargo[@]}")
  fi
  wasm_cargo_tail=(-Zbuild-std=std,panic_abort)
fi
if [ "$mode" = release ]; then
  profile=wasm-release
  "${wasm_cargo[@]}" build --locked -p frontend --target wasm32-unknown-unknown --profile "$profile" "${wasm_cargo_tail[@]}"
else
  profile=debug
  "${wasm_cargo[@]}" build --locked -p frontend --target wasm32-unknown-unknown "${wasm_cargo_tail[@]}"
fi
wasm=$wasm_target/wasm32-unknown-unknown/$profile/frontend.wasm
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name storefront "$wasm"
# The name cargo-leptos gives it, and the one the server's hydration script asks for (the
# server is built with LEPTOS_OUTPUT_NAME set, see .cargo/config.toml).
mv "$site/pkg/storefront_bg.wasm" "$site/pkg/storefront.wasm"
if [ "$mode" = release ]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    "$site/pkg/storefront.wasm" -o "$site/pkg/storefront.wasm"
fi
sass --no-source-map --style=compressed style/main.scss "$site/pkg/storefront.css"
cp -R public/. "$site/"

# Content-hashed copies for browsers to keep for good (`Cache-Control: immutable`), named by the
# hash of all three files, with their brotli and gzip forms made here once rather than on every
# request. The server reads the name from pkg/asset-name at start; the plain names stay for
# cargo-leptos and for anything that wants them.
hash=$(cat "$site/pkg/storefront.js" "$site/pkg/storefront.wasm" "$site/pkg/storefront.css" | sha256sum | cut -c1-16)
name=storefront.$hash
# The previous build's copies stay, for pages a server still running it has sent (and a
# second server still on it); older ones go.
previous=$(cat "$site/pkg/asset-name" 2>/dev/null || echo "$name")
find "$site/pkg" -name 'storefront.*.*' ! -name "$name.*" ! -name "$previous.*" -delete
quality=5
[ "$mode" = release ] && quality=11
for ext in js wasm css; do
  cp "$site/pkg/storefront.$ext" "$site/pkg/$name.$ext"
  brotli -f -q "$quality" -o "$site/pkg/$name.$ext.br" "$site/pkg/$name.$ext"
  gzip -f -9 -k "$site/pkg/$name.$ext"
done
echo "$name" >"$site/pkg/asset-name"
echo "site built ($mode): $(du -sh "$site/pkg/storefront.wasm" | cut -f1) wasm"
