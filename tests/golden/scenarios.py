#!/usr/bin/env python3
"""scenarios.py - issue 6's acceptance: the generator's scenarios, the alerts.

  scenarios.py EXE SRC LHGEN [--seed N] [--keep DIR]

Writes a four-day capture of the courier network with lh-gen (30 accounts;
on the last days: a hijack from a new workstation, a low-and-slow pull, a
waybill enumeration, an out-of-scope pull, a scripted borrowed account; all
along: a busy-but-normal agent and the allowlisted nightly export), replays
it with the shipped patterns and API rules and the shipped detections with a
one-day learning period (tests/data/detect/detections-1d.yaml, checked here
to differ from rules/detections.yaml only in learn:), and requires:
  - hijack: an alert naming the account and its new source within 60 s of
    the exfiltration start;
  - lowslow: an alert for the account within 24 h of its start;
  - enum: an enumeration alert for the account;
  - outscope: an out_of_scope alert for the account;
  - scripted: an alert for the account;
  - busy, the allowlisted export, and every account no scenario touches:
    no alert at all.
Times are packet time. Prints every alert and each requirement's verdict.

--seed N (default 7) picks the world. The accounts below are seed 7's; for
another seed the script first writes a one-minute capture of the same world
to read its accounts and roles from the truth file, then gives each scenario
its own account of the right role (an agent for hijack and busy, a clerk for
lowslow, outscope and scripted, a dispatcher for enum), drawn with the seed.
"""
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

# each scenario on its own account (ids of the world seed 7 with 30 accounts)
SCENARIOS = ["hijack:at=+3d2h,records=2000,account=E10024",   # a call-centre agent
             "lowslow:at=+2d,per_hour=300,account=E10142",     # a clerk
             "enum:at=+3d3h,count=300,account=E10106",         # a dispatcher
             "outscope:at=+3d,account=E10181",                 # a Shanghai clerk
             "busy:account=E10096",                            # an agent
             "bulk",                                           # SVC-EXPORT, allowlisted
             "scripted:at=+3d4h,count=200,account=E10125"]     # a clerk


ROLE = {"hijack": "agent", "busy": "agent", "lowslow": "clerk", "outscope": "clerk",
        "scripted": "clerk", "enum": "dispatcher"}


def scenarios_for(seed, gen, work):
    """The scenario list for a seed: seed 7's pinned accounts, or accounts of
    the right role drawn from the world's truth file."""
    if seed == 7:
        return SCENARIOS
    probe = os.path.join(work, "world.pcap")
    subprocess.run([gen, "--duration", "1m", "--accounts", "30", "--background", "0",
                    "--seed", str(seed), "-q", "-o", probe], check=True, capture_output=True)
    world = json.load(open(probe.rsplit(".", 1)[0] + ".truth.json", encoding="utf-8"))
    os.remove(probe)
    os.remove(probe.rsplit(".", 1)[0] + ".truth.json")
    by_role = {}
    for a in sorted(world["accounts"], key=lambda a: a["id"]):
        by_role.setdefault(a["role"], []).append(a["id"])
    rnd = random.Random(seed)
    for ids in by_role.values():
        rnd.shuffle(ids)
    out = []
    for spec in SCENARIOS:
        name = spec.split(":")[0]
        if name not in ROLE:
            out.append(spec)
            continue
        ids = by_role.get(ROLE[name], [])
        if not ids:
            raise SystemExit(f"seed {seed}: no {ROLE[name]} left for {name}")
        spec = re.sub(r"account=E\d+", "account=" + ids.pop(0), spec)
        out.append(spec)
    return out


def ts(s):
    s = s.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", s):
        s = s[:-2] + ":" + s[-2:]
    return datetime.datetime.fromisoformat(s).timestamp()


def main():
    exe, src, gen = sys.argv[1:4]
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 7
    shipped = open(os.path.join(src, "rules", "detections.yaml"), encoding="utf-8").read()
    test_rules = os.path.join(src, "tests", "data", "detect", "detections-1d.yaml")
    mine = open(test_rules, encoding="utf-8").read()
    body = lambda t: [l for l in t.splitlines() if l.strip() and not l.startswith("#")]
    if [re.sub(r"learn: \w+", "learn: X", l) for l in body(shipped)] != \
            [re.sub(r"learn: \w+", "learn: X", l) for l in body(mine)]:
        print("FAIL: detections-1d.yaml must be rules/detections.yaml with only learn: changed")
        return 1
    work = keep or tempfile.mkdtemp(prefix="lh-scen-")
    try:
        os.makedirs(work, exist_ok=True)
        pcap = os.path.join(work, "scen.pcap")
        cmd = [gen, "--days", "4", "--accounts", "30", "--background", "0.1", "--seed", str(seed),
               "-o", pcap]
        specs = scenarios_for(seed, gen, work)
        print(f"seed {seed}: " + " ".join(specs))
        for s in specs:
            cmd += ["--scenario", s]
        subprocess.run(cmd, check=True, capture_output=True)
        truth = json.load(open(pcap.rsplit(".", 1)[0] + ".truth.json", encoding="utf-8"))
        rules = os.path.join(work, "rules")
        os.makedirs(rules, exist_ok=True)
        for f in ("pii-cn.yaml", "courier-api.yaml"):
            shutil.copy(os.path.join(src, "rules", f), rules)
        shutil.copy(test_rules, rules)
        out = os.path.join(work, "out")
        shutil.rmtree(out, ignore_errors=True)  # a kept directory from an earlier run
        p = subprocess.run([exe, "-q", "--stats-interval", "0", "-R", rules, "-o", out, "-r", pcap],
                           capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY="scenario-test-site-key-0123"))
        if p.returncode != 0:
            print(f"FAIL: sensor exited {p.returncode}: {p.stderr}")
            return 1
        alerts = [json.loads(l) for l in open(os.path.join(out, "eve.json"), encoding="utf-8")
                  if '"event_type":"alert"' in l]
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)

    for a in alerts:
        print(f"alert {a['timestamp']} {a['account']['id']:<10} {a['alert']['rule']:<16} "
              f"sev {a['alert']['severity']} new_src_ip={a['account'].get('new_src_ip')} "
              f"{a['src_ip']}")
    by_acct = {}
    for a in alerts:
        by_acct.setdefault(a["account"]["id"], []).append(a)
    bad = 0

    def verdict(ok, what):
        nonlocal bad
        print(("ok: " if ok else "FAIL: ") + what)
        bad += 0 if ok else 1

    scen = {s["name"]: s for s in truth["scenarios"]}
    touched = {s["account"] for s in truth["scenarios"]}
    h = scen["hijack"]
    start = ts(h["start"])
    hits = [a for a in by_acct.get(h["account"], [])
            if a["account"].get("new_src_ip") and a["src_ip"] in h["src_ips"]
            and 0 <= ts(a["timestamp"]) - start <= 60]
    verdict(bool(hits), f"hijack of {h['account']} from {h['src_ips']}: alert naming the new "
            f"source within 60 s ({len(hits)} such alerts)")
    s = scen["lowslow"]
    hits = [a for a in by_acct.get(s["account"], []) if 0 <= ts(a["timestamp"]) - ts(s["start"])
            <= 86400]
    verdict(bool(hits), f"low-and-slow of {s['account']}: alert within 24 h")
    for name, rule in (("enum", "enumeration"), ("outscope", "out_of_scope")):
        s = scen[name]
        hits = [a for a in by_acct.get(s["account"], []) if a["alert"]["rule"] == rule]
        verdict(bool(hits), f"{name} of {s['account']}: a {rule} alert")
    s = scen["scripted"]
    verdict(bool(by_acct.get(s["account"])), f"scripted use of {s['account']}: an alert")
    for name in ("busy", "bulk"):
        s = scen[name]
        n = len(by_acct.get(s["account"], []))
        verdict(n == 0 or s["account"] in {scen[m]["account"] for m in scen
                                           if scen[m]["malicious"]},
                f"{name} ({s['account']}): no alert ({n})")
    quiet = {acct: al for acct, al in by_acct.items() if acct not in touched}
    verdict(not quiet, f"accounts no scenario touches: no alert "
            f"({sum(len(v) for v in quiet.values())} alerts on {sorted(quiet)})")
    print(f"{len(alerts)} alerts, {bad} requirements failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
