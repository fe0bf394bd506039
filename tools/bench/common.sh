# common.sh - sourced by tools/bench.sh and tools/bench-flows.sh: builds the
# sensor, the generator and the benchmark helpers in build-bench/ (release,
# NDEBUG), and sets LH, GEN and HB (the helpers' directory).
#
# The helpers are built by meson when tools/meson.build has subdir('bench');
# until then they are compiled here with cc against the project's static
# library, with the project's warning flags.

BENCH_BUILD=${BENCH_BUILD:-build-bench}

bench_build() {
    if [ ! -d "$BENCH_BUILD" ]; then
        meson setup "$BENCH_BUILD" --buildtype=release -Db_ndebug=true >/dev/null || return 1
    fi
    LH=$BENCH_BUILD/leakhound
    GEN=$BENCH_BUILD/tools/gen/lh-gen
    if ninja -C "$BENCH_BUILD" -t targets all 2>/dev/null | grep -q '^tools/bench/lh-bench-scan:'; then
        ninja -C "$BENCH_BUILD" leakhound tools/gen/lh-gen tools/bench/lh-bench-read \
            tools/bench/lh-bench-scan tools/bench/lh-bench-flows >/dev/null || return 1
        HB=$BENCH_BUILD/tools/bench
        return 0
    fi
    ninja -C "$BENCH_BUILD" leakhound tools/gen/lh-gen sensor/libleakhound.a >/dev/null || return 1
    HB=$BENCH_BUILD/tools/bench-manual
    mkdir -p "$HB"
    local cflags="-std=gnu11 -O2 -g -DNDEBUG -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow
        -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
        -I. -I$BENCH_BUILD"
    local libs
    libs=$(pkg-config --cflags --libs libpcap libndpi libhs jansson zlib yaml-0.1 libcrypto) || return 1
    # shellcheck disable=SC2086
    { [ "$HB/lh-bench-read" -nt tools/bench/lh-bench-read.c ] ||
        cc $cflags tools/bench/lh-bench-read.c -o "$HB/lh-bench-read" $(pkg-config --libs libpcap); } &&
    { [ "$HB/lh-bench-flows" -nt tools/bench/lh-bench-flows.c ] ||
        cc $cflags tools/bench/lh-bench-flows.c -o "$HB/lh-bench-flows"; } &&
    # the scan helper links the library, which changes under it: always relink
    cc $cflags tools/bench/lh-bench-scan.c -o "$HB/lh-bench-scan" \
        "$BENCH_BUILD/sensor/libleakhound.a" $libs -lm -pthread
}

# Sets LH, GEN and HB to what is already built; fails when something is missing.
bench_locate() {
    LH=$BENCH_BUILD/leakhound
    GEN=$BENCH_BUILD/tools/gen/lh-gen
    HB=$BENCH_BUILD/tools/bench
    [ -x "$HB/lh-bench-scan" ] || HB=$BENCH_BUILD/tools/bench-manual
    [ -x "$LH" ] && [ -x "$GEN" ] && [ -x "$HB/lh-bench-scan" ] && [ -x "$HB/lh-bench-read" ] &&
        [ -x "$HB/lh-bench-flows" ]
}
