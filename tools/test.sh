#!/usr/bin/env bash
# test.sh - install what is missing, build (optimised, ASan+UBSan, TSan), run
# every test suite, and end with one line "N passed, N failed".
#
#   tools/test.sh [SUITE ...]    default: every suite; the suite "tsan" is
#                                the tests that run threads, under TSan
set -uo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh --tests || { echo "0 passed, 1 failed"; exit 1; }

suites=("$@")
status=0
rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
    build-tsan/meson-logs/testlog.json
# Every suite but the scenarios runs under ASan+UBSan; golden and scenarios
# run on the optimised build (what users run; the scenarios replay a ~330 MB
# capture); the tests that run the pipeline's threads run once more under
# ThreadSanitizer.
want() { [ ${#suites[@]} -eq 0 ] || printf '%s\n' "${suites[@]}" | grep -qx "$1"; }
args=()
for s in "${suites[@]}"; do
    [ "$s" != scenarios ] && [ "$s" != tsan ] && args+=(--suite "$s")
done
if [ ${#suites[@]} -eq 0 ] || [ ${#args[@]} -gt 0 ]; then
    meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite scenarios \
        "${args[@]}" || status=1
fi
rel=()
want golden && rel+=(--suite golden)
want scenarios && rel+=(--suite scenarios)
if [ ${#rel[@]} -gt 0 ]; then
    meson test -C build --print-errorlogs "${rel[@]}" || status=1
fi
if want tsan; then
    # the SPSC ring, N = 1, 2, 4 giving the same events, every real capture
    # with two workers, rule reload, live capture with threads and the foreign
    # API's live run with two threads; ASLR off
    # (setarch -R, inherited by everything the tests start): TSan's shadow
    # memory needs the usual layout, which some kernels' mmap randomisation
    # breaks. A race report makes the binary exit 66, which fails the test.
    setarch "$(uname -m)" -R meson test -C build-tsan --print-errorlogs --num-processes 2 \
        ring threads real_pcaps_threads ops_reload ops_live ops_foreign_api || status=1
fi
python3 tools/tally.py build-asan/meson-logs/testlog.json build/meson-logs/testlog.json \
    build-tsan/meson-logs/testlog.json
exit $status
