/* ruleset.c - the YAML rule loader: files in, a checked struct ruleset out.
 *
 * In: paths of rule files or directories (a directory contributes its
 * *.yaml and *.yml files in name order). Each file is read whole (capped at
 * RULESET_MAX_FILE bytes), fed to the SHA-256 that identifies the rule set,
 * and parsed with libyaml's document API. Out: a struct ruleset the caller
 * owns, or -1 with every problem found written as "file:line: message"
 * lines; line numbers are libyaml's marks (mark.line + 1).
 *
 * Checking does not stop at the first error: a broken pattern is still
 * checked key by key and still takes part in the duplicate-id check, so one
 * --check-rules run shows everything to fix. A YAML syntax error ends that
 * file (libyaml cannot resume) but not the other files.
 *
 * Each regex is checked alone with hs_expression_info() under the pattern's
 * flags, which also yields the longest match (max_width) the matcher needs
 * for its look-back. This is the one place besides rules/match.c that
 * includes <hs.h>: the loader must reject what the compiler would, and name
 * the line. The limit of 128 bytes is RECORD_MAX_LEN in rules/match.h, kept
 * equal here without including the matcher. */
#include "rules/ruleset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hs.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "rules/api_rules_parse.h"
#include "rules/detect_rules.h"
#include "rules/validate.h"

#define RULESET_MAX_LEN 128         /* = RECORD_MAX_LEN (rules/match.h) */
#define RULESET_MAX_PATTERNS 4096   /* struct record holds a 16-bit pattern index */
#define RULESET_MAX_FILE (4u << 20) /* bytes per rule file */
#define RULESET_MAX_DIR_FILES 1024  /* rule files taken from one directory */
#define RULESET_MAX_KEEP 16         /* keep_first / keep_last */

/* --- categories ---------------------------------------------------------- */

static const char *const category_names[RULE_CAT_MAX] = {
#define RULE_CAT_NAME(n, s) s,
    RULE_CATEGORIES(RULE_CAT_NAME)
#undef RULE_CAT_NAME
};

const char *rule_category_name(enum rule_category c)
{
    if ((unsigned)c >= RULE_CAT_MAX) return "unknown";
    return category_names[c];
}

int rule_category_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < RULE_CAT_MAX; i++)
        if (strcmp(category_names[i], s) == 0) return i;
    return -1;
}

int ruleset_pattern_index(const struct ruleset *rs, const char *id)
{
    if (!rs || !id) return -1;
    for (size_t i = 0; i < rs->n_patterns; i++)
        if (rs->patterns[i].id && strcmp(rs->patterns[i].id, id) == 0) return (int)i;
    return -1;
}

void ruleset_free(struct ruleset *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n_patterns; i++) {
        struct rule_pattern *p = &rs->patterns[i];
        free(p->id);
        free(p->regex);
        free(p->validator);
        free(p->context);
        free(p->file);
    }
    free(rs->patterns);
    for (size_t i = 0; i < rs->n_files; i++)
        free(rs->files[i]);
    free(rs->files);
    api_rules_free(&rs->api);
    detect_rules_free(rs->detect);
    free(rs);
}

/* --- the loader's state and error list ----------------------------------- */

#define RULESET_MAX_ERRORS 1000 /* stored; more are counted and summarised */

struct lerror {
    unsigned file_seq, seq;
    int line;
    char *text;
};

struct loader {
    struct ruleset *rs;
    size_t cap_patterns, cap_files;
    EVP_MD_CTX *md;
    struct lerror *errors; /* kept until the end, then sorted by file and line */
    size_t n_stored, cap_errors;
    unsigned n_errors;
    unsigned file_seq; /* which file (in load order) errors belong to */
    bool too_many_reported;
    /* the file being read */
    const char *file;
    yaml_document_t *doc;
};

static void lerr(struct loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records one "file:line: message"; line <= 0 leaves the line out (for
 * errors about a whole file). Past RULESET_MAX_ERRORS errors are only
 * counted. Out of memory here is not worth a second path: abort. */
static void lerr(struct loader *L, int line, const char *fmt, ...)
{
    unsigned seq = L->n_errors++;
    if (L->n_stored == RULESET_MAX_ERRORS) return;
    if (L->n_stored == L->cap_errors) {
        size_t cap = L->cap_errors ? L->cap_errors * 2 : 16;
        struct lerror *ne = realloc(L->errors, cap * sizeof *ne);
        if (!ne) {
            fputs("leakhound: out of memory loading rules\n", stderr);
            abort();
        }
        L->errors = ne;
        L->cap_errors = cap;
    }
    char msg[1024], line_buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(line_buf, sizeof line_buf, "%s:%d: %s", L->file, line, msg);
    else
        snprintf(line_buf, sizeof line_buf, "%s: %s", L->file, msg);
    struct lerror *e = &L->errors[L->n_stored++];
    e->file_seq = L->file_seq;
    e->seq = seq;
    e->line = line;
    e->text = strdup(line_buf);
    if (!e->text) {
        fputs("leakhound: out of memory loading rules\n", stderr);
        abort();
    }
}

static int cmp_error(const void *a, const void *b)
{
    const struct lerror *x = a, *y = b;
    if (x->file_seq != y->file_seq) return x->file_seq < y->file_seq ? -1 : 1;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Writes the errors, in file order then line order, one per line, into err
 * (truncated to errlen, always NUL-terminated), and frees them. */
static void flush_errors(struct loader *L, char *err, size_t errlen)
{
    qsort(L->errors, L->n_stored, sizeof *L->errors, cmp_error);
    size_t pos = 0;
    for (size_t i = 0; i < L->n_stored; i++) {
        if (err && errlen && pos + 1 < errlen) {
            int n = snprintf(err + pos, errlen - pos, "%s%s", pos ? "\n" : "", L->errors[i].text);
            if (n > 0) pos = pos + (size_t)n < errlen ? pos + (size_t)n : errlen - 1;
        }
        free(L->errors[i].text);
    }
    if (L->n_errors > L->n_stored && err && errlen && pos + 1 < errlen)
        snprintf(err + pos, errlen - pos, "\n... and %u more errors",
                 L->n_errors - (unsigned)L->n_stored);
    free(L->errors);
    L->errors = NULL;
    L->n_stored = L->cap_errors = 0;
}

/* --- small helpers --------------------------------------------------------- */

static int node_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* The scalar's text, or NULL (error reported) when the node is not a scalar
 * or holds a NUL byte. */
static const char *want_scalar(struct loader *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        lerr(L, node_line(n), "'%s' must be a scalar, not %s", what, node_kind(n));
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        lerr(L, node_line(n), "'%s' contains a NUL byte", what);
        return NULL;
    }
    return s;
}

/* Parses a decimal integer in [0, max]; -1 (no report) when it is not one. */
static long parse_uint(const char *s, long max)
{
    if (!s || !*s) return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > max) return -2;
    }
    return v;
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) return 1;
        if (strcmp(s, no[i]) == 0) return 0;
    }
    return -1;
}

/* Edit distance, capped: used only to suggest a name for a typo. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    unsigned row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Formats " (did you mean 'x'?)" into buf when one of names is close to s,
 * else "". */
static const char *suggest(char *buf, size_t len, const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    unsigned bestd = 3;
    for (size_t i = 0; i < n; i++) {
        unsigned d = edit_distance(s, names[i]);
        if (d < bestd || (strncmp(s, names[i], strlen(s)) == 0 && strlen(s) >= 4 && d < 5)) {
            bestd = d;
            best = names[i];
        }
    }
    if (!best) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, len, " (did you mean '%s'?)", best);
    return buf;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("leakhound: out of memory loading rules\n", stderr);
        abort();
    }
    return d;
}

/* --- one pattern ----------------------------------------------------------- */

static const char *const pattern_keys[] = {"id",      "category", "regex",   "flags",
                                           "validator", "boundary", "mask",   "max_len",
                                           "value",   "record",   "context"};
#define N_PATTERN_KEYS (sizeof pattern_keys / sizeof pattern_keys[0])

static const struct {
    const char *name;
    unsigned flag;
} flag_names[] = {
    {"caseless", HS_FLAG_CASELESS}, {"dotall", HS_FLAG_DOTALL}, {"multiline", HS_FLAG_MULTILINE},
    {"utf8", HS_FLAG_UTF8},         {"ucp", HS_FLAG_UCP},
};
#define N_FLAGS (sizeof flag_names / sizeof flag_names[0])

static const char *const boundary_names[] = {"none", "digit", "alnum"};
static const char *const mask_names[] = {"keep", "address", "name", "full"};

static void parse_flags(struct loader *L, const yaml_node_t *v, unsigned *flags)
{
    const char *names[N_FLAGS];
    for (size_t i = 0; i < N_FLAGS; i++)
        names[i] = flag_names[i].name;
    const yaml_node_t *items[16];
    size_t n = 0;
    if (v->type == YAML_SCALAR_NODE) {
        items[n++] = v;
    } else if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            if (n == sizeof items / sizeof items[0]) {
                lerr(L, node_line(v), "too many flags");
                break;
            }
            items[n++] = yaml_document_get_node(L->doc, *it);
        }
    } else {
        lerr(L, node_line(v), "'flags' must be a list, not %s", node_kind(v));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = want_scalar(L, items[i], "flags");
        if (!s) continue;
        size_t k;
        for (k = 0; k < N_FLAGS; k++)
            if (strcmp(s, flag_names[k].name) == 0) break;
        if (k == N_FLAGS) {
            char hint[64];
            lerr(L, node_line(items[i]),
                 "unknown flag '%s'%s; flags are caseless, dotall, multiline, utf8, ucp", s,
                 suggest(hint, sizeof hint, s, names, N_FLAGS));
            continue;
        }
        *flags |= flag_names[k].flag;
    }
}

static void parse_mask(struct loader *L, const yaml_node_t *v, struct rule_pattern *p)
{
    if (v->type == YAML_SCALAR_NODE) {
        const char *s = want_scalar(L, v, "mask");
        if (!s) return;
        if (strcmp(s, "address") == 0)
            p->mask = MASK_ADDRESS;
        else if (strcmp(s, "name") == 0)
            p->mask = MASK_NAME;
        else if (strcmp(s, "full") == 0)
            p->mask = MASK_FULL;
        else {
            char hint[64];
            lerr(L, node_line(v),
                 "unknown mask '%s'%s; use address, name, full or {keep_first: N, keep_last: N}", s,
                 suggest(hint, sizeof hint, s, mask_names + 1, 3));
        }
        return;
    }
    if (v->type != YAML_MAPPING_NODE) {
        lerr(L, node_line(v), "'mask' must be address, name, full or a mapping, not %s",
             node_kind(v));
        return;
    }
    p->mask = MASK_KEEP;
    p->keep_first = p->keep_last = 0;
    bool seen_first = false, seen_last = false;
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(L->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(L->doc, pr->value);
        const char *k = want_scalar(L, kn, "mask key");
        if (!k) continue;
        bool first = strcmp(k, "keep_first") == 0, last = strcmp(k, "keep_last") == 0;
        if (!first && !last) {
            lerr(L, node_line(kn), "unknown key '%s' in mask; use keep_first and keep_last", k);
            continue;
        }
        if ((first && seen_first) || (last && seen_last)) {
            lerr(L, node_line(kn), "duplicate key '%s' in mask", k);
            continue;
        }
        seen_first |= first;
        seen_last |= last;
        const char *s = want_scalar(L, vn, k);
        if (!s) continue;
        long n = parse_uint(s, RULESET_MAX_KEEP);
        if (n < 0) {
            lerr(L, node_line(vn), "bad %s '%s': must be a whole number from 0 to %d", k, s,
                 RULESET_MAX_KEEP);
            continue;
        }
        if (first)
            p->keep_first = (uint8_t)n;
        else
            p->keep_last = (uint8_t)n;
    }
}

/* Checks a regex with Hyperscan under its flags and settles its longest
 * match into *max_len (left alone when has_max_len: the rule gave it).
 * what names it in errors ("regex", "context regex"); line is where it was
 * written. */
static void check_regex(struct loader *L, const char *what, const char *regex, unsigned flags,
                        int line, bool has_max_len, uint16_t *max_len)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_expression_info(regex, flags, &info, &cerr) != HS_SUCCESS) {
        lerr(L, line, "%s rejected by Hyperscan: %s", what,
             cerr && cerr->message ? cerr->message : "unknown error");
        hs_free_compile_error(cerr);
        free(info);
        return;
    }
    unsigned minw = info->min_width, maxw = info->max_width;
    free(info);
    if (minw == 0) {
        lerr(L, line, "%s can match the empty string", what);
        return;
    }
    if (has_max_len) return;
    if (maxw == UINT_MAX) {
        lerr(L, line,
             "%s has no longest match (Hyperscan max_width is unbounded), and the matcher "
             "needs a bounded look-back: bound its repeats or set max_len (at most %d)",
             what, RULESET_MAX_LEN);
        return;
    }
    if (maxw > RULESET_MAX_LEN) {
        lerr(L, line,
             "%s can match up to %u bytes, more than the limit of %d: tighten it or set "
             "max_len",
             what, maxw, RULESET_MAX_LEN);
        return;
    }
    *max_len = (uint16_t)maxw;
}

/* The index of key k (node kn) of a mapping in keys[n], or -1 after
 * reporting it as unknown (with the nearest known key, then use, if any)
 * or as repeated (seen[] marks the keys met so far). where names the
 * mapping in messages: "pattern", "context". */
static int key_index(struct loader *L, const yaml_node_t *kn, const char *k,
                     const char *const *keys, size_t n, bool *seen, const char *where,
                     const char *use)
{
    size_t i;
    for (i = 0; i < n && strcmp(k, keys[i]) != 0; i++)
        ;
    if (i == n) {
        char hint[64];
        lerr(L, node_line(kn), "unknown key '%s' in %s%s%s%s", k, where,
             suggest(hint, sizeof hint, k, keys, n), use ? "; use " : "", use ? use : "");
        return -1;
    }
    if (seen[i]) {
        lerr(L, node_line(kn), "duplicate key '%s' in %s", k, where);
        return -1;
    }
    seen[i] = true;
    return (int)i;
}

static long parse_max_len(struct loader *L, const char *s, int line)
{
    long n = parse_uint(s, 1000000);
    if (n < 1 || n > RULESET_MAX_LEN) {
        lerr(L, line, "bad max_len '%s': must be a whole number from 1 to %d", s,
             RULESET_MAX_LEN);
        return -1;
    }
    return n;
}

static const char *const context_keys[] = {"regex", "flags", "max_len"};

/* context: a regex, or {regex:, flags:, max_len:}. Checked like the
 * pattern's own regex, under its own flags. key_line: where 'context:' is. */
static void parse_context(struct loader *L, const yaml_node_t *v, int key_line,
                          struct rule_pattern *p)
{
    const yaml_node_t *re = NULL;
    bool has_max_len = false, flags_ok = true;
    if (v->type == YAML_SCALAR_NODE) {
        re = v;
    } else if (v->type == YAML_MAPPING_NODE) {
        bool seen[3] = {false};
        for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *kn = yaml_document_get_node(L->doc, pr->key);
            yaml_node_t *vn = yaml_document_get_node(L->doc, pr->value);
            const char *k = want_scalar(L, kn, "context key");
            if (!k) continue;
            int ki = key_index(L, kn, k, context_keys, 3, seen, "context", "regex, flags, max_len");
            if (ki < 0) continue;
            if (ki == 0) {
                re = vn;
            } else if (ki == 1) {
                unsigned before = L->n_errors;
                parse_flags(L, vn, &p->context_flags);
                flags_ok = L->n_errors == before;
            } else {
                const char *s = want_scalar(L, vn, "max_len");
                long n = s ? parse_max_len(L, s, node_line(vn)) : -1;
                if (n > 0) {
                    p->context_max_len = (uint16_t)n;
                    has_max_len = true;
                }
            }
        }
        if (!re) {
            lerr(L, key_line, "context has no 'regex'");
            return;
        }
    } else {
        lerr(L, node_line(v), "'context' must be a regex or a mapping (regex:, flags:, max_len:), "
                              "not %s",
             node_kind(v));
        return;
    }
    const char *s = want_scalar(L, re, "context regex");
    if (!s) return;
    if (!*s) {
        lerr(L, node_line(re), "empty context regex");
        return;
    }
    p->context = xstrdup(s);
    if (flags_ok)
        check_regex(L, "context regex", p->context, p->context_flags, node_line(re), has_max_len,
                    &p->context_max_len);
}

static bool id_ok(const char *s)
{
    if (!*s || strlen(s) > 64) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
    return true;
}

static struct rule_pattern *new_pattern(struct loader *L)
{
    struct ruleset *rs = L->rs;
    if (rs->n_patterns == L->cap_patterns) {
        size_t cap = L->cap_patterns ? L->cap_patterns * 2 : 16;
        struct rule_pattern *np = realloc(rs->patterns, cap * sizeof *np);
        if (!np) {
            fputs("leakhound: out of memory loading rules\n", stderr);
            abort();
        }
        rs->patterns = np;
        L->cap_patterns = cap;
    }
    struct rule_pattern *p = &rs->patterns[rs->n_patterns++];
    memset(p, 0, sizeof *p);
    return p;
}

static void load_pattern(struct loader *L, const yaml_node_t *m)
{
    if (m->type != YAML_MAPPING_NODE) {
        lerr(L, node_line(m), "a pattern must be a mapping (id:, category:, regex:, ...), not %s",
             node_kind(m));
        return;
    }
    if (L->rs->n_patterns >= RULESET_MAX_PATTERNS) {
        if (!L->too_many_reported)
            lerr(L, node_line(m), "too many patterns (the limit is %d)", RULESET_MAX_PATTERNS);
        L->too_many_reported = true;
        return;
    }
    struct rule_pattern *p = new_pattern(L);
    p->file = xstrdup(L->file);
    p->line = node_line(m);
    p->validator_idx = -1;
    p->boundary = BOUNDARY_NONE;
    p->mask = MASK_FULL;
    p->record = 1;
    int category = -1;
    int id_line = 0, regex_line = 0, max_len_line = 0, context_line = 0;
    bool seen[N_PATTERN_KEYS] = {false};
    bool flags_ok = true;

    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(L->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(L->doc, pr->value);
        const char *k = want_scalar(L, kn, "key");
        if (!k) continue;
        if (key_index(L, kn, k, pattern_keys, N_PATTERN_KEYS, seen, "pattern", NULL) < 0)
            continue;
        int vl = node_line(vn);
        if (strcmp(k, "flags") == 0) {
            unsigned before = L->n_errors;
            parse_flags(L, vn, &p->hs_flags);
            flags_ok = L->n_errors == before;
            continue;
        }
        if (strcmp(k, "mask") == 0) {
            parse_mask(L, vn, p);
            continue;
        }
        if (strcmp(k, "context") == 0) {
            context_line = node_line(kn);
            parse_context(L, vn, context_line, p);
            continue;
        }
        const char *s = want_scalar(L, vn, k);
        if (!s) continue;
        if (strcmp(k, "id") == 0) {
            if (!id_ok(s)) {
                lerr(L, vl, "bad id '%s': use 1-64 characters of [a-z0-9_]", s);
                continue;
            }
            p->id = xstrdup(s);
            id_line = vl;
        } else if (strcmp(k, "category") == 0) {
            category = rule_category_parse(s);
            if (category < 0) {
                char hint[64];
                lerr(L, vl,
                     "unknown category '%s'%s; categories are phone, landline, id, address, "
                     "waybill, name, email, bank_card, other",
                     s, suggest(hint, sizeof hint, s, category_names, RULE_CAT_MAX));
                continue;
            }
            p->category = (enum rule_category)category;
        } else if (strcmp(k, "regex") == 0) {
            if (!*s) {
                lerr(L, vl, "empty regex");
                continue;
            }
            p->regex = xstrdup(s);
            regex_line = vl;
        } else if (strcmp(k, "validator") == 0) {
            int idx = validate_find(s);
            if (idx < 0) {
                const char *names[64];
                char list[512];
                size_t n = 0, pos = 0;
                list[0] = '\0';
                for (int i = 0; i < validate_count() && n < 64; i++) {
                    names[n++] = validate_get(i)->name;
                    int w = snprintf(list + pos, sizeof list - pos, "%s%s", i ? ", " : "",
                                     validate_get(i)->name);
                    if (w > 0 && pos + (size_t)w < sizeof list) pos += (size_t)w;
                }
                char hint[64];
                lerr(L, vl, "unknown validator '%s'%s; validators are %s", s,
                     suggest(hint, sizeof hint, s, names, n), list);
                continue;
            }
            p->validator = xstrdup(s);
            p->validator_idx = idx;
        } else if (strcmp(k, "boundary") == 0) {
            size_t b;
            for (b = 0; b < 3; b++)
                if (strcmp(s, boundary_names[b]) == 0) break;
            if (b == 3) {
                lerr(L, vl, "unknown boundary '%s'; use none, digit or alnum", s);
                continue;
            }
            p->boundary = (enum rule_boundary)b;
        } else if (strcmp(k, "max_len") == 0) {
            long n = parse_max_len(L, s, vl);
            if (n < 0) continue;
            p->max_len = (uint16_t)n;
            max_len_line = vl;
        } else if (strcmp(k, "value") == 0) {
            if (strcmp(s, "tail") == 0)
                p->value_tail = 1;
            else if (strcmp(s, "whole") == 0)
                p->value_tail = 0;
            else
                lerr(L, vl, "unknown value '%s'; use whole (the default) or tail", s);
        } else if (strcmp(k, "record") == 0) {
            int b = parse_bool(s);
            if (b < 0) {
                lerr(L, vl, "bad record '%s': use true or false", s);
                continue;
            }
            p->record = (uint8_t)b;
        }
    }

    if (!seen[0]) lerr(L, p->line, "pattern has no 'id'");
    if (!seen[1])
        lerr(L, p->line, "pattern %s%s%shas no 'category'", p->id ? "'" : "", p->id ? p->id : "",
             p->id ? "' " : "");
    if (!seen[2])
        lerr(L, p->line, "pattern %s%s%shas no 'regex'", p->id ? "'" : "", p->id ? p->id : "",
             p->id ? "' " : "");
    if (p->regex && flags_ok)
        check_regex(L, "regex", p->regex, p->hs_flags, regex_line, max_len_line != 0, &p->max_len);
    if (p->context && !p->record)
        lerr(L, context_line,
             "a context applies to records; a pattern with record: false is only counted");

    if (p->id) {
        for (size_t i = 0; i + 1 < L->rs->n_patterns; i++) {
            const struct rule_pattern *q = &L->rs->patterns[i];
            if (q->id && strcmp(q->id, p->id) == 0) {
                lerr(L, id_line, "duplicate id '%s' (first defined at %s:%d)", p->id, q->file,
                     q->line);
                break;
            }
        }
    }
}

/* The section parsers' error callback: one loader error at the node's line. */
static void lerr_cb(void *ud, int line, const char *msg)
{
    lerr(ud, line, "%s", msg);
}

static int endpoint_index_cb(void *ud, const char *id)
{
    return api_rules_endpoint_index(ud, id);
}

/* Errors found after loading, naming a file of their own. */
static void lerr_at(void *ud, const char *file, int line, const char *msg)
{
    struct loader *L = ud;
    const char *saved = L->file;
    L->file = file;
    lerr(L, line, "%s", msg);
    L->file = saved;
}

/* --- one document ---------------------------------------------------------- */

static void load_document(struct loader *L, yaml_document_t *doc)
{
    L->doc = doc;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) {
        lerr(L, 1, "empty rule file: expected 'version: 1' and 'patterns:'");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        lerr(L, node_line(root), "the top level must be a mapping (version:, patterns:), not %s",
             node_kind(root));
        return;
    }
    bool seen_version = false, seen_patterns = false;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(doc, pr->value);
        const char *k = want_scalar(L, kn, "section name");
        if (!k) continue;
        if (strcmp(k, "version") == 0) {
            if (seen_version) {
                lerr(L, node_line(kn), "duplicate section 'version'");
                continue;
            }
            seen_version = true;
            const char *s = want_scalar(L, vn, "version");
            if (s && strcmp(s, "1") != 0)
                lerr(L, node_line(vn), "unsupported version '%s': this sensor reads version 1", s);
        } else if (strcmp(k, "patterns") == 0) {
            if (seen_patterns) {
                lerr(L, node_line(kn), "duplicate section 'patterns'");
                continue;
            }
            seen_patterns = true;
            if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0)
                continue; /* "patterns:" with nothing under it */
            if (vn->type != YAML_SEQUENCE_NODE) {
                lerr(L, node_line(vn), "'patterns' must be a list, not %s", node_kind(vn));
                continue;
            }
            for (yaml_node_item_t *it = vn->data.sequence.items.start;
                 it < vn->data.sequence.items.top; it++)
                load_pattern(L, yaml_document_get_node(doc, *it));
        } else if (strcmp(k, "identity") == 0) {
            api_rules_parse_identity(doc, vn, L->file, &L->rs->api, lerr_cb, L);
        } else if (strcmp(k, "endpoints") == 0) {
            api_rules_parse_endpoints(doc, vn, L->file, &L->rs->api, lerr_cb, L);
        } else if (strcmp(k, "detections") == 0) {
            detect_rules_parse(doc, vn, L->file, &L->rs->detect, lerr_cb, L);
        } else if (strcmp(k, "allowlist") == 0) {
            detect_rules_parse_allowlist(doc, vn, L->file, &L->rs->detect, lerr_cb, L);
        } else {
            static const char *const sections[] = {"version",   "patterns",   "identity",
                                                   "endpoints", "detections", "allowlist"};
            char hint[64];
            lerr(L, node_line(kn),
                 "unknown section '%s'%s; sections are version, patterns, identity, endpoints, "
                 "detections, allowlist",
                 k, suggest(hint, sizeof hint, k, sections, 6));
        }
    }
    if (!seen_version) lerr(L, node_line(root), "missing 'version: 1'");
}

/* --- one file ---------------------------------------------------------------- */

/* Reports libyaml's error: its problem, at its problem mark. A reader error
 * (bad encoding) has only a byte offset, turned into a line here. */
static void yaml_error(struct loader *L, const yaml_parser_t *ps, const uint8_t *buf, size_t len)
{
    int line;
    if (ps->error == YAML_READER_ERROR) {
        line = 1;
        for (size_t i = 0; i < ps->problem_offset && i < len; i++)
            line += buf[i] == '\n';
    } else {
        line = (int)ps->problem_mark.line + 1;
    }
    const char *problem = ps->problem ? ps->problem : "cannot parse";
    if (ps->context)
        lerr(L, line, "YAML syntax error: %s (%s at line %d)", problem, ps->context,
             (int)ps->context_mark.line + 1);
    else
        lerr(L, line, "YAML syntax error: %s", problem);
}

static void add_file_name(struct loader *L, const char *path)
{
    struct ruleset *rs = L->rs;
    if (rs->n_files == L->cap_files) {
        size_t cap = L->cap_files ? L->cap_files * 2 : 8;
        char **nf = realloc(rs->files, cap * sizeof *nf);
        if (!nf) {
            fputs("leakhound: out of memory loading rules\n", stderr);
            abort();
        }
        rs->files = nf;
        L->cap_files = cap;
    }
    rs->files[rs->n_files++] = xstrdup(path);
}

static uint8_t *read_file(struct loader *L, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        lerr(L, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(RULESET_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        lerr(L, 0, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, RULESET_MAX_FILE + 1, f);
    bool bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad) {
        lerr(L, 0, "cannot read: %s", strerror(e));
        free(buf);
        return NULL;
    }
    if (n > RULESET_MAX_FILE) {
        lerr(L, 0, "larger than the limit of %u bytes for a rule file", RULESET_MAX_FILE);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void load_file(struct loader *L, const char *path)
{
    L->file = path;
    L->file_seq++;
    size_t len = 0;
    uint8_t *buf = read_file(L, path, &len);
    if (!buf) return;
    add_file_name(L, path);
    EVP_DigestUpdate(L->md, buf, len);

    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps)) {
        lerr(L, 0, "out of memory");
        free(buf);
        return;
    }
    yaml_parser_set_input_string(&ps, buf, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&ps, &doc)) {
        yaml_error(L, &ps, buf, len);
    } else {
        load_document(L, &doc);
        yaml_document_delete(&doc);
        /* a second document is a mistake worth naming, not something to skip */
        yaml_document_t more;
        if (!yaml_parser_load(&ps, &more)) {
            yaml_error(L, &ps, buf, len);
        } else {
            yaml_node_t *r = yaml_document_get_root_node(&more);
            if (r) lerr(L, node_line(r), "a rule file holds one YAML document; this is a second");
            yaml_document_delete(&more);
        }
    }
    L->doc = NULL;
    yaml_parser_delete(&ps);
    free(buf);
}

static bool rule_file_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.') return false;
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void load_dir(struct loader *L, const char *path)
{
    L->file = path;
    DIR *d = opendir(path);
    if (!d) {
        lerr(L, 0, "cannot open directory: %s", strerror(errno));
        return;
    }
    char *names[RULESET_MAX_DIR_FILES];
    size_t n = 0;
    bool over = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!rule_file_name(de->d_name)) continue;
        if (n == RULESET_MAX_DIR_FILES) {
            over = true;
            break;
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (over) lerr(L, 0, "more than %d rule files in the directory", RULESET_MAX_DIR_FILES);
    if (n == 0 && !over) lerr(L, 0, "no *.yaml or *.yml rule files in the directory");
    qsort(names, n, sizeof names[0], cmp_str);
    size_t plen = strlen(path);
    bool slash = plen > 0 && path[plen - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        size_t len = plen + 1 + strlen(names[i]) + 1;
        char *full = malloc(len);
        if (!full) {
            fputs("leakhound: out of memory loading rules\n", stderr);
            abort();
        }
        snprintf(full, len, "%s%s%s", path, slash ? "" : "/", names[i]);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) load_file(L, full);
        free(full);
        free(names[i]);
    }
    L->file = NULL;
}

int ruleset_load(const char *const *paths, size_t n_paths, struct ruleset **out, char *err,
                 size_t errlen)
{
    struct loader L = {0};
    if (err && errlen) err[0] = '\0';
    if (out) *out = NULL;
    L.file = "rules";
    if (!out || (n_paths && !paths)) {
        lerr(&L, 0, "ruleset_load: bad arguments");
        flush_errors(&L, err, errlen);
        return -1;
    }
    if (n_paths == 0) {
        lerr(&L, 0, "no rule files given");
        flush_errors(&L, err, errlen);
        return -1;
    }
    L.rs = calloc(1, sizeof *L.rs);
    L.md = EVP_MD_CTX_new();
    if (!L.rs || !L.md || EVP_DigestInit_ex(L.md, EVP_sha256(), NULL) != 1) {
        lerr(&L, 0, "out of memory");
        flush_errors(&L, err, errlen);
        EVP_MD_CTX_free(L.md);
        free(L.rs);
        return -1;
    }
    for (size_t i = 0; i < n_paths; i++) {
        const char *path = paths[i];
        struct stat st;
        L.file = path;
        L.file_seq++;
        if (stat(path, &st) != 0) {
            lerr(&L, 0, "cannot open: %s", strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode))
            load_dir(&L, path);
        else
            load_file(&L, path);
    }
    unsigned int hlen = 0;
    if (EVP_DigestFinal_ex(L.md, L.rs->hash, &hlen) != 1 || hlen != sizeof L.rs->hash) {
        L.file = "rules";
        lerr(&L, 0, "SHA-256 failed");
    }
    EVP_MD_CTX_free(L.md);
    api_rules_resolve(&L.rs->api, lerr_at, &L);
    detect_rules_resolve(L.rs->detect, endpoint_index_cb, &L.rs->api, lerr_at, &L);
    if (L.n_errors == 0 && L.rs->n_patterns == 0) {
        L.file = paths[0];
        L.file_seq++;
        lerr(&L, 0, "no patterns defined in the rule files");
    }
    if (L.n_errors) {
        flush_errors(&L, err, errlen);
        ruleset_free(L.rs);
        return -1;
    }
    *out = L.rs;
    return 0;
}
