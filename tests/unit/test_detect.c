/* test_detect.c - the detection engine on synthetic observation streams.
 *
 * A simulated fortnight of office-hours traffic for 20 accounts (one of them
 * busy at ten times the others' rate), with one scenario planted per
 * detection type, must give exactly the planted alerts; the busy account,
 * the allowlisted account and network, and a burst during the learning
 * period must give none. Then: episodes and escalation, the baseline not
 * learning from alerted hours, the memory cap, determinism, alert JSON
 * field by field, and the rule parser's errors. test_spread: a bursty
 * account is judged by its own spread, a steady pull is caught by the
 * CUSUM, out-of-scope is judged against the region mix on the third day,
 * and a young account used from two hosts at once is a new source. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "check.h"
#include "output/eve.h"
#include "rules/account.h"
#include "rules/detect.h"
#include "rules/detect_rules.h"
#include "rules/ruleset.h"

#define T0 (1767225600ull * 1000000ull) /* 2026-01-01T00:00:00Z */
#define HOUR (3600ull * 1000000ull)
#define DAY (24 * HOUR)
#define SEC 1000000ull

static const char *const RULES =
    "detections:\n"
    "  - id: bulk_response\n"
    "    type: bulk_response\n"
    "    categories: [phone, id, address, waybill]\n"
    "    at_least: 50\n"
    "    severity: 2\n"
    "  - id: query_volume\n"
    "    type: volume\n"
    "    count: {endpoint: waybill_query}\n"
    "    window: 10m\n"
    "    at_least: 500\n"
    "  - id: record_volume\n"
    "    type: volume\n"
    "    count: {records: [phone, id]}\n"
    "    window: 10m\n"
    "    at_least: 300\n"
    "  - id: query_anomaly\n"
    "    type: anomaly\n"
    "    count: {endpoint: waybill_query}\n"
    "    window: 1h\n"
    "    baseline: {ratio: 10, min: 200, learn: 7d, peer_ratio: 20}\n"
    "  - id: new_source\n"
    "    type: new_source\n"
    "    learn: 7d\n"
    "  - id: enumeration\n"
    "    type: enumeration\n"
    "    window: 10m\n"
    "    min_queries: 50\n"
    "    max_step: 10\n"
    "  - id: out_of_scope\n"
    "    type: out_of_scope\n"
    "    window: 1h\n"
    "    min_records: 50\n"
    "    share: 0.3\n"
    "    learn: 7d\n"
    "  - id: machine_cadence\n"
    "    type: cadence\n"
    "    min_requests: 100\n"
    "    max_cv: 0.1\n"
    "allowlist:\n"
    "  accounts: [SVC-EXPORT]\n"
    "  networks: [10.9.0.0/16]\n";

/* ---- rules from YAML text ---------------------------------------------------- */

static char errs[4096];
static int err_lines[64], n_errs;

static void on_err(void *ud, int line, const char *msg)
{
    (void)ud;
    if (n_errs < 64)
        err_lines[n_errs] = line;
    n_errs++;
    strncat(errs, msg, sizeof errs - strlen(errs) - 2);
    strcat(errs, "\n");
}

static void on_err2(void *ud, const char *file, int line, const char *msg)
{
    (void)file;
    on_err(ud, line, msg);
}

static int ep_index(void *ud, const char *id)
{
    (void)ud;
    if (strcmp(id, "waybill_query") == 0)
        return 0;
    if (strcmp(id, "login") == 0)
        return 1;
    return -1;
}

static struct detect_rules *rules_from(const char *text)
{
    yaml_parser_t ps;
    yaml_document_t doc;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, strlen(text));
    struct detect_rules *r = NULL;
    errs[0] = 0;
    n_errs = 0;
    if (!yaml_parser_load(&ps, &doc)) {
        yaml_parser_delete(&ps);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        if (strcmp((char *)k->data.scalar.value, "detections") == 0)
            detect_rules_parse(&doc, v, "test.yaml", &r, on_err, NULL);
        else if (strcmp((char *)k->data.scalar.value, "allowlist") == 0)
            detect_rules_parse_allowlist(&doc, v, "test.yaml", &r, on_err, NULL);
    }
    detect_rules_resolve(r, ep_index, NULL, on_err2, NULL);
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    return r;
}

/* ---- observations ------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double urand(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static const char *const SAMPLES[] = {"138******78", "11010519**********2X"};
static const char *const FPS[] = {"hmac:00112233445566778899aabbccddeeff",
                                  "hmac:ffeeddccbbaa99887766554433221100"};

struct ev {
    uint64_t ts;
    char account[32];
    uint32_t ip;
    int n_recs;
    uint64_t rec_base; /* records rec_base .. rec_base + n_recs - 1 */
    uint8_t cat;
    uint16_t region, region_alt; /* every 20th record of a normal query is region_alt */
    uint64_t waybill;
    int endpoint;
};

static struct detect_rec recbuf[DETECT_MAX_TX_RECORDS];

static void send(struct detect_engine *d, const struct ev *e)
{
    char src[32], dst[] = "10.0.0.5";
    snprintf(src, sizeof src, "%u.%u.%u.%u", e->ip >> 24, (e->ip >> 16) & 255, (e->ip >> 8) & 255,
             e->ip & 255);
    struct detect_obs o;
    memset(&o, 0, sizeof o);
    o.ts_us = e->ts;
    o.account = e->account;
    o.via = "header:X-Emp-Id";
    o.src.a[10] = o.src.a[11] = 0xff;
    o.src.a[12] = (uint8_t)(e->ip >> 24);
    o.src.a[13] = (uint8_t)(e->ip >> 16);
    o.src.a[14] = (uint8_t)(e->ip >> 8);
    o.src.a[15] = (uint8_t)e->ip;
    o.ip_ver = 4;
    o.endpoint = e->endpoint;
    o.endpoint_id = e->endpoint == 0 ? "waybill_query" : NULL;
    o.waybill_query = e->waybill;
    for (int i = 0; i < e->n_recs; i++) {
        recbuf[i].fp = (e->rec_base + (uint64_t)i) * 0x9e3779b97f4a7c15ull;
        recbuf[i].category = e->cat;
        recbuf[i].region = (e->region_alt && (e->rec_base + (uint64_t)i) % 20 == 0)
                               ? e->region_alt
                               : e->region;
    }
    o.recs = recbuf;
    o.n_recs = (size_t)e->n_recs;
    o.flow_id = 1000 + (e->ts / SEC) % 100000;
    o.src_ip = src;
    o.dest_ip = dst;
    o.src_port = (uint16_t)(40000 + e->ts / SEC % 20000);
    o.dest_port = 8080;
    o.community_id = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
    o.hostname = "waybill.corp.example";
    o.url = "/api/v1/waybill/search?no=YT1234*****890";
    o.http_method = "GET";
    o.status = 200;
    o.pcap_filename = "test.pcap";
    o.pcap_cnt = e->ts / SEC % 1000000;
    o.samples = SAMPLES;
    o.n_samples = 2;
    o.fingerprints = FPS;
    o.n_fingerprints = 2;
    detect_observe(d, &o);
    detect_tick(d, e->ts);
}

static int ev_cmp(const void *x, const void *y)
{
    const struct ev *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return strcmp(a->account, b->account);
}

/* ---- the fortnight -------------------------------------------------------------- */

#define N_ACCT 20
#define DAYS 12
static uint64_t rec_counter = 1;

struct evbuf {
    struct ev *e;
    size_t n, cap;
};

static struct ev *push(struct evbuf *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->e = realloc(b->e, b->cap * sizeof(*b->e));
    }
    struct ev *e = &b->e[b->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void normal_query(struct evbuf *b, uint64_t ts, int i, uint32_t ip)
{
    struct ev *e = push(b);
    e->ts = ts;
    snprintf(e->account, sizeof e->account, "E%d", 1000 + i);
    e->ip = ip;
    e->n_recs = 1;
    e->rec_base = rec_counter++;
    e->cat = RULE_CAT_PHONE;
    e->region = (uint16_t)(11 + i % 6);
    e->region_alt = 99;
    e->waybill = 7300000000000ull + rnd() % 1000000000ull;
    e->endpoint = 0;
}

static uint32_t acct_ip(int i)
{
    if (i == 8)
        return (10u << 24) | (9u << 16) | (1u << 8) | 5; /* allowlisted network */
    return (10u << 24) | (20u << 16) | (uint32_t)(i + 1);
}

/* One office hour of everything: normal traffic plus the planted scenarios. */
static void sim_hour(struct evbuf *b, int day, int hour, int *ramp_k)
{
    uint64_t h0 = T0 + (uint64_t)day * DAY + (uint64_t)hour * HOUR;
    for (int i = 0; i < N_ACCT; i++) {
        double base = i == 19 ? 200 : 20;
        if (i == 3 && day >= 1) { /* slow ramp: +5 % per active hour */
            base = 20 * pow(1.05, (*ramp_k)++);
            if (base > 1000)
                base = 1000;
        }
        int q = (int)(base * (0.8 + 0.4 * urand()));
        if (i == 1 && day == 9 && hour == 10)
            q = 300; /* own-baseline anomaly */
        if (i == 2 && day == 2 && hour == 10)
            q = 300; /* same burst during learning: no alert */
        for (int k = 0; k < q; k++)
            normal_query(b, h0 + (uint64_t)(urand() * (double)(HOUR - 1)), i, acct_ip(i));
    }
    /* E1004: borrowed ID from a new host, then a pull */
    if (day == 9 && hour == 11) {
        for (int k = 0; k < 3; k++)
            normal_query(b, h0 + 600 * SEC + (uint64_t)k * 7 * SEC, 4, 0x0a140963);
        for (int k = 0; k < 40; k++) {
            struct ev *e = push(b);
            e->ts = h0 + 630 * SEC + (uint64_t)k * 6 * SEC + rnd() % (3 * SEC);
            snprintf(e->account, sizeof e->account, "E1004");
            e->ip = 0x0a140963; /* 10.20.9.99 */
            e->n_recs = 10;
            e->rec_base = rec_counter;
            rec_counter += 10;
            e->cat = RULE_CAT_PHONE;
            e->region = 15;
            e->endpoint = 0;
            e->waybill = 7300000000000ull + rnd() % 1000000000ull;
        }
    }
    /* E1005: sequential waybill numbers */
    if (day == 9 && hour == 14)
        for (int k = 0; k < 60; k++) {
            struct ev *e = push(b);
            e->ts = h0 + 1200 * SEC + (uint64_t)k * 5 * SEC + rnd() % (4 * SEC);
            snprintf(e->account, sizeof e->account, "E1005");
            e->ip = acct_ip(5);
            e->n_recs = 1;
            e->rec_base = rec_counter++;
            e->cat = RULE_CAT_WAYBILL;
            e->region = 16;
            e->endpoint = 0;
            e->waybill = 7300012340000ull + (uint64_t)k * 3;
        }
    /* E1006: another region's records */
    if (day == 10 && hour == 10)
        for (int k = 0; k < 50; k++) {
            struct ev *e = push(b);
            e->ts = h0 + (uint64_t)k * 60 * SEC + rnd() % (30 * SEC);
            snprintf(e->account, sizeof e->account, "E1006");
            e->ip = acct_ip(6);
            e->n_recs = 2;
            e->rec_base = rec_counter;
            rec_counter += 2;
            e->cat = RULE_CAT_ADDRESS;
            e->region = 44;
            e->endpoint = 0;
            e->waybill = 7300000000000ull + rnd() % 1000000000ull;
        }
    /* E1007: a script, one request every 2 s */
    if (day == 11 && hour == 15)
        for (int k = 0; k < 150; k++) {
            struct ev *e = push(b);
            e->ts = h0 + 100 * SEC + (uint64_t)k * 2 * SEC + rnd() % 10000;
            snprintf(e->account, sizeof e->account, "E1007");
            e->ip = acct_ip(7);
            e->endpoint = 1; /* another endpoint: counts as a request, not a waybill query */
        }
    /* E1009: one bulk response */
    if (day == 10 && hour == 14) {
        struct ev *e = push(b);
        e->ts = h0 + 1800 * SEC;
        snprintf(e->account, sizeof e->account, "E1009");
        e->ip = acct_ip(9);
        e->n_recs = 80;
        e->rec_base = rec_counter;
        rec_counter += 80;
        e->cat = RULE_CAT_PHONE;
        e->region = 11 + 9 % 6; /* its own region: a bulk pull, not an out-of-scope one */
        e->endpoint = 0;
    }
    /* allowlisted: a batch account and an account on an allowlisted network */
    if (day == 9 && hour == 16)
        for (int k = 0; k < 20; k++) {
            for (int who = 0; who < 2; who++) {
                struct ev *e = push(b);
                e->ts = h0 + (uint64_t)k * 30 * SEC + (uint64_t)who;
                snprintf(e->account, sizeof e->account, who ? "E1008" : "SVC-EXPORT");
                e->ip = who ? acct_ip(8) : 0x0a1e0001;
                e->n_recs = 100;
                e->rec_base = rec_counter;
                rec_counter += 100;
                e->cat = RULE_CAT_PHONE;
                e->region = 11;
                e->endpoint = 0;
            }
        }
}

/* Rule reloads planted in sim_run: at the start of day sim_reload_day[i]
 * the engine takes sim_reload_rules[i] (test_reload). */
static int sim_reload_day[2] = {-1, -1};
static const struct detect_rules *sim_reload_rules[2];
static int sim_reload_failed;

static struct detect_engine *sim_run(const char *eve_path, const struct detect_rules *r,
                                     uint64_t *mem_per_account)
{
    rng = 88172645463325252ull;
    rec_counter = 1;
    char err[256];
    struct eve *eve = eve_open(eve_path, err, sizeof err);
    struct detect_config cfg = {.rules = r};
    struct detect_engine *d = detect_new(&cfg, eve, err, sizeof err);
    int ramp_k = 0;
    struct evbuf b = {0};
    for (int day = 0; day < DAYS; day++)
        for (int hour = 9; hour < 17; hour++) {
            for (int k = 0; k < 2; k++)
                if (hour == 9 && day == sim_reload_day[k] &&
                    detect_reload(d, sim_reload_rules[k], err, sizeof err) != 0)
                    sim_reload_failed++;
            b.n = 0;
            sim_hour(&b, day, hour, &ramp_k);
            qsort(b.e, b.n, sizeof(*b.e), ev_cmp);
            for (size_t k = 0; k < b.n; k++)
                send(d, &b.e[k]);
            detect_tick(d, T0 + (uint64_t)day * DAY + (uint64_t)(hour + 1) * HOUR);
        }
    free(b.e);
    const struct detect_stats *st = detect_get_stats(d);
    if (mem_per_account)
        *mem_per_account = st->accounts ? st->accounts_memuse / st->accounts : 0;
    /* the caller frees the engine; the eve writer goes now */
    eve_close(eve);
    return d;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    size_t got = fread(p, 1, (size_t)n, f);
    p[got] = 0;
    fclose(f);
    if (len)
        *len = got;
    return p;
}

struct seen {
    char account[32], rule[32];
    int severity;
    uint64_t ts;
    json_t *obj;
};

static size_t parse_alerts(const char *text, struct seen *out, size_t max)
{
    size_t n = 0;
    const char *p = text;
    while (*p && n < max) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_error_t je;
        json_t *o = json_loadb(p, len, 0, &je);
        CHECK(o != NULL);
        if (o) {
            json_t *al = json_object_get(o, "alert");
            snprintf(out[n].account, sizeof out[n].account, "%s",
                     json_string_value(json_object_get(json_object_get(o, "account"), "id")));
            snprintf(out[n].rule, sizeof out[n].rule, "%s",
                     json_string_value(json_object_get(al, "rule")));
            out[n].severity = (int)json_integer_value(json_object_get(al, "severity"));
            out[n].obj = o;
            n++;
        }
        p += len + (nl ? 1 : 0);
    }
    return n;
}

static int has_alert(struct seen *s, size_t n, const char *acct, const char *rule)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].account, acct) == 0 && strcmp(s[i].rule, rule) == 0)
            return (int)i;
    return -1;
}

static void test_fortnight(const struct detect_rules *r)
{
    char p1[] = "/tmp/lh_detect_a_XXXXXX", p2[] = "/tmp/lh_detect_b_XXXXXX";
    int f1 = mkstemp(p1), f2 = mkstemp(p2);
    close(f1);
    close(f2);
    uint64_t mpa = 0;
    struct detect_engine *d = sim_run(p1, r, &mpa);
    const struct detect_stats *st = detect_get_stats(d);
    printf("fortnight: %llu observations, %llu accounts, %llu bytes per account, %llu alerts\n",
           (unsigned long long)st->observations, (unsigned long long)st->accounts,
           (unsigned long long)mpa, (unsigned long long)st->alerts);
    CHECK(mpa > 0 && mpa < 64 * 1024);

    /* the ramping account's baseline followed it up (nothing alerted while it
     * stayed under the peer threshold), yet it never reached 10x its own */
    double level;
    uint32_t hours;
    CHECK_EQ(detect_account_baseline(d, "E1003", "query_anomaly", &level, &hours), 0);
    double busy_level;
    CHECK_EQ(detect_account_baseline(d, "E1019", "query_anomaly", &busy_level, NULL), 0);
    printf("ramp baseline %.1f/h after %u hours; busy account %.1f/h\n", level, hours, busy_level);
    CHECK(level > 100);
    CHECK(busy_level > 150 && busy_level < 250);
    /* two quiet hours later every account is down to its fixed part */
    detect_tick(d, T0 + (uint64_t)DAYS * DAY + 2 * HOUR);
    st = detect_get_stats(d);
    uint64_t idle = st->accounts_memuse / st->accounts;
    printf("idle: %llu bytes per account\n", (unsigned long long)idle);
    CHECK(idle < 2500);
    detect_free(d);

    size_t len;
    char *text = slurp(p1, &len);
    static struct seen s[256];
    size_t n = parse_alerts(text, s, 256);
    for (size_t i = 0; i < n; i++)
        printf("  alert %s %s sev %d: %s\n", s[i].account, s[i].rule, s[i].severity,
               json_string_value(json_object_get(json_object_get(s[i].obj, "alert"),
                                                 "signature")));
    /* each planted scenario, by account and detection */
    int i_anom = has_alert(s, n, "E1001", "query_anomaly");
    int i_ramp = has_alert(s, n, "E1003", "query_anomaly");
    int i_ns = has_alert(s, n, "E1004", "new_source");
    int i_vol = has_alert(s, n, "E1004", "record_volume");
    int i_enum = has_alert(s, n, "E1005", "enumeration");
    int i_oos = has_alert(s, n, "E1006", "out_of_scope");
    int i_cad = has_alert(s, n, "E1007", "machine_cadence");
    int i_bulk = has_alert(s, n, "E1009", "bulk_response");
    CHECK(i_anom >= 0);
    CHECK(i_ramp >= 0);
    CHECK(i_ns >= 0);
    CHECK(i_vol >= 0);
    CHECK(i_enum >= 0);
    CHECK(i_oos >= 0);
    CHECK(i_cad >= 0);
    CHECK(i_bulk >= 0);
    /* nothing else: busy, allowlisted, learning-period burst, normal accounts */
    int others = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = s[i].account;
        int planted = (!strcmp(a, "E1001") && !strcmp(s[i].rule, "query_anomaly")) ||
                      (!strcmp(a, "E1003") && !strcmp(s[i].rule, "query_anomaly")) ||
                      (!strcmp(a, "E1004") && (!strcmp(s[i].rule, "new_source") ||
                                               !strcmp(s[i].rule, "record_volume"))) ||
                      (!strcmp(a, "E1005") && !strcmp(s[i].rule, "enumeration")) ||
                      (!strcmp(a, "E1006") && !strcmp(s[i].rule, "out_of_scope")) ||
                      (!strcmp(a, "E1007") && !strcmp(s[i].rule, "machine_cadence")) ||
                      (!strcmp(a, "E1009") && !strcmp(s[i].rule, "bulk_response"));
        if (!planted) {
            others++;
            fprintf(stderr, "unexpected alert: %s %s\n", a, s[i].rule);
        }
    }
    CHECK_EQ(others, 0);
    CHECK_EQ(has_alert(s, n, "E1019", "query_anomaly"), -1);
    CHECK_EQ(has_alert(s, n, "E1002", "query_anomaly"), -1);
    CHECK_EQ(has_alert(s, n, "SVC-EXPORT", "bulk_response"), -1);
    CHECK_EQ(has_alert(s, n, "E1008", "bulk_response"), -1);

    if (i_anom >= 0) { /* own baseline */
        json_t *bl = json_object_get(json_object_get(s[i_anom].obj, "leak"), "baseline");
        CHECK_STR(json_string_value(json_object_get(bl, "kind")), "own");
        CHECK(json_number_value(json_object_get(bl, "ratio")) >= 10);
        CHECK_STR(json_string_value(json_object_get(json_object_get(s[i_anom].obj, "alert"),
                                                    "category")),
                  "anomaly");
    }
    if (i_ramp >= 0) { /* slow ramp: caught by the peers, not its own baseline */
        json_t *bl = json_object_get(json_object_get(s[i_ramp].obj, "leak"), "baseline");
        CHECK_STR(json_string_value(json_object_get(bl, "kind")), "peers");
    }
    if (i_ns >= 0 && i_vol >= 0) {
        CHECK_EQ(s[i_ns].severity, 4);
        /* borrowed-ID: the pull from the new host is raised from 2 to 1 */
        CHECK_EQ(s[i_vol].severity, 1);
        json_t *acct = json_object_get(s[i_vol].obj, "account");
        CHECK(json_is_true(json_object_get(acct, "new_src_ip")));
        /* within 60 s of the first request from the new host (h0 + 600 s) */
        json_t *ns = s[i_ns].obj;
        CHECK_STR(json_string_value(json_object_get(ns, "timestamp")),
                  "2026-01-10T11:10:00.000000+0000");
        CHECK_STR(json_string_value(json_object_get(ns, "src_ip")), "10.20.9.99");
        json_t *ips = json_object_get(json_object_get(ns, "account"), "src_ips");
        CHECK_EQ(json_array_size(ips), 2);
        CHECK_STR(json_string_value(json_array_get(ips, 0)), "10.20.9.99");
        CHECK_STR(json_string_value(json_array_get(ips, 1)), "10.20.0.5");
        const char *sig = json_string_value(json_object_get(json_object_get(s[i_vol].obj,
                                                                            "alert"),
                                                            "signature"));
        CHECK(sig && strstr(sig, "never used before"));
    }
    if (i_oos >= 0) {
        json_t *sc = json_object_get(json_object_get(s[i_oos].obj, "leak"), "scope");
        CHECK(json_number_value(json_object_get(sc, "share")) >= 0.35);
        CHECK(json_number_value(json_object_get(sc, "usual_share")) < 0.15);
        CHECK_STR(json_string_value(json_object_get(json_object_get(s[i_oos].obj, "alert"),
                                                    "category")),
                  "out-of-scope");
    }
    if (i_cad >= 0) {
        json_t *c = json_object_get(json_object_get(s[i_cad].obj, "leak"), "cadence");
        CHECK(json_number_value(json_object_get(c, "cv")) < 0.1);
        CHECK(fabs(json_number_value(json_object_get(c, "mean_gap_s")) - 2.0) < 0.05);
    }
    if (i_enum >= 0)
        CHECK_STR(json_string_value(json_object_get(json_object_get(s[i_enum].obj, "alert"),
                                                    "category")),
                  "enumeration");

    /* the bulk alert, field by field */
    if (i_bulk >= 0) {
        json_t *o = s[i_bulk].obj;
        CHECK_STR(json_string_value(json_object_get(o, "timestamp")),
                  "2026-01-11T14:30:00.000000+0000");
        CHECK_STR(json_string_value(json_object_get(o, "event_type")), "alert");
        CHECK_EQ(json_integer_value(json_object_get(o, "flow_id")), 1000 + (T0 / SEC + 10 * 86400 + 14 * 3600 + 1800) % 100000);
        CHECK_STR(json_string_value(json_object_get(o, "pcap_filename")), "test.pcap");
        CHECK(json_integer_value(json_object_get(o, "pcap_cnt")) > 0);
        CHECK_STR(json_string_value(json_object_get(o, "src_ip")), "10.20.0.10");
        CHECK_STR(json_string_value(json_object_get(o, "dest_ip")), "10.0.0.5");
        CHECK_EQ(json_integer_value(json_object_get(o, "dest_port")), 8080);
        CHECK(json_integer_value(json_object_get(o, "src_port")) >= 40000);
        CHECK_STR(json_string_value(json_object_get(o, "proto")), "TCP");
        CHECK_STR(json_string_value(json_object_get(o, "app_proto")), "http");
        CHECK_STR(json_string_value(json_object_get(o, "community_id")),
                  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        json_t *acct = json_object_get(o, "account");
        CHECK_STR(json_string_value(json_object_get(acct, "id")), "E1009");
        CHECK_STR(json_string_value(json_object_get(acct, "via")), "header:X-Emp-Id");
        CHECK_EQ(json_array_size(json_object_get(acct, "src_ips")), 1);
        CHECK(json_is_false(json_object_get(acct, "new_src_ip")));
        json_t *al = json_object_get(o, "alert");
        CHECK_STR(json_string_value(json_object_get(al, "action")), "allowed");
        CHECK_STR(json_string_value(json_object_get(al, "rule")), "bulk_response");
        CHECK_STR(json_string_value(json_object_get(al, "signature")),
                  "account E1009 received 80 distinct records in one response (80 mobile "
                  "numbers)");
        CHECK_STR(json_string_value(json_object_get(al, "category")), "bulk-exfiltration");
        CHECK_EQ(json_integer_value(json_object_get(al, "severity")), 2);
        /* signature_id: FNV-1a 32 of the id, top bit clear - stable across runs */
        uint32_t h = 2166136261u;
        for (const char *c = "bulk_response"; *c; c++) {
            h ^= (uint8_t)*c;
            h *= 16777619u;
        }
        CHECK_EQ(json_integer_value(json_object_get(al, "signature_id")), h & 0x7fffffffu);
        json_t *lk = json_object_get(o, "leak");
        CHECK(json_object_get(lk, "window_s") == NULL); /* a single transaction */
        CHECK_EQ(json_integer_value(json_object_get(json_object_get(lk, "records"), "phone")),
                 80);
        CHECK_EQ(json_array_size(json_object_get(lk, "samples")), 2);
        CHECK_STR(json_string_value(json_array_get(json_object_get(lk, "samples"), 0)),
                  "138******78");
        CHECK_STR(json_string_value(json_array_get(json_object_get(lk, "fingerprints"), 1)),
                  FPS[1]);
        json_t *ht = json_object_get(o, "http");
        CHECK_STR(json_string_value(json_object_get(ht, "hostname")), "waybill.corp.example");
        CHECK_STR(json_string_value(json_object_get(ht, "url")),
                  "/api/v1/waybill/search?no=YT1234*****890");
        CHECK_STR(json_string_value(json_object_get(ht, "http_method")), "GET");
        CHECK_EQ(json_integer_value(json_object_get(ht, "status")), 200);
        json_t *ep = json_object_get(o, "episode");
        CHECK_EQ(json_integer_value(json_object_get(ep, "alert")), 1);
        CHECK(json_object_get(o, "evidence") == NULL); /* no hook configured */
    }
    if (i_vol >= 0) { /* window fields of a volume alert */
        json_t *lk = json_object_get(s[i_vol].obj, "leak");
        CHECK_EQ(json_integer_value(json_object_get(lk, "window_s")), 600);
        CHECK(json_integer_value(json_object_get(json_object_get(lk, "records"), "phone")) >=
              300);
        CHECK(json_object_get(json_object_get(lk, "records"), "id") != NULL);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(s[i].obj);

    /* determinism: the same stream again gives the same bytes */
    d = sim_run(p2, r, NULL);
    detect_free(d);
    size_t len2;
    char *text2 = slurp(p2, &len2);
    CHECK(len > 1000);
    CHECK_EQ(len, len2);
    CHECK(text && text2 && memcmp(text, text2, len) == 0);
    free(text);
    free(text2);
    unlink(p1);
    unlink(p2);
}

/* ---- episodes, escalation, quiet end; baseline skips alerted hours -------- */

static const char *const EP_RULES = "detections:\n"
                                    "  - id: rv\n"
                                    "    type: volume\n"
                                    "    count: {records: [phone]}\n"
                                    "    window: 10m\n"
                                    "    at_least: 100\n"
                                    "    severity: 3\n"
                                    "  - id: an\n"
                                    "    type: anomaly\n"
                                    "    count: {records: [phone]}\n"
                                    "    window: 1h\n"
                                    "    baseline: {ratio: 5, min: 1000000, learn: 1h}\n";

static void test_episodes(void)
{
    struct detect_rules *r = rules_from(EP_RULES);
    CHECK(r && r->n == 2);
    CHECK_EQ(n_errs, 0);
    char path[] = "/tmp/lh_detect_ep_XXXXXX";
    close(mkstemp(path));
    char err[256];
    struct eve *eve = eve_open(path, err, sizeof err);
    struct detect_config cfg = {.rules = r};
    struct detect_engine *d = detect_new(&cfg, eve, err, sizeof err);
    uint64_t t = T0 + 10 * HOUR, base = 1;
    struct ev e;
    memset(&e, 0, sizeof e);
    snprintf(e.account, sizeof e.account, "E77");
    e.ip = 0x0a000001;
    e.cat = RULE_CAT_PHONE;
    e.endpoint = -1;
    /* 99 distinct, each fetched 10 times: no alert (distinct counting) */
    for (int rep = 0; rep < 10; rep++)
        for (int k = 0; k < 99; k++) {
            e.ts = t + (uint64_t)(rep * 99 + k) * 100000;
            e.n_recs = 1;
            e.rec_base = base + (uint64_t)k;
            send(d, &e);
        }
    CHECK_EQ(detect_get_stats(d)->alerts, 0);
    CHECK_EQ(detect_account_alerted(d, "E77"), 0);
    /* the 100th distinct: one alert */
    e.ts += SEC;
    e.rec_base = base + 99;
    send(d, &e);
    CHECK_EQ(detect_get_stats(d)->alerts, 1);
    CHECK_EQ(detect_get_stats(d)->episodes_open, 1);
    CHECK_EQ(detect_account_alerted(d, "E77"), 1);
    /* more, up to 199: same episode, no new alert */
    for (int k = 100; k < 199; k++) {
        e.ts += SEC;
        e.rec_base = base + (uint64_t)k;
        send(d, &e);
    }
    CHECK_EQ(detect_get_stats(d)->alerts, 1);
    /* 200 = 2x the first alert's count: escalation */
    e.ts += SEC;
    e.rec_base = base + 199;
    send(d, &e);
    CHECK_EQ(detect_get_stats(d)->alerts, 2);
    CHECK_EQ(detect_get_stats(d)->escalations, 1);
    /* quiet for 30 min of packet time: the episode ends */
    detect_tick(d, e.ts + 29 * 60 * SEC);
    CHECK_EQ(detect_account_alerted(d, "E77"), 1);
    detect_tick(d, e.ts + 31 * 60 * SEC);
    CHECK_EQ(detect_account_alerted(d, "E77"), 0);
    CHECK_EQ(detect_get_stats(d)->episodes_open, 0);
    /* a new burst: a new episode, a first alert again */
    uint64_t t2 = e.ts + 40 * 60 * SEC;
    for (int k = 0; k < 100; k++) {
        e.ts = t2 + (uint64_t)k * SEC;
        e.rec_base = 10000 + (uint64_t)k;
        send(d, &e);
    }
    CHECK_EQ(detect_get_stats(d)->alerts, 3);

    /* the hours with alerts (10:00 and 11:00) were never learned */
    double lvl;
    uint32_t hours = 99;
    e.ts = T0 + 13 * HOUR; /* closes 11:00 */
    e.rec_base = 50000;
    send(d, &e);
    CHECK_EQ(detect_account_baseline(d, "E77", "an", &lvl, &hours), 0);
    CHECK_EQ(hours, 0);
    e.ts = T0 + 14 * HOUR; /* closes 13:00: a quiet hour with one record, learned */
    e.rec_base = 50001;
    send(d, &e);
    CHECK_EQ(detect_account_baseline(d, "E77", "an", &lvl, &hours), 0);
    CHECK_EQ(hours, 1);
    CHECK(fabs(lvl - 1.0) < 1e-9);
    detect_free(d);
    eve_close(eve);

    char *text = slurp(path, NULL);
    static struct seen s[8];
    size_t n = parse_alerts(text, s, 8);
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_EQ(s[0].severity, 3);
        CHECK_EQ(s[1].severity, 2); /* escalated */
        CHECK_EQ(s[2].severity, 3); /* new episode */
        json_t *ep = json_object_get(s[1].obj, "episode");
        CHECK_EQ(json_integer_value(json_object_get(ep, "alert")), 2);
        CHECK_STR(json_string_value(json_object_get(ep, "start")),
                  json_string_value(json_object_get(s[0].obj, "timestamp")));
        const char *sig =
            json_string_value(json_object_get(json_object_get(s[1].obj, "alert"), "signature"));
        CHECK_STR(sig, "account E77 fetched 200 distinct mobile numbers in 10 min (escalation 1 "
                       "of this episode)");
        CHECK_EQ(json_integer_value(json_object_get(
                     json_object_get(json_object_get(s[0].obj, "leak"), "records"), "phone")),
                 100);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(s[i].obj);
    free(text);
    unlink(path);
    detect_rules_free(r);
}

/* ---- memory cap: least recently active accounts go, counted ---------------- */

static void test_memcap(void)
{
    struct detect_rules *r = rules_from(EP_RULES);
    struct detect_config cfg = {.rules = r, .memcap = 256 * 1024};
    char err[256];
    struct detect_engine *d = detect_new(&cfg, NULL, err, sizeof err);
    struct ev e;
    memset(&e, 0, sizeof e);
    e.cat = RULE_CAT_PHONE;
    e.endpoint = -1;
    for (int i = 0; i < 2000; i++) {
        snprintf(e.account, sizeof e.account, "A%d", i);
        e.ip = 0x0a000000u + (uint32_t)i;
        e.ts = T0 + (uint64_t)i * SEC;
        e.n_recs = 20;
        e.rec_base = (uint64_t)i * 100;
        send(d, &e);
    }
    const struct detect_stats *st = detect_get_stats(d);
    printf("memcap 256 KiB: %llu accounts kept, %llu evicted, %llu bytes in use\n",
           (unsigned long long)st->accounts, (unsigned long long)st->accounts_evicted,
           (unsigned long long)st->accounts_memuse);
    CHECK(st->accounts_evicted > 0);
    CHECK_EQ(st->accounts + st->accounts_evicted, 2000);
    CHECK(st->accounts_memuse <= 256 * 1024);
    /* the oldest went, the newest stayed */
    CHECK_EQ(detect_account_baseline(d, "A0", "an", NULL, NULL), -1);
    CHECK_EQ(detect_account_baseline(d, "A1999", "an", NULL, NULL), 0);
    /* touching an old survivor keeps it over newer idle ones */
    char oldest[32];
    snprintf(oldest, sizeof oldest, "A%llu", (unsigned long long)st->accounts_evicted);
    CHECK_EQ(detect_account_baseline(d, oldest, "an", NULL, NULL), 0);
    snprintf(e.account, sizeof e.account, "%s", oldest);
    e.ts += SEC;
    send(d, &e);
    snprintf(e.account, sizeof e.account, "NEW");
    e.ts += SEC;
    send(d, &e);
    CHECK_EQ(detect_account_baseline(d, oldest, "an", NULL, NULL), 0);
    detect_free(d);
    detect_rules_free(r);
}

/* ---- the parser ------------------------------------------------------------------ */

static void test_parser(const struct detect_rules *r)
{
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ(n_errs, 0);
    CHECK_EQ(r->n, 8);
    const struct detection *d = &r->d[3];
    CHECK_STR(d->id, "query_anomaly");
    CHECK_EQ(d->type, DETECT_ANOMALY);
    CHECK_EQ(d->window_s, 3600);
    CHECK(d->ratio == 10 && d->peer_ratio == 20);
    CHECK_EQ(d->min, 200);
    CHECK_EQ(d->learn_s, 7 * 86400);
    CHECK_EQ(d->endpoint, 0);
    CHECK_EQ(d->severity, 2);
    CHECK(d->escalate == 2.0);
    CHECK_EQ(d->quiet_s, 1800);
    CHECK_EQ(r->d[4].severity, 4); /* new_source defaults low */
    CHECK_EQ(r->d[2].categories, (1u << RULE_CAT_PHONE) | (1u << RULE_CAT_ID));
    CHECK_EQ(r->allow.n_accounts, 1);
    CHECK_EQ(r->allow.n_nets, 1);
    struct lh_addr a = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 200, 1}};
    CHECK(detect_rules_allowed(r, &r->d[0], "X", &a));
    a.a[13] = 10;
    CHECK(!detect_rules_allowed(r, &r->d[0], "X", &a));
    CHECK(detect_rules_allowed(r, &r->d[0], "SVC-EXPORT", &a));

    static const char *const BAD =
        "detections:\n"
        "  - id: a\n"                 /* 2 */
        "    type: volume\n"
        "    count: {endpoint: nope}\n" /* 4: unknown endpoint (resolve) */
        "    window: 10 minutes\n"    /* 5 */
        "    at_least: 5\n"
        "  - id: b\n"                 /* 7 */
        "    type: bulk_response\n"
        "    at_leest: 5\n"           /* 9 */
        "  - id: c\n"                 /* 10 */
        "    type: teleport\n"        /* 11 */
        "  - id: d\n"                 /* 12 */
        "    type: volume\n"
        "    count: {records: [phone, passport]}\n" /* 14 */
        "    window: 10m\n"
        "    at_least: 5\n"
        "  - id: e\n"                 /* 17 */
        "    type: volume\n"
        "    count: {endpoint: waybill_query}\n"
        "    window: 10m\n"
        "  - id: f\n"                 /* 21 */
        "    type: new_source\n"
        "    severity: 7\n"           /* 23 */
        "    allowlist: {networks: [10.0.0.0/40]}\n" /* 24 */
        "  - id: g\n"
        "    type: new_source\n"
        "  - id: g\n"                 /* 27: duplicate */
        "    type: new_source\n";
    struct detect_rules *b = rules_from(BAD);
    printf("parser errors as reported:\n%s", errs);
    int want[] = {5, 9, 11, 14, 17, 23, 24, 27};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (int k = 0; k < n_errs && k < 64; k++)
            found |= err_lines[k] == want[i];
        if (!found)
            fprintf(stderr, "no error reported at line %d\n", want[i]);
        CHECK(found);
    }
    CHECK(strstr(errs, "10 minutes") != NULL);
    CHECK(strstr(errs, "at_leest") != NULL);
    CHECK(strstr(errs, "teleport") != NULL);
    CHECK(strstr(errs, "passport") != NULL);
    CHECK(strstr(errs, "volume needs 'at_least'") != NULL);
    CHECK(strstr(errs, "duplicate detection id 'g'") != NULL);
    CHECK_EQ(n_errs, 8);
    /* a: error-free at parse time but unknown endpoint at resolve: kept, endpoint -1 */
    detect_rules_free(b);
    CHECK_EQ(detect_rules_duration("7d"), 7 * 86400);
    CHECK_EQ(detect_rules_duration("90"), 90);
    CHECK_EQ(detect_rules_duration("1.5h"), 5400);
    CHECK_EQ(detect_rules_duration("10x"), -1);
}

/* ---- evidence hook -------------------------------------------------------------- */

static int hook_calls;
static const char *hook(void *ud, const char *account, uint64_t flow_id, uint64_t ts_us,
                        const char *rule)
{
    (void)flow_id;
    (void)ts_us;
    static char name[128];
    hook_calls += *(int *)ud;
    snprintf(name, sizeof name, "evidence/%s-%s.pcap", account, rule);
    return name;
}

static void test_evidence(void)
{
    struct detect_rules *r = rules_from(EP_RULES);
    char path[] = "/tmp/lh_detect_ev_XXXXXX";
    close(mkstemp(path));
    char err[256];
    struct eve *eve = eve_open(path, err, sizeof err);
    int one = 1;
    struct detect_config cfg = {.rules = r, .evidence = hook, .evidence_ud = &one};
    struct detect_engine *d = detect_new(&cfg, eve, err, sizeof err);
    struct ev e;
    memset(&e, 0, sizeof e);
    snprintf(e.account, sizeof e.account, "E9");
    e.cat = RULE_CAT_PHONE;
    e.endpoint = -1;
    e.ts = T0;
    e.n_recs = 150;
    e.rec_base = 1;
    send(d, &e);
    detect_free(d);
    eve_close(eve);
    CHECK_EQ(hook_calls, 1);
    char *text = slurp(path, NULL);
    CHECK(text && strstr(text, "\"evidence\":{\"pcap\":\"evidence/E9-rv.pcap\"}") != NULL);
    free(text);
    unlink(path);
    detect_rules_free(r);
}

/* ---- spread, CUSUM, early scope ---------------------------------------------------- */

static const char *const SPREAD_RULES =
    "detections:\n"
    "  - id: rec\n"
    "    type: anomaly\n"
    "    count: {records: [phone]}\n"
    "    window: 1h\n"
    "    baseline: {ratio: 8, min: 400, learn: 1d}\n"
    "  - id: scope\n"
    "    type: out_of_scope\n"
    "    window: 1h\n"
    "    min_records: 50\n"
    "    share: 0.3\n"
    "    learn: 1d\n"
    "  - id: newsrc\n"
    "    type: new_source\n"
    "    learn: 7d\n";

/* One hour of an account: n phone records of region `region` in
 * transactions of up to 20, spread over the hour. */
static void hour_of_records(struct evbuf *b, uint64_t h0, const char *acct, uint32_t ip, int n,
                            uint16_t region)
{
    int tx = (n + 19) / 20;
    for (int k = 0; k < tx; k++) {
        struct ev *e = push(b);
        e->ts = h0 + (uint64_t)k * (HOUR / (uint64_t)(tx + 1)) + rnd() % SEC;
        snprintf(e->account, sizeof e->account, "%s", acct);
        e->ip = ip;
        e->n_recs = n - 20 * k < 20 ? n - 20 * k : 20;
        e->rec_base = rec_counter;
        rec_counter += (uint64_t)e->n_recs;
        e->cat = RULE_CAT_PHONE;
        e->region = region;
        e->endpoint = -1;
    }
}

/* A dispatcher whose hours run from a handful to 1,500 records is not
 * alarmed by a 1,500-record hour at 15x its (geometric) usual: its spread
 * says that is normal for it. A clerk whose hours run from 2 to 150
 * records, pulling 550 an hour for a working day from its third day, is
 * caught by the CUSUM within hours although no single hour is 4 spreads
 * above its usual (its own baseline has 16 hours, not 24: the peers'
 * spread is the prior). A clerk of region 31 that starts pulling region
 * 32's records is out of scope on its third day, judged against its region
 * mix, and region 32 does not become home while it pulls. A young account
 * used from a second host while its first is in use is a new source. */
static void test_spread(void)
{
    struct detect_rules *r = rules_from(SPREAD_RULES);
    CHECK(r && r->n == 3);
    char path[] = "/tmp/lh_detect_sp_XXXXXX";
    close(mkstemp(path));
    char err[256];
    struct eve *eve = eve_open(path, err, sizeof err);
    struct detect_config cfg = {.rules = r};
    struct detect_engine *d = detect_new(&cfg, eve, err, sizeof err);
    rng = 0x243f6a8885a308d3ull;
    static const int disp[8] = {5, 600, 1200, 40, 900, 3, 1500, 250};
    static const int clerk[8] = {2, 40, 5, 150, 10, 2, 60, 5};
    struct evbuf b = {0};
    for (int day = 0; day < 3; day++)
        for (int hour = 0; hour < 8; hour++) {
            uint64_t h0 = T0 + (uint64_t)day * DAY + (uint64_t)(hour + 1) * HOUR;
            b.n = 0;
            for (int k = 0; k < 12; k++) { /* the peers: clerks like the drifting one */
                char name[16];
                snprintf(name, sizeof name, "P%02d", k);
                hour_of_records(&b, h0, name, 0x0a010000u + (uint32_t)k,
                                clerk[(hour + k) % 8], (uint16_t)(11 + k % 4));
            }
            hour_of_records(&b, h0, "DISP", 0x0a020001u, disp[(hour + day) % 8], 31);
            hour_of_records(&b, h0, "DRIFT", 0x0a020002u, day < 2 ? clerk[hour] : 550, 31);
            /* LOCAL: 30 records of its region and 20 of anywhere (senders), then
             * on day 3: 60 of region 32 and its usual few */
            if (day < 2) {
                hour_of_records(&b, h0, "LOCAL", 0x0a020003u, 30, 31);
                hour_of_records(&b, h0, "LOCAL", 0x0a020003u, 20, (uint16_t)(11 + hour % 5));
            } else {
                hour_of_records(&b, h0, "LOCAL", 0x0a020003u, 10, 31);
                hour_of_records(&b, h0, "LOCAL", 0x0a020003u, 60, 32);
            }
            qsort(b.e, b.n, sizeof(*b.e), ev_cmp);
            for (size_t k = 0; k < b.n; k++)
                send(d, &b.e[k]);
            detect_tick(d, h0 + HOUR);
        }
    /* the dispatcher's heaviest hour again on day 4, and more */
    b.n = 0;
    hour_of_records(&b, T0 + 3 * DAY + HOUR, "DISP", 0x0a020001u, 1500, 31);
    /* young accounts (learning new_source): SHARED is used from a second
     * host a minute after its first one (concurrent use: alerted); MOVED
     * changes host after two quiet hours (not alerted) */
    hour_of_records(&b, T0 + 3 * DAY + 2 * HOUR, "SHARED", 0x0a030001u, 5, 31);
    hour_of_records(&b, T0 + 3 * DAY + 2 * HOUR + 60 * SEC, "SHARED", 0x0a030002u, 5, 31);
    hour_of_records(&b, T0 + 3 * DAY + 2 * HOUR, "MOVED", 0x0a030003u, 5, 31);
    hour_of_records(&b, T0 + 3 * DAY + 4 * HOUR, "MOVED", 0x0a030004u, 5, 31);
    qsort(b.e, b.n, sizeof(*b.e), ev_cmp);
    for (size_t k = 0; k < b.n; k++)
        send(d, &b.e[k]);
    free(b.e);
    double usual;
    CHECK_EQ(detect_account_baseline(d, "LOCAL", "scope", &usual, NULL), 0);
    CHECK(usual < 0.6); /* the pulled region's hours were not learned */
    detect_free(d);
    eve_close(eve);
    detect_rules_free(r);

    char *text = slurp(path, NULL);
    static struct seen s[64];
    size_t n = text ? parse_alerts(text, s, 64) : 0;
    for (size_t i = 0; i < n; i++)
        printf("  spread: %s %s: %s\n", s[i].account, s[i].rule,
               json_string_value(json_object_get(json_object_get(s[i].obj, "alert"),
                                                 "signature")));
    CHECK_EQ(has_alert(s, n, "DISP", "rec"), -1);
    int i_drift = has_alert(s, n, "DRIFT", "rec");
    CHECK(i_drift >= 0);
    if (i_drift >= 0) {
        json_t *bl = json_object_get(json_object_get(s[i_drift].obj, "leak"), "baseline");
        CHECK_STR(json_string_value(json_object_get(bl, "kind")), "own_sustained");
        CHECK(json_number_value(json_object_get(bl, "cusum")) >= 5);
        CHECK(json_number_value(json_object_get(bl, "z")) < 4);
        /* not in the first hour of the pull (day 3, 01:00): evidence builds up */
        CHECK(strncmp(json_string_value(json_object_get(s[i_drift].obj, "timestamp")),
                      "2026-01-03T01:", 14) != 0);
        CHECK(strncmp(json_string_value(json_object_get(s[i_drift].obj, "timestamp")),
                      "2026-01-03T", 11) == 0);
    }
    int i_shared = has_alert(s, n, "SHARED", "newsrc");
    CHECK(i_shared >= 0);
    if (i_shared >= 0) {
        CHECK_STR(json_string_value(json_object_get(s[i_shared].obj, "src_ip")), "10.3.0.2");
        CHECK(strstr(json_string_value(json_object_get(json_object_get(s[i_shared].obj, "alert"),
                                                       "signature")),
                     "while it was in use from 10.3.0.1") != NULL);
    }
    CHECK_EQ(has_alert(s, n, "MOVED", "newsrc"), -1);
    int i_oos = has_alert(s, n, "LOCAL", "scope");
    CHECK(i_oos >= 0);
    if (i_oos >= 0)
        CHECK(strncmp(json_string_value(json_object_get(s[i_oos].obj, "timestamp")),
                      "2026-01-03T01:", 14) == 0);
    int others = 0;
    for (size_t i = 0; i < n; i++) {
        others += s[i].account[0] == 'P';
        json_decref(s[i].obj);
    }
    CHECK_EQ(others, 0);
    free(text);
    unlink(path);
}

/* ---- time-of-day shape ------------------------------------------------------------- */

static const char *const TOD_RULES = "detections:\n"
                                    "  - id: rec\n"
                                    "    type: anomaly\n"
                                    "    count: {records: [phone]}\n"
                                    "    window: 1h\n"
                                    "    baseline: {ratio: 5, min: 100, learn: 7d}\n";

/* Local hour (UTC+8) `hour` of day `day`, in UTC packet time. */
static uint64_t local_hour(int day, int hour)
{
    return T0 + (uint64_t)day * DAY + (uint64_t)hour * HOUR - 8 * HOUR;
}

static void tod_hours(struct detect_engine *d, int day0, int hour0, int day1, int hour1)
{
    struct evbuf b = {0};
    for (int day = day0; day <= day1; day++)
        for (int hour = day == day0 ? hour0 : 0; hour < 24 && (day < day1 || hour < hour1);
             hour++) {
            b.n = 0;
            int n = hour == 10 ? 200 : 20; /* the morning round: 10x every day */
            if (day == 11 && hour == 3)
                n = 160; /* 8x the usual at a quiet hour */
            hour_of_records(&b, local_hour(day, hour), "TOD", 0x0a040001u, n, 31);
            qsort(b.e, b.n, sizeof(*b.e), ev_cmp);
            for (size_t k = 0; k < b.n; k++)
                send(d, &b.e[k]);
            detect_tick(d, local_hour(day, hour) + HOUR);
        }
    free(b.e);
}

/* An account whose 10:00 (local) hour is 10x its others, every day, is
 * not alerted at 10:00 once the learning week is over: its shape says
 * 10:00 is busy. An 8x pull at 03:00, where the shape is no higher than
 * the all-hours level, still is. The engine is restarted from its state
 * file on day 9, so the shape must have been saved and loaded (an engine
 * starting with empty slots would alert at 10:00 on day 10). */
static void test_tod_shape(void)
{
    struct detect_rules *r = rules_from(TOD_RULES);
    CHECK(r && r->n == 1);
    char path[] = "/tmp/lh_detect_tod_XXXXXX", state[] = "/tmp/lh_detect_tods_XXXXXX";
    close(mkstemp(path));
    close(mkstemp(state));
    unlink(state);
    char err[256];
    struct eve *eve = eve_open(path, err, sizeof err);
    struct detect_config cfg = {.rules = r, .state_file = state, .save_interval_s = 3600};
    rng = 0x13198a2e03707344ull;
    struct detect_engine *d = detect_new(&cfg, eve, err, sizeof err);
    CHECK(d != NULL);
    tod_hours(d, 0, 8, 9, 12); /* from 08:00 on day 0 to 12:00 on day 9 */
    detect_free(d); /* saves */
    d = detect_new(&cfg, eve, err, sizeof err);
    CHECK(d != NULL);
    CHECK_EQ(detect_get_stats(d)->state_load_errors, 0);
    tod_hours(d, 9, 12, 11, 4); /* ... to 04:00 on day 11 */
    detect_free(d);
    eve_close(eve);
    detect_rules_free(r);
    unlink(state);

    char *text = slurp(path, NULL);
    static struct seen s[64];
    size_t n = text ? parse_alerts(text, s, 64) : 0;
    int at_ten = 0, at_three = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ts = json_string_value(json_object_get(s[i].obj, "timestamp"));
        printf("  tod: %s %s %s\n", s[i].account, s[i].rule, ts ? ts : "?");
        if (ts && strlen(ts) > 13 && !strcmp(s[i].account, "TOD")) {
            at_ten += !strncmp(ts + 11, "02:", 3); /* 10:00 local */
            at_three += !strncmp(ts, "2026-01-11T19:", 14); /* 03:00 local, day 11 */
        }
        json_decref(s[i].obj);
    }
    CHECK_EQ(at_ten, 0);
    CHECK_EQ(at_three, 1);
    CHECK_EQ(n, 1);
    free(text);
    unlink(path);
}

/* A rule reload keeps every account: the fortnight with a reload to the
 * same detections halfway gives byte-identical alerts; dropping the
 * anomaly detection for a day and adding it back makes it learn again. */
static void test_reload(const struct detect_rules *r)
{
    char p1[] = "/tmp/lh_detect_r1_XXXXXX", p2[] = "/tmp/lh_detect_r2_XXXXXX",
         p3[] = "/tmp/lh_detect_r3_XXXXXX";
    close(mkstemp(p1));
    close(mkstemp(p2));
    close(mkstemp(p3));
    struct detect_engine *d = sim_run(p1, r, NULL);
    double lvl_ref;
    uint32_t h_ref;
    CHECK_EQ(detect_account_baseline(d, "E1001", "query_anomaly", &lvl_ref, &h_ref), 0);
    uint64_t alerts_ref = detect_get_stats(d)->alerts;
    uint64_t accounts_ref = detect_get_stats(d)->accounts;
    CHECK(accounts_ref >= 20);
    detect_free(d);

    sim_reload_day[0] = DAYS / 2;
    sim_reload_rules[0] = r;
    d = sim_run(p2, r, NULL);
    CHECK_EQ(sim_reload_failed, 0);
    double lvl;
    uint32_t h;
    CHECK_EQ(detect_account_baseline(d, "E1001", "query_anomaly", &lvl, &h), 0);
    CHECK_EQ(h, h_ref);
    CHECK(fabs(lvl - lvl_ref) < 1e-9);
    CHECK_EQ(detect_get_stats(d)->alerts, alerts_ref);
    CHECK_EQ(detect_get_stats(d)->accounts, accounts_ref);
    detect_free(d);
    size_t n1, n2;
    char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    CHECK(a && b && n1 > 0 && n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);

    /* the same list without query_anomaly for day 2, then with it again */
    static const char *const DROP =
        "detections:\n"
        "  - id: record_volume\n"
        "    type: volume\n"
        "    count: {records: [phone, id]}\n"
        "    window: 10m\n"
        "    at_least: 300\n";
    struct detect_rules *r2 = rules_from(DROP);
    CHECK(r2 != NULL);
    sim_reload_day[0] = 2;
    sim_reload_rules[0] = r2;
    sim_reload_day[1] = 3;
    sim_reload_rules[1] = r;
    d = sim_run(p3, r, NULL);
    CHECK_EQ(sim_reload_failed, 0);
    CHECK_EQ(detect_account_baseline(d, "E1001", "query_anomaly", &lvl, &h), 0);
    /* learned from day 3 on only: fewer hours than the uninterrupted run */
    CHECK(h < h_ref && h > 0);
    CHECK_EQ(detect_get_stats(d)->accounts, accounts_ref);
    detect_free(d);
    sim_reload_day[0] = sim_reload_day[1] = -1;
    detect_rules_free(r2);
    /* a NULL engine takes a reload as a no-op */
    char err[64];
    CHECK_EQ(detect_reload(NULL, r, err, sizeof err), 0);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}

int main(void)
{
    struct detect_rules *r = rules_from(RULES);
    test_parser(r);
    test_episodes();
    test_memcap();
    test_evidence();
    test_spread();
    test_tod_shape();
    if (r) {
        test_fortnight(r);
        test_reload(r);
    }
    detect_rules_free(r);
    return check_done();
}
