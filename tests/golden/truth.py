#!/usr/bin/env python3
"""truth.py - the sensor against the generator's ground truth.

  truth.py EXE SRC PCAP [--lossy-ok]

Replays PCAP (made by tools/gen, with PCAP's .truth.json beside it) with the
shipped rules and checks, for every TCP flow the generator wrote:
  - the flow event's records toward the client, per category, equal the
    truth's distinct counts (mobiles, ids, addresses, waybills, landlines),
    compressed and chunked bodies included;
  - every http event of the flow names the account the generator used
    (attribution, for whatever identity method the capture uses);
  - per account, the distinct records over all its flows (the union of
    fingerprints) equal the truth's totals.
Flows the truth marks lossy (segments never sent) may only undercount and
are reported apart. Exit 1 on any mismatch.
"""
import collections
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

CATS = {"mobiles": "phone", "ids": "id", "addresses": "address", "waybills": "waybill",
        "landlines": "landline"}


def canon(ip):
    """One text form per address: the truth compresses IPv6, EVE writes it in full."""
    return str(ipaddress.ip_address(ip))


def main():
    exe, src, pcap = sys.argv[1:4]
    pcap = pcap if os.path.isabs(pcap) else os.path.join(src, pcap)
    truth = json.load(open(pcap.rsplit(".", 1)[0] + ".truth.json", encoding="utf-8"))
    with tempfile.TemporaryDirectory() as out:
        cmd = [exe, "-q", "--stats-interval", "0", "-R", os.path.join(src, "rules"), "-o", out,
               "--event-fingerprints", "10000000", "-r", pcap]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY="truth-test-site-key-012345"))
        if p.returncode != 0:
            print(f"FAIL: sensor exited {p.returncode}: {p.stderr}")
            return 1
        events = [json.loads(l) for l in open(os.path.join(out, "eve.json"), encoding="utf-8")]

    flows = {}
    for e in events:
        if e["event_type"] == "flow" and e["proto"] == "TCP":
            flows[(canon(e["src_ip"]), e["src_port"], canon(e["dest_ip"]), e["dest_port"])] = e
    http_accounts = collections.defaultdict(set)
    for e in events:
        if e["event_type"] == "http":
            http_accounts[e["flow_id"]].add(e["account"]["id"])

    bad = lossy_under = checked = 0
    per_account = collections.defaultdict(lambda: collections.defaultdict(set))
    for tf in truth["flows"]:
        if tf["proto"] != "TCP":
            continue
        key = (canon(tf["src_ip"]), tf["src_port"], canon(tf["dest_ip"]), tf["dest_port"])
        e = flows.get(key)
        if e is None:
            print(f"FAIL: no flow event for {key}")
            bad += 1
            continue
        checked += 1
        rec = e.get("records", {}).get("toclient", {})
        got = rec.get("counts", {})
        for tk, cat in CATS.items():
            want, have = tf.get(tk, 0), got.get(cat, 0)
            if want == have:
                continue
            if tf.get("lossy") and have <= want:
                lossy_under += 1
                continue
            print(f"FAIL: flow {key} ({'gzip ' if tf.get('gzip') else ''}"
                  f"{'chunked ' if tf.get('chunked') else ''}{tf.get('app')}): "
                  f"{cat} {have} != truth {want}")
            bad += 1
        acct = tf.get("account")
        if acct and tf.get("http_requests"):
            ours = http_accounts.get(e["flow_id"], set())
            if ours != {acct}:
                print(f"FAIL: flow {key}: http events name {sorted(ours)}, truth {acct}")
                bad += 1
            for cat, fps in rec.get("fingerprints", {}).items():
                per_account[acct][cat].update(fps)

    for ta in truth["accounts"]:
        tot = ta["total"]
        if not tot.get("responses"):
            continue
        for tk, cat in CATS.items():
            want, have = tot.get(tk, 0), len(per_account[ta["id"]][cat])
            if want != have and not any(f.get("lossy") for f in truth["flows"]
                                        if f.get("account") == ta["id"]):
                print(f"FAIL: account {ta['id']}: distinct {cat} {have} != truth {want}")
                bad += 1
    print(f"{checked} flows and {len(per_account)} accounts checked against the truth, "
          f"{bad} mismatches, {lossy_under} undercounts on lossy flows")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
