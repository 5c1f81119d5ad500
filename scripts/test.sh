#!/usr/bin/env bash
# The whole test suite: unit tests of the component core and host, the mocks' own tests, and the
# integration tests that drive the built component through the host against the mocks.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
