#!/usr/bin/env python3
"""gen_test.py - the traffic generator (tools/gen, lh-gen) against tshark.

  gen_test.py determinism GEN SRC   same seed same bytes; other seed other bytes
  gen_test.py tshark GEN SRC        every capture reads clean: no malformed
                                    packets, no bad checksums, no warnings
                                    except the ones its impairments cause
  gen_test.py truth GEN SRC         tshark's HTTP request/response counts, the
                                    decoded bodies' records per flow and the
                                    requests per account equal the truth file
  gen_test.py committed GEN SRC     pcaps/ holds exactly what make-pcaps.sh
                                    writes (the committed captures are current)

Captures are generated into a temporary directory (the committed ones in
pcaps/ are checked too). Values are compared as counts; nothing personal is
printed.
"""
import base64
import collections
import datetime
import filecmp
import json
import os
import re
import subprocess
import sys
import tempfile

WARN = 0x00600000  # epan/proto.h PI_WARN; PI_ERROR is 0x00800000
# expert infos a healthy capture may carry: a connection closed by RST
ALWAYS_OK = {"tcp.connection.rst"}
# and what the impairments cause (loss, reordering, retransmission, midstream)
IMPAIRED_OK = ALWAYS_OK | {
    "tcp.analysis.lost_segment", "tcp.analysis.out_of_order", "tcp.analysis.ack_lost_segment",
    "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission", "tcp.analysis.reused_ports",
    # a lost segment makes tshark read body bytes where it expects headers
    "http.bad_header_name",
}
MOBILE = re.compile(r"^1(?:610\d|740[0-5])\d{6}$|^1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}$")
CATS = ("mobiles", "ids", "addresses", "waybills", "landlines")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}: {p.stderr[-2000:]}")
    return p.stdout


def gen(exe, out, *args):
    run([exe, "-q", "-o", out, *args])
    return out, out[:-5] + ".truth.json"


def captures(exe, src, tmp):
    """(pcap, truth) pairs: fresh ones from every preset, and the committed ones."""
    caps = [gen(exe, os.path.join(tmp, "demo.pcap"), "--preset", "demo", "--seed", "11"),
            gen(exe, os.path.join(tmp, "plain.pcap"), "--preset", "golden-plain", "--seed", "12"),
            gen(exe, os.path.join(tmp, "impaired.pcap"), "--preset", "golden-impaired", "--seed", "13")]
    for ident in ("header", "jwt", "basic", "cookie"):
        caps.append(gen(exe, os.path.join(tmp, f"id-{ident}.pcap"), "--preset", "golden-identity",
                        "--identity", ident, "--seed", "14"))
    # a custom header name, IPv6-heavy, pipelined, with several scenarios at once
    caps.append(gen(exe, os.path.join(tmp, "mix.pcap"), "--accounts", "24", "--duration", "150s",
                    "--start", "2026-03-03T03:00:00Z", "--rate", "8", "--ipv6", "0.5",
                    "--pipeline", "0.5", "--identity-header", "X-Staff", "--seed", "15",
                    "--scenario", "enum:at=+20s,count=60,interval=1s",
                    "--scenario", "scripted:at=+10s,count=40,interval=3s",
                    "--scenario", "outscope:per_hour=2000",
                    "--scenario", "bulk:at=+30s,records=3000,size=1000"))
    pc = os.path.join(src, "pcaps")
    if os.path.isdir(pc):
        for f in sorted(os.listdir(pc)):
            t = os.path.join(pc, f[:-5] + ".truth.json")
            if f.endswith(".pcap") and os.path.exists(t):
                caps.append((os.path.join(pc, f), t))
    return caps


def tshark_json(pcap, yfilter, fields, opts=()):
    cmd = ["tshark", "-r", pcap, "-n", *opts, "-Y", yfilter, "-T", "json"]
    for f in fields:
        cmd += ["-e", f]
    out = run(cmd)
    return [p["_source"]["layers"] for p in json.loads(out or "[]")]


# ---- determinism ----

def cmd_determinism(exe, src):
    with tempfile.TemporaryDirectory() as tmp:
        def p(n):
            return os.path.join(tmp, n)
        for args in (["--preset", "golden-identity", "--identity", "cookie"],
                     ["--preset", "golden-impaired"],
                     ["--preset", "bench", "--bytes", "3M"],
                     ["--accounts", "30", "--days", "2", "--rate", "0.1", "--background", "0.05",
                      "--scenario", "lowslow:per_hour=100", "--scenario", "bulk:records=2000,size=1000"]):
            a, ta = gen(exe, p("a.pcap"), "--seed", "5", *args)
            b, tb = gen(exe, p("b.pcap"), "--seed", "5", *args)
            c, tc = gen(exe, p("c.pcap"), "--seed", "6", *args)
            name = " ".join(args)
            if not filecmp.cmp(a, b, shallow=False) or not filecmp.cmp(ta, tb, shallow=False):
                fail(f"{name}: same seed gave different bytes")
            if filecmp.cmp(a, c, shallow=False):
                fail(f"{name}: seeds 5 and 6 gave the same capture")
            if os.path.getsize(a) < 10000:
                fail(f"{name}: capture suspiciously small ({os.path.getsize(a)} bytes)")
            print(f"ok: {name}: {os.path.getsize(a)} bytes, reproducible")


# ---- tshark reads every capture clean ----

CHECKSUMS = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
             "-o", "udp.check_checksum:TRUE"]
PROBLEM = "(_ws.malformed || _ws.expert.severity >= warning || tcp.checksum.status == 0 || " \
          "ip.checksum.status == 0 || udp.checksum.status == 0)"
ADDR = ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"]


def cmd_tshark(exe, src):
    with tempfile.TemporaryDirectory() as tmp:
        for pcap, truth in captures(exe, src, tmp):
            name = os.path.basename(pcap)
            t = json.load(open(truth, encoding="utf-8"))
            impaired = any(v > 0 for v in t["params"]["impair"].values())
            ok = IMPAIRED_OK if impaired else ALWAYS_OK
            allowed = " || ".join(sorted(ok))
            everything = tshark_json(pcap, PROBLEM, ["frame.number", "_ws.expert"], CHECKSUMS)
            rest = tshark_json(pcap, f"{PROBLEM} && !({allowed})", ["frame.number", "_ws.expert"],
                               CHECKSUMS)
            if rest:
                msgs = collections.Counter(m for r in rest for m in r.get("_ws.expert", []))
                fail(f"{name}: {len(rest)} frames with unexpected warnings or errors: {dict(msgs)}")
                continue
            if impaired:
                # after a lost or reordered segment (tshark does not reassemble
                # out of order by default) tshark may read body bytes as headers
                # and choke on them: allowed only in flows the truth marks impaired
                lossy = {(f["src_ip"], f["src_port"], f["dest_ip"], f["dest_port"])
                         for f in t["flows"] if f["impaired"]}
                confused = tshark_json(pcap, "_ws.malformed || http.bad_header_name", ADDR, CHECKSUMS)
                for r in confused:
                    a = (one(r, "ip.src") or one(r, "ipv6.src"), int(one(r, "tcp.srcport")),
                         one(r, "ip.dst") or one(r, "ipv6.dst"), int(one(r, "tcp.dstport")))
                    if a not in lossy and (a[2], a[3], a[0], a[1]) not in lossy:
                        fail(f"{name}: HTTP confused in flow {a[0]}:{a[1]}, which the truth says is unimpaired")
                if not everything:
                    fail(f"{name}: impairments on but tshark saw none")
            print(f"ok: {name}: clean ({len(everything)} frames with expected warnings"
                  f"{' from impairments' if impaired else ''})")


# ---- truth against tshark ----

def id_ok(v):
    if len(v) != 18 or not v[:17].isdigit():
        return False
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    if "10X98765432"[sum(int(c) * x for c, x in zip(v, w)) % 11] != v[17]:
        return False
    try:
        datetime.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return True


def norm_mobile(v):
    if "*" in v:
        return None
    d = re.sub(r"[ \-]", "", v)
    if d.startswith("+86"):
        d = d[3:]
    return d if MOBILE.match(d) else None


def records_of(members):
    """Counted values in decoded JSON members ("key:value")."""
    out = {c: set() for c in CATS}
    for m in members:
        k, _, v = m.partition(":")
        if k == "mobile":
            d = norm_mobile(v)
            if d:
                out["mobiles"].add(d)
        elif k == "idNo" and "*" not in v:
            if id_ok(v):
                out["ids"].add(v)
        elif k == "address" and "*" not in v:
            # a delivery point: up to the house number (号), as the truth counts
            out["addresses"].add(v[:v.index("号") + 1] if "号" in v else v)
        elif k == "waybillNo":
            out["waybills"].add(v)
        elif k == "tel":
            out["landlines"].add(v)
    return out


def one(r, k):
    v = r.get(k)
    return v[0] if v else None


def check_truth(pcap, t):
    name = os.path.basename(pcap)
    tot = t["totals"]
    rows = tshark_json(pcap, "http.request || http.response",
                       ["http.request.method", "http.response.code"])
    nreq = sum(len(r.get("http.request.method", [])) for r in rows)
    nresp = sum(len(r.get("http.response.code", [])) for r in rows)
    if (nreq, nresp) != (tot["http_requests"], tot["http_responses"]):
        fail(f"{name}: tshark sees {nreq} requests / {nresp} responses, truth says "
             f"{tot['http_requests']} / {tot['http_responses']}")
    else:
        print(f"ok: {name}: {nreq} HTTP requests and responses as the truth says")

    # records per flow in the decoded (de-chunked, inflated) bodies
    port = t["server"]["port"]
    rows = tshark_json(pcap, f"http.response && tcp.srcport == {port}",
                       ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
                        "json.member_with_value", "http.content_encoding", "http.transfer_encoding"])
    seen = collections.defaultdict(lambda: {c: set() for c in CATS})
    enc = collections.Counter()
    for r in rows:
        key = (one(r, "ip.dst") or one(r, "ipv6.dst"), int(one(r, "tcp.dstport")),
               one(r, "ip.src") or one(r, "ipv6.src"), int(one(r, "tcp.srcport")))
        for c, vals in records_of(r.get("json.member_with_value", [])).items():
            seen[key][c] |= vals
        for e in r.get("http.content_encoding", []) + r.get("http.transfer_encoding", []):
            enc[e] += 1
    flows = [f for f in t["flows"] if f["dest_port"] == port]
    dup = collections.Counter((f["src_ip"], f["src_port"], f["dest_ip"], f["dest_port"]) for f in flows)
    checked = mism = recs = 0
    for f in flows:
        key = (f["src_ip"], f["src_port"], f["dest_ip"], f["dest_port"])
        if dup[key] > 1:
            continue  # a reused 5-tuple: tshark and the truth may cut it differently
        got = {c: len(seen[key][c]) for c in CATS}
        want = {c: f[c] for c in CATS}
        checked += 1
        recs += want["waybills"]
        if got != want:
            mism += 1
            if mism <= 5:
                fail(f"{name}: flow {key[0]}:{key[1]} ({'gzip ' if f['gzip'] else ''}"
                     f"{'deflate ' if f['deflate'] else ''}{'chunked' if f['chunked'] else ''}): "
                     f"decoded bodies hold {got}, truth says {want}")
    if checked == 0 or recs == 0:
        fail(f"{name}: no API flow with records to check")
    elif not mism:
        print(f"ok: {name}: {checked} API flows, {recs} waybills, per-flow records match the "
              f"decoded bodies (encodings seen: {dict(enc)})")
    for c in CATS:
        allv = set()
        for v in seen.values():
            allv |= v[c]
        if len(allv) != tot[c]:
            fail(f"{name}: {len(allv)} distinct {c} in all decoded bodies, truth total {tot[c]}")

    # requests per account, read from the identity the requests carry
    method = t["server"]["identity"]["method"]
    rows = tshark_json(pcap, f"http && tcp.port == {port}",
                       ["tcp.stream", "http.request.method", "http.request.line",
                        "http.authorization", "http.cookie", "http.set_cookie",
                        "json.member_with_value"])
    per = collections.Counter()
    sess, login_user = {}, {}
    hname = t["server"]["identity"].get("header", "").lower() + ":"
    for r in rows:
        stream = one(r, "tcp.stream")
        members = r.get("json.member_with_value", [])
        user = next((m.split(":", 1)[1] for m in members if m.startswith("username:")), None)
        if r.get("http.set_cookie"):
            m = re.match(r"SESSIONID=([0-9A-F]+)", r["http.set_cookie"][0])
            if m and stream in login_user:
                sess[m.group(1)] = login_user[stream]
        if not r.get("http.request.method"):
            continue
        ids = []
        if method == "header":
            ids = [l.split(":", 1)[1].strip() for l in r.get("http.request.line", [])
                   if l.lower().startswith(hname)]
        elif method == "basic":
            ids = [base64.b64decode(a.split()[1]).decode().split(":")[0]
                   for a in r.get("http.authorization", []) if a.startswith("Basic ")]
        elif method == "jwt":
            for a in r.get("http.authorization", []):
                p = a.split()[1].split(".")[1]
                ids.append(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["emp_id"])
        elif method == "cookie":
            for ck in r.get("http.cookie", []):
                m = re.search(r"SESSIONID=([0-9A-F]+)", ck)
                ids.append(sess.get(m.group(1), "?") if m else "?")
        if user:
            login_user[stream] = user
            if not ids:
                ids = [user]
        for i in ids:
            per[i] += 1
    mism = 0
    for a in t["accounts"]:
        want = sum(a["total"]["requests"].values())
        if per.get(a["id"], 0) != want:
            mism += 1
            if mism <= 5:
                fail(f"{name}: account {a['id']}: {per.get(a['id'], 0)} requests carry it "
                     f"({method}), truth says {want}")
    if per.get("?"):
        fail(f"{name}: {per['?']} requests carry an identity the capture cannot resolve")
    if not mism:
        print(f"ok: {name}: requests per account via {method} identity match the truth "
              f"({sum(per.values())} requests, {len([k for k in per if per[k]])} accounts)")


def cmd_truth(exe, src):
    with tempfile.TemporaryDirectory() as tmp:
        for pcap, truth in captures(exe, src, tmp):
            t = json.load(open(truth, encoding="utf-8"))
            if any(v > 0 for v in t["params"]["impair"].values()):
                continue  # lost segments: tshark cannot decode everything, by design
            if not t.get("flows_listed"):
                continue
            check_truth(pcap, t)
            # the scenario's pull shows in its account's hours
            for s in t["scenarios"]:
                acct = next(a for a in t["accounts"] if a["id"] == s["account"])
                if s["malicious"] and s["requests"] and \
                        sum(h["waybills"] for h in acct["hours"]) < s["waybills"]:
                    fail(f"{os.path.basename(pcap)}: scenario {s['name']} pulled more than its "
                         f"account's hours show")


def cmd_committed(exe, src):
    pc = os.path.join(src, "pcaps")
    want = sorted(f for f in os.listdir(pc) if f.endswith(".pcap") or f.endswith(".truth.json")) \
        if os.path.isdir(pc) else []
    with tempfile.TemporaryDirectory() as tmp:
        run(["sh", os.path.join(src, "tools", "gen", "make-pcaps.sh"), exe, tmp])
        made = sorted(os.listdir(tmp))
        total = 0
        for f in made:
            total += os.path.getsize(os.path.join(tmp, f))
            if f not in want:
                fail(f"pcaps/{f} is missing (run tools/gen/make-pcaps.sh)")
            elif not filecmp.cmp(os.path.join(tmp, f), os.path.join(pc, f), shallow=False):
                fail(f"pcaps/{f} differs from what make-pcaps.sh writes now (regenerate and review)")
        if total > 20e6:
            fail(f"make-pcaps.sh writes {total} bytes, over the 20 MB budget")
        if not failures:
            print(f"ok: {len(made)} committed files are current ({total} bytes)")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    cmd, exe, src = sys.argv[1:]
    {"determinism": cmd_determinism, "tshark": cmd_tshark, "truth": cmd_truth,
     "committed": cmd_committed}[cmd](exe, src)
    if failures:
        sys.exit(f"{len(failures)} failures")


if __name__ == "__main__":
    main()
