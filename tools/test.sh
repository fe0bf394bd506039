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
# Unit, generator, robustness and fuzz-replay suites run under the sanitizers;
# golden tests run on both builds (the optimised one is what users run).
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done
meson test -C build-asan --print-errorlogs --num-processes 2 "${args[@]}" || status=1
if [ ${#suites[@]} -eq 0 ] || printf '%s\n' "${suites[@]}" | grep -qx golden; then
    meson test -C build --print-errorlogs --suite golden || status=1
fi
python3 tools/tally.py build-asan/meson-logs/testlog.json build/meson-logs/testlog.json
exit $status
