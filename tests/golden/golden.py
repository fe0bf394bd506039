#!/usr/bin/env python3
"""golden.py - the real binary on committed captures, checked three ways.

  golden.py flows EXE SRC PCAP
      flow events against tshark: per conversation (5-tuple), packets and
      bytes each way as tshark counts them frame by frame, and one flow event
      per conversation, with the same orientation.
  golden.py expect EXE SRC PCAP EXPECTED [--regenerate]
      chosen fields of every event except stats, compared line by line with
      a reviewed file under tests/golden/expected/ (--regenerate rewrites it;
      a person reviews the diff before committing).
  golden.py determinism EXE SRC PCAP
      two replays give byte-identical events apart from stats events.
"""
import collections
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

SITE_KEY = "golden-test-site-key-0123456789"


def run_sensor(exe, src, pcap, extra=()):
    with tempfile.TemporaryDirectory() as out:
        cmd = [exe, "-q", "-R", os.path.join(src, "rules"), "-o", out, "-r", pcap, *extra]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY=SITE_KEY))
        if p.returncode != 0:
            sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}: {p.stderr}")
        with open(os.path.join(out, "eve.json"), encoding="utf-8") as f:
            return f.read().splitlines()


def canon(ip):
    """One text form per address: tshark compresses IPv6, EVE writes it in full."""
    return str(ipaddress.ip_address(ip))


def tshark_conversations(pcap):
    fields = ["frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt",
              "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]
    cmd = ["tshark", "-r", pcap, "-n", "-T", "fields", "-E", "separator=\t",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    conv = collections.OrderedDict()
    for line in p.stdout.splitlines():
        c = (line.split("\t") + [""] * len(fields))[:len(fields)]
        length, s4, d4, s6, d6, p4, p6, ts, td, us, ud = c
        src, dst = (s4, d4) if s4 else (s6, d6)
        proto = p4 or p6
        if not src or not proto:
            continue
        # tunnelled packets list several values: the outer header comes first
        src, dst, proto = src.split(",")[0], dst.split(",")[0], int(proto.split(",")[-1])
        sport, dport = (ts, td) if proto == 6 else (us, ud) if proto == 17 else ("0", "0")
        if not sport:
            continue
        a, b = (canon(src), int(sport)), (canon(dst), int(dport))
        key = (proto, frozenset([a, b])) if a != b else (proto, frozenset([a]))
        if key not in conv:
            conv[key] = {"client": a, "pkts": [0, 0], "bytes": [0, 0]}
        d = 0 if a == conv[key]["client"] else 1
        conv[key]["pkts"][d] += 1
        conv[key]["bytes"][d] += int(length)
    return conv


def cmd_flows(exe, src, pcap):
    events = [json.loads(l) for l in run_sensor(exe, src, pcap, ["--stats-interval", "0"])]
    flows = [e for e in events if e["event_type"] == "flow" and e["proto"] in ("TCP", "UDP")]
    conv = tshark_conversations(pcap)
    bad = 0
    seen = set()
    for e in flows:
        proto = 6 if e["proto"] == "TCP" else 17
        a, b = (canon(e["src_ip"]), e["src_port"]), (canon(e["dest_ip"]), e["dest_port"])
        key = (proto, frozenset([a, b]))
        if key in seen:
            print(f"FAIL: two flow events for {a} <-> {b}")
            bad += 1
        seen.add(key)
        t = conv.get(key)
        if t is None:
            print(f"FAIL: flow {a} -> {b} not a tshark conversation")
            bad += 1
            continue
        got = (e["flow"]["pkts_toserver"], e["flow"]["pkts_toclient"],
               e["flow"]["bytes_toserver"], e["flow"]["bytes_toclient"])
        want = (t["pkts"][0], t["pkts"][1], t["bytes"][0], t["bytes"][1])
        if t["client"] != a:
            want = (want[1], want[0], want[3], want[2])
            print(f"note: {a} -> {b}: tshark's first sender is the server (midstream or "
                  "SYN+ACK first)")
        if got != want:
            print(f"FAIL: flow {a} -> {b}: pkts/bytes {got} != tshark {want}")
            bad += 1
    for key in conv:
        if key not in seen:
            print(f"FAIL: tshark conversation {sorted(key[1])} proto {key[0]} has no flow event")
            bad += 1
    print(f"{len(flows)} flow events, {len(conv)} tshark conversations, {bad} mismatches")
    return 1 if bad or not flows else 0


def project(e):
    """The fields a golden file pins: stable, meaningful, no run statistics."""
    keep = {k: e[k] for k in ("timestamp", "event_type", "flow_id", "pcap_cnt", "src_ip",
                              "src_port", "dest_ip", "dest_port", "proto", "app_proto",
                              "community_id") if k in e}
    for k in ("flow", "records", "http", "account", "alert", "leak", "ndpi"):
        if k in e:
            keep[k] = e[k]
    return json.dumps(keep, sort_keys=True, ensure_ascii=False)


def cmd_expect(exe, src, pcap, expected, regenerate):
    lines = [project(json.loads(l)) for l in run_sensor(exe, src, pcap, ["--stats-interval", "0"])
             if json.loads(l)["event_type"] != "stats"]
    if regenerate:
        with open(expected, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {len(lines)} events to {expected}: review the diff before committing")
        return 0
    with open(expected, encoding="utf-8") as f:
        want = f.read().splitlines()
    bad = 0
    for i in range(max(len(lines), len(want))):
        g = lines[i] if i < len(lines) else "(missing)"
        w = want[i] if i < len(want) else "(missing)"
        if g != w:
            bad += 1
            if bad <= 5:
                print(f"FAIL: event {i + 1} differs\n  got:  {g}\n  want: {w}")
    print(f"{len(lines)} events, {len(want)} expected, {bad} differ")
    return 1 if bad or not lines else 0


def cmd_determinism(exe, src, pcap):
    runs = []
    for _ in range(2):
        runs.append([l for l in run_sensor(exe, src, pcap) if '"event_type":"stats"' not in l])
    if runs[0] != runs[1]:
        for i, (a, b) in enumerate(zip(runs[0], runs[1])):
            if a != b:
                print(f"FAIL: line {i + 1} differs between replays:\n  {a}\n  {b}")
                break
        print(f"FAIL: {len(runs[0])} vs {len(runs[1])} events")
        return 1
    print(f"two replays: {len(runs[0])} identical events")
    return 0 if runs[0] else 1


def main():
    mode, exe, src, pcap = sys.argv[1:5]
    pcap = os.path.join(src, pcap) if not os.path.isabs(pcap) else pcap
    if mode == "flows":
        return cmd_flows(exe, src, pcap)
    if mode == "expect":
        return cmd_expect(exe, src, pcap, os.path.join(src, sys.argv[5]),
                          "--regenerate" in sys.argv)
    if mode == "determinism":
        return cmd_determinism(exe, src, pcap)
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main())
