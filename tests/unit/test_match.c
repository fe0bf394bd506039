/* test_match.c - the stream matcher: values recovered without SOM, found once
 * however the input is split, boundaries, masks, gaps, end of stream, stats;
 * the digit-run pre-pass against Hyperscan on the same patterns; the address
 * finder against start-of-match on the full address regex; normalisation of
 * escapes, percent-encoding and full-width digits split at every byte; the
 * shipped rules/pii-cn.yaml through the real matcher.
 *
 * Most rulesets are built by hand (no YAML loader involved) so these tests
 * only depend on the matcher and the validators. Raw values are never
 * printed: comparisons go through memcmp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rules/match.h"
#include "rules/ruleset.h"
#include "rules/validate.h"

struct spec {
    const char *id, *regex;
    unsigned flags;
    enum rule_category cat;
    const char *validator;
    enum rule_boundary boundary;
    uint16_t max_len;
    uint8_t value_tail, record;
    const char *context; /* NULL: none */
    unsigned context_flags;
};

#define HSF_CASELESS 1u /* HS_FLAG_CASELESS; the tests do not include <hs.h> */
#define HSF_UTF8 32u    /* HS_FLAG_UTF8 */

/* pattern indexes in the main set */
enum { P_MOBILE, P_ID, P_YTO, P_CTX, P_ADDR, P_LANDLINE, P_UTF8, P_USER, N_MAIN };

static const struct spec main_specs[N_MAIN] = {
    [P_MOBILE] = {"cn_mobile", "1[3-9][0-9]{9}", 0, RULE_CAT_PHONE, "cn_mobile", BOUNDARY_DIGIT, 0,
                  0, 1},
    [P_ID] = {"cn_id", "[1-9][0-9]{16}[0-9Xx]", 0, RULE_CAT_ID, "gb11643", BOUNDARY_ALNUM, 0, 0, 1},
    [P_YTO] = {"waybill_yto", "YT[0-9]{13}", 0, RULE_CAT_WAYBILL, "waybill", BOUNDARY_ALNUM, 0, 0,
               1},
    [P_CTX] = {"waybill_ctx", "(?:waybillNo|mailNo)\"?\\s*[:=]\\s*\"?[0-9]{12,15}", HSF_CASELESS,
               RULE_CAT_WAYBILL, "waybill", BOUNDARY_ALNUM, 64, 1, 1},
    /* the shipped address pattern: variable width, no boundary class */
    [P_ADDR] = {"cn_address",
                "(?:[\\xe4-\\xe9][\\x80-\\xbf]{2}){2,6}(?:省|市|区|县)(?:[\\xe4\\xe6-\\xe9][\\x80-"
                "\\xbf]{2}|\\xe5[\\x80-\\x8e\\x90-\\xbf][\\x80-\\xbf]|\\xe5\\x8f[\\x80-\\xb6\\xb8-"
                "\\xbf]|[0-9A-Za-z-]){2,24}号",
                0, RULE_CAT_ADDRESS, "cn_address", BOUNDARY_NONE, 0, 0, 1},
    /* variable width with a boundary class and a separator inside */
    [P_LANDLINE] = {"cn_landline", "0(?:10|2[0-9]|[3-9][0-9]{2})[- ]?[2-9][0-9]{6,7}", 0,
                    RULE_CAT_LANDLINE, "cn_landline", BOUNDARY_DIGIT, 0, 0, 1},
    /* anchored by a UTF-8 literal */
    [P_UTF8] = {"waybill_cn", "运单号[:：]?[0-9]{12,15}", HSF_UTF8, RULE_CAT_WAYBILL, "waybill",
                BOUNDARY_ALNUM, 0, 1, 1},
    /* not a record: matched, never delivered */
    [P_USER] = {"user_field", "user=", 0, RULE_CAT_OTHER, NULL, BOUNDARY_NONE, 0, 0, 0},
};

static struct ruleset *rs_build(const struct spec *sp, size_t n)
{
    struct ruleset *rs = calloc(1, sizeof(*rs));
    rs->patterns = calloc(n ? n : 1, sizeof(*rs->patterns));
    rs->n_patterns = n;
    for (size_t i = 0; i < n; i++) {
        struct rule_pattern *p = &rs->patterns[i];
        p->id = strdup(sp[i].id);
        p->regex = strdup(sp[i].regex);
        p->hs_flags = sp[i].flags;
        p->category = sp[i].cat;
        p->validator = sp[i].validator ? strdup(sp[i].validator) : NULL;
        p->validator_idx = sp[i].validator ? validate_find(sp[i].validator) : -1;
        CHECK(!sp[i].validator || p->validator_idx >= 0);
        p->boundary = sp[i].boundary;
        p->max_len = sp[i].max_len;
        p->value_tail = sp[i].value_tail;
        p->record = sp[i].record;
        p->context = sp[i].context ? strdup(sp[i].context) : NULL;
        p->context_flags = sp[i].context_flags;
        p->file = strdup("test.yaml");
        p->line = (int)(10 + i);
    }
    return rs;
}

static void rs_free(struct ruleset *rs)
{
    for (size_t i = 0; i < rs->n_patterns; i++) {
        free(rs->patterns[i].id);
        free(rs->patterns[i].regex);
        free(rs->patterns[i].validator);
        free(rs->patterns[i].context);
        free(rs->patterns[i].file);
    }
    free(rs->patterns);
    free(rs);
}

/* ---- collecting records -------------------------------------------------- */

#define GOT_MAX 32
struct got {
    size_t n;
    int overflow;
    struct record r[GOT_MAX];
};

static void on_rec(void *ud, const struct record *r)
{
    struct got *g = ud;
    if (g->n == GOT_MAX) {
        g->overflow = 1;
        return;
    }
    g->r[g->n++] = *r;
}

struct want {
    int pattern;
    const char *value;
};

/* The expected records of input: each value at its (first) place, its
 * end_off computed from there. */
static int same(const struct got *g, const char *input, const struct want *w, size_t nw)
{
    if (g->overflow || g->n != nw) return 0;
    for (size_t i = 0; i < nw; i++) {
        const struct record *r = &g->r[i];
        size_t vl = strlen(w[i].value);
        const char *at = strstr(input, w[i].value);
        if (!at || r->pattern != w[i].pattern || r->len != vl || memcmp(r->value, w[i].value, vl))
            return 0;
        if (r->end_off != (uint64_t)(at - input) + vl) return 0;
        if (r->category != main_specs[w[i].pattern].cat) return 0;
    }
    return 1;
}

/* Scans input as a stream cut at the given offsets (ascending). */
static int scan_cuts(const struct match_db *db, struct match_scratch *s, const char *input,
                     size_t len, const size_t *cuts, size_t ncuts, struct got *g)
{
    memset(g, 0, sizeof(*g));
    struct match_stream *st = match_stream_open(db, s);
    if (!st) return -1;
    size_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (match_stream_scan(st, s, (const uint8_t *)input + pos, end - pos, on_rec, g) != 0)
            rc = -1;
        pos = end;
    }
    match_stream_close(st, s, on_rec, g);
    return rc;
}

/* ---- the split tests ----------------------------------------------------- */

static const char input_a[] =
    "user=x&tel=13812345678&id=11010519491231002X;yt=YT1234567890123,{\"mailNo\":"
    "\"731234567890123\"} 地址:广东省深圳市南山区科技园路1号 电话010-62345678 "
    "运单号：431234567890123 end";

static const struct want want_a[] = {
    {P_MOBILE, "13812345678"},
    {P_ID, "11010519491231002X"},
    {P_YTO, "YT1234567890123"},
    {P_CTX, "731234567890123"},
    {P_ADDR, "广东省深圳市南山区科技园路1号"},
    {P_LANDLINE, "010-62345678"},
    {P_UTF8, "431234567890123"},
};
#define N_WANT_A (sizeof(want_a) / sizeof(want_a[0]))

static void test_splits(const struct match_db *db, struct match_scratch *s)
{
    size_t len = strlen(input_a);
    struct got g;
    size_t cuts[1024];

    CHECK_EQ(scan_cuts(db, s, input_a, len, NULL, 0, &g), 0);
    CHECK(same(&g, input_a, want_a, N_WANT_A));

    /* two blocks, cut at every byte */
    size_t bad2 = 0;
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        if (scan_cuts(db, s, input_a, len, cuts, 1, &g) != 0 ||
            !same(&g, input_a, want_a, N_WANT_A))
            bad2++;
    }
    CHECK_EQ(bad2, 0);

    /* three blocks at every pair of cuts */
    size_t bad3 = 0, runs3 = 0;
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            cuts[0] = i, cuts[1] = j;
            runs3++;
            if (scan_cuts(db, s, input_a, len, cuts, 2, &g) != 0 ||
                !same(&g, input_a, want_a, N_WANT_A))
                bad3++;
        }
    CHECK_EQ(bad3, 0);
    CHECK(runs3 > 10000);

    /* one byte at a time */
    CHECK(len <= sizeof(cuts) / sizeof(cuts[0]));
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    CHECK_EQ(scan_cuts(db, s, input_a, len, cuts, len - 1, &g), 0);
    CHECK(same(&g, input_a, want_a, N_WANT_A));

    /* block mode gives the same, and twice in a row (the block stream is reused) */
    for (int k = 0; k < 2; k++) {
        memset(&g, 0, sizeof(g));
        CHECK_EQ(match_scan_block(db, s, (const uint8_t *)input_a, len, on_rec, &g), 0);
        CHECK(same(&g, input_a, want_a, N_WANT_A));
    }
}

/* ---- values that are not records ---------------------------------------- */

static size_t count_records(const struct match_db *db, struct match_scratch *s, const char *in)
{
    struct got g;
    scan_cuts(db, s, in, strlen(in), NULL, 0, &g);
    size_t n = g.n;
    /* the same in 1-byte blocks */
    size_t len = strlen(in), cuts[256];
    for (size_t i = 0; i + 1 < len && i < 256; i++)
        cuts[i] = i + 1;
    scan_cuts(db, s, in, len, cuts, len > 1 ? len - 1 : 0, &g);
    CHECK_EQ(g.n, n);
    return n;
}

static void test_not_records(const struct match_db *db, struct match_scratch *s)
{
    /* digit runs longer than a mobile, on either side */
    CHECK_EQ(count_records(db, s, "tel=913812345678;"), 0);
    CHECK_EQ(count_records(db, s, "tel=138123456789;"), 0);
    CHECK_EQ(count_records(db, s, "tel=91381234567890"), 0);
    /* letters are fine next to a mobile (digit boundary), not next to an ID */
    CHECK_EQ(count_records(db, s, "tel=a13812345678b"), 1);
    CHECK_EQ(count_records(db, s, "A11010519491231002X"), 0);
    CHECK_EQ(count_records(db, s, "11010519491231002Xa"), 0);
    CHECK_EQ(count_records(db, s, "id:11010519491231002x;"), 1);
    /* masked values and values next to a mask */
    CHECK_EQ(count_records(db, s, "tel=138****5678;"), 0);
    CHECK_EQ(count_records(db, s, "tel=138******78;"), 0);
    CHECK_EQ(count_records(db, s, "tel=*13812345678;"), 0);
    CHECK_EQ(count_records(db, s, "YT12345*****890"), 0);
    /* unallocated prefix, bad ID check character */
    CHECK_EQ(count_records(db, s, "tel=14412345678;"), 0);
    CHECK_EQ(count_records(db, s, "id=110105194912310021;"), 0);
    /* a context waybill longer than any allowed length */
    CHECK_EQ(count_records(db, s, "{\"mailNo\":\"7312345678901234567\"}"), 0);
    CHECK_EQ(count_records(db, s, "{\"mailNo\":\"731234567890123\"}"), 1);
    /* a landline glued to a digit before it */
    CHECK_EQ(count_records(db, s, "tel 9010-62345678 "), 0);
    CHECK_EQ(count_records(db, s, "tel 010 62345678 "), 1);
    /* the record=0 pattern is matched, never delivered */
    CHECK_EQ(count_records(db, s, "user=user=user="), 0);
}

/* ---- gaps and the end of the stream -------------------------------------- */

static void test_gaps_and_end(const struct match_db *db, struct match_scratch *s)
{
    struct got g = {0};
    struct match_stream *st;

    /* a gap in the middle of a record: nothing */
    st = match_stream_open(db, s);
    CHECK(st != NULL);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel=1381234", 11, on_rec, &g), 0);
    match_stream_gap(st);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"5678;", 5, on_rec, &g), 0);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 0);

    /* a complete value waiting for its right boundary when a gap comes */
    memset(&g, 0, sizeof(g));
    st = match_stream_open(db, s);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel=13812345678", 15, on_rec, &g), 0);
    match_stream_gap(st);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)";", 1, on_rec, &g), 0);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 0);

    /* a value starting right at the gap: the byte before it is unknown */
    memset(&g, 0, sizeof(g));
    st = match_stream_open(db, s);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel=", 4, on_rec, &g), 0);
    match_stream_gap(st);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"13812345678;", 12, on_rec, &g), 0);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 0);

    /* a value after the gap, with its left byte seen: found, offsets exact */
    memset(&g, 0, sizeof(g));
    st = match_stream_open(db, s);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel=1381", 8, on_rec, &g), 0);
    match_stream_gap_len(st, 100);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"x,13912345678;", 14, on_rec, &g), 0);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(g.r[0].pattern, P_MOBILE);
    CHECK_EQ(g.r[0].end_off, 8 + 100 + 13);
    CHECK(g.r[0].len == 11 && memcmp(g.r[0].value, "13912345678", 11) == 0);

    /* a value at the very end of the stream: found at close, not before */
    memset(&g, 0, sizeof(g));
    st = match_stream_open(db, s);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel:", 4, on_rec, &g), 0);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"13812345678", 11, on_rec, &g), 0);
    CHECK_EQ(g.n, 0);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(g.r[0].end_off, 15);

    /* an empty scan keeps a pending value pending */
    memset(&g, 0, sizeof(g));
    st = match_stream_open(db, s);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel:13812345678", 15, on_rec, &g), 0);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"", 0, on_rec, &g), 0);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"9", 1, on_rec, &g), 0);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 0);

    /* a stream of only the value */
    memset(&g, 0, sizeof(g));
    CHECK_EQ(match_scan_block(db, s, (const uint8_t *)"13812345678", 11, on_rec, &g), 0);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(g.r[0].end_off, 11);

    /* closing without a callback delivers nothing and frees */
    memset(&g, 0, sizeof(g));
    st = match_stream_open(db, s);
    CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)"tel:13812345678", 15, on_rec, &g), 0);
    match_stream_close(st, s, NULL, NULL);
    CHECK_EQ(g.n, 0);
    match_stream_close(NULL, s, NULL, NULL);
}

/* ---- statistics ---------------------------------------------------------- */

static void test_stats(void)
{
    static const struct spec mob[] = {
        {"cn_mobile", "1[3-9][0-9]{9}", 0, RULE_CAT_PHONE, "cn_mobile", BOUNDARY_DIGIT, 0, 0, 1}};
    struct ruleset *rs = rs_build(mob, 1);
    struct match_db *db = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *s = match_scratch_new(db);
    CHECK(s != NULL);
    /* two records; a 12-digit run (one raw match, right boundary fails);
     * 144 is not allocated (one raw match, validator fails); 128... has no
     * 1[3-9] in it (no raw match) */
    const char in[] = "a 13812345678 b 13912345678 c 138123456789 d 14412345678 e 12812345678";
    struct got g;
    size_t cuts[] = {7, 20, 42};
    CHECK_EQ(scan_cuts(db, s, in, strlen(in), cuts, 3, &g), 0);
    const struct match_stats *ms = match_scratch_stats(s);
    CHECK_EQ(g.n, 2);
    CHECK_EQ(ms->bytes_scanned, strlen(in));
    CHECK_EQ(ms->raw_matches, 4);
    CHECK_EQ(ms->records, 2);
    CHECK_EQ(ms->rejected, 2);
    CHECK_EQ(ms->scan_errors, 0);
    CHECK_EQ(ms->streams_open, 0);

    /* pending values: one delivered at close, one turned away by the next byte,
     * one dropped by a gap */
    struct match_stream *a = match_stream_open(db, s), *b = match_stream_open(db, s);
    struct match_stream *c = match_stream_open(db, s);
    CHECK_EQ(ms->streams_open, 3);
    memset(&g, 0, sizeof(g));
    match_stream_scan(a, s, (const uint8_t *)" 13812345678", 12, on_rec, &g);
    match_stream_scan(b, s, (const uint8_t *)" 13812345678", 12, on_rec, &g);
    match_stream_scan(c, s, (const uint8_t *)" 13812345678", 12, on_rec, &g);
    match_stream_scan(b, s, (const uint8_t *)"0", 1, on_rec, &g);
    match_stream_gap(c);
    match_stream_close(a, s, on_rec, &g);
    match_stream_close(b, s, on_rec, &g);
    match_stream_close(c, s, on_rec, &g);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(ms->raw_matches, 4 + 3);
    CHECK_EQ(ms->records, 2 + 1);
    CHECK_EQ(ms->rejected, 2 + 2);
    CHECK_EQ(ms->streams_open, 0);
    CHECK(match_db_stream_size(db) > 12);
    CHECK(match_db_ruleset(db) == rs);

    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
}

/* ---- end-anchored patterns ----------------------------------------------- */

static void test_end_anchored(void)
{
    static const struct spec sp[] = {
        {"tail_code", "ZQ[0-9]{6}\\z", 0, RULE_CAT_OTHER, NULL, BOUNDARY_ALNUM, 0, 0, 1}};
    struct ruleset *rs = rs_build(sp, 1);
    struct match_db *db = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *s = match_scratch_new(db);
    struct got g;
    const char in[] = "code ZQ123456";
    size_t cuts[] = {9};
    CHECK_EQ(scan_cuts(db, s, in, strlen(in), cuts, 1, &g), 0);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(g.r[0].end_off, strlen(in));
    CHECK(g.r[0].len == 8 && memcmp(g.r[0].value, "ZQ123456", 8) == 0);
    /* a gap resets the stream: the end-anchored match before it is not reported */
    memset(&g, 0, sizeof(g));
    struct match_stream *st = match_stream_open(db, s);
    match_stream_scan(st, s, (const uint8_t *)in, strlen(in), on_rec, &g);
    match_stream_gap(st);
    match_stream_scan(st, s, (const uint8_t *)" more", 5, on_rec, &g);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 0);
    /* block mode reports it too */
    memset(&g, 0, sizeof(g));
    CHECK_EQ(match_scan_block(db, s, (const uint8_t *)in, strlen(in), on_rec, &g), 0);
    CHECK_EQ(g.n, 1);
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
}

/* ---- look-back at its limit, masks without a validator, retried starts --- */

static void test_edges(void)
{
    static const struct spec sp[] = {
        /* width 20 = the whole look-back but the left byte */
        {"q20", "Q[0-9]{19}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_ALNUM, 0, 0, 1},
        /* no validator: only the matcher keeps '*' out */
        {"sn", "SN[0-9*]{6}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_ALNUM, 0, 0, 1},
        /* variable width: the longest match fails the validator, a shorter one
         * (after a byte outside the class) passes */
        {"mob_pfx", "(?:[0-9]{3}-)?1[3-9][0-9]{9}", 0, RULE_CAT_PHONE, "cn_mobile", BOUNDARY_DIGIT,
         0, 0, 1},
    };
    struct ruleset *rs = rs_build(sp, 3);
    struct match_db *db = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *s = match_scratch_new(db);
    const char in[] = "xx Q1234567890123456789 yyQ1234567890123456789 zzzzzzzzzzzzzzzzzzzzzzzzzz"
                      "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz Q9876543210987654321.";
    size_t len = strlen(in), cuts[256];
    struct got g;
    size_t bad = 0;
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        scan_cuts(db, s, in, len, cuts, 1, &g);
        if (g.n != 2 || g.r[0].end_off != 23 || g.r[1].end_off != len - 1 ||
            memcmp(g.r[1].value, "Q9876543210987654321", 20) != 0)
            bad++;
    }
    CHECK_EQ(bad, 0);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    scan_cuts(db, s, in, len, cuts, len - 1, &g);
    CHECK_EQ(g.n, 2);
    CHECK(g.n == 2 && g.r[1].end_off == len - 1 &&
          memcmp(g.r[1].value, "Q9876543210987654321", 20) == 0);

    CHECK_EQ(count_records(db, s, "sn SN12*456 "), 0);
    CHECK_EQ(count_records(db, s, "sn SN123456 "), 1);

    const char ph[] = "tel 010-13812345678;";
    scan_cuts(db, s, ph, strlen(ph), NULL, 0, &g);
    CHECK_EQ(g.n, 1);
    CHECK(g.n == 1 && g.r[0].len == 11 && memcmp(g.r[0].value, "13812345678", 11) == 0);
    CHECK(g.n == 1 && g.r[0].end_off == strlen(ph) - 1);
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
}

/* ---- build errors ----------------------------------------------------------- */

static void test_build_errors(void)
{
    char err[256];
    struct match_db *db = (struct match_db *)1;
    static const struct spec bad[] = {
        {"good_one", "abc[0-9]{3}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_NONE, 0, 0, 1},
        {"bad_one", "ab(c", 0, RULE_CAT_OTHER, NULL, BOUNDARY_NONE, 0, 0, 1}};
    struct ruleset *rs = rs_build(bad, 2);
    err[0] = 0;
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), -1);
    CHECK(db == NULL);
    CHECK(strncmp(err, "test.yaml:11: pattern bad_one: ", 31) == 0);
    rs_free(rs);

    static const struct spec unb[] = {
        {"digits", "[0-9]+x", 0, RULE_CAT_OTHER, NULL, BOUNDARY_DIGIT, 0, 0, 1}};
    rs = rs_build(unb, 1);
    err[0] = 0;
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), -1);
    CHECK(strstr(err, "test.yaml:10: pattern digits: ") == err);
    CHECK(strstr(err, "max_len") != NULL);
    /* with max_len it builds, and values longer than max_len are not records */
    rs->patterns[0].max_len = 8;
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *s = match_scratch_new(db);
    struct got g;
    scan_cuts(db, s, "a 1234567x b 123456789x", 23, NULL, 0, &g);
    CHECK_EQ(g.n, 1);
    CHECK(g.n == 1 && g.r[0].len == 8 && memcmp(g.r[0].value, "1234567x", 8) == 0);
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);

    /* an empty ruleset is a working matcher that finds nothing */
    rs = rs_build(NULL, 0);
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    s = match_scratch_new(db);
    CHECK(s != NULL);
    CHECK_EQ(scan_cuts(db, s, "13812345678", 11, NULL, 0, &g), 0);
    CHECK_EQ(g.n, 0);
    CHECK_EQ(match_scratch_stats(s)->bytes_scanned, 11);
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
    match_db_free(NULL);
    match_scratch_free(NULL);
}


/* ---- the pre-pass against Hyperscan ----------------------------------------- */

#define HSF_DOTALL 2u /* HS_FLAG_DOTALL: no meaning for these regexes, but any flag
                         keeps a pattern out of the pre-pass */

struct reclist {
    size_t n;
    int overflow;
    struct {
        uint16_t pattern;
        uint8_t len;
        uint64_t end;
        uint8_t v[RECORD_MAX_LEN];
    } r[512];
};

static void on_list(void *ud, const struct record *r)
{
    struct reclist *l = ud;
    if (l->n == 512) {
        l->overflow = 1;
        return;
    }
    l->r[l->n].pattern = r->pattern;
    l->r[l->n].len = r->len;
    l->r[l->n].end = r->end_off;
    memcpy(l->r[l->n].v, r->value, r->len);
    l->n++;
}

static int same_list(const struct reclist *a, const struct reclist *b)
{
    if (a->overflow || b->overflow || a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->r[i].pattern != b->r[i].pattern || a->r[i].len != b->r[i].len ||
            a->r[i].end != b->r[i].end || memcmp(a->r[i].v, b->r[i].v, a->r[i].len))
            return 0;
    return 1;
}

static uint32_t rng = 12345;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) % n;
}

static void scan_list(const struct match_db *db, struct match_scratch *s, const char *in,
                      size_t len, size_t cut, struct reclist *l)
{
    memset(l, 0, sizeof(*l));
    struct match_stream *st = match_stream_open(db, s);
    match_stream_scan(st, s, (const uint8_t *)in, cut, on_list, l);
    match_stream_scan(st, s, (const uint8_t *)in + cut, len - cut, on_list, l);
    match_stream_close(st, s, on_list, l);
}

/* Two matchers built from two pattern lists, a scratch each: what the
 * differential tests below compare. */
struct pair {
    struct ruleset *ra, *rb;
    struct match_db *da, *db;
    struct match_scratch *sa, *sb;
};

static void pair_close(struct pair *p)
{
    match_scratch_free(p->sa);
    match_scratch_free(p->sb);
    match_db_free(p->da);
    match_db_free(p->db);
    if (p->ra) rs_free(p->ra);
    if (p->rb) rs_free(p->rb);
    memset(p, 0, sizeof(*p));
}

/* 0 when both build (then they have a scratch each), else -1 (closed). */
static int pair_open(struct pair *p, const struct spec *a, size_t na, const struct spec *b,
                     size_t nb)
{
    char err[256] = "";
    memset(p, 0, sizeof(*p));
    p->ra = rs_build(a, na);
    p->rb = rs_build(b, nb);
    CHECK_EQ(match_db_build(p->ra, &p->da, err, sizeof(err)), 0);
    CHECK_EQ(match_db_build(p->rb, &p->db, err, sizeof(err)), 0);
    if (p->da && p->db) {
        p->sa = match_scratch_new(p->da);
        p->sb = match_scratch_new(p->db);
    }
    if (!p->sa || !p->sb) {
        pair_close(p);
        return -1;
    }
    return 0;
}

/* The same digit-shape patterns served by the pre-pass (no flags) and by
 * Hyperscan with the SOM verifier (a flag without meaning for them) give the
 * same records, in the same order, on random digit-heavy text cut anywhere. */
/* iters texts of >= 300 bytes glued from random pieces: the records of
 * (da, sa) fed with a random cut must be those of (db, sb) fed whole. */
static void compare_random(const struct match_db *da, struct match_scratch *sa,
                           const struct match_db *db, struct match_scratch *sb,
                           const char *const *pieces, uint32_t n_pieces, int iters, size_t *bad,
                           size_t *total, size_t *runs)
{
    char in[400];
    for (int iter = 0; iter < iters; iter++) {
        size_t len = 0;
        while (len < 300) {
            const char *p = pieces[rnd(n_pieces)];
            size_t n = strlen(p);
            memcpy(in + len, p, n);
            len += n;
        }
        in[len] = 0;
        struct reclist a, b;
        scan_list(db, sb, in, len, len, &b);
        *total += b.n;
        for (int k = 0; k < 6; k++) {
            size_t cut = k == 0 ? len : rnd((uint32_t)len + 1);
            scan_list(da, sa, in, len, cut, &a);
            (*runs)++;
            if (!same_list(&a, &b)) (*bad)++;
        }
    }
}

/* compare_random() over a pair, every run alike; returns the records. */
static size_t pair_random(struct pair *P, const char *const *pieces, uint32_t n, int iters)
{
    size_t bad = 0, total = 0, runs = 0;
    compare_random(P->da, P->sa, P->db, P->sb, pieces, n, iters, &bad, &total, &runs);
    CHECK_EQ(bad, 0);
    CHECK_EQ(runs, (size_t)iters * 6);
    return total;
}

static void test_prepass_vs_hyperscan(void)
{
    static const struct spec pre[] = {
        {"mob", "(?:(?:\\+|00)86[- ]?|86[- ])?1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}", 0, RULE_CAT_PHONE,
         "cn_mobile", BOUNDARY_DIGIT, 0, 0, 1},
        {"land", "0(?:10|2[0-9]|[3-9][0-9]{2})[- ]?[2-9][0-9]{6,7}", 0, RULE_CAT_LANDLINE,
         "cn_landline", BOUNDARY_DIGIT, 0, 0, 1},
        {"rid", "[1-9][0-9]{16}[0-9Xx]", 0, RULE_CAT_ID, "gb11643", BOUNDARY_ALNUM, 0, 0, 1},
        {"s10", "[A-Z]{2}[0-9]{9}[A-Z]{2}", 0, RULE_CAT_WAYBILL, "s10", BOUNDARY_ALNUM, 0, 0, 1},
        {"run", "[0-9]{5,7}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_DIGIT, 0, 0, 1},
        {"dash", "[0-9]{2}-[0-9]{2}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_ALNUM, 0, 0, 1},
        /* literal letters before the digits: the carrier prefixes */
        {"yto", "YT[0-9]{13}", 0, RULE_CAT_WAYBILL, "waybill", BOUNDARY_ALNUM, 0, 0, 1},
        {"sf", "SF[0-9A-Za-z][0-9]{12}", 0, RULE_CAT_WAYBILL, "waybill", BOUNDARY_ALNUM, 0, 0, 1},
        {"jd", "JD[0-9A-Za-z]{2}[0-9]{11}", 0, RULE_CAT_WAYBILL, "waybill", BOUNDARY_ALNUM, 0, 0,
         1},
        {"dpk", "DPK[0-9]{12}", 0, RULE_CAT_WAYBILL, NULL, BOUNDARY_ALNUM, 0, 0, 1},
        {"ab", "A[0-9]B[0-9]{3}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_DIGIT, 0, 0, 1},
    };
    enum { NP = sizeof(pre) / sizeof(pre[0]) };
    struct spec hs[NP];
    memcpy(hs, pre, sizeof(hs));
    for (size_t i = 0; i < NP; i++)
        hs[i].flags = HSF_DOTALL;
    struct pair P;
    if (pair_open(&P, pre, NP, hs, NP) != 0) return;
    CHECK_EQ(match_db_prepass_patterns(P.da), NP);
    CHECK_EQ(match_db_prepass_patterns(P.db), 0);
    static const char *const pieces[] = {
        "13812345678", "138-1234-5678", "139 1234 5678", "86 13712345678", "+8613612345678",
        "8613512345678", "YT8613412345678", "+",
        "0086-135-1234-5678", "010-62345678", "0755 23456789", "02112345678", "11010519491231002X",
        "360426199101010071", "RB123456785GB", "AB123456789CD", "12345", "1234567", "12-34",
        "12-34-56", "-", " ", "X", "x", "A", "B", "*", "\"", ":", "7", "0", "1", "86", "138",
        "YT", "SF", "SFA", "JD", "JDVA", "JDx1", "DPK", "DP", "K", "T", "Y", "1234567890123",
        "123456789012", "12345678901", "A1B234", "A1B", "9B123"};
    enum { NPC = sizeof(pieces) / sizeof(pieces[0]) };
    CHECK(pair_random(&P, pieces, NPC, 400) > 1000); /* the inputs do hold records */
    CHECK(match_scratch_stats(P.sa)->prepass_events > 0);
    pair_close(&P);

    /* the shipped shapes alone: every run shorter than 4 digits is only
     * counted (the pre-pass's fast path), so short runs with letters after
     * them (hex, S10-like text) are cut at chunk and block edges */
    static const char *const hexish[] = {
        "3f", "9a", "1b2", "12AB", "7", "0x1f", "AB", "RB123456785GB", "RB12345678", "5GB",
        "13812345678", "138-1234-5678", "010-62345678", "11010519491231002X", "123", "45",
        "9", "Z", "-", " ", "\"", "a1b2c3d4e5f6a7b8c9d0", "DEADBEEF"};
    enum { NHX = sizeof(hexish) / sizeof(hexish[0]) };
    if (pair_open(&P, pre, 4, hs, 4) != 0) return;
    CHECK_EQ(match_db_prepass_patterns(P.da), 4);
    CHECK(pair_random(&P, hexish, NHX, 300) > 300);
    pair_close(&P);

    /* what stays with Hyperscan: flags, unbounded repeats, other
     * characters, no boundary */
    static const struct spec not_shapes[] = {
        {"yto", "YT[0-9]{13}", HSF_CASELESS, RULE_CAT_WAYBILL, NULL, BOUNDARY_ALNUM, 0, 0, 1},
        {"nob", "[0-9]{11}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_NONE, 0, 0, 1},
        {"unb", "[0-9]+x", 0, RULE_CAT_OTHER, NULL, BOUNDARY_DIGIT, 8, 0, 1},
        {"dot", "1.3", 0, RULE_CAT_OTHER, NULL, BOUNDARY_DIGIT, 0, 0, 1},
    };
    struct ruleset *rn = rs_build(not_shapes, 4);
    struct match_db *dn = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rn, &dn, err, sizeof(err)), 0);
    if (dn) CHECK_EQ(match_db_prepass_patterns(dn), 0);
    match_db_free(dn);
    rs_free(rn);
}

/* ---- context: the value first, its field name checked before it ---------- */

/* The shipped waybill context written the old way, as one regex with the
 * record as its tail. */
#define CTX_NAMES                                                                                  \
    "(?:waybillno|waybill_no|waybillnum|waybill_num|waybillnumber|waybill_number|waybillcode|"      \
    "waybill_code|waybillid|waybill_id|mailno|mail_no|billcode|bill_code|trackingno|tracking_no|"  \
    "trackingnum|tracking_num|trackingnumber|tracking_number|expressno|express_no|logisticno|"     \
    "logistic_no|logisticsno|logistics_no|运单号|运单编号|快递单号)\"?[ \\t]{0,3}(?:[:=>]|：)[ "     \
    "\\t]{0,3}\"?"
#define CTX_VALUES "(?:[1589]|7[3-68]|(?:77|43)[0-9]{0,3}|[34][0-9]{2}|621)[0-9]{12}"

/* A pattern with a context (the value a digit shape in the pre-pass, the
 * field name checked by looking back) finds exactly what the one regex
 * "names, separator, number" with value: tail finds in Hyperscan, on random
 * text of field names, separators, digits and escapes cut anywhere; and \b
 * in a context sees the byte before the context's window. */
static void test_context(void)
{
    static const struct spec ctx[] = {{"ctx", CTX_VALUES, 0, RULE_CAT_WAYBILL, "waybill",
                                       BOUNDARY_ALNUM, 0, 0, 1, CTX_NAMES, HSF_CASELESS}};
    static const struct spec tail[] = {{"ctx", CTX_NAMES CTX_VALUES, HSF_CASELESS,
                                        RULE_CAT_WAYBILL, "waybill", BOUNDARY_ALNUM, 0, 1, 1}};
    struct pair P;
    if (pair_open(&P, ctx, 1, tail, 1) != 0) return;
    CHECK_EQ(match_db_prepass_patterns(P.da), 1);
    CHECK_EQ(match_db_prepass_patterns(P.db), 0);
    static const char *const pieces[] = {
        "mailNo", "MAILNO", "waybill_no", "TrackingNumber", "emailno", "returnWaybillNo", "bill",
        "Code", "运单号", "快递单号", "运单", "\"", "\"", ":", "=", ">", "：", " ", "\t", "    ", "<",
        ",", "\"mailNo\":\"", "billCode=", "trackingNo> ", "运单号：", "MailNo :\t\"",
        "\"waybill_no\" = ", "7312345678901", "73123456789012", "981234567890",
        "9812345678901", "4312345678901234", "62112345678901", "621123456789012", "5", "1", "9",
        "0", "12", "A", "x", "_", "\\u0037", "%33", "３", "*"};
    enum { NPC = sizeof(pieces) / sizeof(pieces[0]) };
    CHECK(pair_random(&P, pieces, NPC, 1500) > 300); /* the inputs do hold records */
    pair_close(&P);

    /* \b at the context's start; a context before a Hyperscan pattern; a
     * context cut by a gap or by the stream's start */
    static const struct spec b[] = {
        {"no", "[0-9]{6}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_DIGIT, 0, 0, 1, "\\bno=", 0},
        /* a flag keeps this one in Hyperscan */
        {"yt", "YT[0-9]{4}", HSF_CASELESS, RULE_CAT_WAYBILL, NULL, BOUNDARY_ALNUM, 0, 0, 1, "code:",
         0}};
    struct ruleset *rc = rs_build(b, 2);
    struct match_db *dc = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rc, &dc, err, sizeof(err)), 0);
    if (!dc) return;
    CHECK_EQ(match_db_prepass_patterns(dc), 1);
    struct match_scratch *sc = match_scratch_new(dc);
    static const char in[] = "no=111111 xno=222222 &no=333333 code:YT1234 xcode:YT5678 "
                             "code=YT9999 no=444444";
    size_t len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        struct reclist l;
        scan_list(dc, sc, in, len, cut, &l);
        int ok = l.n == 5 && l.r[0].len == 6 && memcmp(l.r[0].v, "111111", 6) == 0 &&
                 memcmp(l.r[1].v, "333333", 6) == 0 && memcmp(l.r[2].v, "YT1234", 6) == 0 &&
                 l.r[3].pattern == 1 && memcmp(l.r[3].v, "YT5678", 6) == 0 &&
                 memcmp(l.r[4].v, "444444", 6) == 0;
        /* YT5678: "xcode:" ends in "code:" (no \b in that context) */
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "cut %zu: %zu records\n", cut, l.n);
            for (size_t k = 0; k < l.n; k++)
                fprintf(stderr, "  pattern %u, %u bytes\n", l.r[k].pattern, l.r[k].len);
        }
        if (!ok) break;
    }
    /* the value right after a gap: its context is behind the hole */
    struct reclist l;
    memset(&l, 0, sizeof(l));
    struct match_stream *st = match_stream_open(dc, sc);
    match_stream_scan(st, sc, (const uint8_t *)"code:", 5, on_list, &l);
    match_stream_gap(st);
    match_stream_scan(st, sc, (const uint8_t *)" YT1234 no=555555", 17, on_list, &l);
    match_stream_close(st, sc, on_list, &l);
    CHECK_EQ(l.n, 1);
    CHECK(l.n == 1 && memcmp(l.r[0].v, "555555", 6) == 0);
    match_scratch_free(sc);
    match_db_free(dc);
    rs_free(rc);

    /* a context before a value its validator finds (the address), and
     * before a value: tail record (the context ends where the tail starts) */
    static const struct spec f[] = {
        {"addr", "号", 0, RULE_CAT_ADDRESS, "cn_address", BOUNDARY_NONE, 96, 0, 1, "\"to\":\"", 0},
        {"tail", "k=[0-9A-Za-z]{4,8}", 0, RULE_CAT_OTHER, NULL, BOUNDARY_ALNUM, 0, 1, 1, "id;k=", 0}};
    rc = rs_build(f, 2);
    dc = NULL;
    CHECK_EQ(match_db_build(rc, &dc, err, sizeof(err)), 0);
    if (!dc) return;
    sc = match_scratch_new(dc);
    static const char in2[] = "{\"to\":\"北京市海淀区中关村大街27号\",\"from\":\"广东省深圳市南山区科苑路15号\"} "
                              "id;k=ab12 xx;k=cd34";
    len = strlen(in2);
    for (size_t cut = 0; cut <= len; cut += 3) {
        struct reclist l2;
        scan_list(dc, sc, in2, len, cut, &l2);
        int ok = l2.n == 2 && l2.r[0].pattern == 0 &&
                 l2.r[0].len == strlen("北京市海淀区中关村大街27号") &&
                 memcmp(l2.r[0].v, "北京市海淀区中关村大街27号", l2.r[0].len) == 0 &&
                 l2.r[1].pattern == 1 && l2.r[1].len == 4 && memcmp(l2.r[1].v, "ab12", 4) == 0;
        CHECK(ok);
        if (!ok) break;
    }
    match_scratch_free(sc);
    match_db_free(dc);
    rs_free(rc);
}

/* ---- the address finder against start-of-match --------------------------- */

static const char addr_regex[] =
    "(?:[\\xe4-\\xe9][\\x80-\\xbf]{2}){2,6}(?:省|市|区|县)(?:[\\xe4\\xe6-\\xe9][\\x80-"
    "\\xbf]{2}|\\xe5[\\x80-\\x8e\\x90-\\xbf][\\x80-\\xbf]|\\xe5\\x8f[\\x80-\\xb6\\xb8-"
    "\\xbf]|[0-9A-Za-z-]){2,24}号";

/* The shipped way (号 + the cn_address validator looking back) finds exactly
 * what the full regex with the SOM verifier finds, once validated. */
static void test_address_finder(void)
{
    static const struct spec anchor[] = {
        {"addr", "号", 0, RULE_CAT_ADDRESS, "cn_address", BOUNDARY_NONE, 96, 0, 1}};
    static const struct spec full[] = {
        {"addr", addr_regex, 0, RULE_CAT_ADDRESS, NULL, BOUNDARY_NONE, 0, 0, 1}};
    struct pair P;
    if (pair_open(&P, anchor, 1, full, 1) != 0) return;
    static const char *const pieces[] = {"北京", "市", "海淀", "区", "省", "县", "中关村", "大街",
                                         "路", "街", "27", "3", "号", "号", "院", "楼", "一",
                                         "A", "-", " ", ",", "广东", "深圳", "南山", "科技园",
                                         "小区", "单元", "*", "\xe5\x8f",
                                         "北京市海淀区中关村大街27号",
                                         "广东省深圳市南山区科技园路1号"};
    enum { NPC = sizeof(pieces) / sizeof(pieces[0]) };
    size_t bad = 0, found = 0;
    char in[600];
    for (int iter = 0; iter < 1500; iter++) {
        size_t len = 0;
        while (len < 200) {
            const char *p = pieces[rnd(NPC)];
            size_t n = strlen(p);
            memcpy(in + len, p, n);
            len += n;
        }
        struct reclist a, b, bv;
        size_t cut = rnd((uint32_t)len + 1);
        scan_list(P.da, P.sa, in, len, cut, &a);
        scan_list(P.db, P.sb, in, len, len, &b);
        /* the full regex's values, validated */
        memset(&bv, 0, sizeof(bv));
        for (size_t i = 0; i < b.n; i++)
            if (validate_cn_address(b.r[i].v, b.r[i].len)) bv.r[bv.n++] = b.r[i];
        bv.overflow = b.overflow;
        found += a.n;
        if (!same_list(&a, &bv)) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK(found > 100);
    pair_close(&P);
}

/* ---- normalisation ------------------------------------------------------- */

struct norm_case {
    const char *label, *in;
    size_t n_rec;      /* mobile records expected */
    size_t src_start;  /* where the first record's text starts in in */
    size_t src_len;    /* and its length there */
};

/* Every encoding of a mobile (and its masked forms) through the stream, cut
 * at every byte and at every pair of bytes: the record is 13812345678, its
 * end_off and src_len name the encoded text exactly. */
static void test_normalize(void)
{
    static const struct spec sp[] = {
        {"mob", "(?:(?:\\+|00)86[- ]?|86[- ])?1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}", 0, RULE_CAT_PHONE,
         "cn_mobile", BOUNDARY_DIGIT, 0, 0, 1},
        {"addr", "号", 0, RULE_CAT_ADDRESS, "cn_address", BOUNDARY_NONE, 96, 0, 1},
    };
    struct ruleset *rs = rs_build(sp, 2);
    struct match_db *db = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    if (!db) return;
    struct match_scratch *s = match_scratch_new(db);
    static const struct norm_case cases[] = {
        {"plain", "tel=13812345678;", 1, 4, 11},
        {"json \\u", "{\"t\":\"\\u0031\\u0033\\u0038\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036"
                     "\\u0037\\u0038\"}",
         1, 6, 66},
        {"json \\u twice", "t=\\u0031\\u0033812345678,", 1, 2, 21},
        {"percent", "tel=%31%33%38%31%32%33%34%35%36%37%38&x=1", 1, 4, 33},
        {"percent mixed", "tel=138%2D1234%2d5678&", 1, 4, 17},
        {"full-width", "电话：１３８１２３４５６７８。", 1, 9, 33},
        {"full-width dashes", "１３８－１２３４－５６７８", 1, 0, 39},
        {"separators", "a 138-1234-5678 b", 1, 2, 13},
        {"spaces", "a 138 1234 5678 b", 1, 2, 13},
        {"+86", "a +86 13812345678 b", 1, 2, 15},
        {"+86 glued", "a +8613812345678 b", 1, 2, 14},
        {"86 glued is not a prefix", "YT8613812345678 b", 0, 0, 0},
        {"0086", "a 0086-138-1234-5678 b", 1, 2, 18},
        {"surrogate pair before", "\\ud83d\\ude00 13812345678", 1, 13, 11},
        {"masked full-width", "１３８＊＊＊＊＊＊７８", 0, 0, 0},
        {"masked escaped", "138\\u002a\\u002a\\u002a\\u002a5678", 0, 0, 0},
        {"masked percent", "138%2A%2A%2A%2A%2A%2A78", 0, 0, 0},
        {"escaped backslash", "\\\\u0031\\u00338123456789", 0, 0, 0},
        {"bad hex", "%3G13812345678", 1, 3, 11},
        {"lone low surrogate", "\\udcff:13812345678", 1, 7, 11},
        {"cut at the end", "13812345678%3", 1, 0, 11},
        {"escape inside a longer run", "1%338123456789", 0, 0, 0},
        /* plain text with triggers that decode nothing, then escapes:
         * the plain part is scanned in place, the rest decoded */
        {"plain then percent", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa100%;\\\"\\/%zz%;bbbbbbbbbbbbbbbbbbbbtel=%31%33%38%31%32%33%34%35%36%37%38&", 1, 78, 33},
        /* an escaped backslash across the first 64 bytes' edge stays text */
        {"escaped backslash at 63", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\u00313812345678;", 0, 0, 0},
    };
    size_t bad = 0;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct norm_case *t = &cases[k];
        size_t len = strlen(t->in);
        size_t nbad = 0;
        for (size_t i = 0; i <= len; i++)
            for (size_t j = i; j <= len; j++) {
                struct got g;
                size_t cuts[2] = {i, j};
                scan_cuts(db, s, t->in, len, cuts, 2, &g);
                int ok = g.n == t->n_rec;
                if (ok && t->n_rec) {
                    const struct record *r = &g.r[0];
                    ok = r->pattern == 0 && r->len == 11 &&
                         memcmp(r->value, "13812345678", 11) == 0 &&
                         r->end_off == t->src_start + t->src_len && r->src_len == t->src_len;
                }
                nbad += !ok;
            }
        if (nbad) fprintf(stderr, "  normalise: %s: %zu splits wrong\n", t->label, nbad);
        bad += nbad;
    }
    CHECK_EQ(bad, 0);
    CHECK(match_scratch_stats(s)->decoded > 0);

    /* a JSON-escaped address (ensure_ascii) is the address */
    static const char esc_addr[] = "\"a\":\"\\u5317\\u4eac\\u5e02\\u671d\\u9633\\u533a\\u5efa"
                                   "\\u56fd\\u8def88\\u53f7\"";
    size_t len = strlen(esc_addr), nbad = 0;
    for (size_t i = 0; i <= len; i++) {
        struct got g;
        scan_cuts(db, s, esc_addr, len, &i, 1, &g);
        if (g.n != 1 || g.r[0].pattern != 1 || g.r[0].len != 32 ||
            memcmp(g.r[0].value, "北京市朝阳区建国路88号", 32) != 0 ||
            g.r[0].end_off != len - 1 || g.r[0].src_len != len - 6)
            nbad++;
    }
    CHECK_EQ(nbad, 0);

    /* a gap drops an escape it cuts; offsets count the hole */
    struct got g = {0};
    struct match_stream *st = match_stream_open(db, s);
    match_stream_scan(st, s, (const uint8_t *)"x %3", 4, on_rec, &g);
    match_stream_gap_len(st, 10);
    match_stream_scan(st, s, (const uint8_t *)"1 13812345678;", 14, on_rec, &g);
    match_stream_close(st, s, on_rec, &g);
    CHECK_EQ(g.n, 1);
    CHECK(g.n == 1 && g.r[0].end_off == 4 + 10 + 13 && g.r[0].src_len == 11);

    /* with normalisation off, escapes are just bytes */
    match_scratch_set_flags(s, MATCH_NO_NORMALIZE);
    memset(&g, 0, sizeof(g));
    CHECK_EQ(match_scan_block(db, s, (const uint8_t *)"%31%33%38%31%32%33%34%35%36%37%38", 33,
                              on_rec, &g),
             0);
    CHECK_EQ(g.n, 0);
    match_scratch_set_flags(s, 0);
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
}

/* ---- the shipped rules through the matcher ------------------------------- */

static struct ruleset *load_shipped(void)
{
    char path[4096];
    const char *env = getenv("LH_SOURCE_ROOT");
    const char *tail = "tests/unit/test_match.c";
    size_t n = strlen(__FILE__), t = strlen(tail);
    if (env && *env)
        snprintf(path, sizeof(path), "%s/rules/pii-cn.yaml", env);
    else if (n >= t && strcmp(__FILE__ + n - t, tail) == 0)
        snprintf(path, sizeof(path), "%.*srules/pii-cn.yaml", (int)(n - t), __FILE__);
    else
        snprintf(path, sizeof(path), "rules/pii-cn.yaml");
    const char *p = path;
    struct ruleset *rs = NULL;
    char err[2048];
    if (ruleset_load(&p, 1, &rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    return rs;
}

static size_t count_id(const struct ruleset *rs, const struct got *g, const char *id,
                       const char *value)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(rs->patterns[g->r[i].pattern].id, id) == 0 &&
            g->r[i].len == strlen(value) && memcmp(g->r[i].value, value, g->r[i].len) == 0)
            n++;
    return n;
}

static void test_shipped(void)
{
    struct ruleset *rs = load_shipped();
    CHECK(rs != NULL);
    if (!rs) return;
    struct match_db *db = NULL;
    char err[512] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    if (!db) {
        ruleset_free(rs);
        return;
    }
    /* the digit patterns run in the pre-pass, the rest in Hyperscan */
    CHECK_EQ(match_db_prepass_patterns(db), 10);
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "waybill_yto")));
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "waybill_jd")));
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "waybill_ctx")));
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "cn_mobile")));
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "cn_resident_id")));
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "cn_landline")));
    CHECK(match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "waybill_ems_s10")));
    CHECK(!match_db_pattern_prepass(db, (size_t)ruleset_pattern_index(rs, "cn_address")));
    struct match_scratch *s = match_scratch_new(db);
    static const char in[] =
        "{\"waybillNo\":\"YT1234567890123\",\"receiver\":{\"mobile\":\"138-1234-5678\","
        "\"address\":\"北京市海淀区中关村大街27号院3号楼\"},\"sender\":{\"mobile\":\"+86 "
        "13912345678\",\"idNo\":\"11010519491231002X\",\"tel\":\"010-62345678\","
        "\"address\":\"广东省深圳市南山区科苑路15号\"},\"mailNo\":\"9812345678901\","
        "\"intl\":\"RB123456785GB\",\"masked\":\"138******78\",\"m2\":\"１３８１２３４５６７８\","
        "\"orderNo\":\"73123456789012\",\"returnWaybillNo\" : \"73123456789013\","
        "\"note\":\"运单号：621123456789012\"}";
    size_t len = strlen(in), bad = 0;
    for (size_t i = 0; i <= len; i += 7) {
        struct got g;
        scan_cuts(db, s, in, len, &i, 1, &g);
        int ok = g.n == 12 && count_id(rs, &g, "waybill_yto", "YT1234567890123") == 1 &&
                 count_id(rs, &g, "cn_mobile", "13812345678") == 2 &&
                 count_id(rs, &g, "cn_mobile", "13912345678") == 1 &&
                 count_id(rs, &g, "cn_address", "北京市海淀区中关村大街27号") == 1 &&
                 count_id(rs, &g, "cn_address", "广东省深圳市南山区科苑路15号") == 1 &&
                 count_id(rs, &g, "cn_resident_id", "11010519491231002X") == 1 &&
                 count_id(rs, &g, "cn_landline", "010-62345678") == 1 &&
                 count_id(rs, &g, "waybill_ctx", "9812345678901") == 1 &&
                 count_id(rs, &g, "waybill_ctx", "73123456789013") == 1 &&
                 count_id(rs, &g, "waybill_ctx", "621123456789012") == 1 &&
                 count_id(rs, &g, "waybill_ems_s10", "RB123456785GB") == 1;
        /* records come out in stream order */
        for (size_t k = 1; k < g.n; k++)
            ok &= g.r[k].end_off >= g.r[k - 1].end_off;
        bad += !ok;
    }
    CHECK_EQ(bad, 0);
    match_scratch_free(s);
    match_db_free(db);
    ruleset_free(rs);
}

/* The AVX2 and the baseline (SSE2) mask builders give the same records and
 * counters: one scratch as the CPU allows, one forced to the baseline with
 * MATCH_NO_AVX2, on random text with digits, letters and escapes, cut
 * anywhere. On a CPU without AVX2 both run the baseline. */
static void test_avx2_vs_baseline(void)
{
    struct ruleset *rs = load_shipped();
    CHECK(rs != NULL);
    if (!rs) return;
    struct match_db *db = NULL;
    char err[512] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *sa = db ? match_scratch_new(db) : NULL;
    struct match_scratch *sb = db ? match_scratch_new(db) : NULL;
    CHECK(sa && sb);
    if (!sa || !sb) goto out;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    CHECK_EQ(match_scratch_avx2(sa), __builtin_cpu_supports("avx2") ? 1 : 0);
#endif
    CHECK_EQ(match_scratch_set_flags(sb, MATCH_NO_AVX2), 0u);
    CHECK_EQ(match_scratch_avx2(sb), 0);
    static const char *const pieces[] = {
        "13812345678", "138-1234-5678", "\\u0031\\u0033\\u0038", "%31%33%38", "１３８", "%",
        "\\", "\\\\", "\\u00", "%3", "\xef", "\xef\xbc\x91", "11010519491231002X", "RB123456785GB",
        "010-62345678", "北京市海淀区中关村大街27号", "号", "12", "7", "AB", "x", "\"", ":", " ",
        "{\"mobile\":\"", "\",\"tel\":\"", "0123456789012345678901234567890123", "abcdefghijklmnopq"};
    enum { NPC = sizeof(pieces) / sizeof(pieces[0]) };
    size_t bad = 0, total = 0, runs = 0;
    compare_random(db, sa, db, sb, pieces, NPC, 400, &bad, &total, &runs);
    CHECK_EQ(bad, 0);
    CHECK(total > 500); /* the inputs do hold records */
    CHECK(runs == 2400);
    /* each scratch saw the texts the other did (sa six times each) */
    const struct match_stats *a = match_scratch_stats(sa), *b = match_scratch_stats(sb);
    CHECK_EQ(a->bytes_scanned, 6 * b->bytes_scanned);
    CHECK_EQ(a->decoded, 6 * b->decoded);
    CHECK(b->decoded > 0);
    /* clearing the flag gives the CPU's choice back */
    match_scratch_set_flags(sb, 0);
    CHECK_EQ(match_scratch_avx2(sb), match_scratch_avx2(sa));
out:
    match_scratch_free(sa);
    match_scratch_free(sb);
    match_db_free(db);
    ruleset_free(rs);
}

/* Each written form of a mobile number (the evasion suite's phone_separators
 * forms) placed so that its text crosses a 64-byte pre-pass chunk at every
 * position, in one stream call, after JSON text like a response body's: the
 * run start carried from one chunk to the next and the prefix byte before
 * it must still give the record. */
static void test_shipped_forms_across_chunks(void)
{
    struct ruleset *rs = load_shipped();
    CHECK(rs != NULL);
    if (!rs) return;
    struct match_db *db = NULL;
    char err[512] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *s = db ? match_scratch_new(db) : NULL;
    CHECK(s != NULL);
    int mobile = ruleset_pattern_index(rs, "cn_mobile");
    static const char *const forms[] = {"177-5550-1234", "177 5550 1234", "+86 177 5550 1234",
                                        "+8617755501234", "0086-177-5550-1234", "17755501234",
                                        "86 17755501234"};
    size_t bad = 0, tried = 0;
    for (size_t f = 0; s && f < sizeof(forms) / sizeof(forms[0]); f++) {
        size_t flen = strlen(forms[f]);
        for (size_t pad = 0; pad < 80; pad++) {
            char in[256];
            int n = snprintf(in, sizeof(in), "{\"seq\":4,\"x\":\"%.*s\",\"receiverPhone\":\"%s\","
                             "\"status\":\"delivered\"}",
                             (int)pad, "................................................"
                                       "................................", forms[f]);
            CHECK(n > 0 && (size_t)n < sizeof(in));
            const char *at = strstr(in, forms[f]);
            struct got g = {0};
            struct match_stream *st = match_stream_open(db, s);
            CHECK(st != NULL);
            if (!st) break;
            CHECK_EQ(match_stream_scan(st, s, (const uint8_t *)in, (size_t)n, on_rec, &g), 0);
            match_stream_close(st, s, on_rec, &g);
            int ok = g.n == 1 && g.r[0].pattern == mobile && g.r[0].len == 11 &&
                     memcmp(g.r[0].value, "17755501234", 11) == 0 &&
                     g.r[0].end_off == (uint64_t)(at - in) + flen && g.r[0].src_len == flen;
            tried += (size_t)(at - in) / 64 != (size_t)(at - in + flen - 1) / 64;
            if (!ok) fprintf(stderr, "  form %zu, text at %zu: %zu records\n", f,
                             (size_t)(at - in), g.n);
            bad += !ok;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(tried > 0); /* some placements did cross a chunk */
    match_scratch_free(s);
    match_db_free(db);
    ruleset_free(rs);
}


/* A variable-width user pattern whose SOM verifier Hyperscan refuses
 * ("Pattern is too large": three bounded repeats in a row) and whose every
 * label end is a match end followed by a non-class byte (".example" before
 * ".cn"): each address must still be one record, its exact text, whatever
 * the cut; records stay in end order with another pattern's between them. */
static void test_variable_width(void)
{
    static const struct spec sp[] = {
        {"email", "[a-z0-9._-]{1,40}@[a-z0-9-]{1,30}(\\.[a-z0-9-]{1,20}){1,3}", HSF_CASELESS,
         RULE_CAT_EMAIL, NULL, BOUNDARY_NONE, 96, 0, 1},
        {"mob", "1[3-9][0-9]{9}", 0, RULE_CAT_PHONE, "cn_mobile", BOUNDARY_DIGIT, 0, 0, 1},
    };
    struct ruleset *rs = rs_build(sp, 2);
    struct match_db *db = NULL;
    char err[256] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    struct match_scratch *s = db ? match_scratch_new(db) : NULL;
    if (!s) {
        CHECK(0);
        match_db_free(db);
        rs_free(rs);
        return;
    }
    const char *in = "{\"email\":\"cust.0@mail0.example.cn\",\"m\":\"13812345678\","
                     "\"e2\":\"Li.Wei@corp-mail.com.cn\"} a@b.cn. x";
    const char *want[] = {"cust.0@mail0.example.cn", "13812345678", "Li.Wei@corp-mail.com.cn",
                          "a@b.cn"};
    size_t len = strlen(in), bad = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        struct reclist l;
        scan_list(db, s, in, len, cut, &l);
        int ok = l.n == 4;
        for (size_t i = 0; ok && i < 4; i++)
            ok = l.r[i].len == strlen(want[i]) && memcmp(l.r[i].v, want[i], l.r[i].len) == 0 &&
                 (i == 0 || l.r[i].end > l.r[i - 1].end);
        bad += !ok;
    }
    CHECK_EQ(bad, 0);
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
}

int main(void)
{
    struct ruleset *rs = rs_build(main_specs, N_MAIN);
    struct match_db *db = NULL;
    char err[512] = "";
    CHECK_EQ(match_db_build(rs, &db, err, sizeof(err)), 0);
    if (err[0]) fprintf(stderr, "%s\n", err);
    struct match_scratch *s = db ? match_scratch_new(db) : NULL;
    CHECK(s != NULL);
    if (s) {
        test_splits(db, s);
        test_not_records(db, s);
        test_gaps_and_end(db, s);
        CHECK_EQ(match_scratch_stats(s)->scan_errors, 0);
        CHECK_EQ(match_scratch_stats(s)->streams_open, 0);
    }
    match_scratch_free(s);
    match_db_free(db);
    rs_free(rs);
    test_stats();
    test_end_anchored();
    test_edges();
    test_build_errors();
    test_prepass_vs_hyperscan();
    test_context();
    test_address_finder();
    test_normalize();
    test_shipped();
    test_shipped_forms_across_chunks();
    test_avx2_vs_baseline();
    test_variable_width();
    return check_done();
}
