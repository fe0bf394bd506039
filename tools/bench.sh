#!/usr/bin/env bash
# bench.sh - leakhound's benchmark (issue 8; docs/performance.md). Not a test:
# it prints figures.
#
#   tools/bench.sh [--size 1G] [--runs 5] [--keep] [--record] [--regen]
#                  [--calm SECONDS] [--pcap FILE]
#
# Builds build-bench/ (release, NDEBUG), generates or reuses a capture of the
# bench mix under bench-out/ (lh-gen --preset bench --bytes SIZE --scenario
# hijack), then measures in one run, each the median of --runs runs:
#   read       libpcap's read loop alone (tools/bench/lh-bench-read)
#   packets    leakhound --no-match: capture, decode, flow, nDPI, reassembly,
#              HTTP parsing and body decoding; no Hyperscan, no accounting
#   hs ...     Hyperscan alone over the capture's in-order TCP payloads
#              (tools/bench/lh-bench-scan; scan time only)
#   e2e 1t     leakhound end to end, every shipped rule file (-R rules/)
#   e2e 2t     the same with --threads 2, when the sensor has --threads, and
#              with --reader-share 0 too (each worker a thread of its own),
#              when it has --reader-share
#   pair       two e2e 1t runs at once: the machine's own ceiling for two
#              busy threads (with the 2t run's per-thread CPU from its stats)
# and prints wire Gbps and Mpps per CPU-second and per wall second, peak RSS,
# the ratios, and the per-flow and per-stream state sizes.
#   --size S       capture size for lh-gen --bytes (default 1G)
#   --runs N       runs per stage, median reported (default 5)
#   --keep         keep the run directory (events, logs) under bench-out/
#   --record       write the table into docs/performance.md (date, command)
#   --regen        regenerate the capture even if it exists
#   --calm S       wait up to S seconds for the 1-minute load to fall below 0.5
#   --pcap FILE    measure this capture instead of generating one
#   --no-build     use the binaries already in build-bench/ (the tree is mid-edit)
#   --instructions also count instructions, one cachegrind run each of the
#                  packet path and end to end (valgrind; ~150 s each per GB):
#                  exact and independent of the host's load, unlike CPU time
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="tools/bench.sh $*"

size=1G runs=5 keep=0 record=0 regen=0 calm=0 pcap= build=1 instr=0
while [ $# -gt 0 ]; do
    case $1 in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --record) record=1; shift ;;
    --regen) regen=1; shift ;;
    --calm) calm=$2; shift 2 ;;
    --pcap) pcap=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --instructions) instr=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
case $runs in ''|*[!0-9]*) echo "bench.sh: --runs N" >&2; exit 1 ;; esac
if [ $instr = 1 ] && ! command -v valgrind >/dev/null; then
    echo "bench.sh: --instructions needs valgrind (apt-get install valgrind)" >&2
    exit 1
fi

# shellcheck source=tools/bench/common.sh
. tools/bench/common.sh
if [ $build = 1 ]; then
    echo "bench: building $BENCH_BUILD (release, NDEBUG)" >&2
    bench_build || { echo "bench.sh: the build failed (--no-build uses the last binaries)" >&2; exit 2; }
else
    bench_locate || { echo "bench.sh: no binaries in $BENCH_BUILD: build first" >&2; exit 2; }
fi

mkdir -p bench-out
gen_args=(--preset bench --bytes "$size" --scenario hijack --seed 1)
if [ -z "$pcap" ]; then
    pcap=bench-out/bench-$size.pcap
    if [ $regen = 1 ] || [ ! -s "$pcap" ] || [ "$(cat "$pcap.cmd" 2>/dev/null)" != "${gen_args[*]}" ]; then
        echo "bench: generating $pcap: lh-gen ${gen_args[*]}" >&2
        "$GEN" -o "$pcap" "${gen_args[@]}" -q
        echo "${gen_args[*]}" >"$pcap.cmd"
    else
        echo "bench: reusing $pcap (--regen to make it again)" >&2
    fi
    gen_desc="lh-gen ${gen_args[*]}"
else
    gen_desc="given: $pcap"
fi

if [ "$calm" -gt 0 ]; then
    for _ in $(seq "$calm"); do
        awk '{exit !($1 < 0.5)}' /proc/loadavg && break
        sleep 1
    done
fi
cat "$pcap" >/dev/null # page cache: every stage reads from memory

run=bench-out/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run/rules"
# a snapshot: rule files edited during the run must not change later stages
cp rules/*.yaml "$run/rules/"
export LH HB GEN pcap runs run record keep cmdline gen_desc instr
set +e
python3 - <<'PY'
import json, os, re, statistics, subprocess, sys, time

LH, HB, pcap, run = os.environ["LH"], os.environ["HB"], os.environ["pcap"], os.environ["run"]
runs = int(os.environ["runs"])
gen_desc = os.environ["gen_desc"]
KEY = "00112233445566778899aabbccddeeff"  # fixed site key: runs are comparable

def spawn(argv, out, err):
    """Runs argv, stdout and stderr to files; returns (status, rusage, wall)."""
    fa = [(os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
          (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    t0 = time.monotonic()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit(f"bench: {' '.join(argv)} failed (exit {rc}); see {err}")
    return ru, wall

def spawn_pair(argvs, outs, errs):
    """Runs the two argvs at once; returns ([rusage, rusage], wall until both ended)."""
    t0 = time.monotonic()
    pids = []
    for argv, out, err in zip(argvs, outs, errs):
        fa = [(os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
              (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
        pids.append(os.posix_spawn(argv[0], argv, os.environ, file_actions=fa))
    rus = []
    for pid, argv in zip(pids, argvs):
        _, status, ru = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench: {' '.join(argv)} failed; see its .err file")
        rus.append(ru)
    return rus, time.monotonic() - t0

def last_stats(evefile):
    st = None
    with open(evefile, "rb") as f:
        for line in f:
            if b'"event_type":"stats"' in line:
                st = line
    return json.loads(st)["stats"] if st else {}

help_text = subprocess.run([LH, "--help"], capture_output=True, text=True).stdout
has_threads = "--threads" in help_text
has_share = "--reader-share" in help_text

stages = [("read", "libpcap read loop alone", [HB + "/lh-bench-read", pcap]),
          ("packets", "leakhound --no-match (packet path)",
           [LH, "-r", pcap, "--no-match", "-q", "--stats-interval", "0", "--site-key", KEY, "-o"]),
          ("e2e-1t", "leakhound end to end, 1 thread",
           [LH, "-r", pcap, "-R", run + "/rules", "-q", "--stats-interval", "0", "--site-key", KEY, "-o"])]
if has_threads:
    stages.append(("e2e-2t", "leakhound end to end, --threads 2",
                   [LH, "-r", pcap, "-R", run + "/rules", "-q", "--stats-interval", "0",
                    "--site-key", KEY, "--threads", "2", "-o"]))
if has_share:
    # the same with every worker on a thread of its own, whatever the CPUs
    stages.append(("e2e-2t-ded", "leakhound end to end, --threads 2 --reader-share 0",
                   [LH, "-r", pcap, "-R", run + "/rules", "-q", "--stats-interval", "0",
                    "--site-key", KEY, "--threads", "2", "--reader-share", "0", "-o"]))

load0 = open("/proc/loadavg").read().split()[:3]
res = {s[0]: [] for s in stages}
pair = []  # two one-thread runs at once, per round
checks = {}
wire = pkts = None
for r in range(runs):
    for name, _, argv in stages:  # interleaved, so a noisy minute hits every stage alike
        a = list(argv)
        if a[-1] == "-o":
            a.append(f"{run}/{name}-{r}")
        out, err = f"{run}/{name}-{r}.out", f"{run}/{name}-{r}.err"
        ru, wall = spawn(a, out, err)
        res[name].append({"cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime,
                          "sys": ru.ru_stime, "wall": wall, "rss_kb": ru.ru_maxrss})
        if name == "read":
            j = json.load(open(out))
            wire, pkts = j["wire_bytes"], j["packets"]
        else:
            st = last_stats(f"{run}/{name}-{r}/eve.json")
            m = st.get("match", {})
            c = (st.get("capture", {}).get("packets"), m.get("records"),
                 st.get("detect", {}).get("alerts"), st.get("records", {}).get("distinct_per_flow"))
            checks.setdefault(name, set()).add(c)
            pipe = st.get("pipeline", {})
            share = pipe.get("reader_share_pm", 0)
            # worker threads only: with a reader share, worker 0 runs on the
            # reader's thread and its CPU is in the reader's
            ws = sorted((v.get("cpu_ms", 0) / 1000 for k, v in pipe.items()
                         if k.startswith("worker_") and isinstance(v, dict)
                         and not (share and k == "worker_0")), reverse=True)
            if "reader" in pipe:
                res[name][-1]["threads_cpu"] = [pipe["reader"].get("cpu_ms", 0) / 1000] + ws
                res[name][-1]["share"] = share
            if r != runs - 1 and os.environ["keep"] != "1":
                try:
                    os.remove(f"{run}/{name}-{r}/eve.json")
                except OSError:
                    pass
    if has_threads and (os.cpu_count() or 1) >= 2:
        # the machine's own yardstick for threads: two independent
        # one-thread runs side by side, no pipeline between them
        e1argv = next(a for n, _, a in stages if n == "e2e-1t")
        argvs = [list(e1argv) + [f"{run}/pair{k}-{r}"] for k in (0, 1)]
        rus, wall = spawn_pair(argvs, [f"{run}/pair{k}-{r}.out" for k in (0, 1)],
                               [f"{run}/pair{k}-{r}.err" for k in (0, 1)])
        pair.append({"wall": wall, "cpu": [u.ru_utime + u.ru_stime for u in rus]})
        for k in (0, 1):
            try:
                os.remove(f"{run}/pair{k}-{r}/eve.json")
            except OSError:
                pass
    print(f"bench: round {r + 1}/{runs} done", file=sys.stderr)

print("bench: Hyperscan alone (load, then the scans)", file=sys.stderr)
scan_out = f"{run}/scan.out"
ru, wall = spawn([HB + "/lh-bench-scan", "-R", run + "/rules", "--runs", str(runs), pcap],
                 scan_out, f"{run}/scan.err")
scan = {}
meta = {}
for line in open(scan_out):
    j = json.loads(line)
    if j["kind"] == "meta":
        meta = j
    else:
        scan[j["mode"]] = j
scan_rss = ru.ru_maxrss
load1 = open("/proc/loadavg").read().split()[:3]

# instruction counts: valgrind counts what runs, whatever else the host does
instr = {}
if os.environ["instr"] == "1":
    for name in ("packets", "e2e-1t"):
        print(f"bench: counting instructions ({name}, cachegrind)", file=sys.stderr)
        argv = next(a for n, _, a in stages if n == name) + [f"{run}/{name}-instr"]
        err = f"{run}/{name}-instr.err"
        spawn(["/usr/bin/env", "valgrind", "--tool=cachegrind", "--cache-sim=no",
               f"--cachegrind-out-file={run}/{name}.cachegrind"] + argv, f"{run}/{name}-instr.out", err)
        m = re.search(r"I\s+refs:\s+([\d,]+)", open(err).read())
        if not m:
            sys.exit(f"bench: no instruction count in {err}")
        instr[name] = int(m.group(1).replace(",", ""))

# per-flow state: sizes from the headers, bytes the flow table accounts per
# flow from the sensor's own stats with 20,000 flows alive
sizes = json.loads(subprocess.run([HB + "/lh-bench-scan", "--sizes", "-R", run + "/rules"],
                                  capture_output=True, text=True, check=True).stdout)
fp = f"{run}/flows-20k.pcap"
subprocess.run([HB + "/lh-bench-flows", "-o", fp, "--flows", "20000", "--mode", "data",
                "--duration", "10"], check=True)
spawn([LH, "-r", fp, "-R", run + "/rules", "-q", "--stats-interval", "1", "--site-key", KEY,
       "-o", f"{run}/flows-20k"], f"{run}/flows-20k.out", f"{run}/flows-20k.err")
best = None
final = None
for line in open(f"{run}/flows-20k/eve.json"):
    if '"event_type":"stats"' in line:
        fl = json.loads(line)["stats"]["flow"]
        final = fl
        if fl["active"] and (best is None or fl["active"] > best["active"]):
            best = fl
per_flow = (best["memuse"] - final["memuse"]) / best["active"] if best else float("nan")

def med(name, key):
    return statistics.median(x[key] for x in res[name])

def spread(name):
    v = [x["cpu"] for x in res[name]]
    return f"{min(v):.2f}-{max(v):.2f}"

rows = []
def row(label, incl, cpu, wall_s, rss_kb, rng):
    rows.append({"label": label, "incl": incl, "cpu": cpu, "wall": wall_s, "rss": rss_kb,
                 "gbps_cpu": wire * 8 / cpu / 1e9, "mpps_cpu": pkts / cpu / 1e6,
                 "gbps_wall": wire * 8 / wall_s / 1e9 if wall_s else float("nan"),
                 "mpps_wall": pkts / wall_s / 1e6 if wall_s else float("nan"), "range": rng})

row("read loop", "pcap_open_offline + pcap_next_ex, one load per 64 B",
    med("read", "cpu"), med("read", "wall"), med("read", "rss_kb"), spread("read"))
row("packet path", "leakhound --no-match: decode, flow, nDPI, reassembly, HTTP + gzip",
    med("packets", "cpu"), med("packets", "wall"), med("packets", "rss_kb"), spread("packets"))
hs_desc = {"hs_stream": "every shipped pattern in one Hyperscan stream-mode database (the straightforward design), every TCP payload byte",
           "hs_stream_notls": "same, flows opening like TLS left out",
           "hs_block": "Hyperscan block mode, each delivered piece alone",
           "match_stream": "project matcher (rules/match.h): its pre-pass, Hyperscan, look-back, validators"}
for k in ("hs_stream", "hs_stream_notls", "hs_block", "match_stream"):
    if k in scan:
        s = scan[k]
        row(k, f"{hs_desc[k]}; {s['bytes'] / 1e6:.0f} MB scanned, {s['matches']} matches",
            s["cpu_s"], s["wall_s"], scan_rss, f"{s['cpu_min_s']:.2f}-{s['cpu_max_s']:.2f}")
row("end to end, 1 thread", "leakhound -R rules/: everything, accounting and events",
    med("e2e-1t", "cpu"), med("e2e-1t", "wall"), med("e2e-1t", "rss_kb"), spread("e2e-1t"))
if has_threads:
    row("end to end, 2 threads", "leakhound -R rules/ --threads 2" +
        (" (reader share auto: %g here)" % (res["e2e-2t"][0].get("share", 0) / 1000) if has_share else ""),
        med("e2e-2t", "cpu"), med("e2e-2t", "wall"), med("e2e-2t", "rss_kb"), spread("e2e-2t"))
if has_share:
    row("end to end, 2 threads, dedicated reader", "leakhound -R rules/ --threads 2 --reader-share 0",
        med("e2e-2t-ded", "cpu"), med("e2e-2t-ded", "wall"), med("e2e-2t-ded", "rss_kb"),
        spread("e2e-2t-ded"))

def g(label):
    return next(r for r in rows if r["label"] == label)

lines = []
P = lines.append
P(f"capture: {pcap} ({gen_desc}): {wire / 1e9:.3f} GB on the wire, {pkts / 1e6:.3f} M packets, "
  f"{meta.get('payload_bytes', 0) / 1e9:.3f} GB of in-order TCP payload in "
  f"{meta.get('streams', 0)} flow directions ({meta.get('tls_payload_bytes', 0) / 1e9:.3f} GB in flows "
  f"opening like TLS)")
P(f"machine: {os.cpu_count()} CPUs, {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}; "
  f"load average before {' '.join(load0)}, after {' '.join(load1)}; medians of {runs} runs")
P("")
P("| stage | includes | CPU s | wire Gbps / CPU-s | Mpps / CPU-s | wall s | wire Gbps / wall-s | Mpps / wall-s | peak RSS MB | CPU s min-max |")
P("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    P(f"| {r['label']} | {r['incl']} | {r['cpu']:.2f} | {r['gbps_cpu']:.2f} | {r['mpps_cpu']:.3f} | "
      f"{r['wall']:.2f} | {r['gbps_wall']:.2f} | {r['mpps_wall']:.3f} | {r['rss'] / 1024:.0f} | {r['range']} |")
P("")
e1, pp, hs = g("end to end, 1 thread"), g("packet path"), g("hs_stream")
P(f"- end to end ÷ packet path (per CPU-s): {e1['gbps_cpu'] / pp['gbps_cpu']:.2f} (target ≥ 0.5)")
P(f"- end to end ÷ Hyperscan stream ceiling (per CPU-s): {e1['gbps_cpu'] / hs['gbps_cpu']:.2f}")
if "match_stream" in scan:
    P(f"- end to end ÷ project matcher alone (per CPU-s): {e1['gbps_cpu'] / g('match_stream')['gbps_cpu']:.2f}")
P(f"- packet path ÷ read loop (per CPU-s): {pp['gbps_cpu'] / g('read loop')['gbps_cpu']:.2f}")
if "match_stream" in scan:
    P(f"- project matcher ÷ raw Hyperscan stream scan (per CPU-s): "
      f"{g('match_stream')['gbps_cpu'] / hs['gbps_cpu']:.2f}")
if has_threads:
    e2 = g("end to end, 2 threads")
    P(f"- 2 threads ÷ 1 thread (per wall-s): {e2['gbps_wall'] / e1['gbps_wall']:.2f} (target ≥ 1.8 "
      f"on a machine with the cores for it); per CPU-s: {e2['gbps_cpu'] / e1['gbps_cpu']:.2f}")
    # the same from each round's pair of runs, taken a few seconds apart:
    # steadier when the host's load drifts over the run
    pr = sorted(a["wall"] / b["wall"] for a, b in zip(res["e2e-1t"], res["e2e-2t"]))
    P(f"- 2 threads ÷ 1 thread, round by round (wall): median {statistics.median(pr):.2f}, "
      f"range {pr[0]:.2f}-{pr[-1]:.2f}")
    if pair:
        # two whole captures in the wall time of both runs, against one in one run's
        pp2 = sorted(2 * a["wall"] / p_["wall"] for a, p_ in zip(res["e2e-1t"], pair))
        cpu_each = statistics.median(c for p_ in pair for c in p_["cpu"])
        P(f"- the machine's own ceiling for two busy threads: two independent one-thread runs "
          f"side by side did {statistics.median(pp2):.2f}× the work of one per wall-s (round by "
          f"round, range {pp2[0]:.2f}-{pp2[-1]:.2f}), each taking {cpu_each:.2f} CPU-s "
          f"against {e1['cpu']:.2f} alone")
    if has_share:
        ed = g("end to end, 2 threads, dedicated reader")
        pd = sorted(a["wall"] / b["wall"] for a, b in zip(res["e2e-1t"], res["e2e-2t-ded"]))
        P(f"- 2 threads with a dedicated reader (--reader-share 0) ÷ 1 thread (per wall-s): "
          f"{ed['gbps_wall'] / e1['gbps_wall']:.2f}, round by round median {statistics.median(pd):.2f}, "
          f"range {pd[0]:.2f}-{pd[-1]:.2f}")
    for stage, what in (("e2e-2t", "2 threads"), ("e2e-2t-ded", "2 threads, dedicated reader")):
        tc = [x["threads_cpu"] for x in res.get(stage, []) if x.get("threads_cpu")]
        if not tc or len({len(t) for t in tc}) != 1:
            continue
        med_t = [statistics.median(t[i] for t in tc) for i in range(len(tc[0]))]
        share = res[stage][0].get("share", 0)
        reader = f"reader {med_t[0]:.2f}" + (f" (with worker 0, which starts with {share / 10:g} % of "
                                             f"the pairs)" if share else "")
        P(f"- {what}, CPU s per thread (the sensor's pipeline stats, medians): {reader}, worker "
          f"thread{'s' if len(med_t) > 2 else ''} {', '.join(f'{x:.2f}' for x in med_t[1:])}; with a "
          f"core for each of the {len(med_t)} busy threads, the busiest would bound the speed-up at "
          f"{e1['cpu'] / max(med_t):.2f}× (a bound, not a measurement; this machine has "
          f"{os.cpu_count()} CPUs)")
else:
    P("- 2 threads: not measured (this leakhound has no --threads)")
P(f"- end to end target: 4 wire Gbps per CPU-s; measured {e1['gbps_cpu']:.2f}")
if instr:
    ie, ip = instr["e2e-1t"], instr["packets"]
    recs = next(iter(checks.get("e2e-1t", {(None, None)})))[1]
    per_rec = f", {(ie - ip) / recs:,.0f} per record found" if recs else ""
    P(f"- instructions (cachegrind, one run each; under valgrind Hyperscan runs its AVX2 code and "
      f"SHA-256 runs in software): end to end {ie / 1e9:.2f} G, packet path {ip / 1e9:.2f} G; "
      f"matching, records and detection add {(ie - ip) / 1e9:.2f} G, compiling the rules included "
      f"({(ie - ip) / wire:.1f} per "
      f"wire byte{per_rec}); per CPU-s of the medians above, {ie / e1['cpu'] / 1e9:.1f} G end to "
      f"end and {ip / pp['cpu'] / 1e9:.1f} G for the packet path")
for name, cs in checks.items():
    c = sorted(cs, key=str)
    same = "identical in every run" if len(c) == 1 else f"DIFFERENT between runs: {c}"
    P(f"- {name}: packets, match.records, alerts, distinct records per flow = {c[0]} ({same})")
P("")
P("State sizes (bytes):")
P(f"- struct flow {sizes['sizeof_flow']}; struct reasm_stream {sizes['sizeof_reasm_stream']} (two per "
  f"TCP flow, inside the session); per scanned stream (a raw flow direction, or an HTTP body or "
  f"request target) one matcher stream of {sizes['match_stream_state']} (match_db_stream_size: "
  f"Hyperscan's stream state {sizes['hs_stream_state']} + struct match_stream + 2 x look-back); "
  f"the straightforward design's stream-mode database of all {sizes['patterns']} patterns "
  f"{sizes['hs_database']} (the hs_stream rows)")
P(f"- flow table accounting per flow (struct flow + the worker's session), from the sensor's stats "
  f"with {best['active'] if best else 0} flows alive: {per_flow:.0f}")
text = "\n".join(lines)
print(text)
open(f"{run}/table.md", "w").write(text + "\n")

if os.environ["record"] == "1":
    doc = "docs/performance.md"
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    block = (f"<!-- bench:begin (written by tools/bench.sh --record) -->\n"
             f"Measured {stamp} with `{os.environ['cmdline']}` at commit "
             f"{subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}"
             f" (work tree as it was then).\n\n{text}\n<!-- bench:end -->")
    src = open(doc).read()
    new, n = re.subn(r"<!-- bench:begin.*?<!-- bench:end -->", lambda _: block, src, flags=re.S)
    if n != 1:
        sys.exit(f"bench: {doc} has no bench:begin/bench:end markers")
    open(doc, "w").write(new)
    print(f"bench: recorded in {doc}", file=sys.stderr)
PY
status=$?
set -e
if [ $keep = 0 ] && [ $status = 0 ]; then
    rm -rf "$run"
else
    echo "bench: run directory kept: $run" >&2
fi
exit $status
