#!/usr/bin/env python3
"""evidence.py - alerts keep the account's packets as evidence.

  evidence.py EXE SRC PCAP

Replays PCAP with --evidence-dir and requires: every alert names an
evidence capture; each named file exists (mode 0600, directory 0700), is a
capture tshark reads without error, holds packets, and every packet in it
belongs to the alerted account's hosts (one of account.src_ips is its source
or destination) and was sent no earlier than the account's first alert.
"""
import datetime
import ipaddress
import json
import os
import stat
import subprocess
import sys
import tempfile


def ts(s):
    return datetime.datetime.strptime(s.replace("+0000", ""), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def main():
    exe, src, pcap = sys.argv[1:4]
    pcap = pcap if os.path.isabs(pcap) else os.path.join(src, pcap)
    bad = 0
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([exe, "-q", "--stats-interval", "0", "-R", os.path.join(src, "rules"),
                            "-o", out, "--evidence-dir", "evidence", "-r", pcap],
                           capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY="evidence-test-site-key-01"))
        if p.returncode != 0:
            print(f"FAIL: sensor exited {p.returncode}: {p.stderr}")
            return 1
        alerts = [json.loads(l) for l in open(os.path.join(out, "eve.json"), encoding="utf-8")
                  if '"event_type":"alert"' in l]
        if not alerts:
            print("FAIL: the capture raised no alert")
            return 1
        evdir = os.path.join(out, "evidence")
        if stat.S_IMODE(os.stat(evdir).st_mode) != 0o700:
            print(f"FAIL: {evdir} is not 0700")
            bad += 1
        first = {}
        for a in alerts:
            first.setdefault(a["account"]["id"], ts(a["timestamp"]))
        checked = set()
        for a in alerts:
            path = a.get("evidence", {}).get("pcap")
            if not path:
                print(f"FAIL: alert {a['alert']['rule']} for {a['account']['id']} names no evidence")
                bad += 1
                continue
            if path in checked:
                continue
            checked.add(path)
            if not os.path.exists(path) or stat.S_IMODE(os.stat(path).st_mode) != 0o600:
                print(f"FAIL: {path} missing or not 0600")
                bad += 1
                continue
            r = subprocess.run(["tshark", "-r", path, "-n", "-T", "fields", "-e", "frame.time_epoch",
                                "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst"],
                               capture_output=True, text=True)
            rows = [l.split("\t") for l in r.stdout.splitlines()]
            if r.returncode != 0 or not rows:
                print(f"FAIL: tshark cannot read {path} or it is empty: {r.stderr}")
                bad += 1
                continue
            canon = lambda ip: str(ipaddress.ip_address(ip))
            hosts = set(canon(h) for h in a["account"].get("src_ips", []))
            for row in rows:
                t, addrs = float(row[0]), set(canon(x) for x in row[1:] if x)
                if not hosts & addrs:
                    print(f"FAIL: {path}: a packet of {addrs}, not of {a['account']['id']}'s hosts")
                    bad += 1
                    break
                if t + 1e-6 < first[a["account"]["id"]]:
                    print(f"FAIL: {path}: a packet from before the account's first alert")
                    bad += 1
                    break
            print(f"{path}: {len(rows)} packets of {a['account']['id']}")
    print(f"{len(alerts)} alerts, {len(checked)} evidence files, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
