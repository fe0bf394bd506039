/* detect.c - per-account detection engine: observations in, alerts out.
 *
 * In: one struct detect_obs per HTTP transaction (account, source host,
 * endpoint, distinct record fingerprints with category and region, masked
 * samples), in packet-time order, from one thread (the aggregator). Also
 * detect_tick() as packet time advances. Out: alert lines through
 * output/eve_alert.c, the evidence hook, and the state file.
 *
 * Per observation: the account's hour is folded into its baselines when a
 * new hour starts (never an hour in which it alerted), the source host is
 * checked against the hosts it used, the records go into the minute (and,
 * for windows over an hour, hour) bucket sketches, then every detection is
 * evaluated against the account's windows. A hit opens an episode and
 * alerts once; a hit whose count has grown by the escalation factor since
 * the last alert of the episode alerts again one severity higher; an
 * episode ends after its quiet period without a hit (swept by
 * detect_tick() once per packet-time minute). Anomalies are scored
 * against the account's own spread (Shewhart) and a CUSUM of its hourly
 * residuals (rules/baseline.h); out-of-scope against the account's learned
 * region mix, which hours that looked out of scope barely teach. Window distinct counts are
 * the union of the buckets' sketches, computed only when the sum of the
 * buckets' counts (an upper bound) could reach the threshold.
 * Everything depends only on the observations and ticks, never the wall
 * clock or addresses in memory, so replays give the same bytes. */
#include "rules/detect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/eve_alert.h"
#include "rules/account.h"
#include "rules/baseline.h"
#include "rules/detect_rules.h"
#include "rules/ruleset.h"
#include "rules/sketch.h"
#include "rules/state.h"

#define US 1000000ull
#define MIN_US (60 * US)
#define HOUR_US (3600 * US)
#define DAY_US (86400 * US)
#define NEW_SRC_SHOW_US DAY_US /* new_src_ip stays true this long after first use */
#define CACHE_US US            /* large window unions are recomputed at most once a second */
#define ALERT_SRC_IPS 8        /* hosts listed in an alert */
#define CONCURRENT_S 300       /* a new host this soon after another host's request: shared */
#define ALERT_SAMPLES 5
#define PREFETCH_AHEAD 8       /* records: a sketch slot is fetched this far ahead of its add */

struct det_rt {
    const struct detection *d;
    uint32_t cats;   /* dense category bits counted (records metric) */
    int ep;          /* dense endpoint counted, -1 records */
    uint32_t win_min;
    struct baseline_pop pop;
};

struct detect_engine {
    struct eve *eve;
    const struct detect_rules *rules;
    char *state_path;
    uint32_t save_interval_s;
    detect_evidence_fn evidence;
    void *evidence_ud;
    struct account_layout lay;
    struct account_table *t;
    int cat_dense[RULE_CAT_MAX];      /* rule category -> dense, -1 untracked */
    int cat_of[ACCOUNT_MAX_CAT];      /* dense -> rule category */
    int ep_index[ACCOUNT_MAX_EP];     /* dense -> rules' endpoint index */
    const char *ep_id[ACCOUNT_MAX_EP];
    struct det_rt rt[DETECT_MAX_DETECTIONS];
    size_t n_det;
    uint64_t memcap;
    int new_source;                   /* index of the first new_source detection, -1 */
    uint32_t new_source_learn_s;
    uint64_t now_us, last_save_us, last_sweep_min, last_pop_hour;
    int save_failing;
    struct sketch scratch;
    struct detect_stats st;
};

/* ---- small helpers ----------------------------------------------------- */

static const char *cat_plural(int c)
{
    switch (c) {
    case RULE_CAT_PHONE: return "mobile numbers";
    case RULE_CAT_LANDLINE: return "landline numbers";
    case RULE_CAT_ID: return "ID numbers";
    case RULE_CAT_ADDRESS: return "addresses";
    case RULE_CAT_WAYBILL: return "waybill numbers";
    case RULE_CAT_NAME: return "names";
    case RULE_CAT_EMAIL: return "email addresses";
    case RULE_CAT_BANK_CARD: return "bank card numbers";
    default: return "other records";
    }
}

static const char *const cat_key[RULE_CAT_MAX] = {
#define D_CAT_NAME(n, s) s,
    RULE_CATEGORIES(D_CAT_NAME)
#undef D_CAT_NAME
};

/* "2,100" */
static void fmt_count(char *out, size_t len, uint64_t v)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = 0;
}

static void fmt_window(char *out, size_t len, uint32_t s)
{
    if (s % 86400 == 0)
        snprintf(out, len, "%u d", s / 86400);
    else if (s % 3600 == 0)
        snprintf(out, len, "%u h", s / 3600);
    else if (s % 60 == 0)
        snprintf(out, len, "%u min", s / 60);
    else
        snprintf(out, len, "%u s", s);
}

static void fmt_ratio(char *out, size_t len, double r)
{
    if (r >= 10)
        snprintf(out, len, "%.0fx", r);
    else
        snprintf(out, len, "%.1fx", r);
}

static void addr_str(const struct lh_addr *a, char *out, size_t len)
{
    static const uint8_t v4m[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a->a, v4m, 12) == 0)
        inet_ntop(AF_INET, a->a + 12, out, (socklen_t)len);
    else
        inet_ntop(AF_INET6, a->a, out, (socklen_t)len);
}

/* ---- windows ------------------------------------------------------------- */

static uint32_t minute_of(uint64_t ts) { return (uint32_t)(ts / MIN_US); }
static uint32_t hour_of(uint64_t ts) { return (uint32_t)(ts / HOUR_US); }

/* Calls fn on every bucket of the window ending at now_min (minute buckets
 * up to an hour, hour buckets beyond). */
static void win_foreach(struct detect_engine *d, struct account *a, uint32_t win_min,
                        uint32_t now_min, void (*fn)(struct account_bucket *b, void *ud),
                        void *ud)
{
    if (win_min <= ACCOUNT_MINUTES || !d->lay.hours) {
        uint32_t n = win_min < ACCOUNT_MINUTES ? win_min : ACCOUNT_MINUTES;
        for (uint32_t i = 0; i < n && i <= now_min; i++) {
            struct account_bucket *b = account_minute_peek(a, now_min - i);
            if (b)
                fn(b, ud);
        }
        return;
    }
    uint32_t now_h = now_min / 60, nh = (win_min + 59) / 60;
    if (nh > d->lay.hours)
        nh = d->lay.hours;
    for (uint32_t i = 0; i < nh && i <= now_h; i++) {
        struct account_bucket *b = account_hour_peek(d->t, a, now_h - i);
        if (b)
            fn(b, ud);
    }
}

struct sum_ctx {
    struct detect_engine *d;
    int ep; /* -1: requests */
    uint32_t cats;
    uint64_t sum, known, out;
};

static void sum_queries(struct account_bucket *b, void *ud)
{
    struct sum_ctx *c = ud;
    c->sum += c->ep < 0 ? b->requests : account_bucket_epq(c->d->t, b)[c->ep];
}

static void sum_bound(struct account_bucket *b, void *ud)
{
    struct sum_ctx *c = ud;
    for (unsigned k = 0; k < c->d->lay.n_cat; k++)
        if (c->cats & (1u << k)) /* an exact set's count is n: no call */
            c->sum += b->cat[k].hll ? sketch_count(&b->cat[k]) : b->cat[k].n;
}

static void sum_regions(struct account_bucket *b, void *ud)
{
    struct sum_ctx *c = ud;
    c->known += b->region_known;
    c->out += b->region_out;
}

/* Sketches of one category, collected from a window's (or an hour's)
 * buckets: at most ACCOUNT_MINUTES minute or ACCOUNT_MAX_HOURS hour buckets. */
struct union_ctx {
    unsigned cat;
    size_t n;
    struct sketch *src[ACCOUNT_MINUTES > ACCOUNT_MAX_HOURS ? ACCOUNT_MINUTES : ACCOUNT_MAX_HOURS];
};

static void collect_cat(struct account_bucket *b, void *ud)
{
    struct union_ctx *u = ud;
    struct sketch *s = &b->cat[u->cat];
    if ((s->hll || s->n) && u->n < sizeof u->src / sizeof u->src[0])
        u->src[u->n++] = s; /* empty sketches add nothing to a union */
}

/* Distinct values in the union of the collected sketches. The count
 * depends only on the union of the values (exact up to SKETCH_EXACT_MAX,
 * then the HyperLogLog of them all), not on the order of merging or the
 * size of the table, so: one sketch is its own union; several are merged
 * into the engine's scratch set, sized once from the sum of their counts
 * (an upper bound of the union) so it never grows while merging. */
static uint64_t union_count(struct detect_engine *d, struct union_ctx *u)
{
    if (u->n == 0)
        return 0;
    if (u->n == 1)
        return sketch_count(u->src[0]);
    uint64_t bound = 0;
    for (size_t i = 0; i < u->n; i++)
        bound += sketch_count(u->src[i]);
    if (sketch_prepare(&d->scratch, bound) < 0)
        sketch_reset(&d->scratch); /* then it grows as it goes */
    int sw = 0;
    for (size_t i = 0; i < u->n; i++)
        if (sketch_merge(&d->scratch, u->src[i], &sw) < 0)
            d->st.obs_nomem++;
    return sketch_count(&d->scratch);
}

static uint64_t win_queries(struct detect_engine *d, struct account *a, uint32_t win_min, int ep,
                            uint32_t now_min)
{
    struct sum_ctx c = {.d = d, .ep = ep};
    win_foreach(d, a, win_min, now_min, sum_queries, &c);
    return c.sum;
}

/* Distinct records of one dense category in the window (exact or HLL). */
static uint64_t win_distinct(struct detect_engine *d, struct account *a, uint32_t win_min,
                             unsigned cat, uint32_t now_min)
{
    struct union_ctx u = {.cat = cat};
    win_foreach(d, a, win_min, now_min, collect_cat, &u);
    return union_count(d, &u);
}

static uint64_t win_records(struct detect_engine *d, struct account *a, uint32_t win_min,
                            uint32_t cats, uint32_t now_min)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < d->lay.n_cat; k++)
        if (cats & (1u << k))
            sum += win_distinct(d, a, win_min, k, now_min);
    return sum;
}

/* The detection's metric over its window. threshold lets the common case
 * (a normal account far below it) skip the sketch unions: the sum of the
 * buckets' counts bounds the union from above. */
static uint64_t metric(struct detect_engine *d, struct account *a, size_t i, uint64_t threshold,
                       uint64_t ts)
{
    struct det_rt *rt = &d->rt[i];
    uint32_t now_min = minute_of(ts);
    if (rt->ep >= 0 || (!rt->cats && rt->d->endpoint_id))
        return rt->ep >= 0 ? win_queries(d, a, rt->win_min, rt->ep, now_min) : 0;
    struct sum_ctx c = {.d = d, .cats = rt->cats};
    win_foreach(d, a, rt->win_min, now_min, sum_bound, &c);
    if (c.sum < threshold)
        return c.sum; /* below even as an upper bound: not a hit either way */
    struct account_det *st = &a->det[i];
    if (st->cache_val > SKETCH_EXACT_MAX && st->cache_us && ts - st->cache_us < CACHE_US)
        return st->cache_val;
    st->cache_val = win_records(d, a, rt->win_min, rt->cats, now_min);
    st->cache_us = ts;
    return st->cache_val;
}

/* ---- regions: where an account's records usually come from --------------- */

#define REGION_FADE 0.995     /* learned weight kept per hour: old work fades in weeks */
#define REGION_HOME 0.1       /* share of the weight that makes a region home */
#define SCOPE_SUSPECT_W 0.1   /* weight of an hour whose share looked out of scope */
#define SCOPE_PRIOR_SD 0.15   /* spread of an hourly share assumed before it is learned */
#define SCOPE_PRIOR_HOURS 24.0
#define SCOPE_K 3.0           /* spreads of an hourly share above the usual */

static double region_total(const struct account *a)
{
    double total = a->reg_other_w;
    for (int r = 0; r < ACCOUNT_REGIONS; r++)
        total += a->reg[r].w;
    return total;
}

/* The account's usual share of records outside its home regions, from its
 * learned region mix (every record it was shown in hours that did not
 * alert); *total is the weight behind it. */
static double region_usual_out(const struct account *a, double *total)
{
    double t = region_total(a), home = 0;
    for (int r = 0; r < ACCOUNT_REGIONS; r++)
        if (a->reg[r].region && a->reg[r].w >= REGION_HOME * t)
            home += a->reg[r].w;
    *total = t;
    return t > 0 ? (t - home) / t : 0;
}

/* One record of a region: returns whether the region is home (its learned
 * weight is at least REGION_HOME of the total; -1 while nothing is learned),
 * as it stood before this record, then counts the record as pending for
 * the hour (in the region's slot, a free slot, or "other"). *total is
 * region_total(a), kept up to date here (it changes only when a free slot
 * is claimed), so a transaction's records cost one pass over the slots. */
static int region_home_note(struct account *a, uint16_t region, double *total)
{
    int first = -1, last = -1, free_slot = -1;
    for (int r = 0; r < ACCOUNT_REGIONS; r++) {
        if (a->reg[r].region == region) {
            if (first < 0)
                first = r;
            last = r;
        } else if (!a->reg[r].region && free_slot < 0) {
            free_slot = r;
        }
    }
    double w = last >= 0 ? a->reg[last].w : 0;
    int home = *total <= 0 ? -1 : w >= REGION_HOME * *total;
    if (first >= 0) {
        a->reg[first].pending++;
    } else if (free_slot >= 0) {
        a->reg[free_slot].region = region;
        a->reg[free_slot].pending = 1;
        a->reg[free_slot].w = 0;
        *total = region_total(a);
    } else {
        a->reg_other_pending++;
    }
    return home;
}

/* Out-of-scope reference of an account for detection i: the usual share
 * (the larger of its region mix and, with a few hours learned, its hourly
 * share EWMA), the spread of an hourly share (its own shrunk towards
 * SCOPE_PRIOR_SD) and the fence a window's share must reach. Returns 0
 * while the account has fewer than min_records records of learned regions. */
static int scope_ref(const struct det_rt *rt, const struct account *a, const struct account_det *st,
                     double *usual, double *sd, double *fence)
{
    double total;
    double u = region_usual_out(a, &total);
    if (total < (double)rt->d->min_records)
        return 0;
    if (st->bl.n >= BASELINE_EARLY_BUCKETS && st->bl.mu > u)
        u = st->bl.mu;
    double s = baseline_share_sd(&st->bl, SCOPE_PRIOR_SD, SCOPE_PRIOR_HOURS);
    double margin = rt->d->share > SCOPE_K * s ? rt->d->share : SCOPE_K * s;
    *usual = u;
    *sd = s;
    *fence = u + margin;
    return 1;
}

/* ---- hour folding: baselines learn from hours that did not alert -------- */

static void hour_minutes(struct account *a, uint32_t hour,
                         void (*fn)(struct account_bucket *b, void *ud), void *ud)
{
    for (uint32_t m = hour * 60; m < hour * 60 + 60; m++) {
        struct account_bucket *b = account_minute_peek(a, m);
        if (b)
            fn(b, ud);
    }
}

/* The hour's count of an anomaly detection's metric. */
static uint64_t hour_count(struct detect_engine *d, struct account *a, const struct det_rt *rt,
                           uint32_t h)
{
    uint64_t x = 0;
    if (rt->ep >= 0) {
        struct sum_ctx c = {.d = d, .ep = rt->ep};
        hour_minutes(a, h, sum_queries, &c);
        x = c.sum;
    } else if (rt->cats) {
        for (unsigned k = 0; k < d->lay.n_cat; k++) {
            if (!(rt->cats & (1u << k)))
                continue;
            struct union_ctx u = {.cat = k};
            hour_minutes(a, h, collect_cat, &u);
            x += union_count(d, &u);
        }
    }
    return x;
}

static void fold_hour(struct detect_engine *d, struct account *a)
{
    uint32_t h = a->cur_hour;
    int learn = !a->hour_alerted;
    uint64_t age_s = (uint64_t)(h + 1) * 3600 > a->first_us / US
                         ? (uint64_t)(h + 1) * 3600 - a->first_us / US
                         : 0;
    double region_w = learn ? 1 : 0;
    for (size_t i = 0; i < d->n_det; i++) {
        struct det_rt *rt = &d->rt[i];
        struct account_det *st = &a->det[i];
        if (rt->d->type == DETECT_ANOMALY) {
            uint64_t x = hour_count(d, a, rt, h);
            if (x == 0)
                continue; /* an idle hour is not part of the baseline */
            /* the CUSUM scores every active hour, alerted or not, so a
             * shift in progress keeps it up */
            double sd = baseline_sd(&st->bl, baseline_pop_prior_sd(&rt->pop));
            unsigned slot = baseline_tod_slot(h);
            if (sd > 0 && age_s >= rt->d->learn_s) {
                /* residuals against the usual of this hour of the day, as
                 * eval_anomaly() scores them */
                struct baseline eb = baseline_tod_apply(&st->bl, &st->tod, slot);
                baseline_cusum_fold(&eb, (double)x, sd);
                st->bl.cusum = eb.cusum;
            }
            if (learn) {
                baseline_learn(&st->bl, (double)x);
                baseline_tod_learn(&st->tod, slot, (double)x);
            }
        } else if (rt->d->type == DETECT_OUT_OF_SCOPE) {
            struct sum_ctx c = {.d = d};
            hour_minutes(a, h, sum_regions, &c);
            if (c.known < 10)
                continue;
            double share = (double)c.out / (double)c.known, usual = 0, sd = 0, fence = 0;
            /* an hour that looked out of scope is neither the usual share
             * nor (but faintly) the account's regions, so a pull that does
             * not alert (too few records, still learning) cannot make the
             * other region home; a lasting move is absorbed in days */
            if (scope_ref(rt, a, st, &usual, &sd, &fence) && share >= fence) {
                if (region_w > SCOPE_SUSPECT_W)
                    region_w = SCOPE_SUSPECT_W;
                continue;
            }
            if (learn)
                baseline_learn_share(&st->bl, share);
        }
    }
    /* home regions: fade old weight so an outlet's area can move */
    double total = 0;
    for (int r = 0; r < ACCOUNT_REGIONS; r++) {
        struct account_region *g = &a->reg[r];
        g->w = g->w * REGION_FADE + region_w * g->pending;
        g->pending = 0;
        total += g->w;
    }
    a->reg_other_w = a->reg_other_w * REGION_FADE + region_w * a->reg_other_pending;
    a->reg_other_pending = 0;
    total += a->reg_other_w;
    for (int r = 0; r < ACCOUNT_REGIONS; r++)
        if (a->reg[r].region && a->reg[r].w < 0.01 * total) {
            /* frees the slot for a new region; its weight stays in the total */
            a->reg_other_w += a->reg[r].w;
            memset(&a->reg[r], 0, sizeof a->reg[r]);
        }
    a->hour_alerted = 0;
}

/* ---- alerts ---------------------------------------------------------------- */

struct hit {
    uint64_t count;      /* what the episode escalates on */
    uint64_t queries;
    int has_queries;
    double base, ratio;
    const char *base_kind;
    int has_spread;
    double z, cusum;
    const char *detail_name;
    size_t n_detail;
    /* from here on not zeroed per evaluation (HIT_ZEROED): written before read */
    uint64_t tx_recs[RULE_CAT_MAX]; /* by eval_bulk(): records of the transaction */
    char sentence[384];             /* by every evaluation that fires */
    struct eve_alert_num detail[6]; /* the first n_detail */
};
#define HIT_ZEROED offsetof(struct hit, sentence)

static int src_cmp(const void *x, const void *y)
{
    const struct account_src *a = x, *b = y;
    if (a->last_s != b->last_s)
        return a->last_s > b->last_s ? -1 : 1;
    return memcmp(&a->addr, &b->addr, sizeof a->addr);
}

static void emit_alert(struct detect_engine *d, struct account *a, size_t i,
                       const struct detect_obs *o, struct hit *h, int severity,
                       uint32_t alert_no, int new_src)
{
    struct det_rt *rt = &d->rt[i];
    const struct detection *det = rt->d;
    struct eve_alert al;
    memset(&al, 0, sizeof al);
    al.c.ts_us = o->ts_us;
    al.c.flow_id = o->flow_id;
    al.c.src_ip = o->src_ip;
    al.c.dest_ip = o->dest_ip;
    al.c.src_port = o->src_port;
    al.c.dest_port = o->dest_port;
    al.c.proto = "TCP";
    al.c.app_proto = "http";
    al.c.community_id = o->community_id;
    al.c.pcap_filename = o->pcap_filename;
    al.c.pcap_cnt = o->pcap_cnt;
    al.account_id = a->name;
    al.account_via = o->via;

    struct account_src srcs[ACCOUNT_SRC_MAX];
    memcpy(srcs, a->src, a->n_src * sizeof(srcs[0]));
    qsort(srcs, a->n_src, sizeof(srcs[0]), src_cmp);
    char ipbuf[ALERT_SRC_IPS][64];
    const char *ips[ALERT_SRC_IPS];
    size_t n_ips = a->n_src < ALERT_SRC_IPS ? a->n_src : ALERT_SRC_IPS;
    for (size_t k = 0; k < n_ips; k++) {
        addr_str(&srcs[k].addr, ipbuf[k], sizeof ipbuf[k]);
        ips[k] = ipbuf[k];
    }
    al.src_ips = ips;
    al.n_src_ips = n_ips;
    al.new_src_ip = new_src;

    char sig[512];
    char esc[64] = "";
    if (alert_no > 1)
        snprintf(esc, sizeof esc, " (escalation %u of this episode)", alert_no - 1);
    snprintf(sig, sizeof sig, "%s%s%s%s%s", det->signature ? det->signature : "",
             det->signature ? ": " : "", h->sentence,
             new_src && det->type != DETECT_NEW_SOURCE ? ", from a host it never used before"
                                                       : "",
             esc);
    al.rule = det->id;
    al.signature = sig;
    al.category = detect_type_category(det->type);
    al.signature_id = det->signature_id;
    al.severity = severity;

    al.window_s = det->window_s;
    al.has_queries = h->has_queries;
    al.queries = h->queries;
    struct eve_kv recs[RULE_CAT_MAX];
    size_t n_recs = 0;
    uint32_t now_min = minute_of(o->ts_us);
    if (det->type == DETECT_BULK_RESPONSE) {
        for (int c = 0; c < RULE_CAT_MAX; c++)
            if (h->tx_recs[c])
                recs[n_recs++] = (struct eve_kv){cat_key[c], h->tx_recs[c]};
    } else {
        uint32_t win = rt->win_min ? rt->win_min : ACCOUNT_MINUTES;
        for (unsigned k = 0; k < d->lay.n_cat; k++) {
            if (rt->cats && !(rt->cats & (1u << k)))
                continue;
            recs[n_recs++] =
                (struct eve_kv){cat_key[d->cat_of[k]], win_distinct(d, a, win, k, now_min)};
        }
    }
    al.records = recs;
    al.n_records = n_recs;
    if (h->base_kind) {
        al.has_baseline = 1;
        al.baseline_kind = h->base_kind;
        al.baseline_value = h->base;
        al.baseline_ratio = h->ratio;
        al.has_spread = h->has_spread;
        al.baseline_z = h->z;
        al.baseline_cusum = h->cusum;
    }
    al.detail_name = h->detail_name;
    al.detail = h->detail;
    al.n_detail = h->n_detail;
    al.samples = o->samples;
    al.n_samples = o->n_samples < ALERT_SAMPLES ? o->n_samples : ALERT_SAMPLES;
    al.fingerprints = o->fingerprints;
    al.n_fingerprints = o->n_fingerprints < ALERT_SAMPLES ? o->n_fingerprints : ALERT_SAMPLES;
    al.hostname = o->hostname;
    al.url = o->url;
    al.http_method = o->http_method;
    al.status = o->status;
    if (d->evidence)
        al.evidence_pcap = d->evidence(d->evidence_ud, a->name, o->flow_id, o->ts_us, det->id);
    al.episode_start_us = a->det[i].ep.start_us;
    al.episode_alert = alert_no;
    if (d->eve)
        eve_alert_write(d->eve, &al);
    d->st.alerts++;
}

static int src_is_new(const struct detect_engine *d, const struct account *a,
                      const struct lh_addr *src, uint64_t ts)
{
    (void)d;
    return a->new_src_us && ts - a->new_src_us < NEW_SRC_SHOW_US &&
           memcmp(&a->new_src, src, sizeof *src) == 0;
}

/* A detection hit: open, escalate or just extend the episode. */
static void episode_hit(struct detect_engine *d, struct account *a, size_t i,
                        const struct detect_obs *o, struct hit *h)
{
    const struct detection *det = d->rt[i].d;
    struct account_episode *ep = &a->det[i].ep;
    a->hour_alerted = 1;
    if (ep->open && o->ts_us >= ep->last_hit_us && o->ts_us - ep->last_hit_us >= det->quiet_s * US) {
        ep->open = 0; /* tick has not swept it yet */
        d->st.episodes_open--;
    }
    if (o->ts_us > ep->last_hit_us)
        ep->last_hit_us = o->ts_us;
    int new_src = src_is_new(d, a, &o->src, o->ts_us);
    if (!ep->open) {
        int sev = det->severity;
        /* the borrowed-ID pattern: a new host that also pulls records */
        if (new_src && det->type != DETECT_NEW_SOURCE && d->new_source >= 0 &&
            a->det[d->new_source].ep.open && sev > 1)
            sev--;
        ep->open = 1;
        ep->start_us = o->ts_us;
        ep->last_hit_us = o->ts_us;
        ep->last_count = h->count;
        ep->alerts = 1;
        ep->severity = (uint8_t)sev;
        d->st.episodes_open++;
        emit_alert(d, a, i, o, h, sev, 1, new_src);
        return;
    }
    if (h->count >= 1 && (double)h->count >= (double)ep->last_count * det->escalate) {
        if (ep->severity > 1)
            ep->severity--;
        ep->last_count = h->count;
        ep->alerts++;
        d->st.escalations++;
        emit_alert(d, a, i, o, h, ep->severity, ep->alerts, new_src);
    }
}

/* ---- detections ------------------------------------------------------------- */

static void describe_records(struct detect_engine *d, const struct det_rt *rt, char *out,
                             size_t len)
{
    int n = 0, last = -1;
    for (unsigned k = 0; k < d->lay.n_cat; k++)
        if (rt->cats & (1u << k)) {
            n++;
            last = d->cat_of[k];
        }
    snprintf(out, len, "%s", n == 1 ? cat_plural(last) : "records");
}

/* tx_recs: the transaction's records per category (detect_observe() counts
 * them once for every detection). */
static int eval_bulk(struct detect_engine *d, size_t i, const struct detect_obs *o,
                     const uint64_t *tx_recs, struct hit *h)
{
    const struct detection *det = d->rt[i].d;
    uint64_t n = 0;
    for (int c = 0; c < RULE_CAT_MAX; c++) {
        h->tx_recs[c] = det->categories & (1u << c) ? tx_recs[c] : 0;
        n += h->tx_recs[c];
    }
    if (n < det->at_least)
        return 0;
    h->count = n;
    char cnt[32], parts[200] = "";
    fmt_count(cnt, sizeof cnt, n);
    int shown = 0;
    for (int c = 0; c < RULE_CAT_MAX; c++) {
        if (!h->tx_recs[c])
            continue;
        char one[64], cc[32];
        fmt_count(cc, sizeof cc, h->tx_recs[c]);
        snprintf(one, sizeof one, "%s%s %s", shown++ ? ", " : "", cc, cat_plural(c));
        strncat(parts, one, sizeof parts - strlen(parts) - 1);
    }
    snprintf(h->sentence, sizeof h->sentence,
             "account %s received %s distinct records in one response (%s)", o->account, cnt,
             parts);
    return 1;
}

static int eval_volume(struct detect_engine *d, struct account *a, size_t i,
                       const struct detect_obs *o, struct hit *h)
{
    struct det_rt *rt = &d->rt[i];
    uint64_t v = metric(d, a, i, rt->d->at_least, o->ts_us);
    if (v < rt->d->at_least)
        return 0;
    h->count = v;
    char cnt[32], win[32], what[64];
    fmt_count(cnt, sizeof cnt, v);
    fmt_window(win, sizeof win, rt->d->window_s);
    if (rt->ep >= 0) {
        h->has_queries = 1;
        h->queries = v;
        snprintf(h->sentence, sizeof h->sentence, "account %s made %s %s queries in %s",
                 o->account, cnt, rt->d->endpoint_id, win);
    } else {
        describe_records(d, rt, what, sizeof what);
        snprintf(h->sentence, sizeof h->sentence, "account %s fetched %s distinct %s in %s",
                 o->account, cnt, what, win);
    }
    return 1;
}

/* Upper bound of the hour's count (sum over its minute buckets). */
static uint64_t hour_bound(struct detect_engine *d, struct account *a, const struct det_rt *rt,
                           uint32_t h)
{
    struct sum_ctx c = {.d = d, .ep = rt->ep, .cats = rt->cats};
    hour_minutes(a, h, rt->ep >= 0 ? sum_queries : sum_bound, &c);
    return c.sum;
}

/* Own comparison: the window must be at least min and ratio x the usual
 * (the gate), and either K spreads above the usual (one unusual window) or
 * the current hour must bring the CUSUM to its alarm level (a shift held
 * for hours: a steady pull no single hour gives away). Peers: peer_ratio x
 * the population's fence. */
static int eval_anomaly(struct detect_engine *d, struct account *a, size_t i,
                        const struct detect_obs *o, struct hit *h)
{
    struct det_rt *rt = &d->rt[i];
    const struct detection *det = rt->d;
    const struct account_det *st = &a->det[i];
    /* the usual at this hour of the (local) day: the shape can only raise it */
    struct baseline eb =
        baseline_tod_apply(&st->bl, &st->tod, baseline_tod_slot(hour_of(o->ts_us)));
    double scale = det->window_s / 3600.0;
    double gate = INFINITY, thr_own = INFINITY, thr_peer = INFINITY, own = 0, peer = 0;
    double sd = -1, hour_need = INFINITY;
    if (det->ratio > 0 && (o->ts_us - a->first_us) / US >= det->learn_s) {
        sd = baseline_sd(&eb, baseline_pop_prior_sd(&rt->pop));
        if (sd > 0) {
            own = baseline_level(&eb) * scale;
            gate = fmax((double)det->min, det->ratio * fmax(own, 1.0));
            thr_own = fmax(gate, expm1(eb.mu + BASELINE_K * sd) * scale);
            hour_need = baseline_cusum_alarm_count(&eb, sd);
        }
    }
    if (det->peer_ratio > 0 && baseline_pop_ready(&rt->pop)) {
        peer = baseline_pop_fence(&rt->pop) * scale;
        thr_peer = fmax((double)det->min, det->peer_ratio * fmax(peer, 1.0));
    }
    double thr = fmin(gate, thr_peer);
    if (!isfinite(thr))
        return 0; /* still learning: only fixed thresholds fire */
    uint64_t v = metric(d, a, i, (uint64_t)ceil(thr), o->ts_us);
    if ((double)v < thr)
        return 0;
    const char *kind = NULL;
    double cusum = eb.cusum;
    if ((double)v >= thr_own) {
        kind = "own";
    } else if ((double)v >= gate) {
        uint32_t hr = hour_of(o->ts_us);
        if ((double)hour_bound(d, a, rt, hr) >= hour_need) {
            uint64_t hv = hour_count(d, a, rt, hr);
            if ((double)hv >= hour_need) {
                kind = "own_sustained";
                cusum = baseline_cusum_next(&eb, (double)hv, sd);
            }
        }
    }
    if (!kind && (double)v >= thr_peer && sd > 0) {
        /* far above everyone, and rising for the account itself: a
         * population fence alone would flag every account of a busier role */
        uint32_t hr = hour_of(o->ts_us);
        double c2 = eb.cusum;
        if (c2 < BASELINE_CUSUM_H) {
            double hv = (double)hour_count(d, a, rt, hr);
            double nx = baseline_cusum_next(&eb, hv, sd);
            c2 = nx > c2 ? nx : c2;
        }
        if (c2 >= BASELINE_CUSUM_H) {
            kind = "peers";
            cusum = c2;
        }
    }
    if (!kind)
        return 0;
    int by_own = kind[0] == 'o';
    h->count = v;
    h->base_kind = kind;
    h->base = by_own ? own : peer;
    h->ratio = (double)v / fmax(h->base, 1.0);
    if (by_own) {
        h->has_spread = 1;
        h->z = (log1p((double)v / scale) - eb.mu) / sd;
        h->cusum = cusum;
    }
    char cnt[32], win[32], what[64], ratio[32], why[96];
    fmt_count(cnt, sizeof cnt, v);
    fmt_window(win, sizeof win, det->window_s);
    fmt_ratio(ratio, sizeof ratio, h->ratio);
    if (!by_own)
        snprintf(why, sizeof why, "%s the usual of its peers", ratio);
    else if (kind[3] == '_')
        snprintf(why, sizeof why, "%s its baseline, a rise held over hours (CUSUM %.1f)", ratio,
                 cusum);
    else
        snprintf(why, sizeof why, "%s its baseline (%.1f spreads above its usual)", ratio, h->z);
    if (rt->ep >= 0) {
        h->has_queries = 1;
        h->queries = v;
        snprintf(what, sizeof what, "%s queries", det->endpoint_id);
        snprintf(h->sentence, sizeof h->sentence, "account %s made %s %s in %s, %s", o->account,
                 cnt, what, win, why);
    } else {
        describe_records(d, rt, what, sizeof what);
        snprintf(h->sentence, sizeof h->sentence, "account %s fetched %s distinct %s in %s, %s",
                 o->account, cnt, what, win, why);
    }
    return 1;
}

static int eval_enum(struct detect_engine *d, struct account *a, size_t i,
                     const struct detect_obs *o, struct hit *h, int pushed)
{
    const struct detection *det = d->rt[i].d;
    if (!pushed || !a->en || a->en_n < det->min_queries || a->en_n < 2)
        return 0; /* the window holds at most en_n queries */
    uint32_t cap = d->lay.enum_cap, k = 0, near = 0;
    uint64_t since = o->ts_us > det->window_s * US ? o->ts_us - det->window_s * US : 0;
    const struct account_enum_ent *prev = NULL;
    uint32_t pos = (a->en_head + cap - 1) % cap; /* newest first, no division per entry */
    for (uint32_t j = 0; j < a->en_n; j++, pos = pos ? pos - 1 : cap - 1) {
        const struct account_enum_ent *e = &a->en[pos];
        if (e->ts_us < since)
            break;
        if (prev) {
            uint64_t step = prev->num > e->num ? prev->num - e->num : e->num - prev->num;
            near += step >= 1 && step <= det->max_step;
        }
        prev = e;
        k++;
        /* each further query adds at most one near step, so the share can
         * reach at most (near + en_n - k) / (en_n - 1): give up once even
         * that is short (a person's lookups are rarely near each other) */
        if ((k & 15) == 0 &&
            (double)(near + a->en_n - k) / (double)(a->en_n - 1) < det->seq_share)
            return 0;
    }
    if (k < det->min_queries || k < 2)
        return 0;
    double share = (double)near / (double)(k - 1);
    if (share < det->seq_share)
        return 0;
    h->count = k;
    h->has_queries = 1;
    h->queries = k;
    h->detail_name = "enumeration";
    h->detail[0] = (struct eve_alert_num){"queries", k, 1};
    h->detail[1] = (struct eve_alert_num){"sequential_share", share, 0};
    h->detail[2] = (struct eve_alert_num){"max_step", (double)det->max_step, 1};
    h->n_detail = 3;
    char win[32];
    fmt_window(win, sizeof win, det->window_s);
    snprintf(h->sentence, sizeof h->sentence,
             "account %s queried %u waybill numbers in near-sequential order in %s (%.0f%% of "
             "steps at most %llu apart)",
             o->account, k, win, share * 100, (unsigned long long)det->max_step);
    return 1;
}

/* Fires when the window's share of records outside the account's home
 * regions reaches its usual share plus the larger of `share` and K spreads
 * of an hourly share, and `share` above the peers' usual share. The usual
 * share comes from the account's learned region mix, so a young account
 * (a day of history: `learn`) is judged as soon as min_records records of
 * its regions are learned; an account whose records spread over all
 * regions (a call centre) has a high usual share and a wide spread and is
 * not out of scope anywhere. */
static int eval_scope(struct detect_engine *d, struct account *a, size_t i,
                      const struct detect_obs *o, struct hit *h)
{
    struct det_rt *rt = &d->rt[i];
    const struct detection *det = rt->d;
    struct account_det *st = &a->det[i];
    if ((o->ts_us - a->first_us) / US < det->learn_s)
        return 0;
    double usual, sd, fence;
    if (!scope_ref(rt, a, st, &usual, &sd, &fence))
        return 0;
    struct sum_ctx c = {.d = d};
    win_foreach(d, a, rt->win_min, minute_of(o->ts_us), sum_regions, &c);
    if (c.known < det->min_records)
        return 0;
    double share = (double)c.out / (double)c.known;
    if (share < fence)
        return 0;
    double peer = baseline_pop_ready(&rt->pop) ? rt->pop.median : 0;
    if (baseline_pop_ready(&rt->pop) && share < peer + det->share)
        return 0;
    h->count = c.out;
    h->detail_name = "scope";
    h->detail[0] = (struct eve_alert_num){"records_with_region", (double)c.known, 1};
    h->detail[1] = (struct eve_alert_num){"outside", (double)c.out, 1};
    h->detail[2] = (struct eve_alert_num){"share", share, 0};
    h->detail[3] = (struct eve_alert_num){"usual_share", usual, 0};
    h->detail[4] = (struct eve_alert_num){"peer_share", peer, 0};
    h->detail[5] = (struct eve_alert_num){"fence", fence, 0};
    h->n_detail = 6;
    char win[32], known[32];
    fmt_window(win, sizeof win, det->window_s);
    fmt_count(known, sizeof known, c.known);
    snprintf(h->sentence, sizeof h->sentence,
             "account %s: %.0f%% of %s records in %s lie outside the regions it serves (usually "
             "%.0f%%, peers %.0f%%)",
             o->account, share * 100, known, win, usual * 100, peer * 100);
    return 1;
}

static int eval_cadence(struct detect_engine *d, struct account *a, size_t i,
                        const struct detect_obs *o, struct hit *h, int pushed)
{
    const struct detection *det = d->rt[i].d;
    struct account_det *st = &a->det[i];
    if (!pushed || !a->cad || a->cad_n < det->min_requests + 1)
        return 0;
    uint32_t cap = d->lay.cad_cap, n = det->min_requests;
    double sum = 0, sumsq = 0;
    /* newest gap first (the same order of additions as ever), no division per gap */
    uint32_t pos = (a->cad_head + cap - 1) % cap;
    uint64_t t1 = a->cad[pos];
    for (uint32_t j = 0; j < n; j++) {
        pos = pos ? pos - 1 : cap - 1;
        uint64_t t0 = a->cad[pos];
        double g = t1 >= t0 ? (double)(t1 - t0) / US : 0;
        t1 = t0;
        sum += g;
        sumsq += g * g;
    }
    double mean = sum / n, var = sumsq / n - mean * mean;
    double cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : INFINITY;
    if (!(mean >= 0.001 && cv < det->max_cv)) {
        st->run = 0;
        return 0;
    }
    st->run++;
    h->count = det->min_requests + st->run - 1;
    h->detail_name = "cadence";
    h->detail[0] = (struct eve_alert_num){"requests", (double)h->count, 1};
    h->detail[1] = (struct eve_alert_num){"cv", cv, 0};
    h->detail[2] = (struct eve_alert_num){"mean_gap_s", mean, 0};
    h->n_detail = 3;
    snprintf(h->sentence, sizeof h->sentence,
             "account %s made %u requests at machine-regular intervals (every %.2f s, "
             "coefficient of variation %.3f)",
             o->account, n + 1, mean, cv);
    return 1;
}

static int eval_new_source(struct detect_engine *d, struct account *a, size_t i,
                           const struct detect_obs *o, struct hit *h)
{
    (void)i;
    if (!src_is_new(d, a, &o->src, o->ts_us))
        return 0;
    h->count = 1;
    char ip[64], days[32];
    addr_str(&o->src, ip, sizeof ip);
    fmt_window(days, sizeof days, (uint32_t)((a->new_src_us - a->first_us) / US / 86400 * 86400));
    if (a->new_src_us - a->first_us < DAY_US)
        fmt_window(days, sizeof days, (uint32_t)((a->new_src_us - a->first_us) / US / 3600 * 3600));
    unsigned before = (unsigned)a->n_src - 1;
    if (a->new_src_us - a->first_us < (uint64_t)d->new_source_learn_s * US) {
        /* marked while learning: only for concurrent use */
        char other[64] = "another host";
        uint32_t best = 0;
        for (int k = 0; k < a->n_src; k++)
            if (memcmp(&a->src[k].addr, &o->src, sizeof o->src) != 0 && a->src[k].last_s >= best) {
                best = a->src[k].last_s;
                addr_str(&a->src[k].addr, other, sizeof other);
            }
        snprintf(h->sentence, sizeof h->sentence,
                 "account %s used from %s, a host it never used before, while it was in use "
                 "from %s in the same minutes",
                 o->account, ip, other);
        return 1;
    }
    snprintf(h->sentence, sizeof h->sentence,
             "account %s used from %s, a host it never used before (%s of history from %u "
             "other host%s)",
             o->account, ip, days, before, before == 1 ? "" : "s");
    return 1;
}

/* ---- observation --------------------------------------------------------- */

/* Records the source host; marks it as the account's new host (a
 * new_source candidate) when it is new after the account's learning period,
 * or new while another of its hosts made a request in the last
 * CONCURRENT_S seconds. */
static void note_source(struct detect_engine *d, struct account *a, const struct detect_obs *o)
{
    uint32_t now_s = (uint32_t)(o->ts_us / US);
    for (int k = 0; k < a->n_src; k++)
        if (memcmp(&a->src[k].addr, &o->src, sizeof o->src) == 0) {
            if (now_s > a->src[k].last_s)
                a->src[k].last_s = now_s;
            return;
        }
    int slot = a->n_src;
    if (a->n_src >= ACCOUNT_SRC_MAX) {
        slot = 0; /* forget the host used least recently */
        for (int k = 1; k < a->n_src; k++)
            if (a->src[k].last_s < a->src[slot].last_s)
                slot = k;
    } else {
        a->n_src++;
    }
    int known_account = a->n_src > 1 && o->ts_us - a->first_us >= d->new_source_learn_s * US;
    /* even while learning: a second host while another one is in use (the
     * owner at its desk while someone else pulls with its identity) */
    int concurrent = 0;
    for (int k = 0; k < a->n_src; k++)
        if (k != slot && a->src[k].last_s + CONCURRENT_S >= now_s)
            concurrent = 1;
    a->src[slot].addr = o->src;
    a->src[slot].first_s = a->src[slot].last_s = now_s;
    if ((known_account || concurrent) && d->new_source >= 0) {
        a->new_src = o->src;
        a->new_src_us = o->ts_us;
    }
}

static int evaluate_allowed(const struct detect_engine *d, const struct detection *det,
                            const struct detect_obs *o)
{
    return !detect_rules_allowed(d->rules, det, o->account, &o->src);
}

void detect_observe(struct detect_engine *d, const struct detect_obs *o)
{
    if (!d || !o || !o->account)
        return;
    d->st.observations++;
    if (o->ts_us > d->now_us)
        d->now_us = o->ts_us;
    int cut;
    struct account *a = account_get(d->t, o->account, o->ts_us, &cut);
    if (!a) {
        d->st.obs_nomem++;
        return;
    }
    d->st.names_cut += (uint64_t)cut;
    uint64_t ts = o->ts_us;
    if (ts / MIN_US + ACCOUNT_MINUTES <= a->min_last)
        ts = (uint64_t)a->min_last * MIN_US; /* far out of order: count it as the newest minute */
    uint32_t h = hour_of(ts), m = minute_of(ts);
    if (h > a->cur_hour) {
        fold_hour(d, a);
        a->cur_hour = h;
    }
    note_source(d, a, o);

    struct account_bucket *b = account_minute(d->t, a, m);
    struct account_bucket *hb = d->lay.hours ? account_hour(d->t, a, h) : NULL;
    uint64_t tx_recs[RULE_CAT_MAX] = {0}; /* records per category, for bulk_response */
    size_t n_hist = 0;                    /* records counted in tx_recs so far */
    if (!b) {
        d->st.obs_nomem++;
    } else {
        int ep = -1;
        /* by id, not index: a transaction begun before a rule reload names
         * its endpoint in the old rules' numbering */
        for (unsigned k = 0; k < d->lay.n_ep && o->endpoint_id; k++)
            if (d->ep_id[k] && strcmp(d->ep_id[k], o->endpoint_id) == 0)
                ep = (int)k;
        b->requests++;
        if (hb)
            hb->requests++;
        if (ep >= 0) {
            account_bucket_epq(d->t, b)[ep]++;
            if (hb)
                account_bucket_epq(d->t, hb)[ep]++;
        }
        double reg_total = region_total(a);
        size_t n_rec = o->n_recs < DETECT_MAX_TX_RECORDS ? o->n_recs : DETECT_MAX_TX_RECORDS;
        for (size_t k = 0; k < n_rec; k++) {
            const struct detect_rec *r = &o->recs[k];
            if (k + PREFETCH_AHEAD < n_rec) {
                const struct detect_rec *p = &o->recs[k + PREFETCH_AHEAD];
                int pc = p->category < RULE_CAT_MAX ? d->cat_dense[p->category] : -1;
                if (pc >= 0)
                    sketch_prefetch(&b->cat[pc], p->fp);
            }
            if (r->category < RULE_CAT_MAX)
                tx_recs[r->category]++;
            n_hist = k + 1;
            int c = r->category < RULE_CAT_MAX ? d->cat_dense[r->category] : -1;
            int fresh = 1;
            if (c >= 0) {
                int sw = 0;
                int res = account_sketch_add(d->t, a, b, (unsigned)c, r->fp, &sw);
                if (res < 0)
                    d->st.obs_nomem++;
                fresh = res != 0;
                if (hb && account_sketch_add(d->t, a, hb, (unsigned)c, r->fp, &sw) < 0)
                    d->st.obs_nomem++;
                d->st.sketch_switches += (uint64_t)sw;
            }
            if (r->region && fresh) {
                int home = region_home_note(a, r->region, &reg_total);
                if (home >= 0) {
                    b->region_known++;
                    b->region_out += home == 0;
                    if (hb) {
                        hb->region_known++;
                        hb->region_out += home == 0;
                    }
                }
            }
        }
    }

    for (size_t k = n_hist; k < o->n_recs; k++)
        if (o->recs[k].category < RULE_CAT_MAX)
            tx_recs[o->recs[k].category]++;

    /* rings for enumeration and cadence */
    int en_pushed = 0, cad_pushed = 0;
    if (d->lay.enum_cap && o->waybill_query && account_enum_ring(d->t, a)) {
        a->en[a->en_head] = (struct account_enum_ent){o->waybill_query, o->ts_us};
        a->en_head = (a->en_head + 1) % d->lay.enum_cap;
        if (a->en_n < d->lay.enum_cap)
            a->en_n++;
        en_pushed = 1;
    }
    if (d->lay.cad_cap && account_cad_ring(d->t, a)) {
        a->cad[a->cad_head] = o->ts_us;
        a->cad_head = (a->cad_head + 1) % d->lay.cad_cap;
        if (a->cad_n < d->lay.cad_cap)
            a->cad_n++;
        cad_pushed = 1;
    }

    for (size_t i = 0; i < d->n_det; i++) {
        const struct detection *det = d->rt[i].d;
        if (!evaluate_allowed(d, det, o))
            continue;
        struct hit hit;
        memset(&hit, 0, HIT_ZEROED);
        int fired = 0;
        switch (det->type) {
        case DETECT_BULK_RESPONSE: fired = eval_bulk(d, i, o, tx_recs, &hit); break;
        case DETECT_VOLUME: fired = eval_volume(d, a, i, o, &hit); break;
        case DETECT_ANOMALY: fired = eval_anomaly(d, a, i, o, &hit); break;
        case DETECT_NEW_SOURCE: fired = eval_new_source(d, a, i, o, &hit); break;
        case DETECT_ENUMERATION: fired = eval_enum(d, a, i, o, &hit, en_pushed); break;
        case DETECT_OUT_OF_SCOPE: fired = eval_scope(d, a, i, o, &hit); break;
        case DETECT_CADENCE: fired = eval_cadence(d, a, i, o, &hit, cad_pushed); break;
        case DETECT_TYPE_MAX: break;
        }
        if (fired)
            episode_hit(d, a, i, o, &hit);
    }
    d->st.accounts_evicted += account_evict(d->t, a);
}

/* ---- tick: episodes, peers, saving ----------------------------------------- */

struct sweep_ctx {
    struct detect_engine *d;
    uint64_t now;
};

static void sweep_one(struct account *a, void *ud)
{
    struct sweep_ctx *c = ud;
    struct detect_engine *d = c->d;
    /* an idle account: learn its last hour while its minutes are still
     * there, then let go of what no window needs */
    uint32_t h = hour_of(c->now);
    if (h > a->cur_hour) {
        fold_hour(d, a);
        a->cur_hour = h;
    }
    account_trim(d->t, a, minute_of(c->now), c->now >= a->last_us + HOUR_US);
    for (size_t i = 0; i < d->n_det; i++) {
        struct account_episode *ep = &a->det[i].ep;
        if (ep->open && c->now >= ep->last_hit_us &&
            c->now - ep->last_hit_us >= d->rt[i].d->quiet_s * US) {
            ep->open = 0;
            d->st.episodes_open--;
        }
    }
}

struct pop_ctx {
    struct detect_engine *d;
    size_t i;
    double *vals, *sds;
    size_t n, n_sd, cap;
};

static void pop_one(struct account *a, void *ud)
{
    struct pop_ctx *c = ud;
    const struct det_rt *rt = &c->d->rt[c->i];
    const struct baseline *bl = &a->det[c->i].bl;
    if (rt->d->type == DETECT_OUT_OF_SCOPE) {
        double total, u = region_usual_out(a, &total);
        if (total >= (double)rt->d->min_records && c->n < c->cap)
            c->vals[c->n++] = u;
        return;
    }
    if (bl->n >= BASELINE_MIN_BUCKETS && c->n < c->cap)
        c->vals[c->n++] = bl->mu;
    if (bl->n >= BASELINE_EARLY_BUCKETS && c->n_sd < c->cap)
        c->sds[c->n_sd++] = sqrt(bl->var > 0 ? bl->var : 0);
}

static void compute_peers(struct detect_engine *d)
{
    size_t n = account_table_count(d->t);
    double *vals = n ? malloc(2 * n * sizeof(double)) : NULL;
    for (size_t i = 0; i < d->n_det; i++) {
        enum detect_type ty = d->rt[i].d->type;
        if (ty != DETECT_ANOMALY && ty != DETECT_OUT_OF_SCOPE)
            continue;
        struct pop_ctx c = {.d = d, .i = i, .vals = vals, .sds = vals ? vals + n : NULL,
                            .cap = vals ? n : 0};
        account_foreach(d->t, pop_one, &c);
        baseline_pop_compute(&d->rt[i].pop, vals, c.n);
        baseline_pop_spread(&d->rt[i].pop, c.sds, c.n_sd);
    }
    free(vals);
}

static void maybe_save(struct detect_engine *d, uint64_t now)
{
    if (!d->state_path)
        return;
    if (!d->last_save_us) {
        d->last_save_us = now;
        return;
    }
    if (now - d->last_save_us >= d->save_interval_s * US) {
        d->last_save_us = now;
        detect_save(d);
    }
}

void detect_tick(struct detect_engine *d, uint64_t now_us)
{
    if (!d)
        return;
    if (now_us > d->now_us)
        d->now_us = now_us;
    uint64_t now = d->now_us;
    uint64_t mnow = now / MIN_US;
    if (mnow != d->last_sweep_min) {
        d->last_sweep_min = mnow;
        struct sweep_ctx c = {d, now};
        account_foreach(d->t, sweep_one, &c);
    }
    uint64_t hnow = now / HOUR_US;
    if (hnow != d->last_pop_hour) {
        d->last_pop_hour = hnow;
        compute_peers(d);
    }
    maybe_save(d, now);
    d->st.accounts = account_table_count(d->t);
    d->st.accounts_memuse = account_table_memuse(d->t);
}

const struct detect_stats *detect_get_stats(const struct detect_engine *d)
{
    struct detect_engine *m = (struct detect_engine *)d;
    m->st.accounts = account_table_count(d->t);
    m->st.accounts_memuse = account_table_memuse(d->t);
    return &d->st;
}

int detect_account_alerted(const struct detect_engine *d, const char *account)
{
    if (!d || !account)
        return 0;
    struct account *a = account_find(d->t, account);
    if (!a)
        return 0;
    for (size_t i = 0; i < d->n_det; i++)
        if (a->det[i].ep.open)
            return 1;
    return 0;
}

int detect_account_baseline(const struct detect_engine *d, const char *account,
                            const char *detection, double *level, uint32_t *hours)
{
    struct account *a = d && account ? account_find(d->t, account) : NULL;
    if (!a || !detection)
        return -1;
    for (size_t i = 0; i < d->n_det; i++) {
        if (strcmp(d->rt[i].d->id, detection) != 0)
            continue;
        const struct baseline *bl = &a->det[i].bl;
        if (level)
            *level = d->rt[i].d->type == DETECT_OUT_OF_SCOPE ? bl->mu : baseline_level(bl);
        if (hours)
            *hours = bl->n;
        return 0;
    }
    return -1;
}

/* ---- state file ---------------------------------------------------------------- */

#define STATE_MAGIC2 0x4c484455u /* "LHDU": payload layout of this file (LHDT: before CUSUM) */

static void put_bucket(struct detect_engine *d, struct state_buf *b, struct account_bucket *k)
{
    state_put_u32(b, k->idx);
    state_put_u32(b, k->requests);
    state_put_u32(b, k->region_known);
    state_put_u32(b, k->region_out);
    state_put_u8(b, d->lay.n_cat);
    for (unsigned c = 0; c < d->lay.n_cat; c++) {
        state_put_u8(b, (uint8_t)d->cat_of[c]);
        size_t need = sketch_write(&k->cat[c], NULL, 0);
        uint8_t *p = state_put_space(b, need);
        if (p)
            sketch_write(&k->cat[c], p, need);
    }
    state_put_u8(b, d->lay.n_ep);
    uint32_t *epq = account_bucket_epq(d->t, k);
    for (unsigned e = 0; e < d->lay.n_ep; e++) {
        state_put_str(b, d->ep_id[e]);
        state_put_u32(b, epq[e]);
    }
}

struct save_ctx {
    struct detect_engine *d;
    struct state_buf *b;
};

static void save_account(struct account *a, void *ud)
{
    struct save_ctx *c = ud;
    struct detect_engine *d = c->d;
    struct state_buf *b = c->b;
    state_put_str(b, a->name);
    state_put_u64(b, a->first_us);
    state_put_u64(b, a->last_us);
    state_put_u32(b, a->cur_hour);
    state_put_u8(b, a->hour_alerted);
    state_put_u32(b, a->min_last);
    state_put_u8(b, a->n_src);
    for (int k = 0; k < a->n_src; k++) {
        state_put_bytes(b, a->src[k].addr.a, 16);
        state_put_u32(b, a->src[k].first_s);
        state_put_u32(b, a->src[k].last_s);
    }
    state_put_bytes(b, a->new_src.a, 16);
    state_put_u64(b, a->new_src_us);
    for (int r = 0; r < ACCOUNT_REGIONS; r++) {
        state_put_u16(b, a->reg[r].region);
        state_put_u32(b, a->reg[r].pending);
        state_put_f64(b, a->reg[r].w);
    }
    state_put_u32(b, a->reg_other_pending);
    state_put_f64(b, a->reg_other_w);
    state_put_u16(b, (uint16_t)d->n_det);
    for (size_t i = 0; i < d->n_det; i++) {
        const struct account_det *s = &a->det[i];
        state_put_str(b, d->rt[i].d->id);
        state_put_u64(b, s->ep.start_us);
        state_put_u64(b, s->ep.last_hit_us);
        state_put_u64(b, s->ep.last_count);
        state_put_u32(b, s->ep.alerts);
        state_put_u8(b, s->ep.open);
        state_put_u8(b, s->ep.severity);
        state_put_f64(b, s->bl.mu);
        state_put_f64(b, s->bl.var);
        state_put_u32(b, s->bl.n);
        state_put_f64(b, s->bl.cusum);
        for (int k = 0; k < BASELINE_TOD_SLOTS; k++) {
            state_put_u16(b, s->tod.mu[k]);
            state_put_u8(b, s->tod.n[k]);
        }
    }
    uint8_t nm = 0;
    for (int k = 0; k < ACCOUNT_MINUTES; k++)
        nm += a->min[k] != NULL;
    state_put_u8(b, nm);
    for (int k = 0; k < ACCOUNT_MINUTES; k++)
        if (a->min[k])
            put_bucket(d, b, a->min[k]);
    uint8_t nh = 0;
    for (unsigned k = 0; k < d->lay.hours; k++)
        nh += a->hr[k] != NULL;
    state_put_u8(b, nh);
    for (unsigned k = 0; k < d->lay.hours; k++)
        if (a->hr[k])
            put_bucket(d, b, a->hr[k]);
}

/* The state file's payload: the population baselines and every account. */
static void serialize(struct detect_engine *d, struct state_buf *bp)
{
    struct state_buf b = *bp;
    state_put_u32(&b, STATE_MAGIC2);
    state_put_u64(&b, d->now_us);
    state_put_u16(&b, (uint16_t)d->n_det);
    for (size_t i = 0; i < d->n_det; i++) {
        state_put_str(&b, d->rt[i].d->id);
        state_put_f64(&b, d->rt[i].pop.median);
        state_put_f64(&b, d->rt[i].pop.mad);
        state_put_u32(&b, d->rt[i].pop.n);
        state_put_f64(&b, d->rt[i].pop.sd);
        state_put_u32(&b, d->rt[i].pop.n_sd);
    }
    state_put_u64(&b, account_table_count(d->t));
    struct save_ctx c = {d, &b};
    account_foreach(d->t, save_account, &c);
    *bp = b;
}

int detect_save(struct detect_engine *d)
{
    if (!d || !d->state_path)
        return 0;
    struct state_buf b;
    state_buf_init(&b);
    serialize(d, &b);
    char err[512];
    int r = state_save(d->state_path, &b, err, sizeof err);
    state_buf_free(&b);
    if (r < 0) {
        d->st.state_save_errors++;
        if (!d->save_failing)
            fprintf(stderr, "leakhound: state file %s\n", err);
        d->save_failing = 1;
        return -1;
    }
    d->save_failing = 0;
    d->st.state_saves++;
    return 0;
}

static int det_by_id(struct detect_engine *d, const char *id)
{
    for (size_t i = 0; i < d->n_det; i++)
        if (strcmp(d->rt[i].d->id, id) == 0)
            return (int)i;
    return -1;
}

static void get_bucket(struct detect_engine *d, struct state_rd *r, struct account_table *t,
                       struct account *a, int hour)
{
    uint32_t idx = state_get_u32(r);
    if (r->bad)
        return;
    struct account_bucket *k =
        hour ? account_hour(t, a, idx) : account_minute(t, a, idx);
    if (!k) {
        r->bad = 1;
        return;
    }
    k->requests = state_get_u32(r);
    k->region_known = state_get_u32(r);
    k->region_out = state_get_u32(r);
    uint8_t nc = state_get_u8(r);
    for (unsigned c = 0; c < nc && !r->bad; c++) {
        uint8_t cat = state_get_u8(r);
        struct sketch tmp;
        sketch_init(&tmp);
        size_t used = sketch_read(&tmp, r->p + r->pos, r->len - r->pos);
        if (!used || cat >= RULE_CAT_MAX) {
            sketch_reset(&tmp);
            r->bad = 1;
            return;
        }
        r->pos += used;
        int dc = d->cat_dense[cat];
        if (dc >= 0) {
            sketch_reset(&k->cat[dc]);
            k->cat[dc] = tmp;
            account_charge(t, a, (int64_t)sketch_mem(&tmp));
        } else {
            sketch_reset(&tmp); /* a category no detection counts any more */
        }
    }
    uint8_t ne = state_get_u8(r);
    for (unsigned e = 0; e < ne && !r->bad; e++) {
        char id[256];
        state_get_str(r, id, sizeof id);
        uint32_t v = state_get_u32(r);
        for (unsigned j = 0; j < d->lay.n_ep; j++)
            if (d->ep_id[j] && strcmp(d->ep_id[j], id) == 0)
                account_bucket_epq(t, k)[j] = v;
    }
}

/* Parses a payload into a fresh table; 0, or -1 with why. */
static int load_payload(struct detect_engine *d, const uint8_t *p, size_t len,
                        struct account_table **out, char *why, size_t whylen)
{
    struct state_rd r = {.p = p, .len = len};
    *out = NULL;
    if (state_get_u32(&r) != STATE_MAGIC2) {
        snprintf(why, whylen, "unknown payload layout");
        return -1;
    }
    uint64_t now = state_get_u64(&r);
    uint16_t nd = state_get_u16(&r);
    struct baseline_pop pops[DETECT_MAX_DETECTIONS];
    memset(pops, 0, sizeof pops);
    for (unsigned i = 0; i < nd && !r.bad; i++) {
        char id[128];
        state_get_str(&r, id, sizeof id);
        struct baseline_pop pp;
        pp.median = state_get_f64(&r);
        pp.mad = state_get_f64(&r);
        pp.n = state_get_u32(&r);
        pp.sd = state_get_f64(&r);
        pp.n_sd = state_get_u32(&r);
        if (!isfinite(pp.median) || !isfinite(pp.mad) || !isfinite(pp.sd))
            r.bad = 1;
        int k = det_by_id(d, id);
        if (k >= 0)
            pops[k] = pp;
    }
    uint64_t na = state_get_u64(&r);
    struct account_table *t = account_table_new(&d->lay, d->memcap);
    if (!t) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (uint64_t n = 0; n < na && !r.bad; n++) {
        char name[ACCOUNT_NAME_MAX];
        state_get_str(&r, name, sizeof name);
        if (r.bad || !name[0]) {
            r.bad = 1;
            break;
        }
        int cut;
        struct account *a = account_get(t, name, 0, &cut);
        if (!a) {
            r.bad = 1;
            break;
        }
        a->first_us = state_get_u64(&r);
        a->last_us = state_get_u64(&r);
        a->cur_hour = state_get_u32(&r);
        a->hour_alerted = state_get_u8(&r);
        a->min_last = state_get_u32(&r);
        a->n_src = state_get_u8(&r);
        if (a->n_src > ACCOUNT_SRC_MAX) {
            r.bad = 1;
            break;
        }
        for (int k = 0; k < a->n_src; k++) {
            const uint8_t *ab = state_get_bytes(&r, 16);
            if (ab)
                memcpy(a->src[k].addr.a, ab, 16);
            a->src[k].first_s = state_get_u32(&r);
            a->src[k].last_s = state_get_u32(&r);
        }
        const uint8_t *nb = state_get_bytes(&r, 16);
        if (nb)
            memcpy(a->new_src.a, nb, 16);
        a->new_src_us = state_get_u64(&r);
        for (int k = 0; k < ACCOUNT_REGIONS; k++) {
            a->reg[k].region = state_get_u16(&r);
            a->reg[k].pending = state_get_u32(&r);
            a->reg[k].w = state_get_f64(&r);
            if (!(a->reg[k].w >= 0 && a->reg[k].w < 1e300))
                r.bad = 1;
        }
        a->reg_other_pending = state_get_u32(&r);
        a->reg_other_w = state_get_f64(&r);
        if (!(a->reg_other_w >= 0 && a->reg_other_w < 1e300))
            r.bad = 1;
        uint16_t ndet = state_get_u16(&r);
        for (unsigned i = 0; i < ndet && !r.bad; i++) {
            char id[128];
            state_get_str(&r, id, sizeof id);
            struct account_det s;
            memset(&s, 0, sizeof s);
            s.ep.start_us = state_get_u64(&r);
            s.ep.last_hit_us = state_get_u64(&r);
            s.ep.last_count = state_get_u64(&r);
            s.ep.alerts = state_get_u32(&r);
            s.ep.open = state_get_u8(&r);
            s.ep.severity = state_get_u8(&r);
            s.bl.mu = state_get_f64(&r);
            s.bl.var = state_get_f64(&r);
            s.bl.n = state_get_u32(&r);
            s.bl.cusum = state_get_f64(&r);
            for (int k = 0; k < BASELINE_TOD_SLOTS; k++) {
                s.tod.mu[k] = state_get_u16(&r);
                s.tod.n[k] = state_get_u8(&r);
            }
            if (!isfinite(s.bl.mu) || !isfinite(s.bl.var) || !isfinite(s.bl.cusum) ||
                s.ep.open > 1) {
                r.bad = 1;
                break;
            }
            int k = det_by_id(d, id);
            if (k >= 0)
                a->det[k] = s;
        }
        uint8_t nm = state_get_u8(&r);
        for (unsigned k = 0; k < nm && !r.bad; k++)
            get_bucket(d, &r, t, a, 0);
        uint8_t nh = state_get_u8(&r);
        for (unsigned k = 0; k < nh && !r.bad; k++) {
            if (d->lay.hours) {
                get_bucket(d, &r, t, a, 1);
            } else { /* hour buckets no window needs any more: read into a throwaway */
                struct account_layout l2 = d->lay;
                l2.hours = 1;
                struct account_table *tt = account_table_new(&l2, UINT64_MAX);
                struct account *ta = tt ? account_get(tt, "x", 0, &cut) : NULL;
                if (!ta)
                    r.bad = 1;
                else
                    get_bucket(d, &r, tt, ta, 1);
                account_table_free(tt);
            }
        }
    }
    if (r.bad || r.pos != r.len) {
        account_table_free(t);
        snprintf(why, whylen, "malformed at byte %zu of %zu", r.pos, r.len);
        return -1;
    }
    for (size_t i = 0; i < d->n_det; i++)
        d->rt[i].pop = pops[i];
    if (now > d->now_us)
        d->now_us = now;
    *out = t;
    return 0;
}

static void count_open(struct account *a, void *ud)
{
    struct detect_engine *d = ud;
    for (size_t i = 0; i < d->n_det; i++)
        d->st.episodes_open += a->det[i].ep.open;
}

static void load_state(struct detect_engine *d)
{
    uint8_t *p;
    size_t len;
    char err[512];
    int r = state_load(d->state_path, &p, &len, err, sizeof err);
    if (r == -ENOENT) {
        fprintf(stderr, "leakhound: state file %s does not exist yet; starting fresh\n",
                d->state_path);
        return;
    }
    if (r < 0) {
        d->st.state_load_errors++;
        fprintf(stderr, "leakhound: state file %s; starting fresh\n", err);
        return;
    }
    struct account_table *t;
    char why[128];
    if (load_payload(d, p, len, &t, why, sizeof why) < 0) {
        d->st.state_load_errors++;
        fprintf(stderr, "leakhound: state file %s: %s; starting fresh\n", d->state_path, why);
        free(p);
        return;
    }
    free(p);
    struct account_table *old = d->t;
    d->t = t;
    account_table_free(old);
    /* a file written under a larger memcap loses its least recently active accounts */
    d->st.accounts_evicted += account_evict(d->t, NULL);
}

/* ---- lifetime ------------------------------------------------------------------- */

struct detect_engine *detect_new(const struct detect_config *cfg, struct eve *eve, char *err,
                                 size_t errlen)
{
    struct detect_engine *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->eve = eve;
    d->rules = cfg->rules;
    d->save_interval_s = cfg->save_interval_s ? cfg->save_interval_s : 300;
    d->evidence = cfg->evidence;
    d->evidence_ud = cfg->evidence_ud;
    d->new_source = -1;
    d->new_source_learn_s = 7 * 86400;
    for (int c = 0; c < RULE_CAT_MAX; c++)
        d->cat_dense[c] = -1;
    uint64_t memcap = cfg->memcap ? cfg->memcap : 512ull << 20;
    d->memcap = memcap;
    uint32_t max_win = 0, enum_cap = 0, cad_cap = 0, cats = 0;
    const struct detect_rules *R = cfg->rules;
    for (size_t i = 0; R && i < R->n && d->n_det < DETECT_MAX_DETECTIONS; i++) {
        const struct detection *det = &R->d[i];
        struct det_rt *rt = &d->rt[d->n_det++];
        rt->d = det;
        rt->ep = -1;
        rt->win_min = det->window_s / 60;
        if (det->type == DETECT_VOLUME || det->type == DETECT_ANOMALY) {
            if (!det->endpoint_id)
                cats |= det->categories;
            if (det->window_s > max_win)
                max_win = det->window_s;
            if (det->endpoint_id && det->endpoint >= 0) {
                unsigned k;
                for (k = 0; k < d->lay.n_ep; k++)
                    if (d->ep_index[k] == det->endpoint)
                        break;
                if (k == d->lay.n_ep && k < ACCOUNT_MAX_EP) {
                    d->ep_index[k] = det->endpoint;
                    d->ep_id[k] = det->endpoint_id;
                    d->lay.n_ep++;
                }
                rt->ep = k < d->lay.n_ep ? (int)k : -1;
            }
        }
        if (det->type == DETECT_OUT_OF_SCOPE && det->window_s > max_win)
            max_win = det->window_s;
        if (det->type == DETECT_ENUMERATION && det->min_queries * 2 > enum_cap)
            enum_cap = det->min_queries * 2;
        if (det->type == DETECT_CADENCE && det->min_requests + 1 > cad_cap)
            cad_cap = det->min_requests + 1;
        if (det->type == DETECT_NEW_SOURCE && d->new_source < 0) {
            d->new_source = (int)(d->n_det - 1);
            d->new_source_learn_s = det->learn_s;
        }
    }
    for (int c = 0; c < RULE_CAT_MAX; c++)
        if (cats & (1u << c)) {
            d->cat_dense[c] = d->lay.n_cat;
            d->cat_of[d->lay.n_cat++] = c;
        }
    /* detections name rule categories; the engine counts dense ones */
    for (size_t i = 0; i < d->n_det; i++) {
        struct det_rt *rt = &d->rt[i];
        if ((rt->d->type == DETECT_VOLUME || rt->d->type == DETECT_ANOMALY) && !rt->d->endpoint_id)
            for (int c = 0; c < RULE_CAT_MAX; c++)
                if (rt->d->categories & (1u << c))
                    rt->cats |= 1u << d->cat_dense[c];
    }
    d->lay.n_det = (uint16_t)d->n_det;
    d->lay.hours = max_win > 3600 ? (uint16_t)((max_win + 3599) / 3600) : 0;
    d->lay.enum_cap = (uint16_t)(enum_cap > 1024 ? 1024 : enum_cap);
    d->lay.cad_cap = (uint16_t)cad_cap;
    d->t = account_table_new(&d->lay, memcap);
    if (!d->t) {
        snprintf(err, errlen, "out of memory");
        free(d);
        return NULL;
    }
    if (cfg->state_file) {
        d->state_path = strdup(cfg->state_file);
        if (!d->state_path) {
            snprintf(err, errlen, "out of memory");
            detect_free(d);
            return NULL;
        }
        load_state(d);
        account_foreach(d->t, count_open, d);
    }
    return d;
}

int detect_reload(struct detect_engine *d, const struct detect_rules *rules, char *err,
                  size_t errlen)
{
    if (!d)
        return 0;
    /* a fresh engine for the new list, then every account carried over the
     * way a state file is read back: by detection id, so what stayed keeps
     * its baselines and open episodes, what is new starts learning, what
     * went is dropped, and the windows' buckets are rebuilt to the new
     * layout. Nothing is written to disk. */
    struct detect_config cfg = {rules, d->memcap, NULL, d->save_interval_s, d->evidence,
                                d->evidence_ud};
    struct detect_engine *n = detect_new(&cfg, d->eve, err, errlen);
    if (!n)
        return -1;
    struct state_buf b;
    state_buf_init(&b);
    serialize(d, &b);
    struct account_table *t = NULL;
    char why[128];
    if (b.oom || load_payload(n, b.p, b.len, &t, why, sizeof why) < 0) {
        snprintf(err, errlen, "cannot carry the accounts over: %s",
                 b.oom ? "out of memory" : why);
        state_buf_free(&b);
        detect_free(n);
        return -1;
    }
    state_buf_free(&b);
    account_table_free(n->t);
    n->t = t;
    n->st = d->st;
    n->st.accounts_evicted += account_evict(n->t, NULL);
    n->st.episodes_open = 0;
    account_foreach(n->t, count_open, n);
    n->now_us = d->now_us > n->now_us ? d->now_us : n->now_us;
    n->last_save_us = d->last_save_us;
    n->last_sweep_min = d->last_sweep_min;
    n->last_pop_hour = d->last_pop_hour;
    n->save_failing = d->save_failing;
    n->state_path = d->state_path; /* moves over: the old engine must not save */
    d->state_path = NULL;
    struct detect_engine old = *d;
    *d = *n;
    *n = old;
    detect_free(n);
    return 0;
}

void detect_free(struct detect_engine *d)
{
    if (!d)
        return;
    if (d->state_path)
        detect_save(d);
    account_table_free(d->t);
    sketch_reset(&d->scratch);
    free(d->state_path);
    free(d);
}
