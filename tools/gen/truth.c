/* truth.c - ground truth counting and the X.truth.json writer (see truth.h).
 *
 * Values arrive one by one from the response builder and are inserted, as
 * 64-bit hashes, into up to five sets: the account's current hour, the
 * account's whole run, the flow, the scenario and the whole file. An
 * account's hour is closed (counts rendered, sets cleared) when a later
 * hour's event arrives; flows are rendered when they close, into a
 * temporary file spliced into the output at the end, so memory stays
 * bounded by open flows and accounts, not by the capture's length. */
#include "truth.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

const char *const truth_ep_name[EP_N] = {"login",  "waybill_path", "waybill_query", "search",
                                         "export", "notice",       "static"};
const char *const truth_ep_path[EP_N] = {"POST /api/v1/login",
                                         "GET /api/v1/waybill/{no}",
                                         "GET /api/v1/waybill?no={no}",
                                         "POST /api/v1/waybill/search",
                                         "GET /api/v1/waybill/export?page={n}",
                                         "GET /api/v1/notice",
                                         "GET /static/..."};
static const char *const cat_name[T_NCAT] = {"mobiles", "ids", "addresses", "waybills",
                                             "landlines"};

typedef struct {
    uint64_t *k;
    uint32_t cap, n;
} hset;

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p) {
        fprintf(stderr, "lh-gen: out of memory\n");
        abort();
    }
    return p;
}

/* Returns 1 if h was not in the set. h != 0. */
static int hset_add(hset *s, uint64_t h)
{
    if ((s->n + 1) * 2 > s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 64;
        uint64_t *nk = xcalloc(ncap, sizeof *nk);
        for (uint32_t i = 0; i < s->cap; i++) {
            uint64_t v = s->k[i];
            if (!v) continue;
            uint32_t j = (uint32_t)(v >> 32) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = v;
        }
        free(s->k);
        s->k = nk;
        s->cap = ncap;
    }
    uint32_t j = (uint32_t)(h >> 32) & (s->cap - 1);
    while (s->k[j]) {
        if (s->k[j] == h) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->k[j] = h;
    s->n++;
    return 1;
}

static void hset_clear(hset *s)
{
    if (s->n) {
        if (s->cap > 4096) { /* a burst hour should not keep its memory */
            free(s->k);
            s->k = NULL;
            s->cap = 0;
        } else {
            memset(s->k, 0, s->cap * sizeof *s->k);
        }
    }
    s->n = 0;
}

static void hset_free(hset *s)
{
    free(s->k);
    s->k = NULL;
    s->cap = s->n = 0;
}

typedef struct {
    char id[16], role[12], outlet[24], prov[32], city[32];
    pkt_addr ips[16];
    int nips;
    int64_t hour; /* -1: none open */
    uint32_t req[EP_N], resp, masked;
    hset hs[T_NCAT];
    buf_t hours; /* rendered hour objects, comma separated */
    uint64_t treq[EP_N], tresp, tmasked;
    hset tot[T_NCAT];
} acct_t;

typedef struct {
    char name[16];
    int acct, malicious, allowlisted;
    char *params;
    pkt_addr ips[16];
    int nips;
    uint64_t start, end, requests;
    hset hs[T_NCAT];
} scen_t;

typedef struct {
    int used, proto, acct;
    pkt_addr cli, srv;
    uint16_t cport, sport;
    uint64_t start;
    char app[8];
    uint32_t req, resp;
    uint8_t gzip, deflate, chunked;
    hset hs[T_NCAT];
} flow_t;

struct truth {
    int nacct, keep_flows;
    acct_t *acct;
    scen_t *scen;
    int nscen;
    flow_t *flow;
    int nflow, capflow, *freelist, nfree;
    FILE *flows_tmp;
    uint64_t nflows_written;
    hset all[T_NCAT];
    uint64_t http_req, http_resp, api_req, tcp_flows, udp_flows, masked;
    uint64_t gz_resp, df_resp, ch_resp;
};

void truth_iso(uint64_t t, int frac, char *out)
{
    int64_t s = (int64_t)(t / 1000000), days = s / 86400, sec = s % 86400;
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));
    if (frac)
        snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", (unsigned)y % 10000u,
                 (unsigned)m % 13u, (unsigned)d % 32u, (unsigned)(sec / 3600) % 24u,
                 (unsigned)(sec / 60 % 60), (unsigned)(sec % 60), (unsigned)(t % 1000000));
    else
        snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u, (unsigned)m % 13u,
                 (unsigned)d % 32u, (unsigned)(sec / 3600) % 24u, (unsigned)(sec / 60 % 60),
                 (unsigned)(sec % 60));
}

truth *truth_new(int naccounts, int keep_flows)
{
    truth *t = xcalloc(1, sizeof *t);
    t->nacct = naccounts;
    t->keep_flows = keep_flows;
    t->acct = xcalloc((size_t)naccounts + 1, sizeof *t->acct);
    for (int i = 0; i < naccounts; i++)
        t->acct[i].hour = -1;
    t->flows_tmp = tmpfile();
    if (!t->flows_tmp) {
        fprintf(stderr, "lh-gen: tmpfile failed\n");
        abort();
    }
    return t;
}

void truth_free(truth *t)
{
    if (!t) return;
    for (int i = 0; i < t->nacct; i++) {
        for (int c = 0; c < T_NCAT; c++) {
            hset_free(&t->acct[i].hs[c]);
            hset_free(&t->acct[i].tot[c]);
        }
        buf_free(&t->acct[i].hours);
    }
    for (int i = 0; i < t->nscen; i++) {
        free(t->scen[i].params);
        for (int c = 0; c < T_NCAT; c++)
            hset_free(&t->scen[i].hs[c]);
    }
    for (int i = 0; i < t->capflow; i++)
        for (int c = 0; c < T_NCAT; c++)
            hset_free(&t->flow[i].hs[c]);
    for (int c = 0; c < T_NCAT; c++)
        hset_free(&t->all[c]);
    free(t->acct);
    free(t->scen);
    free(t->flow);
    free(t->freelist);
    if (t->flows_tmp) fclose(t->flows_tmp);
    free(t);
}

void truth_account(truth *t, int a, const char *id, const char *role, const char *outlet,
                   const char *province, const char *city)
{
    acct_t *x = &t->acct[a];
    snprintf(x->id, sizeof x->id, "%s", id);
    snprintf(x->role, sizeof x->role, "%s", role);
    snprintf(x->outlet, sizeof x->outlet, "%s", outlet);
    snprintf(x->prov, sizeof x->prov, "%s", province);
    snprintf(x->city, sizeof x->city, "%s", city);
}

static void add_ip(pkt_addr *ips, int *n, const pkt_addr *ip)
{
    for (int i = 0; i < *n; i++)
        if (!memcmp(&ips[i], ip, sizeof *ip)) return;
    if (*n < 16) ips[(*n)++] = *ip;
}

void truth_account_ip(truth *t, int a, const pkt_addr *ip)
{
    if (a >= 0) add_ip(t->acct[a].ips, &t->acct[a].nips, ip);
}

int truth_scenario(truth *t, const char *name, int acct, int malicious, int allowlisted,
                   const char *params_json)
{
    scen_t *ns = realloc(t->scen, (size_t)(t->nscen + 1) * sizeof *ns);
    if (!ns) abort();
    t->scen = ns;
    scen_t *s = &t->scen[t->nscen];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->acct = acct;
    s->malicious = malicious;
    s->allowlisted = allowlisted;
    s->params = strdup(params_json);
    return t->nscen++;
}

void truth_scenario_ip(truth *t, int s, const pkt_addr *ip)
{
    if (s >= 0) add_ip(t->scen[s].ips, &t->scen[s].nips, ip);
}

int truth_flow_open(truth *t, int proto, const pkt_addr *cli, uint16_t cport, const pkt_addr *srv,
                    uint16_t sport, uint64_t start, int acct, const char *app)
{
    int i;
    if (t->nfree) {
        i = t->freelist[--t->nfree];
    } else {
        if (t->nflow == t->capflow) {
            int nc = t->capflow ? t->capflow * 2 : 256;
            flow_t *nf = realloc(t->flow, (size_t)nc * sizeof *nf);
            int *nl = realloc(t->freelist, (size_t)nc * sizeof *nl);
            if (!nf || !nl) abort();
            memset(nf + t->capflow, 0, (size_t)(nc - t->capflow) * sizeof *nf);
            t->flow = nf;
            t->freelist = nl;
            t->capflow = nc;
        }
        i = t->nflow++;
    }
    flow_t *f = &t->flow[i];
    f->used = 1;
    f->proto = proto;
    f->acct = acct;
    f->cli = *cli;
    f->srv = *srv;
    f->cport = cport;
    f->sport = sport;
    f->start = start;
    snprintf(f->app, sizeof f->app, "%s", app);
    f->req = f->resp = 0;
    f->gzip = f->deflate = f->chunked = 0;
    if (proto == 6)
        t->tcp_flows++;
    else
        t->udp_flows++;
    return i;
}

void truth_flow_close(truth *t, int i, unsigned flags)
{
    if (i < 0) return;
    flow_t *f = &t->flow[i];
    if (t->keep_flows && f->proto == 6) { /* TCP flows are listed, UDP only counted */
        char c[48], s[48], ts[32];
        pkt_addr_str(&f->cli, c);
        pkt_addr_str(&f->srv, s);
        truth_iso(f->start, 1, ts);
        fprintf(t->flows_tmp,
                "%s\n    {\"proto\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\","
                "\"dest_port\":%u,\"start\":\"%s\",\"app\":\"%s\",\"account\":",
                t->nflows_written ? "," : "", f->proto == 6 ? "TCP" : "UDP", c, f->cport, s,
                f->sport, ts, f->app);
        if (f->acct >= 0)
            fprintf(t->flows_tmp, "\"%s\"", t->acct[f->acct].id);
        else
            fputs("null", t->flows_tmp);
        fprintf(t->flows_tmp,
                ",\"http_requests\":%u,\"http_responses\":%u,\"gzip\":%s,\"deflate\":%s,"
                "\"chunked\":%s,\"midstream\":%s,\"lossy\":%s,\"impaired\":%s",
                f->req, f->resp, f->gzip ? "true" : "false", f->deflate ? "true" : "false",
                f->chunked ? "true" : "false", flags & PKT_F_MIDSTREAM ? "true" : "false",
                flags & PKT_F_LOSSY ? "true" : "false", flags & PKT_F_IMPAIRED ? "true" : "false");
        for (int k = 0; k < T_NCAT; k++)
            fprintf(t->flows_tmp, ",\"%s\":%u", cat_name[k], f->hs[k].n);
        fputs("}", t->flows_tmp);
        t->nflows_written++;
    }
    for (int k = 0; k < T_NCAT; k++)
        hset_clear(&f->hs[k]);
    f->used = 0;
    t->freelist[t->nfree++] = i;
}

static void hour_flush(acct_t *a)
{
    if (a->hour < 0) return;
    char ts[32];
    truth_iso((uint64_t)a->hour * 3600000000ULL, 0, ts);
    if (a->hours.len) buf_ch(&a->hours, ',');
    buf_fmt(&a->hours, "\n        {\"hour\":\"%s\",\"requests\":{", ts);
    for (int e = 0; e < EP_N; e++)
        buf_fmt(&a->hours, "%s\"%s\":%u", e ? "," : "", truth_ep_name[e], a->req[e]);
    buf_fmt(&a->hours, "},\"responses\":%u", a->resp);
    for (int k = 0; k < T_NCAT; k++) {
        buf_fmt(&a->hours, ",\"%s\":%u", cat_name[k], a->hs[k].n);
        hset_clear(&a->hs[k]);
    }
    buf_fmt(&a->hours, ",\"masked\":%u}", a->masked);
    memset(a->req, 0, sizeof a->req);
    a->resp = a->masked = 0;
    a->hour = -1;
}

static acct_t *acct_at(truth *t, int a, uint64_t time)
{
    if (a < 0) return NULL;
    acct_t *x = &t->acct[a];
    int64_t h = (int64_t)(time / 3600000000ULL);
    if (x->hour != h) {
        hour_flush(x);
        x->hour = h;
    }
    return x;
}

void truth_request(truth *t, int flow, int acct, int scen, int ep, uint64_t time)
{
    t->http_req++;
    if (flow >= 0) t->flow[flow].req++;
    acct_t *a = acct_at(t, acct, time);
    if (ep >= 0) {
        t->api_req++;
        if (a) {
            a->req[ep]++;
            a->treq[ep]++;
        }
    }
    if (scen >= 0) {
        scen_t *s = &t->scen[scen];
        if (!s->requests) s->start = time;
        s->end = time;
        s->requests++;
    }
}

void truth_response(truth *t, int flow, int acct, int gzip, int deflate, int chunked, uint64_t time)
{
    t->http_resp++;
    t->gz_resp += gzip != 0;
    t->df_resp += deflate != 0;
    t->ch_resp += chunked != 0;
    if (flow >= 0) {
        flow_t *f = &t->flow[flow];
        f->resp++;
        f->gzip |= gzip != 0;
        f->deflate |= deflate != 0;
        f->chunked |= chunked != 0;
    }
    acct_t *a = acct_at(t, acct, time);
    if (a) {
        a->resp++;
        a->tresp++;
    }
}

static uint64_t val_hash(int cat, const char *v, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL * (uint64_t)(cat + 1);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)v[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

void truth_value(truth_sink *s, int cat, const char *v, size_t n)
{
    if (!s) return;
    truth *t = s->t;
    uint64_t h = val_hash(cat, v, n);
    hset_add(&t->all[cat], h);
    acct_t *a = acct_at(t, s->acct, s->time);
    if (a) {
        hset_add(&a->hs[cat], h);
        hset_add(&a->tot[cat], h);
    }
    if (s->flow >= 0) hset_add(&t->flow[s->flow].hs[cat], h);
    if (s->scen >= 0) hset_add(&t->scen[s->scen].hs[cat], h);
}

void truth_masked(truth_sink *s)
{
    if (!s) return;
    s->t->masked++;
    acct_t *a = acct_at(s->t, s->acct, s->time);
    if (a) {
        a->masked++;
        a->tmasked++;
    }
}

static void ips_json(FILE *f, const pkt_addr *ips, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        char s[48];
        pkt_addr_str(&ips[i], s);
        fprintf(f, "%s\"%s\"", i ? "," : "", s);
    }
    fputc(']', f);
}

int truth_write(truth *t, const char *path, const char *params_json, const char *server_json,
                const pkt_writer *w, char *err)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, 256, "%s: cannot create", path);
        return -1;
    }
    fprintf(f, "{\n  \"generator\": \"lh-gen\",\n  \"params\": %s,\n  \"server\": %s,\n",
            params_json, server_json);
    fputs("  \"endpoints\": {", f);
    for (int e = 0; e < EP_N; e++)
        fprintf(f, "%s\"%s\":\"%s\"", e ? "," : "", truth_ep_name[e], truth_ep_path[e]);
    fputs("},\n  \"scenarios\": [", f);
    for (int i = 0; i < t->nscen; i++) {
        scen_t *s = &t->scen[i];
        char a[32], b[32];
        truth_iso(s->start, 1, a);
        truth_iso(s->end, 1, b);
        fprintf(f,
                "%s\n    {\"name\":\"%s\",\"account\":\"%s\",\"malicious\":%s,\"allowlisted\":%s,"
                "\"params\":%s,\"src_ips\":",
                i ? "," : "", s->name, t->acct[s->acct].id, s->malicious ? "true" : "false",
                s->allowlisted ? "true" : "false", s->params);
        ips_json(f, s->ips, s->nips);
        if (s->requests)
            fprintf(f, ",\"start\":\"%s\",\"end\":\"%s\"", a, b);
        else
            fputs(",\"start\":null,\"end\":null", f);
        fprintf(f, ",\"requests\":%" PRIu64, s->requests);
        for (int k = 0; k < T_NCAT; k++)
            fprintf(f, ",\"%s\":%u", cat_name[k], s->hs[k].n);
        fputc('}', f);
    }
    fputs("\n  ],\n  \"accounts\": [", f);
    int first = 1;
    for (int i = 0; i < t->nacct; i++) {
        acct_t *a = &t->acct[i];
        hour_flush(a);
        fprintf(f,
                "%s\n    {\"id\":\"%s\",\"role\":\"%s\",\"outlet\":\"%s\",\"province\":\"%s\","
                "\"city\":\"%s\",\"src_ips\":",
                first ? "" : ",", a->id, a->role, a->outlet, a->prov, a->city);
        first = 0;
        ips_json(f, a->ips, a->nips);
        fputs(",\n      \"total\":{\"requests\":{", f);
        for (int e = 0; e < EP_N; e++)
            fprintf(f, "%s\"%s\":%" PRIu64, e ? "," : "", truth_ep_name[e], a->treq[e]);
        fprintf(f, "},\"responses\":%" PRIu64, a->tresp);
        for (int k = 0; k < T_NCAT; k++)
            fprintf(f, ",\"%s\":%u", cat_name[k], a->tot[k].n);
        fprintf(f, ",\"masked\":%" PRIu64 "},\n      \"hours\":[", a->tmasked);
        if (a->hours.len) fwrite(a->hours.p, 1, a->hours.len, f);
        fputs("]}", f);
    }
    fprintf(f,
            "\n  ],\n  \"totals\": {\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
            ",\"tcp_flows\":%" PRIu64 ",\"udp_flows\":%" PRIu64 ",\"http_requests\":%" PRIu64
            ",\"http_responses\":%" PRIu64 ",\"api_requests\":%" PRIu64
            ",\"gzip_responses\":%" PRIu64 ",\"deflate_responses\":%" PRIu64
            ",\"chunked_responses\":%" PRIu64 ",\"masked\":%" PRIu64 ",\"api_bytes\":%" PRIu64
            ",\"background_bytes\":%" PRIu64,
            w->packets, w->bytes, t->tcp_flows, t->udp_flows, t->http_req, t->http_resp, t->api_req,
            t->gz_resp, t->df_resp, t->ch_resp, t->masked, w->cls_bytes[PKT_CLS_API],
            w->cls_bytes[PKT_CLS_BG]);
    for (int k = 0; k < T_NCAT; k++)
        fprintf(f, ",\"%s\":%u", cat_name[k], t->all[k].n);
    fprintf(f, "},\n  \"flows_listed\": %s,\n  \"flows\": [", t->keep_flows ? "true" : "false");
    /* flows still open at the end are listed too */
    for (int i = 0; i < t->nflow; i++)
        if (t->flow[i].used) truth_flow_close(t, i, 0);
    fflush(t->flows_tmp);
    rewind(t->flows_tmp);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, t->flows_tmp)) > 0)
        fwrite(tmp, 1, n, f);
    fputs("\n  ]\n}\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, 256, "%s: write failed", path);
        return -1;
    }
    return 0;
}
