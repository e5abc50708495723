#!/usr/bin/env bash
# Builds the browser version of flowgpu (web/, wasm32 + WebGPU) into web/pkg, which
# `flowgpu export-web` copies into a site. Installs what it needs when missing: the
# wasm32-unknown-unknown target (rustup) and wasm-bindgen-cli of exactly the version of the
# wasm-bindgen crate in Cargo.lock (crates.io).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$version" ]; then
    echo "build-web: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "build-web: installing the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
    echo "build-web: installing wasm-bindgen-cli $version (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$version" --force
fi
# Its own target folder: this script also runs from inside `cargo test`, which holds the
# lock of the main one.
export CARGO_TARGET_DIR="${FLOWGPU_WEB_TARGET_DIR:-target/web}"
cargo build -p flowgpu-web --target wasm32-unknown-unknown --release
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/flowgpu_web.wasm"
echo "build-web: web/pkg/flowgpu_web.js and flowgpu_web_bg.wasm ($(du -h web/pkg/flowgpu_web_bg.wasm | cut -f1))"
