#!/usr/bin/env python3
"""http_oracle.py - our http events against suricata-verify's expectations.

For every usable line of ../shared/pcaps-real/oracle_http.jsonl, replay its
capture and count the http events that match every expected field (leaving
out the keys the oracle marks Suricata-specific); the count must equal the
oracle's. Cases we decided not to follow are listed, each with its reason, in
tests/golden/http_oracle_exceptions.tsv (and docs/http.md); every other case
must pass. Prints one line per case and a summary.

usage: http_oracle.py LEAKHOUND SRCDIR [-v]
"""
import json
import os
import subprocess
import sys
import tempfile


def get_path(ev, path):
    cur = ev
    for part in path.split("."):
        if part.endswith("]") and "[" in part:
            name, idx = part[:-1].split("[")
            cur = cur.get(name) if isinstance(cur, dict) else None
            if not isinstance(cur, list) or int(idx) >= len(cur):
                return KeyError
            cur = cur[int(idx)]
            continue
        if part == "__len":
            return len(cur) if isinstance(cur, (list, str, dict)) else KeyError
        if not isinstance(cur, dict) or part not in cur:
            return KeyError
        cur = cur[part]
    return cur


def matches(ev, match, skip):
    for k, v in match.items():
        if k in skip:
            continue
        if k == "has-key":
            if get_path(ev, v) is KeyError:
                return False
            continue
        if k == "not-has-key":
            if get_path(ev, v) is not KeyError:
                return False
            continue
        if get_path(ev, k) != v:
            return False
    return True


def events_for(exe, src, pcap, extra, cache):
    key = (pcap, extra)
    if key in cache:
        return cache[key]
    with tempfile.TemporaryDirectory() as out:
        cmd = [exe, "-q", "--stats-interval", "0", "-R", os.path.join(src, "rules"), "-o", out,
               "-r", pcap] + list(extra)
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY="oracle-test-site-key-0123"))
        evs = []
        if p.returncode == 0:
            with open(os.path.join(out, "eve.json"), encoding="utf-8") as f:
                evs = [json.loads(l) for l in f]
        else:
            print(f"  sensor failed on {pcap}: {p.stderr.strip()[:300]}")
    cache[key] = evs
    return evs


def main():
    exe, src = sys.argv[1], sys.argv[2]
    verbose = "-v" in sys.argv
    real = os.path.normpath(os.path.join(src, "..", "shared", "pcaps-real"))
    oracle = os.path.join(real, "oracle_http.jsonl")
    if not os.path.exists(oracle):
        print(f"FAIL: {oracle} not found (../shared must sit beside the project, as in CI)")
        return 1
    exceptions = {}
    exc_path = os.path.join(src, "tests", "golden", "http_oracle_exceptions.tsv")
    if os.path.exists(exc_path):
        for line in open(exc_path, encoding="utf-8"):
            if line.strip() and not line.startswith("#"):
                test, idx, reason = line.rstrip("\n").split("\t", 2)
                exceptions[(test, int(idx))] = reason
    cache = {}
    passed = failed = excepted = 0
    for line in open(oracle, encoding="utf-8"):
        o = json.loads(line)
        if not o.get("usable"):
            continue
        notes = set(o.get("notes", []))
        yaml = o.get("suricata_yaml") or {}
        extra = []
        if "checksums_not_validated" in notes:
            extra.append("--no-checksum")
        if "vlan_not_used_for_flow_tracking" in notes or \
                str(yaml.get("vlan.use-for-tracking", "")).lower() in ("false", "no"):
            extra.append("--no-vlan-tracking")
        evs = events_for(exe, src, os.path.join(real, o["pcap"]), tuple(extra), cache)
        skip = set(o.get("suricata_specific_keys", []))
        n = sum(1 for e in evs if matches(e, o["match"], skip))
        ok = n == o["count"]
        key = (o["test"], o["check_index"])
        if ok:
            passed += 1
            status = "pass"
            if key in exceptions:
                print(f"note: {o['test']}#{o['check_index']} passes now: drop it from "
                      "http_oracle_exceptions.tsv")
        elif key in exceptions:
            excepted += 1
            status = f"excepted ({exceptions[key]})"
        else:
            failed += 1
            status = "FAIL"
        if verbose or status == "FAIL":
            print(f"{status}: {o['test']}#{o['check_index']}: {n} matching events, expected "
                  f"{o['count']}; match {json.dumps(o['match'], ensure_ascii=False)}")
            if status == "FAIL":
                https = [e.get("http") for e in evs if e.get("event_type") == "http"]
                print(f"  our http events: {json.dumps(https[:4], ensure_ascii=False)[:800]}")
    print(f"http oracle: {passed} pass, {failed} fail, {excepted} excepted with a reason "
          f"(of {passed + failed + excepted} usable cases)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
