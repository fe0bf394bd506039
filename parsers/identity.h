/* identity.h - who made an HTTP request: the account named by the request.
 *
 * The rule files list identity sources in order (rules/api_rules.h); for
 * each request identity_resolve() tries them until one yields a value:
 * a header, a cookie, a query parameter, the Basic auth user, a claim of a
 * Bearer JWT (payload decoded; the signature is NOT checked: the sensor sees
 * what the client claims, which is what a borrowed token shows), a form or
 * JSON field of the request body, or a session cookie learned at login.
 *
 * Session learning: when a request to a source's login endpoint names an
 * account (by the other sources) and its response hands out the session's
 * token (a Set-Cookie, a response header, or a field of its JSON body),
 * identity_learn() remembers token -> account in a capped table (the token
 * is kept only as a keyed hash). Later requests carrying that token (in the
 * cookie, header or query parameter the source names; an auth scheme such
 * as "Bearer " before it is not part of it) resolve to the account with via
 * "session:NAME".
 *
 * With no source matching, the caller uses the client IP (via "src_ip"). */
#ifndef LH_IDENTITY_H
#define LH_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/http.h"
#include "rules/api_rules.h"

#define IDENTITY_MAX 64 /* bytes of an account name kept */

struct identity_result {
    char account[IDENTITY_MAX]; /* printable, NUL-terminated */
    char via[48];               /* "header:X-Emp-Id", "jwt:emp_id", "session:SESSIONID", ... */
};

struct identity_stats {
    uint64_t resolved[IDENT_KIND_MAX];
    uint64_t unresolved;
    uint64_t jwt_malformed, basic_malformed, json_malformed;
    uint64_t sessions_learned, sessions_evicted, sessions_active;
};

struct identity_ctx;
struct identity_sessions;

/* rules must outlive the context. session_cap: sessions remembered (LRU).
 * The context owns its own session table. NULL on allocation failure. */
struct identity_ctx *identity_new(const struct api_rules *rules, uint32_t session_cap,
                                  uint64_t hash_key);
void identity_free(struct identity_ctx *c); /* accepts NULL; frees an owned table */
/* The counters of this context; sessions_* are the session table's (shared
 * by every context using it). Valid until the next call on c. */
const struct identity_stats *identity_get_stats(const struct identity_ctx *c);

/* A session table several contexts (one per worker thread) can share: a
 * cookie learned on one worker resolves on every other. Thread-safe (a
 * mutex, taken once per learning or session lookup). NULL on allocation
 * failure. Free after every context using it. */
struct identity_sessions *identity_sessions_new(uint32_t session_cap, uint64_t hash_key);
void identity_sessions_free(struct identity_sessions *s); /* accepts NULL */
/* A context (for one thread) using the shared table s; s must outlive it. */
struct identity_ctx *identity_new_shared(const struct api_rules *rules,
                                         struct identity_sessions *s);
/* Fills out's sessions_learned, _evicted and _active (other fields untouched). */
void identity_sessions_stats(struct identity_sessions *s, struct identity_stats *out);

/* Does any source need the request body (form or JSON field)? */
int identity_wants_body(const struct identity_ctx *c);
/* Does a session source learn its token from the JSON body of the answer
 * to endpoint ep (its login)? Then the caller keeps that body for
 * identity_learn(). */
int identity_wants_answer(const struct identity_ctx *c, int ep);

/* Tries the sources in order on the request of tx (headers, target) and its
 * body (the first body_len bytes, may be NULL). endpoint: the request's
 * endpoint index or -1. Returns 1 and fills out when a source matched, else 0. */
int identity_resolve(struct identity_ctx *c, const struct http_tx *tx, const uint8_t *body,
                     size_t body_len, struct identity_result *out);

/* After the response of a request to endpoint ep: if ep is a session
 * source's login endpoint and the response hands out that source's token
 * (Set-Cookie, a header, or a field of body: the answer's first body_len
 * decoded bytes, may be NULL), remember it for account. */
void identity_learn(struct identity_ctx *c, const struct http_tx *tx, int ep,
                    const char *account, const uint8_t *body, size_t body_len);

/* Helpers, exposed for tests and the endpoint matcher. */
/* Value of parameter name in a query string or form body (percent-decoded,
 * '+' as space). Returns length or -1. */
int identity_param(const char *qs, size_t len, const char *name, char *out, size_t outlen);
/* Value of cookie name in a Cookie header. Returns length or -1. */
int identity_cookie(const char *header, const char *name, char *out, size_t outlen);

#endif
