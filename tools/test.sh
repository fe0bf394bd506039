#!/usr/bin/env bash
# test.sh - install what is missing, build (optimised and ASan+UBSan), run
# every test suite, and end with one line "N passed, N failed".
#
#   tools/test.sh [SUITE ...]    default: every suite
set -uo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh --tests || { echo "0 passed, 1 failed"; exit 1; }

suites=("$@")
status=0
rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
# Every suite but the scenarios runs under the sanitizers; golden and
# scenarios run on the optimised build (what users run; the scenarios replay
# a ~330 MB capture).
want() { [ ${#suites[@]} -eq 0 ] || printf '%s\n' "${suites[@]}" | grep -qx "$1"; }
args=()
for s in "${suites[@]}"; do [ "$s" != scenarios ] && args+=(--suite "$s"); done
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
python3 tools/tally.py build-asan/meson-logs/testlog.json build/meson-logs/testlog.json
exit $status
