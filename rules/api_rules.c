/* api_rules.c - the identity: and endpoints: sections of a rule file.
 *
 * Called by the loader (ruleset.c) with a libyaml document node; appends to
 * a struct api_rules and reports every problem through the loader's error
 * callback with the node's line. The format is in docs/rules.md:
 *
 *   identity:                      # tried in this order for each request
 *     - header: X-Emp-Id
 *     - jwt: {header: Authorization, claim: emp_id}
 *     - session: {cookie: SESSIONID, login: login}
 *     - session: {header: Authorization, login: api_login, token: data.token}
 *   endpoints:
 *     - id: waybill_query
 *       method: [GET, POST]
 *       path: '^/api/v1/waybill'
 *       host: waybill.corp.example
 *       waybill: path              # or a query parameter name
 */
#include "rules/api_rules.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/api_rules_parse.h"

#define API_MAX_ENTRIES 1024

struct pctx {
    yaml_document_t *doc;
    const char *file;
    api_error_fn error;
    void *ud;
};

static void perr(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->error(c->ud, n ? (int)n->start_mark.line + 1 : 0, msg);
}

static const char *scalar(struct pctx *c, const yaml_node_t *n, const char *what)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        perr(c, n, "'%s' must be a single value", what);
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length || !s[0]) {
        perr(c, n, "'%s' must be a non-empty text", what);
        return NULL;
    }
    return s;
}

static char *dup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d) {
        fputs("leakhound: out of memory loading rules\n", stderr);
        abort();
    }
    return d;
}

static void *grow(void *p, size_t n, size_t size)
{
    void *q = realloc(p, (n + 1) * size);
    if (!q) {
        fputs("leakhound: out of memory loading rules\n", stderr);
        abort();
    }
    return q;
}

static const char *const ident_kind_names[IDENT_KIND_MAX] = {
    "header", "cookie", "query", "basic", "jwt", "form", "json", "session", "path", "xml"};

const char *ident_kind_name(enum ident_kind k)
{
    return k < IDENT_KIND_MAX ? ident_kind_names[k] : "unknown";
}

static int kind_of(const char *k)
{
    for (int i = 0; i < IDENT_KIND_MAX; i++)
        if (strcmp(k, ident_kind_names[i]) == 0)
            return i;
    return -1;
}

/* One identity source: a mapping with exactly one key naming its kind. */
static void parse_identity(struct pctx *c, yaml_node_t *n, struct api_rules *r)
{
    if (n->type != YAML_MAPPING_NODE ||
        n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
        perr(c, n, "an identity source is one of: header: NAME, cookie: NAME, query: NAME, "
                   "basic: HEADER|true, jwt: {header: H, claim: C}, form: FIELD, json: PATH, "
                   "xml: ELEMENT, path: N|{after: SEGMENT}, "
                   "session: {login: ENDPOINT, cookie|header|query: NAME, token: PATH}");
        return;
    }
    if (r->n_identity >= API_MAX_ENTRIES) {
        perr(c, n, "more than %d identity sources", API_MAX_ENTRIES);
        return;
    }
    yaml_node_pair_t *pr = n->data.mapping.pairs.start;
    yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
    yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
    const char *k = scalar(c, kn, "identity kind");
    if (!k)
        return;
    int kind = kind_of(k);
    if (kind < 0) {
        perr(c, kn, "unknown identity source '%s'; use header, cookie, query, basic, jwt, form, "
                    "json, xml, path or session", k);
        return;
    }
    struct rule_identity id = {0};
    id.kind = (enum ident_kind)kind;
    id.login_idx = -1;
    id.line = (int)n->start_mark.line + 1;
    if (kind == IDENT_JWT && vn->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k2 = yaml_document_get_node(c->doc, p->key);
            yaml_node_t *v2 = yaml_document_get_node(c->doc, p->value);
            const char *key = scalar(c, k2, "jwt key"), *val = scalar(c, v2, "jwt value");
            if (!key || !val)
                continue;
            /* a key given twice: the last one counts, the first is freed */
            if (strcmp(key, "header") == 0) {
                free(id.name);
                id.name = dup(val);
            } else if (strcmp(key, "claim") == 0) {
                free(id.claim);
                id.claim = dup(val);
            } else {
                perr(c, k2, "unknown key '%s' in jwt; use header and claim", key);
            }
        }
    } else if (kind == IDENT_SESSION) {
        if (vn->type != YAML_MAPPING_NODE) {
            perr(c, vn, "session needs {login: ENDPOINT_ID} and one of cookie:, header:, query:");
            return;
        }
        int carriers = 0;
        for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k2 = yaml_document_get_node(c->doc, p->key);
            yaml_node_t *v2 = yaml_document_get_node(c->doc, p->value);
            const char *key = scalar(c, k2, "session key"), *val = scalar(c, v2, "session value");
            if (!key || !val)
                continue;
            char **slot = NULL;
            if (strcmp(key, "cookie") == 0 || strcmp(key, "header") == 0 ||
                strcmp(key, "query") == 0) {
                id.carrier = key[0] == 'c' ? SESS_COOKIE : key[0] == 'h' ? SESS_HEADER : SESS_QUERY;
                carriers++;
                slot = &id.name;
            } else if (strcmp(key, "login") == 0) {
                slot = &id.login;
            } else if (strcmp(key, "token") == 0) {
                slot = &id.token;
            } else if (strcmp(key, "token_header") == 0) {
                slot = &id.token_header;
            } else {
                perr(c, k2, "unknown key '%s' in session; use login, one of cookie, header, "
                            "query, and optionally token or token_header", key);
                continue;
            }
            free(*slot); /* a key given twice: the last one counts */
            *slot = dup(val);
        }
        const char *why = NULL;
        if (carriers != 1 || !id.login)
            why = "session needs login: and exactly one of cookie:, header:, query:";
        else if (id.token && id.token_header)
            why = "session: token: (the login answer's JSON) or token_header:, not both";
        else if (id.carrier == SESS_QUERY && !id.token && !id.token_header)
            why = "a session carried in a query parameter needs token: or token_header: "
                  "(where the login answer gives it)";
        if (why) {
            perr(c, vn, "%s", why);
            free(id.name);
            free(id.login);
            free(id.token);
            free(id.token_header);
            return;
        }
    } else if (kind == IDENT_PATH) {
        const char *why = "path needs a segment number (1 the first, -1 the last) or {after: SEGMENT}";
        if (vn->type == YAML_MAPPING_NODE &&
            vn->data.mapping.pairs.top - vn->data.mapping.pairs.start == 1) {
            yaml_node_pair_t *p = vn->data.mapping.pairs.start;
            const char *key = scalar(c, yaml_document_get_node(c->doc, p->key), "path key");
            const char *val = scalar(c, yaml_document_get_node(c->doc, p->value), "path value");
            if (key && val && strcmp(key, "after") == 0 && val[0] && !strchr(val, '/')) {
                id.name = dup(val);
                why = NULL;
            }
        } else if (vn->type == YAML_SCALAR_NODE) {
            const char *v = scalar(c, vn, k);
            char *end;
            long seg = v ? strtol(v, &end, 10) : 0;
            if (v && *v && !*end && seg != 0 && seg >= -64 && seg <= 64) {
                id.segment = (int)seg;
                why = NULL;
            }
        }
        if (why) {
            perr(c, vn, "%s", why);
            free(id.name);
            return;
        }
    } else {
        const char *v = scalar(c, vn, k);
        if (!v)
            return;
        if (kind == IDENT_XML && (!v[0] || strpbrk(v, "<>/ \t:&\"'"))) {
            perr(c, vn, "xml needs an element's name (without a namespace prefix): '%s'", v);
            return;
        }
        if (kind == IDENT_JWT)
            id.claim = dup(v); /* jwt: CLAIM, from the Authorization header */
        else if (kind == IDENT_BASIC)
            id.name = strcasecmp(v, "true") == 0 ? NULL : dup(v);
        else
            id.name = dup(v);
    }
    id.file = dup(c->file);
    r->identity = grow(r->identity, r->n_identity, sizeof(*r->identity));
    r->identity[r->n_identity++] = id;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static void add_method(struct pctx *c, yaml_node_t *n, struct rule_endpoint *ep)
{
    const char *m = scalar(c, n, "method");
    if (!m)
        return;
    for (const char *p = m; *p; p++)
        if (!isalpha((unsigned char)*p) && *p != '-' && *p != '_') {
            perr(c, n, "bad method '%s'", m);
            return;
        }
    ep->methods = grow(ep->methods, ep->n_methods, sizeof(char *));
    char *d = dup(m);
    for (char *p = d; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    ep->methods[ep->n_methods++] = d;
}

static void endpoint_fields_free(struct rule_endpoint *ep)
{
    free(ep->id);
    for (size_t m = 0; m < ep->n_methods; m++)
        free(ep->methods[m]);
    free(ep->methods);
    free(ep->path);
    free(ep->host);
    free(ep->waybill_param);
    free(ep->file);
}

static void parse_endpoint(struct pctx *c, yaml_node_t *n, struct api_rules *r)
{
    if (n->type != YAML_MAPPING_NODE) {
        perr(c, n, "an endpoint is a mapping: id, path, and optional method, host, waybill");
        return;
    }
    if (r->n_endpoints >= API_MAX_ENTRIES) {
        perr(c, n, "more than %d endpoints", API_MAX_ENTRIES);
        return;
    }
    struct rule_endpoint ep = {0};
    ep.line = (int)n->start_mark.line + 1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = scalar(c, kn, "endpoint key");
        if (!k)
            continue;
        if (strcmp(k, "waybill") == 0 && vn->type == YAML_SEQUENCE_NODE) {
            /* several places, tried in order: kept comma-separated */
            char buf[256] = "";
            for (yaml_node_item_t *it = vn->data.sequence.items.start;
                 it < vn->data.sequence.items.top; it++) {
                const char *w = scalar(c, yaml_document_get_node(c->doc, *it), "waybill");
                if (w && strlen(buf) + strlen(w) + 2 < sizeof(buf)) {
                    if (buf[0])
                        strcat(buf, ",");
                    strcat(buf, w);
                }
            }
            free(ep.waybill_param);
            ep.waybill_param = buf[0] ? dup(buf) : NULL;
            continue;
        }
        if (strcmp(k, "method") == 0) {
            if (vn->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = vn->data.sequence.items.start;
                     it < vn->data.sequence.items.top; it++)
                    add_method(c, yaml_document_get_node(c->doc, *it), &ep);
            } else {
                add_method(c, vn, &ep);
            }
            continue;
        }
        const char *v = scalar(c, vn, k);
        if (!v)
            continue;
        if (strcmp(k, "id") == 0) {
            if (!id_ok(v))
                perr(c, vn, "bad endpoint id '%s': use 1-64 characters of [a-z0-9_]", v);
            else {
                for (size_t i = 0; i < r->n_endpoints; i++)
                    if (strcmp(r->endpoints[i].id, v) == 0)
                        perr(c, vn, "duplicate endpoint id '%s' (first defined at %s:%d)", v,
                             r->endpoints[i].file, r->endpoints[i].line);
                free(ep.id);
                ep.id = dup(v);
            }
        } else if (strcmp(k, "path") == 0) {
            free(ep.path);
            ep.path = dup(v);
        } else if (strcmp(k, "host") == 0) {
            free(ep.host);
            ep.host = dup(v);
        } else if (strcmp(k, "waybill") == 0) {
            free(ep.waybill_param);
            ep.waybill_param = dup(v);
        } else {
            perr(c, kn, "unknown key '%s' in endpoint; use id, method, path, host, waybill", k);
        }
    }
    if (!ep.id || !ep.path) {
        perr(c, n, "endpoint needs %s", !ep.id ? "an 'id'" : "a 'path' regex");
        endpoint_fields_free(&ep);
        return;
    }
    ep.file = dup(c->file);
    r->endpoints = grow(r->endpoints, r->n_endpoints, sizeof(*r->endpoints));
    r->endpoints[r->n_endpoints++] = ep;
}

static void parse_list(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                       struct api_rules *r, api_error_fn error, void *ud, int endpoints)
{
    struct pctx c = {doc, file, error, ud};
    if (seq->type == YAML_SCALAR_NODE && seq->data.scalar.length == 0)
        return;
    if (seq->type != YAML_SEQUENCE_NODE) {
        perr(&c, seq, "'%s' must be a list", endpoints ? "endpoints" : "identity");
        return;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *n = yaml_document_get_node(doc, *it);
        if (endpoints)
            parse_endpoint(&c, n, r);
        else
            parse_identity(&c, n, r);
    }
}

void api_rules_parse_identity(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                              struct api_rules *r, api_error_fn error, void *ud)
{
    parse_list(doc, seq, file, r, error, ud, 0);
}

void api_rules_parse_endpoints(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                               struct api_rules *r, api_error_fn error, void *ud)
{
    parse_list(doc, seq, file, r, error, ud, 1);
}

int api_rules_endpoint_index(const struct api_rules *r, const char *id)
{
    for (size_t i = 0; i < r->n_endpoints; i++)
        if (strcmp(r->endpoints[i].id, id) == 0)
            return (int)i;
    return -1;
}

void api_rules_resolve(struct api_rules *r, void (*error)(void *ud, const char *file, int line,
                                                          const char *msg),
                       void *ud)
{
    for (size_t i = 0; i < r->n_identity; i++) {
        struct rule_identity *id = &r->identity[i];
        if (id->kind != IDENT_SESSION)
            continue;
        id->login_idx = api_rules_endpoint_index(r, id->login);
        if (id->login_idx < 0) {
            char msg[256];
            snprintf(msg, sizeof(msg), "session login endpoint '%s' is not declared in endpoints:",
                     id->login);
            error(ud, id->file, id->line, msg);
        }
    }
}

void api_rules_free(struct api_rules *r)
{
    for (size_t i = 0; i < r->n_identity; i++) {
        free(r->identity[i].name);
        free(r->identity[i].claim);
        free(r->identity[i].login);
        free(r->identity[i].token);
        free(r->identity[i].token_header);
        free(r->identity[i].file);
    }
    free(r->identity);
    for (size_t i = 0; i < r->n_endpoints; i++)
        endpoint_fields_free(&r->endpoints[i]);
    free(r->endpoints);
    memset(r, 0, sizeof(*r));
}
