#!/usr/bin/env python3
"""foreign_api.py - an API the shipped rules know nothing about, configured
from the documentation alone, against a real HTTP server.

usage: foreign_api.py LEAKHOUND SRC_ROOT

The sensor is built for a courier's waybill API, but a site's own systems
have other shapes. This test writes a rule file for an invented ERP, from
docs/rules.md and docs/detection.md only: the account is named in the JSON
request body (`json: operator.id`) or, for the lookups, in a query parameter
(`query: staff`); the endpoints are a POST search and a GET lookup whose last
path segment is a waybill number; the detections are its own (a bulk
response, a record volume, a lookup volume, an enumeration). The shipped
record patterns (rules/pii-cn.yaml) are used as they are.

In a network namespace of its own (no other traffic; needs root), a real
HTTP/1.1 server (Python's http.server, keep-alive, some responses gzip and
some chunked) serves customer records - mobile numbers, resident IDs with
their check characters, postal addresses - made up here, and clients make
the calls over loopback while `leakhound -i lo` captures them:
  - U-1001, a clerk: 20 searches that return the same five customers;
  - U-6666, with someone's borrowed id: 12 searches of 250 customers each;
  - U-2002: 150 lookups of consecutive waybill numbers.
Required:
  - one http event per call, with the account and how it was named;
  - per response, the distinct phones, IDs and addresses the sensor counts
    are exactly what the server sent;
  - alerts: bulk response and record volume for U-6666, lookup volume and
    enumeration for U-2002, nothing for U-1001;
  - the sensor never becomes the leak: no value the server sent appears in
    any file the sensor wrote (URLs and samples masked, fingerprints keyed).
This script prints counts and verdicts, never a record.
"""
import datetime
import gzip
import http.client
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ops  # noqa: E402  (check, LiveSensor, events, KEY)

check = ops.check

RULES = """\
# An invented ERP, written from docs/rules.md and docs/detection.md.
version: 1
identity:
  - json: operator.id          # POST bodies: {"operator": {"id": "U-1001"}, ...}
  - query: staff               # lookups: /erp/v3/parcel/YT...?staff=U-2002
endpoints:
  - id: customer_search
    method: POST
    path: '^/erp/v3/customers/search$'
  - id: parcel_lookup
    method: GET
    path: '^/erp/v3/parcel/'
    waybill: path
detections:
  - id: erp_bulk
    type: bulk_response
    categories: [phone, id, address]
    at_least: 200
    signature: ERP export-sized response
  - id: erp_pull
    type: volume
    count: {records: [phone, id]}
    window: 10m
    at_least: 1000
  - id: erp_lookups
    type: volume
    count: {endpoint: parcel_lookup}
    window: 10m
    at_least: 100
  - id: erp_walk
    type: enumeration
    window: 10m
    min_queries: 50
    max_step: 10
"""

AREAS = ["110105", "440305", "310104", "330106"]
PLACES = ["广东省深圳市南山区", "北京市朝阳区", "上海市浦东新区", "浙江省杭州市西湖区"]
STREETS = ["科技园路", "建国路", "世纪大道", "文三路"]
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def person(i):
    """Customer i: a mobile number (138 prefix), a resident ID with a real
    area, birth date and check character (GB 11643), a postal address.
    Distinct for distinct i below 12,000."""
    birth = datetime.date(1970, 1, 1) + datetime.timedelta(days=(i * 37) % 12000)
    id17 = AREAS[i % 4] + birth.strftime("%Y%m%d") + "%03d" % (i % 1000)
    idn = id17 + "10X98765432"[sum(int(c) * w for c, w in zip(id17, W)) % 11]
    return {"name": "客户%d" % i, "mobile": "138%08d" % i, "idcard": idn,
            "addr": "%s%s%d号" % (PLACES[i % 4], STREETS[i % 4], i + 1)}


class World:
    """What the server sent, for the checks: per response (in order of
    arrival), the distinct values by category; and every value, for the
    leak check."""

    def __init__(self):
        self.lock = threading.Lock()
        self.responses = {}  # (account, n-th call) -> {category: count}
        self.values = set()

    def sent(self, key, people, extra=()):
        with self.lock:
            self.responses[key] = {"phone": len({p["mobile"] for p in people}),
                                   "id": len({p["idcard"] for p in people}),
                                   "address": len({p["addr"] for p in people})}
            for p in people:
                self.values.update((p["mobile"], p["idcard"], p["addr"]))
            self.values.update(extra)


def handler(world):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, doc, call):
            body = json.dumps(doc, ensure_ascii=False).encode()
            gz = "gzip" in self.headers.get("Accept-Encoding", "") and call % 3 == 1
            chunked = call % 3 == 2
            if gz:
                body = gzip.compress(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for k in range(0, len(body), 1000):
                    piece = body[k:k + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            acct, page, size = req["operator"]["id"], req["page"], req["size"]
            first = req["first"]
            people = [person(first + page * size + k) for k in range(size)]
            world.sent((acct, req["call"]), people)
            self.reply({"total": size, "page": page, "items": people}, req["call"])

        def do_GET(self):
            path, _, query = self.path.partition("?")
            acct = dict(kv.split("=") for kv in query.split("&"))["staff"]
            wb = path.rsplit("/", 1)[1]
            call = int(wb[2:]) % 1000
            p = person(5000 + call)
            world.sent((acct, call), [p], [wb])
            self.reply({"waybill": wb, "status": "delivered", "receiver": p}, call)
    return H


def clients(port, only_clerk=False):
    def search(acct, calls, size, first):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in range(calls):
            page = 0 if first == 0 else n
            body = json.dumps({"operator": {"id": acct}, "page": page, "size": size,
                               "first": first, "call": n})
            c.request("POST", "/erp/v3/customers/search", body,
                      {"Content-Type": "application/json", "Accept-Encoding": "gzip"})
            c.getresponse().read()
        c.close()

    search("U-1001", 20, 5, 0)          # the same five customers, again and again
    if only_clerk:
        return 20
    search("U-6666", 12, 250, 1000)     # 3,000 customers
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(150):                # consecutive waybill numbers
        c.request("GET", "/erp/v3/parcel/YT%013d?staff=U-2002" % (7700012340000 + n),
                  headers={"Accept-Encoding": "gzip"})
        c.getresponse().read()
    c.close()
    return 20 + 12 + 150


def settle(lv):
    """Waits until the sensor has read everything loopback carried: its
    packet count stops moving."""
    last = -1
    for _ in range(100):
        n = lv.counts()[0]
        if n == last:
            return n
        last = n
        time.sleep(0.3)
    return last


def main(lh, src):
    if os.environ.get("LH_LIVE_NETNS") != "1":
        env = dict(os.environ, LH_LIVE_NETNS="1")
        r = subprocess.run(["unshare", "--net", "--", sys.executable] + sys.argv, env=env)
        if r.returncode not in (0, 1):
            print("FAIL foreign_api: could not run in a new network namespace (unshare --net: "
                  "exit %d; this test needs root)" % r.returncode)
        sys.exit(r.returncode)
    r = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if not check(r.returncode == 0, "loopback up in the test's namespace (%s)" % r.stderr.strip()):
        return
    with tempfile.TemporaryDirectory() as d:
        rules = os.path.join(d, "erp.yaml")
        with open(rules, "w") as f:
            f.write(RULES)
        r = ops.run(lh, ["--check-rules", "-R", os.path.join(src, "rules", "pii-cn.yaml"),
                         "-R", rules])
        if not check(r.returncode == 0, "the ERP rule file loads (%s)" % r.stderr.strip()[-300:]):
            return
        cmd = lambda out, extra: [lh, "-i", "lo", "-R", os.path.join(src, "rules", "pii-cn.yaml"),
                                  "-R", rules, "-o", out, "--site-key", ops.KEY] + extra

        # Loopback carries the checksums the kernel never filled in (offload):
        # verified, every packet is dropped, and the sensor must say why.
        world = World()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(world))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        lv = ops.LiveSensor(cmd(os.path.join(d, "verified"), []))
        if not lv.ready("lo"):
            srv.shutdown()
            return
        clients(srv.server_address[1], only_clerk=True)
        settle(lv)
        srv.shutdown()
        lv.stop()
        warn = [l for l in lv.err if "bad checksum" in l and "--no-checksum" in l]
        st = ops.final_stats(ops.events(os.path.join(d, "verified", "eve.json")))
        check(len(warn) == 1 and st.get("decoder", {}).get("event", {}).get("tcp_bad_csum", 0) > 0,
              "checksums verified on loopback: the drops are counted and one line says why (%r)"
              % "".join(warn).strip())

        # The run the rest is about, as the line advises.
        world = World()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(world))
        port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        out = os.path.join(d, "out")
        lv = ops.LiveSensor(cmd(out, ["--no-checksum"]))
        if not lv.ready("lo"):
            srv.shutdown()
            return
        calls = clients(port)
        n = settle(lv)
        srv.shutdown()
        lv.stop()
        check(n > 0 and len(world.responses) == calls,
              "the server answered %d calls, the sensor read %d packets" % (len(world.responses), n))
        evs = ops.events(os.path.join(out, "eve.json"))
        http_ev = [e for e in evs if e["event_type"] == "http"]
        if not check(len(http_ev) == calls, "one http event per call (%d of %d)" % (len(http_ev), calls)):
            st = ops.final_stats(evs)
            print("  stats: decoder %s; tcp %s; http %s" % (st.get("decoder"), st.get("tcp"), st.get("http")))

        via = {}
        for e in http_ev:
            via.setdefault(e.get("account", {}).get("id"), set()).add(e.get("account", {}).get("via"))
        check(via == {"U-1001": {"json:operator.id"}, "U-6666": {"json:operator.id"},
                      "U-2002": {"query:staff"}},
              "each call names its account, and how (%s)" % sorted((k, sorted(v)) for k, v in via.items()))

        # per response: the sensor's distinct counts are the server's; the
        # events of one account come in call order on its one connection
        seen = {}
        wrong = 0
        for e in http_ev:
            acct = e.get("account", {}).get("id")
            k = seen.get(acct, 0)
            seen[acct] = k + 1
            want = world.responses.get((acct, k))
            got = e.get("records", {}).get("counts", {})
            if want is None or any(got.get(c, 0) != v for c, v in want.items()):
                wrong += 1
                if wrong <= 3:
                    print("  %s call %d: sensor %s, server %s" % (acct, k, got, want))
        check(wrong == 0, "every response's phones, IDs and addresses counted as sent "
              "(%d of %d differ)" % (wrong, len(http_ev)))
        urls = [e["http"]["url"] for e in http_ev if e["account"]["id"] == "U-2002"]
        check(len(urls) == 150 and all("YT**********" in u for u in urls),
              "the looked-up waybill numbers are masked in the logged URLs")

        alerts = {}
        for e in evs:
            if e["event_type"] == "alert":
                alerts.setdefault(e["account"]["id"], set()).add(e["alert"]["rule"])
        check(alerts.get("U-6666", set()) >= {"erp_bulk", "erp_pull"},
              "U-6666: bulk response and record volume (%s)" % sorted(alerts.get("U-6666", [])))
        check(alerts.get("U-2002", set()) >= {"erp_lookups", "erp_walk"},
              "U-2002: lookup volume and enumeration (%s)" % sorted(alerts.get("U-2002", [])))
        check("U-1001" not in alerts, "U-1001, the clerk: no alert (%s)" % sorted(alerts.get("U-1001", [])))
        check(set(alerts) <= {"U-6666", "U-2002"}, "no other account alerted (%s)" % sorted(alerts))

        # the sensor is not the leak: no value the server sent, in any file
        leaked = 0
        files = 0
        for root, _, names in os.walk(out):
            for name in names:
                files += 1
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read().decode("utf-8", "replace")
                leaked += sum(v in data for v in world.values)
        check(files > 0 and len(world.values) > 9000 and leaked == 0,
              "none of the %d values the server sent is in the sensor's %d files (%d found)"
              % (len(world.values), files, leaked))
        samples = [s for e in http_ev for s in e.get("records", {}).get("samples", [])]
        check(len(samples) > 0 and all("*" in s for s in samples),
              "records are shown as masked samples (%d)" % len(samples))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: foreign_api.py LEAKHOUND SRC_ROOT")
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
    print("%d failed" % len(ops.FAILS))
    sys.exit(1 if ops.FAILS else 0)
