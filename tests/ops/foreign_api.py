#!/usr/bin/env python3
"""foreign_api.py - an API the shipped rules know nothing about, configured
from the documentation alone, against a real HTTP server.

usage: foreign_api.py LEAKHOUND SRC_ROOT

The sensor is built for a courier's waybill API, but a site's own systems
have other shapes. This test writes a rule file for an invented ERP, from
docs/rules.md and docs/detection.md only: the account is named in the JSON
request body (`json: operator.id`) or, for the lookups, in a query parameter
(`query: staff`); a pattern of the site's own finds customers' email
addresses; the endpoints are a POST search and a GET lookup whose last
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
  - U-7777: an export of 8,000 customers in two answers, one of them 0.7 MB
    of JSON sent deflate (zlib streams it);
  - U-3003: 10 calls to a SOAP service, the account in the envelope
    (`xml: operatorId`), the answers XML; U-4004: 10 calls that name the
    account in the path (`path: {after: staff}`); U-5005: a CSV export in
    GBK served as text/csv with no charset, as made for Excel;
  - U-8888: the export button: 3,000 customers in an .xlsx (a ZIP of
    deflated XML: shared strings, numeric cells), written by zipfile;
  - U-2002: 150 lookups of consecutive waybill numbers.
Required:
  - one http event per call, with the account and how it was named;
  - per response, the distinct phones, IDs and addresses the sensor counts
    are exactly what the server sent;
  - alerts: bulk response and record volume for U-6666, U-7777 and U-8888,
    lookup volume and enumeration for U-2002, nothing for U-1001;
  - the sensor never becomes the leak: no value the server sent appears in
    any file the sensor wrote (URLs and samples masked, fingerprints keyed).
A second site, a CRM, over IPv6 loopback on a port no HTTP guess knows:
staff log in with a form (`form: user`) and are known afterwards by their
session cookie (`session: {cookie: CRMSESSION, login: crm_login}`); the
customer pages are HTML, and some answers are HTTP/1.0, ended by closing the
connection; clients accept what a browser does (gzip, deflate, br, zstd), and
answers come Brotli, zstd, gzip or plain, compressed by Debian's brotli and
zstd tools; a third of the pages are in GBK, as legacy Chinese systems
serve them, half of those saying so only in a `<meta charset>`; a JSON API beside it names the caller in a JWT under a header of
its own (`jwt: {header: X-Api-Token, claim: ctx.staff}`); a mobile app logs
in with JSON (`json: username`), gets an opaque token in the JSON answer
(gzip) and sends it as `Authorization: Bearer ...` (`session: {header:
Authorization, login: crm_app_login, token: data.token}`). Required: every
page call names the account that logged in, by its session, the API calls
by their JWT, the app's by its token; every page's and answer's records
counted as sent; the one who browses 1,500 customers and the app user who
pulls 500 alerted by name, the others not; nothing leaked.
A third part sends records out instead of fetching them: a CSV of 400
customers uploaded as multipart/form-data in a chunked POST to a paste
site (no identity rules: the account is the client address), an .xlsx
written without seeking (each member's sizes after its data) put as a
request body, an upload form with a text field, an .xlsx and a CSV field,
and a CSV written to a bare TCP listener (no HTTP: the stream is scanned
as it is). Required: the upload's http event and the raw flow's event count
the records sent, each way they went, and nothing leaks.
This script prints counts and verdicts, never a record.
"""
import datetime
import gzip
import io
import http.client
import http.server
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from xml.sax.saxutils import escape as xml_escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ops  # noqa: E402  (check, LiveSensor, events, KEY)

check = ops.check

RULES = """\
# An invented ERP, written from docs/rules.md and docs/detection.md.
version: 1
patterns:                      # the site's own record kind, beside pii-cn.yaml's
  - id: customer_email
    category: email
    regex: '[a-z0-9._-]{1,40}@[a-z0-9-]{1,30}(\\.[a-z0-9-]{1,20}){1,3}'
    flags: caseless
    max_len: 96                # the loader asks for it: the regex could reach 134 bytes
    mask: {keep_first: 2, keep_last: 4}
identity:
  - json: operator.id          # POST bodies: {"operator": {"id": "U-1001"}, ...}
  - query: staff               # lookups: /erp/v3/parcel/YT...?staff=U-2002
  - xml: operatorId            # the SOAP service: <tns:operatorId>U-3003</tns:operatorId>
  - path: {after: staff}       # /erp/v3/staff/U-4004/customers
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
            "addr": "%s%s%d号" % (PLACES[i % 4], STREETS[i % 4], i + 1),
            "email": "cust.%d@mail%d.example.cn" % (i, i % 7)}


class World:
    """What the server sent, for the checks: per response (in order of
    arrival), the distinct values by category; and every value, for the
    leak check."""

    def __init__(self, emails=False):
        self.emails = emails  # the rules have the email pattern: count emails too
        self.lock = threading.Lock()
        self.responses = {}  # (account, n-th call) -> {category: count}
        self.values = set()

    def sent(self, key, people, extra=()):
        with self.lock:
            self.responses[key] = {"phone": len({p["mobile"] for p in people}),
                                   "id": len({p["idcard"] for p in people}),
                                   "address": len({p["addr"] for p in people})}
            if self.emails:
                self.responses[key]["email"] = len({p["email"] for p in people})
                self.values.update(p["email"] for p in people)
            for p in people:
                # the address also as JSON escapes it (\uXXXX), as it may travel
                self.values.update((p["mobile"], p["idcard"], p["addr"], json.dumps(p["addr"])[1:-1]))
            self.values.update(extra)


def handler(world):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, doc, call):
            # half the answers escape every non-ASCII character (\uXXXX), as
            # many JSON libraries do by default
            body = json.dumps(doc, ensure_ascii=call % 2 == 0).encode()
            gz = "gzip" in self.headers.get("Accept-Encoding", "") and call % 3 == 1
            chunked = call % 3 == 2
            coding = None
            if gz and len(body) > 500000:  # an export: deflate, which zlib streams
                body, coding = zlib.compress(body), "deflate"
            elif gz:
                body, coding = gzip.compress(body), "gzip"
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if coding:
                self.send_header("Content-Encoding", coding)
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
            if self.path == "/erp/ws/CustomerService":  # the old SOAP service
                env = self.rfile.read(int(self.headers["Content-Length"])).decode()
                acct = env.split("operatorId>")[1].split("<")[0]
                call = int(env.split("<tns:call>")[1].split("<")[0])
                people = [person(9500 + 20 * call + k) for k in range(20)]
                world.sent((acct, call), people)
                rows = "".join("<customer><name>%s</name><mobile>%s</mobile><idcard>%s</idcard>"
                               "<addr>%s</addr><email>%s</email></customer>"
                               % (p["name"], p["mobile"], p["idcard"], p["addr"], p["email"])
                               for p in people)
                body = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap='
                        '"http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                        '<QueryResponse>%s</QueryResponse></soap:Body></soap:Envelope>' % rows).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            acct, page, size = req["operator"]["id"], req["page"], req["size"]
            first = req["first"]
            people = [person(first + page * size + k) for k in range(size)]
            world.sent((acct, req["call"]), people)
            self.reply({"total": size, "page": page, "items": people}, req["call"])

        def do_GET(self):
            path, _, query = self.path.partition("?")
            q = dict(kv.split("=") for kv in query.split("&"))
            if path.startswith("/erp/v3/staff/"):  # the account in the path
                acct, call = path.split("/")[4], int(q["page"])
                people = [person(9800 + 20 * call + k) for k in range(20)]
                world.sent((acct, call), people)
                self.reply({"staff": acct, "customers": people}, call)
                return
            acct = q["staff"]
            if path.endswith("/export.csv"):  # the older export: a CSV in GBK, for Excel
                people = [person(int(q["from"]) + k) for k in range(int(q["n"]))]
                world.sent((acct, 0), people)
                body = ("姓名,手机,身份证,地址,邮箱\r\n" + "".join(
                    "%s,%s,%s,%s,%s\r\n" % (p["name"], p["mobile"], p["idcard"], p["addr"], p["email"])
                    for p in people)).encode("gbk")
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")  # no charset: Excel's own
                self.send_header("Content-Disposition", 'attachment; filename="customers.csv"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if path.endswith("/export.xlsx"):  # the export button: a spreadsheet
                people = [person(int(q["from"]) + k) for k in range(int(q["n"]))]
                world.sent((acct, 0), people)
                body = xlsx_of(people)
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.openxmlformats-officedocument"
                                 ".spreadsheetml.sheet")
                self.send_header("Content-Disposition", 'attachment; filename="customers.xlsx"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
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
    search("U-7777", 2, 4000, 4000)     # an export: the second answer 0.7 MB of JSON,
                                        # deflate (zlib streams it, 16 KiB at a time)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(10):                 # the SOAP service, the account in the envelope
        env = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap='
               '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="urn:erp"><soap:Header>'
               '<tns:operatorId>U-3003</tns:operatorId></soap:Header><soap:Body><tns:Query>'
               '<tns:call>%d</tns:call></tns:Query></soap:Body></soap:Envelope>' % n)
        c.request("POST", "/erp/ws/CustomerService", env,
                  {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:erp#Query"})
        c.getresponse().read()
    for n in range(10):                 # the account in the path
        c.request("GET", "/erp/v3/staff/U-4004/customers?page=%d" % n)
        c.getresponse().read()
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/erp/v3/customers/export.csv?staff=U-5005&from=9900&n=50")
    c.getresponse().read()              # a CSV in GBK that does not say so
    c.request("GET", "/erp/v3/customers/export.xlsx?staff=U-8888&from=6000&n=3000")
    c.getresponse().read()              # the export button: 3,000 customers in an .xlsx
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(150):                # consecutive waybill numbers
        c.request("GET", "/erp/v3/parcel/YT%013d?staff=U-2002" % (7700012340000 + n),
                  headers={"Accept-Encoding": "gzip"})
        c.getresponse().read()
    c.close()
    return 20 + 12 + 2 + 10 + 10 + 1 + 1 + 150


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

CRM_RULES = """\
# An invented CRM, written from docs/rules.md and docs/detection.md.
version: 1
identity:
  - form: user                                   # the login form
  - session: {cookie: CRMSESSION, login: crm_login}
  - jwt: {header: X-Api-Token, claim: ctx.staff}  # the JSON API's callers
  - json: username                               # the mobile app's login
  - session: {header: Authorization, login: crm_app_login, token: data.token}
endpoints:
  - id: crm_login
    method: POST
    path: '^/crm/login$'
  - id: crm_app_login
    method: POST
    path: '^/crm/app/login$'
  - id: crm_customer
    method: GET
    path: '^/crm/(customer|api/customer|app/customer)$'
detections:
  - id: crm_pull
    type: volume
    count: {records: [phone, id, address]}
    window: 10m
    at_least: 1000
"""


# What a browser asks for today (Chrome since 123), and what the server
# answers with, by the call's number: Brotli, zstd, gzip, or nothing.
ACCEPT = "gzip, deflate, br, zstd"


def pick_coding(accept, call):
    offered = {c.strip().split(";")[0] for c in accept.split(",")}
    want = ["br", "zstd", "gzip", None][call % 4]
    return want if want in offered else None


def compress(coding, body):
    """Brotli and zstd by Debian's command-line tools (Python's standard
    library has neither); gzip by Python's."""
    if coding == "gzip":
        return gzip.compress(body)
    argv = {"br": ["brotli", "-c", "-q", "6"], "zstd": ["zstd", "-c", "-q", "-6"]}[coding]
    return subprocess.run(argv, input=body, stdout=subprocess.PIPE, check=True).stdout


def crm_handler(world):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, body, ctype, close=False, cookie=None, coding=None):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if coding:  # what a browser's Accept-Encoding gets from a modern server
                body = compress(coding, body)
                self.send_header("Content-Encoding", coding)
                world.codings[coding] = world.codings.get(coding, 0) + 1
            if cookie:
                self.send_header("Set-Cookie", "CRMSESSION=%s; Path=/; HttpOnly" % cookie)
            if close:  # HTTP/1.0 style: the body ends when the connection does
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_POST(self):
            if self.path == "/crm/app/login":  # the app's: JSON in, an opaque token out
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                tok = base64.b32encode(os.urandom(20)).decode()
                with world.lock:
                    world.tokens[tok] = req["username"]
                self.send(json.dumps({"code": 0, "data": {"token": tok, "expires": 7200}}).encode(),
                          "application/json", coding="gzip")
                return
            # the login form
            form = dict(kv.split("=") for kv in
                        self.rfile.read(int(self.headers["Content-Length"])).decode().split("&"))
            sid = base64.b32encode(os.urandom(15)).decode()
            with world.lock:
                world.sessions[sid] = form["user"]
            self.send(b"<html><body>welcome</body></html>", "text/html", cookie=sid)

        def do_GET(self):
            path, _, query = self.path.partition("?")
            q = dict(kv.split("=") for kv in query.split("&"))
            first, n = int(q["from"]), int(q["n"])
            people = [person(first + k) for k in range(n)]
            if path == "/crm/app/customer":
                user = world.tokens[self.headers["Authorization"].split(" ", 1)[1]]
                world.sent((user, int(q["call"])), people)
                self.send(json.dumps({"code": 0, "data": {"list": people}}).encode(),
                          "application/json",
                          coding=pick_coding(self.headers.get("Accept-Encoding", ""), int(q["call"])))
                return
            if path == "/crm/api/customer":
                tok = self.headers["X-Api-Token"].split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
                world.sent((claims["ctx"]["staff"], int(q["call"])), people)
                self.send(json.dumps({"customers": people}, ensure_ascii=False).encode(),
                          "application/json",
                          coding=pick_coding(self.headers.get("Accept-Encoding", ""), int(q["call"])))
                return
            cookie = self.headers.get("Cookie", "").split("CRMSESSION=")[1].split(";")[0]
            world.sent((world.sessions[cookie], int(q["call"])), people)
            rows = "".join("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                           % (p["name"], p["mobile"], p["idcard"], p["addr"]) for p in people)
            body = ("<html><head><meta charset='utf-8'></head><body><table>%s</table>"
                    "</body></html>" % rows).encode()
            call = int(q["call"])
            ctype = "text/html; charset=utf-8"
            if call % 3 == 1:  # a legacy page: GBK, as Chinese systems long served them,
                # some saying so only in the page's own head
                body = body.decode().replace("charset='utf-8'", "charset='gbk'").encode("gbk")
                ctype = "text/html" if call % 2 == 0 else "text/html; charset=GBK"
                world.codings["gbk"] = world.codings.get("gbk", 0) + 1
            self.send(body, ctype, close=call % 4 == 3,
                      coding=pick_coding(self.headers.get("Accept-Encoding", ""), call))
    return H


def crm_clients(port):
    """Two staff browse customer pages after logging in; a service calls the
    API with a token. Returns the calls made (logins included)."""
    calls = 0

    def conn():
        return http.client.HTTPConnection("::1", port, timeout=30)

    def browse(user, pages, per_page, first):
        nonlocal calls
        c = conn()
        c.request("POST", "/crm/login", "user=%s&password=x" % user,
                  {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        calls += 1
        for k in range(pages):
            c.request("GET", "/crm/customer?from=%d&n=%d&call=%d" % (first + k * per_page, per_page, k),
                      headers={"Cookie": cookie, "Accept-Encoding": ACCEPT})
            r = c.getresponse()
            r.read()
            calls += 1
            if r.getheader("Connection") == "close" or k % 10 == 9:
                c.close()  # closed by the server, or a new connection now and then:
                c = conn()  # the session cookie still names the account
        c.close()

    browse("wang.li", 10, 3, 8000)              # a few customers now and then
    browse("zhao.min", 30, 50, 3000)            # 1,500 customers
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"ctx":{"staff":"svc-report"},"iat":1764000000}').rstrip(b"=").decode()
    token = "%s.%s.c2lnbmF0dXJl" % (head, body)
    c = conn()
    for k in range(8):
        c.request("GET", "/crm/api/customer?from=%d&n=10&call=%d" % (9000 + 10 * k, k),
                  headers={"X-Api-Token": token, "Accept-Encoding": ACCEPT})
        c.getresponse().read()
        calls += 1
    c.close()
    # the mobile app: a JSON login answered with an opaque token (gzip), then
    # calls with "Authorization: Bearer <token>", a new connection now and then
    c = conn()
    c.request("POST", "/crm/app/login", json.dumps({"username": "sun.qi", "password": "x"}),
              {"Content-Type": "application/json", "Accept-Encoding": "gzip"})
    r = c.getresponse()
    tok = json.loads(gzip.decompress(r.read()))["data"]["token"]
    calls += 1
    for k in range(25):
        if k % 10 == 9:
            c.close()
            c = conn()
        c.request("GET", "/crm/app/customer?from=%d&n=20&call=%d" % (12000 + 20 * k, k),
                  headers={"Authorization": "Bearer " + tok, "Accept-Encoding": ACCEPT})
        c.getresponse().read()
        calls += 1
    c.close()
    return calls


def scenario_crm(lh, src, d, threads):
    """The CRM with threads workers (the session table is shared by them)."""
    rules = os.path.join(d, "crm.yaml")
    with open(rules, "w") as f:
        f.write(CRM_RULES)
    world = World()
    world.sessions = {}
    world.tokens = {}
    world.codings = {}

    class Server6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6
    srv = Server6(("::1", 0), crm_handler(world))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = os.path.join(d, "crm%d" % threads)
    lv = ops.LiveSensor([lh, "-i", "lo", "-R", os.path.join(src, "rules", "pii-cn.yaml"),
                         "-R", rules, "-o", out, "--site-key", ops.KEY, "--no-checksum",
                         "--threads", str(threads)])
    if not lv.ready("lo"):
        srv.shutdown()
        return
    calls = crm_clients(srv.server_address[1])
    settle(lv)
    srv.shutdown()
    lv.stop()
    evs = ops.events(os.path.join(out, "eve.json"))
    http_ev = [e for e in evs if e["event_type"] == "http"]
    check(len(http_ev) == calls, "CRM, %d thread(s): one http event per call, IPv6, HTTP/1.0 "
          "answers ended by close among them (%d of %d)" % (threads, len(http_ev), calls))
    logins = ("crm_login", "crm_app_login")
    via = {}
    for e in http_ev:
        if e.get("http", {}).get("endpoint") not in logins:
            via.setdefault(e.get("account", {}).get("id"), set()).add(e.get("account", {}).get("via"))
    check(via == {"wang.li": {"session:CRMSESSION"}, "zhao.min": {"session:CRMSESSION"},
                  "svc-report": {"jwt:ctx.staff"}, "sun.qi": {"session:Authorization"}},
          "CRM: pages named by the session their login opened, on later connections too, "
          "API calls by their JWT, the app's by the opaque token its JSON login answer gave "
          "(%s)" % sorted((k, sorted(v)) for k, v in via.items()))
    app_login = [e.get("account", {}) for e in http_ev
                 if e.get("http", {}).get("endpoint") == "crm_app_login"]
    check([(a.get("id"), a.get("via")) for a in app_login] == [("sun.qi", "json:username")],
          "CRM: the app's login is named by its JSON body (%s)" % app_login)
    check(counts_match(world, [e for e in http_ev if e.get("http", {}).get("endpoint") not in logins]),
          "CRM: every page's and answer's phones, IDs and addresses counted as sent, "
          "answers sent Brotli, zstd and gzip among them")
    flagged = {}
    for e in http_ev:
        for f in e.get("http", {}).get("flags", []):
            flagged[f] = flagged.get(f, 0) + 1
    flagged["gbk"] = flagged.pop("gb18030", 0)
    check(all(flagged.get(c, 0) == n for c, n in world.codings.items()) and
          {"br", "zstd", "gzip", "gbk"} <= set(world.codings) and "decode_failed" not in flagged,
          "CRM: each answer's coding and GBK charset are in its event's flags, none failed to "
          "decode (sent %s; flags %s)" % (sorted(world.codings.items()), sorted(flagged.items())))
    alerts = sorted({(e["alert"]["rule"], e["account"]["id"]) for e in evs if e["event_type"] == "alert"})
    check(alerts == [("crm_pull", "sun.qi"), ("crm_pull", "zhao.min")],
          "CRM: only the one who browsed 1,500 customers and the app user who pulled 500 "
          "are alerted, each by name (%s)" % alerts)
    check(not leaks(world, out), "CRM: no value the server sent is in the sensor's files")


def counts_match(world, http_ev):
    """Per response, the sensor's distinct counts are the server's. Calls
    are numbered per account, and one account's events come in call order
    (each account's calls go one after another). Prints the first few that
    differ (counts only)."""
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
    print("  %d of %d responses differ" % (wrong, len(http_ev)))
    return len(http_ev) > 0 and wrong == 0


def leaks(world, out):
    """How many of the values the server sent appear in any file under out
    (the sensor must never become the leak). Prints only counts."""
    found = files = 0
    for root, _, names in os.walk(out):
        for name in names:
            files += 1
            with open(os.path.join(root, name), "rb") as f:
                data = f.read().decode("utf-8", "replace")
            found += sum(v in data for v in world.values)
    print("  %d values sent, %d files written, %d found in them" % (len(world.values), files, found))
    return found if files and world.values else -1


def scenario_erp(lh, src, d):
    rules = os.path.join(d, "erp.yaml")
    with open(rules, "w") as f:
        f.write(RULES)
    r = ops.run(lh, ["--check-rules", "-R", os.path.join(src, "rules", "pii-cn.yaml"), "-R", rules])
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
    world = World(emails=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(world))
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = os.path.join(d, "erp")
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
                  "U-7777": {"json:operator.id"}, "U-2002": {"query:staff"},
                  "U-8888": {"query:staff"}, "U-3003": {"xml:operatorId"},
                  "U-4004": {"path:staff"}, "U-5005": {"query:staff"}},
          "each call names its account, and how (%s)" % sorted((k, sorted(v)) for k, v in via.items()))
    check(counts_match(world, http_ev),
          "every response's phones, IDs, addresses and (the site's own pattern) emails counted as sent")
    flags = [set(e["http"].get("flags", [])) for e in http_ev if e["account"]["id"] == "U-7777"]
    check(len(flags) == 2 and "deflate" in flags[1],
          "the export's big answer was decoded from deflate (%s)" % [sorted(f) for f in flags])
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
    check(alerts.get("U-7777", set()) >= {"erp_bulk", "erp_pull"},
          "U-7777, the export: bulk response and record volume (%s)" % sorted(alerts.get("U-7777", [])))
    check(alerts.get("U-8888", set()) >= {"erp_bulk", "erp_pull"},
          "U-8888, the spreadsheet export: bulk response and record volume (%s)"
          % sorted(alerts.get("U-8888", [])))
    gb = [e["http"] for e in http_ev if e["account"]["id"] == "U-5005"]
    check(len(gb) == 1 and "gb18030" in gb[0].get("flags", []),
          "a CSV in GBK served as text/csv with no charset: recognised and read as UTF-8 (%s)"
          % [x.get("flags") for x in gb])
    xl = [e["http"] for e in http_ev if e["account"]["id"] == "U-8888"]
    check(len(xl) == 1 and "zip" in xl[0].get("flags", []),
          "the .xlsx was read as a ZIP archive, member by member (%s)"
          % [x.get("flags") for x in xl])
    check(set(alerts) <= {"U-6666", "U-7777", "U-2002", "U-8888"},
          "no other account alerted (%s)" % sorted(alerts))
    check(len(world.values) > 9000 and leaks(world, out) == 0,
          "none of the values the server sent is in the sensor's files")
    samples = [s for e in http_ev for s in e.get("records", {}).get("samples", [])]
    check(len(samples) > 0 and all("*" in s for s in samples),
          "records are shown as masked samples (%d)" % len(samples))


class Unseekable(io.RawIOBase):
    """A file zipfile cannot seek in: it then writes each member's sizes in
    a data descriptor after its data, as streaming servers do."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def xlsx_of(people, stream=False):
    """An .xlsx of people, as an export button makes one (Python's zipfile,
    deflate): texts in the shared strings, mobile numbers as numeric cells.
    stream: written without seeking (data descriptors)."""
    strings, index = [], {}

    def si(s):
        if s not in index:
            index[s] = len(strings)
            strings.append(s)
        return index[s]
    cols = ["姓名", "手机", "身份证", "地址", "邮箱"]
    rows = ['<row r="1">%s</row>' % "".join('<c r="%s1" t="s"><v>%d</v></c>' % ("ABCDE"[k], si(c))
                                            for k, c in enumerate(cols))]
    for r, p in enumerate(people, start=2):
        rows.append('<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d"><v>%s</v></c>'
                    '<c r="C%d" t="s"><v>%d</v></c><c r="D%d" t="s"><v>%d</v></c>'
                    '<c r="E%d" t="s"><v>%d</v></c></row>'
                    % (r, r, si(p["name"]), r, p["mobile"], r, si(p["idcard"]), r, si(p["addr"]),
                       r, si(p["email"])))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
             '"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>%s'
             '</sheetData></worksheet>' % "".join(rows))
    sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns='
           '"http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s'
           '</sst>' % (len(strings), len(strings),
                       "".join("<si><t>%s</t></si>" % xml_escape(s) for s in strings)))
    members = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                               'package/2006/content-types"/>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook><sheets><sheet name="客户" sheetId="1"/>'
                           '</sheets></workbook>',
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": sst,
    }
    f = Unseekable() if stream else io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(name, text.encode())
    return bytes(f.buf) if stream else f.getvalue()


def csv_of(first, n):
    rows = ["name,mobile,idcard,address"]
    rows += ["%s,%s,%s,%s" % (p["name"], p["mobile"], p["idcard"], p["addr"])
             for p in (person(first + k) for k in range(n))]
    return ("\r\n".join(rows) + "\r\n").encode()


def scenario_exfil(lh, src, d):
    world = World()
    up = [person(10000 + k) for k in range(400)]
    raw = [person(10400 + k) for k in range(300)]
    zipped = [person(10700 + k) for k in range(500)]
    formed = [person(11200 + k) for k in range(200)]  # an .xlsx in a form, a CSV after it
    world.sent(("upload", 0), up)
    world.sent(("raw", 0), raw)
    world.sent(("zip", 0), zipped)
    world.sent(("form", 0), formed)

    class Paste(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            if self.path == "/api/form":
                return self.form()
            body = b""
            while True:  # the chunked request body, read to its end
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            self.created(body)

        def do_PUT(self):  # a file as the whole body
            self.created(self.rfile.read(int(self.headers["Content-Length"])))

        def form(self):  # a form with a Content-Length
            self.created(self.rfile.read(int(self.headers["Content-Length"])))

        def created(self, body):
            reply = b'{"ok":true,"bytes":%d}' % len(body)
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Paste)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    raw_port = lst.getsockname()[1]

    def sink():
        c, _ = lst.accept()
        while c.recv(65536):
            pass
        c.close()
    threading.Thread(target=sink, daemon=True).start()

    out = os.path.join(d, "exfil")
    lv = ops.LiveSensor([lh, "-i", "lo", "-R", os.path.join(src, "rules", "pii-cn.yaml"),
                         "-o", out, "--site-key", ops.KEY, "--no-checksum"])
    if not lv.ready("lo"):
        srv.shutdown()
        return
    boundary = "----lh%d" % os.getpid()
    body = (b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"file\"; "
            b"filename=\"customers.csv\"\r\nContent-Type: text/csv\r\n\r\n" + csv_of(10000, 400) +
            b"\r\n--" + boundary.encode() + b"--\r\n")
    c = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=30)
    c.putrequest("POST", "/api/paste")
    c.putheader("Content-Type", "multipart/form-data; boundary=" + boundary)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for k in range(0, len(body), 4000):
        piece = body[k:k + 4000]
        c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    c.send(b"0\r\n\r\n")
    c.getresponse().read()
    # a spreadsheet written by a streaming tool (sizes after each member's
    # data), put as the request's whole body
    c.request("PUT", "/api/files/customers.xlsx", xlsx_of(zipped, stream=True),
              {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    c.getresponse().read()
    # a browser's upload form: a text field, the .xlsx, then a field with CSV
    b = boundary.encode()
    form = (b"--" + b + b'\r\nContent-Disposition: form-data; name="note"\r\n\r\nweekly list\r\n--' + b +
            b'\r\nContent-Disposition: form-data; name="file"; filename="list.xlsx"\r\nContent-Type: '
            b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n" +
            xlsx_of(formed[:150]) + b"\r\n--" + b +
            b'\r\nContent-Disposition: form-data; name="extra"\r\n\r\n' + csv_of(11350, 50) +
            b"\r\n--" + b + b"--\r\n")
    c.request("POST", "/api/form", form, {"Content-Type": "multipart/form-data; boundary=" + boundary})
    c.getresponse().read()
    c.close()
    t = socket.create_connection(lst.getsockname())
    t.sendall(csv_of(10400, 300))
    t.close()
    settle(lv)
    srv.shutdown()
    lv.stop()
    lst.close()
    evs = ops.events(os.path.join(out, "eve.json"))
    def as_sent(counts, key):
        return all(counts.get(c) == v for c, v in world.responses[key].items())

    def http_check(url, key, zip_flag, what):
        e = by_url.get(url, {})
        got = e.get("records", {}).get("counts", {})
        check(as_sent(got, key) and zip_flag == ("zip" in e.get("http", {}).get("flags", [])),
              "%s (%s vs %s)" % (what, got, world.responses[key]))
    http_ev = [e for e in evs if e["event_type"] == "http"]
    by_url = {e["http"].get("url"): e for e in http_ev}
    check(len(http_ev) == 3, "one http event per upload (%d of 3)" % len(http_ev))
    http_check("/api/paste", ("upload", 0), False,
               "a chunked multipart upload: its records counted as sent")
    http_check("/api/files/customers.xlsx", ("zip", 0), True,
               "a streamed .xlsx uploaded (data descriptors): read as a ZIP, its records counted as sent")
    http_check("/api/form", ("form", 0), True,
               "an .xlsx in a multipart form, and a CSV field after it: both read, every record counted")
    flows = [e for e in evs if e["event_type"] == "flow" and e.get("dest_port") == raw_port]
    got = flows[0].get("records", {}).get("toserver", {}).get("counts", {}) if len(flows) == 1 else {}
    check(as_sent(got, ("raw", 0)),
          "a file written to a bare TCP port: its records counted as sent, toserver (%s vs %s)"
          % (got, world.responses[("raw", 0)]))
    check(leaks(world, out) == 0, "exfiltration: no value sent is in the sensor's files")


def main(lh, src):
    ops.in_own_netns("foreign_api")
    r = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if not check(r.returncode == 0, "loopback up in the test's namespace (%s)" % r.stderr.strip()):
        return
    with tempfile.TemporaryDirectory() as d:
        scenario_erp(lh, src, d)
        scenario_crm(lh, src, d, 1)
        scenario_crm(lh, src, d, 2)
        scenario_exfil(lh, src, d)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: foreign_api.py LEAKHOUND SRC_ROOT")
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
    print("%d failed" % len(ops.FAILS))
    sys.exit(1 if ops.FAILS else 0)
