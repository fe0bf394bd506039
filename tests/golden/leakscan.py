#!/usr/bin/env python3
"""leakscan.py - the sensor must not become the leak.

  leakscan.py EXE SRC PCAP...

Replays each capture with the shipped rules, writing every output the sensor
has: EVE and ECS event files, the state file, and its stderr log; then scans
all of them (every JSON string value after decoding escapes, and the raw
bytes of the state file) for an unmasked mainland mobile number, a resident
ID number with a valid check character, or a Chinese address with its street
number. The scanner is written here independently of the sensor's own
matcher, so a bug shared by both cannot hide a leak. The evidence directory
holds raw traffic by design and is not scanned (its listing is).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ALLOCATED = re.compile(r"1(?:3\d|4[57]|5[0-35-9]|6[25-7]|7[0-35-8]|8\d|9[0-35-9])\d{8}")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
RID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
ADDRESS = re.compile(r"[\u4e00-\u9fff]{2,}(?:省|市|区|县)[\u4e00-\u9fff0-9]{0,40}?"
                     r"(?:路|街|道|巷|弄)[0-9一二三四五六七八九十]+号")
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_ok(v):
    s = sum(int(c) * w for c, w in zip(v[:17], W))
    return "10X98765432"[s % 11] == v[17].upper()


def scan_text(text, where, found):
    for m in MOBILE.finditer(text):
        if ALLOCATED.fullmatch(m.group()):
            found.append((where, "mobile", m.group()[:3] + "…"))
    for m in RID.finditer(text):
        if id_ok(m.group()):
            found.append((where, "resident id", m.group()[:3] + "…"))
    for m in ADDRESS.finditer(text):
        found.append((where, "address", m.group()[:4] + "…"))


def strings(o):
    if isinstance(o, str):
        yield o
    elif isinstance(o, dict):
        for k, v in o.items():
            yield k
            yield from strings(v)
    elif isinstance(o, list):
        for v in o:
            yield from strings(v)


def selftest():
    """The scanner must see what it is looking for (and pass what is masked)."""
    probe = []
    scan_text('{"m":"13812345678","id":"11010519491231002X","a":"浙江省杭州市西湖区文三路12号"}',
              "selftest", probe)
    clean = []
    scan_text('{"m":"138******78","id":"110***********002X","a":"浙江省杭州市西湖区***",'
              '"fp":"hmac:13812345678abcdef"}', "selftest", clean)
    return sorted(w for _, w, _ in probe) == ["address", "mobile", "resident id"] and not clean


def main():
    exe, src, pcaps = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not selftest():
        print("FAIL: the scanner's self-test: it would not see a leak")
        return 1
    found, scanned = [], 0
    for pcap in pcaps:
        pcap = pcap if os.path.isabs(pcap) else os.path.join(src, pcap)
        with tempfile.TemporaryDirectory() as out:
            state = os.path.join(out, "state.bin")
            cmd = [exe, "--stats-interval", "30", "-R", os.path.join(src, "rules"), "-o", out,
                   "--state-file", state, "--evidence-dir", os.path.join(out, "evidence"),
                   "--sink", "file:eve.json", "--sink", "file:ecs.json,format=ecs",
                   "-r", pcap]
            p = subprocess.run(cmd, capture_output=True, text=True,
                               env=dict(os.environ, LEAKHOUND_SITE_KEY="leakscan-site-key-0123456"))
            if p.returncode != 0:
                print(f"FAIL: {' '.join(cmd)}: exit {p.returncode}: {p.stderr}")
                return 1
            scan_text(p.stderr + p.stdout, f"{pcap}: stderr", found)
            events = 0
            for name in ("eve.json", "ecs.json"):
                with open(os.path.join(out, name), encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        # string values (escapes decoded) and keys; JSON numbers are
                        # counters, times and ids (an ECS duration in ns can look
                        # like a mobile number)
                        for s in strings(json.loads(line)):
                            scan_text(s, f"{pcap}: {name}:{n}", found)
                        events += 1
            if os.path.exists(state):
                raw = open(state, "rb").read()
                scan_text(raw.decode("latin-1"), f"{pcap}: state file", found)
                scan_text(raw.decode("utf-8", "replace"), f"{pcap}: state file", found)
            ev = os.path.join(out, "evidence")
            if os.path.isdir(ev):
                scan_text("\n".join(os.listdir(ev)), f"{pcap}: evidence listing", found)
            scanned += events
            print(f"{pcap}: {events} events, state file "
                  f"{'present' if os.path.exists(state) else 'absent'}")
    for where, what, hint in found[:20]:
        print(f"FAIL: unmasked {what} ({hint}) in {where}")
    print(f"{scanned} events scanned, {len(found)} unmasked records found")
    return 1 if found or not scanned else 0


if __name__ == "__main__":
    sys.exit(main())
