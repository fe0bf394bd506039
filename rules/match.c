/* match.c - the matcher: normalised input, a digit-run pre-pass and one
 * stream-mode Hyperscan database, validated records.
 *
 * In: a ruleset (process lifetime), then per stream the bytes in order, in
 * blocks of any size, with explicit holes (match_stream_gap*). Out: each
 * validated value once, through the caller's callback, as a struct record.
 *
 * Three stages per block, all streaming (state carries across blocks):
 *   1. normalise: JSON \uXXXX escapes, %XX and full-width ASCII (U+FF01-FF5E:
 *      １３８, ＊) are decoded to what they stand for, one layer, never
 *      re-decoded. Bytes before the first escape that decodes (a '\', '%' or
 *      0xEF that starts none is plain) are scanned in place, uncopied;
 *      an escape cut by the block's end waits (at most 11 bytes) in the
 *      stream. Per normalised byte the number of source bytes it came from is
 *      kept, so a record still names the exact source text (end_off, src_len).
 *   2. pre-pass: patterns whose regex is a "digit shape" (digits, letters,
 *      digit and letter classes, '-' and ' ', groups, ?, {m,n}: e.g. the
 *      mobile, ID, landline, S10 and waybill patterns) are not given to
 *      Hyperscan, which has no literal to anchor them on (or only a short,
 *      common one, YT) and runs them at a few hundred MB/s. A SIMD
 *      loop finds where digit runs end (and the one or two letters after
 *      them); for each end whose run length the pattern allows, the value is
 *      found by trying the run starts in the look-back against the pattern's
 *      Glushkov automaton, leftmost first, exactly as start-of-match would.
 *   3. Hyperscan: every other pattern, in stream mode, without start-of-match.
 *      Values are recovered from the match end and a look-back of the last L
 *      bytes (L = longest value window + 1):
 *        - fixed-width patterns: the width bytes ending there;
 *        - value_tail patterns: the last [0-9A-Za-z] run ending there;
 *        - patterns whose validator finds its own value (cn_address): the
 *          validator looks back from the anchor (the regex can be just 号);
 *        - other variable-width patterns: the longest full match ending there,
 *          found by a tiny block-mode database of "(?:re)\z" with SOM scanned
 *          over the look-back window only.
 * Then: no boundary-class byte (and no '*') before the value, none of the
 * class after it, no '*' in it, the validator, and the validator's
 * normalisation; for a pattern with a context (a field name before its
 * value), a block-mode "(?:context)\z" scanned over the bytes before the
 * value. A value that ends exactly at the end of a block waits
 * (pending) for the first byte of the next block, the end of the stream, or
 * is dropped by a gap. docs/matching.md has the reasoning and corner cases.
 *
 * Memory: per stream one allocation (our state + look-back of 2L bytes and
 * their source lengths) and Hyperscan's stream state; per scratch one
 * normalisation buffer. Nothing is allocated per scan or per match. Only this
 * file includes <hs.h>. */
#include "rules/match.h"

#include <assert.h>
#include <hs.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

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
/* Normalised bytes per pass; a block with something to decode goes through
 * the scratch buffer in pieces of this size. */
#define NORM_CHUNK 16384
/* The longest escape: a surrogate pair \uD83D\uDE00. */
#define ESC_MAX 12
/* Positions of a digit shape's automaton (one per character it matches). */
#define SHAPE_POS 64
/* Letters after a digit run the pre-pass reports ends for ([0-9Xx], S10). */
#define TRAIL_MAX 2
/* Blocks are scanned in pieces of at most this many bytes, so the pre-pass
 * candidates of one piece fit the scratch's queue (one per byte and shape at
 * most) and are delivered in order with Hyperscan's. */
#define PIECE 2048

enum value_kind {
    VALUE_FIXED, /* min width == max width: the value is the last width bytes */
    VALUE_TAIL,  /* value_tail: the last alnum run */
    VALUE_VAR,   /* the longest full match ending here */
    VALUE_FIND,  /* the validator looks back for the value */
    VALUE_SHAPE, /* served by the pre-pass */
};

/* A digit shape: the Glushkov automaton of a small regex over digits,
 * letters in classes and the separators '-' and ' '. */
struct shape {
    uint64_t first, last;
    uint64_t follow[SHAPE_POS];
    uint64_t cls[128];          /* positions that accept ASCII byte c */
    uint64_t runlen[TRAIL_MAX + 1]; /* bit L of [t]: a value can end in a digit run of
                                       exactly L digits and then t letters */
    uint64_t alone[TRAIL_MAX + 1];  /* the same, for a run that starts the value */
    uint64_t inner[TRAIL_MAX + 1];  /* the same, for a run that is not the value's
                                       start: then one of pre[] stands before it */
    uint64_t pre[2];                /* bytes that can stand before such a run */
};

struct pat_info {
    uint16_t win;     /* longest value in bytes: look-back this pattern needs */
    uint16_t minw;    /* shortest match in bytes */
    uint8_t kind;     /* enum value_kind */
    uint8_t record;   /* copy of rule_pattern.record */
    uint8_t boundary; /* enum rule_boundary */
    uint8_t category;
    validate_fn validator;  /* NULL: none */
    validate_norm_fn norm;  /* NULL: the value is kept as found */
    validate_find_fn find;  /* VALUE_FIND */
    struct shape *shape;    /* VALUE_SHAPE */
    hs_database_t *verify;  /* VALUE_VAR: block-mode "(?:re)\z" with SOM; NULL if it
                               would not compile (then: candidates by length) */
    hs_database_t *exact;   /* VALUE_VAR without a verifier: "^(?:re)\z", no SOM */
    hs_database_t *ctx;     /* the rule's context: block-mode "(?:context)\z", scanned
                               over the ctx_win bytes before a value; NULL: none */
    uint16_t ctx_win;       /* the context's longest match in bytes */
};

/* At most this many patterns are served by the pre-pass (one bit each in
 * the run-end tables below); more digit shapes go to Hyperscan. */
#define SHAPES_MAX 64

struct match_db {
    const struct ruleset *rs;
    hs_database_t *hs; /* NULL when no pattern is left for Hyperscan */
    struct pat_info *pi;
    size_t n;
    uint16_t shape_id[SHAPES_MAX]; /* the patterns served by the pre-pass */
    size_t n_shapes;
    /* The run-end check over every shape at once, bit k for shape k: which
     * shapes can end in a run of L digits then t letters that starts the
     * value ([t][L]), or that has a byte before it (inner[t][L]), and which
     * shapes allow byte c before such a run (pre[c]) */
    uint64_t end_alone[TRAIL_MAX + 1][64];
    uint64_t end_inner[TRAIL_MAX + 1][64];
    uint64_t end_pre[128];
    uint64_t end_first[128]; /* shapes whose value may begin with byte c */
    unsigned trail;   /* most letters after a digit run any shape ends with */
    /* bit L of [t]: some shape can end in a run of L digits and t letters
     * (the union of its alone and inner masks): the pre-pass turns away
     * every other run end without looking at the shapes */
    uint64_t run_any[TRAIL_MAX + 1];
    unsigned run_min; /* shortest run length in any run_any[], 64 if none */
    size_t look;      /* L: look-back kept per stream */
    uint8_t n_hold;   /* 1 when a record pattern has a variable width: streams hold one value */
    size_t hs_stream_size;
};

#define STREAM_POOL 8 /* closed streams a scratch keeps for reuse */

struct match_scratch {
    const struct match_db *db;
    hs_scratch_t *hs;
    /* The verifier scans inside the stream callback, while hs is in use. */
    hs_scratch_t *vhs;
    struct match_stats st;
    unsigned flags;
    bool avx2; /* 64-byte masks with AVX2: the CPU has it and MATCH_NO_AVX2 is clear */
    struct match_stream *block; /* reused by match_scan_block: no allocation */
    /* closed streams kept for the next match_stream_open on the same
     * database (their Hyperscan stream reset, not closed): a stream per HTTP
     * body allocates nothing once the pool holds one */
    struct match_stream *idle[STREAM_POOL];
    unsigned n_idle;
    /* pre-pass candidates of the piece being scanned, in end order; taken
     * in turn with Hyperscan's matches so records come out in end order */
    struct pcand {
        uint64_t end;
        uint16_t pattern;
    } *q;
    size_t q_len, q_next, q_cap;
    uint8_t nbuf[NORM_CHUNK + ESC_MAX];
    uint8_t nraw[NORM_CHUNK + ESC_MAX]; /* source bytes per normalised byte */
};

struct pending {
    uint16_t pattern;
    uint8_t span; /* normalised bytes of the value's text, ending at off */
};

struct match_stream {
    const struct match_db *db;
    hs_stream_t *hs;
    uint64_t off;      /* normalised offset of the next byte to scan */
    uint64_t raw_off;  /* the same in the caller's bytes */
    uint64_t seg_base; /* normalised offset where Hyperscan's offsets start (open, gap) */
    uint64_t dropped;  /* rejected by a gap, counted at the next call with a scratch */
    uint64_t run_start; /* pre-pass: where the digit run touching off began */
    uint16_t trail_run; /* pre-pass: a digit run of this length ended trail_n letters */
    uint8_t trail_n;    /*   before off, and more letters may follow (trail_run > 0) */
    uint8_t in_run;     /* pre-pass: the byte before off is a digit */
    uint8_t after_gap;  /* the byte before seg_base is unknown */
    uint8_t broken;     /* a Hyperscan error: every later scan fails */
    uint8_t n_pending;  /* all pending values end at off */
    uint8_t carry_len;
    uint8_t carry[ESC_MAX]; /* the start of an escape cut by the block's end */
    struct pending pending[PENDING_MAX];
    /* A variable-width pattern's last value, kept until it is known to be
     * the longest with its start (see emit); allocated when db->n_hold */
    struct held {
        uint64_t start; /* normalised offset of the value's first byte */
        uint8_t on;
        struct record r;
    } *held;
    size_t hist_len; /* bytes of look-back, ending at off */
    size_t hist_cap; /* 2L: appending slides only once per L bytes */
    uint8_t *hist_raw; /* source bytes per look-back byte (after hist) */
    uint8_t hist[];
};

/* What the callbacks need to see: the block being scanned and the history
 * before it. */
struct scan_ctx {
    struct match_stream *st;
    struct match_scratch *s;
    const uint8_t *blk;
    const uint8_t *blk_raw; /* source bytes per block byte; NULL: one each */
    size_t blk_len;
    uint64_t blk_off;     /* normalised offset of blk[0] */
    uint64_t raw_blk_off; /* source offset of blk[0] */
    int at_end;           /* close/finish: nothing follows the last byte */
    int closing;          /* close-time reports: skip (pattern, end) already pending */
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

static bool is_letter(uint8_t c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_alnum(uint8_t c)
{
    return is_digit(c) || is_letter(c);
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

/* ---- digit shapes -------------------------------------------------------- */

/* A regex the pre-pass can serve is parsed into a Glushkov automaton: one
 * position per character matched, first/last sets and follow sets, all as
 * 64-bit masks. Bounded repeats are unrolled (x{2,4} = x x x? x?), so the
 * automaton is exact. Anything outside the small grammar below (alternation,
 * unbounded repeats, other characters, anchors, flags)
 * leaves the pattern to Hyperscan: the shape is an optimisation, never a
 * change of meaning. */
struct shape_parse {
    const char *s;
    size_t i;
    struct shape *sh;
    int npos;
    int bad;
};

struct frag {
    uint64_t first, last;
    int nullable;
};

static struct frag frag_cat(struct shape *sh, struct frag a, struct frag b)
{
    for (uint64_t t = a.last; t; t &= t - 1)
        sh->follow[__builtin_ctzll(t)] |= b.first;
    struct frag r;
    r.first = a.first | (a.nullable ? b.first : 0);
    r.last = b.last | (b.nullable ? a.last : 0);
    r.nullable = a.nullable && b.nullable;
    return r;
}

static struct frag shape_alt(struct shape_parse *P);

/* One character class as a 128-bit set (two words). */
static void set_add(uint64_t set[2], unsigned c)
{
    set[c >> 6] |= 1ull << (c & 63);
}

static int shape_class(struct shape_parse *P, uint64_t set[2])
{
    const char *s = P->s;
    if (s[P->i] == '^') return -1;
    int n = 0;
    while (s[P->i] && s[P->i] != ']') {
        unsigned c = (unsigned char)s[P->i++];
        if (c == '\\') {
            if (s[P->i] == 'd') {
                P->i++;
                for (unsigned d = '0'; d <= '9'; d++)
                    set_add(set, d);
                n++;
                continue;
            }
            c = (unsigned char)s[P->i++];
            if (c != '-' && c != ' ' && c != '+') return -1;
        }
        unsigned hi = c;
        if (s[P->i] == '-' && s[P->i + 1] && s[P->i + 1] != ']') {
            hi = (unsigned char)s[P->i + 1];
            P->i += 2;
            if (hi < c) return -1;
        }
        for (unsigned x = c; x <= hi; x++) {
            if (!is_alnum((uint8_t)x) && x != '-' && x != ' ' && x != '+') return -1;
            set_add(set, x);
        }
        n++;
    }
    if (s[P->i] != ']' || n == 0) return -1;
    P->i++;
    return 0;
}

static struct frag shape_atom(struct shape_parse *P)
{
    struct frag f = {0, 0, 1};
    const char *s = P->s;
    uint64_t set[2] = {0, 0};
    char c = s[P->i];
    if (c == '(') {
        if (s[P->i + 1] != '?' || s[P->i + 2] != ':') goto bad;
        P->i += 3;
        f = shape_alt(P);
        if (s[P->i] != ')') goto bad;
        P->i++;
        return f;
    }
    if (c == '[') {
        P->i++;
        if (shape_class(P, set) != 0) goto bad;
    } else if (c == '\\' && s[P->i + 1] == 'd') {
        P->i += 2;
        for (unsigned d = '0'; d <= '9'; d++)
            set_add(set, d);
    } else if (is_alnum((uint8_t)c) || c == '-' || c == ' ') {
        /* a literal letter too: YT, SF, JD are too short and too common for
         * Hyperscan's literal prefilter (docs/matching.md, measured) */
        P->i++;
        set_add(set, (unsigned char)c);
    } else if (c == '\\' && (s[P->i + 1] == '+' || s[P->i + 1] == '-')) {
        set_add(set, (unsigned char)s[P->i + 1]);
        P->i += 2;
    } else {
        goto bad; /* anything else is Hyperscan's */
    }
    if (P->npos == SHAPE_POS) goto bad;
    int p = P->npos++;
    for (unsigned x = 0; x < 128; x++)
        if (set[x >> 6] >> (x & 63) & 1) P->sh->cls[x] |= 1ull << p;
    f.first = f.last = 1ull << p;
    f.nullable = 0;
    return f;
bad:
    P->bad = 1;
    return f;
}

static int shape_uint(struct shape_parse *P)
{
    int v = 0, n = 0;
    while (is_digit((uint8_t)P->s[P->i]) && n < 3)
        v = v * 10 + (P->s[P->i++] - '0'), n++;
    return n ? v : -1;
}

static struct frag shape_item(struct shape_parse *P)
{
    size_t a0 = P->i;
    struct frag f = shape_atom(P);
    if (P->bad) return f;
    size_t a1 = P->i;
    int lo = 1, hi = 1;
    char q = P->s[P->i];
    if (q == '?') {
        lo = 0, P->i++;
    } else if (q == '{') {
        P->i++;
        lo = hi = shape_uint(P);
        if (P->s[P->i] == ',') {
            P->i++;
            hi = shape_uint(P);
        }
        if (lo < 0 || hi < lo || hi > SHAPE_POS || P->s[P->i] != '}') {
            P->bad = 1;
            return f;
        }
        P->i++;
    } else if (q == '*' || q == '+') {
        P->bad = 1;
        return f;
    }
    if (P->s[P->i] == '?' || P->s[P->i] == '+') { /* lazy/possessive: not ours */
        P->bad = 1;
        return f;
    }
    size_t after = P->i;
    struct frag r = {0, 0, 1};
    for (int k = 0; k < hi && !P->bad; k++) {
        struct frag g = f;
        if (k > 0) {
            P->i = a0;
            g = shape_atom(P);
            P->i = a1;
        }
        if (k >= lo) g.nullable = 1;
        r = frag_cat(P->sh, r, g);
    }
    P->i = after;
    return r;
}

static struct frag shape_seq(struct shape_parse *P)
{
    struct frag r = {0, 0, 1};
    while (!P->bad && P->s[P->i] && P->s[P->i] != ')' && P->s[P->i] != '|')
        r = frag_cat(P->sh, r, shape_item(P));
    return r;
}

static struct frag shape_alt(struct shape_parse *P)
{
    struct frag r = shape_seq(P);
    while (!P->bad && P->s[P->i] == '|') {
        P->i++;
        struct frag b = shape_seq(P);
        r.first |= b.first;
        r.last |= b.last;
        r.nullable = r.nullable || b.nullable;
    }
    return r;
}

/* The run lengths a value can end with, by walking the automaton backwards
 * from its last positions. Fails (-1) when a value could end in a way the
 * pre-pass does not report: with a separator, with more than TRAIL_MAX
 * letters, with no digit in its last run, or with a run of 64+ digits. */
struct runwalk {
    struct shape *sh;
    uint64_t pred[SHAPE_POS];
    uint64_t seen[SHAPE_POS][2][TRAIL_MAX + 1];
    uint64_t digit, letter, sep; /* positions accepting each kind */
    int bad;
};

/* A value's last run of L digits (then t letters) has position p before it. */
static void runwalk_inner(struct runwalk *W, int p, int t, int L)
{
    W->sh->runlen[t] |= 1ull << L;
    W->sh->inner[t] |= 1ull << L;
    for (unsigned c = 0; c < 128; c++)
        if (!is_digit((uint8_t)c) && (W->sh->cls[c] >> p & 1))
            W->sh->pre[c >> 6] |= 1ull << (c & 63);
}

static void runwalk(struct runwalk *W, int p, int phase, int t, int L)
{
    if (W->bad || (W->seen[p][phase][t] >> L & 1)) return;
    W->seen[p][phase][t] |= 1ull << L;
    uint64_t bit = 1ull << p;
    bool is_first = W->sh->first & bit;
    if (W->letter & bit) {
        if (phase == 1) {
            runwalk_inner(W, p, t, L); /* the run ends at this letter */
        } else if (t == TRAIL_MAX || is_first) {
            W->bad = 1;
        } else {
            for (uint64_t q = W->pred[p]; q; q &= q - 1)
                runwalk(W, __builtin_ctzll(q), 0, t + 1, 0);
        }
    }
    if (W->sep & bit) {
        if (phase == 0)
            W->bad = 1;
        else
            runwalk_inner(W, p, t, L);
    }
    if (W->digit & bit) {
        int L2 = phase == 0 ? 1 : L + 1;
        if (L2 > 63) {
            W->bad = 1;
            return;
        }
        if (is_first) { /* the run starts the value */
            W->sh->runlen[t] |= 1ull << L2;
            W->sh->alone[t] |= 1ull << L2;
        }
        for (uint64_t q = W->pred[p]; q; q &= q - 1)
            runwalk(W, __builtin_ctzll(q), 1, t, L2);
    }
}

/* Returns a new shape for the regex, or NULL when the pre-pass cannot serve
 * it exactly (or on allocation failure: then Hyperscan serves it). */
static struct shape *shape_build(const char *re)
{
    struct shape *sh = calloc(1, sizeof(*sh));
    if (!sh) return NULL;
    struct shape_parse P = {.s = re, .sh = sh};
    struct frag f = shape_alt(&P);
    if (P.bad || re[P.i] || f.nullable || !f.first) goto bad;
    sh->first = f.first;
    sh->last = f.last;
    struct runwalk *W = calloc(1, sizeof(*W));
    if (!W) goto bad;
    W->sh = sh;
    for (int p = 0; p < P.npos; p++)
        for (uint64_t t = sh->follow[p]; t; t &= t - 1)
            W->pred[__builtin_ctzll(t)] |= 1ull << p;
    for (unsigned c = 0; c < 128; c++) {
        if (is_digit((uint8_t)c))
            W->digit |= sh->cls[c];
        else if (is_letter((uint8_t)c))
            W->letter |= sh->cls[c];
        else
            W->sep |= sh->cls[c];
    }
    for (uint64_t t = sh->last; t; t &= t - 1)
        runwalk(W, __builtin_ctzll(t), 0, 0, 0);
    int bad = W->bad;
    free(W);
    if (bad) goto bad;
    return sh;
bad:
    free(sh);
    return NULL;
}

static uint64_t shape_cls(const struct shape *sh, uint8_t c)
{
    return c < 128 ? sh->cls[c] : 0;
}

/* Whether all n bytes of v are a match of the shape. */
static bool shape_full(const struct shape *sh, const uint8_t *v, size_t n)
{
    if (!n) return false;
    uint64_t S = sh->first & shape_cls(sh, v[0]);
    for (size_t i = 1; i < n && S; i++) {
        uint64_t nx = 0;
        for (uint64_t t = S; t; t &= t - 1)
            nx |= sh->follow[__builtin_ctzll(t)];
        S = nx & shape_cls(sh, v[i]);
    }
    return (S & sh->last) != 0;
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
    if (pi->find) {
        /* the anchor's width says nothing of the value's: max_len does */
        pi->kind = VALUE_FIND;
        unsigned w = p->max_len ? p->max_len : maxw;
        pi->win = (uint16_t)(w > RECORD_MAX_LEN ? RECORD_MAX_LEN + 1 : w);
        minw = 1;
    } else if (minw == maxw && !p->value_tail) {
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

/* "(?:re)\\z" (at_start: "^(?:re)\\z") compiled in block mode: a match that
 * ends where the scanned bytes end (and starts where they start). NULL on
 * failure, with Hyperscan's error in *cerr (NULL when
 * memory ran out first); the caller frees it. */
static hs_database_t *anchored(const char *re, bool at_start, unsigned flags,
                               const hs_platform_info_t *plat, hs_compile_error_t **cerr)
{
    *cerr = NULL;
    const char *open = at_start ? "^(?:" : "(?:";
    size_t n = strlen(re), k = strlen(open);
    char *expr = malloc(k + n + 4);
    if (!expr) return NULL;
    memcpy(expr, open, k);
    memcpy(expr + k, re, n);
    memcpy(expr + k + n, ")\\z", 4);
    hs_database_t *db = NULL;
    if (hs_compile(expr, flags, HS_MODE_BLOCK, plat, &db, cerr) != HS_SUCCESS) db = NULL;
    free(expr);
    return db;
}

/* The checks of a variable-width pattern's value, compiled from its regex,
 * neither an error when it fails: the verifier ("(?:re)\z" with SOM, which
 * gives a match's leftmost start) or, when Hyperscan will not do that
 * ("Pattern is too large" for SOM, e.g. a few bounded repeats in a row),
 * the exact check ("^(?:re)\z" without SOM, which says whether a candidate
 * text is a full match, so lengths can be tried from the longest down;
 * var_value, docs/matching.md). NULL when it does not compile. */
static hs_database_t *value_check_build(const struct rule_pattern *p, unsigned flags, bool exact,
                                        const hs_platform_info_t *plat)
{
    hs_compile_error_t *cerr;
    unsigned f = flags | (exact ? HS_FLAG_SINGLEMATCH : HS_FLAG_SOM_LEFTMOST);
    hs_database_t *db = anchored(p->regex, exact, f, plat, &cerr);
    hs_free_compile_error(cerr);
    return db;
}

/* The context check of a pattern with a context: "(?:context)\z" in block
 * mode (no SOM: only whether a match ends right where the value starts
 * matters), and its window. */
static int context_build(const struct rule_pattern *p, struct pat_info *pi,
                         const hs_platform_info_t *plat, char *err, size_t errlen)
{
    unsigned fl = p->context_flags & ~(unsigned)(HS_FLAG_SINGLEMATCH | HS_FLAG_SOM_LEFTMOST);
    unsigned w = p->context_max_len;
    hs_compile_error_t *cerr = NULL;
    if (!w) { /* rulesets not made by the loader */
        hs_expr_info_t *info = NULL;
        if (hs_expression_info(p->context, fl, &info, &cerr) != HS_SUCCESS) {
            pat_errf(err, errlen, p, cerr && cerr->message ? cerr->message : "bad context");
            hs_free_compile_error(cerr);
            return -1;
        }
        w = info->max_width;
        free(info);
    }
    if (w == 0 || w > RECORD_MAX_LEN) {
        pat_errf(err, errlen, p, "context has no longest match of at most 128 bytes");
        return -1;
    }
    pi->ctx = anchored(p->context, false, fl, plat, &cerr);
    if (!pi->ctx)
        pat_errf(err, errlen, p,
                 cerr && cerr->message ? cerr->message : "context: out of memory compiling it");
    hs_free_compile_error(cerr);
    pi->ctx_win = (uint16_t)w;
    return pi->ctx ? 0 : -1;
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
        for (size_t i = 0; i < db->n; i++) {
            hs_free_database(db->pi[i].verify);
            hs_free_database(db->pi[i].exact);
            hs_free_database(db->pi[i].ctx);
            free(db->pi[i].shape);
        }
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
    size_t cap = db->n ? db->n : 1;
    db->pi = calloc(cap, sizeof(*db->pi));
    exprs = calloc(cap, sizeof(*exprs));
    flags = calloc(cap, sizeof(*flags));
    ids = calloc(cap, sizeof(*ids));
    if (!db->pi || !exprs || !flags || !ids) goto nomem;

    hs_platform_info_t plat;
    if (hs_populate_platform(&plat) != HS_SUCCESS) {
        errf(err, errlen, "Hyperscan: cannot read this CPU's features");
        goto error;
    }
    size_t win_max = 0;
    unsigned n_hs = 0;
    for (size_t i = 0; i < db->n; i++) {
        const struct rule_pattern *p = &rs->patterns[i];
        struct pat_info *pi = &db->pi[i];
        if (!p->regex) {
            pat_errf(err, errlen, p, "no regex");
            goto error;
        }
        const struct validator *v = p->validator_idx >= 0 ? validate_get(p->validator_idx) : NULL;
        pi->validator = v ? v->fn : NULL;
        pi->norm = v ? v->norm : NULL;
        pi->find = v && p->record ? v->find : NULL;
        unsigned fl = pattern_flags(p);
        if (pattern_info(p, fl, pi, err, errlen) != 0) goto error;
        pi->record = p->record;
        pi->boundary = (uint8_t)p->boundary;
        pi->category = (uint8_t)p->category;
        /* the pre-pass serves record patterns with a boundary and no flags
         * whose regex is a digit shape (a context is checked after, either
         * way); value: tail patterns stay with Hyperscan */
        if (p->record && !p->value_tail && !pi->find && fl == 0 &&
            p->boundary != BOUNDARY_NONE && db->n_shapes < SHAPES_MAX &&
            (pi->shape = shape_build(p->regex))) {
            pi->kind = VALUE_SHAPE;
            uint64_t bit = 1ull << db->n_shapes;
            db->shape_id[db->n_shapes++] = (uint16_t)i;
            for (unsigned t = 0; t <= TRAIL_MAX; t++)
                for (unsigned L = 0; L < 64; L++) {
                    if (pi->shape->alone[t] >> L & 1) db->end_alone[t][L] |= bit;
                    if (pi->shape->inner[t] >> L & 1) db->end_inner[t][L] |= bit;
                }
            for (unsigned c = 0; c < 128; c++)
                if (pi->shape->pre[c >> 6] >> (c & 63) & 1) db->end_pre[c] |= bit;
            for (unsigned c = 0; c < 128; c++)
                if (pi->shape->first & pi->shape->cls[c]) db->end_first[c] |= bit;
            for (unsigned t = 1; t <= TRAIL_MAX; t++)
                if (pi->shape->runlen[t] && t > db->trail) db->trail = t;
            for (unsigned t = 0; t <= TRAIL_MAX; t++)
                db->run_any[t] |= pi->shape->alone[t] | pi->shape->inner[t];
        } else {
            exprs[n_hs] = p->regex;
            flags[n_hs] = fl;
            ids[n_hs] = (unsigned)i;
            n_hs++;
            if (pi->kind == VALUE_VAR && pi->record) {
                pi->verify = value_check_build(p, fl, false, &plat);
                if (!pi->verify) pi->exact = value_check_build(p, fl, true, &plat);
                db->n_hold = 1;
            }
        }
        if (p->context && p->record && context_build(p, pi, &plat, err, errlen) != 0) goto error;
        /* a context's window and the byte before it come before the value */
        size_t need = (size_t)pi->win + (pi->ctx ? pi->ctx_win + 1u : 0);
        if (need > win_max) win_max = need;
    }
    db->look = win_max + 1;
    uint64_t any = 0;
    for (unsigned t = 0; t <= TRAIL_MAX; t++)
        any |= db->run_any[t];
    db->run_min = any ? (unsigned)__builtin_ctzll(any) : 64;

    if (n_hs) {
        if (hs_compile_multi(exprs, flags, ids, n_hs, HS_MODE_STREAM, &plat, &db->hs, &cerr) !=
            HS_SUCCESS) {
            const char *msg = cerr && cerr->message ? cerr->message : "compile failed";
            if (cerr && cerr->expression >= 0 && (unsigned)cerr->expression < n_hs)
                pat_errf(err, errlen, &rs->patterns[ids[cerr->expression]], msg);
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
    return db->hs_stream_size + sizeof(struct match_stream) + 4 * db->look +
           db->n_hold * sizeof(struct held);
}

size_t match_db_prepass_patterns(const struct match_db *db)
{
    return db->n_shapes;
}

int match_db_pattern_prepass(const struct match_db *db, size_t idx)
{
    return idx < db->n && db->pi[idx].kind == VALUE_SHAPE;
}

/* ---- scratch ------------------------------------------------------------- */

static struct match_stream *stream_new(const struct match_db *db);
static void stream_free(struct match_stream *st);

/* Whether this CPU runs the AVX2 mask builders. */
static bool cpu_avx2(void)
{
#ifdef HAVE_AVX2_PATH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
           __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#else
    return false;
#endif
}

/* Grows the scratch's second Hyperscan scratch to serve db's block-mode
 * databases (verifiers and contexts). */
static int vhs_serve(struct match_scratch *s, const struct match_db *db)
{
    for (size_t i = 0; i < db->n; i++)
        if ((db->pi[i].verify && hs_alloc_scratch(db->pi[i].verify, &s->vhs) != HS_SUCCESS) ||
            (db->pi[i].exact && hs_alloc_scratch(db->pi[i].exact, &s->vhs) != HS_SUCCESS) ||
            (db->pi[i].ctx && hs_alloc_scratch(db->pi[i].ctx, &s->vhs) != HS_SUCCESS))
            return -1;
    return 0;
}

struct match_scratch *match_scratch_new(const struct match_db *db)
{
    struct match_scratch *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->db = db;
    if (db->hs && hs_alloc_scratch(db->hs, &s->hs) != HS_SUCCESS) goto error;
    if (vhs_serve(s, db) != 0) goto error;
    if (!(s->block = stream_new(db))) goto error;
    s->avx2 = cpu_avx2();
    s->q_cap = (size_t)PIECE * db->n_shapes * (TRAIL_MAX + 1);
    if (s->q_cap && !(s->q = calloc(s->q_cap, sizeof(*s->q)))) goto error;
    return s;
error:
    match_scratch_free(s);
    return NULL;
}

int match_scratch_add_db(struct match_scratch *s, const struct match_db *db)
{
    /* hs_alloc_scratch() on an existing scratch grows it to serve both
     * databases, and leaves it as it was when it fails */
    if (db->hs && hs_alloc_scratch(db->hs, &s->hs) != HS_SUCCESS) return -1;
    if (vhs_serve(s, db) != 0) return -1;
    size_t q_cap = (size_t)PIECE * db->n_shapes * (TRAIL_MAX + 1);
    if (q_cap > s->q_cap) {
        struct pcand *q = realloc(s->q, q_cap * sizeof(*q));
        if (!q) return -1;
        s->q = q;
        s->q_cap = q_cap;
    }
    struct match_stream *block = stream_new(db);
    if (!block) return -1;
    stream_free(s->block);
    s->block = block;
    s->db = db;
    return 0;
}

void match_scratch_free(struct match_scratch *s)
{
    if (!s) return;
    for (unsigned i = 0; i < s->n_idle; i++)
        stream_free(s->idle[i]);
    stream_free(s->block);
    free(s->q);
    hs_free_scratch(s->hs);
    hs_free_scratch(s->vhs);
    free(s);
}

const struct match_stats *match_scratch_stats(const struct match_scratch *s)
{
    return &s->st;
}

unsigned match_scratch_set_flags(struct match_scratch *s, unsigned flags)
{
    unsigned old = s->flags;
    s->flags = flags;
    s->avx2 = !(flags & MATCH_NO_AVX2) && cpu_avx2();
    return old;
}

int match_scratch_avx2(const struct match_scratch *s)
{
    return s->avx2;
}

/* ---- look-back ----------------------------------------------------------- */

/* The byte at normalised offset abs; the caller made sure the look-back or
 * the block holds it. */
static uint8_t byte_at(const struct scan_ctx *c, uint64_t abs)
{
    if (abs >= c->blk_off) return c->blk[abs - c->blk_off];
    return c->st->hist[c->st->hist_len - (size_t)(c->blk_off - abs)];
}

/* Copies the n bytes ending at offset end into out: the part before the
 * block from the look-back, the rest from the block. */
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

/* Source bytes behind the normalised bytes [from, to). */
static uint64_t src_bytes(const struct scan_ctx *c, uint64_t from, uint64_t to)
{
    uint64_t n = 0;
    const struct match_stream *st = c->st;
    for (uint64_t x = from; x < to && x < c->blk_off; x++)
        n += st->hist_raw[st->hist_len - (size_t)(c->blk_off - x)];
    uint64_t b = from > c->blk_off ? from : c->blk_off;
    if (to > b) {
        if (!c->blk_raw)
            n += to - b;
        else
            for (uint64_t x = b; x < to; x++)
                n += c->blk_raw[x - c->blk_off];
    }
    return n;
}

/* Appends a scanned block to the look-back. Keeps at least L bytes (or all
 * since seg_base); slides down only when the 2L buffer is full. raw: source
 * bytes per byte, NULL for one each. */
static void hist_append(struct match_stream *st, const uint8_t *d, const uint8_t *raw, size_t n)
{
    size_t L = st->db->look;
    if (n >= L) {
        memcpy(st->hist, d + n - L, L);
        if (raw)
            memcpy(st->hist_raw, raw + n - L, L);
        else
            memset(st->hist_raw, 1, L);
        st->hist_len = L;
        return;
    }
    if (st->hist_len + n > st->hist_cap) {
        size_t keep = L - n;
        memmove(st->hist, st->hist + st->hist_len - keep, keep);
        memmove(st->hist_raw, st->hist_raw + st->hist_len - keep, keep);
        st->hist_len = keep;
    }
    memcpy(st->hist + st->hist_len, d, n);
    if (raw)
        memcpy(st->hist_raw + st->hist_len, raw, n);
    else
        memset(st->hist_raw + st->hist_len, 1, n);
    st->hist_len += n;
}

/* ---- recovering and checking a value ------------------------------------ */

/* Whether the byte before a value starting at offset vstart allows it. */
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

/* Whether a value may start at index start of the window w (n bytes ending
 * at offset end): the byte before it allows it. */
static bool start_ok(const struct scan_ctx *c, const struct pat_info *pi, const uint8_t *w,
                     size_t n, uint64_t end, size_t start)
{
    return start == 0 ? left_ok(c, end - n, pi->boundary)
                      : left_byte_ok(w[start - 1], pi->boundary);
}

/* Finds the value of a variable-width match ending at offset end. w holds
 * the n bytes before end; if n == win + 1 its first byte is only the left
 * boundary byte. Returns the value's start index in w, or -1. */
/* For the block scans that ask only whether there is a match (the exact
 * check, contexts): the first one stops the scan (HS_SCAN_TERMINATED). */
static int stop_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                   void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags, (void)ctx;
    return 1; /* one match is enough */
}

/* Whether the len bytes at v are a full match of the pattern (its exact
 * database; without one, as before it: yes). */
static bool full_match(const struct scan_ctx *c, const struct pat_info *pi, const uint8_t *v,
                       size_t len)
{
    if (!pi->exact) return true;
    hs_error_t e = hs_scan(pi->exact, (const char *)v, (unsigned)len, 0, c->s->vhs, stop_cb, NULL);
    if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED) c->s->st.scan_errors++;
    return e == HS_SCAN_TERMINATED;
}

static long var_value(const struct scan_ctx *c, const struct pat_info *pi, const uint8_t *w,
                      size_t n, uint64_t end)
{
    size_t lo = n > pi->win ? n - pi->win : 0;
    if (!pi->verify) {
        /* no verifier: longest to shortest candidate that is a full match
         * (exact) and passes every check */
        for (size_t start = lo; start + pi->minw <= n; start++)
            if (start_ok(c, pi, w, n, end, start) && full_match(c, pi, w + start, n - start) &&
                value_ok(pi, w + start, n - start))
                return (long)start;
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
        if (start_ok(c, pi, w, n, end, start) && value_ok(pi, w + start, n - start))
            return (long)start;
        if (pi->boundary == BOUNDARY_NONE) return -1; /* the longest match is the value */
        /* a later start needs a byte outside the class right before it */
        size_t q = start;
        while (q < n && !left_byte_ok(w[q], pi->boundary))
            q++;
        lo = q + 1;
    }
    return -1;
}

/* The value of a digit shape ending at end: the leftmost start after a
 * boundary byte whose text is a full match and passes the checks. That is
 * what start-of-match and the verifier's retries would give, without them. */
static long shape_value(const struct scan_ctx *c, const struct pat_info *pi, const uint8_t *w,
                        size_t n, uint64_t end)
{
    const struct shape *sh = pi->shape;
    size_t lo = n > pi->win ? n - pi->win : 0;
    for (size_t start = lo; start + pi->minw <= n; start++) {
        if (!(sh->first & shape_cls(sh, w[start]))) continue;
        if (!start_ok(c, pi, w, n, end, start)) continue;
        if (shape_full(sh, w + start, n - start) && value_ok(pi, w + start, n - start))
            return (long)start;
    }
    return -1;
}

/* Whether the pattern's context matches ending at vstart, the value's
 * start: "(?:context)\z" over the ctx_win bytes before it and one more, so
 * that a \b at the context's start sees the byte before it. A stream's
 * start or a gap cuts the window short. */
static bool context_ok(const struct scan_ctx *c, const struct pat_info *pi, uint64_t vstart)
{
    uint64_t avail = c->blk_off - c->st->hist_len;
    size_t want = (size_t)pi->ctx_win + 1;
    size_t n = vstart - avail < want ? (size_t)(vstart - avail) : want;
    if (!n) return false;
    uint8_t w[RECORD_MAX_LEN + 1];
    copy_back(c, vstart, n, w);
    hs_error_t e = hs_scan(pi->ctx, (const char *)w, (unsigned)n, 0, c->s->vhs, stop_cb, NULL);
    if (e == HS_SCAN_TERMINATED) return true;
    if (e != HS_SUCCESS) c->s->st.scan_errors++;
    return false;
}

/* Delivers the value whose text is w[0..span), ending at normalised offset
 * end. */
/* Hands a made record to the caller. */
static void deliver(struct scan_ctx *c, const struct record *r)
{
    if (c->fn) {
        c->s->st.records++;
        c->fn(c->ud, r);
    } else {
        c->s->st.rejected++; /* nobody to deliver to (a failed stream's close) */
    }
}

/* Delivers the held value, if any. */
static void held_out(struct scan_ctx *c)
{
    struct held *h = c->st->held;
    if (h && h->on) {
        h->on = 0;
        deliver(c, &h->r);
    }
}

/* Delivers the held value once no longer match with its start can end
 * later (the stream is past start + the pattern's window), or now (all). */
static void held_flush(struct scan_ctx *c, bool all)
{
    struct held *h = c->st->held;
    if (h && h->on && (all || h->start + c->st->db->pi[h->r.pattern].win < c->st->off))
        held_out(c);
}

/* A value found: made into a record and delivered. A variable-width
 * pattern's value is held instead: Hyperscan reports every end of a match
 * (an e-mail address ends after ".e", ".ex", ... ".example.cn"), and a
 * boundary class cannot always tell the last (".example" is followed by
 * "."). A later value of the pattern with the same start replaces it; it is
 * delivered when anything else is (so records still come out in end
 * order), when the stream has moved past what could still extend it, or
 * at the stream's end. Only the longest of a run of ends is delivered,
 * unless another record ends among them. */
static void emit(struct scan_ctx *c, uint16_t pattern, const uint8_t *w, size_t span,
                 uint64_t end)
{
    const struct pat_info *pi = &c->st->db->pi[pattern];
    struct held *h = pi->kind == VALUE_VAR ? c->st->held : NULL;
    if (!h || !h->on || h->r.pattern != pattern || h->start != end - span)
        held_out(c); /* what is held ends before this value: it goes first */
    struct record r;
    r.rule = &c->st->db->rs->patterns[pattern];
    r.pattern = pattern;
    r.category = pi->category;
    size_t len = span;
    if (pi->norm)
        len = pi->norm(w, span, r.value);
    else
        memcpy(r.value, w, span);
    r.len = (uint8_t)len;
    /* the caller's offsets: what the normalised bytes were made of */
    uint64_t src_in_blk = end > c->blk_off ? src_bytes(c, c->blk_off, end) : 0;
    r.end_off = c->raw_blk_off + src_in_blk;
    uint64_t src = src_bytes(c, end - span, end);
    r.src_len = (uint16_t)(src > UINT16_MAX ? UINT16_MAX : src);
    if (h) { /* the value's bytes only, not the whole of r.value */
        memcpy(&h->r, &r, offsetof(struct record, value) + r.len);
        h->r.src_len = r.src_len;
        h->start = end - span;
        h->on = 1;
        return;
    }
    deliver(c, &r);
}

/* A candidate value ending at offset end for pattern id, from Hyperscan or
 * the pre-pass. */
static void candidate(struct scan_ctx *c, unsigned id, uint64_t end)
{
    struct match_stream *st = c->st;
    const struct pat_info *pi = &st->db->pi[id];
    uint64_t blk_end = c->blk_off + c->blk_len;
    uint64_t avail = c->blk_off - st->hist_len; /* == seg_base when less than L is held */

    if (c->closing)
        for (unsigned i = 0; i < c->n_done; i++)
            if (c->done[i].pattern == id) return; /* already decided at this end */

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
    long s;
    switch (pi->kind) {
    case VALUE_FIXED:
        if (n < pi->win) goto reject; /* cannot happen: the match is in the segment */
        start = n - pi->win;
        if (!start_ok(c, pi, w, n, end, start) || !value_ok(pi, w + start, n - start))
            goto reject;
        break;
    case VALUE_TAIL: {
        size_t lo = n > pi->win ? n - pi->win : 0;
        start = n;
        while (start > lo && is_alnum(w[start - 1]))
            start--;
        if (start == n) goto reject;
        if (start == lo && start > 0 && is_alnum(w[start - 1]))
            goto reject; /* longer than the pattern's window */
        if (!start_ok(c, pi, w, n, end, start) || !value_ok(pi, w + start, n - start))
            goto reject;
        break;
    }
    case VALUE_FIND: {
        size_t lo = n > pi->win ? n - pi->win : 0;
        bool checked;
        s = pi->find(w + lo, n - lo, &checked);
        if (s < 0) goto reject;
        start = lo + (size_t)s;
        if (start >= n || !start_ok(c, pi, w, n, end, start) ||
            (!checked && !value_ok(pi, w + start, n - start)))
            goto reject;
        break;
    }
    case VALUE_SHAPE:
        if ((s = shape_value(c, pi, w, n, end)) < 0) goto reject;
        start = (size_t)s;
        break;
    default:
        if ((s = var_value(c, pi, w, n, end)) < 0) goto reject;
        start = (size_t)s;
        break;
    }
    size_t span = n - start;
    if (pi->ctx && !context_ok(c, pi, end - span)) goto reject;

    if (pending) {
        if (st->n_pending == PENDING_MAX) goto reject;
        st->pending[st->n_pending].pattern = (uint16_t)id;
        st->pending[st->n_pending].span = (uint8_t)span;
        st->n_pending++;
        return;
    }
    if (c->fn)
        emit(c, (uint16_t)id, w + start, span, end);
    else
        c->s->st.rejected++; /* nobody to deliver to (a failed stream's close) */
    return;
reject:
    c->s->st.rejected++;
}

/* Pre-pass candidates ending at or before end, in order. */
static void flush_prepass(struct scan_ctx *c, uint64_t end)
{
    struct match_scratch *s = c->s;
    while (s->q_next < s->q_len && s->q[s->q_next].end <= end) {
        const struct pcand *p = &s->q[s->q_next++];
        candidate(c, p->pattern, p->end);
    }
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from, (void)flags; /* no SOM: from is meaningless */
    struct scan_ctx *c = ctx;
    const struct match_db *db = c->st->db;
    c->s->st.raw_matches++;
    if (id >= db->n || !db->pi[id].record || (c->s->flags & MATCH_RAW_ONLY)) return 0;
    uint64_t end = c->st->seg_base + to;
    flush_prepass(c, end);
    candidate(c, id, end);
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
        emit(c, p->pattern, st->hist + st->hist_len - p->span, p->span, st->off);
    }
    if (c->closing) {
        memcpy(c->done, st->pending, st->n_pending * sizeof(st->pending[0]));
        c->n_done = st->n_pending;
    }
    st->n_pending = 0;
}

/* ---- the digit-run pre-pass ---------------------------------------------- */

/* A digit run of L digits and then t letters ends at offset end: every
 * shape that can end that way gets a candidate. */
static void run_end(struct scan_ctx *c, uint64_t end, uint64_t L, unsigned t)
{
    const struct match_db *db = c->st->db;
    c->s->st.prepass_events++;
    if (L > 63 || !(db->run_any[t] >> L & 1) || (c->s->flags & MATCH_RAW_ONLY)) return;
    struct match_scratch *s = c->s;
    /* the byte before the run, when held: a run that is not the value's start
     * needs one of its shape's separators there (the quote of "2026-..." or of
     * "44030309" turns those away before any look-back is copied) */
    uint64_t rs = end - t - L, avail = c->blk_off - c->st->hist_len;
    int before = rs > avail ? byte_at(c, rs - 1) : -1;
    uint64_t pre = before < 0 ? ~0ull : before < 128 ? db->end_pre[before] : 0;
    /* a run that starts the value starts with a byte its shape can begin
     * with (a timestamp's 1 is no landline's 0) */
    int first = rs >= avail ? byte_at(c, rs) : -1;
    uint64_t lead = first < 0 ? ~0ull : first < 128 ? db->end_first[first] : 0;
    /* every shape that can end here, in pattern order */
    for (uint64_t want = (db->end_alone[t][L] & lead) | (db->end_inner[t][L] & pre); want;
         want &= want - 1) {
        s->st.raw_matches++;
        if (s->q_len == s->q_cap) { /* cannot happen: PIECE bounds it */
            s->st.rejected++;
            continue;
        }
        s->q[s->q_len].end = end;
        s->q[s->q_len].pattern = db->shape_id[__builtin_ctzll(want)];
        s->q_len++;
    }
}

/* After a digit run of L digits ending at block index i (exclusive), the
 * letters that follow it, as far as the shapes look. */
static void run_trail(struct scan_ctx *c, size_t i, uint64_t L, unsigned t)
{
    struct match_stream *st = c->st;
    while (t < c->st->db->trail) {
        if (i == c->blk_len) {
            st->trail_run = (uint16_t)(L > 63 ? 64 : L);
            st->trail_n = (uint8_t)t;
            return;
        }
        if (!is_letter(c->blk[i])) return;
        i++, t++;
        run_end(c, c->blk_off + i, L, t);
    }
}

#ifdef HAVE_AVX2_PATH
/* The AVX2 twins of digit_mask64() and trigger_mask64(), used when the
 * scratch says so (match_scratch_new asks the CPU once). digit_mask64_avx2
 * is inlined into the pre-pass's AVX2 build (prepass_avx2); trigger_mask64_avx2
 * is a call from the baseline code around it: one call per 64 bytes, still
 * cheaper than four SSE2 rounds. */
__attribute__((target("avx2"))) static inline uint64_t digit_mask64_avx2(const uint8_t *d)
{
    const __m256i zero = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9);
    __m256i a = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)d), zero);
    __m256i b = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(d + 32)), zero);
    uint32_t lo = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(a, nine), a));
    uint32_t hi = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(b, nine), b));
    return (uint64_t)hi << 32 | lo;
}

__attribute__((target("avx2"), noinline)) static uint64_t trigger_mask64_avx2(const uint8_t *d)
{
    const __m256i bs = _mm256_set1_epi8('\\'), pc = _mm256_set1_epi8('%'),
                  ef = _mm256_set1_epi8((char)0xef);
    __m256i a = _mm256_loadu_si256((const __m256i *)d);
    __m256i b = _mm256_loadu_si256((const __m256i *)(d + 32));
    __m256i ha = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(a, bs), _mm256_cmpeq_epi8(a, pc)),
                                 _mm256_cmpeq_epi8(a, ef));
    __m256i hb = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(b, bs), _mm256_cmpeq_epi8(b, pc)),
                                 _mm256_cmpeq_epi8(b, ef));
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(hb) << 32 |
           (uint32_t)_mm256_movemask_epi8(ha);
}
#endif

/* Bit i set where d[i] is an ASCII digit, for the 64 bytes at d (baseline
 * code: SSE2, or a byte loop). */
static uint64_t digit_mask64(const uint8_t *d)
{
#ifdef __SSE2__
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(d + 16 * k)), zero);
        __m128i le = _mm_cmpeq_epi8(_mm_min_epu8(x, nine), x);
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(le) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int k = 0; k < 64; k++)
        m |= (uint64_t)is_digit(d[k]) << k;
    return m;
#endif
}

/* Bit i set where d[i] is an ASCII letter, for the 64 bytes at d. */
static uint64_t letter_mask64(const uint8_t *d)
{
#ifdef __SSE2__
    const __m128i lower = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'), z = _mm_set1_epi8(25);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(d + 16 * k));
        x = _mm_sub_epi8(_mm_or_si128(x, lower), a);
        __m128i le = _mm_cmpeq_epi8(_mm_min_epu8(x, z), x);
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(le) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int k = 0; k < 64; k++)
        m |= (uint64_t)is_letter(d[k]) << k;
    return m;
#endif
}

/* Without -mpopcnt __builtin_popcountll is a call into libgcc. */
static unsigned popcount64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* In the AVX2 build of the pre-pass the CPU has POPCNT. */
#define POPCOUNT64(x) (avx2 ? (unsigned)__builtin_popcountll(x) : popcount64(x))

/* A run end no shape can take (shorter than every run length a shape
 * ends with, and its letters, if any, inside the chunk) only counts: one
 * prepass event for the end and one for each letter after it, as run_end()
 * and run_trail() would have counted them. The others take the full path. */
static inline __attribute__((always_inline)) void prepass_body(struct scan_ctx *c,
                                                               const bool avx2)
{
    struct match_stream *st = c->st;
    const uint8_t *d = c->blk;
    size_t n = c->blk_len;
    if (!n) return;
    /* letters after a run that ended in the last block */
    if (st->trail_run) {
        uint64_t L = st->trail_run;
        unsigned t = st->trail_n;
        st->trail_run = 0;
        if (!is_digit(d[0])) run_trail(c, 0, L, t);
    }
    uint64_t run_start = st->in_run ? st->run_start : 0;
    bool in_run = st->in_run;
    const unsigned trail = st->db->trail, run_min = st->db->run_min;
    uint8_t tail[64];
    for (size_t base = 0; base < n; base += 64) {
        size_t m = n - base < 64 ? n - base : 64;
        /* 64 bytes to look at, of which this chunk is the last m */
        const uint8_t *w = d + base;
        unsigned shift = 0;
        if (m < 64) {
            if (n >= 64) {
                w = d + n - 64;
                shift = (unsigned)(64 - m);
            } else {
                memset(tail, 0, sizeof(tail));
                memcpy(tail, d + base, m);
                w = tail;
            }
        }
#ifdef HAVE_AVX2_PATH
        uint64_t D = (avx2 ? digit_mask64_avx2(w) : digit_mask64(w)) >> shift;
#else
        uint64_t D = digit_mask64(w) >> shift;
#endif
        if (!D) {
            in_run = false;
            continue;
        }
        uint64_t starts = D & ~((D << 1) | (uint64_t)in_run);
        /* a run ends at bit i when bit i+1 is clear; the last byte of the
         * chunk is decided by the next chunk's first byte */
        uint64_t ends = D & ~(D >> 1);
        uint64_t top = 1ull << (m - 1);
        if (ends & top) {
            ends &= ~top;
            bool next_digit = base + m < n && is_digit(d[base + m]);
            if (!next_digit) ends |= top; /* at the block's end: pending decides */
        }
        if (run_min > 1 && ends) {
            /* ends of runs of run_min digits or more (a run going on from
             * before the chunk counts as long: the full path is exact) */
            uint64_t R = D, before = in_run ? ~0ull : 0;
            for (unsigned k = 1; k < run_min && R; k++)
                R &= (D << k) | (before >> (64 - k));
            /* the full path too for an end whose letters may reach the
             * chunk's end (block ends and trail state are its business) */
            size_t lim = m > trail ? m - trail : 0; /* bits from lim on are near */
            uint64_t near = lim == 64 ? 0 : ~((1ull << lim) - 1);
            uint64_t fast = ends & ~(R | near);
            if (fast) {
                ends &= ~fast;
                uint64_t ev = POPCOUNT64(fast);
                if (trail) {
                    uint64_t A = letter_mask64(w) >> shift;
                    for (unsigned t = 0; t < trail; t++) {
                        if (!(fast = (fast << 1) & A)) break;
                        ev += POPCOUNT64(fast);
                    }
                }
                c->s->st.prepass_events += ev;
            }
        }
        for (uint64_t e = ends; e; e &= e - 1) {
            unsigned i = (unsigned)__builtin_ctzll(e);
            uint64_t sm = starts & (i == 63 ? ~0ull : (2ull << i) - 1);
            uint64_t s0 = sm ? c->blk_off + base + (63u - (unsigned)__builtin_clzll(sm))
                             : run_start;
            uint64_t end = c->blk_off + base + i + 1;
            run_end(c, end, end - s0, 0);
            /* letters after it (most runs have none) */
            size_t j = base + i + 1;
            if (trail && (j == n || is_letter(d[j]))) run_trail(c, j, end - s0, 0);
        }
        bool was_in_run = in_run;
        in_run = (D >> (m - 1)) & 1;
        if (in_run) {
            /* the run going on into the next chunk began after the last
             * non-digit of this one, or earlier */
            uint64_t nd = ~D & (m == 64 ? ~0ull : (1ull << m) - 1);
            if (nd)
                run_start = c->blk_off + base + (64u - (unsigned)__builtin_clzll(nd));
            else if (!was_in_run)
                run_start = c->blk_off + base;
        }
    }
    st->in_run = in_run;
    st->run_start = run_start;
}

/* The pre-pass built twice: for the baseline CPU, and for one with AVX2
 * (and the POPCNT and BMI that come with it), where the 64-byte digit mask,
 * the event counts and the bit scans are single instructions. */
static void prepass_base(struct scan_ctx *c)
{
    prepass_body(c, false);
}

#ifdef HAVE_AVX2_PATH
__attribute__((target("avx2,popcnt,bmi,bmi2"))) static void prepass_avx2(struct scan_ctx *c)
{
    prepass_body(c, true);
}
#define PREPASS(c) ((c)->s->avx2 ? prepass_avx2(c) : prepass_base(c))
#else
#define PREPASS(c) prepass_base(c)
#endif

/* ---- normalising the input ----------------------------------------------- */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Four hex digits at p, or -1. */
static long hex4(const uint8_t *p)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Whether the k bytes at p could still become an escape once more arrive. */
static bool esc_prefix(const uint8_t *p, size_t k)
{
    if (p[0] == '%') {
        return k < 2 || (k == 2 && hexval(p[1]) >= 0);
    }
    if (p[0] == 0xef) return k == 1 || (k == 2 && (p[1] == 0xbc || p[1] == 0xbd));
    /* '\' */
    if (k == 1) return true;
    if (p[1] != 'u') return false;
    for (size_t j = 2; j < k && j < 6; j++)
        if (hexval(p[j]) < 0) return false;
    if (k < 6) return true;
    long cp = hex4(p + 2);
    if (cp < 0xd800 || cp > 0xdbff) return false;
    /* a high surrogate waits for its low half */
    if (k > 6 && p[6] != '\\') return false;
    if (k > 7 && p[7] != 'u') return false;
    for (size_t j = 8; j < k; j++)
        if (hexval(p[j]) < 0) return false;
    return k < 12;
}

static size_t put_utf8(uint8_t *o, uint8_t *r, long cp, unsigned src)
{
    size_t k;
    if (cp < 0x80)
        o[0] = (uint8_t)cp, k = 1;
    else if (cp < 0x800)
        o[0] = (uint8_t)(0xc0 | cp >> 6), o[1] = (uint8_t)(0x80 | (cp & 0x3f)), k = 2;
    else if (cp < 0x10000)
        o[0] = (uint8_t)(0xe0 | cp >> 12), o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)),
        o[2] = (uint8_t)(0x80 | (cp & 0x3f)), k = 3;
    else
        o[0] = (uint8_t)(0xf0 | cp >> 18), o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f)),
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (uint8_t)(0x80 | (cp & 0x3f)), k = 4;
    /* the first byte stands for the escape's extra source bytes */
    r[0] = (uint8_t)(src - (k - 1));
    for (size_t j = 1; j < k; j++)
        r[j] = 1;
    return k;
}

/* The decoded form of the escape at p (k bytes available), written to o
 * with source lengths in r. Returns source bytes consumed, 0 if p does not
 * start an escape (copy one byte), or -1 if it may be one but is cut short. */
static long decode_one(const uint8_t *p, size_t k, uint8_t *o, uint8_t *r, size_t *outn)
{
    if (p[0] == '%') {
        if (k < 3) return esc_prefix(p, k) ? -1 : 0;
        int h = hexval(p[1]), l = hexval(p[2]);
        if (h < 0 || l < 0) return 0;
        o[0] = (uint8_t)(h << 4 | l), r[0] = 3, *outn = 1;
        return 3;
    }
    if (p[0] == 0xef) {
        if (k < 3) return esc_prefix(p, k) ? -1 : 0;
        /* full-width ASCII U+FF01-FF5E: EF BC 81-BF, EF BD 80-9E */
        if (p[1] == 0xbc && p[2] >= 0x81 && p[2] <= 0xbf)
            o[0] = (uint8_t)(0x21 + (p[2] - 0x81));
        else if (p[1] == 0xbd && p[2] >= 0x80 && p[2] <= 0x9e)
            o[0] = (uint8_t)(0x60 + (p[2] - 0x80));
        else
            return 0;
        r[0] = 3, *outn = 1;
        return 3;
    }
    /* '\' */
    if (k < 2) return -1;
    if (p[1] == '\\') return 0; /* an escaped backslash: the caller copies both */
    if (p[1] != 'u') return 0;
    if (k < 6) return esc_prefix(p, k) ? -1 : 0;
    long cp = hex4(p + 2);
    if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff)) return 0;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (k < 12) return esc_prefix(p, k) ? -1 : 0;
        long lo = p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) return 0;
        *outn = put_utf8(o, r, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00), 12);
        return 12;
    }
    *outn = put_utf8(o, r, cp, 6);
    return 6;
}

static bool is_trigger(uint8_t c)
{
    return c == '\\' || c == '%' || c == 0xef;
}

/* Index of the first byte that may start an escape, or n. */
static size_t find_trigger(const uint8_t *d, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i bs = _mm_set1_epi8('\\'), pc = _mm_set1_epi8('%'), ef = _mm_set1_epi8((char)0xef);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(d + i));
        __m128i h = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(x, pc)),
                                 _mm_cmpeq_epi8(x, ef));
        unsigned m = (unsigned)_mm_movemask_epi8(h);
        if (m) return i + (unsigned)__builtin_ctz(m);
    }
#endif
    for (; i < n; i++)
        if (is_trigger(d[i])) return i;
    return n;
}

/* Bit i set where d[i] may start an escape, for the 64 bytes at d. */
static uint64_t trigger_mask64(const uint8_t *d)
{
#ifdef __SSE2__
    const __m128i bs = _mm_set1_epi8('\\'), pc = _mm_set1_epi8('%'), ef = _mm_set1_epi8((char)0xef);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(d + 16 * k));
        __m128i h = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(x, pc)),
                                 _mm_cmpeq_epi8(x, ef));
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(h) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int k = 0; k < 64; k++)
        m |= (uint64_t)is_trigger(d[k]) << k;
    return m;
#endif
}

/* Whether decode_one() would decode the trigger at p (k bytes available) or
 * wait for more: the common "no" answered without it. */
static bool escape_at(const uint8_t *p, size_t k)
{
    if (k >= 3) {
        if (p[0] == '%' && (hexval(p[1]) < 0 || hexval(p[2]) < 0)) return false;
        if (p[0] == 0xef && p[1] != 0xbc && p[1] != 0xbd) return false;
        if (p[0] == '\\' && p[1] != 'u') return false;
    }
    uint8_t o[4], r[4];
    size_t outn = 0;
    return decode_one(p, k, o, r, &outn) != 0;
}

/* Length of the prefix of d[0..n) that normalising leaves as it is: the
 * index of the first escape that decodes or may decode once more bytes
 * arrive, or n. It walks the bytes as normalize() does (an escaped
 * backslash is passed over whole), so normalize() started there gives
 * what it would have given from 0. */
static size_t plain_prefix(const uint8_t *d, size_t n, bool avx2)
{
#ifdef HAVE_AVX2_PATH
#define TRIGGER_MASK64(p) (avx2 ? trigger_mask64_avx2(p) : trigger_mask64(p))
#else
    (void)avx2;
#define TRIGGER_MASK64(p) trigger_mask64(p)
#endif
    size_t next = 0; /* the first byte the walk has not passed over */
    for (size_t base = 0; base < n; base += 64) {
        size_t m = n - base < 64 ? n - base : 64;
        uint64_t T;
        if (m == 64) {
            T = TRIGGER_MASK64(d + base);
        } else if (n >= 64) {
            T = TRIGGER_MASK64(d + n - 64) >> (64 - m);
        } else {
            T = 0;
            for (size_t k = 0; k < m; k++)
                T |= (uint64_t)is_trigger(d[base + k]) << k;
        }
        for (; T; T &= T - 1) {
            size_t i = base + (size_t)__builtin_ctzll(T);
            if (i < next) continue;
            if (escape_at(d + i, n - i)) return i;
            next = i + (d[i] == '\\' && i + 1 < n && d[i + 1] == '\\' ? 2 : 1);
        }
    }
    return n;
#undef TRIGGER_MASK64
}

/* Decodes in[0..n) into out/raw (room for n bytes). Stops before an escape
 * cut short by the end of in. Returns bytes of in consumed; *outn the bytes
 * written; *dec the escapes decoded. */
static size_t normalize(const uint8_t *in, size_t n, uint8_t *out, uint8_t *raw, size_t *outn,
                        uint64_t *dec)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t t = i + find_trigger(in + i, n - i);
        if (t > i) {
            memcpy(out + o, in + i, t - i);
            memset(raw + o, 1, t - i);
            o += t - i;
            i = t;
            if (i == n) break;
        }
        size_t k = 0;
        long used = decode_one(in + i, n - i, out + o, raw + o, &k);
        if (used < 0) break; /* cut short: the rest waits */
        if (used == 0) {
            /* not an escape; an escaped backslash is copied whole */
            size_t cp = in[i] == '\\' && i + 1 < n && in[i + 1] == '\\' ? 2 : 1;
            memcpy(out + o, in + i, cp);
            memset(raw + o, 1, cp);
            o += cp;
            i += cp;
            continue;
        }
        (*dec)++;
        o += k;
        i += (size_t)used;
    }
    *outn = o;
    return i;
}

/* ---- streams ------------------------------------------------------------- */

static struct match_stream *stream_new(const struct match_db *db)
{
    size_t cap = 2 * db->look;
    size_t at = (sizeof(struct match_stream) + 2 * cap + 7) & ~(size_t)7; /* the held value, 8-aligned */
    struct match_stream *st = calloc(1, at + db->n_hold * sizeof(struct held));
    if (!st) return NULL;
    st->db = db;
    st->hist_cap = cap;
    st->hist_raw = st->hist + cap;
    st->held = db->n_hold ? (struct held *)(void *)((uint8_t *)st + at) : NULL;
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

/* The fields a stream starts with, but its database, Hyperscan stream and
 * look-back buffers. */
static void stream_restart(struct match_stream *st)
{
    st->off = st->seg_base = st->raw_off = 0;
    st->dropped = 0;
    st->run_start = 0;
    st->trail_run = 0;
    st->trail_n = 0;
    st->in_run = 0;
    st->after_gap = 0;
    st->broken = 0;
    st->n_pending = 0;
    st->carry_len = 0;
    st->hist_len = 0;
}

void match_scratch_forget_db(struct match_scratch *s, const struct match_db *db)
{
    if (!s) return;
    unsigned k = 0;
    for (unsigned i = 0; i < s->n_idle; i++) {
        if (s->idle[i]->db == db)
            stream_free(s->idle[i]);
        else
            s->idle[k++] = s->idle[i];
    }
    s->n_idle = k;
}

struct match_stream *match_stream_open(const struct match_db *db, struct match_scratch *s)
{
    if (s)
        for (unsigned i = s->n_idle; i-- > 0;) {
            struct match_stream *st = s->idle[i];
            if (st->db != db) continue;
            s->idle[i] = s->idle[--s->n_idle];
            stream_restart(st);
            s->st.streams_open++;
            return st;
        }
    struct match_stream *st = stream_new(db);
    if (st && s) s->st.streams_open++;
    return st;
}

static void collect_dropped(struct match_stream *st, struct match_scratch *s)
{
    s->st.rejected += st->dropped;
    st->dropped = 0;
}

/* Hyperscan 5.4's AVX-512 VBMI literal matcher reads up to 64 bytes past the
 * end of the buffer it is given (Vectorscan issue #322); found here by
 * fuzzing, as a SEGV when a buffer ended just before an unmapped page. When
 * the block ends within 64 bytes of a page boundary, its last bytes are
 * scanned from a padded copy: stream mode makes the two calls one scan, and
 * the match callback reads values from the original block by offset. */
#define HS_OVERREAD 64

static int hs_scan_guarded(struct match_stream *st, struct match_scratch *s, const uint8_t *data,
                           size_t k, void *ctx)
{
    size_t rem = 4096 - ((uintptr_t)(data + k) & 4095);
    size_t head = k;
    if (rem < HS_OVERREAD || rem == 4096)
        head = k > HS_OVERREAD ? k - HS_OVERREAD : 0;
    if (head && hs_scan_stream(st->hs, (const char *)data, (unsigned)head, 0, s->hs, on_match,
                               ctx) != HS_SUCCESS)
        return -1;
    if (head < k) {
        uint8_t pad[2 * HS_OVERREAD] __attribute__((aligned(64)));
        memcpy(pad, data + head, k - head);
        if (hs_scan_stream(st->hs, (const char *)pad, (unsigned)(k - head), 0, s->hs, on_match,
                           ctx) != HS_SUCCESS)
            return -1;
    }
    return 0;
}

/* Scans n normalised bytes (raw: their source lengths, NULL for one each,
 * src: how many source bytes they are). Returns 0 or -1. */
static int scan_norm(struct match_stream *st, struct match_scratch *s, const uint8_t *data,
                     const uint8_t *raw, size_t n, uint64_t src, match_record_fn fn, void *ud)
{
    if (n == 0) {
        st->raw_off += src;
        return 0;
    }
    struct scan_ctx c = {.st = st, .s = s, .fn = fn, .ud = ud};
    bool pre = st->db->n_shapes && !(s->flags & MATCH_NO_PREPASS);
    while (n) {
        size_t k = n < SCAN_CHUNK ? n : SCAN_CHUNK;
        if (pre && k > PIECE) k = PIECE;
        /* values that ended with the last piece wait for this byte */
        c.blk = data, c.blk_raw = raw, c.blk_len = 0, c.blk_off = st->off;
        c.raw_blk_off = st->raw_off;
        resolve_pending(&c, data[0]);
        c.blk_len = k;
        s->q_len = s->q_next = 0;
        if (pre) PREPASS(&c);
        if (st->hs && !(s->flags & MATCH_NO_HS) && hs_scan_guarded(st, s, data, k, &c) != 0) {
            s->st.scan_errors++;
            st->broken = 1;
            return -1;
        }
        flush_prepass(&c, UINT64_MAX);
        s->q_len = s->q_next = 0;
        uint64_t ksrc = raw ? src_bytes(&c, c.blk_off, c.blk_off + k) : k;
        hist_append(st, data, raw, k);
        st->off += k;
        st->raw_off += ksrc;
        data += k;
        if (raw) raw += k;
        n -= k;
    }
    held_flush(&c, false);
    return 0;
}

int match_stream_scan(struct match_stream *st, struct match_scratch *s, const uint8_t *data,
                      size_t len, match_record_fn fn, void *ud)
{
    collect_dropped(st, s);
    if (st->broken) return -1;
    if (len == 0) return 0;
    s->st.bytes_scanned += len;
    if (s->flags & MATCH_NO_NORMALIZE) return scan_norm(st, s, data, NULL, len, len, fn, ud);
    while (len) {
        if (st->carry_len) {
            /* an escape cut by the last block: join it with what follows */
            uint8_t tmp[ESC_MAX + 16];
            size_t k = len < 16 ? len : 16, cl = st->carry_len;
            memcpy(tmp, st->carry, cl);
            memcpy(tmp + cl, data, k);
            size_t outn;
            size_t used = normalize(tmp, cl + k, s->nbuf, s->nraw, &outn, &s->st.decoded);
            if (used < cl) {
                /* still cut short (only when all of data was taken) */
                assert(k == len);
                memmove(st->carry, tmp + used, cl + k - used);
                st->carry_len = (uint8_t)(cl + k - used);
                return scan_norm(st, s, s->nbuf, s->nraw, outn, used, fn, ud);
            }
            st->carry_len = 0;
            if (scan_norm(st, s, s->nbuf, s->nraw, outn, used, fn, ud) != 0) return -1;
            data += used - cl;
            len -= used - cl;
            continue;
        }
        /* what needs no decoding is scanned where it is, without a copy */
        size_t plain = plain_prefix(data, len, s->avx2);
        if (plain == len) return scan_norm(st, s, data, NULL, len, len, fn, ud);
        if (plain) {
            if (scan_norm(st, s, data, NULL, plain, plain, fn, ud) != 0) return -1;
            data += plain;
            len -= plain;
        }
        size_t k = len < NORM_CHUNK ? len : NORM_CHUNK, outn;
        size_t used = normalize(data, k, s->nbuf, s->nraw, &outn, &s->st.decoded);
        if (used < k && k < len) {
            /* cut by our own chunking, not the block: take it with the next */
        } else if (used < k) {
            /* cut by the block's end: the start of the escape waits */
            st->carry_len = (uint8_t)(k - used);
            memcpy(st->carry, data + used, k - used);
            return scan_norm(st, s, s->nbuf, s->nraw, outn, used, fn, ud);
        }
        if (scan_norm(st, s, s->nbuf, s->nraw, outn, used, fn, ud) != 0) return -1;
        data += used;
        len -= used;
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
    /* an escape cut by the hole is not one: its bytes count, unscanned */
    st->raw_off += st->carry_len + len;
    st->carry_len = 0;
    st->seg_base = st->off;
    st->after_gap = 1;
    st->in_run = 0;
    st->trail_run = 0;
}

void match_stream_gap(struct match_stream *st)
{
    match_stream_gap_len(st, 0);
}

/* End of data: bytes held for an escape are scanned as they are, pending
 * values are decided (the end is a boundary), then Hyperscan reports
 * end-anchored matches. reuse: reset the Hyperscan stream for another use
 * instead of closing it. */
static void stream_finish(struct match_stream *st, struct match_scratch *s, match_record_fn fn,
                          void *ud, bool reuse)
{
    if (st->broken) fn = NULL; /* after a Hyperscan error nothing more is trusted */
    if (st->carry_len && !st->broken) {
        uint8_t tmp[ESC_MAX];
        size_t cl = st->carry_len;
        memcpy(tmp, st->carry, cl);
        st->carry_len = 0;
        scan_norm(st, s, tmp, NULL, cl, cl, fn, ud);
    }
    struct scan_ctx c = {.st = st, .s = s, .fn = fn, .ud = ud, .at_end = 1, .closing = 1};
    c.blk = NULL, c.blk_len = 0, c.blk_off = st->off, c.raw_blk_off = st->raw_off;
    collect_dropped(st, s);
    resolve_pending(&c, -1);
    if (st->hs) {
        hs_error_t e;
        bool cb = fn != NULL;
        if (reuse)
            e = hs_reset_stream(st->hs, 0, cb ? s->hs : NULL, cb ? on_match : NULL, &c);
        else
            e = hs_close_stream(st->hs, cb ? s->hs : NULL, cb ? on_match : NULL, &c);
        if (e != HS_SUCCESS) {
            s->st.scan_errors++;
            st->broken = 1; /* not to be reused: match_scan_block opens a new one */
        }
        if (!reuse) st->hs = NULL;
    }
    held_flush(&c, true); /* the end: the held value is the longest */
}

void match_stream_close(struct match_stream *st, struct match_scratch *s, match_record_fn fn,
                        void *ud)
{
    if (!st) return;
    if (s) {
        bool keep = s->n_idle < STREAM_POOL && st->hs && !st->broken;
        stream_finish(st, s, fn, ud, keep);
        if (s->st.streams_open) s->st.streams_open--;
        if (keep && !st->broken) {
            s->idle[s->n_idle++] = st;
            return;
        }
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
    bool broken = st->broken;
    stream_restart(st);
    if (broken) {
        /* start over with a fresh Hyperscan stream for the next call */
        if (st->hs) hs_close_stream(st->hs, NULL, NULL, NULL);
        st->hs = NULL;
        if (db->hs && hs_open_stream(db->hs, 0, &st->hs) != HS_SUCCESS) {
            st->hs = NULL;
            st->broken = 1; /* every later call fails, as a broken stream does */
            return -1;
        }
    }
    return rc;
}
