/* test_reassembly: TCP stream reassembly against an independent model.
 *
 * A recording sink rebuilds the stream by offset and checks that calls come
 * in order (each call starts where the previous one ended) and that nothing
 * follows end. The expected bytes come from a byte-level "first copy seen
 * wins" model applied to the segments in arrival order, written here without
 * looking at how reassembly.c holds or delivers data. */
#include "check.h"
#include "sensor/packet.h"
#include "sensor/reassembly.h"

#include <stdlib.h>
#include <time.h>

/* ---- recording sink ------------------------------------------------------ */

#define MAX_GAPS 64

struct rec {
    uint8_t *buf;  /* delivered bytes by offset */
    uint8_t *kind; /* 0 nothing, 1 data, 2 gap */
    uint64_t cap;
    uint64_t next_off;  /* where the next call must start */
    unsigned order_err; /* a call not starting at next_off, or past cap */
    unsigned ends, after_end;
    unsigned ngaps;
    uint64_t gap_off[MAX_GAPS], gap_len[MAX_GAPS];
    uint64_t data_bytes, gap_bytes;
};

static void rec_data(void *ud, uint64_t off, const uint8_t *d, size_t len)
{
    struct rec *r = ud;
    if (r->ends) r->after_end++;
    if (off != r->next_off || len == 0 || off + len > r->cap) {
        r->order_err++;
        return;
    }
    memcpy(r->buf + off, d, len);
    memset(r->kind + off, 1, len);
    r->next_off += len;
    r->data_bytes += len;
}

static void rec_gap(void *ud, uint64_t off, uint64_t len)
{
    struct rec *r = ud;
    if (r->ends) r->after_end++;
    if (off != r->next_off || len == 0 || off + len > r->cap) {
        r->order_err++;
        return;
    }
    memset(r->kind + off, 2, len);
    if (r->ngaps < MAX_GAPS) {
        r->gap_off[r->ngaps] = off;
        r->gap_len[r->ngaps] = len;
    }
    r->ngaps++;
    r->next_off += len;
    r->gap_bytes += len;
}

static void rec_end(void *ud)
{
    struct rec *r = ud;
    r->ends++;
}

static void rec_init(struct rec *r, uint64_t cap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap;
    r->buf = calloc(1, cap + 1);
    r->kind = calloc(1, cap + 1);
}

static void rec_free(struct rec *r)
{
    free(r->buf);
    free(r->kind);
}

static void stream_open(struct reasm_stream *s, struct rec *r)
{
    struct reasm_sink sink = {rec_data, rec_gap, rec_end, r};
    reasm_stream_init(s, &sink);
}

/* ---- data and the model -------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

struct tseg {
    uint64_t off; /* offset in the stream (the SYN's seq + 1 is offset 0) */
    uint32_t len;
    const uint8_t *data;
    uint8_t flags;
};

/* first copy seen wins, byte by byte */
static void model_apply(uint8_t *exp, uint8_t *have, const struct tseg *g)
{
    for (uint32_t i = 0; i < g->len; i++)
        if (!have[g->off + i]) {
            have[g->off + i] = 1;
            exp[g->off + i] = g->data[i];
        }
}

static void send_seg(struct reasm_ctx *c, struct reasm_stream *s, uint32_t isn,
                     const struct tseg *g)
{
    reasm_segment(c, s, isn + 1 + (uint32_t)g->off, g->flags, g->data, g->len);
}

static void shuffle(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below((uint32_t)i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* Runs one stream: SYN, the segments in the given order, close. Returns 0
 * when everything matches the model: all of [0, n) delivered as data equal
 * to the model, no gaps, calls in order, end exactly once, no memory held. */
static int run_full(struct reasm_ctx *c, uint32_t isn, const struct tseg *segs, const size_t *order,
                    size_t nseg, uint64_t n, const char *what)
{
    struct rec r;
    struct reasm_stream s;
    uint8_t *exp = calloc(1, n + 1), *have = calloc(1, n + 1);
    rec_init(&r, n);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    for (size_t i = 0; i < nseg; i++) {
        send_seg(c, &s, isn, &segs[order[i]]);
        model_apply(exp, have, &segs[order[i]]);
    }
    reasm_stream_close(c, &s);
    reasm_stream_close(c, &s);
    int bad = 0;
    for (uint64_t i = 0; i < n; i++)
        if (!have[i]) bad |= 1; /* the test's own segmentation must cover the stream */
    if (r.order_err || r.after_end || r.ends != 1 || r.ngaps != 0 || r.next_off != n) bad |= 2;
    if (memcmp(r.buf, exp, n) != 0) bad |= 4;
    if (reasm_ctx_stats(c)->memuse != 0 || s.ooo || s.ooo_count || s.ooo_bytes) bad |= 8;
    if (bad)
        fprintf(stderr, "run_full(%s, isn %08x, %zu segs): failure bits %d\n", what, isn, nseg,
                bad);
    rec_free(&r);
    free(exp);
    free(have);
    return bad;
}

static const uint32_t isns[] = {0, 0xFFFFFF00u, 0x7FFFFF80u, 0xFFFFFFFFu, 0x12345678u};
#define NISNS (sizeof(isns) / sizeof(isns[0]))

/* ---- exhaustive small splits --------------------------------------------- */

static void test_every_split(void)
{
    enum { N = 300 };
    uint8_t orig[N];
    rng_state = 0x9e3779b97f4a7c15ull;
    fill_random(orig, N);
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    unsigned fails = 0, runs = 0;

    for (size_t k = 0; k < NISNS; k++) {
        for (uint32_t a = 1; a < N; a++) {
            struct tseg segs[2] = {{0, a, orig, 0}, {a, N - a, orig + a, TCP_FIN}};
            size_t fwd[2] = {0, 1}, rev[2] = {1, 0};
            fails += run_full(c, isns[k], segs, fwd, 2, N, "split fwd") != 0;
            fails += run_full(c, isns[k], segs, rev, 2, N, "split rev") != 0;
            runs += 2;
        }
    }
    /* every pair of split points, every arrival order of the three pieces */
    static const size_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                       {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (size_t k = 0; k < 2; k++) {
        uint32_t isn = k ? 0xFFFFFF00u : 0x80000000u - 150; /* wrap, sign flip */
        for (uint32_t a = 1; a < N; a++)
            for (uint32_t b = a + 1; b < N; b++) {
                struct tseg segs[3] = {
                    {0, a, orig, 0}, {a, b - a, orig + a, 0}, {b, N - b, orig + b, TCP_FIN}};
                for (int p = 0; p < 6; p++) {
                    fails += run_full(c, isn, segs, perms[p], 3, N, "pair") != 0;
                    runs++;
                }
            }
    }
    CHECK_EQ(fails, 0);
    CHECK(runs > 500000);
    const struct reasm_stats *st = reasm_ctx_stats(c);
    CHECK_EQ(st->memuse, 0);
    CHECK_EQ(st->gaps, 0);
    CHECK_EQ(st->bytes_delivered, (uint64_t)runs * N);
    reasm_ctx_free(c);
}

/* ---- random segmentations of a 10 KB stream ------------------------------ */

enum { BIG = 10240, MAXSEG = 4096 };

/* random cut of [0, n) into segments, lengths 1..1460 with a bias to small */
static size_t segment_randomly(struct tseg *segs, const uint8_t *orig, uint64_t n)
{
    size_t k = 0;
    for (uint64_t off = 0; off < n;) {
        uint32_t len = (rnd() & 3) ? 1 + rnd_below(1460) : 1 + rnd_below(8);
        if (len > n - off) len = (uint32_t)(n - off);
        segs[k++] = (struct tseg){off, len, orig + off, 0};
        off += len;
    }
    segs[k - 1].flags = TCP_FIN;
    return k;
}

static void test_random_segmentations(void)
{
    static uint8_t orig[BIG];
    static struct tseg segs[MAXSEG];
    static size_t order[MAXSEG];
    static uint8_t junk[64][1500];
    rng_state = 42;
    fill_random(orig, BIG);
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    unsigned fails = 0, runs = 0;

    for (int trial = 0; trial < 400; trial++) {
        uint32_t isn = trial % 3 == 0   ? 0xFFFFFF00u
                       : trial % 3 == 1 ? (uint32_t)rnd()
                                        : 0xFFFFE000u;
        size_t n = segment_randomly(segs, orig, BIG);
        int mode = trial % 5;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        size_t total = n;
        if (mode >= 1) shuffle(order, n);
        if (mode == 2 || mode == 4) { /* duplicates of whole segments */
            size_t d = n / 3 + 1;
            for (size_t i = 0; i < d && total < MAXSEG; i++)
                order[total++] = order[rnd_below((uint32_t)n)];
            shuffle(order, total);
        }
        if (mode >= 3) { /* retransmissions over random ranges, some with other bytes */
            size_t extra = 0;
            for (int i = 0; i < 64 && n + extra < MAXSEG; i++) {
                uint32_t len = 1 + rnd_below(1500);
                uint64_t off = rnd_below(BIG);
                if (off + len > BIG) len = (uint32_t)(BIG - off);
                const uint8_t *d = orig + off;
                if (rnd() & 1) {
                    fill_random(junk[i], len);
                    d = junk[i];
                }
                segs[n + extra] = (struct tseg){off, len, d, 0};
                order[total++] = n + extra;
                extra++;
            }
            shuffle(order, total);
        }
        fails += run_full(c, isn, segs, order, total, BIG, "random") != 0;
        runs++;
    }
    CHECK_EQ(fails, 0);
    CHECK_EQ(runs, 400);
    const struct reasm_stats *st = reasm_ctx_stats(c);
    CHECK(st->out_of_order > 0);
    CHECK(st->overlap_diff > 0);
    CHECK(st->retransmits > 0);
    CHECK_EQ(st->gaps, 0);
    CHECK_EQ(st->memuse, 0);
    CHECK(st->memuse_peak > 0);
    reasm_ctx_free(c);
}

/* ---- exact counters on small hand-made cases ----------------------------- */

static void test_overlap_rules(void)
{
    uint8_t A[64], B[64], O[64];
    memset(A, 'A', sizeof(A));
    memset(B, 'B', sizeof(B));
    for (int i = 0; i < 64; i++)
        O[i] = (uint8_t)('a' + i % 26);
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    uint32_t isn = 1000;

    /* a held copy wins over a later, different, partly new copy */
    {
        struct reasm_ctx *c = reasm_ctx_new(&cfg);
        struct rec r;
        struct reasm_stream s;
        rec_init(&r, 64);
        stream_open(&s, &r);
        reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
        reasm_segment(c, &s, isn + 1 + 20, 0, A, 10); /* [20,30) held */
        reasm_segment(c, &s, isn + 1 + 15, 0, B, 20); /* [15,35): fills 15-20, 30-35 */
        reasm_segment(c, &s, isn + 1 + 22, 0, A, 5);  /* same bytes as held */
        CHECK_EQ(s.ooo_count, 3);
        CHECK_EQ(s.ooo_bytes, 20);
        reasm_segment(c, &s, isn + 1, 0, O, 15);                 /* [0,15) fills the hole */
        reasm_segment(c, &s, isn + 1 + 5, 0, B, 5);              /* wholly old */
        reasm_segment(c, &s, isn + 1 + 30, TCP_FIN, O + 30, 10); /* [30,40): 35-40 new */
        const struct reasm_stats *st = reasm_ctx_stats(c);
        CHECK_EQ(r.ends, 1);
        CHECK_EQ(r.next_off, 40);
        CHECK(memcmp(r.buf, O, 15) == 0);
        CHECK(memcmp(r.buf + 15, B, 5) == 0);
        CHECK(memcmp(r.buf + 20, A, 10) == 0);
        CHECK(memcmp(r.buf + 30, B, 5) == 0);
        CHECK(memcmp(r.buf + 35, O + 35, 5) == 0);
        CHECK_EQ(st->segments, 6);
        CHECK_EQ(st->out_of_order, 2);
        CHECK_EQ(st->overlaps, 3);     /* [15,35), [22,27), [30,40) */
        CHECK_EQ(st->overlap_diff, 1); /* only [15,35) differed from held data */
        CHECK_EQ(st->retransmits, 1);
        CHECK_EQ(st->bytes_delivered, 40);
        CHECK_EQ(st->memuse, 0);
        CHECK_EQ(r.order_err + r.after_end + r.ngaps, 0);
        rec_free(&r);
        reasm_ctx_free(c);
    }
    /* an in-order segment running over held data delivers the held bytes */
    {
        struct reasm_ctx *c = reasm_ctx_new(&cfg);
        struct rec r;
        struct reasm_stream s;
        rec_init(&r, 64);
        stream_open(&s, &r);
        reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
        reasm_segment(c, &s, isn + 1 + 10, 0, A, 10);
        reasm_segment(c, &s, isn + 1 + 25, 0, A, 5);
        reasm_segment(c, &s, isn + 1, 0, B, 40);
        const struct reasm_stats *st = reasm_ctx_stats(c);
        CHECK_EQ(r.next_off, 40);
        CHECK(memcmp(r.buf, B, 10) == 0);
        CHECK(memcmp(r.buf + 10, A, 10) == 0);
        CHECK(memcmp(r.buf + 20, B, 5) == 0);
        CHECK(memcmp(r.buf + 25, A, 5) == 0);
        CHECK(memcmp(r.buf + 30, B, 10) == 0);
        CHECK_EQ(st->overlaps, 1);
        CHECK_EQ(st->overlap_diff, 1);
        CHECK_EQ(st->out_of_order, 2);
        CHECK_EQ(st->memuse, 0);
        CHECK_EQ(s.ooo_count, 0);
        CHECK_EQ(r.ends, 0);
        reasm_stream_close(c, &s);
        CHECK_EQ(r.ends, 1);
        CHECK_EQ(r.ngaps, 0);
        rec_free(&r);
        reasm_ctx_free(c);
    }
}

static uint64_t seg_overhead(void);

/* ---- SYN, midstream, FIN, RST, close ------------------------------------- */

static void test_syn_and_midstream(void)
{
    uint8_t d[100];
    for (int i = 0; i < 100; i++)
        d[i] = (uint8_t)i;
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    const struct reasm_stats *st = reasm_ctx_stats(c);
    struct rec r;
    struct reasm_stream s;

    /* a retransmitted SYN with a new ISN before data: the latest one counts */
    rec_init(&r, 100);
    stream_open(&s, &r);
    reasm_segment(c, &s, 5000, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, 9000, TCP_SYN, NULL, 0);
    CHECK_EQ(s.isn, 9000);
    reasm_segment(c, &s, 9001, TCP_ACK, d, 10);
    reasm_segment(c, &s, 7000, TCP_SYN, NULL, 0); /* after data: ignored */
    CHECK_EQ(s.isn, 9000);
    reasm_segment(c, &s, 9011, TCP_ACK, d + 10, 10);
    CHECK_EQ(r.next_off, 20);
    CHECK(memcmp(r.buf, d, 20) == 0);
    CHECK_EQ(s.midstream, 0);
    CHECK_EQ(st->midstream, 0);
    reasm_stream_close(c, &s);
    rec_free(&r);

    /* SYN carrying data (TCP Fast Open): data starts after the SYN */
    rec_init(&r, 100);
    stream_open(&s, &r);
    reasm_segment(c, &s, 0xFFFFFFFFu, TCP_SYN, d, 30);
    reasm_segment(c, &s, 30, 0, d + 30, 20); /* 0xFFFFFFFF + 1 + 30 wraps to 30 */
    CHECK_EQ(r.next_off, 50);
    CHECK(memcmp(r.buf, d, 50) == 0);
    CHECK_EQ(s.next_seq, 50);
    reasm_stream_close(c, &s);
    rec_free(&r);

    /* midstream: picked up at the first data segment's seq */
    uint64_t mid0 = st->midstream, rt0 = st->retransmits;
    rec_init(&r, 100);
    stream_open(&s, &r);
    reasm_segment(c, &s, 0x40000000u, TCP_ACK, NULL, 0); /* bare ACK: not a start */
    CHECK_EQ(s.started, 0);
    reasm_segment(c, &s, 0xFFFFFFF0u, TCP_ACK, d + 40, 20);
    CHECK_EQ(s.started, 1);
    CHECK_EQ(s.midstream, 1);
    CHECK_EQ(s.isn, 0xFFFFFFF0u);
    CHECK_EQ(st->midstream, mid0 + 1);
    reasm_segment(c, &s, 0xFFFFFFF0u - 40, TCP_ACK, d, 40); /* before the pickup */
    CHECK_EQ(st->retransmits, rt0 + 1);
    reasm_segment(c, &s, 0xFFFFFFF0u + 30, TCP_ACK | TCP_FIN, d + 70, 10); /* hole of 10 */
    CHECK_EQ(s.fin_pending, 1);
    CHECK_EQ(r.ends, 0);
    reasm_segment(c, &s, 0xFFFFFFF0u + 20, TCP_ACK, d + 60, 10);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.next_off, 40);
    CHECK(memcmp(r.buf, d + 40, 40) == 0);
    CHECK_EQ(r.ngaps, 0);
    CHECK_EQ(r.order_err, 0);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    rec_free(&r);

    /* data more than a maximum window ahead is not this connection's */
    uint64_t oow0 = st->out_of_window;
    rec_init(&r, 100);
    stream_open(&s, &r);
    reasm_segment(c, &s, 100, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, 101 + (1u << 30) + 1, 0, d, 10);
    CHECK_EQ(st->out_of_window, oow0 + 1);
    CHECK_EQ(s.ooo_count, 0);
    reasm_segment(c, &s, 101, 0, d, 10);
    reasm_segment(c, &s, 105, TCP_FIN, NULL, 0); /* a FIN behind delivered data */
    CHECK_EQ(st->out_of_window, oow0 + 2);
    CHECK_EQ(s.fin_pending + s.closed, 0);
    reasm_segment(c, &s, 111, TCP_FIN, d + 10, 5);
    CHECK_EQ(r.ends, 1);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.next_off, 15);
    CHECK_EQ(r.ngaps, 0);
    rec_free(&r);

    CHECK_EQ(st->memuse, 0);
    reasm_ctx_free(c);
}

static void test_fin_rst_close(void)
{
    uint8_t d[200];
    for (int i = 0; i < 200; i++)
        d[i] = (uint8_t)(i * 7);
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    const struct reasm_stats *st = reasm_ctx_stats(c);
    struct rec r;
    struct reasm_stream s;
    uint32_t isn = 0xFFFFFF00u;

    /* FIN in order ends the stream at once; later data is ignored */
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1, 0, d, 100);
    reasm_segment(c, &s, isn + 101, TCP_FIN, d + 100, 50);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(s.closed, 1);
    CHECK_EQ(s.fin_seq, isn + 151);
    uint64_t ac0 = st->after_close;
    reasm_segment(c, &s, isn + 151, 0, d + 150, 50);
    reasm_segment(c, &s, isn + 101, TCP_FIN, d + 100, 50); /* retransmitted FIN */
    reasm_segment(c, &s, isn + 152, TCP_ACK, NULL, 0);     /* bare ACK: not counted */
    CHECK_EQ(st->after_close, ac0 + 2);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.next_off, 150);
    CHECK(memcmp(r.buf, d, 150) == 0);
    CHECK_EQ(r.after_end, 0);
    rec_free(&r);

    /* FIN ahead of missing data: the stream ends when the hole is filled;
     * data beyond the FIN is cut off */
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1 + 100, 0, d + 100, 80);     /* held [100,180) */
    reasm_segment(c, &s, isn + 1 + 50, TCP_FIN, d + 50, 50); /* FIN at 100 */
    CHECK_EQ(s.fin_pending, 1);
    CHECK_EQ(s.ooo_count, 1); /* [50,100) held, [100,180) dropped by the FIN */
    CHECK_EQ(s.ooo_bytes, 50);
    ac0 = st->after_close;
    reasm_segment(c, &s, isn + 1 + 90, 0, d + 90, 30); /* straddles the FIN */
    CHECK_EQ(st->after_close, ac0 + 1);
    CHECK_EQ(r.ends, 0);
    CHECK_EQ(r.next_off, 0);
    reasm_segment(c, &s, isn + 1, 0, d, 50);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.next_off, 100);
    CHECK(memcmp(r.buf, d, 100) == 0);
    CHECK_EQ(s.ooo_count, 0);
    CHECK_EQ(st->memuse, 0);
    rec_free(&r);

    /* a FIN that contradicts held data: the FIN wins, held bytes past it go */
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1 + 30, 0, d + 30, 10);
    ac0 = st->after_close;
    reasm_segment(c, &s, isn + 1, TCP_FIN, d, 30);
    CHECK_EQ(st->after_close, ac0 + 1);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.next_off, 30);
    CHECK(memcmp(r.buf, d, 30) == 0);
    CHECK_EQ(st->memuse, 0);
    rec_free(&r);

    /* a FIN inside a held piece cuts the piece */
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1 + 20, 0, d + 20, 40); /* held [20,60) */
    ac0 = st->after_close;
    reasm_segment(c, &s, isn + 1 + 50, TCP_FIN, NULL, 0);
    CHECK_EQ(st->after_close, ac0 + 1);
    CHECK_EQ(s.ooo_bytes, 30);
    CHECK_EQ(st->memuse, 30 + seg_overhead());
    reasm_segment(c, &s, isn + 1, 0, d, 20);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.next_off, 50);
    CHECK(memcmp(r.buf, d, 50) == 0);
    CHECK_EQ(st->memuse, 0);
    rec_free(&r);

    /* FIN seen, last data segment lost: one gap of the known length */
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1, 0, d, 60);
    reasm_segment(c, &s, isn + 1 + 100, TCP_FIN, NULL, 0);
    CHECK_EQ(r.ends, 0);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.ngaps, 1);
    CHECK_EQ(r.gap_off[0], 60);
    CHECK_EQ(r.gap_len[0], 40);
    CHECK_EQ(r.next_off, 100);
    rec_free(&r);

    /* RST: contiguous data, an explicit gap for the hole, then the held data */
    uint64_t gaps0 = st->gaps;
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1, 0, d, 40);
    reasm_segment(c, &s, isn + 1 + 70, 0, d + 70, 30);
    reasm_segment(c, &s, isn + 1 + 120, 0, d + 120, 10);
    CHECK_EQ(r.next_off, 40);
    reasm_segment(c, &s, isn + 1 + 130, TCP_RST, d, 5); /* payload of a RST is no data */
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(s.closed, 1);
    CHECK_EQ(r.ngaps, 2);
    CHECK_EQ(r.gap_off[0], 40);
    CHECK_EQ(r.gap_len[0], 30);
    CHECK_EQ(r.gap_off[1], 100);
    CHECK_EQ(r.gap_len[1], 20);
    CHECK_EQ(r.next_off, 130);
    CHECK(memcmp(r.buf + 70, d + 70, 30) == 0);
    CHECK(memcmp(r.buf + 120, d + 120, 10) == 0);
    CHECK_EQ(st->gaps, gaps0 + 2);
    ac0 = st->after_close;
    reasm_segment(c, &s, isn + 1 + 40, 0, d + 40, 30);
    CHECK_EQ(st->after_close, ac0 + 1);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.after_end, 0);
    CHECK_EQ(st->memuse, 0);
    rec_free(&r);

    /* close on a stream that never started, twice; and on a zeroed one */
    rec_init(&r, 10);
    stream_open(&s, &r);
    reasm_stream_close(c, &s);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.ngaps + r.data_bytes, 0);
    reasm_segment(c, &s, 1, TCP_SYN, NULL, 0); /* after close: ignored */
    CHECK_EQ(s.started, 0);
    rec_free(&r);
    struct reasm_stream z;
    memset(&z, 0, sizeof(z));
    reasm_stream_close(c, &z);
    CHECK_EQ(z.ended, 1);

    CHECK_EQ(st->memuse, 0);
    reasm_ctx_free(c);
}

/* ---- RST validation ------------------------------------------------------- */

/* One stream fed SYN at isn and 100 bytes in order, then the RST: whether
 * it ended the stream, and what rst_ignored did. */
static int rst_after_data(struct reasm_ctx *c, uint32_t isn, uint32_t rst_seq, const uint8_t *d)
{
    struct rec r;
    struct reasm_stream s;
    rec_init(&r, 200);
    stream_open(&s, &r);
    reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, isn + 1, TCP_ACK, d, 100);
    reasm_segment(c, &s, rst_seq, TCP_RST | TCP_ACK, NULL, 0);
    int ended = (int)r.ends;
    if (!ended) { /* the stream goes on as if the RST had not been sent */
        reasm_segment(c, &s, isn + 101, TCP_ACK, d + 100, 50);
        CHECK_EQ(r.next_off, 150);
        CHECK(memcmp(r.buf, d, 150) == 0);
    }
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(r.after_end, 0);
    CHECK_EQ(r.order_err, 0);
    rec_free(&r);
    return ended;
}

static void test_rst_validation(void)
{
    uint8_t d[400];
    for (int i = 0; i < 400; i++)
        d[i] = (uint8_t)(i * 13 + 1);
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    const struct reasm_stats *st = reasm_ctx_stats(c);
    struct rec r, r2;
    struct reasm_stream s, s2;

    /* exact next_seq ends the stream (RFC 5961); behind it, one byte ahead
     * with nothing held, or far ahead does not; across the 2^32 wrap too */
    const uint32_t rst_isns[] = {1000, 0xFFFFFFC0u, 0x7FFFFFD0u};
    for (size_t k = 0; k < sizeof(rst_isns) / sizeof(rst_isns[0]); k++) {
        uint32_t isn = rst_isns[k];
        uint64_t ig0 = st->rst_ignored;
        CHECK_EQ(rst_after_data(c, isn, isn + 101, d), 1);
        CHECK_EQ(st->rst_ignored, ig0);
        CHECK_EQ(rst_after_data(c, isn, isn + 100, d), 0);
        CHECK_EQ(rst_after_data(c, isn, isn + 1, d), 0);
        CHECK_EQ(rst_after_data(c, isn, isn + 102, d), 0);
        CHECK_EQ(rst_after_data(c, isn, isn + 101 + 65536, d), 0);
        CHECK_EQ(rst_after_data(c, isn, isn + 0x80000000u, d), 0);
        CHECK_EQ(rst_after_data(c, isn, 0, d), 0);
        CHECK_EQ(st->rst_ignored, ig0 + 6);
    }

    /* with a hole: our next_seq lags the sender's, so a RST up to the end of
     * held data is believed; one byte further is not */
    for (int past = 0; past <= 1; past++) {
        uint64_t ig0 = st->rst_ignored;
        rec_init(&r, 400);
        stream_open(&s, &r);
        reasm_segment(c, &s, 500, TCP_SYN, NULL, 0);
        reasm_segment(c, &s, 501, 0, d, 40);
        reasm_segment(c, &s, 501 + 70, 0, d + 70, 30); /* held [70,100) */
        reasm_segment(c, &s, 501 + 100 + (uint32_t)past, TCP_RST, NULL, 0);
        CHECK_EQ(r.ends, past ? 0u : 1u);
        CHECK_EQ(st->rst_ignored, ig0 + (uint64_t)past);
        if (!past) {
            CHECK_EQ(r.ngaps, 1);
            CHECK_EQ(r.gap_off[0], 40);
            CHECK_EQ(r.next_off, 100);
            CHECK(memcmp(r.buf + 70, d + 70, 30) == 0);
        } else {
            reasm_segment(c, &s, 501 + 40, 0, d + 40, 30); /* the hole arrives */
            CHECK_EQ(r.next_off, 100);
            CHECK_EQ(r.ngaps, 0);
            CHECK(memcmp(r.buf, d, 100) == 0);
        }
        reasm_stream_close(c, &s);
        CHECK_EQ(r.ends, 1);
        CHECK_EQ(r.order_err, 0);
        rec_free(&r);
    }

    /* a FIN ahead of missing data: the sender's next seq is FIN + 1 */
    for (int past = 0; past <= 1; past++) {
        uint64_t ig0 = st->rst_ignored;
        rec_init(&r, 400);
        stream_open(&s, &r);
        reasm_segment(c, &s, 500, TCP_SYN, NULL, 0);
        reasm_segment(c, &s, 501, 0, d, 60);
        reasm_segment(c, &s, 501 + 100, TCP_FIN, NULL, 0);
        CHECK_EQ(s.fin_pending, 1);
        reasm_segment(c, &s, 501 + 101 + (uint32_t)past, TCP_RST, NULL, 0);
        CHECK_EQ(r.ends, past ? 0u : 1u);
        CHECK_EQ(st->rst_ignored, ig0 + (uint64_t)past);
        reasm_stream_close(c, &s);
        CHECK_EQ(r.ngaps, 1);
        CHECK_EQ(r.gap_len[0], 40);
        CHECK_EQ(r.ends, 1);
        rec_free(&r);
    }

    /* before the stream started: ignored, and the SYN that follows starts
     * the stream as usual */
    uint64_t ig0 = st->rst_ignored;
    rec_init(&r, 400);
    stream_open(&s, &r);
    reasm_segment(c, &s, 77, TCP_RST, NULL, 0);
    CHECK_EQ(r.ends, 0);
    CHECK_EQ(s.closed, 0);
    CHECK_EQ(s.started, 0);
    CHECK_EQ(st->rst_ignored, ig0 + 1);
    reasm_segment(c, &s, 900, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, 901, TCP_ACK, d, 20);
    CHECK_EQ(r.next_off, 20);
    CHECK(memcmp(r.buf, d, 20) == 0);
    reasm_stream_close(c, &s);
    rec_free(&r);

    /* suricata-verify bug-3286-02 (Linux evasion), both directions. Server:
     * RST+ACK seq 0, FIN+ACK seq 0, then its SYN-ACK and the response.
     * Client: SYN, a RST at exactly ISN+1 before any data, then the request.
     * Nothing may end either stream; each gets its data whole. */
    uint64_t oow0 = st->out_of_window;
    ig0 = st->rst_ignored;
    rec_init(&r, 400);  /* client to server */
    rec_init(&r2, 400); /* server to client */
    stream_open(&s, &r);
    stream_open(&s2, &r2);
    uint32_t cisn = 3810062735u, sisn = 26175;
    reasm_segment(c, &s, cisn, TCP_SYN, NULL, 0);
    reasm_segment(c, &s2, 0, TCP_RST | TCP_ACK, NULL, 0);
    reasm_segment(c, &s2, 0, TCP_FIN | TCP_ACK, NULL, 0);
    reasm_segment(c, &s, cisn + 1, TCP_RST, NULL, 0);
    reasm_segment(c, &s2, sisn, TCP_SYN | TCP_ACK, NULL, 0);
    reasm_segment(c, &s, cisn + 1, TCP_ACK, NULL, 0);
    reasm_segment(c, &s, cisn + 1, TCP_ACK | TCP_PSH, d, 338);
    reasm_segment(c, &s2, sisn + 1, TCP_ACK | TCP_PSH, d + 338, 62);
    CHECK_EQ(r.ends + r2.ends, 0);
    CHECK_EQ(r.next_off, 338);
    CHECK(memcmp(r.buf, d, 338) == 0);
    CHECK_EQ(r2.next_off, 62);
    CHECK(memcmp(r2.buf, d + 338, 62) == 0);
    CHECK_EQ(st->rst_ignored, ig0 + 2);
    CHECK_EQ(st->out_of_window, oow0 + 1); /* the FIN before the server's SYN */
    /* once data has flowed, an exact RST is believed */
    reasm_segment(c, &s, cisn + 1 + 338, TCP_RST | TCP_ACK, NULL, 0);
    CHECK_EQ(r.ends, 1);
    CHECK_EQ(st->rst_ignored, ig0 + 2);
    reasm_stream_close(c, &s);
    reasm_stream_close(c, &s2);
    CHECK_EQ(r2.ends, 1);
    CHECK_EQ(r.order_err + r2.order_err + r.after_end + r2.after_end, 0);
    rec_free(&r);
    rec_free(&r2);

    /* security-4710-01: handshake, a client RST at exactly ISN+1, then the
     * request; the RST carries bytes that must not become stream data */
    ig0 = st->rst_ignored;
    rec_init(&r, 400);
    stream_open(&s, &r);
    reasm_segment(c, &s, 36821, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, 36822, TCP_ACK, NULL, 0);
    reasm_segment(c, &s, 36822, TCP_ACK | TCP_RST, d + 200, 10);
    reasm_segment(c, &s, 36822, TCP_ACK | TCP_PSH, d, 132);
    CHECK_EQ(st->rst_ignored, ig0 + 1);
    CHECK_EQ(r.ends, 0);
    CHECK_EQ(r.next_off, 132);
    CHECK(memcmp(r.buf, d, 132) == 0);
    reasm_segment(c, &s, 36822 + 132, TCP_ACK | TCP_FIN, NULL, 0);
    CHECK_EQ(r.ends, 1);
    reasm_segment(c, &s, 36955, TCP_ACK | TCP_RST, NULL, 0); /* after close: nothing */
    CHECK_EQ(st->rst_ignored, ig0 + 1);
    reasm_stream_close(c, &s);
    CHECK_EQ(r.ends, 1);
    rec_free(&r);

    /* a bare FIN before the stream started is not a start either, but data
     * with a FIN is (midstream pickup of a short last segment) */
    oow0 = st->out_of_window;
    rec_init(&r, 400);
    stream_open(&s, &r);
    reasm_segment(c, &s, 5, TCP_FIN | TCP_ACK, NULL, 0);
    CHECK_EQ(s.started, 0);
    CHECK_EQ(st->out_of_window, oow0 + 1);
    reasm_segment(c, &s, 40, TCP_FIN | TCP_ACK, d, 10);
    CHECK_EQ(s.midstream, 1);
    CHECK_EQ(r.next_off, 10);
    CHECK_EQ(r.ends, 1);
    reasm_stream_close(c, &s);
    rec_free(&r);

    CHECK_EQ(st->memuse, 0);
    reasm_ctx_free(c);
}

/* ---- loss ---------------------------------------------------------------- */

static void test_loss(void)
{
    static uint8_t orig[BIG];
    static struct tseg segs[MAXSEG];
    static size_t order[MAXSEG];
    rng_state = 7;
    fill_random(orig, BIG);
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    unsigned fails = 0, runs = 0;

    for (int trial = 0; trial < 300; trial++) {
        uint64_t n = trial < 100 ? 300 : BIG;
        size_t k = segment_randomly(segs, orig, n);
        segs[k - 1].flags = 0;
        /* the FIN alone, so losing the last segment leaves a known length */
        segs[k] = (struct tseg){n, 0, NULL, TCP_FIN};
        size_t lost = rnd_below((uint32_t)k);
        size_t m = 0;
        for (size_t i = 0; i <= k; i++)
            if (i != lost) order[m++] = i;
        if (trial & 1) shuffle(order, m);
        uint32_t isn = trial % 3 ? (uint32_t)rnd() : 0xFFFFFF00u;

        struct rec r;
        struct reasm_stream s;
        rec_init(&r, n);
        stream_open(&s, &r);
        reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
        for (size_t i = 0; i < m; i++)
            send_seg(c, &s, isn, &segs[order[i]]);
        int ended_early = r.ends != 0;
        reasm_stream_close(c, &s);
        int bad = ended_early || r.ends != 1 || r.order_err || r.after_end;
        bad |= r.ngaps != 1 || r.gap_off[0] != segs[lost].off || r.gap_len[0] != segs[lost].len;
        bad |= r.next_off != n || r.data_bytes != n - segs[lost].len;
        for (uint64_t i = 0; i < n; i++) {
            int in_gap = i >= segs[lost].off && i < segs[lost].off + segs[lost].len;
            if (r.kind[i] != (in_gap ? 2 : 1) || (!in_gap && r.buf[i] != orig[i])) bad = 1;
        }
        bad |= reasm_ctx_stats(c)->memuse != 0;
        if (bad) fprintf(stderr, "loss trial %d: lost seg %zu of %zu\n", trial, lost, k);
        fails += bad != 0;
        runs++;
        rec_free(&r);
    }
    CHECK_EQ(fails, 0);
    CHECK_EQ(runs, 300);
    CHECK_EQ(reasm_ctx_stats(c)->gaps, 300);
    reasm_ctx_free(c);
}

/* ---- caps ------------------------------------------------------------------ */

/* memory one held segment costs beyond its bytes, measured, not assumed */
static uint64_t seg_overhead(void)
{
    struct reasm_config cfg;
    reasm_config_default(&cfg);
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    struct reasm_stream s;
    uint8_t d[10] = {0};
    reasm_stream_init(&s, NULL);
    reasm_segment(c, &s, 0, TCP_SYN, NULL, 0);
    reasm_segment(c, &s, 100, 0, d, 10);
    uint64_t ov = reasm_ctx_stats(c)->memuse - 10;
    reasm_segment(c, &s, 200, 0, d, 10);
    CHECK_EQ(reasm_ctx_stats(c)->memuse, 2 * (10 + ov));
    reasm_stream_close(c, &s);
    CHECK_EQ(reasm_ctx_stats(c)->memuse, 0);
    reasm_ctx_free(c);
    CHECK(ov > 0 && ov < 256);
    return ov;
}

static void test_caps_exact(void)
{
    uint8_t d[4000];
    rng_state = 99;
    fill_random(d, sizeof(d));
    uint64_t ov = seg_overhead();
    uint32_t isn = 0xFFFFFF00u;

    /* per-stream byte cap: ten 100-byte segments fit, the eleventh forces the
     * hole [0,100) out as a gap and the held data out as data */
    {
        struct reasm_config cfg = {1ull << 30, 1000, 1000};
        struct reasm_ctx *c = reasm_ctx_new(&cfg);
        const struct reasm_stats *st = reasm_ctx_stats(c);
        struct rec r;
        struct reasm_stream s;
        rec_init(&r, 4000);
        stream_open(&s, &r);
        reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
        for (uint32_t off = 100; off < 1100; off += 100)
            reasm_segment(c, &s, isn + 1 + off, 0, d + off, 100);
        CHECK_EQ(s.ooo_bytes, 1000);
        CHECK_EQ(st->memuse, 10 * (100 + ov));
        CHECK_EQ(r.next_off, 0);
        reasm_segment(c, &s, isn + 1 + 1100, 0, d + 1100, 100);
        CHECK_EQ(st->stream_cap_hit, 1);
        CHECK_EQ(st->memcap_hit, 0);
        CHECK_EQ(st->gaps, 1);
        CHECK_EQ(st->gap_bytes, 100);
        CHECK_EQ(r.ngaps, 1);
        CHECK_EQ(r.gap_off[0], 0);
        CHECK_EQ(r.gap_len[0], 100);
        CHECK_EQ(r.next_off, 1200);
        CHECK(memcmp(r.buf + 100, d + 100, 1100) == 0);
        CHECK_EQ(st->memuse, 0);
        CHECK_EQ(st->memuse_peak, 10 * (100 + ov));
        CHECK_EQ(st->out_of_order, 10);
        /* the late segment for the gap is old now */
        reasm_segment(c, &s, isn + 1, 0, d, 100);
        CHECK_EQ(st->retransmits, 1);
        /* a single segment bigger than the cap, after a hole: gap, then data */
        reasm_segment(c, &s, isn + 1 + 1300, 0, d + 1300, 1500);
        CHECK_EQ(st->stream_cap_hit, 2);
        CHECK_EQ(r.ngaps, 2);
        CHECK_EQ(r.gap_off[1], 1200);
        CHECK_EQ(r.gap_len[1], 100);
        CHECK_EQ(r.next_off, 2800);
        CHECK(memcmp(r.buf + 1300, d + 1300, 1500) == 0);
        reasm_stream_close(c, &s);
        CHECK_EQ(st->gaps, 2);
        CHECK_EQ(st->memuse, 0);
        CHECK_EQ(r.ends, 1);
        CHECK_EQ(r.order_err, 0);
        rec_free(&r);
        reasm_ctx_free(c);
    }
    /* per-stream segment cap: two holes, the cap flushes one run at a time */
    {
        struct reasm_config cfg = {1ull << 30, 1u << 20, 4};
        struct reasm_ctx *c = reasm_ctx_new(&cfg);
        const struct reasm_stats *st = reasm_ctx_stats(c);
        struct rec r;
        struct reasm_stream s;
        rec_init(&r, 4000);
        stream_open(&s, &r);
        reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
        /* hole [0,10), held [10,20) [20,30), hole [30,40), held [40,50) [50,60) */
        static const uint32_t offs[] = {10, 20, 40, 50};
        for (int i = 0; i < 4; i++)
            reasm_segment(c, &s, isn + 1 + offs[i], 0, d + offs[i], 10);
        CHECK_EQ(s.ooo_count, 4);
        reasm_segment(c, &s, isn + 1 + 70, 0, d + 70, 10); /* fifth: cap */
        CHECK_EQ(st->stream_cap_hit, 1);
        CHECK_EQ(r.ngaps, 1);
        CHECK_EQ(r.next_off, 30); /* only the first run went out */
        CHECK_EQ(s.ooo_count, 3);
        reasm_stream_close(c, &s);
        CHECK_EQ(r.ngaps, 3); /* [30,40) and [60,70) at close */
        CHECK_EQ(r.gap_off[1], 30);
        CHECK_EQ(r.gap_len[1], 10);
        CHECK_EQ(r.gap_off[2], 60);
        CHECK_EQ(r.gap_len[2], 10);
        CHECK_EQ(r.next_off, 80);
        CHECK_EQ(st->gaps, 3);
        CHECK_EQ(st->gap_bytes, 30);
        CHECK_EQ(st->stream_cap_hit, 1);
        CHECK_EQ(st->memuse, 0);
        rec_free(&r);
        reasm_ctx_free(c);
    }
    /* global memcap shared by two streams of one context */
    {
        struct reasm_config cfg = {3 * (100 + ov), 1u << 20, 1000};
        struct reasm_ctx *c = reasm_ctx_new(&cfg);
        const struct reasm_stats *st = reasm_ctx_stats(c);
        struct rec ra, rb;
        struct reasm_stream a, b;
        rec_init(&ra, 4000);
        rec_init(&rb, 4000);
        stream_open(&a, &ra);
        stream_open(&b, &rb);
        reasm_segment(c, &a, 10, TCP_SYN, NULL, 0);
        reasm_segment(c, &b, isn, TCP_SYN, NULL, 0);
        for (uint32_t off = 100; off < 400; off += 100)
            reasm_segment(c, &a, 11 + off, 0, d + off, 100);
        CHECK_EQ(st->memuse, cfg.memcap);
        /* b holds nothing, so it gaps up to its segment and delivers it */
        reasm_segment(c, &b, isn + 1 + 50, 0, d + 50, 100);
        CHECK_EQ(st->memcap_hit, 1);
        CHECK_EQ(st->stream_cap_hit, 0);
        CHECK_EQ(rb.ngaps, 1);
        CHECK_EQ(rb.gap_len[0], 50);
        CHECK_EQ(rb.next_off, 150);
        CHECK(memcmp(rb.buf + 50, d + 50, 100) == 0);
        CHECK_EQ(a.ooo_count, 3);
        /* a must release its own memory to hold more */
        reasm_segment(c, &a, 11 + 500, 0, d + 500, 100);
        CHECK_EQ(st->memcap_hit, 2);
        CHECK_EQ(ra.ngaps, 1);
        CHECK_EQ(ra.gap_len[0], 100);
        CHECK_EQ(ra.next_off, 400);
        CHECK_EQ(a.ooo_count, 1);
        CHECK_EQ(st->memuse, 100 + ov);
        CHECK(st->memuse_peak <= cfg.memcap);
        reasm_stream_close(c, &a);
        reasm_stream_close(c, &b);
        CHECK_EQ(ra.ngaps, 2);
        CHECK_EQ(ra.next_off, 600);
        CHECK(memcmp(ra.buf + 100, d + 100, 300) == 0);
        CHECK(memcmp(ra.buf + 500, d + 500, 100) == 0);
        CHECK_EQ(st->memuse, 0);
        CHECK_EQ(ra.ends + rb.ends, 2);
        rec_free(&ra);
        rec_free(&rb);
        reasm_ctx_free(c);
    }
}

/* shuffled streams under tight caps: whatever is delivered is right, gaps
 * and data together cover the stream exactly, no cap is ever exceeded */
static void test_caps_random(void)
{
    static uint8_t orig[BIG];
    static struct tseg segs[MAXSEG];
    static size_t order[MAXSEG];
    rng_state = 2024;
    fill_random(orig, BIG);
    unsigned fails = 0;
    uint64_t hits = 0;

    for (int trial = 0; trial < 200; trial++) {
        struct reasm_config cfg = {3000 + rnd_below(8000), 500 + rnd_below(4000),
                                   1 + rnd_below(20)};
        struct reasm_ctx *c = reasm_ctx_new(&cfg);
        const struct reasm_stats *st = reasm_ctx_stats(c);
        struct rec r[2];
        struct reasm_stream s[2];
        size_t k = segment_randomly(segs, orig, BIG);
        uint32_t isn = (uint32_t)rnd();
        for (int j = 0; j < 2; j++) {
            rec_init(&r[j], BIG);
            stream_open(&s[j], &r[j]);
            reasm_segment(c, &s[j], isn, TCP_SYN, NULL, 0);
        }
        int bad = 0;
        for (size_t i = 0; i < k; i++)
            order[i] = i;
        shuffle(order, k);
        /* two streams interleaved: the memcap is shared */
        for (size_t i = 0; i < 2 * k; i++) {
            int j = (int)(i & 1);
            send_seg(c, &s[j], isn, &segs[order[j ? k - 1 - i / 2 : i / 2]]);
            if (s[j].ooo_bytes > cfg.stream_cap || s[j].ooo_count > cfg.max_segments ||
                st->memuse > cfg.memcap)
                bad |= 1;
        }
        uint64_t gaps = 0, gap_bytes = 0;
        for (int j = 0; j < 2; j++) {
            reasm_stream_close(c, &s[j]);
            if (r[j].ends != 1 || r[j].order_err || r[j].after_end || r[j].next_off != BIG)
                bad |= 2;
            if (r[j].data_bytes + r[j].gap_bytes != BIG) bad |= 4;
            for (size_t i = 0; i < BIG; i++)
                if (r[j].kind[i] == 0 || (r[j].kind[i] == 1 && r[j].buf[i] != orig[i])) bad |= 8;
            gaps += r[j].ngaps;
            gap_bytes += r[j].gap_bytes;
            rec_free(&r[j]);
        }
        if (st->gaps != gaps || st->gap_bytes != gap_bytes || st->memuse != 0 ||
            st->memuse_peak > cfg.memcap || st->stream_cap_hit + st->memcap_hit > st->gaps ||
            st->bytes_delivered + st->gap_bytes != 2 * BIG)
            bad |= 16;
        hits += st->stream_cap_hit + st->memcap_hit;
        if (bad) fprintf(stderr, "caps trial %d: failure bits %d\n", trial, bad);
        fails += bad != 0;
        reasm_ctx_free(c);
    }
    CHECK_EQ(fails, 0);
    CHECK(hits > 200); /* the caps really were in play */
}

/* ---- many tiny segments -------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_tiny_segments(void)
{
    enum { N = 100000 };
    static uint8_t orig[N];
    rng_state = 5;
    fill_random(orig, N);
    struct reasm_config cfg = {1ull << 32, 1u << 30, 1u << 20};
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    const struct reasm_stats *st = reasm_ctx_stats(c);
    uint32_t isn = 0xFFFF0000u;

    for (int pattern = 0; pattern < 3; pattern++) {
        struct rec r;
        struct reasm_stream s;
        rec_init(&r, N);
        stream_open(&s, &r);
        reasm_segment(c, &s, isn, TCP_SYN, NULL, 0);
        double t0 = now_s();
        for (uint32_t i = 0; i < N; i++) {
            uint32_t off;
            if (pattern == 0)
                off = N - 1 - i; /* reverse: every segment held until the last */
            else if (pattern == 1)
                off = (i + 1) % N; /* a hole at the start, then appends */
            else
                off = (i ^ 1) < N ? i ^ 1 : i; /* pairs swapped: near-append */
            reasm_segment(c, &s, isn + 1 + off, 0, orig + off, 1);
        }
        double dt = now_s() - t0;
        reasm_stream_close(c, &s);
        CHECK_EQ(r.next_off, N);
        CHECK_EQ(r.ngaps, 0);
        CHECK_EQ(r.order_err, 0);
        CHECK(memcmp(r.buf, orig, N) == 0);
        CHECK_EQ(st->memuse, 0);
        /* quadratic would be ~5e9 steps; linear is milliseconds even under ASan */
        CHECK(dt < 3.0);
        printf("tiny segments pattern %d: %d segments in %.3f s\n", pattern, N, dt);
        rec_free(&r);
    }
    CHECK(st->memuse_peak >= (uint64_t)(N - 1) * 2);
    reasm_ctx_free(c);
}

int main(void)
{
    test_every_split();
    test_random_segmentations();
    test_overlap_rules();
    test_syn_and_midstream();
    test_fin_rst_close();
    test_rst_validation();
    test_loss();
    test_caps_exact();
    test_caps_random();
    test_tiny_segments();
    return check_done();
}
