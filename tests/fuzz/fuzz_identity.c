/* fuzz_identity.c - the identity extractors: headers, cookies, query, Basic, JWT, form, JSON, sessions.
 *
 * Input: five fields separated by NUL bytes: a header value, a Cookie
 * header, a JWT (sent as "Authorization: Bearer <jwt>"), a query string and
 * a request body (the rest, NULs and all). They are put into one request:
 *   X-Emp-Id: <header>             Proxy-Authorization: <header> (Basic)
 *   Cookie: <cookie>               Authorization: Bearer <jwt>
 *   GET /api/q?<query>             Content-Type: form, then JSON, then XML,
 *                                  then multipart (boundary "--x")
 *                                  (with GET /q/<query>: the field as the path)
 *   response Set-Cookie: <cookie>  (session learning: the cookie, that header
 *                                  as a token header, the body as the login
 *                                  answer's JSON)
 * identity_resolve() runs once per source kind (one context each, so every
 * kind is tried whatever the others find) and once with all of them in
 * order; identity_param() and identity_cookie() run with the header value as
 * the name and with several output sizes.
 *
 * Checks: a result is NUL-terminated inside its buffer, holds no control
 * character and is well-formed UTF-8 (it goes into JSON events, and
 * jansson refuses a string that is not); a helper's return value is the
 * length of what it wrote. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/http.h"
#include "parsers/identity.h"
#include "rules/api_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rule_identity all_src[] = {
    {.kind = IDENT_HEADER, .name = "X-Emp-Id", .login_idx = -1},
    {.kind = IDENT_COOKIE, .name = "emp", .login_idx = -1},
    {.kind = IDENT_QUERY, .name = "emp_id", .login_idx = -1},
    {.kind = IDENT_BASIC, .name = "Proxy-Authorization", .login_idx = -1},
    {.kind = IDENT_JWT, .claim = "user.id", .login_idx = -1},
    {.kind = IDENT_FORM, .name = "username", .login_idx = -1},
    {.kind = IDENT_JSON, .name = "user.name", .login_idx = -1},
    {.kind = IDENT_SESSION, .name = "SID", .login = "login", .login_idx = 0},
    /* tokens handed out in the login answer's JSON body (the request body
     * stands in for it), carried in a header (the JWT's, scheme and all) or
     * the query; and one given in a response header */
    {.kind = IDENT_SESSION, .name = "Authorization", .login = "login", .login_idx = 0,
     .carrier = SESS_HEADER, .token = "user.name"},
    {.kind = IDENT_SESSION, .name = "emp_id", .login = "login", .login_idx = 0,
     .carrier = SESS_QUERY, .token = "user.name"},
    {.kind = IDENT_SESSION, .name = "X-Emp-Id", .login = "login", .login_idx = 0,
     .carrier = SESS_HEADER, .token_header = "Set-Cookie"},
    {.kind = IDENT_JWT, .login_idx = -1}, /* default claim "sub" */
    {.kind = IDENT_PATH, .segment = 2, .login_idx = -1},
    {.kind = IDENT_PATH, .segment = -1, .login_idx = -1},
    {.kind = IDENT_PATH, .name = "q", .login_idx = -1},
    {.kind = IDENT_XML, .name = "user", .login_idx = -1},
};
#define N_SRC (sizeof(all_src) / sizeof(all_src[0]))

static struct api_rules one_rules[N_SRC], all_rules;
static struct identity_ctx *one_ctx[N_SRC], *all_ctx;

/* FUZZ_IDENTITY_LAX_UTF8=1 skips the UTF-8 check, to fuzz past a known
 * finding while it is being fixed. */
static int lax_utf8;

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

static void fail(const char *what, const char *s, size_t n)
{
    fprintf(stderr, "fuzz_identity: %s:", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02x", (unsigned char)s[i]);
    fputc('\n', stderr);
    abort();
}

static void check_name(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap)
        fail("not terminated", s, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            fail("control character in", s, n);
    }
    if (!lax_utf8 && !utf8_ok((const unsigned char *)s, n))
        fail("not UTF-8", s, n);
}

static void check_result(int r, const struct identity_result *res)
{
    if (r != 0 && r != 1)
        abort();
    if (r) {
        check_name(res->account, sizeof(res->account));
        check_name(res->via, sizeof(res->via));
        if (!res->account[0])
            abort(); /* "a source matched" means a non-empty account */
    }
}

static void check_helper(int r, const char *out, size_t outlen)
{
    if (r < -1 || (r >= 0 && (size_t)r >= outlen))
        abort();
    if (r >= 0) {
        if (out[r] != 0)
            abort();
        check_name(out, outlen);
    }
}

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const char *lax = getenv("FUZZ_IDENTITY_LAX_UTF8");
    lax_utf8 = lax && *lax == '1';
    for (size_t i = 0; i < N_SRC; i++) {
        one_rules[i].identity = &all_src[i];
        one_rules[i].n_identity = 1;
        one_ctx[i] = identity_new(&one_rules[i], 4, 0x1234567 + i);
    }
    all_rules.identity = all_src;
    all_rules.n_identity = N_SRC;
    all_ctx = identity_new(&all_rules, 4, 0x89abcdef);
}

static char *dup_field(const uint8_t *p, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    char *s = malloc(pl + len + 1);
    if (!s)
        abort();
    memcpy(s, prefix, pl);
    memcpy(s + pl, p, len);
    s[pl + len] = 0;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    /* the first four fields end at a NUL; the body is the rest */
    const uint8_t *f[5];
    size_t flen[5];
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        const uint8_t *z = off < size ? memchr(data + off, 0, size - off) : NULL;
        size_t end = z ? (size_t)(z - data) : size;
        f[i] = data + off;
        flen[i] = end - off;
        off = z ? end + 1 : size;
    }
    f[4] = data + off;
    flen[4] = size - off;

    char *hval = dup_field(f[0], flen[0], "");
    char *cookie = dup_field(f[1], flen[1], "");
    char *bearer = dup_field(f[2], flen[2], "Bearer ");
    char *uri = dup_field(f[3], flen[3], "/api/q?");
    char *path_uri = dup_field(f[3], flen[3], "/q/"); /* the query field as the path */
    uint8_t *body = malloc(flen[4] ? flen[4] : 1); /* exact size, no terminator */
    if (!body)
        abort();
    memcpy(body, f[4], flen[4]);

    char ctype[64] = "application/x-www-form-urlencoded";
    char hn0[] = "X-Emp-Id", hn1[] = "Cookie", hn2[] = "Authorization",
         hn3[] = "Proxy-Authorization", hn4[] = "Content-Type", hn5[] = "Host";
    char host[] = "waybill.example";
    struct http_header req[] = {
        {hn0, hval}, {hn1, cookie}, {hn2, bearer}, {hn3, hval}, {hn4, ctype}, {hn5, host},
    };
    char sc[] = "Set-Cookie";
    struct http_header resp[] = {{sc, cookie}};
    struct http_tx tx;
    memset(&tx, 0, sizeof(tx));
    strcpy(tx.method, "POST");
    strcpy(tx.protocol, "HTTP/1.1");
    tx.uri = uri;
    tx.req_headers = req;
    tx.n_req_headers = sizeof(req) / sizeof(req[0]);
    tx.status = 200;
    tx.resp_headers = resp;
    tx.n_resp_headers = 1;

    struct identity_result res;
    for (int pass = 0; pass < 4; pass++) {
        /* pass 0: a form body; pass 1: a JSON body; pass 2: an XML body, and
         * the query field as the path; pass 3: a multipart form */
        snprintf(ctype, sizeof(ctype), "%s",
                 pass == 3   ? "multipart/form-data; boundary=--x"
                 : pass == 2 ? "text/xml"
                 : pass      ? "application/json; charset=utf-8"
                             : "application/x-www-form-urlencoded");
        tx.uri = pass == 2 ? path_uri : uri;
        for (size_t i = 0; i < N_SRC; i++) {
            if (!one_ctx[i])
                continue;
            memset(&res, 0xaa, sizeof(res));
            check_result(identity_resolve(one_ctx[i], &tx, body, flen[4], &res), &res);
            memset(&res, 0xaa, sizeof(res));
            check_result(identity_resolve(one_ctx[i], &tx, NULL, 0, &res), &res);
        }
        if (all_ctx) {
            memset(&res, 0xaa, sizeof(res));
            int r = identity_resolve(all_ctx, &tx, body, flen[4], &res);
            check_result(r, &res);
            /* a login response setting SID: learn it, then resolve by it */
            identity_learn(all_ctx, &tx, 0, r ? res.account : hval, body, flen[4]);
            identity_learn(all_ctx, &tx, 1, "nobody", body, flen[4]);
            memset(&res, 0xaa, sizeof(res));
            check_result(identity_resolve(all_ctx, &tx, body, flen[4], &res), &res);
        }
    }

    /* the helpers, with the header value as the name and tight buffers */
    static const size_t outs[] = {1, 2, 8, IDENTITY_MAX};
    char out[IDENTITY_MAX];
    for (size_t k = 0; k < sizeof(outs) / sizeof(outs[0]); k++) {
        int r = identity_param((const char *)body, flen[4], hval, out, outs[k]);
        check_helper(r, out, outs[k]);
        r = identity_param(uri + 7, strlen(uri + 7), "emp_id", out, outs[k]);
        check_helper(r, out, outs[k]);
        r = identity_cookie(cookie, hval, out, outs[k]);
        check_helper(r, out, outs[k]);
        r = identity_cookie(cookie, "emp", out, outs[k]);
        check_helper(r, out, outs[k]);
    }
    for (size_t i = 0; i < N_SRC; i++)
        if (one_ctx[i] && (identity_wants_body(one_ctx[i]) !=
                               (all_src[i].kind == IDENT_FORM || all_src[i].kind == IDENT_JSON ||
                                all_src[i].kind == IDENT_XML) ||
                           identity_wants_answer(one_ctx[i], 0) != (all_src[i].token != NULL) ||
                           identity_wants_answer(one_ctx[i], 1)))
            abort();

    free(hval);
    free(cookie);
    free(bearer);
    free(uri);
    free(path_uri);
    free(body);
    return 0;
}
