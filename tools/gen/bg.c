/* bg.c - background traffic (see bg.h).
 *
 * Each event is a whole conversation written at once: a DNS query and its
 * answer (RFC 1035, name compression in answers); a TLS 1.3 connection
 * (RFC 8446: ClientHello with SNI, ServerHello with key_share, then
 * encrypted application_data records of random bytes, each record framed
 * correctly and split at 16 KiB); an intranet HTTP keep-alive connection;
 * a PostgreSQL session (protocol 3.0: startup, simple query, rows). None
 * of it carries personal records. */
#include "bg.h"

#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct bg {
    rng_t rng;
    double ratio; /* background bytes per API byte */
    uint64_t last;
    pkt_addr dns4, dns6, web4, web6, db, report;
    uint16_t port;
    buf_t a, b;
};

static const char *const ext_names[] = {
    "www.baidu.com",  "api.weixin.qq.com", "www.taobao.com",     "update.microsoft.com",
    "login.live.com", "ocsp.digicert.cn",  "cdn.jsdelivr.net",   "time.windows.com",
    "open.feishu.cn", "www.amap.com",      "mirrors.aliyun.com", "dldir1.qq.com"};
static const char *const corp_names[] = {"waybill.corp.example", "intranet.corp.example",
                                         "mail.corp.example", "wiki.corp.example",
                                         "proxy.corp.example"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

struct bg *bg_new(sim *s)
{
    struct bg *b = calloc(1, sizeof *b);
    if (!b) abort();
    rng_seed(&b->rng, s->seed, 0x6267);
    double f = s->cfg.background;
    b->ratio = f <= 0 ? 0 : f >= 0.95 ? 19 : f / (1 - f);
    pkt_addr4(&b->dns4, 10, 0, 0, 53);
    pkt_addr6(&b->dns6, 0, 0x53);
    pkt_addr4(&b->web4, 10, 0, 0, 80);
    pkt_addr6(&b->web6, 0, 0x80);
    pkt_addr4(&b->db, 10, 0, 0, 30);
    pkt_addr4(&b->report, 10, 0, 1, 40);
    b->port = 50000;
    return b;
}

void bg_free(struct bg *b)
{
    if (!b) return;
    buf_free(&b->a);
    buf_free(&b->b);
    free(b);
}

static void rand_bytes(rng_t *r, buf_t *o, size_t n)
{
    buf_grow(o, n + 8);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(o->p + o->len + i, &v, 8);
    }
    o->len += n;
}

static void put16(buf_t *o, unsigned v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    buf_put(o, x, 2);
}

static void put32(buf_t *o, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_put(o, x, 4);
}

static void set16(buf_t *o, size_t at, size_t v)
{
    o->p[at] = (uint8_t)(v >> 8);
    o->p[at + 1] = (uint8_t)v;
}

static const world_acct *some_ws(sim *s, rng_t *r)
{
    return &s->w->a[rng_below(r, (uint32_t)s->w->nemployees)];
}

static uint16_t next_port(struct bg *b)
{
    b->port = b->port >= 65000 ? 50000 : (uint16_t)(b->port + 1 + rng_below(&b->rng, 7));
    return b->port;
}

/* ---- DNS ---- */

static void dns_name(buf_t *o, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        buf_ch(o, (char)l);
        buf_put(o, name, l);
        name += l + (dot ? 1 : 0);
    }
    buf_ch(o, 0);
}

static void ev_dns(struct bg *b, sim *s)
{
    rng_t *r = &b->rng;
    const world_acct *a = some_ws(s, r);
    const pkt_addr *srv = a->ws.v6 ? &b->dns6 : &b->dns4;
    int corp = rng_chance(r, 0.4);
    const char *name =
        corp ? corp_names[rng_below(r, N(corp_names))] : ext_names[rng_below(r, N(ext_names))];
    unsigned qtype = rng_chance(r, 0.25) ? 28 : 1, id = rng_below(r, 65536);
    uint16_t sport = (uint16_t)(49152 + rng_below(r, 16000));
    buf_t *q = &b->a;
    buf_reset(q);
    put16(q, id);
    put16(q, 0x0100);
    put16(q, 1);
    put16(q, 0);
    put16(q, 0);
    put16(q, 0);
    dns_name(q, name);
    put16(q, qtype);
    put16(q, 1);
    pkt_udp(s->pw, &a->ws, sport, srv, 53, q->p, q->len, a->ttl);
    truth_flow_close(s->tr,
                     truth_flow_open(s->tr, 17, &a->ws, sport, srv, 53, s->pw->now, -1, "dns"), 0);
    pkt_wait(s->pw, 300 + rng_below(r, corp ? 500 : 30000));
    buf_t *o = &b->b;
    buf_reset(o);
    unsigned an = corp ? 1 : 1 + rng_below(r, 3);
    buf_put(o, q->p, q->len);
    set16(o, 2, 0x8180);
    set16(o, 6, an);
    for (unsigned i = 0; i < an; i++) {
        put16(o, 0xc00c);
        put16(o, qtype);
        put16(o, 1);
        put32(o, corp ? 300 : 60 + rng_below(r, 600));
        if (qtype == 1) {
            put16(o, 4);
            uint8_t ip[4] = {corp ? 10 : 203, 0, corp ? 0 : 113, (uint8_t)(1 + rng_below(r, 250))};
            buf_put(o, ip, 4);
        } else {
            put16(o, 16);
            uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
            ip[15] = (uint8_t)(1 + rng_below(r, 250));
            buf_put(o, ip, 16);
        }
    }
    pkt_udp(s->pw, srv, 53, &a->ws, sport, o->p, o->len, 64);
}

/* ---- TLS 1.3 ---- */

static void tls_records(buf_t *o, rng_t *r, uint8_t type, size_t n)
{
    while (n) {
        size_t l = n > 16384 ? 16384 : n;
        uint8_t h[5] = {type, 3, 3, (uint8_t)((l + 17) >> 8), (uint8_t)(l + 17)};
        buf_put(o, h, 5);
        rand_bytes(r, o, l + 17); /* ciphertext + 16-byte tag + inner type */
        n -= l;
    }
}

static void client_hello(buf_t *o, rng_t *r, const char *sni)
{
    size_t rec = o->len;
    buf_put(o, "\x16\x03\x01\x00\x00", 5);
    size_t hs = o->len;
    buf_put(o, "\x01\x00\x00\x00", 4);
    buf_put(o, "\x03\x03", 2);
    rand_bytes(r, o, 32);
    buf_ch(o, 32);
    rand_bytes(r, o, 32);
    buf_put(o, "\x00\x06\x13\x01\x13\x02\xc0\x2f", 8);
    buf_put(o, "\x01\x00", 2);
    size_t ext = o->len;
    put16(o, 0);
    size_t nl = strlen(sni);
    put16(o, 0); /* server_name */
    put16(o, nl + 5);
    put16(o, nl + 3);
    buf_ch(o, 0);
    put16(o, nl);
    buf_put(o, sni, nl);
    buf_put(o, "\x00\x0a\x00\x06\x00\x04\x00\x1d\x00\x17", 10);         /* groups */
    buf_put(o, "\x00\x0d\x00\x08\x00\x06\x04\x03\x08\x04\x04\x01", 12); /* sig algs */
    buf_put(o, "\x00\x2b\x00\x05\x04\x03\x04\x03\x03", 9);              /* versions */
    buf_put(o, "\x00\x10\x00\x0e\x00\x0c\x02h2\x08http/1.1", 18);       /* ALPN */
    buf_put(o, "\x00\x33\x00\x26\x00\x24\x00\x1d\x00\x20", 10);         /* key_share */
    rand_bytes(r, o, 32);
    set16(o, ext, o->len - ext - 2);
    size_t hl = o->len - hs - 4;
    o->p[hs + 1] = (uint8_t)(hl >> 16);
    set16(o, hs + 2, hl);
    set16(o, rec + 3, o->len - rec - 5);
}

static void server_hello(buf_t *o, rng_t *r, const uint8_t *sid)
{
    size_t rec = o->len;
    buf_put(o, "\x16\x03\x03\x00\x00", 5);
    size_t hs = o->len;
    buf_put(o, "\x02\x00\x00\x00\x03\x03", 6);
    rand_bytes(r, o, 32);
    buf_ch(o, 32);
    buf_put(o, sid, 32);
    buf_put(o, "\x13\x01\x00", 3);
    buf_put(o, "\x00\x2e", 2);
    buf_put(o, "\x00\x2b\x00\x02\x03\x04", 6);
    buf_put(o, "\x00\x33\x00\x24\x00\x1d\x00\x20", 8);
    rand_bytes(r, o, 32);
    size_t hl = o->len - hs - 4;
    o->p[hs + 1] = (uint8_t)(hl >> 16);
    set16(o, hs + 2, hl);
    set16(o, rec + 3, o->len - rec - 5);
    buf_put(o, "\x14\x03\x03\x00\x01\x01", 6);
}

static void ev_tls(struct bg *b, sim *s)
{
    rng_t *r = &b->rng;
    pkt_writer *pw = s->pw;
    const world_acct *a = some_ws(s, r);
    const char *sni = ext_names[rng_below(r, N(ext_names))];
    pkt_addr srv;
    if (a->ws.v6) {
        memset(&srv, 0, sizeof srv);
        srv.v6 = 1;
        srv.a[0] = 0x20, srv.a[1] = 0x01, srv.a[2] = 0x0d, srv.a[3] = 0xb8;
        srv.a[15] = (uint8_t)(1 + rng_below(r, 250));
    } else {
        pkt_addr4(&srv, rng_chance(r, 0.5) ? 198 : 203, rng_chance(r, 0.5) ? 51 : 0,
                  rng_chance(r, 0.5) ? 100 : 113, 1 + rng_below(r, 250));
        /* documentation ranges only: 198.51.100/24, 203.0.113/24 */
        srv.a[1] = srv.a[0] == 198 ? 51 : 0;
        srv.a[2] = srv.a[0] == 198 ? 100 : 113;
    }
    pkt_tcp c;
    uint16_t port = next_port(b);
    pkt_tcp_open(pw, &c, &a->ws, port, &srv, 443, a->ttl);
    int fl = truth_flow_open(s->tr, 6, &a->ws, port, &srv, 443, pw->now, -1, "tls");
    buf_t *o = &b->a;
    buf_reset(o);
    client_hello(o, r, sni);
    uint8_t sid[32];
    memcpy(sid, o->p + 5 + 4 + 2 + 32 + 1, 32);
    pkt_tcp_send(pw, &c, 0, o->p, o->len, 0);
    pkt_wait(pw, 5000 + rng_below(r, 40000));
    buf_reset(o);
    server_hello(o, r, sid);
    tls_records(o, r, 0x17, 2000 + rng_below(r, 3000)); /* certificate etc., encrypted */
    pkt_tcp_send(pw, &c, 1, o->p, o->len, 0);
    pkt_wait(pw, 200 + rng_below(r, 2000));
    int rounds = 1 + (int)rng_below(r, 3);
    for (int i = 0; i < rounds; i++) {
        buf_reset(o);
        if (i == 0) {
            buf_put(o, "\x14\x03\x03\x00\x01\x01", 6);
            tls_records(o, r, 0x17, 36);
        }
        tls_records(o, r, 0x17, 200 + rng_below(r, 800));
        pkt_tcp_send(pw, &c, 0, o->p, o->len, 0);
        pkt_wait(pw, 5000 + rng_below(r, 60000));
        buf_reset(o);
        size_t n = rng_chance(r, 0.2) ? 20000 + rng_below(r, 300000) : 500 + rng_below(r, 20000);
        tls_records(o, r, 0x17, n);
        pkt_tcp_send(pw, &c, 1, o->p, o->len, 1);
        pkt_wait(pw, 1000 + rng_below(r, 20000));
    }
    pkt_tcp_close(pw, &c, rng_below(r, 2), rng_chance(r, s->cfg.rst));
    truth_flow_close(s->tr, fl, c.flags);
}

/* ---- intranet HTTP ---- */

static const char *const html_words[] = {
    "通知", "公告", "员工", "培训", "制度", "流程",     "安全",       "系统", "考勤", "报销",
    "会议", "部门", "服务", "质量", "网点", "分拨中心", "客户满意度", "季度", "总结"};

static void ev_http(struct bg *b, sim *s)
{
    rng_t *r = &b->rng;
    pkt_writer *pw = s->pw;
    const world_acct *a = some_ws(s, r);
    const pkt_addr *srv = a->ws.v6 ? &b->web6 : &b->web4;
    pkt_tcp c;
    uint16_t port = next_port(b);
    pkt_tcp_open(pw, &c, &a->ws, port, srv, 80, a->ttl);
    int fl = truth_flow_open(s->tr, 6, &a->ws, port, srv, 80, pw->now, -1, "http");
    int n = 1 + (int)rng_below(r, 4);
    for (int i = 0; i < n; i++) {
        char target[96], hdr[320];
        static const char *const paths[] = {"/portal/news/%u.html", "/hr/leave/list?page=%u",
                                            "/kb/article?id=%u", "/portal/img/banner%u.css"};
        snprintf(target, sizeof target, paths[rng_below(r, 4)], rng_below(r, 5000));
        snprintf(hdr, sizeof hdr,
                 "User-Agent: %s\r\nAccept: text/html,application/xhtml+xml,*/*;q=0.8\r\n"
                 "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n",
                 a->ua);
        buf_reset(&b->a);
        http_request(&b->a, "GET", target, "intranet.corp.example", hdr, NULL, NULL, 0);
        truth_request(s->tr, fl, -1, -1, -1, pw->now);
        pkt_tcp_send(pw, &c, 0, b->a.p, b->a.len, 0);
        pkt_wait(pw, 3000 + rng_below(r, 30000));
        buf_t *body = &b->b;
        buf_reset(body);
        buf_str(body, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>内网门户</title>"
                      "</head><body>\n");
        unsigned words = 200 + rng_below(r, 4000);
        for (unsigned k = 0; k < words; k++) {
            if (k % 40 == 0) buf_str(body, k ? "</p>\n<p>" : "<p>");
            buf_str(body, html_words[rng_below(r, N(html_words))]);
        }
        buf_str(body, "</p></body></html>\n");
        http_resp hr = {200, "text/html; charset=utf-8", 0, 0, NULL, pw->now, "Apache"};
        hr.enc = rng_chance(r, 0.4) ? HTTP_ENC_GZIP : HTTP_ENC_NONE;
        hr.chunked = rng_chance(r, 0.3);
        buf_reset(&b->a);
        http_response(s->http, &b->a, &hr, body->p, body->len, r);
        truth_response(s->tr, fl, -1, hr.enc == HTTP_ENC_GZIP, 0, hr.chunked, pw->now);
        pkt_tcp_send(pw, &c, 1, b->a.p, b->a.len, 1);
        pkt_wait(pw, 5000 + rng_below(r, 80000));
    }
    pkt_tcp_close(pw, &c, rng_below(r, 2), rng_chance(r, s->cfg.rst));
    truth_flow_close(s->tr, fl, c.flags);
}

/* ---- PostgreSQL ---- */

static void pg_msg(buf_t *o, char type, const void *p, size_t n)
{
    buf_ch(o, type);
    put32(o, (uint32_t)(n + 4));
    buf_put(o, p, n);
}

static void ev_pg(struct bg *b, sim *s)
{
    static const char *const st[] = {"CREATED", "IN_TRANSIT", "DELIVERED", "SIGNED", "RETURNED"};
    rng_t *r = &b->rng;
    pkt_writer *pw = s->pw;
    pkt_tcp c;
    uint16_t port = next_port(b);
    pkt_tcp_open(pw, &c, &b->report, port, &b->db, 5432, 64);
    int fl = truth_flow_open(s->tr, 6, &b->report, port, &b->db, 5432, pw->now, -1, "pgsql");
    buf_t *o = &b->a;
    buf_reset(o);
    static const char su[] = "user\0report\0database\0waybill\0application_name\0metabase\0";
    put32(o, (uint32_t)(8 + sizeof su));
    put32(o, 196608);
    buf_put(o, su, sizeof su);
    pkt_tcp_send(pw, &c, 0, o->p, o->len, 0);
    pkt_wait(pw, 500 + rng_below(r, 2000));
    buf_reset(o);
    pg_msg(o, 'R', "\0\0\0\0", 4);
    pg_msg(o, 'S',
           "server_version\0"
           "15.5\0",
           20);
    pg_msg(o, 'S',
           "client_encoding\0"
           "UTF8\0",
           21);
    uint8_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)rng_below(r, 256);
    pg_msg(o, 'K', key, 8);
    pg_msg(o, 'Z', "I", 1);
    pkt_tcp_send(pw, &c, 1, o->p, o->len, 0);
    int nq = 1 + (int)rng_below(r, 3);
    for (int q = 0; q < nq; q++) {
        char sql[200];
        int n = snprintf(sql, sizeof sql,
                         "SELECT status, count(*) FROM waybill WHERE outlet_id = %u AND "
                         "created_at >= now() - interval '%u day' GROUP BY status",
                         rng_below(r, 900), 1 + rng_below(r, 7));
        buf_reset(o);
        pg_msg(o, 'Q', sql, (size_t)n + 1);
        pkt_wait(pw, 1000 + rng_below(r, 50000));
        pkt_tcp_send(pw, &c, 0, o->p, o->len, 0);
        pkt_wait(pw, 1000 + rng_below(r, 30000));
        buf_reset(o);
        buf_t *t = &b->b;
        buf_reset(t);
        put16(t, 2);
        static const char *const cols[2] = {"status", "count"};
        static const uint32_t types[2] = {25, 20};
        for (int k = 0; k < 2; k++) {
            buf_put(t, cols[k], strlen(cols[k]) + 1);
            put32(t, 0);
            put16(t, 0);
            put32(t, types[k]);
            put16(t, k ? 8 : 0xffff);
            put32(t, 0xffffffffu);
            put16(t, 0);
        }
        pg_msg(o, 'T', t->p, t->len);
        for (size_t k = 0; k < N(st); k++) {
            char cnt[16];
            int cl = snprintf(cnt, sizeof cnt, "%u", rng_below(r, 50000));
            buf_reset(t);
            put16(t, 2);
            put32(t, (uint32_t)strlen(st[k]));
            buf_str(t, st[k]);
            put32(t, (uint32_t)cl);
            buf_put(t, cnt, (size_t)cl);
            pg_msg(o, 'D', t->p, t->len);
        }
        char tag[16];
        int tl = snprintf(tag, sizeof tag, "SELECT %zu", N(st));
        pg_msg(o, 'C', tag, (size_t)tl + 1);
        pg_msg(o, 'Z', "I", 1);
        pkt_tcp_send(pw, &c, 1, o->p, o->len, 0);
    }
    buf_reset(o);
    pg_msg(o, 'X', "", 0);
    pkt_tcp_send(pw, &c, 0, o->p, o->len, 0);
    pkt_tcp_close(pw, &c, 0, 0);
    truth_flow_close(s->tr, fl, c.flags);
}

uint64_t bg_step(struct bg *b, sim *s, uint64_t t)
{
    rng_t *r = &b->rng;
    if (b->ratio <= 0) return UINT64_MAX;
    pkt_writer *pw = s->pw;
    int h = world_local_hour(t);
    int active = s->w->flat || (h >= 7 && h < 20);
    pkt_at(pw, t);
    int budget = 8;
    while (budget-- > 0) {
        double target = b->ratio * (double)pw->cls_bytes[PKT_CLS_API];
        int trickle = t - b->last > (active ? 30000000ULL : 300000000ULL) && budget == 7;
        if (!trickle && (double)pw->cls_bytes[PKT_CLS_BG] >= target) break;
        pw->cls = PKT_CLS_BG;
        unsigned x = rng_below(r, 100);
        if (x < 40)
            ev_dns(b, s);
        else if (x < 72)
            ev_tls(b, s);
        else if (x < 90)
            ev_http(b, s);
        else
            ev_pg(b, s);
        pw->cls = PKT_CLS_API;
        b->last = t;
    }
    return pw->now + (uint64_t)(rng_exp(r, active ? 0.05 : 60.0) * 1e6) + 1;
}
