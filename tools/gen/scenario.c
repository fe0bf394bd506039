/* scenario.c - the scenarios (see scenario.h and docs/generator.md).
 *
 * A spec enters as text, is parsed into key=value pairs, and is resolved
 * against the simulation in scen_setup (account, start time, source
 * address). Each scenario then runs as one actor with its own client, so
 * its connections are its own even when it shares a workstation with the
 * account's normal work; busy is the exception: it only raises the
 * account's own volume and tags its client. */
#include "scenario.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum { S_HIJACK, S_LOWSLOW, S_ENUM, S_BULK, S_BUSY, S_OUTSCOPE, S_SCRIPTED, S_N };
static const char *const kind_name[S_N] = {"hijack", "lowslow",  "enum",    "bulk",
                                           "busy",   "outscope", "scripted"};
/* keys each scenario accepts */
static const char *const kind_keys[S_N] = {"account,at,records,size,interval,src,region",
                                           "account,at,per_hour,size,hours,src",
                                           "account,at,count,interval,carrier,src",
                                           "account,at,records,size,interval,src",
                                           "account,per_day",
                                           "account,at,region,per_hour,size,src",
                                           "account,at,count,interval,jitter,src"};

typedef struct {
    int kind;
    char kv[12][2][64];
    int nkv;
    int acct, truth;
    sim_client cl;
    uint64_t at, first;
    /* resolved parameters */
    long records, size, count, per_hour, per_day;
    double interval, jitter;
    int city, carrier, work_hours;
    uint64_t serial, qid;
    long done; /* records pulled or requests made */
    int page;
} scen_t;

struct scen_set {
    scen_t *v;
    int n;
};

scen_set *scen_new(void)
{
    scen_set *ss = calloc(1, sizeof *ss);
    if (!ss) abort();
    return ss;
}

void scen_free(scen_set *ss)
{
    if (!ss) return;
    free(ss->v);
    free(ss);
}

int scen_count(const scen_set *ss)
{
    return ss->n;
}

static int key_ok(int kind, const char *k)
{
    const char *p = kind_keys[kind];
    size_t n = strlen(k);
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, k, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int scen_add(scen_set *ss, const char *spec, char *err)
{
    char name[32];
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nl >= sizeof name) {
        snprintf(err, 256, "scenario '%s': unknown name", spec);
        return -1;
    }
    memcpy(name, spec, nl);
    name[nl] = 0;
    int kind = -1;
    for (int k = 0; k < S_N; k++)
        if (!strcmp(name, kind_name[k])) kind = k;
    if (!strcmp(name, "low-and-slow")) kind = S_LOWSLOW;
    if (!strcmp(name, "enumeration")) kind = S_ENUM;
    if (kind < 0) {
        snprintf(err, 256,
                 "scenario '%s': unknown (hijack, lowslow, enum, bulk, busy, outscope, scripted)",
                 name);
        return -1;
    }
    scen_t *nv = realloc(ss->v, (size_t)(ss->n + 1) * sizeof *nv);
    if (!nv) abort();
    ss->v = nv;
    scen_t *x = &ss->v[ss->n];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    const char *p = colon ? colon + 1 : "";
    while (*p) {
        const char *e = strchr(p, ','), *eq = strchr(p, '=');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (!eq || eq >= p + l || x->nkv == 12 || (size_t)(eq - p) >= 64 ||
            l - (size_t)(eq - p) - 1 >= 64) {
            snprintf(err, 256, "scenario '%s': bad parameter list (want key=value,...)", spec);
            return -1;
        }
        memcpy(x->kv[x->nkv][0], p, (size_t)(eq - p));
        x->kv[x->nkv][0][eq - p] = 0;
        memcpy(x->kv[x->nkv][1], eq + 1, l - (size_t)(eq - p) - 1);
        x->kv[x->nkv][1][l - (size_t)(eq - p) - 1] = 0;
        if (!key_ok(kind, x->kv[x->nkv][0])) {
            snprintf(err, 256, "scenario %s: unknown key '%s' (accepts %s)", name, x->kv[x->nkv][0],
                     kind_keys[kind]);
            return -1;
        }
        x->nkv++;
        p = e ? e + 1 : p + l;
    }
    ss->n++;
    return 0;
}

static const char *get(const scen_t *x, const char *k)
{
    for (int i = 0; i < x->nkv; i++)
        if (!strcmp(x->kv[i][0], k)) return x->kv[i][1];
    return NULL;
}

/* "90", "90s", "2m", "1.5h", "1d", "2d3h" -> seconds; -1 when malformed */
static double parse_dur(const char *v)
{
    double total = 0;
    if (!*v) return -1;
    while (*v) {
        char *e;
        double d = strtod(v, &e);
        if (e == v || d < 0) return -1;
        if (!*e || *e == 's') {
            total += d;
        } else if (e[0] == 'm' && e[1] == 's') {
            total += d / 1000;
            e++;
        } else if (*e == 'm') {
            total += d * 60;
        } else if (*e == 'h') {
            total += d * 3600;
        } else if (*e == 'd') {
            total += d * 86400;
        } else {
            return -1;
        }
        v = *e ? e + 1 : e;
    }
    return total;
}

/* ISO time "YYYY-MM-DDTHH:MM:SSZ" -> us since the epoch; 0 on error. */
static uint64_t parse_iso(const char *v)
{
    int y, mo, d, h, mi, s;
    if (sscanf(v, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6 || y < 1970 || mo < 1 ||
        mo > 12 || d < 1 || d > 31)
        return 0;
    /* days from civil (Howard Hinnant) */
    y -= mo <= 2;
    long era = y / 400, yoe = y - era * 400;
    long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = era * 146097 + doe - 719468;
    return ((uint64_t)days * 86400 + (uint64_t)(h * 3600 + mi * 60 + s)) * 1000000ULL;
}

static int num(const scen_t *x, const char *k, long def, long lo, long hi, long *out, char *err)
{
    const char *v = get(x, k);
    if (!v) {
        *out = def;
        return 0;
    }
    char *e;
    long n = strtol(v, &e, 10);
    if (*e || n < lo || n > hi) {
        snprintf(err, 256, "scenario %s: %s=%s out of range [%ld, %ld]", kind_name[x->kind], k, v,
                 lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static int dur(const scen_t *x, const char *k, double def, double *out, char *err)
{
    const char *v = get(x, k);
    *out = v ? parse_dur(v) : def;
    if (*out < 0 || (v && *out > 86400 * 30.0)) {
        snprintf(err, 256, "scenario %s: %s=%s is not a duration (90s, 2m, 1h)", kind_name[x->kind],
                 k, v ? v : "");
        return -1;
    }
    return 0;
}

static int city_of(const char *v)
{
    for (int c = 0; c < data_ncities; c++)
        if (!strcmp(v, data_cities[c].city) || !strncmp(v, data_cities[c].code[0], 4)) return c;
    char *e;
    long n = strtol(v, &e, 10);
    return !*e && n >= 0 && n < data_ncities ? (int)n : -1;
}

/* An agent at work when the run starts (so its usual workstation is in
 * the capture before a hijack), else def. */
static int on_duty(sim *s, uint64_t h, int def)
{
    int n = 0;
    for (int i = 0; i < s->w->nemployees; i++)
        n += s->w->a[i].role == ROLE_AGENT && world_rate(s->w, i, s->start) > 0;
    if (!n) return def;
    int k = (int)(h % (uint64_t)n);
    for (int i = 0; i < s->w->nemployees; i++)
        if (s->w->a[i].role == ROLE_AGENT && world_rate(s->w, i, s->start) > 0 && k-- == 0)
            return i;
    return def;
}

int scen_setup(scen_set *ss, sim *s, char *err)
{
    /* hijack takes a call-centre agent by default: it works every hour, so
       even a short capture shows its usual workstation before the theft */
    static const int def_role[S_N] = {ROLE_AGENT, ROLE_CLERK, ROLE_DISPATCH, ROLE_SVC,
                                      ROLE_AGENT, ROLE_CLERK, ROLE_CLERK};
    for (int i = 0; i < ss->n; i++) {
        scen_t *x = &ss->v[i];
        const char *v = get(x, "account");
        if (x->kind == S_BULK && !v) v = "SVC-EXPORT";
        if (v) {
            x->acct = world_find(s->w, v);
            if (x->acct < 0) {
                snprintf(err, 256,
                         "scenario %s: no account %s (accounts are E1xxxx, see the truth file, or "
                         "SVC-EXPORT)",
                         kind_name[x->kind], v);
                return -1;
            }
        } else {
            /* a different default account per kind and per repeat */
            uint64_t h = rng_hash(s->seed, 0x5c00 + (uint64_t)(x->kind * 7 + i));
            x->acct = world_pick(s->w, def_role[x->kind], h);
            if (x->kind == S_HIJACK) x->acct = on_duty(s, h, x->acct);
            if (x->acct < 0) x->acct = x->kind;
        }
        const world_acct *a = &s->w->a[x->acct];
        /* start: at=+OFFSET or ISO time; default 40 % into the run */
        uint64_t span = s->bytes_target ? 600000000ULL : s->end - s->start;
        x->at = s->start + span * 2 / 5;
        if (x->kind == S_LOWSLOW || x->kind == S_OUTSCOPE) x->at = s->start;
        if (x->kind == S_BULK) { /* 02:00 local (18:00Z) on the first night */
            uint64_t day = s->start / 86400000000ULL * 86400000000ULL;
            x->at = day + 18 * 3600000000ULL;
            if (x->at < s->start) x->at += 86400000000ULL;
        }
        if ((v = get(x, "at"))) {
            if (v[0] == '+') {
                double d = parse_dur(v + 1);
                if (d < 0) {
                    snprintf(err, 256, "scenario %s: at=%s (want +90s, +2m or an ISO time)",
                             kind_name[x->kind], v);
                    return -1;
                }
                x->at = s->start + (uint64_t)(d * 1e6);
            } else if (!(x->at = parse_iso(v))) {
                snprintf(err, 256, "scenario %s: at=%s (want +90s, +2m or 2026-03-02T10:30:00Z)",
                         kind_name[x->kind], v);
                return -1;
            }
        }
        long city = -1;
        if ((v = get(x, "region")) && strcmp(v, "own") && (city = city_of(v)) < 0) {
            snprintf(err, 256, "scenario %s: region=%s unknown (a city name, code or index)",
                     kind_name[x->kind], v);
            return -1;
        }
        x->city = city >= 0               ? (int)city
                  : x->kind == S_OUTSCOPE ? (a->city + 5) % data_ncities
                                          : a->city;
        const char *hours = get(x, "hours");
        x->work_hours = !hours || strcmp(hours, "all");
        long carrier = 1;
        if (num(x, "records", x->kind == S_BULK ? 20000 : 3000, 1, 100000000, &x->records, err) ||
            num(x, "size",
                x->kind == S_BULK     ? 2000
                : x->kind == S_HIJACK ? 100
                                      : 20,
                1, 20000, &x->size, err) ||
            num(x, "count", x->kind == S_ENUM ? 2000 : 600, 1, 100000000, &x->count, err) ||
            num(x, "per_hour", x->kind == S_OUTSCOPE ? 60 : 300, 1, 1000000, &x->per_hour, err) ||
            num(x, "per_day", 900, 1, 100000, &x->per_day, err) ||
            num(x, "carrier", 1, 0, DATA_NCARRIERS - 1, &carrier, err) ||
            dur(x, "interval",
                x->kind == S_SCRIPTED ? 5
                : x->kind == S_ENUM   ? 0.5
                : x->kind == S_BULK   ? 1
                                      : 2,
                &x->interval, err) ||
            dur(x, "jitter", 0.05, &x->jitter, err))
            return -1;
        x->carrier = (int)carrier;

        /* the source: a new workstation for hijack and scripted */
        pkt_addr ip = a->ws;
        uint8_t ttl = a->ttl;
        if (x->kind == S_HIJACK || x->kind == S_SCRIPTED) {
            pkt_addr4(&ip, 10, 99, 1 + (unsigned)i,
                      10 + (unsigned)(rng_hash(s->seed, (uint64_t)i) % 200));
        }
        if ((v = get(x, "src"))) {
            uint8_t b[16];
            if (inet_pton(AF_INET, v, b) == 1) {
                pkt_addr4(&ip, b[0], b[1], b[2], b[3]);
            } else if (inet_pton(AF_INET6, v, b) == 1) {
                memset(&ip, 0, sizeof ip);
                ip.v6 = 1;
                memcpy(ip.a, b, 16);
            } else {
                snprintf(err, 256, "scenario %s: src=%s is not an IP address", kind_name[x->kind],
                         v);
                return -1;
            }
        }
        char params[512];
        char at[32];
        truth_iso(x->at, 0, at);
        switch (x->kind) {
        case S_HIJACK:
            snprintf(
                params, sizeof params,
                "{\"at\":\"%s\",\"records\":%ld,\"size\":%ld,\"interval_s\":%g,\"region\":\"%s\"}",
                at, x->records, x->size, x->interval, data_cities[x->city].city);
            break;
        case S_LOWSLOW:
            snprintf(params, sizeof params,
                     "{\"at\":\"%s\",\"per_hour\":%ld,\"size\":%ld,\"hours\":\"%s\"}", at,
                     x->per_hour, x->size, x->work_hours ? "work" : "all");
            break;
        case S_ENUM:
            snprintf(params, sizeof params,
                     "{\"at\":\"%s\",\"count\":%ld,\"interval_s\":%g,\"carrier\":%d}", at, x->count,
                     x->interval, x->carrier);
            break;
        case S_BULK:
            snprintf(
                params, sizeof params,
                "{\"at\":\"%s\",\"records\":%ld,\"size\":%ld,\"interval_s\":%g,\"nightly\":true}",
                at, x->records, x->size, x->interval);
            break;
        case S_BUSY:
            snprintf(params, sizeof params, "{\"per_day\":%ld}", x->per_day);
            break;
        case S_OUTSCOPE:
            snprintf(params, sizeof params,
                     "{\"at\":\"%s\",\"region\":\"%s\",\"per_hour\":%ld,\"size\":%ld}", at,
                     data_cities[x->city].city, x->per_hour, x->size);
            break;
        default:
            snprintf(params, sizeof params,
                     "{\"at\":\"%s\",\"count\":%ld,\"interval_s\":%g,\"jitter_s\":%g}", at,
                     x->count, x->interval, x->jitter);
            break;
        }
        int malicious = x->kind != S_BULK && x->kind != S_BUSY;
        x->truth = truth_scenario(s->tr, kind_name[x->kind], x->acct, malicious, x->kind == S_BULK,
                                  params);
        x->qid = rng_hash(s->seed, 0x9000 + (uint64_t)i);
        x->serial = rng_hash(s->seed, 0x9100 + (uint64_t)i) % 1000000000000ULL;
        x->page = 1;
        if (x->kind == S_BUSY) {
            s->w->a[x->acct].per_day = (double)x->per_day;
            s->cl[x->acct].scen = x->truth;
            x->first = UINT64_MAX;
            continue;
        }
        sim_client_init(s, &x->cl, x->acct, x->truth, &ip, ttl,
                        x->kind == S_SCRIPTED ? "python-requests/2.31.0" : a->ua,
                        0x5ce0000ULL + (uint64_t)i);
        x->first = x->at;
    }
    return 0;
}

uint64_t scen_first(scen_set *ss, int i)
{
    return ss->v[i].first;
}

/* During working hours (local 8-18) or always. */
static uint64_t in_hours(const scen_t *x, uint64_t t)
{
    if (!x->work_hours) return t;
    int h = world_local_hour(t);
    if (h >= 8 && h < 18) return t;
    uint64_t hour = t / 3600000000ULL * 3600000000ULL;
    int add = h < 8 ? 8 - h : 32 - h;
    return hour + (uint64_t)add * 3600000000ULL;
}

static void search_q(sim_q *q, const scen_t *x, int page)
{
    memset(q, 0, sizeof *q);
    q->ep = EP_SEARCH;
    q->city = x->city;
    q->page = page;
    q->size = (int)x->size;
    q->qid = x->qid;
}

uint64_t scen_step(scen_set *ss, sim *s, int i, uint64_t t)
{
    scen_t *x = &ss->v[i];
    sim_client *c = &x->cl;
    if (sim_due_close(s, c, t)) return c->next;
    pkt_at(s->pw, t);
    rng_t *r = &c->rng;
    sim_q q;
    uint64_t now, next = UINT64_MAX;
    switch (x->kind) {
    case S_HIJACK: /* page through one broad search as fast as the UI allows */
        search_q(&q, x, x->page++);
        sim_api(s, c, &q, 1);
        x->done += x->size;
        if (x->done < x->records)
            next = s->pw->now + (uint64_t)(rng_exp(r, x->interval) * 1e6) + 200000;
        break;
    case S_LOWSLOW: { /* a few extra searches every hour, spread out */
        search_q(&q, x, x->page++);
        q.qid = rng_next(r);
        q.page = 1 + (int)rng_below(r, 5);
        sim_api(s, c, &q, 1);
        double gap = 3600.0 * (double)x->size / (double)x->per_hour;
        now = s->pw->now + (uint64_t)(gap * (0.7 + 0.6 * rng_unit(r)) * 1e6);
        next = in_hours(x, now);
        break;
    }
    case S_ENUM: /* walk sequential numbers */
        memset(&q, 0, sizeof q);
        q.ep = EP_WAYBILL_PATH;
        data_waybill_seq(x->carrier, x->serial + (uint64_t)x->done, q.wb);
        q.city = (int)(rng_hash(s->seed, x->serial + (uint64_t)x->done) % (uint64_t)data_ncities);
        q.found = 0.75;
        sim_api(s, c, &q, 1);
        if (++x->done < x->count)
            next = s->pw->now + (uint64_t)(x->interval * (0.8 + 0.4 * rng_unit(r)) * 1e6);
        break;
    case S_BULK: /* the nightly export; then sleep until the next night */
        memset(&q, 0, sizeof q);
        q.ep = EP_EXPORT;
        q.page = x->page++;
        q.size = (int)x->size;
        q.qid = x->qid;
        sim_api(s, c, &q, 1);
        x->done += x->size;
        if (x->done < x->records) {
            next = s->pw->now + (uint64_t)(x->interval * 1e6);
        } else {
            x->done = 0;
            x->at += 86400000000ULL;
            next = x->at;
        }
        break;
    case S_OUTSCOPE: { /* the other region's records, a page at a time */
        search_q(&q, x, 1);
        q.qid = rng_next(r);
        sim_api(s, c, &q, 1);
        double gap = 3600.0 * (double)x->size / (double)x->per_hour;
        now = s->pw->now + (uint64_t)(gap * (0.7 + 0.6 * rng_unit(r)) * 1e6);
        next = in_hours(x, now);
        break;
    }
    case S_SCRIPTED: /* a tool: lookups at a near-constant interval */
        memset(&q, 0, sizeof q);
        q.ep = EP_WAYBILL_PATH;
        q.city = (int)rng_below(r, (uint32_t)data_ncities);
        sim_waybill(s, q.city, rng_below(r, s->cfg.wpool), q.wb);
        q.found = 0.97;
        sim_api(s, c, &q, 1);
        if (++x->done < x->count) {
            double j = x->jitter * (2 * rng_unit(r) - 1);
            next = t + (uint64_t)((x->interval + j) * 1e6);
            if (next <= s->pw->now) next = s->pw->now + 1000;
        }
        break;
    default:
        break;
    }
    return sim_plan(s, c, next);
}

void scen_finish(scen_set *ss, sim *s)
{
    for (int i = 0; i < ss->n; i++)
        if (ss->v[i].kind != S_BUSY) sim_client_close(s, &ss->v[i].cl);
}
