#!/usr/bin/env python3
"""normal_week.py - issue 6's "a simulated week of normal traffic: no alert at all".

  normal_week.py EXE SRC LHGEN [--accounts N] [--days N] [--seed N] [--dir DIR]
                 [--shipped] [--keep]

On demand (not registered in meson: the capture is about 2 GB and the run
takes a few minutes). Writes a week of normal traffic of the courier network
with lh-gen (500 accounts, background 5 %, no scenario: only the nightly
allowlisted export of the service account is not plain office work), replays
it through the sensor with the shipped patterns and API rules and the
shipped detections with a one-day learning period
(tests/data/detect/detections-1d.yaml: every learned detection scores from
the second day on; --shipped uses rules/detections.yaml, whose 7-day
learning leaves only the fixed thresholds in a week), and requires no alert
at all. The capture goes to a temporary directory under --dir (default: the
system's temporary directory), which must have room for it (checked first),
and is deleted afterwards unless --keep. Prints sizes, times and every alert.
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    exe, src, gen = sys.argv[1:4]
    accounts = int(opt("--accounts", "500"))
    days = int(opt("--days", "7"))
    seed = opt("--seed", "7")
    base = opt("--dir", tempfile.gettempdir())
    keep = "--keep" in sys.argv
    # about 0.55 MB per account-day with 5 % background; ask for twice that
    need = int(accounts * days * 0.55e6 * 2)
    free = shutil.disk_usage(base).free
    if free < need:
        print(f"FAIL: {base} has {free / 1e9:.1f} GB free, the run needs about {need / 1e9:.1f} GB; "
              f"use --dir or fewer --accounts")
        return 1
    rules_file = os.path.join(src, "rules", "detections.yaml") if "--shipped" in sys.argv else \
        os.path.join(src, "tests", "data", "detect", "detections-1d.yaml")
    work = tempfile.mkdtemp(prefix="lh-week-", dir=base)
    try:
        pcap = os.path.join(work, "week.pcap")
        t0 = time.monotonic()
        subprocess.run([gen, "--days", str(days), "--accounts", str(accounts), "--background",
                        "0.05", "--seed", seed, "--no-flows", "-q", "-o", pcap],
                       check=True)
        t_gen = time.monotonic() - t0
        size = os.path.getsize(pcap)
        truth = json.load(open(pcap.rsplit(".", 1)[0] + ".truth.json", encoding="utf-8"))
        role = {a["id"]: a["role"] for a in truth["accounts"]}
        rules = os.path.join(work, "rules")
        os.makedirs(rules)
        for f in ("pii-cn.yaml", "courier-api.yaml"):
            shutil.copy(os.path.join(src, "rules", f), rules)
        shutil.copy(rules_file, rules)
        out = os.path.join(work, "out")
        t0 = time.monotonic()
        p = subprocess.run([exe, "-q", "--stats-interval", "0", "-R", rules, "-o", out, "-r", pcap],
                           capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY="normal-week-site-key-0123"))
        t_run = time.monotonic() - t0
        if p.returncode != 0:
            print(f"FAIL: sensor exited {p.returncode}: {p.stderr}")
            return 1
        alerts, http = [], 0
        with open(os.path.join(out, "eve.json"), encoding="utf-8") as f:
            for line in f:
                if '"event_type":"alert"' in line:
                    alerts.append(json.loads(line))
                elif '"event_type":"http"' in line:
                    http += 1
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{days} days, {accounts} accounts, seed {seed}, rules {os.path.basename(rules_file)}: "
          f"{size / 1e9:.2f} GB, {http} HTTP transactions; generated in {t_gen:.0f} s, "
          f"sensor {t_run:.0f} s ({size / 1e6 / max(t_run, 1e-9):.0f} MB/s)")
    by = collections.Counter()
    for a in alerts:
        acct = a["account"]["id"]
        by[(a["alert"]["rule"], role.get(acct, "?"))] += 1
        print(f"alert {a['timestamp']} {acct:<10} {role.get(acct, '?'):<10} "
              f"{a['alert']['rule']:<16} {a['alert']['signature']}")
    print(f"{len(alerts)} alerts" + (f" {dict(by)}" if by else ""))
    print("ok: no alert" if not alerts else "FAIL: a normal week raised alerts")
    return 1 if alerts else 0


if __name__ == "__main__":
    sys.exit(main())
