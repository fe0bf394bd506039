/* fuzz_match.c - the Hyperscan matcher and validators in stream mode, and the masks.
 *
 * The shipped rules (rules/pii-cn.yaml; FUZZ_RULES overrides the path, the
 * default is baked in at build time as FUZZ_RULES_FILE) are loaded and
 * compiled once, at the first input. Input: [seed:4][bytes]. The bytes are
 * scanned three ways: in one block (match_scan_block); as a stream split at
 * points drawn from the seed; and as a stream split the same way with gaps
 * (match_stream_gap) at some split points.
 *
 * Checks: every record is a pattern of the ruleset, in its category, no
 * longer than RECORD_MAX_LEN, ends inside the input, and passes its
 * validator again; its mask (output/mask.h) is valid UTF-8, NUL-terminated,
 * its length as returned, and shows no run of more than 5 digits; the
 * records of the split stream are exactly those of the block scan (a value
 * split across segments is still found, once). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/mask.h"
#include "rules/match.h"
#include "rules/ruleset.h"
#include "rules/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_RULES_FILE
#define FUZZ_RULES_FILE "rules/pii-cn.yaml"
#endif

static struct ruleset *g_rs;
static struct match_db *g_db;
static struct match_scratch *g_scratch;

#define MAX_RECS 4096

struct recset {
    struct record r[MAX_RECS];
    size_t n;
    int overflow;
    size_t input_len;
};

static struct recset block_set, stream_set;

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const char *path = getenv("FUZZ_RULES");
    if (!path || !*path)
        path = FUZZ_RULES_FILE;
    char err[4096];
    const char *paths[1] = {path};
    if (ruleset_load(paths, 1, &g_rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_match: %s: %s\n(set FUZZ_RULES to the rule file)\n", path, err);
        abort();
    }
    if (match_db_build(g_rs, &g_db, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_match: %s: %s\n", path, err);
        abort();
    }
    g_scratch = match_scratch_new(g_db);
    if (!g_scratch)
        abort();
}

/* Is s (len bytes) well-formed UTF-8 (no overlongs, no surrogates)? */
static int utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

static void check_record(const struct record *r, size_t input_len)
{
    if (r->pattern >= g_rs->n_patterns)
        abort();
    const struct rule_pattern *p = &g_rs->patterns[r->pattern];
    if (r->category != p->category || r->len == 0 || r->len > RECORD_MAX_LEN)
        abort();
    if (r->end_off > input_len || r->end_off < r->len)
        abort();
    if (p->validator_idx >= 0 && !validate_get(p->validator_idx)->fn(r->value, r->len))
        abort(); /* delivered a value its validator rejects */

    char out[512];
    memset(out, 'x', sizeof(out));
    size_t n = mask_value(p->mask, p->keep_first, p->keep_last, r->value, r->len, out,
                          sizeof(out));
    if (n >= sizeof(out) || out[n] != 0 || strlen(out) != n)
        abort();
    if (!utf8_ok((const unsigned char *)out, n))
        abort();
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        run = (out[i] >= '0' && out[i] <= '9') ? run + 1 : 0;
        if (run > 5)
            abort(); /* a mask shows at most 5 digits in a row */
    }
    /* a tiny buffer truncates, still terminated */
    char tiny[4];
    n = mask_value(p->mask, p->keep_first, p->keep_last, r->value, r->len, tiny, sizeof(tiny));
    if (n >= sizeof(tiny) || tiny[n] != 0)
        abort();
}

static void on_record(void *ud, const struct record *r)
{
    struct recset *set = ud;
    check_record(r, set->input_len);
    if (set->n < MAX_RECS)
        set->r[set->n++] = *r;
    else
        set->overflow = 1;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    if (x->end_off != y->end_off)
        return x->end_off < y->end_off ? -1 : 1;
    if (x->pattern != y->pattern)
        return x->pattern < y->pattern ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->value, y->value, x->len);
}

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Scans data as a stream in pieces drawn from seed; with_gaps: a gap at
 * some of the split points (the bytes around it stay, only continuity goes). */
static void scan_stream(const uint8_t *data, size_t size, uint32_t seed, int with_gaps,
                        struct recset *set)
{
    struct match_stream *st = match_stream_open(g_db, g_scratch);
    if (!st)
        return;
    size_t off = 0;
    while (off < size) {
        uint32_t r = rng_next(&seed);
        size_t n = r % 3 == 0 ? 1 + r % 4 : 1 + (r >> 8) % 97;
        if (n > size - off)
            n = size - off;
        uint8_t *copy = malloc(n); /* exact size: a read past n is an ASan report */
        if (!copy)
            abort();
        memcpy(copy, data + off, n);
        if (match_stream_scan(st, g_scratch, copy, n, on_record, set) != 0)
            abort();
        free(copy);
        off += n;
        if (with_gaps && (r >> 24) % 5 == 0)
            match_stream_gap(st);
    }
    match_stream_close(st, g_scratch, on_record, set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 4)
        return 0;
    uint32_t seed = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
                    data[3];
    data += 4;
    size -= 4;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);

    block_set.n = 0;
    block_set.overflow = 0;
    block_set.input_len = size;
    if (match_scan_block(g_db, g_scratch, copy, size, on_record, &block_set) != 0)
        abort();
    free(copy);
    qsort(block_set.r, block_set.n, sizeof(struct record), rec_cmp);

    for (int gaps = 0; gaps < 2; gaps++) {
        stream_set.n = 0;
        stream_set.overflow = 0;
        stream_set.input_len = size;
        scan_stream(data, size, seed, gaps, &stream_set);
        if (block_set.overflow || stream_set.overflow)
            continue;
        qsort(stream_set.r, stream_set.n, sizeof(struct record), rec_cmp);
        if (!gaps) {
            /* the split stream finds exactly what the block finds */
            if (stream_set.n != block_set.n)
                abort();
            for (size_t i = 0; i < block_set.n; i++)
                if (rec_cmp(&block_set.r[i], &stream_set.r[i]) != 0)
                    abort();
        }
        /* with gaps the records are checked one by one only: a value just
         * after a gap has no known left neighbour, so it may be a record the
         * block scan (which sees the real neighbour) rejects */
    }
    return 0;
}
