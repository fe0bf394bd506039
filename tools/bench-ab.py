#!/usr/bin/env python3
"""bench-ab.py - compare leakhound builds by alternating runs (docs/performance.md).

Not a test: it prints figures. Each round runs every build once, in turn, on
the same capture, each into a fresh output directory (an eve.json grown by
earlier runs slows writing), so a noisy minute on a shared machine hits every
build alike. Prints, per build, the medians of wall time, CPU time (user +
system, from wait4's rusage of the child) and system time, the minimum CPU
time and every run's CPU time; then, with --check, whether every build wrote
the same events (the non-stats lines of eve.json, sorted; stats differ in
timings and, between builds, in counters such as the matcher's candidates).

    tools/bench-ab.py [--runs 8] [--threads N] [--check] PCAP \\
        LABEL=BINARY[:EXTRA,ARGS] [LABEL=BINARY...]

  --runs N      rounds (default 8)
  --threads N   --threads for every run (default 1)
  --check       one more run of each build first: compare their events
  --rules DIR   rule directory (default: rules/ beside this script's tools/)

Example: copy the binary before a change (cp build-bench/leakhound
/tmp/lh-a), rebuild, then

    tools/bench-ab.py --check bench-out/bench-1G.pcap a=/tmp/lh-a \\
        b=build-bench/leakhound

Every run uses the same fixed site key, -q, --no-progress and
--stats-interval 0. EXTRA,ARGS are more options for that build only,
comma-separated (b=build-bench/leakhound:--threads,2)."""
import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time

SITE_KEY = "0123456789abcdef0123"


def run(binary, extra, pcap, rules, threads, outdir):
    args = [binary, "-r", pcap, "-R", rules, "--site-key", SITE_KEY, "-q",
            "--no-progress", "-o", outdir, "--stats-interval", "0",
            "--threads", str(threads)] + extra
    t0 = time.monotonic()
    pid = os.spawnv(os.P_NOWAIT, binary, args)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        sys.exit(f"bench-ab: {binary} {' '.join(extra)} failed (status {status})")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_stime


def events_digest(outdir):
    lines = []
    with open(os.path.join(outdir, "eve.json"), "rb") as f:
        for line in f:
            if b'"event_type":"stats"' not in line:
                lines.append(line)
    lines.sort()
    h = hashlib.sha256()
    for line in lines:
        h.update(line)
    return h.hexdigest()[:16], len(lines)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--rules", default=os.path.join(os.path.dirname(here), "rules"))
    ap.add_argument("pcap")
    ap.add_argument("builds", nargs="+", metavar="LABEL=BINARY[:EXTRA,ARGS]")
    a = ap.parse_args()
    builds = []
    for spec in a.builds:
        if "=" not in spec:
            sys.exit(f"bench-ab: {spec}: want LABEL=BINARY[:EXTRA,ARGS]")
        label, rest = spec.split("=", 1)
        binary, _, extra = rest.partition(":")
        if not os.access(binary, os.X_OK):
            sys.exit(f"bench-ab: {binary}: not an executable")
        builds.append((label, os.path.abspath(binary), extra.split(",") if extra else []))
    with open(a.pcap, "rb") as f:  # into the page cache before the first run
        while f.read(1 << 24):
            pass

    if a.check:
        digests = {}
        for label, binary, extra in builds:
            d = tempfile.mkdtemp(prefix="bench-ab.")
            try:
                run(binary, extra, a.pcap, a.rules, a.threads, d)
                digests[label] = events_digest(d)
            finally:
                shutil.rmtree(d)
        for label, (dg, n) in digests.items():
            print(f"{label}: events {dg} ({n} lines)")
        same = len({dg for dg, _ in digests.values()}) == 1
        print("events: identical" if same else "events: DIFFER")

    res = {label: [] for label, _, _ in builds}
    for r in range(a.runs):
        for label, binary, extra in builds:
            d = tempfile.mkdtemp(prefix="bench-ab.")
            try:
                res[label].append(run(binary, extra, a.pcap, a.rules, a.threads, d))
            finally:
                shutil.rmtree(d)
        print(f"bench-ab: round {r + 1}/{a.runs} done", file=sys.stderr)
    print(f"{a.runs} alternating runs, --threads {a.threads}, {a.pcap}")
    for label, v in res.items():
        wall, cpu, sys_ = zip(*v)
        print(f"{label}: wall med {statistics.median(wall):.3f} s | CPU med "
              f"{statistics.median(cpu):.3f} s, min {min(cpu):.3f} | sys med "
              f"{statistics.median(sys_):.3f} | CPU " + " ".join(f"{x:.2f}" for x in cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
