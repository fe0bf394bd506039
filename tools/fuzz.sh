#!/bin/sh
# fuzz.sh - run every fuzz target under libFuzzer for N seconds each.
#
#   tools/fuzz.sh SECONDS [TARGET...]       e.g. tools/fuzz.sh 600 (the long run)
#
# Builds the targets with clang, libFuzzer, ASan and UBSan (meson in
# build-fuzz-clang when that directory is configured with -Dfuzz=true, else
# tests/fuzz/build-local.sh into build-fuzz-local), then runs them JOBS at a
# time (default 2), each on a working copy of its committed corpus
# tests/fuzz/corpus/<target>. Crashes, leaks and timeouts land in
# OUT/artifacts/<target>/; logs in OUT/logs/. At the end a table of
# target, seconds, execs, corpus size and crashes is printed.
#
# Environment: JOBS (parallel targets), OUT (work dir, default
# build-fuzz-local/run), MERGE=1 to minimise the working corpus back into
# tests/fuzz/corpus/<target> with -merge=1 (files named regress-* are kept
# as they are; then review and commit the corpus),
# FUZZ_ARGS (extra libFuzzer flags, e.g. -rss_limit_mb=4096). Each target runs as
# one process (no -jobs: libFuzzer would then write fuzz-N.log into the
# current directory); JOBS targets run side by side.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: tools/fuzz.sh SECONDS [TARGET...]" >&2
    exit 1
fi
SECS=$1; shift
ALL="fuzz_decode fuzz_reasm fuzz_http fuzz_gzip fuzz_zip fuzz_identity fuzz_rules fuzz_match fuzz_pcap"
TARGETS=${*:-$ALL}
JOBS=${JOBS:-2}
OUT=${OUT:-build-fuzz-local/run}
cd "$(dirname "$0")/.."

if [ -f build-fuzz-clang/build.ninja ] && grep -q "fuzz_decode" build-fuzz-clang/build.ninja 2>/dev/null; then
    BIN=build-fuzz-clang/tests/fuzz
    # shellcheck disable=SC2086
    ninja -C build-fuzz-clang $(for t in $TARGETS; do printf 'tests/fuzz/%s ' "$t"; done)
else
    BIN=build-fuzz-local
    # shellcheck disable=SC2086
    tests/fuzz/build-local.sh "$BIN" $TARGETS
fi

mkdir -p "$OUT/logs"
run_one() {
    t=$1
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
    cp -n tests/fuzz/corpus/"$t"/* "$OUT/corpus/$t/" 2>/dev/null || true
    # shellcheck disable=SC2086
    "$BIN/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -close_fd_mask=1 ${FUZZ_ARGS:-} \
        -artifact_prefix="$OUT/artifacts/$t/" "$OUT/corpus/$t" \
        > "$OUT/logs/$t.log" 2>&1 || true
    if [ "${MERGE:-0}" = 1 ]; then
        mkdir -p "$OUT/merged/$t"
        "$BIN/$t" -merge=1 "$OUT/merged/$t" tests/fuzz/corpus/"$t" "$OUT/corpus/$t" \
            > "$OUT/logs/$t.merge.log" 2>&1 || true
        # regress-* files are reproducers of fixed bugs: they stay whatever
        # their coverage
        find tests/fuzz/corpus/"$t" -type f ! -name 'regress-*' -delete
        cp "$OUT/merged/$t"/* tests/fuzz/corpus/"$t"/
        rm -rf "$OUT/merged/$t"
    fi
}

# JOBS at a time, in order
set -- $TARGETS
while [ $# -gt 0 ]; do
    pids=""
    i=0
    while [ $# -gt 0 ] && [ "$i" -lt "$JOBS" ]; do
        run_one "$1" &
        pids="$pids $!"
        shift
        i=$((i + 1))
    done
    for p in $pids; do wait "$p"; done
done

printf '%-14s %8s %12s %8s %8s\n' target seconds execs corpus crashes
for t in $TARGETS; do
    log="$OUT/logs/$t.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    crashes=$(ls "$OUT/artifacts/$t" 2>/dev/null | grep -c -E '^(crash|leak|timeout|oom)-' || true)
    printf '%-14s %8s %12s %8s %8s\n' "$t" "${secs:-?}" "${execs:-?}" \
        "$(ls "$OUT/corpus/$t" | wc -l)" "$crashes"
done
