/* test_http.c - parsers/http and parsers/decompress on byte arrays.
 *
 * Every scenario is a script of feeds, gaps and ends. The recorder turns what
 * the callbacks saw into a canonical text (body bytes hashed, so chunking of
 * the callbacks does not matter); each script is replayed split in two at
 * every byte boundary of every feed and once as 1-byte pieces, and must give
 * the same text and counters as the whole run. The exact assertions then
 * look at the whole run. */
#include <stdlib.h>
#include <string.h>
#include <brotli/encode.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "parsers/decompress.h"
#include "parsers/http.h"

/* ---- recorder ---- */

#define MAXTX 64
#define BODY_KEEP 16384
#define URI_KEEP 9000

struct rtx {
    uint64_t index;
    char method[24], proto[12], proto_resp[12];
    char uri[URI_KEEP];
    char reqh[2048], resph[2048]; /* "name=value\n"... */
    size_t n_reqh, n_resph;
    char host[64], ctype[64];
    int status, resp_status_at_done;
    int req_calls, resp_calls, done_calls;
    uint64_t req_ts, resp_ts;
    uint8_t body[2][BODY_KEEP];
    size_t blen[2];
    uint64_t btotal[2], bhash[2];
    uint32_t flags;
    uint64_t req_body_len, resp_body_len, req_dec, resp_dec;
};

struct rec {
    struct rtx tx[MAXTX];
    size_t n;
    int errors;     /* callback order broken */
    char log[1024]; /* q<i> request, s<i> response, d<i> done, | mark */
};

static struct rec R;

static void logf_(struct rec *r, char k, uint64_t i)
{
    size_t l = strlen(r->log);
    if (l + 24 < sizeof(r->log))
        snprintf(r->log + l, sizeof(r->log) - l, "%c%llu ", k, (unsigned long long)i);
}

static void copy_headers(char *dst, size_t cap, const struct http_header *h, size_t n)
{
    size_t l = 0;
    dst[0] = 0;
    for (size_t i = 0; i < n && l < cap; i++)
        l += (size_t)snprintf(dst + l, cap - l, "%s=%s\n", h[i].name, h[i].value);
}

static void cb_request(void *ud, struct http_tx *tx)
{
    struct rec *r = ud;
    if (r->n >= MAXTX || tx->user) {
        r->errors++;
        return;
    }
    struct rtx *t = &r->tx[r->n++];
    memset(t, 0, sizeof(*t));
    tx->user = t;
    t->index = tx->index;
    if (t->index != r->n - 1) r->errors++;
    snprintf(t->method, sizeof(t->method), "%s", tx->method);
    snprintf(t->proto, sizeof(t->proto), "%s", tx->protocol);
    snprintf(t->uri, sizeof(t->uri), "%s", tx->uri ? tx->uri : "(null)");
    copy_headers(t->reqh, sizeof(t->reqh), tx->req_headers, tx->n_req_headers);
    t->n_reqh = tx->n_req_headers;
    t->req_ts = tx->req_ts_us;
    t->req_calls++;
    if (tx->status != 0) r->errors++;
    logf_(r, 'q', tx->index);
}

static void cb_response(void *ud, struct http_tx *tx)
{
    struct rec *r = ud;
    struct rtx *t = tx->user;
    if (!t) {
        r->errors++;
        return;
    }
    t->resp_calls++;
    t->status = tx->status;
    t->resp_ts = tx->resp_ts_us;
    snprintf(t->proto_resp, sizeof(t->proto_resp), "%s", tx->protocol_resp);
    copy_headers(t->resph, sizeof(t->resph), tx->resp_headers, tx->n_resp_headers);
    t->n_resph = tx->n_resp_headers;
    logf_(r, 's', tx->index);
}

static void cb_body(void *ud, struct http_tx *tx, enum http_dir dir, const uint8_t *data,
                    size_t len)
{
    struct rec *r = ud;
    struct rtx *t = tx->user;
    if (!t || t->done_calls || len == 0) {
        r->errors++;
        return;
    }
    if (dir == HTTP_RESPONSE && !t->resp_calls) r->errors++;
    if (t->bhash[dir] == 0) t->bhash[dir] = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        if (t->blen[dir] < BODY_KEEP) t->body[dir][t->blen[dir]++] = data[i];
        t->bhash[dir] = (t->bhash[dir] ^ data[i]) * 1099511628211ull;
    }
    t->btotal[dir] += len;
}

static void cb_done(void *ud, struct http_tx *tx)
{
    struct rec *r = ud;
    struct rtx *t = tx->user;
    if (!t) {
        r->errors++;
        return;
    }
    t->done_calls++;
    t->flags = tx->flags;
    t->req_body_len = tx->req_body_len;
    t->resp_body_len = tx->resp_body_len;
    t->req_dec = tx->req_body_decoded;
    t->resp_dec = tx->resp_body_decoded;
    t->resp_status_at_done = tx->status;
    const char *v = http_tx_header(tx, HTTP_REQUEST, "hOsT");
    snprintf(t->host, sizeof(t->host), "%s", v ? v : "(none)");
    v = http_tx_header(tx, HTTP_RESPONSE, "content-type");
    snprintf(t->ctype, sizeof(t->ctype), "%s", v ? v : "(none)");
    logf_(r, 'd', tx->index);
}

static const struct http_callbacks CB = {cb_request, cb_response, cb_body, cb_done};

/* ---- scripts ---- */

enum { EV_FEED, EV_GAP, EV_END, EV_MARK };

struct ev {
    int kind;
    enum http_dir dir;
    const uint8_t *data;
    size_t len; /* bytes for a feed, length for a gap */
};

#define REQ(s)                                                                                     \
    {                                                                                              \
        EV_FEED, HTTP_REQUEST, (const uint8_t *)(s), sizeof(s) - 1                                 \
    }
#define RESP(s)                                                                                    \
    {                                                                                              \
        EV_FEED, HTTP_RESPONSE, (const uint8_t *)(s), sizeof(s) - 1                                \
    }
#define GAP(d, n)                                                                                  \
    {                                                                                              \
        EV_GAP, d, NULL, n                                                                         \
    }
#define END(d)                                                                                     \
    {                                                                                              \
        EV_END, d, NULL, 0                                                                         \
    }
#define MARK                                                                                       \
    {                                                                                              \
        EV_MARK, HTTP_REQUEST, NULL, 0                                                             \
    }
#define NEV(a) (sizeof(a) / sizeof((a)[0]))

static struct http_stats S;

/* split: -1 whole; >= 0 the feed event split at `at`; -2 all feeds bytewise */
static void run(const struct ev *evs, size_t n, const struct http_config *cfg, int split, size_t at)
{
    R.n = 0;
    R.errors = 0;
    R.log[0] = 0;
    memset(&S, 0, sizeof(S));
    struct http_parser *p = http_parser_new(cfg, &S, &CB, &R);
    if (!p) {
        R.errors++;
        return;
    }
    for (size_t e = 0; e < n; e++) {
        const struct ev *v = &evs[e];
        uint64_t ts = 1000 * (uint64_t)e;
        if (v->kind == EV_GAP) {
            http_gap(p, v->dir, v->len);
        } else if (v->kind == EV_END) {
            http_end(p, v->dir, ts);
        } else if (v->kind == EV_MARK) {
            size_t l = strlen(R.log);
            if (l + 2 < sizeof(R.log)) strcpy(R.log + l, "| ");
        } else if (split == -2) {
            for (size_t i = 0; i < v->len; i++)
                http_feed(p, v->dir, v->data + i, 1, ts);
        } else if ((size_t)split == e) {
            http_feed(p, v->dir, v->data, at, ts);
            http_feed(p, v->dir, v->data + at, v->len - at, ts);
        } else {
            http_feed(p, v->dir, v->data, v->len, ts);
        }
    }
    http_parser_free(p);
}

static char *serialize(void)
{
    static char out[1 << 17];
    size_t l = 0;
#define OUT(...) l += (size_t)snprintf(out + l, l < sizeof(out) ? sizeof(out) - l : 0, __VA_ARGS__)
    OUT("log %s err %d n %zu\n", R.log, R.errors, R.n);
    for (size_t i = 0; i < R.n; i++) {
        const struct rtx *t = &R.tx[i];
        OUT("tx %llu %s %s %s [%s] calls %d %d %d st %d %s [%s] fl %x len %llu %llu dec %llu %llu "
            "body %llu %llx %llu %llx ts %llu %llu\n",
            (unsigned long long)t->index, t->method, t->uri, t->proto, t->reqh, t->req_calls,
            t->resp_calls, t->done_calls, t->status, t->proto_resp, t->resph, t->flags,
            (unsigned long long)t->req_body_len, (unsigned long long)t->resp_body_len,
            (unsigned long long)t->req_dec, (unsigned long long)t->resp_dec,
            (unsigned long long)t->btotal[0], (unsigned long long)t->bhash[0],
            (unsigned long long)t->btotal[1], (unsigned long long)t->bhash[1],
            (unsigned long long)t->req_ts, (unsigned long long)t->resp_ts);
    }
    const uint64_t *s = (const uint64_t *)&S;
    for (size_t i = 0; i < sizeof(S) / sizeof(uint64_t); i++)
        OUT("%llu ", (unsigned long long)s[i]);
#undef OUT
    return out;
}

/* Whole run, then every two-piece split and 1-byte pieces: all must agree.
 * stride > 1 tries only every stride-th split point (for long inputs). R and
 * S hold the whole run afterwards. */
static void run_all_stride(const char *name, const struct ev *evs, size_t n,
                           const struct http_config *cfg, size_t stride)
{
    run(evs, n, cfg, -1, 0);
    char *ref = strdup(serialize());
    unsigned long runs = 0, bad = 0;
    for (size_t e = 0; e < n; e++) {
        if (evs[e].kind != EV_FEED) continue;
        for (size_t at = 1; at < evs[e].len; at += stride) {
            run(evs, n, cfg, (int)e, at);
            runs++;
            if (strcmp(ref, serialize()) != 0) {
                if (!bad)
                    fprintf(stderr, "%s: split of event %zu at %zu differs:\n%s\n---\n%s\n", name,
                            e, at, ref, serialize());
                bad++;
            }
        }
    }
    run(evs, n, cfg, -2, 0);
    runs++;
    if (strcmp(ref, serialize()) != 0) {
        fprintf(stderr, "%s: 1-byte pieces differ:\n%s\n---\n%s\n", name, ref, serialize());
        bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK(runs > 0);
    free(ref);
    run(evs, n, cfg, -1, 0);
    CHECK_EQ(R.errors, 0);
}

static void run_all(const char *name, const struct ev *evs, size_t n, const struct http_config *cfg)
{
    run_all_stride(name, evs, n, cfg, 1);
}

static int body_is(const struct rtx *t, enum http_dir d, const char *s)
{
    size_t n = strlen(s);
    return t->btotal[d] == n && t->blen[d] == n && memcmp(t->body[d], s, n) == 0;
}

static int body_eq(const struct rtx *t, enum http_dir d, const void *s, size_t n)
{
    return t->btotal[d] == n && t->blen[d] == (n < BODY_KEEP ? n : BODY_KEEP) &&
           memcmp(t->body[d], s, t->blen[d]) == 0;
}

/* ---- data builders ---- */

enum { Z_GZ, Z_ZLIB, Z_RAW };

static size_t zc_level(int kind, int level, const void *in, size_t len, uint8_t *out,
                       size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    int wbits = kind == Z_GZ ? 31 : kind == Z_ZLIB ? 15 : -15;
    if (deflateInit2(&zs, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int r = deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    return r == Z_STREAM_END ? n : 0;
}

static size_t zc(int kind, const void *in, size_t len, uint8_t *out, size_t cap)
{
    return zc_level(kind, 6, in, len, out, cap);
}

/* chunked encoding in pieces of `piece` bytes, with an extension on the first */
static size_t chunkify(uint8_t *out, size_t cap, const uint8_t *in, size_t len, size_t piece)
{
    size_t l = 0;
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        l += (size_t)snprintf((char *)out + l, cap - l, off ? "%zx\r\n" : "%zx;ext=1\r\n", n);
        memcpy(out + l, in + off, n);
        l += n;
        memcpy(out + l, "\r\n", 2);
        l += 2;
    }
    memcpy(out + l, "0\r\n\r\n", 5);
    return l + 5;
}

static const char TEXT[] =
    "{\"records\":[{\"name\":\"Zhang San\",\"city\":\"Hangzhou\",\"note\":\"parcel at gate\"},"
    "{\"name\":\"Li Si\",\"city\":\"Suzhou\",\"note\":\"call before delivery\"},"
    "{\"name\":\"Wang Wu\",\"city\":\"Ningbo\",\"note\":\"leave with neighbour\"}]}";

/* ---- tests ---- */

static void test_get_post(void)
{
    const struct ev evs[] = {
        REQ("GET /index.html?q=1 HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"),
        REQ("POST /api/login HTTP/1.1\r\nHost: b.example\r\nContent-Length: 11\r\n\r\nuser=a&pw=b"),
        RESP("HTTP/1.0 201 Created\r\nContent-Length: 2\r\n\r\nok"),
    };
    run_all("get_post", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 2);
    const struct rtx *a = &R.tx[0], *b = &R.tx[1];
    CHECK_STR(a->method, "GET");
    CHECK_STR(a->uri, "/index.html?q=1");
    CHECK_STR(a->proto, "HTTP/1.1");
    CHECK_STR(a->reqh, "Host=a.example\nUser-Agent=t\n");
    CHECK_EQ(a->n_reqh, 2);
    CHECK_STR(a->host, "a.example");
    CHECK_EQ(a->status, 200);
    CHECK_STR(a->proto_resp, "HTTP/1.1");
    CHECK_STR(a->resph, "Content-Length=5\nContent-Type=text/plain\n");
    CHECK_STR(a->ctype, "text/plain");
    CHECK(body_is(a, HTTP_RESPONSE, "hello"));
    CHECK_EQ(a->btotal[HTTP_REQUEST], 0);
    CHECK_EQ(a->flags, 0);
    CHECK_EQ(a->resp_body_len, 5);
    CHECK_EQ(a->resp_dec, 5);
    CHECK_EQ(a->req_ts, 0);
    CHECK_EQ(a->resp_ts, 1000);
    CHECK_STR(b->method, "POST");
    CHECK_STR(b->uri, "/api/login");
    CHECK_STR(b->host, "b.example");
    CHECK_STR(b->ctype, "(none)");
    CHECK(body_is(b, HTTP_REQUEST, "user=a&pw=b"));
    CHECK_EQ(b->req_body_len, 11);
    CHECK_EQ(b->req_dec, 11);
    CHECK_EQ(b->status, 201);
    CHECK_STR(b->proto_resp, "HTTP/1.0");
    CHECK(body_is(b, HTTP_RESPONSE, "ok"));
    CHECK_EQ(b->req_ts, 2000);
    CHECK_EQ(b->resp_ts, 3000);
    CHECK_STR(R.log, "q0 s0 d0 q1 s1 d1 ");
    CHECK_EQ(S.requests, 2);
    CHECK_EQ(S.responses, 2);
    CHECK_EQ(S.transactions, 2);
    CHECK_EQ(S.parse_errors, 0);
    CHECK_EQ(S.resyncs, 0);
    CHECK_EQ(S.no_response, 0);
}

static void test_keepalive(void)
{
    const struct ev evs[] = {
        REQ("GET /1 HTTP/1.1\r\nHost: k\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"),
        REQ("\r\nPUT /2 HTTP/1.1\r\nHost: k\r\nContent-Length: 4\r\n\r\nData"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"),
        REQ("DELETE /3 HTTP/1.1\r\nHost: k\r\n\r\n"),
        RESP("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nthree"),
    };
    run_all("keepalive", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 3);
    CHECK_STR(R.tx[0].uri, "/1");
    CHECK_STR(R.tx[1].method, "PUT");
    CHECK(body_is(&R.tx[1], HTTP_REQUEST, "Data"));
    CHECK_STR(R.tx[2].method, "DELETE");
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "one"));
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "two"));
    CHECK(body_is(&R.tx[2], HTTP_RESPONSE, "three"));
    CHECK_EQ(R.tx[2].status, 404);
    CHECK_STR(R.log, "q0 s0 d0 q1 s1 d1 q2 s2 d2 ");
    CHECK_EQ(S.transactions, 3);
    CHECK_EQ(S.parse_errors, 0);
}

static void test_pipelined(void)
{
    const struct ev evs[] = {
        REQ("GET /a HTTP/1.1\r\nHost: p\r\n\r\nGET /b HTTP/1.1\r\nHost: p\r\n\r\n"
            "POST /c HTTP/1.1\r\nHost: p\r\nContent-Length: 3\r\n\r\nxyz"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nBB"
             "HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nCCC"),
    };
    run_all("pipelined", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 3);
    CHECK_STR(R.tx[0].uri, "/a");
    CHECK_STR(R.tx[1].uri, "/b");
    CHECK_STR(R.tx[2].uri, "/c");
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "A"));
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "BB"));
    CHECK(body_is(&R.tx[2], HTTP_RESPONSE, "CCC"));
    CHECK(body_is(&R.tx[2], HTTP_REQUEST, "xyz"));
    CHECK_EQ(R.tx[2].status, 500);
    CHECK_STR(R.log, "q0 q1 q2 s0 d0 s1 d1 s2 d2 ");
    CHECK_EQ(S.requests, 3);
    CHECK_EQ(S.responses, 3);
    CHECK_EQ(S.pipeline_cap_hit, 0);
}

static void test_chunked(void)
{
    const struct ev evs[] = {
        REQ("POST /up HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
            "4;name=\"quoted;value\"\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Sum: 9\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
             "0005 ;a=b\r\nhello\r\n006\r\n world\n0000\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n"),
        REQ("GET /next HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nN"),
    };
    run_all("chunked", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 2);
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, "Wikipedia"));
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "hello world"));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_CHUNKED);
    CHECK_EQ(R.tx[0].req_body_len, 9);
    CHECK_EQ(R.tx[0].resp_body_len, 11);
    CHECK_EQ(R.tx[0].resp_dec, 11);
    CHECK_STR(R.tx[1].uri, "/next");
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "N"));
    CHECK_EQ(R.tx[1].flags, 0);
    CHECK_EQ(S.chunked, 2);
    CHECK_EQ(S.parse_errors, 0);
    CHECK_EQ(S.transactions, 2);
}

static uint8_t gz_text[1024], zl_text[1024], raw_text[1024];
static size_t gz_len, zl_len, raw_len;

static void test_gzip_deflate(void)
{
    static uint8_t r1[2048], r2[2048], r3[2048], r4[2048];
    size_t n1 = (size_t)snprintf(
        (char *)r1, sizeof(r1),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", gz_len);
    memcpy(r1 + n1, gz_text, gz_len);
    n1 += gz_len;
    size_t n2 = (size_t)snprintf(
        (char *)r2, sizeof(r2),
        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n", zl_len);
    memcpy(r2 + n2, zl_text, zl_len);
    n2 += zl_len;
    size_t n3 = (size_t)snprintf(
        (char *)r3, sizeof(r3),
        "HTTP/1.1 200 OK\r\ncontent-encoding: DEFLATE\r\nContent-Length: %zu\r\n\r\n", raw_len);
    memcpy(r3 + n3, raw_text, raw_len);
    n3 += raw_len;
    size_t n4 = (size_t)snprintf(
        (char *)r4, sizeof(r4),
        "HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\nContent-Length: %zu\r\n\r\n", gz_len);
    memcpy(r4 + n4, gz_text, gz_len);
    n4 += gz_len;
    const struct ev evs[] = {
        REQ("GET /gz HTTP/1.1\r\n\r\nGET /zlib HTTP/1.1\r\n\r\nGET /raw HTTP/1.1\r\n\r\nGET /xgz "
            "HTTP/1.1\r\n\r\n"),
        {EV_FEED, HTTP_RESPONSE, r1, n1},
        {EV_FEED, HTTP_RESPONSE, r2, n2},
        {EV_FEED, HTTP_RESPONSE, r3, n3},
        {EV_FEED, HTTP_RESPONSE, r4, n4},
    };
    run_all("gzip_deflate", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 4);
    for (size_t i = 0; i < 4; i++)
        CHECK(body_is(&R.tx[i], HTTP_RESPONSE, TEXT));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP);
    CHECK_EQ(R.tx[1].flags, HTTP_TX_BODY_DEFLATE);
    CHECK_EQ(R.tx[2].flags, HTTP_TX_BODY_DEFLATE);
    CHECK_EQ(R.tx[3].flags, HTTP_TX_BODY_GZIP);
    CHECK_EQ(R.tx[0].resp_body_len, gz_len);
    CHECK_EQ(R.tx[0].resp_dec, strlen(TEXT));
    CHECK_EQ(R.tx[1].resp_body_len, zl_len);
    CHECK_EQ(R.tx[2].resp_body_len, raw_len);
    CHECK(gz_len < strlen(TEXT) && raw_len < zl_len);
    CHECK_EQ(S.decode_gzip, 2);
    CHECK_EQ(S.decode_deflate, 2);
    CHECK_EQ(S.decode_failed, 0);
}

static void test_gzip_chunked_stacked(void)
{
    static uint8_t r1[4096], r2[4096], r3[4096], r4[4096], tmp[2048], tmp2[2048];
    /* gzip + chunked in 7-byte chunks */
    size_t n1 = (size_t)snprintf(
        (char *)r1, sizeof(r1),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    n1 += chunkify(r1 + n1, sizeof(r1) - n1, gz_text, gz_len, 7);
    /* stacked: "gzip, deflate" means gzip first, then deflate: undo deflate, then gzip */
    size_t t1 = zc(Z_ZLIB, gz_text, gz_len, tmp, sizeof(tmp));
    size_t n2 = (size_t)snprintf(
        (char *)r2, sizeof(r2),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, deflate\r\nContent-Length: %zu\r\n\r\n", t1);
    memcpy(r2 + n2, tmp, t1);
    n2 += t1;
    /* concatenated gzip members */
    size_t half = strlen(TEXT) / 2;
    size_t m1 = zc(Z_GZ, TEXT, half, tmp2, sizeof(tmp2));
    size_t m2 = zc(Z_GZ, TEXT + half, strlen(TEXT) - half, tmp2 + m1, sizeof(tmp2) - m1);
    size_t n3 = (size_t)snprintf(
        (char *)r3, sizeof(r3),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", m1 + m2);
    memcpy(r3 + n3, tmp2, m1 + m2);
    n3 += m1 + m2;
    /* a transfer coding besides chunked, and an unknown content coding */
    size_t n4 = (size_t)snprintf((char *)r4, sizeof(r4),
                                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    n4 += chunkify(r4 + n4, sizeof(r4) - n4, gz_text, gz_len, 100);
    const char r5[] =
        "HTTP/1.1 200 OK\r\nContent-Encoding: compress\r\nContent-Length: 4\r\n\r\n\x01\x02\x03\x04";
    const struct ev evs[] = {
        REQ("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\nGET /4 "
            "HTTP/1.1\r\n\r\n"
            "GET /5 HTTP/1.1\r\n\r\n"),
        {EV_FEED, HTTP_RESPONSE, r1, n1},
        {EV_FEED, HTTP_RESPONSE, r2, n2},
        {EV_FEED, HTTP_RESPONSE, r3, n3},
        {EV_FEED, HTTP_RESPONSE, r4, n4},
        RESP(r5),
    };
    run_all("gzip_chunked_stacked", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 5);
    for (size_t i = 0; i < 4; i++)
        CHECK(body_is(&R.tx[i], HTTP_RESPONSE, TEXT));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP | HTTP_TX_BODY_CHUNKED);
    CHECK_EQ(R.tx[0].resp_body_len, gz_len);
    CHECK_EQ(R.tx[1].flags, HTTP_TX_BODY_GZIP | HTTP_TX_BODY_DEFLATE);
    CHECK_EQ(R.tx[1].resp_body_len, t1);
    CHECK_EQ(R.tx[2].flags, HTTP_TX_BODY_GZIP);
    CHECK_EQ(R.tx[2].resp_body_len, m1 + m2);
    CHECK_EQ(R.tx[3].flags, HTTP_TX_BODY_GZIP | HTTP_TX_BODY_CHUNKED);
    CHECK(body_eq(&R.tx[4], HTTP_RESPONSE, "\x01\x02\x03\x04", 4));
    CHECK_EQ(R.tx[4].flags, 0);
    CHECK_EQ(S.decode_gzip, 4);
    CHECK_EQ(S.decode_deflate, 1);
    CHECK_EQ(S.decode_failed, 0);
    CHECK_EQ(S.chunked, 2);
}

/* ---- Brotli and zstd ---- */

static size_t brc(int lgwin, const void *in, size_t len, uint8_t *out, size_t cap)
{
    size_t n = cap;
    return BrotliEncoderCompress(5, lgwin, BROTLI_MODE_TEXT, len, in, &n, out) ? n : 0;
}

/* a zstd frame; big_window: streamed without its size, declaring 2^24 */
static size_t zsc(const void *in, size_t len, uint8_t *out, size_t cap, int big_window)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) return 0;
    size_t r;
    if (big_window) {
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 24);
        ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
        ZSTD_inBuffer zi = {in, len, 0};
        ZSTD_outBuffer zo = {out, cap, 0};
        r = ZSTD_compressStream2(c, &zo, &zi, ZSTD_e_continue);
        if (!ZSTD_isError(r)) r = ZSTD_compressStream2(c, &zo, &zi, ZSTD_e_end);
        r = ZSTD_isError(r) || r != 0 ? 0 : zo.pos;
    } else {
        r = ZSTD_compress2(c, out, cap, in, len);
        if (ZSTD_isError(r)) r = 0;
    }
    ZSTD_freeCCtx(c);
    return r;
}

/* head + body into out; returns the length */
static size_t with_head(uint8_t *out, size_t cap, const char *head, const uint8_t *body,
                        size_t blen)
{
    size_t n = (size_t)snprintf((char *)out, cap, head, blen);
    memcpy(out + n, body, blen);
    return n + blen;
}

static void test_br_zstd(void)
{
    static uint8_t b[2048], z[2048], z2[2048], tmp[4096], r[8][8192];
    size_t bl = brc(22, TEXT, strlen(TEXT), b, sizeof(b));
    size_t zl = zsc(TEXT, strlen(TEXT), z, sizeof(z), 0);
    CHECK(bl > 0 && bl < strlen(TEXT) && zl > 0 && zl < strlen(TEXT));
    const char *cl = "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %%zu\r\n\r\n";
    char head[160];
    size_t n[8];
    /* br, with bytes after the stream's end (ignored, as after gzip) */
    memcpy(tmp, b, bl);
    memcpy(tmp + bl, "junk", 4);
    snprintf(head, sizeof(head), cl, "br");
    n[0] = with_head(r[0], sizeof(r[0]), head, tmp, bl + 4);
    /* zstd, chunked in 5-byte pieces */
    n[1] = (size_t)snprintf((char *)r[1], sizeof(r[1]),
                            "HTTP/1.1 200 OK\r\nContent-Encoding: ZSTD\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n");
    n[1] += chunkify(r[1] + n[1], sizeof(r[1]) - n[1], z, zl, 5);
    /* stacked: gzip applied first, then br */
    size_t gl = zc(Z_GZ, TEXT, strlen(TEXT), tmp, sizeof(tmp));
    size_t sl = brc(10, tmp, gl, tmp + 2048, 2048);
    snprintf(head, sizeof(head), cl, "gzip, br");
    n[2] = with_head(r[2], sizeof(r[2]), head, tmp + 2048, sl);
    /* two zstd frames one after the other */
    size_t half = strlen(TEXT) / 2;
    size_t f1 = zsc(TEXT, half, z2, 1024, 0);
    size_t f2 = zsc(TEXT + half, strlen(TEXT) - half, z2 + f1, 1024, 0);
    char head_z[160];
    snprintf(head_z, sizeof(head_z), cl, "zstd");
    n[3] = with_head(r[3], sizeof(r[3]), head_z, z2, f1 + f2);
    /* br as a transfer coding */
    n[4] = (size_t)snprintf((char *)r[4], sizeof(r[4]),
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n");
    n[4] += chunkify(r[4] + n[4], sizeof(r[4]) - n[4], b, bl, 64);
    /* br whose first byte asks for a large window (not allowed in HTTP):
     * nothing decodes, and the short body is delivered raw, all of it */
    memcpy(tmp, b, bl);
    tmp[0] = 0x11;
    snprintf(head, sizeof(head), cl, "br");
    n[5] = with_head(r[5], sizeof(r[5]), head, tmp, bl);
    /* zstd whose second frame is broken: the first decoded, the rest raw */
    memcpy(tmp + 1024, z2, f1 + f2);
    tmp[1024 + f1] ^= 0xff; /* the second frame's magic */
    n[7] = with_head(r[7], sizeof(r[7]), head_z, tmp + 1024, f1 + f2);
    /* zstd asking for a 16 MiB window: refused (RFC 8878 caps HTTP at 8) */
    size_t wl = zsc(TEXT, strlen(TEXT), tmp + 2048, 2048, 1);
    CHECK(wl > 0);
    n[6] = with_head(r[6], sizeof(r[6]), head_z, tmp + 2048, wl);
    const struct ev evs[] = {
        REQ("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"
            "GET /4 HTTP/1.1\r\n\r\nGET /5 HTTP/1.1\r\n\r\nGET /6 HTTP/1.1\r\n\r\n"
            "GET /7 HTTP/1.1\r\n\r\nGET /8 HTTP/1.1\r\n\r\n"),
        {EV_FEED, HTTP_RESPONSE, r[0], n[0]}, {EV_FEED, HTTP_RESPONSE, r[1], n[1]},
        {EV_FEED, HTTP_RESPONSE, r[2], n[2]}, {EV_FEED, HTTP_RESPONSE, r[3], n[3]},
        {EV_FEED, HTTP_RESPONSE, r[4], n[4]}, {EV_FEED, HTTP_RESPONSE, r[5], n[5]},
        {EV_FEED, HTTP_RESPONSE, r[6], n[6]}, {EV_FEED, HTTP_RESPONSE, r[7], n[7]},
    };
    /* every split but in the last response: after an error mid-stream the
     * raw rest starts where the decoder stopped in the current piece, and
     * zstd keeps a frame's first bytes in its own buffer */
    run_all("br_zstd", evs, NEV(evs) - 1, NULL);
    CHECK_EQ(R.tx[7].flags, HTTP_TX_NO_RESPONSE);
    run(evs, NEV(evs), NULL, -1, 0);
    CHECK_EQ(R.n, 8);
    for (size_t i = 0; i < 5; i++)
        CHECK(body_is(&R.tx[i], HTTP_RESPONSE, TEXT));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_BR);
    CHECK_EQ(R.tx[0].resp_body_len, bl + 4);
    CHECK_EQ(R.tx[1].flags, HTTP_TX_BODY_ZSTD | HTTP_TX_BODY_CHUNKED);
    CHECK_EQ(R.tx[1].resp_body_len, zl);
    CHECK_EQ(R.tx[2].flags, HTTP_TX_BODY_GZIP | HTTP_TX_BODY_BR);
    CHECK_EQ(R.tx[3].flags, HTTP_TX_BODY_ZSTD);
    CHECK_EQ(R.tx[4].flags, HTTP_TX_BODY_BR | HTTP_TX_BODY_CHUNKED);
    CHECK_EQ(R.tx[5].flags, HTTP_TX_BODY_BR | HTTP_TX_DECODE_FAILED);
    CHECK(body_eq(&R.tx[5], HTTP_RESPONSE, tmp, bl));
    CHECK_EQ(R.tx[6].flags, HTTP_TX_BODY_ZSTD | HTTP_TX_DECODE_FAILED);
    CHECK(body_eq(&R.tx[6], HTTP_RESPONSE, tmp + 2048, wl)); /* short: all of it raw */
    CHECK_EQ(R.tx[7].flags, HTTP_TX_BODY_ZSTD | HTTP_TX_DECODE_FAILED);
    /* the first frame decoded, then the second raw but for the bytes zstd
     * took before it failed (its magic number, 4) */
    size_t raw = R.tx[7].resp_dec - half;
    CHECK(R.tx[7].resp_dec > half && raw <= f2 && raw + 4 >= f2);
    CHECK(memcmp(R.tx[7].body[HTTP_RESPONSE], TEXT, half) == 0);
    CHECK(memcmp(R.tx[7].body[HTTP_RESPONSE] + half, tmp + 1024 + f1 + f2 - raw, raw) == 0);
    CHECK_EQ(S.decode_br, 4);
    CHECK_EQ(S.decode_zstd, 4);
    CHECK_EQ(S.decode_gzip, 1);
    CHECK_EQ(S.decode_failed, 3);
    CHECK_EQ(S.decode_mem_cap_hit, 0);
    CHECK_EQ(S.decode_mem, 0); /* every decoder gave back what it held */
}

/* The windows of Brotli and zstd decoders answer to a quarter of
 * max_held_bytes, shared by a worker's parsers: past it a body is
 * delivered raw and counted, and the gauge comes back to 0. */
static void test_br_zstd_budget(void)
{
    const size_t big = 600000;
    uint8_t *text = malloc(big), *b = malloc(big), *z = malloc(big), *r = malloc(2 * big);
    CHECK(text && b && z && r);
    if (!text || !b || !z || !r) return;
    uint32_t x = 12345;
    for (size_t i = 0; i < big; i++) { /* text that does not compress to nothing */
        x = x * 1103515245u + 12345u;
        text[i] = (uint8_t)('a' + (x >> 16) % 26);
    }
    size_t bl = brc(22, text, big, b, big);
    size_t zl = zsc(text, big, z, big, 0);
    CHECK(bl > 0 && zl > 0);
    for (int cap_it = 0; cap_it < 2; cap_it++) {
        struct http_config cfg;
        http_config_default(&cfg);
        /* a quarter of 1 MiB cannot hold a window for 600 KB; 64 MiB can */
        cfg.max_held_bytes = cap_it ? 1u << 20 : 64u << 20;
        memset(&S, 0, sizeof(S));
        R.n = 0;
        R.errors = 0;
        R.log[0] = 0;
        struct http_parser *p = http_parser_new(&cfg, &S, &CB, &R);
        const char *req = "GET /b HTTP/1.1\r\n\r\nGET /z HTTP/1.1\r\n\r\n";
        http_feed(p, HTTP_REQUEST, (const uint8_t *)req, strlen(req), 1);
        size_t n = with_head(r, 2 * big, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n"
                                         "Content-Length: %zu\r\n\r\n", b, bl);
        http_feed(p, HTTP_RESPONSE, r, n / 2, 2);
        CHECK(S.decode_mem <= cfg.max_held_bytes / 4);
        if (!cap_it) CHECK(S.decode_mem > big / 2); /* it is charged while the body runs */
        http_feed(p, HTTP_RESPONSE, r + n / 2, n - n / 2, 3);
        CHECK_EQ(S.decode_mem, 0);
        n = with_head(r, 2 * big, "HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\n"
                                  "Content-Length: %zu\r\n\r\n", z, zl);
        for (size_t off = 0; off < n; off += 1460)
            http_feed(p, HTTP_RESPONSE, r + off, n - off < 1460 ? n - off : 1460, 4);
        CHECK_EQ(S.decode_mem, 0);
        http_parser_free(p);
        CHECK_EQ(R.n, 2);
        if (cap_it) {
            CHECK_EQ(S.decode_mem_cap_hit, 2);
            CHECK_EQ(S.decode_failed, 2);
            CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_BR | HTTP_TX_DECODE_FAILED);
            CHECK_EQ(R.tx[1].flags, HTTP_TX_BODY_ZSTD | HTTP_TX_DECODE_FAILED);
        } else {
            CHECK_EQ(S.decode_mem_cap_hit, 0);
            CHECK(body_eq(&R.tx[0], HTTP_RESPONSE, text, big));
            CHECK(body_eq(&R.tx[1], HTTP_RESPONSE, text, big));
            CHECK_EQ(R.tx[1].flags, HTTP_TX_BODY_ZSTD);
        }
    }
    free(text);
    free(b);
    free(z);
    free(r);
}

static void test_request_gzip(void)
{
    static uint8_t q[2048];
    size_t n = (size_t)snprintf(
        (char *)q, sizeof(q),
        "POST /batch HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", gz_len);
    memcpy(q + n, gz_text, gz_len);
    n += gz_len;
    const struct ev evs[] = {
        {EV_FEED, HTTP_REQUEST, q, n},
        RESP("HTTP/1.1 204 No Content\r\n\r\n"),
    };
    run_all("request_gzip", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 1);
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, TEXT));
    CHECK_EQ(R.tx[0].req_body_len, gz_len);
    CHECK_EQ(R.tx[0].req_dec, strlen(TEXT));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP);
    CHECK_EQ(R.tx[0].status, 204);
    CHECK_EQ(S.decode_gzip, 1);
}

static void test_no_body(void)
{
    const struct ev evs[] = {
        REQ("HEAD /h HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\nGET /x "
            "HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
             "HTTP/1.1 204 No Content\r\n\r\n"
             "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        REQ("POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
        RESP("HTTP/1.1 100 Continue\r\n\r\n"),
        REQ("data"),
        RESP("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
             "2\r\n\r\nok"),
    };
    run_all("no_body", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 5);
    CHECK_EQ(R.tx[0].status, 200);
    CHECK_EQ(R.tx[0].btotal[HTTP_RESPONSE], 0);
    CHECK_EQ(R.tx[1].status, 204);
    CHECK_EQ(R.tx[1].btotal[HTTP_RESPONSE], 0);
    CHECK_EQ(R.tx[2].status, 304);
    CHECK_EQ(R.tx[2].btotal[HTTP_RESPONSE], 0);
    CHECK(body_is(&R.tx[3], HTTP_RESPONSE, "x"));
    CHECK_STR(R.tx[4].method, "POST");
    CHECK(body_is(&R.tx[4], HTTP_REQUEST, "data"));
    CHECK_EQ(R.tx[4].status, 200);
    CHECK_STR(R.tx[4].resph, "Content-Length=2\n");
    CHECK(body_is(&R.tx[4], HTTP_RESPONSE, "ok"));
    CHECK_EQ(R.tx[4].resp_calls, 1);
    CHECK_EQ(S.responses, 5);
    CHECK_EQ(S.transactions, 5);
    CHECK_EQ(S.parse_errors, 0);
    CHECK_EQ(S.no_response, 0);
}

static void test_body_to_close(void)
{
    const struct ev evs[] = {
        REQ("GET /old HTTP/1.0\r\n\r\n"),
        RESP("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"),
        RESP("body</html>\r\n"),
        MARK,
        END(HTTP_RESPONSE),
        MARK,
    };
    run_all("body_to_close", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 1);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "<html>body</html>\r\n"));
    CHECK_EQ(R.tx[0].flags, 0);
    CHECK_EQ(R.tx[0].resp_body_len, 19);
    CHECK_STR(R.log, "q0 s0 | d0 | ");
    CHECK_STR(R.tx[0].proto, "HTTP/1.0");
    CHECK_EQ(S.transactions, 1);
    CHECK_EQ(S.no_response, 0);
}

static void test_connect_upgrade(void)
{
    const struct ev evs[] = {
        REQ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
        RESP("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02zz"),
        REQ("\x16\x03\x01\x00\x05hello"),
        RESP("GET /not/parsed HTTP/1.1\r\n\r\n"),
    };
    run_all("connect", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 1);
    CHECK_STR(R.tx[0].method, "CONNECT");
    CHECK_STR(R.tx[0].uri, "example.com:443");
    CHECK_EQ(R.tx[0].status, 200);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_UPGRADED);
    CHECK_EQ(R.tx[0].btotal[HTTP_RESPONSE], 0);
    CHECK_EQ(S.upgraded, 1);
    CHECK_EQ(S.upgraded_bytes, 7 + 10 + 28);
    CHECK_EQ(S.parse_errors, 0);

    const struct ev ws[] = {
        REQ("GET /chat HTTP/1.1\r\nHost: w\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            "GET /pipelined HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
             "Upgrade\r\n\r\n\x81\x05hello"),
        REQ("\x81\x85\x01\x02\x03\x04"
            "abcde"),
    };
    run_all("websocket", ws, NEV(ws), NULL);
    CHECK_EQ(R.n, 2);
    CHECK_EQ(R.tx[0].status, 101);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_UPGRADED);
    CHECK_STR(R.tx[1].uri, "/pipelined");
    CHECK_EQ(R.tx[1].flags, HTTP_TX_NO_RESPONSE);
    CHECK_EQ(S.upgraded, 1);
    CHECK_EQ(S.upgraded_bytes, 7 + 11);
    CHECK_EQ(S.no_response, 1);
    CHECK_EQ(S.parse_errors, 0);

    /* CONNECT refused: parsing goes on */
    const struct ev no[] = {
        REQ("CONNECT x:443 HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nno"),
        REQ("GET / HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    };
    run_all("connect_refused", no, NEV(no), NULL);
    CHECK_EQ(R.n, 2);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "no"));
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "ok"));
    CHECK_EQ(S.upgraded, 0);
}

static void test_header_forms(void)
{
    const struct ev evs[] = {
        REQ("GET /f HTTP/1.1\nHost: x\nX-Long: first\n  second  \n\tthird\nx-rep: 1\nX-REP: 2\n"
            "X-Trim:   v v   \r\nX-Empty:\r\nX-Nul: a\0b\r\nCoNtEnT-lEnGtH: 3\n\nabc"),
        RESP("HTTP/1.1 200 OK\nSet-Cookie: a=1\nSet-Cookie: b=2\nContent-Length: 0\n\n"),
    };
    run_all("header_forms", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 1);
    CHECK_STR(R.tx[0].reqh, "Host=x\nX-Long=first second third\nx-rep=1\nX-REP=2\nX-Trim=v v\n"
                            "X-Empty=\nX-Nul=a b\nCoNtEnT-lEnGtH=3\n");
    CHECK_EQ(R.tx[0].n_reqh, 8);
    CHECK_STR(R.tx[0].host, "x");
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, "abc"));
    CHECK_STR(R.tx[0].resph, "Set-Cookie=a=1\nSet-Cookie=b=2\nContent-Length=0\n");
    CHECK_EQ(S.parse_errors, 0);
}

static void test_bad_lengths(void)
{
    const struct ev neg[] = {
        REQ("POST /a HTTP/1.1\r\nContent-Length: -5\r\n\r\nhello\r\nGET /b HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 "
             "OK\r\nContent-Length: 0\r\n\r\n"),
    };
    run_all("cl_negative", neg, NEV(neg), NULL);
    CHECK_EQ(R.n, 2);
    CHECK_STR(R.tx[0].method, "POST");
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED);
    CHECK_EQ(R.tx[0].btotal[HTTP_REQUEST], 0);
    CHECK_EQ(R.tx[0].status, 400);
    CHECK_STR(R.tx[1].uri, "/b");
    CHECK_EQ(R.tx[1].status, 200);
    CHECK_EQ(R.tx[1].flags, 0);
    CHECK_EQ(S.parse_errors, 1);
    CHECK_EQ(S.resyncs, 1);
    CHECK_EQ(S.resync_bytes, 2 + 5 + 2);

    const char *bad[] = {"99999999999999999999999", "5a", "5, 6", "", "+5", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[256];
        int n = snprintf(req, sizeof(req),
                         "POST /a HTTP/1.1\r\nContent-Length: %s\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
                         bad[i]);
        const struct ev e[] = {{EV_FEED, HTTP_REQUEST, (const uint8_t *)req, (size_t)n}};
        run_all("cl_bad", e, NEV(e), NULL);
        CHECK_EQ(S.parse_errors, 1);
        CHECK_EQ(R.n, 2);
        CHECK_STR(R.tx[1].uri, "/b");
        CHECK_EQ(S.resync_bytes, 2);
    }
    const struct ev conflict[] = {
        REQ("POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
    };
    run_all("cl_conflict", conflict, NEV(conflict), NULL);
    CHECK_EQ(S.parse_errors, 1);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED | HTTP_TX_NO_RESPONSE);

    const struct ev same[] = {
        REQ("POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
            "POST /b HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nde"
            "POST /c HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: "
            "chunked\r\n\r\n1\r\nf\r\n0\r\n\r\n"),
    };
    run_all("cl_same", same, NEV(same), NULL);
    CHECK_EQ(S.parse_errors, 0);
    CHECK_EQ(R.n, 3);
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, "abc"));
    CHECK(body_is(&R.tx[1], HTTP_REQUEST, "de"));
    CHECK(body_is(&R.tx[2], HTTP_REQUEST, "f"));
    CHECK_EQ(R.tx[2].flags, HTTP_TX_BODY_CHUNKED | HTTP_TX_NO_RESPONSE);

    /* a request whose last transfer coding is not chunked cannot be framed */
    const struct ev te[] = {
        REQ("POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
    };
    run_all("te_not_chunked", te, NEV(te), NULL);
    CHECK_EQ(S.parse_errors, 1);
    CHECK_EQ(R.n, 2);
    CHECK_STR(R.tx[1].uri, "/b");
    CHECK_EQ(S.resync_bytes, 0);
}

static void test_bad_chunks(void)
{
    const char *bad[] = {"zz\r\n",    "\r\n",   "1000000000000000000\r\n",
                         "3\r\nabcX", "-1\r\n", "3 x\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char resp[256];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\n"
                         "HTTP/1.1 201 OK\r\nContent-Length: 1\r\n\r\nY",
                         bad[i]);
        const struct ev e[] = {
            REQ("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
            {EV_FEED, HTTP_RESPONSE, (const uint8_t *)resp, (size_t)n},
        };
        run_all("bad_chunk", e, NEV(e), NULL);
        CHECK_EQ(S.parse_errors, 1);
        CHECK_EQ(S.resyncs, 1);
        CHECK_EQ(R.n, 2);
        CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_CHUNKED | HTTP_TX_TRUNCATED);
        CHECK_EQ(R.tx[1].status, 201);
        CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "Y"));
    }
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, ""));
}

static void test_huge_headers(void)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_header_bytes = 1024;
    static char req[8192];
    size_t l = (size_t)snprintf(req, sizeof(req), "GET /h HTTP/1.1\r\n");
    const size_t line = strlen("X-Fill-000: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    for (int i = 0; i < 100; i++)
        l += (size_t)snprintf(req + l, sizeof(req) - l,
                              "X-Fill-%03d: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", i);
    l += (size_t)snprintf(req + l, sizeof(req) - l,
                          "Content-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n");
    const struct ev evs[] = {
        {EV_FEED, HTTP_REQUEST, (const uint8_t *)req, l},
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
             "0\r\n\r\n"),
    };
    run_all("huge_headers", evs, NEV(evs), &cfg);
    /* a header is kept if the head was still under the cap when the next
     * line began: (17 + k * line + 1) <= 1024 */
    size_t kept = (1024 - 17 - 1) / line;
    CHECK_EQ(R.n, 2);
    CHECK_EQ(R.tx[0].n_reqh, kept);
    CHECK(strncmp(R.tx[0].reqh, "X-Fill-000=aaaa", 15) == 0);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED);
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, "abc"));
    CHECK_STR(R.tx[1].uri, "/next");
    CHECK_EQ(R.tx[1].flags, 0);
    CHECK_EQ(S.header_cap_hit, 1);
    CHECK_EQ(S.parse_errors, 0);

    /* count cap */
    cfg.max_header_bytes = 0;
    cfg.max_headers = 3;
    const struct ev cnt[] = {
        REQ("GET /c HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nContent-Length: 1\r\n\r\nz"),
    };
    run_all("count_cap", cnt, NEV(cnt), &cfg);
    CHECK_STR(R.tx[0].reqh, "A=1\nB=2\nC=3\n");
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED | HTTP_TX_NO_RESPONSE);
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, "z"));
    CHECK_EQ(S.headers_count_cap_hit, 1);
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* 100 MB of header lines: the parser must skip them without holding them */
static void test_header_flood_memory(void)
{
    static uint8_t block[65536];
    size_t l = 0;
    while (l + 40 < sizeof(block))
        l += (size_t)snprintf((char *)block + l, sizeof(block) - l, "X-Flood: %028d\r\n", (int)l);
    long before = maxrss_kb();
    memset(&S, 0, sizeof(S));
    R.n = 0;
    R.errors = 0;
    R.log[0] = 0;
    struct http_parser *p = http_parser_new(NULL, &S, &CB, &R);
    CHECK(p != NULL);
    const char *start = "POST /flood HTTP/1.1\r\n";
    http_feed(p, HTTP_REQUEST, (const uint8_t *)start, strlen(start), 1);
    uint64_t fed = 0;
    while (fed < 100u * 1000 * 1000) {
        http_feed(p, HTTP_REQUEST, block, l, 2);
        fed += l;
    }
    const char *end = "Content-Length: 4\r\n\r\nbody";
    http_feed(p, HTTP_REQUEST, (const uint8_t *)end, strlen(end), 3);
    const char *resp = "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n";
    http_feed(p, HTTP_RESPONSE, (const uint8_t *)resp, strlen(resp), 4);
    http_parser_free(p);
    long grown = maxrss_kb() - before;
    CHECK(grown < 16 * 1024);
    CHECK_EQ(R.n, 1);
    CHECK_EQ(S.header_cap_hit, 1);
    CHECK_EQ(R.tx[0].n_reqh, 100); /* the count cap comes before the byte cap */
    CHECK(body_is(&R.tx[0], HTTP_REQUEST, "body"));
    CHECK_EQ(R.tx[0].status, 413);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED);
    CHECK_EQ(S.headers_count_cap_hit, 1);
    printf("header flood: 100 MB of header lines, max RSS grew %ld KiB\n", grown);
}

static void test_huge_uri(void)
{
    static char req[16384];
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_uri = 100;
    size_t l = (size_t)snprintf(req, sizeof(req), "GET /");
    for (int i = 0; i < 299; i++)
        req[l++] = (char)('a' + i % 26);
    l += (size_t)snprintf(req + l, sizeof(req) - l, " HTTP/1.1\r\nHost: u\r\n\r\n");
    const struct ev evs[] = {
        {EV_FEED, HTTP_REQUEST, (const uint8_t *)req, l},
        RESP("HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n"),
    };
    run_all("huge_uri", evs, NEV(evs), &cfg);
    CHECK_EQ(R.n, 1);
    CHECK_EQ(strlen(R.tx[0].uri), 100);
    CHECK(strncmp(R.tx[0].uri, "/abcdefghijklmnopqrstuvwxyzabc", 30) == 0);
    CHECK_STR(R.tx[0].reqh, "Host=u\n");
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED);
    CHECK_EQ(R.tx[0].status, 414);
    CHECK_EQ(S.uri_cap_hit, 1);
    CHECK_EQ(S.header_cap_hit, 0);

    /* default cap, 10000-byte target: whole and 1-byte pieces */
    l = (size_t)snprintf(req, sizeof(req), "GET /");
    for (int i = 0; i < 9999; i++)
        req[l++] = 'q';
    l += (size_t)snprintf(req + l, sizeof(req) - l, " HTTP/1.1\r\n\r\n");
    const struct ev big[] = {{EV_FEED, HTTP_REQUEST, (const uint8_t *)req, l}};
    run_all_stride("huge_uri_default", big, NEV(big), NULL, 997);
    CHECK_EQ(strlen(R.tx[0].uri), 8192);
    CHECK_EQ(S.uri_cap_hit, 1);
}

static void test_invalid_gzip(void)
{
    const struct ev evs[] = {
        REQ("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 24\r\n\r\n"
             "plain text, not gzip!!!!"),
        RESP("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 10\r\n\r\n"
             "plain text"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    };
    run_all("invalid_gzip", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 3);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "plain text, not gzip!!!!"));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP | HTTP_TX_DECODE_FAILED);
    CHECK_EQ(R.tx[0].resp_body_len, 24);
    CHECK_EQ(R.tx[0].resp_dec, 24);
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "plain text"));
    CHECK_EQ(R.tx[1].flags, HTTP_TX_BODY_DEFLATE | HTTP_TX_DECODE_FAILED);
    CHECK(body_is(&R.tx[2], HTTP_RESPONSE, "ok"));
    CHECK_EQ(S.decode_failed, 2);
    CHECK_EQ(S.parse_errors, 0);

    /* corruption in the middle: what decoded is delivered, then raw bytes */
    static uint8_t r[2048];
    size_t n = (size_t)snprintf(
        (char *)r, sizeof(r),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", gz_len);
    memcpy(r + n, gz_text, gz_len);
    for (size_t i = n + gz_len / 2; i < n + gz_len / 2 + 8; i++)
        r[i] ^= 0x5a;
    n += gz_len;
    const struct ev mid[] = {REQ("GET /m HTTP/1.1\r\n\r\n"), {EV_FEED, HTTP_RESPONSE, r, n}};
    run_all("gzip_corrupt_middle", mid, NEV(mid), NULL);
    CHECK_EQ(S.decode_failed, 1);
    CHECK(R.tx[0].flags & HTTP_TX_DECODE_FAILED);
    CHECK(R.tx[0].resp_dec > 0);
    CHECK_EQ(R.tx[0].resp_body_len, gz_len);

    /* a wrong CRC-32 in the trailer is not checked (parsers/decompress.c):
     * the body is delivered whole and the decode does not count as failed */
    n = (size_t)snprintf((char *)r, sizeof(r),
                         "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                         gz_len);
    memcpy(r + n, gz_text, gz_len);
    r[n + gz_len - 8] ^= 0xff; /* the trailer: CRC-32, then ISIZE */
    n += gz_len;
    const struct ev crc[] = {REQ("GET /c HTTP/1.1\r\n\r\n"), {EV_FEED, HTTP_RESPONSE, r, n}};
    run_all("gzip_bad_crc", crc, NEV(crc), NULL);
    CHECK_EQ(S.decode_failed, 0);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, TEXT));
}

static void test_decode_caps(void)
{
    /* output cap: exactly max_decoded bytes are delivered */
    static uint8_t big[5000], z[8192], r[16384];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)("abcdefghij0123456789"[i % 20] + (i / 700));
    size_t zl = zc(Z_GZ, big, sizeof(big), z, sizeof(z));
    size_t n = (size_t)snprintf(
        (char *)r, sizeof(r),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zl);
    memcpy(r + n, z, zl);
    n += zl;
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_decoded = 1000;
    const struct ev evs[] = {
        REQ("GET /cap HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n"),
        {EV_FEED, HTTP_RESPONSE, r, n},
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    };
    run_all("decode_cap", evs, NEV(evs), &cfg);
    CHECK_EQ(R.n, 2);
    CHECK(body_eq(&R.tx[0], HTTP_RESPONSE, big, 1000));
    CHECK_EQ(R.tx[0].resp_dec, 1000);
    CHECK_EQ(R.tx[0].resp_body_len, zl);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP | HTTP_TX_TRUNCATED);
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "ok"));
    CHECK_EQ(S.decode_cap_hit, 1);
    CHECK_EQ(S.ratio_cap_hit, 0);
}

/* 100 MB of zeros, gzip'd: stopped by the ratio cap with little memory */
static void test_bomb(void)
{
    static uint8_t zeros[65536];
    size_t cap = 1 << 20;
    uint8_t *z = malloc(cap);
    CHECK(z != NULL);
    if (!z) return;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    CHECK_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    uint64_t total = 100ull * 1000 * 1000;
    for (uint64_t done = 0; done < total;) {
        size_t k = total - done < sizeof(zeros) ? (size_t)(total - done) : sizeof(zeros);
        zs.next_in = zeros;
        zs.avail_in = (uInt)k;
        done += k;
        deflate(&zs, done == total ? Z_FINISH : Z_NO_FLUSH);
    }
    size_t zl = zs.total_out;
    deflateEnd(&zs);
    char head[256];
    int hl =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zl);
    const char *req = "GET /bomb HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n";
    const char *after = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    for (int variant = 0; variant < 3; variant++) {
        struct http_config cfg;
        http_config_default(&cfg);
        if (variant < 2) cfg.max_ratio = 100;
        long before = maxrss_kb();
        memset(&S, 0, sizeof(S));
        R.n = 0;
        R.errors = 0;
        R.log[0] = 0;
        struct http_parser *p = http_parser_new(&cfg, &S, &CB, &R);
        http_feed(p, HTTP_REQUEST, (const uint8_t *)req, strlen(req), 0);
        http_feed(p, HTTP_RESPONSE, (const uint8_t *)head, (size_t)hl, 1);
        size_t piece = variant == 1 ? 1 : zl; /* 1-byte pieces, or whole */
        for (size_t off = 0; off < zl; off += piece)
            http_feed(p, HTTP_RESPONSE, z + off, zl - off < piece ? zl - off : piece, 2);
        http_feed(p, HTTP_RESPONSE, (const uint8_t *)after, strlen(after), 3);
        http_parser_free(p);
        long grown = maxrss_kb() - before;
        CHECK_EQ(R.errors, 0);
        CHECK_EQ(R.n, 2);
        CHECK(R.tx[0].flags == (HTTP_TX_BODY_GZIP | HTTP_TX_TRUNCATED));
        CHECK_EQ(R.tx[0].resp_body_len, zl);
        CHECK(R.tx[0].resp_dec > 0);
        if (variant < 2) {
            CHECK_EQ(S.ratio_cap_hit, 1);
            CHECK(R.tx[0].resp_dec <= 100 * (uint64_t)zl);
        } else {
            CHECK_EQ(S.ratio_cap_hit + S.decode_cap_hit, 1);
            CHECK(R.tx[0].resp_dec <= cfg.max_decoded);
        }
        CHECK(R.tx[0].btotal[HTTP_RESPONSE] == R.tx[0].resp_dec);
        CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "ok"));
        CHECK(grown < 16 * 1024);
        printf("bomb variant %d: %zu wire bytes -> %llu delivered (ratio %s), RSS grew %ld KiB\n",
               variant, zl, (unsigned long long)R.tx[0].resp_dec,
               S.ratio_cap_hit ? "cap" : "output cap", grown);
    }
    free(z);
}

/* ---- whole-body gzip against streaming --------------------------------- */

/* What a decoder gave its sink, in order. */
struct dsink {
    uint8_t *b;
    size_t n, cap;
};

static void dsink_put(void *ud, const uint8_t *data, size_t len)
{
    struct dsink *k = ud;
    if (k->n + len > k->cap) {
        size_t c = k->cap ? k->cap : 65536;
        while (c < k->n + len) c *= 2;
        uint8_t *q = realloc(k->b, c);
        if (!q) return;
        k->b = q;
        k->cap = c;
    }
    memcpy(k->b + k->n, data, len);
    k->n += len;
}

static uint64_t drng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Feeds body, cut into random pieces (the same cuts for both), to a
 * streaming decoder and to one holding up to hold bytes; with abandon_at
 * set, the input has a hole there. Both must give their sinks the same
 * bytes and end in the same status. Returns whether the holding one
 * inflated the body at once. */
static bool whole_vs_stream(const char *name, const uint8_t *body, size_t len, size_t hold,
                            uint64_t max_out, uint32_t max_ratio, size_t max_piece,
                            size_t abandon_at, uint64_t seed)
{
    const uint8_t gz = DECOMP_GZIP;
    struct dsink ks = {0}, kw = {0};
    struct decomp *ds = decomp_new(&gz, 1, max_out, max_ratio, dsink_put, &ks);
    struct decomp *dw = decomp_new(&gz, 1, max_out, max_ratio, dsink_put, &kw);
    CHECK(ds && dw);
    if (!ds || !dw) return false;
    CHECK_EQ(decomp_hold(dw, hold, (seed & 1) && len <= hold ? len : 0), 0);
    CHECK_EQ(decomp_hold(ds, 0, 0), -1); /* a size is needed */
    uint64_t x = seed | 1;
    for (size_t off = 0; off < len;) {
        size_t k = 1 + (size_t)(drng(&x) % max_piece);
        if (k > len - off) k = len - off;
        if (abandon_at && off < abandon_at && off + k >= abandon_at) {
            decomp_abandon(ds);
            decomp_abandon(dw);
        }
        decomp_feed(ds, body + off, k);
        decomp_feed(dw, body + off, k);
        off += k;
    }
    enum decomp_status ss = decomp_finish(ds), sw = decomp_finish(dw);
    bool whole = decomp_was_whole(dw);
    CHECK(!decomp_was_whole(ds));
    if (ks.n != kw.n || (ks.n && memcmp(ks.b, kw.b, ks.n) != 0) || ss != sw) {
        fprintf(stderr, "whole_vs_stream %s: stream %zu bytes status %d, whole %zu bytes "
                        "status %d\n", name, ks.n, (int)ss, kw.n, (int)sw);
        CHECK(0);
    }
    /* finishing twice changes nothing; the decoders then free cleanly */
    CHECK_EQ(decomp_finish(dw), sw);
    decomp_free(ds);
    decomp_free(dw);
    free(ks.b);
    free(kw.b);
    return whole;
}

static void test_gzip_whole(void)
{
    /* text like an API response: records in JSON, some repetition */
    size_t tl = 200000;
    uint8_t *text = malloc(tl), *z = malloc(2 * tl + 1024), *t2 = malloc(4 * tl + 4096);
    CHECK(text && z && t2);
    if (!text || !z || !t2) return;
    uint64_t x = 7;
    for (size_t i = 0; i < tl;) {
        int n = snprintf((char *)text + i, tl - i,
                         "{\"waybill\":\"SF%013llu\",\"city\":\"city-%u\",\"w\":%u},",
                         (unsigned long long)(drng(&x) % 10000000000000ull),
                         (unsigned)(drng(&x) % 50), (unsigned)(drng(&x) % 1000));
        if (n <= 0 || (size_t)n >= tl - i) {
            memset(text + i, ' ', tl - i);
            break;
        }
        i += (size_t)n;
    }
    size_t zl = zc(Z_GZ, text, tl, z, 2 * tl + 1024);
    CHECK(zl > 0);
    const size_t H = 256 * 1024;

    for (uint64_t seed = 1; seed <= 5; seed++) {
        CHECK(whole_vs_stream("valid", z, zl, H, 0, 1000, 1460, 0, seed));
        CHECK(whole_vs_stream("valid, tiny pieces", z, zl, H, 0, 1000, 7, 0, seed) ||
              zl / 4 > DECOMP_HOLD_PIECES);
        /* cut anywhere: streaming's partial output */
        size_t cut = 1 + (size_t)(drng(&x) % (zl - 1));
        CHECK(!whole_vs_stream("truncated", z, cut, H, 0, 1000, 1460, 0, seed));
        /* a hole */
        CHECK(!whole_vs_stream("abandoned", z, zl, H, 0, 1000, 1460, 1 + cut / 2, seed));
    }
    /* too large to hold, or too many pieces: streamed from there on */
    CHECK(!whole_vs_stream("over the hold size", z, zl, zl / 3, 0, 1000, 1460, 0, 9));
    CHECK(!whole_vs_stream("many pieces", z, zl, H, 0, 1000, 3, 0, 9));
    /* caps: the output cap and the ratio cap decide as when streaming */
    CHECK(!whole_vs_stream("output cap", z, zl, H, 5000, 1000, 1460, 0, 3));
    CHECK(!whole_vs_stream("ratio cap", z, zl, H, 0, 2, 1460, 0, 3));
    CHECK(whole_vs_stream("output cap just met", z, zl, H, tl, 1000, 1460, 0, 3));
    /* two members; a member and trailing bytes: streaming decides */
    memcpy(t2, z, zl);
    memcpy(t2 + zl, z, zl);
    CHECK(!whole_vs_stream("two members", t2, 2 * zl, H, 0, 1000, 1460, 0, 4));
    memcpy(t2 + zl, "\0\0\0\0garbage", 11);
    CHECK(!whole_vs_stream("trailing bytes", t2, zl + 11, H, 0, 1000, 1460, 0, 4));
    /* a wrong CRC (zlib does not check it, libdeflate does), a wrong size,
     * a corrupt stream */
    memcpy(t2, z, zl);
    t2[zl - 6] ^= 0x55;
    CHECK(!whole_vs_stream("bad crc", t2, zl, H, 0, 1000, 1460, 0, 5));
    memcpy(t2, z, zl);
    t2[zl - 2] ^= 0x01;
    CHECK(!whole_vs_stream("bad size", t2, zl, H, 0, 1000, 1460, 0, 5));
    memcpy(t2, z, zl);
    t2[zl / 2] ^= 0xff;
    CHECK(!whole_vs_stream("corrupt", t2, zl, H, 0, 1000, 1460, 0, 5));
    /* not gzip at all, short (delivered raw in full) and long */
    CHECK(!whole_vs_stream("plain short", text, 300, H, 0, 1000, 100, 0, 6));
    CHECK(!whole_vs_stream("plain long", text, 5000, H, 0, 1000, 1460, 0, 6));
    /* an empty body, gzipped */
    size_t el = zc(Z_GZ, "", 0, t2, 64);
    CHECK(whole_vs_stream("empty", t2, el, H, 0, 1000, 1460, 0, 6));

    /* the one difference, by design: a body whose first part inflates past
     * max_ratio but whose whole does not. Streaming stops early on the
     * ratio cap; inflated at once, the whole body is delivered. */
    {
        size_t zn = 4u << 20, rn = 60000;
        uint8_t *fl = calloc(1, zn + rn), *fz = malloc(zn + rn + 1024);
        CHECK(fl && fz);
        if (fl && fz) {
            for (size_t i = 0; i < rn; i++) fl[zn + i] = (uint8_t)drng(&x);
            size_t fzl = zc_level(Z_GZ, 9, fl, zn + rn, fz, zn + rn + 1024);
            CHECK(fzl > 0 && (zn + rn) <= fzl * 1000); /* the whole is within 1000:1 */
            const uint8_t g = DECOMP_GZIP;
            struct dsink ks = {0}, kw = {0};
            struct decomp *ds = decomp_new(&g, 1, 0, 1000, dsink_put, &ks);
            struct decomp *dw = decomp_new(&g, 1, 0, 1000, dsink_put, &kw);
            CHECK(ds && dw && decomp_hold(dw, H, 0) == 0);
            for (size_t off = 0; ds && dw && off < fzl; off += 1460) {
                size_t k = fzl - off < 1460 ? fzl - off : 1460;
                decomp_feed(ds, fz + off, k);
                decomp_feed(dw, fz + off, k);
            }
            CHECK_EQ(decomp_finish(ds), DECOMP_RATIO);
            CHECK(ks.n < zn);
            CHECK_EQ(decomp_finish(dw), DECOMP_OK);
            CHECK(decomp_was_whole(dw));
            CHECK(kw.n == zn + rn && memcmp(kw.b, fl, zn + rn) == 0);
            decomp_free(ds);
            decomp_free(dw);
            free(ks.b);
            free(kw.b);
        }
        free(fl);
        free(fz);
    }

    /* deflate and stacked codings are never held */
    const uint8_t df = DECOMP_DEFLATE, two[2] = {DECOMP_GZIP, DECOMP_GZIP};
    struct dsink k = {0};
    struct decomp *d1 = decomp_new(&df, 1, 0, 1000, dsink_put, &k);
    struct decomp *d2 = decomp_new(two, 2, 0, 1000, dsink_put, &k);
    CHECK_EQ(decomp_hold(d1, H, 0), -1);
    CHECK_EQ(decomp_hold(d2, H, 0), -1);
    decomp_free(d1);
    decomp_free(d2);

    /* through the parser: counted, and the reservation given back */
    struct http_config cfg;
    http_config_default(&cfg);
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                      zl);
    /* mode 0: held whole; 1: streamed; 2: held until it passes a 4 KiB hold,
     * then streamed, and its reservation given back at once */
    for (int mode = 0; mode < 3; mode++) {
        cfg.gzip_stream_only = mode == 1;
        cfg.gzip_whole_max = mode == 2 ? 4096 : 0;
        memset(&S, 0, sizeof(S));
        R.n = 0;
        R.errors = 0;
        struct http_parser *p = http_parser_new(&cfg, &S, &CB, &R);
        const char *req = "GET /big HTTP/1.1\r\n\r\n";
        http_feed(p, HTTP_REQUEST, (const uint8_t *)req, strlen(req), 0);
        http_feed(p, HTTP_RESPONSE, (const uint8_t *)head, (size_t)hl, 1);
        for (size_t off = 0; off < zl; off += 1460) {
            http_feed(p, HTTP_RESPONSE, z + off, zl - off < 1460 ? zl - off : 1460, 2);
            uint64_t want = mode == 0 ? 256 * 1024 : mode == 2 && off + 1460 <= 4096 ? 4096 : 0;
            if (off + 1460 < zl) CHECK_EQ(S.decode_held, want);
        }
        http_parser_free(p);
        CHECK_EQ(R.n, 1);
        CHECK_EQ(R.errors, 0);
        CHECK(body_eq(&R.tx[0], HTTP_RESPONSE, text, tl));
        CHECK_EQ(S.decode_gzip, 1);
        CHECK_EQ(S.decode_whole, mode == 0 ? 1 : 0);
        CHECK_EQ(S.decode_held, 0);
    }
    free(text);
    free(z);
    free(t2);
}

/* Waiting requests' heads answer to one budget shared by the parsers of a
 * worker (one struct http_stats): past it a flow's oldest waiting requests
 * are given up, counted, and what is held goes back to zero at the end. */
static void test_held_budget(void)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_held_bytes = 4096;
    memset(&S, 0, sizeof(S));
    R.n = 0;
    R.errors = 0;
    R.log[0] = 0;
    struct http_parser *a = http_parser_new(&cfg, &S, &CB, &R);
    struct http_parser *b = http_parser_new(&cfg, &S, &CB, &R);
    char req[1200];
    int n = snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: h\r\nX-Pad: %01000d\r\n\r\n", 0);
    for (int i = 0; i < 10; i++) {
        http_feed(a, HTTP_REQUEST, (const uint8_t *)req, (size_t)n, 1);
        http_feed(b, HTTP_REQUEST, (const uint8_t *)req, (size_t)n, 1);
        CHECK(S.held_bytes <= cfg.max_held_bytes + 2u * 1100u);
    }
    CHECK(S.held_cap_hit > 0);
    CHECK(S.held_cap_hit < 20); /* each flow keeps its newest request */
    CHECK_EQ(S.requests, 20);
    CHECK(S.no_response >= S.held_cap_hit); /* given up: ended as no response */
    http_parser_free(a);
    http_parser_free(b);
    CHECK_EQ(S.held_bytes, 0);
    CHECK_EQ(R.n, 20);
}

static void test_resync_garbage(void)
{
    const struct ev evs[] = {
        REQ("\x01\x02\x03garbage line\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"),
        RESP("xyz\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
        REQ("GET /\r\nnot a request\r\n\r\nHEAD /x HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"),
    };
    run_all("resync_garbage", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 2);
    CHECK_STR(R.tx[0].uri, "/ok");
    CHECK_STR(R.tx[0].host, "h");
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "hi"));
    CHECK_EQ(R.tx[0].flags, 0);
    CHECK_STR(R.tx[1].method, "HEAD");
    CHECK_EQ(R.tx[1].status, 200);
    CHECK_EQ(S.parse_errors, 3);
    CHECK_EQ(S.resyncs, 3);
    /* 3 + 14 request bytes, 5 response bytes, then "\r\n" of the 0.9 line
     * and "not a request\r\n\r\n" */
    CHECK_EQ(S.resync_bytes, 17 + 5 + 2 + 17);
}

static void test_gaps(void)
{
    /* a gap inside a body of known length: the body goes on */
    const struct ev body[] = {
        REQ("GET /g HTTP/1.1\r\n\r\nGET /h HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789"),
        GAP(HTTP_RESPONSE, 5),
        RESP("FGHIJHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ"),
    };
    run_all("gap_body", body, NEV(body), NULL);
    CHECK_EQ(R.n, 2);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "0123456789FGHIJ"));
    CHECK_EQ(R.tx[0].flags, HTTP_TX_GAP);
    CHECK_EQ(R.tx[0].resp_body_len, 15);
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "Z"));
    CHECK_EQ(R.tx[1].flags, 0);
    CHECK_EQ(S.resyncs, 0);

    /* the same inside a gzip body: the rest is delivered raw */
    static uint8_t r[2048];
    size_t n = (size_t)snprintf(
        (char *)r, sizeof(r),
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", gz_len);
    size_t head = n;
    memcpy(r + n, gz_text, gz_len);
    n += gz_len;
    size_t cut = head + gz_len / 2;
    const struct ev gz[] = {
        REQ("GET /z HTTP/1.1\r\n\r\n"),
        {EV_FEED, HTTP_RESPONSE, r, cut},
        GAP(HTTP_RESPONSE, 3),
        {EV_FEED, HTTP_RESPONSE, r + cut + 3, n - cut - 3},
    };
    run_all("gap_gzip", gz, NEV(gz), NULL);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_BODY_GZIP | HTTP_TX_GAP | HTTP_TX_DECODE_FAILED);
    CHECK_EQ(S.decode_failed, 1);
    CHECK_EQ(R.tx[0].resp_body_len, gz_len - 3);
    size_t rawn = n - cut - 3;
    CHECK(R.tx[0].blen[HTTP_RESPONSE] >= rawn &&
          memcmp(R.tx[0].body[HTTP_RESPONSE] + R.tx[0].blen[HTTP_RESPONSE] - rawn, r + cut + 3,
                 rawn) == 0);
    CHECK(R.tx[0].resp_dec > rawn);

    /* a gap in a request head: the request is delivered as it stands, then
     * parsing resumes at the next request line */
    const struct ev hd[] = {
        REQ("GET /a HTTP/1.1\r\nHost: h\r\nX-Par"),
        GAP(HTTP_REQUEST, 10),
        REQ("tial: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB"),
    };
    run_all("gap_head", hd, NEV(hd), NULL);
    CHECK_EQ(R.n, 2);
    CHECK_STR(R.tx[0].uri, "/a");
    CHECK_STR(R.tx[0].reqh, "Host=h\n");
    CHECK_EQ(R.tx[0].flags, HTTP_TX_GAP);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "A"));
    CHECK_STR(R.tx[1].uri, "/b");
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "B"));
    CHECK_EQ(S.resyncs, 1);
    CHECK_EQ(S.parse_errors, 0);
    CHECK_EQ(S.resync_bytes, 4 + 5 + 2);

    /* a response-side gap that loses responses: the next response pairs
     * with the oldest outstanding request */
    const struct ev rp[] = {
        REQ("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\nGET /4 "
            "HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: "
             "10\r\n\r\n2222"),
        GAP(HTTP_RESPONSE, 200),
        RESP("tail of something\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n4"),
    };
    run_all("gap_response", rp, NEV(rp), NULL);
    CHECK_EQ(R.n, 4);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "1"));
    CHECK(body_is(&R.tx[1], HTTP_RESPONSE, "2222"));
    CHECK_EQ(R.tx[1].flags, HTTP_TX_GAP);
    CHECK(body_is(&R.tx[2], HTTP_RESPONSE, "4"));
    CHECK_EQ(R.tx[3].flags, HTTP_TX_NO_RESPONSE);
    CHECK_EQ(S.resyncs, 1);
    CHECK_EQ(S.resync_bytes, 19);
    CHECK_EQ(S.no_response, 1);
}

static void test_pipeline_cap(void)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_pipeline = 2;
    const struct ev evs[] = {
        REQ("GET /0 HTTP/1.1\r\n\r\nGET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 "
            "HTTP/1.1\r\n\r\n"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB"
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nC"
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nD"),
    };
    run_all("pipeline_cap", evs, NEV(evs), &cfg);
    CHECK_EQ(S.pipeline_cap_hit, 2);
    CHECK_EQ(S.no_response, 2);
    CHECK_EQ(R.n, 6);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_NO_RESPONSE);
    CHECK_EQ(R.tx[1].flags, HTTP_TX_NO_RESPONSE);
    CHECK_STR(R.tx[2].uri, "/2");
    CHECK_STR(R.tx[3].uri, "/3");
    CHECK_STR(R.tx[4].method, "");
    CHECK_STR(R.tx[4].uri, "");
    CHECK(body_is(&R.tx[4], HTTP_RESPONSE, "A"));
    CHECK(body_is(&R.tx[5], HTTP_RESPONSE, "B"));
    CHECK(body_is(&R.tx[2], HTTP_RESPONSE, "C"));
    CHECK(body_is(&R.tx[3], HTTP_RESPONSE, "D"));
    CHECK_EQ(S.requests, 4);
    CHECK_EQ(S.transactions, 6);
}

static void test_flow_end(void)
{
    const struct ev evs[] = {
        REQ("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"),
        RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12"),
    };
    run_all("flow_end", evs, NEV(evs), NULL);
    CHECK_EQ(R.n, 2);
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED);
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "12"));
    CHECK_EQ(R.tx[1].flags, HTTP_TX_TRUNCATED | HTTP_TX_NO_RESPONSE);
    CHECK(body_is(&R.tx[1], HTTP_REQUEST, "12345"));
    CHECK_EQ(S.no_response, 1);
    CHECK_EQ(S.transactions, 2);

    const struct ev head[] = {
        REQ("GET /a HTTP/1.1\r\nHost: x\r\nAccept"),
    };
    run_all("flow_end_head", head, NEV(head), NULL);
    CHECK_EQ(R.n, 1);
    CHECK_STR(R.tx[0].reqh, "Host=x\n");
    CHECK_EQ(R.tx[0].flags, HTTP_TX_TRUNCATED | HTTP_TX_NO_RESPONSE);
    CHECK_STR(R.log, "q0 d0 ");

    /* unsolicited response: a transaction of its own */
    const struct ev uns[] = {RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nU")};
    run_all("unsolicited", uns, NEV(uns), NULL);
    CHECK_EQ(R.n, 1);
    CHECK_STR(R.tx[0].method, "");
    CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "U"));
    CHECK_EQ(S.requests, 0);
    CHECK_EQ(S.responses, 1);
}

static void test_bad_lines(void)
{
    const char *bad[] = {
        "GET /a HTTP/2.0\r\n\r\n",
        "GET /a HTTP/1.x\r\n\r\n",
        "GET /a FTP/1.1\r\n\r\n",
        "GET\r\n\r\n",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ /a HTTP/1.1\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\n\r\n",
        "GET /a HTTP/1.1\r\n: empty\r\n\r\n",
        "GET /a HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /a HTTP/1.1\r\n folded-first: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[256];
        int n = snprintf(req, sizeof(req), "%sGET /ok HTTP/1.1\r\n\r\n", bad[i]);
        const struct ev e[] = {{EV_FEED, HTTP_REQUEST, (const uint8_t *)req, (size_t)n}};
        run_all("bad_line", e, NEV(e), NULL);
        CHECK_EQ(S.parse_errors, 1);
        CHECK(R.n >= 1);
        CHECK_STR(R.tx[R.n - 1].uri, "/ok");
    }
    const char *bads[] = {"HTTP/1.1 20 OK\r\n", "HTTP/1.1 2000 OK\r\n", "HTTP/2 200 OK\r\n",
                          "HTTP/1.1 099 OK\r\n", "http/1.1 200 OK\r\n"};
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        char resp[256];
        int n = snprintf(resp, sizeof(resp), "%s\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nk",
                         bads[i]);
        const struct ev e[] = {REQ("GET / HTTP/1.1\r\n\r\n"),
                               {EV_FEED, HTTP_RESPONSE, (const uint8_t *)resp, (size_t)n}};
        run_all("bad_status", e, NEV(e), NULL);
        CHECK_EQ(S.parse_errors, 1);
        CHECK_EQ(R.n, 1);
        CHECK(body_is(&R.tx[0], HTTP_RESPONSE, "k"));
    }
    /* status line with no reason phrase is fine */
    const struct ev ok[] = {REQ("GET / HTTP/1.1\r\n\r\n"),
                            RESP("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nk")};
    run_all("no_reason", ok, NEV(ok), NULL);
    CHECK_EQ(S.parse_errors, 0);
    CHECK_EQ(R.tx[0].status, 200);
}

static void test_probe(void)
{
    CHECK_EQ(http_probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16), 1);
    CHECK_EQ(http_probe((const uint8_t *)"POST /x", 7), 1);
    CHECK_EQ(http_probe((const uint8_t *)"PROPFIND /x", 11), 1);
    CHECK_EQ(http_probe((const uint8_t *)"HTTP/1.1 200 OK", 15), 1);
    CHECK_EQ(http_probe((const uint8_t *)"HTTP/1.0", 8), 1);
    CHECK_EQ(http_probe((const uint8_t *)"HTT", 3), -1);
    CHECK_EQ(http_probe((const uint8_t *)"GE", 2), -1);
    CHECK_EQ(http_probe((const uint8_t *)"GET", 3), -1);
    CHECK_EQ(http_probe((const uint8_t *)"", 0), -1);
    CHECK_EQ(http_probe((const uint8_t *)"GETX / HTTP/1.1", 15), 0);
    CHECK_EQ(http_probe((const uint8_t *)"get / HTTP/1.1", 14), 0);
    CHECK_EQ(http_probe((const uint8_t *)"HTTP/2.0 200", 12), 0);
    CHECK_EQ(http_probe((const uint8_t *)"\x16\x03\x01\x02\x00", 5), 0);
    CHECK_EQ(http_probe((const uint8_t *)"SSH-2.0-OpenSSH", 15), 0);
}

static void test_misc_api(void)
{
    struct http_config cfg;
    http_config_default(&cfg);
    CHECK_EQ(cfg.max_header_bytes, 65536);
    CHECK_EQ(cfg.max_uri, 8192);
    CHECK_EQ(cfg.max_headers, 100);
    CHECK_EQ(cfg.max_decoded, 64ull << 20);
    CHECK_EQ(cfg.max_ratio, 1000);
    CHECK_EQ(cfg.max_pipeline, 64);
    http_parser_free(NULL);
    CHECK(http_tx_header(NULL, HTTP_REQUEST, "x") == NULL);
    /* NULL stats and callbacks are allowed */
    struct http_parser *p = http_parser_new(NULL, NULL, NULL, NULL);
    CHECK(p != NULL);
    http_feed(p, HTTP_REQUEST, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0);
    http_gap(p, HTTP_RESPONSE, 10);
    http_parser_free(p);
}

int main(void)
{
    gz_len = zc(Z_GZ, TEXT, strlen(TEXT), gz_text, sizeof(gz_text));
    zl_len = zc(Z_ZLIB, TEXT, strlen(TEXT), zl_text, sizeof(zl_text));
    raw_len = zc(Z_RAW, TEXT, strlen(TEXT), raw_text, sizeof(raw_text));
    CHECK(gz_len > 0 && zl_len > 0 && raw_len > 0);
    test_held_budget();
    /* memory tests first, while the peak RSS is still low */
    test_header_flood_memory();
    test_bomb();
    test_get_post();
    test_keepalive();
    test_pipelined();
    test_chunked();
    test_gzip_deflate();
    test_gzip_chunked_stacked();
    test_br_zstd();
    test_br_zstd_budget();
    test_request_gzip();
    test_no_body();
    test_body_to_close();
    test_connect_upgrade();
    test_header_forms();
    test_bad_lengths();
    test_bad_chunks();
    test_huge_headers();
    test_huge_uri();
    test_invalid_gzip();
    test_decode_caps();
    test_gzip_whole();
    test_resync_garbage();
    test_gaps();
    test_pipeline_cap();
    test_flow_end();
    test_bad_lines();
    test_probe();
    test_misc_api();
    return check_done();
}
