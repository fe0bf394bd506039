#!/usr/bin/env bash
# demo.sh - install what is missing, build, and run leakhound on the bundled
# demo capture (a hijacked employee account pulling waybill records among
# normal traffic), then print what it found.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
out=leakhound-out/demo
rm -rf "$out"
mkdir -p leakhound-out
build/leakhound -r pcaps/demo.pcap -o "$out" --site-key demo-site-key-not-secret \
    --stats-interval 0
echo
alerts=$(grep -c '"event_type":"alert"' "$out/eve.json" || true)
if [ "$alerts" -gt 0 ]; then
    echo "== $alerts alerts (from $out/eve.json) =="
    grep '"event_type":"alert"' "$out/eve.json"
else
    echo "== flows carrying personal records (from $out/eve.json) =="
    grep '"event_type":"flow"' "$out/eve.json" | grep '"records"' || echo "(none)"
fi
