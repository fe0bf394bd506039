/* test_ruleset.c - the YAML rule loader and the shipped rules/pii-cn.yaml.
 *
 * Broken rule files under tests/data/rules/ must each give exactly the
 * "file:line: message" lines expected. The shipped rules are loaded, then
 * compiled here with Hyperscan (block mode, leftmost start) and run over
 * sample texts through their boundary, value: tail and validator, as the
 * matcher will, so a regex that finds too much or too little fails here.
 * Values are never printed: a failing case is named by its label. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>
#include <openssl/evp.h>

#include "check.h"
#include "rules/ruleset.h"
#include "rules/validate.h"

/* The source tree, found from this file's own path as the compiler saw it
 * (meson runs tests from the build directory), or from LH_SOURCE_ROOT. */
static char root[512];

static void find_root(void)
{
    const char *env = getenv("LH_SOURCE_ROOT");
    if (env && *env) {
        snprintf(root, sizeof root, "%s", env);
        return;
    }
    const char *tail = "tests/unit/test_ruleset.c";
    size_t n = strlen(__FILE__), t = strlen(tail);
    if (n >= t && strcmp(__FILE__ + n - t, tail) == 0) {
        snprintf(root, sizeof root, "%.*s", (int)(n - t), __FILE__);
        if (root[0] == '\0') snprintf(root, sizeof root, "./");
    } else {
        snprintf(root, sizeof root, "./");
    }
}

static char *path_of(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s%s", root, rel);
    return buf;
}

#define DATA "tests/data/rules/"

/* Loads one or two files and returns the error text (empty on success). */
static int load(const char *rel1, const char *rel2, struct ruleset **rs, char *err, size_t errlen)
{
    char p1[600], p2[600];
    const char *paths[2] = {path_of(p1, sizeof p1, rel1),
                            rel2 ? path_of(p2, sizeof p2, rel2) : NULL};
    return ruleset_load(paths, rel2 ? 2 : 1, rs, err, errlen);
}

/* Expects loading rel to fail with exactly the lines given (NULL-ended),
 * each "<path>:<rest>" where <path> is the file's path as passed in. */
static void expect_errors(const char *rel, const char *rel2, const char *const *lines)
{
    struct ruleset *rs = (struct ruleset *)1;
    char err[8192];
    int rc = load(rel, rel2, &rs, err, sizeof err);
    CHECK_EQ(rc, -1);
    CHECK(rs == NULL);
    /* each line is "<root>" + the line, and "{R}" inside a line is the root
     * again (a message naming a second file) */
    char want[8192];
    size_t pos = 0;
    want[0] = '\0';
    for (size_t i = 0; lines[i]; i++) {
        pos += (size_t)snprintf(want + pos, sizeof want - pos, "%s%s", i ? "\n" : "", root);
        for (const char *c = lines[i]; *c && pos + 1 < sizeof want;) {
            if (strncmp(c, "{R}", 3) == 0) {
                pos += (size_t)snprintf(want + pos, sizeof want - pos, "%s", root);
                c += 3;
            } else {
                want[pos++] = *c++;
                want[pos] = '\0';
            }
        }
    }
    CHECK_STR(err, want);
}

static void test_broken_files(void)
{
    /* libyaml's own problem, at libyaml's line (mark.line + 1) */
    expect_errors(
        DATA "syntax.yaml", NULL,
        (const char *const[]){DATA "syntax.yaml:6: YAML syntax error: did not find expected '-' "
                                   "indicator (while parsing a block collection at line 4)",
                              NULL});
    expect_errors(DATA "unknown_key.yaml", NULL,
                  (const char *const[]){DATA "unknown_key.yaml:6: unknown key 'validate' in "
                                             "pattern (did you mean 'validator'?)",
                                        NULL});
    expect_errors(DATA "unknown_validator.yaml", NULL,
                  (const char *const[]){
                      DATA "unknown_validator.yaml:6: unknown validator 'cn_mobil' (did you "
                           "mean 'cn_mobile'?); validators are cn_mobile, gb11643, cn_landline, "
                           "s10, cn_address, waybill",
                      NULL});
    expect_errors(DATA "unbounded.yaml", NULL,
                  (const char *const[]){
                      DATA "unbounded.yaml:11: regex has no longest match (Hyperscan max_width "
                           "is unbounded), and the matcher needs a bounded look-back: bound its "
                           "repeats or set max_len (at most 128)",
                      NULL});
    /* the same id in two files names both places */
    expect_errors(
        DATA "dup_a.yaml", DATA "dup_b.yaml",
        (const char *const[]){DATA "dup_b.yaml:7: duplicate id 'mobile' (first defined at {R}" DATA
                                   "dup_a.yaml:3)",
                              NULL});
    /* every error of a file, in line order, not just the first */
    expect_errors(
        DATA "multi.yaml", NULL,
        (const char *const[]){
            DATA "multi.yaml:4: unknown category 'telephone'; categories are phone, landline, id, "
                 "address, waybill, name, email, bank_card, other",
            DATA "multi.yaml:6: unknown flag 'nocase'; flags are caseless, dotall, multiline, "
                 "utf8, ucp",
            DATA "multi.yaml:7: unknown boundary 'word'; use none, digit or alnum",
            DATA "multi.yaml:8: pattern has no 'id'",
            DATA "multi.yaml:10: bad keep_last 'many': must be a whole number from 0 to 16",
            DATA "multi.yaml:11: pattern 'third' has no 'regex'",
            DATA "multi.yaml:13: unknown mask 'partial'; use address, name, full or "
                 "{keep_first: N, keep_last: N}",
            DATA "multi.yaml:14: bad max_len '200': must be a whole number from 1 to 128",
            DATA "multi.yaml:15: bad id 'Bad-Id': use 1-64 characters of [a-z0-9_]",
            DATA "multi.yaml:18: bad record 'perhaps': use true or false",
            DATA "multi.yaml:19: unknown value 'head'; use whole (the default) or tail",
            DATA "multi.yaml:20: unknown section 'detection' (did you mean 'detections'?); "
                 "sections are version, patterns, identity, endpoints, detections, allowlist",
            NULL});
    expect_errors(
        DATA "bad_utf8.yaml", NULL,
        (const char *const[]){
            DATA "bad_utf8.yaml:3: YAML syntax error: invalid trailing UTF-8 octet", NULL});
    expect_errors(DATA "two_docs.yaml", NULL,
                  (const char *const[]){DATA "two_docs.yaml:4: a rule file holds one YAML "
                                             "document; this is a second",
                                        NULL});
    expect_errors(DATA "empty.yaml", NULL,
                  (const char *const[]){DATA "empty.yaml:1: empty rule file: expected 'version: "
                                             "1' and 'patterns:'",
                                        NULL});
    expect_errors(DATA "no_such_file.yaml", NULL,
                  (const char *const[]){
                      DATA "no_such_file.yaml: cannot open: No such file or directory", NULL});
    expect_errors(DATA "no_patterns.yaml", NULL,
                  (const char *const[]){
                      DATA "no_patterns.yaml: no patterns defined in the rule files", NULL});
    /* errors of two files come file by file, each file's in line order */
    expect_errors(DATA "unknown_key.yaml", DATA "unknown_validator.yaml",
                  (const char *const[]){
                      DATA "unknown_key.yaml:6: unknown key 'validate' in pattern (did you mean "
                           "'validator'?)",
                      DATA "unknown_validator.yaml:3: duplicate id 'mobile' (first defined at "
                           "{R}" DATA "unknown_key.yaml:3)",
                      DATA "unknown_validator.yaml:6: unknown validator 'cn_mobil' (did you "
                           "mean 'cn_mobile'?); validators are cn_mobile, gb11643, cn_landline, "
                           "s10, cn_address, waybill",
                      NULL});

    /* context: each mistake at its line; the last pattern is right */
    expect_errors(
        DATA "context.yaml", NULL,
        (const char *const[]){
            DATA "context.yaml:6: unknown key 'flag' in context (did you mean 'flags'?); use "
                 "regex, flags, max_len",
            DATA "context.yaml:10: context has no 'regex'",
            DATA "context.yaml:15: context regex rejected by Hyperscan: Missing close "
                 "parenthesis for group started at index 0.",
            DATA "context.yaml:20: context regex has no longest match (Hyperscan max_width is "
                 "unbounded), and the matcher needs a bounded look-back: bound its repeats or "
                 "set max_len (at most 128)",
            DATA "context.yaml:24: context regex can match the empty string",
            DATA "context.yaml:28: 'context' must be a regex or a mapping (regex:, flags:, "
                 "max_len:), not a list",
            DATA "context.yaml:33: a context applies to records; a pattern with record: false "
                 "is only counted",
            NULL});

    /* Hyperscan's message is its own; the file and line are ours */
    struct ruleset *rs = NULL;
    char err[4096], want[700];
    CHECK_EQ(load(DATA "bad_regex.yaml", NULL, &rs, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s" DATA "bad_regex.yaml:8: regex rejected by Hyperscan: ", root);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK(strstr(err, "parenthesis") != NULL);
    CHECK(strchr(err, '\n') == NULL); /* the good pattern above it is fine */
}

static void test_error_buffer(void)
{
    struct ruleset *rs = NULL;
    char small[24];
    memset(small, 'z', sizeof small);
    CHECK_EQ(load(DATA "multi.yaml", NULL, &rs, small, sizeof small), -1);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    CHECK_EQ(strlen(small), sizeof small - 1);
    /* no buffer at all is allowed */
    CHECK_EQ(load(DATA "multi.yaml", NULL, &rs, NULL, 0), -1);
    char err[256];
    CHECK_EQ(ruleset_load(NULL, 0, &rs, err, sizeof err), -1);
    CHECK_STR(err, "rules: no rule files given");
}

static void test_sections_and_fields(void)
{
    struct ruleset *rs = NULL;
    char err[4096];
    int rc = load(DATA "sections.yaml", NULL, &rs, err, sizeof err);
    CHECK_EQ(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ(rs->n_patterns, 5);
    CHECK_EQ(rs->n_files, 1);

    const struct rule_pattern *p = &rs->patterns[0];
    CHECK_STR(p->id, "phone_any");
    CHECK_EQ(p->category, RULE_CAT_PHONE);
    CHECK_EQ(p->hs_flags, HS_FLAG_CASELESS | HS_FLAG_DOTALL);
    CHECK_STR(p->validator, "cn_mobile");
    CHECK_EQ(p->validator_idx, validate_find("cn_mobile"));
    CHECK_EQ(p->boundary, BOUNDARY_DIGIT);
    CHECK_EQ(p->mask, MASK_KEEP);
    CHECK_EQ(p->keep_first, 3);
    CHECK_EQ(p->keep_last, 2);
    CHECK_EQ(p->max_len, 11); /* from Hyperscan's max_width */
    CHECK_EQ(p->value_tail, 0);
    CHECK_EQ(p->record, 1);
    CHECK_EQ(p->line, 17);
    CHECK(strstr(p->file, "sections.yaml") != NULL);

    p = &rs->patterns[1];
    CHECK_STR(p->id, "address_any");
    CHECK_EQ(p->category, RULE_CAT_ADDRESS);
    CHECK_EQ(p->hs_flags, HS_FLAG_CASELESS); /* a single flag may be a scalar */
    CHECK(p->validator == NULL);
    CHECK_EQ(p->validator_idx, -1);
    CHECK_EQ(p->boundary, BOUNDARY_NONE);
    CHECK_EQ(p->mask, MASK_ADDRESS);
    CHECK_EQ(p->max_len, 5 + 6 + 1 + 4);
    CHECK_EQ(p->record, 0);

    p = &rs->patterns[2];
    CHECK_STR(p->id, "key_tail");
    CHECK_EQ(p->category, RULE_CAT_WAYBILL);
    CHECK_EQ(p->boundary, BOUNDARY_ALNUM);
    CHECK_EQ(p->value_tail, 1);
    CHECK_EQ(p->max_len, 30); /* given, not Hyperscan's 24 */
    CHECK_EQ(p->mask, MASK_FULL);
    CHECK_EQ(p->line, 30);
    CHECK(p->context == NULL);

    p = &rs->patterns[3];
    CHECK_STR(p->id, "key_context");
    CHECK_STR(p->regex, "[0-9]{12,15}");
    CHECK_EQ(p->hs_flags, 0); /* the context's flags are its own */
    CHECK_STR(p->context, "billCode[ ]{0,2}=");
    CHECK_EQ(p->context_flags, HS_FLAG_CASELESS);
    CHECK_EQ(p->context_max_len, 11); /* from Hyperscan */
    CHECK_EQ(p->max_len, 15);
    CHECK_EQ(p->value_tail, 0);
    p = &rs->patterns[4];
    CHECK_STR(p->context, "no:"); /* a scalar is the regex alone */
    CHECK_EQ(p->context_flags, 0);
    CHECK_EQ(p->context_max_len, 3);

    CHECK_EQ(ruleset_pattern_index(rs, "key_tail"), 2);
    CHECK_EQ(ruleset_pattern_index(rs, "phone_any"), 0);
    CHECK_EQ(ruleset_pattern_index(rs, "nope"), -1);
    CHECK_EQ(ruleset_pattern_index(NULL, "nope"), -1);
    ruleset_free(rs);
    ruleset_free(NULL);

    /* a max_len bounds an unbounded regex; the file's other pattern fails */
    rs = NULL;
    CHECK_EQ(load(DATA "unbounded.yaml", NULL, &rs, err, sizeof err), -1);
    CHECK(strstr(err, "unbounded.yaml:6:") == NULL);
}

/* SHA-256 of the files' bytes, one after the other. */
static void sha256_files(const char *const *paths, size_t n, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        CHECK(f != NULL);
        if (!f) continue;
        uint8_t buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            EVP_DigestUpdate(md, buf, k);
        fclose(f);
    }
    unsigned len = 0;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
}

static void test_directory(void)
{
    char dir[600], f1[600], f2[600];
    path_of(dir, sizeof dir, DATA "dir");
    const char *paths[1] = {dir};
    struct ruleset *rs = NULL;
    char err[4096];
    int rc = ruleset_load(paths, 1, &rs, err, sizeof err);
    CHECK_EQ(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    /* *.yml and *.yaml in name order; README.txt is not a rule file */
    CHECK_EQ(rs->n_files, 2);
    CHECK_EQ(rs->n_patterns, 2);
    const char *files[2] = {path_of(f1, sizeof f1, DATA "dir/10-phone.yml"),
                            path_of(f2, sizeof f2, DATA "dir/20-waybill.yaml")};
    CHECK_STR(rs->files[0], files[0]);
    CHECK_STR(rs->files[1], files[1]);
    CHECK_STR(rs->patterns[0].id, "phone");
    CHECK_STR(rs->patterns[1].id, "yto");
    CHECK_STR(rs->patterns[1].file, files[1]);

    uint8_t want[32];
    sha256_files(files, 2, want);
    CHECK(memcmp(rs->hash, want, 32) == 0);

    /* the same files named one by one hash the same; reversed, differently */
    struct ruleset *rs2 = NULL, *rs3 = NULL;
    CHECK_EQ(ruleset_load(files, 2, &rs2, err, sizeof err), 0);
    const char *rev[2] = {files[1], files[0]};
    CHECK_EQ(ruleset_load(rev, 2, &rs3, err, sizeof err), 0);
    if (rs2 && rs3) {
        CHECK(memcmp(rs2->hash, want, 32) == 0);
        CHECK(memcmp(rs3->hash, want, 32) != 0);
        CHECK_STR(rs3->patterns[0].id, "yto");
    }
    ruleset_free(rs);
    ruleset_free(rs2);
    ruleset_free(rs3);
}

static void test_categories(void)
{
    static const char *const names[] = {"phone", "landline", "id",        "address", "waybill",
                                        "name",  "email",    "bank_card", "other"};
    CHECK_EQ(RULE_CAT_MAX, sizeof names / sizeof names[0]);
    for (int i = 0; i < RULE_CAT_MAX; i++) {
        CHECK_STR(rule_category_name((enum rule_category)i), names[i]);
        CHECK_EQ(rule_category_parse(names[i]), i);
    }
    CHECK_EQ(rule_category_parse("mobile"), -1);
    CHECK_EQ(rule_category_parse(NULL), -1);
    CHECK_STR(rule_category_name(RULE_CAT_MAX), "unknown");
}

/* --- the shipped rules ------------------------------------------------------ */

struct found {
    int pattern;
    char value[160];
};

struct scan_ctx {
    const struct ruleset *rs;
    const uint8_t *text;
    size_t len;
    struct found found[32];
    size_t n;
};

static bool in_class(enum rule_boundary b, uint8_t c)
{
    bool digit = c >= '0' && c <= '9';
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return b == BOUNDARY_DIGIT ? digit : b == BOUNDARY_ALNUM ? digit || alpha : false;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ud)
{
    (void)flags;
    struct scan_ctx *c = ud;
    const struct rule_pattern *p = &c->rs->patterns[id];
    CHECK(to - from <= (unsigned long long)p->max_len + p->context_max_len);
    size_t start = (size_t)from, end = (size_t)to;
    const struct validator *v = p->validator_idx >= 0 ? validate_get(p->validator_idx) : NULL;
    if (v && v->find) {
        /* the regex is only the anchor (cn_address: 号); the validator looks
         * back from it for the value, as the matcher does */
        size_t lo = end > p->max_len ? end - p->max_len : 0;
        bool checked;
        long s = v->find(c->text + lo, end - lo, &checked);
        if (s < 0) return 0;
        start = lo + (size_t)s;
        from = start;
    }
    if (p->value_tail || p->context) {
        /* the shipped contexts end in punctuation and their values are
         * digits: the value is the last alnum run, the rest the context */
        start = end;
        while (start > from && in_class(BOUNDARY_ALNUM, c->text[start - 1]))
            start--;
    }
    /* the boundary is the value's, not the context's: "returnWaybillNo" is
     * a field name ending in one of the context's */
    if (start > 0 && in_class(p->boundary, c->text[start - 1])) return 0;
    if (end < c->len && in_class(p->boundary, c->text[end])) return 0;
    if (p->validator_idx >= 0 && !validate_get(p->validator_idx)->fn(c->text + start, end - start))
        return 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->found[i].pattern == (int)id && strlen(c->found[i].value) == end - start &&
            memcmp(c->found[i].value, c->text + start, end - start) == 0)
            return 0;
    if (c->n < sizeof c->found / sizeof c->found[0] && end - start < sizeof c->found[0].value) {
        c->found[c->n].pattern = (int)id;
        memcpy(c->found[c->n].value, c->text + start, end - start);
        c->found[c->n].value[end - start] = '\0';
        c->n++;
    }
    return 0;
}

struct want {
    const char *id, *value;
};

static void expect_scan(hs_database_t *db, hs_scratch_t *scratch, const struct ruleset *rs,
                        const char *label, const char *text, const struct want *want)
{
    struct scan_ctx c = {.rs = rs, .text = (const uint8_t *)text, .len = strlen(text)};
    CHECK_EQ(hs_scan(db, text, (unsigned)c.len, 0, scratch, on_match, &c), HS_SUCCESS);
    size_t n_want = 0;
    for (; want[n_want].id; n_want++) {
        bool hit = false;
        for (size_t i = 0; i < c.n; i++)
            hit |= strcmp(rs->patterns[c.found[i].pattern].id, want[n_want].id) == 0 &&
                   strcmp(c.found[i].value, want[n_want].value) == 0;
        CHECK(hit);
        if (!hit)
            fprintf(stderr, "  %s: %s not found (value of %zu bytes)\n", label, want[n_want].id,
                    strlen(want[n_want].value));
    }
    CHECK_EQ(c.n, n_want);
    if (c.n != n_want)
        for (size_t i = 0; i < c.n; i++)
            fprintf(stderr, "  %s: found %s (%zu bytes)\n", label,
                    rs->patterns[c.found[i].pattern].id, strlen(c.found[i].value));
}

static void test_shipped_scan(const struct ruleset *rs)
{
    const char **expr = calloc(rs->n_patterns, sizeof *expr);
    unsigned *flags = calloc(rs->n_patterns, sizeof *flags);
    unsigned *ids = calloc(rs->n_patterns, sizeof *ids);
    char *owned[64] = {NULL};
    for (size_t i = 0; i < rs->n_patterns; i++) {
        const struct rule_pattern *p = &rs->patterns[i];
        expr[i] = p->regex;
        flags[i] = p->hs_flags | HS_FLAG_SOM_LEFTMOST;
        ids[i] = (unsigned)i;
        if (p->context && i < 64) {
            /* what one regex would say: the context (its flags inline),
             * then the value */
            CHECK(p->context_flags == HS_FLAG_CASELESS && p->hs_flags == 0);
            size_t n = strlen(p->context) + strlen(p->regex) + 16;
            owned[i] = malloc(n);
            snprintf(owned[i], n, "(?i:%s)(?:%s)", p->context, p->regex);
            expr[i] = owned[i];
        }
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    hs_error_t rc = hs_compile_multi(expr, flags, ids, (unsigned)rs->n_patterns, HS_MODE_BLOCK,
                                     NULL, &db, &cerr);
    CHECK_EQ(rc, HS_SUCCESS);
    if (rc != HS_SUCCESS) {
        fprintf(stderr, "  compile: %s\n", cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
        goto out;
    }
    /* the matcher compiles in stream mode: that must work too */
    hs_database_t *sdb = NULL;
    for (size_t i = 0; i < rs->n_patterns; i++)
        flags[i] = rs->patterns[i].hs_flags;
    CHECK_EQ(hs_compile_multi(expr, flags, ids, (unsigned)rs->n_patterns, HS_MODE_STREAM, NULL,
                              &sdb, &cerr),
             HS_SUCCESS);
    hs_free_database(sdb);

    hs_scratch_t *scratch = NULL;
    CHECK_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);

    expect_scan(db, scratch, rs, "mobile and ID in JSON",
                "{\"tel\":\"13812345678\",\"idcard\":\"11010519491231002X\"}",
                (const struct want[]){{"cn_mobile", "13812345678"},
                                      {"cn_resident_id", "11010519491231002X"},
                                      {NULL, NULL}});
    expect_scan(db, scratch, rs, "mobiles with separators and a country code",
                "a 138-1234-5678 b 139 1234 5678 c +86 13712345678 d 0086-136-1234-5678",
                (const struct want[]){{"cn_mobile", "138-1234-5678"},
                                      {"cn_mobile", "139 1234 5678"},
                                      {"cn_mobile", "+86 13712345678"},
                                      {"cn_mobile", "0086-136-1234-5678"},
                                      {NULL, NULL}});
    expect_scan(db, scratch, rs, "mixed separators, wrong grouping, 86 glued without +",
                "138-1234 5678 1381-234-5678 138-12345678 YT8613812345678",
                (const struct want[]){{"waybill_yto", "YT8613812345678"}, {NULL, NULL}});
    expect_scan(db, scratch, rs, "unallocated, too long, masked, inside a longer number",
                "15412345678 138123456789 138******78 138****5678 9913812345678",
                (const struct want[]){{NULL, NULL}});
    expect_scan(
        db, scratch, rs, "landlines", "tel 010-62345678, fax 0755 23456789; hotline 400-123-4567",
        (const struct want[]){
            {"cn_landline", "010-62345678"}, {"cn_landline", "0755 23456789"}, {NULL, NULL}});
    expect_scan(db, scratch, rs, "a landline-shaped run inside a waybill number is not a landline",
                "\"waybillNo\":\"DPK072452833067\"",
                (const struct want[]){{"waybill_deppon", "DPK072452833067"}, {NULL, NULL}});
    expect_scan(db, scratch, rs, "bad ID check char and date",
                "110105194912310021 110105194902300011", (const struct want[]){{NULL, NULL}});
    expect_scan(db, scratch, rs, "address ends at the first number+号",
                "收货地址：北京市海淀区中关村大街27号院3号楼",
                (const struct want[]){{"cn_address", "北京市海淀区中关村大街27号"}, {NULL, NULL}});
    expect_scan(
        db, scratch, rs, "address with province", "addr=广东省深圳市南山区科苑路15号&x=1",
        (const struct want[]){{"cn_address", "广东省深圳市南山区科苑路15号"}, {NULL, NULL}});
    expect_scan(db, scratch, rs, "masked address", "北京市海淀区中关村大街**号",
                (const struct want[]){{NULL, NULL}});
    expect_scan(db, scratch, rs, "prefixed waybills",
                "YT1234567890123,SF1234567890123 JT1234567890123;JDVA12345678901 "
                "DPK123456789012 RB123456785GB",
                (const struct want[]){{"waybill_yto", "YT1234567890123"},
                                      {"waybill_sf", "SF1234567890123"},
                                      {"waybill_jt", "JT1234567890123"},
                                      {"waybill_jd", "JDVA12345678901"},
                                      {"waybill_deppon", "DPK123456789012"},
                                      {"waybill_ems_s10", "RB123456785GB"},
                                      {NULL, NULL}});
    expect_scan(db, scratch, rs, "prefixed waybills glued to letters or masked",
                "XYT1234567890123 YT12345*****890 RB123456784GB YT0000000000000",
                (const struct want[]){{NULL, NULL}});
    expect_scan(db, scratch, rs, "bare waybills after a field name",
                "{\"waybillNo\":\"73123456789012\",\"mailNo\": \"9812345678901\","
                "\"BillCode\":\"4312345678901234\"} tracking_no=5123456789012 "
                "运单号:621123456789012", /* the matcher has made '：' a ':' */
                (const struct want[]){{"waybill_ctx", "73123456789012"},
                                      {"waybill_ctx", "9812345678901"},
                                      {"waybill_ctx", "4312345678901234"},
                                      {"waybill_ctx", "5123456789012"},
                                      {"waybill_ctx", "621123456789012"},
                                      {NULL, NULL}});
    expect_scan(db, scratch, rs, "bare digits without a field name, or after another field",
                "73123456789012 orderNo=73123456789012 mailbox=73123456789012 "
                "waybill=73123456789012 mailNo=7312345678901 mailNo=9812345678901234 "
                "mailNo==73123456789012 mailNo:A73123456789012",
                (const struct want[]){{NULL, NULL}});
    expect_scan(db, scratch, rs, "a field name ending in one of the names counts",
                "{\"returnWaybillNo\":\"73123456789013\",\"sfMailNo\" : \"9812345678902\"}",
                (const struct want[]){{"waybill_ctx", "73123456789013"},
                                      {"waybill_ctx", "9812345678902"},
                                      {NULL, NULL}});

    hs_free_scratch(scratch);
    hs_free_database(db);
out:
    for (size_t i = 0; i < 64; i++)
        free(owned[i]);
    free(expr);
    free(flags);
    free(ids);
}

static void test_shipped(void)
{
    struct ruleset *rs = NULL;
    char err[4096];
    int rc = load("rules/pii-cn.yaml", NULL, &rs, err, sizeof err);
    CHECK_EQ(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    static const struct {
        const char *id, *validator;
        enum rule_category cat;
        enum rule_boundary boundary;
    } want[] = {
        {"cn_mobile", "cn_mobile", RULE_CAT_PHONE, BOUNDARY_DIGIT},
        {"cn_landline", "cn_landline", RULE_CAT_LANDLINE, BOUNDARY_ALNUM},
        {"cn_resident_id", "gb11643", RULE_CAT_ID, BOUNDARY_ALNUM},
        {"cn_address", "cn_address", RULE_CAT_ADDRESS, BOUNDARY_NONE},
        {"waybill_yto", "waybill", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
        {"waybill_sf", "waybill", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
        {"waybill_jt", "waybill", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
        {"waybill_jd", "waybill", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
        {"waybill_deppon", "waybill", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
        {"waybill_ems_s10", "s10", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
        {"waybill_ctx", "waybill", RULE_CAT_WAYBILL, BOUNDARY_ALNUM},
    };
    CHECK_EQ(rs->n_patterns, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int idx = ruleset_pattern_index(rs, want[i].id);
        CHECK(idx >= 0);
        if (idx < 0) {
            fprintf(stderr, "  missing pattern %s\n", want[i].id);
            continue;
        }
        const struct rule_pattern *p = &rs->patterns[idx];
        CHECK_STR(p->validator, want[i].validator);
        CHECK_EQ(p->validator_idx, validate_find(want[i].validator));
        CHECK_EQ(p->category, want[i].cat);
        CHECK_EQ(p->boundary, want[i].boundary);
        CHECK(p->max_len >= 11 && p->max_len <= 128);
        CHECK_EQ(p->record, 1);
        /* a kept sample hides at least half: 6 of a mobile's 11 digits */
        if (p->mask == MASK_KEEP) CHECK(p->keep_first + p->keep_last <= 5);
    }
    int mob = ruleset_pattern_index(rs, "cn_mobile");
    if (mob >= 0) {
        /* the longest written form: 0086-138-1234-5678 */
        CHECK_EQ(rs->patterns[mob].max_len, 18);
        CHECK_EQ(rs->patterns[mob].keep_first, 3);
        CHECK_EQ(rs->patterns[mob].keep_last, 2);
    }
    int addr = ruleset_pattern_index(rs, "cn_address");
    if (addr >= 0) CHECK_EQ(rs->patterns[addr].mask, MASK_ADDRESS);
    int ctx = ruleset_pattern_index(rs, "waybill_ctx");
    if (ctx >= 0) {
        /* the number alone, the field name as its context */
        CHECK_EQ(rs->patterns[ctx].value_tail, 0);
        CHECK_EQ(rs->patterns[ctx].hs_flags, 0);
        CHECK(rs->patterns[ctx].context != NULL);
        CHECK_EQ(rs->patterns[ctx].context_flags, HS_FLAG_CASELESS);
        CHECK_EQ(rs->patterns[ctx].max_len, 17);
        /* "tracking_number" 15, '"', 3 blanks, ':', 3 blanks, '"' */
        CHECK_EQ(rs->patterns[ctx].context_max_len, 24);
    }
    test_shipped_scan(rs);
    ruleset_free(rs);
}

int main(void)
{
    find_root();
    test_categories();
    test_broken_files();
    test_error_buffer();
    test_sections_and_fields();
    test_directory();
    test_shipped();
    return check_done();
}
