#!/usr/bin/env python3
"""real_pcaps.py - every real capture in ../shared/pcaps-real through the sensor.

For each capture listed in manifest.tsv: run the sensor (the sanitizer build
when the suite runs there) with the shipped rules, and require exit status 0,
no sanitizer report on stderr, and a final stats event whose
capture.packets equals the packet count libpcap reads (the manifest's
column, itself checked against capinfos). Files that end in a read error
part-way must also say so on stderr. With --threads N the sensor runs its
pipeline of N workers (under ThreadSanitizer in the tsan build).

usage: real_pcaps.py LEAKHOUND SRCDIR [--limit N] [--threads N]
"""
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer")


def final_stats(eve_path):
    stats = None
    with open(eve_path, encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("event_type") == "stats":
                stats = ev["stats"]
    return stats


def run_one(exe, src, real, row, tmp, threads):
    path, expected, libpcap = row
    out = os.path.join(tmp, path.replace("/", "_"))
    os.makedirs(out, exist_ok=True)
    cmd = [exe, "-q", "--stats-interval", "0", "-R", os.path.join(src, "rules"),
           "-o", out, "-r", os.path.join(real, path), "--threads", str(threads)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY="robustness-test-site-key"))
    except subprocess.TimeoutExpired:
        return f"{path}: timed out after 300 s"
    problems = []
    if p.returncode != 0:
        problems.append(f"exit status {p.returncode}")
    for mark in SANITIZER_MARKS:
        if mark in p.stderr:
            problems.append("sanitizer report:\n" + p.stderr[-3000:])
            break
    try:
        st = final_stats(os.path.join(out, "eve.json"))
    except (OSError, ValueError) as e:
        st = None
        problems.append(f"eve.json unreadable: {e}")
    if st is None:
        problems.append("no stats event")
    elif st["capture"]["packets"] != expected:
        problems.append(f"capture.packets {st['capture']['packets']} != {expected} (libpcap)")
    if libpcap != "ok" and "read error" not in p.stderr:
        problems.append("read error part-way not reported on stderr")
    return f"{path}: " + "; ".join(problems) if problems else None


def main():
    exe, src = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else None
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    real = os.path.normpath(os.path.join(src, "..", "shared", "pcaps-real"))
    manifest = os.path.join(real, "manifest.tsv")
    if not os.path.exists(manifest):
        print(f"FAIL: {manifest} not found: the real captures must sit in ../shared beside the "
              "project (as in CI)")
        return 1
    rows = []
    with open(manifest, encoding="utf-8") as f:
        next(f)
        for line in f:
            c = line.rstrip("\n").split("\t")
            rows.append((c[0], int(c[5]), c[6]))
    rows = rows[:limit] if limit else rows
    failures = []
    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        for r in ex.map(lambda row: run_one(exe, src, real, row, tmp, threads), rows):
            if r:
                failures.append(r)
                print("FAIL:", r, flush=True)
    print(f"{len(rows) - len(failures)} of {len(rows)} real captures replayed cleanly "
          f"({threads} thread{'s' if threads > 1 else ''})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
