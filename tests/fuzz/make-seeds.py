#!/usr/bin/env python3
"""make-seeds.py - writes the seed inputs of the fuzz targets.

    tests/fuzz/make-seeds.py [--out DIR] [--real DIR] [--pcaps DIR]

Writes DIR/<target>/seed-* (default tests/fuzz/corpus) for every target of
tests/fuzz/: hand-built packets and fragment runs, byte-coded TCP segment
sequences, HTTP exchanges (chunked, gzip, deflate, pipelined, upgraded),
gzip bodies for the whole-body against streaming comparison,
identity inputs with JWTs, rule files (good and broken), text with records
for the matcher, and capture files: generated ones, the project's own
pcaps/ and a sample of ../shared/pcaps-real, each trimmed to < 64 KB.

Output is deterministic (gzip mtime 0, sorted inputs), so running it again
rewrites the same files. The input formats are those described at the top
of each tests/fuzz/fuzz_*.c. Test data only: every phone number, ID number
and address below is made up (the ID numbers carry a valid check character
so that the validators accept them).
"""
import argparse
import base64
import gzip
import hashlib
import json
import os
import io
import struct
import subprocess
import sys
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TRIM = 64 * 1024 - 1


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def gz(b):
    return gzip.compress(b, mtime=0)


def cli(argv, b):
    """Brotli and zstd through their command-line tools (Debian's brotli and
    zstd packages; Python's standard library has neither)."""
    return subprocess.run(argv, input=b, stdout=subprocess.PIPE, check=True).stdout


def br(b):
    return cli(["brotli", "-c", "-q", "5"], b)


def zst(b):
    return cli(["zstd", "-c", "-q", "-3"], b)


# ---- records that validate (made up) ------------------------------------------

def id_check(s17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * k for c, k in zip(s17, w)) % 11]


def resident_id(area, birth, seq):
    s = "%s%s%s" % (area, birth, seq)
    return s + id_check(s)


IDS = [resident_id("110105", "19800101", "123"), resident_id("440305", "19991231", "456"),
       resident_id("310115", "20000229", "001")]
PHONES = ["13812345678", "18600001111", "15912340000", "19987654321"]
ADDRS = ["北京市朝阳区建国路88号", "广东省深圳市南山区科技园路1号", "上海市浦东新区世纪大道100号"]
WAYBILLS = ["YT1234567890123", "JT0001112223334", "SF1234567890123", "DPK123456789012"]


# ---- packets ------------------------------------------------------------------

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(src, dst, proto, payload, ident=1, frag=0, ttl=64, opts=b""):
    hl = 20 + len(opts)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | hl // 4, 0, hl + len(payload), ident, frag, ttl,
                    proto, 0, bytes(src), bytes(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def pseudo4(src, dst, proto, l4):
    return struct.pack("!4s4sBBH", bytes(src), bytes(dst), 0, proto, len(l4))


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", v6=False, win=65535, urg=0):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4,
                    flags, win, 0, urg)
    seg = h + payload
    ph = pseudo6(src, dst, 6, seg) if v6 else pseudo4(src, dst, 6, seg)
    c = csum(ph + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload, v6=False):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ph = pseudo6(src, dst, 17, seg) if v6 else pseudo4(src, dst, 17, seg)
    c = csum(ph + seg) or 0xffff
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def pseudo6(src, dst, nh, l4):
    return bytes(src) + bytes(dst) + struct.pack("!IxxxB", len(l4), nh)


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hlim) + bytes(src) + bytes(dst) + payload


def eth(payload, etype=0x0800, vlans=()):
    h = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb"
    for tpid, vid in vlans:
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", etype) + payload


A = [10, 0, 0, 1]
B = [10, 0, 0, 2]
A6 = bytes.fromhex("20010db8000000000000000000000001")
B6 = bytes.fromhex("20010db8000000000000000000000002")

# selector values of fuzz_decode.c's link table
SEL = {"EN10MB": 0, "NULL": 1, "RAW": 2, "SLL": 3, "SLL2": 4, "PPP": 5, "IPV4": 6, "IPV6": 7,
       "LINKTYPE_RAW": 8, "C_HDLC": 9, "LOOP": 10, "PPP_SERIAL": 11}
DLT_SEL = {1: 0, 0: 1, 12: 2, 113: 3, 276: 4, 9: 5, 228: 6, 229: 7, 101: 8, 104: 9, 108: 10, 50: 11,
           14: 12}


def frags4(payload, size, ident, proto=17, order=None, overlap=None):
    """IPv4 fragments of payload (an L4 segment) in size-byte pieces."""
    out = []
    offs = list(range(0, len(payload), size))
    for i, o in enumerate(offs):
        more = o + size < len(payload)
        out.append(ip4(A, B, proto, payload[o:o + size], ident=ident, frag=(0x2000 if more else 0) | o // 8))
    if overlap is not None:
        o, data = overlap
        out.append(ip4(A, B, proto, data, ident=ident, frag=0x2000 | o // 8))
    if order:
        out = [out[i] for i in order if i < len(out)]
    return out


def frags6(payload, size, ident, nh=17):
    out = []
    offs = list(range(0, len(payload), size))
    for o in offs:
        more = o + size < len(payload)
        fh = struct.pack("!BBHI", nh, 0, (o // 8) << 3 | (1 if more else 0), ident)
        out.append(ip6(A6, B6, 44, fh + payload[o:o + size]))
    return out


def records(pkts, jump_at=()):
    b = b""
    for i, p in enumerate(pkts):
        n = len(p) | (0x8000 if i in jump_at else 0)
        b += struct.pack("!H", n) + p
    return b


def decode_seeds(out, real_pkts):
    body = ("phone=%s" % PHONES[0]).encode()
    t = tcp(A, B, 40000, 80, 1000, 2000, 0x18, b"GET /?" + body + b" HTTP/1.1\r\n\r\n")
    u = udp(A, B, 5353, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
    p4 = ip4(A, B, 6, t)
    p4u = ip4(A, B, 17, u)
    p6 = ip6(A6, B6, 6, tcp(A6, B6, 40000, 443, 1, 0, 0x02, v6=True))
    icmp = ip4(A, B, 1, b"\x08\x00\xf7\xff\x00\x00\x00\x00")
    seeds = {
        "eth-ipv4-tcp": bytes([SEL["EN10MB"]]) + eth(p4),
        "eth-ipv4-udp": bytes([SEL["EN10MB"]]) + eth(p4u),
        "eth-ipv4-icmp": bytes([SEL["EN10MB"]]) + eth(icmp),
        "eth-ipv6-tcp": bytes([SEL["EN10MB"]]) + eth(p6, 0x86dd),
        "eth-vlan": bytes([SEL["EN10MB"]]) + eth(p4, vlans=[(0x8100, 100)]),
        "eth-qinq": bytes([SEL["EN10MB"]]) + eth(p4, vlans=[(0x88a8, 10), (0x8100, 20)]),
        "eth-3vlan": bytes([SEL["EN10MB"]]) + eth(p4, vlans=[(0x88a8, 1), (0x8100, 2), (0x8100, 3)]),
        "eth-mpls": bytes([SEL["EN10MB"]]) + eth(struct.pack("!I", (16 << 12) | 0x100 | 64) + p4, 0x8847),
        "eth-pppoe": bytes([SEL["EN10MB"]]) + eth(b"\x11\x00\x00\x01" + struct.pack("!H", len(p4) + 2) + b"\x00\x21" + p4, 0x8864),
        "eth-arp": bytes([SEL["EN10MB"]]) + eth(b"\x00\x01\x08\x00\x06\x04\x00\x01" + bytes(20), 0x0806),
        "eth-ipip": bytes([SEL["EN10MB"]]) + eth(ip4(A, B, 4, p4)),
        "eth-6in4": bytes([SEL["EN10MB"]]) + eth(ip4(A, B, 41, p6)),
        "eth-gre": bytes([SEL["EN10MB"]]) + eth(ip4(A, B, 47, b"\x00\x00\x08\x00" + p4)),
        "eth-ipv4-opts": bytes([SEL["EN10MB"]]) + eth(ip4(A, B, 6, t, opts=b"\x01\x01\x01\x00")),
        "eth-ipv6-ext": bytes([SEL["EN10MB"]]) + eth(ip6(A6, B6, 0, b"\x3c\x00" + bytes(6) + b"\x06\x00" + bytes(6) + tcp(A6, B6, 1, 2, 3, 4, 0x10, v6=True)), 0x86dd),
        "eth-truncated": bytes([SEL["EN10MB"] | 0x10]) + eth(p4)[:40],
        "eth-nocsum": bytes([SEL["EN10MB"] | 0x20]) + eth(p4),
        "null-ipv4": bytes([SEL["NULL"]]) + struct.pack("<I", 2) + p4,
        "null-ipv6": bytes([SEL["NULL"]]) + struct.pack("<I", 30) + p6,
        "loop-ipv4": bytes([SEL["LOOP"]]) + struct.pack("!I", 2) + p4,
        "raw-ipv4": bytes([SEL["RAW"]]) + p4,
        "raw-ipv6": bytes([SEL["LINKTYPE_RAW"]]) + p6,
        "ipv4": bytes([SEL["IPV4"]]) + p4u,
        "ipv6": bytes([SEL["IPV6"]]) + p6,
        "sll": bytes([SEL["SLL"]]) + struct.pack("!HHH8sH", 0, 1, 6, b"\x00\x11\x22\x33\x44\x55\0\0", 0x0800) + p4,
        "sll2": bytes([SEL["SLL2"]]) + struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\x00\x11\x22\x33\x44\x55\0\0") + p4,
        "ppp": bytes([SEL["PPP"]]) + b"\xff\x03\x00\x21" + p4,
        "ppp-ipv6": bytes([SEL["PPP_SERIAL"]]) + b"\xff\x03\x00\x57" + p6,
        "chdlc": bytes([SEL["C_HDLC"]]) + b"\x0f\x00\x08\x00" + p4,
    }
    # fragment runs (the record form of pass 2)
    big = udp(A, B, 1000, 2000, b"".join(("%s,%s;" % (p, i)).encode() for p, i in zip(PHONES, IDS * 2)) * 3)
    seeds["frag4-inorder"] = bytes([SEL["RAW"]]) + records(frags4(big, 64, 7))
    seeds["frag4-reverse"] = bytes([SEL["RAW"]]) + records(list(reversed(frags4(big, 64, 8))))
    seeds["frag4-overlap"] = bytes([SEL["RAW"]]) + records(frags4(big, 64, 9, overlap=(64, b"X" * 64)))
    seeds["frag4-tiny"] = bytes([SEL["RAW"]]) + records(frags4(big, 8, 10)[:20])
    seeds["frag4-timeout"] = bytes([SEL["RAW"]]) + records(frags4(big, 64, 11), jump_at=(2,))
    seeds["frag4-eth-vlan"] = bytes([SEL["EN10MB"]]) + records([eth(f, vlans=[(0x8100, 5)]) for f in frags4(big, 128, 12)])
    seeds["frag4-tcp"] = bytes([SEL["RAW"]]) + records(frags4(t, 16, 13, proto=6))
    seeds["frag6"] = bytes([SEL["RAW"]]) + records(frags6(udp(A6, B6, 1, 2, b"x" * 300, v6=True), 96, 77))
    seeds["frag6-reverse"] = bytes([SEL["IPV6"]]) + records(list(reversed(frags6(udp(A6, B6, 1, 2, b"y" * 300, v6=True), 96, 78))))
    many = []
    for i in range(12):
        many += frags4(big, 64, 100 + i)[:2]
    seeds["frag4-many-incomplete"] = bytes([SEL["RAW"]]) + records(many)
    for name, data in seeds.items():
        write(out, "fuzz_decode", name, data)
    for i, (dlt, pkt) in enumerate(real_pkts):
        if dlt in DLT_SEL:
            write(out, "fuzz_decode", "real-%03d" % i, bytes([DLT_SEL[dlt]]) + pkt)


# ---- reassembly -----------------------------------------------------------------

SYN, FIN, RST, PSH, ACK, URG = 0x02, 0x01, 0x04, 0x08, 0x10, 0x20


def seg(stream, flags, off, data=b""):
    assert len(data) < 256
    return bytes([stream, flags]) + struct.pack("!I", off)[1:] + bytes([len(data)]) + data


def close(stream):
    return bytes([stream | 2])


def reasm_seeds(out):
    msg = ("name=zhang&phone=%s&id=%s" % (PHONES[0], IDS[0])).encode()
    s = {}
    s["inorder"] = seg(0, SYN, 0) + seg(0, ACK | PSH, 1, msg[:20]) + seg(0, ACK | PSH, 21, msg[20:]) + seg(0, FIN | ACK, 1 + len(msg))
    s["both-dirs"] = seg(0, SYN, 0) + seg(1, SYN | ACK, 0) + seg(0, ACK, 1, b"GET / HTTP/1.1\r\n\r\n") + seg(1, ACK, 1, b"HTTP/1.1 200 OK\r\n\r\n") + close(0) + close(1)
    s["reverse"] = seg(0, SYN, 0) + b"".join(seg(0, ACK, 1 + i, msg[i:i + 4]) for i in reversed(range(0, len(msg), 4)))
    s["overlap-diff"] = seg(0, SYN, 0) + seg(0, ACK, 5, b"AAAAAAAAAA") + seg(0, ACK, 1, b"BBBBBBBBBBBBBBBB") + seg(0, ACK, 3, b"CCCCCCCCCCCCCCCCCCCC")
    s["retransmit"] = seg(0, SYN, 0) + seg(0, ACK, 1, msg[:30]) + seg(0, ACK, 1, b"x" * 30) + seg(0, ACK, 31, msg[30:])
    s["hole-then-fin"] = seg(0, SYN, 0) + seg(0, ACK, 50, b"later") + seg(0, FIN | ACK, 55) + seg(0, ACK, 1, b"first")
    s["midstream"] = seg(1, ACK, 0x100, msg) + seg(1, ACK, 0x100 + len(msg), msg)
    s["wrap"] = seg(0, SYN, 0xfff0) + b"".join(seg(0, ACK, 0xfff1 + i, msg[i:i + 7]) for i in range(0, len(msg), 7))
    s["caps"] = seg(0, SYN, 0) + b"".join(seg(0, ACK, 100 + 200 * i, b"z" * 200) for i in range(12)) + seg(0, ACK, 1, b"a" * 99)
    s["rst"] = seg(0, SYN, 0) + seg(0, ACK, 1, b"abc") + seg(0, RST, 4) + seg(0, ACK, 4, b"after")
    s["syn-data"] = seg(0, SYN, 0, b"syndata") + seg(0, ACK, 8, b"more")
    s["urgent"] = seg(0, SYN, 0) + seg(0, ACK | URG, 1, b"u" * 10) + seg(0, ACK, 11, b"v" * 10)
    s["far-ahead"] = seg(0, SYN, 0) + seg(0, ACK, 0xffffff, b"far") + seg(0, ACK, 1, b"near")
    s["second-syn"] = seg(0, SYN, 0) + seg(0, ACK, 1, b"one") + seg(0, SYN, 0x8000) + seg(0, ACK, 0x8001, b"two")
    s["close-twice"] = seg(0, SYN, 0) + seg(0, ACK, 10, b"held") + close(0) + close(0) + seg(0, ACK, 1, b"late")
    for name, data in s.items():
        write(out, "fuzz_reasm", name, data)


# ---- HTTP ----------------------------------------------------------------------

def hrec(direction, data, chunk=None):
    """feed records; chunk: split into pieces of this size."""
    out = b""
    pieces = [data] if not chunk else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for p in pieces:
        out += bytes([direction]) + struct.pack("!H", len(p)) + p
    return out


def hgap(direction, n):
    return bytes([direction | 2]) + struct.pack("!H", n)


def hend(direction):
    return bytes([direction | 4])


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        c = body[i:i + size]
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n\r\n"


def http_seeds(out):
    recs = json.dumps([{"name": "张三", "phone": p, "id": i, "addr": a, "waybill": w}
                       for p, i, a, w in zip(PHONES, IDS, ADDRS, WAYBILLS)], ensure_ascii=False).encode()
    req = b"GET /api/v1/waybill/search?no=YT1234567890123 HTTP/1.1\r\nHost: waybill.example\r\nX-Emp-Id: E10234\r\nAccept-Encoding: gzip\r\n\r\n"
    post = b"POST /api/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\nusername=alice&password=secr"
    ok = lambda hdrs, body: b"HTTP/1.1 200 OK\r\n" + hdrs + b"Content-Length: %d\r\n\r\n" % len(body) + body
    s = {}
    s["plain"] = hrec(0, req) + hrec(1, ok(b"Content-Type: application/json\r\n", recs))
    s["gzip"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: gzip\r\n", gz(recs)))
    s["gzip-chunked"] = hrec(0, req) + hrec(1, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(gz(recs), 50), 37)
    s["deflate-zlib"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: deflate\r\n", zlib.compress(recs)))
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    s["deflate-raw"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: deflate\r\n", co.compress(recs) + co.flush()))
    s["gzip-members"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: gzip\r\n", gz(recs[:100]) + gz(recs[100:])))
    s["gzip-twice"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: gzip, gzip\r\n", gz(gz(recs))))
    s["gzip-bomb"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: gzip\r\n", gz(b"0" * 2000000)))
    s["gzip-corrupt"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: gzip\r\n", gz(recs)[:40] + b"garbage" * 5))
    s["chunk-ext-zeros"] = hrec(0, req) + hrec(1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0005;ext=1\r\nhello\r\n000\r\nTrailer: x\r\n\r\n")
    s["te-and-cl"] = hrec(0, req) + hrec(1, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(recs, 64))
    s["pipelined"] = hrec(0, req * 3 + post) + hrec(1, ok(b"", b"one") + ok(b"", b"two") + ok(b"", b"three") + ok(b"Set-Cookie: SID=abc\r\n", b""))
    s["folding-case"] = hrec(0, b"GET / HTTP/1.1\r\nhOsT: a\r\nX-Long: one\r\n two\r\n\tthree\r\ncontent-LENGTH: 0\r\n\r\n") + hrec(1, b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nbody until close " + recs[:200]) + hend(1)
    s["bytewise"] = hrec(0, post, 1) + hrec(1, ok(b"", recs[:300]), 1)
    s["gap-in-body"] = hrec(0, req) + hrec(1, ok(b"", recs)[:120]) + hgap(1, 200) + hrec(1, ok(b"", recs)[320:]) + hrec(0, req)
    s["gap-resync"] = hgap(0, 50) + hrec(0, b"xx\r\n" + req) + hgap(1, 10) + hrec(1, b"junk\r\n" + ok(b"", b"ok"))
    s["connect"] = hrec(0, b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n") + hrec(1, b"HTTP/1.1 200 Connection established\r\n\r\n") + hrec(0, b"\x16\x03\x01binary") + hrec(1, b"\x16\x03\x03more")
    s["upgrade"] = hrec(0, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n") + hrec(1, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    s["continue-head"] = hrec(0, b"POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n") + hrec(1, b"HTTP/1.1 100 Continue\r\n\r\n") + hrec(0, b"data") + hrec(1, ok(b"", b"")) + hrec(0, b"HEAD / HTTP/1.1\r\n\r\n") + hrec(1, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n") + hrec(1, b"HTTP/1.1 204 No Content\r\n\r\n")
    s["no-response"] = hrec(0, req + b"POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort") + hend(0) + hend(1)
    s["long-headers"] = hrec(0, b"GET /" + b"a" * 400 + b" HTTP/1.1\r\n" + b"".join(b"H%d: %s\r\n" % (i, b"v" * 100) for i in range(30)) + b"\r\n")
    s["http09-junk"] = hrec(0, b"GET /\r\n") + hrec(1, b"\x00\x01\x02 not http") + hend(1)
    s["request-gzip"] = hrec(0, b"POST /up HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz(recs)) + gz(recs)) + hrec(1, ok(b"", b""))
    s["br"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: br\r\n", br(recs)))
    s["br-chunked-gzip"] = hrec(0, req) + hrec(1, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, br\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(br(gz(recs)), 40), 29)
    s["br-corrupt"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: br\r\n", br(recs)[:30] + b"garbage" * 5))
    s["zstd"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: zstd\r\n", zst(recs)))
    s["zstd-frames-chunked"] = hrec(0, req) + hrec(1, b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(zst(recs[:100]) + zst(recs[100:]), 33), 17)
    s["zstd-bomb"] = hrec(0, req) + hrec(1, ok(b"Content-Encoding: zstd\r\n", zst(b"0" * 2000000)))
    for name, data in s.items():
        write(out, "fuzz_http", name, data)


# ---- identity ------------------------------------------------------------------

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def jwt(claims):
    return b64u(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64u(json.dumps(claims).encode()) + b"." + b64u(b"sig")


def identity_seeds(out):
    def f(h, c, j, q, body):
        return h + b"\0" + c + b"\0" + j + b"\0" + q + b"\0" + body
    s = {}
    s["all"] = f(b"E10234", b"emp=E1; SID=abc123", jwt({"sub": "u1", "user": {"id": "E77"}}), b"emp_id=E%31&x=1", b"username=alice&pw=x")
    s["basic"] = f(b"Basic " + base64.b64encode(b"alice:secret"), b"SID=\"quoted\"", b"a.b.c", b"emp_id=", b'{"user":{"name":"bob"}}')
    s["json"] = f(b"", b"", jwt({"sub": 12345}), b"", b'{"user":{"name":"carol","id":7},"x":[1,2]}')
    s["json-int"] = f(b"", b"", b"", b"", b'{"user":{"name":123456789012}}')
    s["jwt-bad"] = f(b"Basic ===", b";;;=;", b"..", b"&&&=&", b"{")
    s["jwt-big"] = f(b"x", b"emp=" + b"A" * 600, jwt({"sub": "s" * 3000}), b"emp_id=%E4%B8%AD%E6%96%87", b"username=" + b"%" * 100)
    s["utf8"] = f("王五".encode(), "emp=张三".encode(), jwt({"user": {"id": "李四"}}), "emp_id=赵六+x".encode(), "username=孙七".encode())
    s["control"] = f(b"\x01\x02E1\x7f", b"emp=\x1b[31m", b"Bearer " + jwt({"sub": "\u0000evil\n"}), b"emp_id=%00%0a", b"username=%ff%fe")
    s["trunc-utf8"] = f("测".encode()[:2], b"emp=" + "测试".encode()[:5], b"", b"emp_id=%E6%B5", b"")
    for name, data in s.items():
        write(out, "fuzz_identity", name, data)


# ---- rule files ------------------------------------------------------------------

def rules_seeds(out):
    s = {}
    pii = os.path.join(ROOT, "rules", "pii-cn.yaml")
    if os.path.exists(pii):
        with open(pii, "rb") as fp:
            data = fp.read()
        s["pii-cn"] = data
        s["pii-cn-truncated"] = data[:len(data) // 2]
        s["pii-cn-tabs"] = data.replace(b"  ", b"\t", 20)
    tdir = os.path.join(ROOT, "tests", "data", "rules")
    if os.path.isdir(tdir):
        for n in sorted(os.listdir(tdir)):
            p = os.path.join(tdir, n)
            if os.path.isfile(p) and os.path.getsize(p) < 16384:
                with open(p, "rb") as fp:
                    s["data-" + n.replace(".yaml", "")] = fp.read()
    s["empty"] = b""
    s["minimal"] = b"version: 1\npatterns:\n  - id: p\n    category: phone\n    regex: '1[3-9][0-9]{9}'\n"
    s["all-fields"] = b"""version: 1
patterns:
  - id: cn_mobile
    category: phone
    regex: '1[3-9][0-9]{9}'
    flags: [caseless, dotall]
    boundary: digit
    validator: cn_mobile
    mask: {keep_first: 3, keep_last: 2}
    max_len: 11
    value_tail: true
    record: false
  - id: addr
    category: address
    regex: 'x+'
    mask: address
identity:
  - header: X-Emp-Id
  - cookie: emp
  - query: emp_id
  - basic: Authorization
  - jwt: {header: Authorization, claim: user.id}
  - form: username
  - json: user.name
  - session: {cookie: SID, login: login}
endpoints:
  - id: login
    method: POST
    path: '^/api/login$'
  - id: waybill_query
    method: [GET, POST]
    path: '^/api/v1/waybill/'
    host: waybill.example
    waybill_param: no
"""
    s["bad-regex"] = b"patterns:\n  - id: x\n    category: phone\n    regex: '(['\n"
    s["dup-id"] = b"patterns:\n  - {id: a, category: id, regex: 'a'}\n  - {id: a, category: id, regex: 'b'}\n"
    s["anchors"] = b"base: &b {category: phone, regex: 'a+'}\npatterns:\n  - <<: *b\n    id: one\n  - *b\n"
    s["deep"] = b"patterns: " + b"[" * 300 + b"]" * 300 + b"\n"
    s["huge-numbers"] = b"patterns:\n  - {id: n, category: phone, regex: 'a', max_len: 99999999999999999999, mask: {keep_first: -1, keep_last: 4294967296}}\n"
    s["wrong-types"] = b"patterns: {id: x}\nidentity: 3\nendpoints: 'str'\nversion: [1]\n"
    s["non-utf8"] = b"patterns:\n  - id: \xff\xfe\n    regex: '\xc3\x28'\n"
    s["multi-doc"] = b"version: 1\n---\npatterns: []\n---\n...\n"
    s["null-values"] = b"patterns:\n  - id: ~\n    category:\n    regex: !!null ''\nidentity:\n  - jwt: ~\n  - session: {}\n"
    s["tags"] = b"!!map {? !!str patterns : !!seq [ !!map {id: t, category: phone, regex: 'q'} ]}\n"
    s["unknown-validator"] = b"patterns:\n  - {id: v, category: phone, regex: 'a', validator: nope}\n"
    s["session-bad-login"] = b"identity:\n  - session: {cookie: SID, login: missing}\nendpoints:\n  - {id: e, path: '('}\n"
    for name, data in s.items():
        write(out, "fuzz_rules", name, data)


# ---- matcher ---------------------------------------------------------------------

def gzip_seeds(out):
    """fuzz_gzip: [ctl][16 cut bytes][body]; bodies are gzip members."""
    text = ("".join('{"waybill":"SF%013d","phone":"%s","addr":"%s"},' % (i * 7919, PHONES[i % 4],
                                                                          ADDRS[i % 3])
                    for i in range(300))).encode()
    cuts = bytes(range(3, 19))
    one = gz(text)
    bodies = {
        "valid": one,
        "valid-small": gz(b"hello, gzip"),
        "empty": gz(b""),
        "zeros": gzip.compress(b"\0" * 60000, compresslevel=9, mtime=0),
        "two-members": one + gz(b"second member"),
        "trailing": one + b"\0\0garbage",
        "cut": one[:len(one) // 2],
        "bad-crc": one[:-8] + bytes([one[-8] ^ 0x5a]) + one[-7:],
        "not-gzip": text[:700],
    }
    for name, body in sorted(bodies.items()):
        for ctl, tag in ((0x0b, "1460"), (0x02, "tiny"), (0x1b, "hole"), (0x6b, "caps"),
                         (0x8b, "small-hold")):
            write(out, "fuzz_gzip", "%s-%s" % (name, tag), bytes([ctl]) + cuts + body)


class Unseekable(io.RawIOBase):
    """zipfile cannot seek in it: sizes go into data descriptors."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def zip_of(members, method=zipfile.ZIP_DEFLATED, stream=False, zip64=False):
    f = Unseekable() if stream else io.BytesIO()
    with zipfile.ZipFile(f, "w", method) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            with z.open(info, "w", force_zip64=zip64) as w:
                w.write(data)
    return bytes(f.buf) if stream else f.getvalue()


def zip_seeds(out):
    """fuzz_zip: [ctl][archive]; archives as an export button writes them."""
    sheet = ("<sheetData>" + "".join('<row><c><v>%s</v></c><c t="s"><v>%d</v></c></row>' % (p, i)
                                     for i, p in enumerate(PHONES)) + "</sheetData>").encode()
    strings = ("<sst>" + "".join("<si><t>%s</t></si>" % a for a in ADDRS + IDS) + "</sst>").encode()
    members = [("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", strings)]
    archives = {
        "xlsx": zip_of(members),
        "xlsx-streamed": zip_of(members, stream=True),
        "stored": zip_of(members, zipfile.ZIP_STORED),
        "zip64": zip_of(members, zip64=True),
        "bzip2": zip_of(members, zipfile.ZIP_BZIP2),
        "bzip2-streamed": zip_of(members, zipfile.ZIP_BZIP2, stream=True),
        "cut": zip_of(members)[:300],
        "bomb": zip_of([("zeros.xml", b"0" * 500000)]),
    }
    for name, a in sorted(archives.items()):
        for ctl, tag in ((0x0b, "1460"), (0x00, "bytewise"), (0x73, "caps"), (0x8a, "hole")):
            write(out, "fuzz_zip", "%s-%s" % (name, tag), bytes([ctl]) + a)


def match_seeds(out):
    def m(seed, text):
        return struct.pack("!I", seed) + (text.encode() if isinstance(text, str) else text)
    s = {}
    s["phones"] = m(1, " ".join(PHONES))
    s["phones-bound"] = m(2, "x%sy 9%s %s0 (%s)" % (PHONES[0], PHONES[1], PHONES[2], PHONES[3]))
    s["ids"] = m(3, ",".join(IDS) + " " + IDS[0][:17] + "0 " + IDS[1].replace(IDS[1][-1], "X"))
    s["addrs"] = m(4, "；".join(ADDRS))
    s["waybills"] = m(5, " ".join(WAYBILLS) + " YT12345 JD0012345678901")
    s["json"] = m(6, json.dumps([{"phone": p, "id": i, "addr": a, "waybillNo": w}
                                 for p, i, a, w in zip(PHONES, IDS, ADDRS, WAYBILLS)], ensure_ascii=False))
    s["landline"] = m(7, "010-62345678 0755 23456789 02112345678")
    s["masked"] = m(8, "138******78 110105********123X")
    s["binary"] = m(9, bytes(range(256)) + PHONES[0].encode() + b"\xe5\x8f" + ADDRS[0].encode()[:7])
    s["dense"] = m(10, "1" * 200 + PHONES[0] * 5)
    s["split-utf8"] = m(0x01020304, ADDRS[1].encode() + b"\xe4\xb8" + ADDRS[2].encode())
    for name, data in s.items():
        write(out, "fuzz_match", name, data)


# ---- capture files -----------------------------------------------------------------

def pcap_file(pkts, dlt=1, snap=65535):
    b = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snap, dlt)
    for i, p in enumerate(pkts):
        ts = 1700000000 + i // 100
        b += struct.pack("<IIII", ts, (i % 100) * 10000, len(p), len(p)) + p
    return b


def tcp_flow(c2s, s2c, cport=40000, sport=80, mss=1200, order=None):
    """Ethernet packets of a TCP connection sending c2s then s2c."""
    pk = []
    cs, ss = 1000, 5000
    pk.append(eth(ip4(A, B, 6, tcp(A, B, cport, sport, cs, 0, SYN))))
    pk.append(eth(ip4(B, A, 6, tcp(B, A, sport, cport, ss, cs + 1, SYN | ACK))))
    pk.append(eth(ip4(A, B, 6, tcp(A, B, cport, sport, cs + 1, ss + 1, ACK))))
    cs += 1
    ss += 1
    for data, fwd in ((c2s, True), (s2c, False)):
        segs = []
        for i in range(0, len(data), mss):
            d = data[i:i + mss]
            if fwd:
                segs.append(eth(ip4(A, B, 6, tcp(A, B, cport, sport, cs + i, ss, ACK | PSH, d))))
            else:
                segs.append(eth(ip4(B, A, 6, tcp(B, A, sport, cport, ss + i, cs, ACK | PSH, d))))
        if order == "reverse":
            segs.reverse()
        pk += segs
        if fwd:
            cs += len(data)
        else:
            ss += len(data)
    pk.append(eth(ip4(A, B, 6, tcp(A, B, cport, sport, cs, ss, FIN | ACK))))
    pk.append(eth(ip4(B, A, 6, tcp(B, A, sport, cport, ss, cs + 1, FIN | ACK))))
    pk.append(eth(ip4(A, B, 6, tcp(A, B, cport, sport, cs + 1, ss + 1, ACK))))
    return pk


def read_pcap_packets(path, limit):
    """(dlt, packet bytes) of the first packets of a classic pcap, else []."""
    with open(path, "rb") as fp:
        data = fp.read(1 << 20)
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    dlt = struct.unpack(e + "I", data[20:24])[0] & 0xffff
    out, off = [], 24
    while len(out) < limit and off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if incl > 65535 or off + 16 + incl > len(data):
            break
        out.append((dlt, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def trim_capture(data):
    """The file cut after its last whole packet (or block) before TRIM bytes."""
    if len(data) <= TRIM:
        return data
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":  # pcapng: whole blocks
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off = 0
        while off + 12 <= len(data):
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            if blen < 12 or off + blen > TRIM:
                break
            off += blen
        return data[:off]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > TRIM:
            break
        off += 16 + incl
    return data[:off]


def real_sample(real):
    """A deterministic, varied sample of the shared real captures."""
    man = os.path.join(real, "manifest.tsv")
    if not os.path.exists(man):
        return []
    rows = []
    with open(man, encoding="utf-8") as fp:
        head = fp.readline().rstrip("\n").split("\t")
        for line in fp:
            rows.append(dict(zip(head, line.rstrip("\n").split("\t"))))
    chosen = {}

    def pick(row):
        chosen.setdefault(row["path"], row)

    rows.sort(key=lambda r: (int(r["bytes"]), r["path"]))
    kinds = {}
    for r in rows:  # the smallest of each link type and format
        kinds.setdefault((r["format"], r["linktype"]), r)
    for r in kinds.values():
        pick(r)
    wanted = [("http", 10), ("ipv6", 3), ("vlan", 2), ("mpls", 1), ("pppoe", 1), ("gre", 1),
              ("dns", 2), ("tls", 2), ("mysql", 1), ("pgsql", 1), ("smtp", 1), ("ftp", 1),
              ("data-text-lines", 2), ("json", 1)]
    for proto, n in wanted:
        got = 0
        for r in rows:
            if got == n:
                break
            if proto in r.get("protocols_seen_by_tshark", "").split() and int(r["bytes"]) > 400:
                if r["path"] not in chosen:
                    pick(r)
                    got += 1
    extra = {"frag": 16, "evader": 24}
    for r in rows:  # on purpose broken ones, fragments, HTTP evasions
        p = r["path"]
        if r.get("libpcap", "ok") != "ok":
            pick(r)
        for word in extra:
            if word in p.lower() and extra[word] > 0 and p not in chosen:
                pick(r)
                extra[word] -= 1
    return sorted(chosen)


def pcap_seeds(out, real, pcaps):
    recs = json.dumps([{"phone": p, "id": i, "addr": a, "waybillNo": w}
                       for p, i, a, w in zip(PHONES, IDS, ADDRS, WAYBILLS)], ensure_ascii=False).encode()
    req = b"GET /api/v1/waybill/search?no=YT1234567890123 HTTP/1.1\r\nHost: waybill.example\r\nX-Emp-Id: E10234\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(recs) + recs
    zresp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(gz(recs), 100)
    write(out, "fuzz_pcap", "gen-http", pcap_file(tcp_flow(req, resp)))
    write(out, "fuzz_pcap", "gen-http-tiny-segs", pcap_file(tcp_flow(req, resp, mss=7)))
    write(out, "fuzz_pcap", "gen-http-reverse", pcap_file(tcp_flow(req, zresp, mss=60, order="reverse")))
    write(out, "fuzz_pcap", "gen-raw-tcp", pcap_file(tcp_flow(b"hello", recs, sport=9999, mss=100)))
    auth = "Bearer ".encode() + jwt({"sub": "E555"})
    login = b"POST /api/login HTTP/1.1\r\nHost: a\r\nAuthorization: " + auth + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\nusername=alice"
    write(out, "fuzz_pcap", "gen-login", pcap_file(tcp_flow(login, b"HTTP/1.1 200 OK\r\nSet-Cookie: SID=abc\r\nContent-Length: 0\r\n\r\n")))
    fr = [eth(f) for f in frags4(udp(A, B, 1000, 2000, recs), 64, 5)]
    write(out, "fuzz_pcap", "gen-frags", pcap_file(list(reversed(fr))))
    v6 = [eth(ip6(A6, B6, 6, tcp(A6, B6, 1234, 80, 1, 0, SYN, v6=True)), 0x86dd),
          eth(ip6(A6, B6, 6, tcp(A6, B6, 1234, 80, 2, 0, ACK, req, v6=True)), 0x86dd)]
    write(out, "fuzz_pcap", "gen-ipv6", pcap_file(v6))
    write(out, "fuzz_pcap", "gen-raw-dlt", pcap_file([ip4(A, B, 17, udp(A, B, 1, 2, recs[:200]))], dlt=101))
    write(out, "fuzz_pcap", "gen-empty", pcap_file([]))
    write(out, "fuzz_pcap", "gen-header-only", pcap_file([])[:12])
    n = 0
    if pcaps and os.path.isdir(pcaps):
        for name in sorted(os.listdir(pcaps)):
            p = os.path.join(pcaps, name)
            if name.endswith((".pcap", ".pcapng")) and os.path.isfile(p) and n < 12:
                with open(p, "rb") as fp:
                    write(out, "fuzz_pcap", "proj-" + name, trim_capture(fp.read()))
                n += 1
    real_pkts = []
    for rel in real_sample(real) if real else []:
        p = os.path.join(real, rel)
        with open(p, "rb") as fp:
            data = fp.read()
        safe = rel.replace("/", "_")[-60:]
        write(out, "fuzz_pcap", "real-" + safe, trim_capture(data))
        real_pkts += read_pcap_packets(p, 3)
    return real_pkts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--real", default=os.path.join(os.path.dirname(ROOT), "shared", "pcaps-real"))
    ap.add_argument("--pcaps", default=os.path.join(ROOT, "pcaps"))
    a = ap.parse_args()
    real_pkts = pcap_seeds(a.out, a.real, a.pcaps)
    decode_seeds(a.out, real_pkts)
    reasm_seeds(a.out)
    http_seeds(a.out)
    gzip_seeds(a.out)
    zip_seeds(a.out)
    identity_seeds(a.out)
    rules_seeds(a.out)
    match_seeds(a.out)
    total = 0
    for dp, _, fs in os.walk(a.out):
        for f in fs:
            total += os.path.getsize(os.path.join(dp, f))
    print("make-seeds: %s: %d bytes" % (a.out, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
