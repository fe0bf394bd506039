#!/usr/bin/env python3
"""floods.py - floods against the real binary: memory stays under the caps,
the counters of what was dropped are exact, legitimate traffic still gets
through (issue 9, "Floods and caps"; docs/robustness.md).

  floods.py TEST EXE SRC [--scale ci|big] [--keep DIR]

TEST is one of synflood, frags, ooo, bomb, accounts, hashflood,
hashflood-accounts, flowstate, nomatch. Each writes its capture(s) with lhpcap.py into a
temporary directory (or DIR with --keep), runs the sensor, and checks:
  - the final stats event's counters against numbers computed here from the
    capture (a few per-object costs are measured by a small calibration run
    of the same binary, so the test does not hard-code struct sizes);
  - the child's peak RSS (wait4) against a bound over a baseline run;
  - that legitimate traffic sent with or after the flood is still parsed,
    attributed and its records counted.
--scale big runs the heavier on-demand variants (millions of packets).
Prints one line of measurements per run; exits 1 on any failed check.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lhpcap as L  # noqa: E402

T0 = 1772416800 * 1000000  # 2026-03-02T02:00:00Z, packet time in us
SRV = L.ip("10.0.0.5")
MIB = 1 << 20

FAILS = []
SANITIZED = False  # --sanitized: floods shrink tenfold, RSS bounds allow for ASan


def scaled(n):
    return max(n // 10, 1) if SANITIZED else n


def rss_bound(base, allow_kib):
    """Peak RSS allowed: the baseline plus allow_kib; under ASan (redzones,
    quarantine of freed memory, shadow) three times that plus 320 MiB."""
    return base + (3 * allow_kib + 320 * 1024 if SANITIZED else allow_kib)


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg)
    return cond


def note(name, **kv):
    print(f"floods {name}: " + " ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


class Env:
    def __init__(self, exe, src, work):
        self.exe, self.src, self.work = exe, src, work
        self.n = 0

    def path(self, name):
        return os.path.join(self.work, name)

    def run(self, pcap, extra=(), keep=("http", "alert", "stats"), sink_events=None):
        """Runs the sensor into a fresh output directory. sink_events limits
        what is written (flood runs skip per-flow events to save disk and time)."""
        self.n += 1
        out = self.path(f"out{self.n}")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        ex = ["--stats-interval", "0"] + list(extra)
        if sink_events:
            ex += ["--sink", "file:eve.json,events=" + sink_events]
        env = None
        if SANITIZED:
            # a small quarantine, so that RSS says something about the sensor
            env = {"ASAN_OPTIONS": ":".join(x for x in (os.environ.get("ASAN_OPTIONS", ""),
                                                        "quarantine_size_mb=16") if x)}
        r = L.run_sensor(self.exe, self.src, pcap, out, ex, keep_events=set(keep), env_extra=env)
        if not check(r.rc == 0, f"sensor exited {r.rc}: {' '.join(r.cmd)}: {r.stderr.strip()}"):
            sys.exit(finish())
        shutil.rmtree(out, ignore_errors=True)
        return r


def finish():
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        return 1
    print("OK")
    return 0


def http_events(run, account=None, flow_port=None):
    ev = run.of_type("http")
    if account is not None:
        ev = [e for e in ev if e.get("account", {}).get("id") == account]
    if flow_port is not None:
        ev = [e for e in ev if e["src_port"] == flow_port]
    return ev


def counts(e):
    return e.get("records", {}).get("counts", {})


def legit_tx(c, ts, emp, nrec, seed, path="/api/v1/waybill/search"):
    """One request with an identity and a response with nrec records."""
    ts = c.send(ts, 0, L.http_request(path, emp=emp)) + 2
    return c.send(ts, 1, L.http_response(L.records_body(nrec, seed))) + 2


def baseline_rss(env, extra=()):
    """Peak RSS of the sensor on a one-flow capture with the same options:
    what the process costs before any flood (rules, Hyperscan, nDPI)."""
    p = env.path("baseline.pcap")
    if not os.path.exists(p):
        w = L.PcapWriter(p)
        c = L.Conn(w, L.ip("10.1.0.1"), 40001, SRV, 8080)
        ts = c.handshake(T0)
        ts = legit_tx(c, ts + 100, "E29999", 5, 1)
        c.close(ts + 100)
        w.close()
    return env.run(p, extra).rss_kib


# ---- SYN flood -------------------------------------------------------------------------

def t_synflood(env, big):
    n = 3_000_000 if big else scaled(1_000_000)
    memcap = 16 * MIB
    k = 2000  # flood SYNs between two transactions of the legitimate flow A
    opts = ["--flow-memcap", str(memcap)]
    base = baseline_rss(env, opts)

    # calibration: bytes the table charges per flow (node + session), from
    # memuse_peak over the bucket array that remains after the final flush
    cal = env.path("syncal.pcap")
    w = L.PcapWriter(cal)
    tpl = L.SynTemplate()
    for i in range(1000):
        w.write(T0 + i, tpl.frame(L.ip("172.31.0.1") + i, SRV, 2000, 80, i))
    w.close()
    r = env.run(cal, opts, sink_events="stats")
    buckets = r.stat("flow.memuse")
    cost = (r.stat("flow.memuse_peak") - buckets) // 1000
    check(cost * 1000 == r.stat("flow.memuse_peak") - buckets,
          f"calibration: per-flow cost not a whole number ({r.stats['flow']})")

    pcap = env.path("synflood.pcap")
    t_gen = time.monotonic()
    w = L.PcapWriter(pcap)
    a = L.Conn(w, L.ip("10.1.0.5"), 41000, SRV, 8080)
    ts = a.handshake(T0)
    ts = legit_tx(a, ts + 100, "E20001", 3, 0)
    a_tx = 1
    start = T0 + 1_000_000
    step = 15 if not big else 7  # us between SYNs: the flood lasts < 30 s (TCP-new timeout)
    src0 = L.ip("172.16.0.0")
    frame = tpl.frame
    wr = w.write
    for i in range(n):
        wr(start + i * step, frame(src0 + (i >> 8), SRV, 1024 + (i & 255), 80, i * 7919))
        if i % k == k - 1:
            legit_tx(a, start + i * step + 1, "E20001", 3, a_tx)
            a_tx += 1
    ts = start + n * step + 1_000_000  # the flood is cut
    ts = legit_tx(a, ts, "E20001", 3, a_tx)
    a_tx += 1
    a.close(ts + 100)
    b = L.Conn(w, L.ip("10.1.0.6"), 41001, SRV, 8080)
    ts = b.handshake(ts + 1000)
    ts = legit_tx(b, ts + 100, "E20002", 50, 999)
    b.close(ts + 100)
    w.close()
    t_gen = time.monotonic() - t_gen
    check(ts - start < 29_000_000, "flood + aftermath must end within the TCP-new timeout")

    r = env.run(pcap, opts, sink_events="stats+http+alert")
    fl = r.stats["flow"]
    cap_flows = (memcap - fl["memuse"]) // cost  # flows the cap holds
    note("synflood", syns=n, pcap_pkts=w.n, flow_cost=cost, flows_held=cap_flows,
         peak_rss_mib=f"{r.rss_kib / 1024:.1f}", baseline_rss_mib=f"{base / 1024:.1f}",
         cpu_s=f"{r.cpu_s:.2f}", wall_s=f"{r.wall_s:.2f}", gen_s=f"{t_gen:.1f}",
         syn_per_s=f"{n / r.cpu_s:.0f}", **{k2: fl[k2] for k2 in ("total", "evicted",
                                                                   "memcap_refused",
                                                                   "memuse_peak")})
    # every SYN made a flow; A held its slot throughout (touched every k
    # SYNs, k < cap), so the flood kept cap-1 slots and B took one more
    check(fl["total"] == n + 2, f"flow.total {fl['total']} != {n + 2}")
    check(fl["memcap_refused"] == 0, f"flow.memcap_refused {fl['memcap_refused']} != 0")
    check(fl["evicted"] == n - cap_flows + 2, f"flow.evicted {fl['evicted']} != {n - cap_flows + 2}")
    check(fl["timeout"] == 0 and fl["closed"] == 0, f"no timeouts/closes expected: {fl}")
    # what a flow grows after it is made (A's sample arrays, nDPI's state,
    # matcher streams) is charged without refusal and taken back by the
    # eviction the next new flow makes: the peak passes the cap by at most
    # one flow's growth
    grow = 4096
    check(fl["memuse_peak"] <= memcap + grow,
          f"flow.memuse_peak {fl['memuse_peak']} > cap {memcap} + {grow}")
    check(0 <= fl["memuse_peak"] - (fl["memuse"] + cap_flows * cost) <= grow,
          f"flow.memuse_peak {fl['memuse_peak']} not within {grow} of buckets + {cap_flows} flows")
    check(r.stat("dpi.flows") == n + 2, f"dpi.flows {r.stat('dpi.flows')} != {n + 2}")
    # memory: the cap plus what the cap does not charge (nDPI's per-flow
    # state, malloc overhead) stays within twice the cap over the baseline
    check(r.rss_kib <= rss_bound(base, 2 * memcap // 1024),
          f"peak RSS {r.rss_kib} KiB > baseline {base} + 2 x cap")
    # legitimate traffic: A through the flood, B after it
    ea = http_events(r, "E20001")
    check(len(ea) == a_tx, f"flow A: {len(ea)} http events != {a_tx}")
    check(all(counts(e).get("phone") == 3 and counts(e).get("id") == 3 for e in ea),
          "flow A: every transaction carries 3 phones and 3 IDs")
    eb = http_events(r, "E20002")
    check(len(eb) == 1 and counts(eb[0]) == {"phone": 50, "id": 50, "waybill": 50},
          f"flow B after the flood: {[counts(e) for e in eb]}")
    check(r.stat("http.transactions") == a_tx + 1,
          f"http.transactions {r.stat('http.transactions')} != {a_tx + 1}")


# ---- fragments that never complete ------------------------------------------------------

def frag_wave(w, ts, wave, count, size):
    """count first fragments (offset 0, MF set) of distinct datagrams."""
    payload = bytes(range(256)) * (size // 256)
    for i in range(count):
        src = L.ip("172.20.0.0") + wave * 65536 + (i >> 8)
        f = L.ETH_HDR + L.ipv4(src, SRV, 17, payload, ident=i & 0xFFFF, frag=0x2000)
        w.write(ts + i * 10, f)
    return ts + count * 10


def t_frags(env, big):
    waves, per_wave, size = (10, 1_000_000, 1024) if big else (4, scaled(250_000), 1024)
    memcap = 1 * MIB
    opts = ["--defrag-memcap", str(memcap)]
    base = baseline_rss(env, opts)

    # calibration: bytes held per incomplete datagram (decoder.defrag_memuse
    # with 100 held at the end of a run)
    cal = env.path("fragcal.pcap")
    w = L.PcapWriter(cal)
    frag_wave(w, T0, 9, 100, size)
    w.close()
    r = env.run(cal, sink_events="stats")
    cost = r.stat("decoder.defrag_memuse") // 100
    check(cost * 100 == r.stat("decoder.defrag_memuse") and r.stat("decoder.event.frag_held") == 100,
          f"calibration: {r.stat('decoder.defrag_memuse')} bytes for 100 datagrams")
    held = min(memcap // cost, 4096)  # 4096: the default max incomplete datagrams

    pcap = env.path("frags.pcap")
    w = L.PcapWriter(pcap)
    ts = T0
    for wave in range(waves):
        # 40 s apart: each wave finds the previous one expired (timeout 30 s)
        ts = frag_wave(w, T0 + wave * 40_000_000, wave, per_wave, size)
        # a packet 15 s later, while the wave is held: packet time moves on
        # and a stats event shows what is held
        w.write(T0 + wave * 40_000_000 + 15_000_000,
                L.ETH_HDR + L.ipv4(L.ip("10.1.0.2"), SRV, 17, b"\x14\xe9\x14\xe9\0\x0c\0\0tick"))
    # after the flood (and after its last datagrams expire): an HTTP flow
    # whose response segment arrives as three IP fragments out of order
    ts += 40_000_000
    c = L.Conn(w, L.ip("10.1.0.7"), 42000, SRV, 8080)
    ts = c.handshake(ts)
    ts = c.send(ts + 10, 0, L.http_request("/api/v1/waybill/search", emp="E20003")) + 10
    resp = L.http_response(L.records_body(20, 7))
    seg = L.tcp_segment(SRV, c.cli, 8080, c.cport, c.seq[1], c.seq[0], L.ACK | L.PSH, resp)
    fr = L.ipv4_fragments(SRV, c.cli, 6, seg, ident=777, cuts=[1000, 2000])
    for i, f in enumerate([fr[2], fr[0], fr[1]]):
        w.write(ts + i, f)
    c.seq[1] += len(resp)
    ts = c.close(ts + 100)
    w.close()

    r = env.run(pcap, opts + ["--stats-interval", "10"], sink_events="stats+http")
    ev = r.stats["decoder"]["event"]
    mem_max = max(s["decoder"]["defrag_memuse"] for s in r.all_stats)
    note("frags", fragments=waves * per_wave, waves=waves, dgram_cost=cost, held_per_wave=held,
         peak_rss_mib=f"{r.rss_kib / 1024:.1f}", baseline_rss_mib=f"{base / 1024:.1f}",
         cpu_s=f"{r.cpu_s:.2f}", defrag_memuse_max=mem_max,
         **{k: ev[k] for k in ("frag_held", "frag_memcap", "frag_timeout", "frag_reassembled")})
    check(ev["frag_held"] == waves * held + 2, f"frag_held {ev['frag_held']} != {waves * held + 2}")
    check(ev["frag_memcap"] == waves * (per_wave - held),
          f"frag_memcap {ev['frag_memcap']} != {waves * (per_wave - held)}")
    check(ev["frag_timeout"] == waves * held, f"frag_timeout {ev['frag_timeout']} != {waves * held}")
    check(ev["frag_reassembled"] == 1, f"frag_reassembled {ev['frag_reassembled']} != 1")
    check(ev["frag_bad"] == 0 and ev["frag_overlap"] == 0 and ev["frag_too_big"] == 0,
          f"unexpected fragment events {ev}")
    check(mem_max <= memcap, f"defrag_memuse {mem_max} > cap {memcap}")
    check(mem_max == held * cost, f"defrag_memuse at a full wave {mem_max} != {held * cost}")
    check(r.stat("decoder.defrag_memuse") == 0, "fragments still held at the end")
    check(r.rss_kib <= rss_bound(base, 2 * memcap // 1024 + 4096),
          f"peak RSS {r.rss_kib} KiB > baseline {base} + 2 x cap + 4 MiB")
    e = http_events(r, "E20003")
    check(len(e) == 1 and counts(e[0]) == {"phone": 20, "id": 20, "waybill": 20},
          f"fragmented response after the flood: {[counts(x) for x in e]}")


# ---- out-of-order segments ---------------------------------------------------------------

class ReasmModel:
    """The counters reassembly.c's documented policy gives for segments of
    one size, each leaving a hole before it: hold while both caps allow;
    at a cap, count it and deliver the stream's oldest held segment (a gap
    before it), or when the stream holds nothing, skip ahead to the new one."""

    def __init__(self, memcap, stream_cap, max_segs, seg_cost, seg_len):
        self.memcap, self.stream_cap, self.max_segs = memcap, stream_cap, max_segs
        self.cost, self.len = seg_cost, seg_len
        self.mem = self.peak = 0
        self.n = {}
        self.stream_cap_hit = self.memcap_hit = self.held = 0

    def seg(self, s):
        n = self.n.get(s, 0)
        while True:
            if (n + 1) * self.len > self.stream_cap or n >= self.max_segs:
                self.stream_cap_hit += 1
            elif self.mem + self.cost > self.memcap:
                self.memcap_hit += 1
            else:
                n += 1
                self.mem += self.cost
                self.peak = max(self.peak, self.mem)
                self.held += 1
                break
            if n == 0:
                break  # nothing held: the stream skips ahead, this one is delivered
            n -= 1
            self.mem -= self.cost
        self.n[s] = n

    def close(self, s):
        self.mem -= self.n.pop(s, 0) * self.cost


def t_ooo(env, big):
    seg_len = 100
    heavy, heavy_segs = 10, 1500        # each overflows the 1024-segment stream cap
    light, light_segs = (1000, 2000) if big else (40 if SANITIZED else 190, 2000)
    memcap = 4 * MIB
    opts = ["--reasm-memcap", str(memcap)]
    base = baseline_rss(env, opts)
    data = b"x" * seg_len

    # calibration: bytes charged per held segment beyond its data
    cal = env.path("ooocal.pcap")
    w = L.PcapWriter(cal)
    c = L.Conn(w, L.ip("10.2.0.1"), 43000, SRV, 9000)
    ts = c.handshake(T0)
    for i in range(10):
        c.segment_at(ts + 10 + i, 0, (2 * i + 1) * seg_len, data)
    w.close()
    r = env.run(cal, sink_events="stats")
    over = r.stat("tcp.memuse_peak") // 10 - seg_len
    check(r.stat("tcp.memuse_peak") == 10 * (seg_len + over) and r.stat("tcp.out_of_order") == 10,
          f"calibration: {r.stats['tcp']}")

    model = ReasmModel(memcap, 1 << 20, 1024, seg_len + over, seg_len)
    pcap = env.path("ooo.pcap")
    w = L.PcapWriter(pcap)
    ts = T0
    conns = []
    for f in range(heavy + light):
        c = L.Conn(w, L.ip("10.3.0.0") + f, 44000 + f % 1000, SRV, 9000)
        ts = c.handshake(ts) + 1
        conns.append(c)
    # heavy flows one after the other, then the light ones round-robin: the
    # global cap fills while every stream is still under its own cap
    for f in range(heavy):
        for i in range(heavy_segs):
            conns[f].segment_at(ts, 0, (2 * i + 1) * seg_len, data)
            model.seg(f)
            ts += 1
    for i in range(light_segs):
        for f in range(heavy, heavy + light):
            conns[f].segment_at(ts, 0, (2 * i + 1) * seg_len, data)
            model.seg(f)
            ts += 1
    for f, c in enumerate(conns):
        # the flood's connections are reset (at the end of the data each
        # sent, a seq the reassembler believes): their memory comes back
        k = heavy_segs if f < heavy else light_segs
        c.segment_at(ts, 0, 2 * k * seg_len, b"", L.RST | L.ACK)
        model.close(f)
        ts += 1
    # after the flood: an HTTP response in three segments sent 3, 1, 2
    c = L.Conn(w, L.ip("10.1.0.8"), 45000, SRV, 8080)
    ts = c.handshake(ts + 1000)
    ts = c.send(ts + 10, 0, L.http_request("/api/v1/waybill/search", emp="E20004")) + 10
    resp = L.http_response(L.records_body(30, 8))
    cut = [0, 1000, 2000, len(resp)]
    for i in (2, 0, 1):
        c.segment_at(ts, 1, cut[i], resp[cut[i]:cut[i + 1]])
        ts += 1
    c.seq[1] += len(resp)
    c.close(ts + 100)
    w.close()
    n_ooo = model.held + 1  # the legitimate response holds its third segment

    r = env.run(pcap, opts, sink_events="stats+http")
    t = r.stats["tcp"]
    note("ooo", segments=heavy * heavy_segs + light * light_segs, flows=heavy + light,
         seg_cost=seg_len + over, peak_rss_mib=f"{r.rss_kib / 1024:.1f}",
         baseline_rss_mib=f"{base / 1024:.1f}", cpu_s=f"{r.cpu_s:.2f}",
         **{k: t[k] for k in ("out_of_order", "stream_cap_hit", "memcap_hit", "memuse_peak",
                              "gaps")})
    check(t["stream_cap_hit"] == model.stream_cap_hit and model.stream_cap_hit > 0,
          f"tcp.stream_cap_hit {t['stream_cap_hit']} != {model.stream_cap_hit}")
    check(t["memcap_hit"] == model.memcap_hit and model.memcap_hit > 0,
          f"tcp.memcap_hit {t['memcap_hit']} != {model.memcap_hit}")
    check(t["out_of_order"] == n_ooo, f"tcp.out_of_order {t['out_of_order']} != {n_ooo}")
    check(t["memuse_peak"] == model.peak and t["memuse_peak"] <= memcap,
          f"tcp.memuse_peak {t['memuse_peak']} != {model.peak} (cap {memcap})")
    check(t["memuse"] == 0, f"tcp.memuse {t['memuse']} != 0 after every flow ended")
    check(r.rss_kib <= rss_bound(base, 2 * memcap // 1024 + 4096),
          f"peak RSS {r.rss_kib} KiB > baseline {base} + 2 x cap + 4 MiB")
    e = http_events(r, "E20004")
    check(len(e) == 1 and counts(e[0]) == {"phone": 30, "id": 30, "waybill": 30}
          and "gap" not in e[0]["http"].get("flags", []),
          f"reordered response after the flood: {[(counts(x), x['http'].get('flags')) for x in e]}")


# ---- decompression bomb ----------------------------------------------------------------

def gzip_stream(chunks):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(c) for c in chunks]
    out.append(z.flush())
    return b"".join(out)


def chunked(body, size=16384):
    out = []
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out.append(b"%x\r\n" % len(part) + part + b"\r\n")
    return b"".join(out) + b"0\r\n\r\n"


def t_bomb(env, big):
    zeros_mb = 2000 if big else 300
    mib0 = b"\0" * MIB
    bomb = gzip_stream(mib0 for _ in range(zeros_mb))
    # a body under the ratio cap (1000) but over the output cap (64 MiB):
    # zeros with a pseudo-random byte every 384 bytes compress about 300:1
    rnd = random.Random(9)
    block = bytearray(MIB)
    for i in range(0, MIB, 384):
        block[i] = rnd.randrange(1, 256)
    slow_mib = 400 if big else 80
    slow = gzip_stream(bytes(block) for _ in range(slow_mib))
    ratio_bomb = zeros_mb * MIB / len(bomb)
    ratio_slow = slow_mib * MIB / len(slow)
    check(ratio_bomb > 1000 and 100 < ratio_slow < 800 and slow_mib * MIB > 64 * MIB,
          f"test data: ratios {ratio_bomb:.0f} and {ratio_slow:.0f}")

    pcap = env.path("bomb.pcap")
    w = L.PcapWriter(pcap)
    c = L.Conn(w, L.ip("10.1.0.9"), 46000, SRV, 8080)
    ts = c.handshake(T0)
    hdr = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
           "Transfer-Encoding: chunked\r\n\r\n").encode()
    plan = [("bomb", bomb), ("records", None), ("slow", slow), ("records", None)]
    for i, (kind, body) in enumerate(plan):
        ts = c.send(ts + 100, 0, L.http_request(f"/api/v1/waybill/export?part={i}", emp="E20005")) + 10
        if body is None:
            rb = gzip_stream([L.records_body(40, 10 + i)])
            ts = c.send(ts, 1, L.http_response(rb, extra="Content-Encoding: gzip\r\n"), mss=1460)
        else:
            ts = c.send(ts, 1, hdr + chunked(body), mss=1460)
    c.close(ts + 100)
    w.close()

    base = baseline_rss(env)
    r = env.run(pcap, sink_events="stats+http")
    h = r.stats["http"]
    ev = http_events(r, "E20005")
    note("bomb", bomb_wire=len(bomb), bomb_decoded=zeros_mb * MIB, bomb_ratio=f"{ratio_bomb:.0f}",
         slow_wire=len(slow), slow_decoded=slow_mib * MIB, slow_ratio=f"{ratio_slow:.0f}",
         peak_rss_mib=f"{r.rss_kib / 1024:.1f}", baseline_rss_mib=f"{base / 1024:.1f}",
         cpu_s=f"{r.cpu_s:.2f}", **{k: h[k] for k in ("ratio_cap_hit", "decode_cap_hit",
                                                      "transactions", "decode_gzip")})
    check(h["ratio_cap_hit"] == 1, f"http.ratio_cap_hit {h['ratio_cap_hit']} != 1")
    check(h["decode_cap_hit"] == 1, f"http.decode_cap_hit {h['decode_cap_hit']} != 1")
    check(h["transactions"] == 4 and h["parse_errors"] == 0 and h["resyncs"] == 0,
          f"http: {h['transactions']} transactions, {h['parse_errors']} parse errors, "
          f"{h['resyncs']} resyncs")
    check(len(ev) == 4, f"{len(ev)} http events != 4")
    if len(ev) == 4:
        for i, (kind, body) in enumerate(plan):
            fl = ev[i]["http"].get("flags", [])
            if kind == "records":
                check(counts(ev[i]) == {"phone": 40, "id": 40, "waybill": 40}
                      and "truncated" not in fl,
                      f"tx {i} after a bomb: {counts(ev[i])} {fl}")
            else:
                check("truncated" in fl and "gzip" in fl, f"tx {i} ({kind}) flags {fl}")
                check(ev[i]["http"]["length"] == len(body),
                      f"tx {i}: length {ev[i]['http']['length']} != wire body {len(body)}")
    check(r.rss_kib <= rss_bound(base, 8192), f"peak RSS {r.rss_kib} KiB > baseline {base} + 8 MiB")


# ---- a million accounts ----------------------------------------------------------------

NOTFOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def account_flows(w, ts, names, per_flow=4096, pipe=32, cli0="10.40.0.0"):
    """Keep-alive flows of pipelined waybill lookups, one request per name."""
    i = fl = 0
    n = len(names)
    while i < n:
        c = L.Conn(w, L.ip(cli0) + 1 + fl % 60000, 40000 + fl % 20000, SRV, 8080)
        ts = c.handshake(ts) + 10
        m = min(per_flow, n - i)
        for j in range(0, m, pipe):
            k = min(pipe, m - j)
            req = b"".join(b"GET /api/v1/waybill/YT%013d HTTP/1.1\r\nHost: waybill.corp.example:8080"
                           b"\r\nX-Emp-Id: %s\r\n\r\n" % (i + j + q + 1, names[i + j + q])
                           for q in range(k))
            ts = c.send(ts, 0, req, mss=65000) + 5
            ts = c.send(ts, 1, NOTFOUND * k, mss=65000) + 5
        ts = c.close(ts) + 10
        i += m
        fl += 1
    return ts


def t_accounts(env, big):
    n = 4_000_000 if big else scaled(1_000_000)
    memcap = 1 * MIB
    opts = ["--detect-memcap", str(memcap)]

    # calibration: bytes charged per account that made one lookup
    cal = env.path("acccal.pcap")
    w = L.PcapWriter(cal)
    account_flows(w, T0, [b"C%07d" % i for i in range(100)])
    w.close()
    r = env.run(cal, sink_events="stats")
    cost = r.stat("detect.accounts_memuse") // 100
    check(cost * 100 == r.stat("detect.accounts_memuse") and r.stat("detect.accounts") == 100,
          f"calibration: {r.stats['detect']}")
    resident = memcap // cost

    pcap = env.path("accounts.pcap")
    w = L.PcapWriter(pcap)
    ts = T0
    # before: a known account; it is evicted by the flood
    c = L.Conn(w, L.ip("10.1.0.10"), 47000, SRV, 8080)
    ts = c.handshake(ts)
    ts = legit_tx(c, ts + 100, "E20006", 5, 20)
    ts = c.close(ts + 100) + 1000
    t_gen = time.monotonic()
    ts = account_flows(w, T0 + 1_000_000, [b"A%07d" % i for i in range(n)])
    t_gen = time.monotonic() - t_gen
    check(ts < T0 + 59_000_000, "the flood must end before the first stats event")
    # a packet at T0 + 61 s: the periodic stats event (--stats-interval 60)
    # shows the table as the flood left it
    ts = T0 + 61_000_000
    w.write(ts, L.ETH_HDR + L.ipv4(L.ip("10.1.0.2"), SRV, 17, b"\x14\xe9\x14\xe9\0\x0c\0\0tick"))
    # after: that account pulls a bulk export (bulk_response: >= 500 records)
    c = L.Conn(w, L.ip("10.1.0.10"), 47001, SRV, 8080)
    ts = c.handshake(ts + 1_000_000)
    ts = legit_tx(c, ts + 100, "E20006", 600, 21)
    c.close(ts + 100)
    w.close()

    base = baseline_rss(env, opts)
    r = env.run(pcap, opts + ["--stats-interval", "60"], sink_events="stats+alert")
    check(len(r.all_stats) == 2, f"{len(r.all_stats)} stats events != 2")
    mid = r.all_stats[0]["detect"]
    d = r.stats["detect"]
    note("accounts", flood_accounts=n, account_cost=cost, resident=resident,
         peak_rss_mib=f"{r.rss_kib / 1024:.1f}", baseline_rss_mib=f"{base / 1024:.1f}",
         cpu_s=f"{r.cpu_s:.2f}", gen_s=f"{t_gen:.1f}", tx_per_s=f"{n / r.cpu_s:.0f}",
         **{k: mid[k] for k in ("observations", "accounts", "accounts_evicted", "accounts_memuse")},
         final_accounts=d["accounts"], final_evicted=d["accounts_evicted"])
    # after the flood: E20006 and all but the last `resident` flood accounts
    # were evicted, each exactly once
    check(mid["observations"] == n + 1, f"detect.observations {mid['observations']} != {n + 1}")
    check(mid["accounts"] == resident, f"detect.accounts {mid['accounts']} != {resident}")
    check(mid["accounts_evicted"] == n + 1 - resident,
          f"detect.accounts_evicted {mid['accounts_evicted']} != {n + 1 - resident}")
    check(mid["accounts_memuse"] == resident * cost,
          f"detect.accounts_memuse {mid['accounts_memuse']} != {resident} x {cost}")
    # E20006 came back with a large record set: the table made room for it;
    # every account created (n + 2: E20006 twice) is resident or evicted
    check(d["observations"] == n + 2, f"detect.observations {d['observations']} != {n + 2}")
    check(d["accounts_evicted"] > mid["accounts_evicted"]
          and d["accounts"] + d["accounts_evicted"] == n + 2,
          f"final: {d['accounts']} resident + {d['accounts_evicted']} evicted != {n + 2}")
    for s in r.all_stats:
        check(s["detect"]["accounts_memuse"] <= memcap,
              f"detect.accounts_memuse {s['detect']['accounts_memuse']} > {memcap}")
    check(d["obs_nomem"] == 0, f"detect.obs_nomem {d['obs_nomem']}")
    # the flows themselves: every waybill number in a request target is a
    # record of the flow, deduplicated per flow direction in a set of 8-byte
    # slots at most half full (worker.c recset_add); all the flows are still
    # in the table at the end (closed, within their 10 s close timeout)
    flows = -(-n // 4096)
    slots = 64
    while slots < 2 * 4096:
        slots *= 2
    dedup_kib = flows * slots * 8 // 1024
    check(r.rss_kib <= rss_bound(base, 2 * memcap // 1024 + dedup_kib + 4096),
          f"peak RSS {r.rss_kib} KiB > baseline {base} + 2 x cap + {dedup_kib} (flows' record "
          f"sets) + 4096 KiB")
    al = [e for e in r.of_type("alert") if e.get("account", {}).get("id") == "E20006"]
    check(any(e["alert"].get("rule") == "bulk_response" for e in al),
          f"no bulk_response alert for E20006 after the flood: {[e['alert'] for e in al]}")


# ---- hash flooding -------------------------------------------------------------------------

def hash_capture(path, tuples):
    """For every tuple a SYN first (all flows open at once), then for every
    tuple the SYN+ACK, ACK, one request byte and RST: lookups against a
    table holding every flow."""
    w = L.PcapWriter(path)
    tpl = L.SynTemplate()
    ts = T0
    for (s, d, sp, dp) in tuples:
        w.write(ts, tpl.frame(s, d, sp, dp, 1000))
        ts += 2
    for (s, d, sp, dp) in tuples:
        w.write(ts, L.tcp_frame(d, s, dp, sp, 5000, 1001, L.SYN | L.ACK))
        w.write(ts + 1, L.tcp_frame(s, d, sp, dp, 1001, 5001, L.ACK, b"G"))
        w.write(ts + 2, L.tcp_frame(s, d, sp, dp, 1002, 5001, L.RST | L.ACK))
        ts += 3
    w.close()


def timed_pair(env, a, b, extra, reps=2):
    """Min CPU time of reps runs of each capture, alternating."""
    ta, tb = [], []
    for _ in range(reps):
        ra = env.run(a, extra, sink_events="stats")
        rb = env.run(b, extra, sink_events="stats")
        ta.append(ra.cpu_s)
        tb.append(rb.cpu_s)
    return min(ta), min(tb), ra, rb


def t_hashflood(env, big):
    # tuples on which a naive symmetric hash is one constant: with the low
    # bits y of the client address and port x, the server's are their
    # complements, so src+dst, src^dst, sport+dport and sport^dport are
    # the same for every flow (whichever direction the hash sees)
    ny, nx = (1024, 256) if big else (scaled(1024), 64)
    col = []
    for y in range(ny):
        s = L.ip("10.0.0.0") | y
        d = L.ip("10.0.0.0") | (0xFFFFFF ^ y)
        for x in range(nx):
            sp = 1024 + x
            col.append((s, d, sp, 0xFFFF ^ sp))
    assert len({(s + d + sp + dp) for s, d, sp, dp in col}) == 1
    assert len({(s ^ d ^ sp ^ dp) for s, d, sp, dp in col}) == 1
    rnd = random.Random(5)
    ran = set()
    while len(ran) < len(col):
        ran.add((L.ip("10.0.0.0") | rnd.getrandbits(24), L.ip("10.0.0.0") | rnd.getrandbits(24),
                 rnd.randrange(1024, 65536), rnd.randrange(1024, 65536)))
    ran = sorted(ran, key=lambda t: rnd.random())
    pa, pb = env.path("collide.pcap"), env.path("random.pcap")
    hash_capture(pa, col)
    hash_capture(pb, ran)
    ta, tb, ra, rb = timed_pair(env, pa, pb, [])
    note("hashflood", flows=len(col), pkts=4 * len(col), colliding_cpu_s=f"{ta:.2f}",
         random_cpu_s=f"{tb:.2f}", ratio=f"{ta / tb:.2f}")
    for r in (ra, rb):
        check(r.stat("flow.total") == len(col) and r.stat("flow.evicted") == 0,
              f"flows {r.stats['flow']}")
    check(ta / tb < 3.0, f"colliding tuples cost {ta / tb:.2f}x the random ones (limit 3x)")


def fnv_low(h, data, mask):
    for ch in data:
        h = ((h ^ ch) * 1099511628211) & mask
    return h


def fnv_multicollision(stages, bits=20, seed=3):
    """2^stages names whose 64-bit FNV-1a agrees in the low `bits` bits: the
    low bits of FNV-1a depend only on the low bits of the state and the
    input, so a pair of 3-character blocks that collide from one state can
    be chained (Joux's construction)."""
    mask = (1 << bits) - 1
    alpha = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    rnd = random.Random(seed)
    h = fnv_low(1469598103934665603 & mask, b"E", mask)
    pairs = []
    for _ in range(stages):
        seen = {}
        while True:
            blk = bytes(rnd.choice(alpha) for _ in range(3))
            v = fnv_low(h, blk, mask)
            if v in seen and seen[v] != blk:
                pairs.append((seen[v], blk))
                h = v
                break
            seen[v] = blk
    names = [b"E"]
    for a, b in pairs:
        names = [n + a for n in names] + [n + b for n in names]
    return names


def t_hashflood_accounts(env, big):
    """The detection engine's account table is keyed by the account name,
    which the sender chooses (X-Emp-Id)."""
    stages = 16 if big else 14
    col = fnv_multicollision(stages)
    mask = (1 << 20) - 1
    assert len({fnv_low(1469598103934665603 & mask, n, mask) for n in col}) == 1
    rnd = random.Random(6)
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    ran = ["E" + "".join(rnd.choice(alpha) for _ in range(len(col[0]) - 1)) for _ in col]
    ran = [x.encode() for x in ran]
    pa, pb = env.path("acc-collide.pcap"), env.path("acc-random.pcap")
    for p, names in ((pa, col), (pb, ran)):
        w = L.PcapWriter(p)
        account_flows(w, T0, names)
        w.close()
    ta, tb, ra, rb = timed_pair(env, pa, pb, [], reps=1)
    note("hashflood-accounts", accounts=len(col), colliding_cpu_s=f"{ta:.2f}",
         random_cpu_s=f"{tb:.2f}", ratio=f"{ta / tb:.2f}",
         resident=ra.stat("detect.accounts"))
    for r in (ra, rb):
        check(r.stat("detect.observations") == len(col), f"observations {r.stats['detect']}")
    check(ta / tb < 3.0, f"colliding account names cost {ta / tb:.2f}x random ones (limit 3x)")


# ---- per-flow state the caps do not see ----------------------------------------------------

def t_flowstate(env, big):
    """Open flows whose own state grows: distinct records (each flow
    direction's dedup set) and pipelined requests waiting for responses
    (each keeps its head). Every byte a flow holds should answer to a cap."""
    nrec_flows, nrec = (400, 20000) if big else (100, 20000)
    npipe_flows, pad = (800, 8000) if big else (200, 8000)
    flow_cap, reasm_cap = 16 * MIB, 4 * MIB
    opts = ["--flow-memcap", str(flow_cap), "--reasm-memcap", str(reasm_cap)]
    base = baseline_rss(env, opts)
    pr, pp = env.path("recs.pcap"), env.path("pipe.pcap")
    w = L.PcapWriter(pr)
    ts = T0
    for f in range(nrec_flows):
        c = L.Conn(w, L.ip("10.5.0.0") + f, 30000 + f, SRV, 8080)
        ts = c.handshake(ts) + 10
        ts = c.send(ts, 0, L.http_request("/api/v1/waybill/search", emp="E20007")) + 2
        body = ("[" + ",".join('"139%08d"' % (f * nrec + i) for i in range(nrec)) + "]").encode()
        ts = c.send(ts, 1, L.http_response(body)) + 10
    w.close()
    w = L.PcapWriter(pp)
    ts = T0
    extra = "X-Pad: " + "a" * pad + "\r\n"
    for f in range(npipe_flows):
        c = L.Conn(w, L.ip("10.6.0.0") + f, 30000 + f, SRV, 8080)
        ts = c.handshake(ts) + 10
        ts = c.send(ts, 0, L.http_request("/api/v1/notice", emp="E20008", extra=extra) * 64) + 2
    w.close()
    bound = rss_bound(base, (flow_cap + reasm_cap) // 1024 + 16384)
    for name, p, what in (("records", pr, nrec_flows * nrec), ("pipeline", pp, npipe_flows * 64)):
        r = env.run(p, opts, sink_events="stats")
        note("flowstate-" + name, items=what, peak_rss_mib=f"{r.rss_kib / 1024:.1f}",
             baseline_rss_mib=f"{base / 1024:.1f}", flow_memuse_peak=r.stat("flow.memuse_peak"),
             records=r.stat("records.distinct_per_flow"), requests=r.stat("http.requests"))
        check(r.rss_kib <= bound,
              f"{name}: peak RSS {r.rss_kib} KiB > baseline {base} + flow and reassembly caps "
              f"+ 16 MiB ({bound} KiB): per-flow state is not charged to any cap")


def t_nomatch(env, big):
    """--no-match (packet path only) on short TCP streams: a stream that ends
    before the HTTP probe could decide is scanned raw without a database."""
    rnd = random.Random(7)
    tuples = [(L.ip("10.7.0.0") + i, SRV, 20000 + i, 9000) for i in range(1000)]
    rnd.shuffle(tuples)
    p = env.path("nomatch.pcap")
    hash_capture(p, tuples)
    r = env.run(p, ["--no-match"], sink_events="stats")
    note("nomatch", flows=r.stat("flow.total"), rc=r.rc)
    check(r.stat("flow.total") == 1000, f"flow.total {r.stat('flow.total')} != 1000")


TESTS = {"synflood": t_synflood, "frags": t_frags, "ooo": t_ooo, "bomb": t_bomb,
         "accounts": t_accounts, "hashflood": t_hashflood,
         "hashflood-accounts": t_hashflood_accounts, "flowstate": t_flowstate,
         "nomatch": t_nomatch}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("test", choices=sorted(TESTS))
    ap.add_argument("exe")
    ap.add_argument("src")
    ap.add_argument("--scale", choices=["ci", "big"], default="ci")
    ap.add_argument("--keep", help="write captures here and keep them")
    ap.add_argument("--sanitized", action="store_true",
                    help="the binary is built with ASan/UBSan: smaller floods, looser RSS bounds")
    a = ap.parse_args()
    global SANITIZED
    SANITIZED = a.sanitized
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
        work = a.keep
    else:
        work = tempfile.mkdtemp(prefix="lh-floods-")
    try:
        t = time.monotonic()
        TESTS[a.test](Env(a.exe, a.src, work), a.scale == "big")
        print(f"floods {a.test}: {time.monotonic() - t:.1f} s in all")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
