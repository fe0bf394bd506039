"""lhpcap.py - a small, fast pcap writer and packet crafter for the flood tests.

Standard library only. Frames are Ethernet II + IPv4 (+ TCP), with correct
IPv4 and TCP checksums, so the sensor's checksum verification stays on.
Timestamps are integers in microseconds and must be given in order by the
caller. Also: running the sensor with its peak RSS and CPU time taken from
wait4(), and reading the final stats event.
"""
import json
import os
import struct
import subprocess
import time

ETH_HDR = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_REC = struct.Struct("<IIII")
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")


def ip(s):
    """Dotted quad to a 32-bit integer."""
    a, b, c, d = (int(x) for x in s.split("."))
    return a << 24 | b << 16 | c << 8 | d


def ipstr(v):
    return f"{v >> 24 & 255}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


def _fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _sum16(b):
    if len(b) & 1:
        b += b"\x00"
    # big-endian 16-bit words: sum of a big integer's 2-byte digits
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


class PcapWriter:
    """A classic pcap file (microsecond timestamps, Ethernet). Buffers writes."""

    def __init__(self, path, snaplen=262144):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        self.buf = []
        self.n = 0
        self.bytes = 0

    def write(self, ts_us, frame):
        n = len(frame)
        self.buf.append(_REC.pack(ts_us // 1000000, ts_us % 1000000, n, n))
        self.buf.append(frame)
        self.n += 1
        self.bytes += n
        if len(self.buf) >= 8192:
            self.f.write(b"".join(self.buf))
            self.buf.clear()

    def close(self):
        self.f.write(b"".join(self.buf))
        self.buf.clear()
        self.f.close()


def ipv4(src, dst, proto, payload, ident=0, frag=0x4000, ttl=64):
    """An IPv4 header (no options) and payload; frag is the flags+offset word."""
    tot = 20 + len(payload)
    s = (0x4500 + tot + ident + frag + (ttl << 8 | proto) + (src >> 16) + (src & 0xFFFF)
         + (dst >> 16) + (dst & 0xFFFF))
    csum = ~_fold(s) & 0xFFFF
    return _IP.pack(0x45, 0, tot, ident, frag, ttl, proto, csum, src.to_bytes(4, "big"),
                    dst.to_bytes(4, "big")) + payload


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65535):
    """TCP header (no options) and payload with the checksum over the
    IPv4 pseudo-header."""
    seq &= 0xFFFFFFFF
    ack &= 0xFFFFFFFF
    tlen = 20 + len(payload)
    s = ((src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 6 + tlen
         + sport + dport + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
         + (0x5000 | flags) + win)
    if payload:
        s += _sum16(payload)
    csum = ~_fold(s) & 0xFFFF
    return _TCP.pack(sport, dport, seq, ack, 0x50, flags, win, csum, 0) + payload


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65535, ident=0):
    """A whole Ethernet frame carrying one TCP segment, checksums correct."""
    return ETH_HDR + ipv4(src, dst, 6, tcp_segment(src, dst, sport, dport, seq, ack, flags,
                                                   payload, win), ident=ident)


def ipv4_fragments(src, dst, proto, payload, ident, cuts):
    """Ethernet frames of one IPv4 datagram cut at the byte offsets in cuts
    (multiples of 8), in order of offset; the caller may reorder them."""
    bounds = [0] + list(cuts) + [len(payload)]
    out = []
    for a, b in zip(bounds, bounds[1:]):
        assert a % 8 == 0
        mf = 0x2000 if b < len(payload) else 0
        out.append(ETH_HDR + ipv4(src, dst, proto, payload[a:b], ident=ident, frag=mf | a // 8))
    return out


class SynTemplate:
    """SYN frames built by patching a template: the flood's fast path
    (addresses and ports vary; both checksums computed incrementally)."""

    def __init__(self, win=1024):
        self.win = win

    def frame(self, src, dst, sport, dport, seq):
        seq &= 0xFFFFFFFF
        s_ip = 0x4500 + 40 + (64 << 8 | 6) + (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
        ipc = ~_fold(s_ip) & 0xFFFF
        s = ((src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 6 + 20 + sport + dport
             + (seq >> 16) + (seq & 0xFFFF) + (0x5000 | SYN) + self.win)
        tc = ~_fold(s) & 0xFFFF
        return (ETH_HDR + _IP.pack(0x45, 0, 40, 0, 0x4000, 64, 6, ipc, src.to_bytes(4, "big"),
                                   dst.to_bytes(4, "big"))
                + _TCP.pack(sport, dport, seq, 0, 0x50, SYN, self.win, tc, 0))


class Conn:
    """One TCP connection written to a PcapWriter: handshake, data each way
    (split at mss), FIN exchange. The caller supplies the timestamps."""

    def __init__(self, w, cli, cport, srv, sport, isn_c=1000, isn_s=500000, mss=1460):
        self.w, self.cli, self.cport, self.srv, self.sport = w, cli, cport, srv, sport
        self.seq = [isn_c, isn_s]  # next seq of client, server
        self.mss = mss

    def _pkt(self, ts, d, flags, payload=b""):
        if d == 0:
            f = tcp_frame(self.cli, self.srv, self.cport, self.sport, self.seq[0], self.seq[1],
                          flags, payload)
        else:
            f = tcp_frame(self.srv, self.cli, self.sport, self.cport, self.seq[1], self.seq[0],
                          flags, payload)
        self.w.write(ts, f)

    def handshake(self, ts):
        self._pkt(ts, 0, SYN)
        self.seq[0] += 1
        self._pkt(ts + 10, 1, SYN | ACK)
        self.seq[1] += 1
        self._pkt(ts + 20, 0, ACK)
        return ts + 20

    def send(self, ts, d, data, mss=None):
        """data from d (0 client, 1 server), in segments; then the peer ACKs.
        Returns the last timestamp used."""
        mss = mss or self.mss
        for i in range(0, len(data), mss):
            seg = data[i:i + mss]
            self._pkt(ts, d, ACK | PSH, seg)
            self.seq[d] += len(seg)
            ts += 1
        self._pkt(ts, 1 - d, ACK)
        return ts + 1

    def segment_at(self, ts, d, rel, data, flags=ACK):
        """A raw segment at seq = current next seq + rel (for out-of-order
        tests); does not move the connection's sequence."""
        save = self.seq[d]
        self.seq[d] = (save + rel) & 0xFFFFFFFF
        self._pkt(ts, d, flags, data)
        self.seq[d] = save

    def close(self, ts):
        self._pkt(ts, 0, FIN | ACK)
        self.seq[0] += 1
        self._pkt(ts + 10, 1, FIN | ACK)
        self.seq[1] += 1
        self._pkt(ts + 20, 0, ACK)
        return ts + 20


# ---- record content -----------------------------------------------------------------

_ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(region, birth, order):
    """A GB 11643 ID number with its check character (test data, not a person)."""
    body = f"{region}{birth}{order:03d}"
    s = sum(int(c) * w for c, w in zip(body, _ID_W))
    return body + "10X98765432"[s % 11]


def records_body(n, seed):
    """A JSON response with n records: each a distinct mobile, ID number and
    YTO waybill. Returns (body bytes, n)."""
    recs = []
    for i in range(n):
        k = seed * 100000 + i
        mobile = f"139{k % 100000000:08d}"
        rid = resident_id("330106", f"1990{1 + k % 12:02d}{1 + k % 28:02d}", k % 1000)
        wb = f"YT{k % 10**13:013d}"
        recs.append('{"waybillNo":"%s","receiver":{"name":"W","mobile":"%s","idNo":"%s"}}'
                    % (wb, mobile, rid))
    return ('{"code":0,"data":{"records":[' + ",".join(recs) + "]}}").encode()


def http_request(path, host="waybill.corp.example:8080", emp=None, extra=""):
    h = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
    if emp:
        h += f"X-Emp-Id: {emp}\r\n"
    return (h + extra + "\r\n").encode()


def http_response(body, ctype="application/json", extra=""):
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"{extra}\r\n").encode() + body


# ---- running the sensor ---------------------------------------------------------------

SITE_KEY = "floods-test-site-key-0123456789"


class Run:
    """The result of one sensor run: events, final stats, peak RSS (KiB),
    CPU seconds (user+sys), wall seconds."""

    def __init__(self, events, rc, stderr, rss_kib, cpu_s, wall_s, cmd):
        self.events, self.rc, self.stderr = events, rc, stderr
        self.rss_kib, self.cpu_s, self.wall_s, self.cmd = rss_kib, cpu_s, wall_s, cmd
        st = [e for e in events if e.get("event_type") == "stats"]
        self.stats = st[-1]["stats"] if st else {}
        self.all_stats = [e["stats"] for e in st]

    def stat(self, path):
        v = self.stats
        for k in path.split("."):
            v = v[k]
        return v

    def of_type(self, t):
        return [e for e in self.events if e.get("event_type") == t]


TIME = "/usr/bin/time"


def run_sensor(exe, src, pcap, outdir, extra=(), keep_events=True, rules=None, env_extra=None):
    """Runs the sensor on pcap and measures its peak RSS and CPU time.

    The measurement comes from GNU time when installed: ru_maxrss of a child
    of this (large) Python process would include this process's own pages
    from the fork, since the kernel keeps the high-water mark across exec;
    time(1) is small and reports its own child's. Without it, wait4() is the
    fallback (an over-estimate). Events are read back; keep_events may be a
    set of event types to keep."""
    rules = rules or [os.path.join(src, "rules")]
    cmd = [exe, "-q", "-o", outdir, "-r", pcap]
    for r in rules:
        cmd += ["-R", r]
    cmd += list(extra)
    env = dict(os.environ, LEAKHOUND_SITE_KEY=SITE_KEY, **(env_extra or {}))
    tfile = os.path.join(outdir, "time.txt")
    use_time = os.access(TIME, os.X_OK)
    full = [TIME, "-f", "%x %M %U %S", "-o", tfile] + cmd if use_time else cmd
    t0 = time.monotonic()
    errf = open(os.path.join(outdir, "stderr.txt"), "w+")
    p = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=errf, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    rss, cpu = ru.ru_maxrss, ru.ru_utime + ru.ru_stime
    if use_time:
        with open(tfile) as f:
            lines = [x for x in f.read().split("\n") if x.strip()]
        vals = lines[-1].split()
        rss, cpu = int(vals[1]), float(vals[2]) + float(vals[3])
        # "Command terminated by signal N" comes first when it was killed
        rc = -int(lines[0].split()[-1]) if "signal" in lines[0] else int(vals[0])
    errf.seek(0)
    stderr = errf.read()
    errf.close()
    events = []
    path = os.path.join(outdir, "eve.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if keep_events is True:
                    events.append(json.loads(line))
                else:
                    # cheap pre-filter: most lines of a flood are flow events
                    for t in keep_events:
                        if f'"event_type":"{t}"' in line:
                            events.append(json.loads(line))
                            break
    return Run(events, rc, stderr, rss, cpu, wall, cmd)
