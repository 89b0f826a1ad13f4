#!/bin/sh
# tests/fuzz/run.sh — runs every libFuzzer target of build/fuzz (`make fuzz` builds them)
# for FUZZ_SECONDS each (default 10: the bounded run of `make test`; a long one is
# FUZZ_SECONDS=3600 sh tests/fuzz/run.sh). Each target starts from its committed seeds in
# tests/fuzz/corpus/TARGET/; the webhook target also from the octokit example payloads
# ($CLOSELOOP_WEBHOOK_EXAMPLES, fetched by tests/conformance/webhook-examples.sh). New
# inputs found go to a scratch corpus under build/fuzz/work/ (not committed); a crash
# leaves its input in build/fuzz/crashes/ and fails the run.
# Prints one line per target and, last, "fuzz: N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
cd "$root" || exit 1
secs=${FUZZ_SECONDS:-10}
out=build/fuzz
pass=0
fail=0
mkdir -p "$out/crashes"
for bin in "$out"/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    case $bin in *.d) continue ;; esac
    name=${bin##*/fuzz_}
    work="$out/work/$name"
    rm -rf "$work"
    mkdir -p "$work"
    seeds="tests/fuzz/corpus/$name"
    [ -d "$seeds" ] && cp "$seeds"/* "$work"/ 2>/dev/null
    if [ "$name" = webhook ] && [ -n "${CLOSELOOP_WEBHOOK_EXAMPLES:-}" ]; then
        cp "$CLOSELOOP_WEBHOOK_EXAMPLES"/*.json "$work"/ 2>/dev/null
    fi
    log="$out/$name.log"
    if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/crashes/$name-" -print_final_stats=1 "$work" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        echo "  fuzz_$name: ${runs:-?} inputs in ${secs} s, no crash"
        pass=$((pass + 1))
    else
        echo "  fuzz_$name: FAILED (see $log and $out/crashes/)"
        tail -n 30 "$log"
        fail=$((fail + 1))
    fi
done
[ $((pass + fail)) -gt 0 ] || { echo "  no fuzz targets in $out: run 'make fuzz'"; fail=1; }
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
