/* api_rules.h - what rule files say about an API: who the caller is
 * (identity sources, tried in order) and which requests are which endpoint.
 *
 * Plain data filled by the rule loader (rules/ruleset.c) and read by the
 * identity extractor (parsers/identity.c) and the endpoint matcher
 * (rules/match.c). Owned by the struct ruleset that holds it. */
#ifndef LH_API_RULES_H
#define LH_API_RULES_H

#include <stddef.h>
#include <stdint.h>

enum ident_kind {
    IDENT_HEADER = 0, /* a request header's value */
    IDENT_COOKIE,     /* a cookie of the Cookie header */
    IDENT_QUERY,      /* a query parameter of the request target */
    IDENT_BASIC,      /* the user of HTTP Basic auth */
    IDENT_JWT,        /* a claim of a Bearer JWT (payload decoded, signature NOT checked) */
    IDENT_FORM,       /* a field of an application/x-www-form-urlencoded request body */
    IDENT_JSON,       /* a field (dotted path) of a JSON request body */
    IDENT_SESSION,    /* a session token learned from a login response */
    IDENT_PATH,       /* a segment of the request path */
    IDENT_XML,        /* an element's text in an XML (SOAP) request body */
    IDENT_KIND_MAX
};

/* "header", "cookie", ... Can't fail. */
const char *ident_kind_name(enum ident_kind k);

/* Where a session's token travels on later requests (IDENT_SESSION). */
enum sess_carrier { SESS_COOKIE = 0, SESS_HEADER, SESS_QUERY };

struct rule_identity {
    enum ident_kind kind;
    char *name;      /* header, cookie, query, form or JSON field name; for a session, the
                        cookie, header or query parameter that carries its token */
    char *claim;     /* IDENT_JWT: claim (dotted path), default "sub" */
    char *login;     /* IDENT_SESSION: endpoint id of the login request */
    int login_idx;   /* resolved endpoint index, -1 none */
    enum sess_carrier carrier; /* IDENT_SESSION */
    char *token;     /* IDENT_SESSION: dotted path into the login answer's JSON body, or NULL */
    char *token_header; /* IDENT_SESSION: the login answer's header giving the token, or NULL */
    int segment;     /* IDENT_PATH: 1 the first segment, -1 the last; 0: the one after name */
    char *file;
    int line;
};

struct rule_endpoint {
    char *id;
    char **methods;  /* upper case; none = any */
    size_t n_methods;
    char *path;      /* Hyperscan regex over the path (the target up to '?') */
    char *host;      /* exact Host (case-insensitive, port ignored), or NULL = any */
    char *waybill_param; /* query/JSON/form field or path holding the queried waybill number, or NULL */
    char *file;
    int line;
};

struct api_rules {
    struct rule_identity *identity;
    size_t n_identity;
    struct rule_endpoint *endpoints;
    size_t n_endpoints;
};

#endif
