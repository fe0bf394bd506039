/* worker.c - one packet through decode, flow, nDPI, reassembly and matching.
 *
 * Owns the per-thread objects (decoder, flow table, reassembly context, nDPI
 * module, Hyperscan scratch) and the per-flow struct session hung on
 * flow->user: nDPI state, the two reassembly streams, the matcher streams and
 * the records found so far. A session is allocated with its flow and freed by
 * the flow's end callback, which also writes the flow event. The session is
 * small (the flow table charges its size with the flow); what only some flows
 * grow (nDPI's state while it decides, matcher streams, record sets and their
 * samples, the evidence account) is allocated when first needed and charged
 * to the flow table as it comes and goes (flow_table_charge), so the flow
 * memcap bounds it: a SYN flood costs the flow, the session and a held
 * handshake packet per flow.
 *
 * What is scanned: the in-order byte stream of each direction of a TCP flow,
 * unless the flow opens like TLS or nDPI names it encrypted (its bytes are
 * still counted). Records are deduplicated per flow direction by a keyed
 * 64-bit fingerprint, in a table of dedup_cap entries; past the cap, new
 * records still count (counted as dedup_overflow in stats, so a count may
 * then be high, never low).
 *
 * Two ways in. worker_packet() is the whole path on one thread: it decodes,
 * keeps its own packet-time clock and hands transactions straight to the
 * detection engine (tests, fuzzing). Under the pipeline (pipeline.c) the
 * reader decodes and keeps the clock: worker_decoded() takes a decoded
 * packet, worker_tick() the reader's ticks, worker_flush() the end, each
 * with the sequence number the reader gave it; finished transactions go to
 * the pipeline's observation sink with the key (seq, flow_id, tx index) that
 * orders them for the engine, and event writes take the pipeline's lock. */
#include "sensor/worker.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/eve.h"
#include "output/evidence.h"
#include "parsers/http.h"
#include "parsers/charset.h"
#include "parsers/identity.h"
#include "parsers/zip.h"
#include "rules/detect.h"
#include "rules/endpoint.h"
#include "rules/region.h"
#include "output/fingerprint.h"
#include "output/mask.h"
#include "rules/match.h"
#include "rules/rulegen.h"
#include "rules/ruleset.h"
#include "sensor/dpi.h"

#define SAMPLE_LEN 64
#define MAX_SAMPLES_CAP 8
#define CLEAN_SLOTS 256     /* strings known to hold no record (redact), per worker */
#define CLEAN_MAX_LEN 240   /* the longest string kept there */
/* struct match_stats is all counters: the redactor's cache adds them up as arrays */
#define MATCH_STATS_N (sizeof(struct match_stats) / sizeof(uint64_t))
_Static_assert(sizeof(struct match_stats) % sizeof(uint64_t) == 0, "match_stats: uint64_t only");
#define ACCOUNT_LEN (IDENTITY_MAX * 2)
#define TX_POOL 16          /* finished transactions' states kept for the next ones */
#define TX_POOL_SEEN 256    /* ... with their record set, while it is this small (it is
                             * cleared for the next: 2 KiB) */

enum session_mode {
    MODE_UNDECIDED = 0,
    MODE_RAW,       /* scan the stream as it is */
    MODE_HTTP,      /* parse HTTP; scan request targets and decoded bodies */
    MODE_SKIP,      /* encrypted: count bytes only */
};

/* Records found in one direction of a flow. */
struct recset {
    uint64_t count[RULE_CAT_MAX];
    uint64_t *seen;  /* open addressing set of keyed fingerprints, 0 = empty */
    uint32_t seen_n, seen_cap;
    uint8_t n_samples, cap_samples;
    char (*samples)[SAMPLE_LEN]; /* allocated with the first sample */
    struct fpent {
        uint8_t category;
        char s[FINGERPRINT_STR_LEN];
    } *fps;               /* the first max_fingerprints records' fingerprints */
    uint32_t n_fps, cap_fps;
};

struct session;

struct dirctx {
    struct worker *w;
    struct session *s;
    uint8_t dir;
};

/* Where a record goes: a transaction's set (NULL for raw streams) and the
 * flow direction's set (made with its first record). */
struct recctx {
    struct worker *w;
    struct recset *tx;
    struct recset **flow;
    struct txstate *t; /* the transaction, for the detection's record list */
};

/* Where what a body decodes to (a ZIP's members, a GBK body's UTF-8) goes:
 * the transaction's matcher stream for that direction. */
struct bodyctx {
    struct worker *w;
    struct txstate *t;
    uint8_t dir;
};

/* Per HTTP transaction (tx->user). */
struct txstate {
    struct recset rec;
    struct recctx rc[2];
    struct match_stream *ms[2];
    struct zip *zip[2];      /* a body that is a ZIP archive: its members are scanned */
    struct bodyctx bc[2];
    struct charset_carry carry[2]; /* a GBK body: a character cut by a piece's end */
    uint8_t gb[2];           /* a GBK/GB18030 body: read as UTF-8 */
    uint8_t body_seen[2];    /* the body's first bytes were looked at */
    uint8_t keep_answer;     /* a login whose answer's JSON gives a session token */
    uint64_t pcap_cnt;   /* packet that completed the request head */
    uint32_t file_idx;
    int endpoint;        /* the request's endpoint index, -1 none */
    uint8_t *reqbody;    /* first bytes of the request body, for form/JSON identity */
    uint32_t reqbody_len;
    uint8_t *ansbody;    /* a login answer's first bytes, for a session token in its JSON */
    uint32_t ansbody_len;
    struct detect_rec *drec; /* distinct records for the detection engine */
    uint32_t n_drec, cap_drec;
    uint8_t gen;         /* the rules' slot (struct wgen) the transaction began under */
    char url[1024];      /* request target, records masked */
};

struct session {
    struct flow *flow;
    uint32_t bucket; /* packet.pair_bucket, counted in pair_live */
    struct http_parser *http;
    struct recctx rc[2];
    uint8_t probe_len[2];
    uint8_t probe[2][16]; /* first bytes held until HTTP or not can be told */
    struct dpi_flow *dpi;
    struct dpi_result dres;
    uint8_t mode;
    struct reasm_stream rs[2];
    struct dirctx dctx[2];
    struct match_stream *ms[2];
    uint32_t ms_cost[2]; /* bytes of ms[d] charged to the flow table */
    uint8_t gen;      /* raw streams: the rules' slot they were opened on */
    uint8_t gen_held; /* ... and whether the session holds it */
    struct recset *rec[2]; /* made with the direction's first record */
    /* evidence: the account the flow's last transaction named (allocated
     * with the first, ACCOUNT_LEN), and whether its packets are being kept
     * (re-checked when the generation changes) */
    char *account;
    uint64_t ev_gen;
    uint8_t ev_on;
};

/* A generation of the rules as one worker uses it. The slot is held by the
 * worker while it is current and by every transaction and raw-streaming
 * session that began under it; it is let go when the last one ends. */
struct wgen {
    struct rulegen *g;               /* NULL: the slot is free */
    struct identity_ctx *ident;      /* identity sources of these rules */
    struct endpoint_scratch *eps;
    uint32_t users;
};

struct worker {
    uint32_t *pair_live; /* worker_shared.pair_live */
    struct worker_config cfg;
    /* the current generation's, for the paths that start something new */
    const struct match_db *db;
    const struct ruleset *rs;
    const struct endpoint_db *epdb;
    struct endpoint_scratch *epscratch;
    struct identity_ctx *ident;
    int ident_body;
    struct wgen gens[WORKER_GENERATIONS];
    uint8_t cur;                     /* slot of the current generation */
    struct rulegen *pending;         /* a reload waiting for a free slot */
    struct identity_stats ident_gone; /* counters of the identity contexts let go */
    struct identity_sessions *sessions;
    struct identity_sessions *own_sessions; /* a lone worker's, freed with it */
    const struct fingerprint_key *fpkey;
    struct eve *eve;
    struct capture *capture;
    struct evidence *evidence;
    struct detect_engine *detect;
    struct decoder *dec;
    struct flow_table *ft;
    struct reasm_ctx *reasm;
    struct dpi *dpi;
    struct match_scratch *scratch;
    struct charset *cs;   /* GBK bodies to UTF-8, made at the first */
    struct http_config http_cfg;
    struct http_stats http_st;
    struct worker_counters st;
    uint64_t pcap_cnt;     /* current packet */
    uint32_t file_idx;
    uint64_t now_us;       /* latest packet time */
    uint64_t tick_sec;     /* worker_packet: second of packet time of the last tick */
    uint64_t next_stats_us;
    uint64_t emit_seq;     /* pipeline: sequence number of the record in hand */
    worker_obs_fn obs_fn;  /* pipeline: where transactions go, or NULL */
    void *obs_ud;
    pthread_mutex_t *eve_lock; /* pipeline: taken around event writes, or NULL */
    /* redact(): header values seen again and again (Host, User-Agent,
     * Content-Type, an account name) that held no record under the current
     * rules (clean_epoch, advanced when the rules change) are not scanned
     * again; direct-mapped by a hash of the string, which is kept whole */
    struct clean_str {
        uint64_t h;
        uint32_t epoch;
        uint32_t len;
        uint32_t st[MATCH_STATS_N]; /* what its scan added to the matcher's stats */
        char s[CLEAN_MAX_LEN];
    } clean[CLEAN_SLOTS];
    uint32_t clean_epoch;
    uint64_t clean_st[MATCH_STATS_N]; /* added again for each string not rescanned */
    /* finished transactions' states with their arrays (record set, samples,
     * fingerprints, detection records, request body), reused by the next
     * ones: a transaction then grows nothing its predecessor already grew.
     * Not charged to the session budget or the flow table while idle: at
     * most TX_POOL states, their arrays bounded (TX_POOL_SEEN) */
    struct txstate *tx_pool[TX_POOL];
    uint32_t n_tx_pool;
};

static void eve_lock(struct worker *w)
{
    if (w->eve_lock)
        pthread_mutex_lock(w->eve_lock);
}

static void eve_unlock(struct worker *w)
{
    if (w->eve_lock)
        pthread_mutex_unlock(w->eve_lock);
}

void worker_config_default(struct worker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    decode_config_default(&cfg->decode);
    flow_config_default(&cfg->flow);
    reasm_config_default(&cfg->reasm);
    cfg->stats_interval_s = 60;
    cfg->max_samples = 3;
    cfg->max_fingerprints = 8;
    cfg->dedup_cap = 65536;
    cfg->match_raw_streams = 1;
    cfg->session_cap = 100000;
    cfg->identity_body_max = 16384;
}

/* ---- records ------------------------------------------------------------ */

/* What sessions grow after they are created answers to one budget per
 * worker (session_memcap): every growth takes from it first, every free
 * gives back. Returns 1 when the bytes were granted. */
static int budget_take(struct worker *w, uint64_t bytes)
{
    if (w->st.session_memuse + bytes > w->cfg.session_memcap) {
        w->st.session_memcap_hit++;
        return 0;
    }
    w->st.session_memuse += bytes;
    return 1;
}

static void budget_give(struct worker *w, uint64_t bytes)
{
    w->st.session_memuse -= bytes;
}

/* ---- rule generations ---------------------------------------------------- */

/* The counters an identity context keeps itself (not its session table's). */
static void ident_add(struct identity_stats *sum, const struct identity_stats *a)
{
    for (int k = 0; k < IDENT_KIND_MAX; k++)
        sum->resolved[k] += a->resolved[k];
    sum->unresolved += a->unresolved;
    sum->jwt_malformed += a->jwt_malformed;
    sum->basic_malformed += a->basic_malformed;
    sum->json_malformed += a->json_malformed;
}

/* Points the worker's current-rules shortcuts at slot i. */
static void gen_adopt(struct worker *w, uint8_t i)
{
    struct wgen *sl = &w->gens[i];
    w->cur = i;
    w->clean_epoch++; /* what was clean under the old rules may not be now */
    w->db = sl->g ? sl->g->db : NULL;
    w->rs = sl->g ? sl->g->rs : NULL;
    w->epdb = sl->g ? sl->g->epdb : NULL;
    w->epscratch = sl->eps;
    w->ident = sl->ident;
    w->ident_body = identity_wants_body(sl->ident);
}

static void gen_clear(struct worker *w, struct wgen *sl)
{
    if (sl->ident) {
        ident_add(&w->ident_gone, identity_get_stats(sl->ident));
        identity_free(sl->ident);
    }
    endpoint_scratch_free(sl->eps);
    if (sl->g)
        match_scratch_forget_db(w->scratch, sl->g->db); /* before the database can go */
    rulegen_unref(sl->g);
    memset(sl, 0, sizeof(*sl));
}

/* Fills a free slot with g (whose reference it takes over, also on failure). */
static int gen_fill(struct worker *w, struct wgen *sl, struct rulegen *g)
{
    const struct api_rules *api = g ? &g->rs->api : NULL;
    sl->g = g;
    sl->users = 0;
    sl->ident = identity_new_shared(api, w->sessions);
    if (!sl->ident || (g && g->epdb && !(sl->eps = endpoint_scratch_new(g->epdb)))) {
        gen_clear(w, sl);
        return -1;
    }
    return 0;
}

/* A transaction or a raw-streaming session begins: it holds the current slot. */
static uint8_t gen_get(struct worker *w)
{
    w->gens[w->cur].users++;
    return w->cur;
}

static void gen_put(struct worker *w, uint8_t i)
{
    struct wgen *sl = &w->gens[i];
    if (--sl->users == 0 && i != w->cur) {
        gen_clear(w, sl);
        w->st.rules_old_serving--;
    }
}

static void on_record(void *ud, const struct record *rec);

/* Closes the raw matcher stream of direction d (records ending there count
 * when deliver) and gives its bytes back to the flow table. */
static void raw_stream_close(struct worker *w, struct session *s, int d, int deliver)
{
    match_stream_close(s->ms[d], w->scratch, deliver ? on_record : NULL,
                       deliver ? &s->rc[d] : NULL);
    s->ms[d] = NULL;
    flow_table_charge(w->ft, -(int64_t)s->ms_cost[d]);
    s->ms_cost[d] = 0;
}

static void cut_raw(struct flow *f, void *ud)
{
    struct worker *w = ud;
    struct session *s = f->user;
    if (!s || !s->gen_held || s->gen == w->cur)
        return;
    for (int d = 0; d < 2; d++)
        if (s->ms[d]) {
            /* values ending here still count; one split by the cut is lost */
            raw_stream_close(w, s, d, 1);
            w->st.rules_streams_cut++;
        }
    s->gen_held = 0;
    gen_put(w, s->gen); /* the next bytes open a stream on the current rules */
}

/* Makes the pending generation current if a slot is free (after cutting
 * raw streams over when none is). Returns 1 when it was taken. */
static int gen_try_pending(struct worker *w)
{
    struct rulegen *g = w->pending;
    int free_slot = -1;
    for (int pass = 0; pass < 2 && free_slot < 0; pass++) {
        if (pass)
            flow_table_foreach(w->ft, cut_raw, w);
        for (int i = 0; i < WORKER_GENERATIONS && free_slot < 0; i++)
            if (!w->gens[i].g && !w->gens[i].ident)
                free_slot = i;
    }
    if (free_slot < 0)
        return 0;
    w->pending = NULL;
    /* one scratch serves every generation's streams */
    int ok = w->scratch ? match_scratch_add_db(w->scratch, g->db) == 0
                        : (w->scratch = match_scratch_new(g->db)) != NULL;
    if (!ok) {
        rulegen_unref(g);
        w->st.rules_failed++; /* the old rules stay */
        return 1;
    }
    if (gen_fill(w, &w->gens[free_slot], g) != 0) {
        w->st.rules_failed++;
        return 1;
    }
    uint8_t old = w->cur;
    gen_adopt(w, (uint8_t)free_slot);
    if (w->gens[old].users == 0)
        gen_clear(w, &w->gens[old]);
    else
        w->st.rules_old_serving++;
    return 1;
}

void worker_set_rules(struct worker *w, struct rulegen *g)
{
    if (!g)
        return;
    if (w->pending) { /* a newer reload replaces one still waiting */
        rulegen_unref(w->pending);
        w->pending = NULL;
    }
    w->pending = g;
    if (!gen_try_pending(w))
        w->st.rules_deferred++;
}

/* Doubles the array *arr of *cap elements (first: the first capacity),
 * charged to the session budget. Returns 1, or 0 (nothing changed) when the
 * budget or memory says no. */
static int budget_grow(struct worker *w, void **arr, uint32_t *cap, size_t elem, uint32_t first)
{
    uint32_t ncap = *cap ? *cap * 2 : first;
    uint64_t more = (uint64_t)(ncap - *cap) * elem;
    if (!budget_take(w, more))
        return 0;
    void *n = realloc(*arr, (size_t)ncap * elem);
    if (!n) {
        budget_give(w, more);
        return 0;
    }
    *arr = n;
    *cap = ncap;
    return 1;
}

/* Makes room in r's set: doubles it (first 64), charged to the session
 * budget. Returns 0 when it cannot grow (cap, budget or memory: counted). */
static int recset_grow(struct worker *w, struct recset *r)
{
    uint32_t ncap = r->seen_cap ? r->seen_cap * 2 : 64;
    if (ncap / 2 > w->cfg.dedup_cap || ncap < r->seen_cap) {
        w->st.dedup_overflow++;
        return 0;
    }
    if (!budget_take(w, (uint64_t)ncap * sizeof(uint64_t))) {
        w->st.dedup_overflow++;
        return 0;
    }
    uint64_t *n = calloc(ncap, sizeof(*n));
    if (!n) {
        budget_give(w, (uint64_t)ncap * sizeof(uint64_t));
        w->st.dedup_overflow++;
        return 0;
    }
    for (uint32_t i = 0; i < r->seen_cap; i++) {
        if (!r->seen[i])
            continue;
        uint32_t j = (uint32_t)r->seen[i] & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = r->seen[i];
    }
    free(r->seen);
    budget_give(w, (uint64_t)r->seen_cap * sizeof(uint64_t));
    r->seen = n;
    r->seen_cap = ncap;
    return 1;
}

/* Adds h to the set; returns 1 when it was new, 0 when it was there. The
 * set doubles up to the cap; past it every record counts as new (overflow
 * is counted) and 2 says it was not kept. */
static inline int recset_add(struct worker *w, struct recset *r, uint64_t h)
{
    if (h == 0)
        h = 1;
    if (__builtin_expect(r->seen_n * 2 >= r->seen_cap, 0) && !recset_grow(w, r))
        return 2;
    uint32_t mask = r->seen_cap - 1;
    uint32_t j = (uint32_t)h & mask;
    while (r->seen[j]) {
        if (r->seen[j] == h)
            return 0;
        j = (j + 1) & mask;
    }
    r->seen[j] = h;
    r->seen_n++;
    return 1;
}

/* One record's masked sample and keyed fingerprint, each made at most once
 * however many sets (flow direction, transaction) keep it. */
struct recdesc {
    uint8_t have_sample, have_fp;
    char sample[SAMPLE_LEN];
    char fp[FINGERPRINT_STR_LEN];
};

static void recset_record(struct worker *w, struct recset *r, const struct record *rec,
                          struct recdesc *d)
{
    if (rec->category < RULE_CAT_MAX)
        r->count[rec->category]++;
    if (r->n_samples < w->cfg.max_samples && r->n_samples < MAX_SAMPLES_CAP) {
        if (!r->samples) {
            /* charged to the flow table: a sample array per set that found
             * something, never refused (only malloc can say no) */
            uint32_t n = w->cfg.max_samples < MAX_SAMPLES_CAP ? w->cfg.max_samples
                                                              : MAX_SAMPLES_CAP;
            r->samples = malloc((size_t)n * SAMPLE_LEN);
            if (r->samples) {
                r->cap_samples = (uint8_t)n;
                flow_table_charge(w->ft, (int64_t)n * SAMPLE_LEN);
            }
        }
        if (r->samples) {
            if (!d->have_sample) {
                const struct rule_pattern *pat = rec->rule;
                mask_value(pat->mask, pat->keep_first, pat->keep_last, rec->value, rec->len,
                           d->sample, SAMPLE_LEN);
                d->have_sample = 1;
            }
            memcpy(r->samples[r->n_samples], d->sample, strnlen(d->sample, SAMPLE_LEN - 1) + 1);
            r->n_samples++;
        }
    }
    if (r->n_fps < w->cfg.max_fingerprints) {
        if (r->n_fps == r->cap_fps &&
            !budget_grow(w, (void **)&r->fps, &r->cap_fps, sizeof(*r->fps), 4))
            return;
        r->fps[r->n_fps].category = rec->category;
        if (!d->have_fp) {
            fingerprint_record(w->fpkey, rec->category, rec->value, rec->len, d->fp);
            d->have_fp = 1;
        }
        memcpy(r->fps[r->n_fps].s, d->fp, sizeof(d->fp));
        r->n_fps++;
    }
}

static void on_record(void *ud, const struct record *rec)
{
    struct recctx *rc = ud;
    struct worker *w = rc->w;
    uint64_t h = fingerprint_record64(w->fpkey, rec->category, rec->value, rec->len);
    struct recdesc d;
    d.have_sample = d.have_fp = 0;
    struct recset *fs = *rc->flow;
    if (!fs && (fs = *rc->flow = calloc(1, sizeof(*fs))))
        flow_table_charge(w->ft, sizeof(*fs)); /* most flows never find a record */
    int added = fs ? recset_add(w, fs, h) : 0;
    if (added) {
        recset_record(w, fs, rec, &d);
        w->st.records += added == 1; /* distinct: kept in the set */
    }
    if (!rc->tx || !(added = recset_add(w, rc->tx, h)))
        return;
    recset_record(w, rc->tx, rec, &d);
    struct txstate *t = rc->t;
    if (w->detect && added == 1 && t->n_drec < DETECT_MAX_TX_RECORDS) {
        if (t->n_drec == t->cap_drec &&
            !budget_grow(w, (void **)&t->drec, &t->cap_drec, sizeof(*t->drec), 16))
            return;
        t->drec[t->n_drec++] = (struct detect_rec){
            h, rec->category,
            region_of_record((enum rule_category)rec->category, rec->value, rec->len)};
    }
}

static void recset_free(struct worker *w, struct recset *r)
{
    budget_give(w, (uint64_t)r->seen_cap * sizeof(uint64_t) +
                       (uint64_t)r->cap_fps * sizeof(*r->fps));
    if (r->samples)
        flow_table_charge(w->ft, -(int64_t)r->cap_samples * SAMPLE_LEN);
    free(r->seen);
    free(r->fps);
    free(r->samples);
    r->seen = NULL;
    r->fps = NULL;
    r->samples = NULL;
    r->seen_cap = r->cap_fps = 0;
    r->cap_samples = 0;
}

/* ---- stream consumers ---------------------------------------------------- */

static int looks_like_tls(const uint8_t *d, size_t len)
{
    /* a TLS record: handshake/alert/ccs/appdata, version 3.x */
    return len >= 3 && d[0] >= 0x14 && d[0] <= 0x17 && d[1] == 0x03 && d[2] <= 0x04;
}

static const struct http_callbacks http_cb;

/* Decides what the flow is from its first bytes (either direction). Returns
 * 0 when more bytes are needed. */
static int decide_mode(struct worker *w, struct session *s, const uint8_t *d, size_t len)
{
    int probe = http_probe(d, len);
    if (probe < 0 && len < sizeof(s->probe[0]))
        return 0;
    /* a flow picked up in the middle of a body does not open like HTTP: on
     * the usual HTTP ports the parser is trusted to resynchronise */
    uint16_t sp = s->flow->port[1];
    int http_port = sp == 80 || sp == 8080 || sp == 8000 || sp == 8008 || sp == 8081 ||
                    sp == 8888 || sp == 3128;
    if (probe == 1 || strcmp(s->dres.app_proto, "http") == 0 ||
        (http_port && s->flow->proto == 6 && !looks_like_tls(d, len))) {
        s->http = http_parser_new(&w->http_cfg, &w->http_st, &http_cb, s);
        if (s->http) {
            s->mode = MODE_HTTP;
            w->st.http_flows++;
            return 1;
        }
    }
    if (s->dres.encrypted || looks_like_tls(d, len) || !w->db || !w->cfg.match_raw_streams) {
        s->mode = MODE_SKIP;
        w->st.streams_skipped++;
    } else {
        s->mode = MODE_RAW;
    }
    return 1;
}

static void raw_scan(struct worker *w, struct session *s, int dir, const uint8_t *data,
                     size_t len)
{
    if (!w->db || !w->cfg.match_raw_streams) { /* --no-match: nothing to scan with */
        s->mode = MODE_SKIP;
        w->st.streams_skipped++;
        return;
    }
    if (!s->ms[dir]) {
        if (!s->gen_held) {
            s->gen = gen_get(w);
            s->gen_held = 1;
        }
        const struct match_db *db = w->gens[s->gen].g->db;
        s->ms[dir] = match_stream_open(db, w->scratch);
        if (!s->ms[dir]) {
            w->st.match_stream_failed++;
            s->mode = MODE_SKIP;
            return;
        }
        s->ms_cost[dir] = (uint32_t)match_db_stream_size(db);
        flow_table_charge(w->ft, s->ms_cost[dir]);
    }
    if (match_stream_scan(s->ms[dir], w->scratch, data, len, on_record, &s->rc[dir]) != 0) {
        raw_stream_close(w, s, dir, 0);
        w->st.match_stream_failed++;
        s->mode = MODE_SKIP;
    }
}

static void deliver(struct worker *w, struct session *s, int dir, const uint8_t *data, size_t len)
{
    if (s->mode == MODE_RAW)
        raw_scan(w, s, dir, data, len);
    else if (s->mode == MODE_HTTP)
        http_feed(s->http, (enum http_dir)dir, data, len, w->now_us);
}

static void sink_data(void *ud, uint64_t off, const uint8_t *data, size_t len)
{
    (void)off;
    struct dirctx *dc = ud;
    struct session *s = dc->s;
    struct worker *w = dc->w;
    if (s->mode == MODE_UNDECIDED) {
        /* hold the first bytes (at most 16 per direction) until HTTP or not
         * can be told, then hand on what was held, both directions */
        uint8_t tmp[sizeof(s->probe[0])];
        size_t n = s->probe_len[dc->dir];
        size_t take = sizeof(tmp) - n < len ? sizeof(tmp) - n : len;
        memcpy(tmp, s->probe[dc->dir], n);
        memcpy(tmp + n, data, take);
        if (!decide_mode(w, s, tmp, n + take)) {
            memcpy(s->probe[dc->dir] + n, data, take); /* take == len here */
            s->probe_len[dc->dir] = (uint8_t)(n + take);
            return;
        }
        for (int d = 0; d < 2; d++) {
            if (s->probe_len[d])
                deliver(w, s, d, s->probe[d], s->probe_len[d]);
            s->probe_len[d] = 0;
        }
    }
    deliver(w, s, dc->dir, data, len);
}

static void sink_gap(void *ud, uint64_t off, uint64_t len)
{
    (void)off;
    struct dirctx *dc = ud;
    struct session *s = dc->s;
    if (s->mode == MODE_UNDECIDED) {
        /* what was held cannot be told apart any more: scan it raw */
        s->mode = MODE_RAW;
        for (int d = 0; d < 2; d++) {
            if (s->probe_len[d])
                deliver(dc->w, s, d, s->probe[d], s->probe_len[d]);
            s->probe_len[d] = 0;
        }
    }
    if (s->ms[dc->dir])
        match_stream_gap_len(s->ms[dc->dir], len);
    if (s->mode == MODE_HTTP)
        http_gap(s->http, (enum http_dir)dc->dir, len);
}

static void sink_end(void *ud)
{
    struct dirctx *dc = ud;
    struct session *s = dc->s;
    if (s->mode == MODE_UNDECIDED && s->probe_len[dc->dir]) {
        /* a stream shorter than the probe: decide on what there is */
        s->mode = MODE_RAW;
        for (int d = 0; d < 2; d++) {
            if (s->probe_len[d])
                deliver(dc->w, s, d, s->probe[d], s->probe_len[d]);
            s->probe_len[d] = 0;
        }
    }
    if (s->ms[dc->dir])
        raw_stream_close(dc->w, s, dc->dir, 1);
    if (s->mode == MODE_HTTP)
        http_end(s->http, (enum http_dir)dc->dir, dc->w->now_us);
}

static const char *proto_name(uint8_t proto, char *buf, size_t n)
{
    switch (proto) {
    case 6: return "TCP";
    case 17: return "UDP";
    case 1: return "ICMP";
    case 58: return "IPv6-ICMP";
    case 132: return "SCTP";
    case 47: return "GRE";
    default: snprintf(buf, n, "%u", proto); return buf;
    }
}

struct recview {
    struct eve_kv kv[RULE_CAT_MAX];
    const char *samples[MAX_SAMPLES_CAP];
    const char **fps, **fpcat; /* malloc'd by recview, freed by recview_done */
    struct eve_records er;
};

static const struct eve_records *recview(struct recview *v, const struct recset *r)
{
    size_t n = 0;
    v->fps = v->fpcat = NULL;
    if (!r)
        return NULL;
    for (int c = 0; c < RULE_CAT_MAX; c++)
        if (r->count[c])
            v->kv[n++] = (struct eve_kv){rule_category_name((enum rule_category)c), r->count[c]};
    if (n == 0)
        return NULL;
    for (int i = 0; i < r->n_samples; i++)
        v->samples[i] = r->samples[i];
    size_t nf = 0;
    if (r->n_fps) {
        v->fps = malloc(r->n_fps * sizeof(*v->fps));
        v->fpcat = malloc(r->n_fps * sizeof(*v->fpcat));
        if (v->fps && v->fpcat) {
            for (; nf < r->n_fps; nf++) {
                v->fps[nf] = r->fps[nf].s;
                v->fpcat[nf] = rule_category_name((enum rule_category)r->fps[nf].category);
            }
        }
    }
    v->er = (struct eve_records){v->kv, n, v->samples, r->n_samples, v->fps, v->fpcat, nf};
    return &v->er;
}

static void recview_done(struct recview *v)
{
    free(v->fps);
    free(v->fpcat);
}

/* ---- HTTP transactions ----------------------------------------------------- */

#define REDACT_MAX 32

struct redact_ctx {
    struct worker *w;
    struct recctx *rc; /* where records found count, or NULL */
    size_t n;
    struct {
        uint64_t start, len;
        char masked[SAMPLE_LEN];
    } hit[REDACT_MAX];
    int overflow;
};

static void on_redact_record(void *ud, const struct record *rec)
{
    struct redact_ctx *rx = ud;
    if (rx->rc)
        on_record(rx->rc, rec);
    if (rx->n == REDACT_MAX) {
        rx->overflow = 1;
        return;
    }
    const struct rule_pattern *pat = rec->rule;
    /* the value may have been decoded (%31, \u0031, separators): what to
     * replace in the text is the source span, src_len bytes */
    rx->hit[rx->n].start = rec->end_off - rec->src_len;
    rx->hit[rx->n].len = rec->src_len;
    mask_value(pat->mask, pat->keep_first, pat->keep_last, rec->value, rec->len,
               rx->hit[rx->n].masked, SAMPLE_LEN);
    rx->n++;
}

/* Copies in to out with every record found replaced by its masked form.
 * With more records than REDACT_MAX, the whole string is withheld: a log line
 * must never carry a raw record. Records found count into rc when given. */
static void redact(struct worker *w, struct recctx *rc, const char *in, char *out, size_t outlen)
{
    size_t len = strlen(in);
    if (!w->db) {
        snprintf(out, outlen, "%s", in);
        return;
    }
    struct clean_str *cs = NULL;
    if (len <= CLEAN_MAX_LEN) {
        uint64_t h = fingerprint_siphash(0x6c6561, 0x6b686f756e64, in, len);
        cs = &w->clean[h % CLEAN_SLOTS];
        if (cs->epoch == w->clean_epoch && cs->h == h && cs->len == len &&
            memcmp(cs->s, in, len) == 0) {
            size_t n = len < outlen - 1 ? len : outlen - 1; /* as the copy below */
            memcpy(out, in, n);
            out[n] = 0;
            /* the stats read as if it had been scanned: the same whatever
             * the number of workers, each with its own cache */
            for (size_t i = 0; i < MATCH_STATS_N; i++)
                w->clean_st[i] += cs->st[i];
            return;
        }
        cs->epoch = 0; /* the slot is taken again only if this one is clean */
        cs->h = h;
    }
    struct match_stats before = *match_scratch_stats(w->scratch);
    struct redact_ctx rx = {.w = w, .rc = rc};
    match_scan_block(w->db, w->scratch, (const uint8_t *)in, len, on_redact_record, &rx);
    if (cs && !rx.overflow && rx.n == 0) {
        uint64_t b[MATCH_STATS_N], a[MATCH_STATS_N];
        memcpy(b, &before, sizeof(b));
        memcpy(a, match_scratch_stats(w->scratch), sizeof(a));
        for (size_t i = 0; i < MATCH_STATS_N; i++)
            cs->st[i] = (uint32_t)(a[i] - b[i]); /* at most a few per byte of 240 */
        memcpy(cs->s, in, len);
        cs->len = (uint32_t)len;
        cs->epoch = w->clean_epoch;
    }
    if (rx.overflow) {
        snprintf(out, outlen, "[withheld: more than %d records]", REDACT_MAX);
        return;
    }
    size_t o = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i <= rx.n && o + 1 < outlen; i++) {
        uint64_t upto = i < rx.n ? rx.hit[i].start : len;
        if (upto < pos) /* overlapping records: the earlier mask covers it */
            upto = pos;
        size_t n = (size_t)(upto - pos);
        if (n > outlen - 1 - o)
            n = outlen - 1 - o;
        memcpy(out + o, in + pos, n);
        o += n;
        if (i == rx.n)
            break;
        size_t m = strlen(rx.hit[i].masked);
        if (m > outlen - 1 - o)
            m = outlen - 1 - o;
        memcpy(out + o, rx.hit[i].masked, m);
        o += m;
        uint64_t end = rx.hit[i].start + rx.hit[i].len;
        pos = end > pos ? end : pos;
    }
    out[o] = 0;
}

/* Bytes a transaction's arrays hold against the session budget. */
static uint64_t tx_held(const struct worker *w, const struct txstate *t)
{
    return (uint64_t)t->rec.seen_cap * sizeof(uint64_t) +
           (uint64_t)t->rec.cap_fps * sizeof(*t->rec.fps) +
           (uint64_t)t->cap_drec * sizeof(*t->drec) + (t->reqbody ? w->cfg.identity_body_max : 0);
}

static void tx_free_arrays(struct txstate *t)
{
    free(t->rec.seen);
    free(t->rec.fps);
    free(t->rec.samples);
    free(t->drec);
    free(t->reqbody);
}

/* A new transaction's state: the last one the pool kept, emptied, with its
 * arrays charged again to the budget and the flow table (arrays the budget
 * has no room for any more are let go, uncounted: the transaction grows them
 * again, and is refused then if need be), or a new one. */
static struct txstate *tx_new(struct worker *w)
{
    if (!w->n_tx_pool)
        return calloc(1, sizeof(struct txstate));
    struct txstate *t = w->tx_pool[--w->n_tx_pool];
    struct txstate keep = {0};
    keep.rec.seen = t->rec.seen;
    keep.rec.seen_cap = t->rec.seen_cap;
    keep.rec.fps = t->rec.fps;
    keep.rec.cap_fps = t->rec.cap_fps;
    keep.rec.samples = t->rec.samples;
    keep.rec.cap_samples = t->rec.cap_samples;
    keep.drec = t->drec;
    keep.cap_drec = t->cap_drec;
    keep.reqbody = t->reqbody;
    memset(t, 0, offsetof(struct txstate, url));
    t->url[0] = 0;
    uint64_t held = tx_held(w, &keep);
    if (w->st.session_memuse + held > w->cfg.session_memcap) {
        tx_free_arrays(&keep);
        return t;
    }
    w->st.session_memuse += held;
    if (keep.rec.seen)
        memset(keep.rec.seen, 0, (size_t)keep.rec.seen_cap * sizeof(uint64_t));
    t->rec.seen = keep.rec.seen;
    t->rec.seen_cap = keep.rec.seen_cap;
    t->rec.fps = keep.rec.fps;
    t->rec.cap_fps = keep.rec.cap_fps;
    t->rec.samples = keep.rec.samples;
    t->rec.cap_samples = keep.rec.cap_samples;
    if (t->rec.samples)
        flow_table_charge(w->ft, (int64_t)t->rec.cap_samples * SAMPLE_LEN);
    t->drec = keep.drec;
    t->cap_drec = keep.cap_drec;
    t->reqbody = keep.reqbody;
    return t;
}

/* A finished transaction's state goes back to the pool, its arrays given
 * back to the budget and the flow table (a record set or a detection record
 * list grown past TX_POOL_SEEN is freed), or is freed when the pool is full. */
static void tx_release(struct worker *w, struct txstate *t)
{
    budget_give(w, tx_held(w, t));
    if (t->ansbody) { /* logins are few: not kept for reuse */
        budget_give(w, w->cfg.identity_body_max);
        free(t->ansbody);
        t->ansbody = NULL;
        t->ansbody_len = 0;
    }
    if (t->rec.samples)
        flow_table_charge(w->ft, -(int64_t)t->rec.cap_samples * SAMPLE_LEN);
    if (w->n_tx_pool == TX_POOL) {
        tx_free_arrays(t);
        free(t);
        return;
    }
    if (t->rec.seen_cap > TX_POOL_SEEN) {
        free(t->rec.seen);
        t->rec.seen = NULL;
        t->rec.seen_cap = 0;
    }
    if (t->cap_drec > TX_POOL_SEEN) {
        free(t->drec);
        t->drec = NULL;
        t->cap_drec = 0;
    }
    w->tx_pool[w->n_tx_pool++] = t;
}

static void tx_request(void *ud, struct http_tx *tx)
{
    struct session *s = ud;
    struct worker *w = s->dctx[0].w;
    struct txstate *t = tx_new(w);
    if (!t) {
        w->st.tx_alloc_failed++;
        return;
    }
    tx->user = t;
    t->gen = gen_get(w);
    t->pcap_cnt = w->pcap_cnt;
    t->file_idx = w->file_idx;
    for (int d = 0; d < 2; d++)
        t->rc[d] = (struct recctx){w, &t->rec, &s->rec[d], t};
    uint64_t before = t->rec.seen_n;
    const char *uri = tx->uri ? tx->uri : "";
    t->endpoint = endpoint_match(w->epdb, w->epscratch, tx->method,
                                 http_tx_header(tx, HTTP_REQUEST, "Host"), uri);
    t->keep_answer = (uint8_t)identity_wants_answer(w->gens[t->gen].ident, t->endpoint);
    /* the waybill number an endpoint is queried by is the key to a person's
     * record: masked in the logged URL like a sample (keep 2 first, 3 last) */
    size_t ws, wl;
    char masked[sizeof(t->url)];
    /* records in the target count as they are written ... */
    redact(w, &t->rc[0], uri, t->url, sizeof(t->url));
    w->st.url_records += t->rec.seen_n - before;
    if (t->endpoint >= 0 && strlen(uri) < sizeof(masked) &&
        endpoint_waybill_span(&w->rs->api, t->endpoint, uri, &ws, &wl)) {
        /* ... and the logged URL also hides the queried waybill number */
        memcpy(masked, uri, strlen(uri) + 1);
        mask_value(MASK_KEEP, 2, 3, (const uint8_t *)uri + ws, wl, masked + ws, wl + 1);
        memcpy(masked + ws + strlen(masked + ws), uri + ws + wl, strlen(uri + ws + wl) + 1);
        redact(w, NULL, masked, t->url, sizeof(t->url));
    }
}

static void tx_response(void *ud, struct http_tx *tx)
{
    (void)ud;
    (void)tx;
}

/* Keeps the first identity_body_max bytes of a body that identity reads,
 * the buffer charged to the session budget. */
static void body_keep(struct worker *w, uint8_t **buf, uint32_t *have, const uint8_t *data,
                      size_t len)
{
    if (*have >= w->cfg.identity_body_max)
        return;
    if (!*buf && budget_take(w, w->cfg.identity_body_max)) {
        *buf = malloc(w->cfg.identity_body_max);
        if (!*buf)
            budget_give(w, w->cfg.identity_body_max);
    }
    if (*buf) {
        size_t n = w->cfg.identity_body_max - *have;
        if (n > len)
            n = len;
        memcpy(*buf + *have, data, n);
        *have += (uint32_t)n;
    }
}

/* Bytes of a transaction's body (decoded, or a ZIP member's content) into
 * its matcher stream. */
static inline void tx_scan(struct worker *w, struct txstate *t, int dir, const uint8_t *data,
                           size_t len)
{
    const struct rulegen *g = w->gens[t->gen].g;
    if (!g)
        return;
    if (!t->ms[dir]) {
        t->ms[dir] = match_stream_open(g->db, w->scratch);
        if (!t->ms[dir]) {
            w->st.match_stream_failed++;
            return;
        }
    }
    if (match_stream_scan(t->ms[dir], w->scratch, data, len, on_record, &t->rc[dir]) != 0) {
        match_stream_close(t->ms[dir], w->scratch, NULL, NULL);
        t->ms[dir] = NULL;
        w->st.match_stream_failed++;
    }
}

/* What a ZIP's members or a GBK body's UTF-8 becomes: scanned. */
static void body_out(void *ud, const uint8_t *data, size_t len)
{
    struct bodyctx *bc = ud;
    tx_scan(bc->w, bc->t, bc->dir, data, len);
}

/* What the decoder holds: its state and zlib's (about 40 KiB of window and
 * tables), charged to the session budget while the body lasts. */
#define ZIP_CHARGE (64u << 10)
#define ZIP_MAX_MEMBERS 10000 /* an .xlsx has a few dozen */

/* Where a ZIP archive starts in a body's first piece: at 0, or in a
 * multipart body (a file uploaded with a form) where a part's content
 * starts, within the first 4 KiB; SIZE_MAX when nowhere. */
static size_t zip_start(const struct http_tx *tx, int dir, const uint8_t *data, size_t len)
{
    if (zip_magic(data, len))
        return 0;
    if (len < 2 || data[0] != '-' || data[1] != '-') /* a multipart body opens with its boundary */
        return SIZE_MAX;
    const char *ct = http_tx_header(tx, (enum http_dir)dir, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/", 10) != 0)
        return SIZE_MAX;
    size_t lim = len < 4096 ? len : 4096;
    for (const uint8_t *p = data; (p = memmem(p, lim - (size_t)(p - data), "\r\n\r\n", 4));) {
        p += 4; /* a part's headers end: its content */
        if (zip_magic(p, len - (size_t)(p - data)))
            return (size_t)(p - data);
        if ((size_t)(p - data) + 4 > lim)
            break;
    }
    return SIZE_MAX;
}

/* A body that is a ZIP archive (an .xlsx or .docx export, a .zip upload,
 * alone or as a multipart body's file) is read member by member, and the
 * members' contents are scanned instead of the compressed bytes. Only the
 * body's first piece is looked at, and only when it holds the whole
 * signature. Returns where the archive starts (the bytes before it are
 * scanned as they are), or SIZE_MAX. */
static size_t zip_maybe(struct worker *w, struct http_tx *tx, struct txstate *t, int dir,
                        const uint8_t *data, size_t len)
{
    t->body_seen[dir] = 1;
    size_t off = zip_start(tx, dir, data, len);
    if (off == SIZE_MAX || !w->gens[t->gen].g || !budget_take(w, ZIP_CHARGE))
        return SIZE_MAX;
    t->bc[dir] = (struct bodyctx){w, t, (uint8_t)dir};
    struct zip_config zc = {w->http_cfg.max_decoded, w->http_cfg.max_ratio, ZIP_MAX_MEMBERS};
    if (!(t->zip[dir] = zip_new(&zc, body_out, &t->bc[dir]))) {
        budget_give(w, ZIP_CHARGE);
        return SIZE_MAX;
    }
    tx->flags |= HTTP_TX_BODY_ZIP;
    w->st.zip_bodies++;
    return off;
}

/* The body ended: the decoder's counters, and its memory back. */
static void zip_end(struct worker *w, struct txstate *t, int dir)
{
    struct zip *z = t->zip[dir];
    if (!z)
        return;
    const struct zip_stats *zs = zip_stats(z);
    w->st.zip_members += zs->members;
    w->st.zip_skipped += zs->skipped;
    enum zip_status st = zip_status(z);
    w->st.zip_failed += st == ZIP_FAILED || st == ZIP_UNREADABLE;
    w->st.zip_cap_hit += st == ZIP_CAP;
    zip_free(z);
    t->zip[dir] = NULL;
    budget_give(w, ZIP_CHARGE);
}

static void tx_body(void *ud, struct http_tx *tx, enum http_dir dir, const uint8_t *data,
                    size_t len)
{
    struct session *s = ud;
    struct worker *w = s->dctx[0].w;
    struct txstate *t = tx->user;
    if (!t)
        return;
    if (dir == HTTP_REQUEST && w->ident_body)
        body_keep(w, &t->reqbody, &t->reqbody_len, data, len);
    else if (dir == HTTP_RESPONSE && t->keep_answer)
        body_keep(w, &t->ansbody, &t->ansbody_len, data, len);
    if (!t->body_seen[dir]) {
        size_t off = zip_maybe(w, tx, t, dir, data, len);
        if (off != SIZE_MAX && off > 0) { /* a multipart body: the parts before it */
            tx_scan(w, t, dir, data, off);
            data += off;
            len -= off;
        }
        if (!t->zip[dir] && w->gens[t->gen].g &&
            (tx->charset[dir] == CHARSET_GB18030 ||
             (tx->charset[dir] == CHARSET_NONE && charset_sniff_html(data, len)) ||
             (tx->charset[dir] == CHARSET_GUESS && charset_guess(data, len))) &&
            (w->cs || (w->cs = charset_new()))) {
            /* GBK text (a legacy system's pages, an Excel user's CSV): the
             * patterns are written for UTF-8 */
            t->gb[dir] = 1;
            t->bc[dir] = (struct bodyctx){w, t, (uint8_t)dir};
            tx->flags |= HTTP_TX_BODY_GB18030;
            w->st.gb18030_bodies++;
        }
    }
    if (t->zip[dir])
        zip_feed(t->zip[dir], data, len);
    else if (t->gb[dir])
        w->st.gb18030_invalid +=
            charset_feed(w->cs, &t->carry[dir], data, len, body_out, &t->bc[dir]);
    else
        tx_scan(w, t, dir, data, len);
}

static const struct {
    uint32_t bit;
    const char *name;
} tx_flag_names[] = {
    {HTTP_TX_BODY_CHUNKED, "chunked"},    {HTTP_TX_BODY_GZIP, "gzip"},
    {HTTP_TX_BODY_DEFLATE, "deflate"},    {HTTP_TX_DECODE_FAILED, "decode_failed"},
    {HTTP_TX_TRUNCATED, "truncated"},     {HTTP_TX_GAP, "gap"},
    {HTTP_TX_NO_RESPONSE, "no_response"}, {HTTP_TX_UPGRADED, "upgraded"},
    {HTTP_TX_BODY_BR, "br"},              {HTTP_TX_BODY_ZSTD, "zstd"},
    {HTTP_TX_BODY_ZIP, "zip"},             {HTTP_TX_BODY_GB18030, "gb18030"},
};

/* Who asked and what for: the account (masked, or the client IP) and the
 * endpoint of a finished transaction. */
struct tx_who {
    char src[48], dst[48]; /* the flow's client and server, as text */
    char host[256];        /* the Host header, masked */
    char account[IDENTITY_MAX * 2];
    const char *via;
    struct identity_result id;
    int endpoint;
    const struct api_rules *api; /* where endpoint indexes point */
};

static void tx_identify(struct worker *w, struct session *s, struct http_tx *tx,
                        struct txstate *t, struct tx_who *who)
{
    struct flow *f = s->flow;
    flow_addr_str(&f->addr[0], f->ip_ver, who->src, sizeof(who->src));
    flow_addr_str(&f->addr[1], f->ip_ver, who->dst, sizeof(who->dst));
    const char *hh = http_tx_header(tx, HTTP_REQUEST, "Host");
    redact(w, NULL, hh ? hh : "", who->host, sizeof(who->host));
    who->endpoint = t->endpoint;
    /* the sources and endpoints of the rules the transaction began under */
    struct identity_ctx *ic = w->gens[t->gen].ident;
    who->api = w->gens[t->gen].g ? &w->gens[t->gen].g->rs->api : NULL;
    if (identity_resolve(ic, tx, t->reqbody, t->reqbody_len, &who->id)) {
        identity_learn(ic, tx, who->endpoint, who->id.account, t->ansbody, t->ansbody_len);
        /* an account name may itself be a phone number: mask it like any record */
        redact(w, NULL, who->id.account, who->account, sizeof(who->account));
        who->via = who->id.via;
    } else {
        snprintf(who->account, sizeof(who->account), "%s", who->src);
        who->via = "src_ip";
    }
}

static void tx_event(struct worker *w, struct session *s, struct http_tx *tx, struct txstate *t,
                     const struct tx_who *who)
{
    struct flow *f = s->flow;
    char ua[512], ct[256], ref[1024], pbuf[8];
    const char *h = http_tx_header(tx, HTTP_REQUEST, "User-Agent");
    redact(w, NULL, h ? h : "", ua, sizeof(ua));
    h = http_tx_header(tx, HTTP_RESPONSE, "Content-Type");
    redact(w, NULL, h ? h : "", ct, sizeof(ct));
    h = http_tx_header(tx, HTTP_REQUEST, "Referer");
    redact(w, NULL, h ? h : "", ref, sizeof(ref));
    const char *flags[sizeof(tx_flag_names) / sizeof(tx_flag_names[0])];
    size_t nf = 0;
    for (size_t i = 0; i < sizeof(tx_flag_names) / sizeof(tx_flag_names[0]); i++)
        if (tx->flags & tx_flag_names[i].bit)
            flags[nf++] = tx_flag_names[i].name;
    struct eve_http ev = {0};
    ev.c.ts_us = tx->resp_ts_us ? tx->resp_ts_us : tx->req_ts_us;
    ev.c.flow_id = f->flow_id;
    ev.c.src_ip = who->src;
    ev.c.dest_ip = who->dst;
    ev.c.src_port = f->port[0];
    ev.c.dest_port = f->port[1];
    ev.c.proto = proto_name(f->proto, pbuf, sizeof(pbuf));
    ev.c.app_proto = "http";
    ev.c.community_id = f->community_id;
    ev.c.vlan = f->vlan;
    ev.c.pcap_filename = w->capture ? capture_file_name(w->capture, t->file_idx) : NULL;
    ev.c.pcap_cnt = t->pcap_cnt;
    ev.hostname = who->host;
    ev.url = t->url;
    ev.http_method = tx->method;
    ev.protocol = tx->protocol;
    ev.status = tx->status;
    ev.http_user_agent = ua;
    ev.http_content_type = ct;
    ev.http_refer = ref;
    ev.length = tx->resp_body_len;
    ev.request_length = tx->req_body_len;
    ev.flags = flags;
    ev.n_flags = nf;
    ev.account = (struct eve_account){who->account, who->via};
    ev.endpoint = who->endpoint >= 0 ? who->api->endpoints[who->endpoint].id : NULL;
    struct recview rv;
    ev.records = recview(&rv, &t->rec);
    eve_lock(w);
    eve_write_http(w->eve, &ev);
    eve_unlock(w);
    recview_done(&rv);
}

/* Hands the finished transaction to the detection engine. */
static void tx_observe(struct worker *w, struct session *s, struct http_tx *tx,
                       struct txstate *t, const struct tx_who *who)
{
    struct flow *f = s->flow;
    const char *samples[MAX_SAMPLES_CAP], *fps[MAX_SAMPLES_CAP];
    size_t ns = 0, nf = 0;
    for (; ns < t->rec.n_samples; ns++)
        samples[ns] = t->rec.samples[ns];
    for (; nf < t->rec.n_fps && nf < MAX_SAMPLES_CAP; nf++)
        fps[nf] = t->rec.fps[nf].s;
    struct detect_obs o = {0};
    o.ts_us = tx->resp_ts_us ? tx->resp_ts_us : tx->req_ts_us;
    o.account = who->account;
    o.via = who->via;
    o.src = f->addr[0];
    o.ip_ver = f->ip_ver;
    o.endpoint = who->endpoint;
    o.endpoint_id = who->endpoint >= 0 ? who->api->endpoints[who->endpoint].id : NULL;
    o.waybill_query = who->api ? endpoint_waybill(who->api, who->endpoint, tx->uri) : 0;
    o.recs = t->drec;
    o.n_recs = t->n_drec;
    o.flow_id = f->flow_id;
    o.src_ip = who->src;
    o.dest_ip = who->dst;
    o.src_port = f->port[0];
    o.dest_port = f->port[1];
    o.community_id = f->community_id;
    o.hostname = who->host;
    o.url = t->url;
    o.http_method = tx->method;
    o.status = tx->status;
    o.pcap_filename = w->capture ? capture_file_name(w->capture, t->file_idx) : NULL;
    o.pcap_cnt = t->pcap_cnt;
    o.samples = samples;
    o.n_samples = ns;
    o.fingerprints = fps;
    o.n_fingerprints = nf;
    if (w->obs_fn) {
        struct worker_obs_key k = {w->emit_seq, f->flow_id, tx->index};
        w->obs_fn(w->obs_ud, &k, &o);
    } else {
        detect_observe(w->detect, &o);
    }
}

static void tx_done(void *ud, struct http_tx *tx)
{
    struct session *s = ud;
    struct worker *w = s->dctx[0].w;
    struct txstate *t = tx->user;
    if (!t)
        return;
    for (int d = 0; d < 2; d++) {
        zip_end(w, t, d);
        if (t->gb[d])
            charset_end(&t->carry[d], body_out, &t->bc[d]);
        if (t->ms[d]) {
            match_stream_close(t->ms[d], w->scratch, on_record, &t->rc[d]);
            t->ms[d] = NULL;
        }
    }
    struct tx_who who;
    tx_identify(w, s, tx, t, &who);
    if (w->evidence && strcmp(s->account ? s->account : "", who.account) != 0) {
        if (!s->account && (s->account = malloc(ACCOUNT_LEN)))
            flow_table_charge(w->ft, ACCOUNT_LEN);
        if (s->account) {
            snprintf(s->account, ACCOUNT_LEN, "%s", who.account);
            s->ev_gen = 0; /* ask again for the new account */
        }
    }
    if (w->eve)
        tx_event(w, s, tx, t, &who);
    if (w->detect)
        tx_observe(w, s, tx, t, &who);
    gen_put(w, t->gen);
    tx_release(w, t);
    tx->user = NULL;
}

static const struct http_callbacks http_cb = {tx_request, tx_response, tx_body, tx_done};

static struct session *session_new(struct worker *w, struct flow *f)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s) {
        w->st.sessions_failed++;
        return NULL;
    }
    s->flow = f;
    for (int d = 0; d < 2; d++) {
        s->dctx[d] = (struct dirctx){w, s, (uint8_t)d};
        s->rc[d] = (struct recctx){w, NULL, &s->rec[d], NULL};
        struct reasm_sink sink = {sink_data, sink_gap, sink_end, &s->dctx[d]};
        reasm_stream_init(&s->rs[d], &sink);
    }
    return s;
}

/* ---- flow end: the flow event ---------------------------------------------- */

static const char *tcp_state_name(uint8_t st)
{
    switch (st) {
    case FLOW_TCP_SYN_SENT: return "syn_sent";
    case FLOW_TCP_SYN_RECV: return "syn_recv";
    case FLOW_TCP_ESTABLISHED: return "established";
    case FLOW_TCP_FIN_WAIT: return "fin_wait";
    case FLOW_TCP_CLOSED: return "closed";
    default: return "new";
    }
}

static void on_flow_end(struct flow *f, void *ud)
{
    struct worker *w = ud;
    struct session *s = f->user;
    if (s) {
        for (int d = 0; d < 2; d++)
            reasm_stream_close(w->reasm, &s->rs[d]); /* calls sink_end once */
        http_parser_free(s->http); /* open transactions end: http events */
        s->http = NULL;
        flow_table_charge(w->ft, -(int64_t)dpi_flow_size(s->dpi));
        dpi_flow_end(w->dpi, &s->dpi, &s->dres);
    }
    if (w->eve) {
        char src[48], dst[48], pbuf[8];
        flow_addr_str(&f->addr[0], f->ip_ver, src, sizeof(src));
        flow_addr_str(&f->addr[1], f->ip_ver, dst, sizeof(dst));
        struct eve_flow ev = {0};
        ev.c.ts_us = f->last_ts;
        ev.c.flow_id = f->flow_id;
        ev.c.src_ip = src;
        ev.c.dest_ip = dst;
        ev.c.src_port = f->port[0];
        ev.c.dest_port = f->port[1];
        ev.c.proto = proto_name(f->proto, pbuf, sizeof(pbuf));
        ev.c.app_proto = s ? s->dres.app_proto : NULL;
        ev.c.community_id = f->community_id;
        ev.c.vlan = f->vlan;
        ev.c.pcap_filename = w->capture ? capture_file_name(w->capture, f->first_file_idx) : NULL;
        ev.c.pcap_cnt = f->first_pcap_cnt;
        ev.start_us = f->first_ts;
        ev.end_us = f->last_ts;
        ev.pkts_toserver = f->pkts[0];
        ev.pkts_toclient = f->pkts[1];
        ev.bytes_toserver = f->bytes[0];
        ev.bytes_toclient = f->bytes[1];
        ev.state = f->proto == 6 ? tcp_state_name(f->tcp_state) : NULL;
        ev.reason = flow_end_reason_name((enum flow_end_reason)f->end_reason);
        struct recview rv[2];
        if (s) {
            ev.ndpi_proto = s->dres.ndpi_proto;
            ev.ndpi_category = s->dres.category;
            ev.host = s->dres.host;
            ev.records[0] = recview(&rv[0], s->rec[0]);
            ev.records[1] = recview(&rv[1], s->rec[1]);
        }
        eve_lock(w);
        eve_write_flow(w->eve, &ev);
        eve_unlock(w);
        if (s) {
            recview_done(&rv[0]);
            recview_done(&rv[1]);
        }
    }
    if (s) {
        for (int d = 0; d < 2; d++)
            if (s->rec[d]) {
                recset_free(w, s->rec[d]);
                free(s->rec[d]);
                flow_table_charge(w->ft, -(int64_t)sizeof(*s->rec[d]));
            }
        if (s->gen_held)
            gen_put(w, s->gen);
        if (s->account)
            flow_table_charge(w->ft, -(int64_t)ACCOUNT_LEN);
        free(s->account);
        if (w->pair_live) /* the bucket may go to another worker once 0 */
            __atomic_sub_fetch(&w->pair_live[s->bucket], 1, __ATOMIC_RELEASE);
        free(s);
        f->user = NULL;
    }
}

/* ---- life cycle ---------------------------------------------------------- */

struct worker *worker_new(const struct worker_config *cfg, const struct worker_shared *sh,
                          char *err, size_t errlen)
{
    const struct match_db *db = sh->rules ? sh->rules->db : NULL;
    struct worker *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->fpkey = sh->fpkey;
    w->eve = sh->eve;
    w->capture = sh->capture;
    w->evidence = sh->evidence;
    w->pair_live = sh->pair_live;
    w->detect = sh->detect;
    w->obs_fn = sh->obs_fn;
    w->obs_ud = sh->obs_ud;
    w->eve_lock = sh->eve_lock;
    struct flow_config fc = cfg->flow;
    fc.user_size = sizeof(struct session);
    w->dec = decoder_new(&cfg->decode);
    w->ft = flow_table_new(&fc, on_flow_end, w);
    w->reasm = reasm_ctx_new(&cfg->reasm);
    if (!w->dec || !w->ft || !w->reasm) {
        snprintf(err, errlen, "out of memory creating the worker's tables");
        goto error;
    }
    http_config_default(&w->http_cfg);
    if (!w->cfg.session_memcap)
        w->cfg.session_memcap = (w->cfg.flow.memcap ? w->cfg.flow.memcap : 256ull << 20) / 4;
    w->http_cfg.max_held_bytes = w->cfg.session_memcap;
    if (!(w->dpi = dpi_new(err, errlen)))
        goto error;
    if (db && !(w->scratch = match_scratch_new(db))) {
        snprintf(err, errlen, "out of memory allocating Hyperscan scratch");
        goto error;
    }
    w->sessions = sh->sessions;
    if (!w->sessions) { /* a lone worker: its own login-session table */
        uint64_t idkey = 0;
        if (w->fpkey)
            idkey = fingerprint_record64(w->fpkey, 0xff, (const uint8_t *)"identity", 8);
        if (!(w->sessions = w->own_sessions = identity_sessions_new(cfg->session_cap, idkey))) {
            snprintf(err, errlen, "out of memory allocating the session table");
            goto error;
        }
    }
    if (gen_fill(w, &w->gens[0], rulegen_ref(sh->rules)) != 0) {
        snprintf(err, errlen, "out of memory allocating Hyperscan scratch or identity tables");
        goto error;
    }
    gen_adopt(w, 0);
    return w;
error:
    worker_free(w);
    return NULL;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    flow_table_free(w->ft); /* ends remaining flows through on_flow_end */
    reasm_ctx_free(w->reasm);
    for (uint32_t i = 0; i < w->n_tx_pool; i++) {
        tx_free_arrays(w->tx_pool[i]);
        free(w->tx_pool[i]);
    }
    for (int i = 0; i < WORKER_GENERATIONS; i++)
        gen_clear(w, &w->gens[i]);
    rulegen_unref(w->pending);
    match_scratch_free(w->scratch);
    charset_free(w->cs);
    identity_sessions_free(w->own_sessions);
    dpi_free(w->dpi);
    decoder_free(w->dec);
    free(w);
}

/* ---- stats ---------------------------------------------------------------- */

#define KV(k, v)                                                                                   \
    do {                                                                                           \
        if (n < max)                                                                               \
            kv[n++] = (struct eve_kv){(k), (v)};                                                   \
    } while (0)

/* Every counter struct summed is all uint64_t: add them member by member. */
static void add_u64s(void *dst, const void *src, size_t size)
{
    uint64_t *d = dst;
    const uint64_t *a = src;
    for (size_t i = 0; i < size / sizeof(uint64_t); i++)
        d[i] += a[i];
}

_Static_assert(sizeof(struct worker_snap) % sizeof(uint64_t) == 0, "worker_snap: u64 only");

void worker_snap_add(struct worker_snap *sum, const struct worker_snap *s)
{
    add_u64s(sum, s, sizeof(*s));
}

void worker_snapshot(struct worker *w, struct worker_snap *out)
{
    memset(out, 0, sizeof(*out));
    out->flow = *flow_table_stats(w->ft);
    out->tcp = *reasm_ctx_stats(w->reasm);
    out->dpi = *dpi_get_stats(w->dpi);
    if (w->scratch) {
        uint64_t m[MATCH_STATS_N];
        memcpy(m, match_scratch_stats(w->scratch), sizeof(m));
        for (size_t i = 0; i < MATCH_STATS_N; i++)
            m[i] += w->clean_st[i];
        memcpy(&out->match, m, sizeof(m));
    }
    out->http = w->http_st;
    out->ident = *identity_get_stats(w->ident); /* sessions_*: the table's */
    memset(out->ident.resolved, 0, sizeof(out->ident.resolved));
    out->ident.unresolved = out->ident.jwt_malformed = 0;
    out->ident.basic_malformed = out->ident.json_malformed = 0;
    ident_add(&out->ident, &w->ident_gone);
    for (int i = 0; i < WORKER_GENERATIONS; i++)
        if (w->gens[i].ident)
            ident_add(&out->ident, identity_get_stats(w->gens[i].ident));
    out->st = w->st;
}

size_t worker_stats_kv(const struct worker_stats_src *src, struct eve_kv *kv, size_t max)
{
    size_t n = 0;
    const struct worker_snap *sn = src->snap;
    if (src->cap) {
        const struct capture_stats cs = *src->cap;
        KV("capture.packets", cs.packets);
        KV("capture.bytes", cs.bytes);
        KV("capture.files_ok", cs.files_ok);
        KV("capture.files_failed", cs.files_failed);
        KV("capture.read_errors", cs.read_errors);
        if (src->live) {
            KV("capture.kernel_packets", cs.if_recv);
            KV("capture.kernel_drops", cs.if_drop);
            KV("capture.kernel_ifdrops", cs.if_ifdrop);
        }
    }
    const struct decode_stats *ds = src->dec;
    KV("decoder.pkts", ds->pkts);
    KV("decoder.bytes", ds->bytes);
    KV("decoder.ipv4", ds->ipv4);
    KV("decoder.ipv6", ds->ipv6);
    KV("decoder.tcp", ds->tcp);
    KV("decoder.udp", ds->udp);
    KV("decoder.icmp", ds->icmp);
    KV("decoder.other_l4", ds->other_l4);
    KV("decoder.non_ip", ds->non_ip);
    KV("decoder.vlan", ds->vlan);
    KV("decoder.mpls", ds->mpls);
    KV("decoder.defrag_memuse", src->defrag_memuse);
    static char names[DECODE_EVENT_MAX][48];
    for (int i = 0; i < DECODE_EVENT_MAX; i++) {
        if (!names[i][0])
            snprintf(names[i], sizeof(names[i]), "decoder.event.%s",
                     decode_event_name((enum decode_event)i));
        KV(names[i], ds->ev[i]);
    }
    const struct flow_stats *fs = &sn->flow;
    KV("flow.active", fs->active);
    KV("flow.total", fs->total);
    KV("flow.tcp", fs->tcp);
    KV("flow.udp", fs->udp);
    KV("flow.icmp", fs->icmp);
    KV("flow.other", fs->other);
    KV("flow.timeout", fs->timeout);
    KV("flow.closed", fs->closed);
    KV("flow.evicted", fs->evicted);
    KV("flow.memcap_refused", fs->memcap_refused);
    KV("flow.memuse", fs->memuse);
    KV("flow.memuse_peak", fs->memuse_peak);
    const struct reasm_stats *rs = &sn->tcp;
    KV("tcp.segments", rs->segments);
    KV("tcp.bytes_delivered", rs->bytes_delivered);
    KV("tcp.retransmits", rs->retransmits);
    KV("tcp.overlaps", rs->overlaps);
    KV("tcp.overlap_diff", rs->overlap_diff);
    KV("tcp.out_of_order", rs->out_of_order);
    KV("tcp.gaps", rs->gaps);
    KV("tcp.gap_bytes", rs->gap_bytes);
    KV("tcp.stream_cap_hit", rs->stream_cap_hit);
    KV("tcp.memcap_hit", rs->memcap_hit);
    KV("tcp.midstream", rs->midstream);
    KV("tcp.after_close", rs->after_close);
    KV("tcp.out_of_window", rs->out_of_window);
    KV("tcp.rst_ignored", rs->rst_ignored);
    KV("tcp.memuse", rs->memuse);
    KV("tcp.memuse_peak", rs->memuse_peak);
    const struct dpi_stats *dp = &sn->dpi;
    KV("dpi.flows", dp->flows);
    KV("dpi.classified", dp->classified);
    KV("dpi.given_up", dp->given_up);
    KV("dpi.alloc_failed", dp->alloc_failed);
    if (src->have_match) {
        const struct match_stats *ms = &sn->match;
        KV("match.bytes_scanned", ms->bytes_scanned);
        KV("match.raw_matches", ms->raw_matches);
        KV("match.rejected", ms->rejected);
        KV("match.records", ms->records);
        KV("match.scan_errors", ms->scan_errors);
    }
    KV("http.flows", sn->st.http_flows);
    KV("http.requests", sn->http.requests);
    KV("http.responses", sn->http.responses);
    KV("http.transactions", sn->http.transactions);
    KV("http.parse_errors", sn->http.parse_errors);
    KV("http.resyncs", sn->http.resyncs);
    KV("http.resync_bytes", sn->http.resync_bytes);
    KV("http.header_cap_hit", sn->http.header_cap_hit);
    KV("http.uri_cap_hit", sn->http.uri_cap_hit);
    KV("http.headers_count_cap_hit", sn->http.headers_count_cap_hit);
    KV("http.pipeline_cap_hit", sn->http.pipeline_cap_hit);
    KV("http.decode_gzip", sn->http.decode_gzip);
    KV("http.decode_deflate", sn->http.decode_deflate);
    KV("http.decode_br", sn->http.decode_br);
    KV("http.decode_zstd", sn->http.decode_zstd);
    KV("http.decode_failed", sn->http.decode_failed);
    KV("http.decode_cap_hit", sn->http.decode_cap_hit);
    KV("http.ratio_cap_hit", sn->http.ratio_cap_hit);
    KV("http.chunked", sn->http.chunked);
    KV("http.upgraded", sn->http.upgraded);
    KV("http.no_response", sn->http.no_response);
    KV("http.held_bytes", sn->http.held_bytes);
    KV("http.held_cap_hit", sn->http.held_cap_hit);
    KV("http.decode_whole", sn->http.decode_whole);
    KV("http.decode_held", sn->http.decode_held);
    KV("http.decode_mem", sn->http.decode_mem);
    KV("http.decode_mem_cap_hit", sn->http.decode_mem_cap_hit);
    KV("http.tx_alloc_failed", sn->st.tx_alloc_failed);
    KV("http.url_records", sn->st.url_records);
    KV("http.zip_bodies", sn->st.zip_bodies);
    KV("http.zip_members", sn->st.zip_members);
    KV("http.zip_skipped", sn->st.zip_skipped);
    KV("http.zip_failed", sn->st.zip_failed);
    KV("http.zip_cap_hit", sn->st.zip_cap_hit);
    KV("http.gb18030_bodies", sn->st.gb18030_bodies);
    KV("http.gb18030_invalid", sn->st.gb18030_invalid);
    const struct identity_stats *is = &sn->ident;
    for (int k = 0; k < IDENT_KIND_MAX; k++) {
        static char iname[IDENT_KIND_MAX][40];
        if (!iname[k][0])
            snprintf(iname[k], sizeof(iname[k]), "identity.%s", ident_kind_name((enum ident_kind)k));
        KV(iname[k], is->resolved[k]);
    }
    KV("identity.unresolved", is->unresolved);
    KV("identity.jwt_malformed", is->jwt_malformed);
    KV("identity.basic_malformed", is->basic_malformed);
    KV("identity.json_malformed", is->json_malformed);
    KV("identity.sessions_learned", is->sessions_learned);
    KV("identity.sessions_evicted", is->sessions_evicted);
    KV("identity.sessions_active", is->sessions_active);
    if (src->detect) {
        const struct detect_stats *dt = detect_get_stats(src->detect);
        KV("detect.observations", dt->observations);
        KV("detect.accounts", dt->accounts);
        KV("detect.accounts_evicted", dt->accounts_evicted);
        KV("detect.accounts_memuse", dt->accounts_memuse);
        KV("detect.alerts", dt->alerts);
        KV("detect.escalations", dt->escalations);
        KV("detect.episodes_open", dt->episodes_open);
        KV("detect.sketch_switches", dt->sketch_switches);
        KV("detect.state_saves", dt->state_saves);
        KV("detect.state_save_errors", dt->state_save_errors);
        KV("detect.state_load_errors", dt->state_load_errors);
        KV("detect.names_cut", dt->names_cut);
        KV("detect.obs_nomem", dt->obs_nomem);
    }
    KV("records.distinct_per_flow", sn->st.records);
    KV("records.dedup_overflow", sn->st.dedup_overflow);
    KV("session.memuse", sn->st.session_memuse);
    KV("session.memcap_hit", sn->st.session_memcap_hit);
    KV("worker.sessions_failed", sn->st.sessions_failed);
    KV("worker.streams_skipped", sn->st.streams_skipped);
    KV("worker.match_stream_failed", sn->st.match_stream_failed);
    if (src->have_match) {
        KV("rules.old_serving", sn->st.rules_old_serving);
        KV("rules.streams_cut", sn->st.rules_streams_cut);
        KV("rules.deferred", sn->st.rules_deferred);
        KV("rules.worker_failed", sn->st.rules_failed);
    }
    if (src->eve) {
        n += eve_sink_stats_kv(src->eve, kv + n, max - n);
    }
    return n;
}

static void own_stats_src(struct worker *w, struct worker_snap *snap, struct capture_stats *cs,
                          struct worker_stats_src *src)
{
    worker_snapshot(w, snap);
    if (w->capture)
        capture_get_stats(w->capture, cs);
    *src = (struct worker_stats_src){w->capture ? cs : NULL,
                                     w->capture && capture_is_live(w->capture),
                                     decoder_stats(w->dec),
                                     decoder_memuse(w->dec),
                                     snap,
                                     w->scratch != NULL,
                                     w->detect,
                                     w->eve};
}

void worker_write_stats(struct worker *w)
{
    if (!w->eve)
        return;
    struct worker_snap snap;
    struct capture_stats cs;
    struct worker_stats_src src;
    own_stats_src(w, &snap, &cs, &src);
    struct eve_kv kv[WORKER_STATS_KV_MAX];
    size_t n = worker_stats_kv(&src, kv, sizeof(kv) / sizeof(kv[0]));
    w->st.stats_events++;
    eve_lock(w);
    eve_write_stats(w->eve, w->now_us, kv, n);
    eve_unlock(w);
}

void worker_summary(const struct worker_stats_src *src, void *file)
{
    FILE *fp = file;
    const struct decode_stats *ds = src->dec;
    const struct flow_stats *fs = &src->snap->flow;
    uint64_t dropped = 0;
    for (int i = 0; i < DECODE_EVENT_MAX; i++)
        if (i != DEC_FRAG_HELD && i != DEC_FRAG_REASSEMBLED && i != DEC_IPV4_BAD_CSUM &&
            i != DEC_TCP_BAD_CSUM && i != DEC_UDP_BAD_CSUM)
            dropped += ds->ev[i];
    fprintf(fp, "leakhound: %llu packets, %llu bytes, %llu undecodable; flows %llu total, %llu "
                "active, %llu evicted; %llu records",
            (unsigned long long)ds->pkts, (unsigned long long)ds->bytes,
            (unsigned long long)dropped, (unsigned long long)fs->total,
            (unsigned long long)fs->active, (unsigned long long)fs->evicted,
            (unsigned long long)src->snap->st.records);
    if (src->cap) {
        const struct capture_stats *cs = src->cap;
        if (src->live)
            fprintf(fp, "; kernel drops %llu", (unsigned long long)(cs->if_drop + cs->if_ifdrop));
        if (cs->read_errors || cs->files_failed)
            fprintf(fp, "; %llu unreadable files, %llu read errors",
                    (unsigned long long)cs->files_failed, (unsigned long long)cs->read_errors);
    }
    if (src->eve) {
        struct eve_sink_stats es;
        eve_get_stats(src->eve, &es);
        fprintf(fp, "; events %llu written, %llu lost", (unsigned long long)es.written,
                (unsigned long long)es.dropped);
    }
    fputc('\n', fp);
}

void worker_print_summary(struct worker *w, void *file)
{
    struct worker_snap snap;
    struct capture_stats cs;
    struct worker_stats_src src;
    own_stats_src(w, &snap, &cs, &src);
    worker_summary(&src, file);
}

/* ---- packets --------------------------------------------------------------- */

/* The packet path after decoding: flow, nDPI, reassembly (and through the
 * sinks, HTTP, matching, transactions). */
static void process(struct worker *w, struct packet *p)
{
    enum flow_dir dir;
    struct flow *f = flow_lookup(w->ft, p, &dir);
    if (!f)
        return;
    struct session *s = f->user;
    if (!s) {
        s = session_new(w, f);
        if (!s)
            return;
        f->user = s;
        if (w->pair_live) { /* released by the publication of the packet's seq */
            s->bucket = p->pair_bucket;
            __atomic_add_fetch(&w->pair_live[s->bucket], 1, __ATOMIC_RELAXED);
        }
    }
    if (!s->dres.done) {
        /* nDPI's state lives until it decides (held packets only, while
         * none carried payload): charged to the flow table while it does */
        int64_t had = (int64_t)dpi_flow_size(s->dpi);
        if (p->proto == 6 && p->payload_len == 0)
            dpi_packet_empty(w->dpi, &s->dpi, &s->dres, p->l3, p->l3_len, p->ts_us,
                             dir == FLOW_TOSERVER);
        else
            dpi_packet(w->dpi, &s->dpi, &s->dres, p->l3, p->l3_len, p->ts_us,
                       dir == FLOW_TOSERVER);
        flow_table_charge(w->ft, (int64_t)dpi_flow_size(s->dpi) - had);
    }
    if (p->proto == 6) {
        if (!p->csum_bad)
            reasm_segment(w->reasm, &s->rs[dir], p->seq, p->tcp_flags, p->payload,
                          p->payload_len);
        /* a RST the stream did not believe (or with a bad checksum) does not
         * end the flow either */
        if ((p->tcp_flags & TCP_RST) && (p->csum_bad || !s->rs[dir].closed))
            flow_rst_rejected(w->ft, f);
    }
    if (w->evidence && s->account && s->account[0]) {
        uint64_t gen = evidence_generation(w->evidence);
        if (gen != s->ev_gen) {
            s->ev_on = (uint8_t)evidence_active(w->evidence, s->account);
            s->ev_gen = gen;
        }
        if (s->ev_on)
            evidence_packet(w->evidence, s->account, p->ts_us, p->l3, p->l3_len, p->wirelen);
    }
}

/* worker_packet's own clock: the same rule as the pipeline's reader (a tick
 * before the first packet of each new second of packet time). */
static void tick(struct worker *w, uint64_t now)
{
    if (now <= w->now_us)
        return;
    uint64_t sec = now / 1000000u;
    w->now_us = now;
    if (w->detect)
        detect_tick(w->detect, now);
    if (sec != w->tick_sec) {
        w->tick_sec = sec;
        flow_table_expire(w->ft, now);
        decoder_expire(w->dec, now);
    }
    if (w->cfg.stats_interval_s) {
        if (!w->next_stats_us)
            w->next_stats_us = now + (uint64_t)w->cfg.stats_interval_s * 1000000u;
        else if (now >= w->next_stats_us) {
            worker_write_stats(w);
            w->next_stats_us = now + (uint64_t)w->cfg.stats_interval_s * 1000000u;
        }
    }
}

void worker_packet(struct worker *w, struct packet *p)
{
    tick(w, p->ts_us);
    w->pcap_cnt = p->pcap_cnt;
    w->file_idx = p->file_idx;
    if (decode_packet(w->dec, p) != DECODE_OK || p->ip_ver == 0)
        return;
    process(w, p);
}

void worker_finish(struct worker *w)
{
    flow_table_flush(w->ft);
    worker_write_stats(w);
    if (w->eve) {
        eve_lock(w);
        eve_flush(w->eve);
        eve_unlock(w);
    }
}

void worker_decoded(struct worker *w, struct packet *p, uint64_t seq, uint64_t now_us)
{
    w->emit_seq = seq;
    w->now_us = now_us;
    w->pcap_cnt = p->pcap_cnt;
    w->file_idx = p->file_idx;
    process(w, p);
}

/* A transaction that starts while flows end (held data delivered at close)
 * is stamped with the packet before the tick: what a single thread, which
 * saw every packet, would have in hand. */
void worker_tick(struct worker *w, uint64_t seq, uint64_t now_us, uint64_t pcap_cnt,
                 uint32_t file_idx)
{
    w->emit_seq = seq;
    w->now_us = now_us;
    w->pcap_cnt = pcap_cnt;
    w->file_idx = file_idx;
    flow_table_expire(w->ft, now_us);
    if (w->pending) /* a reload waiting for a generation to drain */
        gen_try_pending(w);
}

void worker_flush(struct worker *w, uint64_t now_us, uint64_t pcap_cnt, uint32_t file_idx)
{
    w->emit_seq = UINT64_MAX;
    w->now_us = now_us;
    w->pcap_cnt = pcap_cnt;
    w->file_idx = file_idx;
    flow_table_flush(w->ft);
}
