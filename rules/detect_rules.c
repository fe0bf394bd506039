/* detect_rules.c - parses `detections:` and `allowlist:` from rule files.
 *
 * In: libyaml document nodes handed over by the rule loader, one file at a
 * time. Out: struct detection entries appended to a struct detect_rules.
 * Every key is checked against the keys its type takes, so a typo is an
 * error naming the line, never a silently ignored threshold. Defaults are
 * filled in here, so the engine never has to guess (docs/detection.md
 * lists them). */
#include "rules/detect_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"

static const char *const type_names[DETECT_TYPE_MAX] = {
    "bulk_response", "volume", "anomaly", "new_source", "enumeration", "out_of_scope", "cadence",
};
static const char *const type_categories[DETECT_TYPE_MAX] = {
    "bulk-exfiltration", "bulk-exfiltration", "anomaly",   "new-source",
    "enumeration",       "out-of-scope",      "automation",
};
static const uint8_t type_severity[DETECT_TYPE_MAX] = {2, 2, 2, 4, 2, 2, 3};

/* category names, kept equal to rules/ruleset.c's without linking it */
static const char *const cat_names[RULE_CAT_MAX] = {
#define DR_CAT_NAME(n, s) s,
    RULE_CATEGORIES(DR_CAT_NAME)
#undef DR_CAT_NAME
};

const char *detect_type_name(enum detect_type t)
{
    return (unsigned)t < DETECT_TYPE_MAX ? type_names[t] : "unknown";
}

const char *detect_type_category(enum detect_type t)
{
    return (unsigned)t < DETECT_TYPE_MAX ? type_categories[t] : "unknown";
}

/* keys and which types take them */
enum {
    K_ID, K_TYPE, K_SEVERITY, K_SIGNATURE, K_ALLOWLIST, K_ESCALATE, K_QUIET,
    K_CATEGORIES, K_AT_LEAST, K_COUNT, K_WINDOW, K_BASELINE, K_LEARN, K_MIN_QUERIES,
    K_MAX_STEP, K_SEQ_SHARE, K_MIN_RECORDS, K_SHARE, K_MIN_REQUESTS, K_MAX_CV, K_MAX
};
static const char *const key_names[K_MAX] = {
    "id", "type", "severity", "signature", "allowlist", "escalate", "quiet",
    "categories", "at_least", "count", "window", "baseline", "learn", "min_queries",
    "max_step", "seq_share", "min_records", "share", "min_requests", "max_cv",
};
#define B(k) (1u << (k))
#define COMMON (B(K_ID) | B(K_TYPE) | B(K_SEVERITY) | B(K_SIGNATURE) | B(K_ALLOWLIST) | \
                B(K_ESCALATE) | B(K_QUIET))
static const uint32_t type_keys[DETECT_TYPE_MAX] = {
    COMMON | B(K_CATEGORIES) | B(K_AT_LEAST),
    COMMON | B(K_COUNT) | B(K_WINDOW) | B(K_AT_LEAST),
    COMMON | B(K_COUNT) | B(K_WINDOW) | B(K_BASELINE),
    COMMON | B(K_LEARN),
    COMMON | B(K_WINDOW) | B(K_MIN_QUERIES) | B(K_MAX_STEP) | B(K_SEQ_SHARE),
    COMMON | B(K_WINDOW) | B(K_MIN_RECORDS) | B(K_SHARE) | B(K_LEARN),
    COMMON | B(K_MIN_REQUESTS) | B(K_MAX_CV),
};

struct pctx {
    yaml_document_t *doc;
    detect_rules_error_fn error;
    void *ud;
    int errors;
    const char *did; /* detection id for messages, or NULL */
};

static void perr(struct pctx *P, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct pctx *P, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512], full[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (P->did)
        snprintf(full, sizeof full, "detection '%s': %s", P->did, msg);
    else
        snprintf(full, sizeof full, "%s", msg);
    P->errors++;
    if (P->error)
        P->error(P->ud, n ? (int)n->start_mark.line + 1 : 0, full);
}

static const char *scalar(struct pctx *P, const yaml_node_t *n, const char *what)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        perr(P, n, "'%s' must be a single value", what);
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        perr(P, n, "'%s' contains a NUL byte", what);
        return NULL;
    }
    return s;
}

long detect_rules_duration(const char *s)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v))
        return -1;
    double mul = 1;
    if (*end) {
        switch (*end) {
        case 's': mul = 1; break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        default: return -1;
        }
        if (end[1])
            return -1;
    }
    double r = v * mul;
    if (r > 366.0 * 86400 || r != floor(r))
        return -1;
    return (long)r;
}

static int get_duration(struct pctx *P, const yaml_node_t *n, const char *what, uint32_t *out,
                        long min_s, long max_s)
{
    const char *s = scalar(P, n, what);
    if (!s)
        return -1;
    long v = detect_rules_duration(s);
    if (v < 0) {
        perr(P, n, "'%s' must be a duration like 30s, 10m, 1h or 7d, not '%s'", what, s);
        return -1;
    }
    if (v < min_s || v > max_s) {
        perr(P, n, "'%s' must be between %lds and %lds, not %s", what, min_s, max_s, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int get_uint(struct pctx *P, const yaml_node_t *n, const char *what, uint64_t *out,
                    uint64_t min, uint64_t max)
{
    const char *s = scalar(P, n, what);
    if (!s)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        perr(P, n, "'%s' must be a whole number from %llu to %llu, not '%s'", what,
             (unsigned long long)min, (unsigned long long)max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_real(struct pctx *P, const yaml_node_t *n, const char *what, double *out,
                    double min, double max)
{
    const char *s = scalar(P, n, what);
    if (!s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        perr(P, n, "'%s' must be a number from %g to %g, not '%s'", what, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int parse_net(const char *s, struct detect_net *out)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = 0;
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0)
            return -1;
    }
    memset(out, 0, sizeof(*out));
    uint8_t a4[4];
    if (inet_pton(AF_INET, buf, a4) == 1) {
        if (bits > 32)
            return -1;
        out->addr.a[10] = out->addr.a[11] = 0xff;
        memcpy(out->addr.a + 12, a4, 4);
        out->bits = (uint8_t)(96 + (bits < 0 ? 32 : bits));
    } else if (inet_pton(AF_INET6, buf, out->addr.a) == 1) {
        if (bits > 128)
            return -1;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return -1;
    }
    /* clear host bits so matching is a plain prefix compare */
    for (int i = 0; i < 16; i++) {
        int keep = out->bits - i * 8;
        if (keep >= 8)
            continue;
        out->addr.a[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return 0;
}

static int net_match(const struct detect_net *n, const struct lh_addr *a)
{
    for (int i = 0; i < 16; i++) {
        int keep = n->bits - i * 8;
        if (keep <= 0)
            return 1;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
        if ((a->a[i] & mask) != n->addr.a[i])
            return 0;
    }
    return 1;
}

static void parse_allow(struct pctx *P, yaml_node_t *m, struct detect_allow *al)
{
    if (m->type != YAML_MAPPING_NODE) {
        perr(P, m, "'allowlist' must be a mapping with 'accounts:' and/or 'networks:'");
        return;
    }
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(P->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(P->doc, pr->value);
        const char *k = scalar(P, kn, "allowlist key");
        if (!k)
            continue;
        int is_acct = strcmp(k, "accounts") == 0, is_net = strcmp(k, "networks") == 0;
        if (!is_acct && !is_net) {
            perr(P, kn, "unknown allowlist key '%s'; allowlist takes accounts and networks", k);
            continue;
        }
        if (vn->type != YAML_SEQUENCE_NODE) {
            perr(P, vn, "'allowlist.%s' must be a list", k);
            continue;
        }
        for (yaml_node_item_t *it = vn->data.sequence.items.start;
             it < vn->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(P->doc, *it);
            const char *s = scalar(P, e, is_acct ? "account" : "network");
            if (!s)
                continue;
            if ((is_acct ? al->n_accounts : al->n_nets) >= DETECT_MAX_ALLOW) {
                perr(P, e, "more than %d entries in 'allowlist.%s'", DETECT_MAX_ALLOW, k);
                break;
            }
            if (is_acct) {
                if (!*s) {
                    perr(P, e, "empty account name in allowlist");
                    continue;
                }
                char **na = realloc(al->accounts, (al->n_accounts + 1) * sizeof(char *));
                char *dup = strdup(s);
                if (!na || !dup) {
                    free(dup);
                    if (na)
                        al->accounts = na;
                    perr(P, e, "out of memory");
                    return;
                }
                al->accounts = na;
                al->accounts[al->n_accounts++] = dup;
            } else {
                struct detect_net net;
                if (parse_net(s, &net) < 0) {
                    perr(P, e, "'%s' is not an address or CIDR network (10.9.0.0/16, fd00::/8)",
                         s);
                    continue;
                }
                struct detect_net *nn = realloc(al->nets, (al->n_nets + 1) * sizeof(*nn));
                if (!nn) {
                    perr(P, e, "out of memory");
                    return;
                }
                al->nets = nn;
                al->nets[al->n_nets++] = net;
            }
        }
    }
}

static void allow_free(struct detect_allow *al)
{
    for (size_t i = 0; i < al->n_accounts; i++)
        free(al->accounts[i]);
    free(al->accounts);
    free(al->nets);
    memset(al, 0, sizeof(*al));
}

static int allow_has(const struct detect_allow *al, const char *account, const struct lh_addr *a)
{
    if (account)
        for (size_t i = 0; i < al->n_accounts; i++)
            if (strcmp(al->accounts[i], account) == 0)
                return 1;
    if (a)
        for (size_t i = 0; i < al->n_nets; i++)
            if (net_match(&al->nets[i], a))
                return 1;
    return 0;
}

int detect_rules_allowed(const struct detect_rules *r, const struct detection *d,
                         const char *account, const struct lh_addr *src)
{
    if (r && allow_has(&r->allow, account, src))
        return 1;
    return d && allow_has(&d->allow, account, src);
}

static uint32_t category_list(struct pctx *P, yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        perr(P, n, "'%s' must be a list of categories, e.g. [phone, id]", what);
        return 0;
    }
    uint32_t mask = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(P->doc, *it);
        const char *s = scalar(P, e, what);
        if (!s)
            continue;
        int c = -1;
        for (int i = 0; i < RULE_CAT_MAX; i++)
            if (strcmp(cat_names[i], s) == 0)
                c = i;
        if (c < 0) {
            char all[160] = "";
            for (int i = 0; i < RULE_CAT_MAX; i++) {
                strncat(all, cat_names[i], sizeof all - strlen(all) - 1);
                if (i + 1 < RULE_CAT_MAX)
                    strncat(all, ", ", sizeof all - strlen(all) - 1);
            }
            perr(P, e, "unknown category '%s'; categories are %s", s, all);
            continue;
        }
        mask |= 1u << c;
    }
    if (!mask && n->data.sequence.items.top == n->data.sequence.items.start)
        perr(P, n, "'%s' is empty", what);
    return mask;
}

static void parse_count(struct pctx *P, yaml_node_t *n, struct detection *d)
{
    if (n->type != YAML_MAPPING_NODE) {
        perr(P, n, "'count' must be {endpoint: ID} or {records: [categories]}");
        return;
    }
    int seen = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(P->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(P->doc, pr->value);
        const char *k = scalar(P, kn, "count key");
        if (!k)
            continue;
        if (seen++) {
            perr(P, kn, "'count' takes one of endpoint or records, not both");
            continue;
        }
        if (strcmp(k, "endpoint") == 0) {
            const char *s = scalar(P, vn, "count.endpoint");
            if (s && *s)
                d->endpoint_id = strdup(s);
            else if (s)
                perr(P, vn, "'count.endpoint' is empty");
        } else if (strcmp(k, "records") == 0) {
            d->categories = category_list(P, vn, "count.records");
        } else {
            perr(P, kn, "unknown count key '%s'; count takes endpoint or records", k);
        }
    }
    if (!seen)
        perr(P, n, "'count' is empty: give {endpoint: ID} or {records: [categories]}");
}

static void parse_baseline(struct pctx *P, yaml_node_t *n, struct detection *d)
{
    if (n->type != YAML_MAPPING_NODE) {
        perr(P, n, "'baseline' must be a mapping {ratio, min, learn, peer_ratio}");
        return;
    }
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(P->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(P->doc, pr->value);
        const char *k = scalar(P, kn, "baseline key");
        if (!k)
            continue;
        if (strcmp(k, "ratio") == 0)
            get_real(P, vn, "baseline.ratio", &d->ratio, 1.0, 1e6);
        else if (strcmp(k, "peer_ratio") == 0)
            get_real(P, vn, "baseline.peer_ratio", &d->peer_ratio, 1.0, 1e6);
        else if (strcmp(k, "min") == 0)
            get_uint(P, vn, "baseline.min", &d->min, 1, UINT32_MAX);
        else if (strcmp(k, "learn") == 0)
            get_duration(P, vn, "baseline.learn", &d->learn_s, 3600, 366L * 86400);
        else
            perr(P, kn, "unknown baseline key '%s'; baseline takes ratio, min, learn, peer_ratio",
                 k);
    }
}

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h & 0x7fffffffu;
}

static void detection_free(struct detection *d)
{
    free(d->id);
    free(d->signature);
    free(d->endpoint_id);
    free(d->file);
    allow_free(&d->allow);
}

static void parse_one(struct pctx *P, yaml_node_t *m, const char *file, struct detect_rules *r)
{
    P->did = NULL;
    if (m->type != YAML_MAPPING_NODE) {
        perr(P, m, "each detection must be a mapping (id:, type:, ...)");
        return;
    }
    struct detection d;
    memset(&d, 0, sizeof d);
    d.endpoint = -1;
    d.line = (int)m->start_mark.line + 1;
    int type = -1;
    yaml_node_t *type_node = NULL;
    /* id and type first: they decide the messages and which keys are allowed */
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(P->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(P->doc, pr->value);
        if (kn->type != YAML_SCALAR_NODE)
            continue;
        const char *k = (const char *)kn->data.scalar.value;
        if (strcmp(k, "id") == 0 && !d.id) {
            const char *s = scalar(P, vn, "id");
            if (!s)
                continue;
            int ok = *s != 0 && strlen(s) <= 64;
            for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                    ok = 0;
            if (!ok)
                perr(P, vn, "id '%s' must be 1-64 characters of [a-z0-9_]", s);
            else
                d.id = strdup(s);
        } else if (strcmp(k, "type") == 0 && !type_node) {
            type_node = vn;
        }
    }
    P->did = d.id;
    if (!d.id)
        perr(P, m, "missing 'id'");
    if (!type_node) {
        perr(P, m, "missing 'type' (bulk_response, volume, anomaly, new_source, enumeration, "
                   "out_of_scope, cadence)");
    } else {
        const char *s = scalar(P, type_node, "type");
        for (int i = 0; s && i < DETECT_TYPE_MAX; i++)
            if (strcmp(type_names[i], s) == 0)
                type = i;
        if (s && type < 0)
            perr(P, type_node,
                 "unknown type '%s'; types are bulk_response, volume, anomaly, new_source, "
                 "enumeration, out_of_scope, cadence",
                 s);
    }
    if (type < 0) {
        detection_free(&d);
        return;
    }
    d.type = (enum detect_type)type;
    d.severity = type_severity[type];
    d.escalate = 2.0;
    d.quiet_s = 1800;
    d.seq_share = 0.8;
    d.learn_s = 7 * 86400;
    uint32_t seen = 0;
    int errs_before = P->errors;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(P->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(P->doc, pr->value);
        const char *k = scalar(P, kn, "key");
        if (!k)
            continue;
        int key = -1;
        for (int i = 0; i < K_MAX; i++)
            if (strcmp(key_names[i], k) == 0)
                key = i;
        if (key < 0 || !(type_keys[type] & B(key))) {
            char all[256] = "";
            for (int i = 0; i < K_MAX; i++)
                if (type_keys[type] & B(i)) {
                    if (all[0])
                        strncat(all, ", ", sizeof all - strlen(all) - 1);
                    strncat(all, key_names[i], sizeof all - strlen(all) - 1);
                }
            perr(P, kn, "%s key '%s' for type %s; it takes %s",
                 key < 0 ? "unknown" : "unexpected", k, type_names[type], all);
            continue;
        }
        if (seen & B(key)) {
            perr(P, kn, "duplicate key '%s'", k);
            continue;
        }
        seen |= B(key);
        uint64_t u;
        switch (key) {
        case K_ID:
        case K_TYPE:
            break;
        case K_SEVERITY:
            if (get_uint(P, vn, "severity", &u, 1, 4) == 0)
                d.severity = (uint8_t)u;
            break;
        case K_SIGNATURE: {
            const char *s = scalar(P, vn, "signature");
            if (s && strlen(s) > 200)
                perr(P, vn, "'signature' is longer than 200 characters");
            else if (s && *s)
                d.signature = strdup(s);
            break;
        }
        case K_ALLOWLIST:
            parse_allow(P, vn, &d.allow);
            break;
        case K_ESCALATE:
            get_real(P, vn, "escalate", &d.escalate, 1.1, 1000);
            break;
        case K_QUIET:
            get_duration(P, vn, "quiet", &d.quiet_s, 60, 7 * 86400);
            break;
        case K_CATEGORIES:
            d.categories = category_list(P, vn, "categories");
            break;
        case K_AT_LEAST:
            if (get_uint(P, vn, "at_least", &u, 1, UINT32_MAX) == 0)
                d.at_least = u;
            break;
        case K_COUNT:
            parse_count(P, vn, &d);
            break;
        case K_WINDOW:
            get_duration(P, vn, "window", &d.window_s, 60, 86400);
            if (d.window_s % 60) {
                perr(P, vn, "'window' must be whole minutes");
                d.window_s = 0;
            }
            break;
        case K_BASELINE:
            parse_baseline(P, vn, &d);
            break;
        case K_LEARN:
            get_duration(P, vn, "learn", &d.learn_s, 0, 366L * 86400);
            break;
        case K_MIN_QUERIES:
            if (get_uint(P, vn, "min_queries", &u, 3, 1024) == 0)
                d.min_queries = (uint32_t)u;
            break;
        case K_MAX_STEP:
            get_uint(P, vn, "max_step", &d.max_step, 1, UINT32_MAX);
            break;
        case K_SEQ_SHARE:
            get_real(P, vn, "seq_share", &d.seq_share, 0.5, 1.0);
            break;
        case K_MIN_RECORDS:
            if (get_uint(P, vn, "min_records", &u, 1, UINT32_MAX) == 0)
                d.min_records = (uint32_t)u;
            break;
        case K_SHARE:
            get_real(P, vn, "share", &d.share, 0.01, 1.0);
            break;
        case K_MIN_REQUESTS:
            if (get_uint(P, vn, "min_requests", &u, 10, 1024) == 0)
                d.min_requests = (uint32_t)u;
            break;
        case K_MAX_CV:
            get_real(P, vn, "max_cv", &d.max_cv, 0.001, 1.0);
            break;
        }
    }
    /* what each type needs */
    int bad = P->errors != errs_before;
#define NEED(cond, fmt)                                                                            \
    do {                                                                                           \
        if (!bad && !(cond)) {                                                                     \
            perr(P, m, fmt);                                                                       \
            bad = 1;                                                                               \
        }                                                                                          \
    } while (0)
    switch (d.type) {
    case DETECT_BULK_RESPONSE:
        NEED(d.at_least, "bulk_response needs 'at_least'");
        break;
    case DETECT_VOLUME:
        NEED(seen & B(K_COUNT), "volume needs 'count'");
        NEED(d.window_s, "volume needs 'window'");
        NEED(d.at_least, "volume needs 'at_least'");
        break;
    case DETECT_ANOMALY:
        NEED(seen & B(K_COUNT), "anomaly needs 'count'");
        NEED(d.window_s, "anomaly needs 'window'");
        NEED(d.ratio > 0 || d.peer_ratio > 0,
             "anomaly needs 'baseline' with 'ratio' and/or 'peer_ratio'");
        if (!d.min)
            d.min = 50;
        break;
    case DETECT_NEW_SOURCE:
        break;
    case DETECT_ENUMERATION:
        if (!d.window_s)
            d.window_s = 600;
        if (!d.min_queries)
            d.min_queries = 50;
        if (!d.max_step)
            d.max_step = 10;
        break;
    case DETECT_OUT_OF_SCOPE:
        if (!d.window_s)
            d.window_s = 3600;
        if (!d.min_records)
            d.min_records = 50;
        if (d.share == 0)
            d.share = 0.3;
        break;
    case DETECT_CADENCE:
        if (!d.min_requests)
            d.min_requests = 100;
        if (d.max_cv == 0)
            d.max_cv = 0.1;
        break;
    case DETECT_TYPE_MAX:
        break;
    }
#undef NEED
    if (d.type == DETECT_BULK_RESPONSE && !d.categories)
        d.categories = ((1u << RULE_CAT_MAX) - 1) & ~(1u << RULE_CAT_OTHER);
    if (!d.id || bad || P->errors != errs_before) {
        detection_free(&d);
        return;
    }
    if (r->n >= DETECT_MAX_DETECTIONS) {
        perr(P, m, "more than %d detections", DETECT_MAX_DETECTIONS);
        detection_free(&d);
        return;
    }
    struct detection *nd = realloc(r->d, (r->n + 1) * sizeof(*nd));
    d.file = xstrdup(file);
    if (!nd || !d.file) {
        if (nd)
            r->d = nd;
        perr(P, m, "out of memory");
        detection_free(&d);
        return;
    }
    d.signature_id = fnv1a32(d.id);
    r->d = nd;
    r->d[r->n++] = d;
}

static struct detect_rules *rules_get(struct detect_rules **rules)
{
    if (!*rules)
        *rules = calloc(1, sizeof(**rules));
    return *rules;
}

int detect_rules_parse(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                       struct detect_rules **rules, detect_rules_error_fn error, void *ud)
{
    struct pctx P = {.doc = doc, .error = error, .ud = ud};
    struct detect_rules *r = rules_get(rules);
    if (!r) {
        perr(&P, seq, "out of memory");
        return P.errors;
    }
    if (seq->type == YAML_SCALAR_NODE && seq->data.scalar.length == 0)
        return 0; /* "detections:" with nothing under it */
    if (seq->type != YAML_SEQUENCE_NODE) {
        perr(&P, seq, "'detections' must be a list");
        return P.errors;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++)
        parse_one(&P, yaml_document_get_node(doc, *it), file, r);
    return P.errors;
}

int detect_rules_parse_allowlist(yaml_document_t *doc, yaml_node_t *map, const char *file,
                                 struct detect_rules **rules, detect_rules_error_fn error,
                                 void *ud)
{
    (void)file;
    struct pctx P = {.doc = doc, .error = error, .ud = ud};
    struct detect_rules *r = rules_get(rules);
    if (!r) {
        perr(&P, map, "out of memory");
        return P.errors;
    }
    parse_allow(&P, map, &r->allow);
    return P.errors;
}

int detect_rules_resolve(struct detect_rules *r, int (*endpoint_index)(void *ud, const char *id),
                         void *ud, void (*error)(void *ud2, const char *file, int line,
                                                 const char *msg),
                         void *ud2)
{
    if (!r)
        return 0;
    int errors = 0;
    char msg[512];
    for (size_t i = 0; i < r->n; i++) {
        struct detection *d = &r->d[i];
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->d[j].id, d->id) == 0) {
                snprintf(msg, sizeof msg, "duplicate detection id '%s' (first defined at %s:%d)",
                         d->id, r->d[j].file, r->d[j].line);
                errors++;
                if (error)
                    error(ud2, d->file, d->line, msg);
                break;
            }
            if (r->d[j].signature_id == d->signature_id) {
                snprintf(msg, sizeof msg,
                         "detection ids '%s' and '%s' hash to the same signature_id; rename one",
                         r->d[j].id, d->id);
                errors++;
                if (error)
                    error(ud2, d->file, d->line, msg);
                break;
            }
        }
        if (!d->endpoint_id)
            continue;
        d->endpoint = endpoint_index ? endpoint_index(ud, d->endpoint_id) : -1;
        if (d->endpoint < 0) {
            snprintf(msg, sizeof msg, "detection '%s': unknown endpoint '%s'", d->id,
                     d->endpoint_id);
            errors++;
            if (error)
                error(ud2, d->file, d->line, msg);
        }
    }
    return errors;
}

void detect_rules_free(struct detect_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        detection_free(&r->d[i]);
    free(r->d);
    allow_free(&r->allow);
    free(r);
}
