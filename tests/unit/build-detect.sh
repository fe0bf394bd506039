#!/bin/sh
# Builds and runs the detection engine's unit tests by hand (until the lead
# wires tests/unit/detect.build into meson): plain and with ASan+UBSan.
# Usage: tests/unit/build-detect.sh [plain|asan|all]   (default all)
set -eu
cd "$(dirname "$0")/../.."
mode=${1:-all}
CFLAGS="-std=gnu11 -O1 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
 -Wmissing-prototypes -Wno-missing-field-initializers -D_GNU_SOURCE -I. -Itests"
DEPS=$(pkg-config --cflags --libs jansson yaml-0.1)
ENGINE="rules/detect.c rules/account.c rules/sketch.c rules/baseline.c rules/detect_rules.c \
 rules/state.c output/eve_alert.c output/eve.c"
run() {
    out=build-detect/$1
    mkdir -p "$out"
    extra=$2
    cc $CFLAGS $extra -o "$out/test_sketch" tests/unit/test_sketch.c rules/sketch.c -lm
    cc $CFLAGS $extra -o "$out/test_state" tests/unit/test_state.c $ENGINE $DEPS -lm
    cc $CFLAGS $extra -o "$out/test_detect" tests/unit/test_detect.c $ENGINE $DEPS -lm
    for t in test_sketch test_state test_detect; do
        printf '%s %s: ' "$1" "$t"
        (cd "$out" && ./$t) || { echo "FAILED: $1 $t"; exit 1; }
    done
}
case $mode in
plain) run plain "" ;;
asan) run asan "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" ;;
all)
    run plain ""
    run asan "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    ;;
esac
