#!/bin/sh
# A long fuzzing run: every build/fuzz/fuzz_* driver for FUZZ_MINUTES minutes (default 10), at
# most FUZZ_JOBS at a time (default 2), starting from its seed corpus in tests/fuzz/corpus/ and
# from what earlier long runs found. New inputs go to build/fuzz-long/DRIVER/corpus, never into
# the repository, unless FUZZ_MERGE=1: then the inputs that add coverage are merged into
# tests/fuzz/corpus/ (libFuzzer's -merge=1 keeps only those).
#
# Prints one line per driver, "ok fuzz-long DRIVER: ..." with its runs and coverage (cov: edges,
# ft: features), or "not ok fuzz-long DRIVER: ..." naming the crashing input, then a summary.
# Exits non-zero when a driver failed.
cd "$(dirname "$0")/../.." || exit 2
FUZZ_MINUTES=${FUZZ_MINUTES:-10}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_MERGE=${FUZZ_MERGE:-0}
OUT=build/fuzz-long

# The last value libFuzzer printed for a counter ("cov: 812" in a status line), or "-".
last_counter() {
    v=$(grep -o "$1: [0-9]*" "$2" | tail -1 | sed 's/.*: //')
    echo "${v:--}"
}

# Fuzz one driver; prints its line and leaves it in $OUT/NAME/result.
one() {
    f=$1
    n=$(basename "$f")
    seeds=tests/fuzz/corpus/${n#fuzz_}
    dir=$OUT/$n
    mkdir -p "$dir/corpus"
    rm -f "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-* "$dir"/leak-* "$dir/result" "$dir/runs"
    before=$(ls "$dir/corpus" | wc -l)
    "$f" -max_total_time=$((FUZZ_MINUTES * 60)) -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" "$seeds" >"$dir/log" 2>&1
    rc=$?
    runs=$(grep -o 'number_of_executed_units: [0-9]*' "$dir/log" | sed 's/.*: //')
    [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$dir/log" | tail -1 | tr -d '#')
    found=$(($(ls "$dir/corpus" | wc -l) - before))
    stats="${runs:-0} runs, cov: $(last_counter cov "$dir/log") ft: $(last_counter ft "$dir/log")"
    stats="$stats, corpus $(ls "$dir/corpus" | wc -l) (+$found)"
    artifact=$(ls "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-* "$dir"/leak-* 2>/dev/null | head -1)
    if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
        line="ok fuzz-long $n: $stats"
    else
        line="not ok fuzz-long $n: exit $rc, ${artifact:-no input saved} ($stats; see $dir/log)"
    fi
    if [ "$FUZZ_MERGE" = 1 ] && [ "$found" -gt 0 ]; then
        "$f" -merge=1 "$seeds" "$dir/corpus" >"$dir/merge.log" 2>&1 ||
            line="$line; merge failed, see $dir/merge.log"
    fi
    echo "${runs:-0}" >"$dir/runs"
    echo "$line" >"$dir/result"
    echo "$line"
}

if [ "$1" = --one ]; then
    one "$2"
    exit 0
fi

drivers=""
for src in tests/fuzz/fuzz_*.c; do
    f=build/fuzz/$(basename "$src" .c)
    if [ ! -x "$f" ]; then
        echo "not ok fuzz-long: $f is not built (make fuzz)"
        exit 1
    fi
    drivers="$drivers $f"
done
mkdir -p "$OUT"
echo "fuzz-long: $(echo $drivers | wc -w) drivers, $FUZZ_MINUTES min each, $FUZZ_JOBS at a time"
echo $drivers | xargs -n 1 -P "$FUZZ_JOBS" sh tests/fuzz/long.sh --one
ok=0
failed=0
runs=0
for f in $drivers; do
    dir=$OUT/$(basename "$f")
    if grep -q '^ok ' "$dir/result" 2>/dev/null; then
        ok=$((ok + 1))
    else
        failed=$((failed + 1))
    fi
    runs=$((runs + $(cat "$dir/runs" 2>/dev/null || echo 0)))
done
echo "fuzz-long: $ok ok, $failed failed, $runs runs in total"
[ "$failed" -eq 0 ]
