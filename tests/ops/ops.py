#!/usr/bin/env python3
"""Operations tests: the real binary, every output, the configuration file,
signals and refusals.

usage: ops.py TEST LEAKHOUND SRC_ROOT

Each TEST runs leakhound on a committed capture and checks what reached
each output against the EVE file of the same run: files and stdout, the ECS
form, syslog over UDP and TCP against a real rsyslogd started here on
loopback (with an outage: stop it, keep sending, start it again; the queue
drains and the drop count equals exactly the events that never arrived), a
Unix socket collector, SIGHUP rotation, a full disk, the configuration file
and --check-config, the one-line refusals, and live capture (-i) on a veth
pair in a network namespace made for the test (needs root). Exit 0 when
every check passes; every failed check is printed.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

FAILS = []
KEY = "0123456789abcdef0123456789abcdef"


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILS.append(what)
    return cond


def capture(src):
    p = os.path.join(src, "pcaps", "demo.pcap")
    if os.path.exists(p):
        return p
    return os.path.join(src, "..", "shared", "pcaps-real", "suricata-verify",
                        "http-range-multiflows", "input.pcap")


def rule_args(src):
    a = []
    for f in ("pii-cn.yaml", "courier-api.yaml", "detections.yaml"):
        p = os.path.join(src, "rules", f)
        if os.path.exists(p):
            a += ["-R", p]
    return a


def run(lh, args, timeout=90, **kw):
    return subprocess.run([lh] + args, capture_output=True, text=True, timeout=timeout, **kw)


def lines(path):
    with open(path, "rb") as f:
        data = f.read()
    check(data == b"" or data.endswith(b"\n"), "%s ends with a newline" % os.path.basename(path))
    return [l.decode() for l in data.split(b"\n") if l]


def events(path):
    return [json.loads(l) for l in lines(path)]


def final_stats(evs):
    st = [e for e in evs if e["event_type"] == "stats"]
    return st[-1]["stats"] if st else {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def base(lh, src, out, extra, **kw):
    return run(lh, ["-r", capture(src)] + rule_args(src) +
               ["-o", out, "-q", "--site-key", KEY] + extra, **kw)


# ---- files and stdout ---------------------------------------------------------

def t_outputs(lh, src):
    with tempfile.TemporaryDirectory() as d:
        r = base(lh, src, d, ["--sink", "file:all.json", "--sink", "stdout",
                              "--sink", "file:flows.json,buffer=line,fsync=true,events=flow",
                              "--sink", "file:alerts.json,events=alert,name=al"])
        check(r.returncode == 0, "run with four outputs exits 0 (%d: %s)" % (r.returncode, r.stderr))
        allv = lines(os.path.join(d, "all.json"))
        out = [l for l in r.stdout.split("\n") if l]
        check(len(allv) > 20, "file output has events (%d)" % len(allv))
        check(out == allv, "stdout carries the same lines as the file (%d vs %d)" % (len(out), len(allv)))
        evs = [json.loads(l) for l in allv]
        flows = [l for l, e in zip(allv, evs) if e["event_type"] == "flow"]
        check(lines(os.path.join(d, "flows.json")) == flows,
              "flow-only output holds exactly the flow events (%d)" % len(flows))
        alerts = [l for l, e in zip(allv, evs) if e["event_type"] == "alert"]
        check(lines(os.path.join(d, "alerts.json")) == alerts,
              "alert-only output holds exactly the alert events (%d)" % len(alerts))
        st = final_stats(evs).get("output", {})
        n = len(allv)
        check(st.get("all", {}).get("written") == n - 1,
              "stats: output.all.written == events before the final stats (%s vs %d)" % (st.get("all"), n - 1))
        check(st.get("stdout", {}).get("written") == n - 1, "stats: output.stdout.written %s" % st.get("stdout"))
        check(st.get("flows", {}).get("written") == len(flows), "stats: output.flows.written %s" % st.get("flows"))
        check(st.get("al", {}).get("written") == len(alerts), "stats: output.al.written %s" % st.get("al"))
        check(all(v.get("dropped") == 0 and v.get("errors") == 0 and v.get("queued") == 0
                  for v in st.values()), "stats: nothing dropped, queued or failed")
        # -o - keeps its meaning: every event on stdout and nothing else
        r2 = run(lh, ["-r", capture(src)] + rule_args(src) + ["-o", "-", "-q", "--site-key", KEY])
        out2 = [l for l in r2.stdout.split("\n") if l]
        strip = lambda ls: [l for l in ls if '"event_type":"stats"' not in l]
        check(r2.returncode == 0 and strip(out2) == strip(allv), "-o - writes the same events on stdout")


# ---- ECS ------------------------------------------------------------------------

def t_ecs(lh, src):
    with tempfile.TemporaryDirectory() as d:
        r = base(lh, src, d, ["--sink", "file:eve.json", "--sink", "file:ecs.json,format=ecs"])
        check(r.returncode == 0, "run exits 0 (%s)" % r.stderr)
        eve = events(os.path.join(d, "eve.json"))
        ecs = events(os.path.join(d, "ecs.json"))
        check(len(eve) == len(ecs) and len(eve) > 0, "one ECS document per EVE event (%d, %d)" % (len(eve), len(ecs)))
        kinds = set()
        bad = []
        for e, c in zip(eve, ecs):
            t = e["event_type"]
            kinds.add(t)
            exp = {
                "@timestamp": e["timestamp"].replace("+0000", "Z"),
                "event.dataset": "leakhound." + t,
                "event.kind": {"alert": "alert", "stats": "metric"}.get(t, "event"),
                "observer.type": "sensor", "observer.product": "leakhound",
            }
            if "src_ip" in e:
                exp.update({"source.ip": e["src_ip"], "source.port": e["src_port"],
                            "destination.ip": e["dest_ip"], "destination.port": e["dest_port"],
                            "network.transport": e["proto"].lower()})
            if "community_id" in e:
                exp["network.community_id"] = e["community_id"]
            if e.get("app_proto"):
                exp["network.protocol"] = e["app_proto"].lower()
            if "account" in e:
                exp["user.name"] = e["account"]["id"]
            h = e.get("http", {})
            if "url" in h:
                exp["url.original"] = h["url"]
            if "http_method" in h:
                exp["http.request.method"] = h["http_method"]
            if "status" in h:
                exp["http.response.status_code"] = h["status"]
            if t == "alert":
                exp.update({"rule.id": e["alert"]["rule"], "rule.name": e["alert"]["signature"],
                            "event.severity": e["alert"]["severity"]})
                check("intrusion_detection" in c["event"]["category"], "alert: event.category intrusion_detection")
                check(c["leakhound"]["leak"] == e["leak"], "alert: leak object kept under leakhound.leak")
            if t == "flow":
                exp.update({"source.bytes": e["flow"]["bytes_toserver"],
                            "destination.bytes": e["flow"]["bytes_toclient"],
                            "network.bytes": e["flow"]["bytes_toserver"] + e["flow"]["bytes_toclient"]})
            if t == "stats":
                exp["leakhound.stats.capture.packets"] = e["stats"]["capture"]["packets"]
            for k, v in exp.items():
                cur = c
                for part in k.split("."):
                    cur = cur.get(part) if isinstance(cur, dict) else None
                if cur != v:
                    bad.append("%s %s: %r != %r" % (t, k, cur, v))
            if e.get("flow_id") and c.get("leakhound", {}).get("flow_id") != e["flow_id"]:
                bad.append("%s leakhound.flow_id" % t)
        check(not bad, "ECS fields match their EVE source (%d mismatches: %s)" % (len(bad), bad[:5]))
        check({"http", "flow", "stats"} <= kinds, "the capture covers http, flow and stats (%s)" % sorted(kinds))
        check("alert" in kinds, "the capture raises an alert (ECS of an alert line from eve_write_line)")


# ---- syslog ---------------------------------------------------------------------

class Rsyslog:
    def __init__(self, d, port):
        self.d, self.port = d, port
        self.out = os.path.join(d, "received.log")
        self.conf = os.path.join(d, "rsyslog.conf")
        self.pid = os.path.join(d, "rsyslog.pid")
        with open(self.conf, "w") as f:
            f.write('global(workDirectory="%s" maxMessageSize="256k")\n' % d)
            f.write('module(load="imtcp")\ninput(type="imtcp" port="%d" address="127.0.0.1")\n' % port)
            # a receive buffer for a whole run's burst: on a loaded machine the
            # kernel's default (~200 KB) overflows before rsyslogd reads
            f.write('module(load="imudp")\ninput(type="imudp" port="%d" address="127.0.0.1" '
                    'rcvbufSize="8m")\n' % port)
            f.write('template(name="raw" type="string" string="%msgid% %app-name% %procid% %msg%\\n")\n')
            f.write('if $app-name == "leakhound" then {\n'
                    '  action(type="omfile" file="%s" template="raw")\n}\n' % self.out)
        self.p = None

    def start(self):
        self.p = subprocess.Popen(["/usr/sbin/rsyslogd", "-n", "-f", self.conf, "-i", self.pid],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.025)
        raise RuntimeError("rsyslogd did not start on port %d" % self.port)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(timeout=20)
        self.p = None

    def received(self):
        """(msgid, app, procid, msg) per message."""
        if not os.path.exists(self.out):
            return []
        res = []
        with open(self.out) as f:
            for l in f:
                l = l.rstrip("\n")
                parts = l.split(" ", 3)
                res.append(tuple(parts) if len(parts) == 4 else ("?", "?", "?", l))
        return res


def t_syslog_udp(lh, src):
    syslog_intact(lh, src, "udp")


def t_syslog_tcp(lh, src):
    syslog_intact(lh, src, "tcp")


def syslog_intact(lh, src, proto):
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        rs = Rsyslog(d, port)
        rs.start()
        try:
            r = base(lh, src, d, ["--sink", "file:eve.json",
                                  "--sink", "syslog:%s://127.0.0.1:%d,name=siem" % (proto, port)])
            # rsyslogd writes what it has read in its own time: wait for the
            # count to reach the events written, or to stop growing
            want, last, still = len(lines(os.path.join(d, "eve.json"))), -1, 0
            for _ in range(100):
                n = len(rs.received())
                if n >= want or still >= 10:
                    break
                still = still + 1 if n == last else 0
                last = n
                time.sleep(0.1)
        finally:
            rs.stop()
        check(r.returncode == 0, "%s: run exits 0 (%s)" % (proto, r.stderr))
        eve = lines(os.path.join(d, "eve.json"))
        got = rs.received()
        check(len(got) == len(eve) and len(eve) > 20,
              "%s: rsyslog received every event (%d of %d)" % (proto, len(got), len(eve)))
        check([g[3] for g in got] == eve, "%s: messages arrive intact and in order (MSG == EVE line)" % proto)
        types = [json.loads(l)["event_type"] for l in eve]
        check([g[0] for g in got] == types, "%s: MSGID is the event type" % proto)
        check(all(g[1] == "leakhound" and g[2].isdigit() for g in got), "%s: APP-NAME leakhound, PROCID the pid" % proto)
        st = final_stats([json.loads(l) for l in eve]).get("output", {}).get("siem", {})
        check(st.get("written") == len(eve) - 1 and st.get("dropped") == 0,
              "%s: stats output.siem %s" % (proto, st))


def t_syslog_outage(lh, src):
    """Stop rsyslog mid-run, keep sending, start it again."""
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        rs = Rsyslog(d, port)
        rs.start()
        cmd = [lh, "-r", capture(src)] + rule_args(src) + [
            "-o", d, "-q", "--site-key", KEY, "--replay-speed", "50", "--stats-interval", "10",
            "--sink", "file:eve.json",
            "--sink", "syslog:tcp://127.0.0.1:%d,name=siem,queue-events=8,reconnect-interval=100ms" % port]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            before = len(rs.received())
            rs.stop()
            time.sleep(1.5)
            rs.start()
            _, err = p.communicate(timeout=60)
            time.sleep(0.3)
        finally:
            if p.poll() is None:
                p.kill()
            rs.stop()
        check(p.returncode == 0, "run exits 0 (%s)" % err)
        eve = lines(os.path.join(d, "eve.json"))
        got = [g[3] for g in rs.received()]
        evs = [json.loads(l) for l in eve]
        st = final_stats(evs).get("output", {}).get("siem", {})
        check(before > 0, "events arrived before the outage (%d)" % before)
        pos, ok = 0, True
        for g in got:  # every message is an EVE line, in order, none twice
            while pos < len(eve) and eve[pos] != g:
                pos += 1
            if pos == len(eve):
                ok = False
                break
            pos += 1
        check(ok, "every received message is intact, in order, never twice")
        check(got and got[-1] == eve[-1], "the queue drained: the last event (final stats) arrived")
        check(st.get("dropped", 0) > 0, "the outage outlasted the queue: drops counted (%s)" % st)
        check(len(eve) - len(got) == st.get("dropped"),
              "drop count is exact: %d events never arrived, stats say %s" % (len(eve) - len(got), st.get("dropped")))
        check(st.get("reconnects", 0) >= 1 and st.get("queued") == 0, "reconnected, queue empty (%s)" % st)
        check(err.count("is away") == 1 and err.count("is back") == 1,
              "the outage is reported once on stderr, and its end: %r" % err)


# ---- Unix socket ------------------------------------------------------------------

class Collector(threading.Thread):
    def __init__(self, path, delay=0.0):
        super().__init__(daemon=True)
        self.path, self.delay, self.data = path, delay, b""
        self.ready = threading.Event()

    def run(self):
        time.sleep(self.delay)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        s.listen(4)
        s.settimeout(60)
        self.ready.set()
        c, _ = s.accept()
        while True:
            b = c.recv(65536)
            if not b:
                break
            self.data += b
        c.close()
        s.close()


def t_unix(lh, src):
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "c.sock")
        col = Collector(sock)
        col.start()
        col.ready.wait(5)
        r = base(lh, src, d, ["--sink", "file:eve.json", "--sink", "unix:%s,format=ecs" % sock])
        col.join(10)
        check(r.returncode == 0, "run exits 0 (%s)" % r.stderr)
        eve = events(os.path.join(d, "eve.json"))
        got = [json.loads(l) for l in col.data.decode().split("\n") if l]
        check(len(got) == len(eve) and len(eve) > 20, "collector got every event (%d of %d)" % (len(got), len(eve)))
        check([g["@timestamp"] for g in got] == [e["timestamp"].replace("+0000", "Z") for e in eve],
              "collector got them in order, in ECS form")
        # a collector that comes late: events wait in the queue, then all arrive
        os.unlink(sock)
        col = Collector(sock, delay=1.0)
        col.start()
        cmd = ["-r", capture(src)] + rule_args(src) + ["-o", d, "-q", "--site-key", KEY,
               "--replay-speed", "100", "--sink", "file:eve2.json",
               "--sink", "unix:%s,reconnect-interval=100ms,name=local" % sock]
        r = run(lh, cmd)
        col.join(10)
        eve2 = lines(os.path.join(d, "eve2.json"))
        got2 = [l for l in col.data.decode().split("\n") if l]
        st = final_stats([json.loads(l) for l in eve2]).get("output", {}).get("local", {})
        check(r.returncode == 0 and got2 == eve2,
              "late collector: every event arrives after the queue drains (%d of %d)" % (len(got2), len(eve2)))
        check(st.get("dropped") == 0 and st.get("errors", 0) > 0,
              "late collector: failed connects counted as errors, nothing dropped (%s)" % st)


# ---- SIGHUP, SIGUSR1 ------------------------------------------------------------

def t_sighup(lh, src):
    with tempfile.TemporaryDirectory() as d:
        ref = base(lh, src, os.path.join(d, "ref"), [])
        check(ref.returncode == 0, "reference run exits 0")
        want = [l for l in lines(os.path.join(d, "ref", "eve.json")) if '"event_type":"stats"' not in l]
        out = os.path.join(d, "live")
        cmd = [lh, "-r", capture(src)] + rule_args(src) + ["-o", out, "--site-key", KEY,
                                                           "--replay-speed", "60"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        os.rename(os.path.join(out, "eve.json"), os.path.join(out, "eve.json.1"))
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        p.send_signal(signal.SIGUSR1)
        _, err = p.communicate(timeout=60)
        check(p.returncode == 0, "paced run with SIGHUP exits 0 (%s)" % err)
        a = lines(os.path.join(out, "eve.json.1"))
        b = lines(os.path.join(out, "eve.json"))
        check(len(a) > 0 and len(b) > 0, "both files got events (%d before, %d after the signal)" % (len(a), len(b)))
        allv = a + b
        got = [l for l in allv if '"event_type":"stats"' not in l]
        check(got == want, "no line lost or torn across the rotation (%d vs %d)" % (len(got), len(want)))
        st = final_stats([json.loads(l) for l in allv]).get("output", {}).get("eve", {})
        check(st.get("written") == len(allv) - 1 and st.get("reconnects") == 1,
              "stats: written counts both files, one reopen (%s)" % st)
        check("leakhound: outputs eve ok:" in err, "SIGUSR1 prints the outputs' state on stderr")


# ---- rule reload (SIGUSR2) ---------------------------------------------------------

def no_stats(path):
    return sorted(l for l in lines(path) if '"event_type":"stats"' not in l)


def paced_reload(lh, src, rules, out, extra, edit=None):
    """Replays the capture at 60x (about 5 s), sends SIGUSR2 after 1.5 s
    (edit(rules) first, when given), returns (stderr, final stats)."""
    cmd = [lh, "-r", capture(src), "-R", rules, "-o", out, "--site-key", KEY,
           "--replay-speed", "60", "--no-progress"] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    if edit:
        edit(rules)
    p.send_signal(signal.SIGUSR2)
    _, err = p.communicate(timeout=60)
    check(p.returncode == 0, "paced run with SIGUSR2 exits 0 (%s)" % err.strip()[-300:])
    return err, final_stats(events(os.path.join(out, "eve.json")))


def copy_rules(src, dst):
    os.makedirs(dst)
    for f in ("pii-cn.yaml", "courier-api.yaml", "detections.yaml"):
        with open(os.path.join(src, "rules", f), "rb") as a, open(os.path.join(dst, f), "wb") as b:
            b.write(a.read())
    return dst


def long_flows_pcap(path, n_flows=16, start_every=10, end=240, every=2):
    """A capture of n_flows raw TCP conversations (port 5000, not HTTP) that
    start start_every seconds apart and all stay open to the end, each
    sending one line with a distinct mobile number every `every` seconds.
    Returns the number of distinct records sent."""
    import struct
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    t0 = 1767225600
    seqs = {}
    pkts = []

    def frame(ts, k, to_server, flags, payload):
        cli, srv = bytes([10, 1, 0, k + 1]), bytes([10, 2, 0, 1])
        sport, dport = 40000 + k, 5000
        s_, a_ = seqs[(k, to_server)], seqs[(k, not to_server)]
        if not to_server:
            cli, srv, sport, dport = srv, cli, dport, sport
        tcp = struct.pack(">HHIIBBHHH", sport, dport, s_, a_, 5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, cli, srv)
        eth = b"\x00\x01\x02\x03\x04\x05\x00\x01\x02\x03\x04\x06\x08\x00"
        data = eth + ip + tcp
        seqs[(k, to_server)] = (s_ + len(payload) + (1 if flags & 0x03 else 0)) & 0xffffffff
        pkts.append((ts, data))

    n_rec = 0
    for k in range(n_flows):
        seqs[(k, True)], seqs[(k, False)] = 1000 * (k + 1), 5000 * (k + 1)
        ts = k * start_every
        frame(ts, k, True, 0x02, b"")
        frame(ts, k, False, 0x12, b"")
        frame(ts, k, True, 0x10, b"")
        t = ts + 1
        while t < end:
            n_rec += 1
            line = ("rec %d tel 139%08d\n" % (n_rec, 10000000 + n_rec * 7919 % 89999999)).encode()
            frame(t + k * 0.01, k, False, 0x18, line)
            t += every
    pkts.sort(key=lambda p: p[0])
    for ts, data in pkts:
        sec = t0 + int(ts)
        usec = int(round((ts - int(ts)) * 1e6))
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    with open(path, "wb") as f:
        f.write(b"".join(out))
    return n_rec


def t_reload(lh, src):
    with tempfile.TemporaryDirectory() as d:
        rules = copy_rules(src, os.path.join(d, "rules"))
        ref_out = os.path.join(d, "ref")
        ref = run(lh, ["-r", capture(src), "-R", rules, "-o", ref_out, "-q", "--site-key", KEY])
        check(ref.returncode == 0, "reference run exits 0")
        want = no_stats(os.path.join(ref_out, "eve.json"))
        ref_st = final_stats(events(os.path.join(ref_out, "eve.json")))
        check(ref_st["detect"]["alerts"] > 0 and ref_st["records"]["distinct_per_flow"] > 0,
              "the reference run finds records and alerts (%d alerts)" % ref_st["detect"]["alerts"])

        # the same rules again, mid-replay, with one and with two worker threads:
        # every flow, http and alert line as without the reload
        for threads in ("1", "2"):
            out = os.path.join(d, "same" + threads)
            err, st = paced_reload(lh, src, rules, out, ["--threads", threads])
            check("rules reloaded: generation 2" in err,
                  "threads %s: the reload is reported on stderr" % threads)
            check(st.get("rules", {}).get("generation") == 2 and st["rules"]["reloads"] == 1 and
                  st["rules"]["rejected"] == 0,
                  "threads %s: stats say generation 2, one reload (%s)" % (threads, st.get("rules")))
            got = no_stats(os.path.join(out, "eve.json"))
            check(got == want, "threads %s: flows, http events and alerts identical to the run "
                  "without a reload (%d vs %d lines)" % (threads, len(got), len(want)))
            for k, sub in (("records", "distinct_per_flow"), ("detect", "alerts"),
                           ("detect", "accounts"), ("flow", "total")):
                check(st[k][sub] == ref_st[k][sub], "threads %s: %s.%s continuous (%s vs %s)" %
                      (threads, k, sub, st[k][sub], ref_st[k][sub]))

        # a reload every 0.15 s: more generations than a worker keeps slots
        # for (8) while flows stay open; nothing lost beyond what is counted
        out = os.path.join(d, "many")
        cmd = [lh, "-r", capture(src), "-R", rules, "-o", out, "--site-key", KEY,
               "--replay-speed", "60", "--no-progress", "--threads", "2"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(20):
            time.sleep(0.15)
            p.send_signal(signal.SIGUSR2)
        _, err = p.communicate(timeout=60)
        check(p.returncode == 0, "20 reloads: exits 0 (%d: %s)" % (p.returncode, err.strip()[-600:]))
        st = final_stats(events(os.path.join(out, "eve.json")))
        r = st.get("rules", {})
        check(r.get("reloads", 0) >= 5 and r.get("generation") == 1 + r.get("reloads", 0),
              "20 reloads: the generation counts every reload taken (%s)" % r)
        check(r.get("old_serving") == 0, "20 reloads: no old generation left at the end")
        cut = r.get("streams_cut", 0)
        got = st["records"]["distinct_per_flow"]
        want_n = ref_st["records"]["distinct_per_flow"]
        check(want_n - cut <= got <= want_n,
              "20 reloads: records continuous but for streams cut over (%d vs %d, %d cut)" %
              (got, want_n, cut))
        check(st["detect"]["accounts"] == ref_st["detect"]["accounts"],
              "20 reloads: every account kept")

        # long-lived raw streams, each opened under another generation: once
        # a worker has no slot left, the oldest are cut over to the current
        # rules (counted), and no record is lost (each line is whole)
        pcap = os.path.join(d, "long.pcap")
        n_rec = long_flows_pcap(pcap)
        out = os.path.join(d, "long")
        cmd = [lh, "-r", pcap, "-R", rules, "-o", out, "--site-key", KEY, "--no-checksum",
               "--replay-speed", "50", "--no-progress"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.1)
        for _ in range(20):
            time.sleep(0.2)
            p.send_signal(signal.SIGUSR2)
        _, err = p.communicate(timeout=60)
        check(p.returncode == 0, "long flows with reloads: exits 0 (%s)" % err.strip()[-200:])
        st = final_stats(events(os.path.join(out, "eve.json")))
        r = st.get("rules", {})
        check(r.get("reloads", 0) >= 10 and r.get("streams_cut", 0) >= 1 and r.get("old_serving") == 0,
              "long flows: streams cut over once the slots were full (%s)" % r)
        check(st["records"]["distinct_per_flow"] == n_rec,
              "long flows: every record counted across the cut-overs (%d of %d)" %
              (st["records"]["distinct_per_flow"], n_rec))

        # a broken rule file: rejected with file:line, the running rules stay
        broken = copy_rules(src, os.path.join(d, "broken"))
        pii = os.path.join(broken, "pii-cn.yaml")
        with open(pii) as f:
            n_lines = f.read().count("\n")

        def breakit(rdir):
            with open(os.path.join(rdir, "pii-cn.yaml"), "a") as f:
                f.write("  - id: broken\n    regex: '[0-9'\n    category: phone\n")
        out = os.path.join(d, "broken-out")
        err, st = paced_reload(lh, src, broken, out, [], breakit)
        check("pii-cn.yaml:%d:" % (n_lines + 1) in err or "pii-cn.yaml:%d:" % (n_lines + 2) in err,
              "the broken pattern is reported as file:line (%s)" % err.strip()[:400])
        check("rule reload rejected" in err and "generation 1 stays" in err,
              "the reload is refused and generation 1 stays")
        check(st["rules"]["generation"] == 1 and st["rules"]["rejected"] == 1 and
              st["rules"]["reloads"] == 0, "stats: one rejected reload (%s)" % st["rules"])
        check(no_stats(os.path.join(out, "eve.json")) == want,
              "after a rejected reload the output is that of the old rules")

        # a changed detection list: a new detection is added and one removed;
        # the detections that stay keep their state, the new one counts
        # records seen before the reload (the windows are the account's)
        changed = copy_rules(src, os.path.join(d, "changed"))

        def change(rdir):
            p = os.path.join(rdir, "detections.yaml")
            with open(p) as f:
                text = f.read()
            text = text.replace("  - id: query_volume", "  - id: burst_low\n    type: volume\n"
                                "    count: {records: [phone, id]}\n    window: 1h\n"
                                "    at_least: 300\n    severity: 3\n\n  - id: query_volume", 1)
            with open(p, "w") as f:
                f.write(text)
        out = os.path.join(d, "changed-out")
        err, st = paced_reload(lh, src, changed, out, [], change)
        check("rules reloaded: generation 2" in err, "the changed rules are taken")
        evs = events(os.path.join(out, "eve.json"))
        alerts = [e for e in evs if e["event_type"] == "alert"]
        ref_alerts = [json.loads(l) for l in want if '"event_type":"alert"' in l]
        new = [a for a in alerts if a["alert"]["rule"] == "burst_low"]
        old = [a for a in alerts if a not in new]
        check(len(new) >= 1, "the added detection alerts after the reload (%d)" % len(new))
        check([json.dumps(a, sort_keys=True) for a in old] ==
              [json.dumps(a, sort_keys=True) for a in ref_alerts],
              "the detections that stayed alert exactly as without the reload (%d vs %d)" %
              (len(old), len(ref_alerts)))
        check(st["rules"]["generation"] == 2 and st["detect"]["accounts"] == ref_st["detect"]["accounts"],
              "stats: generation 2, every account kept (%s accounts)" % st["detect"]["accounts"])


# ---- disk full -------------------------------------------------------------------

def t_diskfull(lh, src):
    with tempfile.TemporaryDirectory() as d:
        r = run(lh, ["-r", capture(src)] + rule_args(src) + ["-o", d, "--site-key", KEY,
                "--sink", "file:/dev/full", "--sink", "file:ok.json"])
        check(r.returncode == 0, "a full disk is not fatal: exit 0 (%d)" % r.returncode)
        check(r.stderr.count("No space left on device") == 1,
              "the write error is reported once per episode: %r" % r.stderr)
        ok = events(os.path.join(d, "ok.json"))
        st = final_stats(ok).get("output", {}).get("full", {})
        n = len(ok)
        check(st.get("written") == 0 and st.get("errors", 0) >= 1, "stats: nothing written, errors counted (%s)" % st)
        check(st.get("dropped", 0) + st.get("queued", 0) == n - 1,
              "stats: every event is either dropped or still waiting (%s, %d events)" % (st, n - 1))
        check("%d events could not be written" % 0 not in r.stderr and "lost" in r.stderr,
              "exit reports the events lost on the full disk")
        import re
        m = re.search(r"(\d+) lost in all", r.stderr)
        check(m is not None and int(m.group(1)) == n, "every event of the run is counted lost (%s of %d)" % (m and m.group(1), n))


# ---- configuration -----------------------------------------------------------------

def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def t_config(lh, src):
    with tempfile.TemporaryDirectory() as d:
        rules = "\n".join("  - %s" % a for a in rule_args(src)[1::2])
        good = write(os.path.join(d, "good.yaml"), """# test configuration
site-key: "%s"
rules:
%s
output-dir: out
stats-interval: 30
threads: 2
reader-share: 0.25
state-file: state.json
capture:
  checksums: true
limits:
  flow-memcap: 64M
  reasm-memcap: 16M
  defrag-memcap: 8M
evidence:
  dir: evidence
  max-bytes: 1G
  max-files: 100
outputs:
  - name: main
    type: file
    path: eve.json
    events: [alert, http, flow, stats]
  - name: ecs
    type: file
    path: ecs.json
    format: ecs
    events: alert
""" % (KEY, rules))
        r = run(lh, ["--check-config", "-c", good])
        check(r.returncode == 0 and "OK" in r.stdout, "--check-config on a good file: exit 0, OK (%r %r)" % (r.stdout, r.stderr))
        r = run(lh, ["-c", good, "-r", capture(src), "-q"])
        check(r.returncode == 0, "a run from the file exits 0 (%s)" % r.stderr)
        evs = events(os.path.join(d, "out", "eve.json"))
        nstats = sum(1 for e in evs if e["event_type"] == "stats")
        check(nstats >= 5, "stats-interval from the file is used (%d stats events)" % nstats)
        check(os.path.exists(os.path.join(d, "out", "ecs.json")), "outputs from the file: ecs.json written")
        check(final_stats(evs).get("output", {}).get("main", {}).get("written", 0) > 0, "output names from the file")
        pipe = final_stats(evs).get("pipeline", {})
        check(pipe.get("threads") == 2 and pipe.get("reader_share_pm") == 250,
              "threads and reader-share from the file (%s)" % pipe)
        # the command line wins
        os.rename(os.path.join(d, "out"), os.path.join(d, "out1"))
        r = run(lh, ["-c", good, "-r", capture(src), "-q", "--stats-interval", "0", "-o", os.path.join(d, "o2"),
                     "--sink", "file:cli.json"])
        evs2 = events(os.path.join(d, "o2", "cli.json"))
        check(r.returncode == 0 and sum(1 for e in evs2 if e["event_type"] == "stats") == 1,
              "--stats-interval 0 and --sink override the file")
        check(not os.path.exists(os.path.join(d, "o2", "eve.json")), "--sink replaces the file's outputs")

        cases = [
            ("unknown key", "site-key: x\nrules:\n  - a.yaml\nstats-intervall: 5\n", 4, "unknown key"),
            ("bad number", "threads: 2\nlimits:\n  flow-memcap: lots\n", 3, "flow-memcap"),
            ("bad output", "outputs:\n  - type: file\n    path: a.json\n  - type: syslog\n    protocol: sctp\n", 5, "protocol"),
            ("syslog without host", "outputs:\n  - type: syslog\n    port: 514\n", 2, "host"),
            ("not YAML", "rules: [a.yaml\nthreads: 2\n", 2, "YAML"),
            ("bad event type", "outputs:\n  - type: stdout\n    events: [alerts]\n", 3, "event type"),
            ("bad reader share", "threads: 2\nreader-share: half\n", 2, "reader-share"),
        ]
        for name, text, line, word in cases:
            path = write(os.path.join(d, "bad.yaml"), text)
            r = run(lh, ["--check-config", "-c", path])
            msg = r.stderr.strip().split("\n")
            check(r.returncode == 1 and msg[0].startswith("leakhound: %s:%d:" % (path, line)) and word in msg[0],
                  "bad config (%s): exit 1, '%s:%d: ...%s...' (%d %r)" % (name, "bad.yaml", line, word, r.returncode, r.stderr))
            check(len(msg) == 1, "bad config (%s): one line" % name)
        # a rule file named by the configuration has an error at a known line
        bad_rules = write(os.path.join(d, "bad-rules.yaml"),
                          "version: 1\npatterns:\n  - id: mobile\n    category: phone\n"
                          "    regex: '1[3-9][0-9]{9}'\n    validator: no_such_validator\n")
        cfg = write(os.path.join(d, "c.yaml"), "rules:\n  - bad-rules.yaml\n")
        r = run(lh, ["--check-config", "-c", cfg])
        check(r.returncode == 1 and (bad_rules + ":6") in r.stderr and "no_such_validator" in r.stderr,
              "bad rule file named by the config: exit 1, '%s:7 ...' (%d %r)" % ("bad-rules.yaml", r.returncode, r.stderr))
        r = run(lh, ["--check-config", "-c", good, "--allowlist", bad_rules])
        check(r.returncode == 1 and (bad_rules + ":6") in r.stderr,
              "--allowlist files are loaded and checked with the rules (%d)" % r.returncode)
        # the shipped example: loads, and names every key the loader knows
        example = os.path.join(src, "etc", "leakhound.yaml")
        r = run(lh, ["--check-config", "-c", example] + rule_args(src))
        check(r.returncode == 0, "etc/leakhound.yaml passes --check-config (%r)" % r.stderr)
        import re
        with open(os.path.join(src, "sensor", "config.c")) as f:
            code = f.read()
        keys = set(re.findall(r'\{"([a-z-]+)", K_', code)) | set(re.findall(r'strcmp\(k, "([a-z-]+)"\)', code))
        with open(example) as f:
            text = f.read()
        missing = sorted(k for k in keys if not re.search(r"(^|[\s#])%s:" % re.escape(k), text, re.M))
        check(len(keys) > 30 and not missing, "every configuration key is in etc/leakhound.yaml (%d keys, missing %s)" % (len(keys), missing))
        with open(os.path.join(src, "etc", "leakhound.service")) as f:
            unit = f.read()
        helptext = run(lh, ["--help"]).stdout
        opts = set(re.findall(r"(--[a-z-]+)", " ".join(l for l in unit.split("\n") if l.startswith("Exec"))))
        check(opts and all(o in helptext for o in opts), "the systemd unit uses only options --help lists (%s)" % sorted(opts))
        check("CAP_NET_RAW" in unit and "CAP_NET_ADMIN" in unit and "--user" in unit and "Restart=on-failure" in unit,
              "the unit has the capture capabilities, --user and a restart policy")
        r = run(lh, ["--check-config", "-c", os.path.join(d, "missing.yaml")])
        check(r.returncode == 1 and "missing.yaml: cannot read the configuration" in r.stderr,
              "missing config: exit 1 and says so (%r)" % r.stderr)
        # --check-rules says which patterns the digit-run pre-pass serves: the
        # shipped context waybill is one; a digit shape of more than 64
        # positions is not (docs/rules.md, "Writing fast patterns")
        r = run(lh, ["--check-rules", os.path.join(src, "rules")])
        pre = [l for l in r.stdout.split("\n") if "pre-pass:" in l]
        check(r.returncode == 0 and len(pre) == 1 and " waybill_ctx" in pre[0] and " cn_address" not in pre[0],
              "--check-rules names the pre-pass patterns (%r)" % r.stdout)
        site = write(os.path.join(d, "site.yaml"),
                     "version: 1\npatterns:\n"
                     "  - id: cust_no\n    category: other\n    regex: '[0-9]{10}'\n    boundary: digit\n"
                     "    context: {regex: 'custno\"?[ ]?[:=][ ]?\"?', flags: [caseless]}\n"
                     "  - id: long_shape\n    category: other\n    regex: '[0-9]{40}|[0-9]{30}'\n    boundary: digit\n")
        r = run(lh, ["--check-rules", site])
        check(r.returncode == 0 and "1 in the digit-run pre-pass: cust_no;" in r.stdout,
              "a user's context pattern is a digit shape; 70 positions are not (%r %r)" % (r.stdout, r.stderr))
        flagged = write(os.path.join(d, "flagged.yaml"),
                        "version: 1\npatterns:\n  - id: yt\n    category: waybill\n"
                        "    regex: 'YT[0-9]{13}'\n    boundary: alnum\n    flags: [caseless]\n")
        r = run(lh, ["--check-rules", flagged])
        check(r.returncode == 0 and "none in the digit-run pre-pass; all in Hyperscan" in r.stdout,
              "a flag keeps a pattern in Hyperscan, and --check-rules says so (%r)" % r.stdout)


# ---- refusals ----------------------------------------------------------------------

def t_refusals(lh, src):
    with tempfile.TemporaryDirectory() as d:
        cases = [
            ("unknown option", ["--frobnicate"], "--frobnicate", 1),
            ("option without value", ["-r"], "needs a value", 1),
            ("missing capture", ["-r", os.path.join(d, "nope.pcap"), "-o", d], "nope.pcap", 2),
            ("unknown interface", ["-i", "nosuchif0", "-o", d], "nosuchif0", 2),
            ("bad output spec", ["-r", capture(src), "--sink", "carrier-pigeon:x"], "carrier-pigeon", 1),
            ("unwritable output", ["-r", capture(src), "-o", d, "--sink", "file:/proc/nope/eve.json"],
             "/proc/nope/eve.json", 2),
            ("unknown user", ["-r", capture(src), "-o", d, "--user", "no-such-user-x"], "no-such-user-x", 2),
            ("reader share out of range", ["-r", capture(src), "-o", d, "--threads", "2", "--reader-share", "1"],
             "--reader-share", 1),
            ("bad syslog host", ["-r", capture(src), "-o", d, "--sink", "syslog:tcp://no-such-host.invalid:514"],
             "no-such-host.invalid", 2),
        ]
        for name, args, word, code in cases:
            r = run(lh, ["--site-key", KEY] + rule_args(src) + args, timeout=30)
            msg = [l for l in r.stderr.split("\n") if l]
            check(r.returncode == code and len(msg) == 1 and word in msg[0] and msg[0].startswith("leakhound: "),
                  "%s: exit %d, one line naming %s (%d %r)" % (name, code, word, r.returncode, r.stderr))


# ---- live capture on a veth pair, in a network namespace of its own --------------

def send_pcap(iface, path, pps):
    """Writes every frame of the pcap (Ethernet) on iface through a packet
    socket, paced at pps; returns the number sent."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    n = 0
    t0 = time.monotonic()
    with open(path, "rb") as f:
        gh = f.read(24)
        e = "<" if struct.unpack("<I", gh[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        check(struct.unpack(e + "I", gh[20:24])[0] == 1, "the capture is Ethernet (what a veth carries)")
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            incl = struct.unpack(e + "IIII", h)[2]
            s.send(f.read(incl))
            n += 1
            lag = n / pps - (time.monotonic() - t0)
            if lag > 0:
                time.sleep(lag)
    s.close()
    return n


def comparable(e, shift=0):
    """An event without what depends on when it was seen: timestamps, the
    capture's name, and how a flow ended (the replay's idle timeouts come
    at packet time, which a live run at ~100x speed never reaches); packet
    numbers less the shift frames seen before the capture's first, and no
    flow id (made from the flow's first packet number; community_id names
    the flow)."""
    e = dict(e)
    for k in ("timestamp", "pcap_filename", "flow_id"):
        e.pop(k, None)
    if "pcap_cnt" in e:
        e["pcap_cnt"] -= shift
    if "flow" in e:
        e["flow"] = {k: v for k, v in e["flow"].items() if k not in ("start", "end", "age", "reason")}
    return json.dumps(e, sort_keys=True)


class LiveSensor:
    """leakhound capturing on lhcap, started and made sure of: its counts
    come from the summary SIGUSR1 prints on stderr."""

    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.err = []
        self.reader = threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True)
        self.reader.start()

    def catches_usr1(self):
        try:
            with open("/proc/%d/status" % self.p.pid) as f:
                cgt = [l.split()[1] for l in f if l.startswith("SigCgt:")]
            return bool(cgt) and int(cgt[0], 16) >> (signal.SIGUSR1 - 1) & 1
        except OSError:
            return False

    def counts(self):
        """(packets processed, kernel drops) from a fresh summary."""
        before = len(self.err)
        self.p.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while len(self.err) == before and time.monotonic() < deadline and self.p.poll() is None:
            time.sleep(0.02)
        time.sleep(0.05)
        rows = [l for l in list(self.err)[before:] if l.startswith("leakhound: ") and " packets, " in l]
        if not rows:
            return 0, 0
        drops = rows[-1].split("; kernel drops ")
        return int(rows[-1].split()[1]), int(drops[1].split(";")[0]) if len(drops) > 1 else 0

    def ready(self, iface="lhsend"):
        """Ready is when a frame sent now (on iface) is counted: the packet
        socket exists before its ring, and frames in between are lost to any
        capture. The probes are not IP (an IEEE local experimental
        EtherType), so they add packets and nothing else. Returns the
        probes counted, 0 when the sensor never counted one."""
        probe = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        probe.bind((iface, 0))
        frame = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x88\xb5" + bytes(46)
        deadline = time.monotonic() + 30
        while self.p.poll() is None and not self.catches_usr1() and time.monotonic() < deadline:
            time.sleep(0.01)
        n = 0
        while self.p.poll() is None and time.monotonic() < deadline and n == 0:
            probe.send(frame)
            n = self.counts()[0]
        probe.close()
        if not check(self.p.poll() is None and n > 0, "the sensor counts a probe frame"):
            print("".join(self.err)[-500:])
            self.p.kill()
            self.p.wait()
            return 0
        return self.counts()[0]

    def wait_for(self, total, what):
        """Polls until packets + drops reach total (60 s at most)."""
        n = drops = 0
        deadline = time.monotonic() + 60
        while n + drops < total and time.monotonic() < deadline and self.p.poll() is None:
            n, drops = self.counts()
            time.sleep(0.1)
        check(n + drops == total, "%s (%d read, %d dropped, %d expected)" % (what, n, drops, total))
        return n, drops

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=60)
        self.reader.join(5)
        if not check(self.p.returncode == 0, "live run ends 0 on SIGTERM (%d)" % self.p.returncode):
            print("".join(self.err)[-500:])


def live_cmd(lh, src, out, threads, extra=()):
    return [lh, "-i", "lhcap"] + rule_args(src) + \
           ["-o", out, "--site-key", KEY, "--threads", str(threads)] + list(extra)


def live_run(lh, src, d, threads, extra=()):
    """Captures the demo capture sent through a veth pair; checks the events
    against a replay of the same capture (both with extra options)."""
    name = "%d%s" % (threads, "f" if extra else "")
    ref = os.path.join(d, "ref" + name)
    r = base(lh, src, ref, ["--threads", str(threads)] + list(extra))
    check(r.returncode == 0, "replay reference exits 0 (%s)" % r.stderr.strip()[-200:])
    refev = events(os.path.join(ref, "eve.json"))
    want = [e for e in refev if e["event_type"] != "stats"]
    expect = final_stats(refev).get("capture", {}).get("packets", 0)  # what passes the filter
    out = os.path.join(d, "live" + name)
    lv = LiveSensor(live_cmd(lh, src, out, threads, extra))
    probes = lv.ready()
    if not probes:
        return None
    sent = send_pcap("lhsend", capture(src), 3000)
    n, _ = lv.wait_for(probes + expect, "the sensor read every packet the replay did (%d sent)" % sent)
    lv.stop()
    evs = events(os.path.join(out, "eve.json"))
    got = [e for e in evs if e["event_type"] != "stats"]
    st = final_stats(evs).get("capture", {})
    dec = final_stats(evs).get("decoder", {})
    check(st.get("packets") == n and st.get("kernel_packets") == n and st.get("kernel_drops") == 0
          and dec.get("non_ip") == probes,
          "threads %s: stats count the %d packets and %d probes, the kernel's too, none dropped (%s, %s non-IP)"
          % (name, expect, probes, st, dec.get("non_ip")))
    for t in ("flow", "http"):
        a = sorted(comparable(e) for e in want if e["event_type"] == t)
        b = sorted(comparable(e, probes) for e in got if e["event_type"] == t)
        check(len(a) > 0 and a == b, "threads %s: the live run's %s events are the replay's (%d vs %d, %d differ)"
              % (name, t, len(b), len(a), len(set(a) ^ set(b))))
    # alerts: the same rule for the same account and host; what they count
    # depends on the windows, which the live run's compressed time changes
    al = lambda evs: sorted((e["alert"]["rule"], e["account"]["id"], e["src_ip"])
                            for e in evs if e["event_type"] == "alert")
    check(len(al(want)) > 0 and al(got) == al(want),
          "threads %s: the same alerts (%s vs %s)" % (name, al(got), al(want)))
    return got


def live_overload(lh, src, d):
    """More than the kernel's buffer arrives while the sensor cannot read
    (stopped with SIGSTOP): what is lost is counted, exactly."""
    out = os.path.join(d, "overload")
    lv = LiveSensor(live_cmd(lh, src, out, 2, ["--buffer-size", "1"]))
    probes = lv.ready()
    if not probes:
        return
    lv.p.send_signal(signal.SIGSTOP)
    sent = sum(send_pcap("lhsend", capture(src), 1e9) for _ in range(3))  # ~3 MB into 1 MiB
    lv.p.send_signal(signal.SIGCONT)
    n, drops = lv.wait_for(probes + sent, "overload: every frame read or counted as dropped")
    check(drops > 0 and n > probes, "overload: some frames dropped (%d), the rest read (%d)" % (drops, n - probes))
    lv.stop()
    st = final_stats(events(os.path.join(out, "eve.json"))).get("capture", {})
    check(st.get("kernel_drops") == drops and st.get("packets") == n and
          st.get("kernel_packets") == probes + sent,
          "overload: the final stats say the same (%s)" % st)


def live_link(lh, src, d, ip):
    """The link flaps (down, up): the capture goes on and reads what comes
    after. Then the interface is deleted under the sensor: one line says
    so, the events so far are flushed with the final stats, exit 2 (a
    run-time failure, for the service manager to restart)."""
    out = os.path.join(d, "link")
    lv = LiveSensor(live_cmd(lh, src, out, 2))
    probes = lv.ready()
    if not probes:
        return
    check(ip("link", "set", "lhcap", "down").returncode == 0, "link down")
    time.sleep(0.3)
    check(ip("link", "set", "lhcap", "up").returncode == 0, "link up again")
    time.sleep(0.3)
    sent = send_pcap("lhsend", capture(src), 3000)
    n, _ = lv.wait_for(probes + sent, "after a link flap every frame is read")
    check(ip("link", "del", "lhcap").returncode == 0, "interface deleted under the sensor")
    try:
        lv.p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        lv.p.kill()
        lv.p.wait()
    lv.reader.join(5)
    msg = [l for l in lv.err if "capture failed" in l]
    check(lv.p.returncode == 2 and len(msg) == 1 and "lhcap" in msg[0],
          "interface gone: exit 2 and one line naming it (%d, %r)" % (lv.p.returncode, msg))
    evs = events(os.path.join(out, "eve.json"))
    st = final_stats(evs).get("capture", {})
    check(st.get("packets") == n and sum(e["event_type"] == "flow" for e in evs) > 0,
          "interface gone: the flows so far and the final stats are written (%s)" % st.get("packets"))


def in_own_netns(name):
    """Runs the rest of this script in a network namespace of its own: the
    first call re-executes it under `unshare --net` and exits with its
    status; in there (LH_LIVE_NETNS=1) it returns. Needs root."""
    if os.environ.get("LH_LIVE_NETNS") == "1":
        return
    env = dict(os.environ, LH_LIVE_NETNS="1")
    r = subprocess.run(["unshare", "--net", "--", sys.executable] + sys.argv, env=env)
    if r.returncode not in (0, 1):
        print("FAIL %s: could not run in a new network namespace (unshare --net: exit %d; "
              "this test needs root)" % (name, r.returncode))
    sys.exit(r.returncode)


def t_live(lh, src):
    """leakhound -i on one end of a veth pair while the demo capture is
    written into the other end, in a network namespace made for the test
    (no other traffic, nothing left behind); 1 and 2 threads, a capture
    filter, an overload whose drops must be counted, a link that flaps and
    an interface that goes away. Needs root
    (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2."""
    in_own_netns("live")
    ip = lambda *a: subprocess.run(["ip"] + list(a), capture_output=True, text=True)
    r = ip("link", "add", "lhcap", "type", "veth", "peer", "name", "lhsend")
    if not check(r.returncode == 0, "veth pair created (%s)" % r.stderr.strip()):
        return
    for dev in ("lhcap", "lhsend"):
        # no link-local address: nothing but the test's frames on the wire
        ip("link", "set", dev, "addrgenmode", "none")
        check(ip("link", "set", dev, "mtu", "9000", "up").returncode == 0, "%s up" % dev)
    with tempfile.TemporaryDirectory() as d:
        for threads in (1, 2):
            live_run(lh, src, d, threads)
        # a capture filter (the probes are not IP, so it must let them by):
        # the same events as a replay through the same filter, and none of
        # what it keeps out; each worker on a thread of its own, where the
        # runs above have the reader's share auto gives on this machine
        flt = "not tcp port 80"
        got = live_run(lh, src, d, 2, ["-f", flt, "--reader-share", "0"])
        check(got is not None and len(got) > 0 and
              not any(e.get("proto") == "TCP" and 80 in (e.get("src_port"), e.get("dest_port")) for e in got),
              "-f '%s': events, none of TCP port 80 (%d events)" % (flt, len(got or [])))
        live_overload(lh, src, d)
        live_link(lh, src, d, ip)  # last: it deletes the interface


TESTS = {
    "outputs": t_outputs, "ecs": t_ecs, "syslog_udp": t_syslog_udp, "syslog_tcp": t_syslog_tcp,
    "syslog_outage": t_syslog_outage, "unix": t_unix, "sighup": t_sighup, "diskfull": t_diskfull,
    "config": t_config, "refusals": t_refusals, "reload": t_reload, "live": t_live,
}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in TESTS:
        sys.exit("usage: ops.py {%s} LEAKHOUND SRC_ROOT" % ",".join(TESTS))
    TESTS[sys.argv[1]](os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    print("%d failed" % len(FAILS))
    sys.exit(1 if FAILS else 0)
