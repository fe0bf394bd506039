/* identity.c - the account named by an HTTP request.
 *
 * In: a parsed request (struct http_tx: headers, target) and the first bytes
 * of its body. Out: an account name and how it was found. The sources come
 * from the rule files (rules/api_rules.h) and are tried in their order.
 *
 * Decoding uses the libraries meant for it: OpenSSL's base64 for Basic and
 * JWT, jansson for JWT payloads and JSON bodies (bounded: a payload over
 * IDENT_JSON_MAX bytes is not parsed). Session cookies are remembered only as
 * keyed 64-bit hashes in an open-addressing table with a cap; when full, the
 * least recently used session is evicted (counted).
 *
 * The session table is its own object (struct identity_sessions) so that
 * worker threads can share one: a cookie learned at login on one flow must
 * resolve on another flow, possibly on another worker (a stolen cookie
 * replayed from another host is the attack). Its mutex is taken only on
 * learning and on resolving by a session source, once per transaction at
 * most; everything else in a context is the calling thread's own. */
#include "parsers/identity.h"

#include "output/fingerprint.h"

#include <ctype.h>
#include <pthread.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IDENT_JSON_MAX 65536
#define IDENT_TOKEN_MAX 8192

struct sess {
    uint64_t h;      /* keyed hash of the cookie value; 0 = empty */
    uint64_t used;   /* LRU clock */
    char account[IDENTITY_MAX];
};

struct identity_sessions {
    pthread_mutex_t mu; /* guards everything below */
    struct sess *sess;
    uint32_t sess_cap;   /* slots, power of two, >= 2 * sessions */
    uint32_t sess_max;   /* sessions kept */
    uint64_t clock;
    uint64_t key;
    uint64_t learned, evicted, active;
};

struct identity_ctx {
    const struct api_rules *rules;
    struct identity_sessions *ss;
    int own_ss; /* ss is this context's own (identity_new) */
    int any_answer; /* a session source reads its token from a login answer's body */
    struct identity_stats st;
};

struct identity_sessions *identity_sessions_new(uint32_t session_cap, uint64_t hash_key)
{
    struct identity_sessions *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->key = hash_key | 1;
    t->sess_max = session_cap ? session_cap : 1;
    uint32_t cap = 16;
    while (cap < t->sess_max * 2u)
        cap <<= 1;
    t->sess_cap = cap;
    t->sess = calloc(cap, sizeof(*t->sess));
    if (!t->sess || pthread_mutex_init(&t->mu, NULL) != 0) {
        free(t->sess);
        free(t);
        return NULL;
    }
    return t;
}

void identity_sessions_free(struct identity_sessions *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t->sess);
    free(t);
}

void identity_sessions_stats(struct identity_sessions *t, struct identity_stats *out)
{
    pthread_mutex_lock(&t->mu);
    out->sessions_learned = t->learned;
    out->sessions_evicted = t->evicted;
    out->sessions_active = t->active;
    pthread_mutex_unlock(&t->mu);
}

struct identity_ctx *identity_new_shared(const struct api_rules *rules,
                                         struct identity_sessions *sessions)
{
    struct identity_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->rules = rules;
    c->ss = sessions;
    for (size_t i = 0; rules && i < rules->n_identity; i++)
        c->any_answer |= rules->identity[i].kind == IDENT_SESSION && rules->identity[i].token;
    return c;
}

struct identity_ctx *identity_new(const struct api_rules *rules, uint32_t session_cap,
                                  uint64_t hash_key)
{
    struct identity_sessions *t = identity_sessions_new(session_cap, hash_key);
    struct identity_ctx *c = t ? identity_new_shared(rules, t) : NULL;
    if (!c) {
        identity_sessions_free(t);
        return NULL;
    }
    c->own_ss = 1;
    return c;
}

void identity_free(struct identity_ctx *c)
{
    if (!c)
        return;
    if (c->own_ss)
        identity_sessions_free(c->ss);
    free(c);
}

const struct identity_stats *identity_get_stats(const struct identity_ctx *c)
{
    /* the session counters live with the (possibly shared) table */
    struct identity_ctx *m = (struct identity_ctx *)c;
    identity_sessions_stats(c->ss, &m->st);
    return &c->st;
}

int identity_wants_body(const struct identity_ctx *c)
{
    for (size_t i = 0; c->rules && i < c->rules->n_identity; i++)
        if (c->rules->identity[i].kind == IDENT_FORM || c->rules->identity[i].kind == IDENT_JSON ||
            c->rules->identity[i].kind == IDENT_XML)
            return 1;
    return 0;
}

/* ---- small parsers --------------------------------------------------------- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Account names go into JSON events: printable ASCII or UTF-8 lead/continuation
 * bytes only, capped. Returns the length kept. */
/* Length of the well-formed UTF-8 sequence at u (1-4), or 0 when it is not
 * one (stray continuation, overlong form, surrogate, beyond U+10FFFF, cut). */
static size_t utf8_seq_len(const unsigned char *u, size_t avail)
{
    if (u[0] < 0x80)
        return 1;
    size_t n = u[0] >= 0xc2 && u[0] <= 0xdf ? 2 : u[0] >= 0xe0 && u[0] <= 0xef ? 3
               : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4 : 0;
    if (n == 0 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    if ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] >= 0xa0) ||
        (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] >= 0x90))
        return 0;
    return n;
}

static size_t clean_copy(char *out, size_t outlen, const char *in, size_t len)
{
    size_t o = 0;
    while (len && (*in == ' ' || *in == '\t')) {
        in++;
        len--;
    }
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < len;) {
        const unsigned char *u = (const unsigned char *)in + i;
        size_t n = utf8_seq_len(u, len - i);
        if (n == 0) { /* not well-formed UTF-8: dropped */
            i++;
            continue;
        }
        if (n == 1 && (u[0] < 0x20 || u[0] == 0x7f)) { /* control byte: dropped */
            i++;
            continue;
        }
        if (o + n + 1 > outlen)
            break; /* cut at a character boundary */
        memcpy(out + o, u, n);
        o += n;
        i += n;
    }
    out[o] = 0;
    return o;
}

int identity_param(const char *qs, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && qs[end] != '&' && qs[end] != ';')
            end++;
        const char *eq = memchr(qs + i, '=', end - i);
        if (eq && (size_t)(eq - (qs + i)) == nlen && memcmp(qs + i, name, nlen) == 0) {
            char tmp[2048]; /* a session token may be long; account names are cut later */
            size_t t = 0;
            for (const char *p = eq + 1; p < qs + end && t + 1 < sizeof(tmp); p++) {
                if (*p == '%' && (qs + end) - p > 2 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                    tmp[t++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                    p += 2;
                } else {
                    tmp[t++] = *p == '+' ? ' ' : *p;
                }
            }
            return (int)clean_copy(out, outlen, tmp, t);
        }
        i = end + 1;
    }
    return -1;
}

int identity_cookie(const char *header, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ';' || *p == '\t')
            p++;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq + 1;
            size_t vlen = (size_t)(end - v);
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            return (int)clean_copy(out, outlen, v, vlen);
        }
        p = end;
    }
    return -1;
}

/* base64 or base64url (no padding needed) into out; returns bytes or -1. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
    if (len == 0 || len > IDENT_TOKEN_MAX)
        return -1;
    char buf[IDENT_TOKEN_MAX + 4];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == '-')
            ch = '+';
        else if (ch == '_')
            ch = '/';
        else if (ch == '=')
            break;
        else if (!isalnum((unsigned char)ch) && ch != '+' && ch != '/')
            return -1;
        buf[n++] = ch;
    }
    size_t pad = (4 - n % 4) % 4;
    if (pad == 3)
        return -1;
    for (size_t i = 0; i < pad; i++)
        buf[n++] = '=';
    if (n / 4 * 3 > outlen)
        return -1;
    int r = EVP_DecodeBlock(out, (const unsigned char *)buf, (int)n);
    if (r < 0)
        return -1;
    return r - (int)pad;
}

/* The value at a dotted path of a JSON document, as text (strings as they
 * are, integers in decimal). Returns length or -1. */
static int json_path(const uint8_t *doc, size_t len, const char *path, char *out, size_t outlen)
{
    if (len > IDENT_JSON_MAX)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)doc, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!root)
        return -2;
    json_t *cur = root;
    char seg[128];
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(seg))
            n = sizeof(seg) - 1;
        memcpy(seg, p, n);
        seg[n] = 0;
        cur = json_is_object(cur) ? json_object_get(cur, seg) : NULL;
        p = dot ? dot + 1 : p + strlen(p);
    }
    int r = -1;
    if (json_is_string(cur))
        r = (int)clean_copy(out, outlen, json_string_value(cur), json_string_length(cur));
    else if (json_is_integer(cur)) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(cur));
        r = (int)clean_copy(out, outlen, tmp, strlen(tmp));
    }
    json_decref(root);
    return r;
}

static int from_basic(struct identity_ctx *c, const char *auth, char *out, size_t outlen)
{
    if (!auth || strncasecmp(auth, "Basic ", 6) != 0)
        return -1;
    const char *t = auth + 6;
    while (*t == ' ')
        t++;
    uint8_t dec[512];
    int n = b64_decode(t, strlen(t), dec, sizeof(dec) - 1);
    const uint8_t *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
    if (!colon) {
        c->st.basic_malformed++;
        return -1;
    }
    return (int)clean_copy(out, outlen, (const char *)dec, (size_t)(colon - dec));
}

static int from_jwt(struct identity_ctx *c, const char *auth, const char *claim, char *out,
                    size_t outlen)
{
    if (!auth)
        return -1;
    if (strncasecmp(auth, "Bearer ", 7) == 0)
        auth += 7;
    while (*auth == ' ')
        auth++;
    const char *d1 = strchr(auth, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2) {
        c->st.jwt_malformed++;
        return -1;
    }
    uint8_t payload[IDENT_TOKEN_MAX]; /* on the stack: workers run in parallel */
    int n = b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), payload, sizeof(payload));
    int r = n > 0 ? json_path(payload, (size_t)n, claim, out, outlen) : -2;
    if (r == -2)
        c->st.jwt_malformed++;
    return r < 0 ? -1 : r;
}

static const char *query_of(const struct http_tx *tx, size_t *len)
{
    const char *q = tx->uri ? strchr(tx->uri, '?') : NULL;
    if (!q)
        return NULL;
    q++;
    const char *hash = strchr(q, '#');
    *len = hash ? (size_t)(hash - q) : strlen(q);
    return q;
}

/* The request path's segments: [*seg, *seg + *len) for segment k (1 the
 * first, -1 the last) or, with after, the one after the first segment
 * equal to after. The target may be in absolute form (http://host/path). */
static int path_segment(const struct http_tx *tx, int k, const char *after, const char **seg,
                        size_t *len)
{
    const char *p = tx->uri;
    if (!p)
        return -1;
    const char *scheme = strstr(p, "://");
    if (scheme && scheme < p + strcspn(p, "/?")) /* absolute form: the path after the host */
        p = scheme + 3 + strcspn(scheme + 3, "/?");
    size_t plen = strcspn(p, "?#");
    const char *s[64];
    size_t l[64], n = 0;
    for (size_t i = 0; i < plen && n < 64;) {
        while (i < plen && p[i] == '/')
            i++;
        size_t j = i;
        while (j < plen && p[j] != '/')
            j++;
        if (j > i) {
            s[n] = p + i;
            l[n++] = j - i;
        }
        i = j;
    }
    size_t want;
    if (after) {
        size_t alen = strlen(after);
        for (want = 0; want < n; want++)
            if (l[want] == alen && memcmp(s[want], after, alen) == 0)
                break;
        want++;
    } else {
        want = k > 0 ? (size_t)k - 1 : n >= (size_t)-k ? n - (size_t)-k : n;
    }
    if (want >= n)
        return -1;
    *seg = s[want];
    *len = l[want];
    return 0;
}

static int from_path(const struct http_tx *tx, const struct rule_identity *ri, char *out,
                     size_t outlen)
{
    const char *seg;
    size_t len;
    if (path_segment(tx, ri->segment, ri->segment ? NULL : ri->name, &seg, &len) < 0)
        return -1;
    char tmp[256];
    size_t t = 0;
    for (size_t i = 0; i < len && t + 1 < sizeof(tmp); i++) { /* percent-decoded */
        if (seg[i] == '%' && i + 2 < len && hexval(seg[i + 1]) >= 0 && hexval(seg[i + 2]) >= 0) {
            tmp[t++] = (char)(hexval(seg[i + 1]) * 16 + hexval(seg[i + 2]));
            i += 2;
        } else {
            tmp[t++] = seg[i];
        }
    }
    return (int)clean_copy(out, outlen, tmp, t);
}

/* The text of the first element named name (any namespace prefix) in an XML
 * body, CDATA and the five predefined entities and character references
 * undone. A scan, not a parser: comments and CDATA sections are passed
 * over whole, declarations and processing instructions like any tag; the
 * element's text is what comes before its first child or end tag. */
static int from_xml(const uint8_t *doc, size_t len, const char *name, char *out, size_t outlen)
{
    const char *d = (const char *)doc, *end = d + len;
    size_t nlen = strlen(name);
    for (const char *p = d; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++) {
        const char *q = p + 1;
        const char *skip = NULL; /* a comment or CDATA section: passed over whole */
        if (end - q >= 3 && memcmp(q, "!--", 3) == 0)
            skip = "-->";
        else if (end - q >= 8 && memcmp(q, "![CDATA[", 8) == 0)
            skip = "]]>";
        if (skip) {
            const char *e = memmem(q, (size_t)(end - q), skip, 3);
            if (!e)
                return -1;
            p = e;
            continue;
        }
        if (q >= end || *q == '/' || *q == '!' || *q == '?')
            continue;
        const char *tag = q;
        while (q < end && !strchr(" \t\r\n/>", *q))
            q++;
        const char *colon = memchr(tag, ':', (size_t)(q - tag));
        const char *local = colon ? colon + 1 : tag;
        if ((size_t)(q - local) != nlen || memcmp(local, name, nlen) != 0)
            continue;
        const char *gt = memchr(q, '>', (size_t)(end - q));
        if (!gt || gt[-1] == '/')
            continue; /* cut, or empty (<name/>): look further */
        const char *v = gt + 1;
        char tmp[512];
        size_t t = 0;
        if (end - v >= 9 && memcmp(v, "<![CDATA[", 9) == 0) {
            v += 9;
            const char *e = memmem(v, (size_t)(end - v), "]]>", 3);
            size_t n = e ? (size_t)(e - v) : 0;
            if (n >= sizeof(tmp))
                n = sizeof(tmp) - 1;
            memcpy(tmp, v, n);
            t = n;
        } else {
            while (v < end && *v != '<' && t + 4 < sizeof(tmp)) {
                if (*v != '&') {
                    tmp[t++] = *v++;
                    continue;
                }
                static const struct {
                    const char *e;
                    char c;
                } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
                            {"&apos;", '\''}};
                size_t k;
                for (k = 0; k < 5; k++) {
                    size_t el = strlen(ents[k].e);
                    if ((size_t)(end - v) >= el && memcmp(v, ents[k].e, el) == 0) {
                        tmp[t++] = ents[k].c;
                        v += el;
                        break;
                    }
                }
                if (k == 5) /* a character reference or a stray '&': kept as it is */
                    tmp[t++] = *v++;
            }
        }
        return (int)clean_copy(out, outlen, tmp, t);
    }
    return -1;
}

/* Field name of a multipart/form-data body (RFC 7578): the part whose
 * Content-Disposition says name="name" and has no filename, its content up
 * to the next delimiter. The boundary comes from the Content-Type. */
static int from_multipart(const char *ctype, const uint8_t *body, size_t len, const char *name,
                          char *out, size_t outlen)
{
    const char *b = strcasestr(ctype, "boundary=");
    if (!b)
        return -1;
    b += 9;
    bool quoted = *b == '"';
    b += quoted;
    char delim[80] = "\r\n--";
    size_t dl = 4;
    while (*b && dl + 1 < sizeof(delim) && (quoted ? *b != '"' : *b != ';' && *b != ' '))
        delim[dl++] = *b++;
    if (dl == 4)
        return -1;
    const char *d = (const char *)body, *end = d + len;
    char want[96];
    int wl = snprintf(want, sizeof(want), "name=\"%s\"", name);
    if (wl <= 0 || (size_t)wl >= sizeof(want))
        return -1;
    /* each part: after a delimiter (the first may open the body without CRLF) */
    for (const char *p = d; p < end;) {
        const char *part;
        if (p == d && len >= dl - 2 && memcmp(d, delim + 2, dl - 2) == 0)
            part = d + dl - 2;
        else {
            const char *m = memmem(p, (size_t)(end - p), delim, dl);
            if (!m)
                return -1;
            part = m + dl;
        }
        const char *hend = memmem(part, (size_t)(end - part), "\r\n\r\n", 4);
        if (!hend)
            return -1;
        const char *cd = memmem(part, (size_t)(hend - part), want, (size_t)wl);
        bool before_ok = cd && (cd[-1] == ' ' || cd[-1] == ';');
        if (cd && before_ok && !memmem(part, (size_t)(hend - part), "filename", 8)) {
            const char *v = hend + 4;
            const char *ve = memmem(v, (size_t)(end - v), delim, dl);
            if (!ve)
                ve = end; /* cut by the kept length: what there is */
            return (int)clean_copy(out, outlen, v, (size_t)(ve - v));
        }
        p = hend;
    }
    return -1;
}

/* ---- sessions ---------------------------------------------------------------- */

/* The cookie value, as the table keeps it: a keyed SipHash (the value is
 * chosen by the sender, and the hash is what identifies the session). */
static uint64_t sess_hash(const struct identity_sessions *c, const char *v)
{
    uint64_t h = fingerprint_siphash(c->key, c->key * 0x9e3779b97f4a7c15ull, v, strlen(v));
    return h ? h : 1;
}

static struct sess *sess_find(struct identity_sessions *c, uint64_t h)
{
    uint32_t mask = c->sess_cap - 1;
    for (uint32_t i = (uint32_t)h & mask, n = 0; n < c->sess_cap; i = (i + 1) & mask, n++) {
        if (c->sess[i].h == h)
            return &c->sess[i];
        if (c->sess[i].h == 0)
            return NULL;
    }
    return NULL;
}

/* Removes slot i and re-inserts the rest of its cluster (linear probing). */
static void sess_remove(struct identity_sessions *c, uint32_t i)
{
    uint32_t mask = c->sess_cap - 1;
    c->sess[i].h = 0;
    for (uint32_t j = (i + 1) & mask; c->sess[j].h; j = (j + 1) & mask) {
        struct sess s = c->sess[j];
        c->sess[j].h = 0;
        uint32_t k = (uint32_t)s.h & mask;
        while (c->sess[k].h)
            k = (k + 1) & mask;
        c->sess[k] = s;
    }
}

/* Caller holds c->mu. */
static void sess_put(struct identity_sessions *c, uint64_t h, const char *account)
{
    struct sess *s = sess_find(c, h);
    if (!s) {
        if (c->active >= c->sess_max) {
            /* evict the least recently used: a scan, but only on learning */
            uint32_t oldest = 0;
            uint64_t best = UINT64_MAX;
            for (uint32_t i = 0; i < c->sess_cap; i++)
                if (c->sess[i].h && c->sess[i].used < best) {
                    best = c->sess[i].used;
                    oldest = i;
                }
            sess_remove(c, oldest);
            c->active--;
            c->evicted++;
        }
        uint32_t mask = c->sess_cap - 1, i = (uint32_t)h & mask;
        while (c->sess[i].h)
            i = (i + 1) & mask;
        s = &c->sess[i];
        s->h = h;
        c->active++;
    }
    s->used = ++c->clock;
    snprintf(s->account, sizeof(s->account), "%s", account);
    c->learned++;
}

/* A session token is hashed whole up to this many bytes (longer ones are
 * cut the same way on both sides). */
#define SESS_TOKEN_MAX 2048

/* The token without an auth scheme before it ("Bearer abc" -> "abc"): a
 * word of letters, then blanks, then the rest. Login answers sometimes give
 * the scheme with the token, requests nearly always do; the same is cut on
 * both sides. */
static const char *strip_scheme(const char *v)
{
    while (*v == ' ')
        v++;
    size_t w = 0;
    while (w < 20 && isalpha((unsigned char)v[w]))
        w++;
    if (w == 0 || v[w] != ' ')
        return v;
    const char *r = v + w;
    while (*r == ' ')
        r++;
    return *r ? r : v;
}

/* Value of cookie name from the answer's Set-Cookie headers, or -1. */
static int set_cookie(const struct http_tx *tx, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (size_t h = 0; h < tx->n_resp_headers; h++) {
        const struct http_header *hd = &tx->resp_headers[h];
        if (strcasecmp(hd->name, "Set-Cookie") != 0)
            continue;
        const char *v = hd->value;
        while (*v == ' ')
            v++;
        if (strncmp(v, name, nlen) != 0 || v[nlen] != '=')
            continue;
        /* the value as identity_cookie() reads it from requests */
        v += nlen + 1;
        size_t n = strcspn(v, ";");
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
            v++;
            n -= 2;
        }
        if (n == 0 || n >= outlen)
            continue;
        return (int)clean_copy(out, outlen, v, n);
    }
    return -1;
}

int identity_wants_answer(const struct identity_ctx *c, int ep)
{
    if (!c || !c->any_answer)
        return 0;
    for (size_t i = 0; c->rules && ep >= 0 && i < c->rules->n_identity; i++) {
        const struct rule_identity *ri = &c->rules->identity[i];
        if (ri->kind == IDENT_SESSION && ri->login_idx == ep && ri->token)
            return 1;
    }
    return 0;
}

void identity_learn(struct identity_ctx *c, const struct http_tx *tx, int ep, const char *account,
                    const uint8_t *body, size_t body_len)
{
    if (!c->rules || ep < 0 || !account || !account[0])
        return;
    for (size_t i = 0; i < c->rules->n_identity; i++) {
        const struct rule_identity *ri = &c->rules->identity[i];
        if (ri->kind != IDENT_SESSION || ri->login_idx != ep)
            continue;
        char val[SESS_TOKEN_MAX];
        int n = -1;
        if (ri->token) {
            n = body ? json_path(body, body_len, ri->token, val, sizeof(val)) : -1;
            if (n == -2)
                c->st.json_malformed++;
        } else if (ri->token_header || ri->carrier == SESS_HEADER) {
            /* the answer's header: token_header, or the one requests carry it in */
            const char *h = http_tx_header(tx, HTTP_RESPONSE,
                                           ri->token_header ? ri->token_header : ri->name);
            n = h ? (int)clean_copy(val, sizeof(val), h, strlen(h)) : -1;
        } else {
            n = set_cookie(tx, ri->name, val, sizeof(val));
        }
        const char *tok = n > 0 ? strip_scheme(val) : "";
        if (!tok[0])
            continue;
        pthread_mutex_lock(&c->ss->mu);
        sess_put(c->ss, sess_hash(c->ss, tok), account);
        pthread_mutex_unlock(&c->ss->mu);
    }
}

/* ---- resolution ------------------------------------------------------------- */

static int try_source(struct identity_ctx *c, const struct rule_identity *ri,
                      const struct http_tx *tx, const uint8_t *body, size_t body_len,
                      char *out, size_t outlen)
{
    const char *h;
    size_t qlen;
    const char *q;
    switch (ri->kind) {
    case IDENT_HEADER:
        h = http_tx_header(tx, HTTP_REQUEST, ri->name);
        return h ? (int)clean_copy(out, outlen, h, strlen(h)) : -1;
    case IDENT_COOKIE:
        h = http_tx_header(tx, HTTP_REQUEST, "Cookie");
        return h ? identity_cookie(h, ri->name, out, outlen) : -1;
    case IDENT_QUERY:
        q = query_of(tx, &qlen);
        return q ? identity_param(q, qlen, ri->name, out, outlen) : -1;
    case IDENT_BASIC:
        return from_basic(c, http_tx_header(tx, HTTP_REQUEST, ri->name ? ri->name : "Authorization"),
                          out, outlen);
    case IDENT_JWT:
        return from_jwt(c, http_tx_header(tx, HTTP_REQUEST, ri->name ? ri->name : "Authorization"),
                        ri->claim ? ri->claim : "sub", out, outlen);
    case IDENT_FORM:
        h = http_tx_header(tx, HTTP_REQUEST, "Content-Type");
        if (!body || !h)
            return -1;
        if (strncasecmp(h, "multipart/form-data", 19) == 0) /* a script's FormData */
            return from_multipart(h, body, body_len, ri->name, out, outlen);
        if (strncasecmp(h, "application/x-www-form-urlencoded", 33) != 0)
            return -1;
        return identity_param((const char *)body, body_len, ri->name, out, outlen);
    case IDENT_JSON: {
        h = http_tx_header(tx, HTTP_REQUEST, "Content-Type");
        if (!body || !h || !strcasestr(h, "json"))
            return -1;
        int r = json_path(body, body_len, ri->name, out, outlen);
        if (r == -2)
            c->st.json_malformed++;
        return r < 0 ? -1 : r;
    }
    case IDENT_PATH:
        return from_path(tx, ri, out, outlen);
    case IDENT_XML: {
        h = http_tx_header(tx, HTTP_REQUEST, "Content-Type");
        size_t k = 0;
        while (body && k < body_len && isspace(body[k]))
            k++;
        if (!body || !((h && strcasestr(h, "xml")) || (k < body_len && body[k] == '<')))
            return -1;
        return from_xml(body, body_len, ri->name, out, outlen);
    }
    case IDENT_SESSION: {
        char val[SESS_TOKEN_MAX];
        int n = -1;
        if (ri->carrier == SESS_COOKIE) {
            h = http_tx_header(tx, HTTP_REQUEST, "Cookie");
            n = h ? identity_cookie(h, ri->name, val, sizeof(val)) : -1;
        } else if (ri->carrier == SESS_HEADER) {
            h = http_tx_header(tx, HTTP_REQUEST, ri->name);
            n = h ? (int)clean_copy(val, sizeof(val), h, strlen(h)) : -1;
        } else {
            q = query_of(tx, &qlen);
            n = q ? identity_param(q, qlen, ri->name, val, sizeof(val)) : -1;
        }
        const char *tok = n > 0 ? strip_scheme(val) : "";
        if (!tok[0])
            return -1;
        /* copied out under the lock: another worker may evict the slot */
        char acct[IDENTITY_MAX];
        pthread_mutex_lock(&c->ss->mu);
        struct sess *s = sess_find(c->ss, sess_hash(c->ss, tok));
        if (s) {
            s->used = ++c->ss->clock;
            memcpy(acct, s->account, sizeof(acct));
        }
        pthread_mutex_unlock(&c->ss->mu);
        if (!s)
            return -1;
        return (int)clean_copy(out, outlen, acct, strnlen(acct, sizeof(acct)));
    }
    default:
        return -1;
    }
}

/* "kind" or "kind:detail", cut to fit (what snprintf would give, without
 * its formatting cost once per transaction). */
static void via_join(char *out, size_t cap, const char *kind, const char *detail)
{
    size_t n = 0;
    for (const char *p = kind; *p && n + 1 < cap; p++)
        out[n++] = *p;
    if (detail[0] && n + 1 < cap) {
        out[n++] = ':';
        for (const char *p = detail; *p && n + 1 < cap; p++)
            out[n++] = *p;
    }
    out[n] = 0;
}

int identity_resolve(struct identity_ctx *c, const struct http_tx *tx, const uint8_t *body,
                     size_t body_len, struct identity_result *out)
{
    for (size_t i = 0; c->rules && i < c->rules->n_identity; i++) {
        const struct rule_identity *ri = &c->rules->identity[i];
        if (try_source(c, ri, tx, body, body_len, out->account, sizeof(out->account)) > 0) {
            char seg[8];
            if (ri->kind == IDENT_PATH && ri->segment)
                snprintf(seg, sizeof(seg), "%d", ri->segment);
            const char *detail = ri->kind == IDENT_JWT ? (ri->claim ? ri->claim : "sub")
                                 : ri->kind == IDENT_PATH && ri->segment ? seg
                                 : ri->name ? ri->name : "";
            via_join(out->via, sizeof(out->via), ident_kind_name(ri->kind), detail);
            c->st.resolved[ri->kind]++;
            return 1;
        }
    }
    c->st.unresolved++;
    return 0;
}
