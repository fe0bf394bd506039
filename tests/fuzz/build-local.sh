#!/bin/sh
# build-local.sh - build the fuzz targets by hand, without meson.
#
#   tests/fuzz/build-local.sh [OUTDIR] [TARGET...]
#
# Builds each target with clang -fsanitize=fuzzer,address,undefined into
# OUTDIR (default build-fuzz-local) from the sources it needs, with the
# compile and link flags pkg-config gives for the Debian packages. With
# FUZZ_MODE=replay it links tests/fuzz/replay_main.c instead of libFuzzer
# (same as a meson build without -Dfuzz=true). The source lists mirror
# tests/fuzz/meson.build; the meson build is the reference.
#
# Run from the top of the source tree. Needs clang and libclang-rt-14-dev
# (Debian's libFuzzer is in the compiler-rt runtime).
set -eu

OUT=${1:-build-fuzz-local}
[ $# -gt 0 ] && shift
TARGETS=${*:-"fuzz_decode fuzz_reasm fuzz_http fuzz_gzip fuzz_zip fuzz_identity fuzz_rules fuzz_match fuzz_pcap"}
CC=${CC:-clang}
MODE=${FUZZ_MODE:-fuzzer}
SRC=$(pwd)

[ -f tests/fuzz/replay_main.c ] || { echo "build-local.sh: run from the top of the source tree" >&2; exit 1; }
mkdir -p "$OUT"

# lh_config.h, as meson's configure_file would write it
cat > "$OUT/lh_config.h" <<EOH
#define LH_VERSION "0.1.0-fuzz"
#define LH_RULES_DIR "/usr/local/share/leakhound/rules"
EOH

CFLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
 -Wno-missing-field-initializers -fno-omit-frame-pointer -fno-sanitize-recover=all \
 -I$SRC -I$OUT -DFUZZ_RULES_FILE=\"$SRC/rules/pii-cn.yaml\""
if [ "$MODE" = fuzzer ]; then
    SAN="-fsanitize=fuzzer,address,undefined"
    MAIN=""
else
    SAN="-fsanitize=address,undefined"
    MAIN="tests/fuzz/replay_main.c"
fi

pc() { pkg-config --cflags --libs "$@"; }

# source lists (see sensor/, parsers/, rules/, output/ meson.build)
decode_src="sensor/decode.c sensor/defrag.c"
reasm_src="sensor/reassembly.c"
http_src="parsers/http.c parsers/decompress.c parsers/charset.c"
# what the body decoder links: zlib, libdeflate, Brotli, zstd
decode_pc="zlib libdeflate libbrotlidec libzstd"
identity_src="parsers/identity.c"
# the loader with the sections it parses (patterns, identity/endpoints, detections)
ruleset_src="rules/ruleset.c rules/api_rules.c rules/detect_rules.c"
validate_src="rules/validate.c"
match_src="rules/match.c"
mask_src="output/mask.c"
# the whole library: every module but main
all_src=$(ls sensor/*.c parsers/*.c rules/*.c output/*.c | grep -v '^sensor/main\.c$' | tr '\n' ' ')

build() {
    name=$1; shift
    srcs=$1; shift
    echo "  CC $OUT/$name"
    # shellcheck disable=SC2086
    $CC $CFLAGS $SAN -o "$OUT/$name" "tests/fuzz/$name.c" $srcs $MAIN "$@" -lm
}

for t in $TARGETS; do
    case $t in
    fuzz_decode) build $t "$decode_src" ;;
    fuzz_reasm) build $t "$reasm_src" ;;
    fuzz_http) build $t "$http_src" $(pc $decode_pc) ;;
    fuzz_gzip) build $t "parsers/decompress.c" $(pc $decode_pc) ;;
    fuzz_zip) build $t "parsers/zip.c" $(pc zlib) ;;
    fuzz_identity) build $t "$identity_src $http_src rules/api_rules.c output/fingerprint.c" $(pc $decode_pc jansson libcrypto yaml-0.1) ;;
    fuzz_rules) build $t "$ruleset_src $validate_src" $(pc yaml-0.1 libhs libcrypto) ;;
    fuzz_match) build $t "$ruleset_src $validate_src $match_src $mask_src" $(pc yaml-0.1 libhs libcrypto) ;;
    fuzz_pcap) build $t "$all_src" $(pc libpcap libndpi $decode_pc jansson libcrypto yaml-0.1 libhs) -lpthread ;;
    *) echo "build-local.sh: unknown target $t" >&2; exit 1 ;;
    esac
done
