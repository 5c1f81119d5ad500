#!/usr/bin/env bash
# Set-up on a fresh machine: the pinned toolchain (rust-toolchain.toml) with the wasm32-wasip2
# target, and every crate fetched. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup target add wasm32-wasip2
cargo fetch --locked
