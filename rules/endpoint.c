/* endpoint.c - request -> endpoint id, by path regex, method and host.
 *
 * One Hyperscan block-mode database holds every endpoint's path regex
 * (HS_FLAG_SINGLEMATCH: we only need to know which matched). The scan marks
 * the matching endpoints in a bitmap; the first declared one whose method
 * and host also agree wins. Paths are matched as sent (not percent-decoded).
 * This file and match.c are the only ones that include <hs.h>. */
#include "rules/endpoint.h"

#include <ctype.h>
#include <hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/identity.h"

#define ENDPOINT_MAX 1024

struct endpoint_db {
    const struct api_rules *rules;
    hs_database_t *db;
};

struct endpoint_scratch {
    hs_scratch_t *s;
};

int endpoint_db_build(const struct api_rules *rules, struct endpoint_db **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    size_t n = rules ? rules->n_endpoints : 0;
    if (n == 0)
        return 0;
    if (n > ENDPOINT_MAX) {
        snprintf(err, errlen, "%s:%d: more than %d endpoints", rules->endpoints[0].file,
                 rules->endpoints[0].line, ENDPOINT_MAX);
        return -1;
    }
    const char **exprs = calloc(n, sizeof(*exprs));
    unsigned *flags = calloc(n, sizeof(*flags)), *ids = calloc(n, sizeof(*ids));
    struct endpoint_db *e = calloc(1, sizeof(*e));
    int rc = -1;
    if (!exprs || !flags || !ids || !e) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        exprs[i] = rules->endpoints[i].path ? rules->endpoints[i].path : "";
        flags[i] = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
        ids[i] = (unsigned)i;
    }
    hs_compile_error_t *cerr = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &e->db, &cerr) !=
        HS_SUCCESS) {
        int idx = cerr && cerr->expression >= 0 ? cerr->expression : 0;
        snprintf(err, errlen, "%s:%d: endpoint %s: path: %s", rules->endpoints[idx].file,
                 rules->endpoints[idx].line, rules->endpoints[idx].id,
                 cerr ? cerr->message : "compile error");
        hs_free_compile_error(cerr);
        goto done;
    }
    e->rules = rules;
    *out = e;
    e = NULL;
    rc = 0;
done:
    free(exprs);
    free(flags);
    free(ids);
    free(e);
    return rc;
}

void endpoint_db_free(struct endpoint_db *db)
{
    if (!db)
        return;
    hs_free_database(db->db);
    free(db);
}

struct endpoint_scratch *endpoint_scratch_new(const struct endpoint_db *db)
{
    struct endpoint_scratch *s = calloc(1, sizeof(*s));
    if (s && db && hs_alloc_scratch(db->db, &s->s) != HS_SUCCESS) {
        free(s);
        return NULL;
    }
    return s;
}

void endpoint_scratch_free(struct endpoint_scratch *s)
{
    if (!s)
        return;
    hs_free_scratch(s->s);
    free(s);
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    uint64_t *bits = ctx;
    bits[id / 64] |= 1ull << (id % 64);
    return 0;
}

static int host_equal(const char *want, const char *host)
{
    if (!host)
        return 0;
    size_t n = strcspn(host, ":");
    return strlen(want) == n && strncasecmp(want, host, n) == 0;
}

int endpoint_match(const struct endpoint_db *db, struct endpoint_scratch *s, const char *method,
                   const char *host, const char *uri)
{
    if (!db || !s || !uri)
        return -1;
    size_t len = strcspn(uri, "?#");
    uint64_t bits[ENDPOINT_MAX / 64] = {0};
    if (hs_scan(db->db, uri, (unsigned)len, 0, s->s, on_hit, bits) != HS_SUCCESS)
        return -1;
    for (size_t i = 0; i < db->rules->n_endpoints; i++) {
        if (!(bits[i / 64] & (1ull << (i % 64))))
            continue;
        const struct rule_endpoint *ep = &db->rules->endpoints[i];
        if (ep->host && !host_equal(ep->host, host))
            continue;
        int ok = ep->n_methods == 0;
        for (size_t m = 0; m < ep->n_methods && !ok; m++)
            ok = method && strcasecmp(ep->methods[m], method) == 0;
        if (ok)
            return (int)i;
    }
    return -1;
}

static uint64_t digits_of(const char *v)
{
    uint64_t n = 0;
    int any = 0;
    for (; *v; v++)
        if (isdigit((unsigned char)*v)) {
            if (n > (UINT64_MAX - 9) / 10)
                return 0;
            n = n * 10 + (uint64_t)(*v - '0');
            any = 1;
        }
    return any ? n : 0;
}

static uint64_t waybill_at(const char *place, size_t plen, const char *uri)
{
    char v[IDENTITY_MAX];
    if (plen == 4 && strncmp(place, "path", 4) == 0) {
        size_t len = strcspn(uri, "?#");
        size_t start = len;
        while (start > 0 && uri[start - 1] != '/')
            start--;
        if (len - start >= sizeof(v))
            return 0;
        memcpy(v, uri + start, len - start);
        v[len - start] = 0;
        return digits_of(v);
    }
    const char *q = strchr(uri, '?');
    char name[64];
    if (!q || plen >= sizeof(name))
        return 0;
    memcpy(name, place, plen);
    name[plen] = 0;
    q++;
    if (identity_param(q, strcspn(q, "#"), name, v, sizeof(v)) <= 0)
        return 0;
    return digits_of(v);
}

uint64_t endpoint_waybill(const struct api_rules *rules, int idx, const char *uri)
{
    if (!rules || idx < 0 || (size_t)idx >= rules->n_endpoints || !uri)
        return 0;
    const char *p = rules->endpoints[idx].waybill_param;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        uint64_t v = waybill_at(p, n, uri);
        if (v)
            return v;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int memchr_digit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)s[i]))
            return 1;
    return 0;
}

/* Where the value of one waybill place lies in uri: [*start, *start + *len). */
static int span_at(const char *place, size_t plen, const char *uri, size_t *start, size_t *len)
{
    size_t qpos = strcspn(uri, "?#");
    if (plen == 4 && strncmp(place, "path", 4) == 0) {
        size_t b = qpos;
        while (b > 0 && uri[b - 1] != '/')
            b--;
        *start = b;
        *len = qpos - b;
        return *len > 0;
    }
    if (uri[qpos] != '?')
        return 0;
    const char *q = uri + qpos + 1;
    size_t qlen = strcspn(q, "#");
    for (size_t i = 0; i < qlen;) {
        size_t e = i;
        while (e < qlen && q[e] != '&' && q[e] != ';')
            e++;
        const char *eq = memchr(q + i, '=', e - i);
        if (eq && (size_t)(eq - (q + i)) == plen && memcmp(q + i, place, plen) == 0) {
            *start = (size_t)(eq + 1 - uri);
            *len = (size_t)(q + e - (eq + 1));
            return *len > 0;
        }
        i = e + 1;
    }
    return 0;
}

int endpoint_waybill_span(const struct api_rules *rules, int idx, const char *uri, size_t *start,
                          size_t *len)
{
    if (!rules || idx < 0 || (size_t)idx >= rules->n_endpoints || !uri)
        return 0;
    const char *p = rules->endpoints[idx].waybill_param;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        /* as endpoint_waybill: a place counts when its value has a digit */
        if (span_at(p, n, uri, start, len) && memchr_digit(uri + *start, *len))
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}
