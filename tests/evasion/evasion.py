#!/usr/bin/env python3
"""evasion.py - records must survive evasions of the wire, of HTTP and of
their own spelling.

  evasion.py EXE SRC CASE [--keep DIR]     run one case (exit 1 on a failure)
  evasion.py EXE SRC all                   run every case
  evasion.py list                          the case names
  evasion.py check-list CASE...            fail unless CASE... are exactly the cases

Each case crafts two captures (craft.py): the evasive one, and a reference
that carries the records the evasive one must yield, sent plainly (one
segment per 1400 bytes, in order, Content-Length bodies, no encoding). Both
are replayed by the real sensor with the shipped rules, the same site key
and --event-fingerprints 100000, and then:
  - the reference must hold exactly the records the case names (so the
    comparison is not between two empty sets);
  - the evasive capture's http events, in order, must name the same
    accounts (header X-Emp-Id, rules/courier-api.yaml) and carry the same
    record counts and fingerprint sets as the reference's;
  - its flow event's records (each direction) must equal the reference's;
  - the case's own counters (checksums, fragments, overlaps) must hold.
Where two copies of the same bytes differ, the copy that must lose carries
other valid records (LOSER_*): had it won, the fingerprint sets would differ.
Nothing raw is printed: counts and fingerprints only.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from craft import ACK, C2S, PSH, S2C, URG, Conn, Pcap, shuffled  # noqa: E402

SITE_KEY = "evasion-test-site-key-0123456789"
HOST = "waybill.corp.example:8080"
ACCOUNT = "E20777"

# valid records: allocated mobile prefixes, GB 11643 check characters
PHONES = ["13812345678", "15987654321", "18612340001", "17755501234", "19923456789"]
IDS = ["110105198503120426", "310104199006071518", "11010519491231002X"]
WAYBILLS = ["YT1234567890123", "YT9876543210987", "SF1234567890123", "JT0001112223334"]
# what a losing copy carries instead (as valid as the originals)
LOSER_PHONE, LOSER_ID, LOSER_WAYBILL = "13698765432", "320102198808081237", "YT3141592653589"

ALL = {"phone": 5, "id": 3, "waybill": 4}


def ident(s):
    return s


def records_body(phone=ident, idno=ident, waybill=ident, phones=PHONES, ids=IDS,
                 waybills=WAYBILLS):
    """A waybill-search response body: row i holds the i-th phone, ID and
    waybill, where there are that many. The formatters spell each value."""
    rows = []
    for i in range(max(len(phones), len(ids), len(waybills))):
        row = '{"seq":%d' % (i + 1)
        if i < len(phones):
            row += ',"receiverPhone":"%s"' % phone(phones[i])
        if i < len(ids):
            row += ',"receiverIdNo":"%s"' % idno(ids[i])
        if i < len(waybills):
            row += ',"waybillNo":"%s"' % waybill(waybills[i])
        rows.append(row + ',"status":"delivered"}')
    return ('{"code":0,"total":%d,"rows":[%s]}' % (len(rows), ",".join(rows))).encode()


def request(method="POST", target="/api/v1/waybill/search", body=b'{"page":1,"size":20}',
            account=ACCOUNT, extra=b"", ctype=b"application/json"):
    head = (b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: WaybillClient/3.8\r\nX-Emp-Id: %s\r\n"
            % (method.encode(), target.encode(), HOST.encode(), account.encode()))
    if body:
        head += b"Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(body))
    return head + extra + b"\r\n" + body


def response(body, headers=None):
    """200 with body framed by Content-Length unless headers say otherwise."""
    if headers is None:
        headers = b"Content-Length: %d\r\n" % len(body)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n" + headers
            + b"\r\n" + body)


def plain_capture(path, exchanges, **conn):
    """The reference: each (request, response) sent in order, 1400-byte segments."""
    pc = Pcap(path)
    c = Conn(pc, **conn)
    c.handshake()
    for req, resp in exchanges:
        c.stream(C2S, req)
        c.stream(S2C, resp)
    c.close()
    pc.close()


def swap(data, pairs):
    """data with each (old, new) value replaced by a same-length other value."""
    for old, new in pairs:
        assert len(old) == len(new) and old.encode() in data
        data = data.replace(old.encode(), new.encode())
    return data


def chunked(body, size, size_fmt=b"%x", last=b"0"):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += (size_fmt % len(piece)) + b"\r\n" + piece + b"\r\n"
    return out + last + b"\r\n\r\n"


# ---- the cases: each writes the evasive capture, returns what to expect ----
#
# A case returns a dict:
#   ref: (request, response) pairs of the reference capture
#   conn: Conn keyword arguments for the reference (addresses, VLANs)
#   counts: the reference's records per http event, in order
#   stats: [(dotted stats path, comparison, value)] on the evasive run
#   http_flags: [(event index, flag)] that must be set on the evasive run


def case_tiny_segments(path):
    """Every byte of both directions in 1-3 byte segments, in order."""
    req, resp = request(), response(records_body())
    pc = Pcap(path, step_us=100)
    c = Conn(pc)
    c.handshake()
    for d, data, sizes in ((C2S, req, [1, 2, 3]), (S2C, resp, [3, 1, 2])):
        for seq, piece in c.cut(d, data, sizes):
            c.send(d, seq, piece)
    c.close()
    pc.close()
    return {"ref": [(req, resp)], "counts": [ALL],
            "stats": [("tcp.out_of_order", "==", 0), ("tcp.gaps", "==", 0)]}


def case_out_of_order(path):
    """1-3 byte segments in random order, one in eight sent twice."""
    req, resp = request(), response(records_body())
    pc = Pcap(path, step_us=100)
    c = Conn(pc)
    c.handshake()
    for d, data, sizes, seed in ((C2S, req, [2, 1, 3], 1), (S2C, resp, [1, 3, 2], 2)):
        segs = c.cut(d, data, sizes)
        segs += segs[::8]  # identical duplicates
        for seq, piece in shuffled(segs, seed):
            c.send(d, seq, piece)
    c.close()
    pc.close()
    return {"ref": [(req, resp)], "counts": [ALL],
            "stats": [("tcp.out_of_order", ">", 100), ("tcp.gaps", "==", 0),
                      ("tcp.overlap_diff", "==", 0)]}


def overlap_capture(path, first, second):
    """first's bytes arrive first everywhere; second, with other records at
    the same places, arrives later as overlapping copies: (a) a segment
    wholly behind the delivered edge, (b) one straddling it, (c) one
    overlapping a held out-of-order segment and filling the hole before it."""
    req = request()
    assert len(first) == len(second)
    pc = Pcap(path)
    c = Conn(pc)
    c.handshake()
    c.stream(C2S, req)
    base = c.nxt[S2C]
    c.nxt[S2C] += len(first)
    p = first.find(b"receiverPhone") + 16  # the first phone's digits
    w = first.find(b'"waybillNo"', first.find(b'"seq":2')) + 13  # the second waybill's
    assert 0 < p < w and first[p:p + 11] != second[p:p + 11]
    assert first[w:w + 15] != second[w:w + 15]

    def seg(src, lo, hi):
        c.send(S2C, base + lo, src[lo:hi])

    seg(first, 0, p - 20)
    seg(first, p - 20, p + 4)
    seg(first, p + 4, p + 11)            # the first phone delivered
    seg(second, p - 5, p + 11)           # (a) wholly behind the edge, other digits
    seg(second, p - 2, p + 30)           # (b) straddles the edge: only [p+11, p+30) is new
    seg(first, w - 3, w + 18)            # held: the second waybill
    seg(second, w - 12, w + 15)          # (c) overlaps it with other digits
    for lo in range(p + 30, len(first), 16):
        seg(first, lo, min(lo + 16, len(first)))
    c.close()
    pc.close()
    return req


def case_overlap_first_wins(path):
    """Retransmissions carrying different bytes: the first copy wins."""
    good = response(records_body())
    bad = swap(good, [(PHONES[0], LOSER_PHONE), (WAYBILLS[1], LOSER_WAYBILL)])
    req = overlap_capture(path, good, bad)
    return {"ref": [(req, good)], "counts": [ALL],
            "stats": [("tcp.retransmits", ">=", 1), ("tcp.overlaps", ">=", 2),
                      ("tcp.overlap_diff", ">=", 1), ("tcp.gaps", "==", 0)]}


def case_overlap_first_wins_reverse(path):
    """The same with the copies' roles swapped: whatever the first copy
    says counts, so now the loser's records count and the originals do not."""
    good = response(records_body())
    bad = swap(good, [(PHONES[0], LOSER_PHONE), (WAYBILLS[1], LOSER_WAYBILL)])
    req = overlap_capture(path, bad, good)
    return {"ref": [(req, bad)], "counts": [ALL],
            "stats": [("tcp.overlap_diff", ">=", 1), ("tcp.gaps", "==", 0)]}


def frag_capture(path, v6):
    """Every data segment (200-byte segments) as 8-byte IP fragments sent in
    random order; the segment holding the first phone also gets, before its
    last fragment, an overlapping fragment with other digits (first wins)."""
    req, resp = request(), response(records_body())
    addrs = {"client": "fd00:20::7", "server": "fd00::5"} if v6 else {}
    pc = Pcap(path, step_us=100)
    c = Conn(pc, **addrs)
    c.handshake()
    ident = 4000
    overlapped = 0
    for d, data in ((C2S, req), (S2C, resp)):
        for seq, piece in c.cut(d, data, [200]):
            l4, frags = c.fragments(d, seq, piece)
            ident += 1
            frames = c.frag_frames(d, frags, ident)
            order = shuffled(range(len(frames)), ident)
            at = piece.find(PHONES[0].encode())
            if d == S2C and at >= 0 and not overlapped:
                overlapped = 1
                o = (20 + at) // 8 * 8  # the fragment holding the phone's first digit
                alt = swap(l4, [(PHONES[0], LOSER_PHONE)])[o:o + 24]
                # more fragments follow (24 < what is left of the segment)
                assert o + 24 < len(l4)
                extra = c.frag_frames(d, [(o, alt, True)], ident)[0]
                # every original fragment first, except one outside the
                # overlapped range, which completes the datagram after it
                last = next(i for i in reversed(order) if not o - 8 < frags[i][0] < o + 24)
                order.remove(last)
                order.append(last)
                for i in order[:-1]:
                    pc.add(frames[i])
                pc.add(extra)
                pc.add(frames[order[-1]])
            else:
                for i in order:
                    pc.add(frames[i])
            c.send(1 - d, c.nxt[1 - d], flags=ACK)
    assert overlapped
    c.close()
    pc.close()
    return {"ref": [(req, resp)], "conn": addrs, "counts": [ALL],
            "stats": [("decoder.event.frag_reassembled", ">=", 5),
                      ("decoder.event.frag_overlap", "==", 1),
                      ("decoder.event.frag_timeout", "==", 0),
                      ("decoder.event.tcp_bad_csum", "==", 0)]}


def case_ipv4_fragments(path):
    return frag_capture(path, False)


def case_ipv6_fragments(path):
    return frag_capture(path, True)


def case_urgent(path):
    """URG segments: the urgent pointer names a byte inside a phone number.
    Policy: urgent data is inline (stream bytes like any other)."""
    req, resp = request(), response(records_body())
    pc = Pcap(path)
    c = Conn(pc)
    c.handshake()
    for seq, piece in c.cut(C2S, req, [40]):
        c.send(C2S, seq, piece, flags=PSH | ACK | URG, urg=len(piece))
    urgent = 0
    for seq, piece in c.cut(S2C, resp, [64]):
        starts = [piece.find(v.encode()) for v in PHONES + IDS + WAYBILLS]
        starts = [a for a in starts if 0 <= a and a + 5 < len(piece)]
        if starts:
            # BSD/Linux: the urgent byte is seq + urg - 1, here a record's
            # sixth character; a receiver without SO_OOBINLINE would take it
            # out of the stream, we keep it in
            c.send(S2C, seq, piece, flags=PSH | ACK | URG, urg=min(starts) + 6)
            urgent += 1
        else:
            c.send(S2C, seq, piece)
    assert urgent >= 3
    c.close()
    pc.close()
    return {"ref": [(req, resp)], "counts": [ALL], "stats": [("tcp.gaps", "==", 0)]}


def case_bad_checksum(path):
    """Before three good segments, a copy with a bad TCP checksum carrying
    other records; one more bad copy arrives ahead of its turn. None may
    count, and none may stop the good copy from counting."""
    req = request()
    good = response(records_body())
    bad = swap(good, [(PHONES[0], LOSER_PHONE), (IDS[1], LOSER_ID), (WAYBILLS[2], LOSER_WAYBILL)])
    pc = Pcap(path)
    c = Conn(pc)
    c.handshake()
    c.stream(C2S, req)
    base = c.nxt[S2C]
    segs = c.cut(S2C, good, [100])
    targets = {good.find(v.encode()) // 100 for v in (PHONES[0], IDS[1], WAYBILLS[2])}
    nbad = 0
    for i, (seq, piece) in enumerate(segs):
        if i == 1:  # a bad copy far ahead of its turn
            k = len(segs) - 1
            c.send(S2C, segs[k][0], bad[k * 100:k * 100 + 100], bad_csum=True)
            nbad += 1
        if i in targets:
            c.send(S2C, seq, bad[seq - base:seq - base + len(piece)], bad_csum=True)
            nbad += 1
        c.send(S2C, seq, piece)
    c.close()
    pc.close()
    assert nbad == 4
    return {"ref": [(req, good)], "counts": [ALL],
            "stats": [("decoder.event.tcp_bad_csum", "==", nbad),
                      ("tcp.overlap_diff", "==", 0), ("tcp.retransmits", "==", 0)]}


def case_vlan_qinq(path):
    """QinQ: an 802.1ad outer tag and an 802.1Q inner tag on every frame."""
    req, resp = request(), response(records_body())
    conn = {"vlans": (100, 200)}
    plain_capture(path, [(req, resp)], **conn)
    return {"ref": [(req, resp)], "conn": conn, "counts": [ALL],
            "stats": [("decoder.vlan", ">", 0)], "vlan": [100]}


def case_ipv6(path):
    req, resp = request(), response(records_body())
    conn = {"client": "fd00:20::7", "server": "fd00::5"}
    plain_capture(path, [(req, resp)], **conn)
    return {"ref": [(req, resp)], "conn": conn, "counts": [ALL],
            "stats": [("decoder.ipv6", ">", 0), ("decoder.ipv4", "==", 0)]}


def rst_capture(path, pause_us):
    """Forged RSTs and FINs the receivers would not act on: the shapes of
    suricata-verify bug-3286 and security-4710 (a server RST+ACK and FIN
    before its SYN-ACK, a client RST at exactly ISN+1 before any data), then
    in the middle of the response RSTs behind the data, one byte and 1000
    bytes ahead of it (nothing held there): RFC 5961 receivers ignore all of
    them. pause_us of server think time follows the last one."""
    req, resp = request(), response(records_body())
    pc = Pcap(path)
    c = Conn(pc)
    c.send(C2S, c.isn[0], flags=0x02, ack=0)                # SYN
    c.send(S2C, 0, flags=0x04 | ACK, ack=c.nxt[C2S])        # RST+ACK seq 0
    c.send(S2C, 0, flags=0x01 | ACK, ack=c.nxt[C2S])        # FIN+ACK seq 0
    c.send(C2S, c.nxt[C2S], flags=0x04, ack=0)              # client RST, no data yet
    c.send(S2C, c.isn[1], flags=0x02 | ACK)                 # SYN-ACK
    c.send(C2S, c.nxt[C2S], flags=ACK)
    c.stream(C2S, req)
    segs = c.cut(S2C, resp, [120])
    half = len(segs) // 2
    for seq, piece in segs[:half]:
        c.send(S2C, seq, piece)
    edge = segs[half][0]
    for off in (-100, 1, 1000):
        c.send(S2C, edge + off, flags=0x04 | ACK)
    pc.ts += pause_us
    for seq, piece in segs[half:]:
        c.send(S2C, seq, piece)
    c.close()
    pc.close()
    return {"ref": [(req, resp)], "counts": [ALL],
            "stats": [("tcp.rst_ignored", "==", 5), ("tcp.out_of_window", "==", 1),
                      ("tcp.after_close", "==", 0), ("tcp.gaps", "==", 0)]}


def case_forged_rst(path):
    return rst_capture(path, 0)


def case_forged_rst_pause(path):
    """The same, with 15 s of server think time after the forged RSTs
    (longer than the flow table's 10 s timeout for closed flows)."""
    return rst_capture(path, 15_000_000)


# ---- HTTP ------------------------------------------------------------------


def http_case(path, exchanges, mss=1400):
    pc = Pcap(path)
    c = Conn(pc)
    c.handshake()
    for req, resp in exchanges:
        c.stream(C2S, req, mss)
        c.stream(S2C, resp, mss)
    c.close()
    pc.close()


def case_chunked_leading_zeros(path):
    """Chunk sizes with leading zeros and extensions, last chunk 000 with one."""
    body = records_body()
    wire = chunked(body, 37, size_fmt=b'0000%x;ext=1;name="v w"', last=b"000;end=1")
    req = request()
    http_case(path, [(req, response(wire, b"Transfer-Encoding: chunked\r\n"))])
    return {"ref": [(req, response(body))], "counts": [ALL], "http_flags": [(0, "chunked")],
            "stats": [("http.parse_errors", "==", 0)]}


def case_te_and_cl(path):
    """Transfer-Encoding: chunked and a Content-Length that disagrees: chunked
    wins (RFC 9112 6.3), so records past the claimed length still count."""
    body = records_body()
    wire = chunked(body, 50)
    req = request()
    http_case(path, [(req, response(wire, b"Content-Length: 20\r\nTransfer-Encoding: chunked\r\n"))])
    return {"ref": [(req, response(body))], "counts": [ALL], "http_flags": [(0, "chunked")],
            "stats": [("http.parse_errors", "==", 0)]}


def case_content_encoding_layers(path):
    """Content-Encoding: gzip, deflate (gzip applied first), chunked on top."""
    body = records_body()
    wire = zlib.compress(gzip.compress(body, mtime=0))
    req = request()
    http_case(path, [(req, response(chunked(wire, 40),
                                    b"Content-Encoding: gzip, deflate\r\n"
                                    b"Transfer-Encoding: chunked\r\n"))])
    return {"ref": [(req, response(body))], "counts": [ALL],
            "http_flags": [(0, "gzip"), (0, "deflate")],
            "stats": [("http.decode_failed", "==", 0)]}


def case_gzip_members(path):
    """Three gzip members back to back, the cuts inside a phone and an ID."""
    body = records_body()
    a = body.find(PHONES[1].encode()) + 5
    b = body.find(IDS[2].encode()) + 9
    wire = b"".join(gzip.compress(x, mtime=0) for x in (body[:a], body[a:b], body[b:]))
    req = request()
    http_case(path, [(req, response(wire, b"Content-Encoding: gzip\r\nContent-Length: %d\r\n"
                                    % len(wire)))])
    return {"ref": [(req, response(body))], "counts": [ALL], "http_flags": [(0, "gzip")],
            "stats": [("http.decode_failed", "==", 0)]}


def pipelined_exchanges():
    bodies = [records_body(phones=PHONES[:2], ids=[], waybills=[]),
              records_body(phones=PHONES[2:3], ids=IDS, waybills=[]),
              records_body(phones=PHONES[3:], ids=[], waybills=WAYBILLS)]
    accounts = ["E20777", "E20778", "E20779"]
    reqs = [request(account=a, body=b'{"page":%d}' % (i + 1)) for i, a in enumerate(accounts)]
    return list(zip(reqs, [response(b) for b in bodies]))


def case_pipelined(path):
    """Three requests (three accounts) in one segment, three responses in one
    segment: each transaction keeps its own account and records."""
    ex = pipelined_exchanges()
    pc = Pcap(path)
    c = Conn(pc)
    c.handshake()
    reqs = b"".join(r for r, _ in ex)
    c.send(C2S, c.cut(C2S, reqs, [len(reqs)])[0][0], reqs)
    resps = b"".join(r for _, r in ex)
    c.send(S2C, c.cut(S2C, resps, [len(resps)])[0][0], resps)
    c.close()
    pc.close()
    return {"ref": ex, "counts": [{"phone": 2}, {"phone": 1, "id": 3}, {"phone": 2, "waybill": 4}],
            "accounts": ["E20777", "E20778", "E20779"]}


def case_header_folding(path):
    """obs-fold (RFC 9112 5.2): the identity header and Content-Encoding
    continued on the next line."""
    body = records_body()
    wire = gzip.compress(body, mtime=0)
    req = (b"POST /api/v1/waybill/search HTTP/1.1\r\nHost: %s\r\nX-Emp-Id:\r\n %s\r\n"
           b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
           % (HOST.encode(), ACCOUNT.encode()))
    resp = response(wire, b"Content-Encoding:\r\n\tgzip\r\nContent-Length: %d\r\n" % len(wire))
    http_case(path, [(req, resp)])
    return {"ref": [(request(body=b"{}"), response(body))], "counts": [ALL],
            "http_flags": [(0, "gzip")]}


def case_mixed_case_headers(path):
    """Header names (and coding names) in odd cases."""
    body = records_body()
    wire = gzip.compress(body, mtime=0)
    req = (b"POST /api/v1/waybill/search HTTP/1.1\r\nhOST: %s\r\nx-EMP-iD: %s\r\n"
           b"CONTENT-TYPE: application/json\r\ncontent-length: 2\r\n\r\n{}"
           % (HOST.encode(), ACCOUNT.encode()))
    resp = response(chunked(wire, 30),
                    b"CONTENT-encoding: GZip\r\ntransfer-ENCODING: Chunked\r\n")
    http_case(path, [(req, resp)])
    return {"ref": [(request(body=b"{}"), response(body))], "counts": [ALL],
            "http_flags": [(0, "gzip"), (0, "chunked")]}


# ---- spellings of the records themselves -------------------------------------


def u_escape(s):
    """Every ASCII digit and letter as a JSON \\uXXXX escape."""
    return "".join("\\u%04X" % ord(ch) if ch.isalnum() else ch for ch in s)


def u_escape_digits_lower(s):
    return "".join("\\u%04x" % ord(ch) if ch.isdigit() else ch for ch in s)


def fullwidth(s):
    """Digits (and X) as their full-width forms U+FF10-FF19 (U+FF38)."""
    return "".join(chr(0xFF10 + int(ch)) if ch.isdigit() else ("\uff38" if ch == "X" else ch)
                   for ch in s)


def encoded_body_case(path, **fmt):
    body = records_body(**fmt)
    req = request()
    http_case(path, [(req, response(body))])
    return {"ref": [(req, response(records_body()))], "counts": [ALL]}


def case_json_unicode_escapes(path):
    """JSON \\u escapes: phones and IDs with every digit escaped (upper-case
    hex), waybills with every character escaped (lower-case hex on digits)."""
    return encoded_body_case(path, phone=u_escape, idno=u_escape_digits_lower, waybill=u_escape)


def case_fullwidth_digits(path):
    """Full-width digits (UTF-8) in phones, IDs and waybill numbers."""
    return encoded_body_case(path, phone=fullwidth, idno=fullwidth, waybill=fullwidth)


def case_escapes_in_tiny_segments(path):
    """Escaped and full-width records in 1-3 byte segments, so escapes and
    multi-byte characters are cut between segments."""
    body = records_body(phone=u_escape, idno=fullwidth, waybill=u_escape_digits_lower)
    req = request()
    pc = Pcap(path, step_us=100)
    c = Conn(pc)
    c.handshake()
    c.stream(C2S, req)
    for seq, piece in c.cut(S2C, response(body), [1, 3, 2]):
        c.send(S2C, seq, piece)
    c.close()
    pc.close()
    return {"ref": [(req, response(records_body()))], "counts": [ALL]}


def case_phone_separators(path):
    """Phones written 138-1234-5678, 138 1234 5678, +86 ..., 0086-..."""
    forms = iter(["{a}-{b}-{c}", "{a} {b} {c}", "+86 {a} {b} {c}", "+86{a}{b}{c}",
                  "0086-{a}-{b}-{c}"])

    def sep(p):
        return next(forms).format(a=p[:3], b=p[3:7], c=p[7:])

    return encoded_body_case(path, phone=sep)


def pct(s):
    return "".join("%%%02X" % ord(ch) for ch in s)


def pct_lower_digits(s):
    return "".join("%%%02x" % ord(ch) if ch.isdigit() else ch for ch in s)


def case_percent_encoding(path):
    """Percent-encoded records in a query string and in a form body."""
    def get(fmt):
        return request(method="GET", body=b"", target="/api/v1/waybill?no=%s&mobile=%s&idNo=%s"
                       % (fmt(WAYBILLS[0]), fmt(PHONES[0]), fmt(IDS[0])))

    def form(fmt):
        body = "&".join("mobile=" + fmt(p) for p in PHONES[1:]) + "&" + "&".join(
            "idNo=" + fmt(i) for i in IDS[1:]) + "&" + "&".join(
            "waybillNo=" + fmt(w) for w in WAYBILLS[1:])
        return request(body=body.encode(), ctype=b"application/x-www-form-urlencoded")

    done = response(b'{"code":0}')
    http_case(path, [(get(pct), done), (form(pct_lower_digits), done)])
    return {"ref": [(get(ident), done), (form(ident), done)],
            "counts": [{"phone": 1, "id": 1, "waybill": 1}, {"phone": 4, "id": 2, "waybill": 3}]}


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}

# ---- running and comparing -----------------------------------------------------


def run_sensor(exe, src, pcap, out):
    cmd = [exe, "-q", "--stats-interval", "0", "-R", os.path.join(src, "rules"), "-o", out,
           "--event-fingerprints", "100000", "-r", pcap]
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env=dict(os.environ, LEAKHOUND_SITE_KEY=SITE_KEY))
    if p.returncode != 0:
        raise RuntimeError(f"sensor exited {p.returncode}: {p.stderr.strip()[:500]}")
    events = [json.loads(line) for line in open(os.path.join(out, "eve.json"), encoding="utf-8")]
    https = [e for e in events if e["event_type"] == "http"]
    flows = [e for e in events if e["event_type"] == "flow" and e["proto"] == "TCP"]
    stats = [e for e in events if e["event_type"] == "stats"]
    return https, flows, stats[-1]["stats"] if stats else {}


def fp_sets(rec):
    return {cat: set(v) for cat, v in rec.get("fingerprints", {}).items()}


def stat(stats, path):
    v = stats
    for k in path.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    return v


OPS = {"==": lambda a, b: a == b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def check_case(name, exe, src, work):
    fails = []
    ev_pcap = os.path.join(work, name + ".pcap")
    ref_pcap = os.path.join(work, name + ".ref.pcap")
    spec = CASES[name](ev_pcap)
    plain_capture(ref_pcap, spec["ref"], **spec.get("conn", {}))
    ev_http, ev_flows, ev_stats = run_sensor(exe, src, ev_pcap, os.path.join(work, "ev"))
    ref_http, ref_flows, _ = run_sensor(exe, src, ref_pcap, os.path.join(work, "ref"))
    accounts = spec.get("accounts", [ACCOUNT] * len(spec["counts"]))

    # the reference holds what the case says it holds
    if len(ref_http) != len(spec["counts"]):
        fails.append(f"reference: {len(ref_http)} http events, want {len(spec['counts'])}")
    for i, (e, want) in enumerate(zip(ref_http, spec["counts"])):
        got = e.get("records", {}).get("counts", {})
        if got != want:
            fails.append(f"reference http[{i}]: records {got}, want {want}")

    # the evasive capture yields the same, attributed the same
    if len(ev_http) != len(ref_http):
        fails.append(f"{len(ev_http)} http events, reference {len(ref_http)}")
    for i, (e, r) in enumerate(zip(ev_http, ref_http)):
        acct = e.get("account", {})
        if acct.get("id") != accounts[i] or acct.get("via") != "header:X-Emp-Id":
            fails.append(f"http[{i}]: account {acct.get('id')} via {acct.get('via')}, "
                         f"want {accounts[i]} via header:X-Emp-Id")
        got, want = e.get("records", {}), r.get("records", {})
        if got.get("counts", {}) != want.get("counts", {}):
            fails.append(f"http[{i}]: records {got.get('counts', {})}, "
                         f"reference {want.get('counts', {})}")
        elif fp_sets(got) != fp_sets(want):
            fails.append(f"http[{i}]: same counts but other fingerprints")
    for i, flag in spec.get("http_flags", []):
        if i < len(ev_http) and flag not in ev_http[i].get("http", {}).get("flags", []):
            fails.append(f"http[{i}]: flag {flag} missing: {ev_http[i].get('http', {}).get('flags')}")

    if len(ev_flows) != 1 or len(ref_flows) != 1:
        fails.append(f"{len(ev_flows)} TCP flow events, reference {len(ref_flows)}; want 1 each")
    else:
        ef, rf = ev_flows[0].get("records", {}), ref_flows[0].get("records", {})
        for d in ("toserver", "toclient"):
            a, b = ef.get(d, {}), rf.get(d, {})
            if a.get("counts", {}) != b.get("counts", {}):
                fails.append(f"flow {d}: records {a.get('counts', {})}, "
                             f"reference {b.get('counts', {})}")
            elif fp_sets(a) != fp_sets(b):
                fails.append(f"flow {d}: same counts but other fingerprints")
        if "vlan" in spec and ev_flows[0].get("vlan") != spec["vlan"]:
            fails.append(f"flow vlan {ev_flows[0].get('vlan')}, want {spec['vlan']}")

    for path, op, want in spec.get("stats", []):
        got = stat(ev_stats, path)
        if got is None or not OPS[op](got, want):
            fails.append(f"stats {path} = {got}, want {op} {want}")
    return fails


def main(argv):
    if len(argv) >= 2 and argv[1] == "list":
        print("\n".join(CASES))
        return 0
    if len(argv) >= 2 and argv[1] == "check-list":  # meson.build registers every case
        missing, unknown = set(CASES) - set(argv[2:]), set(argv[2:]) - set(CASES)
        for n in sorted(missing):
            print(f"FAIL: case {n} is not registered in tests/evasion/meson.build")
        for n in sorted(unknown):
            print(f"FAIL: meson.build names case {n}, which evasion.py does not have")
        return 1 if missing or unknown else 0
    if len(argv) < 4:
        print(__doc__)
        return 2
    exe, src, which = argv[1:4]
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    names = list(CASES) if which == "all" else [which]
    bad = 0
    for name in names:
        if name not in CASES:
            print(f"unknown case {name}")
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            work = keep or tmp
            os.makedirs(work, exist_ok=True)
            try:
                fails = check_case(name, exe, src, work)
            except (RuntimeError, OSError, ValueError, AssertionError) as e:
                fails = [f"error: {e!r}"]
        for f in fails:
            print(f"FAIL {name}: {f}")
        if not fails:
            print(f"ok {name}")
        bad += bool(fails)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
