#!/usr/bin/env bash
# Set-up on a fresh machine: the pinned toolchain (rust-toolchain.toml) with the wasm32-wasip2
# target, every crate fetched, and the npm packages of the jco (Node.js) test, pinned by
# tests/jco/package-lock.json, playwright-core for the admin page test (tests/browser/package-lock.json),
# Debian's chromium, PostgreSQL's server binaries (the store tests start a throw-away server
# from them; nothing is left running), and valgrind and jq for the instruction-count guard
# (scripts/callgrind.sh, which CI runs), and scim2-server, a third-party SCIM server, in a Python
# virtualenv (tests/scim2/requirements.txt). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup target add wasm32-wasip2
cargo fetch --locked
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix tests/jco --no-audit --no-fund --loglevel=error
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
else
  echo "setup: npm not found: tests/it/jco.rs and the admin page browser test cannot run" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
fi
# PostgreSQL: the binaries only (initdb, pg_ctl); the tests run their own server on a free port.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL not found: the PostgreSQL store tests will skip (install postgresql)" >&2
    if [ "${CI:-}" = true ]; then exit 1; fi
  fi
fi
# As root, the tests run the server as the `postgres` user (the server refuses root).
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "setup: running as root but there is no \`postgres\` user to run the test server as" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
fi
# Headless Chromium for the admin page test (host-harness/tests/serve/browser.rs): Debian's package.
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "setup: chromium missing (install Debian's chromium as root): the admin page browser test cannot run" >&2
    if [ "${CI:-}" = true ]; then exit 1; fi
  fi
fi
# valgrind (callgrind) and jq for the instruction-count guard CI runs (scripts/callgrind.sh).
missing=()
for tool in valgrind jq; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: ${missing[*]} missing (install Debian's packages as root): the instruction-count guard" \
      "(scripts/callgrind.sh) cannot run: .ci/run skips it with a loud warning (and fails under CI=true)" >&2
    if [ "${CI:-}" = true ]; then exit 1; fi
  fi
fi
# scim2-server (PyPI, python-scim), the third-party RFC 7644 server tests/it/scim2_server.rs runs
# the teams against: a virtualenv in target/scim2-server/, every package pinned by
# tests/scim2/requirements.txt (--no-deps: nothing floats). Skipped when the copy of that file
# kept in the virtualenv is unchanged.
scim2_venv=target/scim2-server
if cmp -s tests/scim2/requirements.txt "$scim2_venv/requirements.txt" && [ -x "$scim2_venv/bin/scim2-server" ]; then
  :
elif command -v python3 >/dev/null 2>&1 && python3 -m venv --clear "$scim2_venv"; then
  "$scim2_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r tests/scim2/requirements.txt
  "$scim2_venv/bin/scim2-server" --help >/dev/null
  cp tests/scim2/requirements.txt "$scim2_venv/requirements.txt"
else
  echo "setup: python3 with venv not found (Debian: python3-venv): tests/it/scim2_server.rs cannot run" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
fi
