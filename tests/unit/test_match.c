/* test_match.c - the stream matcher: values recovered without SOM, found once
 * however the input is split, boundaries, masks, gaps, end of stream, stats.
 *
 * The ruleset is built by hand (no YAML loader involved) so these tests only
 * depend on the matcher and the validators. Raw values are never printed:
 * comparisons go through memcmp. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rules/match.h"
#include "rules/validate.h"

struct spec {
    const char *id, *regex;
    unsigned flags;
    enum rule_category cat;
    const char *validator;
    enum rule_boundary boundary;
    uint16_t max_len;
    uint8_t value_tail, record;
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
    return check_done();
}
