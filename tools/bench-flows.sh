#!/usr/bin/env bash
# bench-flows.sh - memory check (issue 8; docs/performance.md): leakhound with
# 1 M concurrent TCP flows must stay within the documented bound.
#
#   tools/bench-flows.sh [--flows 1000000] [--mode syn|data] [--bound-mb 1024]
#                        [--flow-memcap SIZE] [--no-build] [--keep]
#
# Writes a capture of N distinct flows all opened within 10 s of packet time
# (tools/bench/lh-bench-flows; lh-gen makes whole conversations, not floods),
# runs leakhound on it under /usr/bin/time -v with a stats event every
# second of packet time, and reports the peak RSS and, from the stats, the
# most flows alive at once, flow.memuse, evicted and memcap_refused. It
# exits 1 when the peak RSS is above the bound.
#   --mode syn   one SYN per flow (a SYN flood)
#   --mode data  handshake and 32 bytes each way per flow: every flow also
#                holds reassembly, nDPI, matcher streams (default)
#   --flow-memcap SIZE  passed to leakhound (default: large enough for every
#                flow, so nothing is evicted and the RSS is the real cost;
#                give 256M to see the default cap evict instead)
set -euo pipefail
cd "$(dirname "$0")/.."
flows=1000000 mode=data bound=1024 memcap= build=1 keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --flows) flows=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --bound-mb) bound=$2; shift 2 ;;
    --flow-memcap) memcap=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-flows.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
# shellcheck source=tools/bench/common.sh
. tools/bench/common.sh
if [ $build = 1 ]; then
    bench_build || { echo "bench-flows.sh: the build failed" >&2; exit 2; }
else
    bench_locate || { echo "bench-flows.sh: nothing built in $BENCH_BUILD" >&2; exit 2; }
fi
[ -x /usr/bin/time ] || { echo "bench-flows.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

mkdir -p bench-out
pcap=bench-out/flows-$mode-$flows.pcap
[ -s "$pcap" ] || "$HB/lh-bench-flows" -o "$pcap" --flows "$flows" --mode "$mode" --duration 10
# default: room for every flow (8 KiB each; a data flow accounts about 4.8 KiB)
[ -n "$memcap" ] || memcap=$(( (flows * 8192 >> 20) + 64 ))M
out=bench-out/flows-run-$$
rm -rf "$out"
/usr/bin/time -v -o "$out.time" "$LH" -r "$pcap" -R rules/ -o "$out" -q --stats-interval 1 \
    --site-key 00112233445566778899aabbccddeeff --flow-memcap "$memcap"

export out flows mode bound memcap pcap
status=0
python3 - <<'PY' || status=$?
import json, os, re, sys
out, bound = os.environ["out"], int(os.environ["bound"])
t = open(out + ".time").read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", t))
best = final = None
for line in open(out + "/eve.json"):
    if '"event_type":"stats"' in line:
        st = json.loads(line)["stats"]
        final = st
        if best is None or st["flow"]["active"] > best["flow"]["active"]:
            best = st
fb, ff = best["flow"], final["flow"]
per_flow = (fb["memuse"] - ff["memuse"]) / fb["active"] if fb["active"] else 0
# stats come once a second of packet time: the true peak is in memuse_peak
alive = round((ff["memuse_peak"] - ff["memuse"]) / per_flow) if per_flow else fb["active"]
rss_mb = rss_kb / 1024
print(f"capture: {os.environ['pcap']} ({os.environ['flows']} flows, mode {os.environ['mode']}), "
      f"--flow-memcap {os.environ['memcap']}")
print(f"flows alive at once: {alive} (flow.memuse_peak / bytes per flow; largest stats.flow.active "
      f"{fb['active']}); flow.total {ff['total']}, "
      f"evicted {ff['evicted']}, memcap_refused {ff['memcap_refused']}")
print(f"flow.memuse then: {fb['memuse'] / 2**20:.1f} MiB ({per_flow:.0f} B per flow accounted: "
      f"struct flow + session); flow.memuse_peak {ff['memuse_peak'] / 2**20:.1f} MiB; "
      f"tcp.memuse_peak {final['tcp']['memuse_peak'] / 2**20:.1f} MiB")
print(f"peak RSS: {rss_mb:.0f} MiB ({rss_kb * 1024 / max(alive, 1):.0f} B per flow alive); "
      f"CPU {cpu:.2f} s; bound {bound} MiB: {'OK' if rss_mb <= bound else 'OVER'}")
sys.exit(0 if rss_mb <= bound else 1)
PY
if [ $keep = 0 ]; then rm -rf "$out" "$out.time"; else echo "kept: $out" >&2; fi
exit $status
