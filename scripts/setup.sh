#!/usr/bin/env bash
# Set-up on a fresh machine: the pinned toolchain (rust-toolchain.toml) with the wasm32-wasip2
# target, every crate fetched, and the npm packages of the jco (Node.js) test, pinned by
# tests/jco/package-lock.json. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup target add wasm32-wasip2
cargo fetch --locked
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix tests/jco --no-audit --no-fund --loglevel=error
else
  echo "setup: npm not found: tests/it/jco.rs (the component under Node.js) cannot run" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
fi
