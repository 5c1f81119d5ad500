#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/) for a bounded time and prints its executions.
#   FUZZ_SECONDS=60 ./scripts/fuzz.sh              # every target, 60 s each
#   FUZZ_SECONDS=10 ./scripts/fuzz.sh connect_urls # one target
# Needs nightly and cargo-fuzz: `rustup toolchain install nightly && cargo +nightly install cargo-fuzz`.
# New inputs go to fuzz/scratch/<target> (ignored); the committed seeds in fuzz/corpus/ are only
# read, so the corpus stays small. A crash stops the run, leaves the input in fuzz/artifacts/,
# and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-60}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz on nightly is needed: cargo +nightly install cargo-fuzz" >&2
    exit 1
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
status=0
for target in "${targets[@]}"; do
    mkdir -p "scratch/$target" "corpus/$target"
    log="scratch/$target.log"
    if cargo +nightly fuzz run "$target" "scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
        echo "$target: ok, $runs executions in ${seconds}s"
    else
        echo "$target: FAILED (see fuzz/$log and fuzz/artifacts/$target/)"
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5
        status=1
    fi
done
exit "$status"
