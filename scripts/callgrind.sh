#!/usr/bin/env bash
# A noise-free regression guard: instruction counts (valgrind --tool=callgrind) of one steady
# sync-all, one employee event and one steady sync-all with teams on (the organisation in teams),
# through the real host (release) and component against the mocks, compared with the committed
# baseline benches/callgrind-baseline.json.
#
#   scripts/callgrind.sh            # measure, compare; exit 1 on a regression over 5%
#   scripts/callgrind.sh --update   # measure and write the baseline (commit it)
#
#   CALLGRIND_EMPLOYEES=10000       organisation size (default 10000; the baseline records its own)
#   CALLGRIND_TEAMS=500             teams in the teams call's organisation (default one per 20 people)
#   CALLGRIND_THRESHOLD_PCT=5       allowed growth in percent
#   HOST_HARNESS_BIN=PATH           the host binary (default: cargo build --release, then
#                                   $CARGO_TARGET_DIR/release/host-harness)
#
# What is counted: `host-harness bench --callgrind CALL` generates the organisation, starts the
# mocks, loads the component (compiled or read from the cache: never counted), runs the initial
# sync and one steady sync unmeasured, then runs the one measured call on a thread of its own
# (a current-thread tokio runtime: guest, host, storage and the HTTP client's tasks all run
# there) between callgrind client requests. Valgrind starts with instrumentation and collection
# off (--instr-atstart=no --collect-atstart=no); the markers switch both on for that thread and
# off again, so the mock servers (other threads), the set-up and the epoch ticker are not counted.
# For steady-sync-teams the organisation is spread over CALLGRIND_TEAMS teams (OrgOptions::teams)
# and the tenant has teams on: the measured sync also plans every team (and writes none).
#
# The compiled component is cached in a data directory of its own (under the target directory):
# valgrind presents a CPU with fewer features than the real one, so the native cache would not
# match, and the first run compiles once (slowly, uncounted). Counts depend on the valgrind
# version and the CPU features it presents; compare on one machine kind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
update=0
for arg in "$@"; do
    case "$arg" in
        --update) update=1 ;;
        -h | --help)
            sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "error: unknown argument $arg (use --update or --help)" >&2
            exit 2
            ;;
    esac
done
employees="${CALLGRIND_EMPLOYEES:-10000}"
teams="${CALLGRIND_TEAMS:-$((employees / 20 > 2 ? employees / 20 : 2))}"
threshold="${CALLGRIND_THRESHOLD_PCT:-5}"
baseline="$root/benches/callgrind-baseline.json"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/callgrind"
mkdir -p "$out"

if ! command -v valgrind >/dev/null; then
    echo "error: valgrind is needed (apt-get install valgrind)" >&2
    exit 2
fi
if [ -n "${HOST_HARNESS_BIN:-}" ]; then
    bin="$HOST_HARNESS_BIN"
else
    (cd "$root" && cargo build --release -p host-harness --quiet)
    bin="$target_dir/release/host-harness"
fi

# Runs one call under callgrind (any further arguments go to bench); prints its instruction count.
measure() {
    local call="$1" file="$out/$1.callgrind.out"
    shift
    rm -f "$file"
    if ! valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
        --callgrind-out-file="$file" \
        "$bin" --data-dir "$out/data" bench --callgrind "$call" --employees "$employees" "$@" \
        >"$out/$call.stdout" 2>"$out/$call.log"; then
        echo "error: the $call run failed; see $out/$call.log" >&2
        tail -5 "$out/$call.log" >&2
        exit 2
    fi
    local ir
    ir="$(awk '/^totals:/ { print $2; exit }' "$file")"
    if [ -z "$ir" ] || [ "$ir" = 0 ]; then
        echo "error: no instructions counted for $call (were the markers reached? see $out/$call.log)" >&2
        exit 2
    fi
    echo "$ir"
}

echo "callgrind: $employees people; steady sync-all (this takes a few minutes under valgrind)" >&2
steady="$(measure steady-sync)"
echo "callgrind: steady sync-all: $steady instructions; now one employee event" >&2
event="$(measure event)"
echo "callgrind: employee event: $event instructions; now a steady sync-all in $teams teams, teams on" >&2
steady_teams="$(measure steady-sync-teams --teams "$teams")"
echo "callgrind: steady sync-all with teams: $steady_teams instructions" >&2

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
jq -n --argjson employees "$employees" --argjson teams "$teams" --argjson steady "$steady" --argjson event "$event" \
    --argjson steady_teams "$steady_teams" --arg valgrind "$(valgrind --version)" --arg commit "$commit" \
    --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" --arg machine "$(uname -m), $(nproc) CPUs" \
    '{employees: $employees, teams: $teams,
      instructions: {steady_sync: $steady, event: $event, steady_sync_teams: $steady_teams},
      valgrind: $valgrind, commit: $commit, measured_at: $date, machine: $machine}' >"$out/latest.json"
cat "$out/latest.json"

if [ "$update" = 1 ]; then
    mkdir -p "$(dirname "$baseline")"
    cp "$out/latest.json" "$baseline"
    echo "callgrind: baseline written to ${baseline#"$root"/}" >&2
    exit 0
fi
if [ ! -f "$baseline" ]; then
    echo "error: no baseline at ${baseline#"$root"/}; run with --update first" >&2
    exit 2
fi
if [ "$(jq .employees "$baseline")" != "$employees" ]; then
    echo "error: the baseline is for $(jq .employees "$baseline") people, this run for $employees" >&2
    exit 2
fi
if [ "$(jq .teams "$baseline")" != "$teams" ]; then
    echo "error: the baseline is for $(jq .teams "$baseline") teams, this run for $teams (run with --update if intended)" >&2
    exit 2
fi
status=0
for call in steady_sync event steady_sync_teams; do
    before="$(jq ".instructions.$call" "$baseline")"
    if [ "$before" = null ]; then
        echo "error: the baseline has no $call; run with --update and commit it" >&2
        exit 2
    fi
    now="$(jq ".instructions.$call" "$out/latest.json")"
    verdict="$(awk -v b="$before" -v n="$now" -v t="$threshold" \
        'BEGIN { d = (n - b) * 100 / b; printf "%+.2f%% %s", d, (d > t ? "REGRESSION" : "ok") }')"
    echo "$call: $now instructions, baseline $before: $verdict"
    case "$verdict" in *REGRESSION) status=1 ;; esac
done
if [ "$status" = 1 ]; then
    echo "callgrind: more than ${threshold}% over the baseline (if intended, run with --update and commit)" >&2
fi
exit "$status"
