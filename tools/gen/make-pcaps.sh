#!/bin/sh
# make-pcaps.sh - regenerate the committed captures in pcaps/ (see
# docs/generator.md). Deterministic: the same generator writes the same
# bytes, and tests/gen checks that pcaps/ is current.
#   tools/gen/make-pcaps.sh [LH_GEN [OUTDIR]]
set -eu
GEN=${1:-build/tools/gen/lh-gen}
OUT=${2:-pcaps}
mkdir -p "$OUT"
# the README demo: a header-identity account hijacked among normal traffic
"$GEN" -q --preset demo --seed 1 -o "$OUT/demo.pcap"
# no compression, no chunking, plain mobile forms: per-flow record counts
"$GEN" -q --preset golden-plain --seed 2 -o "$OUT/plain.pcap"
# the four ways the account is carried
for id in header jwt basic cookie; do
    "$GEN" -q --preset golden-identity --identity "$id" --seed 3 -o "$OUT/identity-$id.pcap"
done
# every impairment on
"$GEN" -q --preset golden-impaired --seed 4 -o "$OUT/impaired.pcap"
