/* sim.c - the actor heap, the employees' clients and the waybill API
 * exchanges (see sim.h).
 *
 * Every API exchange goes through sim_api(): it opens the connection when
 * needed (handshake), logs in once per local day (the identity method
 * decides what the login yields), writes the requests, then renders each
 * response body - reporting every counted value to the truth as it is
 * written - and frames it (gzip/deflate, chunked) as drawn. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg.h"
#include "scenario.h"

const char *const sim_identity_name[ID_N] = {"header", "jwt", "basic", "cookie"};

enum { KIND_ACCT, KIND_SCEN, KIND_BG };

static void heap_push(sim *s, uint64_t t, uint32_t id)
{
    if (t == UINT64_MAX) return;
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 256;
        s->heap = realloc(s->heap, (size_t)s->capheap * sizeof *s->heap);
        if (!s->heap) abort();
    }
    int i = s->nheap++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (s->heap[p].t < t || (s->heap[p].t == t && s->heap[p].id < id)) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i].t = t;
    s->heap[i].id = id;
}

static struct sim_ev heap_pop(sim *s)
{
    struct sim_ev top = s->heap[0], last = s->heap[--s->nheap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= s->nheap) break;
        if (c + 1 < s->nheap &&
            (s->heap[c + 1].t < s->heap[c].t ||
             (s->heap[c + 1].t == s->heap[c].t && s->heap[c + 1].id < s->heap[c].id)))
            c++;
        if (last.t < s->heap[c].t || (last.t == s->heap[c].t && last.id < s->heap[c].id)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    s->heap[i] = last;
    return top;
}

void sim_client_init(sim *s, sim_client *c, int acct, int scen, const pkt_addr *ip, uint8_t ttl,
                     const char *ua, uint64_t stream)
{
    memset(c, 0, sizeof *c);
    c->acct = acct;
    c->scen = scen;
    c->ip = *ip;
    c->ttl = ttl;
    c->ua = ua;
    c->flow = -1;
    c->login_day = -1;
    c->next = c->close_at = UINT64_MAX;
    rng_seed(&c->rng, s->seed, stream);
    c->port = (uint16_t)(49152 + rng_below(&c->rng, 12000));
}

sim *sim_new(const sim_cfg *cfg, uint64_t seed, uint64_t start, uint64_t end, uint64_t bytes_target,
             world *w, pkt_writer *pw, truth *tr)
{
    sim *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->cfg = *cfg;
    s->seed = seed;
    s->start = start;
    s->end = end;
    s->bytes_target = bytes_target;
    s->w = w;
    s->pw = pw;
    s->tr = tr;
    s->http = http_new(1);
    pkt_addr4(&s->srv4, 10, 0, 0, 5);
    pkt_addr6(&s->srv6, 0, 5);
    s->srv_port = 8080;
    s->host = "waybill.corp.example";
    s->cl = calloc((size_t)w->n, sizeof *s->cl);
    if (!s->cl) abort();
    for (int i = 0; i < w->n; i++) {
        const world_acct *a = &w->a[i];
        sim_client_init(s, &s->cl[i], i, -1, &a->ws, a->ttl, a->ua, 0x61000000ULL + (uint64_t)i);
        truth_account(tr, i, a->id, world_role_name[a->role], a->outlet_name,
                      data_cities[a->city].province, data_cities[a->city].city);
    }
    pkt_at(pw, start);
    return s;
}

void sim_free(sim *s)
{
    if (!s) return;
    http_free(s->http);
    buf_free(&s->req);
    buf_free(&s->resp);
    buf_free(&s->body);
    buf_free(&s->tmp);
    free(s->cl);
    free(s->heap);
    free(s);
}

void sim_waybill(const sim *s, int city, uint64_t serial, char *out)
{
    data_waybill_no(rng_hash(s->seed ^ ((uint64_t)city << 40) ^ 0x5742ULL, serial), out);
}

static int64_t local_day(uint64_t t)
{
    return (int64_t)((t / 1000000 + 8 * 3600) / 86400);
}

static void conn_open(sim *s, sim_client *c)
{
    const pkt_addr *srv = c->ip.v6 ? &s->srv6 : &s->srv4;
    c->port = c->port >= 65535 ? 49152 : (uint16_t)(c->port + 1 + rng_below(&c->rng, 3));
    s->pw->cls = PKT_CLS_API;
    pkt_tcp_open(s->pw, &c->conn, &c->ip, c->port, srv, s->srv_port, c->ttl);
    c->flow =
        truth_flow_open(s->tr, 6, &c->ip, c->port, srv, s->srv_port, s->pw->now, c->acct, "http");
    truth_account_ip(s->tr, c->acct, &c->ip);
    truth_scenario_ip(s->tr, c->scen, &c->ip);
}

void sim_client_close(sim *s, sim_client *c)
{
    if (!c->conn.open) return;
    s->pw->cls = PKT_CLS_API;
    if (rng_chance(&c->rng, s->cfg.rst))
        pkt_tcp_close(s->pw, &c->conn, 0, 1);
    else /* mostly the server's keep-alive timeout, sometimes the browser */
        pkt_tcp_close(s->pw, &c->conn, rng_chance(&c->rng, 0.7) ? 1 : 0, 0);
    truth_flow_close(s->tr, c->flow, c->conn.flags);
    c->flow = -1;
}

uint64_t sim_plan(sim *s, sim_client *c, uint64_t next)
{
    uint64_t ka = (uint64_t)s->cfg.keepalive_s * 1000000ULL;
    c->next = next;
    c->close_at = UINT64_MAX;
    if (c->conn.open && (next == UINT64_MAX || next > s->pw->now + ka)) {
        c->close_at = s->pw->now + ka;
        return c->close_at;
    }
    return next;
}

int sim_due_close(sim *s, sim_client *c, uint64_t t)
{
    if (!c->conn.open || c->close_at > t) return 0;
    pkt_at(s->pw, t);
    sim_client_close(s, c);
    c->close_at = UINT64_MAX;
    return 1;
}

/* The identity line and the usual browser headers for client c. */
static void client_headers(sim *s, sim_client *c, buf_t *h, int login)
{
    const world_acct *a = &s->w->a[c->acct];
    buf_reset(h);
    switch (s->cfg.identity) {
    case ID_HEADER:
        buf_fmt(h, "%s: %s\r\n", s->cfg.id_header, a->id);
        break;
    case ID_JWT:
        if (!login && c->token[0]) buf_fmt(h, "Authorization: Bearer %s\r\n", c->token);
        break;
    case ID_BASIC: {
        char up[64];
        int n = snprintf(up, sizeof up, "%s:%s", a->id, a->password);
        buf_str(h, "Authorization: Basic ");
        http_b64(h, (const uint8_t *)up, (size_t)n, 0);
        buf_str(h, "\r\n");
        break;
    }
    case ID_COOKIE:
        if (!login && c->session[0]) buf_fmt(h, "Cookie: SESSIONID=%s; lang=zh-CN\r\n", c->session);
        break;
    }
    buf_fmt(h, "User-Agent: %s\r\n", c->ua);
    if (strncmp(c->ua, "Mozilla", 7) == 0)
        buf_str(h,
                "Accept: application/json, text/plain, */*\r\nAccept-Language: "
                "zh-CN,zh;q=0.9\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n");
    else
        buf_str(h, "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n");
}

static void make_jwt(sim *s, sim_client *c, uint64_t now)
{
    const world_acct *a = &s->w->a[c->acct];
    buf_t *t = &s->tmp;
    char pl[256];
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    uint64_t iat = now / 1000000;
    int n = snprintf(pl, sizeof pl,
                     "{\"sub\":\"%s\",\"emp_id\":\"%s\",\"outlet\":\"%s\",\"role\":\"%s\","
                     "\"iat\":%llu,\"exp\":%llu}",
                     a->id, a->id, a->outlet_name, world_role_name[a->role],
                     (unsigned long long)iat, (unsigned long long)(iat + 12 * 3600));
    uint8_t sig[32];
    for (int i = 0; i < 32; i += 8) {
        uint64_t v = rng_next(&c->rng);
        memcpy(sig + i, &v, 8);
    }
    buf_reset(t);
    http_b64(t, (const uint8_t *)hdr, sizeof hdr - 1, 1);
    buf_ch(t, '.');
    http_b64(t, (const uint8_t *)pl, (size_t)n, 1);
    buf_ch(t, '.');
    http_b64(t, sig, 32, 1);
    size_t l = t->len < sizeof c->token - 1 ? t->len : sizeof c->token - 1;
    memcpy(c->token, t->p, l);
    c->token[l] = 0;
}

static void login(sim *s, sim_client *c)
{
    pkt_writer *pw = s->pw;
    const world_acct *a = &s->w->a[c->acct];
    buf_t h = {0};
    client_headers(s, c, &h, 1);
    buf_ch(&h, 0);
    char body[160];
    int n =
        snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\",\"captcha\":\"\"}",
                 a->id, a->password);
    buf_reset(&s->req);
    http_request(&s->req, "POST", "/api/v1/login", s->host, (const char *)h.p,
                 "application/json;charset=UTF-8", (const uint8_t *)body, (size_t)n);
    truth_request(s->tr, c->flow, c->acct, c->scen, EP_LOGIN, pw->now);
    pkt_tcp_send(pw, &c->conn, 0, s->req.p, s->req.len, 0);
    pkt_wait(pw, 20000 + rng_below(&c->rng, 60000));

    char extra[128] = "";
    buf_reset(&s->body);
    if (s->cfg.identity == ID_COOKIE) {
        for (int i = 0; i < 32; i++)
            c->session[i] = "0123456789ABCDEF"[rng_below(&c->rng, 16)];
        c->session[32] = 0;
        snprintf(extra, sizeof extra, "Set-Cookie: SESSIONID=%s; Path=/; HttpOnly\r\n", c->session);
    }
    if (s->cfg.identity == ID_JWT) {
        make_jwt(s, c, pw->now);
        buf_fmt(&s->body,
                "{\"code\":0,\"msg\":\"ok\",\"data\":{\"empId\":\"%s\",\"token\":\"%s\"}}", a->id,
                c->token);
    } else {
        buf_fmt(&s->body,
                "{\"code\":0,\"msg\":\"ok\",\"data\":{\"empId\":\"%s\",\"outlet\":\"%s\"}}", a->id,
                a->outlet_name);
    }
    http_resp r = {200, "application/json;charset=UTF-8", 0, 0, extra, pw->now, NULL};
    buf_reset(&s->resp);
    http_response(s->http, &s->resp, &r, s->body.p, s->body.len, &c->rng);
    truth_response(s->tr, c->flow, c->acct, 0, 0, 0, pw->now);
    pkt_tcp_send(pw, &c->conn, 1, s->resp.p, s->resp.len, 0);
    pkt_wait(pw, 20000 + rng_below(&c->rng, 150000)); /* the page loads */
    buf_free(&h);
}

static void request(sim *s, sim_client *c, const sim_q *q, const char *hdrs)
{
    char target[160], body[256];
    uint64_t now = s->pw->now;
    switch (q->ep) {
    case EP_WAYBILL_PATH:
        snprintf(target, sizeof target, "/api/v1/waybill/%s", q->wb);
        http_request(&s->req, "GET", target, s->host, hdrs, NULL, NULL, 0);
        break;
    case EP_WAYBILL_QUERY:
        snprintf(target, sizeof target, "/api/v1/waybill?no=%s&_t=%llu", q->wb,
                 (unsigned long long)(now / 1000));
        http_request(&s->req, "GET", target, s->host, hdrs, NULL, NULL, 0);
        break;
    case EP_SEARCH: {
        int n = snprintf(body, sizeof body,
                         "{\"regionCode\":\"%.4s00\",\"status\":\"ALL\",\"keyword\":\"\","
                         "\"page\":%d,\"pageSize\":%d}",
                         data_cities[q->city].code[0], q->page, q->size);
        http_request(&s->req, "POST", "/api/v1/waybill/search", s->host, hdrs,
                     "application/json;charset=UTF-8", (const uint8_t *)body, (size_t)n);
        break;
    }
    case EP_EXPORT:
        snprintf(target, sizeof target, "/api/v1/waybill/export?batch=%llu&page=%d&size=%d",
                 (unsigned long long)(q->qid % 100000), q->page, q->size);
        http_request(&s->req, "GET", target, s->host, hdrs, NULL, NULL, 0);
        break;
    case EP_NOTICE:
        http_request(&s->req, "GET", "/api/v1/notice?page=1", s->host, hdrs, NULL, NULL, 0);
        break;
    default:
        snprintf(target, sizeof target, "/static/js/app.%08llx.js",
                 (unsigned long long)(q->qid & 0xffffffffULL));
        http_request(&s->req, "GET", target, s->host, hdrs, NULL, NULL, 0);
        break;
    }
    truth_request(s->tr, c->flow, c->acct, c->scen, q->ep, now);
}

static void records(sim *s, const sim_q *q, truth_sink *sink)
{
    int nc = data_ncities;
    buf_t *b = &s->body;
    for (int k = 0; k < q->size; k++) {
        char wb[24];
        int city;
        if (q->ep == EP_EXPORT) {
            uint64_t serial = (uint64_t)(q->page - 1) * (uint64_t)q->size + (uint64_t)k;
            city = (int)(serial % (uint64_t)nc);
            sim_waybill(s, city, (serial / (uint64_t)nc) % s->cfg.wpool, wb);
        } else {
            uint64_t h = rng_hash(q->qid, (uint64_t)q->page * 1000 + (uint64_t)k);
            city = (double)(h % 1000) < q->mix * 1000 ? (int)((h >> 10) % (uint64_t)nc) : q->city;
            sim_waybill(s, city, (h >> 20) % s->cfg.wpool, wb);
        }
        if (k) buf_ch(b, ',');
        data_record_json(b, &s->cfg.dopt, s->seed, wb, city, sink);
    }
}

static const char *const js_words[] = {"function", "return",   "var",           "this",   "null",
                                       "const",    "props",    "state",         "render", "=>",
                                       "window",   "document", "createElement", "push",   "length"};

static void response(sim *s, sim_client *c, const sim_q *q)
{
    pkt_writer *pw = s->pw;
    rng_t *r = &c->rng;
    truth_sink sink = {s->tr, c->acct, c->flow, c->scen, pw->now};
    http_resp hr = {200, "application/json;charset=UTF-8", 0, 0, NULL, pw->now, NULL};
    buf_t *b = &s->body;
    buf_reset(b);
    switch (q->ep) {
    case EP_WAYBILL_PATH:
    case EP_WAYBILL_QUERY:
        if (rng_chance(r, q->found)) {
            buf_str(b, "{\"code\":0,\"msg\":\"ok\",\"data\":");
            data_record_json(b, &s->cfg.dopt, s->seed, q->wb, q->city, &sink);
            buf_ch(b, '}');
        } else {
            hr.status = 404;
            buf_str(b, "{\"code\":404,\"msg\":\"waybill not found\",\"data\":null}");
        }
        break;
    case EP_SEARCH:
    case EP_EXPORT:
        buf_fmt(b,
                "{\"code\":0,\"msg\":\"ok\",\"data\":{\"page\":%d,\"pageSize\":%d,\"total\":%u,"
                "\"records\":[",
                q->page, q->size, (unsigned)(q->page * q->size + (q->qid >> 40) % 5000));
        records(s, q, &sink);
        buf_str(b, "]}}");
        break;
    case EP_NOTICE:
        buf_str(b, "{\"code\":0,\"msg\":\"ok\",\"data\":[{\"id\":1207,\"title\":\"系统维护通知\","
                   "\"content\":\"本周六 22:00-24:00 运单系统升级，期间查询可能中断。客服热线 "
                   "400-820-8820。\"},{\"id\":1206,\"title\":\"关于规范查询客户信息的通知\","
                   "\"content\":\"查询客户信息须有业务需要，禁止批量导出。\"}]}");
        break;
    default: {
        hr.ctype = "application/javascript";
        unsigned n = 2000 + rng_below(r, 20000);
        for (unsigned i = 0; i < n; i++) {
            buf_str(b, js_words[rng_below(r, sizeof js_words / sizeof js_words[0])]);
            buf_ch(b, i % 12 == 11 ? '\n' : ' ');
            if (i % 5 == 0) buf_u64(b, rng_below(r, 1000));
        }
        break;
    }
    }
    if (b->len > 256) {
        double x = rng_unit(r);
        hr.enc = x < s->cfg.gzip                    ? HTTP_ENC_GZIP
                 : x < s->cfg.gzip + s->cfg.deflate ? HTTP_ENC_DEFLATE
                                                    : HTTP_ENC_NONE;
    }
    hr.chunked = rng_chance(r, s->cfg.chunked);
    http_response(s->http, &s->resp, &hr, b->p, b->len, r);
    truth_response(s->tr, c->flow, c->acct, hr.enc == HTTP_ENC_GZIP, hr.enc == HTTP_ENC_DEFLATE,
                   hr.chunked, pw->now);
}

void sim_api(sim *s, sim_client *c, sim_q *q, int n)
{
    pkt_writer *pw = s->pw;
    pw->cls = PKT_CLS_API;
    if (!c->conn.open) conn_open(s, c);
    int64_t day = local_day(pw->now);
    if (c->login_day != day) {
        login(s, c);
        c->login_day = day;
    }
    client_headers(s, c, &s->tmp, 0);
    buf_ch(&s->tmp, 0);
    buf_reset(&s->req);
    for (int i = 0; i < n; i++)
        request(s, c, &q[i], (const char *)s->tmp.p);
    pkt_tcp_send(pw, &c->conn, 0, s->req.p, s->req.len, 0);
    int big = 0;
    for (int i = 0; i < n; i++)
        big += q[i].ep == EP_SEARCH || q[i].ep == EP_EXPORT ? q[i].size : 0;
    pkt_wait(pw, 2000 + rng_below(&c->rng, 20000) + (uint64_t)big * 300);
    /* one write per response, as servers do: a response ends its last
       segment (PSH), the next one starts a new segment */
    for (int i = 0; i < n; i++) {
        buf_reset(&s->resp);
        response(s, c, &q[i]);
        pkt_tcp_send(pw, &c->conn, 1, s->resp.p, s->resp.len, i == n - 1);
    }
}

/* A record an employee would look up: mostly its region's. */
static void pick_lookup(sim *s, sim_client *c, sim_q *q, int city, double mix, int ep)
{
    memset(q, 0, sizeof *q);
    q->ep = ep;
    q->city = rng_chance(&c->rng, mix) ? (int)rng_below(&c->rng, (uint32_t)data_ncities) : city;
    sim_waybill(s, q->city, rng_below(&c->rng, s->cfg.wpool), q->wb);
    q->found = 0.97;
}

static void activity(sim *s, int i)
{
    sim_client *c = &s->cl[i];
    const world_acct *a = &s->w->a[i];
    rng_t *r = &c->rng;
    sim_q q[3];
    int city = a->city;
    double mix = s->cfg.scope_leak;
    if (a->role == ROLE_AGENT) { /* the call centre serves every region */
        city = (int)rng_below(r, (uint32_t)data_ncities);
        mix = 0;
    }
    unsigned x = rng_below(r, 100);
    int lookup = a->role == ROLE_AGENT ? 80 : a->role == ROLE_CLERK ? 70 : 40;
    int search = a->role == ROLE_AGENT ? 15 : a->role == ROLE_CLERK ? 20 : 55;
    if (x < (unsigned)lookup) {
        int n = rng_chance(r, s->cfg.pipeline) ? 2 + (int)rng_below(r, 2) : 1;
        for (int k = 0; k < n; k++)
            pick_lookup(s, c, &q[k], city, mix,
                        rng_chance(r, 0.25) ? EP_WAYBILL_QUERY : EP_WAYBILL_PATH);
        sim_api(s, c, q, n);
    } else if (x < (unsigned)(lookup + search)) {
        memset(q, 0, sizeof q[0]);
        q[0].ep = EP_SEARCH;
        q[0].city = city;
        q[0].mix = mix;
        q[0].qid = rng_next(r);
        q[0].size = a->role == ROLE_DISPATCH ? 50 + 10 * (int)rng_below(r, 6) : 20;
        q[0].page = 1;
        sim_api(s, c, q, 1);
        if (rng_chance(r, 0.3)) {
            c->pend = q[0];
            c->pend_pages = 1 + (int)rng_below(r, 2);
        }
    } else {
        memset(q, 0, 2 * sizeof q[0]);
        q[0].ep = EP_STATIC;
        q[0].qid = rng_below(r, 8);
        q[1].ep = EP_NOTICE;
        sim_api(s, c, q, 2);
    }
}

static uint64_t acct_step(sim *s, int i, uint64_t t)
{
    sim_client *c = &s->cl[i];
    if (sim_due_close(s, c, t)) return c->next;
    pkt_at(s->pw, t);
    if (c->pend_pages) { /* the user pages on */
        c->pend.page++;
        c->pend_pages--;
        sim_api(s, c, &c->pend, 1);
    } else {
        activity(s, i);
    }
    if (c->pend_pages) return sim_plan(s, c, s->pw->now + 1000000 + rng_below(&c->rng, 5000000));
    return sim_plan(s, c, world_next(s->w, i, s->pw->now, s->end, &c->rng));
}

void sim_run(sim *s)
{
    for (int i = 0; i < s->w->nemployees; i++) {
        sim_client *c = &s->cl[i];
        c->next = world_next(s->w, i, s->start, s->end, &c->rng);
        heap_push(s, c->next, (uint32_t)(KIND_ACCT << 24 | i));
    }
    if (s->scen)
        for (int i = 0; i < scen_count(s->scen); i++)
            heap_push(s, scen_first(s->scen, i), (uint32_t)(KIND_SCEN << 24 | i));
    if (s->bg) heap_push(s, s->start, (uint32_t)(KIND_BG << 24));
    while (s->nheap) {
        struct sim_ev ev = heap_pop(s);
        if (ev.t >= s->end || (s->bytes_target && s->pw->bytes >= s->bytes_target)) break;
        int kind = (int)(ev.id >> 24), idx = (int)(ev.id & 0xffffff);
        uint64_t next;
        if (kind == KIND_ACCT)
            next = acct_step(s, idx, ev.t);
        else if (kind == KIND_SCEN)
            next = scen_step(s->scen, s, idx, ev.t);
        else
            next = bg_step(s->bg, s, ev.t);
        heap_push(s, next, ev.id);
    }
    for (int i = 0; i < s->w->n; i++)
        sim_client_close(s, &s->cl[i]);
    if (s->scen) scen_finish(s->scen, s);
}
