/* match.c - the Hyperscan matcher: one stream-mode database, validated records.
 *
 * In: a ruleset (process lifetime), then per stream the bytes in order, in
 * blocks of any size, with explicit holes (match_stream_gap*). Out: each
 * validated value once, through the caller's callback, as a struct record.
 *
 * Hyperscan runs without start-of-match (SOM in stream mode costs stream
 * state and speed on every byte of every stream); it reports where a match
 * ends. Each stream keeps a look-back of at least L bytes (L = the longest
 * value window of any pattern + 1 for the left boundary byte), so the value
 * can be recovered from that end:
 *   - fixed-width patterns: the width bytes ending there;
 *   - value_tail patterns: the last [0-9A-Za-z] run ending there;
 *   - variable-width patterns: the longest full match ending there, found by
 *     a tiny block-mode database of the same pattern anchored at the end
 *     ("(?:re)\z", SOM leftmost) scanned over the look-back window only.
 * Then: no boundary-class byte (and no '*') before the value, none of the
 * class after it, no '*' in it, and the validator. A value that ends exactly
 * at the end of a block waits (pending) for the first byte of the next block,
 * the end of the stream, or is dropped by a gap. docs/matching.md has the
 * reasoning and the corner cases.
 *
 * Memory: per stream one allocation (our state + look-back of 2L bytes) and
 * Hyperscan's stream state; nothing is allocated per scan or per match. Only
 * this file includes <hs.h>. */
#include "rules/match.h"

#include <assert.h>
#include <hs.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/validate.h"

/* Values ending at a block's end that wait for the next byte. At most one per
 * boundary pattern can wait at a time; past this cap a value is rejected
 * (counted), never lost silently. */
#define PENDING_MAX 16
/* A variable-width candidate whose longest match fails its checks is retried
 * from after the next byte outside its boundary class at most this often. */
#define VERIFY_TRIES 8
/* hs_scan_stream takes an unsigned int length. */
#define SCAN_CHUNK (1u << 30)

enum value_kind {
    VALUE_FIXED, /* min width == max width: the value is the last width bytes */
    VALUE_TAIL,  /* value_tail: the last alnum run */
    VALUE_VAR,   /* the longest full match ending here */
};

struct pat_info {
    uint16_t win;     /* longest value in bytes: look-back this pattern needs */
    uint16_t minw;    /* shortest match in bytes */
    uint8_t kind;     /* enum value_kind */
    uint8_t record;   /* copy of rule_pattern.record */
    uint8_t boundary; /* enum rule_boundary */
    uint8_t category;
    validate_fn validator; /* NULL: none */
    hs_database_t *verify; /* VALUE_VAR: block-mode "(?:re)\z" with SOM; NULL if it
                              would not compile (then: candidates by length) */
};

struct match_db {
    const struct ruleset *rs;
    hs_database_t *hs; /* NULL when the ruleset has no patterns */
    struct pat_info *pi;
    size_t n;
    size_t look; /* L: look-back kept per stream */
    size_t hs_stream_size;
};

struct match_scratch {
    const struct match_db *db;
    hs_scratch_t *hs;
    /* The verifier scans inside the stream callback, while hs is in use. */
    hs_scratch_t *vhs;
    struct match_stats st;
    struct match_stream *block; /* reused by match_scan_block: no allocation */
};

struct pending {
    uint16_t pattern;
    uint8_t len;
};

struct match_stream {
    const struct match_db *db;
    hs_stream_t *hs;
    uint64_t off;      /* stream offset of the next byte to scan */
    uint64_t seg_base; /* stream offset where Hyperscan's offsets start (open, gap) */
    uint64_t dropped;  /* rejected by a gap, counted at the next call with a scratch */
    uint8_t after_gap; /* the byte before seg_base is unknown */
    uint8_t broken;    /* a Hyperscan error: every later scan fails */
    uint8_t n_pending; /* all pending values end at off */
    struct pending pending[PENDING_MAX];
    size_t hist_len; /* bytes of look-back, ending at off */
    size_t hist_cap; /* 2L: appending slides only once per L bytes */
    uint8_t hist[];
};

/* What the Hyperscan callback needs to see: the block being scanned and the
 * history before it. */
struct scan_ctx {
    struct match_stream *st;
    struct match_scratch *s;
    const uint8_t *blk;
    size_t blk_len;
    uint64_t blk_off; /* stream offset of blk[0] */
    int at_end;       /* close/finish: nothing follows the last byte */
    int closing;      /* close-time reports: skip (pattern, end) already pending */
    struct pending done[PENDING_MAX];
    unsigned n_done;
    match_record_fn fn;
    void *ud;
};

/* ---- helpers ------------------------------------------------------------- */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void pat_errf(char *err, size_t errlen, const struct rule_pattern *p, const char *msg)
{
    errf(err, errlen, "%s:%d: pattern %s: %s", p->file ? p->file : "(rules)", p->line,
         p->id ? p->id : "?", msg);
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(uint8_t c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool in_class(uint8_t c, int boundary)
{
    switch (boundary) {
    case BOUNDARY_DIGIT:
        return is_digit(c);
    case BOUNDARY_ALNUM:
        return is_alnum(c);
    default:
        return false;
    }
}

/* A byte that may stand before a value: outside the class and not a mask. */
static bool left_byte_ok(uint8_t c, int boundary)
{
    return c != '*' && !in_class(c, boundary);
}

/* ---- database ------------------------------------------------------------ */

static int pattern_info(const struct rule_pattern *p, unsigned flags, struct pat_info *pi,
                        char *err, size_t errlen)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_expression_info(p->regex, flags, &info, &cerr) != HS_SUCCESS) {
        pat_errf(err, errlen, p, cerr && cerr->message ? cerr->message : "bad regex");
        hs_free_compile_error(cerr);
        return -1;
    }
    unsigned minw = info->min_width, maxw = info->max_width;
    free(info);
    if (minw == 0) {
        pat_errf(err, errlen, p, "regex can match the empty string");
        return -1;
    }
    if (minw == maxw && !p->value_tail) {
        pi->kind = VALUE_FIXED;
        pi->win = (uint16_t)(maxw > RECORD_MAX_LEN ? RECORD_MAX_LEN + 1 : maxw);
    } else {
        pi->kind = p->value_tail ? VALUE_TAIL : VALUE_VAR;
        unsigned w = p->max_len ? p->max_len : maxw;
        if (w == UINT_MAX) {
            pat_errf(err, errlen, p,
                     "regex has no longest match; bound its repeats or set max_len");
            return -1;
        }
        pi->win = (uint16_t)(w > RECORD_MAX_LEN ? RECORD_MAX_LEN + 1 : w);
    }
    if (pi->win > RECORD_MAX_LEN) {
        char msg[96];
        snprintf(msg, sizeof(msg), "longest match is more than %d bytes; set max_len",
                 RECORD_MAX_LEN);
        pat_errf(err, errlen, p, msg);
        return -1;
    }
    pi->minw = (uint16_t)(minw < pi->win ? minw : pi->win);
    return 0;
}

/* The verifier of a variable-width pattern. A failure to compile is not an
 * error: the matcher then tries candidate lengths instead (docs/matching.md). */
static hs_database_t *verify_build(const struct rule_pattern *p, unsigned flags,
                                   const hs_platform_info_t *plat)
{
    size_t n = strlen(p->regex);
    char *expr = malloc(n + 8);
    if (!expr) return NULL;
    memcpy(expr, "(?:", 3);
    memcpy(expr + 3, p->regex, n);
    memcpy(expr + 3 + n, ")\\z", 4);
    hs_database_t *vdb = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_compile(expr, flags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, plat, &vdb, &cerr) !=
        HS_SUCCESS) {
        hs_free_compile_error(cerr);
        vdb = NULL;
    }
    free(expr);
    return vdb;
}

static unsigned pattern_flags(const struct rule_pattern *p)
{
    /* every occurrence is needed, and SOM is recovered by look-back */
    return p->hs_flags & ~(unsigned)(HS_FLAG_SINGLEMATCH | HS_FLAG_SOM_LEFTMOST);
}

void match_db_free(struct match_db *db)
{
    if (!db) return;
    if (db->pi)
        for (size_t i = 0; i < db->n; i++)
            hs_free_database(db->pi[i].verify);
    free(db->pi);
    hs_free_database(db->hs);
    free(db);
}

int match_db_build(const struct ruleset *rs, struct match_db **out, char *err, size_t errlen)
{
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    hs_compile_error_t *cerr = NULL;
    struct match_db *db = calloc(1, sizeof(*db));
    *out = NULL;
    if (!db) goto nomem;
    db->rs = rs;
    db->n = rs->n_patterns;
    if (db->n > UINT16_MAX + 1u) {
        errf(err, errlen, "too many patterns (%zu, at most %u)", db->n, UINT16_MAX + 1u);
        goto error;
    }
    db->pi = calloc(db->n ? db->n : 1, sizeof(*db->pi));
    exprs = calloc(db->n ? db->n : 1, sizeof(*exprs));
    flags = calloc(db->n ? db->n : 1, sizeof(*flags));
    ids = calloc(db->n ? db->n : 1, sizeof(*ids));
    if (!db->pi || !exprs || !flags || !ids) goto nomem;

    hs_platform_info_t plat;
    if (hs_populate_platform(&plat) != HS_SUCCESS) {
        errf(err, errlen, "Hyperscan: cannot read this CPU's features");
        goto error;
    }
    size_t win_max = 0;
    for (size_t i = 0; i < db->n; i++) {
        const struct rule_pattern *p = &rs->patterns[i];
        struct pat_info *pi = &db->pi[i];
        if (!p->regex) {
            pat_errf(err, errlen, p, "no regex");
            goto error;
        }
        exprs[i] = p->regex;
        flags[i] = pattern_flags(p);
        ids[i] = (unsigned)i;
        if (pattern_info(p, flags[i], pi, err, errlen) != 0) goto error;
        pi->record = p->record;
        pi->boundary = (uint8_t)p->boundary;
        pi->category = (uint8_t)p->category;
        const struct validator *v = p->validator_idx >= 0 ? validate_get(p->validator_idx) : NULL;
        pi->validator = v ? v->fn : NULL;
        if (pi->kind == VALUE_VAR && pi->record) pi->verify = verify_build(p, flags[i], &plat);
        if (pi->win > win_max) win_max = pi->win;
    }
    db->look = win_max + 1;

    if (db->n) {
        if (hs_compile_multi(exprs, flags, ids, (unsigned)db->n, HS_MODE_STREAM, &plat, &db->hs,
                             &cerr) != HS_SUCCESS) {
            const char *msg = cerr && cerr->message ? cerr->message : "compile failed";
            if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < db->n)
                pat_errf(err, errlen, &rs->patterns[cerr->expression], msg);
            else
                errf(err, errlen, "Hyperscan: %s", msg);
            goto error;
        }
        if (hs_stream_size(db->hs, &db->hs_stream_size) != HS_SUCCESS) {
            errf(err, errlen, "Hyperscan: cannot size the stream state");
            goto error;
        }
    }
    hs_free_compile_error(cerr);
    free(exprs);
    free(flags);
    free(ids);
    *out = db;
    return 0;

nomem:
    errf(err, errlen, "out of memory building the matcher");
error:
    hs_free_compile_error(cerr);
    free(exprs);
    free(flags);
    free(ids);
    match_db_free(db);
    return -1;
}

const struct ruleset *match_db_ruleset(const struct match_db *db)
{
    return db->rs;
}

size_t match_db_stream_size(const struct match_db *db)
{
    return db->hs_stream_size + sizeof(struct match_stream) + 2 * db->look;
}

/* ---- scratch ------------------------------------------------------------- */

static struct match_stream *stream_new(const struct match_db *db);
static void stream_free(struct match_stream *st);

struct match_scratch *match_scratch_new(const struct match_db *db)
{
    struct match_scratch *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->db = db;
    if (db->hs && hs_alloc_scratch(db->hs, &s->hs) != HS_SUCCESS) goto error;
    for (size_t i = 0; i < db->n; i++)
        if (db->pi[i].verify && hs_alloc_scratch(db->pi[i].verify, &s->vhs) != HS_SUCCESS)
            goto error;
    if (!(s->block = stream_new(db))) goto error;
    return s;
error:
    match_scratch_free(s);
    return NULL;
}

void match_scratch_free(struct match_scratch *s)
{
    if (!s) return;
    stream_free(s->block);
    hs_free_scratch(s->hs);
    hs_free_scratch(s->vhs);
    free(s);
}

const struct match_stats *match_scratch_stats(const struct match_scratch *s)
{
    return &s->st;
}

/* ---- look-back ----------------------------------------------------------- */

/* The byte at stream offset abs; the caller made sure the look-back or the
 * block holds it. */
static uint8_t byte_at(const struct scan_ctx *c, uint64_t abs)
{
    if (abs >= c->blk_off) return c->blk[abs - c->blk_off];
    return c->st->hist[c->st->hist_len - (size_t)(c->blk_off - abs)];
}

/* Copies the n bytes ending at stream offset end into out: the part before
 * the block from the look-back, the rest from the block. */
static void copy_back(const struct scan_ctx *c, uint64_t end, size_t n, uint8_t *out)
{
    uint64_t start = end - n;
    size_t i = 0;
    if (start < c->blk_off) {
        size_t from_hist = (size_t)((end < c->blk_off ? end : c->blk_off) - start);
        memcpy(out, c->st->hist + c->st->hist_len - (size_t)(c->blk_off - start), from_hist);
        i = from_hist;
        start += from_hist;
    }
    if (i < n) memcpy(out + i, c->blk + (start - c->blk_off), n - i);
}

/* Appends a scanned block to the look-back. Keeps at least L bytes (or all
 * since seg_base); slides down only when the 2L buffer is full. */
static void hist_append(struct match_stream *st, const uint8_t *d, size_t n)
{
    size_t L = st->db->look;
    if (n >= L) {
        memcpy(st->hist, d + n - L, L);
        st->hist_len = L;
        return;
    }
    if (st->hist_len + n > st->hist_cap) {
        size_t keep = L - n;
        memmove(st->hist, st->hist + st->hist_len - keep, keep);
        st->hist_len = keep;
    }
    memcpy(st->hist + st->hist_len, d, n);
    st->hist_len += n;
}

/* ---- recovering and checking a value ------------------------------------ */

/* Whether the byte before a value starting at stream offset vstart allows it. */
static bool left_ok(const struct scan_ctx *c, uint64_t vstart, int boundary)
{
    if (vstart == c->st->seg_base) return !c->st->after_gap; /* stream start is a boundary */
    return left_byte_ok(byte_at(c, vstart - 1), boundary);
}

static bool value_ok(const struct pat_info *pi, const uint8_t *v, size_t len)
{
    if (memchr(v, '*', len)) return false;
    return !pi->validator || pi->validator(v, len);
}

struct verify_res {
    unsigned long long from;
    int found;
};

static int verify_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                     void *ctx)
{
    (void)id, (void)to, (void)flags;
    struct verify_res *r = ctx;
    if (!r->found || from < r->from) r->from = from;
    r->found = 1;
    return 0;
}

/* Finds the value of a variable-width match ending at stream offset end.
 * w holds the n bytes before end; if n == win + 1 its first byte is only
 * the left boundary byte. Returns the value's start index in w, or -1. */
static long var_value(const struct scan_ctx *c, const struct pat_info *pi, const uint8_t *w,
                      size_t n, uint64_t end)
{
    uint64_t wstart = end - n;
    size_t lo = n > pi->win ? n - pi->win : 0;
    if (!pi->verify) {
        /* no verifier: longest to shortest candidate that passes every check */
        for (size_t start = lo; start + pi->minw <= n; start++) {
            if (start == 0 ? !left_ok(c, wstart, pi->boundary)
                           : !left_byte_ok(w[start - 1], pi->boundary))
                continue;
            if (value_ok(pi, w + start, n - start)) return (long)start;
        }
        return -1;
    }
    for (int tries = 0; tries < VERIFY_TRIES && lo < n; tries++) {
        struct verify_res r = {0, 0};
        if (hs_scan(pi->verify, (const char *)w + lo, (unsigned)(n - lo), 0, c->s->vhs, verify_cb,
                    &r) != HS_SUCCESS) {
            c->s->st.scan_errors++;
            return -1;
        }
        if (!r.found) return -1;
        size_t start = lo + (size_t)r.from;
        bool left = start == 0 ? left_ok(c, wstart, pi->boundary)
                               : left_byte_ok(w[start - 1], pi->boundary);
        if (left && value_ok(pi, w + start, n - start)) return (long)start;
        if (pi->boundary == BOUNDARY_NONE) return -1; /* the longest match is the value */
        /* a later start needs a byte outside the class right before it */
        size_t q = start;
        while (q < n && !left_byte_ok(w[q], pi->boundary))
            q++;
        lo = q + 1;
    }
    return -1;
}

static void emit(struct scan_ctx *c, uint16_t pattern, const uint8_t *v, size_t len, uint64_t end)
{
    struct record r;
    r.pattern = pattern;
    r.category = c->st->db->pi[pattern].category;
    r.len = (uint8_t)len;
    r.end_off = end;
    memcpy(r.value, v, len);
    c->s->st.records++;
    c->fn(c->ud, &r);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from, (void)flags; /* no SOM: from is meaningless */
    struct scan_ctx *c = ctx;
    struct match_stream *st = c->st;
    const struct match_db *db = st->db;
    c->s->st.raw_matches++;
    if (id >= db->n || !db->pi[id].record) return 0;
    const struct pat_info *pi = &db->pi[id];
    uint64_t end = st->seg_base + to;
    uint64_t blk_end = c->blk_off + c->blk_len;
    uint64_t avail = c->blk_off - st->hist_len; /* == seg_base when less than L is held */

    if (c->closing)
        for (unsigned i = 0; i < c->n_done; i++)
            if (c->done[i].pattern == id) return 0; /* already decided at this end */

    /* right boundary first: it is free and turns away most variable ends */
    bool pending = false;
    if (pi->boundary != BOUNDARY_NONE) {
        if (end < blk_end) {
            if (end < avail || in_class(byte_at(c, end), pi->boundary)) goto reject;
        } else if (!c->at_end) {
            pending = true;
        }
    }

    /* the look-back window: value plus its left byte, as far as held */
    uint8_t w[RECORD_MAX_LEN + 1];
    size_t n = end - avail < (uint64_t)pi->win + 1 ? (size_t)(end - avail) : pi->win + 1u;
    copy_back(c, end, n, w);
    size_t start;
    switch (pi->kind) {
    case VALUE_FIXED:
        if (n < pi->win) goto reject; /* cannot happen: the match is in the segment */
        start = n - pi->win;
        if (!(start == 0 ? left_ok(c, end - n, pi->boundary)
                         : left_byte_ok(w[start - 1], pi->boundary)))
            goto reject;
        break;
    case VALUE_TAIL: {
        size_t lo = n > pi->win ? n - pi->win : 0;
        start = n;
        while (start > lo && is_alnum(w[start - 1]))
            start--;
        if (start == n) goto reject;
        if (start == 0) {
            if (!left_ok(c, end - n, pi->boundary)) goto reject;
        } else if (start == lo && is_alnum(w[start - 1])) {
            goto reject; /* longer than the pattern's window */
        } else if (!left_byte_ok(w[start - 1], pi->boundary)) {
            goto reject;
        }
        break;
    }
    default: {
        long s = var_value(c, pi, w, n, end);
        if (s < 0) goto reject;
        start = (size_t)s;
        break;
    }
    }
    size_t vlen = n - start;
    if (pi->kind != VALUE_VAR && !value_ok(pi, w + start, vlen)) goto reject;

    if (pending) {
        if (st->n_pending == PENDING_MAX) goto reject;
        st->pending[st->n_pending].pattern = (uint16_t)id;
        st->pending[st->n_pending].len = (uint8_t)vlen;
        st->n_pending++;
        return 0;
    }
    if (c->fn)
        emit(c, (uint16_t)id, w + start, vlen, end);
    else
        c->s->st.rejected++; /* nobody to deliver to (a failed stream's close) */
    return 0;
reject:
    c->s->st.rejected++;
    return 0;
}

/* Decides the values waiting at the end of the last block: next is the byte
 * that follows them, or -1 at the end of the stream. */
static void resolve_pending(struct scan_ctx *c, int next)
{
    struct match_stream *st = c->st;
    for (unsigned i = 0; i < st->n_pending; i++) {
        const struct pending *p = &st->pending[i];
        const struct pat_info *pi = &st->db->pi[p->pattern];
        if ((next >= 0 && in_class((uint8_t)next, pi->boundary)) || !c->fn) {
            c->s->st.rejected++;
            continue;
        }
        /* a pending value ends at st->off, the end of the look-back */
        emit(c, p->pattern, st->hist + st->hist_len - p->len, p->len, st->off);
    }
    if (c->closing) {
        memcpy(c->done, st->pending, st->n_pending * sizeof(st->pending[0]));
        c->n_done = st->n_pending;
    }
    st->n_pending = 0;
}

/* ---- streams ------------------------------------------------------------- */

static struct match_stream *stream_new(const struct match_db *db)
{
    size_t cap = 2 * db->look;
    struct match_stream *st = calloc(1, sizeof(*st) + cap);
    if (!st) return NULL;
    st->db = db;
    st->hist_cap = cap;
    if (db->hs && hs_open_stream(db->hs, 0, &st->hs) != HS_SUCCESS) {
        free(st);
        return NULL;
    }
    return st;
}

static void stream_free(struct match_stream *st)
{
    if (!st) return;
    if (st->hs) hs_close_stream(st->hs, NULL, NULL, NULL);
    free(st);
}

struct match_stream *match_stream_open(const struct match_db *db, struct match_scratch *s)
{
    struct match_stream *st = stream_new(db);
    if (st && s) s->st.streams_open++;
    return st;
}

static void collect_dropped(struct match_stream *st, struct match_scratch *s)
{
    s->st.rejected += st->dropped;
    st->dropped = 0;
}

int match_stream_scan(struct match_stream *st, struct match_scratch *s, const uint8_t *data,
                      size_t len, match_record_fn fn, void *ud)
{
    collect_dropped(st, s);
    if (st->broken) return -1;
    if (len == 0) return 0;
    struct scan_ctx c = {.st = st, .s = s, .fn = fn, .ud = ud};
    c.blk = data, c.blk_len = 0, c.blk_off = st->off;
    resolve_pending(&c, data[0]);
    while (len) {
        size_t n = len < SCAN_CHUNK ? len : SCAN_CHUNK;
        c.blk = data, c.blk_len = n, c.blk_off = st->off;
        if (st->hs && hs_scan_stream(st->hs, (const char *)data, (unsigned)n, 0, s->hs, on_match,
                                     &c) != HS_SUCCESS) {
            s->st.scan_errors++;
            st->broken = 1;
            return -1;
        }
        s->st.bytes_scanned += n;
        hist_append(st, data, n);
        st->off += n;
        data += n;
        len -= n;
    }
    return 0;
}

void match_stream_gap_len(struct match_stream *st, uint64_t len)
{
    /* Hyperscan must not join bytes across the hole; end-anchored matches it
     * would report now end at the hole, so they are not wanted. */
    if (st->hs && hs_reset_stream(st->hs, 0, NULL, NULL, NULL) != HS_SUCCESS) st->broken = 1;
    st->dropped += st->n_pending;
    st->n_pending = 0;
    st->hist_len = 0;
    st->off += len;
    st->seg_base = st->off;
    st->after_gap = 1;
}

void match_stream_gap(struct match_stream *st)
{
    match_stream_gap_len(st, 0);
}

/* End of data: pending values are decided (the end is a boundary), then
 * Hyperscan reports end-anchored matches. reuse: reset the Hyperscan stream
 * for another use instead of closing it. */
static void stream_finish(struct match_stream *st, struct match_scratch *s, match_record_fn fn,
                          void *ud, bool reuse)
{
    if (st->broken) fn = NULL; /* after a Hyperscan error nothing more is trusted */
    struct scan_ctx c = {.st = st, .s = s, .fn = fn, .ud = ud, .at_end = 1, .closing = 1};
    c.blk = NULL, c.blk_len = 0, c.blk_off = st->off;
    collect_dropped(st, s);
    resolve_pending(&c, -1);
    if (!st->hs) return;
    hs_error_t e;
    bool cb = fn != NULL;
    if (reuse)
        e = hs_reset_stream(st->hs, 0, cb ? s->hs : NULL, cb ? on_match : NULL, &c);
    else
        e = hs_close_stream(st->hs, cb ? s->hs : NULL, cb ? on_match : NULL, &c);
    if (e != HS_SUCCESS) s->st.scan_errors++;
    if (!reuse) st->hs = NULL;
}

void match_stream_close(struct match_stream *st, struct match_scratch *s, match_record_fn fn,
                        void *ud)
{
    if (!st) return;
    if (s) {
        stream_finish(st, s, fn, ud, false);
        if (s->st.streams_open) s->st.streams_open--;
    }
    stream_free(st);
}

int match_scan_block(const struct match_db *db, struct match_scratch *s, const uint8_t *data,
                     size_t len, match_record_fn fn, void *ud)
{
    struct match_stream *st = s->block;
    if (db != s->db || !st) return -1;
    int rc = match_stream_scan(st, s, data, len, fn, ud);
    stream_finish(st, s, fn, ud, true);
    st->off = st->seg_base = 0;
    st->hist_len = 0;
    st->n_pending = 0;
    st->after_gap = 0;
    st->dropped = 0;
    if (st->broken) {
        /* start over with a fresh Hyperscan stream for the next call */
        if (st->hs) hs_close_stream(st->hs, NULL, NULL, NULL);
        st->hs = NULL;
        if (db->hs && hs_open_stream(db->hs, 0, &st->hs) != HS_SUCCESS) {
            st->hs = NULL;
            return -1;
        }
        st->broken = 0;
    }
    return rc;
}
